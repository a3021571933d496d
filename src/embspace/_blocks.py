"""Per-block checksums: a space opens without reading its files, and each block is checked when first touched.

A file of a space (format 2) is listed in the manifest with its size, its sha256 (its identity, which
indexes and maps record) and ``blocks``: the xxh3-64 of each ``size``-byte run of the file, in order.
xxh3 runs at memory speed (about 15 GB/s here against 1.5 GB/s for sha256: `benchmarks/bench_open.py
--checksums`), so checking a block as it is read costs a fraction of reading it. The manifest is not
signed: against an attacker who can rewrite it, sha256 buys nothing that xxh3 does not; against damage
(a flipped bit, a torn write, a truncated copy) a 64-bit check per block misses one case in 2^64.

`CheckedFile` maps a file read-only and checks the blocks under any byte range before it is used:
`check(start, stop)`, `check_blocks(numbers)`, `check_all()`. It is thread-safe, and a block is checked
once per open.
"""

from __future__ import annotations

import hashlib
import io
import mmap
import os
import threading
from pathlib import Path

import numpy as np
import xxhash

from ._sealed import is_count
from .errors import CorruptSpaceError

BLOCK = 4 << 20  # bytes per checked block of vectors.npy: one block is read and hashed in well under a millisecond
SMALL_BLOCK = 1 << 20  # items.parquet and the id index: a lookup touches a few of these
ALGORITHM = "xxh3_64"


class BlockHasher:
    """Hashes a file as it is written: its sha256 and the xxh3 of each `block` bytes; `entry()` is its manifest
    entry (``{"size", "sha256", "blocks": {"algorithm", "size", "sums"}}``)."""

    def __init__(self, block: int = BLOCK):
        self.block = block
        self.sha = hashlib.sha256()
        self.current = xxhash.xxh3_64()
        self.filled = 0
        self.size = 0
        self.sums: list[str] = []

    def update(self, data) -> None:
        view = memoryview(data).cast("B")
        self.sha.update(view)
        self.size += len(view)
        while len(view):
            take = min(len(view), self.block - self.filled)
            self.current.update(view[:take])
            self.filled += take
            view = view[take:]
            if self.filled == self.block:
                self.sums.append(self.current.hexdigest())
                self.current.reset()
                self.filled = 0

    def entry(self) -> dict:
        sums = self.sums + ([self.current.hexdigest()] if self.filled else [])
        blocks = {"algorithm": ALGORITHM, "size": self.block, "sums": sums}
        return {"size": self.size, "sha256": self.sha.hexdigest(), "blocks": blocks}


def hash_file(path: Path, block: int = BLOCK) -> dict:
    """The manifest entry of a file already written (its sha256 and block sums)."""
    hasher = BlockHasher(block)
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            hasher.update(chunk)
    return hasher.entry()


class HashingWriter:
    """A binary file opened for writing that hashes what goes through it (see `BlockHasher`)."""

    def __init__(self, fh, block: int = BLOCK):
        self.fh, self.hasher = fh, BlockHasher(block)

    def write(self, data) -> int:
        self.hasher.update(data)
        return self.fh.write(data)


