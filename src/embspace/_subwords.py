"""Vectors for words a space does not hold, from fastText sub-word (character n-gram) buckets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ._install import install_hint
from .errors import EmbspaceError, UnknownIdError, close_matches


def subword_vector(word: str, buckets: np.ndarray, config: Mapping, ids: Sequence[str] = ()) -> np.ndarray:
    """The mean of the bucket vectors of `word`'s character n-grams, as fastText does.

    Parameters
    ----------
    buckets : float32 array of shape (n_buckets, dim)
        A fastText space's ``extras["subwords"]``.
    config : mapping with ``min_n``, ``max_n`` and ``buckets``
        Its ``info["subwords"]``; the n-gram hashing is gensim's (fastText's FNV-1a).
    ids : sequence of str
        The space's ids, for close spellings when `word` has no n-gram at all.

    Returns
    -------
    float32 array of shape (dim,).
    """
    try:
        from gensim.models.fasttext import ft_ngram_hashes
    except ImportError:
        raise EmbspaceError(f"vectors for unseen words need gensim: {install_hint('gensim')}") from None
    try:
        hashes = ft_ngram_hashes(word, config["min_n"], config["max_n"], config["buckets"])
    except KeyError as exc:
        raise EmbspaceError(f"the space's sub-word settings lack {exc}; rebuild it with --method fasttext") from None
    if not hashes:
        raise UnknownIdError(word, close_matches(word, ids))
    return np.asarray(buckets[np.asarray(hashes)], dtype=np.float32).mean(axis=0)
