"""Recommending from a space of items: for a user, for a set of recent choices, or like one item; each with why."""

from __future__ import annotations

import io
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ..errors import EmbspaceError, UnknownIdError, close_matches
from ..space import Space
from ._methods import recency_weights

BASELINES = ("popularity",)
_STATE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class UnknownUserError(UnknownIdError):
    """A user id the space was not built with; carries close spellings among its users."""

    def __str__(self) -> str:
        msg = f"user {self.item!r} is not among the space's users"
        if self.suggestions:
            msg += "; did you mean " + ", ".join(repr(s) for s in self.suggestions) + "?"
        return msg


@dataclass(frozen=True)
class Recommendation:
    """One recommended item: its id, its score, and the liked items it is nearest to (best first)."""

    id: str
    score: float
    because: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"id": self.id, "score": self.score, "because": list(self.because)}


class Recommendations(list):
    """A list of `Recommendation`, best first; `note` says why it is short or empty (None when it is not)."""

    note: str | None = None


class _State:
    """What recommending needs from the space, read once per space: users, their histories, the scorer."""

    def __init__(self, space: Space):
        if space.info.get("builder") != "embspace.items" or "users" not in space.extras:
            raise EmbspaceError("this space was not built from interactions; make one with `embspace build items`")
        for asset in ("users.parquet", "interactions.parquet"):
            if asset not in space.assets:
                raise EmbspaceError(f"the space has no assets/{asset}; rebuild it with `embspace build items`")
        users = _read_parquet(space.assets["users.parquet"])
        inter = _read_parquet(space.assets["interactions.parquet"])
        self.user_ids = [str(u) for u in users["user"]]
        self.user_row = {u: r for r, u in enumerate(self.user_ids)}
        n_users, n_items = len(self.user_ids), space.n
        rows, cols = inter["user"].astype(np.int64), inter["item"].astype(np.int64)
        if len(rows) and (rows.min() < 0 or rows.max() >= n_users or cols.min() < 0 or cols.max() >= n_items):
            raise EmbspaceError("assets/interactions.parquet names users or items the space does not hold; rebuild it")
        if space.extras["users"].shape != (n_users, space.dim):
            raise EmbspaceError("extras/users.npy does not match assets/users.parquet; rebuild the space")
        order = np.lexsort((inter["time"], rows))
        rows, cols = rows[order], cols[order]
        bounds = np.searchsorted(rows, np.arange(n_users + 1))
        self.histories = [cols[bounds[u] : bounds[u + 1]] for u in range(n_users)]
        self.popularity = np.bincount(cols, minlength=n_items).astype(np.float32)
        recommend = space.info.get("recommend") or {}
        self.scorer = recommend.get("scorer", "cosine")
        self.recency = float(recommend.get("recency") or 0.0)
        self.neighbors = None
        if self.scorer == "neighbors":
            idx, scores = space.extras["neighbor_rows"], space.extras["neighbor_scores"]
            idx = np.asarray(idx).astype(np.int64)
            keep = idx >= 0
            if (idx >= n_items).any():
                raise EmbspaceError("extras/neighbor_rows.npy names rows past the space's end; rebuild the space")
            target = np.repeat(np.arange(n_items), idx.shape[1])[keep.ravel()]
            # row i: how much each item j the user had counts for i
            self.neighbors = sp.csr_matrix(
                (np.asarray(scores)[keep], (target, idx[keep])), shape=(n_items, n_items), dtype=np.float32
            )
            self.neighbors_t = sp.csr_matrix(self.neighbors.T)
        self.unit = space.normalized()
        self.fold_in = recommend.get("fold_in")
        if self.fold_in:
            items = np.asarray(space.vectors, dtype=np.float64)
            self.gram = items.T @ items
        self.context = None
        if self.scorer == "context":
            if space.extras.get("context") is None or space.extras["context"].shape != (n_items, space.dim):
                raise EmbspaceError("the space has no extras/context.npy of its shape; rebuild it")
            self.context = np.asarray(space.extras["context"])


def _read_parquet(asset: bytes | Path) -> dict[str, np.ndarray]:
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(asset) if isinstance(asset, (bytes, bytearray)) else asset)
    return {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}


def _state(space: Space) -> _State:
    state = _STATE.get(space)
    if state is None:
        state = _STATE[space] = _State(space)
    return state


