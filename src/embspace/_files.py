"""Small file helpers shared by the store, the formats and the maps: hashing, safe .npy headers, atomic writes."""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .errors import EmbspaceError

_HASH_BLOCK = 1 << 22


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 4 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def read_npy_header(path: Path) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran_order, dtype) from a .npy header, without loading anything.

    Raises ValueError for anything that is not a .npy file (a pickle, an .npz, garbage), so
    callers can refuse it before numpy is asked to load a byte of it.
    """
    with open(path, "rb") as fh:
        try:
            version = np.lib.format.read_magic(fh)
            reader = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}.get(
                version
            )
            if reader is None:
                raise ValueError(f"unsupported .npy version {version}")
            return reader(fh)
        except EOFError as exc:
            raise ValueError(str(exc) or "file ends inside the header") from None


def writable_parent(path: Path) -> Path:
    """The folder `path` would be written into, checked to exist and be writable (one-line errors)."""
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise EmbspaceError(f"cannot write {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise EmbspaceError(f"cannot write {path}: folder {parent} is not writable")
    return parent


def make_parents(path: Path) -> None:
    """Make the folders `path` is to be written into, as ``mkdir -p``; a one-line error if that cannot be done."""
    parent = path.parent if str(path.parent) else Path(".")
    if parent.is_dir():
        return
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise EmbspaceError(f"cannot write {path}: {parent} or a folder above it is a file, not a folder") from None
    except OSError as exc:
        raise EmbspaceError(f"cannot write {path}: cannot make folder {parent} ({exc.strerror})") from None


@contextlib.contextmanager
def atomic_files(*targets: Path) -> Iterator[list[Path]]:
    """Yield temporary sibling paths for `targets`; on success move each onto its target.

    A failure anywhere removes every temporary file and leaves the targets as they were. Each
    target is replaced atomically (``os.replace``); a multi-file export is replaced file by file
    only after all of its files were written completely.
    """
    for target in targets:
        parent = target.parent if str(target.parent) else Path(".")
        if not parent.is_dir():
            raise EmbspaceError(f"cannot write {target}: folder {parent} does not exist")
        if target.is_dir():
            raise EmbspaceError(f"cannot write {target}: it is a folder")
        if target.exists() and not target.is_file():  # a device, FIFO or socket: never replaced by a file
            raise EmbspaceError(f"cannot write {target}: it is not a regular file (a device, pipe or socket)")
    temps = [t.parent / f".{t.name}.tmp-{uuid.uuid4().hex[:8]}" for t in targets]
    try:
        yield temps
        for tmp, target in zip(temps, targets):
            os.replace(tmp, target)
    finally:
        for tmp in temps:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


def finish(fh) -> None:
    """Flush and fsync an open binary file, so a rename after it publishes complete data."""
    fh.flush()
    os.fsync(fh.fileno())


def home() -> Path:
    """Where embspace keeps what it makes for you (spaces, models): $EMBSPACE_HOME or ~/.cache/embspace."""
    return Path(os.environ.get("EMBSPACE_HOME") or Path.home() / ".cache" / "embspace")
