"""`embspace.transfer.run`: a space's vectors as features for a new task, with a baseline beside them.

A linear model (logistic regression to classify, ridge to regress; scikit-learn) learns the labels of a
label file from the vectors of its ids; a held-out test file or k-fold cross-validation scores it, at
several fractions of the training labels (the learning curve), next to what a user would do without the
space: bag of words (tf-idf) on the texts, the file's own numeric columns, or the majority / mean.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._progress import progress
from .._version import __version__
from ..errors import EmbspaceError
from ..space import Space
from ._read import Labels, decide_task, read_labels

FRACTIONS = (0.01, 0.1, 1.0)
# Logistic regression's C is fixed: an inner CV over C cost minutes per fit of lbfgs on tf-idf features.
C = 1.0
ALPHAS = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)  # ridge: alpha picked by efficient leave-one-out
SHOWN_UNKNOWN = 10


@dataclass
class Transfer:
    """Scores of a space's vectors (and of the baselines) on a labelled task, per fraction of labels.

    ``rows``: one dict per (features, fraction): ``features`` (``space``, ``bag of words``, ``raw
    features``, ``majority`` or ``mean``), ``fraction``, ``labels`` (training labels used, per fold),
    the metrics (``accuracy``, ``macro_f1`` or ``rmse``, ``r2``; means over folds, with ``*_std``) and
    ``coverage``. ``coverage``/``found``/``total`` count labelled ids found in the space.
    """

    task: str
    metrics: tuple[str, ...]
    rows: list[dict[str, Any]]
    coverage: float
    found: int
    total: int
    unknown: list[str]
    details: dict[str, Any] = field(default_factory=dict)

    def score(self, features: str = "space", fraction: float = 1.0, metric: str | None = None) -> float:
        metric = metric or self.metrics[0]
        for row in self.rows:
            if row["features"] == features and abs(row["fraction"] - fraction) < 1e-12:
                return float(row[metric])
        raise EmbspaceError(f"no {features!r} row at fraction {fraction}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "metrics": list(self.metrics),
            "coverage": self.coverage,
            "found": self.found,
            "total": self.total,
            "unknown": len(self.unknown),
            "unknown_ids": self.unknown[:SHOWN_UNKNOWN],
            "rows": self.rows,
            **self.details,
        }


# ---- models ---------------------------------------------------------------------------------------
def _model(task: str, sparse: bool, seed: int):
    """The linear model: fixed defaults, the same for the space and the baselines (C=1 on standardised
    vectors or on tf-idf; ridge's alpha by efficient leave-one-out inside the training part)."""
    from sklearn.linear_model import LogisticRegression, RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if task == "regress":
        model = RidgeCV(alphas=ALPHAS)
    else:
        # One convex problem, two solvers: scipy's L-BFGS-B took seconds per tiny fit; newton-cg is fast on
        # standardised dense vectors, saga on sparse tf-idf.
        solver = "saga" if sparse else "newton-cg"
        model = LogisticRegression(C=C, solver=solver, max_iter=1000, random_state=seed)
    return model if sparse else make_pipeline(StandardScaler(), model)


def _metrics(task: str, truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    if task == "regress":
        from sklearn.metrics import r2_score

        rmse = float(np.sqrt(np.mean((truth.astype(float) - predicted.astype(float)) ** 2)))
        return {"rmse": rmse, "r2": float(r2_score(truth, predicted)) if len(truth) > 1 else float("nan")}
    from sklearn.metrics import f1_score

    truth, predicted = truth.astype(str), predicted.astype(str)
    return {
        "accuracy": float(np.mean(truth == predicted)),
        "macro_f1": float(f1_score(truth, predicted, average="macro")),
    }


def _fit_predict(features: str, task: str, train_x, train_y, test_x, seed: int) -> np.ndarray:
    import warnings

    if features in ("majority", "mean"):
        if task == "regress":
            return np.full(test_x.shape[0], float(np.mean(train_y)))
        values, counts = np.unique(train_y.astype(str), return_counts=True)
        return np.full(test_x.shape[0], values[counts.argmax()], dtype=object)
    if task == "classify" and len(np.unique(train_y.astype(str))) < 2:
        return np.full(test_x.shape[0], str(train_y[0]), dtype=object)
    model = _model(task, sparse=features == "bag of words", seed=seed)
    with warnings.catch_warnings():  # convergence chatter on tiny folds; the score says what it means
        warnings.simplefilter("ignore")
        model.fit(train_x, train_y.astype(str) if task == "classify" else train_y)
    return model.predict(test_x)


class _BagOfWords:
    """tf-idf of word uni- and bigrams (sublinear tf), fitted on each training part only."""

    def __init__(self, texts: Sequence[str]):
        self.texts = np.array(list(texts), dtype=object)
        self.shape = (len(self.texts), 0)

    def split(self, train: np.ndarray, test: np.ndarray):
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=1)
        return vectorizer.fit_transform(self.texts[train]), vectorizer.transform(self.texts[test])


class _Dense:
    def __init__(self, x: np.ndarray):
        self.x = x

    def split(self, train: np.ndarray, test: np.ndarray):
        return self.x[train], self.x[test]


# ---- splits ---------------------------------------------------------------------------------------
def subsample(labels: np.ndarray, fraction: float, task: str, rng: np.random.Generator) -> np.ndarray:
    """Row numbers of a `fraction` of the labels: stratified with at least one per class (classify),
    at least two rows (regress); sorted, seeded."""
    n = len(labels)
    if fraction >= 1:
        return np.arange(n)
    if task == "regress":
        return np.sort(rng.choice(n, min(n, max(2, round(fraction * n))), replace=False))
    keys = labels.astype(str)
    rows = []
    for value in np.unique(keys):
        members = np.flatnonzero(keys == value)
        rows.append(rng.choice(members, max(1, round(fraction * len(members))), replace=False))
    return np.sort(np.concatenate(rows))


def _folds(labels: np.ndarray, task: str, folds: int, seed: int):
    from sklearn.model_selection import KFold, StratifiedKFold

    n = len(labels)
    if folds < 2:
        raise EmbspaceError(f"folds must be at least 2; got {folds}")
    if n < folds:
        raise EmbspaceError(f"{n} labelled ids found in the space, fewer than {folds} folds; give --folds {max(2, n)}")
    if task == "classify":
        _, counts = np.unique(labels.astype(str), return_counts=True)
        if counts.min() >= folds:
            return list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(n), labels.astype(str)))
    return list(KFold(folds, shuffle=True, random_state=seed).split(np.zeros(n)))


