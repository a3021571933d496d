"""Labels: do neighbours share a label (kNN agreement), and can a linear probe read the label off the vectors?

Both work on any space with a label column: texts, images, items or table rows.
"""

from __future__ import annotations

import numpy as np

from ..errors import EmbspaceError
from ..space import Space
from ._result import Result


def _labels(space: Space, label: str) -> np.ndarray:
    if label not in space.meta:
        raise EmbspaceError(
            f"the space has no {label!r} column; its columns are " + (", ".join(repr(c) for c in space.meta) or "none")
        )
    values = space.meta[label]
    return np.array(["" if v is None else str(v) for v in values], dtype=object)


def knn_labels(space: Space, label: str = "label", k: int = 10, sample: int | None = 5000, seed: int = 0) -> Result:
    """kNN label agreement: the share of each item's k nearest neighbours (itself left out) with its label.

    Measured on up to `sample` labelled items (all when None; the number in ``details["sampled"]``).
    Coverage is the share of rows that carry a label. The chance level (sum of squared label shares)
    is in ``details["chance"]``.
    """
    labels = _labels(space, label)
    has = labels != ""
    rows = np.flatnonzero(has)
    labelled = len(rows)
    if labelled < 2:
        raise EmbspaceError(f"fewer than 2 items carry a {label!r}; kNN agreement needs labels")
    if sample and len(rows) > sample:
        rows = np.sort(np.random.default_rng(seed).choice(rows, sample, replace=False))
    k = min(k, space.n - 1)
    result = space.neighbors([space.ids[r] for r in rows], k=k)
    lookup = space._lookup
    agree = [np.mean([labels[lookup[nb.id]] == labels[r] for nb in res]) for r, res in zip(rows, result)]
    _, counts = np.unique(labels[has], return_counts=True)
    chance = float(((counts / counts.sum()) ** 2).sum())
    return Result(
        f"knn@{k}/{label}",
        "knn_labels",
        "agreement",
        float(np.mean(agree)),
        labelled / space.n,
        labelled,
        space.n,
        "drop",
        {"k": k, "chance": chance, "classes": len(counts), "sampled": len(rows)},
    )


def probe(space: Space, label: str = "label", folds: int = 5, seed: int = 0, baseline: bool = True) -> Result:
    """Accuracy of a logistic-regression probe on the vectors (stratified k-fold cross-validation).

    With `baseline` and a ``text`` column, a bag-of-words (TF-IDF unigrams + bigrams) logistic regression
    on the same folds is reported beside it in ``details["bow_accuracy"]``.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    labels = _labels(space, label)
    rows = np.flatnonzero(labels != "")
    y = labels[rows].astype(str)
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise EmbspaceError(f"the {label!r} column has fewer than 2 classes; a probe needs at least 2")
    folds = int(max(2, min(folds, counts.min())))
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    x = np.asarray(space.vectors[rows], dtype=np.float32)
    acc = cross_val_score(LogisticRegression(max_iter=2000, C=1.0), x, y, cv=cv)
    details = {
        "folds": folds,
        "classes": len(classes),
        "majority": float(counts.max() / counts.sum()),
        "accuracy_std": float(acc.std()),
    }
    if baseline and "text" in space.meta:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import make_pipeline

        texts = [str(space.meta["text"][r]) for r in rows]
        bow = make_pipeline(
            TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True), LogisticRegression(max_iter=2000, C=10.0)
        )
        details["bow_accuracy"] = float(cross_val_score(bow, texts, y, cv=cv).mean())
    return Result(
        f"probe/{label}",
        "probe",
        "accuracy",
        float(acc.mean()),
        len(rows) / space.n,
        len(rows),
        space.n,
        "drop",
        details,
    )
