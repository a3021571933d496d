"""The report card: WS-353, SimLex-999, MEN and Google analogies for a word space; STS, retrieval and
label checks for a text space; or exactly the files given."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..errors import EmbspaceError
from ..space import Space
from ._analogies import check_method, score_analogies
from ._files import ANALOGY_SETS, PAIR_SETS
from ._labels import knn_accuracy, knn_labels, probe
from ._pairs import score_pairs
from ._result import Results, check_oov
from ._retrieval import retrieval as score_retrieval
from ._sts import sts as score_sts
from ._word_rows import WordRows

PathOrName = str | os.PathLike


def report_card(
    space: Space,
    pairs: PathOrName | Iterable[PathOrName] | None = None,
    analogies: PathOrName | Iterable[PathOrName] | None = None,
    *,
    oov: str = "drop",
    restrict_vocab: int | None = 300_000,
    methods: str | Sequence[str] = ("3cosadd", "3cosmul"),
    case_insensitive: bool = True,
    sts: PathOrName | Iterable[PathOrName] | None = None,
    retrieval: Sequence[tuple[PathOrName, PathOrName]] | None = None,
    label: str | None = None,
    queries: str | tuple[str, str] | None = None,
) -> Results:
    """Score a word space on word-pair and analogy sets, each score with its coverage.

    Parameters
    ----------
    space : Space
    pairs, analogies : str, path, or a list of them, optional
        ``word1 word2 score`` files and Google-format analogy files, or built-in set names
        (``ws353``, ``simlex999``, ``men``; ``google``). With neither, the report card:
        WS-353, SimLex-999, MEN and the Google analogies with every method in `methods`.
        With either, exactly the sets given.
    oov : {"drop", "wrong"}
        Out-of-vocabulary items are left out of a score, or counted as the worst prediction.
    restrict_vocab : int, optional
        Only the first `restrict_vocab` rows count as vocabulary, for every set (and as
        analogy answers); None for all rows.
    methods : str or sequence of {"3cosadd", "3cosmul"}
        Analogy methods; each gives one result per analogy set.
    case_insensitive : bool
        Match words to ids ignoring case; the first (most frequent) casing wins.
    sts : str, path, or a list of them, optional
        Text spaces: STS files (STS-B format, or ``sentence1<TAB>sentence2<TAB>score``).
    retrieval : list of (queries file, qrels file), optional
        Text spaces: retrieval sets scored by recall@k, MRR@10 and nDCG@10.
    label : str, optional
        Text and image spaces: the label column for kNN agreement / accuracy and the probe (default:
        ``label`` if present).
    queries : "COLUMN=VALUE", optional
        Image spaces: the rows that query the others for kNN accuracy (default: leave-one-out).

    A space built from texts (it records an encoder) gets the text card instead of the word card:
    the STS and retrieval sets given, plus kNN label agreement and a logistic-regression probe
    (with a bag-of-words baseline) for its label column.

    Returns
    -------
    Results
        A list of Result, pair sets first, then analogy sets by method. It prints as the table the
        CLI shows (``print(card)``), shows as a table in a notebook, and ``card.to_pandas()`` makes a
        DataFrame of it (with pandas installed).

    Examples
    --------
    >>> from embspace.evaluate import format_table, report_card
    >>> print(format_table(report_card(space)))  # doctest: +SKIP
    """
    if is_image_space(space) and pairs is None and analogies is None:
        return image_card(space, label, queries)
    if sts is not None or retrieval is not None or (is_text_space(space) and pairs is None and analogies is None):
        return text_card(space, _as_list(sts), list(retrieval or []), label)
    check_oov(oov)
    methods = [methods] if isinstance(methods, str) else list(methods)
    for method in methods:
        check_method(method)
    if pairs is None and analogies is None:
        pairs, analogies = PAIR_SETS, ANALOGY_SETS
    vocab = WordRows(space, restrict_vocab, case_insensitive)
    results = [score_pairs(vocab, p, oov=oov) for p in _as_list(pairs)]
    for source in _as_list(analogies):
        results += [score_analogies(vocab, source, method=m, oov=oov) for m in methods]
    return Results(results)


def _as_list(items) -> list:
    if items is None:
        return []
    if isinstance(items, (str, os.PathLike)):
        return [items]
    return list(items)


def text_card(
    space: Space,
    sts_files: Sequence = (),
    retrieval_sets: Sequence = (),
    label: str | None = None,
) -> Results:
    """The report card of a text space: STS and retrieval sets given, plus kNN agreement and a probe
    for every label column (``label`` by default, if present)."""
    results = [score_sts(space, f) for f in sts_files]
    results += [
        score_retrieval(space, q, r, name=Path(str(q)).stem if isinstance(q, (str, os.PathLike)) else "retrieval")
        for q, r in retrieval_sets
    ]
    labels = [label] if label else [c for c in ("label", "sense", "category", "class") if c in space.meta]
    for column in labels:
        results.append(knn_labels(space, column))
        results.append(probe(space, column))
    if not results:
        raise EmbspaceError(
            "a text space has no built-in test set: give STS pairs (--sts FILE), a retrieval set "
            "(--retrieval QUERIES QRELS), or build it from a file with a 'label' column"
        )
    return Results(results)


def image_card(space: Space, label: str | None = None, queries: str | tuple[str, str] | None = None) -> Results:
    """The report card of an image space: kNN accuracy (k = 10) and same-label recall@1/@10 for its label
    column, with the same scores of the thumbnails' raw pixels beside them where the space keeps
    thumbnails, and the linear probe (majority-class rate beside it)."""
    column = label or next((c for c in ("label", "class", "category") if c in space.meta), None)
    if column is None:
        raise EmbspaceError(
            "an image space is scored against labels: build it with --labels folders or --label COLUMN, "
            "or name its label column with --label"
        )
    baseline = _thumbnail_pixels(space)
    results = list(knn_accuracy(space, column, queries=queries, baseline=baseline))
    results.append(probe(space, column))
    return Results(results)


def _thumbnail_pixels(space: Space):
    """The raw-pixel baseline's vectors: each row's thumbnail at 28 x 28, or None without thumbnails."""
    if not space.info.get("thumbnails") or "thumbnail" not in space.meta:
        return None
    try:
        from ..images import thumbnail_pixels
    except ImportError:  # the images extra (Pillow) is not installed: no baseline
        return None
    return thumbnail_pixels(space, size=28)


def is_image_space(space: Space) -> bool:
    """Built from images (it records an image method)."""
    return space.info.get("builder") == "embspace.images"


def is_text_space(space: Space) -> bool:
    """Built from texts or tokens (it records an encoder)."""
    return isinstance(space.info.get("encoder"), dict)
