"""Reading a label file for `transfer`: ids, a label per id, and what a baseline can use (texts, numbers)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import EmbspaceError

FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".txt": "tsv", ".jsonl": "jsonl", ".parquet": "parquet"}
TASKS = ("classify", "regress")
MAX_CLASSES_AUTO = 20  # a numeric label with more distinct values than this is read as a regression target


@dataclass
class Labels:
    """One label file: `ids` (str), `labels` (str for classify, float for regress), optional texts and
    numeric feature columns (n, f) float32, and the file's name."""

    ids: list[str]
    labels: np.ndarray
    texts: list[str] | None
    numbers: np.ndarray | None
    number_columns: list[str] = field(default_factory=list)
    source: str = ""


def _frame(path: str | os.PathLike):
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise EmbspaceError(f"{path}: no such label file")
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise EmbspaceError(f"{path}: unknown label file type {path.suffix!r}; expected {', '.join(FORMATS)}")
    try:
        if fmt == "parquet":
            return pd.read_parquet(path)
        if fmt == "jsonl":
            return pd.read_json(path, lines=True, dtype=False)
        return pd.read_csv(path, sep="\t" if fmt == "tsv" else ",", dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError, OSError, pd.errors.ParserError) as exc:
        raise EmbspaceError(f"{path}: cannot read as {fmt} ({str(exc).splitlines()[0][:160]})") from None


def _column(frame, name: str, role: str, path) -> list:
    if name not in frame.columns:
        cols = ", ".join(repr(str(c)) for c in frame.columns[:20]) or "none"
        raise EmbspaceError(
            f"{path}: no {role} column {name!r}; its columns are {cols} (choose one with --{role}-column)"
        )
    return frame[name].tolist()


def _numeric(values: list) -> np.ndarray | None:
    try:
        out = np.array([float(v) for v in values], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out).all() else None


def decide_task(values: list, task: str | None) -> str:
    """`task` if given; else regress when the labels are numbers with fractions or many distinct values."""
    if task is not None:
        if task not in TASKS:
            raise EmbspaceError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
        return task
    numbers = _numeric(values)
    if numbers is None:
        return "classify"
    fractional = not np.all(numbers == np.round(numbers))
    return "regress" if fractional or len(np.unique(numbers)) > MAX_CLASSES_AUTO else "classify"


def read_labels(
    path: str | os.PathLike,
    *,
    id_column: str = "id",
    label_column: str = "label",
    text_column: str | None = None,
    task: str,
) -> Labels:
    """Rows with an empty id or label are left out; numbers for regress, strings for classify."""
    frame = _frame(path)
    if len(frame) == 0:
        raise EmbspaceError(f"{path}: the label file has no rows")
    ids = ["" if v is None else str(v) for v in _column(frame, id_column, "id", path)]
    raw = _column(frame, label_column, "label", path)
    keep = [i for i, (d, v) in enumerate(zip(ids, raw)) if d != "" and v is not None and str(v).strip() != ""]
    if not keep:
        raise EmbspaceError(f"{path}: no row has both an id and a label")
    if task == "regress":
        labels = _numeric([raw[i] for i in keep])
        if labels is None:
            raise EmbspaceError(f"{path}: --task regress needs numeric labels in {label_column!r}; use --task classify")
    else:
        labels = np.array([str(raw[i]).strip() for i in keep], dtype=object)
    texts = None
    if text_column is None and "text" in frame.columns and "text" not in (id_column, label_column):
        text_column = "text"
    if text_column is not None:
        texts = ["" if v is None else str(v) for v in _column(frame, text_column, "text", path)]
        texts = [texts[i] for i in keep]
    numbers, names = None, []
    others = [c for c in frame.columns if c not in (id_column, label_column, text_column)]
    columns = [(str(c), _numeric(frame[c].tolist())) for c in others]
    columns = [(c, v) for c, v in columns if v is not None]
    if columns:
        names = [c for c, _ in columns]
        numbers = np.stack([v[keep] for _, v in columns], axis=1).astype(np.float32)
    return Labels([ids[i] for i in keep], labels, texts, numbers, names, str(path))
