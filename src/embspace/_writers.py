"""Writing folders safely: one writer per path (an flock), temp folders of killed writers removed, durable files,
and an atomic swap of a finished folder into place. Shared by spaces, their indexes and their maps."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import json
import os
import shutil
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

from ._sealed import read_regular
from .errors import EmbspaceError

OWNER = ".writer"  # {"pid", "host"} of the process writing a temp folder; removed before it is published


@contextlib.contextmanager
def writer_lock(parent: Path, name: str) -> Iterator[None]:
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


def remove_stale_temps(parent: Path, name: str) -> None:
    """Remove `.NAME.tmp-*` folders left by writers of this host that were killed (their pid is gone).

    Called under the writer lock. A folder without a readable owner file (an older embspace, or a
    writer killed within microseconds of mkdir), or whose owner is alive or on another host, is kept.
    """
    prefix, host = f".{name}.tmp-", socket.gethostname()
    with os.scandir(parent) as entries:
        candidates = [Path(e.path) for e in entries if e.name.startswith(prefix) and e.is_dir(follow_symlinks=False)]
    for folder in candidates:
        try:
            owner = json.loads(read_regular(folder / OWNER, 4096, "a writer's owner file"))
        except (EmbspaceError, ValueError, UnicodeDecodeError):
            continue
        if isinstance(owner, dict) and owner.get("host") == host and not alive(owner.get("pid")):
            shutil.rmtree(folder, ignore_errors=True)


def alive(pid: Any) -> bool:
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


def write_durably(dest: Path, data: bytes) -> None:
    with open(dest, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_dir(new: Path, target: Path) -> None:
    """Put folder `new` at `target`. An existing target is swapped out atomically where the OS can."""
    if not target.exists():
        os.rename(new, target)
    elif rename_exchange_dirs(new, target):
        shutil.rmtree(new)  # `new` now holds the old space
    else:  # no atomic exchange: move the old one aside first; it stays recoverable under .old-*
        old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(target, old)
        os.rename(new, target)
        shutil.rmtree(old)
    fsync_dir(target.parent if str(target.parent) else Path("."))


def rename_exchange_dirs(a: Path, b: Path) -> bool:
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


@contextlib.contextmanager
def publishing(target: Path, check: Callable[[], Any] | None = None) -> Iterator[Path]:
    """A temporary folder beside `target` to fill; put in `target`'s place (atomically) once the block ends.

    Writers to one target take turns (`writer_lock`); `check` runs again under the lock (another writer
    may have finished meanwhile). Temp folders of killed writers are removed first, and the new one
    carries its owner (pid, host) until it is published, so a later writer can tell it is stale. On
    any error, or Ctrl-C, the temporary folder is removed and `target` is left as it was.
    """
    parent = target.parent
    with writer_lock(parent, target.name):
        if check is not None:
            check()
        remove_stale_temps(parent, target.name)
        tmp = parent / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            write_durably(tmp / OWNER, json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode())
            yield tmp
            (tmp / OWNER).unlink()
            fsync_dir(tmp)
            replace_dir(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
