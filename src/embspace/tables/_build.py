"""`embspace.tables.build`: a space of table rows, from their features or from a network trained on a target;
`embed_rows` places new rows in it the same way."""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from .._progress import progress as progress_bar
from .._version import __version__
from ..errors import EmbspaceError
from ..space import Space
from ._input import check_columns, read_table, require_pandas, source_name
from ._transform import MAX_CATEGORIES, Transform, column_kind

BUILDER = "embspace.tables"
METHODS = ("features", "learned")
TASKS = ("regression", "classification")


class DroppedColumnWarning(UserWarning):
    """A column was left out of the vectors (constant, all missing, or an identifier); said once per build."""


def build(
    source,
    id: str | None = None,
    target: str | None = None,
    *,
    method: str = "features",
    columns: list[str] | None = None,
    task: str | None = None,
    dim: int = 16,
    hidden: int = 64,
    epochs: int = 300,
    patience: int = 30,
    batch_size: int = 64,
    lr: float = 3e-3,
    weight_decay: float = 1e-4,
    log_target: bool = False,
    dropout: float = 0.0,
    refit: bool = False,
    seed: int = 0,
    max_categories: int = MAX_CATEGORIES,
    fmt: str | None = None,
    name: str | None = None,
    progress: bool | None = None,
) -> Space:
    """Embed the rows of a table: one vector per row.

    Parameters
    ----------
    source : path or pandas.DataFrame
        A ``.csv``, ``.tsv``, ``.parquet`` or ``.jsonl`` file, or a DataFrame.
    id : str, optional
        The column of unique row ids (default: the 1-based row number).
    target : str, optional
        The column to predict: left out of the vectors, kept as meta; needed by ``learned``.
    method : {"features", "learned"}
        ``features``: numeric columns standardised, two-valued columns (yes/no) 0/1, other categoricals
        one-hot (the `max_categories` most frequent levels, the rest as ``(other)``), missing values
        imputed (median / most frequent) and flagged in a ``COL:missing`` column. ``learned``: entity
        embeddings of the categoricals plus an MLP over the same numeric block, trained to predict
        `target` (Guo & Berkhahn 2016); the vectors are its penultimate activations, `dim` wide.
    columns : list of str, optional
        The columns to embed (default: every column but the id and the target).
    task : {"regression", "classification"}, optional
        Default: regression for a numeric target, classification otherwise.
    dim, hidden, epochs, patience, batch_size, lr, weight_decay, log_target, dropout, refit, seed :
        ``learned`` only: penultimate and hidden widths, the most epochs (training stops `patience`
        epochs after the best validation loss, on a 20 % split, and keeps that epoch's weights), AdamW's
        settings, whether to regress the logarithm of the target, dropout after the hidden layer, whether
        to train again on every row for as many epochs as the split found best, and the seed. The
        defaults were chosen on Housing out of fold (benchmarks/bench_tables.py): over five seeds,
        dropout (0.1, 0.2), refitting, other widths (dim 4-32, hidden 32-128), more weight decay and a
        lower learning rate did not lower the kNN error reliably, and regressing log-price raised it.

    Returns
    -------
    Space of shape (n_rows, dim), metric euclidean. meta holds every column but the id (the target
    included). ``info["table"]`` records the transform (and the network) so `embed_rows` places new rows
    the same way; a learned space keeps its network as ``assets["network.safetensors"]``.

    Columns left out (constant, all missing, all-distinct text) are listed in ``info["table"]["dropped"]``
    and said once with a `DroppedColumnWarning`.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"house": ["a", "b", "c"], "rooms": [2, 3, 5], "garden": ["yes", "no", "yes"]})
    >>> space = build(rows, id="house")
    >>> space.ids, space.dim, space.info["table"]["transform"]["layout"]
    (['a', 'b', 'c'], 2, ['rooms', 'garden=yes'])
    """
    start = time.perf_counter()
    if method not in METHODS:
        raise EmbspaceError(f"unknown table method {method!r}; choose one of {', '.join(METHODS)}")
    if task is not None and task not in TASKS:
        raise EmbspaceError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    _check_knobs(dim=dim, hidden=hidden, epochs=epochs, patience=patience, batch_size=batch_size)
    table = read_table(source, id=id, fmt=fmt)
    where = source_name(source)
    frame = table.frame
    if target is not None:
        check_columns(frame, [target], "target", where)
        if target == id:
            raise EmbspaceError(f"the target {target!r} is also the id column; choose another target")
    names = _feature_columns(frame, columns, id, target, where)
    labels = _target(frame[target], target, task, where) if target is not None else None
    transform = Transform.fit(frame, names, max_categories)
    if transform.dropped:
        said = "; ".join(f"{d['column']!r}: {d['reason']}" for d in transform.dropped)
        warnings.warn(f"left out of the vectors: {said}", DroppedColumnWarning, stacklevel=2)
    record: dict[str, Any] = {
        "id": id,
        "target": target,
        "columns": names,
        "transform": transform.state(),
        "dropped": transform.dropped,
    }
    if labels is not None:
        record["task"] = labels.task
        record["target_rows"] = int(labels.rows.size)
        if labels.classes is not None:
            record["classes"] = labels.classes
    fit_start = time.perf_counter()
    assets: dict[str, bytes] = {}
    if method == "features":
        vectors = transform.apply(frame, where)
    else:
        if labels is None:
            raise EmbspaceError("the learned method trains a network to predict a column: name it as the target")
        from ._learned import LearnedNet

        levels = _levels(frame, transform)
        record["levels"] = levels
        codes, numbers = _codes(frame, levels), transform.numeric_block(frame, where)
        net = LearnedNet(
            dim, hidden, epochs, patience, batch_size, lr, weight_decay,
            log_target=log_target, dropout=dropout, refit=refit, seed=seed,
        )  # fmt: skip
        bar = progress_bar if progress is None else _bar_factory(progress)
        rows = labels.rows
        net.fit(codes[rows], numbers[rows], [len(v) for v in levels.values()], labels.values, labels.task, bar)
        vectors = net.embed(codes, numbers)
        record["network"] = net.state()
        assets[record["network"]["weights"]] = net.weights()
    fit_seconds = time.perf_counter() - fit_start
    info = {
        "name": name or f"table-{method}",
        "kind": "table",
        "builder": BUILDER,
        "method": method,
        "table": record,
        "data": table.source,
        "rows": len(table.ids),
        "params": {"method": method, "task": task, "seed": seed, "max_categories": max_categories}
        | (
            {"dim": dim, "hidden": hidden, "epochs": epochs, "patience": patience, "batch_size": batch_size}
            | {"lr": lr, "weight_decay": weight_decay, "log_target": log_target, "dropout": dropout, "refit": refit}
            if method == "learned"
            else {}
        ),
        "seconds": round(time.perf_counter() - start, 3),
        "fit_seconds": round(fit_seconds, 3),
        "embspace_version": __version__,
    }
    space = Space(table.ids, vectors, _meta(frame, id), info, metric="euclidean")
    space.assets.update(assets)
    return space


