"""The feature transform of a table: numeric columns standardised, yes/no columns as 0/1, categoricals
one-hot, missing values imputed (median / most frequent) and flagged in an indicator column.

Fitted on the build's rows and kept as JSON in the space's manifest (``info["table"]["transform"]``),
so rows that come later are placed exactly as the build's rows were.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..errors import EmbspaceError

MAX_CATEGORIES = 50  # one-hot levels per column; rarer levels share one "(other)" column
OTHER = "(other)"
MISSING_SUFFIX = ":missing"
_YES = {"yes", "y", "true", "t", "1"}
_NO = {"no", "n", "false", "f", "0"}


@dataclass
class Column:
    """How one input column becomes output columns.

    kind : "numeric" (standardised by `mean`, `std`), "binary" (1 where the value is `positive`) or
    "categorical" (one-hot over `categories`; a level not among them, and `OTHER` if listed, sets the
    OTHER column). `fill` replaces a missing value; `flag` adds a column that is 1 where it was missing.
    """

    name: str
    kind: str
    fill: Any
    flag: bool = False
    mean: float = 0.0
    std: float = 1.0
    positive: str | None = None
    categories: list[str] = field(default_factory=list)

    def outputs(self) -> list[str]:
        if self.kind == "categorical":
            names = [f"{self.name}={c}" for c in self.categories]
        elif self.kind == "binary":
            names = [f"{self.name}={self.positive}"]
        else:
            names = [self.name]
        return names + ([self.name + MISSING_SUFFIX] if self.flag else [])


@dataclass
class Transform:
    """Rows of a table -> float32 feature vectors; `fit` learns it, `apply` uses it."""

    columns: list[Column] = field(default_factory=list)
    dropped: list[dict] = field(default_factory=list)  # {"column", "reason"} for each input column left out

    @property
    def layout(self) -> list[str]:
        """The name of every output column, in order (e.g. ``lotsize``, ``driveway=yes``, ``age:missing``)."""
        return [name for col in self.columns for name in col.outputs()]

    @classmethod
    def fit(cls, frame, names: list[str], max_categories: int = MAX_CATEGORIES) -> Transform:
        """Learn the transform of the columns `names` of `frame` (a pandas DataFrame)."""
        out = cls()
        n = len(frame)
        for name in names:
            column, reason = _fit_column(frame[name], name, n, max_categories)
            if column is None:
                out.dropped.append({"column": name, "reason": reason})
            else:
                out.columns.append(column)
        if not out.columns:
            said = "; ".join(f"{d['column']}: {d['reason']}" for d in out.dropped[:5])
            raise EmbspaceError(f"no column is left to embed ({said})")
        return out

    def apply(self, frame, where: str = "the rows") -> np.ndarray:
        """Feature vectors of shape (len(frame), len(layout)), float32. A column absent from `frame` counts as
        missing in every row; a value that cannot be read as the column's kind is one line."""
        parts = [
            _apply_column(col, frame[col.name] if col.name in frame else None, len(frame), where)
            for col in self.columns
        ]
        return np.ascontiguousarray(np.concatenate(parts, axis=1), dtype=np.float32)

    def numeric_block(self, frame, where: str = "the rows") -> np.ndarray:
        """Like `apply` without the one-hot categoricals (the learned network embeds those itself)."""
        parts = [
            _apply_column(col, frame[col.name] if col.name in frame else None, len(frame), where)
            for col in self.columns
            if col.kind != "categorical"
        ]
        if not parts:
            return np.zeros((len(frame), 0), dtype=np.float32)
        return np.ascontiguousarray(np.concatenate(parts, axis=1), dtype=np.float32)

    def state(self) -> dict:
        return {"columns": [asdict(c) for c in self.columns], "dropped": list(self.dropped), "layout": self.layout}

    @classmethod
    def restore(cls, state) -> Transform:
        """The transform from a manifest's JSON; anything malformed is one line."""
        try:
            columns = [Column(**c) for c in state["columns"]]
            dropped = list(state.get("dropped") or [])
        except (TypeError, KeyError, AttributeError) as exc:
            raise EmbspaceError(f"the space's table transform is malformed ({exc}); rebuild the space") from None
        for col in columns:
            problem = _malformed(col)
            if problem:
                raise EmbspaceError(f"the space's table transform is malformed: {problem}; rebuild the space")
        return cls(columns, dropped)


def _malformed(col: Column) -> str:
    """What is wrong with a column read from a manifest ('' when nothing is)."""

    def number(v) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)

    if not isinstance(col.name, str):
        return f"a column name is {col.name!r}"
    if col.kind not in ("numeric", "binary", "categorical"):
        return f"the column {col.name!r} is of kind {col.kind!r}"
    if not isinstance(col.flag, bool):
        return f"the column {col.name!r} has flag {col.flag!r}"
    if col.kind == "numeric":
        if not (number(col.fill) and number(col.mean) and number(col.std) and col.std > 0):
            return f"the numeric column {col.name!r} has fill {col.fill!r}, mean {col.mean!r}, std {col.std!r}"
    elif not isinstance(col.fill, str):
        return f"the column {col.name!r} has fill {col.fill!r}"
    if col.kind == "binary" and not isinstance(col.positive, str):
        return f"the yes/no column {col.name!r} has no positive value"
    if col.kind == "categorical" and not (
        isinstance(col.categories, list) and col.categories and all(isinstance(c, str) for c in col.categories)
    ):
        return f"the column {col.name!r} lists no categories"
    return ""


