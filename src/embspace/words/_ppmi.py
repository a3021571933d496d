"""PPMI + truncated SVD word vectors, as in Levy, Goldberg & Dagan (2015) and their `hyperwords`.

From a sparse word-context count matrix: positive (shifted) PMI with context-distribution
smoothing, kept sparse; then a seeded randomised truncated SVD; then the eigenvalue weighting
``U Σ^eig`` (optionally plus the context side ``V Σ^eig``).
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..errors import EmbspaceError

DEFAULT_CDS = 0.75  # word2vec's and the paper's; on 7M tokens within 0.005 mean Spearman of 1.0
DEFAULT_N_ITER = 3  # power iterations: within 0.01 mean Spearman of 5 (= ARPACK), 25% less time
DEFAULT_OVERSAMPLE = 20
_PANEL_BYTES = 6 << 20  # scipy path: columns of the dense factor per sparse product, about an L3 share
_CHUNKS = 64  # numba path: row chunks of equal nonzeros, shared among threads
_PARALLEL_WORK = 1 << 22  # multiply-adds below which starting threads costs more than it saves


def ppmi_matrix(counts, cds: float = DEFAULT_CDS, neg_shift: float = 1.0) -> sp.csr_matrix:
    """Positive shifted PMI of a word-context count matrix, as float32 CSR with no stored zeros.

    Follows hyperwords' ``counts2pmi`` + ``PositiveExplicit``::

        PMI(w, c) = log( #(w,c) · Σ_c' #(c')^cds / (#(w) · #(c)^cds) ) - log(neg_shift)

    where ``#(w)`` is the row sum and ``#(c)`` the column sum; entries at or below 0 are dropped.
    Work and memory are proportional to the number of nonzero counts.

    Parameters
    ----------
    counts : scipy sparse matrix of shape (n_words, n_contexts), non-negative
    cds : float in (0, 1]
        Context-distribution smoothing exponent (1 = none, 0.75 = word2vec's).
    neg_shift : float >= 1
        SPPMI's ``k``: ``log k`` is subtracted before clipping.
    """
    _check_knobs(cds, neg_shift)
    return _ppmi(_as_counts(counts), cds, neg_shift)


def _ppmi(m: sp.csr_matrix, cds: float, neg_shift: float) -> sp.csr_matrix:
    n_rows, n_cols = m.shape
    rows = np.repeat(np.arange(n_rows, dtype=np.int32), np.diff(m.indptr))
    row_sum = np.bincount(rows, weights=m.data, minlength=n_rows)
    col_sum = np.bincount(m.indices, weights=m.data, minlength=n_cols) ** cds
    with np.errstate(divide="ignore"):  # empty rows/columns are never looked up; zero counts give -inf, dropped
        log_row, log_col = np.log(row_sum), np.log(col_sum)
        values = np.log(m.data, dtype=np.float64)
    values += np.log(col_sum.sum()) - np.log(neg_shift)
    values -= log_row[rows]
    values -= log_col[m.indices]
    keep = values > 0
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows[keep], minlength=n_rows), out=indptr[1:])
    return sp.csr_matrix((values[keep].astype(np.float32), m.indices[keep], indptr), shape=m.shape)


def ppmi_svd(
    counts,
    dim: int = 300,
    cds: float = DEFAULT_CDS,
    eig: float = 0.5,
    neg_shift: float = 1.0,
    context_vectors: bool = False,
    seed: int = 0,
    n_iter: int = DEFAULT_N_ITER,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Word vectors from PPMI + truncated SVD.

    Parameters
    ----------
    counts : scipy sparse matrix of shape (V, V)
        Word-context co-occurrence counts (any non-negative weights), rows words, columns contexts.
    dim : int
        Number of singular vectors kept; at most ``V - 1``.
    cds : float in (0, 1]
        Context-distribution smoothing exponent: 1 = none, 0.75 = word2vec's (the paper's choice).
    eig : float
        Eigenvalue weighting: vectors are ``U Σ^eig`` (0: ``U`` alone, 0.5: the paper's choice, 1: ``U Σ``).
    neg_shift : float >= 1
        Shift ``k`` of shifted PPMI; 1 is plain PPMI.
    context_vectors : bool
        Return ``U Σ^eig + V Σ^eig`` (the "w+c" option); needs a square matrix.
    seed : int
        Seed of the random sketch; the same seed gives the same vectors.
    n_iter : int
        Power iterations of the randomised SVD; more is slower and closer to the exact SVD.

    Returns
    -------
    vectors : ndarray of shape (V, dim), float32, not normalised
    info : dict
        ``singular_values`` (first 10), ``singular_values_sum``, ``energy`` (share of the PPMI
        matrix's squared Frobenius norm the kept singular values capture), ``ppmi_nnz``, timings.
    """
    start = time.perf_counter()
    _check_knobs(cds, neg_shift)
    m = _as_counts(counts)
    n_words, n_contexts = m.shape
    if context_vectors and n_words != n_contexts:
        raise EmbspaceError(f"context_vectors=True needs a square word-context matrix; got {n_words} x {n_contexts}")
    _check_dim(dim, min(n_words, n_contexts))
    if not np.isfinite(eig):
        raise EmbspaceError(f"eig must be a finite number (0, 0.5 or 1 are usual); got {eig}")
    if int(n_iter) != n_iter or n_iter < 0:
        raise EmbspaceError(f"n_iter must be a whole number >= 0; got {n_iter}")

    pmi = _ppmi(m, cds, neg_shift)
    del m
    if pmi.nnz == 0:
        raise EmbspaceError(
            f"the PPMI matrix has no positive entry (neg_shift={neg_shift}); lower neg_shift or give more text"
        )
    ppmi_seconds = time.perf_counter() - start
    u, s, vt = randomized_svd(pmi, dim, n_iter=int(n_iter), seed=seed)
    weights = (s**eig).astype(np.float32) if eig != 0 else np.ones_like(s, dtype=np.float32)
    vectors = u * weights
    if context_vectors:
        vectors += vt.T * weights
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    frob2 = float(np.dot(pmi.data.astype(np.float64), pmi.data))
    info = {
        "algorithm": "randomized_svd",
        "dim": int(dim),
        "cds": float(cds),
        "eig": float(eig),
        "neg_shift": float(neg_shift),
        "context_vectors": bool(context_vectors),
        "seed": int(seed),
        "n_iter": int(n_iter),
        "ppmi_nnz": int(pmi.nnz),
        "singular_values": [round(float(x), 4) for x in s[:10]],
        "singular_values_sum": round(float(s.sum()), 4),
        "energy": round(float(np.dot(s.astype(np.float64), s) / frob2), 6),
        "ppmi_seconds": round(ppmi_seconds, 3),
        "svd_seconds": round(time.perf_counter() - start - ppmi_seconds, 3),
    }
    return vectors, info


def randomized_svd(
    matrix, k: int, n_iter: int = DEFAULT_N_ITER, oversample: int = DEFAULT_OVERSAMPLE, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-`k` SVD of a sparse matrix by a seeded Gaussian sketch with power iterations (Halko et al. 2011).

    Parameters
    ----------
    matrix : scipy sparse matrix of shape (n, m)
    k : int, at most ``min(n, m)``
    n_iter : int
        Power iterations; each costs two sparse-dense products.
    oversample : int
        Extra sketch columns beyond `k`.

    Returns
    -------
    u : ndarray of shape (n, k), float32
    s : ndarray of shape (k,), float32, descending
    vt : ndarray of shape (k, m), float32
        Signs fixed so the largest-magnitude entry of each column of ``u`` is positive.
    """
    a = sp.csr_matrix(matrix, dtype=np.float32)
    at = a.T.tocsr()
    n, m = a.shape
    width = min(k + oversample, n, m)
    rng = np.random.default_rng(seed)
    q = _orthonormal(_product(a, rng.standard_normal((m, width), dtype=np.float32)))
    for _ in range(n_iter):
        q = _orthonormal(_product(a, _orthonormal(_product(at, q))))
    q = _orthonormal(q)  # a second pass makes q orthonormal to float32 precision (CholeskyQR2)
    # qᵀa = (aᵀq)ᵀ = (q2 r)ᵀ with r = ur s vrᵀ  =>  a ≈ (q vr) s (q2 ur)ᵀ
    q2, r = _orthonormal(_product(at, q), passes=2, with_r=True)
    ur, s, vrt = np.linalg.svd(r, full_matrices=False)
    u = q @ vrt[:k].T.astype(np.float32)
    v = q2 @ ur[:, :k].astype(np.float32)
    signs = np.sign(u[np.abs(u).argmax(axis=0), np.arange(k)])
    signs[signs == 0] = 1
    return (
        np.ascontiguousarray(u * signs, dtype=np.float32),
        s[:k].astype(np.float32),
        np.ascontiguousarray((v * signs).T, dtype=np.float32),
    )


def _product(a: sp.csr_matrix, x: np.ndarray) -> np.ndarray:
    """``a @ x`` for CSR float32 `a` and dense float32 `x`: the hot loop of the SVD.

    With numba, rows are split into chunks of equal nonzeros across threads (about 2x
    scipy on 2 cores; each row is summed by one thread in a fixed order, so results do not
    depend on the thread count). Without it, scipy one panel of columns at a time, so the
    rows of `x` it gathers stay in cache (about 1.6x scipy on the whole width).
    """
    global _csr_dense_kernel
    x = np.ascontiguousarray(x, dtype=np.float32)
    if _csr_dense_kernel is not None and a.nnz * x.shape[1] > _PARALLEL_WORK:
        chunks = np.searchsorted(a.indptr, np.linspace(0, a.nnz, _CHUNKS + 1)).astype(np.int64)
        chunks[0], chunks[-1] = 0, a.shape[0]
        out = np.empty((a.shape[0], x.shape[1]), dtype=np.float32)
        # threads take chunks one at a time: a core slowed by other work does not hold up the rest
        previous = set_parallel_chunksize(1)
        try:
            _csr_dense_kernel(a.indptr, a.indices, a.data, x, out, chunks)
            return out
        except Exception as exc:  # noqa: BLE001 - numba's compiler or its cache failing (seen: a
            # race on the on-disk cache); the same product through scipy, and a warning once
            warnings.warn(
                f"numba kernel unavailable ({type(exc).__name__}: {exc}); using scipy for the sparse products",
                RuntimeWarning,
                stacklevel=2,
            )
            _csr_dense_kernel = None
        finally:
            set_parallel_chunksize(previous)
    panel = max(16, _PANEL_BYTES // (x.itemsize * x.shape[0]) // 8 * 8)
    if panel >= x.shape[1]:
        return a @ x
    out = np.empty((a.shape[0], x.shape[1]), dtype=np.float32)
    for lo in range(0, x.shape[1], panel):
        out[:, lo : lo + panel] = a @ np.ascontiguousarray(x[:, lo : lo + panel])
    return out


try:
    from numba import njit, prange, set_parallel_chunksize
except ImportError:  # pragma: no cover - numba comes with the co-occurrence counter; scipy still works
    njit = None

if njit is None:  # pragma: no cover
    _csr_dense_kernel = None
else:

    @njit(fastmath=True, cache=True, nogil=True)
    def _csr_rows(indptr, indices, data, x, out, first, last):  # pragma: no cover - compiled
        width = x.shape[1]
        for i in range(first, last):
            row = out[i]
            row[:] = 0
            for p in range(indptr[i], indptr[i + 1]):
                value = data[p]
                source = x[indices[p]]
                for j in range(width):
                    row[j] += value * source[j]

    @njit(parallel=True, cache=True)
    def _csr_dense_kernel(indptr, indices, data, x, out, chunks):  # pragma: no cover - compiled
        for c in prange(chunks.size - 1):
            _csr_rows(indptr, indices, data, x, out, chunks[c], chunks[c + 1])


def _orthonormal(y: np.ndarray, passes: int = 1, with_r: bool = False):
    """An orthonormal float32 basis ``q`` of the columns of tall `y`, and optionally ``r`` with ``y = q r``.

    Cholesky QR (a Gram matrix, its Cholesky factor, one product) is several times faster than
    Householder QR on tall matrices; one pass is enough between power iterations, two
    (CholeskyQR2) make ``q`` orthonormal to float32 precision. Householder QR takes over when
    `y` is too ill-conditioned for the Gram matrix (near rank-deficient sketches of tiny matrices).
    """
    y = np.asarray(y, dtype=np.float32)
    try:
        q, r = _cholesky_qr(y)
        for _ in range(passes - 1):
            q, r_next = _cholesky_qr(q)
            r = r_next @ r
    except np.linalg.LinAlgError:
        q64, r = np.linalg.qr(y.astype(np.float64))
        q = q64.astype(np.float32)
    return (q, r) if with_r else q


def _cholesky_qr(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    gram = (y.T @ y).astype(np.float64)
    r = np.linalg.cholesky(gram).T
    diag = np.abs(np.diag(r))
    if not diag.min() > 1e-3 * diag.max():  # condition past ~1e3: a float32 Gram matrix loses the basis
        raise np.linalg.LinAlgError("ill-conditioned")
    return y @ np.linalg.inv(r).astype(np.float32), r


def _as_counts(counts) -> sp.csr_matrix:
    """`counts` as CSR with summed duplicates, checked; the caller's matrix is never modified."""
    if not sp.issparse(counts):
        if not isinstance(counts, np.ndarray) or counts.ndim != 2:
            raise EmbspaceError(
                f"counts must be a 2-D scipy sparse matrix of co-occurrence counts; got {type(counts).__name__}"
            )
        counts = sp.csr_matrix(counts)
    if counts.ndim != 2:
        raise EmbspaceError(f"counts must be 2-D (words x contexts); got shape {counts.shape}")
    m = counts.tocsr()
    if not m.has_canonical_format:
        m = m.copy() if m is counts else m
        m.sum_duplicates()
    data = m.data
    if data.dtype.kind not in "biuf":
        raise EmbspaceError(f"counts must hold numbers; got dtype {data.dtype}")
    if data.dtype.kind == "f" and not np.isfinite(data).all():
        raise EmbspaceError("counts hold NaN or infinite values; co-occurrence counts must be finite")
    if data.size and data.min() < 0:
        raise EmbspaceError(f"counts must be non-negative; got a minimum of {data.min():g}")
    if not data.size or not data.any():
        raise EmbspaceError(
            f"the co-occurrence matrix ({m.shape[0]} x {m.shape[1]}) is empty: no word pair "
            "co-occurs; give more text or a larger --window"
        )
    return m


def _check_knobs(cds: float, neg_shift: float) -> None:
    if not 0 < cds <= 1:
        raise EmbspaceError(f"cds must be in (0, 1] (0.75 smooths like word2vec, 1 turns smoothing off); got {cds}")
    if not neg_shift >= 1 or not np.isfinite(neg_shift):
        raise EmbspaceError(
            f"neg_shift must be a finite number >= 1 (1 = plain PPMI, k = SPPMI's log k shift); got {neg_shift}"
        )


def _check_dim(dim: int, limit: int) -> None:
    if int(dim) != dim or dim < 1:
        raise EmbspaceError(f"--dim must be a whole number >= 1; got {dim}")
    if dim >= limit:
        raise EmbspaceError(
            f"--dim {dim} is too large for a vocabulary of {limit} words (SVD allows at most "
            f"{limit - 1}); lower --dim or --min-count"
        )
