"""Exact search: chunked top-k by cosine, dot or euclidean; similarity; analogies; odd one out.

Arrays in, arrays out: nothing here knows the `Space` type. `Space.neighbors`, `Space.analogy` and
friends turn ids into rows and vectors, call these kernels, and turn rows back into ids.

Memory stays bounded: scores are computed for blocks of queries against blocks of rows, never as a
full (q, n) matrix, and the running top-k is merged block by block.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np

from .errors import EmbspaceError, SpaceError

METRICS = ("cosine", "dot", "euclidean")

SCORE_BUDGET = 1 << 20  # floats in one score tile (4 MiB: stays in cache while it is scaled and reduced)
TILE_ROWS = 8192
FEW_QUERIES = 8  # up to this many queries, a scan runs on one BLAS thread
PART_ROWS = 1 << 17  # a first scan of an opened space splits its rows between the cores above this many per core
ANALOGY_METHODS = ("3cosadd", "3cosmul")
_COSMUL_EPS = 1e-3  # Levy & Goldberg (2014) use 0.001; gensim's most_similar_cosmul uses 1e-6
ANALOGY_TILE_ROWS = 256  # narrow tiles, many questions each: the word cosines are shared by all


class Neighbor(NamedTuple):
    id: str
    score: float


ScoreBlock = Callable[[slice, int, int], np.ndarray]


# ---- the engine -----------------------------------------------------------------------------------
def topk_blocks(
    score_block: ScoreBlock,
    n_queries: int,
    n_rows: int,
    k: int,
    exclude: np.ndarray | None = None,
    largest: bool = True,
    workers: int | None = None,
    tile: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k row indices and scores for every query, computed block by block.

    Parameters
    ----------
    score_block : callable(query_slice, row_start, row_stop) -> ndarray (n_q, row_stop - row_start)
        Scores of a block of queries against a block of rows (float32).
    exclude : int array of shape (n_queries, m), optional
        Rows never returned for each query (-1 = none).
    largest : bool
        Keep the largest scores (similarities) or the smallest (distances).
    tile : (rows, queries), optional
        Tile shape, for a caller whose score_block has a cost per tile (default: see `_tile`).
        Rows must be at least k.

    Returns
    -------
    indices : int64 array (n_queries, k);  scores : float32 array (n_queries, k), best first.
    """
    k = min(k, n_rows)
    row_block, query_block = tile or _tile(n_queries, n_rows, k)
    out_idx = np.empty((n_queries, k), dtype=np.int64)
    out_score = np.empty((n_queries, k), dtype=np.float32)
    sign = 1.0 if largest else -1.0

    def run(q0: int) -> None:
        qs = slice(q0, min(q0 + query_block, n_queries))
        best_idx = best_val = None
        for r0 in range(0, n_rows, row_block):
            r1 = min(r0 + row_block, n_rows)
            scores = score_block(qs, r0, r1)  # a cache-sized tile: scaled, masked and reduced in cache
            if sign < 0:
                scores = np.negative(scores, out=scores)
            if exclude is not None:
                _mask_excluded(scores, exclude[qs], r0, r1)
            if best_idx is None:
                best_idx, best_val = _select(scores, k)
                best_idx += r0
            else:
                best_idx, best_val = _merge_above(best_idx, best_val, scores, r0)
        out_idx[qs], out_score[qs] = best_idx, sign * best_val

    starts = range(0, n_queries, query_block)
    if len(starts) > 1 and _workers(workers) > 1:
        with one_blas_thread(), ThreadPoolExecutor(_workers(workers)) as pool:
            list(pool.map(run, starts))
    elif n_queries <= FEW_QUERIES:
        with one_blas_thread():  # a few queries per tile: waking BLAS threads for each costs more than it gives
            for q0 in starts:
                run(q0)
    else:
        for q0 in starts:
            run(q0)
    return out_idx, out_score


