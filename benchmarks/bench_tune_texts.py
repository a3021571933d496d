"""Tuning MiniLM itself on TREC question types with 8 and 64 labelled questions per class: kNN label
accuracy on held-out questions before and after, and the time taken.

    python benchmarks/bench_tune_texts.py                          # writes benchmarks/results/tune_texts.{json,md}
    python benchmarks/bench_tune_texts.py --per-class 8 --loss pairs --no-write   # SetFit's pairs instead

Data: ../shared/data/labelled/trec/train.txt (5,452 questions, the 6 coarse classes). For each size, `per`
questions per class are drawn (seeded) as the training labels; `--heldout` questions (default 1,000) are
drawn from the rest. `embspace.tune.tune_texts` fine-tunes all-MiniLM-L6-v2 (supervised contrastive loss
over class-balanced batches: 6 classes x 8 questions = 48 per step; lr 2e-5, linear warm-up and decay)
for `--steps`; a held-out question's label is the similarity-weighted vote of its 5 nearest training
questions, with the untuned and the tuned model. Accuracy does not depend on the machine's load; the
time does (take it on a quiet machine).
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
from _common import machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TREC = ROOT.parent / "shared" / "data" / "labelled" / "trec" / "train.txt"
OUT = Path(__file__).resolve().parent / "results"
STEPS = {8: 40, 64: 80}


def trec() -> tuple[list[str], np.ndarray]:
    texts, labels = [], []
    for line in TREC.read_text(encoding="latin-1").splitlines():
        tag, _, question = line.partition(" ")
        if question.strip():
            texts.append(question.strip())
            labels.append(tag.split(":")[0])
    return texts, np.array(labels, dtype=object)


def draw(labels: np.ndarray, per: int, heldout: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    train = np.sort(
        np.concatenate([rng.choice(np.flatnonzero(labels == c), per, replace=False) for c in np.unique(labels)])
    )
    rest = np.setdiff1d(np.arange(len(labels)), train)
    return train, np.sort(rng.choice(rest, min(heldout, len(rest)), replace=False))


def run(per: int, steps: int, loss: str, batch: int, heldout: int, seed: int, folder: Path) -> dict:
    from embspace import Space
    from embspace import texts as texts_kind
    from embspace.tune import tune_texts
    from embspace.tune._texts import _encode, _load_trainable, knn_accuracy

    texts, labels = trec()
    train, held = draw(labels, per, heldout, seed)
    train_texts, held_texts = [texts[i] for i in train], [texts[i] for i in held]
    base = texts_kind.build(train_texts, model="minilm")
    space = Space(base.ids, base.vectors, {"text": train_texts, "label": list(labels[train])}, base.info)
    start = time.perf_counter()
    result = tune_texts(
        space, folder / f"trec-{per}", label="label", loss=loss, holdout=0, max_steps=steps, epochs=10_000,
        batch_size=batch, seed=seed, overwrite=True,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    scores = {}
    for name, model_path in (("before", base.info["encoder"]["model"]), ("after", result.model)):
        from embspace.texts._encoder_base import minilm_path

        model = _load_trainable(minilm_path() if model_path == "minilm" else Path(model_path), "cpu")
        scores[name] = knn_accuracy(
            _encode(model, train_texts), labels[train], _encode(model, held_texts), labels[held]
        )
    return {
        "per_class": per,
        "train": len(train),
        "heldout": len(held),
        "loss": loss,
        "steps": result.steps,
        "batch_size": batch,
        "knn_accuracy_before": round(scores["before"], 4),
        "knn_accuracy_after": round(scores["after"], 4),
        "gain_points": round(100 * (scores["after"] - scores["before"]), 1),
        "tune_seconds": round(seconds, 1),
        "seed": seed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", default="8,64", help="Labelled questions per class, comma-separated.")
    parser.add_argument("--steps", help="Optimiser steps per size, comma-separated [8: 40, 64: 80].")
    parser.add_argument("--loss", default="supcon", choices=["supcon", "pairs"])
    parser.add_argument("--batch-size", type=int, default=48)
    parser.add_argument("--heldout", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="Print the rows as one JSON document at the end.")
    parser.add_argument("--no-write", action="store_true", help="Print only; leave benchmarks/results alone.")
    args = parser.parse_args()
    if not TREC.is_file():
        sys.exit(f"{TREC}: not found (../shared/data/labelled)")
    sizes = [int(p) for p in args.per_class.split(",")]
    steps = [int(s) for s in args.steps.split(",")] if args.steps else [STEPS.get(p, 60) for p in sizes]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for per, n in zip(sizes, steps):
            rows.append(run(per, n, args.loss, args.batch_size, args.heldout, args.seed, Path(tmp)))
            print(json.dumps(rows[-1]), flush=True)
    lines = [
        "| per class | loss | steps x batch | kNN acc. before | after | gain | tune s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['per_class']} | {r['loss']} | {r['steps']} x {r['batch_size']} | {r['knn_accuracy_before']:.3f} | "
            f"{r['knn_accuracy_after']:.3f} | {r['gain_points']:+.1f} | {r['tune_seconds']} |"
        )
    print("\n".join(lines))
    if args.json:
        print(json.dumps({"machine": machine(), "rows": rows}, indent=2))
    if not args.no_write:
        OUT.mkdir(exist_ok=True)
        (OUT / "tune_texts.json").write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2) + "\n")
        (OUT / "tune_texts.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
