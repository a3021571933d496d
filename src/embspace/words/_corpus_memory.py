"""Corpora held in memory, and the one door every builder takes a corpus through.

`open_corpus` accepts what people pass: one path (str or PathLike), many paths, or sentences in
memory as gensim takes them (``[["the", "cat"], ["a", "dog"]]``) or as plain strings
(``["The cat sat.", "A dog barked."]``), which go through the same tokenizer as text files.
"""

from __future__ import annotations

import itertools
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path

from .._progress import progress
from ..errors import EmbspaceError
from ._corpus import Corpus, Tokenizer, _chunks

_BATCH = 8192  # in-memory texts handed to the tokenizer at a time
_TOKEN_KINDS = (list, tuple)
_WHITESPACE = re.compile(r"\s").search


def open_corpus(
    source,
    tokenizer: Tokenizer | None = None,
    encoding_errors: str = "strict",
    max_sentence_length: int = 10_000,
) -> Corpus:
    """A `Corpus` for `source`: a path, a list of paths, token lists or strings (see the module docstring).

    A string that names an existing file or folder, or any PathLike, makes `source` a list of
    paths; a first string with whitespace in it (a sentence, not a file name) makes it texts.
    """
    if isinstance(source, Corpus):
        return source
    kind, items = _classify(source)
    if kind == "paths":
        for item in items:
            if isinstance(item, str) and not _names_a_path(item):
                raise EmbspaceError(
                    f"corpus path not found: {item}; for sentences in memory pass lists of tokens "
                    "([['the', 'cat', 'sat'], ...]) or strings of words"
                )
        return Corpus(
            items, tokenizer=tokenizer, max_sentence_length=max_sentence_length, encoding_errors=encoding_errors
        )
    return SentenceCorpus(items, kind, tokenizer=tokenizer, max_sentence_length=max_sentence_length)


def _classify(source) -> tuple[str, Iterable]:
    """("paths" | "tokens" | "texts", the items), looking at the first item only."""
    if isinstance(source, (str, os.PathLike)):
        return "paths", [source]
    if isinstance(source, (bytes, bytearray)) or not isinstance(source, Iterable):
        raise EmbspaceError(
            f"a corpus is a path, a list of paths, or sentences (lists of tokens, or strings); "
            f"got {type(source).__name__}"
        )
    iterator = iter(source)
    first = next(iterator, None)
    if first is None:
        raise EmbspaceError("no corpus given: pass text files, folders, archives, or sentences")
    items = source if iterator is not source else itertools.chain([first], iterator)  # a generator: put it back
    if isinstance(first, _TOKEN_KINDS):
        return "tokens", items
    if isinstance(first, os.PathLike):
        return "paths", list(items)
    if isinstance(first, str):
        if _names_a_path(first) or not any(ch.isspace() for ch in first):
            return "paths", list(items)
        return "texts", items
    raise EmbspaceError(
        f"a corpus is a path, a list of paths, or sentences (lists of tokens, or strings); "
        f"its first item is a {type(first).__name__}"
    )


def _names_a_path(text: str) -> bool:
    try:
        return len(text) < 4096 and "\n" not in text and Path(text).exists()
    except (OSError, ValueError):
        return False


class SentenceCorpus(Corpus):
    """Sentences held in memory: lists of tokens (gensim's `sentences`) or strings to tokenise.

    Parameters
    ----------
    sentences : iterable of list of str, or iterable of str
        A list can be read any number of times; a generator once.
    kind : {"tokens", "texts"}
        Token lists are kept as given (case-folded and NFC-normalised when the tokenizer
        lowercases, as file text is); strings go through the tokenizer, one sentence each.
    """

    def __init__(
        self, sentences: Iterable, kind: str, tokenizer: Tokenizer | None = None, max_sentence_length: int = 10_000
    ):
        if kind not in ("tokens", "texts"):
            raise EmbspaceError(f"kind must be 'tokens' or 'texts', got {kind!r}")
        if not isinstance(max_sentence_length, int) or max_sentence_length < 1:
            raise EmbspaceError(f"max_sentence_length must be a whole number >= 1, got {max_sentence_length!r}")
        self.kind = kind
        self.tokenizer = tokenizer if tokenizer is not None else Tokenizer()
        self.max_sentence_length = max_sentence_length
        self.encoding_errors = "strict"  # nothing is decoded: the text is already str
        self.sources = []
        self._hashes = {}
        self.undecodable = {}
        self._sentences = sentences
        self._one_shot = iter(sentences) is sentences
        self._read = False
        self._count: int | None = len(sentences) if hasattr(sentences, "__len__") else None

    def __repr__(self) -> str:
        size = f"{self._count:,} " if self._count is not None else ""
        return f"SentenceCorpus({size}{self.kind} in memory, {self.tokenizer!r})"

    def _items(self, desc: str) -> Iterator:
        if self._one_shot and self._read:
            raise EmbspaceError(
                "the sentences came from a generator, which can be read only once; pass a list (or re-iterable)"
            )
        self._read = True
        with progress(total=self._count, desc=desc, unit="sentences") as bar:
            for i, item in enumerate(self._sentences):
                if isinstance(item, str) != (self.kind == "texts"):
                    want = "strings" if self.kind == "texts" else "lists of tokens"
                    raise EmbspaceError(
                        f"sentence {i} is a {type(item).__name__}; the corpus began with {want}, give all alike"
                    )
                yield item
                bar.update(1)

    def _batches(self, desc: str):
        if self.kind == "tokens":
            raise EmbspaceError("a corpus of token lists has no raw text lines; iterate it for the tokens")
        items = self._items(desc)
        while batch := list(itertools.islice(items, _BATCH)):
            yield batch, False

    def __iter__(self) -> Iterator[list[str]]:
        if self.kind == "texts":
            yield from super().__iter__()
            return
        fold, limit, seen = self.tokenizer.lowercase, self.max_sentence_length, False
        for i, tokens in enumerate(self._items("reading")):
            tokens = [_token(t, i, fold) for t in tokens]
            tokens = [t for t in tokens if t]
            if tokens:
                seen = True
                yield from (_chunks(tokens, limit) if len(tokens) > limit else (tokens,))
        if not seen:
            raise self._empty()

    def _empty(self) -> EmbspaceError:
        return EmbspaceError(f"the corpus holds no tokens ({self.kind} in memory); give sentences with words in them")

    def describe(self) -> dict:
        return {
            "files": [],
            "bytes": 0,
            "in_memory": self.kind,
            "sentences": self._count,
            "tokenizer": self.tokenizer.to_dict() if self.kind == "texts" else {"case": self._case()},
            "max_sentence_length": self.max_sentence_length,
        }

    def _case(self) -> str:
        return "casefold" if self.tokenizer.lowercase else "kept"


def _token(token, sentence: int, fold: bool) -> str:
    if not isinstance(token, str):
        raise EmbspaceError(f"sentence {sentence} holds a {type(token).__name__} ({token!r}); tokens must be strings")
    if not token.isascii():
        token = unicodedata.normalize("NFC", token)
    if fold:
        token = token.casefold()
    if _WHITESPACE(token):
        raise EmbspaceError(
            f"sentence {sentence} holds the token {token!r} with whitespace inside; "
            "join the words of a phrase with '_' (new_york)"
        )
    return token
