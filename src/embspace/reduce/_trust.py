"""How far a map can be trusted: trustworthiness and the recall of each point's nearest neighbours.

What is computed, for a map of n points (rows of a space) with coordinates ``coords``:

- **Neighbours in the space**: the exact top-k by the space's metric (cosine on unit vectors, dot
  product, or euclidean distance) among all n mapped points, the point itself left out.
- **Neighbours in the map**: the exact top-k by euclidean distance in the map (a k-d tree) among
  all n mapped points, the point itself left out.
- **Point trust** of point i: the share of its k space neighbours that are also among its k map
  neighbours (recall@k, between 0 and 1).
- **kNN recall**: the mean point trust over a seeded sample of ``sample`` points.
- **Trustworthiness** (Venna & Kaski 2001, as in ``sklearn.manifold.trustworthiness``):
  ``T = 1 - 2 / (n k (2n - 3k - 1)) * sum_i sum_{j in M_k(i) \\ S_k(i)} (r(i, j) - k)``
  where M_k(i) and S_k(i) are the k neighbours of i in the map and in the space, and r(i, j) is
  the rank of j among i's neighbours in the space (1 = nearest; counted among all n points). Here
  the sum over i runs over the same seeded sample of m points and is scaled by n / m, so with
  ``sample >= n`` the value is exactly scikit-learn's (up to ties in float32 distances).

Both are 1 for a map that keeps every neighbourhood; a random layout scores about 0.5 and
k / n respectively.
"""

from __future__ import annotations

import numpy as np

from ..search import topk_blocks

TRUST_K = 10
TRUST_SAMPLE = 2_000
# Point trust for every point needs the exact k nearest neighbours of every point in the space:
# n^2 dim work, which no map library does for us. On this project's 2-core machine, with another
# process holding about one core, it took 2.5 s for 20,000 x 50 GloVe words while UMAP drew them
# in 12.5-16 s (benchmarks/bench_maps.py). So by default only maps of up to this many points get
# it for every point; bigger ones get it for the trust sample (NaN elsewhere) unless asked
# (`point_trust="all"`, or `complete_point_trust` later).
ALL_POINTS_AUTO = 10_000
POINT_TRUST = ("auto", "all", "sample")
_COMPARE_BUDGET = 1 << 25  # booleans in one rank-counting block


def map_trust(
    vectors: np.ndarray,
    coords: np.ndarray,
    metric: str = "cosine",
    k: int = TRUST_K,
    sample: int = TRUST_SAMPLE,
    seed: int | None = 0,
    point_trust: str = "auto",
    progress=None,
) -> tuple[dict, np.ndarray]:
    """Trustworthiness and kNN recall of a map, and each point's recall.

    Parameters
    ----------
    vectors : ndarray of shape (n, dim)
        The mapped points in the original space (float32).
    coords : ndarray of shape (n, dims)
        Their map coordinates.
    metric : {"cosine", "dot", "euclidean"}
        How neighbours are found in the original space (the map always uses euclidean).
    k : int
        Neighbours per point (10 by default).
    sample : int
        How many points (a seeded sample) the two summary numbers are averaged over.
    point_trust : {"auto", "all", "sample"}
        Which points get their own recall: every point, the sample only, or "auto": every point
        when n is at most 10,000 (`ALL_POINTS_AUTO`), else the sample.
    progress : callable(fraction, message), optional

    Returns
    -------
    trust : dict
        ``{"trustworthiness", "knn_recall", "k", "sample", "metric", "point_trust"}``, where
        "sample" is the number of points averaged over and "point_trust" says which points
        have a value ("all" or "sample").
    point_trust : float32 ndarray of shape (n,)
        Recall@k of each point; NaN for points outside the sample when only the sample is done.
    """
    n = coords.shape[0]
    if n < 3 * k:
        raise ValueError(f"map trust with k={k} needs at least {3 * k} points; got {n}")
    if point_trust not in POINT_TRUST:
        raise ValueError(f"point_trust must be one of {', '.join(POINT_TRUST)}; got {point_trust!r}")
    report = progress or (lambda fraction, message: None)
    rng = np.random.default_rng(0 if seed is None else seed)
    sampled = np.sort(rng.choice(n, size=min(sample, n), replace=False)) if sample < n else np.arange(n)
    every = point_trust == "all" or (point_trust == "auto" and n <= ALL_POINTS_AUTO)
    queries = np.arange(n) if every else sampled
    report(0.0, f"map trust: {len(queries):,} points' {k} nearest neighbours in the space")
    recall, map_nn = point_recall(vectors, coords, queries, k, metric)
    point = np.full(n, np.nan, dtype=np.float32)
    point[queries] = recall
    report(0.7, "map trust: trustworthiness")
    in_sample = np.searchsorted(queries, sampled)  # rows of the sampled points among the queries
    trust = {
        "trustworthiness": trustworthiness_sampled(vectors, sampled, map_nn[in_sample], k, metric),
        "knn_recall": float(recall[in_sample].mean()),
        "k": k,
        "sample": int(len(sampled)),
        "metric": metric,
        "point_trust": "all" if len(queries) == n else "sample",
    }
    report(1.0, "map trust: done")
    return trust, point


