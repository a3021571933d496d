"""The `.space` folder: manifest.json + vectors.npy (memory-mapped) + items.parquet.

Writes are atomic (temporary sibling folder, fsync, atomic exchange), one writer per path at a
time (an flock on `.NAME.lock`), and a save removes the temp folders of killed writers. Loads
open only regular files, check the manifest's schema and the size and sha256 of every file, and
never execute code from a file: no pickle anywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ._files import read_npy_header, sha256_file, writable_parent
from ._sealed import OBJECT, check_fields, is_count, is_file_entry, one_of, read_sealed, sealed_bytes, show
from ._spelling import spell
from ._version import __version__
from ._writers import publishing, write_durably
from .errors import CorruptSpaceError, EmbspaceError
from .space import METRICS, Space

FORMAT = "embspace.space"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
VECTORS = "vectors.npy"
ITEMS = "items.parquet"
EXTRAS = "extras"  # named float32 matrices that are not rows (e.g. fastText sub-word buckets)
ASSETS = "assets"  # named files: thumbnail sprite pages, a trained network (space.assets)
_ASSET_NAME = re.compile(r"[A-Za-z0-9_\-]+(\.[A-Za-z0-9]+)?")


def save(space: Space, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write `space` to the folder `path` (conventionally ending in ``.space``), atomically.

    An existing space at `path` is refused unless ``overwrite=True`` (the CLI's ``--force``):
    replacing it drops what lives in its folder beside the vectors (cached maps and ANN indexes).
    It is replaced only once the new one is complete; a folder that is not a space is never
    replaced. Writers to one path take turns; one that finds the space written meanwhile is
    refused as above. Returns the path.
    """
    path = Path(path)
    check_target(path, overwrite)
    with publishing(path, check=lambda: check_target(path, overwrite)) as tmp:
        files = {
            VECTORS: _write_vectors(space.vectors, tmp / VECTORS),
            ITEMS: _write_items(space, tmp / ITEMS),
        }
        if space.extras:
            (tmp / EXTRAS).mkdir()
        for name, matrix in space.extras.items():
            files[f"{EXTRAS}/{name}.npy"] = _write_vectors(matrix, tmp / EXTRAS / f"{name}.npy")
        if space.assets:
            (tmp / ASSETS).mkdir()
        for name, content in space.assets.items():
            files[f"{ASSETS}/{name}"] = _write_asset(name, content, tmp / ASSETS / name)
        write_durably(tmp / MANIFEST, sealed_bytes(_manifest(space, files)))
    return path


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


def load(path: str | os.PathLike, *, verify: bool = True, mmap: bool = True) -> Space:
    """Open a `.space` folder.

    Parameters
    ----------
    verify : bool
        Check the sha256 of every file (about 50 ms per 80 MB) and that every vector is finite. Sizes,
        headers and ids (non-empty strings) are always checked; `embspace verify` also checks ids are unique.
    mmap : bool
        Memory-map vectors.npy read-only (the default) instead of reading it into memory.
    """
    path = Path(path)
    if not path.is_dir():
        raise EmbspaceError(f"{path} is not a .space folder (no such folder)")
    manifest = read_manifest(path)
    files = manifest["files"]
    n, dim = manifest["n"], manifest["dim"]
    # Hashing releases the GIL: check the vectors in a thread while the items are checked and read.
    with ThreadPoolExecutor(1) as pool:
        vectors_ok = pool.submit(_check_file, path / VECTORS, files[VECTORS], verify)
        _check_file(path / ITEMS, files[ITEMS], verify)
        ids, meta = _read_items(path / ITEMS, n)
        vectors_ok.result()
    vectors = _open_vectors(path / VECTORS, n, dim, mmap)
    info = dict(manifest.get("info") or {})
    space = Space(ids, vectors, meta, info, manifest.get("metric", "cosine"), check=False)
    for name, entry in files.items():
        if name.startswith(EXTRAS + "/"):
            if not re.fullmatch(EXTRAS + r"/[A-Za-z0-9_\-]+\.npy", name):
                raise CorruptSpaceError(path / MANIFEST, f"names an unsafe extra file {name!r}")
            _check_file(path / name, entry, verify)
            space.extras[name[len(EXTRAS) + 1 : -len(".npy")]] = _open_vectors(path / name, None, None, mmap)
        elif name.startswith(ASSETS + "/"):
            if not _ASSET_NAME.fullmatch(name[len(ASSETS) + 1 :]):
                raise CorruptSpaceError(path / MANIFEST, f"names an unsafe asset file {name[:80]!r}")
            _check_file(path / name, entry, verify)
            space.assets[name[len(ASSETS) + 1 :]] = path / name
    if verify:
        check_content(space, path)
    space.info.setdefault("path", str(path))
    return space


