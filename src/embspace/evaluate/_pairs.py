"""Word-pair similarity: Spearman (and Pearson) of cosine similarity against human scores."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from .._rowblocks import checked_take
from ..errors import EmbspaceError
from ..space import Space
from ._files import malformed, read_lines, resolve
from ._result import Result, check_oov
from ._word_rows import WordRows, missing_words


def word_pairs(
    space: Space,
    path_or_name: str | os.PathLike,
    *,
    oov: str = "drop",
    restrict_vocab: int | None = None,
    case_insensitive: bool = True,
    name: str | None = None,
) -> Result:
    """Correlation between cosine similarity and human similarity scores.

    Parameters
    ----------
    space : Space
    path_or_name : str or path
        A built-in set (``ws353``, ``simlex999``, ``men``) or a file of ``word1 word2 score``
        lines, tab or space separated; ``#`` comments and blank lines are skipped; UTF-8.
    oov : {"drop", "wrong"}
        A pair with a word outside the vocabulary is left out (``drop``, gensim's default) or
        scored with similarity 0, the worst prediction (``wrong``, gensim's ``dummy4unknown=True``).
    restrict_vocab : int, optional
        Only the first `restrict_vocab` rows count as vocabulary.
    case_insensitive : bool
        Match words to ids ignoring case; the first (most frequent) casing wins.
    name : str, optional
        Name of the result; default the built-in name or the file's stem.

    Returns
    -------
    Result with metric ``spearman``; ``details`` holds ``pearson``, ``restrict_vocab``,
    ``case_insensitive`` and up to 10 ``missing`` words.

    Examples
    --------
    >>> from embspace.datasets import glove_6b_50d
    >>> round(word_pairs(glove_6b_50d(), "ws353").score, 4)  # doctest: +SKIP
    0.5033
    """
    return score_pairs(WordRows(space, restrict_vocab, case_insensitive), path_or_name, oov=oov, name=name)


def score_pairs(vocab: WordRows, path_or_name, *, oov: str = "drop", name: str | None = None) -> Result:
    """`word_pairs` over a vocabulary already built (the report card shares one)."""
    check_oov(oov)
    default_name, path = resolve(path_or_name)
    first, second, gold = read_pairs(path)
    rows = vocab.rows(list(zip(first, second)))
    found = (rows >= 0).all(axis=1)
    sims = np.zeros(len(gold), dtype=np.float64)
    sims[found] = _cosines(vocab.space, rows[found, 0], rows[found, 1])
    keep = found if oov == "drop" else np.ones_like(found)
    spearman, pearson = _spearman(gold[keep], sims[keep]), _pearson(gold[keep], sims[keep])
    missing = missing_words(zip(first, second), rows)
    return Result(
        name=name or default_name,
        task="word_pairs",
        metric="spearman",
        score=spearman,
        coverage=float(found.mean()),
        found=int(found.sum()),
        total=len(gold),
        oov=oov,
        details={
            "pearson": pearson,
            "spearman": spearman,
            "restrict_vocab": vocab.restrict,
            "case_insensitive": vocab.case_insensitive,
            "missing": missing,
        },
    )


def read_pairs(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """(first words, second words, gold scores float64) of a ``word1 word2 score`` file."""
    first, second, gold = [], [], []
    for number, line in read_lines(path):
        fields = [f.strip() for f in line.split("\t")] if "\t" in line else line.split()
        try:
            a, b, score = fields
            value = float(score)
        except ValueError:
            value = math.nan
            a = b = ""
        if not (a and b and math.isfinite(value)):
            raise malformed(path, number, line, "'word1 word2 score' (tab or space separated)")
        first.append(a)
        second.append(b)
        gold.append(value)
    if not gold:
        raise EmbspaceError(f"{path}: no word pairs found; expected lines of 'word1 word2 score'")
    return first, second, np.asarray(gold, dtype=np.float64)


def _cosines(space: Space, rows_a: np.ndarray, rows_b: np.ndarray) -> np.ndarray:
    va = checked_take(space, rows_a).astype(np.float64)  # only these rows' blocks are read
    vb = checked_take(space, rows_b).astype(np.float64)
    denom = np.linalg.norm(va, axis=1) * np.linalg.norm(vb, axis=1)
    dots = np.einsum("ij,ij->i", va, vb)
    return np.divide(dots, denom, out=np.zeros_like(dots), where=denom > 0)  # a zero vector scores 0


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson's r; NaN for fewer than two points or a constant side (nothing to correlate)."""
    if len(x) < 2:
        return math.nan
    x, y = x - x.mean(), y - y.mean()
    denom = math.sqrt(float(x @ x) * float(y @ y))
    return float(np.clip(x @ y / denom, -1.0, 1.0)) if denom > 0 else math.nan


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho: Pearson's r of the ranks, ties sharing their average rank (as scipy does)."""
    from scipy.stats import rankdata

    return _pearson(rankdata(x), rankdata(y)) if len(x) else math.nan