def column_kind(series) -> tuple[str, Any]:
    """("numeric", float values), ("text", str values or None) or ("time", None) for a pandas Series."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(series.dtype) or pd.api.types.is_timedelta64_dtype(series.dtype):
        return "time", None
    present = series.notna().to_numpy()
    if pd.api.types.is_bool_dtype(series.dtype) or (
        series.dtype == object and present.any() and all(isinstance(v, (bool, np.bool_)) for v in series[present])
    ):
        return "text", [None if not p else str(bool(v)).lower() for v, p in zip(series.tolist(), present)]
    if pd.api.types.is_numeric_dtype(series.dtype):
        return "numeric", series.to_numpy(dtype=np.float64, na_value=np.nan)
    numbers = pd.to_numeric(series.where(series.notna(), None), errors="coerce").to_numpy(dtype=np.float64)
    if present.any() and np.isfinite(numbers[present]).all():
        return "numeric", numbers
    return "text", [None if not p else str(v).strip() for v, p in zip(series.tolist(), present)]


def _fit_column(series, name: str, n: int, max_categories: int) -> tuple[Column | None, str]:
    kind, values = column_kind(series)
    if kind == "time":
        return None, "dates or times are not embedded as they are: derive numbers from them (year, month, hour)"
    if kind == "numeric":
        missing = ~np.isfinite(values)
        present = values[~missing]
        if present.size == 0:
            return None, "all values missing"
        if np.unique(present).size == 1:
            return None, f"constant (every value is {_show(present[0])})"
        if (
            n >= 10
            and present.size == n
            and present[0] in (0, 1)
            and np.array_equal(present, present[0] + np.arange(n))
        ):
            return None, "counts the rows (1, 2, 3, ...): a row number, not a feature"
        median = float(np.median(present))
        mean, std = float(present.mean()), float(present.std())
        return Column(name, "numeric", median, bool(missing.any()), mean, std), ""
    texts = [v if v else None for v in values]
    present = [v for v in texts if v is not None]
    if not present:
        return None, "all values missing"
    levels, counts = np.unique(np.array(present, dtype=object), return_counts=True)
    order = sorted(range(len(levels)), key=lambda i: (-counts[i], str(levels[i])))
    ranked = [str(levels[i]) for i in order]
    flag = len(present) < n
    if len(ranked) == 1:
        return None, f"constant (every value is {ranked[0]!r})"
    if len(ranked) == 2:
        yes = [v for v in ranked if v.lower() in _YES]
        no = [v for v in ranked if v.lower() in _NO]
        positive = yes[0] if yes and no else sorted(ranked)[1]
        return Column(name, "binary", ranked[0], flag, positive=positive), ""
    if len(ranked) == len(present) and len(ranked) > max_categories:
        return None, f"every value is different ({len(ranked):,} values): an identifier, not a feature"
    categories = ranked[:max_categories] + ([OTHER] if len(ranked) > max_categories else [])
    return Column(name, "categorical", ranked[0], flag, categories=categories), ""


def _show(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _apply_column(col: Column, series, n: int, where: str) -> np.ndarray:
    import pandas as pd

    width = len(col.outputs())
    out = np.zeros((n, width), dtype=np.float64)
    if series is None:
        series = pd.Series([None] * n, dtype=object)
    if col.kind == "numeric":
        values = _numbers(series, col.name, where)
        missing = ~np.isfinite(values)
        values = np.where(missing, col.fill, values)
        out[:, 0] = (values - col.mean) / (col.std or 1.0)
    else:
        texts = [
            None if (v is None or (isinstance(v, float) and np.isnan(v)) or pd.isna(v)) else _text(v)
            for v in series.tolist()
        ]
        missing = np.array([t is None or t == "" for t in texts], dtype=bool)
        texts = [col.fill if m else t for t, m in zip(texts, missing)]
        if col.kind == "binary":
            out[:, 0] = [t == col.positive for t in texts]
        else:
            index = {c: i for i, c in enumerate(col.categories)}
            other = index.get(OTHER)
            for row, t in enumerate(texts):
                j = index.get(t, other)
                if j is not None:
                    out[row, j] = 1.0
    if col.flag:
        out[:, -1] = missing
    return out


def _text(value) -> str:
    if isinstance(value, bool) or isinstance(value, np.bool_):
        return str(bool(value)).lower()
    return str(value).strip()


def _numbers(series, name: str, where: str) -> np.ndarray:
    import pandas as pd

    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    present = series.notna().to_numpy()
    numbers = pd.to_numeric(series.where(series.notna(), None), errors="coerce").to_numpy(dtype=np.float64)
    bad = present & ~np.isfinite(numbers)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise EmbspaceError(
            f"{where}: the column {name!r} is numeric but row {row + 1} holds {series.iloc[row]!r}; "
            "give a number or leave it empty"
        )
    return numbers
