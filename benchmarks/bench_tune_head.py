"""Contrastive tuning with a projection head (`embspace.tune.contrastive`): held-out quality before and after,
on an image space, a text space and a word space, and the time each head took to train.

    python benchmarks/bench_tune_head.py                                 # every part, the defaults below
    python benchmarks/bench_tune_head.py --parts images --train 10000 --test 2000 --json out.json
    python benchmarks/bench_tune_head.py --parts texts --text-models tfidf-svd --heads linear,mlp
    python benchmarks/bench_tune_head.py --parts words --epochs 10

images: Fashion-MNIST (Debian dataset-fashion-mnist). A pixels space and a features space are built with
`embspace.images.build` on the first --train training images (labels given); a head is trained on those labels
(20 % of each class held out inside, the library's own before/after); then the first --test images of the test
split, never seen in training, are embedded through each space (`embed_images`, then the space's transform
chain, as any query image is) and classified by their 10 nearest training images (cosine, majority vote):
accuracy before (the built space) and after (the tuned one).

texts: TREC question classes (../shared/data/labelled/trec/train.txt, 5,452 questions, 6 coarse classes),
embedded with MiniLM (all-MiniLM-L6-v2) and tf-idf + SVD; the head learns from 80 % of each class and the
other 20 % are scored (kNN@10 accuracy against the training questions), before and after.

words: GloVe 6B 50d (the first --vocab words) and WordNet 3.0 synonym pairs (Debian wordnet-base,
/usr/share/wordnet/data.*: every two single-word lemmas of one synset, both among those words); 20 % of the
pairs held out: recall@1/@10 and MRR of the partner among all the words, before and after; SimLex-999 and
MEN Spearman before and after beside them (does the head keep what the space knew?).

Quality figures do not depend on the machine's load; the training times do.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import loadavg, machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FASHION = Path("/usr/share/datasets/fashion-mnist")
TREC = ROOT.parent / "shared" / "data" / "labelled" / "trec" / "train.txt"
WORDNET = Path("/usr/share/wordnet")
PARTS = ("images", "texts", "words")


def read_idx(split: str) -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(FASHION / f"{split}-images-idx3-ubyte.gz") as f:
        pixels = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(FASHION / f"{split}-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    return pixels, labels


def knn_accuracy(database, db_labels, queries, labels, k: int = 10) -> float:
    from embspace.search import topk

    found, _ = topk(np.ascontiguousarray(database, np.float32), np.ascontiguousarray(queries, np.float32), k=k)
    votes = []
    for row in db_labels[found]:
        values, first, counts = np.unique(row, return_index=True, return_counts=True)
        best = counts == counts.max()
        votes.append(values[best][np.argmin(first[best])])
    return float(np.mean(np.array(votes) == labels))


def tune(space, args, head: str, **data):
    from embspace.tune import contrastive

    started = time.perf_counter()
    tuned, report = contrastive(
        space,
        head=head,
        epochs=args.epochs,
        hard_negatives=args.hard_negatives,
        seed=args.seed,
        show_progress=args.progress,
        **data,
    )
    return tuned, report, round(time.perf_counter() - started, 2)


def run_images(args) -> list[dict]:
    from embspace import images

    if not (FASHION / "train-images-idx3-ubyte.gz").is_file():
        sys.exit(f"Fashion-MNIST not found in {FASHION}: apt-get install dataset-fashion-mnist")
    (train, train_labels), (test, test_labels) = read_idx("train"), read_idx("t10k")
    train, train_labels = train[: args.train], train_labels[: args.train]
    test, test_labels = test[: args.test], test_labels[: args.test]
    rows = []
    for method in args.image_methods:
        started = time.perf_counter()
        space = images.build(train, method, labels=[str(v) for v in train_labels], thumbnails=False)
        built = round(time.perf_counter() - started, 2)
        before_q = images.embed_images(space, list(test))
        before = knn_accuracy(space.vectors, train_labels, before_q, test_labels)
        for head in args.heads:
            tuned, report, seconds = tune(space, args, head, labels="label")
            after_q = tuned.transform_encoded(images.embed_images(tuned, list(test)))
            rows.append(
                {
                    "part": "images",
                    "space": f"fashion-mnist {method} ({space.dim}-d)",
                    "head": head,
                    "task": f"kNN@10 accuracy, {len(test):,} test-split images against {len(train):,} training images",
                    "before": before,
                    "after": knn_accuracy(tuned.vectors, train_labels, after_q, test_labels),
                    "inner": report.scores,
                    "build_seconds": built,
                    "train_seconds": seconds,
                    "losses": report.losses,
                }
            )
            print(_line(rows[-1]), file=sys.stderr)
    return rows


def run_texts(args) -> list[dict]:
    from embspace import texts

    if not TREC.is_file():
        sys.exit(f"{TREC} is missing (the shared data folder)")
    lines = TREC.read_text(encoding="latin-1").splitlines()
    questions = [line.split(" ", 1)[1] for line in lines]
    labels = [line.split(":", 1)[0] for line in lines]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rows = []
    for model in args.text_models:
        started = time.perf_counter()
        space = texts.build(questions, model=model)
        built = round(time.perf_counter() - started, 2)
        space.meta["label"] = labels
        for head in args.heads:
            tuned, report, seconds = tune(space, args, head, labels="label")
            (score,) = report.scores
            rows.append(
                {
                    "part": "texts",
                    "space": f"TREC {model} ({space.dim}-d)",
                    "head": head,
                    "task": f"kNN@10 accuracy, {score['on']}",
                    "before": score["before"],
                    "after": score["after"],
                    "majority": score["majority"],
                    "build_seconds": built,
                    "train_seconds": seconds,
                    "losses": report.losses,
                }
            )
            print(_line(rows[-1]), file=sys.stderr)
    return rows


def wordnet_synonyms(vocabulary: set[str]) -> list[tuple[str, str]]:
    """Every two single-word lemmas of one WordNet synset, both in `vocabulary`, each unordered pair once."""
    pairs: set[tuple[str, str]] = set()
    for pos in ("noun", "verb", "adj", "adv"):
        path = WORDNET / f"data.{pos}"
        for line in path.read_text(encoding="latin-1").splitlines():
            if line.startswith("  "):  # the licence header
                continue
            fields = line.split(" ")
            count = int(fields[3], 16)
            words = {fields[4 + 2 * i].lower().split("(")[0] for i in range(count)}
            words = sorted(w for w in words if w in vocabulary and "_" not in w)
            pairs.update((a, b) for i, a in enumerate(words) for b in words[i + 1 :])
    return sorted(pairs)


def run_words(args) -> list[dict]:
    from embspace.datasets import glove_6b_50d
    from embspace.evaluate import word_pairs

    if not (WORDNET / "data.noun").is_file():
        sys.exit(f"WordNet not found in {WORDNET}: apt-get install wordnet-base")
    space = glove_6b_50d().head(args.vocab)
    pairs = wordnet_synonyms(set(space.ids))
    rows = []
    for head in args.heads:
        tuned, report, seconds = tune(space, args, head, pairs=pairs)
        similarity = {
            name: (word_pairs(space, name).score, word_pairs(tuned, name).score) for name in ("simlex999", "men")
        }
        for score in report.scores:
            rows.append(
                {
                    "part": "words",
                    "space": f"GloVe 6B 50d, first {space.n:,} words",
                    "head": head,
                    "task": f"{score['name']}, WordNet synonyms: {score['on']}",
                    "before": score["before"],
                    "after": score["after"],
                    "pairs": report.data["pairs"],
                    "train_seconds": seconds,
                    "losses": report.losses,
                }
            )
            print(_line(rows[-1]), file=sys.stderr)
        for name, (before, after) in similarity.items():
            rows.append(
                {
                    "part": "words",
                    "space": f"GloVe 6B 50d, first {space.n:,} words",
                    "head": head,
                    "task": f"{name} Spearman (not trained on)",
                    "before": before,
                    "after": after,
                    "train_seconds": seconds,
                }
            )
            print(_line(rows[-1]), file=sys.stderr)
    return rows


def _line(row: dict) -> str:
    return (
        f"{row['space']:<34} {row['head']:<6} {row['before']:.4f} -> {row['after']:.4f}  "
        f"{row['task']}  ({row.get('train_seconds', 0):.1f} s)"
    )


def table(result: dict) -> str:
    out = [
        f"command: {result['command']}",
        "",
        "| space | head | task | before | after | head training (s) |",
        "|---|---|---|---:|---:|---:|",
    ]
    for r in result["rows"]:
        out.append(
            f"| {r['space']} | {r['head']} | {r['task']} | {r['before']:.4f} | {r['after']:.4f} | "
            f"{r.get('train_seconds', 0):.1f} |"
        )
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parts", default=",".join(PARTS), help="images, texts, words (comma-separated)")
    ap.add_argument("--train", type=int, default=10_000, help="images: first N training images")
    ap.add_argument("--test", type=int, default=2_000, help="images: first M test-split images (queries)")
    ap.add_argument("--image-methods", default="pixels,features")
    ap.add_argument("--text-models", default="minilm,tfidf-svd")
    ap.add_argument("--vocab", type=int, default=50_000, help="words: the first N GloVe words")
    ap.add_argument("--heads", default="linear,mlp")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--hard-negatives", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--progress", action="store_true", help="progress bars on stderr")
    ap.add_argument("--json", type=Path, help="write the results here as JSON")
    args = ap.parse_args()
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if any(p not in PARTS for p in parts):
        ap.error(f"--parts: choose from {', '.join(PARTS)}")
    args.heads = [h.strip() for h in args.heads.split(",") if h.strip()]
    args.image_methods = [m.strip() for m in args.image_methods.split(",") if m.strip()]
    args.text_models = [m.strip() for m in args.text_models.split(",") if m.strip()]
    result: dict = {
        "machine": machine(),
        "command": "python benchmarks/bench_tune_head.py " + " ".join(sys.argv[1:]),
        "epochs": args.epochs,
        "hard_negatives": args.hard_negatives,
        "rows": [],
    }
    runners = {"images": run_images, "texts": run_texts, "words": run_words}
    for part in parts:
        result["rows"] += runners[part](args)
    result["loadavg_at_end"] = loadavg()
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
