"""Vectors as text, one row per line (GloVe, word2vec / fastText .vec, projector vecs.tsv).

Reading streams the file in newline-aligned blocks of ~16 MiB. Each block is parsed in C++ by
Arrow's CSV reader (multi-threaded); a block the fast parser rejects (a word holding spaces,
ragged rows, bad numbers, bad UTF-8, blank lines) is parsed again line by line, which either
succeeds or raises a FormatError naming the file and the line. Writing formats each float32 in
its shortest round-trip form (Arrow's CSV writer), so text round trips are exact.
"""

from __future__ import annotations

import codecs
import io
import os
import re
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from .._progress import progress
from .._spelling import spell
from ..errors import FormatError
from ._fasttext_bin import fasttext_settings, not_this_format
from ._io import ByteSource, Decoder

FIRST_BLOCK = 1 << 20  # small first block, so `limit=10` does not parse 16 MiB
BLOCK = 1 << 24
_TRAIL = " \t\r\x0b\x0c"
_FIELDS = re.compile(r"[ \t]+")
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|[-+]?(nan|inf|infinity)", re.IGNORECASE)
WRITE_BLOCK = 1 << 21  # values formatted per block when writing
_HEADER = re.compile(r"\s*([0-9]+)[ \t]+([0-9]+)\s*")
_FIELD_RUNS = re.compile(rb"[ \t]+")
MAX_DIM = 10_000  # the default cap on dimensions a file may declare or hold; max_dim= / --max-dim raise it
_MAX_COUNT_DIGITS = 18  # a row count beyond 10**18 is no file that exists


@dataclass
class TextVectors:
    ids: list[str] | None
    vectors: np.ndarray
    sha256: str | None  # None when the file was not read to its end (limit)
    header: tuple[int, int] | None
    complete: bool  # False when `limit` stopped the reading before the end of the rows
    rows: int = 0  # rows read (handed to `sink` when one was given; then `ids` is None and `vectors` empty)


def read_text(
    path: Path,
    fmt: str,
    *,
    header: bool,
    with_ids: bool,
    delimiter: str = " ",
    limit: int | None = None,
    show_progress: bool | None = None,
    decode: Decoder | None = None,
    max_dim: int = MAX_DIM,
    sink: Callable[[list[str] | None, np.ndarray], None] | None = None,
) -> TextVectors:
    """Read a text file of vectors.

    header : a ``COUNT DIM`` first line (word2vec, fastText .vec); else dim comes from line 1.
    with_ids : each row starts with its word (else rows are numbers only, as in vecs.tsv).
    decode : how bytes that are not UTF-8 are met (refused by default; see `Decoder`).
    max_dim : the most dimensions a header may declare or a first row may hold; found from a
        bounded prefix of the first row, before any of it is parsed.
    sink : called with each parsed and checked block ``(ids, vectors (b, dim))`` instead of keeping it, so
        memory holds a block (about 16 MiB of text), not the file; the caller then checks the ids are unique.
    """
    size = path.stat().st_size
    if size == 0:
        raise FormatError(f"{path}: the file is empty; expected {fmt} vectors")
    decode = decode or Decoder(more=binary_hints() if with_ids else ())
    with open(path, "rb") as fh, progress(total=size, desc=f"reading {path.name}", unit="B", show=show_progress) as bar:
        src = ByteSource(fh, path, bar)
        _sniff(src, path, fmt, decode)
        if src.pending.startswith(codecs.BOM_UTF8):
            src.pending = src.pending[len(codecs.BOM_UTF8) :]
        counts = _parse_header(src.header_line(), path, decode, max_dim) if header else None
        reader = _Rows(path, fmt, counts, with_ids, delimiter, limit, decode, max_dim, sink)
        line = 2 if header else 1
        size_hint = FIRST_BLOCK
        while (block := src.lines_block(size_hint, line)) is not None:
            size_hint = BLOCK
            lines = reader.add(block, line)
            if lines is None:
                break
            line += lines
        ids, vectors = reader.finish()
        return TextVectors(ids, vectors, src.sha256(), counts, complete=block is None, rows=reader.rows)


