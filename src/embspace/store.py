"""The `.space` folder: manifest.json + vectors.npy (memory-mapped) + items.parquet.

Writes are atomic (temporary sibling folder, fsync, atomic exchange), one writer per path at a
time (an flock on `.NAME.lock`), and a save removes the temp folders of killed writers. Loads
open only regular files, check the manifest's schema and the size and sha256 of every file, and
never execute code from a file: no pickle anywhere.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ._blocks import BLOCK, SMALL_BLOCK, BlockHasher, CheckedFile, HashingWriter, hash_file, is_blocks_entry
from ._files import read_npy_header, sha256_file, writable_parent
from ._ids import GROUP_ROWS, IdColumn, LazyColumns, hash_index, id_strings, repeated_hashes, sort_index
from ._sealed import (
    MAX_COUNT,
    OBJECT,
    check_fields,
    is_count,
    is_file_entry,
    one_of,
    read_sealed,
    sealed_bytes,
    show,
)
from ._spelling import spell
from ._version import __version__
from ._writers import publishing, write_durably
from .errors import CorruptSpaceError, EmbspaceError, SpaceNote
from .space import METRICS, Space

FORMAT = "embspace.space"
FORMAT_VERSION = 2  # 2: block checksums, an id hash index, row groups (1: one sha256 per file)
MANIFEST = "manifest.json"
VECTORS = "vectors.npy"
ITEMS = "items.parquet"
NORMS = "norms.npy"  # (n,) float32: the squared length of each row, so the first cosine scan is one pass
ID_INDEX = "idhash.npy"  # (2, n) uint64: sorted xxh3 of each id, and its row (see _ids)
EXTRAS = "extras"  # named float32 matrices that are not rows (e.g. fastText sub-word buckets)
ASSETS = "assets"  # named files: thumbnail sprite pages, a trained network (space.assets)
_ASSET_NAME = re.compile(r"[A-Za-z0-9_\-]+(\.[A-Za-z0-9]+)?")


def save(space: Space, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write `space` to the folder `path` (conventionally ending in ``.space``), atomically.

    An existing space at `path` is refused unless ``overwrite=True`` (the CLI's ``--force``):
    replacing it drops what lives in its folder beside the vectors (cached maps and ANN indexes).
    It is replaced only once the new one is complete; a folder that is not a space is never
    replaced. Writers to one path take turns; one that finds the space written meanwhile is
    refused as above. Returns the path. A space opened from the older format 1 is written as format 2.
    """
    path = Path(path)
    check_target(path, overwrite)
    with publishing(path, check=lambda: check_target(path, overwrite)) as tmp:
        files = _write_files(space, tmp, {VECTORS: _write_vectors(space.vectors, tmp / VECTORS)})
        write_durably(tmp / MANIFEST, sealed_bytes(_manifest(space, files)))
    return path


def _write_files(space: Space, tmp: Path, files: dict) -> dict:
    """Every file of `space` but its vectors (entered in `files` already) into the folder `tmp`; their entries."""
    files[ITEMS] = _write_items(space, tmp / ITEMS)
    files[ID_INDEX] = _write_id_index(sort_index(_space_id_index(space)), tmp / ID_INDEX)
    files[NORMS] = _write_array(space.sq_norms(), tmp / NORMS)
    _write_extras_and_assets(space, tmp, files)
    return files


def _space_id_index(space: Space) -> np.ndarray:
    stored = space._stored_id_index()  # an opened space's, already sorted: its ids need not be read
    return stored if stored is not None else hash_index(space.ids)


def _write_extras_and_assets(space: Space, tmp: Path, files: dict) -> None:
    if space.extras:
        (tmp / EXTRAS).mkdir()
    for name, matrix in space.extras.items():
        files[f"{EXTRAS}/{name}.npy"] = _write_vectors(matrix, tmp / EXTRAS / f"{name}.npy")
    if space.assets:
        (tmp / ASSETS).mkdir()
    for name, content in space.assets.items():
        files[f"{ASSETS}/{name}"] = _write_asset(name, content, tmp / ASSETS / name)


