"""Typed errors: each says what was received, what was expected and how to fix it."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class EmbspaceError(Exception):
    """Base class for every error embspace raises on bad input.

    The CLI prints ``str(error)`` as one line and exits non-zero.
    """


class SpaceError(EmbspaceError, ValueError):
    """A Space cannot be made from what was given (shape, NaN, duplicates, empty)."""


class UnknownIdError(EmbspaceError, KeyError):
    """An id is not in the space; carries close spellings from the vocabulary."""

    def __init__(self, item: str, suggestions: Iterable[str] = ()):
        self.item = item
        self.suggestions = list(suggestions)
        super().__init__(item)

    def __str__(self) -> str:
        msg = f"{self.item!r} is not in the space"
        if self.suggestions:
            msg += "; did you mean " + ", ".join(repr(s) for s in self.suggestions) + "?"
        return msg


class CorruptSpaceError(EmbspaceError, OSError):
    """A file of a `.space` folder is missing, truncated, altered or unsafe."""

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class SpaceNote(UserWarning):
    """Something a user should know about a space that is not an error (the command line prints it as a note)."""


class FormatError(EmbspaceError, ValueError):
    """An import file does not match its declared format."""


MAX_SUGGESTED_LENGTH = 200  # ids longer than this get no spelling suggestions


def close_matches(word: str, vocabulary: Iterable[str], n: int = 3) -> list[str]:
    """Close spellings of `word` among `vocabulary` (a case-folded match first)."""
    if len(word) > MAX_SUGGESTED_LENGTH:  # no one misspells 100 KB; comparing it would cost seconds
        return []
    vocab = vocabulary if isinstance(vocabulary, list) else list(vocabulary)
    lowered = word.lower()
    folded = [v for v in vocab[:200_000] if v.lower() == lowered and v != word]
    # difflib is O(n); on big vocabularies look only among words of similar length and first letter.
    lo, hi = len(word) - 2, len(word) + 2
    pool = [v for v in vocab if lo <= len(v) <= hi and v[:1].lower() == word[:1].lower()]
    if len(pool) < 20:
        pool = [v for v in vocab if lo <= len(v) <= hi]
    out = folded + [m for m in difflib.get_close_matches(word, pool, n=n, cutoff=0.75) if m not in folded]
    return out[:n]
