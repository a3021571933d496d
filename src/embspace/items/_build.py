"""`embspace.items.build`: a space of items, with the users' vectors and the training interactions inside."""

from __future__ import annotations

import io
import os
import time as clock

import numpy as np
import scipy.sparse as sp

from .._version import __version__
from ..errors import EmbspaceError
from ..space import Space
from ._input import Interactions, read_interactions, read_table
from ._methods import DEFAULTS, METHODS, fit


def build(
    source: str | os.PathLike | Interactions,
    method: str = "itemknn",
    *,
    user: str | None = None,
    item: str | None = None,
    rating: str | None = None,
    time: str | None = None,
    items_meta: str | os.PathLike | None = None,
    item_key: str | None = None,
    duplicates: str = "sum",
    fmt: str | None = None,
    seed: int = 0,
    name: str | None = None,
    **params,
) -> Space:
    """Items and users from interactions: one row per item, the users' vectors travelling with them.

    Parameters
    ----------
    source : path or Interactions
        A CSV/TSV/JSONL/Parquet table, a MovieLens ``u.data`` or recbole ``.inter`` file (see
        `read_interactions` for `user`, `item`, `rating`, `time`, `duplicates` and `fmt`).
    method : {"itemknn", "ease", "als", "bpr", "item2vec"}
        itemknn: cosine between item columns (shrunk), each item's 200 nearest kept; ease: Steck's closed-form
        item-item regression; als / bpr: matrix factorisation from `implicit` (ALS confidence = 1 + alpha *
        rating); item2vec: gensim skip-gram over each user's time-ordered items. itemknn, ease, bpr and
        item2vec use only whether a user had an item, not the rating.
    items_meta, item_key : path and column, optional
        A table of item metadata (title, genres...) joined on `item_key` (default: its item column).
    **params
        The method's knobs (see ``DEFAULTS``): dim, neighbors, shrinkage, l2, regularization, alpha,
        iterations, learning_rate, window, epochs, negative, and recency (a user's interactions weigh
        half every `recency` interactions back when recommending; 0 = all equal).

    Returns
    -------
    Space of shape (n_items, dim), metric cosine; meta: interactions (count), users (distinct), rating
    (mean, with a rating column), and the metadata columns; extras["users"] (n_users, dim) float32;
    assets "users.parquet" (user ids in the order of extras["users"]) and "interactions.parquet".

    Examples
    --------
    >>> space = build("u.data", method="itemknn")  # doctest: +SKIP
    >>> space.recommend(user="196", k=5)  # doctest: +SKIP
    """
    if method not in METHODS:
        raise EmbspaceError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    unknown = sorted(set(params) - set(DEFAULTS[method]))
    if unknown:
        raise EmbspaceError(
            f"{', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not a parameter of {method}; "
            f"valid: {', '.join(DEFAULTS[method])}"
        )
    knobs = dict(DEFAULTS[method], **{k: v for k, v in params.items() if v is not None})
    start = clock.perf_counter()
    data = (
        source
        if isinstance(source, Interactions)
        else read_interactions(source, user=user, item=item, rating=rating, time=time, duplicates=duplicates, fmt=fmt)
    )
    user_ids, user_rows = np.unique(data.users, return_inverse=True)
    item_ids, item_cols = np.unique(data.items, return_inverse=True)
    # rows in order of interactions, most first (as a word space is in frequency order); ties by id
    by_count = np.argsort(-np.bincount(item_cols, minlength=len(item_ids)), kind="stable")
    rank = np.empty_like(by_count)
    rank[by_count] = np.arange(len(by_count))
    item_ids, item_cols = item_ids[by_count], rank[item_cols]
    where = "" if isinstance(source, Interactions) else f"{source}: "
    if len(user_ids) < 2:
        raise EmbspaceError(f"{where}only one user ({str(user_ids[0])!r}); recommendations need at least two users")
    if len(item_ids) < 2:
        raise EmbspaceError(f"{where}only one item ({str(item_ids[0])!r}); recommendations need at least two items")
    matrix = sp.csr_matrix(
        (data.ratings.astype(np.float32), (user_rows, item_cols)), shape=(len(user_ids), len(item_ids))
    )
    histories = _histories(user_rows, item_cols, len(user_ids))
    fit_start = clock.perf_counter()
    model = fit(method, matrix, histories, knobs, seed)
    fit_seconds = clock.perf_counter() - fit_start
    meta = _item_meta(item_ids, item_cols, user_rows, data, items_meta, item_key)
    info = {
        "name": name or f"items-{method}",
        "kind": "items",
        "builder": "embspace.items",
        "method": method,
        "params": knobs,
        "seed": seed,
        "data": data.source or {"format": "interactions"},
        "notes": list(data.notes),
        "users": len(user_ids),
        "items": len(item_ids),
        "interactions": len(data),
        "recommend": {"scorer": model.scorer, "recency": knobs["recency"], **model.recommend},
        "items_meta": _meta_source(items_meta, item_key) if items_meta else None,
        "seconds": round(clock.perf_counter() - start, 3),
        "fit_seconds": round(fit_seconds, 3),
        "embspace_version": __version__,
    }
    space = Space([str(i) for i in item_ids], model.item_vectors, meta, info, metric="cosine", check=False)
    space.extras["users"] = np.ascontiguousarray(model.user_vectors, dtype=np.float32)
    space.extras.update(model.extras)
    space.assets["users.parquet"] = _parquet(
        {"user": [str(u) for u in user_ids], "interactions": np.bincount(user_rows, minlength=len(user_ids))}
    )
    space.assets["interactions.parquet"] = _parquet(
        {
            "user": user_rows.astype(np.int32),
            "item": item_cols.astype(np.int32),
            "rating": data.ratings,
            "time": data.times,
        }
    )
    return space


