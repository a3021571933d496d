"""What contrastive tuning learns from: id pairs (a file or a list) or labels (a meta column, a file or a list),
checked against a space and split into training and held-out parts (seeded).
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EmbspaceError, FormatError
from ..space import Space

SHOWN_UNKNOWN = 5  # unknown ids named in a message or a report


@dataclass
class Unknown:
    """Ids a pair or label file named that the space does not hold: how many rows were dropped, a few of them."""

    rows: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, item: str) -> None:
        if item not in self.examples and len(self.examples) < SHOWN_UNKNOWN:
            self.examples.append(item)

    def to_dict(self) -> dict[str, Any]:
        return {"rows_dropped": self.rows, "examples": list(self.examples)}

    def describe(self, what: str) -> str:
        shown = ", ".join(repr(e[:60]) for e in self.examples)
        return f"{self.rows:,} {what} name ids the space does not hold (dropped), e.g. {shown}"


# ---- reading --------------------------------------------------------------------------------------------------
def _rows(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, fields) of a TSV or CSV file: tab-separated when the first data line has a tab, else CSV.

    Blank lines and lines starting with ``#`` are skipped.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path} is not UTF-8 text (byte {exc.start}); give a TSV or CSV file") from None
    lines = [(i + 1, line) for i, line in enumerate(text.splitlines()) if line.strip() and not line.startswith("#")]
    if not lines:
        raise FormatError(f"{path} holds no rows")
    if "\t" in lines[0][1]:
        return [(no, [f.strip() for f in line.split("\t")]) for no, line in lines]
    parsed = csv.reader([line for _, line in lines])
    return [(no, [f.strip() for f in fields]) for (no, _), fields in zip(lines, parsed)]


def _two_fields(path: Path, what: str) -> list[tuple[int, str, str]]:
    out = []
    for no, fields in _rows(path):
        if len(fields) < 2 or not fields[0] or not fields[1]:
            raise FormatError(
                f"{path}, line {no}: {len(fields)} field(s) ({fields[0][:40]!r}...); expected {what} "
                "separated by a tab or a comma"
            )
        out.append((no, fields[0], fields[1]))
    return out


def read_pairs(source: Any, space: Space) -> tuple[np.ndarray, Unknown]:
    """Pairs of rows of `space`, shape (p, 2) int64, from a file (id<TAB>id or id,id per line, an optional
    header) or a sequence of (id, id). Pairs naming an unknown id are counted and dropped; a pair of one id with
    itself and repeats (in either order) are dropped. All unknown, or nothing left, is a one-line error.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise EmbspaceError(f"{path}: no such pair file")
        rows = [(a, b) for _, a, b in _two_fields(path, "two ids")]
        where = str(path)
        header = None
        if rows and rows[0][0] not in space and rows[0][1] not in space:  # a header line (neither id known)
            header, rows = rows[0], rows[1:]
            if not rows:
                raise EmbspaceError(
                    f"{where}: neither id of its only line ({header[0]!r}, {header[1]!r}) is in the space"
                )
    else:
        header = None
        rows = []
        for i, pair in enumerate(source):
            if isinstance(pair, str) or not isinstance(pair, Sequence) or len(pair) != 2:
                raise EmbspaceError(f"pair {i} is {pair!r}; give pairs as (id, id)")
            rows.append((str(pair[0]), str(pair[1])))
        where = "the list of pairs"
    if not rows:
        raise EmbspaceError(f"{where} holds no pairs")
    unknown = Unknown()
    seen: set[tuple[int, int]] = set()
    out = []
    lookup = space._lookup
    for a, b in rows:
        ra, rb = lookup.get(a), lookup.get(b)
        if ra is None or rb is None:
            unknown.rows += 1
            unknown.add(a if ra is None else b)
            continue
        key = (min(ra, rb), max(ra, rb))
        if ra == rb or key in seen:
            continue
        seen.add(key)
        out.append((ra, rb))
    if not out and unknown.rows == len(rows):
        examples = ([header[0]] if header else []) + unknown.examples  # no header after all: a line like the rest
        raise EmbspaceError(
            f"none of the {len(rows) + (header is not None):,} pairs in {where} has both ids in the space, e.g. "
            + ", ".join(repr(e[:60]) for e in examples[:SHOWN_UNKNOWN])
            + f"; the space's ids look like {', '.join(repr(i[:40]) for i in space.ids[:3])}"
        )
    if len(out) < 2:
        raise EmbspaceError(f"{where} leaves {len(out)} distinct pair(s) of two different ids; give at least 2")
    return np.array(out, dtype=np.int64).reshape(-1, 2), unknown


