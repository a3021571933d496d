"""IDX files (MNIST, Fashion-MNIST): the header parsed and checked against the file's size, images streamed."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EmbspaceError
from ._decode import short_reason


def _idx_open(path: Path):
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")  # noqa: SIM115


def _idx_header(path: Path, dims_expected: int) -> tuple[tuple[int, ...], int]:
    """(shape, offset of the data) of an unsigned-byte IDX file, its size checked against the header."""
    try:
        with _idx_open(path) as fh:
            head = fh.read(4)
            if len(head) < 4 or head[0:2] != b"\x00\x00" or head[2] != 0x08:
                raise EmbspaceError(f"{path}: not an IDX file of unsigned bytes (magic {head.hex() or 'missing'})")
            ndim = head[3]
            if ndim != dims_expected:
                raise EmbspaceError(f"{path}: an IDX file of {ndim} dimensions; expected {dims_expected}")
            raw = fh.read(4 * ndim)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise EmbspaceError(f"{path}: cannot be read as IDX: {short_reason(exc)}") from None
    if len(raw) < 4 * ndim:
        raise EmbspaceError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", raw)
    offset = 4 + 4 * ndim
    need = offset + int(np.prod(shape, dtype=np.int64))
    have = _data_size(path)
    if have is not None and have != need % (1 << 32 if path.name.lower().endswith(".gz") else 1 << 63):
        raise EmbspaceError(
            f"{path}: the header says {' x '.join(map(str, shape))} bytes of data ({need:,} bytes in all) "
            f"but the file holds {have:,}; it is truncated or not this IDX file"
        )
    return shape, offset


def _data_size(path: Path) -> int | None:
    """Bytes of data in the file: its size, or a gzip's recorded uncompressed size (mod 2**32)."""
    size = path.stat().st_size
    if not path.name.lower().endswith(".gz"):
        return size
    if size < 18:
        raise EmbspaceError(f"{path}: too short to be a gzip file ({size} bytes)")
    with open(path, "rb") as fh:
        fh.seek(-4, os.SEEK_END)
        return struct.unpack("<I", fh.read(4))[0]


def _idx_labels_path(path: Path) -> Path | None:
    name = path.name
    for images, labels in (("idx3-ubyte", "idx1-ubyte"), ("images", "labels")):
        if images in name:
            twin = name.replace(images, labels, 1).replace("images", "labels", 1)
            other = twin[: -len(".gz")] if twin.endswith(".gz") else twin + ".gz"  # one may be unpacked
            for candidate in (path.with_name(twin), path.with_name(other)):
                if candidate.exists():
                    return candidate
    return None


def open_idx(path: Path) -> tuple[list[str], Any, list | None, dict]:
    """(ids NAME:ROW, reader(rows) -> RGB arrays, labels from the idx1 file beside it or None, description)."""
    shape, offset = _idx_header(path, 3)
    n, h, w = shape
    if h < 1 or w < 1:
        raise EmbspaceError(f"{path}: images of {h} x {w} pixels")
    labels = None
    labels_path = _idx_labels_path(path)
    if labels_path is not None:
        (n_labels,), label_offset = _idx_header(labels_path, 1)
        if n_labels != n:
            raise EmbspaceError(f"{labels_path}: {n_labels:,} labels for {n:,} images in {path.name}")
        with _idx_open(labels_path) as fh:
            fh.read(label_offset)
            labels = [int(v) for v in np.frombuffer(fh.read(n_labels), dtype=np.uint8)]
    size = h * w

    state: dict[str, Any] = {"fh": None, "at": None}

    def read(rows: range) -> list:
        # Sequential reads through one open stream; a pass that starts over reopens the file.
        if state["fh"] is None or state["at"] != rows.start:
            if state["fh"] is not None:
                state["fh"].close()
            state["fh"] = _idx_open(path)
            state["fh"].read(offset + rows.start * size)
        data = state["fh"].read(len(rows) * size)
        if len(data) != len(rows) * size:
            raise EmbspaceError(f"{path}: truncated after {rows.start + len(data) // size:,} images")
        state["at"] = rows.stop
        if rows.stop >= n:
            state["fh"].close()
            state["fh"] = None
        block = np.frombuffer(data, dtype=np.uint8).reshape(len(rows), h, w)
        return [np.repeat(image[:, :, None], 3, axis=2) for image in block]

    stem = path.name.split("-idx")[0] if "-idx" in path.name else path.name.split(".")[0]
    described = {"kind": "idx", "path": str(path), "shape": [n, h, w], "labels": str(labels_path or "")}
    return [f"{stem}:{i}" for i in range(n)], read, labels, described
