"""Labels: do neighbours share a label (kNN agreement), and can a linear probe read the label off the vectors?

Both work on any space with a label column: texts, images, items or table rows.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Sequence

import numpy as np

from .._progress import progress
from ..errors import EmbspaceError
from ..space import Space
from ._result import Result, Results


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


# The probe's classifier by number of classes: logistic regression's cost grows with classes x iterations,
# ridge's (one closed-form solve on vectors, one iterative solve per class on a bag of words) with classes,
# a nearest-centroid classifier's hardly at all. benchmarks/bench_probe.py times and scores them.
LOGISTIC_MAX_CLASSES = 20
RIDGE_MAX_CLASSES = 200
PROBE_METHODS = ("logistic", "ridge", "centroid")


def probe(
    space: Space,
    label: str = "label",
    folds: int = 5,
    seed: int = 0,
    baseline: bool = True,
    method: str | None = None,
) -> Result:
    """Accuracy of a linear probe on the vectors (stratified k-fold cross-validation).

    The classifier (`method`, by default chosen from the number of classes; ``details["method"]``, and
    the table shows ``probe/logistic`` and so on):

    - ``logistic``, up to `LOGISTIC_MAX_CLASSES` classes: logistic regression, as in SentEval and MTEB;
    - ``ridge``, up to `RIDGE_MAX_CLASSES`: a ridge (least-squares one-vs-rest) classifier, solved in
      closed form on the vectors, about as accurate as logistic regression on TREC's 50 fine classes and
      far faster;
    - ``centroid``, above: each item goes to the class whose mean vector is closest by cosine
      (nearest class mean, Rocchio's classifier for texts); its cost hardly grows with the classes.

    Beside the score: the majority-class rate (``details["majority"]``) and, with `baseline` and a ``text``
    column, the same classifier on a bag of words (TF-IDF unigrams + bigrams, fitted on each training
    fold) on the same folds (``details["bow_accuracy"]``). Classes with fewer items than folds stay in:
    their items are scored like every other (and are often wrong), so the accuracy stays that of all
    labelled rows (``details["rare_classes"]`` counts those classes). Progress shows on stderr when
    enabled (the CLI); scikit-learn's warnings stay inside.
    """
    if method is not None and method not in PROBE_METHODS:
        raise EmbspaceError(f"unknown probe method {method!r}; choose one of {', '.join(PROBE_METHODS)}")
    labels = _labels(space, label)
    rows = np.flatnonzero(labels != "")
    y = labels[rows].astype(str)
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise EmbspaceError(f"the {label!r} column has fewer than 2 classes; a probe needs at least 2")
    if counts.max() < 2:
        raise EmbspaceError(f"every {label!r} class has a single item; a probe needs classes with at least 2 items")
    folds = int(max(2, min(folds, counts.max())))
    if method is None:
        many = len(classes) > RIDGE_MAX_CLASSES
        method = "logistic" if len(classes) <= LOGISTIC_MAX_CLASSES else "centroid" if many else "ridge"
    texts = [str(space.meta["text"][r]) for r in rows] if baseline and "text" in space.meta else None
    x = np.asarray(space.vectors[rows], dtype=np.float32)
    fits = folds * (2 if texts is not None else 1)
    with _quiet_sklearn(), progress(total=fits, desc=f"probe {label} ({len(classes):,} classes)", unit="fit") as bar:
        from sklearn.model_selection import StratifiedKFold

        splits = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y))
        acc, converged = _cross_validate(lambda: _classifier(method), x, y, splits, bar, "vectors")
        details = {
            "method": method,
            "folds": folds,
            "classes": len(classes),
            "majority": float(counts.max() / counts.sum()),
            "accuracy_std": float(acc.std()),
            "rare_classes": int((counts < folds).sum()),
        }
        if method == "logistic":
            details["converged"] = converged
        if texts is not None:
            bow, _ = _cross_validate(lambda: _BagOfWords(method), np.array(texts, dtype=object), y, splits, bar, "bow")
            details["bow_accuracy"] = float(bow.mean())
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


def _classifier(method: str, bag_of_words: bool = False):
    from sklearn.linear_model import LogisticRegression, RidgeClassifier

    if method == "logistic":
        return LogisticRegression(max_iter=1000, C=10.0 if bag_of_words else 1.0)
    return RidgeClassifier(alpha=1.0) if method == "ridge" else _NearestCentroid()


class _BagOfWords:
    """TF-IDF unigrams + bigrams (fitted on the training texts only), then the probe's classifier."""

    def __init__(self, method: str):
        self.method = method

    def fit(self, texts, y) -> _BagOfWords:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.vectorizer_ = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True)
        self.classifier_ = _classifier(self.method, bag_of_words=True).fit(self.vectorizer_.fit_transform(texts), y)
        return self

    def predict(self, texts) -> np.ndarray:
        return self.classifier_.predict(self.vectorizer_.transform(texts))