def too_many_dims(path: Path, line: int, dim, max_dim: int, source: str = "") -> str:
    """The message for a row or header wider than the dimension cap, naming the setting that raises it."""
    return (
        f"{path}, line {line}: {dim} dimensions{source}; more than the {max_dim:,} allowed, "
        f"so the file is refused before it is read: raise the cap with {spell('max_dim', metavar='N')} "
        "if it really is that wide"
    )


def binary_hints() -> tuple[str, ...]:
    """What to use instead when a file of words and vectors turns out to be binary."""
    return (f"for binary word2vec use {spell('format', 'word2vec-binary')}",)


def _sniff(src: ByteSource, path: Path, fmt: str, decode: Decoder) -> None:
    """Refuse binary files early, with one line, instead of buffering them in search of a newline."""
    src.fill(1 << 16)
    head = src.pending
    if b"\x00" in head:
        if fasttext_settings(head) is not None:
            raise not_this_format(path, fmt)
        instead = "; " + ", or ".join(decode.more) if decode.more else ""
        raise FormatError(f"{path}: holds NUL bytes, so it is not {fmt} text{instead}")
    if decode.strict:
        try:
            codecs.getincrementaldecoder("utf-8")().decode(head, final=src.eof)
        except UnicodeDecodeError as exc:
            raise decode.error(path, head, exc, 1) from None


def _parse_header(line: bytes, path: Path, decode: Decoder | None = None, max_dim: int = MAX_DIM) -> tuple[int, int]:
    text = (decode or Decoder())(line, path, 1)
    match = _HEADER.fullmatch(text)
    if match is None:
        fix = f"; a GloVe file has no header: use {spell('format', 'glove')}" if len(text.split()) > 2 else ""
        raise FormatError(
            f"{path}, line 1: expected a header 'COUNT DIM' such as '400000 50', got {text.strip()[:40]!r}{fix}"
        )
    digits = max(len(match.group(1).lstrip("0")), len(match.group(2).lstrip("0")))
    if digits > _MAX_COUNT_DIGITS:
        raise FormatError(
            f"{path}, line 1: the header 'COUNT DIM' holds a number of {digits:,} digits; this is not a word2vec header"
        )
    count, dim = int(match.group(1)), int(match.group(2))
    if dim > max_dim:
        raise FormatError(too_many_dims(path, 1, dim, max_dim, " (the header says so)"))
    if count == 0 or dim == 0:
        raise FormatError(
            f"{path}, line 1: the header says {count} vectors of dimension {dim}; the file holds no vectors"
        )
    return count, dim


