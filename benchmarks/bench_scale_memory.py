"""Peak memory of the verbs whose input grows with n: import, export, evaluate and map --sample.

    .venv/bin/python benchmarks/bench_scale_memory.py --rows 10000000 --dim 100 --json benchmarks/results/scale.json
    .venv/bin/python benchmarks/bench_scale_memory.py --rows 1000000 --dim 100          # development size
    .venv/bin/python benchmarks/bench_scale_memory.py --rows 20000 --dim 16 --verbs export-npy,evaluate   # smoke

A synthetic space of n x dim float32 (seeded normal values, written a block at a time, never whole in memory)
is made once in --workdir (reused when it is there). Its first rows are the distinct words of the built-in
evaluation sets (WS-353, SimLex-999, MEN, the Google analogies), so `evaluate` finds them (coverage is reported;
the scores of random vectors are near 0 and mean nothing); the other ids are w0000001, w0000002, ... The space is
not marked frequency-ordered, so `map --sample` draws its rows at random over the whole file.

Each verb then runs in a fresh process (the installed `embspace` CLI): export to .npy, to fastText .vec text
and to Parquet; import of that .vec and of that .npy; evaluate (the report card, --restrict-vocab default);
map --method pca --sample 50000. For each: wall time, the kernel's peak resident set (ru_maxrss of that process,
which counts the pages of memory-mapped files it touched: page cache the kernel can take back) and the peak of
anonymous memory (RssAnon sampled from /proc every 20 ms: what the process itself allocated, the figure that must
stay bounded by a block and not grow with n).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, print_machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).with_name("embspace")
VERBS = ("export-npy", "export-vec", "export-parquet", "import-vec", "import-npy", "evaluate", "map-sample")
BLOCK = 1 << 16


def eval_words() -> list[str]:
    """The distinct words of the built-in evaluation sets, lower-cased, in file order."""
    from embspace.evaluate._files import builtin_path

    words: dict[str, None] = {}
    for name in ("ws353", "simlex999", "men", "google"):
        for line in builtin_path(name).read_text(encoding="utf-8").splitlines():
            if line.startswith((":", "#")) or not line.strip():
                continue
            fields = line.split("\t") if "\t" in line else line.split()
            for word in fields[: 2 if name != "google" else 4]:
                words.setdefault(word.lower(), None)
    return list(words)


def synthetic_ids(start: int, stop: int, words: list[str]) -> list[str]:
    return [words[i] if i < len(words) else f"w{i - len(words) + 1:07d}" for i in range(start, stop)]


def synthetic_block(start: int, stop: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, start])
    return rng.standard_normal((stop - start, dim), dtype=np.float32)


def make_space(path: Path, n: int, dim: int, seed: int) -> float:
    """Write the synthetic space block by block; returns the seconds it took."""
    import embspace
    from embspace import store

    words = eval_words()
    t0 = time.perf_counter()
    writer = getattr(store, "SpaceWriter", None)
    # not frequency-ordered: map --sample draws its rows at random over the whole file (not the first rows)
    info = {"builder": "benchmark", "name": path.stem, "synthetic": {"n": n, "dim": dim}}
    if writer is not None:
        with writer(path, dim, metric="cosine", overwrite=True, info=info) as w:
            for start in range(0, n, BLOCK):
                stop = min(n, start + BLOCK)
                w.append(synthetic_ids(start, stop, words), synthetic_block(start, stop, dim, seed))
        return time.perf_counter() - t0
    scratch = path.with_name(path.name + ".vectors.npy")
    vectors = np.lib.format.open_memmap(scratch, mode="w+", dtype=np.float32, shape=(n, dim))
    for start in range(0, n, BLOCK):
        stop = min(n, start + BLOCK)
        vectors[start:stop] = synthetic_block(start, stop, dim, seed)
    vectors.flush()
    del vectors
    space = embspace.Space(synthetic_ids(0, n, words), np.load(scratch, mmap_mode="r"), info=info, check=False)
    embspace.save(space, path, overwrite=True)
    scratch.unlink()
    return time.perf_counter() - t0


def commands(space: Path, work: Path, sample: int) -> dict[str, list[str]]:
    vec = work / "synthetic.vec"
    return {
        "export-npy": ["export", str(space), "--format", "numpy", "-o", str(work / "out.npy"), "--force"],
        "export-vec": ["export", str(space), "--format", "fasttext-vec", "-o", str(vec), "--force"],
        "export-parquet": ["export", str(space), "--format", "parquet", "-o", str(work / "out.parquet"), "--force"],
        "import-vec": ["import", str(vec), "--format", "fasttext-vec", "-o", str(work / "imported.space"), "--force"],
        "import-npy": ["import", str(work / "out.npy"), "--format", "numpy", "-o", str(work / "npy.space"), "--force"],
        "evaluate": ["evaluate", str(space), "--json"],
        "map-sample": ["map", str(space), "--method", "pca", "--sample", str(sample), "--recompute", "--json"],
    }


def _status(pid: int) -> dict[str, int]:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "RssAnon", "RssFile"):
                    out[key] = int(value.split()[0]) * 1024
    except OSError:
        pass
    return out


def run(args: list[str]) -> dict:
    """One CLI call in a fresh process: wall time, peak RSS (kernel) and peak anonymous RSS (sampled)."""
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen([str(CLI), *args], stdout=out, stderr=err, env=env)
        peak = {"RssAnon": 0, "RssFile": 0}
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                for key, value in _status(proc.pid).items():
                    peak[key] = max(peak.get(key, 0), value)
                done.wait(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage, not every child's
        wall = time.perf_counter() - t0
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    result = {
        "command": "embspace " + " ".join(args),
        "rc": proc.returncode,
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # ru_maxrss is in KiB on Linux
        "peak_anon_mb": round(peak["RssAnon"] / 2**20, 1),
        "peak_file_mb": round(peak["RssFile"] / 2**20, 1),
    }
    if proc.returncode:
        result["error"] = stderr.decode(errors="replace").strip().splitlines()[-1:]
    if args[0] == "evaluate" and not proc.returncode:
        tasks = json.loads(stdout)["tasks"]
        result["coverage"] = {t.get("name", "?"): _coverage(t) for t in tasks}
    return result


def _coverage(task: dict) -> str | None:
    for key in ("found", "pairs_found", "coverage"):
        if key in task:
            return f"{task[key]}/{task.get('total', '?')}" if key != "coverage" else task[key]
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows of the synthetic space (default 1,000,000)")
    ap.add_argument("--dim", type=int, default=100, help="dimensions (default 100)")
    ap.add_argument("--sample", type=int, default=50_000, help="map --sample (default 50,000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--verbs", default=",".join(VERBS), help=f"comma-separated, from {', '.join(VERBS)}")
    ap.add_argument("--workdir", help="keep the synthetic space and outputs here (default: /tmp/embspace-scale-N-D)")
    ap.add_argument("--json", help="also write the results as JSON to this file ('-' = stdout)")
    args = ap.parse_args()
    verbs = [v.strip() for v in args.verbs.split(",") if v.strip()]
    unknown = [v for v in verbs if v not in VERBS]
    if unknown:
        ap.error(f"unknown verb {unknown[0]!r}; choose from {', '.join(VERBS)}")
    for reads, made_by in (("import-vec", "export-vec"), ("import-npy", "export-npy")):
        if reads in verbs and made_by not in verbs:
            verbs.insert(verbs.index(reads), made_by)  # the import reads what the export wrote
    info = machine()
    print_machine(info)
    work = Path(args.workdir or f"/tmp/embspace-scale-{args.rows}-{args.dim}")
    work.mkdir(parents=True, exist_ok=True)
    space = work / "synthetic.space"
    made = None
    if not (space / "manifest.json").exists():
        made = round(make_space(space, args.rows, args.dim, args.seed), 1)
        print(f"# wrote {space} ({args.rows:,} x {args.dim}) in {made} s", flush=True)
    vectors_mb = args.rows * args.dim * 4 / 2**20
    from embspace import _rowblocks

    block_mb = _rowblocks.block_rows(args.dim) * args.dim * 4 / 2**20
    print(f"# vectors: {vectors_mb:,.0f} MB; the verbs' block of vectors: {block_mb:.0f} MB")
    print(f"{'verb':<16} {'wall s':>8} {'peak RSS MB':>12} {'peak anon MB':>13} {'file MB':>9}  note")
    results = []
    cmds = commands(space, work, min(args.sample, args.rows))
    for verb in verbs:
        got = {"verb": verb, **run(cmds[verb])}
        results.append(got)
        note = got.get("error") or got.get("coverage") or ""
        print(
            f"{verb:<16} {got['wall_s']:>8.2f} {got['peak_rss_mb']:>12,.1f} {got['peak_anon_mb']:>13,.1f} "
            f"{got['peak_file_mb']:>9,.1f}  {note}",
            flush=True,
        )
    if args.json:
        payload = json.dumps(
            {
                "machine": info,
                "rows": args.rows,
                "dim": args.dim,
                "vectors_mb": round(vectors_mb, 1),
                "space_written_s": made,
                "results": results,
            },
            indent=2,
        )
        if args.json == "-":
            print(payload)
        else:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(payload + "\n")


if __name__ == "__main__":
    main()
