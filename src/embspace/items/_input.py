"""Reading interactions (user, item, rating, time) from CSV, TSV, JSONL, Parquet, MovieLens and recbole files."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .._files import sha256_file
from ..errors import EmbspaceError

FORMATS = ("csv", "tsv", "jsonl", "parquet", "data")
_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".data": "data",
    ".dat": "data",
    ".inter": "data",
    ".txt": "data",
    ".item": "data",
    ".user": "data",
}
DUPLICATES = ("sum", "latest")
# Column names tried when --user / --item / --rating / --time are not given, in this order.
_GUESSES = {
    "user": ("user", "user_id", "userid", "userId", "uid", "customer", "customer_id"),
    "item": ("item", "item_id", "itemid", "itemId", "movie", "movie_id", "movieId", "product", "product_id"),
    "rating": ("rating", "score", "count", "weight", "value"),
    "time": ("time", "timestamp", "ts", "date", "datetime"),
}
_HEADERLESS = ("user", "item", "rating", "time")  # MovieLens u.data / ratings.dat column order


@dataclass
class Interactions:
    """One row per (user, item) pair, in time order within each user.

    Attributes
    ----------
    users, items : ndarray of str, shape (m,)
    ratings : ndarray of float32, shape (m,)
        The rating column's value (summed or the latest over duplicate rows); 1.0 without a rating column.
    times : ndarray of float64, shape (m,)
        Unix seconds; the row's position in the file without a time column.
    notes : list of str
        What was done to the input (rows dropped, duplicates merged), one line each.
    source : dict
        What was read, for a manifest: file, format, columns, rows, bytes, sha256.
    """

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray
    times: np.ndarray
    notes: list[str] = field(default_factory=list)
    source: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.users)


def detect_format(path: str | os.PathLike, fmt: str | None = None) -> str:
    if fmt:
        if fmt not in FORMATS:
            raise EmbspaceError(f"unknown interactions format {fmt!r}; choose one of {', '.join(FORMATS)}")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIXES and Path(path).name not in ("u.data",):
        raise EmbspaceError(
            f"{path}: cannot tell the format from the suffix {suffix or '(none)'!r}; "
            f"give --format ({', '.join(FORMATS)})"
        )
    return _SUFFIXES.get(suffix, "data")


def read_table(path: str | os.PathLike, fmt: str | None = None) -> dict[str, np.ndarray]:
    """The columns of a table file as arrays of objects/numbers, by name (recbole's ``name:type`` headers
    lose their ``:type``; a headerless whitespace file gets user, item, rating, time)."""
    path = Path(path)
    if not path.is_file():
        raise EmbspaceError(f"{path}: no such file")
    fmt = detect_format(path, fmt)
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path)
        elif fmt == "jsonl":
            import pyarrow.json as pj

            table = pj.read_json(path)
        elif fmt in ("csv", "tsv"):
            import pyarrow.csv as pc

            table = pc.read_csv(
                path,
                parse_options=pc.ParseOptions(delimiter="," if fmt == "csv" else "\t"),
                convert_options=pc.ConvertOptions(strings_can_be_null=True),
            )
        else:
            return _read_whitespace(path)
    except EmbspaceError:
        raise
    except Exception as exc:  # pyarrow's parse errors: one line
        detail = " ".join(str(exc).split())[:200]
        raise EmbspaceError(f"{path}: cannot read it as {fmt}: {detail}") from None
    return {_plain_name(name): table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}


def _plain_name(name: str) -> str:
    return re.sub(r":(token|token_seq|float|float_seq)$", "", str(name))


def _read_whitespace(path: Path) -> dict[str, np.ndarray]:
    """MovieLens ``u.data`` (tabs, no header), ``ratings.dat`` (``::``) and recbole's ``.inter`` (header)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = [line.rstrip("\r\n") for line in f if line.strip()]
    if not lines:
        raise EmbspaceError(f"{path} is empty; expected one interaction per line")
    split = _splitter(lines[0])
    first = split(lines[0])
    if len(first) == len(_ML_ITEM) and _is_number(first[0]) and "|" in lines[0]:  # MovieLens u.item
        return _movielens_items([split(line) for line in lines], path)
    if all(_is_number(v) for v in first):
        names = list(_HEADERLESS[: len(first)]) + [f"column{i + 1}" for i in range(len(_HEADERLESS), len(first))]
        body = lines
    else:
        names = [_plain_name(v) for v in first]
        body = lines[1:]
    rows = [split(line) for line in body]
    bad = next((i for i, r in enumerate(rows) if len(r) != len(names)), None)
    if bad is not None:
        line = bad + 1 + (len(lines) - len(body))
        raise EmbspaceError(f"{path}, line {line}: {len(rows[bad])} fields, expected {len(names)} ({', '.join(names)})")
    columns = list(zip(*rows)) if rows else [() for _ in names]
    return {name: np.array(col, dtype=object) for name, col in zip(names, columns)}


