"""Ids and metadata of an opened space, read from items.parquet only where asked, and found through a stored
hash index: opening a space of 10 million rows makes no Python string per row.

``idhash.npy`` (format 2) is a (2, n) uint64 array: row 0 holds the xxh3-64 of every id (UTF-8) in
ascending order, row 1 the row each belongs to. Finding an id is a binary search of row 0 and one read
of the Parquet row group that holds the candidate row, to compare the id itself: a hash that collides
or a damaged index never returns a wrong row. items.parquet is written in row groups of `GROUP_ROWS`.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Iterator, MutableMapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from .errors import CorruptSpaceError

GROUP_ROWS = 1 << 16  # rows per Parquet row group: reading one id reads one group (about 1 MB of ids)
_REBUILD = "rebuild the space (embspace build / import) and save it again"


def id_hash(item: str) -> int:
    return xxhash.xxh3_64_intdigest(item.encode("utf-8", "surrogatepass"))


def hash_index(ids: Sequence[str], start: int = 0) -> np.ndarray:
    """(2, len(ids)) uint64: the hash of each id and its row (counted from `start`), unsorted."""
    out = np.empty((2, len(ids)), dtype=np.uint64)
    out[0] = np.fromiter((id_hash(i) for i in ids), dtype=np.uint64, count=len(ids))
    out[1] = np.arange(start, start + len(ids), dtype=np.uint64)
    return out


def sort_index(index: np.ndarray) -> np.ndarray:
    order = np.argsort(index[0], kind="stable")
    return np.ascontiguousarray(index[:, order])


def repeated_hashes(index: np.ndarray) -> np.ndarray:
    """Positions i of a sorted index where entry i and i + 1 share a hash: the only places two ids can be one."""
    return np.flatnonzero(index[0, 1:] == index[0, :-1])


class IdColumn:
    """The ids of an opened space, read from its Parquet file one row group at a time (cached), found by hash."""

    def __init__(self, parquet: pq.ParquetFile, path: Path, n: int, index: np.ndarray | None, index_file=None):
        self.parquet, self.path, self.n, self.index = parquet, path, n, index
        self.index_file = index_file if hasattr(index_file, "check") else None  # a CheckedFile, or unchecked
        meta = parquet.metadata
        self.starts = [0]
        for g in range(meta.num_row_groups):
            self.starts.append(self.starts[-1] + meta.row_group(g).num_rows)
        self._groups: OrderedDict[int, pa.Array] = OrderedDict()

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, key):
        if isinstance(key, slice):
            return self.slice(*key.indices(self.n)[:2]) if key.step in (None, 1) else self.to_list()[key]
        return self.at(int(key))

    def at(self, row: int) -> str:
        if row < 0:
            row += self.n
        if not 0 <= row < self.n:
            raise IndexError(f"row {row} is outside the space's {self.n} rows")
        g = bisect.bisect_right(self.starts, row) - 1
        return self._group(g)[row - self.starts[g]].as_py()

    def slice(self, start: int, stop: int) -> list[str]:
        """The ids of rows start..stop, reading only the row groups that hold them."""
        start, stop = max(0, start), min(stop, self.n)
        out: list[str] = []
        if stop <= start:
            return out
        g = bisect.bisect_right(self.starts, start) - 1
        while start < stop:
            group = self._group(g)
            a, b = start - self.starts[g], min(stop, self.starts[g + 1]) - self.starts[g]
            out.extend(group[a:b].to_pylist())
            start = self.starts[g + 1]
            g += 1
        return out

    def to_list(self) -> list[str]:
        return id_strings(self._read_column("id"), self.path)

    def to_arrow(self) -> pa.Array:
        return _id_array(self._read_column("id"), self.path)

    def __iter__(self) -> Iterator[str]:
        for g in range(len(self.starts) - 1):
            yield from self._group(g).to_pylist()

    def find(self, item: str) -> int:
        """The row of `item`, or -1. Constant time with the stored index; without one, a scan in C."""
        if not isinstance(item, str):
            return -1
        if self.index is None:
            return self._scan(item)
        h = np.uint64(id_hash(item))
        hashes = self.index[0]
        lo = int(np.searchsorted(hashes, h, side="left"))
        while lo < self.n:
            self._check_entry(lo)  # the entry is checked before it is believed
            if hashes[lo] != h:
                break
            row = int(self.index[1, lo])
            if row < self.n and self.at(row) == item:
                return row
            lo += 1
        if self.index_file is not None and self.index_file.left:
            # The search read entries it did not check: a miss is believed once the whole index is checked.
            self.index_file.check_all()
        return -1

    def _check_entry(self, pos: int) -> None:
        file = self.index_file
        if file is not None and file.left:
            start = file.size - 16 * self.n  # the hashes, then the rows
            file.check(start + 8 * pos, start + 8 * pos + 8)
            file.check(start + 8 * (self.n + pos), start + 8 * (self.n + pos) + 8)

    def _scan(self, item: str) -> int:
        import pyarrow.compute as pc

        column = self._read_column("id")
        found = pc.index(column, pa.scalar(item, column.type)).as_py()
        return -1 if found is None else int(found)

    def _group(self, g: int) -> pa.Array:
        group = self._groups.get(g)
        if group is None:
            table = _read(lambda: self.parquet.read_row_group(g, columns=["id"]), self.path)
            group = _id_array(table.column("id"), self.path, self.starts[g])
            self._groups[g] = group
            if len(self._groups) > 8:
                self._groups.popitem(last=False)
        else:
            self._groups.move_to_end(g)
        return group

    def _read_column(self, name: str) -> pa.ChunkedArray:
        table = _read(lambda: self.parquet.read(columns=[name]), self.path)
        if table.num_rows != self.n:
            raise CorruptSpaceError(self.path, f"has {table.num_rows} rows; expected {self.n}; {_REBUILD}")
        return table.column(name)


def _read(reader, path: Path) -> pa.Table:
    try:
        return reader()
    except CorruptSpaceError:
        raise
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise CorruptSpaceError(path, f"is not a readable Parquet file ({exc})") from None


def _id_array(column: pa.ChunkedArray, path: Path, first_row: int = 0) -> pa.Array:
    """The ids of a column read from the file, refused unless each is a non-empty string."""
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        raise CorruptSpaceError(path, f"has ids of type {column.type}; expected strings; {_REBUILD}")
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if array.null_count:
        row = first_row + int(np.flatnonzero(~np.asarray(array.is_valid()))[0])
        raise CorruptSpaceError(path, f"has a null id at row {row}; ids must be non-empty strings; {_REBUILD}")
    # Read the offsets with numpy: pyarrow.compute's first call imports pandas (a second, here)
    kind = np.int64 if pa.types.is_large_string(array.type) else np.int32
    offsets = np.frombuffer(array.buffers()[1], dtype=kind)[array.offset : array.offset + len(array) + 1]
    empty = np.flatnonzero(offsets[1:] == offsets[:-1])
    if empty.size:
        row = first_row + int(empty[0])
        raise CorruptSpaceError(path, f"has an empty id at row {row}; ids must be non-empty strings; {_REBUILD}")
    return array


def id_strings(column: pa.ChunkedArray, path: Path) -> list[str]:
    return _id_array(column, path).to_pylist()


class LazyColumns(MutableMapping):
    """A space's metadata columns (name -> list), each read from the Parquet file when first asked for."""

    def __init__(self, parquet: pq.ParquetFile, path: Path, names: list[str], n: int):
        self._parquet, self._path, self._n = parquet, path, n
        self._data: dict[str, list | None] = dict.fromkeys(names)

    def __getitem__(self, name: str) -> list:
        if name not in self._data:
            raise KeyError(name)
        column = self._data[name]
        if column is None:
            table = _read(lambda: self._parquet.read(columns=[name]), self._path)
            if table.num_rows != self._n:
                raise CorruptSpaceError(self._path, f"has {table.num_rows} rows; expected {self._n}; {_REBUILD}")
            column = self._data[name] = table.column(name).to_pylist()
        return column

    def __setitem__(self, name: str, value) -> None:
        self._data[name] = list(value)

    def __delitem__(self, name: str) -> None:
        del self._data[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, name: object) -> bool:
        return name in self._data

    def __repr__(self) -> str:
        return f"<columns {', '.join(self._data)} (read when used)>"
