"""Building texts on Ray against the single-process build: texts/s, Ray's start-up and the overhead, same result.

    python benchmarks/bench_ray.py                                # 10,000 sentences, 2 workers; writes results/ray.json
    python benchmarks/bench_ray.py --n 300 --json /tmp/ray.json   # a quick run

The sentences are the STS-B train sentences (../shared/data/sts), repeated when fewer than --n, written to a
text file that every build reads (as `embspace build texts FILE` does). Measured, in this order, in one process:

1. single process: `embspace.texts.build(FILE, model)`, the model loaded by the build (as a fresh CLI run).
2. Ray start-up: `ray.init(num_cpus=WORKERS, include_dashboard=False)` on this machine, then shut down.
3. ray, cold: `build(..., engine="ray", workers=WORKERS)` starting its own local Ray (what
   `embspace build texts FILE --engine ray` costs): start-up, one model load per actor, shards, assembly.
4. ray, warm cluster: the same with a Ray already running (a long-lived cluster), so start-up is not counted.

Each line gives wall seconds and texts/s over the whole build, and the encode-only texts/s the build records.
The Ray builds are checked against the single-process one (same ids, max |difference| of the vectors).
On 2 CPUs Ray cannot be faster than one process that already uses both cores: the figure is the overhead,
the price of being able to add machines. Timings depend on the machine's load (reported beside them).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import OtherLoad, machine, print_machine  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sts" / "sts-train.csv"
OUT = Path(__file__).resolve().parent / "results"


def sentences(n: int) -> list[str]:
    """`n` STS-B train sentences (unique ones first, repeated when there are fewer), one line each."""
    unique: dict[str, None] = {}
    for line in DATA.read_text(encoding="utf-8").splitlines():
        cols = line.split("\t")
        if len(cols) >= 7:
            for text in (cols[5], cols[6]):
                text = " ".join(text.split())
                if text:
                    unique.setdefault(text)
    texts = list(unique)
    return [texts[i % len(texts)] for i in range(n)]


def row(name: str, space, wall: float, n: int, reference=None) -> dict:
    out = {
        "build": name,
        "wall_s": round(wall, 2),
        "texts_per_s": round(n / wall, 1),
        "encode_texts_per_s": space.info.get("texts_per_second"),
    }
    engine = space.info.get("engine")
    if engine:
        out["ray_startup_s"] = engine["startup_seconds"]
        out["workers"] = engine["workers"]
    if reference is not None:
        out["same_ids"] = space.ids == reference.ids
        out["max_abs_diff"] = float(np.abs(np.asarray(space.vectors) - np.asarray(reference.vectors)).max())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000, help="sentences")
    ap.add_argument("--workers", type=int, default=2, help="Ray actors (and the local Ray's CPUs)")
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--json", default=str(OUT / "ray.json"), help="where to write the results")
    args = ap.parse_args()

    import ray

    from embspace.texts import build

    info = machine()
    print_machine(info)
    texts = sentences(args.n)
    rows = []
    load = OtherLoad()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sentences.txt"
        path.write_text("".join(t + "\n" for t in texts), encoding="utf-8")

        t = time.perf_counter()
        local = build(path, args.model)
        rows.append(row("single process", local, time.perf_counter() - t, args.n))

        t = time.perf_counter()
        ray.init("local", num_cpus=args.workers, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        startup = time.perf_counter() - t
        ray.shutdown()
        rows.append({"build": "ray start-up only", "wall_s": round(startup, 2)})

        t = time.perf_counter()
        cold = build(path, args.model, engine="ray", workers=args.workers, shards_dir=tmp)
        rows.append(row("ray, starting a local Ray", cold, time.perf_counter() - t, args.n, local))

        ray.init("local", num_cpus=args.workers, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        try:
            t = time.perf_counter()
            warm = build(path, args.model, engine="ray", workers=args.workers, shards_dir=tmp)
            rows.append(row("ray, cluster already up", warm, time.perf_counter() - t, args.n, local))
        finally:
            ray.shutdown()
    result = {
        "machine": info,
        "texts": args.n,
        "model": args.model,
        "workers": args.workers,
        "ray_version": ray.__version__,
        "other_load": load.stop(),
        "rows": rows,
    }
    print(f"{'build':<28} {'wall s':>8} {'texts/s':>9} {'encode texts/s':>15}  check")
    for r in rows:
        check = f"ids same: {r['same_ids']}, max |diff| {r['max_abs_diff']:.1e}" if "same_ids" in r else ""
        print(
            f"{r['build']:<28} {r['wall_s']:>8.2f} {r.get('texts_per_s', float('nan')):>9,.1f} "
            f"{r.get('encode_texts_per_s') or float('nan'):>15,.1f}  {check}"
        )
    print(f"# other processes during the run: {result['other_load']}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"# wrote {args.json}")


if __name__ == "__main__":
    main()