def _splitter(line: str):
    for sep in ("::", "\t", "|"):
        if sep in line:
            return lambda s, sep=sep: s.split(sep)
    return str.split


_GENRES = (
    "unknown Action Adventure Animation Children's Comedy Crime Documentary Drama Fantasy Film-Noir Horror "
    "Musical Mystery Romance Sci-Fi Thriller War Western"
).split()
_ML_ITEM = ("item", "title", "release_date", "video_release_date", "url", *_GENRES)


def _movielens_items(rows: list[list[str]], path: Path) -> dict[str, np.ndarray]:
    """MovieLens-100k ``u.item``: id|title|date|video date|url|19 genre flags -> item, title, genres."""
    bad = next((i for i, r in enumerate(rows) if len(r) != len(_ML_ITEM)), None)
    if bad is not None:
        raise EmbspaceError(f"{path}, line {bad + 1}: {len(rows[bad])} fields, expected {len(_ML_ITEM)} (u.item)")
    genres = ["|".join(g for g, flag in zip(_GENRES, r[5:]) if flag.strip() == "1") for r in rows]
    return {
        "item": np.array([r[0] for r in rows], dtype=object),
        "title": np.array([r[1] for r in rows], dtype=object),
        "release_date": np.array([r[2] for r in rows], dtype=object),
        "genres": np.array(genres, dtype=object),
    }


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _pick(columns: dict, role: str, given: str | None, path, required: bool) -> str | None:
    if given is not None:
        if given not in columns:
            from ..errors import close_matches

            close = close_matches(given, list(columns))
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise EmbspaceError(f"{path} has no column {given!r} for --{role}{hint} (columns: {', '.join(columns)})")
        return given
    for name in _GUESSES[role]:
        for col in columns:
            if col.lower() == name.lower():
                return col
    if required:
        raise EmbspaceError(f"{path}: which column holds the {role}s? give --{role} (columns: {', '.join(columns)})")
    return None


def read_interactions(
    path: str | os.PathLike,
    *,
    user: str | None = None,
    item: str | None = None,
    rating: str | None = None,
    time: str | None = None,
    duplicates: str = "sum",
    fmt: str | None = None,
) -> Interactions:
    """Read the interactions of `path`.

    Parameters
    ----------
    path : str or path
        ``.csv``, ``.tsv``, ``.jsonl``, ``.parquet``; MovieLens ``u.data`` / ``ratings.dat`` and recbole
        ``.inter`` files (whitespace, ``::`` or tabs; a header line or none).
    user, item : str, optional
        Column names; guessed from common names (user_id, item_id, movieId...) when not given.
    rating : str, optional
        A numeric column (a rating, a play count); without one every interaction counts 1.
    time : str, optional
        Unix seconds or ISO dates (``2024-05-01``, ``2024-05-01T12:00:00``); orders each user's history.
        Without one, the order of the file.
    duplicates : {"sum", "latest"}
        Several rows for one (user, item): add their ratings, or keep the latest row.

    Rows with no user or no item are dropped and counted in ``notes``.
    """
    if duplicates not in DUPLICATES:
        raise EmbspaceError(f"unknown duplicates policy {duplicates!r}; choose 'sum' or 'latest'")
    path = Path(path)
    columns = read_table(path, fmt)
    n = len(next(iter(columns.values()))) if columns else 0
    if n == 0:
        raise EmbspaceError(f"{path} holds no interactions")
    ucol = _pick(columns, "user", user, path, True)
    icol = _pick(columns, "item", item, path, True)
    rcol = _pick(columns, "rating", rating, path, False)
    tcol = _pick(columns, "time", time, path, False)
    users, missing_u = _ids(columns[ucol])
    items, missing_i = _ids(columns[icol])
    ratings = _ratings(columns[rcol], rcol, path) if rcol else np.ones(n, dtype=np.float32)
    times = _times(columns[tcol], tcol, path) if tcol else np.arange(n, dtype=np.float64)
    notes = []
    keep = ~(missing_u | missing_i)
    if rcol:
        no_rating = np.isnan(ratings)
        if no_rating.any():
            notes.append(f"{int(no_rating.sum()):,} rows with no {rcol} dropped")
        keep &= ~no_rating
    if not keep.all():
        parts = [f"{int(m.sum()):,} with no {c}" for m, c in ((missing_u, ucol), (missing_i, icol)) if m.any()]
        if parts:
            notes.insert(0, f"{int((missing_u | missing_i).sum()):,} of {n:,} rows dropped ({', '.join(parts)})")
        users, items, ratings, times = users[keep], items[keep], ratings[keep], times[keep]
    if len(users) == 0:
        raise EmbspaceError(f"{path}: no row has both a {ucol} and an {icol}")
    data = Interactions(users, items, ratings, times, notes)
    _merge_duplicates(data, duplicates)
    data.source = {
        "file": path.name,
        "format": detect_format(path, fmt),
        "columns": {"user": ucol, "item": icol, "rating": rcol, "time": tcol},
        "rows": n,
        "bytes": path.stat().st_size,
        "sha256": sha256_file(path),
    }
    return data