class DuplicateIdError(EmbspaceError):
    """Two rows appended to a SpaceWriter share an id (rows counted from 0 in the order appended)."""

    def __init__(self, item: str, first_row: int, second_row: int):
        self.item, self.first_row, self.second_row = item, first_row, second_row
        super().__init__(f"duplicate id {item[:80]!r} (rows {first_row} and {second_row}); ids must be unique")


class SpaceWriter:
    """Write a space block by block, in memory bounded by a block (plus 16 bytes per row for the id index).

    Examples
    --------
    >>> with SpaceWriter("big.space", dim=100) as w:      # doctest: +SKIP
    ...     for ids, vectors in blocks:
    ...         w.append(ids, vectors)

    On a normal exit the `.space` folder is published atomically (as `save` does); on an exception nothing
    is. Ids must be non-empty strings and unique (a repeat raises DuplicateIdError at the end, naming both
    rows); vectors finite. ``meta`` columns, when given, must be given with every block.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        dim: int,
        *,
        metric: str = "cosine",
        overwrite: bool = False,
        info: dict | None = None,
    ):
        if metric not in METRICS:
            raise EmbspaceError(f"unknown metric {metric!r}; expected one of {', '.join(METRICS)}")
        if not is_count(dim, 1):
            raise EmbspaceError(f"dim must be a whole number >= 1; got {dim!r}")
        self.path, self.dim, self.metric, self.overwrite = Path(path), dim, metric, overwrite
        self.info = dict(info or {})
        self.rows = 0
        self._publishing = None

    def __enter__(self) -> SpaceWriter:
        check_target(self.path, self.overwrite)
        self._publishing = publishing(self.path, check=lambda: check_target(self.path, self.overwrite))
        self.tmp = self._publishing.__enter__()
        self._vectors_fh = open(self.tmp / VECTORS, "wb")
        self._header = _placeholder_header(self.dim)
        self._vectors_fh.write(self._header)
        self._hashes: list[np.ndarray] = []
        self._norms: list[np.ndarray] = []
        self._items: pq.ParquetWriter | None = None
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._meta_names: list[str] | None = None
        return self

    def append(self, ids: Sequence[str], vectors, meta: dict[str, Sequence] | None = None) -> None:
        ids = list(ids)
        vectors = np.ascontiguousarray(vectors, dtype="<f4")
        if vectors.ndim != 2 or vectors.shape != (len(ids), self.dim):
            raise EmbspaceError(
                f"a block of {len(ids)} ids needs vectors of shape ({len(ids)}, {self.dim}); got {vectors.shape}"
            )
        for i, item in enumerate(ids):
            if not isinstance(item, str) or not item:
                raise EmbspaceError(f"id at row {self.rows + i} is {item!r}; ids must be non-empty strings")
        finite = np.isfinite(vectors).all(axis=1)
        if not finite.all():
            row = self.rows + int(np.flatnonzero(~finite)[0])
            raise EmbspaceError(f"row {row} holds NaN or Inf; clean the vectors before writing a space")
        names = sorted(meta or {})
        if self._meta_names is None:
            self._meta_names = names
        elif names != self._meta_names:
            raise EmbspaceError(f"every block needs the same meta columns; got {names}, expected {self._meta_names}")
        columns = {"id": pa.array(ids, type=pa.string())}
        for name in names:
            if len(meta[name]) != len(ids):
                raise EmbspaceError(f"meta column {name!r} has {len(meta[name])} values for {len(ids)} ids")
            columns[name] = _arrow_column(name, meta[name])
        self._vectors_fh.write(vectors.tobytes())
        self._hashes.append(hash_index(ids, self.rows))
        self._norms.append(np.einsum("ij,ij->i", vectors, vectors))
        self._add_items(pa.table(columns))
        self.rows += len(ids)

    def _add_items(self, table: pa.Table) -> None:
        self._pending.append(table)
        self._pending_rows += table.num_rows
        if self._pending_rows >= GROUP_ROWS:
            self._flush_items(final=False)

    def _flush_items(self, final: bool) -> None:
        if not self._pending:
            return
        table = pa.concat_tables(self._pending, promote_options="permissive")
        keep = table.num_rows if final else table.num_rows - table.num_rows % GROUP_ROWS
        if self._items is None:
            self._items = pq.ParquetWriter(self.tmp / ITEMS, table.schema, compression="lz4")
        try:
            self._items.write_table(table.slice(0, keep).cast(self._items.schema), row_group_size=GROUP_ROWS)
        except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError) as exc:
            raise EmbspaceError(f"a meta column changed type between blocks: {exc}") from None
        rest = table.slice(keep)
        self._pending = [rest] if rest.num_rows else []
        self._pending_rows = rest.num_rows

    def __exit__(self, kind, exc, tb) -> bool:
        if kind is None:
            try:
                self._finish()
            except BaseException as error:  # nothing is published: the temporary folder goes
                kind, exc, tb = type(error), error, error.__traceback__
        self._vectors_fh.close()
        if self._items is not None:
            self._items.close()
        if kind is None:
            self._publishing.__exit__(None, None, None)
            return False
        try:
            self._publishing.__exit__(kind, exc, tb)  # removes the folder and re-raises
        except BaseException as raised:
            if raised is not exc:
                raise
        raise exc.with_traceback(tb)

    def _finish(self) -> None:
        if self.rows == 0:
            raise EmbspaceError("no rows were written; a space needs at least one row")
        fh = self._vectors_fh
        fh.seek(0)
        header = _npy_header(self.rows, self.dim, len(self._header))
        fh.write(header)
        fh.flush()
        os.fsync(fh.fileno())
        self._flush_items(final=True)
        self._items.close()
        self._items = None
        index = np.concatenate(self._hashes, axis=1)
        self._hashes = []  # let the blocks go before sorting: the peak is 2.5x the index, not 3.5x
        index = sort_index(index)
        self._check_unique(index)
        files = {
            VECTORS: _entry(self.tmp / VECTORS, BLOCK),
            ITEMS: _entry(self.tmp / ITEMS, SMALL_BLOCK),
            ID_INDEX: _write_id_index(index, self.tmp / ID_INDEX),
            NORMS: _write_array(np.concatenate(self._norms), self.tmp / NORMS),
        }
        space_like = _Shape(self.rows, self.dim, self.metric, self.info, self._meta_names or [])
        write_durably(self.tmp / MANIFEST, sealed_bytes(_manifest(space_like, files)))

    def _check_unique(self, index: np.ndarray) -> None:
        repeats = repeated_hashes(index)
        if not repeats.size:
            return
        parquet = pq.ParquetFile(self.tmp / ITEMS)
        ids = IdColumn(parquet, self.tmp / ITEMS, self.rows, None)
        for pos in repeats:
            a, b = sorted((int(index[1, pos]), int(index[1, pos + 1])))
            if ids.at(a) == ids.at(b):
                raise DuplicateIdError(ids.at(a), a, b)


class _Shape:
    """What _manifest reads of a space, for a SpaceWriter that never holds one."""

    def __init__(self, n, dim, metric, info, meta_names):
        self.n, self.dim, self.metric, self.info, self.meta = n, dim, metric, info, dict.fromkeys(meta_names)


def _placeholder_header(dim: int) -> bytes:
    """A .npy 1.0 header long enough for any row count (rewritten with the real count at the end)."""
    return _npy_header(MAX_COUNT, dim, None)


def _npy_header(n: int, dim: int, length: int | None) -> bytes:
    body = repr({"descr": "<f4", "fortran_order": False, "shape": (n, dim)}).encode("latin1")
    total = 10 + len(body) + 1
    if length is None:
        length = -(-total // 64) * 64
    pad = length - total
    if pad < 0 or length - 10 > 0xFFFF:
        raise EmbspaceError(f"cannot write a .npy header for shape ({n}, {dim})")
    return b"\x93NUMPY\x01\x00" + (length - 10).to_bytes(2, "little") + body + b" " * pad + b"\n"


def _entry(path: Path, block: int) -> dict:
    entry = hash_file(path, block)
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())
    return entry


def upgrade(path: str | os.PathLike) -> bool:
    """Rewrite a space of format 1 as format 2 in place, keeping its cached maps and index; False if it already
    is format 2. The old files are checked whole first; vectors.npy (unchanged) is linked, not copied, and the
    folder is replaced atomically, as `save` replaces one."""
    path = Path(path)
    if not path.is_dir():
        raise EmbspaceError(f"{path} is not a .space folder (no such folder)")
    if read_manifest(path)["format_version"] >= FORMAT_VERSION:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpaceNote)
        space = load(path, verify=True)
    check_unique_ids(space)
    with publishing(path, check=lambda: check_target(path, True)) as tmp:
        for entry in path.iterdir():  # the caches and everything else in the folder come along
            if entry.name not in (MANIFEST, ITEMS, EXTRAS, ASSETS):
                _link_tree(entry, tmp / entry.name)
        files = _write_files(space, tmp, {VECTORS: _entry(tmp / VECTORS, BLOCK)})
        write_durably(tmp / MANIFEST, sealed_bytes(_manifest(space, files)))
    return True


def _link_tree(source: Path, dest: Path) -> None:
    if source.is_symlink():
        return
    if source.is_dir():
        dest.mkdir()
        for entry in source.iterdir():
            _link_tree(entry, dest / entry.name)
    elif source.is_file():
        try:
            os.link(source, dest)
        except OSError:
            shutil.copy2(source, dest)


def check_target(path: str | os.PathLike, overwrite: bool, hint: str | None = None) -> Path:
    """Fail before any work if a space cannot be written at `path`; returns its parent folder.

    A folder that is not a space is never replaced; an existing space only with `overwrite`.
    """
    path = Path(path)
    if path.exists():
        if not is_space(path):
            raise EmbspaceError(f"{path} exists and is not a .space folder; refusing to replace it")
        if not overwrite:
            raise EmbspaceError(f"{path} exists; {hint or 'pass ' + spell('overwrite', True)} to replace it")
    return writable_parent(path)


def load(path: str | os.PathLike, *, verify: bool | str = True, mmap: bool = True) -> Space:
    """Open a `.space` folder.

    Opening reads the manifest, the Parquet footer and the npy headers, never all of a file: a space of
    10 million rows opens in constant time (`benchmarks/bench_open.py`). Ids and metadata columns are read
    when first used, an id is found through the stored hash index.

    Parameters
    ----------
    verify : True, "full" or False
        True (the default): each block of every file is checked against the manifest's checksum when it is
        first read, so damage is refused (CorruptSpaceError naming the file) before any result computed from
        it is returned. "full": check every block now, that every vector is finite and that the ids are
        unique (what `embspace verify` does). False: no checksums (sizes, headers and the schema still are).
        A space written by embspace before format 2 has no block checksums: it is checked whole here, with a
        one-time note; saving it again writes format 2.
    mmap : bool
        Memory-map vectors.npy read-only (the default) instead of reading it into memory.
    """
    path = Path(path)
    if verify not in (True, False, "full"):
        raise EmbspaceError(f"verify must be True, False or 'full'; got {verify!r}")
    if not path.is_dir():
        raise EmbspaceError(f"{path} is not a .space folder (no such folder)")
    manifest = read_manifest(path)
    if manifest["format_version"] == 1:
        space = _load_v1(path, manifest, bool(verify), mmap)
    else:
        space = _load_v2(path, manifest, verify, mmap)
    space.info.setdefault("path", str(path))
    return space


def _load_v2(path: Path, manifest: dict, verify: bool | str, mmap: bool) -> Space:
    files = manifest["files"]
    n, dim = manifest["n"], manifest["dim"]
    checked = {
        name: _open_checked(path / name, entry, verify)
        for name, entry in files.items()
        if not name.startswith(ASSETS + "/")
    }
    vectors = _vectors_of(checked[VECTORS], path / VECTORS, n, dim, mmap)
    items = checked[ITEMS]
    parquet = _parquet_file(items, path / ITEMS)
    names = parquet.schema_arrow.names
    if "id" not in names or parquet.metadata.num_rows != n:
        raise CorruptSpaceError(
            path / ITEMS,
            f"has {parquet.metadata.num_rows} rows and columns {names}; expected {n} rows with an 'id' column",
        )
    id_type = parquet.schema_arrow.field("id").type
    if not (pa.types.is_string(id_type) or pa.types.is_large_string(id_type)):
        raise CorruptSpaceError(path / ITEMS, f"has ids of type {id_type}; expected strings; {_REBUILD}")
    index = None
    if ID_INDEX in checked:
        index = _matrix_of(checked[ID_INDEX], path / ID_INDEX, "<u8", (2, n))
    ids = IdColumn(parquet, path / ITEMS, n, index, checked.get(ID_INDEX))
    meta = LazyColumns(parquet, path / ITEMS, [c for c in names if c != "id"], n)
    guard = checked[VECTORS] if isinstance(checked[VECTORS], CheckedFile) else None
    norms = None
    if NORMS in checked:
        norms = (checked[NORMS], _matrix_of(checked[NORMS], path / NORMS, "<f4", (n,)))
    space = Space.opened(
        ids, vectors, meta, dict(manifest.get("info") or {}), manifest.get("metric", "cosine"), guard, norms
    )
    for name, entry in files.items():
        if name.startswith(EXTRAS + "/"):
            _check_extra_name(path, name)
            extra = checked[name]
            if isinstance(extra, CheckedFile):
                extra.check_all()
            space.extras[name[len(EXTRAS) + 1 : -len(".npy")]] = _vectors_of(extra, path / name, None, None, mmap)
        elif name.startswith(ASSETS + "/"):
            _check_asset_name(path, name)
            asset = _open_checked(path / name, entry, verify)
            if isinstance(asset, CheckedFile):
                asset.check_all()  # read by path later, by code that cannot check blocks as it reads
            space.assets[name[len(ASSETS) + 1 :]] = path / name
    if verify == "full":
        for file in checked.values():
            if isinstance(file, CheckedFile):
                file.check_all()
        check_content(space, path)
        check_id_index(space, path)
    return space


def _open_checked(path: Path, entry: dict, verify: bool | str) -> CheckedFile | Path:
    """The file, size-checked; a CheckedFile (blocks checked as they are read) unless `verify` is False."""
    _check_file(path, entry, False)
    return CheckedFile(path, entry) if verify else path


def _vectors_of(file: CheckedFile | Path, path: Path, n: int | None, dim: int | None, mmap: bool) -> np.ndarray:
    """A float32 (n, dim) matrix over a .npy file whose header is checked before numpy is given a byte of it."""
    return _matrix_of(file, path, "<f4", None if n is None else (n, dim), mmap)


def _matrix_of(file, path: Path, dtype: str, shape: tuple | None, mmap: bool = True) -> np.ndarray:
    if not isinstance(file, CheckedFile):
        return _open_npy(path, dtype, shape, mmap)
    # The header is parsed (and anything but a plain array refused) before a block is checked; its bytes are
    # checked with the first rows' block, when those are first read.
    found, offset = _npy_shape(path, dtype, shape)
    count = int(np.prod(found))
    if not mmap:
        file.check_all()
    array = np.frombuffer(file.view, dtype=dtype, count=count, offset=offset).reshape(found)
    return array if mmap else array.copy()


def _npy_shape(path: Path, dtype: str, shape: tuple | None) -> tuple[tuple, int]:
    # Read the header ourselves so a pickle (or any object array) is refused before numpy sees it.
    try:
        found, fortran, kind = read_npy_header(path)
    except ValueError as exc:
        raise CorruptSpaceError(path, f"is not a .npy array ({exc})") from None
    ndim = 2 if shape is None else len(shape)
    if kind != np.dtype(dtype) or fortran or len(found) != ndim or (shape is not None and found != shape):
        raise CorruptSpaceError(
            path, f"holds {kind} {found} (fortran_order={fortran}); expected {np.dtype(dtype)} {shape or '2-D'}"
        )
    return found, _check_npy_size(path, found, np.dtype(dtype).itemsize)


def _open_npy(path: Path, dtype: str, shape: tuple | None, mmap: bool) -> np.ndarray:
    _npy_shape(path, dtype, shape)
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except ValueError as exc:
        raise CorruptSpaceError(path, f"cannot be read ({exc})") from None


def _parquet_file(file: CheckedFile | Path, path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(file.reader() if isinstance(file, CheckedFile) else path)
    except CorruptSpaceError:
        raise
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise CorruptSpaceError(path, f"is not a readable Parquet file ({exc})") from None


def _check_extra_name(path: Path, name: str) -> None:
    if not re.fullmatch(EXTRAS + r"/[A-Za-z0-9_\-]+\.npy", name):
        raise CorruptSpaceError(path / MANIFEST, f"names an unsafe extra file {name!r}")


def _check_asset_name(path: Path, name: str) -> None:
    if not _ASSET_NAME.fullmatch(name[len(ASSETS) + 1 :]):
        raise CorruptSpaceError(path / MANIFEST, f"names an unsafe asset file {name[:80]!r}")


_NOTED: set[str] = set()


def _load_v1(path: Path, manifest: dict, verify: bool, mmap: bool) -> Space:
    """A space of format 1 (no block checksums): every file is checked whole, as before."""
    if verify and str(path.resolve()) not in _NOTED:
        _NOTED.add(str(path.resolve()))
        warnings.warn(
            f"{path} was written by an older embspace (format 1, no block checksums): it is checked whole each "
            "time it is opened; `embspace upgrade` rewrites it so it opens in constant time",
            SpaceNote,
            stacklevel=3,
        )
    files = manifest["files"]
    n, dim = manifest["n"], manifest["dim"]
    # Hashing releases the GIL: check the vectors in a thread while the items are checked and read.
    with ThreadPoolExecutor(1) as pool:
        vectors_ok = pool.submit(_check_file, path / VECTORS, files[VECTORS], verify)
        _check_file(path / ITEMS, files[ITEMS], verify)
        ids, meta = _read_items(path / ITEMS, n)
        vectors_ok.result()
    vectors = _open_npy(path / VECTORS, "<f4", (n, dim), mmap)
    info = dict(manifest.get("info") or {})
    space = Space(ids, vectors, meta, info, manifest.get("metric", "cosine"), check=False)
    for name, entry in files.items():
        if name.startswith(EXTRAS + "/"):
            _check_extra_name(path, name)
            _check_file(path / name, entry, verify)
            space.extras[name[len(EXTRAS) + 1 : -len(".npy")]] = _open_npy(path / name, "<f4", None, mmap)
        elif name.startswith(ASSETS + "/"):
            _check_asset_name(path, name)
            _check_file(path / name, entry, verify)
            space.assets[name[len(ASSETS) + 1 :]] = path / name
    if verify:
        check_content(space, path)
    return space


def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """The parsed, self-checked and schema-checked manifest.json of a space folder (format 1 or 2).

    Only a regular file of at most MAX_MANIFEST_BYTES is read: a symlink, a device, a FIFO or a
    folder named manifest.json is refused before a byte is read (a symlinked space *folder* is fine).
    """
    mpath = Path(path) / MANIFEST
    manifest = read_sealed(mpath, FORMAT, "format_version", (1, FORMAT_VERSION), _REBUILD, limit=MAX_MANIFEST_BYTES)
    check_fields(mpath, manifest, _SCHEMA, _REBUILD, optional=("metric", "dtype", "info", "meta_columns"))
    blocks = manifest["format_version"] >= 2
    for name, entry in manifest["files"].items():
        if not is_file_entry(entry):
            raise CorruptSpaceError(
                mpath, f"entry {name[:80]!r} of 'files' is {show(entry)}; expected {{size, sha256}}"
            )
        if blocks and not is_blocks_entry(entry.get("blocks"), entry["size"]):
            raise CorruptSpaceError(
                mpath, f"entry {name[:80]!r} of 'files' has no valid block checksums (one per block); {_REBUILD}"
            )
    for name in (VECTORS, ITEMS) + ((ID_INDEX,) if blocks else ()):
        if name not in manifest["files"]:
            raise CorruptSpaceError(mpath, f"lists no entry for {name}; {_REBUILD}")
    return manifest


MAX_MANIFEST_BYTES = 16 << 20
_REBUILD = "rebuild the space (embspace build / import) and save it again"
_SCHEMA = {
    "n": (is_count, "a whole number of rows"),
    "dim": (lambda v: is_count(v, 1), "a whole number of dimensions >= 1"),
    "metric": one_of(*METRICS),
    "dtype": one_of("float32"),
    "info": OBJECT,
    "meta_columns": (lambda v: isinstance(v, list) and all(isinstance(c, str) for c in v), "a list of names"),
    "files": (lambda v: isinstance(v, dict), "an object of name -> {size, sha256}"),
}


def is_space(path: str | os.PathLike) -> bool:
    return (Path(path) / MANIFEST).is_file()


def _manifest(space: Space, files: dict[str, dict]) -> dict[str, Any]:
    info = dict(space.info)
    info.pop("path", None)
    info.setdefault("created", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    info.setdefault("embspace_version", __version__)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "n": space.n,
        "dim": space.dim,
        "dtype": "float32",
        "metric": space.metric,
        "meta_columns": list(space.meta),
        "info": _jsonable(info),
        "files": files,
    }
    return manifest


def _jsonable(value: Any) -> Any:
    try:
        return json.loads(json.dumps(value, default=_json_default))
    except (TypeError, ValueError) as exc:
        raise EmbspaceError(f"space.info cannot be stored as JSON: {exc}") from None


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _write_vectors(vectors: np.ndarray, dest: Path) -> dict:
    n, dim = vectors.shape
    header = {"descr": "<f4", "fortran_order": False, "shape": (n, dim)}
    with open(dest, "wb") as fh:
        hw = HashingWriter(fh, BLOCK)
        np.lib.format.write_array_header_1_0(hw, header)  # a 2-D float32 header always fits v1.0
        step = max(1, (1 << 24) // (4 * dim))
        for start in range(0, n, step):
            hw.write(np.ascontiguousarray(vectors[start : start + step], dtype="<f4").data)
        fh.flush()
        os.fsync(fh.fileno())
    return hw.hasher.entry()


def _write_id_index(index: np.ndarray, dest: Path) -> dict:
    return _write_array(np.ascontiguousarray(index, dtype="<u8"), dest)


def _write_array(array: np.ndarray, dest: Path) -> dict:
    """A small array (the id index, the norms) as .npy, hashed in SMALL_BLOCK blocks as it is written."""
    array = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    with open(dest, "wb") as fh:
        hw = HashingWriter(fh, SMALL_BLOCK)
        header = {"descr": array.dtype.str, "fortran_order": False, "shape": tuple(array.shape)}
        np.lib.format.write_array_header_1_0(hw, header)
        hw.write(array.data)
        fh.flush()
        os.fsync(fh.fileno())
    return hw.hasher.entry()


def _write_asset(name: str, content: bytes | Path, dest: Path) -> dict:
    if not isinstance(name, str) or not _ASSET_NAME.fullmatch(name):
        raise EmbspaceError(f"asset name {str(name)[:80]!r} is not a plain file name (letters, digits, _ - and .ext)")
    if isinstance(content, Path):
        content = content.read_bytes()
    if not isinstance(content, (bytes, bytearray)):
        raise EmbspaceError(f"asset {name!r} is a {type(content).__name__}; expected bytes or a Path")
    write_durably(dest, bytes(content))
    hasher = BlockHasher(SMALL_BLOCK)
    hasher.update(content)
    return hasher.entry()


def _write_items(space: Space, dest: Path) -> dict:
    columns = {"id": space._id_array()}
    for name, values in space.meta.items():
        columns[name] = _arrow_column(name, values)
    pq.write_table(pa.table(columns), dest, compression="lz4", row_group_size=GROUP_ROWS)
    return _entry(dest, SMALL_BLOCK)


def _arrow_column(name: str, values) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise EmbspaceError(f"meta column {name!r} cannot be stored in Parquet: {exc}") from None


# ---- reading ------------------------------------------------------------------------------------
def _check_file(path: Path, entry: dict, verify: bool) -> None:
    try:
        st = os.lstat(path)  # a symlink is refused, not followed (it could lead to /dev/zero or a FIFO)
    except OSError:
        st = None
    if st is None or not stat.S_ISREG(st.st_mode):
        raise CorruptSpaceError(path, "missing (or not a regular file)")
    size = st.st_size
    if size != entry.get("size"):
        raise CorruptSpaceError(path, f"is {size} bytes; the manifest says {entry.get('size')} (truncated or altered)")
    if verify and sha256_file(path) != entry.get("sha256"):
        raise CorruptSpaceError(path, "sha256 does not match the manifest; the file was altered or damaged")


def _check_npy_size(path: Path, shape: tuple[int, ...], itemsize: int = 4) -> int:
    """The file holds exactly its header plus shape's values: nothing is allocated from a header's word.
    Returns where the values start."""
    with open(path, "rb") as fh:
        prefix = fh.read(12)
    # .npy 1.0: 10-byte preamble + uint16 header length; 2.0: 12-byte preamble + uint32 length
    if prefix[6:7] == b"\x01":
        offset = 10 + int.from_bytes(prefix[8:10], "little")
    else:
        offset = 12 + int.from_bytes(prefix[8:12], "little")
    if not all(is_count(side) for side in shape):
        raise CorruptSpaceError(path, f"declares shape {shape}; {_REBUILD}")
    expected = offset + itemsize * int(np.prod(shape, dtype=object))
    actual = path.stat().st_size
    if actual != expected:
        raise CorruptSpaceError(
            path, f"is {actual} bytes but its header declares {shape} values ({expected} bytes); {_REBUILD}"
        )
    return offset


def _read_items(path: Path, n: int) -> tuple[list[str], dict[str, list]]:
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise CorruptSpaceError(path, f"is not a readable Parquet file ({exc})") from None
    if "id" not in table.column_names or table.num_rows != n:
        raise CorruptSpaceError(
            path, f"has {table.num_rows} rows and columns {table.column_names}; expected {n} rows with an 'id' column"
        )
    ids = id_strings(table.column("id"), path)
    meta = {name: table.column(name).to_pylist() for name in table.column_names if name != "id"}
    return ids, meta


def check_content(space: Space, path: str | os.PathLike) -> None:
    """Refuse a space whose files are intact but whose content is not: NaN or Inf vectors, duplicate ids.

    `load(verify="full")` and `embspace verify` check both (and `load` does for a space of format 1).
    Raises CorruptSpaceError naming the file and the first bad row.
    """
    path = Path(path)
    vectors = space.vectors
    step = 1 << 16
    for start in range(0, vectors.shape[0], step):
        block = np.asarray(vectors[start : start + step])
        finite = np.isfinite(block).all(axis=1)
        if not finite.all():
            row = start + int(np.flatnonzero(~finite)[0])
            raise CorruptSpaceError(path / VECTORS, f"row {row} ({space._id_at(row)!r}) holds NaN or Inf; {_REBUILD}")
    for extra, matrix in space.extras.items():
        if not np.isfinite(np.asarray(matrix)).all():
            raise CorruptSpaceError(path / f"{EXTRAS}/{extra}.npy", f"holds NaN or Inf; {_REBUILD}")


def check_unique_ids(space: Space) -> None:
    """Refuse duplicate ids. Building the id lookup does (`embspace verify`, export, evaluate, lookups by id)."""
    space._lookup  # noqa: B018 - raises CorruptSpaceError naming the first repeated id


def check_id_index(space: Space, path: str | os.PathLike) -> None:
    """Refuse ids that repeat, or a stored id index that does not match the ids (every id is read and hashed)."""
    path = Path(path)
    stored = space._stored_id_index()
    if stored is None:
        return
    ids = space.ids
    found = sort_index(hash_index(ids))
    for pos in repeated_hashes(found):
        a, b = sorted((int(found[1, pos]), int(found[1, pos + 1])))
        if ids[a] == ids[b]:
            raise CorruptSpaceError(
                path / ITEMS, f"repeats the id {ids[a][:80]!r} (second at row {b}); ids must be unique; {_REBUILD}"
            )
    if not np.array_equal(found, stored):
        raise CorruptSpaceError(path / ID_INDEX, f"does not match the ids in {ITEMS}; {_REBUILD}")
