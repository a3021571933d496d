"""Rows of a space a block at a time, so a verb's memory is bounded by a block and not by n.

A loaded space's vectors are a read-only memory map: reading every row of one leaves every page it
touched resident in the process (page cache, which the kernel may take back, but counted as the
process's memory). `vector_blocks` copies one block into memory and then lets go of the pages it came
from, so a pass over a 4 GB space holds a block (16 MiB by default), not 4 GB. `id_slice` and
`ids_at` fetch the ids of a range or of a few rows without building the whole list where the space
can do so (``Space.id_slice``).
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator, Sequence

import numpy as np

from .errors import CorruptSpaceError, SpaceError

BLOCK_BYTES = 1 << 24  # vectors per block: 16 MiB (65,536 rows of 64 float32)
ID_BLOCK = 1 << 16  # ids per block


def block_rows(dim: int, block_bytes: int | None = None) -> int:
    """Rows of `dim` float32 in a block of about `block_bytes` (BLOCK_BYTES by default; at least one)."""
    return max(1, (block_bytes or BLOCK_BYTES) // (4 * max(1, dim)))


def id_slice(space, start: int, stop: int) -> list[str]:
    """The ids of rows `start` to `stop` (a list of str); O(stop - start) where the space supports it."""
    take = getattr(space, "id_slice", None)
    if take is not None:
        return list(take(start, stop))
    return space.ids[start:stop]


def id_blocks(space, step: int | None = None) -> Iterator[tuple[int, list[str]]]:
    """(first row, ids) for consecutive blocks of `step` rows (ID_BLOCK by default)."""
    step = step or ID_BLOCK
    for start in range(0, space.n, step):
        yield start, id_slice(space, start, min(space.n, start + step))


def ids_at(space, rows: Sequence[int] | np.ndarray) -> list[str]:
    """The ids of `rows` (any order, repeats allowed), read a block of ids at a time."""
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    if getattr(space, "id_slice", None) is None:
        ids = space.ids
        return [ids[i] for i in rows]
    out: list[str] = [""] * len(rows)
    order = np.argsort(rows, kind="stable")
    ordered = rows[order]
    blocks = ordered // ID_BLOCK  # one id_slice per block of rows that holds any of them
    for part in np.split(np.arange(len(rows)), np.flatnonzero(np.diff(blocks)) + 1):
        if not len(part):
            continue
        lo, hi = int(ordered[part[0]]), int(ordered[part[-1]]) + 1
        chunk = id_slice(space, lo, hi)
        for j in part:
            out[order[j]] = chunk[int(ordered[j]) - lo]
    return out


def checked_rows(space, start: int, stop: int) -> np.ndarray:
    """Rows `start` to `stop` of the space's vectors (a view, not a copy), checked before they are used.

    An opened space checks its vectors a block at a time: only the blocks under these rows are checked here
    (``space.vectors`` would check every block of the file first, reading all of it). A row that is not
    finite falls back to the whole check, which names the file and the row.
    """
    check, raw = getattr(space, "_check_rows", None), getattr(space, "_vectors", None)
    if check is None or raw is None or getattr(space, "_guard", None) is None:
        return space.vectors[start:stop]
    check(start, stop)
    view = raw[start:stop]
    step = block_rows(view.shape[1])
    for r0 in range(0, view.shape[0], step):
        if not np.isfinite(view[r0 : r0 + step]).all():
            return space.vectors[start:stop]  # raises CorruptSpaceError naming the row
    return view


def checked_take(space, rows: np.ndarray) -> np.ndarray:
    """The vectors of `rows` (an int array, any order) as a float32 array in memory.

    Taken a block of rows (16 MiB) at a time, in row order: in an opened space only the checked blocks under
    the rows are read, and each block's pages are let go once its rows are copied, so a sample spread over a
    file of any size holds the sample, not the file.
    """
    rows = np.asarray(rows, dtype=np.int64)
    take, raw = getattr(space, "_rows", None), getattr(space, "_vectors", None)
    if take is None or raw is None or getattr(space, "_guard", None) is None:
        take, raw = (lambda r: np.asarray(space.vectors[r], dtype=np.float32)), space.vectors
    flat = rows.reshape(-1)
    out = np.empty((len(flat), raw.shape[1]), dtype=np.float32)
    order = np.argsort(flat, kind="stable")
    ordered = flat[order]
    step = block_rows(raw.shape[1])
    groups = ordered // step
    for part in np.split(np.arange(len(flat)), np.flatnonzero(np.diff(groups)) + 1):
        if not len(part):
            continue
        out[order[part]] = take(ordered[part])
        first = int(groups[part[0]]) * step
        release(raw, first, first + step)
    return out.reshape(*rows.shape, raw.shape[1])


def space_blocks(space, step: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, rows in memory) of the space's vectors, a block at a time, each block checked as it comes
    (an opened space's file is never read whole first) and its pages let go once copied."""
    n, dim = space.n, space.dim
    step = step or block_rows(dim)
    for start in range(0, n, step):
        view = checked_rows(space, start, min(n, start + step))
        block = np.array(view, dtype=np.float32)
        release(view, 0, len(view))
        yield start, block