class _Rows:
    """Collects parsed blocks; checks row counts against the header, finiteness and uniqueness."""

    def __init__(
        self, path, fmt, counts, with_ids, delimiter, limit, decode: Decoder, max_dim: int = MAX_DIM, sink=None
    ):
        self.max_dim, self.sink = max_dim, sink
        self.path, self.fmt, self.counts, self.with_ids = path, fmt, counts, with_ids
        self.delimiter, self.limit, self.decode = delimiter, limit, decode
        self.first_data_line = 2 if counts else 1
        self.parser: _BlockParser | None = None
        self.ids: list[str] = []
        self.blocks: list[np.ndarray] = []
        self.rows = 0

    def add(self, block: bytes, line: int) -> int | None:
        """Parse one block starting at `line`; returns its number of lines, or None once `limit` rows are in."""
        if self.parser is None:
            self.parser = self._make_parser(block, line)
        ids, vectors, lines = self.parser.parse(block, line)
        if self.limit is not None:
            keep = self.limit - self.rows
            vectors, ids = vectors[:keep], (None if ids is None else ids[:keep])
        if not len(vectors):
            return lines
        self._check_finite(ids, vectors, line)
        count = self.counts[0] if self.counts else None
        if count is not None and self.rows + len(vectors) > count:
            raise FormatError(
                f"{self.path}, line {self.first_data_line + count}: more rows than the "
                f"header's count ({count}, line 1); fix the count or remove the extra rows"
            )
        if self.sink is not None:
            self.sink(ids, vectors)
        else:
            self.blocks.append(vectors)
            if ids is not None:
                self.ids.extend(ids)
        self.rows += len(vectors)
        return lines if self.limit is None or self.rows < self.limit else None

    def finish(self) -> tuple[list[str] | None, np.ndarray]:
        if self.rows == 0:
            raise FormatError(f"{self.path}: holds no vectors; expected {self.fmt} rows")
        if self.counts and self.rows < min(self.counts[0], self.limit or self.counts[0]):
            raise FormatError(
                f"{self.path}, line {self.first_data_line + self.rows}: the file ends after "
                f"{self.rows} rows but the header (line 1) says {self.counts[0]}; "
                f"the file is truncated or the header is wrong"
            )
        if self.sink is not None:  # the blocks went to the sink; it checks the ids are unique
            return None, np.empty((0, self.parser.dim), dtype=np.float32)
        if self.with_ids:
            self._check_unique()
        vectors = self.blocks[0] if len(self.blocks) == 1 else np.concatenate(self.blocks)
        return (self.ids if self.with_ids else None), vectors

    def _make_parser(self, block: bytes, line: int) -> _BlockParser:
        end = block.find(b"\n")
        raw = block[: end if end >= 0 else len(block)].rstrip(b"\r\n")
        self._check_width(raw, line)
        text = self.decode(raw, self.path, line).rstrip(_TRAIL)
        trailing = raw.endswith(self.delimiter.encode())
        if not text:
            raise FormatError(f"{self.path}, line {line}: blank line where the first vector should be")
        fields = _FIELDS.split(text)
        if self.counts:
            dim_source = " (the header on line 1 says so)"
            if len(fields) - 1 < self.counts[1]:  # check before sizing a parser by the header's dim
                raise FormatError(
                    f"{self.path}, line {line}: {len(fields) - 1} values; expected {self.counts[1]}{dim_source}"
                )
            return _BlockParser(
                self.path, self.counts[1], self.with_ids, self.delimiter, trailing, dim_source, self.decode
            )
        dim = len(fields) - self.with_ids
        if self.with_ids and len(fields) == 2 and all(f.isascii() and f.isdigit() for f in fields):
            raise FormatError(
                f"{self.path}, line {line}: {text!r} looks like a word2vec header "
                f"(count dim), not a vector row; use {spell('format', 'word2vec')}"
            )
        if dim < 1:
            raise FormatError(
                f"{self.path}, line {line}: {text[:40]!r} holds no values; "
                f"expected {'a word and its' if self.with_ids else 'the'} numbers"
            )
        return _BlockParser(
            self.path, dim, self.with_ids, self.delimiter, trailing, f" (as on line {line})", self.decode
        )

    def _check_width(self, raw: bytes, line: int) -> None:
        """Refuse a first row of more than `max_dim` values from a bounded prefix, before parsing any of it."""
        allowed = self.max_dim + self.with_ids
        prefix = raw[: (allowed + 2) * 64]  # a field cut at its end is still a field: never over-counts
        fields = len(_FIELD_RUNS.split(prefix.strip(b" \t\r\x0b\x0c")))
        if fields > allowed:
            more = "+" if len(prefix) < len(raw) else ""
            raise FormatError(too_many_dims(self.path, line, f"{fields - self.with_ids:,}{more}", self.max_dim))

    def _check_finite(self, ids, vectors: np.ndarray, line: int) -> None:
        if np.isfinite(vectors).all():
            return
        row = int(np.flatnonzero(~np.isfinite(vectors).all(axis=1))[0])
        label = f"word {ids[row]!r}" if ids is not None else "the row"
        raise FormatError(f"{self.path}, line {line + row}: {label} holds NaN or Inf; fix or drop that row")

    def _check_unique(self) -> None:
        if len(set(self.ids)) == len(self.ids):
            return
        seen: dict[str, int] = {}
        for row, word in enumerate(self.ids):
            if word in seen:
                raise duplicate_word(self.path, self.first_data_line, seen[word], row, word, self.decode)
            seen[word] = row


def duplicate_word(path: Path, first_line: int, first_row: int, row: int, word: str, decode: Decoder) -> FormatError:
    """The error for `word` on data row `row` repeating data row `first_row` (rows from 0; data from `first_line`)."""
    return FormatError(
        f"{path}, line {first_line + row}: duplicate word {word!r} "
        f"(first on line {first_line + first_row}); words must be unique" + decode.lossy_hint("\ufffd" in word)
    )


