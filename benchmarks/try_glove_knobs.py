"""One GloVe run, the original C code or embspace's with chosen knobs, scored on WS-353, SimLex-999 and MEN.

    .venv/bin/python benchmarks/try_glove_knobs.py c        /tmp/bench-words/glove-1m.txt
    .venv/bin/python benchmarks/try_glove_knobs.py embspace /tmp/bench-words/glove-1m.txt '{"epochs": 15, "abtt": 2}'

The corpora are bench_glove.py's (`glove-1m.txt`, `glove-3m.txt`, `glove-7m.txt` in its --workdir). Both
sides: 100-d, window 5, min count 5, 2 threads; the C side 15 iterations, x_max 10. Prints one JSON line.
The scores are what this is for (the defaults sweep in BENCHMARKS.md); time them with bench_glove.py.
"""

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import embspace  # noqa: E402
from _glove_c import build_glove_c, train_glove_c  # noqa: E402
from embspace.evaluate import word_pairs  # noqa: E402
from embspace.words import build  # noqa: E402

PAIRS = ("ws353", "simlex999", "men")
KNOBS = {"dim": 100, "window": 5, "min_count": 5}


def main() -> None:
    side, corpus = sys.argv[1], Path(sys.argv[2])
    knobs = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    if side == "c":
        binaries = build_glove_c(corpus.parent)
        words, vectors, timings = train_glove_c(binaries, corpus, corpus.parent / "glove-c-try", **KNOBS, **knobs)
        space, wall = embspace.Space(words, vectors), timings["wall_s"]
    else:
        t0 = time.perf_counter()
        space = build([corpus], "glove", workers=2, **KNOBS, **knobs)
        wall = time.perf_counter() - t0
    scores = {n: round(word_pairs(space, n).score, 4) for n in PAIRS}
    mean = round(sum(scores.values()) / len(PAIRS), 4)
    print(
        json.dumps(
            {
                "side": side,
                "corpus": corpus.name,
                "knobs": knobs,
                "vocabulary": space.n,
                "wall_s": round(wall, 1),
                "mean": mean,
                **scores,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