def _check_knobs(**knobs: int) -> None:
    for name, value in knobs.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise EmbspaceError(f"{name} must be a whole number of at least 1; got {value!r}")


def _feature_columns(frame, columns, id, target, where) -> list[str]:
    if columns is None:
        return [c for c in frame.columns if c not in (id, target)]
    columns = [columns] if isinstance(columns, str) else list(columns)
    if not columns:
        raise EmbspaceError("no columns to embed were given")
    check_columns(frame, columns, "columns", where)
    for name, what in ((id, "the id column"), (target, "the target")):
        if name is not None and name in columns:
            raise EmbspaceError(f"{name!r} is {what}; leave it out of the columns to embed")
    return list(dict.fromkeys(columns))


class _Labels:
    def __init__(self, task: str, rows: np.ndarray, values: np.ndarray, classes: list[str] | None):
        self.task, self.rows, self.values, self.classes = task, rows, values, classes


def _target(series, name: str, task: str | None, where: str) -> _Labels:
    kind, values = column_kind(series)
    if kind == "time":
        raise EmbspaceError(f"{where}: the target {name!r} holds dates or times; predict a number or a class")
    task = task or ("regression" if kind == "numeric" else "classification")
    if task == "regression":
        if kind != "numeric":
            present = [v for v in values if v is not None]
            bad = next((v for v in present if not _is_number(v)), present[0] if present else None)
            raise EmbspaceError(
                f"{where}: the target {name!r} is not numeric (it holds {bad!r}); regression needs numbers: "
                "choose a numeric target, or predict it as classes"
            )
        rows = np.flatnonzero(np.isfinite(values))
        kept, classes = values[rows], None
    else:
        texts = [None if v is None or (isinstance(v, float) and not np.isfinite(v)) else _label(v) for v in values]
        rows = np.array([i for i, t in enumerate(texts) if t], dtype=np.int64)
        classes_arr, kept = np.unique(np.array([texts[i] for i in rows], dtype=object), return_inverse=True)
        classes = [str(c) for c in classes_arr]
    if rows.size == 0:
        raise EmbspaceError(f"{where}: the target {name!r} is empty in every row")
    distinct = np.unique(kept).size
    if distinct < 2:
        only = kept[0] if classes is None else classes[0]
        raise EmbspaceError(
            f"{where}: the target {name!r} has one value ({_label(only)}) in every row; there is nothing to predict"
        )
    return _Labels(task, rows, kept, classes)