def _tile(n_queries: int, n_rows: int, k: int) -> tuple[int, int]:
    """(rows, queries) per tile: a score tile of about SCORE_BUDGET floats, and enough query blocks
    to keep every worker busy."""
    row_block = int(min(n_rows, max(TILE_ROWS, 4 * k)))
    query_block = int(max(1, min(n_queries, SCORE_BUDGET // row_block)))
    return row_block, query_block


def in_order(n_queries: int, n_rows: int, k: int) -> bool:
    """Whether `topk_blocks` scores the row tiles once each, in order (one block of queries)."""
    return _tile(n_queries, n_rows, k)[1] >= n_queries


def row_parts(n_rows: int, workers: int | None = None) -> list[tuple[int, int]]:
    """Contiguous row ranges for a scan split between the cores (one range below PART_ROWS rows a core)."""
    parts = max(1, min(_workers(workers), n_rows // PART_ROWS))
    bounds = np.linspace(0, n_rows, parts + 1).astype(int)
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


def merge_parts(found: list[tuple[np.ndarray, np.ndarray]], k: int, largest: bool) -> tuple[np.ndarray, np.ndarray]:
    """The top-k of each query over the (rows, scores) of several row ranges, best first."""
    idx = np.concatenate([f[0] for f in found], axis=1)
    scores = np.concatenate([f[1] for f in found], axis=1)
    order = np.argsort(-scores if largest else scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(idx, order, axis=1), np.take_along_axis(scores, order, axis=1)


def one_blas_thread():
    """Our workers fill the cores already; BLAS threads on top of them only fight over the cores."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _workers(workers: int | None) -> int:
    return workers or min(4, os.cpu_count() or 1)


def _mask_excluded(scores: np.ndarray, exclude: np.ndarray, r0: int, r1: int) -> None:
    rows, cols = np.nonzero((exclude >= r0) & (exclude < r1))
    if rows.size:
        scores[rows, exclude[rows, cols] - r0] = -np.inf


def _select(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the k largest entries of each row, sorted descending."""
    width = scores.shape[1]
    kk = min(k, width)
    if kk == 1:  # argmax is several times cheaper than a partition
        best = np.argmax(scores, axis=1)[:, None]
        return best.astype(np.int64), np.take_along_axis(scores, best, axis=1)
    if kk < width:
        part = np.argpartition(scores, width - kk, axis=1)[:, width - kk :]
    else:
        part = np.broadcast_to(np.arange(width), scores.shape)
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1).astype(np.int64), np.take_along_axis(vals, order, axis=1)


def _merge_above(best_idx: np.ndarray, best_val: np.ndarray, scores: np.ndarray, r0: int):
    """Merge a new tile into the running top-k, looking only at entries above each row's k-th best.

    After the first tile few entries beat the running k-th best (about k ln(n / tile) per query in
    all), so one vectorised comparison replaces a partition of every tile.
    """
    hit = np.flatnonzero(scores.max(axis=1) > best_val[:, -1])  # a fast SIMD pass; most rows miss
    if hit.size == 0:
        return best_idx, best_val
    hit_scores = scores[hit]
    sub_rows, cols = np.nonzero(hit_scores > best_val[hit, -1:])
    n_q, k = best_val.shape
    all_rows = np.concatenate([np.repeat(np.arange(n_q), k), hit[sub_rows]])
    all_idx = np.concatenate([best_idx.ravel(), cols.astype(np.int64) + r0])
    all_val = np.concatenate([best_val.ravel(), hit_scores[sub_rows, cols]])
    order = np.lexsort((-all_val, all_rows))
    starts = np.searchsorted(all_rows[order], np.arange(n_q))
    take = order[starts[:, None] + np.arange(k)]
    return all_idx[take], all_val[take]


# ---- neighbours -----------------------------------------------------------------------------------
def metric_scorer(
    vectors: np.ndarray,
    queries: np.ndarray,
    metric: str,
    sq_norms: np.ndarray | None = None,
    *,
    before_tile: Callable[[int, int], None] | None = None,
    after_tile: Callable[[np.ndarray, int], None] | None = None,
    norms_out: np.ndarray | None = None,
) -> tuple[ScoreBlock, bool]:
    """A score_block for `queries` (q, dim) against `vectors` (n, dim) under `metric`, and whether
    larger is better. `sq_norms` (n,), the squared row norms, is computed when not given: up front, or
    tile by tile into `norms_out` when that is given (one pass over the rows instead of two).
    `before_tile(r0, r1)` is called before rows r0..r1 are read (an opened space checks their blocks), and
    `after_tile(scores, r0)` with their scores before those are used."""
    vectors = _plain(vectors)
    if metric not in METRICS:
        raise EmbspaceError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    if sq_norms is None and norms_out is None and metric != "dot":
        sq_norms = row_sq_norms(vectors)  # up front: one pass, then every tile reads its slice
    return _scorer_by_tile(vectors, queries, metric, sq_norms, before_tile, after_tile, norms_out)


def _scorer_by_tile(vectors, queries, metric, sq_norms, before_tile, after_tile, norms_out) -> tuple[ScoreBlock, bool]:
    """The scorer of `metric_scorer`: everything a tile needs is done while the tile is in cache (check it,
    compute its norms unless given, score it)."""
    q = unit(queries) if metric == "cosine" else queries
    qn = np.einsum("ij,ij->i", queries, queries) if metric == "euclidean" else None

    def score(qs: slice, r0: int, r1: int) -> np.ndarray:
        if before_tile is not None:
            before_tile(r0, r1)
        tile = vectors[r0:r1]
        s = q[qs] @ tile.T
        if metric == "dot":
            if after_tile is not None:
                after_tile(np.where(np.isinf(s), np.nan, s), r0)  # an Inf row scores +-Inf here, not NaN
            return s
        if sq_norms is not None:
            sq = sq_norms[r0:r1]
        else:
            sq = np.einsum("ij,ij->i", tile, tile)
            if norms_out is not None:
                norms_out[r0:r1] = sq
        if metric == "cosine":
            s = np.multiply(s, _inverse_norms(sq), out=s)
        else:
            s *= -2.0
            s += sq
            s += qn[qs, None]
            np.maximum(s, 0.0, out=s)
            s = np.sqrt(s, out=s)
        if after_tile is not None:
            after_tile(s, r0)  # a NaN or Inf row scores NaN here
        return s

    return score, metric != "euclidean"


def labelled(ids: Sequence[str], idx: np.ndarray, scores: np.ndarray) -> list[list[Neighbor]]:
    """Rows and scores (q, k) as one list of Neighbor(id, score) per query."""
    return [[Neighbor(ids[i], float(s)) for i, s in zip(ri, rs)] for ri, rs in zip(idx.tolist(), scores.tolist())]


def topk(
    vectors: np.ndarray,
    queries: np.ndarray,
    k: int = 10,
    metric: str = "cosine",
    exclude: np.ndarray | None = None,
    restrict: int | None = None,
    sq_norms: np.ndarray | None = None,
    *,
    before_tile: Callable[[int, int], None] | None = None,
    after_tile: Callable[[np.ndarray, int], None] | None = None,
    norms_out: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k rows of `vectors` for every query.

    Parameters
    ----------
    vectors : float32 array of shape (n, dim); may be a memory map
    queries : float32 array of shape (q, dim)
    exclude : int array of shape (q, m), optional
        Rows never returned for each query (-1 = none), e.g. the query's own row.
    restrict : int, optional
        Search only the first `restrict` rows (the most frequent words in a word space).
    sq_norms : float32 array of shape (n,), optional
        Squared row norms, when the caller has them cached (cosine and euclidean need them).
    before_tile, after_tile, norms_out : optional
        See `metric_scorer`.

    Returns
    -------
    rows : int64 array (q, k);  scores : float32 array (q, k), best first. Scores are similarities for
    cosine and dot (descending), distances for euclidean (ascending).
    """
    n_rows = min(vectors.shape[0], restrict or vectors.shape[0])
    available = n_rows - (0 if exclude is None else int((exclude >= 0).sum(axis=1).max(initial=0)))
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise EmbspaceError(f"k must be a positive integer; got {k!r}")
    if k > available:
        raise EmbspaceError(
            f"k={k} is larger than the {available} items that can be returned "
            f"(space has {vectors.shape[0]} rows); ask for k <= {available}"
        )
    scorer, largest = metric_scorer(
        vectors, queries, metric, sq_norms, before_tile=before_tile, after_tile=after_tile, norms_out=norms_out
    )
    return topk_blocks(scorer, len(queries), n_rows, k, exclude=exclude, largest=largest)


def neighbors(
    vectors: np.ndarray,
    ids: Sequence[str],
    queries: np.ndarray,
    k: int = 10,
    metric: str = "cosine",
    exclude: np.ndarray | None = None,
    restrict: int | None = None,
    sq_norms: np.ndarray | None = None,
) -> list[list[Neighbor]]:
    """`topk` with each row turned into its id: one list of Neighbor(id, score) per query."""
    idx, scores = topk(vectors, queries, k, metric, exclude=exclude, restrict=restrict, sq_norms=sq_norms)
    return labelled(ids, idx, scores)


def check_query_vectors(query: np.ndarray, dim: int) -> np.ndarray:
    """Query vectors as C-contiguous float32 (q, dim); one-line errors for a wrong shape, NaN or Inf."""
    arr = np.atleast_2d(np.asarray(query, dtype=np.float32))
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise SpaceError(f"query vectors have shape {np.shape(query)}; expected ({dim},) or (q, {dim})")
    if not np.isfinite(arr).all():
        raise SpaceError("query vector holds NaN or Inf")
    return np.ascontiguousarray(arr)


def _plain(vectors: np.ndarray) -> np.ndarray:
    """A plain ndarray view (a memmap subclass would leak into every result)."""
    return vectors.view(np.ndarray) if isinstance(vectors, np.memmap) else vectors


def row_sq_norms(vectors: np.ndarray) -> np.ndarray:
    """Squared L2 norm of each row, shape (n,), float32, in bounded blocks (memory maps stay on disk)."""
    out = np.empty(vectors.shape[0], dtype=np.float32)
    step = 1 << 16
    for start in range(0, vectors.shape[0], step):
        block = np.asarray(vectors[start : start + step])
        out[start : start + step] = np.einsum("ij,ij->i", block, block)
    return out


def _inverse_norms(sq: np.ndarray) -> np.ndarray:
    inv = np.zeros_like(sq)
    np.divide(1.0, np.sqrt(sq), out=inv, where=sq > 0)
    return inv


def unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, float32; zero rows stay zero."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (x / norms).astype(np.float32, copy=False)


def similarity(a: np.ndarray, b: np.ndarray, metric: str = "cosine") -> float:
    """Cosine similarity (or dot product, or euclidean distance) of two vectors, in float64."""
    va, vb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if metric == "cosine":
        denom = np.linalg.norm(va) * np.linalg.norm(vb)
        return float(va @ vb / denom) if denom else 0.0
    if metric == "dot":
        return float(va @ vb)
    if metric == "euclidean":
        return float(np.linalg.norm(va - vb))
    raise EmbspaceError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")


# ---- analogies --------------------------------------------------------------------------------------
def analogy_topk(
    vectors: np.ndarray,
    a_rows: np.ndarray,
    b_rows: np.ndarray,
    c_rows: np.ndarray,
    k: int = 1,
    method: str = "3cosadd",
    restrict: int | None = None,
    sq_norms: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Batched analogies a:b :: c:? over rows; the three query rows are never returned.

    3CosAdd ranks by cos(x, b - a + c) on unit vectors (Mikolov et al. 2013); 3CosMul by
    cos'(x,b) cos'(x,c) / (cos'(x,a) + eps) with cos' = (1 + cos) / 2 (Levy & Goldberg 2014).
    `vectors` is (n, dim); the rows are int arrays of shape (q,); `sq_norms` (n,) as in `topk`.
    Returns (indices (q, k), scores (q, k)).

    Both scores are sums or products of the cosines of x with a, b and c, and test sets reuse few
    words (905 distinct in the 19,544 Google questions). So a tile of rows gets the cosines of the
    distinct words of its block of questions from one small matmul, and each question gathers its
    three: about 10x less work than three (or one) matmuls per question.
    """
    if method not in ANALOGY_METHODS:
        raise EmbspaceError(f"unknown analogy method {method!r}; choose one of {', '.join(ANALOGY_METHODS)}")
    n_rows = min(vectors.shape[0], restrict or vectors.shape[0])
    if n_rows < 4:
        raise EmbspaceError("an analogy needs a space of at least 4 items")
    k = min(k, n_rows - 3)
    rows = max(ANALOGY_TILE_ROWS, 4 * k)
    queries = max(1, min(-(-len(a_rows) // _workers(None)), SCORE_BUDGET // rows))
    blocks = [
        _question_words(vectors, a_rows[q0 : q0 + queries], b_rows[q0 : q0 + queries], c_rows[q0 : q0 + queries])
        for q0 in range(0, len(a_rows), queries)
    ]
    inv = _inverse_norms(row_sq_norms(vectors) if sq_norms is None else sq_norms)
    vectors = _plain(vectors)

    def cosines(qs: slice, r0: int, r1: int) -> tuple[np.ndarray, ...]:
        unit, ia, ib, ic = blocks[qs.start // queries]  # tiles follow the blocks: tile=(rows, queries)
        return unit @ (vectors[r0:r1] * inv[r0:r1, None]).T, ia, ib, ic

    if method == "3cosadd":
        # cos(x, b - a + c) = (cos(x,b) - cos(x,a) + cos(x,c)) / |b - a + c|: the divisor does not
        # change a question's ranking, so only the top k are divided by it
        def score(qs: slice, r0: int, r1: int) -> np.ndarray:
            cos, ia, ib, ic = cosines(qs, r0, r1)
            s = np.take(cos, ib, axis=0)
            s -= np.take(cos, ia, axis=0)
            s += np.take(cos, ic, axis=0)
            return s

        norms = np.concatenate([np.linalg.norm(u[ib] - u[ia] + u[ic], axis=1) for u, ia, ib, ic in blocks])
        scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    else:
        # with 1 + cos = 2 cos': (2 cos'_b)(2 cos'_c) / (2 cos'_a + 2 eps) is twice the score
        def score(qs: slice, r0: int, r1: int) -> np.ndarray:
            cos, ia, ib, ic = cosines(qs, r0, r1)
            cos += 1.0
            s = np.take(cos, ib, axis=0)
            s *= np.take(cos, ic, axis=0)
            cos += 2 * _COSMUL_EPS
            s /= np.take(cos, ia, axis=0)
            return s

        scale = np.full(len(a_rows), 0.5, dtype=np.float32)

    exclude = np.stack([a_rows, b_rows, c_rows], axis=1)
    idx, scores = topk_blocks(score, len(a_rows), n_rows, k, exclude=exclude, tile=(rows, queries))
    return idx, (scores * scale[:, None]).astype(np.float32)


def analogy_vectors_topk(
    vectors: np.ndarray,
    rows: np.ndarray,
    query: np.ndarray,
    k: int = 1,
    method: str = "3cosadd",
    restrict: int | None = None,
    sq_norms: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """`analogy_topk` for one question given as vectors a, b, c (`query`, shape (3, dim)), the
    same scores; `rows` (3,) holds their rows (-1 where the space does not hold the word), never returned."""
    if method not in ANALOGY_METHODS:
        raise EmbspaceError(f"unknown analogy method {method!r}; choose one of {', '.join(ANALOGY_METHODS)}")
    n_rows = min(vectors.shape[0], restrict or vectors.shape[0])
    if n_rows < 4:
        raise EmbspaceError("an analogy needs a space of at least 4 items")
    unit_abc = unit(np.asarray(query, dtype=np.float32))
    if method == "3cosadd":  # cos(x, b - a + c) of unit a, b, c: a plain cosine search
        target = (unit_abc[1] - unit_abc[0] + unit_abc[2])[None, :]
        return topk(
            vectors, target, min(k, n_rows - 3), "cosine", exclude=rows[None, :], restrict=n_rows, sq_norms=sq_norms
        )
    sq_norms = row_sq_norms(vectors) if sq_norms is None else sq_norms
    inv = _inverse_norms(sq_norms)

    def score(qs: slice, r0: int, r1: int) -> np.ndarray:  # 3CosMul as analogy_topk scores it
        cos = unit_abc @ np.asarray(vectors[r0:r1]).T
        cos *= inv[r0:r1]
        cos += 1.0
        return (0.5 * cos[1] * cos[2] / (cos[0] + 2 * _COSMUL_EPS))[None, :].astype(np.float32)

    return topk_blocks(score, 1, n_rows, min(k, n_rows - 3), exclude=rows[None, :])


def _question_words(vectors: np.ndarray, a_rows: np.ndarray, b_rows: np.ndarray, c_rows: np.ndarray):
    """Unit vectors of the distinct words of some questions, and the position of each a, b, c among them."""
    words, inverse = np.unique(np.concatenate([a_rows, b_rows, c_rows]), return_inverse=True)
    unit_rows = unit(np.asarray(vectors[words], dtype=np.float32))
    return (unit_rows, *np.split(inverse.reshape(-1), 3))


def odd_one_out(vectors: np.ndarray) -> int:
    """Row (of `vectors`, shape (m, dim), m >= 3) furthest by cosine from the mean direction of all rows."""
    if len(vectors) < 3:
        raise EmbspaceError(f"give at least 3 items to find the odd one out; got {len(vectors)}")
    unit_rows = unit(np.asarray(vectors, dtype=np.float32))
    return int(np.argmin(unit_rows @ unit_rows.mean(axis=0)))
