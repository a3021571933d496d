"""Vectors for ids a space does not hold, from fastText sub-word (character n-gram) buckets."""
from __future__ import annotations

import numpy as np

from ..errors import EmbspaceError, UnknownIdError, close_matches
from ..space import Space


def subword_vector(space: Space, word: str) -> np.ndarray:
    """The mean of the bucket vectors of `word`'s character n-grams, as fastText does.

    Needs ``space.extras["subwords"]`` (buckets × dim) and ``space.info["subwords"]`` with
    ``min_n``, ``max_n`` and ``buckets``; the n-gram hashing is gensim's (fastText's FNV-1a).
    """
    config = space.info.get("subwords") or {}
    try:
        from gensim.models.fasttext import ft_ngram_hashes
    except ImportError:
        raise EmbspaceError("vectors for unseen words need gensim: pip install 'embspace[gensim]'") from None
    hashes = ft_ngram_hashes(word, config["min_n"], config["max_n"], config["buckets"])
    if not hashes:
        raise UnknownIdError(word, close_matches(word, space.ids))
    buckets = space.extras["subwords"]
    return np.asarray(buckets[np.asarray(hashes)], dtype=np.float32).mean(axis=0)
