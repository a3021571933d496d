"""Train/test splits of interactions per user: leave the last one out, or the last fraction by time."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import EmbspaceError
from ._input import Interactions, read_interactions

SPLITS = ("last", "time")
_WRITERS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl"}


def split_mask(data: Interactions, by: str = "time", fraction: float = 0.2) -> np.ndarray:
    """Boolean mask of the test rows: each user's last interaction (`by="last"`) or the last `fraction` of
    their interactions in time order (`by="time"`, at least one). A user with one interaction stays in training."""
    if by not in SPLITS:
        raise EmbspaceError(f"unknown split {by!r}; choose 'last' (leave the last out) or 'time' (the last fraction)")
    if not 0 < fraction < 1:
        raise EmbspaceError(f"fraction must be between 0 and 1; got {fraction}")
    order = np.lexsort((np.arange(len(data)), data.times, data.users))  # by user, then time, then file order
    users = data.users[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    sizes = np.diff(np.r_[starts, len(users)])
    position = np.arange(len(users)) - np.repeat(starts, sizes)
    size = np.repeat(sizes, sizes)
    n_test = np.ones_like(size) if by == "last" else np.maximum(1, np.floor(size * fraction + 0.5).astype(np.int64))
    n_test = np.minimum(n_test, size - 1)
    mask = np.zeros(len(data), dtype=bool)
    mask[order] = position >= size - n_test
    return mask


def split(
    source: str | os.PathLike,
    train: str | os.PathLike,
    test: str | os.PathLike,
    *,
    by: str = "time",
    fraction: float = 0.2,
    user: str | None = None,
    item: str | None = None,
    rating: str | None = None,
    time: str | None = None,
    duplicates: str = "sum",
    overwrite: bool = False,
) -> dict:
    """Split the interactions of `source` into `train` and `test` files (CSV, TSV, JSONL or Parquet by suffix),
    with the source's column names. Returns counts: rows, users and items of each side."""
    paths = [Path(train), Path(test)]
    for p in paths:
        if p.suffix.lower() not in _WRITERS:
            raise EmbspaceError(f"{p}: write the split as .csv, .tsv, .jsonl or .parquet")
        if p.exists() and not overwrite:
            raise EmbspaceError(f"{p} already exists; pass --force to replace it")
    if paths[0].resolve() == paths[1].resolve():
        raise EmbspaceError("the train and test files must differ")
    data = read_interactions(source, user=user, item=item, rating=rating, time=time, duplicates=duplicates)
    mask = split_mask(data, by, fraction)
    if not mask.any():
        raise EmbspaceError(f"{source}: no user has two interactions; nothing can be held out")
    names = data.source["columns"]
    counts = {}
    for p, side, name in ((paths[0], ~mask, "train"), (paths[1], mask, "test")):
        columns = {names["user"]: data.users[side], names["item"]: data.items[side]}
        if names["rating"]:
            columns[names["rating"]] = data.ratings[side]
        columns[names["time"] or "time"] = data.times[side]
        _write(p, columns)
        counts[name] = {
            "rows": int(side.sum()),
            "users": len(np.unique(data.users[side])),
            "items": len(np.unique(data.items[side])),
        }
    counts["notes"] = list(data.notes)
    return counts


def _write(path: Path, columns: dict) -> None:
    """Write through a temporary sibling and a rename: a crash leaves no half-written file."""
    import pyarrow as pa

    table = pa.table({k: pa.array(v.tolist() if v.dtype.kind == "U" else v) for k, v in columns.items()})
    kind = _WRITERS[path.suffix.lower()]
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            pq.write_table(table, tmp)
        elif kind == "jsonl":
            import json

            with open(tmp, "w", encoding="utf-8") as f:
                for row in table.to_pylist():
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            import pyarrow.csv as pc

            pc.write_csv(table, tmp, pc.WriteOptions(delimiter="," if kind == "csv" else "\t", quoting_style="needed"))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