# ---- the run --------------------------------------------------------------------------------------
def _matched(space: Space, labels: Labels, role: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Rows of the label file whose id is in the space, their rows in the space, the unknown ids."""
    lookup = space._lookup
    rows = np.array([lookup.get(i, -1) for i in labels.ids], dtype=np.int64)
    found = np.flatnonzero(rows >= 0)
    unknown = list(dict.fromkeys(i for i, r in zip(labels.ids, rows) if r < 0))
    if len(found) == 0:
        shown = ", ".join(repr(u) for u in unknown[:3])
        raise EmbspaceError(
            f"{labels.source}: none of the {len(labels.ids):,} {role} ids is in the space (e.g. {shown}); "
            f"the space's ids look like {', '.join(repr(i) for i in space.ids[:3])} (choose --id-column)"
        )
    return found, rows[found], unknown


def _baseline_kind(space: Space, train: Labels, test: Labels | None, task: str) -> str:
    parts = [train] + ([test] if test is not None else [])
    if all(p.texts is not None or "text" in space.meta for p in parts):
        return "bag of words"
    if all(p.numbers is not None for p in parts) and (test is None or test.number_columns == train.number_columns):
        return "raw features"
    return "mean" if task == "regress" else "majority"


def _baseline_features(kind: str, space: Space, part: Labels, found: np.ndarray, rows: np.ndarray):
    if kind == "bag of words":
        if part.texts is not None:
            return [part.texts[i] for i in found]
        return ["" if space.meta["text"][r] is None else str(space.meta["text"][r]) for r in rows]
    if kind == "raw features":
        return part.numbers[found]
    return None


def run(
    space: Space,
    train: str | os.PathLike | Labels,
    test: str | os.PathLike | Labels | None = None,
    *,
    task: str | None = None,
    id_column: str = "id",
    label_column: str = "label",
    text_column: str | None = None,
    folds: int = 5,
    fractions: Sequence[float] = FRACTIONS,
    seed: int = 0,
) -> Transfer:
    """Score a space's vectors as features for the labels of `train` (on `test`, or by k-fold).

    Parameters
    ----------
    space : Space
        Any space whose ids are the label file's ids.
    train, test : path or Labels
        CSV, TSV, JSONL or Parquet with an id and a label column (and optionally texts or numbers for
        the baseline). Without `test`, `folds`-fold cross-validation over `train` (stratified where
        every class has `folds` labels).
    task : {"classify", "regress"}, optional
        Logistic regression (C=1 on standardised vectors; on tf-idf for bag of words) or ridge (alpha by
        leave-one-out among 0.01..1000 inside each training part). Guessed from
        the labels when None: numbers with fractions or more than 20 values regress.
    fractions : sequence of float in (0, 1]
        Learning curve: share of the training labels used (stratified, seeded, at least 1 per class).

    Returns
    -------
    Transfer: per (features, fraction) accuracy and macro-F1 (classify) or RMSE and R² (regress),
    with the coverage of labelled ids in the space.
    """
    start = time.perf_counter()
    fractions = sorted({float(f) for f in fractions})
    if not fractions or fractions[0] <= 0 or fractions[-1] > 1:
        raise EmbspaceError(f"fractions must be in (0, 1]; got {', '.join(map(str, fractions)) or 'none'}")
    train_labels, task = _as_labels(train, task, id_column, label_column, text_column)
    test_labels = _as_labels(test, task, id_column, label_column, text_column)[0] if test is not None else None
    tr_found, tr_rows, unknown = _matched(space, train_labels, "training")
    te_found = te_rows = None
    if test_labels is not None:
        te_found, te_rows, te_unknown = _matched(space, test_labels, "test")
        unknown = list(dict.fromkeys(unknown + te_unknown))
    baseline = _baseline_kind(space, train_labels, test_labels, task)
    vectors = np.asarray(space.normalized() if space.metric == "cosine" else space.vectors, dtype=np.float32)
    y_train = train_labels.labels[tr_found]
    if task == "classify" and len(np.unique(y_train.astype(str))) < 2:
        raise EmbspaceError(f"{train_labels.source}: the labels found in the space have one class; need at least 2")
    if test_labels is None:
        plan = [(tr, te) for tr, te in _folds(y_train, task, folds, seed)]
        x_all = vectors[tr_rows]
        base_all = _baseline_features(baseline, space, train_labels, tr_found, tr_rows)
        y_all = y_train
        split_note = {"evaluation": f"{folds}-fold cross-validation", "folds": folds}
    else:
        n_tr = len(tr_rows)
        plan = [(np.arange(n_tr), np.arange(n_tr, n_tr + len(te_rows)))]
        x_all = np.concatenate([vectors[tr_rows], vectors[te_rows]])
        y_all = np.concatenate([y_train, test_labels.labels[te_found]])
        base_tr = _baseline_features(baseline, space, train_labels, tr_found, tr_rows)
        base_te = _baseline_features(baseline, space, test_labels, te_found, te_rows)
        base_all = _joined(base_tr, base_te)
        split_note = {"evaluation": "test file", "test": test_labels.source, "test_found": len(te_rows)}
    sources = {"space": _Dense(x_all)}
    if baseline == "bag of words":
        sources[baseline] = _BagOfWords(base_all)
    elif baseline == "raw features":
        sources[baseline] = _Dense(base_all)
    trivial = "mean" if task == "regress" else "majority"
    sources[trivial] = _Dense(np.zeros((len(y_all), 1), dtype=np.float32))
    metric_names = ("rmse", "r2") if task == "regress" else ("accuracy", "macro_f1")
    rows = _curves(sources, task, plan, y_all, fractions, seed, metric_names)
    total = len(train_labels.ids) + (len(test_labels.ids) if test_labels is not None else 0)
    found = len(tr_rows) + (len(te_rows) if te_rows is not None else 0)
    for row in rows:
        row["coverage"] = found / total
    details = {
        "method": "ridge" if task == "regress" else "logistic regression",
        "baseline": baseline,
        "train": train_labels.source,
        "train_found": len(tr_rows),
        "classes": int(len(np.unique(y_all.astype(str)))) if task == "classify" else None,
        **split_note,
        "params": {"fractions": fractions, "seed": seed, "C": C, "alphas": list(ALPHAS)},
        "space": {"name": space.info.get("name"), "n": space.n, "dim": space.dim, "metric": space.metric},
        "seconds": round(time.perf_counter() - start, 3),
        "embspace_version": __version__,
    }
    return Transfer(task, metric_names, rows, found / total, found, total, unknown, details)


def _joined(train, test):
    if train is None:
        return None
    return train + test if isinstance(train, list) else np.concatenate([train, test])


def _as_labels(source, task, id_column, label_column, text_column) -> tuple[Labels, str]:
    if isinstance(source, Labels):
        return source, decide_task(list(source.labels), task)
    from ._read import _column, _frame

    if task is None:  # the task decides how labels are read: peek at the label column first
        task = decide_task(_column(_frame(source), label_column, "label", source), None)
    else:
        task = decide_task([], task)
    return read_labels(source, id_column=id_column, label_column=label_column, text_column=text_column, task=task), task


def _curves(sources, task, plan, y_all, fractions, seed, metric_names) -> list[dict[str, Any]]:
    rows = []
    with progress(total=len(sources) * len(fractions) * len(plan), desc="transfer", unit="fit") as bar:
        for name, source in sources.items():
            for fraction in fractions:
                scores, used = [], []
                for fold, (train, test) in enumerate(plan):
                    rng = np.random.default_rng([seed, fold, int(fraction * 1e6)])
                    train = train[subsample(y_all[train], fraction, task, rng)]
                    x_train, x_test = source.split(train, test)
                    predicted = _fit_predict(name, task, x_train, y_all[train], x_test, seed)
                    scores.append(_metrics(task, y_all[test], predicted))
                    used.append(len(train))
                    bar.update(1)
                row = {"features": name, "fraction": fraction, "labels": int(round(np.mean(used)))}
                for metric in metric_names:
                    values = np.array([s[metric] for s in scores])
                    row[metric] = float(np.mean(values))
                    row[f"{metric}_std"] = float(np.std(values)) if len(values) > 1 else 0.0
                rows.append(row)
    return rows
