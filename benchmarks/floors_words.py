"""Where the quality floors of tests/test_build_words.py come from: each method, with the suite's
quick settings, on the three NLTK zips in ../shared/data/corpora (1.78M tokens), scored on
WS-353, SimLex-999 and MEN (Spearman, coverage). The floors sit below these by the run-to-run
noise of two-worker training.

    .venv/bin/python benchmarks/floors_words.py [--reps 2]
    .venv/bin/python benchmarks/floors_words.py --glove-sweep   # GloVe settings on the same corpus
"""

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent / "src"))

from embspace.evaluate import word_pairs  # noqa: E402
from embspace.words import build as build_words  # noqa: E402
from test_build_words import CORPUS, FAST, FLOORS  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--methods", default="ppmi-svd,glove,cbow,sgns,fasttext")
    ap.add_argument(
        "--glove-sweep",
        action="store_true",
        help="instead: mean Spearman of GloVe settings (dim, subsample, epochs, abtt) on this corpus",
    )
    args = ap.parse_args()
    if args.glove_sweep:
        for dim, sub, epochs, abtt in [
            (100, 1e-4, 15, 0),
            (100, 1e-4, 10, 0),
            (100, 1e-4, 10, 4),
            (100, 1e-4, 15, 4),
            (200, 1e-4, 10, 4),
            (100, 1e-4, 10, 2),
        ]:
            space = build_words(CORPUS, "glove", workers=2, dim=dim, subsample=sub, epochs=epochs, abtt=abtt)
            r = [word_pairs(space, n).score for n in ("ws353", "simlex999", "men")]
            print(
                f"glove dim {dim} subsample {sub} epochs {epochs} abtt {abtt}: "
                + " ".join(f"{x:.3f}" for x in r)
                + f" mean {sum(r) / 3:.3f}",
                flush=True,
            )
        return
    for method in args.methods.split(","):
        for rep in range(args.reps):
            start = time.perf_counter()
            space = build_words(CORPUS, method, workers=2, seed=rep, **FAST[method])
            scores = {n: word_pairs(space, n) for n in ("ws353", "simlex999", "men")}
            cells = "  ".join(f"{n} {r.score:.3f} ({r.coverage:.0%})" for n, r in scores.items())
            print(
                f"{method:9s} rep {rep}: {space.n:,} words, {space.info['tokens']:,} tokens, "
                f"{time.perf_counter() - start:5.1f} s  {cells}  floor(men) {FLOORS[method]}",
                flush=True,
            )


if __name__ == "__main__":
    main()
