"""The vocabulary of a corpus: words by descending count, and sentences encoded as id arrays."""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
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

    def __init__(
        self, words: Sequence[str], counts, total: int | None = None, min_count: int = 1, max_vocab: int | None = None
    ):
        self.words = list(words)
        self.counts = np.ascontiguousarray(counts, dtype=np.int64).reshape(-1)
        if self.counts.shape[0] != len(self.words):
            raise EmbspaceError(f"{len(self.words)} words but {self.counts.shape[0]} counts; give one count per word")
        self.index = {word: i for i, word in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise EmbspaceError("the vocabulary repeats a word; give each word once")
        self.total = int(self.counts.sum()) if total is None else int(total)
        self.min_count = min_count
        self.max_vocab = max_vocab

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], min_count: int = 5, max_vocab: int | None = None) -> Vocab:
        """Count the tokens of `sentences` (a Corpus or any iterable of token lists) in one pass.

        Keeps words seen at least `min_count` times and then, if `max_vocab` is given, only the
        `max_vocab` most frequent. The order (count descending, then word) is deterministic.
        A vocabulary left empty by the rules is returned empty; callers decide if that is an error.
        """
        _check_rules(min_count, max_vocab)
        counter: Counter[str] = Counter()
        update = counter.update  # C-accelerated counting of a list
        for tokens in sentences:
            update(tokens)
        return cls._from_counts(counter.items(), min_count, max_vocab)

    @classmethod
    def _from_counts(cls, items: Iterable[tuple[str, int]], min_count: int, max_vocab: int | None) -> Vocab:
        items = list(items)
        total = sum(n for _, n in items)
        kept = [(word, n) for word, n in items if n >= min_count]
        kept.sort(key=lambda wn: (-wn[1], wn[0]))
        if max_vocab is not None:
            kept = kept[:max_vocab]
        words = [w for w, _ in kept]
        counts = np.fromiter((n for _, n in kept), dtype=np.int64, count=len(kept))
        return cls(words, counts, total=total, min_count=min_count, max_vocab=max_vocab)

    @classmethod
    def build_encoded(
        cls, sentences: Iterable[Sequence[str]], min_count: int = 5, max_vocab: int | None = None
    ) -> tuple[Vocab, EncodedSentences]:
        """`build` and `encode` in one tokenising pass: the same vocabulary, and the same id arrays.

        While counting, each sentence is written as provisional word ids (int32) to a temporary
        file (4 bytes a token, in ``$TMPDIR``), so memory does not grow with the corpus and the
        second pass reads numbers instead of tokenising the text again. The returned
        `EncodedSentences` can be iterated any number of times; its file goes when it does.
        """
        _check_rules(min_count, max_vocab)
        folder = tempfile.mkdtemp(prefix="embspace-ids-")
        try:
            index: dict[str, int] = {}
            counts = np.zeros(1024, dtype=np.int64)
            ids_path, lens_path = os.path.join(folder, "ids.i32"), os.path.join(folder, "lens.i64")
            with open(ids_path, "wb") as ids_file, open(lens_path, "wb") as lens_file:
                ids: list[int] = []
                lens: list[int] = []

                def flush() -> None:
                    nonlocal counts
                    block = np.array(ids, dtype=np.int32)
                    block.tofile(ids_file)
                    np.array(lens, dtype=np.int64).tofile(lens_file)
                    if len(index) > counts.size:
                        counts = np.concatenate(
                            [counts, np.zeros(max(len(index), 2 * counts.size) - counts.size, dtype=np.int64)]
                        )
                    counts[: len(index)] += np.bincount(block, minlength=len(index))
                    ids.clear()
                    lens.clear()

                assign = index.setdefault
                for tokens in sentences:
                    ids.extend([assign(word, len(index)) for word in tokens])
                    lens.append(len(tokens))
                    if len(ids) >= _FLUSH:
                        flush()
                flush()
            vocab = cls._from_counts(zip(index, counts[: len(index)].tolist()), min_count, max_vocab)
            mapping = np.full(len(index), -1, dtype=np.int32)
            if vocab.words:
                mapping[np.fromiter((index[w] for w in vocab.words), dtype=np.int64, count=len(vocab.words))] = (
                    np.arange(len(vocab.words), dtype=np.int32)
                )
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return vocab, EncodedSentences(folder, ids_path, lens_path, mapping)

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
        return {
            "words": len(self.words),
            "corpus_tokens": self.total,
            "kept_tokens": int(self.counts.sum()),
            "min_count": self.min_count,
            "max_vocab": self.max_vocab,
        }


_FLUSH = 1 << 20  # provisional ids buffered before they go to the file
_CHUNK = 1 << 16  # sentences read back at a time


def _check_rules(min_count: int, max_vocab: int | None) -> None:
    if min_count < 1:
        raise EmbspaceError(f"min_count must be at least 1, got {min_count}")
    if max_vocab is not None and max_vocab < 1:
        raise EmbspaceError(f"max_vocab must be at least 1 or None, got {max_vocab}")


class EncodedSentences:
    """Sentences as int32 vocabulary ids, read back from the file `Vocab.build_encoded` wrote.

    Yields what `Vocab.encode` would: one array per sentence, out-of-vocabulary words removed
    (a sentence of only such words gives an empty array). The temporary folder is removed by
    `close()`, or when this object is garbage-collected.
    """

    def __init__(self, folder: str, ids_path: str, lens_path: str, mapping: np.ndarray):
        self.folder, self.ids_path, self.lens_path, self.mapping = folder, ids_path, lens_path, mapping
        self._cleanup = weakref.finalize(self, shutil.rmtree, folder, True)

    def close(self) -> None:
        self._cleanup()

    def __iter__(self) -> Iterator[np.ndarray]:
        mapping = self.mapping
        with open(self.ids_path, "rb") as ids_file, open(self.lens_path, "rb") as lens_file:
            while True:
                lens = np.fromfile(lens_file, dtype=np.int64, count=_CHUNK)
                if lens.size == 0:
                    return
                mapped = mapping[np.fromfile(ids_file, dtype=np.int32, count=int(lens.sum()))]
                ends = np.cumsum(lens)
                starts = ends - lens
                for a, b in zip(starts.tolist(), ends.tolist()):
                    sentence = mapped[a:b]
                    yield sentence[sentence >= 0]