def _histories(user_rows: np.ndarray, item_cols: np.ndarray, n_users: int) -> list[np.ndarray]:
    """Each user's item columns in time order (the interactions come sorted by user, then time)."""
    order = np.argsort(user_rows, kind="stable")
    bounds = np.searchsorted(user_rows[order], np.arange(n_users + 1))
    return [item_cols[order[bounds[u] : bounds[u + 1]]] for u in range(n_users)]


def _item_meta(item_ids, item_cols, user_rows, data, items_meta, item_key) -> dict[str, list]:
    counts = np.bincount(item_cols, minlength=len(item_ids))
    meta: dict[str, list] = {"interactions": counts.tolist()}
    if data.source.get("columns", {}).get("rating"):
        sums = np.bincount(item_cols, weights=data.ratings, minlength=len(item_ids))
        meta["rating"] = [round(float(s / c), 4) for s, c in zip(sums, counts)]
    if items_meta is not None:
        meta.update(_join_meta(item_ids, items_meta, item_key))
    return meta


def _join_meta(item_ids, path, key) -> dict[str, list]:
    """The metadata table's columns, one value per item (None where the table has no row for it)."""
    columns = read_table(path)
    if key is None:
        from ._input import _GUESSES

        key = next((c for g in _GUESSES["item"] for c in columns if c.lower() == g.lower()), None)
        if key is None:
            raise EmbspaceError(
                f"{path}: which column holds the item ids? give --item-key (columns: {', '.join(columns)})"
            )
    if key not in columns:
        raise EmbspaceError(f"{path} has no column {key!r} for --item-key (columns: {', '.join(columns)})")
    from ._input import _ids

    keys, _ = _ids(columns[key])
    row_of = {k: r for r, k in enumerate(keys)}
    rows = [row_of.get(str(i)) for i in item_ids]
    out = {}
    for name, values in columns.items():
        if name == key or name in ("id", "interactions", "rating"):
            continue
        column = [None if r is None else _plain(values[r]) for r in rows]
        if name in ("class", "genres", "genre") and all(isinstance(v, str) or v is None for v in column):
            column = [v if v is None or "|" in v else "|".join(v.split()) for v in column]  # recbole: spaces
            name = "genres"
        if name == "movie_title":
            name = "title"
        out[name] = column
    return out


def _plain(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value if isinstance(value, (int, float, bool)) or value is None else str(value)


def _meta_source(path, key) -> dict:
    from pathlib import Path

    from .._files import sha256_file

    p = Path(path)
    return {"file": p.name, "item_key": key, "bytes": p.stat().st_size, "sha256": sha256_file(p)}


def _parquet(columns: dict) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(pa.table({k: pa.array(v) for k, v in columns.items()}), sink)
    return sink.getvalue()