def _label(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _levels(frame, transform: Transform) -> dict[str, list[str]]:
    """Every level of each categorical column (most frequent first, up to MAX_LEVELS): its embedding rows."""
    from ._learned import MAX_LEVELS

    out = {}
    for col in transform.columns:
        if col.kind == "categorical":
            counts = frame[col.name].dropna().map(lambda v: str(v).strip()).value_counts(sort=False)
            counts = counts[counts.index != ""]
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            out[col.name] = [k for k, _ in ranked[:MAX_LEVELS]]
    return out


def _codes(frame, levels: dict[str, list[str]]) -> np.ndarray:
    """(n, columns) int64: 1 + the level's rank; 0 for a missing or unseen value."""
    n = len(frame)
    out = np.zeros((n, len(levels)), dtype=np.int64)
    for j, (name, values) in enumerate(levels.items()):
        if name not in frame:
            continue
        index = {v: i + 1 for i, v in enumerate(values)}
        column = frame[name].tolist()
        out[:, j] = [0 if _missing(v) else index.get(str(v).strip(), 0) for v in column]
    return out


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _meta(frame, id: str | None) -> dict[str, list]:
    import pandas as pd

    meta = {}
    for name in frame.columns:
        if name == id:
            continue
        column = frame[name]
        values = column.astype(object).where(column.notna(), None).tolist()
        if pd.api.types.is_float_dtype(column.dtype):
            values = [None if v is None else float(v) for v in values]
        meta[f"{name}_" if name == "id" else name] = values
    return meta


def _bar_factory(show: bool):
    def factory(*args, **kwargs):
        return progress_bar(*args, **{**kwargs, "show": show})

    return factory


# ---- new rows -------------------------------------------------------------------------------------------


def embed_rows(space: Space, rows) -> np.ndarray:
    """Vectors of new rows, placed as the space's own rows were (the transform, and the network if learned).

    Parameters
    ----------
    rows : dict, list of dicts, or pandas.DataFrame
        Column -> value. A column left out, or a missing value, is imputed as at build time; a level
        never seen at build time sets no one-hot column (``(other)`` where the column has one).

    Returns
    -------
    ndarray of shape (n_rows, space.dim), float32.
    """
    pd = require_pandas()
    record = space.info.get("table")
    if space.info.get("builder") != BUILDER or not isinstance(record, dict):
        raise EmbspaceError("this space was not built from a table; build one with `embspace build table`")
    frame = _frame(rows)
    known = [c for c in (space.info.get("data") or {}).get("columns") or [] if isinstance(c, str)]
    transform = Transform.restore(record.get("transform"))
    known = known or [c.name for c in transform.columns]
    unknown = [c for c in frame.columns if c not in known]
    if unknown:
        check_columns(pd.DataFrame(columns=known), unknown[:1], "columns", "the space's table")
    if space.info.get("method") == "learned":
        from ._learned import LearnedNet

        levels = record.get("levels")
        if not isinstance(levels, dict) or not all(
            isinstance(v, list) and all(isinstance(x, str) for x in v) for v in levels.values()
        ):
            raise EmbspaceError("this learned table space lists no categorical levels; rebuild the space")
        net = LearnedNet.restore(record.get("network"), dict(space.assets))
        numbers = transform.numeric_block(frame)
        if [len(v) for v in levels.values()] != net.cards_ or numbers.shape[1] != net.numeric_:
            raise EmbspaceError(
                "this learned table space's levels and transform do not fit its network's inputs; rebuild the space"
            )
        vectors = net.embed(_codes(frame, levels), numbers)
    else:
        vectors = transform.apply(frame)
    if vectors.shape[1] != space.dim and not space.info.get("transforms"):  # a tuned space: the chain checks
        raise EmbspaceError(
            f"the space's table transform makes {vectors.shape[1]} columns but the space has {space.dim}; rebuild it"
        )
    return vectors


def _frame(rows):
    import pandas as pd

    if isinstance(rows, pd.DataFrame):
        frame = rows.reset_index(drop=True)
    elif isinstance(rows, dict):
        frame = pd.DataFrame([rows])
    elif isinstance(rows, (list, tuple)) and rows and all(isinstance(r, dict) for r in rows):
        frame = pd.DataFrame(list(rows))
    else:
        raise EmbspaceError(
            f"rows must be a dict of column -> value, a list of such dicts or a DataFrame; got {type(rows).__name__}"
            + (" (empty)" if isinstance(rows, (list, tuple)) and not rows else "")
        )
    frame.columns = [str(c) for c in frame.columns]
    return frame
