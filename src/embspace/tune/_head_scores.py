"""Before/after scores of contrastive tuning on what was held out: the partner's rank among all rows for pairs,
kNN label accuracy of held-out items against the training items for labels; each with its coverage."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..search import topk

KNN_K = 10
_BLOCK = 16_384


@dataclass
class ContrastiveReport:
    """What contrastive tuning did: ``scores`` (name, before, after, coverage...), the data it used, the mean
    loss of each epoch and the time it took."""

    objective: str
    scores: list[dict[str, Any]]
    data: dict[str, Any]
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "objective": self.objective,
            "scores": self.scores,
            "data": self.data,
            "losses": self.losses,
            "seconds": self.seconds,
        }

    def table(self) -> str:
        """The scores as a plain-text table, with what they were measured on."""
        if not self.scores:
            return "nothing held out (test fraction 0): no before/after score"
        header = ("score", "before", "after", "change", "coverage", "measured on")
        rows = [
            (
                s["name"],
                f"{s['before']:.4f}",
                f"{s['after']:.4f}",
                f"{s['after'] - s['before']:+.4f}",
                f"{s['coverage']:.1%}",
                s["on"],
            )
            for s in self.scores
        ]
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
        lines = ["  ".join(h.ljust(w) if i in (0, 5) else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths)))]
        lines.append("  ".join("-" * w for w in widths))
        for r in rows:
            lines.append(
                "  ".join(v.ljust(w) if i in (0, 5) else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths)))
            )
        return "\n".join(line.rstrip() for line in lines)


# ---- pairs ---------------------------------------------------------------------------------------------------
def pair_scores(
    space, tuned: np.ndarray, held: np.ndarray, every: np.ndarray, dropped: int = 0
) -> list[dict[str, Any]]:
    """recall@1, recall@10 and MRR of each held-out pair's partner among all rows, both ways, before (the
    space's vectors and metric) and after (the tuned unit rows, cosine). Filtered ranking: the query itself and
    its other known partners (any pair given) are not counted above the partner. Coverage: the share of the
    given pairs with both ids in the space (`dropped` were not)."""
    queries = np.concatenate([held[:, 0], held[:, 1]])
    targets = np.concatenate([held[:, 1], held[:, 0]])
    partners: dict[int, set[int]] = defaultdict(set)
    for a, b in every.tolist():
        partners[a].add(b)
        partners[b].add(a)
    before = _ranks(space.vectors, space.metric, queries, targets, partners)
    after = _ranks(tuned, "dot", queries, targets, partners)
    kept = len(every)
    coverage = kept / (kept + dropped) if kept + dropped else 1.0
    on = f"{len(held):,} held-out pairs, both ways, among {space.n:,} rows"
    out = []
    for name, fn in (("recall@1", lambda r: r <= 1), ("recall@10", lambda r: r <= 10), ("mrr", lambda r: 1.0 / r)):
        out.append(
            {
                "name": name,
                "before": float(np.mean(fn(before))),
                "after": float(np.mean(fn(after))),
                "coverage": coverage,
                "queries": int(len(queries)),
                "on": on,
            }
        )
    return out


def _score_rows(vectors: np.ndarray, metric: str, start: int, stop: int, q: np.ndarray):
    block = np.asarray(vectors[start:stop], dtype=np.float32)
    if metric == "cosine":
        norms = np.linalg.norm(block, axis=1)
        norms[norms == 0] = 1.0
        return q @ (block / norms[:, None]).T
    if metric == "euclidean":  # minus the squared distance, up to a constant per query
        return 2 * (q @ block.T) - np.einsum("ij,ij->i", block, block)[None, :]
    return q @ block.T


def _ranks(vectors, metric: str, queries: np.ndarray, targets: np.ndarray, partners) -> np.ndarray:
    """1 + the rows scoring strictly above each query's target, the query and its other partners left out."""
    q = np.asarray(vectors[queries], dtype=np.float32)
    if metric == "cosine":
        norms = np.linalg.norm(q, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        q = q / norms
    n = vectors.shape[0]
    t = np.asarray(vectors[targets], dtype=np.float32)
    if metric == "cosine":
        norms = np.linalg.norm(t, axis=1)
        norms[norms == 0] = 1.0
        t = t / norms[:, None]
    target_score = np.einsum("ij,ij->i", q, t)
    if metric == "euclidean":
        target_score = 2 * target_score - np.einsum("ij,ij->i", t, t)
    # the target's score from another summation order may differ in the last bits: it must not rank above itself
    target_score = target_score + 1e-5 * np.maximum(1.0, np.abs(target_score))
    above = np.zeros(len(queries), dtype=np.int64)
    for start in range(0, n, _BLOCK):
        scores = _score_rows(vectors, metric, start, min(n, start + _BLOCK), q)
        above += (scores > target_score[:, None]).sum(axis=1)
    for i, (query, target) in enumerate(zip(queries.tolist(), targets.tolist())):
        skip = [r for r in partners[query] | {query} if r != target]
        if skip:
            block = np.asarray(vectors[skip], dtype=np.float32)
            s = _score_rows(block, metric, 0, len(skip), q[i : i + 1])[0]
            above[i] -= int((s > target_score[i]).sum())
    return above + 1


# ---- labels --------------------------------------------------------------------------------------------------
def label_scores(space, tuned: np.ndarray, train: np.ndarray, held: np.ndarray, labels: np.ndarray):
    """kNN accuracy (k=10, majority vote, a tie to the nearest class) of the held-out items against the
    training items, before and after; the majority-class rate of the training items beside it."""
    k = min(KNN_K, len(train))
    truth = labels[held]
    before = _knn(space.vectors, space.metric, train, held, labels, k)
    after = _knn(tuned, "dot", train, held, labels, k)
    _, counts = np.unique(labels[train], return_counts=True)
    labelled = int((labels != "").sum())
    return [
        {
            "name": f"knn@{k} accuracy",
            "before": float(np.mean(before == truth)),
            "after": float(np.mean(after == truth)),
            "coverage": labelled / space.n,
            "queries": int(len(held)),
            "majority": float(counts.max() / counts.sum()),
            "on": f"{len(held):,} held-out items against {len(train):,} training items",
        }
    ]


def _knn(vectors, metric: str, train: np.ndarray, held: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    db = np.ascontiguousarray(np.asarray(vectors[train], dtype=np.float32))
    q = np.ascontiguousarray(np.asarray(vectors[held], dtype=np.float32))
    found, _ = topk(db, q, k=k, metric=metric)
    neighbour_labels = labels[train][found]
    return np.array([_vote(row) for row in neighbour_labels], dtype=object)


def _vote(neighbour_labels: np.ndarray) -> str:
    values, first, counts = np.unique(neighbour_labels, return_index=True, return_counts=True)
    best = counts == counts.max()
    return values[best][np.argmin(first[best])]
