"""The binary word2vec format of the C tool and gensim: ``COUNT DIM\\n`` then ``word<space><dim x float32 LE>``.

The C tool writes a ``\\n`` after each vector; gensim does not. Both are read; ``write`` matches
gensim's ``save_word2vec_format(binary=True)`` byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from .._progress import progress
from .._spelling import spell
from ..errors import FormatError
from ._fasttext_bin import not_this_format, sniff_fasttext_bin
from ._io import ByteSource, Decoder
from ._text import MAX_DIM, _parse_header

BLOCK = 1 << 24
MAX_WORD = 1 << 16
_TEXT_NUMBERS = re.compile(rb"[0-9eE+\-. \t\r\n]+")


def read_word2vec_binary(
    path: Path,
    *,
    limit: int | None = None,
    show_progress: bool | None = None,
    decode: Decoder | None = None,
    max_dim: int = MAX_DIM,
    sink: Callable[[list[str], np.ndarray], None] | None = None,
):
    """Returns ``(ids, vectors, sha256 or None, (count, dim))``; `decode` meets words that are not UTF-8.

    A header declaring more than `max_dim` dimensions is refused before anything is allocated. With `sink`,
    each block of rows (16 MiB of the file) is checked (words, finiteness) and handed to ``sink(words,
    vectors)`` instead of kept, and ids and vectors come back as None: memory holds a block, not the file; the
    caller then checks the words are unique.
    """
    decode = decode or Decoder()
    if sniff_fasttext_bin(path) is not None:
        raise not_this_format(path, "word2vec-binary")
    size = path.stat().st_size
    if size == 0:
        raise FormatError(f"{path}: the file is empty; expected word2vec-binary vectors")
    with open(path, "rb") as fh, progress(total=size, desc=f"reading {path.name}", unit="B", show=show_progress) as bar:
        src = ByteSource(fh, path, bar)
        header = src.header_line()
        count, dim = _parse_header(header, path, decode, max_dim)
        want = count if limit is None else min(count, limit)
        if (size - len(header)) < want * (4 * dim + 2):
            raise FormatError(
                f"{path}: the header says {count} vectors of dimension {dim} but the file is "
                f"only {size} bytes; it is truncated, or not word2vec-binary"
            )
        reader = _Reader(path, dim, want, len(header), keep=sink is None)
        while reader.rows < want:
            buf = src.raw_block(BLOCK)
            rest = reader.consume(buf)
            if sink is not None and reader.raw_words:
                first = reader.rows - len(reader.raw_words)
                words, vectors = reader.take(decode)
                _check_rows(path, words, vectors, first)
                sink(words, vectors)
            if src.eof and len(rest) == len(buf):
                break  # nothing complete left: the file is truncated
            src.pending = rest
        if reader.rows < want:
            raise FormatError(
                f"{path}: the header says {count} vectors but the file ends after "
                f"{reader.rows}; it is truncated, or not word2vec-binary"
            )
        if want == count:
            _check_no_more_data(src, path, count)
        if sink is not None:
            return None, None, src.sha256(), (count, dim)
        ids = reader.words(decode)
        vectors = reader.vectors
        _check_rows(path, ids, vectors)
        return ids, vectors, src.sha256(), (count, dim)


class _Reader:
    def __init__(self, path: Path, dim: int, want: int, offset: int, keep: bool = True):
        self.path, self.dim, self.want = path, dim, want
        self.width = 4 * dim
        # every row in one array, or (keep=False) the rows of the blocks not yet taken
        self.vectors = np.empty((want, dim), dtype=np.float32) if keep else None
        self.blocks: list[np.ndarray] = []
        self.raw_words: list[bytes] = []
        self.rows = 0
        self.offset = offset  # file offset of the first byte of the next buffer

    def consume(self, buf: bytes) -> bytes:
        """Take every complete row out of `buf`; return the incomplete tail."""
        pos, width, end = 0, self.width, len(buf)
        starts: list[int] = []
        room = self.want - self.rows
        while len(starts) < room:
            while pos < end and buf[pos] == 10:  # the C tool's newline after each vector
                pos += 1
            space = buf.find(b" ", pos, pos + MAX_WORD)
            if space < 0 or space + 1 + width > end:
                if space < 0 and end - pos >= MAX_WORD:
                    raise FormatError(
                        f"{self.path}, row {self.rows + len(starts) + 1} (byte {self.offset + pos}): "
                        f"no word ends there; the file is damaged or not word2vec-binary"
                    )
                break
            if space == pos:
                raise FormatError(
                    f"{self.path}, row {self.rows + len(starts) + 1} (byte {self.offset + pos}): "
                    f"empty word; the file is damaged or not word2vec-binary"
                )
            self.raw_words.append(buf[pos:space])
            starts.append(space + 1)
            pos = space + 1 + width
        if starts:
            if self.rows == 0 and _TEXT_NUMBERS.fullmatch(buf[starts[0] : starts[0] + width]):
                fix = spell("format", "word2vec")
                raise FormatError(f"{self.path}: the first vector is written as text; use {fix} for text files")
            data = b"".join([buf[s : s + width] for s in starts])
            rows = np.frombuffer(data, dtype="<f4").reshape(-1, self.dim)
            if self.vectors is None:
                self.blocks.append(rows.astype(np.float32))
            else:
                self.vectors[self.rows : self.rows + len(starts)] = rows
            self.rows += len(starts)
        self.offset += pos
        return buf[pos:]

    def take(self, decode: Decoder) -> tuple[list[str], np.ndarray]:
        """The words and vectors of the rows read since the last take (keep=False), handed over and let go."""
        words = self.words(decode, self.rows - len(self.raw_words))
        vectors = self.blocks[0] if len(self.blocks) == 1 else np.concatenate(self.blocks)
        self.raw_words, self.blocks = [], []
        return words, vectors

    def words(self, decode: Decoder, first: int = 0) -> list[str]:
        joined = b"\n".join(self.raw_words)
        try:
            words = joined.decode("utf-8").split("\n")
            if len(words) == len(self.raw_words):
                return words
        except UnicodeDecodeError:
            pass
        return [self._decode(first + i, w, decode) for i, w in enumerate(self.raw_words)]

    def _decode(self, row: int, word: bytes, decode: Decoder) -> str:
        try:
            return word.decode("utf-8")
        except UnicodeDecodeError:
            if decode.strict:
                fix = spell("encoding_errors", "replace")
                raise FormatError(
                    f"{self.path}, row {row + 1}: word {word[:40]!r} is not UTF-8; the file is damaged or "
                    f"uses another encoding: read it with {fix} (bad bytes become U+FFFD)"
                ) from None
        return decode(word, self.path, row + 1)


def _check_no_more_data(src: ByteSource, path: Path, count: int) -> None:
    rest = src.pending + src.read(1 << 16)
    if rest.strip():
        raise FormatError(
            f"{path}: more data after the {count} vectors the header (line 1) announces; "
            f"fix the count, or the file is not word2vec-binary"
        )


def _check_rows(path: Path, ids: list[str], vectors: np.ndarray, first: int | None = None) -> None:
    """Refuse a row with NaN or Inf and (for the whole file: `first` None) a repeated word."""
    if not np.isfinite(vectors).all():
        row = int(np.flatnonzero(~np.isfinite(vectors).all(axis=1))[0])
        raise FormatError(
            f"{path}, row {(first or 0) + row + 1}: word {ids[row]!r} holds NaN or Inf; fix or drop that row"
        )
    if first is not None:  # a block: the writer finds repeats across the whole file
        return
    if len(set(ids)) != len(ids):
        seen: dict[str, int] = {}
        for row, word in enumerate(ids):
            if word in seen:
                raise FormatError(
                    f"{path}, row {row + 1}: duplicate word {word!r} (first at row {seen[word] + 1}); "
                    f"words must be unique"
                )
            seen[word] = row


def write_word2vec_binary(fh, vectors: np.ndarray, ids: list[bytes]) -> None:
    """Write the header and rows; the same bytes as gensim's ``save_word2vec_format(binary=True)``."""
    write_word2vec_binary_blocks(fh, vectors.shape[0], vectors.shape[1], [(vectors, ids)])


def write_word2vec_binary_blocks(fh, n: int, dim: int, blocks: Iterable[tuple[np.ndarray, list[bytes]]]) -> None:
    """Write the header for `n` rows of `dim` and then `blocks` of ``(vectors (b, dim), ids as UTF-8 bytes)``
    as they come, so memory holds a block, not the space."""
    fh.write(f"{n} {dim}\n".encode())
    width = 4 * dim
    step = max(1, (1 << 22) // width)
    for vectors, ids in blocks:
        for start in range(0, vectors.shape[0], step):
            block = np.ascontiguousarray(vectors[start : start + step], dtype="<f4").tobytes()
            fh.write(
                b"".join(
                    [w + b" " + block[i * width : (i + 1) * width] for i, w in enumerate(ids[start : start + step])]
                )
            )
