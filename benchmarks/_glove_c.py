"""The original GloVe C code (../shared/reference/glove-c) as a reference: build it once, train on a line corpus.

The benchmarks only: the product never reads ../shared. Both sides read the same tokens: the corpus is
written by embspace's `Corpus.write_line_corpus` (one sentence per line, tokens joined by spaces).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import numpy as np

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "glove-c"


def build_glove_c(workdir: Path) -> Path:
    """Copy the reference sources into `workdir` (../shared is read-only) and `make` them; the binaries' folder."""
    target = Path(workdir) / "glove-c"
    binaries = target / "build"
    if not (binaries / "glove").exists():
        if not REFERENCE.is_dir():
            raise SystemExit(f"the GloVe reference code is not at {REFERENCE}")
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(REFERENCE, target)
        subprocess.run(["make", "-C", str(target)], check=True, capture_output=True)
    return binaries


def train_glove_c(
    binaries: Path,
    lines: Path,
    workdir: Path,
    *,
    dim: int,
    window: int,
    min_count: int,
    iters: int = 15,
    x_max: float = 10.0,
    threads: int = 2,
    max_vocab: int | None = None,
    seed: int = 1,
) -> tuple[list[str], np.ndarray, dict]:
    """vocab_count, cooccur, shuffle and glove as the GloVe README runs them; (words, vectors (V, dim), timings).

    The vectors are GloVe's default output (-model 2: word + context vectors), its `<unk>` row dropped.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    vocab, cooc, shuf, save = (workdir / n for n in ("vocab.txt", "cooc.bin", "cooc.shuf.bin", "vectors"))
    steps = {
        "vocab_count": (
            [f"{binaries}/vocab_count", "-min-count", str(min_count), "-verbose", "0"]
            + (["-max-vocab", str(max_vocab)] if max_vocab else []),
            lines,
            vocab,
        ),
        "cooccur": (
            [
                f"{binaries}/cooccur",
                "-memory",
                "4.0",
                "-vocab-file",
                str(vocab),
                "-window-size",
                str(window),
                "-verbose",
                "0",
            ],
            lines,
            cooc,
        ),
        "shuffle": ([f"{binaries}/shuffle", "-memory", "4.0", "-verbose", "0", "-seed", str(seed)], cooc, shuf),
    }
    timings = {}
    start = time.perf_counter()
    for name, (cmd, source, target) in steps.items():
        t0 = time.perf_counter()
        with open(source, "rb") as fin, open(target, "wb") as fout:
            subprocess.run(cmd, stdin=fin, stdout=fout, stderr=subprocess.DEVNULL, check=True)
        timings[f"{name}_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    subprocess.run(
        [
            f"{binaries}/glove",
            "-input-file",
            str(shuf),
            "-vocab-file",
            str(vocab),
            "-save-file",
            str(save),
            "-vector-size",
            str(dim),
            "-threads",
            str(threads),
            "-iter",
            str(iters),
            "-x-max",
            str(x_max),
            "-binary",
            "0",
            "-seed",
            str(seed),
            "-verbose",
            "0",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    timings["glove_s"] = round(time.perf_counter() - t0, 2)
    timings["wall_s"] = round(time.perf_counter() - start, 2)
    words, rows = [], []
    with open(f"{save}.txt", encoding="utf-8") as fh:
        for line in fh:
            word, *values = line.rstrip("\n").split(" ")
            if word != "<unk>":
                words.append(word)
                rows.append(np.asarray(values, dtype=np.float32))
    for path in (cooc, shuf):
        path.unlink(missing_ok=True)
    return words, np.vstack(rows), timings
