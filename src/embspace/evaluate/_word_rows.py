"""Which row a test word maps to: the first `restrict_vocab` rows, optionally folding case like gensim."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._rowblocks import checked_rows, id_slice
from ..errors import EmbspaceError
from ..search import row_sq_norms
from ..space import Space


class WordRows:
    """Word -> row lookups over the first `restrict` rows of a space.

    With `case_insensitive`, words and ids are compared upper-cased (as gensim does) and when
    several ids fold to the same word the first row wins (the most frequent in a word space).
    """

    def __init__(self, space: Space, restrict: int | None = None, case_insensitive: bool = True):
        if restrict is not None and (
            isinstance(restrict, bool) or not isinstance(restrict, (int, np.integer)) or restrict < 1
        ):
            raise EmbspaceError(f"restrict_vocab must be a positive integer or None; got {restrict!r}")
        self.space = space
        self.restrict = None if restrict is None else int(restrict)
        self.n = min(space.n, self.restrict or space.n)
        self.case_insensitive = bool(case_insensitive)
        self._folded: dict[str, int] | None = None
        self._exact: dict[str, int] | None = None
        self._sq_norms: np.ndarray | None = None
        # only the first n ids are read (O(restrict_vocab), not O(n), where the space reads ids in blocks)
        self.ids = id_slice(space, 0, self.n) if self.n < space.n else space.ids
        ids = self.ids
        if self.case_insensitive:
            # reversed so that the first (most frequent) casing overwrites later ones
            self._folded = dict(zip(map(str.upper, reversed(ids)), range(self.n - 1, -1, -1)))
        # rows whose word has other casings further down ("first" and "ﬁrst", "ss" and "ß"): a
        # question with one of them may get a case variant of its own word as the answer
        self.with_variants = np.empty(0, dtype=np.int64)
        if self._folded is not None and len(self._folded) < self.n:
            canonical = np.fromiter(map(self._folded.__getitem__, map(str.upper, ids)), np.int64, count=self.n)
            self.with_variants = np.unique(canonical[canonical != np.arange(self.n)])

    def row(self, word: str) -> int:
        """Row of `word`, or -1 if it is not among the first `n` rows."""
        if self._folded is not None:
            return self._folded.get(word.upper(), -1)
        if self.n < self.space.n:
            if self._exact is None:  # the first row wins, as in the folded lookup
                self._exact = dict(zip(reversed(self.ids), range(self.n - 1, -1, -1)))
            return self._exact.get(word, -1)
        if word not in self.space:
            return -1
        row = self.space.index(word)
        return row if row < self.n else -1

    def vectors(self) -> np.ndarray:
        """The first `n` rows of the vectors (a view); only their blocks are checked in an opened space."""
        return self.space.vectors if self.n == self.space.n else checked_rows(self.space, 0, self.n)

    def sq_norms(self) -> np.ndarray:
        """Squared norms of the first `n` rows, shape (n,): the space's own cache when every row counts,
        else computed over those rows only (a restricted vocabulary never reads the rest of the vectors)."""
        if self.n == self.space.n:
            return self.space.sq_norms()
        if self._sq_norms is None:
            self._sq_norms = row_sq_norms(self.vectors())
        return self._sq_norms

    def rows(self, words: Sequence[str]) -> np.ndarray:
        """Rows of many words, int64 array of the same shape (-1 = out of vocabulary)."""
        arr = np.asarray(words, dtype=object)
        unique, inverse = np.unique(arr.ravel(), return_inverse=True)
        found = np.fromiter((self.row(w) for w in unique), dtype=np.int64, count=len(unique))
        return found[inverse].reshape(arr.shape)


def missing_words(words: Sequence[Sequence[str]], rows: np.ndarray, limit: int = 10) -> list[str]:
    """The first `limit` distinct words (in file order) that are out of vocabulary (row -1)."""
    out: dict[str, None] = {}
    for item, item_rows in zip(words, rows):
        for word, row in zip(item, item_rows):
            if row < 0 and word not in out:
                out[word] = None
                if len(out) == limit:
                    return list(out)
    return list(out)
