"""Exact top-10 over all 400k GloVe vectors: embspace `space.neighbors` vs a bare NumPy baseline.

    .venv/bin/python benchmarks/bench_topk.py [--reps 3] [--json out.json]

Queries are the words at rows 1000-1999 (1 query: row 1000; 100 queries: rows 1000-1099).
embspace:  space.neighbors(words, k=10, metric=...)  (excludes each query word itself; timed
           whole, from words to lists of (id, score)); a warm-up call first, so the space's cached
           norms exist, as the baseline's precomputed unit matrix does.
baseline:  unit-normalised matrix V precomputed outside the timing; timed: Q = V[rows];
           S = Q @ V.T (the full q x 400k matrix); np.argpartition for the top 11 of each row, sort
           them, drop the query itself, keep 10. dot: raw vectors; euclidean: |v|^2 - 2 q.v, smallest.
Times are medians (--reps; 1 query uses 10x as many). Peak extra memory is measured in separate,
untimed runs (tracemalloc: numpy buffers; RSS: sampled high-water mark above the start).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import OtherLoad, fmt_mb, fmt_s, loadavg, median, peak_memory, start, table, timed  # noqa: E402

K = 10
FIRST_ROW = 1000


# ---- the bare NumPy baseline ------------------------------------------------------------------------
class Baseline:
    def __init__(self, vectors: np.ndarray):
        v = np.ascontiguousarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(v, axis=1)
        norms[norms == 0] = 1.0
        self.raw = v
        self.unit = np.ascontiguousarray(v / norms[:, None], dtype=np.float32)
        self.sq = np.einsum("ij,ij->i", v, v)

    def topk(self, rows: np.ndarray, metric: str, k: int = K) -> tuple[np.ndarray, np.ndarray]:
        if metric == "cosine":
            S = self.unit[rows] @ self.unit.T
            largest = True
        elif metric == "dot":
            S = self.raw[rows] @ self.raw.T
            largest = True
        else:  # euclidean: rank by |v|^2 - 2 q.v (|q|^2 is constant per row), add it back for the k kept
            q = self.raw[rows]
            S = q @ self.raw.T
            S *= -2.0
            S += self.sq
            largest = False
        kk = k + 1
        if largest:
            part = np.argpartition(S, S.shape[1] - kk, axis=1)[:, -kk:]
        else:
            part = np.argpartition(S, kk - 1, axis=1)[:, :kk]
        vals = np.take_along_axis(S, part, axis=1)
        order = np.argsort(-vals if largest else vals, axis=1, kind="stable")
        idx, vals = np.take_along_axis(part, order, axis=1), np.take_along_axis(vals, order, axis=1)
        keep = np.argsort(idx == rows[:, None], axis=1, kind="stable")[:, :k]  # the query itself moves last
        idx, vals = np.take_along_axis(idx, keep, axis=1), np.take_along_axis(vals, keep, axis=1)
        if metric == "euclidean":
            vals = np.sqrt(np.maximum(vals + self.sq[rows][:, None], 0.0))
        return idx, vals


# ---- comparison ----------------------------------------------------------------------------------------
def agreement(ours_idx: np.ndarray, base_idx: np.ndarray, base: Baseline, rows: np.ndarray, metric: str) -> dict:
    """Share of queries with the same top-10 (ordered, and as sets); mismatches explained by ties?"""
    same_order = (ours_idx == base_idx).all(axis=1)
    same_set = np.array([set(a) == set(b) for a, b in zip(ours_idx, base_idx)])
    # a set mismatch is a tie when the exact (float64) k-th scores of both lists agree to 1e-5
    ties = 0
    for i in np.flatnonzero(~same_set):
        q = base.raw[rows[i]].astype(np.float64)

        def exact(ids, q=q):
            v = base.raw[ids].astype(np.float64)
            if metric == "cosine":
                return (v @ q) / (np.linalg.norm(v, axis=1) * np.linalg.norm(q))
            if metric == "dot":
                return v @ q
            return -np.linalg.norm(v - q, axis=1)

        a, b = np.sort(exact(ours_idx[i])), np.sort(exact(base_idx[i]))
        ties += bool(abs(a[0] - b[0]) <= 1e-5 * max(1.0, abs(b[0])))
    n = len(rows)
    return {
        "queries": n,
        "same_order": float(same_order.mean()),
        "same_set": float(same_set.mean()),
        "set_mismatches": int((~same_set).sum()),
        "mismatches_that_are_ties": ties,
    }


def to_rows(result, lookup: dict[str, int], single: bool) -> np.ndarray:
    lists = [result] if single else result
    return np.array([[lookup[n.id] for n in lst] for lst in lists], dtype=np.int64)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--space", help="a .space folder (default: embspace.datasets.glove_6b_50d())")
    ap.add_argument("--reps", type=int, default=3, help="timed repetitions per case (default 3)")
    ap.add_argument(
        "--cases",
        default="cosine:1,cosine:100,cosine:1000,dot:1000,euclidean:1000",
        help="metric:queries pairs to run (default: %(default)s)",
    )
    ap.add_argument("--no-memory", action="store_true", help="skip the (untimed) peak-memory runs")
    ap.add_argument(
        "--wait-quiet", action="store_true", help="first wait (up to 10 min) until other processes leave the CPUs idle"
    )
    ap.add_argument("--json", help="also write the results as JSON to this file ('-' = stdout)")
    args = ap.parse_args()

    import embspace
    import embspace.search  # noqa: F401

    space_path, info, other = start(args.space, args.wait_quiet)
    space = embspace.load(space_path)
    lookup = {w: i for i, w in enumerate(space.ids)}
    base = Baseline(np.asarray(space.vectors))
    print(f"# space {space_path}: n={space.n}, dim={space.dim}; k={K}; queries from row {FIRST_ROW}")

    # first call on a freshly opened space (computes and caches the norms): reported apart
    first_calls = []
    for _ in range(args.reps if any(c == "cosine:1000" for c in args.cases.split(",")) else 0):
        fresh = embspace.load(space_path)
        words_1000 = fresh.ids[FIRST_ROW : FIRST_ROW + 1000]
        t0 = time.perf_counter()
        fresh.neighbors(words_1000, k=K)
        first_calls.append(time.perf_counter() - t0)
        del fresh
    first_call = median(first_calls) if first_calls else None

    cases = [(c.split(":")[0], int(c.split(":")[1])) for c in args.cases.split(",")]
    results, rows_out = [], []
    for metric, nq in cases:
        rows = np.arange(FIRST_ROW, FIRST_ROW + nq)
        words = space.ids[FIRST_ROW : FIRST_ROW + nq]
        single = nq == 1
        query = words[0] if single else words
        reps = args.reps * 10 if single else args.reps
        ours_fn = lambda query=query, metric=metric: space.neighbors(query, k=K, metric=metric)  # noqa: E731
        base_fn = lambda rows=rows, metric=metric: base.topk(rows, metric)  # noqa: E731
        case_load = OtherLoad()
        ours_fn(), base_fn()  # warm-up (norm caches, page cache, BLAS threads)
        # interleave the two so drifting machine load hits both alike
        t_ours, t_base = [], []
        for _ in range(reps):
            t, ours_res = timed(ours_fn, 1)
            t_ours += t
            t, (base_idx, base_val) = timed(base_fn, 1)
            t_base += t
        ours_idx = to_rows(ours_res, lookup, single)
        agree = agreement(ours_idx, base_idx, base, rows, metric)
        ours_val = np.array([[n.score for n in lst] for lst in ([ours_res] if single else ours_res)])
        max_diff = float(np.abs(np.sort(ours_val, axis=1) - np.sort(base_val, axis=1)).max())
        busy = case_load.stop()
        mem = {}
        if not args.no_memory and nq == 1000:
            mem = {"ours": peak_memory(ours_fn), "baseline": peak_memory(base_fn)}
        r = {
            "metric": metric,
            "queries": nq,
            "reps": reps,
            "ours_s": median(t_ours),
            "baseline_s": median(t_base),
            "ours_all_s": t_ours,
            "baseline_all_s": t_base,
            "ratio": median(t_ours) / median(t_base),
            "agreement": agree,
            "max_score_diff_same_rank_sorted": max_diff,
            "memory": mem,
            "other_processes_during_timing": busy,
        }
        results.append(r)

        def mem_txt(who, mem=mem):
            if not mem:
                return "-"
            return f"{fmt_mb(mem[who]['traced_peak_bytes'])} / {fmt_mb(mem[who]['rss_peak_extra_bytes'])}"

        rows_out.append(
            [
                metric,
                nq,
                f"{fmt_s(r['ours_s'])} ({fmt_s(min(t_ours))})",
                f"{fmt_s(r['baseline_s'])} ({fmt_s(min(t_base))})",
                f"{r['ratio']:.2f}",
                mem_txt("ours"),
                mem_txt("baseline"),
                f"{agree['same_set'] * 100:.1f}% ({agree['set_mismatches']}; ties {agree['mismatches_that_are_ties']})",
                f"{busy['other_share_of_all_cores'] * 100:.0f}%" if busy else "?",
            ]
        )
        print(f"#   done {metric} x {nq}", flush=True)

    print(
        table(
            [
                "metric",
                "queries",
                "embspace median (min)",
                "numpy baseline median (min)",
                "ours / baseline",
                "peak extra mem ours (traced / RSS)",
                "peak extra mem baseline (traced / RSS)",
                "same top-10 set (mismatches; of which ties)",
                "CPU taken by other processes",
            ],
            rows_out,
        )
    )
    if first_calls:
        print(
            f"first call on a freshly opened space (1000 cosine queries, includes computing the norms): "
            f"{fmt_s(first_call)} (median of {len(first_calls)})"
        )
    main_case = next((r for r in results if r["metric"] == "cosine" and r["queries"] == 1000), None)
    ok_ratio = main_case is not None and main_case["ratio"] <= 1.2
    agree_all = all(
        r["agreement"]["same_set"] >= 0.999
        or r["agreement"]["set_mismatches"] == r["agreement"]["mismatches_that_are_ties"]
        for r in results
    )
    if main_case:
        print(
            f"target: 1000 cosine queries at most 1.2x the baseline: {main_case['ratio']:.2f}x -> "
            f"{'met' if ok_ratio else 'MISSED'}"
        )
    print(f"target: same top-10 for >= 99.9% of queries (ties aside): {'met' if agree_all else 'MISSED'}")
    info["loadavg_at_end"] = loadavg()
    info["other_processes"] = other.stop()
    print(
        f"# load average at the end {info['loadavg_at_end']}; CPU used by other processes during the run: "
        f"{info['other_processes']}"
    )
    if args.json:
        payload = json.dumps(
            {
                "benchmark": "topk",
                "machine": info,
                "space": space_path,
                "k": K,
                "first_row": FIRST_ROW,
                "first_call_fresh_space_s": first_call,
                "first_call_all_s": first_calls,
                "results": results,
                "target_ratio": 1.2,
                "ratio_met": ok_ratio,
                "agreement_met": agree_all,
            },
            indent=2,
        )
        if args.json == "-":
            print(payload)
        else:
            Path(args.json).write_text(payload + "\n")


if __name__ == "__main__":
    main()
