"""Printing for the CLI: plain tables for people, JSON for machines."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from ..errors import EmbspaceError
from ..space import Space
from ..store import check_target, is_space, load

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def score_kind(metric: str) -> str:
    """What a score under `metric` is: a 'distance' (euclidean: lower is closer) or a 'similarity'."""
    return "distance" if metric == "euclidean" else "similarity"


def neighbors_json(result: Sequence[Any], metric: str, texts: Sequence[Any] | None = None) -> list[dict[str, Any]]:
    """Neighbours as JSON rows {"id", "score", "score_kind"} (+ "text"), best first.

    `score_kind` says how to read "score": a similarity (higher is closer) or a distance (lower is closer).
    """
    kind = score_kind(metric)
    rows = [{"id": n.id, "score": n.score, "score_kind": kind} for n in result]
    if texts is not None:
        for row, text in zip(rows, texts):
            row["text"] = text
    return rows


def table(rows: Sequence[Sequence[Any]], header: Sequence[str], align: str | None = None) -> str:
    """A plain-text table; `align` is one of 'l'/'r' per column (numbers right by default)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]
    if align is None:
        align = "".join("r" if rows and isinstance(rows[0][i], (int, float)) else "l" for i in range(len(header)))

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if a == "r" else v.ljust(w) for v, w, a in zip(values, widths, align)).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), sep] + [line(r) for r in cells])


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def open_space(path: str) -> Space:
    if not Path(path).exists():
        raise EmbspaceError(f"{path}: no such space (make one with `embspace import` or `embspace demo`)")
    if not is_space(path):
        raise EmbspaceError(f"{path} is not a .space folder (no manifest.json); import it first with `embspace import`")
    return load(path)


def check_writable_output(path: str, force: bool) -> None:
    """Fail before any work if OUT cannot be written or would replace something."""
    check_target(path, overwrite=force, hint="pass --force")
