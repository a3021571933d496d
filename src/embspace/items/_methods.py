"""The methods that turn an interaction matrix into item vectors: itemknn, ease, als, bpr, item2vec.

Each returns a `Model`: item vectors (the space's rows), user vectors, and how recommendations are scored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from .._install import install_hint
from ..errors import EmbspaceError

METHODS = ("itemknn", "ease", "als", "bpr", "item2vec")
# Tuned on MovieLens-100k, each user's last 20% by time held out (benchmarks/bench_items.py).
DEFAULTS = {
    "itemknn": {"dim": 64, "neighbors": 200, "shrinkage": 10.0, "recency": 7.0},
    "ease": {"dim": 64, "neighbors": 200, "l2": 400.0, "recency": 7.0},
    "als": {"dim": 64, "regularization": 1.0, "alpha": 4.0, "iterations": 15, "recency": 10.0},
    "bpr": {"dim": 64, "learning_rate": 0.005, "regularization": 0.01, "iterations": 100, "recency": 0.0},
    "item2vec": {"dim": 64, "window": 20, "epochs": 20, "negative": 5, "ns_exponent": -0.5, "recency": 7.0},
}
EASE_MAX_ITEMS = 30_000  # an item x item inverse: 30k items is 7 GB of float64


@dataclass
class Model:
    """What a method learned.

    item_vectors : float32 (n_items, dim); user_vectors : float32 (n_users, dim)
    scorer : "neighbors" (sparse item-item scores, `neighbor_rows`/`neighbor_scores`), "dot" (user . item),
        "context" (the recency-weighted mean of the user's item vectors . each item's output vector, extras
        "context") or "cosine" (that mean, unit rows, against each item)
    """

    item_vectors: np.ndarray
    user_vectors: np.ndarray
    scorer: str
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    recommend: dict = field(default_factory=dict)  # what the recommender needs besides (info["recommend"])


def recency_weights(positions_from_end: np.ndarray, half_life: float) -> np.ndarray:
    """Weight of each of a user's interactions: 1 for the latest, halved every `half_life` interactions back
    (0 = every interaction weighs 1)."""
    if not half_life:
        return np.ones(len(positions_from_end), dtype=np.float32)
    return np.power(0.5, positions_from_end / float(half_life)).astype(np.float32)


def fit(method: str, matrix: sp.csr_matrix, histories: list[np.ndarray], params: dict, seed: int) -> Model:
    """Fit `method` on `matrix` (users x items, ratings merged), `histories` (each user's item columns in
    time order) and `params` (DEFAULTS[method] with the caller's overrides)."""
    if method not in METHODS:
        raise EmbspaceError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    return {"itemknn": _itemknn, "ease": _ease, "als": _als, "bpr": _bpr, "item2vec": _item2vec}[method](
        matrix, histories, params, seed
    )


def _binary(matrix: sp.csr_matrix) -> sp.csr_matrix:
    out = matrix.copy().astype(np.float32)
    out.data[:] = 1.0
    return out


def _top_per_row(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k largest positive entries of each row of a dense matrix (n columns): (rows as float32, scores); -1 pads."""
    n = scores.shape[1]
    k = max(1, min(k, n - 1))
    idx = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    top = np.take_along_axis(scores, idx, axis=1)
    order = np.argsort(-top, axis=1, kind="stable")
    idx, top = np.take_along_axis(idx, order, axis=1), np.take_along_axis(top, order, axis=1)
    idx = idx.astype(np.float32)
    idx[top <= 0] = -1
    top[top <= 0] = 0
    return np.ascontiguousarray(idx), np.ascontiguousarray(top, dtype=np.float32)


def _svd_item_vectors(binary: sp.csr_matrix, dim: int, seed: int) -> np.ndarray:
    """Items as the rows of a truncated SVD of the L2-normalised item columns (items x users)."""
    from scipy.sparse.linalg import svds

    items = sp.csr_matrix(binary.T, dtype=np.float64)
    norms = np.sqrt(np.asarray(items.multiply(items).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    items = sp.diags(1.0 / norms) @ items
    k = min(dim, min(items.shape) - 1)
    if k < 1:
        return np.asarray(items.toarray(), dtype=np.float32)
    u, s, _ = svds(items, k=k, random_state=seed, v0=np.random.default_rng(seed).random(min(items.shape)))
    order = np.argsort(-s)
    return np.ascontiguousarray(u[:, order] * s[order], dtype=np.float32)


def _mean_user_vectors(item_vectors: np.ndarray, histories, half_life: float) -> np.ndarray:
    """Each user as the recency-weighted mean of their (unit) item vectors."""
    norms = np.linalg.norm(item_vectors, axis=1, keepdims=True)
    unit = item_vectors / np.where(norms == 0, 1, norms)
    out = np.zeros((len(histories), item_vectors.shape[1]), dtype=np.float32)
    for u, cols in enumerate(histories):
        if len(cols):
            w = recency_weights(np.arange(len(cols))[::-1], half_life)
            out[u] = w @ unit[cols] / w.sum()
    return out


def _itemknn(matrix, histories, params, seed) -> Model:
    """Cosine between binary item columns, shrunk: |a.b| / (|a||b| + shrinkage); each item keeps its
    `neighbors` most similar items; a user's score for i sums the similarities of i to the items they had."""
    binary = _binary(matrix)
    items = sp.csr_matrix(binary.T)
    norms = np.sqrt(np.asarray(items.sum(axis=1)).ravel()).astype(np.float32)
    n, block = items.shape[0], 2048  # item x item in blocks of rows: memory n x 2048, not n x n
    parts = []
    for start in range(0, n, block):
        stop = min(start + block, n)
        gram = np.asarray((items[start:stop] @ items.T).toarray(), dtype=np.float32)
        sim = gram / (np.outer(norms[start:stop], norms) + np.float32(params["shrinkage"]) + np.float32(1e-9))
        sim[np.arange(stop - start), np.arange(start, stop)] = 0
        parts.append(_top_per_row(sim, int(params["neighbors"])))
    rows = np.concatenate([p[0] for p in parts])
    scores = np.concatenate([p[1] for p in parts])
    vectors = _svd_item_vectors(binary, int(params["dim"]), seed)
    users = _mean_user_vectors(vectors, histories, params["recency"])
    return Model(vectors, users, "neighbors", {"neighbor_rows": rows, "neighbor_scores": scores})


def _ease(matrix, histories, params, seed) -> Model:
    """EASE (Steck 2019): the closed-form item-item regression B = I - P diag(1/diag P), P = (X'X + l2 I)^-1."""
    n_items = matrix.shape[1]
    if n_items > EASE_MAX_ITEMS:
        raise EmbspaceError(
            f"ease inverts an item x item matrix: {n_items:,} items is more than {EASE_MAX_ITEMS:,}; "
            "use --method itemknn or als"
        )
    binary = _binary(matrix)
    gram = np.asarray((binary.T @ binary).toarray(), dtype=np.float64)
    gram[np.diag_indices(n_items)] += float(params["l2"])
    inverse = np.linalg.inv(gram)
    weights = inverse / (-np.diag(inverse))
    np.fill_diagonal(weights, 0)
    rows, scores = _top_per_row(np.ascontiguousarray(weights.T, dtype=np.float32), int(params["neighbors"]))
    vectors = _svd_item_vectors(binary, int(params["dim"]), seed)
    users = _mean_user_vectors(vectors, histories, params["recency"])
    return Model(vectors, users, "neighbors", {"neighbor_rows": rows, "neighbor_scores": scores})


def _implicit():
    try:
        import implicit  # noqa: F401
        import implicit.gpu
    except ImportError:
        raise EmbspaceError(f"als and bpr need the implicit package: {install_hint('items')}") from None
    return implicit


def _factors(model) -> tuple[np.ndarray, np.ndarray]:
    if hasattr(model, "to_cpu"):
        model = model.to_cpu()
    items = np.ascontiguousarray(model.item_factors, dtype=np.float32)
    users = np.ascontiguousarray(model.user_factors, dtype=np.float32)
    return items, users


def _als(matrix, histories, params, seed) -> Model:
    """Implicit ALS (Hu, Koren & Volinsky 2008) from `implicit`: confidence = 1 + alpha * rating."""
    implicit = _implicit()
    from implicit.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):  # implicit runs its own threads; a BLAS pool inside each is slower
        model = AlternatingLeastSquares(
            factors=int(params["dim"]),
            regularization=float(params["regularization"]),
            alpha=float(params["alpha"]),
            iterations=int(params["iterations"]),
            random_state=seed,
            use_gpu=bool(implicit.gpu.HAS_CUDA),
            num_threads=0,  # one user (item) per thread: the same result with any number
        )
        model.fit(sp.csr_matrix(matrix, dtype=np.float32), show_progress=False)
    items, users = _factors(model)
    fold_in = {"alpha": float(params["alpha"]), "regularization": float(params["regularization"])}
    return Model(items, users, "dot", recommend={"fold_in": fold_in})


def _bpr(matrix, histories, params, seed) -> Model:
    """Bayesian personalised ranking (Rendle et al. 2009) from `implicit` on the binary matrix."""
    implicit = _implicit()
    from implicit.bpr import BayesianPersonalizedRanking

    model = BayesianPersonalizedRanking(
        factors=int(params["dim"]),
        learning_rate=float(params["learning_rate"]),
        regularization=float(params["regularization"]),
        iterations=int(params["iterations"]),
        random_state=seed,
        use_gpu=bool(implicit.gpu.HAS_CUDA),
        num_threads=1,
    )
    model.fit(_binary(matrix), show_progress=False)
    items, users = _factors(model)
    return Model(items, users, "dot")


def _item2vec(matrix, histories, params, seed) -> Model:
    """item2vec (Barkan & Koenigstein 2016): skip-gram with negative sampling over each user's time-ordered
    items. A user's score for an item is their items' mean input vector against the item's output vector (what
    skip-gram trains to predict); a negative `ns_exponent` draws rare items as negatives more often, which
    on MovieLens lifts nDCG@10 from 0.05 (0.75, the word default) to 0.21 (Caselles-Dupré et al. 2018)."""
    try:
        from gensim.models import Word2Vec
    except ImportError:
        raise EmbspaceError(f"item2vec needs gensim: {install_hint('gensim')}") from None
    n_items, dim = matrix.shape[1], int(params["dim"])
    sentences = [[str(c) for c in cols] for cols in histories if len(cols)]
    model = Word2Vec(
        sentences,
        vector_size=dim,
        window=int(params["window"]),
        min_count=1,
        sg=1,
        negative=int(params["negative"]),
        ns_exponent=float(params["ns_exponent"]),
        epochs=int(params["epochs"]),
        seed=seed,
        workers=1,
        sample=0,
    )
    vectors = np.zeros((n_items, dim), dtype=np.float32)
    context = np.zeros((n_items, dim), dtype=np.float32)
    for c in range(n_items):
        row = model.wv.key_to_index.get(str(c))
        if row is not None:
            vectors[c] = model.wv.vectors[row]
            context[c] = model.syn1neg[row]
    users = np.zeros((len(histories), dim), dtype=np.float32)
    for u, cols in enumerate(histories):
        if len(cols):
            w = recency_weights(np.arange(len(cols))[::-1], params["recency"])
            users[u] = w @ vectors[cols] / w.sum()
    return Model(vectors, users, "context", {"context": context})
