"""Array formats: a NumPy ``.npy`` matrix with an ids text file, and Parquet with a fixed-size-list vector column."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .._files import read_npy_header
from .._rowblocks import vector_blocks
from .._spelling import spell
from ..errors import FormatError
from ._io import Decoder, existing_file, read_lines


# ---- NumPy + ids --------------------------------------------------------------------------------
def npy_paths(path: Path) -> tuple[Path, Path]:
    """(vectors.npy, ids file) that `write` produces for `path`: ``x.npy`` + ``x.ids.txt``, or a folder."""
    if path.suffix == ".npy":
        return path, path.with_name(path.stem + ".ids.txt")
    return path / "vectors.npy", path / "ids.txt"


def find_ids_file(npy: Path, ids: Path | None) -> Path:
    if ids is not None:
        return existing_file(Path(ids), "ids file")
    candidates = [npy.with_name(npy.stem + ".ids.txt"), npy.with_name("ids.txt")]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FormatError(
        f"{npy}: no ids file beside it (looked for {' and '.join(c.name for c in candidates)}); "
        f"pass {spell('ids', metavar='PATH')}, a UTF-8 text file with one id per line"
    )


def read_npy(path: Path, limit: int | None) -> tuple[np.ndarray, int]:
    """The first `limit` rows of the matrix in `path` (a copy in memory) and its row count.

    The header is checked first, so no pickle or object array is ever loaded.
    """
    array, total = open_npy(path)
    return np.array(array[:limit]), total  # a copy: the space must not change if the file does


def open_npy(path: Path) -> tuple[np.ndarray, int]:
    """The matrix in `path`, memory-mapped read-only, and its row count; the header is checked first."""
    try:
        shape, _, dtype = read_npy_header(path)
    except ValueError as exc:
        raise FormatError(f"{path}: not a .npy array ({exc}); pickles and .npz archives are never loaded") from None
    if dtype.hasobject or dtype.kind not in "fiu":
        raise FormatError(
            f"{path}: holds {dtype} values; expected numbers of shape (n, dim) "
            f"(object arrays and pickles are never loaded)"
        )
    if len(shape) != 2 or 0 in shape:
        raise FormatError(f"{path}: holds an array of shape {shape}; expected shape (n, dim) with n, dim >= 1")
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        raise FormatError(f"{path}: cannot be read ({exc})") from None
    if len(array) != shape[0]:
        raise FormatError(f"{path}: truncated; the header says {shape[0]} rows")
    return array, shape[0]


def float32_rows(block: np.ndarray, path: Path, first_row: int) -> np.ndarray:
    """A block of a ``.npy``'s rows (from `first_row`) as float32, refused as `Space` would refuse the whole:
    values too large for float32, or a row with NaN or Inf."""
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(block, dtype=np.float32)
    finite = np.isfinite(out).all(axis=1)
    if finite.all():
        return out
    if block.dtype.kind == "f" and block.dtype.itemsize > 4 and np.isfinite(block).all():
        raise FormatError(f"{path}: vectors hold values too large for float32 (they would become Inf)")
    row = first_row + int(np.flatnonzero(~finite)[0])
    raise FormatError(f"{path}: row {row} holds NaN or Inf; clean the vectors before building a Space")


def read_ids_file(path: Path, decode: Decoder | None = None) -> list[str]:
    """One id per line (UTF-8, ``\\n`` or ``\\r\\n``); empty and duplicate ids are refused with their line."""
    ids = read_lines(path, decode)
    check_id_lines(ids, path, first_line=1)
    return ids


def check_id_lines(ids: list[str], path: Path, first_line: int) -> None:
    if "" in ids:
        raise FormatError(f"{path}, line {ids.index('') + first_line}: empty id; every row needs a non-empty id")
    if len(set(ids)) != len(ids):
        seen: dict[str, int] = {}
        for row, item in enumerate(ids):
            if item in seen:
                raise FormatError(
                    f"{path}, line {row + first_line}: duplicate id {item!r} "
                    f"(first on line {seen[item] + first_line}); ids must be unique"
                )
            seen[item] = row


def write_npy(fh, vectors: np.ndarray) -> None:
    """The header, then the rows a block (16 MiB) at a time; a memory map's pages are let go after each block."""
    write_npy_blocks(fh, vectors.shape[0], vectors.shape[1], (block for _, block in vector_blocks(vectors)))