class _NearestCentroid:
    """Each row goes to the class whose mean row is closest by cosine; dense or sparse (TF-IDF) rows.

    Follows scikit-learn's classifier interface (`fit`, `predict`, ``classes_``) for the probe.
    """

    def fit(self, x, y) -> _NearestCentroid:
        from scipy import sparse
        from sklearn.preprocessing import normalize

        self.classes_, inverse = np.unique(y, return_inverse=True)
        members = sparse.csr_matrix((np.ones(len(y)), (inverse, np.arange(len(y)))), shape=(len(self.classes_), len(y)))
        self.centroids_ = normalize(members @ x)  # sums, then unit length: the direction of the mean
        return self

    def predict(self, x) -> np.ndarray:
        out = np.empty(x.shape[0], dtype=np.int64)
        for start in range(0, x.shape[0], 2048):  # scores of one block of rows against every class
            scores = x[start : start + 2048] @ self.centroids_.T
            scores = scores.toarray() if hasattr(scores, "toarray") else np.asarray(scores)
            out[start : start + 2048] = scores.argmax(axis=1)
        return self.classes_[out]


def _cross_validate(make, x, y, splits, bar, what: str) -> tuple[np.ndarray, bool]:
    """Accuracy on each held-out fold, and whether every logistic fit converged."""
    scores, converged = [], True
    for i, (train, test) in enumerate(splits, 1):
        bar.set_postfix_str(f"{what}, fold {i}/{len(splits)}")
        model = make().fit(x[train], y[train])
        scores.append(float(np.mean(model.predict(x[test]) == y[test])))
        final = getattr(model, "classifier_", model)
        if getattr(final, "n_iter_", None) is not None and getattr(final, "max_iter", None) is not None:
            converged = converged and bool(np.max(final.n_iter_) < final.max_iter)
        bar.update(1)
    return np.array(scores), converged