def recommend(
    space: Space,
    user: str | None = None,
    items: list[str] | str | None = None,
    similar: str | None = None,
    k: int = 10,
    include_seen: bool = False,
    baseline: str | None = None,
    explain: int = 3,
) -> Recommendations:
    """The `k` items to recommend, best first, each with the (up to `explain`) liked items it is nearest to.

    Give exactly one of: `user` (an id of the users the space was built with; what they had is left out
    unless `include_seen`), `items` (a new user's recent choices, oldest first, as a list or "A,B,C") or
    `similar` (an item id: the items most like it). `baseline="popularity"` ranks by interaction count instead.
    A user who has had every item gets an empty list whose `note` says so.
    """
    if sum(x is not None for x in (user, items, similar)) != 1:
        raise EmbspaceError("give exactly one of user=, items= or similar=")
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise EmbspaceError(f"k must be a positive whole number; got {k!r}")
    if baseline is not None and baseline not in BASELINES:
        raise EmbspaceError(f"unknown baseline {baseline!r}; choose one of {', '.join(BASELINES)}")
    state = _state(space)
    if user is not None:
        history = state.histories[_user_row(state, str(user))]
        weights = recency_weights(np.arange(len(history))[::-1], state.recency)
        seen = history
        user_vector = space.extras["users"][_user_row(state, str(user))]
    elif items is not None:
        names = [s.strip() for s in items.split(",")] if isinstance(items, str) else [str(s) for s in items]
        names = [s for s in names if s]
        if not names:
            raise EmbspaceError("items= is empty; give the ids of some items, e.g. 50,172")
        history = np.array([space.index(s) for s in names], dtype=np.int64)
        weights = recency_weights(np.arange(len(history))[::-1], state.recency)
        seen = history
        user_vector = None
    else:
        row = space.index(str(similar))
        history, weights, seen, user_vector = np.array([row]), np.ones(1, np.float32), np.array([row]), None
    if baseline == "popularity":
        scores = state.popularity.copy()
    elif similar is not None:
        scores = _similar_scores(state, space, history[0])
    else:
        scores = _scores(state, space, history, weights, user_vector)
    return _top(state, space, scores, history, weights, seen, k, include_seen or False, explain, user)


def _user_row(state: _State, user: str) -> int:
    row = state.user_row.get(user)
    if row is None:
        raise UnknownUserError(user, close_matches(user, state.user_ids))
    return row


def _scores(state, space, history, weights, user_vector) -> np.ndarray:
    if not len(history):
        return state.popularity.copy()
    if state.scorer == "neighbors":
        w = np.zeros(space.n, dtype=np.float32)
        np.add.at(w, history, weights)
        return np.asarray(state.neighbors @ w, dtype=np.float32).ravel()
    if state.fold_in and (user_vector is None or state.recency):
        return _fold_in(state, space, history, weights)
    if state.scorer == "dot" and user_vector is not None:
        return np.asarray(space.vectors @ user_vector, dtype=np.float32)
    if state.scorer == "context":
        profile = weights @ np.asarray(space.vectors)[history] / weights.sum()
        return np.asarray(state.context @ profile, dtype=np.float32)
    profile = weights @ state.unit[history] / weights.sum()
    return state.unit @ profile


def _fold_in(state, space, history, weights) -> np.ndarray:
    """ALS's own user step for this history: the user vector that best fits confidence 1 + alpha * weight on
    their items (Hu et al. 2008, eq. 4), with the weights halving into the past (recency) or all 1."""
    items = np.asarray(space.vectors, dtype=np.float64)[history]
    confidence = 1.0 + float(state.fold_in["alpha"]) * weights.astype(np.float64)
    a = state.gram + (items.T * (confidence - 1.0)) @ items
    a[np.diag_indices_from(a)] += float(state.fold_in["regularization"])
    user = np.linalg.solve(a, items.T @ confidence)
    return np.asarray(space.vectors @ user.astype(np.float32), dtype=np.float32)


def _similar_scores(state, space, row) -> np.ndarray:
    if state.scorer == "neighbors":
        return state.neighbors[row].toarray().ravel() + state.neighbors_t[row].toarray().ravel() * 1e-6
    return state.unit @ state.unit[row]


def _top(state, space, scores, history, weights, seen, k, include_seen, explain, user) -> Recommendations:
    scores = np.asarray(scores, dtype=np.float32).copy()
    if not include_seen:
        scores[seen] = -np.inf
    available = int(np.isfinite(scores).sum())
    out = Recommendations()
    if available == 0:
        out.note = (
            f"user {user} has had every item in the space; nothing left to recommend"
            if user is not None
            else "every item of the space is among the given ones; nothing left to recommend"
        )
        return out
    k = min(k, available)
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.lexsort((top, -scores[top]))]
    for i in top:
        out.append(Recommendation(space.ids[i], float(scores[i]), _because(state, space, i, history, weights, explain)))
    return out


def _because(state, space, item, history, weights, explain) -> tuple[str, ...]:
    """The liked items that count most for `item`: by their item-item score, or the nearest by cosine."""
    if explain <= 0 or not len(history):
        return ()
    history = history[history != item]
    if not len(history):
        return ()
    if state.neighbors is not None:
        row = state.neighbors[item]
        lookup = dict(zip(row.indices.tolist(), row.data.tolist()))
        strength = np.array([lookup.get(int(j), 0.0) for j in history], dtype=np.float32)
    elif state.context is not None:
        strength = np.asarray(space.vectors)[history] @ state.context[item]
    else:
        strength = state.unit[history] @ state.unit[item]
    best = np.argsort(-strength, kind="stable")[:explain]
    return tuple(space.ids[history[j]] for j in best if strength[j] > 0)
