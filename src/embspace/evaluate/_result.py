"""`Result`: one score with its coverage; `Results`, a list of them that shows as a table (plain text for
the CLI, HTML in a notebook, a pandas DataFrame on request)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._notebook import html_table, pandas
from ..errors import EmbspaceError

OOV_POLICIES = ("drop", "wrong")
# What gives a score its meaning, where a task has it: (key in details, name in the table)
BASELINES = (
    ("bow_accuracy", "bag of words"),
    ("pixels_accuracy", "pixels"),
    ("pixels_recall", "pixels"),
    ("majority", "majority class"),
    ("chance", "chance"),
    ("popularity", "popularity"),
)


@dataclass
class Result:
    """The score of a space on one evaluation set.

    Attributes
    ----------
    name : str
        The set: a built-in name (``ws353``, ``simlex999``, ``men``, ``google``) or the file's stem.
    task : {"word_pairs", "analogies"}
    metric : {"spearman", "accuracy"}
        What `score` is; NaN when nothing could be scored.
    score : float
    coverage : float
        Fraction of the set's items whose words are all in the (restricted) vocabulary.
    found, total : int
        Items in vocabulary, items in the set.
    oov : {"drop", "wrong"}
        Out-of-vocabulary items were left out of `score`, or counted as the worst prediction.
    details : dict
        Task-specific extras: pearson, per-section accuracies, method, restrict_vocab...
    """

    name: str
    task: str
    metric: str
    score: float
    coverage: float
    found: int
    total: int
    oov: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The task with its method, e.g. ``analogies/3cosmul``."""
        method = self.details.get("method")
        return f"{self.task}/{method}" if method else self.task

    @property
    def title(self) -> str:
        """The set with its method where it has one, e.g. ``google (3cosmul)``: what tells two rows apart."""
        method = self.details.get("method")
        return f"{self.name} ({method})" if method else self.name

    @property
    def baselines(self) -> dict[str, float]:
        """The figures to read the score against, by name: a label probe's bag-of-words accuracy and
        majority-class rate, kNN agreement's chance level; empty for tasks without one."""
        out = {}
        for key, name in BASELINES:
            value = self.details.get(key)
            if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
                out[name] = float(value)
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (NaN becomes None, NumPy numbers become Python numbers)."""
        return _json_safe(
            {
                "name": self.name,
                "task": self.task,
                "metric": self.metric,
                "score": self.score,
                "coverage": self.coverage,
                "found": self.found,
                "total": self.total,
                "oov": self.oov,
                "details": self.details,
            }
        )

    def to_pandas(self):
        """A one-row pandas DataFrame (see `Results.to_pandas`); needs pandas."""
        return Results([self]).to_pandas()

    def _repr_html_(self) -> str:
        return Results([self])._repr_html_()


class Results(list):
    """A list of `Result` (what `report_card` returns) that shows as a table: `str` gives the plain-text
    table the CLI prints, a notebook shows it as HTML, and `to_pandas` makes a DataFrame."""

    def __str__(self) -> str:
        return format_table(self)

    def _repr_html_(self) -> str:
        header, rows = _table_rows(self)
        return html_table(header, rows, caption=f"{len(self)} result{'s' if len(self) != 1 else ''}", right=(3,))

    def to_pandas(self):
        """One row per result: name, task, method, metric, score, coverage, found, total, oov, the baselines
        a task has (``bow_accuracy``, ``majority``, ``chance``; empty elsewhere) and the full ``details``
        as a dict. Needs pandas (``pip install pandas``)."""
        pd = pandas()
        keys = [key for key, _ in BASELINES if any(key in r.details for r in self)]
        records = []
        for r in self:
            row = {
                "name": r.name,
                "task": r.task,
                "method": r.details.get("method"),
                "metric": r.metric,
                "score": r.score,
                "coverage": r.coverage,
                "found": r.found,
                "total": r.total,
                "oov": r.oov,
            }
            row.update({key: r.details.get(key) for key in keys})
            row["details"] = dict(r.details)
            records.append(row)
        columns = ["name", "task", "method", "metric", "score", "coverage", "found", "total", "oov", *keys, "details"]
        return pd.DataFrame.from_records(records, columns=columns)


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(value) else float(value)
    return value


def format_table(results: Iterable[Result]) -> str:
    """One plain-text table: name, task, metric, score, coverage as ``found/total (pct)``, and a
    ``baselines`` column (bag of words, majority class, chance) when any result has one."""
    header, rows = _table_rows(list(results))
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    right = {3}  # numbers line up on the right

    def line(cells):
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def _table_rows(results: list[Result]) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    header = ("name", "task", "metric", "score", "coverage")
    rows = [(r.name, r.label, r.metric, _score(r.score), _coverage(r)) for r in results]
    if any(r.baselines for r in results):
        header += ("baselines",)
        rows = [(*row, _baselines(r)) for row, r in zip(rows, results)]
    return header, rows


def _score(score: float) -> str:
    return "n/a" if score is None or not math.isfinite(score) else f"{score:.4f}"


def _baselines(r: Result) -> str:
    return ", ".join(f"{name} {_score(value)}" for name, value in r.baselines.items())


def _coverage(r: Result) -> str:
    return f"{r.found}/{r.total} ({100.0 * r.coverage:.1f}%)"


def check_oov(oov: str) -> str:
    if oov not in OOV_POLICIES:
        raise EmbspaceError(
            f"unknown oov policy {oov!r}; choose 'drop' (leave out-of-vocabulary items out) "
            "or 'wrong' (count them as wrong)"
        )
    return oov
