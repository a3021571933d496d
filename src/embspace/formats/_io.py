"""Shared plumbing for import/export: provenance, id checks, text decoding (atomic writes are in _files)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

from .._decoding import counted, counting, reset_count
from .._files import sha256_file
from .._spelling import spell
from ..errors import EmbspaceError, FormatError

# Files up to this size are hashed for provenance when the reader does not stream them anyway.
HASH_LIMIT = 256 << 20


def source_info(path: Path, sha256: str | None = None, *, hash_if_cheap: bool = False) -> dict:
    """Provenance of one input file: absolute path, size in bytes and (when known or cheap) sha256."""
    size = path.stat().st_size
    info = {"path": str(path.resolve()), "size": size}
    if sha256 is None and hash_if_cheap and size <= HASH_LIMIT:
        sha256 = sha256_file(path)
    if sha256 is not None:
        info["sha256"] = sha256
    return info


def existing_file(path: Path, what: str = "file") -> Path:
    if not path.exists():
        raise EmbspaceError(f"{path}: no such {what}")
    if not path.is_file():
        raise EmbspaceError(f"{path}: is not a regular file")
    return path


class FormatNote(UserWarning):
    """What an export changed so that the format can hold it (the CLI prints these as notes)."""


# ---- ids ----------------------------------------------------------------------------------------
WHITESPACE = " \t\n\r\x0b\x0c"
NEWLINES = "\n\r"


def check_ids_free_of(ids: Sequence[str], forbidden: str, fmt: str, path: Path, first_row: int = 0) -> None:
    """Refuse ids holding any character of `forbidden` (the file could not be read back); `ids` are the rows
    from `first_row` on (a block of a space written a block at a time)."""
    pattern = re.compile("[" + re.escape(forbidden) + "]")
    joined = "\x00".join(ids)  # one regex scan in C instead of a Python loop over ids
    match = pattern.search(joined)
    if match is None:
        return
    row = joined.count("\x00", 0, match.start())
    names = {" ": "a space", "\t": "a tab", "\n": "a newline", "\r": "a carriage return"}
    what = names.get(match.group(), f"whitespace {match.group()!r}")
    raise FormatError(
        f"cannot write {path}: id {ids[row]!r} (row {first_row + row}) contains {what}, which format {fmt!r} "
        f"cannot hold; rename the id or export with {_formats_holding(match.group(), fmt)}"
    )


def _formats_holding(char: str, fmt: str) -> str:
    """The formats besides `fmt` whose ids may hold `char`: Parquet any, numpy's ids file all but line breaks."""
    able = ["parquet"] + (["numpy"] if char not in NEWLINES and fmt != "numpy" else [])
    return " or ".join(spell("format", name) for name in able)


def encode_ids(ids: Sequence[str], path: Path) -> list[bytes]:
    try:
        return "\n".join(ids).encode("utf-8").split(b"\n")
    except UnicodeEncodeError as exc:
        raise FormatError(f"cannot write {path}: an id is not encodable as UTF-8 ({exc.reason})") from None


# ---- decoding -----------------------------------------------------------------------------------
ENCODING_ERRORS = ("strict", "replace", "ignore")


class Decoder:
    """UTF-8 decoding with one policy for a whole import, as gensim's ``unicode_errors``.

    ``strict`` refuses a bad byte with the file, the line and how to read it anyway (`more`: further
    advice, such as another format); ``replace`` (U+FFFD) and ``ignore`` count the bytes they
    replace or drop, per file name, in `undecodable`.
    """

    def __init__(self, errors: str = "strict", more: Sequence[str] = ()):
        if errors not in ENCODING_ERRORS:
            raise FormatError(f"encoding_errors must be one of {', '.join(ENCODING_ERRORS)}; got {errors!r}")
        self.errors, self.more = errors, tuple(more)
        self.undecodable: dict[str, int] = {}

    @property
    def strict(self) -> bool:
        return self.errors == "strict"

    def __call__(self, data: bytes, path: Path, first_line: int) -> str:
        """`data` as text; a strict error names the line of the first bad byte (counting from `first_line`)."""
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            if self.strict:
                raise self.error(path, data, exc, first_line) from None
        reset_count()
        text = data.decode("utf-8", counting(self.errors))
        self.undecodable[path.name] = self.undecodable.get(path.name, 0) + counted()
        return text

    def lossy_hint(self, replaced: bool = False) -> str:
        """For errors that bytes dropped (``ignore``) or replaced may have caused: what to try instead."""
        if not self.undecodable or (self.errors == "replace" and not replaced):
            return ""
        other = "strict" if self.errors == "replace" else "replace"
        done = "replaced" if self.errors == "replace" else "dropped"
        return f" (after bytes that are not UTF-8 were {done}; try {spell('encoding_errors', other)})"

    def error(self, path: Path, data: bytes, exc: UnicodeDecodeError, first_line: int) -> FormatError:
        return not_utf8(path, data, exc, first_line, utf8_hint(*self.more))


