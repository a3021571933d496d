"""JSON files that vouch for themselves: the space's manifest.json, an index's index.json, a map's map.json.

Each is read only from a regular file of bounded size (never a symlink, device, FIFO or folder),
parsed with every failure caught (nesting, 5,000-digit integers, bad UTF-8), checked for its format
name and version, then for a sha256 over its canonical content (the ``checksum`` field), and last
field by field against a schema (types, ranges, known names) before any value is used. A file that
fails any step is refused with a typed one-line error that says how to make it again.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import stat
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .errors import CorruptSpaceError

MAX_JSON_BYTES = 16 << 20
MAX_COUNT = 1 << 48  # far beyond any real n, dim or file size, far below what breaks int arithmetic
CHECKSUM = "checksum"

ErrorFactory = Callable[[Path, str], Exception]
Rule = tuple[Callable[[Any], bool], str]  # (test, what was expected)


def read_regular(path: Path, limit: int, hint: str, error: ErrorFactory = CorruptSpaceError) -> bytes:
    """The bytes of `path` if it is a regular file (not a symlink, device, FIFO or folder) of at most `limit` bytes."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)  # O_NONBLOCK: opening a FIFO does not wait for a writer
    except FileNotFoundError:
        raise error(path, f"missing; {hint}") from None
    except OSError as exc:  # ELOOP: a symlink; EACCES, ...
        raise error(path, f"cannot be opened as a regular file ({exc.strerror}); {hint}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(path, f"is not a regular file (a folder, device or pipe); {hint}")
        if st.st_size > limit:
            raise error(path, f"is {st.st_size} bytes, more than the {limit} it may be; {hint}")
        chunks, total = [], 0
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise error(path, f"is more than the {limit} bytes it may be; {hint}")
        return b"".join(chunks)
    finally:
        os.close(fd)


def checksum(content: dict) -> str:
    """``sha256:<hex>`` over the canonical JSON of `content` (sorted keys, no spaces, ASCII)."""
    body = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


def seal(content: dict) -> dict:
    """`content` with its ``checksum`` field (the checksum of everything else)."""
    content = {k: v for k, v in content.items() if k != CHECKSUM}
    content[CHECKSUM] = checksum(content)
    return content


def sealed_bytes(content: dict) -> bytes:
    """What a sealed JSON file holds: `content`, sealed, indented for people to read."""
    return (json.dumps(seal(content), indent=2, sort_keys=True) + "\n").encode()


def read_sealed(
    path: Path,
    fmt: str,
    version_key: str,
    version: int | tuple[int, ...],
    hint: str,
    *,
    error: ErrorFactory = CorruptSpaceError,
    limit: int = MAX_JSON_BYTES,
) -> dict[str, Any]:
    """The content of the sealed JSON file `path` (without its checksum), refused with `error` unless it is
    readable JSON of format `fmt`, at ``content[version_key]`` equal to `version` (or one of a tuple of them),
    and matches its checksum."""
    raw = read_regular(path, limit, hint, error)
    try:
        content = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # ValueError: also >4300-digit integers
        raise error(path, f"is not valid JSON ({exc.__class__.__name__}); {hint}") from None
    if not isinstance(content, dict) or content.get("format") != fmt:
        raise error(path, f"is not an {fmt} file; {hint}")
    found = content.get(version_key)
    versions = version if isinstance(version, tuple) else (version,)
    if type(found) is not int or found not in versions:
        said = " or ".join(map(str, versions))
        raise error(path, f"format version {show(found)}; this embspace reads version {said}; {hint}")
    stored = content.pop(CHECKSUM, None)
    try:
        expected = checksum(content)
    except (ValueError, RecursionError):  # nested too deep to serialise again
        expected = None
    if stored != expected:
        raise error(path, f"checksum does not match its content; the file was altered or damaged; {hint}")
    return content


def check_fields(
    path: Path,
    content: dict,
    rules: dict[str, Rule],
    hint: str,
    *,
    optional: Iterable[str] = (),
    error: ErrorFactory = CorruptSpaceError,
) -> None:
    """Refuse the first field of `content` that is missing (unless optional) or fails its rule, in one line."""
    optional = set(optional)
    for key, (test, expected) in rules.items():
        if key not in content:
            if key in optional:
                continue
            raise error(path, f"lacks the {key!r} field; {hint}")
        if not test(content[key]):
            raise error(path, f"field {key!r} is {show(content[key])}; expected {expected}; {hint}")


def show(value: Any, width: int = 40) -> str:
    """A short repr of a value from a file, for an error message."""
    text = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
    return text if len(text) <= width else text[: width - 1] + "…"


# ---- rules ----------------------------------------------------------------------------------------------------
def is_count(value: Any, low: int = 0, high: int = MAX_COUNT) -> bool:
    return type(value) is int and low <= value <= high


def is_number(value: Any, low: float = -math.inf, high: float = math.inf) -> bool:
    return type(value) in (int, float) and math.isfinite(value) and low <= value <= high


def is_sha256(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value) is not None


def is_file_entry(value: Any) -> bool:
    """``{"size": bytes, "sha256": hex}`` as manifests list files."""
    return isinstance(value, dict) and is_count(value.get("size")) and is_sha256(value.get("sha256"))


def one_of(*choices: Any) -> Rule:
    return (lambda v: isinstance(v, (str, int)) and not isinstance(v, bool) and v in choices), "one of " + ", ".join(
        map(repr, choices)
    )


COUNT: Rule = (is_count, "a whole number >= 0")
POSITIVE: Rule = (lambda v: is_count(v, 1), "a whole number >= 1")
SHA256: Rule = (is_sha256, "64 hex digits")
TEXT: Rule = (lambda v: isinstance(v, str) and len(v) <= 1000, "a short text")
OBJECT: Rule = (lambda v: isinstance(v, dict), "an object")
