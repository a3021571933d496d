"""The label probe of `embspace evaluate --label` on many classes: time, accuracy and its baselines.

    python benchmarks/bench_probe.py                       # writes benchmarks/results/probe.{json,md}
    python benchmarks/bench_probe.py --model minilm-fast   # MiniLM vectors (needs the texts extra)
    python benchmarks/bench_probe.py --old                 # also the probe before issue 11 (minutes)

Two labelled sets from real texts (../shared/data):

1. TREC questions with their fine label (``DESC:manner``, ``LOC:city``...): 5,452 questions, 50 classes.
2. Movie-review sentences labelled by the review they come from: `--reviews` reviews (804 by default, the
   number of classes in the report of issue 11), up to `--per-review` sentences each. Which review a
   sentence is from is a hard many-class task; the bag of words sees names and plot words.

Each set becomes a space (`--model`, default ``tfidf-svd`` at 384 dimensions, the width of MiniLM, so
no torch is needed; encoding is not timed), then `embspace.evaluate.probe` runs on it `--repeats` times:
wall time (median), the method it chose (logistic up to 20 classes, ridge up to 200, nearest centroid
above), accuracy, the bag-of-words accuracy and the majority-class rate. With `--logistic`, the many-class set is also
probed with logistic regression (forced), to show what ridge and the centroid give up in accuracy and save in time.
With `--old`, the probe as it was before issue 11 (logistic regression, max_iter 2000, threads
unlimited, scikit-learn's `cross_val_score`) runs once on each set for comparison.

Run it on a quiet machine: it waits (up to 10 minutes) for other processes to go quiet first.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import OtherLoad, loadavg, machine, print_machine, table, wait_quiet  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TREC = DATA / "labelled" / "trec" / "train.txt"
REVIEWS = DATA / "corpora" / "movie_reviews.zip"
OUT = Path(__file__).resolve().parent / "results"


def trec_fine() -> tuple[list[str], list[str]]:
    """TREC training questions and their fine labels (50 classes)."""
    texts, labels = [], []
    for line in TREC.read_bytes().decode("utf-8", errors="replace").splitlines():
        label, text = line.split(" ", 1)
        texts.append(text)
        labels.append(label)
    return texts, labels


def review_sentences(reviews: int, per_review: int) -> tuple[list[str], list[str]]:
    """Sentences of the first `reviews` movie reviews (of 2,000), labelled by their review file."""
    texts, labels = [], []
    with zipfile.ZipFile(REVIEWS) as z:
        names = sorted(n for n in z.namelist() if n.endswith(".txt"))[:reviews]
        for name in names:
            lines = [s.strip() for s in z.read(name).decode("utf-8", errors="replace").splitlines()]
            kept = [s for s in lines if len(s.split()) >= 5][:per_review]
            texts += kept
            labels += [Path(name).stem] * len(kept)
    return texts, labels


def old_probe(space, label: str = "label", folds: int = 5, seed: int = 0) -> dict:
    """The probe as it was before issue 11 (for comparison only)."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline

    y = np.array([str(v) for v in space.meta[label]])
    _, counts = np.unique(y, return_counts=True)
    folds = int(max(2, min(folds, counts.min())))
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    x = np.asarray(space.vectors, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        acc = cross_val_score(LogisticRegression(max_iter=2000, C=1.0), x, y, cv=cv).mean()
        bow = make_pipeline(
            TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True), LogisticRegression(max_iter=2000, C=10.0)
        )
        bow_acc = cross_val_score(bow, [str(t) for t in space.meta["text"]], y, cv=cv).mean()
    return {"accuracy": float(acc), "bow_accuracy": float(bow_acc), "folds": folds}


def run_probe(space, repeats: int, method: str | None = None) -> dict:
    from embspace.evaluate import probe

    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = probe(space, method=method)
        times.append(time.perf_counter() - t0)
    d = result.details
    return {
        "seconds": [round(t, 2) for t in times],
        "median_s": round(statistics.median(times), 2),
        "method": d["method"],
        "accuracy": round(result.score, 4),
        "bow_accuracy": round(d.get("bow_accuracy", float("nan")), 4),
        "majority": round(d["majority"], 4),
        "classes": d["classes"],
        "rows": result.found,
        "folds": d["folds"],
        "converged": d.get("converged"),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="tfidf-svd", help="tfidf-svd (default), minilm-fast or minilm")
    ap.add_argument("--dim", type=int, default=384, help="tfidf-svd dimensions (MiniLM has 384)")
    ap.add_argument("--reviews", type=int, default=804, help="classes of the many-class set")
    ap.add_argument("--per-review", type=int, default=10, help="sentences per review")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--logistic", action="store_true", help="also force logistic regression on many classes")
    ap.add_argument("--old", action="store_true", help="also run the probe as it was before issue 11 (slow)")
    ap.add_argument("--no-wait", action="store_true", help="do not wait for a quiet machine")
    args = ap.parse_args()

    import embspace
    from embspace.texts import build as build_texts

    info = machine()
    print_machine(info)
    sets = {
        "trec-fine": trec_fine(),
        f"review-sentences-{args.reviews}": review_sentences(args.reviews, args.per_review),
    }
    spaces = {}
    for name, (texts, labels) in sets.items():
        kwargs = {"dim": args.dim} if args.model == "tfidf-svd" else {}
        space = build_texts(texts, model=args.model, **kwargs)
        spaces[name] = embspace.Space(space.ids, space.vectors, meta={"text": texts, "label": labels}, info=space.info)
        print(f"# {name}: {len(texts):,} texts, {len(set(labels)):,} classes, {space.dim} dims", flush=True)
    if not args.no_wait:
        info["quiet_before"] = wait_quiet()
    load = OtherLoad()
    rows, results = [], {}
    for name, space in spaces.items():
        runs = {"probe": run_probe(space, args.repeats)}
        if args.logistic and runs["probe"]["method"] != "logistic":
            runs["probe (logistic forced)"] = run_probe(space, 1, method="logistic")
        if args.old:
            t0 = time.perf_counter()
            old = old_probe(space)
            runs["probe before issue 11"] = {
                **old,
                "median_s": round(time.perf_counter() - t0, 2),
                "method": "logistic",
            }
        results[name] = runs
        for what, r in runs.items():
            print(f"{name} {what}: {json.dumps(r)}", flush=True)
            rows.append(
                [
                    name,
                    what,
                    r["method"],
                    f"{r['median_s']:.2f}",
                    f"{r['accuracy']:.4f}",
                    f"{r['bow_accuracy']:.4f}",
                    f"{r['majority']:.4f}" if "majority" in r else "",
                ]
            )
    other = load.stop()
    command = "python benchmarks/bench_probe.py " + " ".join(sys.argv[1:])
    out = {
        "machine": info,
        "command": command.strip(),
        "model": args.model,
        "results": results,
        "other_load": other,
        "loadavg_at_end": loadavg(),
    }
    OUT.mkdir(exist_ok=True)
    (OUT / "probe.json").write_text(json.dumps(out, indent=2) + "\n")
    md = [
        f"# Label probe (issue 11): `{out['command']}`",
        "",
        f"{info['cores']} cores, {info['cpu']}; vectors: {args.model}; load average {info['loadavg_at_start']} at "
        f"start, {out['loadavg_at_end']} at end; other processes: {other}",
        "",
        table(["set", "run", "method", "s (median)", "accuracy", "bag of words", "majority class"], rows),
        "",
    ]
    (OUT / "probe.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