def write_npy_blocks(fh, n: int, dim: int, blocks: Iterable[np.ndarray]) -> None:
    """The header of an (n, dim) float32 array, then `blocks` of its rows as they come."""
    np.lib.format.write_array_header_1_0(fh, {"descr": "<f4", "fortran_order": False, "shape": (n, dim)})
    for block in blocks:
        fh.write(memoryview(np.ascontiguousarray(block, dtype="<f4")).cast("B"))  # no bytes copy of the block


# ---- Parquet ------------------------------------------------------------------------------------
def read_parquet(path: Path, limit: int | None) -> tuple[list[str], np.ndarray, dict[str, list]]:
    try:
        parquet = pq.ParquetFile(path)
        if limit is None:
            table = parquet.read()
        else:
            batches, rows = [], 0
            for batch in parquet.iter_batches(batch_size=min(limit, 1 << 16)):
                batches.append(batch)
                rows += batch.num_rows
                if rows >= limit:
                    break
            table = pa.Table.from_batches(batches, schema=parquet.schema_arrow).slice(0, limit)
    except (pa.ArrowException, OSError) as exc:
        raise FormatError(f"{path}: not a readable Parquet file ({exc})") from None
    names = table.column_names
    if "id" not in names or "vector" not in names:
        raise FormatError(
            f"{path}: has columns {names}; expected an 'id' column (string) and a "
            f"'vector' column (fixed_size_list<float32>[dim])"
        )
    if table.num_rows == 0:
        raise FormatError(f"{path}: holds no rows")
    ids = _id_column(table.column("id"), path)
    vectors = _vector_column(table.column("vector"), path)
    meta = {name: table.column(name).to_pylist() for name in names if name not in ("id", "vector")}
    return ids, vectors, meta


def parquet_blocks(path: Path, limit: int | None, rows: int = 1 << 16):
    """(first row, ids, vectors (b, dim) float32, meta {column: list}) of a Parquet file, `rows` at a time, with
    the checks of `read_parquet` (and of a Space: non-empty ids, finite vectors) on each block, so a file larger
    than memory can be read. Uniqueness of the ids is left to the caller."""
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise FormatError(f"{path}: not a readable Parquet file ({exc})") from None
    names = parquet.schema_arrow.names
    if "id" not in names or "vector" not in names:
        raise FormatError(
            f"{path}: has columns {names}; expected an 'id' column (string) and a "
            f"'vector' column (fixed_size_list<float32>[dim])"
        )
    total = parquet.metadata.num_rows if limit is None else min(limit, parquet.metadata.num_rows)
    if total == 0:
        raise FormatError(f"{path}: holds no rows")
    first, dim = 0, None
    try:
        batches = parquet.iter_batches(batch_size=rows)
        for batch in batches:
            table = pa.Table.from_batches([batch]).slice(0, total - first)
            if table.num_rows == 0:
                break
            ids = _id_column(table.column("id"), path, first)
            if "" in ids:
                raise FormatError(f"{path}: id at row {first + ids.index('')} is ''; ids must be non-empty strings")
            vectors = _vector_column(table.column("vector"), path, first, dim)
            dim = vectors.shape[1]
            meta = {name: table.column(name).to_pylist() for name in names if name not in ("id", "vector")}
            yield first, ids, float32_rows(vectors, path, first), meta
            first += table.num_rows
            if first >= total:
                break
    except (pa.ArrowException, OSError) as exc:
        raise FormatError(f"{path}: not a readable Parquet file ({exc})") from None


