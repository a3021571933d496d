"""The `.space` folder: manifest.json + vectors.npy (memory-mapped) + items.parquet.

Writes are atomic (temporary sibling folder, fsync, atomic exchange), one writer per path at a
time (an flock on `.NAME.lock`), and a save removes the temp folders of killed writers. Loads
open only regular files, check the manifest's schema and the size and sha256 of every file, and
never execute code from a file: no pickle anywhere.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import hashlib
import json
import os
import re
import shutil
import socket
import stat
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ._files import read_npy_header, sha256_file, writable_parent
from ._spelling import spell
from ._version import __version__
from .errors import CorruptSpaceError, EmbspaceError
from .space import METRICS, Space

FORMAT = "embspace.space"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
VECTORS = "vectors.npy"
ITEMS = "items.parquet"
EXTRAS = "extras"  # named float32 matrices that are not rows (e.g. fastText sub-word buckets)


def save(space: Space, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write `space` to the folder `path` (conventionally ending in ``.space``), atomically.

    An existing space at `path` is refused unless ``overwrite=True`` (the CLI's ``--force``):
    replacing it drops what lives in its folder beside the vectors (cached maps and ANN indexes).
    It is replaced only once the new one is complete; a folder that is not a space is never
    replaced. Writers to one path take turns; one that finds the space written meanwhile is
    refused as above. Returns the path.
    """
    path = Path(path)
    parent = check_target(path, overwrite)
    with _writer_lock(parent, path.name):
        check_target(path, overwrite)  # again: another writer may have finished while this one waited
        _remove_stale_temps(parent, path.name)
        tmp = parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            _write_durably(tmp / _OWNER, json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode())
            files = {
                VECTORS: _write_vectors(space.vectors, tmp / VECTORS),
                ITEMS: _write_items(space, tmp / ITEMS),
            }
            if space.extras:
                (tmp / EXTRAS).mkdir()
            for name, matrix in space.extras.items():
                files[f"{EXTRAS}/{name}.npy"] = _write_vectors(matrix, tmp / EXTRAS / f"{name}.npy")
            manifest = _manifest(space, files)
            _write_durably(tmp / MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
            (tmp / _OWNER).unlink()
            _fsync_dir(tmp)
            _replace_dir(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
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
    raw = _read_regular(mpath, MAX_MANIFEST_BYTES)
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # ValueError: also >4300-digit integers
        raise CorruptSpaceError(mpath, f"is not valid JSON ({exc.__class__.__name__}); {_REBUILD}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CorruptSpaceError(mpath, f"is not an {FORMAT} manifest")
    stored = manifest.pop("checksum", None)
    try:
        checksum = _manifest_checksum(manifest)
    except (ValueError, RecursionError):  # nested too deep to re-serialise
        checksum = None
    if stored != checksum:
        raise CorruptSpaceError(mpath, "checksum does not match its content; the file was altered or damaged")
    _check_schema(mpath, manifest)
    return manifest


MAX_MANIFEST_BYTES = 16 << 20
_REBUILD = "rebuild the space (embspace build / import) and save it again"
_MAX_COUNT = 1 << 48  # far beyond any real n, dim or file size, far below what breaks int arithmetic


def _read_regular(path: Path, limit: int) -> bytes:
    """The bytes of `path` if it is a regular file (not a symlink, device, FIFO or folder) of at most `limit` bytes."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)  # O_NONBLOCK: opening a FIFO does not wait for a writer
    except FileNotFoundError:
        raise CorruptSpaceError(path, "missing; this folder is not a complete .space") from None
    except OSError as exc:  # ELOOP: a symlink; EACCES, ...
        raise CorruptSpaceError(path, f"cannot be opened as a regular file ({exc.strerror}); {_REBUILD}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise CorruptSpaceError(path, f"is not a regular file (a folder, device or pipe); {_REBUILD}")
        if st.st_size > limit:
            raise CorruptSpaceError(path, f"is {st.st_size} bytes, more than the {limit} a manifest may be; {_REBUILD}")
        chunks, total = [], 0
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise CorruptSpaceError(path, f"is more than the {limit} bytes a manifest may be; {_REBUILD}")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _is_count(value: Any, low: int = 0) -> bool:
    return type(value) is int and low <= value <= _MAX_COUNT


def _check_schema(mpath: Path, manifest: dict) -> None:
    """Refuse any field load() and the CLI use that has the wrong type, range or version (one line each)."""

    def bad(what: str) -> CorruptSpaceError:
        return CorruptSpaceError(mpath, f"{what}; {_REBUILD}")

    version = manifest.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:
        raise CorruptSpaceError(
            mpath, f"format version {str(version)[:40]!r}; this embspace reads version {FORMAT_VERSION}"
        )
    for key in ("n", "dim", "files"):
        if key not in manifest:
            raise bad(f"lacks the {key!r} field")
    if not _is_count(manifest["n"]):
        raise bad(f"field 'n' is {str(manifest['n'])[:40]!r}; expected a whole number of rows")
    if not _is_count(manifest["dim"], 1):
        raise bad(f"field 'dim' is {str(manifest['dim'])[:40]!r}; expected a whole number of dimensions >= 1")
    metric = manifest.get("metric", "cosine")
    if not isinstance(metric, str) or metric not in METRICS:
        raise bad(f"names an unknown metric {str(metric)[:40]!r} (valid: {', '.join(METRICS)})")
    if manifest.get("dtype", "float32") != "float32":
        raise bad(f"field 'dtype' is {str(manifest.get('dtype'))[:40]!r}; expected 'float32'")
    if not isinstance(manifest.get("info") or {}, dict):
        raise bad("field 'info' is not an object")
    columns = manifest.get("meta_columns", [])
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise bad("field 'meta_columns' is not a list of names")
    files = manifest["files"]
    if not isinstance(files, dict):
        raise bad(f"field 'files' is a {type(files).__name__}; expected an object of name -> {{size, sha256}}")
    for name, entry in files.items():
        if not isinstance(entry, dict):
            raise bad(f"entry {name[:80]!r} of 'files' is a {type(entry).__name__}; expected {{size, sha256}}")
        if not _is_count(entry.get("size")):
            raise bad(f"entry {name[:80]!r} of 'files' has size {str(entry.get('size'))[:40]!r}; expected bytes >= 0")
        sha = entry.get("sha256")
        if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
            raise bad(f"entry {name[:80]!r} of 'files' has no valid sha256")
    for name in (VECTORS, ITEMS):
        if name not in files:
            raise bad(f"lists no entry for {name}")


def is_space(path: str | os.PathLike) -> bool:
    return (Path(path) / MANIFEST).is_file()


# ---- writing ------------------------------------------------------------------------------------
_OWNER = ".writer"  # {"pid", "host"} of the process writing a temp folder; removed before it is published


@contextlib.contextmanager
def _writer_lock(parent: Path, name: str) -> Iterator[None]:
    """Hold an exclusive flock on `.NAME.lock` beside the space, so writers to one path take turns.

    The lock file is removed on release; a waiter that then holds a lock on a removed file
    opens the path again (the usual lock-file dance), so no `.lock` files pile up.
    """
    if fcntl is None:  # no flock (Windows): saves to one path are not serialised
        yield
        return
    lock = parent / f".{name}.lock"
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError as exc:
            raise EmbspaceError(f"cannot lock {lock} to write {parent / name} ({exc.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            held = os.fstat(fd)
            try:
                now = os.stat(lock, follow_symlinks=False)
            except FileNotFoundError:
                now = None
        except BaseException:
            os.close(fd)
            raise
        if now is not None and (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino):
            break
        os.close(fd)  # the previous holder removed the file we locked; lock the new one
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
        os.close(fd)


def _remove_stale_temps(parent: Path, name: str) -> None:
    """Remove `.NAME.tmp-*` folders left by writers of this host that were killed (their pid is gone).

    Called under the writer lock. A folder without a readable owner file (an older embspace, or a
    writer killed within microseconds of mkdir), or whose owner is alive or on another host, is kept.
    """
    prefix, host = f".{name}.tmp-", socket.gethostname()
    with os.scandir(parent) as entries:
        candidates = [Path(e.path) for e in entries if e.name.startswith(prefix) and e.is_dir(follow_symlinks=False)]
    for folder in candidates:
        try:
            owner = json.loads(_read_regular(folder / _OWNER, 4096))
        except (EmbspaceError, ValueError, UnicodeDecodeError):
            continue
        if isinstance(owner, dict) and owner.get("host") == host and not _alive(owner.get("pid")):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: Any) -> bool:
    """False only when `pid` surely names no running process (anything odd counts as alive)."""
    if type(pid) is not int or not 0 < pid < 1 << 31:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, someone else's
        return True
    return True


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
    manifest["checksum"] = _manifest_checksum(manifest)
    return manifest


def _manifest_checksum(manifest: dict) -> str:
    body = json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


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


def _write_durably(dest: Path, data: bytes) -> None:
    with open(dest, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace_dir(new: Path, target: Path) -> None:
    """Put folder `new` at `target`. An existing target is swapped out atomically where the OS can."""
    if not target.exists():
        os.rename(new, target)
    elif _rename_exchange(new, target):
        shutil.rmtree(new)  # `new` now holds the old space
    else:  # no atomic exchange: move the old one aside first; it stays recoverable under .old-*
        old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(target, old)
        os.rename(new, target)
        shutil.rmtree(old)
    _fsync_dir(target.parent if str(target.parent) else Path("."))


def _rename_exchange(a: Path, b: Path) -> bool:
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    try:
        libc = ctypes.CDLL(libc_name, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


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
    if not (0 <= rows <= _MAX_COUNT and 0 <= cols <= _MAX_COUNT):
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


def check_unique_ids(space: Space, path: str | os.PathLike) -> None:
    """Refuse duplicate ids (a set over all ids: `embspace verify`, not every load)."""
    if len(set(space.ids)) != space.n:
        seen: set[str] = set()
        for row, item in enumerate(space.ids):
            if item in seen:
                raise CorruptSpaceError(
                    Path(path) / ITEMS, f"repeats the id {item[:80]!r} (second at row {row}); {_REBUILD}"
                )
            seen.add(item)