def _ids(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ids as str, mask of missing values); floats that are whole numbers lose their ``.0``."""
    out = np.empty(len(values), dtype=object)
    missing = np.zeros(len(values), dtype=bool)
    for j, v in enumerate(values):
        if v is None or (isinstance(v, float) and v != v):
            missing[j] = True
            out[j] = ""
            continue
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            v = int(v)
        s = str(v).strip()
        missing[j] = not s
        out[j] = s
    return out.astype(str), missing


def _ratings(values: np.ndarray, name: str, path) -> np.ndarray:
    if values.dtype.kind in "fiub":
        out = values.astype(np.float32)
    else:
        out = np.empty(len(values), dtype=np.float32)
        for j, v in enumerate(values):
            if v is None or (isinstance(v, str) and not v.strip()):
                out[j] = np.nan
                continue
            try:
                out[j] = float(v)
            except (TypeError, ValueError):
                raise EmbspaceError(
                    f"{path}: the rating column {name!r} is not numeric (row {j + 1}: {str(v)[:40]!r}); "
                    "give a numeric --rating column, or none (every interaction counts 1)"
                ) from None
    if np.isinf(out).any():
        raise EmbspaceError(f"{path}: the rating column {name!r} holds infinite values")
    return out


def _times(values: np.ndarray, name: str, path) -> np.ndarray:
    """Unix seconds (numbers) or ISO dates (with or without a time and a UTC offset; none = UTC), as float64
    seconds."""
    if values.dtype.kind in "fiu":
        out = values.astype(np.float64)
        if np.isnan(out).any():
            raise EmbspaceError(f"{path}: the time column {name!r} has empty values; fill them or leave out --time")
        return out
    if values.dtype.kind == "M":
        return values.astype("datetime64[ms]").astype(np.int64) / 1000.0
    text = [None if v is None else str(v).strip() for v in values]
    if all(t is not None and _is_number(t) for t in text):
        return np.array([float(t) for t in text], dtype=np.float64)
    out = np.empty(len(text), dtype=np.float64)
    for j, t in enumerate(text):
        try:
            if not t:
                raise ValueError
            stamp = datetime.fromisoformat(t)
        except (ValueError, TypeError):
            raise EmbspaceError(
                f"{path}: the time column {name!r} holds {str(t)[:40]!r} (row {j + 1}), which is neither unix "
                "seconds nor an ISO date such as 2024-05-01 or 2024-05-01T12:00:00"
            ) from None
        out[j] = (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()  # naive = UTC
    return out


def _merge_duplicates(data: Interactions, duplicates: str) -> None:
    """One row per (user, item), in time order within each user (stable: file order breaks ties)."""
    order = np.lexsort((data.times, data.users))  # by user, then time; stable
    users, items, ratings, times = data.users[order], data.items[order], data.ratings[order], data.times[order]
    # integer codes: joining the texts with a separator is not safe (numpy strips trailing NULs, so user "13"
    # with item "614" and user "136" with item "14" made one key)
    user_codes = np.unique(users, return_inverse=True)[1].astype(np.int64)
    item_values, item_codes = np.unique(items, return_inverse=True)
    pair_keys = user_codes * len(item_values) + item_codes.astype(np.int64)
    uniq, first, inverse = np.unique(pair_keys, return_index=True, return_inverse=True)
    if len(uniq) < len(users):
        dropped = len(users) - len(uniq)
        last = np.zeros(len(uniq), dtype=np.int64)
        np.maximum.at(last, inverse, np.arange(len(users)))  # the latest row of each pair
        if duplicates == "sum":
            merged = np.zeros(len(uniq), dtype=np.float64)
            np.add.at(merged, inverse, ratings)
            ratings_out = merged.astype(np.float32)
        else:
            ratings_out = ratings[last]
        keep = np.sort(last)
        where = np.searchsorted(np.sort(last), last)
        ratings_sorted = np.empty(len(uniq), dtype=np.float32)
        ratings_sorted[where] = ratings_out
        users, items, times, ratings = users[keep], items[keep], times[keep], ratings_sorted
        data.notes.append(
            f"{dropped:,} duplicate (user, item) rows merged: "
            + ("ratings summed" if duplicates == "sum" else "the latest row kept")
            + ", at the latest time"
        )
    data.users, data.items, data.ratings, data.times = users, items, ratings, times
