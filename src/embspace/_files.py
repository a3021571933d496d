"""Small file helpers shared by the store and the formats: hashing and safe .npy headers."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

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
            reader = {(1, 0): np.lib.format.read_array_header_1_0,
                      (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if reader is None:
                raise ValueError(f"unsupported .npy version {version}")
            return reader(fh)
        except EOFError as exc:
            raise ValueError(str(exc) or "file ends inside the header") from None


def writable_parent(path: Path) -> Path:
    """The folder `path` would be written into, checked to exist and be writable (one-line errors)."""
    from .errors import EmbspaceError

    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise EmbspaceError(f"cannot write {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise EmbspaceError(f"cannot write {path}: folder {parent} is not writable")
    return parent
