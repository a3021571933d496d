"""Where corpus text comes from: input paths to sources, and sources to streamed lines.

A *source* is one file on disk: plain UTF-8 text, the same compressed (gzip, bzip2, xz), a zip
archive of text members, or a MediaWiki XML dump (plain or compressed). Kinds are found by
sniffing bytes, not trusting names. Every reader streams in blocks of `BLOCK` bytes, so memory
stays the same however long the corpus is.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import lzma
import os
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .._decoding import counted, counting, reset_count
from ..errors import EmbspaceError

BLOCK = 1 << 20  # bytes read at a time
MAX_LINE_CHARS = 1 << 20  # a line longer than this is cut at whitespace (text8 is one 100 MB line)
_SNIFF = 8192  # NUL bytes in this many leading bytes mark a binary file

_MAGIC = {b"\x1f\x8b": "gz", b"BZh": "bz2", b"\xfd7zXZ\x00": "xz", b"PK\x03\x04": "zip"}
_OPEN = {
    "gz": lambda fh: gzip.GzipFile(fileobj=fh, mode="rb"),
    "bz2": lambda fh: bz2.BZ2File(fh, mode="rb"),
    "xz": lambda fh: lzma.LZMAFile(fh, mode="rb"),
}
_STREAM_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError, zipfile.BadZipFile)
_ZIP_TEXT_SUFFIXES = {"", ".txt", ".text"}
_WIKI_MARKS = tuple("<mediawiki".encode(codec) for codec in ("utf-8", "utf-16-le", "utf-16-be"))

# (lines, last_is_partial): a batch of lines; when the flag is set the last line goes on in the
# next batch (it was cut because it grew past MAX_LINE_CHARS).
LineBatch = tuple[list[str], bool]
OnBytes = Callable[[int], None]
OnUndecodable = Callable[[str, int], None]  # (file or member name, bytes replaced or dropped there)


class UndecodableTextError(EmbspaceError):
    """A corpus file holds bytes that are not UTF-8 and `encoding_errors` is "strict".

    `str()` names the Python keyword that reads such files anyway; the CLI calls `message` with its flag.
    """

    def __init__(self, name: str, offset: int, byte: bytes):
        self.name, self.offset, self.byte = name, offset, byte
        super().__init__(self.message("encoding_errors='replace'"))

    def message(self, how: str) -> str:
        shown = f"byte 0x{self.byte[0]:02x}" if self.byte else "a truncated character"
        return (
            f"{self.name} is not UTF-8 text: {shown} near byte {self.offset:,}; "
            f"re-save it as UTF-8, or read it with {how} (undecodable bytes become U+FFFD)"
        )


class UndecodableBytesWarning(UserWarning):
    """Bytes that were not UTF-8 were replaced or dropped while a corpus was read."""


def undecodable_note(counts: dict[str, int], errors: str, strict: str) -> str:
    """One line saying how many bytes were replaced or dropped in which files, and how to refuse them.

    `strict` names the setting that refuses them (``encoding_errors='strict'``, ``--encoding-errors strict``).
    """
    total = sum(counts.values())
    done = "replaced (U+FFFD)" if errors == "replace" else "dropped"
    were = "was" if total == 1 else "were"
    if len(counts) == 1:
        where = next(iter(counts))
    else:
        shown = ", ".join(f"{name} {n:,}" for name, n in list(counts.items())[:3])
        where = f"{len(counts):,} files ({shown}{', …' if len(counts) > 3 else ''})"
    return f"{total:,} undecodable byte{'s' if total != 1 else ''} in {where} {were} {done}; {strict} to refuse them"


@dataclass(frozen=True)
class Source:
    """One input file: its path, what it holds and, for a zip, which members are read."""

    path: Path
    kind: str  # "text", "wiki" or "zip", with "+gz"/"+bz2"/"+xz" when compressed
    compression: str | None
    members: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def discover(paths) -> list[Source]:
    """Expand files and folders (recursively, sorted, hidden ones skipped) into sources."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    sources = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files = _folder_files(path)
            if not files:
                raise EmbspaceError(f"corpus folder {path} holds no files; put text files in it")
            sources.extend(_source(f) for f in files)
        elif path.is_file():
            sources.append(_source(path))
        elif path.exists():
            raise EmbspaceError(f"corpus path {path} is neither a file nor a folder")
        else:
            raise EmbspaceError(f"corpus path not found: {path}")
    if not sources:
        raise EmbspaceError("no corpus paths given; pass text files, folders, archives or a wiki dump")
    return sources


def _folder_files(folder: Path) -> list[Path]:
    files = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        files.extend(Path(root, n) for n in names if not n.startswith("."))
    return sorted((f for f in files if f.is_file()), key=lambda f: f.relative_to(folder).as_posix())


def _source(path: Path) -> Source:
    with open(path, "rb") as fh:
        magic = fh.read(8)
    compression = next((kind for sig, kind in _MAGIC.items() if magic.startswith(sig)), None)
    if compression == "zip":
        return Source(path, "zip", None, _zip_members(path))
    head = _head(path, compression)
    if any(mark in head for mark in _WIKI_MARKS):  # the XML parser reads UTF-8 and UTF-16 alike
        kind = "wiki"
    elif b"\x00" in head:
        raise _binary(path)
    else:
        kind = "text"
    return Source(path, kind + (f"+{compression}" if compression else ""), compression)


def _head(path: Path, compression: str | None) -> bytes:
    try:
        with open(path, "rb") as raw:
            stream = _OPEN[compression](raw) if compression else raw
            return stream.read(_SNIFF)
    except _STREAM_ERRORS as exc:
        raise _corrupt(path, compression, exc) from None