def _id_column(column: pa.ChunkedArray, path: Path, first_row: int = 0) -> list[str]:
    kind = column.type
    if not (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_integer(kind)
        or pa.types.is_dictionary(kind)
    ):
        raise FormatError(f"{path}: the 'id' column holds {kind}; expected strings")
    if column.null_count:
        row = first_row + pc.index(pc.is_null(column), True).as_py()
        raise FormatError(f"{path}, row {row}: the id is null; every row needs an id")
    return column.cast(pa.string()).to_pylist()


def _vector_column(column: pa.ChunkedArray, path: Path, first_row: int = 0, dim: int | None = None) -> np.ndarray:
    array = column.combine_chunks()
    kind = array.type
    if not (pa.types.is_fixed_size_list(kind) or pa.types.is_list(kind) or pa.types.is_large_list(kind)):
        raise FormatError(f"{path}: the 'vector' column holds {kind}; expected fixed_size_list<float32>[dim]")
    if not (pa.types.is_floating(kind.value_type) or pa.types.is_integer(kind.value_type)):
        raise FormatError(f"{path}: the 'vector' column holds lists of {kind.value_type}; expected float32")
    if array.null_count:
        row = first_row + pc.index(pc.is_null(array), True).as_py()
        raise FormatError(f"{path}, row {row}: the vector is null")
    if pa.types.is_fixed_size_list(kind):
        dim = kind.list_size
    else:
        lengths = pc.list_value_length(array).to_numpy(zero_copy_only=False)
        dim = int(lengths[0]) if dim is None else dim  # a later block: row 0's width, from the first block
        if (lengths != dim).any():
            row = int(np.flatnonzero(lengths != dim)[0])
            raise FormatError(f"{path}, row {first_row + row}: the vector has {lengths[row]} values; row 0 has {dim}")
    values = array.flatten()
    if values.null_count:
        row = first_row + pc.index(pc.is_null(values), True).as_py() // max(dim, 1)
        raise FormatError(f"{path}, row {row}: the vector holds a null value")
    if dim == 0:
        raise FormatError(f"{path}: the vectors have no values (dimension 0)")
    return np.array(values.to_numpy(zero_copy_only=False)).reshape(-1, dim)


def meta_arrays(meta: dict[str, list], path: Path) -> dict[str, pa.Array]:
    """The meta columns as Arrow arrays (one type per column, found from the whole column), checked before
    anything is written: a name that clashes with ``id`` or ``vector``, or values Parquet cannot hold, raise."""
    columns = {}
    for name, values in meta.items():
        if name in ("id", "vector"):
            raise FormatError(f"cannot write {path}: meta column {name!r} clashes with the {name!r} column; rename it")
        try:
            columns[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise FormatError(
                f"cannot write {path}: meta column {name!r} cannot be stored in Parquet ({exc})"
            ) from None
    return columns


def write_parquet(fh, dim: int, blocks: Iterable[tuple[int, list[str], np.ndarray]], meta: dict[str, pa.Array]) -> None:
    """Write columns ``id``, ``vector`` (fixed_size_list<float32>[dim]) and `meta` to the binary file `fh`,
    one row group per block of ``(first row, ids, vectors (b, dim))``, so memory holds a block of vectors."""
    fields = [pa.field("id", pa.string()), pa.field("vector", pa.list_(pa.float32(), dim))]
    schema = pa.schema(fields + [pa.field(name, column.type) for name, column in meta.items()])
    with pq.ParquetWriter(fh, schema) as writer:
        for start, ids, vectors in blocks:
            flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1))
            columns = [pa.array(ids, type=pa.string()), pa.FixedSizeListArray.from_arrays(flat, dim)]
            columns += [column.slice(start, len(ids)) for column in meta.values()]
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))
