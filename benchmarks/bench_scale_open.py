"""Open a space in constant time: open + one vector, open + one exact query, against a bare NumPy matvec.

    .venv/bin/python benchmarks/bench_scale_open.py [--sizes 400k,1Mx300,10Mx100] [--reps 3] [--dir /tmp/scale]
                                                     [--checksums] [--json out.json]

Spaces: GloVe 6B 50d (400,000 x 50, real) and synthetic 1,000,000 x 300 and 10,000,000 x 100 (normal random
vectors, ids "s00000000"...), written once into --dir by embspace.store.SpaceWriter (kept for later runs).
Each timed run is a fresh Python subprocess; imports are done before the clock starts, and the process's
wall time from start to exit is reported beside it. The OS page cache is warm (the files were just written
or read): these are the costs of embspace, not of the disk.
  vector: s = embspace.load(path); s.vector(id)                   (one id, one block checked)
  query:  s = embspace.load(path); s.neighbors(id, k=10)          (exact cosine over every row, every block checked)
  query-unchecked: the same with embspace.load(path, verify=False)    (the scan without the block checks)
  matvec: v = np.load(vectors.npy, mmap_mode="r"); v @ q          (the bare NumPy floor over the same file)
  damage: a byte flipped at the start, middle and end of vectors.npy: the query must be refused (then unflipped).
--checksums: GB/s of xxh3-64, crc32, sha256, blake2b over 64 MiB in memory (why the blocks use xxh3).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import loadavg, machine, median, table  # noqa: E402

SIZES = {"400k": (400_000, 50), "1Mx300": (1_000_000, 300), "10Mx100": (10_000_000, 100)}


def worker(kind: str, path: str, item: str) -> None:
    import embspace
    import embspace.search  # noqa: F401

    t0 = time.perf_counter()
    if kind == "matvec":
        vectors = np.load(Path(path) / "vectors.npy", mmap_mode="r")
        q = np.ones(vectors.shape[1], dtype=np.float32)
        t0 = time.perf_counter()
        scores = vectors @ q
        result = float(scores[0])
    else:
        space = embspace.load(path, verify=kind != "query-unchecked")
        if kind == "vector":
            result = float(space.vector(item)[0])
        else:
            try:
                result = space.neighbors(item, k=10)[0].id
            except embspace.CorruptSpaceError as exc:
                result = "refused: " + str(exc)[-120:]
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "rss_mb": peak_rss_mb(), "result": result}))


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM; ru_maxrss would carry the parent's over fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(kind: str, path: Path, item: str) -> dict:
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--_worker", kind, "--_path", str(path), "--_item", item],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    if out.returncode:
        raise SystemExit(f"{kind} failed:\n{out.stderr[-2000:]}")
    got = json.loads(out.stdout.strip().splitlines()[-1])
    got["process_s"] = wall
    return got


def make_space(name: str, folder: Path) -> tuple[Path, str]:
    from embspace import store

    if name == "400k":
        from embspace.datasets import glove_6b_50d

        path = Path(glove_6b_50d().info["path"])
        warm(path)
        return path, "king"
    n, dim = SIZES[name]
    path = folder / f"synthetic-{name}.space"
    if not store.is_space(path):
        rng = np.random.default_rng(0)
        t0 = time.perf_counter()
        step = 250_000
        with store.SpaceWriter(path, dim, info={"name": f"synthetic {n} x {dim}", "seed": 0}) as w:
            for start in range(0, n, step):
                stop = min(start + step, n)
                w.append(
                    [f"s{i:08d}" for i in range(start, stop)], rng.standard_normal((stop - start, dim), np.float32)
                )
        print(f"wrote {path} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    warm(path)
    return path, f"s{n // 2:08d}"


def warm(path: Path) -> None:
    """Read every file once (plain reads: no mapping stays in this process), outside any timing."""
    for file in path.rglob("*"):
        if file.is_file():
            with open(file, "rb") as fh:
                while fh.read(1 << 24):
                    pass


def flip(path: Path, offset: int) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ 0x04]))


def damage(path: Path, item: str) -> list[str]:
    vectors = path / "vectors.npy"
    size = vectors.stat().st_size
    said = []
    for offset in (200, size // 2, size - 3):
        flip(vectors, offset)
        try:
            said.append(str(run("query", path, item)["result"]))
        finally:
            flip(vectors, offset)
    return said


def checksums() -> dict:
    import hashlib
    import zlib

    import xxhash

    data = np.random.default_rng(0).random(1 << 24, dtype=np.float32).tobytes()
    out = {}
    for name, fn in (
        ("xxh3_64", xxhash.xxh3_64_intdigest),
        ("crc32 (zlib)", zlib.crc32),
        ("sha256", lambda d: hashlib.sha256(d).digest()),
        ("blake2b", lambda d: hashlib.blake2b(d).digest()),
    ):
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            fn(data)
            times.append(time.perf_counter() - t0)
        out[name] = len(data) / median(times) / 1e9
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="400k,1Mx300,10Mx100")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--dir", default="/tmp/embspace-scale")
    parser.add_argument("--checksums", action="store_true")
    parser.add_argument("--json")
    parser.add_argument("--_worker")
    parser.add_argument("--_path")
    parser.add_argument("--_item")
    args = parser.parse_args()
    if args._worker:
        worker(args._worker, args._path, args._item)
        return
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    report = {"machine": machine(), "load_before": loadavg(), "sizes": {}}
    if args.checksums:
        report["checksums_gb_s"] = checksums()
        print(table(["checksum", "speed"], [[k, f"{v:.2f} GB/s"] for k, v in report["checksums_gb_s"].items()]))
    rows = []
    for name in args.sizes.split(","):
        path, item = make_space(name, folder)
        kinds = ("vector", "query", "query-unchecked", "matvec")
        got = {kind: [run(kind, path, item) for _ in range(args.reps)] for kind in kinds}
        entry = {
            kind: {
                "seconds": median([r["seconds"] for r in runs]),
                "process_s": median([r["process_s"] for r in runs]),
                "rss_mb": max(r["rss_mb"] for r in runs),
                "result": runs[0]["result"],
            }
            for kind, runs in got.items()
        }
        entry["query_over_matvec"] = entry["query"]["seconds"] / entry["matvec"]["seconds"]
        entry["unchecked_over_matvec"] = entry["query-unchecked"]["seconds"] / entry["matvec"]["seconds"]
        entry["damage"] = damage(path, item)
        entry["vectors_bytes"] = (path / "vectors.npy").stat().st_size
        report["sizes"][name] = entry
        rows.append(
            (
                name,
                f"{entry['vector']['seconds'] * 1e3:.1f} ms ({entry['vector']['process_s']:.2f} s, "
                f"{entry['vector']['rss_mb']:.0f} MB)",
                f"{entry['query']['seconds']:.3f} s ({entry['query']['rss_mb']:.0f} MB)",
                f"{entry['matvec']['seconds']:.3f} s",
                f"{entry['query_over_matvec']:.2f}x",
                f"{entry['query-unchecked']['seconds']:.3f} s ({entry['unchecked_over_matvec']:.2f}x)",
                "refused x3" if all(d.startswith("refused") for d in entry["damage"]) else "NOT REFUSED",
            )
        )
        print(rows[-1], file=sys.stderr)
    report["load_after"] = loadavg()
    header = ["space", "open + vector (process, RSS)", "open + query (RSS)", "bare matvec", "query / matvec"]
    header += ["verify=False query (/ matvec)", "flips"]
    print(table(header, [list(r) for r in rows]))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
