"""Does distance match meaning? One module per task, and the report card over them.

    >>> from embspace.evaluate import format_table, report_card
    >>> print(format_table(report_card(space)))  # doctest: +SKIP

Tasks: word pairs (`word_pairs`), analogies (`analogies`), STS (`sts`), retrieval (`retrieval`),
labels (`knn_labels`, `knn_accuracy` with same-label recall@k, `probe`: any space with a label
column), recommendations against held-out interactions (`recommendation`, beside popularity), and
how far two spaces' neighbourhoods agree (`neighbour_overlap`). Every score comes
with its coverage: how many of the set's items the space could answer.
"""

from __future__ import annotations

import sys
import types
import warnings

from ._analogies import analogies
from ._card import report_card
from ._compare import neighbour_overlap
from ._files import BUILTIN, builtin_path
from ._labels import knn_accuracy, knn_labels, probe
from ._pairs import word_pairs
from ._recommend import recommendation
from ._result import Result, Results, format_table
from ._retrieval import retrieval
from ._sts import sts

__all__ = [
    "BUILTIN",
    "Result",
    "Results",
    "analogies",
    "builtin_path",
    "format_table",
    "knn_accuracy",
    "knn_labels",
    "neighbour_overlap",
    "probe",
    "recommendation",
    "report_card",
    "retrieval",
    "sts",
    "word_pairs",
]


def _deprecated_evaluate(*args, _stacklevel: int = 2, **kwargs):
    warnings.warn(
        "embspace.evaluate(space) and embspace.evaluate.evaluate are deprecated and will be removed in "
        "0.3; use embspace.evaluate.report_card(space)",
        DeprecationWarning,
        stacklevel=_stacklevel,
    )
    return report_card(*args, **kwargs)


def __getattr__(name: str):
    if name == "evaluate":
        return _deprecated_evaluate
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _CallableModule(types.ModuleType):
    """Keeps `embspace.evaluate(space)` (the old function) working, with a warning, for one release."""

    def __call__(self, *args, **kwargs):
        return _deprecated_evaluate(*args, _stacklevel=3, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
