"""Wall time of `build_words` on bench_words.py's corpus, one run per method named, in this process.

    .venv/bin/python benchmarks/time_words.py ppmi-svd glove [--workdir /tmp/bench-words]

A quick check between full `bench_words.py` runs (no gensim side, no memory, no scores): each
method with every knob at its default, workers=2, vocabulary cap 50,000.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from embspace.words import build as build_words  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("methods", nargs="+")
    ap.add_argument("--workdir", default="/tmp/bench-words")
    args = ap.parse_args()
    for method in args.methods:
        start = time.perf_counter()
        space = build_words([str(Path(args.workdir) / "corpus.txt")], method, workers=2, max_vocab=50_000)
        print(
            f"{method}: {time.perf_counter() - start:.1f} s; count_seconds {space.info.get('count_seconds')}",
            flush=True,
        )


if __name__ == "__main__":
    main()
