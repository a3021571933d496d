"""`embspace map` vs openTSNE / umap-learn called directly: t-SNE and UMAP of the 20,000 most frequent
GloVe words, wall time and trust of each map.

    .venv/bin/python benchmarks/bench_maps.py [--n 20000] [--reps 2] [--wait-quiet] [--json F] [--md F]

embspace:  `get_or_make_map(space_path, method, sample=n, seed=0, force=True)`, timed whole: what
           `embspace map SPACE --method M --sample N --recompute` does without printing: open the
           space (checksums verified), take the first n rows, normalise them, run the library, measure
           the map's trust (trustworthiness + kNN recall on a 2,000-point sample; above 10,000 points
           each point's own recall only for that sample) and write the cache folder. Run on a copy of
           the space in --workdir. Giving every point its own trust (`complete_point_trust`, what
           `--color trust` asks for) is timed apart, once.
direct:    the same library call a user would write, timed whole: `np.load(vectors.npy, mmap_mode="r")[:n]`,
           rows divided by their norms (float32), then
           t-SNE: `openTSNE.TSNE(perplexity=30, metric="euclidean", initialization="pca", n_jobs=1,
                  random_state=0).fit(X)`;
           UMAP:  `umap.UMAP(n_neighbors=15, min_dist=0.1, metric="cosine", random_state=0,
                  n_jobs=1).fit_transform(X)` (umap-learn runs single-threaded when seeded anyway).
Both sides use the same parameters (embspace's defaults), so with one thread they must give the same
coordinates; the script checks it. The trust of the direct map is measured afterwards, untimed, with
the same function. Each library runs once untimed first (numba compilation), then the two sides run
interleaved (alternating which goes first); times are medians of --reps.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import OtherLoad, fmt_s, loadavg, median, start, table  # noqa: E402

TARGET = 1.1


def unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return x / norms


def direct(method: str, space_path: str, n: int) -> np.ndarray:
    x = unit_rows(np.load(Path(space_path) / "vectors.npy", mmap_mode="r")[:n])
    if method == "tsne":
        from openTSNE import TSNE

        return np.asarray(
            TSNE(perplexity=30, metric="euclidean", initialization="pca", n_jobs=1, random_state=0).fit(x)
        )
    import umap

    return umap.UMAP(n_neighbors=15, min_dist=0.1, metric="cosine", random_state=0, n_jobs=1).fit_transform(x)


def ours(method: str, space_path: str, n: int):
    from embspace.reduce import get_or_make_map

    return get_or_make_map(space_path, method, sample=n, seed=0, force=True)


def warm_up(method: str, space_path: str) -> None:
    """One short untimed run, so numba's compilation (UMAP, pynndescent) is paid before the clock."""
    import embspace
    from embspace.reduce import make_map

    space = embspace.load(space_path)
    for n in (2_000, 12_000):  # UMAP: exact neighbours below 4,096 points, NN-descent above; t-SNE: FFT from 10,000
        make_map(
            space.head(n),
            method,
            **({"n_epochs": 10} if method == "umap" else {"n_iter": 10, "early_exaggeration_iter": 10}),
        )


