"""Comparing two spaces over their shared ids: how much do their neighbourhoods agree?"""

from __future__ import annotations

import numpy as np

from ..errors import EmbspaceError
from ..space import Space

TEXT_COLUMNS = ("text", "sentence")  # what a space of texts (or of token occurrences) says each id is


def neighbour_overlap(a: Space, b: Space, k: int = 10, sample: int | None = 2000, worst: int = 10) -> dict:
    """Overlap of top-k neighbour sets, each space restricted to the ids both share.

    The `sample` shared ids that come first in `a` (the most frequent, for word spaces) are compared.
    Returns ``{"shared", "compared", "k", "mean", "median", "most_different": [...]}`` where each of
    the `worst` entries holds the id, its overlap (0-1) and the neighbours only one space has. In
    spaces of texts (a ``text`` or ``sentence`` column, in `a` or else `b`), whose ids say nothing,
    each entry also holds the texts: ``text``, ``a_only_text`` and ``b_only_text``, and the result
    names the column in ``"text_column"``.
    """
    in_b = set(b.ids)
    shared = [i for i in a.ids if i in in_b]
    if len(shared) <= k:
        raise EmbspaceError(f"the spaces share {len(shared)} ids; need more than k={k} to compare neighbourhoods")
    sa, sb = a.subset(shared), b.subset(shared)
    queries = shared[: sample or len(shared)]
    na = sa.neighbors(queries, k=k)
    nb = sb.neighbors(queries, k=k)
    scores, rows = [], []
    for word, ra, rb in zip(queries, na, nb):
        ids_a, ids_b = [n.id for n in ra], [n.id for n in rb]
        overlap = len(set(ids_a) & set(ids_b)) / k
        scores.append(overlap)
        rows.append(
            {
                "id": word,
                "overlap": overlap,
                "a_only": [i for i in ids_a if i not in ids_b],
                "b_only": [i for i in ids_b if i not in ids_a],
            }
        )
    order = np.argsort(scores, kind="stable")[:worst]
    column, text_of = _texts(a, b)
    if text_of is not None:
        for i in order:
            row = rows[i]
            row["text"] = text_of(row["id"])
            row["a_only_text"] = [text_of(x) for x in row["a_only"]]
            row["b_only_text"] = [text_of(x) for x in row["b_only"]]
    return {
        "shared": len(shared),
        "compared": len(queries),
        "k": k,
        "mean": float(np.mean(scores)),
        "median": float(np.median(scores)),
        "most_different": [rows[i] for i in order],
        **({"text_column": column} if column else {}),
    }


def _texts(a: Space, b: Space):
    """(column name, id -> its text) from the first of `a`, `b` with a text column; (None, None) if neither."""
    for space in (a, b):
        for column in TEXT_COLUMNS:
            if column in space.meta:
                values = space.meta[column]

                def text_of(item: str, space=space, values=values) -> str:
                    value = values[space.index(item)]
                    return "" if value is None else str(value)

                return column, text_of
    return None, None
