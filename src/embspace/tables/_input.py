"""Reading a table to embed: CSV, TSV, Parquet or JSONL (or a pandas DataFrame), with its id column checked."""

from __future__ import annotations

import difflib
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._files import sha256_file
from .._install import install_hint
from .._spelling import spelling_cli
from ..errors import EmbspaceError

FORMATS = ("csv", "tsv", "parquet", "jsonl")
_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".txt": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


@dataclass
class Table:
    """A table read for embedding.

    Attributes
    ----------
    frame : pandas.DataFrame
        The rows, in file order, every column as read (the id column included).
    ids : list of str
        One unique id per row: the id column's values, or the 1-based row number.
    source : dict
        What was read, for a manifest: file name, format, rows, columns, size in bytes and sha256.
    """

    frame: Any
    ids: list[str]
    source: dict = field(default_factory=dict)


def require_pandas():
    """pandas, or a one-line error that says how to install it (tables are read and typed with pandas)."""
    try:
        import pandas
    except ImportError:
        raise EmbspaceError(
            f"tables need the Python package 'pandas', which is not installed; pip install 'pandas>=2' "
            f"(and for the learned method: {install_hint('tables')})"
        ) from None
    return pandas


def read_table(source, id: str | None = None, fmt: str | None = None) -> Table:
    """Read `source` (a path to a CSV/TSV/Parquet/JSONL file, or a pandas DataFrame) and check its ids.

    Parameters
    ----------
    id : str, optional
        The column of unique row ids; default the 1-based row number.
    fmt : {"csv", "tsv", "parquet", "jsonl"}, optional
        Overrides the guess from the file suffix.
    """
    pd = require_pandas()
    if isinstance(source, pd.DataFrame):
        frame = source.reset_index(drop=True)
        where = "the table"
        digest = _frame_sha256(frame)
        described = {"file": None, "format": "dataframe", "sha256": digest}
    else:
        path = Path(source)
        if not path.is_file():
            raise EmbspaceError(f"{path}: no such file")
        fmt = _format(path, fmt)
        frame = _read(path, fmt)
        where = str(path)
        described = {"file": path.name, "format": fmt, "bytes": path.stat().st_size, "sha256": sha256_file(path)}
    frame.columns = [str(c) for c in frame.columns]
    if frame.shape[1] == 0 or frame.shape[0] == 0:
        raise EmbspaceError(f"{where} is empty; expected a header row and at least one row of values")
    if frame.shape[1] == 1 and described["format"] in ("csv", "tsv"):
        other = {"csv": ("\t", "tsv"), "tsv": (",", "csv")}[described["format"]]
        if other[0] in frame.columns[0]:
            raise EmbspaceError(
                f"{where} reads as one column named {frame.columns[0][:60]!r}: it looks like {other[1].upper()}; "
                + (f"give --format {other[1]}" if spelling_cli() else f"give fmt={other[1]!r}")
            )
    if len(set(frame.columns)) != len(frame.columns):
        twice = next(c for c in frame.columns if list(frame.columns).count(c) > 1)
        raise EmbspaceError(f"{where} has two columns named {twice!r}; column names must be unique")
    if id is None:
        ids = [str(i + 1) for i in range(len(frame))]
    else:
        check_columns(frame, [id], "id", where)
        ids = _ids(frame[id], id, where)
    described.update(rows=int(len(frame)), columns=list(frame.columns), id_column=id)
    return Table(frame, ids, described)


def _frame_sha256(frame) -> str:
    """A digest of a DataFrame's columns and values (cells that cannot be hashed, like lists, by their text)."""
    import pandas as pd

    try:
        hashed = pd.util.hash_pandas_object(frame, index=False)
    except TypeError:
        hashed = pd.util.hash_pandas_object(frame.astype(str), index=False)
    digest = hashlib.sha256("\x1f".join(map(str, frame.columns)).encode("utf-8", "surrogatepass"))
    digest.update(hashed.to_numpy().tobytes())
    return digest.hexdigest()


def check_columns(frame, names, flag: str, where: str = "the table") -> None:
    """An unknown column name is one line with close matches and the columns there are."""
    from .._spelling import spell

    columns = [str(c) for c in frame.columns]
    for name in names:
        if name not in columns:
            close = difflib.get_close_matches(name, columns, n=3, cutoff=0.6)
            folded = [c for c in columns if c.lower() == name.lower()]
            hints = list(dict.fromkeys(folded + close))
            hint = f"; did you mean {', '.join(repr(c) for c in hints)}?" if hints else ""
            shown = ", ".join(repr(c) for c in columns[:30]) + (" ..." if len(columns) > 30 else "")
            tail = hint or f"; its columns: {shown}"
            raise EmbspaceError(f"{where} has no column {name!r} ({spell(flag, metavar='COL')}){tail}")


def _format(path: Path, fmt: str | None) -> str:
    if fmt:
        if fmt not in FORMATS:
            raise EmbspaceError(f"unknown table format {fmt!r}; choose one of {', '.join(FORMATS)}")
        return fmt
    found = _SUFFIXES.get(path.suffix.lower())
    if found is None:
        raise EmbspaceError(
            f"{path}: cannot tell the table format from the suffix {path.suffix!r}; "
            f"name it .csv, .tsv, .parquet or .jsonl, or give the format ({', '.join(FORMATS)})"
        )
    return found


def _read(path: Path, fmt: str):
    import pandas as pd

    if path.stat().st_size == 0:
        raise EmbspaceError(f"{path} is empty; expected a header row and at least one row of values")
    try:
        if fmt == "parquet":
            return pd.read_parquet(path)
        if fmt == "jsonl":
            return pd.read_json(path, lines=True, dtype=False)
        return pd.read_csv(path, sep="\t" if fmt == "tsv" else ",", encoding="utf-8-sig", low_memory=False)
    except pd.errors.EmptyDataError:
        raise EmbspaceError(f"{path} is empty; expected a header row and at least one row of values") from None
    except UnicodeDecodeError as exc:
        raise EmbspaceError(
            f"{path}: byte {exc.start:,} is not UTF-8 text; convert the file to UTF-8, e.g. `iconv -f latin1 -t utf-8`"
        ) from None
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise EmbspaceError(f"{path}: not a readable {fmt.upper()} table ({first})") from None


def _ids(column, name: str, where: str) -> list[str]:
    import pandas as pd

    missing = column.isna()
    if missing.any():
        row = int(missing.to_numpy().nonzero()[0][0]) + 1
        raise EmbspaceError(f"{where}: the id column {name!r} is empty at row {row}; every row needs an id")
    values = column.tolist()
    if pd.api.types.is_float_dtype(column.dtype) and all(float(v).is_integer() for v in values):
        values = [int(v) for v in values]  # 3.0 -> "3": a column of whole numbers read as floats
    ids = [str(v) for v in values]
    seen: dict[str, int] = {}
    for row, item in enumerate(ids, 1):
        if not item.strip():
            raise EmbspaceError(f"{where}: the id column {name!r} is blank at row {row}; every row needs an id")
        if item in seen:
            raise EmbspaceError(
                f"{where}: the id {item[:80]!r} appears twice in the column {name!r} (rows {seen[item]} and {row}); "
                "ids must be unique: choose another column, or leave the id out to number the rows"
            )
        seen[item] = row
    return ids


def source_name(source) -> str:
    return os.fspath(source) if isinstance(source, (str, os.PathLike)) else "the table"