def is_blocks_entry(value, size: int) -> bool:
    """A well-formed ``blocks`` field for a file of `size` bytes: the known algorithm, a block size in range, and
    exactly one 16-hex-digit sum per block."""
    if not isinstance(value, dict) or value.get("algorithm") != ALGORITHM:
        return False
    block, sums = value.get("size"), value.get("sums")
    if not is_count(block, 1 << 12, 1 << 30) or not isinstance(sums, list):
        return False
    if len(sums) != -(-size // block):
        return False
    return all(isinstance(s, str) and len(s) == 16 for s in sums)


class CheckedFile:
    """A file of a space, mapped read-only; each block is checked against the manifest before its bytes are used.

    A flipped byte raises CorruptSpaceError naming the file and the block, before any result computed from
    that block is returned. `view` is the mapped bytes (a memoryview), for numpy to read the vectors from
    without a second mapping.
    """

    def __init__(self, path: Path, entry: dict):
        self.path = path
        blocks = entry["blocks"]
        self.block = blocks["size"]
        self.sums = blocks["sums"]
        self.size = entry["size"]
        self.checked = np.zeros(len(self.sums), dtype=bool)
        self.left = len(self.sums)
        self._lock = threading.Lock()
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
        try:
            self._map = mmap.mmap(fd, 0, access=mmap.ACCESS_READ) if self.size else None
        finally:
            os.close(fd)
        self.view = memoryview(self._map) if self._map is not None else memoryview(b"")

    def check(self, start: int, stop: int) -> None:
        """Check every block under bytes [start, stop) that has not been checked yet."""
        if not self.left or stop <= start:
            return
        first, last = start // self.block, (min(stop, self.size) - 1) // self.block
        if self.checked[first : last + 1].all():
            return
        self.check_blocks(range(first, last + 1))

    def check_blocks(self, blocks) -> None:
        """Check the blocks numbered `blocks` (any iterable of ints) that have not been checked yet."""
        for b in blocks:
            if not self.checked[b]:
                self._check_block(int(b))

    def refuse(self, b: int) -> None:
        start, end = b * self.block, min((b + 1) * self.block, self.size)
        raise CorruptSpaceError(
            self.path,
            f"block {b} (bytes {start:,}-{end:,}) does not match its checksum in the manifest; "
            "the file was altered or damaged",
        )

    def check_all(self) -> None:
        if self.left:
            self.check(0, self.size)

    def _check_block(self, b: int) -> None:
        with self._lock:
            if self.checked[b]:
                return
            start = b * self.block
            if xxhash.xxh3_64_hexdigest(self.view[start : start + self.block]) != self.sums[b]:
                self.refuse(b)
            self.checked[b] = True
            self.left -= 1

    def stream(self) -> Stream:
        return Stream(self)

    def reader(self) -> CheckedReader:
        return CheckedReader(self)


class Stream:
    """Checks a file's blocks from bytes a scan has just read, while they are still in cache: `feed(start, stop)`
    with contiguous ranges in order, then `finish()` (which checks the rest of a block the scan stopped inside).
    A scan calls it after computing from a range and before returning anything, so damage is still refused
    before a result from it is returned, at the cost of hashing cached bytes instead of reading them twice."""

    def __init__(self, file: CheckedFile):
        self.file = file
        self.pos: int | None = None
        self.hasher = xxhash.xxh3_64()

    def feed(self, start: int, stop: int) -> None:
        file = self.file
        if self.pos is None:
            self.pos = start - start % file.block  # from the start of its block (the .npy header, in block 0)
        elif start != self.pos:  # not the next bytes: check those blocks whole
            file.check(start, stop)
            return
        while self.pos < stop:
            b = self.pos // file.block
            end = min((b + 1) * file.block, file.size)
            take = min(end, stop)
            if file.checked[b]:
                self.pos = take
            else:
                self.hasher.update(file.view[self.pos : take])
                self.pos = take
            if self.pos == end:
                self._close(b)

    def finish(self) -> None:
        if self.pos is not None and self.pos % self.file.block and self.pos < self.file.size:
            b = self.pos // self.file.block
            self.feed(self.pos, min((b + 1) * self.file.block, self.file.size))

    def _close(self, b: int) -> None:
        file = self.file
        if not file.checked[b]:
            with file._lock:
                if not file.checked[b]:
                    if self.hasher.hexdigest() != file.sums[b]:
                        file.refuse(b)
                    file.checked[b] = True
                    file.left -= 1
        self.hasher.reset()


class CheckedReader(io.RawIOBase):
    """A read-only file object over a CheckedFile: what a reader (pyarrow's Parquet reader) reads is checked."""

    def __init__(self, checked: CheckedFile):
        super().__init__()
        self.file = checked
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.file.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def readinto(self, buffer) -> int:
        stop = min(self.pos + len(buffer), self.file.size)
        if stop <= self.pos:
            return 0
        self.file.check(self.pos, stop)
        count = stop - self.pos
        memoryview(buffer).cast("B")[:count] = self.file.view[self.pos : stop]
        self.pos = stop
        return count

    def read(self, size: int = -1) -> bytes:
        stop = self.file.size if size is None or size < 0 else min(self.pos + size, self.file.size)
        if stop <= self.pos:
            return b""
        self.file.check(self.pos, stop)
        data = bytes(self.file.view[self.pos : stop])
        self.pos = stop
        return data