def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """The parsed, self-checked and schema-checked manifest.json of a space folder.

    Only a regular file of at most MAX_MANIFEST_BYTES is read: a symlink, a device, a FIFO or a
    folder named manifest.json is refused before a byte is read (a symlinked space *folder* is fine).
    """
    mpath = Path(path) / MANIFEST
    manifest = read_sealed(mpath, FORMAT, "format_version", FORMAT_VERSION, _REBUILD, limit=MAX_MANIFEST_BYTES)
    check_fields(mpath, manifest, _SCHEMA, _REBUILD, optional=("metric", "dtype", "info", "meta_columns"))
    for name, entry in manifest["files"].items():
        if not is_file_entry(entry):
            raise CorruptSpaceError(
                mpath, f"entry {name[:80]!r} of 'files' is {show(entry)}; expected {{size, sha256}}"
            )
    for name in (VECTORS, ITEMS):
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
    digest = hashlib.sha256()
    with open(dest, "wb") as fh:
        hw = _HashingWriter(fh, digest)
        np.lib.format.write_array_header_1_0(hw, header)  # a 2-D float32 header always fits v1.0
        step = max(1, (1 << 24) // (4 * dim))
        for start in range(0, n, step):
            block = np.ascontiguousarray(vectors[start : start + step], dtype="<f4")
            hw.write(block.tobytes())
        fh.flush()
        os.fsync(fh.fileno())
    return {"size": dest.stat().st_size, "sha256": digest.hexdigest()}


class _HashingWriter:
    def __init__(self, fh, digest):
        self.fh, self.digest = fh, digest

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.fh.write(data)


def _write_asset(name: str, content: bytes | Path, dest: Path) -> dict:
    if not isinstance(name, str) or not _ASSET_NAME.fullmatch(name):
        raise EmbspaceError(f"asset name {str(name)[:80]!r} is not a plain file name (letters, digits, _ - and .ext)")
    if isinstance(content, Path):
        content = content.read_bytes()
    if not isinstance(content, (bytes, bytearray)):
        raise EmbspaceError(f"asset {name!r} is a {type(content).__name__}; expected bytes or a Path")
    write_durably(dest, bytes(content))
    return {"size": len(content), "sha256": hashlib.sha256(content).hexdigest()}


def _write_items(space: Space, dest: Path) -> dict:
    columns = {"id": pa.array(space.ids, type=pa.string())}
    for name, values in space.meta.items():
        try:
            columns[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise EmbspaceError(f"meta column {name!r} cannot be stored in Parquet: {exc}") from None
    pq.write_table(pa.table(columns), dest, compression="lz4")
    with open(dest, "rb+") as fh:
        os.fsync(fh.fileno())
    return {"size": dest.stat().st_size, "sha256": sha256_file(dest)}


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


def _open_vectors(path: Path, n: int | None, dim: int | None, mmap: bool) -> np.ndarray:
    # Read the header ourselves so a pickle (or any object array) is refused before numpy sees it.
    try:
        shape, fortran, dtype = read_npy_header(path)
    except ValueError as exc:
        raise CorruptSpaceError(path, f"is not a float32 .npy array ({exc})") from None
    if dtype != np.dtype("<f4") or fortran or len(shape) != 2 or (n is not None and shape != (n, dim)):
        raise CorruptSpaceError(path, f"holds {dtype} {shape} (fortran_order={fortran}); expected float32 ({n}, {dim})")
    _check_npy_size(path, shape)
    try:
        if mmap:
            return np.load(path, mmap_mode="r", allow_pickle=False)
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise CorruptSpaceError(path, f"cannot be read ({exc})") from None


def _check_npy_size(path: Path, shape: tuple[int, ...]) -> None:
    """The file holds exactly its header plus shape's float32 values: nothing is allocated from a header's word."""
    with open(path, "rb") as fh:
        prefix = fh.read(12)
    # .npy 1.0: 10-byte preamble + uint16 header length; 2.0: 12-byte preamble + uint32 length
    if prefix[6:7] == b"\x01":
        offset = 10 + int.from_bytes(prefix[8:10], "little")
    else:
        offset = 12 + int.from_bytes(prefix[8:12], "little")
    rows, cols = shape
    if not (is_count(rows) and is_count(cols)):
        raise CorruptSpaceError(path, f"declares shape {shape}; {_REBUILD}")
    expected = offset + 4 * rows * cols
    actual = path.stat().st_size
    if actual != expected:
        raise CorruptSpaceError(
            path, f"is {actual} bytes but its header declares {shape} float32 ({expected} bytes); {_REBUILD}"
        )


def _read_items(path: Path, n: int) -> tuple[list[str], dict[str, list]]:
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise CorruptSpaceError(path, f"is not a readable Parquet file ({exc})") from None
    if "id" not in table.column_names or table.num_rows != n:
        raise CorruptSpaceError(
            path, f"has {table.num_rows} rows and columns {table.column_names}; expected {n} rows with an 'id' column"
        )
    column = table.column("id")
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        raise CorruptSpaceError(path, f"has ids of type {column.type}; expected strings; {_REBUILD}")
    if column.null_count:
        row = pc.index(pc.is_null(column), True).as_py()
        raise CorruptSpaceError(path, f"has a null id at row {row}; ids must be non-empty strings; {_REBUILD}")
    empty = pc.equal(pc.utf8_length(column), 0)
    if pc.any(empty).as_py():
        row = pc.index(empty, True).as_py()
        raise CorruptSpaceError(path, f"has an empty id at row {row}; ids must be non-empty strings; {_REBUILD}")
    ids = column.to_pylist()
    meta = {name: table.column(name).to_pylist() for name in table.column_names if name != "id"}
    return ids, meta


def check_content(space: Space, path: str | os.PathLike) -> None:
    """Refuse a space whose files are intact but whose content is not: NaN or Inf vectors, duplicate ids.

    `load(verify=True)` checks the vectors (they were just read to hash them); `embspace verify` checks
    both. Raises CorruptSpaceError naming the file and the first bad row.
    """
    path = Path(path)
    vectors = space.vectors
    step = 1 << 16
    for start in range(0, vectors.shape[0], step):
        block = np.asarray(vectors[start : start + step])
        finite = np.isfinite(block).all(axis=1)
        if not finite.all():
            row = start + int(np.flatnonzero(~finite)[0])
            raise CorruptSpaceError(path / VECTORS, f"row {row} ({space.ids[row]!r}) holds NaN or Inf; {_REBUILD}")
    for extra, matrix in space.extras.items():
        if not np.isfinite(np.asarray(matrix)).all():
            raise CorruptSpaceError(path / f"{EXTRAS}/{extra}.npy", f"holds NaN or Inf; {_REBUILD}")


def check_unique_ids(space: Space) -> None:
    """Refuse duplicate ids. Building the id lookup does (`embspace verify`, export, evaluate, lookups by id)."""
    space._lookup  # noqa: B018 - raises CorruptSpaceError naming the first repeated id