def undecodable_note(counts: dict[str, int], errors: str) -> str | None:
    """One line on the bytes a `Decoder` replaced or dropped (`counts` per file); None when there were none."""
    total = sum(counts.values())
    if not total:
        return None
    done = "replaced by U+FFFD" if errors == "replace" else "dropped"
    where = ", ".join(f"{name} {n:,}" if len(counts) > 1 else name for name, n in counts.items())
    were = "was" if total == 1 else "were"
    return (
        f"{total:,} byte{'s' if total != 1 else ''} that {were} not UTF-8 in {where} {were} {done}; "
        f"{spell('encoding_errors', 'strict')} refuses them"
    )


def utf8_hint(*more: str) -> str:
    """The advice after a strict UTF-8 error: re-save, read with replacement, or `more`."""
    fixes = ["re-save it as UTF-8", f"read it with {spell('encoding_errors', 'replace')} (bad bytes become U+FFFD)"]
    fixes += more
    return "; " + ", ".join(fixes[:-1]) + ", or " + fixes[-1]


def read_lines(path: Path, decode: Decoder | None = None) -> list[str]:
    """The UTF-8 lines of a small file without their ``\\n`` or ``\\r\\n``; a final newline adds no line."""
    decode = decode or Decoder()
    text = decode(path.read_bytes(), path, 1)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if "\r" in text:
        lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    return lines


def not_utf8(path: Path, data: bytes, exc: UnicodeDecodeError, first_line: int, hint: str = "") -> FormatError:
    line = first_line + data.count(b"\n", 0, exc.start)
    bad = data[exc.start : exc.start + 1].hex()
    return FormatError(f"{path}, line {line}: not UTF-8 text (byte 0x{bad}){hint}")


# ---- streaming input ----------------------------------------------------------------------------
class ByteSource:
    """A binary file read in blocks, hashed and counted on a progress bar as it goes.

    `lines_block` hands out blocks that end at a line break (or at the end of the file), so a
    text parser never sees half a line; `raw_block` hands out whatever is buffered plus more.
    """

    def __init__(self, fh, path: Path, bar, max_line: int = 1 << 23):
        self.fh, self.path, self.bar = fh, path, bar
        self.digest = hashlib.sha256()
        self.pending = b""
        self.eof = False
        self.max_line = max_line

    def read(self, size: int) -> bytes:
        data = self.fh.read(size)
        if data:
            self.digest.update(data)
            self.bar.update(len(data))
        else:
            self.eof = True
        return data

    def fill(self, size: int) -> None:
        """Make sure at least `size` bytes are buffered (fewer at the end of the file)."""
        while len(self.pending) < size and not self.eof:
            self.pending += self.read(max(size - len(self.pending), 1 << 16))

    def header_line(self) -> bytes:
        """The first line, with its line break."""
        while (end := self.pending.find(b"\n")) < 0 and not self.eof:
            self._guard_line(1)
            self.pending += self.read(1 << 16)
        end = len(self.pending) if end < 0 else end + 1
        line, self.pending = self.pending[:end], self.pending[end:]
        return line

    def lines_block(self, size: int, first_line: int) -> bytes | None:
        while True:
            buf = self.pending + (b"" if self.eof else self.read(size))
            if self.eof:
                self.pending = b""
                return buf or None
            cut = buf.rfind(b"\n") + 1
            if cut:
                self.pending = buf[cut:]
                return buf[:cut]
            self.pending = buf
            self._guard_line(first_line)

    def raw_block(self, size: int) -> bytes:
        buf, self.pending = self.pending + (b"" if self.eof else self.read(size)), b""
        return buf

    def _guard_line(self, line: int) -> None:
        if len(self.pending) > self.max_line:
            raise FormatError(
                f"{self.path}, line {line}: no line break in {self.max_line >> 20} MiB; "
                f"this is not a text file of vectors"
            )

    def sha256(self) -> str | None:
        """The file's sha256 if it was read to its end, else None."""
        if not self.eof and self.fh.read(1):
            return None
        return self.digest.hexdigest()
