"""Streaming corpora for the word-space builders: one tokenizer, one reader for every input kind.

`Corpus` reads plain UTF-8 text, folders of it, gzip/bzip2/xz-compressed text, zip archives and
MediaWiki XML dumps, a block at a time, so memory does not grow with corpus length. `Tokenizer`
turns a line into tokens the same way for every method; `Vocab` counts and encodes them.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from .._files import sha256_file
from .._progress import progress
from ..errors import EmbspaceError
from ._corpus_read import Source, discover, read_batches
from ._corpus_vocab import Vocab

__all__ = ["DEFAULT_PATTERN", "Corpus", "Tokenizer", "Vocab"]

#: Words of any script with inner apostrophes, hyphens or underscores (``don't``, ``x-ray``,
#: ``snake_case``), and numbers with inner points or commas (``3.5``, ``1,000``). Never a token of
#: underscores or punctuation alone.
_ENCODING_ERRORS = ("strict", "replace", "ignore")

DEFAULT_PATTERN = r"[^\W_]+(?:['’\-_][^\W_]+|(?<=\d)[.,]\d+)*"


class Tokenizer:
    """Text to tokens: Unicode NFC, case folding (by default) and a regular expression.

    Parameters
    ----------
    lowercase : bool
        Case-fold the text first (``str.casefold``: ``"Straße"`` becomes ``"strasse"``).
    pattern : str
        Regular expression whose every match is a token; it must have no capturing groups.
    min_length : int
        Tokens shorter than this many characters are dropped.

    Examples
    --------
    >>> Tokenizer()("Don't panic: 3.5 x-rays!")
    ["don't", 'panic', '3.5', 'x-rays']
    """

    def __init__(self, lowercase: bool = True, pattern: str = DEFAULT_PATTERN, min_length: int = 1):
        try:
            compiled = re.compile(pattern)
        except (re.error, TypeError) as exc:
            raise EmbspaceError(
                f"tokenizer pattern {pattern!r} is not a valid regular expression ({exc}); pass a Python `re` pattern"
            ) from None
        if compiled.groups:
            raise EmbspaceError(f"tokenizer pattern {pattern!r} has capturing groups; write groups as (?:...)")
        if not isinstance(min_length, int) or min_length < 1:
            raise EmbspaceError(f"min_length must be a whole number >= 1, got {min_length!r}")
        self.lowercase = bool(lowercase)
        self.pattern = pattern
        self.min_length = min_length
        self._findall = compiled.findall

    def __call__(self, text: str) -> list[str]:
        if not text.isascii():
            text = unicodedata.normalize("NFC", text)
        if self.lowercase:
            text = text.casefold()
        tokens = self._findall(text)
        if self.min_length > 1:
            n = self.min_length
            tokens = [t for t in tokens if len(t) >= n]
        return tokens

    def to_dict(self) -> dict:
        """The settings, for a manifest; ``Tokenizer.from_dict`` makes the same tokenizer again."""
        return {
            "lowercase": self.lowercase,
            "pattern": self.pattern,
            "min_length": self.min_length,
            "normalize": "NFC",
            "case": "casefold" if self.lowercase else "kept",
        }

    @classmethod
    def from_dict(cls, settings: dict) -> Tokenizer:
        return cls(
            lowercase=settings.get("lowercase", True),
            pattern=settings.get("pattern", DEFAULT_PATTERN),
            min_length=settings.get("min_length", 1),
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tokenizer) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"Tokenizer(lowercase={self.lowercase}, pattern={self.pattern!r}, min_length={self.min_length})"


class Corpus:
    """A re-iterable stream of tokenised sentences read from files, folders, archives or wiki dumps.

    Parameters
    ----------
    paths : path or list of paths
        Any mix of UTF-8 text files, folders (read recursively in path order, hidden files
        skipped), ``.gz``/``.bz2``/``.xz`` compressed text, ``.zip`` archives (members ending in
        ``.txt`` or with no extension) and MediaWiki XML dumps (plain or compressed). Kinds are
        found from the bytes, not the names.
    tokenizer : Tokenizer, optional
        Defaults to ``Tokenizer()``.
    max_sentence_length : int
        A line of more tokens is split into sentences of at most this many tokens.
    encoding_errors : {"strict", "replace", "ignore"}
        What to do with bytes that are not UTF-8: refuse the file, naming it and the offset (the
        default), read them as U+FFFD (which splits a token there), or drop them. Replaced or
        dropped bytes are counted per file in `undecodable` (and in `describe()`).

    Each line is a sentence (a paragraph for wiki dumps); lines without tokens are skipped. A line
    longer than 1 Mi characters is read in pieces cut at spaces, so memory stays bounded.

    Examples
    --------
    >>> corpus = Corpus(["reviews.zip", "more/"])           # doctest: +SKIP
    >>> vocab = Vocab.build(corpus, min_count=5)              # doctest: +SKIP
    >>> corpus.write_line_corpus("corpus.txt")                # doctest: +SKIP
    """

    def __init__(
        self,
        paths,
        tokenizer: Tokenizer | None = None,
        max_sentence_length: int = 10_000,
        encoding_errors: str = "strict",
    ):
        if not isinstance(max_sentence_length, int) or max_sentence_length < 1:
            raise EmbspaceError(f"max_sentence_length must be a whole number >= 1, got {max_sentence_length!r}")
        if encoding_errors not in _ENCODING_ERRORS:
            raise EmbspaceError(
                f"encoding_errors must be one of {', '.join(_ENCODING_ERRORS)}, got {encoding_errors!r}"
            )
        self.encoding_errors = encoding_errors
        self.tokenizer = tokenizer if tokenizer is not None else Tokenizer()
        self.max_sentence_length = max_sentence_length
        self.sources: list[Source] = discover(paths)
        self._hashes: dict[tuple, str] = {}
        #: bytes that were not UTF-8, replaced or dropped, per file (or zip member) in the last pass
        self.undecodable: dict[str, int] = {}

    @property
    def paths(self) -> list[Path]:
        """The input files, folders expanded."""
        return [s.path for s in self.sources]

    @property
    def total_bytes(self) -> int:
        """Size on disk of all input files (compressed size where compressed), for progress bars."""
        return sum(s.size for s in self.sources)

    def __repr__(self) -> str:
        return f"Corpus({len(self.sources)} files, {self.total_bytes:,} bytes, {self.tokenizer!r})"

    # ---- streams ---------------------------------------------------------------------------------
    def _batches(self, desc: str) -> Iterator[tuple[list[str], bool]]:
        found: dict[str, int] = {}
        self.undecodable = found  # a new pass counts afresh

        def undecodable(name: str, count: int) -> None:
            found[name] = found.get(name, 0) + count

        with progress(total=self.total_bytes, desc=desc, unit="B") as bar:
            for source in self.sources:
                yield from read_batches(source, bar.update, self.encoding_errors, undecodable)

    def texts(self) -> Iterator[str]:
        """The raw lines, without line ends (wiki dumps: paragraphs with markup stripped).

        Blank lines are skipped; a line longer than 1 Mi characters comes in pieces cut at spaces.
        """
        seen = False
        for lines, _ in self._batches("reading"):
            for line in lines:
                if line and not line.isspace():
                    seen = True
                    yield line
        if not seen:
            raise self._empty()

    def __iter__(self) -> Iterator[list[str]]:
        """One list of tokens per line, at most `max_sentence_length` long; token-less lines skipped."""
        tokenize, limit = self.tokenizer, self.max_sentence_length
        carry: list[str] = []  # tokens of a cut line waiting for the rest of it
        seen = False
        for lines, partial in self._batches("tokenising"):
            if carry or partial:
                sentences, carry = _joined(lines, partial, carry, tokenize, limit)
                seen = seen or bool(sentences) or bool(carry)
                yield from sentences
                continue
            for line in lines:
                tokens = tokenize(line)
                if tokens:
                    seen = True
                    if len(tokens) <= limit:
                        yield tokens
                    else:
                        yield from _chunks(tokens, limit)
        if carry:
            yield carry
        if not seen:
            raise self._empty()

    def _empty(self) -> EmbspaceError:
        names = ", ".join(str(p) for p in self.paths[:3]) + (" …" if len(self.sources) > 3 else "")
        return EmbspaceError(
            f"the corpus holds no tokens ({names}); give text with words in it, "
            f"or check the tokenizer pattern {self.tokenizer.pattern!r}"
        )

    # ---- one-pass helpers ------------------------------------------------------------------------
    def count_tokens(self) -> int:
        """Tokens in the corpus (one full pass)."""
        return sum(len(tokens) for tokens in self)

    def write_line_corpus(self, dest) -> Path:
        """Write the tokenised corpus as UTF-8, one sentence per line, tokens joined by single spaces.

        This is the file gensim's ``corpus_file=`` mode reads. The file appears atomically: a
        failed or empty run leaves no file at `dest`. Returns the path written.
        """
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as fh:
                batch: list[str] = []
                for tokens in self:
                    batch.append(" ".join(tokens))
                    if len(batch) >= 8192:
                        fh.write("\n".join(batch) + "\n")
                        batch.clear()
                if batch:
                    fh.write("\n".join(batch) + "\n")
            os.replace(tmp, dest)
        finally:
            if tmp.exists():
                tmp.unlink()
        return dest

    def describe(self) -> dict:
        """What was read, for a manifest: each file's path, size, sha256 and kind, and the tokenizer."""
        files = []
        for source in self.sources:
            entry = {"path": str(source.path), "size": source.size, "sha256": self._sha256(source), "kind": source.kind}
            if source.members:
                entry["members"] = len(source.members)
            files.append(entry)
        return {
            "files": files,
            "bytes": sum(f["size"] for f in files),
            "tokenizer": self.tokenizer.to_dict(),
            "max_sentence_length": self.max_sentence_length,
            "encoding_errors": self.encoding_errors,
            **({"undecodable_bytes": dict(self.undecodable)} if self.undecodable else {}),
        }

    def _sha256(self, source: Source) -> str:
        stat = source.path.stat()
        key = (str(source.path), stat.st_size, stat.st_mtime_ns)
        if key not in self._hashes:
            self._hashes[key] = sha256_file(source.path)
        return self._hashes[key]


def _chunks(tokens: list[str], limit: int) -> Iterator[list[str]]:
    for start in range(0, len(tokens), limit):
        yield tokens[start : start + limit]


def _joined(lines, partial, carry, tokenize, limit):
    """Sentences of a batch whose first line continues `carry` or whose last line goes on later.

    Returns (sentences, new carry). Only huge lines take this path, so clarity beats speed here.
    """
    sentences = []
    for i, line in enumerate(lines):
        tokens = tokenize(line)
        if carry:
            tokens, carry = carry + tokens, []
        if partial and i == len(lines) - 1:
            whole = len(tokens) - len(tokens) % limit
            sentences.extend(_chunks(tokens[:whole], limit))
            carry = tokens[whole:]
        elif tokens:
            sentences.extend(_chunks(tokens, limit))
    return sentences, carry
