"""GloVe (Pennington, Socher & Manning 2014): word vectors fitted to log co-occurrence counts.

Minimises the weighted least squares of the paper over the nonzero counts ``X_ij``::

    J = Σ f(X_ij) (w_i · c_j + b_i + b'_j - log X_ij)²,   f(x) = min(1, (x / x_max)^alpha)

with AdaGrad one pair at a time, as the reference ``glove.c`` does: vectors and biases start
uniform in [-0.5, 0.5] / dim, squared-gradient sums at 1, each gradient entry clipped to ±100.
The pairs are shuffled in full once, then each epoch takes its 4096-pair blocks in a new random
order, each block reshuffled in cache (seeded: one worker and one seed give one result).
The per-pair loop is a numba kernel that prefetches the rows of the pairs coming next;
``workers > 1`` runs Hogwild (lock-free) threads.

On small corpora (a few million tokens) ``x_max=10``, the value of GloVe's own ``demo.sh``,
fits far better than the paper's 100, which leaves almost every count with a tiny weight.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from ..errors import EmbspaceError

try:
    import numba
    from llvmlite import ir
    from numba import njit, prange, types
    from numba.core import cgutils
    from numba.extending import intrinsic
except ImportError:  # pragma: no cover - numba is a dependency of GloVe
    raise EmbspaceError("GloVe needs numba: pip install numba") from None

COMBINE = ("sum", "word")
_CLIP = np.float32(100.0)  # glove.c's grad_clip_value: a bound on each gradient entry
_BLOCK = 4096  # pairs shuffled and trained together: 64 KiB of pair data, in L2


def train_glove(
    cooc,
    dim: int = 100,
    x_max: float = 100.0,
    alpha: float = 0.75,
    epochs: int = 25,
    learning_rate: float = 0.05,
    seed: int = 0,
    workers: int = 1,
    progress: Callable[[int, float], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit GloVe word and context vectors to a co-occurrence matrix.

    Parameters
    ----------
    cooc : scipy sparse matrix of shape (V, V_context)
        Weighted co-occurrence counts, e.g. from `cooccurrence`; only its positive entries are
        fitted. Duplicate entries are summed.
    dim : int
        Length of the vectors.
    x_max, alpha : float
        The weighting ``f(x) = min(1, (x / x_max)^alpha)``; the paper's 100 and 3/4.
    epochs : int
        Passes over all nonzero pairs.
    learning_rate : float
        AdaGrad's initial step size.
    seed : int
        Seeds the initial vectors and each epoch's pair order.
    workers : int
        Threads (at most numba's thread count, the number of cores by default). With 1 the
        same seed gives bit-identical vectors; with more, threads update shared vectors
        without locks (Hogwild), which is faster but not reproducible.
    progress : callable(epoch, loss), optional
        Called after each epoch with its number (1-based) and mean loss.

    Returns
    -------
    W : ndarray of shape (V, dim), float32
        Word vectors (rows of `cooc`).
    C : ndarray of shape (V_context, dim), float32
        Context vectors (columns of `cooc`).
    losses : ndarray of shape (epochs,), float64
        Mean over pairs of ``0.5 f(X_ij) (w_i · c_j + b_i + b'_j - log X_ij)²`` in each epoch,
        measured before each pair's update (the figure ``glove.c`` prints).

    Use ``glove_vectors(W, C)`` for the paper's final vectors ``W + C``.
    """
    _check(dim, x_max, alpha, epochs, learning_rate, workers)
    rng = np.random.default_rng(seed)
    rows, cols, log_x, weight, shape = _pairs(cooc, x_max, alpha, int(rng.integers(2**63)))
    W, C = _init(rng, (shape[0], dim), dim), _init(rng, (shape[1], dim), dim)
    bias_w, bias_c = _init(rng, shape[0], dim), _init(rng, shape[1], dim)
    grad_w, grad_c = np.ones_like(W), np.ones_like(C)
    grad_bw, grad_bc = np.ones_like(bias_w), np.ones_like(bias_c)
    state = (
        rows,
        cols,
        log_x,
        weight,
        W,
        C,
        bias_w,
        bias_c,
        grad_w,
        grad_c,
        grad_bw,
        grad_bc,
        np.float32(learning_rate),
    )
    n_blocks = -(-rows.size // _BLOCK)
    threads = min(int(workers), numba.config.NUMBA_NUM_THREADS, n_blocks)
    losses = np.empty(epochs, dtype=np.float64)
    for epoch in range(epochs):
        blocks = rng.permutation(n_blocks).astype(np.int64)
        epoch_seed = int(rng.integers(2**63))
        if threads == 1:
            total = _train_blocks(blocks, np.uint64(epoch_seed), *state)
        else:
            total = _hogwild(blocks, np.uint64(epoch_seed), threads, state)
        losses[epoch] = total / rows.size
        if not np.isfinite(losses[epoch]):
            raise EmbspaceError(
                f"GloVe diverged in epoch {epoch + 1} (loss {losses[epoch]}); lower learning_rate (got {learning_rate})"
            )
        if progress is not None:
            progress(epoch + 1, float(losses[epoch]))
    return W, C, losses


def glove_vectors(W: np.ndarray, C: np.ndarray, combine: str = "sum") -> np.ndarray:
    """The vectors to use from a GloVe fit: ``W + C`` ("sum", the paper's choice) or ``W`` ("word").

    Parameters
    ----------
    W, C : ndarray of shape (V, dim)
        Word and context vectors from `train_glove`.

    Returns
    -------
    ndarray of shape (V, dim), float32, C-contiguous, a new array.
    """
    if combine not in COMBINE:
        raise EmbspaceError(f"combine must be one of {', '.join(COMBINE)}; got {combine!r}")
    W = np.asarray(W, dtype=np.float32)
    if combine == "word":
        return np.ascontiguousarray(W).copy()
    C = np.asarray(C, dtype=np.float32)
    if W.shape != C.shape:
        raise EmbspaceError(
            f"word vectors {W.shape} and context vectors {C.shape} differ in shape; "
            "combine='sum' needs a square co-occurrence matrix, or use combine='word'"
        )
    return np.ascontiguousarray(W + C)


def _check(dim, x_max, alpha, epochs, learning_rate, workers) -> None:
    for name, value in (("dim", dim), ("epochs", epochs), ("workers", workers)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise EmbspaceError(f"{name} must be a whole number >= 1; got {value!r}")
    for name, value in (("x_max", x_max), ("learning_rate", learning_rate)):
        if not (isinstance(value, (int, float, np.number)) and np.isfinite(value) and value > 0):
            raise EmbspaceError(f"{name} must be a positive number; got {value!r}")
    if not (isinstance(alpha, (int, float, np.number)) and 0 <= alpha <= 10):
        raise EmbspaceError(f"alpha must be a number in [0, 10] (the paper uses 0.75); got {alpha!r}")


def _pairs(cooc, x_max: float, alpha: float, seed: int):
    """The positive entries, shuffled: rows and cols int32, log X and f(X) float32; and the shape.

    New arrays (training shuffles them in place; the caller's matrix is left as it was).
    """
    if not sp.issparse(cooc):
        raise EmbspaceError(f"cooc must be a scipy sparse matrix (e.g. from cooccurrence); got {type(cooc).__name__}")
    m = cooc.tocoo()
    if not getattr(m, "has_canonical_format", False):
        m = m.copy()
        m.sum_duplicates()
    x = m.data
    if x.dtype.kind not in "fiu" or not np.isfinite(x).all() or (x < 0).any():
        raise EmbspaceError("cooc holds negative, NaN or infinite counts; give non-negative finite counts")
    kept = int(np.count_nonzero(x))
    if kept == 0:
        raise EmbspaceError(
            f"the co-occurrence matrix {m.shape} has no positive entries; "
            "give a corpus with sentences of at least two in-vocabulary words"
        )
    rows, cols, log_x, weight = _shuffled_targets(
        m.row, m.col, x.astype(np.float64, copy=False), kept, float(x_max), float(alpha), np.uint64(seed)
    )
    return rows, cols, log_x, weight, m.shape


@njit(cache=True)
def _shuffled_targets(row, col, x, kept, x_max, alpha, seed):
    """Positive entries in a random order (inside-out Fisher-Yates), with log x and f(x)."""
    rows = np.empty(kept, dtype=np.int32)
    cols = np.empty(kept, dtype=np.int32)
    log_x = np.empty(kept, dtype=np.float32)
    weight = np.empty(kept, dtype=np.float32)
    log_max = np.log(x_max)
    m = 0
    for k in range(x.size):
        if x[k] <= 0:
            continue
        r = _random_below(seed, m, m + 1)
        rows[m], cols[m], log_x[m], weight[m] = rows[r], cols[r], log_x[r], weight[r]
        rows[r], cols[r] = row[k], col[k]
        log_x[r] = np.log(x[k])
        weight[r] = 1.0 if x[k] >= x_max else np.exp(alpha * (np.log(x[k]) - log_max))
        m += 1
    return rows, cols, log_x, weight


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@njit(inline="always")
def _random_below(seed, counter, n):
    """The counter-th draw of a seeded stream, uniform in 0..n-1: splitmix64's output function."""
    z = seed + np.uint64(counter + 1) * _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    z = z ^ (z >> np.uint64(31))
    return np.int64(z % np.uint64(n))


def _init(rng: np.random.Generator, shape, dim: int) -> np.ndarray:
    """Uniform in [-0.5, 0.5] / dim, as glove.c starts vectors and biases alike."""
    return (rng.random(shape, dtype=np.float32) - np.float32(0.5)) / np.float32(dim)


def _hogwild(blocks, epoch_seed: int, threads: int, state) -> float:
    previous = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        return _train_parallel(blocks, epoch_seed, threads, *state)
    finally:
        numba.set_num_threads(previous)


@njit(cache=True, parallel=True)
def _train_parallel(
    blocks, epoch_seed, chunks, rows, cols, log_x, weight, W, C, bias_w, bias_c, grad_w, grad_c, grad_bw, grad_bc, lr
):
    """Hogwild: each thread takes a share of the blocks and updates the shared vectors unlocked."""
    n = blocks.size
    totals = np.zeros(chunks, dtype=np.float64)
    for c in prange(chunks):
        totals[c] = _train_blocks(
            blocks[c * n // chunks : (c + 1) * n // chunks],
            epoch_seed,
            rows,
            cols,
            log_x,
            weight,
            W,
            C,
            bias_w,
            bias_c,
            grad_w,
            grad_c,
            grad_bw,
            grad_bc,
            lr,
        )
    return totals.sum()


@njit(cache=True, nogil=True)
def _train_blocks(
    blocks, epoch_seed, rows, cols, log_x, weight, W, C, bias_w, bias_c, grad_w, grad_c, grad_bw, grad_bc, lr
):
    """Train on the given blocks of _BLOCK pairs in turn, each shuffled in place first.

    The pairs were shuffled once in full; a fresh block order and a fresh order inside each
    block make each epoch's order new while every block stays in cache as it is shuffled.
    Draws are indexed by the pair's place, so threads need no shared random state.
    """
    n = rows.size
    total = 0.0
    for b in blocks:
        start = b * _BLOCK
        stop = min(n, start + _BLOCK)
        for t in range(stop - 1, start, -1):  # Fisher-Yates; each draw from the epoch seed and place
            r = start + _random_below(epoch_seed, t, t - start + 1)
            rows[t], rows[r] = rows[r], rows[t]
            cols[t], cols[r] = cols[r], cols[t]
            log_x[t], log_x[r] = log_x[r], log_x[t]
            weight[t], weight[r] = weight[r], weight[t]
        total += _train_pairs(
            start, stop, rows, cols, log_x, weight, W, C, bias_w, bias_c, grad_w, grad_c, grad_bw, grad_bc, lr
        )
    return total


# error_model="numpy" drops the zero-division checks that would keep LLVM from vectorising
@njit(cache=True, fastmath=True, error_model="numpy", nogil=True)
def _train_pairs(start, stop, rows, cols, log_x, weight, W, C, bias_w, bias_c, grad_w, grad_c, grad_bw, grad_bc, lr):
    """AdaGrad steps on pairs start..stop-1 in order; returns their summed loss before each step."""
    dim = W.shape[1]
    total = 0.0
    for e in range(start, stop):
        if e + _AHEAD < stop:
            _prefetch_rows(rows[e + _AHEAD], W, grad_w)
            _prefetch_rows(cols[e + _AHEAD], C, grad_c)
        i = rows[e]
        j = cols[e]
        diff = bias_w[i] + bias_c[j] - log_x[e]
        for k in range(dim):
            diff += W[i, k] * C[j, k]
        fdiff = weight[e] * diff
        total += 0.5 * fdiff * diff
        g = lr * fdiff
        for k in range(dim):
            gw = min(max(g * C[j, k], -_CLIP), _CLIP)
            gc = min(max(g * W[i, k], -_CLIP), _CLIP)
            W[i, k] -= gw / np.sqrt(grad_w[i, k])
            C[j, k] -= gc / np.sqrt(grad_c[j, k])
            grad_w[i, k] += gw * gw
            grad_c[j, k] += gc * gc
        bias_w[i] -= g / np.sqrt(grad_bw[i])
        bias_c[j] -= g / np.sqrt(grad_bc[j])
        grad_bw[i] += g * g
        grad_bc[j] += g * g
    return total


# The vectors of a pair are in no cache when its turn comes (rows are random): asking for the
# rows of the pair _AHEAD places on while this one computes halves the time per pair.
_AHEAD = 2


@njit(inline="always")
def _prefetch_rows(row, vectors, grads):
    dim = vectors.shape[1]
    for k in range(0, dim, 16):  # one 64-byte line per 16 float32
        _prefetch(vectors, row, k)
        _prefetch(grads, row, k)
    _prefetch(vectors, row, dim - 1)  # rows need not start on a line
    _prefetch(grads, row, dim - 1)


@intrinsic
def _prefetch(typingctx, array, row, col):
    """LLVM's prefetch (for writing, into all cache levels) of the address of array[row, col]."""

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        view = context.make_array(array_type)(context, builder, args[0])
        indices = [context.cast(builder, args[k], signature.args[k], types.intp) for k in (1, 2)]
        pointer = cgutils.get_item_pointer(context, builder, array_type, view, indices, wraparound=False)
        byte_pointer = ir.IntType(8).as_pointer()
        int32 = ir.IntType(32)
        prefetch = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer, int32, int32, int32]), "llvm.prefetch.p0i8"
        )
        # write access, strongest locality, data cache
        builder.call(prefetch, [builder.bitcast(pointer, byte_pointer), int32(1), int32(3), int32(1)])
        return context.get_dummy_value()

    return types.void(array, row, col), codegen
