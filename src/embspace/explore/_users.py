"""What the explorer answers about the users of a space of items: finding users by id, and one user's
history (the items they had in training) and recommendations (each with the liked items behind it).

Plain functions over `ServedSpace` returning JSON-ready dicts, like `_views`.
"""

from __future__ import annotations

import numpy as np

from ..errors import EmbspaceError
from ._served import ServedSpace
from ._views import _item

MAX_QUERY = 200  # characters of a user id or of a search for one
MAX_USERS = 100  # users listed by one search
MAX_HISTORY = 500  # items of a history listed and drawn (the most recent)
MAX_RECOMMENDED = 100


def _state(s: ServedSpace):
    """The recommender's view of the space (users, their time-ordered histories), read once per space."""
    if s.users is None:
        raise EmbspaceError(
            f"{s.name} was not built from interactions, so it has no users; make one with `embspace build items`"
        )
    from ..items._recommend import _state as state_of

    return state_of(s.space)


def _bounded(text: str, what: str) -> str:
    if len(text) > MAX_QUERY:
        raise EmbspaceError(f"the {what} is {len(text):,} characters long; at most {MAX_QUERY} are allowed")
    return text


def find_users(s: ServedSpace, query: str = "", limit: int = 20) -> dict:
    """Users whose id equals `query`, then those it starts, then those that contain it (each group in id
    order); an empty query lists the most active users. `total` counts every match, `results` the first
    `limit`, each ``{"id", "interactions"}``."""
    state = _state(s)
    query = _bounded(query.strip(), "user search")
    ids = state.user_ids
    if not query:
        counts = np.fromiter((len(h) for h in state.histories), dtype=np.int64, count=len(ids))
        order = np.argsort(-counts, kind="stable")[:limit].tolist()
    else:
        exact = [state.user_row[query]] if query in state.user_row else []
        starts = [u for u, x in enumerate(ids) if x.startswith(query) and x != query]
        inside = [u for u, x in enumerate(ids) if query in x and not x.startswith(query)]
        order = exact + starts + inside
    return {
        "q": query,
        "users": len(ids),
        "total": len(order) if query else len(ids),
        "results": [{"id": ids[u], "interactions": int(len(state.histories[u]))} for u in order[:limit]],
    }


def user_view(s: ServedSpace, user: str, k: int = 20, key: str | None = None, history: int = MAX_HISTORY) -> dict:
    """User `user`'s history (most recent first, at most `history` items) and their top-`k` recommendations
    (what they had left out), each with the liked items it is nearest to, and where all lie on map `key`.

    An unknown user raises `embspace.items.UnknownUserError` (close spellings among the users).
    """
    from ..items._recommend import _user_row

    state = _state(s)
    user = _bounded(user, "user id")
    if not user:
        raise EmbspaceError("give a user id (id=...)")
    row = _user_row(state, user)
    had = state.histories[row][::-1]
    recommended = s.space.recommend(user=user, k=k)
    items = []
    for rec in recommended:
        entry = _item(s, s.space.index(rec.id), key)
        entry.update(score=rec.score, because=[_item(s, s.space.index(b), key) for b in rec.because])
        items.append(entry)
    return {
        "user": user,
        "map": key,
        "k": k,
        "interactions": int(len(had)),
        "history": [_item(s, int(r), key) for r in had[:history]],
        "recommendations": items,
        "note": recommended.note,
    }
