"""The vocabulary of a corpus: words by descending count, and sentences encoded as id arrays."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from ..errors import EmbspaceError


class Vocab:
    """Words of a corpus with their counts, most frequent first (ties broken by the word).

    Attributes
    ----------
    words : list of str, length n_words
    counts : ndarray of shape (n_words,), int64
        How often each word occurs in the corpus.
    index : dict of str to int
        Row of each word in `words`.
    total : int
        Tokens in the whole corpus, counting words that were dropped (rare or past `max_vocab`).
    min_count, max_vocab : the rules it was built with.
    """

    def __init__(self, words: Sequence[str], counts, total: int | None = None,
                 min_count: int = 1, max_vocab: int | None = None):
        self.words = list(words)
        self.counts = np.ascontiguousarray(counts, dtype=np.int64).reshape(-1)
        if self.counts.shape[0] != len(self.words):
            raise EmbspaceError(f"{len(self.words)} words but {self.counts.shape[0]} counts; "
                                "give one count per word")
        self.index = {word: i for i, word in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise EmbspaceError("the vocabulary repeats a word; give each word once")
        self.total = int(self.counts.sum()) if total is None else int(total)
        self.min_count = min_count
        self.max_vocab = max_vocab

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], min_count: int = 5,
              max_vocab: int | None = None) -> Vocab:
        """Count the tokens of `sentences` (a Corpus or any iterable of token lists) in one pass.

        Keeps words seen at least `min_count` times and then, if `max_vocab` is given, only the
        `max_vocab` most frequent. The order (count descending, then word) is deterministic.
        A vocabulary left empty by the rules is returned empty; callers decide if that is an error.
        """
        if min_count < 1:
            raise EmbspaceError(f"min_count must be at least 1, got {min_count}")
        if max_vocab is not None and max_vocab < 1:
            raise EmbspaceError(f"max_vocab must be at least 1 or None, got {max_vocab}")
        counter: Counter[str] = Counter()
        update = counter.update  # C-accelerated counting of a list
        for tokens in sentences:
            update(tokens)
        total = sum(counter.values())
        kept = [(word, n) for word, n in counter.items() if n >= min_count]
        kept.sort(key=lambda wn: (-wn[1], wn[0]))
        if max_vocab is not None:
            kept = kept[:max_vocab]
        words = [w for w, _ in kept]
        counts = np.fromiter((n for _, n in kept), dtype=np.int64, count=len(kept))
        return cls(words, counts, total=total, min_count=min_count, max_vocab=max_vocab)

    def encode(self, sentences: Iterable[Sequence[str]]) -> Iterator[np.ndarray]:
        """One int32 array of word ids per sentence, out-of-vocabulary tokens removed.

        Sentences stay aligned with the input: one whose every token is unknown gives an empty array.
        """
        get = self.index.get
        for tokens in sentences:
            ids = [i for i in map(get, tokens) if i is not None]
            yield np.array(ids, dtype=np.int32)

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    def __repr__(self) -> str:
        return f"Vocab({len(self.words):,} words, {self.total:,} corpus tokens, min_count={self.min_count})"

    def to_dict(self) -> dict:
        """The vocabulary rules and sizes, for a manifest."""
        return {"words": len(self.words), "corpus_tokens": self.total,
                "kept_tokens": int(self.counts.sum()), "min_count": self.min_count,
                "max_vocab": self.max_vocab}
