"""Does distance match meaning? Word-pair similarity, analogies and the report card.

    >>> from embspace.evaluate import evaluate, format_table
    >>> print(format_table(evaluate(space)))  # doctest: +SKIP

Every score comes with its coverage: how many of the set's items were in the vocabulary.
"""
from __future__ import annotations

from ._analogies import analogies
from ._card import evaluate
from ._files import BUILTIN, builtin_path
from ._pairs import word_pairs
from ._result import Result, format_table
from ._texts import knn_labels, probe, retrieval, sts

__all__ = ["evaluate", "word_pairs", "analogies", "Result", "format_table", "builtin_path", "BUILTIN",
           "sts", "retrieval", "knn_labels", "probe"]
