"""STS: Spearman correlation of a text space's cosines with human similarity scores for sentence pairs.

The sentences are encoded with the space's own encoder, recorded in its manifest.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import EmbspaceError
from ..space import Space
from ._result import Result


def read_sts(path: str | os.PathLike) -> list[tuple[str, str, float]]:
    """Sentence pairs with gold scores from an STS-B file (tab-separated: score in column 5,
    sentences in 6 and 7) or a 3-column ``sentence1<TAB>sentence2<TAB>score`` file."""
    path = Path(path)
    if not path.is_file():
        raise EmbspaceError(f"{path}: no such STS file")
    pairs = []
    with open(path, encoding="utf-8", errors="strict", newline="") as fh:
        try:
            for lineno, line in enumerate(fh, 1):
                cols = line.rstrip("\r\n").split("\t")
                if len(cols) >= 7:
                    score, a, b = cols[4], cols[5], cols[6]
                elif len(cols) == 3:
                    a, b, score = cols
                else:
                    continue
                try:
                    pairs.append((a, b, float(score)))
                except ValueError:
                    if lineno > 1:
                        raise EmbspaceError(f"{path}: line {lineno} has score {score!r}, not a number") from None
        except UnicodeDecodeError:
            raise EmbspaceError(f"{path}: not UTF-8 text; convert it to UTF-8") from None
    if not pairs:
        raise EmbspaceError(
            f"{path}: no sentence pairs found; expected STS-B columns (score in 5, sentences in "
            "6 and 7) or `sentence1<TAB>sentence2<TAB>score`"
        )
    return pairs


def sts(
    space: Space,
    pairs: str | os.PathLike | Sequence[tuple[str, str, float]],
    name: str | None = None,
    batch_size: int | None = None,
) -> Result:
    """Spearman correlation of the cosine of each pair's vectors with the gold scores.

    Parameters
    ----------
    space : Space
        A text space (its encoder encodes the sentences).
    pairs : path or sequence of (sentence1, sentence2, score)

    Returns
    -------
    Result with task ``sts``, metric ``spearman``; coverage counts the pairs whose two vectors are not
    zero (tfidf-svd gives zero for a text with no known word); those pairs are left out.
    """
    from scipy.stats import pearsonr, spearmanr

    from ..texts import encoder_for

    if isinstance(pairs, (str, os.PathLike)):
        name = name or Path(pairs).stem
        pairs = read_sts(pairs)
    pairs = list(pairs)
    if not pairs:
        raise EmbspaceError("no STS pairs given")
    encoder = encoder_for(space)
    texts = list(dict.fromkeys([p[0] for p in pairs] + [p[1] for p in pairs]))
    row = {t: i for i, t in enumerate(texts)}
    vectors = encoder.encode(texts, batch_size=batch_size)
    encoded = np.abs(vectors).sum(axis=1) > 0  # a text the encoder knows no word of has no direction
    if space.info.get("transforms"):  # post-processed or tuned after encoding: the texts go the same way
        vectors = space.transform_encoded(vectors)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.where(norms > 0, norms, 1.0)  # compared by cosine, as the encoder's unit rows are
    a = vectors[[row[p[0]] for p in pairs]]
    b = vectors[[row[p[1]] for p in pairs]]
    ok = encoded[[row[p[0]] for p in pairs]] & encoded[[row[p[1]] for p in pairs]]
    cos = (a * b).sum(axis=1)
    gold = np.array([p[2] for p in pairs], dtype=np.float64)
    found = int(ok.sum())
    score = pearson = float("nan")
    if found > 2 and np.ptp(cos[ok]) > 0 and np.ptp(gold[ok]) > 0:  # else undefined: reported as n/a
        score = float(spearmanr(cos[ok], gold[ok]).statistic)
        pearson = float(pearsonr(cos[ok], gold[ok]).statistic)
    return Result(
        name or "sts",
        "sts",
        "spearman",
        score,
        found / len(pairs),
        found,
        len(pairs),
        "drop",
        {"pearson": pearson, "encoder": encoder.name},
    )
