"""Reading texts to embed: a plain text file (one text per line), CSV/TSV, JSONL or Parquet."""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .._files import sha256_file
from ..errors import EmbspaceError

FORMATS = ("txt", "csv", "tsv", "jsonl", "parquet")
_SUFFIXES = {
    ".txt": "txt",
    ".text": "txt",
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}


@dataclass
class TextTable:
    """Texts read from a file, with their ids and any other columns.

    Attributes
    ----------
    ids : list of str
        One per kept text: the id column's value, or the 1-based line / row number.
    texts : list of str
        Non-empty texts, in file order.
    meta : dict of column name -> list
        The file's other columns (CSV/TSV/JSONL/Parquet), aligned with `texts`.
    skipped_empty : int
        Rows whose text was empty or only whitespace (left out).
    source : dict
        What was read, for a manifest: the file's name, format, columns, rows, size in bytes and sha256.
    """

    ids: list[str]
    texts: list[str]
    meta: dict[str, list] = field(default_factory=dict)
    skipped_empty: int = 0
    source: dict = field(default_factory=dict)


def detect_format(path: str | os.PathLike, fmt: str | None = None) -> str:
    if fmt:
        if fmt not in FORMATS:
            raise EmbspaceError(f"unknown text format {fmt!r}; choose one of {', '.join(FORMATS)}")
        return fmt
    return _SUFFIXES.get(Path(path).suffix.lower(), "txt")


def read_texts(
    path: str | os.PathLike, column: str | None = None, id_column: str | None = None, fmt: str | None = None
) -> TextTable:
    """Read the texts of `path`.

    Parameters
    ----------
    path : str or path
        ``.txt`` (one text per line), ``.csv``, ``.tsv``, ``.jsonl`` or ``.parquet``.
    column : str, optional
        The column holding the texts (tables only); default ``text``, or the only column.
    id_column : str, optional
        A column of unique ids; default the 1-based line or row number.
    fmt : {"txt", "csv", "tsv", "jsonl", "parquet"}, optional
        Overrides the guess from the file suffix.
    """
    path = Path(path)
    if not path.is_file():
        raise EmbspaceError(f"{path}: no such file")
    fmt = detect_format(path, fmt)
    if fmt == "parquet":
        rows = _parquet_columns(path)
    else:
        text = _decode(path)
        if fmt == "txt":
            if column or id_column:
                raise EmbspaceError(
                    f"{path} is a plain text file (one text per line); --column and --id-column "
                    "apply to CSV/TSV/JSONL/Parquet"
                )
            rows = {"text": text.splitlines()}
        elif fmt == "jsonl":
            rows = _jsonl_columns(path, text)
        else:
            rows = _csv_columns(path, text, "\t" if fmt == "tsv" else ",")
    return _table(path, fmt, rows, column, id_column)


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise EmbspaceError(
            f"{path}: line {line} is not UTF-8 text (byte {raw[exc.start]:#04x}); "
            "convert the file to UTF-8, e.g. `iconv -f latin1 -t utf-8`"
        ) from None


def _csv_columns(path: Path, text: str, delimiter: str) -> dict[str, list]:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise EmbspaceError(f"{path} is empty; expected a header row and one text per row") from None
    except csv.Error as exc:
        raise EmbspaceError(f"{path}: not valid CSV ({exc})") from None
    columns: dict[str, list] = {name: [] for name in header}
    try:
        for lineno, row in enumerate(reader, 2):
            if not row:
                continue
            if len(row) != len(header):
                raise EmbspaceError(f"{path}: row {lineno} has {len(row)} fields but the header has {len(header)}")
            for name, value in zip(header, row):
                columns[name].append(value)
    except csv.Error as exc:
        raise EmbspaceError(f"{path}: not valid CSV ({exc})") from None
    return columns


def _jsonl_columns(path: Path, text: str) -> dict[str, list]:
    records = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EmbspaceError(f"{path}: line {lineno} is not JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise EmbspaceError(f"{path}: line {lineno} is not a JSON object")
        records.append(record)
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(record))
    return {name: [r.get(name) for r in records] for name in names}


def _parquet_columns(path: Path) -> dict[str, list]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path).to_pydict()
    except (pa.ArrowException, OSError) as exc:
        raise EmbspaceError(f"{path}: not a readable Parquet file ({str(exc).splitlines()[0]})") from None


def _table(path: Path, fmt: str, rows: dict[str, list], column: str | None, id_column: str | None) -> TextTable:
    if not rows or not any(len(v) for v in rows.values()):
        raise EmbspaceError(f"{path} is empty; expected at least one text")
    column = column or ("text" if "text" in rows or len(rows) != 1 else next(iter(rows)))
    for name, flag in ((column, "--column"), (id_column, "--id-column")):
        if name is not None and name not in rows:
            raise EmbspaceError(
                f"{path} has no column {name!r} ({flag}); its columns are " + ", ".join(repr(c) for c in rows)
            )
    values = rows[column]
    keep = [i for i, v in enumerate(values) if v is not None and str(v).strip()]
    if not keep:
        raise EmbspaceError(f"{path}: every text in column {column!r} is empty")
    if id_column:
        ids = [str(rows[id_column][i]) for i in keep]
        _check_unique(path, id_column, ids)
    else:
        ids = [str(i + 1) for i in keep]  # the line (txt) or data row (tables), 1-based
    meta = {name: [col[i] for i in keep] for name, col in rows.items() if name not in (column, id_column, "id")}
    texts = [str(values[i]) for i in keep]
    source = {
        "file": path.name,
        "format": fmt,
        "column": column,
        "id_column": id_column,
        "rows": len(values),
        "bytes": path.stat().st_size,
        "sha256": sha256_file(path),
    }
    return TextTable(ids, texts, meta, len(values) - len(keep), source)


def _check_unique(path: Path, id_column: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for i, item in enumerate(ids):
        if not item:
            raise EmbspaceError(f"{path}: id column {id_column!r} is empty at kept row {i + 1}; ids must be non-empty")
        if item in seen:
            raise EmbspaceError(
                f"{path}: id {item!r} appears twice in column {id_column!r}; ids must be unique "
                "(leave out --id-column to number the rows)"
            )
        seen.add(item)