@contextlib.contextmanager
def _quiet_sklearn():
    """No scikit-learn warnings on the user's terminal (a rare class, an unconverged fit: both are in
    the result's details), and one BLAS thread: the probe's many small products run far slower with
    BLAS threads competing for cores (20-30x on a loaded 2-core machine) than on one."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # comes with scikit-learn; without it, BLAS keeps its threads
            yield
            return
        with threadpool_limits(1, user_api="blas"):
            yield


# ---- kNN classification and same-label recall (image spaces first, any labelled space) --------------------------
def knn_accuracy(
    space: Space,
    label: str = "label",
    k: int = 10,
    queries: str | tuple[str, str] | None = None,
    sample: int | None = 5000,
    seed: int = 0,
    recall_ks: Sequence[int] = (1, 10),
    baseline: np.ndarray | None = None,
) -> Results:
    """kNN classification accuracy and same-label recall@k, from one exact neighbour search.

    Each query item gets the majority label of its `k` nearest neighbours (a tie goes to the class met
    first, i.e. nearest); accuracy is the share of queries it gets right, as scikit-learn's
    ``KNeighborsClassifier`` with uniform weights. recall@k is the share of queries with at least one
    item of their own label among their k nearest, the metric-learning definition (Recall@K of
    Song et al. 2016 / SupCon).

    Parameters
    ----------
    queries : "COLUMN=VALUE" or (column, value), optional
        The query split: the rows whose `column` is `value` query the other labelled rows (e.g.
        ``split=test`` against the training images). Without it, leave-one-out over up to `sample`
        labelled rows (the whole space is the database; each query leaves itself out).
    baseline : float32 array (n, d), optional
        Other vectors of the same rows (e.g. raw pixels) scored the same way; their accuracy and
        recall go into ``details["pixels_accuracy"]`` / ``details["pixels_recall"]``.
    """
    labels = _labels(space, label)
    query_rows, database = _label_split(space, labels, label, queries, sample, seed)
    k = int(min(k, len(database) - (0 if queries else 1)))
    if k < 1:
        raise EmbspaceError("kNN accuracy needs at least 2 labelled items")
    ks = sorted({min(int(x), k) for x in recall_ks} | {k})
    scores = _label_search(space.vectors, labels, query_rows, database, k, ks, space.metric, bool(queries))
    details = {"k": k, "classes": len(np.unique(labels[database])), "queries": len(query_rows)}
    details["database"] = len(database)
    details["split"] = f"{queries[0]}={queries[1]}" if isinstance(queries, tuple) else queries or "leave-one-out"
    _, counts = np.unique(labels[database], return_counts=True)
    details["majority"] = float(counts.max() / counts.sum())
    if baseline is not None:
        base = _label_search(
            np.asarray(baseline, np.float32), labels, query_rows, database, k, ks, "cosine", bool(queries)
        )
        details["pixels_accuracy"] = base["accuracy"]
    coverage = float((labels != "").mean())
    labelled = int((labels != "").sum())
    out = [
        Result(
            f"knn@{k}/{label}",
            "knn_accuracy",
            "accuracy",
            scores["accuracy"],
            coverage,
            labelled,
            space.n,
            "drop",
            dict(details),
        )
    ]
    for x in ks:
        extra = {"k": x, "queries": len(query_rows), "split": details["split"]}
        if baseline is not None:
            extra["pixels_recall"] = base[f"recall@{x}"]
        out.append(
            Result(
                f"recall@{x}/{label}",
                "same_label_recall",
                "recall",
                scores[f"recall@{x}"],
                coverage,
                labelled,
                space.n,
                "drop",
                extra,
            )
        )
    return Results(out)


def parse_split(queries: str | tuple[str, str] | None) -> tuple[str, str] | None:
    """("column", "value") from ``"column=value"``; one-line error otherwise."""
    if queries is None or isinstance(queries, tuple):
        return queries
    column, sep, value = str(queries).partition("=")
    if not sep or not column or not value:
        raise EmbspaceError(f"queries {queries!r} is not COLUMN=VALUE (e.g. split=test)")
    return column, value


def _label_split(space, labels, label, queries, sample, seed) -> tuple[np.ndarray, np.ndarray]:
    labelled = np.flatnonzero(labels != "")
    if len(labelled) < 2:
        raise EmbspaceError(f"fewer than 2 items carry a {label!r}; kNN accuracy needs labels")
    split = parse_split(queries)
    if split is None:
        rows = labelled
        if sample and len(rows) > sample:
            rows = np.sort(np.random.default_rng(seed).choice(rows, sample, replace=False))
        return rows, labelled
    column, value = split
    if column not in space.meta:
        raise EmbspaceError(
            f"the space has no {column!r} column for the query split; its columns are "
            + (", ".join(repr(c) for c in space.meta) or "none")
        )
    is_query = np.array([str(v) == value for v in space.meta[column]], dtype=bool)
    query_rows = np.flatnonzero(is_query & (labels != ""))
    database = np.flatnonzero(~is_query & (labels != ""))
    if not len(query_rows) or not len(database):
        found = sorted({str(v) for v in space.meta[column]})[:10]
        raise EmbspaceError(
            f"{column}={value} leaves {len(query_rows)} labelled queries and {len(database)} labelled database "
            f"items; both must be non-empty ({column} holds {', '.join(map(repr, found))})"
        )
    return query_rows, database


def _label_search(vectors, labels, query_rows, database, k, ks, metric, split) -> dict[str, float]:
    from ..search import topk

    db = np.ascontiguousarray(np.asarray(vectors[database], dtype=np.float32))
    if split:
        q = np.ascontiguousarray(np.asarray(vectors[query_rows], dtype=np.float32))
        exclude = None
    else:  # leave-one-out: the database is every labelled row; a query leaves out its own
        position = np.searchsorted(database, query_rows)
        q, exclude = db[position], position[:, None]
    found, _ = topk(db, q, k=k, metric=metric, exclude=exclude)
    neighbour_labels = labels[database][found]  # (q, k)
    truth = labels[query_rows]
    votes = np.array([_vote(row) for row in neighbour_labels], dtype=object)
    out = {"accuracy": float(np.mean(votes == truth))}
    hit = neighbour_labels == truth[:, None]
    for x in ks:
        out[f"recall@{x}"] = float(hit[:, :x].any(axis=1).mean())
    return out


def _vote(neighbour_labels: np.ndarray) -> str:
    values, first, counts = np.unique(neighbour_labels, return_index=True, return_counts=True)
    best = counts == counts.max()
    return values[best][np.argmin(first[best])]  # a tie: the class met first (nearest)