def libraries() -> str:
    from importlib.metadata import version

    return ", ".join(
        f"{name} {version(name)}" for name in ("openTSNE", "umap-learn", "pynndescent", "numba", "scikit-learn")
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--space", help="a .space folder (default: embspace.datasets.glove_6b_50d())")
    ap.add_argument("--n", type=int, default=20_000, help="points to map: the first (most frequent) n rows")
    ap.add_argument("--reps", type=int, default=2, help="timed runs per side and method (default 2)")
    ap.add_argument("--methods", default="tsne,umap")
    ap.add_argument("--workdir", help="where the copy of the space goes (default: a temporary folder)")
    ap.add_argument("--wait-quiet", action="store_true", help="wait until other processes leave the cores idle")
    ap.add_argument("--json", help="write the results as JSON to this file")
    ap.add_argument("--md", help="write the table (and the machine line) as Markdown to this file")
    args = ap.parse_args()

    import embspace
    from embspace.reduce import complete_point_trust, map_trust

    source, info, whole = start(args.space, args.wait_quiet)
    info["libraries"] = libraries()
    print(f"# {info['libraries']}", flush=True)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-maps-"))
    space_path = str(work / "space.space")
    if not Path(space_path).exists():
        shutil.copytree(source, space_path)
    print(f"# space {source} (copied to {space_path}); n={args.n:,} most frequent rows; reps={args.reps}", flush=True)
    raw = np.asarray(np.load(Path(space_path) / "vectors.npy", mmap_mode="r")[: args.n])
    results = []
    for method in args.methods.split(","):
        warm_up(method, space_path)
        times = {"direct": [], "embspace": []}
        loads, coords, m, parts = [], {}, None, {"library": [], "trust": []}
        for rep in range(args.reps):
            for side in ("direct", "embspace") if rep % 2 == 0 else ("embspace", "direct"):
                probe = OtherLoad()
                t0 = time.perf_counter()
                if side == "direct":
                    coords["direct"] = direct(method, space_path, args.n)
                else:
                    m = ours(method, space_path, args.n)
                    coords["embspace"] = m.coords
                    parts["library"].append(m.seconds)
                    parts["trust"].append(m.trust["seconds"])
                times[side].append(time.perf_counter() - t0)
                loads.append(probe.stop())
                print(
                    f"#   {method} {side} run {rep + 1}: {fmt_s(times[side][-1])} "
                    f"(others: {loads[-1]['other_share_of_all_cores'] if loads[-1] else '?'})",
                    flush=True,
                )
        direct_trust, _ = map_trust(raw, coords["direct"], "cosine", seed=0)
        t0 = time.perf_counter()  # untimed above: every point's own trust, which the explorer can ask for
        complete_point_trust(m, embspace.load(space_path))
        every_point_s = time.perf_counter() - t0
        ratio = median(times["embspace"]) / median(times["direct"])
        same = bool(np.array_equal(np.asarray(coords["direct"], dtype=np.float32), coords["embspace"]))
        results.append(
            {
                "method": method,
                "n": args.n,
                "params": m.params,
                "key": m.key,
                "direct_s": times["direct"],
                "embspace_s": times["embspace"],
                "ratio": ratio,
                "embspace_parts_s": parts,
                "every_point_trust_s": every_point_s,
                "trust_direct": direct_trust,
                "trust_embspace": m.trust,
                "same_coords": same,
                "other_share_of_all_cores": max((x["other_share_of_all_cores"] for x in loads if x), default=None),
            }
        )
    info["loadavg_at_end"] = loadavg()
    info["other_processes_during_run"] = whole.stop()
    rows = []
    for r in results:
        td, te = r["trust_direct"], r["trust_embspace"]
        rows.append(
            [
                "t-SNE (openTSNE)" if r["method"] == "tsne" else "UMAP (umap-learn)",
                f"{r['n']:,}",
                f"{fmt_s(median(r['direct_s']))} ({fmt_s(min(r['direct_s']))})",
                f"{fmt_s(median(r['embspace_s']))} ({fmt_s(min(r['embspace_s']))})",
                f"**{r['ratio']:.2f}x**",
                f"{median(r['embspace_parts_s']['library']):.1f} s / {median(r['embspace_parts_s']['trust']):.2f} s",
                f"{td['trustworthiness']:.3f} / {te['trustworthiness']:.3f}",
                f"{td['knn_recall']:.3f} / {te['knn_recall']:.3f}",
                "yes" if r["same_coords"] else "no",
                f"+{r['every_point_trust_s']:.1f} s",
                f"{100 * r['other_share_of_all_cores']:.0f}%" if r["other_share_of_all_cores"] is not None else "?",
            ]
        )
    header = [
        "method",
        "points",
        "direct median (min)",
        "embspace median (min)",
        "embspace / direct",
        "of which library / trust",
        "trustworthiness direct / embspace",
        "kNN recall@10 direct / embspace",
        "same coordinates",
        "every point's trust (untimed above)",
        "CPU taken by others (max of runs)",
    ]
    md = table(header, rows)
    verdicts = [
        f"target: embspace map at most {TARGET}x the direct call: "
        + ", ".join(
            f"{r['method']} {r['ratio']:.2f}x -> {'met' if r['ratio'] <= TARGET else 'NOT met'}" for r in results
        )
    ]
    print(md)
    print("\n".join(verdicts))
    print(
        f"# load average at the end {info['loadavg_at_end']}; CPU used by other processes during the run: "
        f"{info['other_processes_during_run']}"
    )
    if args.md:
        machine = (
            f"{info['date']} | {info['cores']} cores, {info['cpu']} | Python {info['python']}, numpy "
            f"{info['numpy']} | load average {info['loadavg_at_start']} at start, {info['loadavg_at_end']} "
            f"at end | embspace {info['embspace']}"
        )
        Path(args.md).write_text(f"{machine}\n\n{md}\n\n" + "\n".join(verdicts) + "\n")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"benchmark": "maps", "machine": info, "space": source, "results": results}, indent=2, default=float
            )
            + "\n"
        )
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
