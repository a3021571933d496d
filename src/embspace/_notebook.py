"""What notebooks show: small escaped HTML tables for `_repr_html_`, and pandas on request."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from .errors import EmbspaceError

CELL_CHARS = 80  # a longer text is cut in its cell (the whole of it stays in the object)


def html_table(
    header: Sequence[str], rows: Sequence[Sequence[Any]], caption: str = "", right: Sequence[int] = ()
) -> str:
    """An HTML table of plain values, every header, cell and the caption escaped (ids and texts
    come from files: a ``<script>`` in an id shows as text). Columns in `right` align right."""

    def cell(tag: str, value: Any, i: int) -> str:
        style = ' style="text-align: right"' if i in right else ' style="text-align: left"'
        return f"<{tag}{style}>{html.escape(_text(value))}</{tag}>"

    head = "".join(cell("th", h, i) for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", v, i) for i, v in enumerate(row)) + "</tr>" for row in rows)
    top = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{top}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "n/a" if value != value else f"{value:.4f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    text = " ".join(str(value).split())
    return text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 1] + "\u2026"


def pandas():
    """The pandas module, or a one-line error that says how to install it."""
    try:
        import pandas
    except ImportError:
        raise EmbspaceError("to_pandas() needs pandas, which is not installed; pip install pandas") from None
    return pandas
