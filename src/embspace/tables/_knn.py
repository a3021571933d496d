"""How well a space predicts a column from each row's nearest rows: kNN regression error (RMSE, MAE) or kNN
accuracy, beside the baseline that ignores the space (the mean, or the most frequent class)."""

from __future__ import annotations

import numpy as np

from .. import search
from ..errors import EmbspaceError
from ..space import Space
from ._transform import column_kind


def target_values(space: Space, target: str, task: str | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """(rows that carry a value, their values (float, or class numbers), task) of the meta column `target`."""
    import pandas as pd

    if target not in space.meta:
        raise EmbspaceError(
            f"the space has no column {target!r}; its columns: " + (", ".join(repr(c) for c in space.meta) or "none")
        )
    series = pd.Series(space.meta[target], dtype=object)
    kind, values = column_kind(series.infer_objects())
    if kind == "time":
        raise EmbspaceError(f"the column {target!r} holds dates or times; kNN predicts a number or a class")
    task = (
        task or (space.info.get("table") or {}).get("task") or ("regression" if kind == "numeric" else "classification")
    )
    if task == "regression":
        if kind != "numeric":
            raise EmbspaceError(f"the column {target!r} is not numeric; kNN regression needs numbers")
        rows = np.flatnonzero(np.isfinite(values))
        return rows, values[rows], task
    texts = [None if v is None else str(v) for v in (values.tolist() if kind == "numeric" else values)]
    if kind == "numeric":
        texts = [None if (t is None or t == "nan") else t for t in texts]
    rows = np.array([i for i, t in enumerate(texts) if t is not None and t != ""], dtype=np.int64)
    _, codes = np.unique(np.array([texts[i] for i in rows], dtype=object), return_inverse=True)
    return rows, codes.astype(np.int64), task


def knn_predict(
    vectors: np.ndarray, values: np.ndarray, queries: np.ndarray, k: int, task: str, metric: str, exclude=None
) -> np.ndarray:
    """Predictions for `queries` (q, dim) from their `k` nearest rows of `vectors` (n, dim) carrying `values`
    (n,): the neighbours' mean (regression) or their most frequent class (ties: the nearest such class)."""
    idx, _ = search.topk(
        np.ascontiguousarray(vectors, dtype=np.float32),
        np.ascontiguousarray(queries, dtype=np.float32),
        k,
        metric,
        exclude=exclude,
    )
    found = values[idx]
    if task == "regression":
        return found.mean(axis=1)
    classes = int(values.max()) + 1
    votes = np.zeros((len(found), classes))
    weight = 1.0 + 1e-6 * np.arange(k, 0, -1)  # a tie goes to the class met nearer
    np.add.at(votes, (np.repeat(np.arange(len(found)), k), found.ravel()), np.tile(weight, len(found)))
    return votes.argmax(axis=1)


def prediction_scores(truth: np.ndarray, predicted: np.ndarray, baseline: np.ndarray, task: str) -> dict:
    """RMSE and MAE (regression) or accuracy (classification) of `predicted` and of `baseline`."""
    if task == "regression":
        err, base = predicted - truth, baseline - truth
        return {
            "rmse": float(np.sqrt(np.mean(err**2))),
            "mae": float(np.mean(np.abs(err))),
            "baseline_rmse": float(np.sqrt(np.mean(base**2))),
            "baseline_mae": float(np.mean(np.abs(base))),
        }
    return {
        "accuracy": float(np.mean(predicted == truth)),
        "baseline_accuracy": float(np.mean(baseline == truth)),
    }


def knn_target(
    space: Space,
    target: str | None = None,
    k: int = 10,
    task: str | None = None,
    sample: int | None = None,
    seed: int = 0,
) -> dict:
    """Leave-one-out kNN prediction of the column `target` from each row's `k` nearest other rows.

    Parameters
    ----------
    target : str, optional
        A meta column; default the target the table space was built with (``info["table"]["target"]``).
    task : {"regression", "classification"}, optional
        Default: the space's task, else regression for a numeric column.

    sample : int, optional
        Predict only this many rows (drawn with `seed`); every row with a value is still a neighbour.

    Returns
    -------
    dict with ``target``, ``task``, ``k``, ``rows`` (rows with a value: the neighbours), ``predicted``
    (the rows predicted: all of them, or `sample`), ``coverage`` (their share of the space) and ``rmse``,
    ``mae``, ``baseline_rmse``, ``baseline_mae`` (the mean of the other rows' values) for regression,
    or ``accuracy`` and ``baseline_accuracy`` (the most frequent class among the other rows) for classification.
    """
    target = target or (space.info.get("table") or {}).get("target")
    if not target:
        raise EmbspaceError("the space has no target column; name one (a meta column with the values to predict)")
    rows, values, task = target_values(space, target, task)
    if len(rows) < k + 2:
        raise EmbspaceError(f"{len(rows)} rows carry a {target!r}; kNN with k={k} needs at least {k + 2}")
    vectors = np.asarray(space.vectors[rows], dtype=np.float32)
    asked = np.arange(len(rows))
    if sample and sample < len(rows):
        asked = np.sort(np.random.default_rng(seed).choice(len(rows), sample, replace=False))
    predicted = knn_predict(vectors, values, vectors[asked], k, task, space.metric, exclude=asked[:, None])
    truth = values[asked]
    if task == "regression":
        baseline = (values.sum() - truth) / (len(values) - 1)  # the mean of every other row
    else:
        counts = np.bincount(values)
        top = np.argsort(-counts, kind="stable")[:2]
        # the most frequent class among the other rows: the runner-up where leaving this row out changes it
        baseline = np.where((truth == top[0]) & (counts[top[0]] - 1 < counts[top[-1]]), top[-1], top[0])
    return {
        "target": target,
        "task": task,
        "k": k,
        "rows": int(len(rows)),
        "predicted": int(len(asked)),
        "coverage": len(rows) / space.n,
        "metric": space.metric,
        **prediction_scores(truth, predicted, baseline, task),
    }