class _BlockParser:
    """Parses newline-aligned blocks: Arrow's CSV reader first, a careful line-by-line parser second."""

    def __init__(
        self, path, dim: int, with_ids: bool, delimiter: str, trailing: bool, dim_source: str, decode: Decoder
    ):
        self.path, self.dim, self.with_ids, self.dim_source = path, dim, with_ids, dim_source
        self.decode = decode
        self.trailing = trailing
        names = (["id"] if with_ids else []) + [f"v{j}" for j in range(dim)] + (["end"] if trailing else [])
        types = {name: pa.float32() for name in names}
        types.update({"id": pa.string(), "end": pa.string()})
        self._read = pcsv.ReadOptions(column_names=names, block_size=1 << 22)
        self._parse = pcsv.ParseOptions(
            delimiter=delimiter, quote_char=False, double_quote=False, escape_char=False, ignore_empty_lines=False
        )
        self._convert = pcsv.ConvertOptions(
            column_types={k: types[k] for k in names},
            null_values=[],
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        )
        self.blank_line: int | None = None  # a blank line is fine only at the end of the file

    def parse(self, block: bytes, line: int) -> tuple[list[str] | None, np.ndarray, int]:
        """(ids or None, vectors of shape (rows, dim), number of lines in the block)."""
        if self.blank_line is None:
            fast = self._fast(block)
            if fast is not None:
                return fast
        return self._slow(block, line)

    def _fast(self, block: bytes):
        try:
            table = pcsv.read_csv(
                arrow_owned(block), read_options=self._read, parse_options=self._parse, convert_options=self._convert
            )
        except pa.ArrowException:
            return None
        # Arrow also breaks lines at a lone \r; where there is none, its rows are the block's lines.
        if b"\r" in block and table.num_rows != block.count(b"\n") + (not block.endswith(b"\n")):
            return None
        if self.trailing and pc.max(pc.utf8_length(table.column("end"))).as_py() > 0:
            return None
        ids = None
        if self.with_ids:
            column = table.column("id")
            if pc.min(pc.utf8_length(column)).as_py() == 0:
                return None
            ids = column.to_pylist()
        numbers = table.columns[1 : 1 + self.dim] if self.with_ids else table.columns[: self.dim]
        vectors = np.empty((table.num_rows, self.dim), dtype=np.float32)
        row = 0
        for k in range(numbers[0].num_chunks):  # one Arrow record batch at a time, cache-friendly
            chunk = [column.chunk(k).to_numpy() for column in numbers]
            vectors[row : row + len(chunk[0])] = np.column_stack(chunk)
            row += len(chunk[0])
        return ids, vectors, table.num_rows

    def _slow(self, block: bytes, line: int):
        lines = self.decode(block, self.path, line).split("\n")
        if block.endswith(b"\n"):
            lines.pop()
        ids: list[str] = []
        tokens: list[str] = []
        for k, raw in enumerate(lines):
            text = raw.rstrip(_TRAIL)
            if not text:
                self.blank_line = self.blank_line or line + k
                continue
            if self.blank_line is not None:
                raise FormatError(f"{self.path}, line {self.blank_line}: blank line between vectors; remove it")
            fields = _FIELDS.split(text)
            if self.with_ids:
                word, values = self._split_word(fields, line + k)
                ids.append(word)
            else:
                values = fields[1:] if fields[0] == "" else fields
                if len(values) != self.dim:
                    raise FormatError(
                        f"{self.path}, line {line + k}: {len(values)} values; expected {self.dim}{self.dim_source}"
                    )
            tokens.extend(values)
        return (ids if self.with_ids else None), self._numbers(tokens, ids, line), len(lines)

    def _split_word(self, fields: list[str], line: int) -> tuple[str, list[str]]:
        dim, count = self.dim, len(fields) - 1
        if fields[0] == "":
            raise FormatError(
                f"{self.path}, line {line}: starts with whitespace, so its word is empty" + self.decode.lossy_hint()
            )
        if count == dim:
            return fields[0], fields[1:]
        if count > dim and not any(_NUMBER.fullmatch(f) for f in fields[1 : count + 1 - dim]):
            # Real GloVe files hold a few words with spaces in them: the word is all before the numbers.
            return " ".join(fields[:-dim]), fields[-dim:]
        raise FormatError(
            f"{self.path}, line {line}: word {fields[0]!r} has {count} values; expected {dim}{self.dim_source}"
        )

    def _numbers(self, tokens: list[str], ids: list[str], line: int) -> np.ndarray:
        try:
            flat = pc.cast(pa.array(tokens, type=pa.string()), pa.float32())
        except pa.ArrowInvalid:
            raise self._locate_bad_number(tokens, ids, line) from None
        return flat.to_numpy(zero_copy_only=False).reshape(-1, self.dim)

    def _locate_bad_number(self, tokens: list[str], ids: list[str], line: int) -> FormatError:
        for row in range(len(tokens) // self.dim):
            for token in tokens[row * self.dim : (row + 1) * self.dim]:
                try:
                    pc.cast(pa.array([token]), pa.float32())
                except pa.ArrowInvalid:
                    word = f" (word {ids[row]!r})" if self.with_ids else ""
                    return FormatError(f"{self.path}, line {line + row}{word}: {token[:40]!r} is not a number")
        return FormatError(f"{self.path}, line {line}: values that are not numbers")


def arrow_owned(data: bytes) -> pa.Buffer:
    """A copy of `data` in Arrow's memory, for Arrow's threaded readers.

    Arrow's multi-threaded CSV reader may drop its last reference to its input in a worker thread
    after ``read_csv`` has returned. Were the input a Python object (``pa.py_buffer``), that worker
    would have to take the GIL to release it; when the interpreter is exiting by then (a one-line
    error right after a read), Python ends the worker with ``pthread_exit`` inside a C++ destructor
    and the process aborts ("terminate called without an active exception", exit 134) or hangs.
    Memory that Arrow owns is released without Python. The copy costs a memcpy per block.
    """
    buf = pa.allocate_buffer(len(data))
    np.frombuffer(buf, dtype=np.uint8)[:] = np.frombuffer(data, dtype=np.uint8)
    return buf


# ---- writing ------------------------------------------------------------------------------------
def write_text(
    fh, vectors: np.ndarray, ids: list[bytes] | None, delimiter: str = " ", header: bytes | None = None
) -> None:
    """Write rows ``[id<delimiter>]v1<delimiter>...vd\\n`` to the binary file `fh` (see `write_text_blocks`)."""
    step = max(1, WRITE_BLOCK // max(1, vectors.shape[1]))
    blocks = (
        (vectors[start : start + step], None if ids is None else ids[start : start + step])
        for start in range(0, vectors.shape[0], step)
    )
    write_text_blocks(fh, blocks, delimiter, header)


def write_text_blocks(
    fh, blocks: Iterable[tuple[np.ndarray, list[bytes] | None]], delimiter: str = " ", header: bytes | None = None
) -> None:
    """Write blocks of rows, each ``(vectors (b, dim), ids as UTF-8 bytes or None)``, to the binary file `fh`.

    Each float32 is written in its shortest form that reads back to the same float32. Blocks are
    formatted by Arrow in worker threads (it releases the GIL) and written in order; at most a
    few blocks are in memory at once, and `blocks` is consumed as the writing goes, so a space
    read a block at a time is written in memory bounded by a block.
    """
    if header:
        fh.write(header)
    workers = max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(workers) as pool:
        pending: deque = deque()
        for vectors, ids in blocks:
            fmt = _BlockFormatter(vectors, ids, delimiter)
            step = max(1, WRITE_BLOCK // max(1, vectors.shape[1]))
            for start in range(0, vectors.shape[0], step):
                pending.append(pool.submit(fmt, start, step))
                if len(pending) > workers:
                    fh.write(pending.popleft().result())
        while pending:
            fh.write(pending.popleft().result())


class _BlockFormatter:
    def __init__(self, vectors: np.ndarray, ids: list[bytes] | None, delimiter: str):
        self.vectors, self.ids, self.sep = vectors, ids, delimiter.encode()
        self.names = [f"v{j}" for j in range(vectors.shape[1])]
        self.options = pcsv.WriteOptions(include_header=False, delimiter=delimiter, quoting_style="none")

    def __call__(self, start: int, step: int) -> bytes:
        columns = np.ascontiguousarray(np.asarray(self.vectors[start : start + step], dtype=np.float32).T)
        out = io.BytesIO()
        pcsv.write_csv(pa.table([pa.array(c) for c in columns], names=self.names), out, self.options)
        body = out.getvalue()
        if self.ids is None:
            return body
        sep = self.sep
        return b"".join([w + sep + r + b"\n" for w, r in zip(self.ids[start : start + step], body.split(b"\n"))])