def point_recall(
    vectors: np.ndarray, coords: np.ndarray, queries: np.ndarray, k: int, metric: str
) -> tuple[np.ndarray, np.ndarray]:
    """(recall@k of each query point, float64 (q,); its k map neighbours, int64 (q, k))."""
    space_nn = space_neighbors(vectors, queries, k, metric)
    map_nn = map_neighbors(coords, queries, k)
    return np.count_nonzero(map_nn[:, :, None] == space_nn[:, None, :], axis=(1, 2)) / k, map_nn


def space_neighbors(vectors: np.ndarray, queries: np.ndarray, k: int, metric: str) -> np.ndarray:
    """Exact k nearest rows of `vectors` for each row in `queries` (itself left out): (q, k) int64."""
    x, score = _scorer(vectors, metric)
    n = x.shape[0]
    q = x[queries]
    idx, _ = topk_blocks(lambda qs, r0, r1: score(q[qs], r0, r1), len(queries), n, k, exclude=queries[:, None])
    return idx


def map_neighbors(coords: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Exact k nearest map points (euclidean) of each query point, itself left out: (q, k) int64."""
    from scipy.spatial import cKDTree

    c = np.ascontiguousarray(coords, dtype=np.float64)
    _, idx = cKDTree(c).query(c[queries], k=k + 1, workers=-1)
    # usually the point itself comes first; with duplicate coordinates it may come later or not at all
    own = idx == queries[:, None]
    keep = np.argsort(own, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(idx, keep, axis=1).astype(np.int64)


def trustworthiness_sampled(vectors: np.ndarray, sampled: np.ndarray, map_nn: np.ndarray, k: int, metric: str) -> float:
    """Trustworthiness (see the module docstring) from the map neighbours of the sampled points."""
    x, score = _scorer(vectors, metric)
    n, m = x.shape[0], len(sampled)
    block = max(1, _COMPARE_BUDGET // (k * n))
    penalty = 0
    for b0 in range(0, m, block):
        rows = sampled[b0 : b0 + block]
        scores = score(x[rows], 0, n)  # larger = nearer
        scores[np.arange(len(rows)), rows] = -np.inf  # a point is not its own neighbour
        threshold = np.take_along_axis(scores, map_nn[b0 : b0 + block], axis=1)
        # rank of j = 1 + points strictly nearer than j; only ranks beyond k cost anything
        ranks = 1 + np.count_nonzero(scores[:, None, :] > threshold[:, :, None], axis=2)
        penalty += int(np.maximum(ranks - k, 0).sum())
    return float(1.0 - penalty * 2.0 / (m * k * (2.0 * n - 3.0 * k - 1.0)))


def _scorer(vectors: np.ndarray, metric: str):
    """(the matrix to score against, score(queries, r0, r1) -> (q, r1 - r0) float32, larger = nearer)."""
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if metric == "cosine":
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        x = x / norms
        return x, lambda q, r0, r1: q @ x[r0:r1].T
    if metric == "dot":
        return x, lambda q, r0, r1: q @ x[r0:r1].T
    if metric == "euclidean":
        half_sq = 0.5 * np.einsum("ij,ij->i", x, x)

        def neg_half_sq_distance(q, r0, r1):  # -|q - v|^2 / 2 + |q|^2 / 2: same order per query
            s = q @ x[r0:r1].T
            s -= half_sq[r0:r1]
            return s

        return x, neg_half_sq_distance
    raise ValueError(f"unknown metric {metric!r}")
