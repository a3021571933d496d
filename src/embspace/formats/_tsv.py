"""The TensorBoard Embedding Projector pair: ``vecs.tsv`` (numbers only) + ``meta.tsv`` (labels).

meta.tsv with one column has no header and that column is the id; with two or more columns the
first line is a header and the first column is the id (the other columns become ``Space.meta``).

The Projector splits meta.tsv on ``\\n`` and ``\\t`` and unescapes nothing (tensorboard's
``vz_projector/data-provider.ts``, ``parseMetadata``), so a cell cannot hold either: on export
tabs and line breaks inside a cell are written as spaces, and counted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from .._spelling import spell
from ..errors import FormatError
from ._arrays import check_id_lines
from ._io import Decoder, check_ids_free_of, existing_file, read_lines

_CELL_BREAKERS = "\t\n\r"
_BREAKS = re.compile(r"\r\n|[\t\n\r]")


def tsv_paths(path: Path) -> tuple[Path, Path]:
    """(vecs.tsv, meta.tsv) for `path`: a folder, or the vecs file with its meta file beside it.

    ``vecs.tsv`` goes with ``meta.tsv``; ``glove_vecs.tsv`` with ``glove_meta.tsv``;
    any other ``x.tsv`` with ``x_meta.tsv``.
    """
    if path.is_dir() or not path.suffix:
        return path / "vecs.tsv", path / "meta.tsv"
    stem = path.stem
    meta = stem[:-4] + "meta" if stem.endswith("vecs") else stem + "_meta"
    return path, path.with_name(meta + ".tsv")


def find_meta_file(vecs: Path, meta: Path | None, default: Path) -> Path:
    if meta is not None:
        return existing_file(Path(meta), "meta file")
    candidates = [default] + ([vecs.with_name("meta.tsv")] if default.name != "meta.tsv" else [])
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FormatError(
        f"{vecs}: no metadata file beside it (looked for {' and '.join(c.name for c in candidates)}); "
        f"pass {spell('meta', metavar='PATH')}, the meta.tsv that labels the rows"
    )


def read_meta_tsv(path: Path, decode: Decoder | None = None) -> tuple[list[str], dict[str, list[str]]]:
    """Ids and extra columns (as strings) from a projector metadata file."""
    lines = read_lines(path, decode)
    if not lines:
        raise FormatError(f"{path}: the file is empty; expected one id per line")
    columns = lines[0].count("\t") + 1
    if columns == 1:
        check_id_lines(lines, path, first_line=1)
        return lines, {}
    header = lines[0].split("\t")
    _check_header(header, path)
    rows = [line.split("\t") for line in lines[1:]]
    for k, row in enumerate(rows):
        if len(row) != columns:
            raise FormatError(f"{path}, line {k + 2}: {len(row)} columns; the header (line 1) has {columns}")
    ids = [row[0] for row in rows]
    check_id_lines(ids, path, first_line=2)
    meta = {name: [row[c] for row in rows] for c, name in enumerate(header) if c > 0}
    return ids, meta


def _check_header(header: list[str], path: Path) -> None:
    for c, name in enumerate(header):
        if not name and c > 0:
            raise FormatError(f"{path}, line 1: column {c + 1} of the header has no name")
        if name == "id" and c > 0:
            raise FormatError(f"{path}, line 1: column {c + 1} is named 'id', which is reserved for the first column")
        if name in header[:c]:
            raise FormatError(f"{path}, line 1: two columns are named {name!r}; names must be unique")


def check_meta_names(meta: dict[str, list], path: Path) -> None:
    """Refuse meta column names the metadata file cannot hold (empty, or with a tab or line break)."""
    for name in meta:
        if not name or any(c in name for c in _CELL_BREAKERS):
            raise FormatError(
                f"cannot write {path}: meta column name {name!r} is empty or holds a tab or "
                f"line break; rename the column"
            )


def meta_tsv_blocks(
    id_blocks: Iterable[tuple[int, list[str]]], meta: dict[str, list], path: Path, flattened: dict[str, int]
) -> Iterator[bytes]:
    """The metadata file (just the ids, or a header row and the ids followed by the meta columns) a block
    of rows at a time, from blocks of ``(first row, ids)``; counts per column in `flattened` the cells whose
    tabs and line breaks became spaces. Call `check_meta_names` first."""
    if meta:
        yield ("\t".join(["id", *meta]) + "\n").encode("utf-8")
    for start, ids in id_blocks:
        check_ids_free_of(ids, _CELL_BREAKERS, "tsv", path, start)
        if not meta:
            yield ("\n".join(ids) + "\n").encode("utf-8")
            continue
        cells = []
        for name, values in meta.items():
            column = ["" if v is None else str(v) for v in values[start : start + len(ids)]]
            broken = [row for row, text in enumerate(column) if _BREAKS.search(text)]
            for row in broken:
                column[row] = _BREAKS.sub(" ", column[row])
            if broken:
                flattened[name] = flattened.get(name, 0) + len(broken)
            cells.append(column)
        yield ("\n".join(["\t".join(row) for row in zip(ids, *cells)]) + "\n").encode("utf-8")


def flattened_note(path: Path, flattened: dict[str, int]) -> str:
    """The note that says which cells lost their tabs and line breaks."""
    counts = ", ".join(f"{n:,} in {name!r}" for name, n in flattened.items())
    total = sum(flattened.values())
    return (
        f"{path.name}: {total:,} cell{'s' if total != 1 else ''} ({counts}) held tabs or line breaks, which the "
        f"Embedding Projector reads as column and row breaks; they were written as spaces "
        f"({spell('format', 'parquet')} keeps them)"
    )