def _zip_members(path: Path) -> tuple[str, ...]:
    try:
        with zipfile.ZipFile(path) as zf:
            names = [info.filename for info in zf.infolist() if not info.is_dir()]
    except _STREAM_ERRORS as exc:
        raise _corrupt(path, "zip", exc) from None
    members = sorted(n for n in names if _is_text_member(n))
    if not members:
        raise EmbspaceError(
            f"{path}: the zip holds no text members (.txt files or files without an "
            f"extension); found {len(names)} other files"
        )
    return tuple(members)


def _is_text_member(name: str) -> bool:
    parts = name.split("/")
    if "__MACOSX" in parts or any(p.startswith(".") for p in parts):
        return False
    return os.path.splitext(parts[-1])[1].lower() in _ZIP_TEXT_SUFFIXES


# ---- reading -------------------------------------------------------------------------------------
def read_batches(
    source: Source, on_bytes: OnBytes, errors: str = "strict", on_undecodable: OnUndecodable | None = None
) -> Iterator[LineBatch]:
    """Stream one source as batches of lines; `on_bytes(n)` is told of each n file bytes consumed.

    `errors` is the UTF-8 decoding policy for text ("strict", "replace" or "ignore");
    `on_undecodable(name, n)` is told, at the end of each file or zip member, of the n bytes that
    were replaced or dropped in it (when n > 0).
    """
    if source.kind.startswith("wiki"):
        from ._corpus_wiki import read_wiki

        yield from _counted(source, on_bytes, lambda raw: read_wiki(_decompressed(raw, source), str(source.path)))
    elif source.kind == "zip":
        yield from _counted(source, on_bytes, lambda raw: _zip_batches(raw, source, errors, on_undecodable))
    else:
        yield from _counted(
            source,
            on_bytes,
            lambda raw: stream_lines(_decompressed(raw, source), str(source.path), errors, on_undecodable),
        )


def _counted(source: Source, on_bytes: OnBytes, batches: Callable[[BinaryIO], Iterator[LineBatch]]):
    """Run `batches` over the open file, reporting how far into the file each batch got."""
    done = 0
    with open(source.path, "rb") as raw:
        try:
            for batch in batches(raw):
                pos = raw.tell()
                if pos > done:
                    on_bytes(pos - done)
                    done = pos
                yield batch
        except _STREAM_ERRORS as exc:
            raise _corrupt(source.path, source.compression or source.kind, exc) from None
    on_bytes(source.size - done)


def _decompressed(raw: BinaryIO, source: Source) -> BinaryIO:
    return _OPEN[source.compression](raw) if source.compression else raw


def _zip_batches(
    raw: BinaryIO, source: Source, errors: str, on_undecodable: OnUndecodable | None
) -> Iterator[LineBatch]:
    with zipfile.ZipFile(raw) as zf:
        for member in source.members:
            with zf.open(member) as stream:
                yield from stream_lines(stream, f"{source.path}:{member}", errors, on_undecodable)


def stream_lines(
    stream: BinaryIO, name: str, errors: str = "strict", on_undecodable: OnUndecodable | None = None
) -> Iterator[LineBatch]:
    """UTF-8 lines of a binary stream, a block at a time; CRLF and a leading BOM are handled.

    Refuses a stream with NUL bytes near its start (binary) and, when `errors` is "strict", any
    byte sequence that is not UTF-8, naming `name` and the byte offset (UndecodableTextError).
    With "replace" or "ignore", the bytes replaced or dropped are counted and, when there are
    any, `on_undecodable(name, count)` is called once the stream has been read to its end.
    """
    decoder = codecs.getincrementaldecoder("utf-8-sig")(counting(errors))
    pending, offset, first, undecodable = "", 0, True, 0
    while True:
        block = stream.read(BLOCK)
        if first:
            if b"\x00" in block[:_SNIFF]:
                raise _binary(name)
            first = False
        final = not block
        reset_count()  # the handlers count into this thread's tally during this one call
        try:
            text = decoder.decode(block, final)
        except UnicodeDecodeError as exc:
            # exc.object is the decoder's held-back bytes followed by this block
            at = offset + exc.start - (len(exc.object) - len(block))
            raise UndecodableTextError(name, max(at, 0), exc.object[exc.start : exc.start + 1]) from None
        undecodable += counted()
        offset += len(block)
        if pending:
            text = pending + text
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        lines = text.split("\n")
        if final:
            if lines[-1].endswith("\r"):
                lines[-1] = lines[-1][:-1]
            if undecodable and on_undecodable is not None:
                on_undecodable(name, undecodable)
            yield lines, False
            return
        pending = lines.pop()
        partial = len(pending) > MAX_LINE_CHARS
        if partial:
            lines.append(_cut(pending))
            pending = pending[len(lines[-1]) :]
        if lines:
            yield lines, partial


def _cut(text: str) -> str:
    """The head of an over-long line, cut just after its last space or tab so no word is split."""
    at = max(text.rfind(" "), text.rfind("\t"))
    return text[: at + 1] if at > 0 else text


# ---- errors --------------------------------------------------------------------------------------
def _binary(name) -> EmbspaceError:
    return EmbspaceError(
        f"{name} is a binary file, not text (NUL bytes in its first 8 KB); "
        "pass UTF-8 text files (re-save UTF-16 text as UTF-8)"
    )


def _corrupt(path, what, exc) -> EmbspaceError:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return EmbspaceError(
        f"{path}: cannot read it as {what or 'a file'} ({reason}); the file may be truncated or damaged"
    )
