"""Recommendation against held-out interactions: hit@k, nDCG@k, recall@k and catalogue coverage, each beside
the popularity baseline (full ranking over every item, what the user had in training left out)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import EmbspaceError
from ..space import Space
from ._result import Result, Results


def recommendation(
    space: Space,
    holdout: str | os.PathLike,
    k: int = 10,
    *,
    user: str | None = None,
    item: str | None = None,
    time: str | None = None,
) -> Results:
    """Score the space's recommendations for the users of `holdout` (a file of test interactions, e.g. from
    `embspace split`): every held-out item of a user is relevant.

    Parameters
    ----------
    space : Space
        Built with `embspace.items.build`; its users' training interactions are left out of the ranking.
    holdout : path
        Interactions in any format `embspace.items.read_interactions` reads; the columns default to the
        ones the space was built from.
    k : int
        The length of each list of recommendations.

    Returns
    -------
    Results: hit@k (share of users with a held-out item in their top k), ndcg@k (binary gains), recall@k
    (share of each user's held-out items found, averaged over users) and coverage@k (share of the catalogue
    recommended to anyone), each with ``details["popularity"]``; ``found/total`` counts the test users the
    space knows (a user it was not built with cannot be scored and is left out).
    """
    from ..items import UnknownUserError, read_interactions

    if not isinstance(k, (int, np.integer)) or k < 1:
        raise EmbspaceError(f"k must be a positive whole number; got {k!r}")
    if space.info.get("builder") != "embspace.items":
        raise EmbspaceError("--holdout scores recommendations; this space was not built with `embspace build items`")
    columns = (space.info.get("data") or {}).get("columns") or {}
    test = _read(read_interactions, holdout, user, item, time, columns)
    relevant: dict[str, set[str]] = {}
    for u, i in zip(test.users.tolist(), test.items.tolist()):
        relevant.setdefault(u, set()).add(i)
    model = _Scores(k)
    popular = _Scores(k)
    missing = 0
    for u, wanted in relevant.items():
        try:
            model.add(space.recommend(user=u, k=k, explain=0), wanted)
        except UnknownUserError:
            missing += 1
            continue
        popular.add(space.recommend(user=u, k=k, baseline="popularity", explain=0), wanted)
    total = len(relevant)
    found = total - missing
    if found == 0:
        raise EmbspaceError(
            f"{holdout}: none of its {total:,} users is among the space's users; was it split from the same data?"
        )
    name = Path(holdout).stem
    details = {"method": space.info.get("method"), "k": k, "users": found, "test_interactions": len(test)}
    out = Results()
    for metric, ours, theirs in (
        (f"hit@{k}", model.hit(), popular.hit()),
        (f"ndcg@{k}", model.ndcg(), popular.ndcg()),
        (f"recall@{k}", model.recall(), popular.recall()),
        (f"coverage@{k}", len(model.shown) / space.n, len(popular.shown) / space.n),
    ):
        out.append(
            Result(
                name,
                "recommendation",
                metric,
                ours,
                found / total,
                found,
                total,
                "drop",
                dict(details, popularity=theirs),
            )
        )
    return out


def _read(read_interactions, holdout, user, item, time, columns):
    """The holdout, with the space's own column names where the file has them."""
    try:
        return read_interactions(
            holdout,
            user=user or columns.get("user"),
            item=item or columns.get("item"),
            time=time or columns.get("time"),
        )
    except EmbspaceError:
        if user or item or time:
            raise
        return read_interactions(holdout)  # other column names: guessed (user_id, item_id, ...)


class _Scores:
    """Running sums of hit, nDCG and recall over users, and the items shown to anyone."""

    def __init__(self, k: int):
        self.k = k
        self.discounts = 1.0 / np.log2(np.arange(2, k + 2))
        self.hits: list[float] = []
        self.ndcgs: list[float] = []
        self.recalls: list[float] = []
        self.shown: set[str] = set()

    def add(self, recommended, wanted: set[str]) -> None:
        ids = [r.id for r in recommended]
        self.shown.update(ids)
        gains = np.array([i in wanted for i in ids], dtype=np.float64)
        found = gains.sum()
        self.hits.append(float(found > 0))
        ideal = self.discounts[: min(len(wanted), self.k)].sum()
        self.ndcgs.append(float(gains @ self.discounts[: len(gains)] / ideal))
        self.recalls.append(float(found / len(wanted)))

    def hit(self) -> float:
        return float(np.mean(self.hits)) if self.hits else float("nan")

    def ndcg(self) -> float:
        return float(np.mean(self.ndcgs)) if self.ndcgs else float("nan")

    def recall(self) -> float:
        return float(np.mean(self.recalls)) if self.recalls else float("nan")
