"""Reading images: folders of image files, CSV/Parquet tables of paths, .npy arrays and IDX files, as batches.

Every source becomes an `ImageSource`: its candidate rows (ids, labels, meta columns) are listed up front,
and `batches(size)` decodes them a batch at a time, as often as asked (memory bounded by the batch). A file
that cannot be decoded (unreadable, truncated, empty, not what its extension says, above the pixel limit)
is skipped and recorded in `skipped` with the reason; the rows that were read keep their order.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._spelling import spell
from ..errors import EmbspaceError
from ._base import Batch
from ._decode import MAX_PIXELS, ImageSkip, array_to_rgb, decode_image, short_reason, to_uint8
from ._idx import open_idx

__all__ = ["MAX_PIXELS", "ImageSkip", "ImageSource", "decode_image", "image_files", "read_images"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".webp", ".gif", ".bmp", ".dib", ".tif", ".tiff")
TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")
KEEP_SKIPPED = 100  # skipped files listed by name (all are counted)


@dataclass
class ImageSource:
    """Images to read: one candidate per row, decoded a batch at a time by `batches`.

    Attributes
    ----------
    ids : list of str
        One per candidate: a path relative to the source folder, or ``NAME:ROW`` for arrays.
    labels : list or None
        The label of each candidate (folder name, table column, IDX label) when labels were asked for.
    meta : dict of column name -> list
        Other per-candidate columns (a table's path and other columns).
    gray : bool
        Every image is known to be single-channel (IDX, a .npy of shape (n, h, w)).
    described : list of dict
        What was read, for the manifest (file, kind, rows, size).
    skipped : list of (id, reason)
        Filled by the latest pass (first KEEP_SKIPPED); `skipped_count` counts them all.
    """

    ids: list[str]
    readers: list  # one per part: (start row, reader(rows) -> list of (array or ImageSkip))
    labels: list | None = None
    meta: dict[str, list] = field(default_factory=dict)
    gray: bool = False
    described: list[dict] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    skipped_count: int = 0

    @property
    def n(self) -> int:
        return len(self.ids)

    def classes(self) -> tuple[list, np.ndarray] | None:
        """(sorted label values, int64 class of each candidate), or None without labels."""
        if self.labels is None:
            return None
        names = sorted(set(self.labels), key=lambda v: (str(type(v)), v))
        index = {v: i for i, v in enumerate(names)}
        return names, np.array([index[v] for v in self.labels], dtype=np.int64)

    def batches(self, batch_size: int = 256) -> Iterator[tuple[np.ndarray, Batch]]:
        """Decoded batches in row order: (candidate rows kept, Batch with labels as int classes).

        Resets `skipped` at the start of each pass; a skipped row is missing from the batch.
        """
        if batch_size < 1:
            raise EmbspaceError(f"batch_size must be at least 1; got {batch_size}")
        self.skipped, self.skipped_count = [], 0
        classes = self.classes()
        bounds = [start for start, _ in self.readers] + [self.n]
        for part, (start, reader) in enumerate(self.readers):
            end = bounds[part + 1]
            for lo in range(start, end, batch_size):
                rows = range(lo, min(lo + batch_size, end))
                kept, images = [], []
                for row, image in zip(rows, reader(rows)):
                    if isinstance(image, ImageSkip):
                        self.skipped_count += 1
                        if len(self.skipped) < KEEP_SKIPPED:
                            self.skipped.append((self.ids[row], str(image)))
                        continue
                    kept.append(row)
                    images.append(image)
                if not kept:
                    continue
                kept_rows = np.array(kept, dtype=np.int64)
                labels = None if classes is None else [int(c) for c in classes[1][kept_rows]]
                yield kept_rows, Batch([self.ids[r] for r in kept], images, labels)


# ---- sources ----------------------------------------------------------------------------------------------


def read_images(
    source: str | os.PathLike | Sequence[str | os.PathLike] | np.ndarray,
    *,
    labels: str | Sequence | None = None,
    label: str | None = None,
    path_column: str = "path",
    max_pixels: int = MAX_PIXELS,
    limit: int | None = None,
) -> ImageSource:
    """Open image sources (not decoded yet): folders, image files, CSV/Parquet tables, .npy and IDX files.

    Parameters
    ----------
    source : path, list of paths, or ndarray
        A folder (recursive, sorted; PNG, JPEG, WebP, GIF, BMP, TIFF), one image file, a ``.csv``/``.tsv``/
        ``.parquet`` with a column of image paths (relative to the table's folder), a ``.npy`` of shape
        (n, h, w) or (n, h, w, c), or an IDX file ``*-idx3-ubyte[.gz]`` (labels from ``*-idx1-ubyte[.gz]``
        beside it). Several sources are read one after another; their ids must not repeat. An array
        of shape (n, h, w) or (n, h, w, c) (uint8, or float in [0, 1] or [0, 255]) gives ids ``images:ROW``.
    labels : "folders" or sequence, optional
        Folders: the first sub-folder name of each image is its label. Arrays: one label per image.
    label : str, optional
        Tables: the column of labels.
    path_column : str
        Tables: the column of image paths.
    max_pixels : int
        Images above this many pixels are skipped (decompression bombs).
    limit : int, optional
        Read at most this many images of each source (a slice for tests and benchmarks).

    Returns
    -------
    ImageSource; `ImageSource.batches(size)` decodes.
    """
    if max_pixels < 1:
        raise EmbspaceError(f"max_pixels must be at least 1; got {max_pixels}")
    if isinstance(source, np.ndarray):
        part = _in_memory(source, labels)
        return _join([(Path("images"), part if limit is None else part.head(limit))])
    if labels is not None and not (isinstance(labels, str) and labels == "folders"):
        raise EmbspaceError(
            f"unknown labels {str(labels)[:40]!r}; the only choice is 'folders' (the sub-folder names); "
            "a list of labels goes with an array of images"
        )
    paths = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    if not paths:
        raise EmbspaceError("no image source given; pass a folder, a table of paths, a .npy or an IDX file")
    parts = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise EmbspaceError(f"{path}: no such file or folder")
        if not (path.is_dir() or path.is_file()):  # a FIFO or a device would block or never end
            raise EmbspaceError(f"{path}: not a regular file or a folder")
        kind = source_kind(path)
        if labels == "folders" and kind != "folder":
            raise EmbspaceError(
                f"{path}: {spell('labels', 'folders')} needs a folder of images; this is a {kind} source"
            )
        if label is not None and kind != "table":
            raise EmbspaceError(f"{path}: {spell('label', label)} names a table column; this is a {kind} source")
        opener = {"folder": _folder, "file": _one_file, "table": _table, "npy": _npy, "idx": _idx}[kind]
        part = opener(path, labels=labels, label=label, path_column=path_column, max_pixels=max_pixels)
        if limit is not None:
            part = part.head(limit)
        parts.append((path, part))
    return _join(parts)


def source_kind(path: Path) -> str:
    name = path.name.lower()
    if path.is_dir():
        return "folder"
    if name.endswith(("-ubyte", "-ubyte.gz", ".idx", ".idx.gz")):
        return "idx"
    if name.endswith(".npy"):
        return "npy"
    if name.endswith(TABLE_SUFFIXES):
        return "table"
    if name.endswith(IMAGE_SUFFIXES):
        return "file"
    raise EmbspaceError(
        f"{path}: not an image source; expected a folder, an image file ({', '.join(IMAGE_SUFFIXES)}), "
        "a .csv/.tsv/.parquet table of paths, a .npy array or an IDX file (*-idx3-ubyte[.gz])"
    )


@dataclass
class _Part:
    ids: list[str]
    reader: Any
    labels: list | None
    meta: dict[str, list]
    gray: bool
    described: dict

    @property
    def n(self) -> int:
        return len(self.ids)

    def head(self, limit: int) -> _Part:
        if limit < 0:
            raise EmbspaceError(f"limit must be at least 0; got {limit}")
        cut = {k: v[:limit] for k, v in self.meta.items()}
        labels = None if self.labels is None else self.labels[:limit]
        return _Part(self.ids[:limit], self.reader, labels, cut, self.gray, dict(self.described, limit=limit))


def _join(parts: list[tuple[Path, _Part]]) -> ImageSource:
    ids: list[str] = []
    readers = []
    several = len(parts) > 1
    all_labels: list | None = [] if all(p.labels is not None for _, p in parts) else None
    columns = list(dict.fromkeys(name for _, p in parts for name in p.meta))
    meta: dict[str, list] = {name: [] for name in columns}
    if several and "source" not in meta:  # which source each image came from: a split to evaluate by
        meta["source"] = [_source_name(path, part) for path, part in parts for _ in part.ids]
    for path, part in parts:
        start = len(ids)
        prefix = f"{path.name}/" if several and part.described["kind"] in ("folder", "table") else ""
        ids.extend(prefix + i for i in part.ids)
        readers.append((start, _offset_reader(part.reader, start)))
        if all_labels is not None:
            all_labels.extend(part.labels)
        for name in columns:
            meta[name].extend(part.meta.get(name, [None] * len(part.ids)))
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        repeated = next(i for i in ids if i in seen or seen.add(i))
        raise EmbspaceError(f"the sources name the image {repeated!r} twice; ids must be unique")
    gray = all(p.gray for _, p in parts)
    return ImageSource(ids, readers, all_labels, meta, gray, [p.described for _, p in parts])


def _source_name(path: Path, part: _Part) -> str:
    """The short name of a source: the NAME of its ``NAME:ROW`` ids (arrays, IDX files), else the file name."""
    first = part.ids[0] if part.ids else ""
    return first.split(":", 1)[0] if part.described["kind"] in ("npy", "idx") and ":" in first else path.name


def _offset_reader(reader, start: int):
    return lambda rows: reader(range(rows.start - start, rows.stop - start))


def _files_reader(files: list[Path], max_pixels: int):
    def read(rows: range) -> list:
        out = []
        for row in rows:
            try:
                out.append(decode_image(files[row], max_pixels))
            except ImageSkip as skip:
                out.append(skip)
        return out

    return read


def image_files(folder: str | os.PathLike) -> list[Path]:
    """The image files under `folder` (recursive; by suffix; hidden files and folders left out), sorted
    by their path relative to it: the rows a build of the folder makes, in its order."""
    folder = Path(folder)
    files = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files.extend(Path(root) / n for n in names if n.lower().endswith(IMAGE_SUFFIXES) and not n.startswith("."))
    files.sort(key=lambda f: f.relative_to(folder).as_posix())
    return files


def _folder(path: Path, *, labels, max_pixels, **_) -> _Part:
    files = image_files(path)
    ids = [f.relative_to(path).as_posix() for f in files]
    found = None
    if labels == "folders":
        found = [i.split("/", 1)[0] if "/" in i else None for i in ids]
        loose = [i for i, lab in zip(ids, found) if lab is None]
        if loose:
            raise EmbspaceError(
                f"{path}: {spell('labels', 'folders')} takes each image's sub-folder as its label, but {len(loose):,} "
                f"image(s) sit at the top (e.g. {loose[0]!r}); move them into a folder per label"
            )
    described = {"kind": "folder", "path": str(path), "files": len(files)}
    return _Part(ids, _files_reader(files, max_pixels), found, {}, False, described)


def _one_file(path: Path, *, max_pixels, **_) -> _Part:
    described = {"kind": "file", "path": str(path), "bytes": path.stat().st_size}
    return _Part([path.name], _files_reader([path], max_pixels), None, {}, False, described)


def _table(path: Path, *, label, path_column, max_pixels, **_) -> _Part:
    columns = _read_table(path)
    if path_column not in columns:
        raise EmbspaceError(
            f"{path}: no column {path_column!r} of image paths; the columns are {', '.join(columns)} "
            f"(choose one with {spell('path_column', metavar='COLUMN')})"
        )
    if label is not None and label not in columns:
        raise EmbspaceError(f"{path}: no label column {label!r}; the columns are {', '.join(columns)}")
    names = [str(v) if v is not None else "" for v in columns[path_column]]
    files = [path.parent / n for n in names]
    ids = list(names)
    found = None
    if label is not None:
        found = [("" if v is None else v) for v in columns[label]]
        if any(isinstance(v, float) and v != v for v in found):  # NaN in a numeric column
            found = ["" if isinstance(v, float) and v != v else v for v in found]
    meta = {("path" if k == path_column else k): v for k, v in columns.items() if k != label}
    described = {"kind": "table", "path": str(path), "rows": len(ids), "path_column": path_column}
    return _Part(ids, _files_reader(files, max_pixels), found, meta, False, described)


def _read_table(path: Path) -> dict[str, list]:
    name = path.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            import pyarrow.parquet as pq

            table = pq.read_table(path)
            return {c: table.column(c).to_pylist() for c in table.column_names}
        import pyarrow.csv as pacsv

        options = pacsv.ParseOptions(delimiter="\t" if name.endswith(".tsv") else ",")
        convert = pacsv.ConvertOptions(strings_can_be_null=False)
        table = pacsv.read_csv(path, parse_options=options, convert_options=convert)
        return {c: table.column(c).to_pylist() for c in table.column_names}
    except EmbspaceError:
        raise
    except Exception as exc:  # pyarrow's errors for a damaged table come in several types
        raise EmbspaceError(f"{path}: cannot be read as a table: {short_reason(exc)}") from None


def _npy(path: Path, **_) -> _Part:
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise EmbspaceError(f"{path}: not a readable .npy array: {short_reason(exc)}") from None
    described = {"kind": "npy", "path": str(path), "shape": list(array.shape), "dtype": str(array.dtype)}
    return _array_part(array, path.name[: -len(".npy")], described, str(path))


def _array_part(array: np.ndarray, stem: str, described: dict, where: str) -> _Part:
    """Images of an array (n, h, w) or (n, h, w, 1|3|4), uint8 or float; ids ``STEM:ROW``."""
    if array.ndim not in (3, 4) or (array.ndim == 4 and array.shape[3] not in (1, 3, 4)) or 0 in array.shape[1:]:
        raise EmbspaceError(f"{where}: an array of shape {array.shape}; expected (n, h, w) or (n, h, w, 1|3|4)")
    if array.dtype != np.uint8 and not np.issubdtype(array.dtype, np.floating):
        raise EmbspaceError(f"{where}: pixels of dtype {array.dtype}; expected uint8, or float in [0, 1] or [0, 255]")
    scale = None
    if np.issubdtype(array.dtype, np.floating):  # one scale for the whole array, read in blocks
        tops = [
            np.nanmax(np.where(np.isfinite(b), b, 0)) for b in (array[i : i + 4096] for i in range(0, len(array), 4096))
        ]
        scale = 255.0 if max(map(float, tops), default=0.0) <= 1.0 else 1.0

    def read(rows: range) -> list:
        block = np.asarray(array[rows.start : rows.stop])
        out = []
        for image in block:
            try:
                out.append(array_to_rgb(to_uint8(image, scale)))
            except ImageSkip as skip:
                out.append(skip)
        return out

    gray = array.ndim == 3 or array.shape[3] == 1
    return _Part([f"{stem}:{i}" for i in range(len(array))], read, None, {}, gray, described)


def _in_memory(array: np.ndarray, labels) -> _Part:
    """An array given in Python (ids ``images:ROW``), with its labels when given as a sequence."""
    described = {"kind": "array", "shape": list(array.shape), "dtype": str(array.dtype)}
    part = _array_part(array, "images", described, "the array")
    if labels is not None:
        values = [v.item() if isinstance(v, np.generic) else v for v in labels]
        if len(values) != part.n:
            raise EmbspaceError(f"{len(values):,} labels for {part.n:,} images; give one label per image")
        part.labels = values
    return part


def _idx(path: Path, **_) -> _Part:
    ids, reader, labels, described = open_idx(path)
    return _Part(ids, reader, labels, {}, True, described)
