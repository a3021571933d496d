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
from ._labels import knn_labels, probe
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
        Text spaces: the label column for kNN agreement and the probe (default: ``label`` if present).

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


def is_text_space(space: Space) -> bool:
    """Built from texts or tokens (it records an encoder)."""
    return isinstance(space.info.get("encoder"), dict)
