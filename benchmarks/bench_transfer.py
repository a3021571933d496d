"""Transfer: text spaces as features for sentence polarity and TREC question types, beside bag of words.

    python benchmarks/bench_transfer.py                 # writes benchmarks/results/transfer.{json,md}
    python benchmarks/bench_transfer.py --models tfidf-svd --sets trec --no-write   # one space, one set

Data: ../shared/data/labelled (sentence_polarity.zip: 10,662 rt-polarity sentences, pos/neg; trec/train.txt:
5,452 questions, the 6 coarse TREC classes). Each set's texts become a text space (`embspace.texts.build`,
MiniLM and tfidf-svd 256-d fitted on the set's own texts) and `embspace.transfer.run` scores logistic
regression on its vectors by 5-fold cross-validation at 1%, 10% and 100% of the training labels, with
bag of words (tf-idf uni+bigrams, the same logistic regression) and the majority class beside it.
Accuracy and macro-F1 do not depend on the machine's load.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LABELLED = ROOT.parent / "shared" / "data" / "labelled"
OUT = Path(__file__).resolve().parent / "results"


def polarity() -> tuple[list[str], list[str]]:
    texts, labels = [], []
    with zipfile.ZipFile(LABELLED / "sentence_polarity.zip") as z:
        for label in ("neg", "pos"):
            for line in z.read(f"sentence_polarity/rt-polarity.{label}").decode("latin-1").splitlines():
                if line.strip():
                    texts.append(line.strip())
                    labels.append(label)
    return texts, labels


def trec() -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for line in (LABELLED / "trec" / "train.txt").read_text(encoding="latin-1").splitlines():
        tag, _, question = line.partition(" ")
        if question.strip():
            texts.append(question.strip())
            labels.append(tag.split(":")[0])
    return texts, labels


SETS = {"polarity": polarity, "trec": trec}


def run_set(name: str, models: list[str], folder: Path, folds: int, seed: int) -> list[dict]:
    from embspace import texts as texts_kind
    from embspace import transfer

    texts, labels = SETS[name]()
    corpus, label_file = folder / f"{name}.csv", folder / f"{name}-labels.csv"
    with corpus.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "text"])
        writer.writerows([f"{name}-{i}", t] for i, t in enumerate(texts))
    with label_file.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "label"])
        writer.writerows([f"{name}-{i}", lab] for i, lab in enumerate(labels))
    rows = []
    for model in models:
        space = texts_kind.build(corpus, model=model, id_column="id", dim=256, seed=seed)
        report = transfer.run(space, label_file, folds=folds, seed=seed)
        for row in report.rows:
            if row["features"] == "space":
                row = {**row, "features": model}
            elif len(rows) and any(r["features"] == row["features"] and r["fraction"] == row["fraction"] for r in rows):
                continue  # the baselines do not depend on the space
            row = {"set": name, "n": len(texts), "coverage": report.coverage, **row}
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| set | features | 1% | 10% | 100% |", "|---|---|---|---|---|"]
    keys = list(dict.fromkeys((r["set"], r["features"]) for r in rows))
    for s, feat in keys:
        cells = []
        for frac in (0.01, 0.1, 1.0):
            r = next((r for r in rows if r["set"] == s and r["features"] == feat and r["fraction"] == frac), None)
            cells.append(f"{r['accuracy']:.3f} ({r['labels']:,} labels)" if r else "")
        lines.append(f"| {s} | {feat} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="polarity,trec")
    parser.add_argument("--models", default="minilm,tfidf-svd")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="Print the rows as one JSON document at the end.")
    parser.add_argument("--no-write", action="store_true", help="Print only; leave benchmarks/results alone.")
    args = parser.parse_args()
    if not LABELLED.is_dir():
        sys.exit(f"{LABELLED}: not found (the labelled sets of ../shared/data)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.sets.split(","):
            rows += run_set(name, args.models.split(","), Path(tmp), args.folds, args.seed)
    print(markdown(rows))
    if args.json:
        print(json.dumps({"machine": machine(), "rows": rows}, indent=2))
    if not args.no_write:
        OUT.mkdir(exist_ok=True)
        (OUT / "transfer.json").write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2) + "\n")
        (OUT / "transfer.md").write_text(markdown(rows))


if __name__ == "__main__":
    main()