def vector_blocks(vectors: np.ndarray, step: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, rows as an array in memory, in the dtype of `vectors`) for consecutive blocks of `step` rows.

    Where `vectors` is a memory map, the pages of each block are let go once it is copied, so the pass
    keeps one block resident.
    """
    n, dim = vectors.shape
    step = step or block_rows(dim)
    for start in range(0, n, step):
        block = np.array(vectors[start : start + step])  # a copy (in the array's dtype): the pages can go now
        release(vectors, start, start + step)
        yield start, block


def release(vectors: np.ndarray, start: int, stop: int) -> None:
    """Let go of the resident pages of rows `start` to `stop` of a memory-mapped matrix (a no-op for an
    array in memory). The data stays in the page cache and on disk; a later read maps it again."""
    mm = _mapping_of(vectors)
    if mm is None or not hasattr(mm, "madvise") or not hasattr(mmap, "MADV_DONTNEED"):
        return
    try:
        base = np.frombuffer(mm, dtype=np.uint8).ctypes.data
        row_bytes = vectors.strides[0]
        first = vectors.ctypes.data - base + start * row_bytes
        last = vectors.ctypes.data - base + min(stop, vectors.shape[0]) * row_bytes
        page = mmap.PAGESIZE
        first, last = first - first % page, min(len(mm), last - last % page)
        if last > first >= 0:
            mm.madvise(mmap.MADV_DONTNEED, first, last - first)
    except (ValueError, OSError, TypeError, BufferError):
        return  # only a memory figure is lost: the pages stay until the kernel wants them


def _mapping_of(array: np.ndarray) -> mmap.mmap | None:
    """The mmap under `array`: a numpy memmap's own, or one reached through the array's bases (an array made
    over a memoryview of a mapping); None for memory that is not mapped."""
    mm = getattr(array, "_mmap", None)
    if isinstance(mm, mmap.mmap):
        return mm
    base, seen = array, 0
    while base is not None and seen < 16:
        if isinstance(base, mmap.mmap):
            return base
        if isinstance(base, memoryview):
            return base.obj if isinstance(base.obj, mmap.mmap) else None
        base, seen = getattr(base, "base", None), seen + 1
    return None


def first_repeat(space) -> tuple[int, int, str] | None:
    """(first row, second row, id) of the first id that repeats an earlier one, or None when ids are unique.

    The ids are read a block at a time and 8 bytes per row kept (a hash of each id), not a dict of every id;
    only rows whose hashes collide are compared as strings. (An opened space's stored id index is not trusted
    for this: it vouches for the ids it was written with, and a forged items.parquet can disagree with it.)
    """
    n = space.n
    hashes = np.empty(n, dtype=np.int64)
    for start, ids in id_blocks(space):
        hashes[start : start + len(ids)] = np.fromiter(map(hash, ids), dtype=np.int64, count=len(ids))
    order = np.argsort(hashes, kind="stable")
    ordered = hashes[order]
    same = np.flatnonzero(ordered[1:] == ordered[:-1])
    del hashes, ordered
    if not len(same):
        return None
    return _first_repeat_in(space, np.concatenate([order[same], order[same + 1]]))


def _first_repeat_in(space, candidates: np.ndarray) -> tuple[int, int, str] | None:
    """The first repeat among `candidates` (rows whose hashes collide), compared as strings, in row order."""
    if not len(candidates):
        return None
    rows = np.unique(candidates)  # ascending
    seen: dict[str, int] = {}
    for row, item in zip(rows.tolist(), ids_at(space, rows)):
        if item in seen:
            return seen[item], row, item
        seen[item] = row
    return None


def check_unique(space) -> None:
    """Refuse a space whose ids repeat (as ``store.check_unique_ids``), in memory bounded by 8 bytes a row."""
    repeat = first_repeat(space)
    if repeat is None:
        return
    _, row, item = repeat
    where = space.info.get("path")
    text = f"repeats the id {item[:80]!r} (second at row {row})"
    if where:
        raise CorruptSpaceError(f"{where}/items.parquet", f"{text}; ids must be unique; rebuild the space")
    raise SpaceError(f"the space {text}; ids must be unique")