def read_labels(source: Any, space: Space) -> tuple[np.ndarray, str, Unknown]:
    """One label per row of `space` ("" where it has none), what they came from, and the unknown ids.

    `source` is a meta column name, a CSV/TSV file of id,label (an optional header), a mapping id -> label, or
    a sequence of one label per row. None, "" and NaN are no label.
    """
    unknown = Unknown()
    if isinstance(source, str) and source in space.meta:
        return _as_labels(space.meta[source]), f"column {source}", unknown
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise EmbspaceError(
                f"{source!r} is neither a column of the space nor a file; its columns are "
                + (", ".join(repr(c) for c in space.meta) or "none")
            )
        source = {}
        rows = _two_fields(path, "an id and a label")
        if rows[0][1] not in space and rows[0][0] not in space and len(rows) > 1:
            rows = rows[1:]  # a header line (id, label)
        for _, item, label in rows:
            source[item] = label
        where = str(path)
    else:
        where = "the labels"
    if isinstance(source, Mapping):
        labels = np.full(space.n, "", dtype=object)
        lookup = space._lookup
        for item, label in source.items():
            row = lookup.get(str(item))
            if row is None:
                unknown.rows += 1
                unknown.add(str(item))
            else:
                labels[row] = _label(label)
        if unknown.rows == len(source):
            raise EmbspaceError(
                f"none of the {len(source):,} ids of {where} is in the space, e.g. "
                + ", ".join(repr(e[:60]) for e in unknown.examples)
            )
        return labels, where, unknown
    values = list(source)
    if len(values) != space.n:
        raise EmbspaceError(f"{len(values)} labels for {space.n} rows; give one label per row, a column or a file")
    return _as_labels(values), "the labels", unknown


def _label(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _as_labels(values: Sequence) -> np.ndarray:
    return np.array([_label(v) for v in values], dtype=object)


def check_classes(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(class names, integer class of each row, -1 where unlabelled); a one-line error naming the classes with
    fewer than 2 items, or when fewer than 2 classes carry labels."""
    has = labels != ""
    if not has.any():
        raise EmbspaceError("no row carries a label; contrastive tuning needs labelled rows")
    names, codes, counts = np.unique(labels[has], return_inverse=True, return_counts=True)
    small = names[counts < 2]
    if len(small):
        shown = ", ".join(repr(str(s)[:40]) for s in small[:8]) + (
            f" and {len(small) - 8:,} more" if len(small) > 8 else ""
        )
        raise EmbspaceError(
            f"{len(small):,} label class(es) have fewer than 2 items, so they give no positive pair: {shown}; "
            "drop or merge them"
        )
    if len(names) < 2:
        raise EmbspaceError(f"every labelled row has the label {str(names[0])!r}; contrastive tuning needs 2 classes")
    out = np.full(len(labels), -1, dtype=np.int64)
    out[has] = codes
    return names, out


# ---- splitting ------------------------------------------------------------------------------------------------
def split_pairs(pairs: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training pairs, held-out pairs): a seeded random `fraction` held out, at least 2 pairs left to train."""
    order = np.random.default_rng(seed).permutation(len(pairs))
    held = min(int(round(fraction * len(pairs))), len(pairs) - 2)
    if fraction > 0 and held < 1:
        raise EmbspaceError(f"{len(pairs)} pairs are too few to hold any out at --test-fraction {fraction}")
    return pairs[np.sort(order[held:])], pairs[np.sort(order[:held])]


def split_items(classes: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, held-out rows) of the labelled rows, stratified by class and seeded: each class keeps at
    least 2 rows for training (a class of 2 is held out nowhere)."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in range(int(classes.max()) + 1):
        rows = rng.permutation(np.flatnonzero(classes == c))
        held = min(int(round(fraction * len(rows))), len(rows) - 2)
        test.append(rows[: max(held, 0)])
        train.append(rows[max(held, 0) :])
    train_rows, test_rows = np.sort(np.concatenate(train)), np.sort(np.concatenate(test))
    if fraction > 0 and not len(test_rows):
        raise EmbspaceError(f"no labelled rows can be held out at --test-fraction {fraction}: each class has 2")
    return train_rows, test_rows
