"""Word-word co-occurrence counts within a window, as a sparse matrix (for GloVe and PPMI-SVD).

Counting follows GloVe's ``cooccur.c``: each word looks back up to `window` tokens within its
sentence; a pair at distance ``d`` adds ``1/d`` ("harmonic", GloVe) or 1 ("uniform", plain counts
as in PPMI), to ``X[left, right]`` and, when symmetric, also to ``X[right, left]``.

Memory is bounded by the number of distinct pairs, never by the corpus length:

* pairs of two frequent words, ``(i + 1) * (j + 1) <= max_product`` (ids are frequency ranks),
  go to a dense table sized to `max_pairs_in_memory` — most of a corpus' pair mass lands here;
* every other pair is appended as one int64 key to a buffer of `max_pairs_in_memory` entries;
  a full buffer is sorted (numpy's SIMD sort) and its duplicates summed into a sorted run.
  Runs wait until they add up to an eighth of the distinct pairs already merged, then are
  merged pairwise and into those *in place*: the merged arrays keep spare room at their end
  (grown by ``realloc``, which moves no data for large blocks) and the merge runs backwards
  from it. So the peak is the distinct pairs plus an eighth, whether the corpus holds each
  pair once or a hundred times: memory stops growing once the pairs stop being new.

The result comes out in row-major order with no final sort: in each row the dense columns are
exactly the ones below the row's cut-off and the rare columns the ones above it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import scipy.sparse as sp

from ..errors import EmbspaceError

try:
    from numba import njit
except ImportError:  # pragma: no cover - numba is a dependency of GloVe and PPMI-SVD
    raise EmbspaceError("co-occurrence counting (GloVe, PPMI-SVD) needs numba: pip install numba") from None

WEIGHTINGS = ("harmonic", "uniform")
DEFAULT_MAX_PAIRS = 1 << 23  # 8 Mi entries: 64 MiB dense table + 64 MiB buffer of rare pairs
_BLOCK_TOKENS = 1 << 20  # sentences are handed to the kernel ~1 Mi tokens at a time


def cooccurrence(
    sentences: Callable[[], Iterable[np.ndarray]] | Iterable[np.ndarray],
    vocab_size: int,
    window: int = 10,
    weighting: str = "harmonic",
    symmetric: bool = True,
    max_pairs_in_memory: int = DEFAULT_MAX_PAIRS,
) -> sp.coo_matrix:
    """Weighted co-occurrence counts of word ids within `window` tokens of each other.

    Parameters
    ----------
    sentences : callable returning an iterable of int arrays, or such an iterable
        Each array holds the vocabulary ids (``0 <= id < vocab_size``) of one sentence;
        pairs never cross sentences. Read once.
    vocab_size : int
        ``V``, the number of rows and columns.
    window : int
        Largest distance counted, on each side of a word.
    weighting : {"harmonic", "uniform"}
        A pair ``d`` tokens apart adds ``1/d`` (GloVe) or ``1`` (plain window counts).
    symmetric : bool
        True: count each pair both ways, so ``X`` is symmetric and ``X[i, j]`` weighs ``j``
        on either side of ``i``. False: ``X[i, j]`` counts only ``j`` to the *right* of ``i``
        (its transpose counts left contexts), as ``cooccur.c -symmetric 0`` stores them.
    max_pairs_in_memory : int
        Size, in entries of 8 bytes, of both the dense table of frequent pairs and the buffer
        of other pairs; the distinct pairs found are held on top of these.

    Returns
    -------
    scipy.sparse.coo_matrix of shape (V, V)
        float32 values, int32 row and column indices, sorted row-major, no duplicates and no
        explicit zeros (``has_canonical_format`` is set).

    Examples
    --------
    >>> import numpy as np
    >>> X = cooccurrence(lambda: [np.array([0, 1, 2], dtype=np.int32)], 3, window=2)
    >>> X.toarray().tolist()
    [[0.0, 1.0, 0.5], [1.0, 0.0, 1.0], [0.5, 1.0, 0.0]]
    """
    vocab_size, window, max_pairs = _check(vocab_size, window, weighting, max_pairs_in_memory)
    counter = _Counter(vocab_size, window, weighting == "harmonic", bool(symmetric), max_pairs)
    block: list[np.ndarray] = []
    in_block = 0
    for ids in sentences() if callable(sentences) else sentences:
        ids = np.asarray(ids)
        if ids.dtype.kind not in "iu" or ids.ndim != 1:
            raise EmbspaceError(
                f"each sentence must be a 1-D array of integer word ids; got dtype {ids.dtype}, shape {ids.shape}"
            )
        if ids.size < 2:
            continue  # no pairs in it
        block.append(ids)
        in_block += ids.size
        if in_block >= _BLOCK_TOKENS:
            counter.add(block)
            block, in_block = [], 0
    if block:
        counter.add(block)
    return counter.result()


def _check(vocab_size, window, weighting, max_pairs) -> tuple[int, int, int]:
    if weighting not in WEIGHTINGS:
        raise EmbspaceError(f"weighting must be one of {', '.join(WEIGHTINGS)}; got {weighting!r}")
    for name, value, low in (
        ("vocab_size", vocab_size, 1),
        ("window", window, 1),
        ("max_pairs_in_memory", max_pairs, 1024),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise EmbspaceError(f"{name} must be a whole number >= {low}; got {value!r}")
    if int(vocab_size) > 2**31 - 1:
        raise EmbspaceError(f"vocab_size {vocab_size:,} does not fit int32 ids; lower it (max_vocab)")
    return int(vocab_size), int(window), int(max_pairs)


class _Counter:
    """The state of one count: the dense table, the rare-pair buffer and the merged run."""

    def __init__(self, vocab_size: int, window: int, harmonic: bool, symmetric: bool, max_pairs: int):
        self.V, self.window, self.symmetric = vocab_size, window, symmetric
        # a rare pair's key is (i*V + j) << dbits | d, so that the sort keeps d for its 1/d weight
        self.dbits = int(window).bit_length() if harmonic else 0
        if (vocab_size * vocab_size) << self.dbits >= 2**63:
            raise EmbspaceError(
                f"vocab_size {vocab_size:,} x window {window} is too large to count; lower max_vocab or the window"
            )
        self.weights = np.zeros(window + 1, dtype=np.float64)
        self.weights[1:] = 1.0 / np.arange(1, window + 1) if harmonic else 1.0
        self.row_len = _dense_row_lengths(vocab_size, max_pairs)
        self.row_start = np.zeros(vocab_size + 1, dtype=np.int64)
        np.cumsum(self.row_len, out=self.row_start[1:])
        self.dense = np.zeros(int(self.row_start[-1]), dtype=np.float64)
        # at least one token's pairs must fit, or the kernel could never move on
        self.buffer = np.empty(max(max_pairs, 4 * window + 2), dtype=np.int64)
        self.filled = 0
        self.keys = np.empty(0, dtype=np.int64)  # distinct rare pairs i*V + j, sorted, then spare room
        self.values = np.empty(0, dtype=np.float64)
        self.n_keys = 0  # how many of keys/values are in use
        self.runs: list[tuple[np.ndarray, np.ndarray]] = []  # sorted runs not merged yet

    def add(self, sentences: list[np.ndarray]) -> None:
        tokens = np.concatenate(sentences)
        low, high = int(tokens.min()), int(tokens.max())
        if low < 0 or high >= self.V:
            bad = low if low < 0 else high
            raise EmbspaceError(
                f"word id {bad} is outside the vocabulary 0..{self.V - 1}; "
                "give ids from the same vocabulary as vocab_size"
            )
        tokens = tokens.astype(np.int32, copy=False)
        bounds = np.zeros(len(sentences) + 1, dtype=np.int64)
        np.cumsum([s.size for s in sentences], out=bounds[1:])
        sentence, position = 0, 0
        while sentence < len(sentences):
            sentence, position, self.filled = _count_pairs(
                tokens,
                bounds,
                sentence,
                position,
                self.window,
                self.symmetric,
                self.weights,
                self.row_len,
                self.row_start,
                self.dense,
                self.buffer,
                self.filled,
                self.V,
                self.dbits,
            )
            if sentence < len(sentences):
                self._flush()

    def _flush(self, final: bool = False) -> None:
        if self.filled:
            pending = self.buffer[: self.filled]
            pending.sort()
            self.runs.append(_sum_runs(pending, self.dbits, self.weights))
            self.filled = 0
        waiting = sum(keys.size for keys, _ in self.runs)
        if self.runs and (final or waiting >= max(self.n_keys, self.buffer.size) // 8):
            runs = self.runs
            self.runs = []
            while len(runs) > 1:  # pairwise, so that a key takes part in log2(runs) merges
                merged = [_merge_sorted(*runs[k], *runs[k + 1]) for k in range(0, len(runs) - 1, 2)]
                runs = merged + runs[len(merged) * 2 :]
            keys, values = runs.pop()
            need = self.n_keys + keys.size
            if need > self.keys.size:
                room = max(need, self.keys.size + self.keys.size // 4)
                # in place: realloc keeps large blocks where they are or remaps their pages
                self.keys.resize(room, refcheck=False)
                self.values.resize(room, refcheck=False)
            self.n_keys = _merge_into(self.keys, self.values, self.n_keys, keys, values)

    def result(self) -> sp.coo_matrix:
        self._flush(final=True)
        self.buffer = None
        self.keys.resize(self.n_keys, refcheck=False)
        self.values.resize(self.n_keys, refcheck=False)
        nnz = int(np.count_nonzero(self.dense)) + self.keys.size
        if nnz > 2**31 - 1:
            raise EmbspaceError(f"{nnz:,} distinct pairs do not fit int32 indices; lower max_vocab or the window")
        rows, cols, vals = _assemble(self.dense, self.row_len, self.row_start, self.keys, self.values, self.V, nnz)
        self.dense = self.keys = self.values = None  # free before the caller copies
        matrix = sp.coo_matrix((vals, (rows, cols)), shape=(self.V, self.V))
        matrix.has_canonical_format = True
        return matrix


def _dense_row_lengths(vocab_size: int, budget: int) -> np.ndarray:
    """Row i of the dense table holds columns j < min(V, max_product // (i + 1)); the largest
    max_product whose table fits in `budget` entries, found by bisection."""
    ranks = np.arange(1, vocab_size + 1, dtype=np.int64)

    def lengths(product: int) -> np.ndarray:
        return np.minimum(vocab_size, product // ranks)

    if vocab_size * vocab_size <= budget:
        return lengths(vocab_size * vocab_size)
    low, high = 1, vocab_size * vocab_size
    while low < high:
        mid = (low + high + 1) // 2
        if lengths(mid).sum() <= budget:
            low = mid
        else:
            high = mid - 1
    return lengths(low)


@njit(cache=True, nogil=True)
def _count_pairs(
    tokens, bounds, sentence, position, window, symmetric, weights, row_len, row_start, dense, buffer, filled, V, dbits
):
    """Count pairs from (sentence, position) on; stop early when the buffer may overflow.

    Returns the (sentence, position) to resume from and the buffer's new fill."""
    n_sentences = bounds.size - 1
    room = buffer.size - 2 * window
    while sentence < n_sentences:
        start, stop = bounds[sentence], bounds[sentence + 1]
        p = start + position if position > 0 else start + 1
        while p < stop:
            if filled > room:
                return sentence, p - start, filled
            right = tokens[p]
            reach = min(window, p - start)
            for d in range(1, reach + 1):
                left = tokens[p - d]
                w = weights[d]
                tag = d if dbits > 0 else 0
                if right < row_len[left]:
                    dense[row_start[left] + right] += w
                else:
                    buffer[filled] = ((np.int64(left) * V + right) << dbits) | tag
                    filled += 1
                if symmetric:
                    if left < row_len[right]:
                        dense[row_start[right] + left] += w
                    else:
                        buffer[filled] = ((np.int64(right) * V + left) << dbits) | tag
                        filled += 1
            p += 1
        sentence += 1
        position = 0
    return sentence, 0, filled


@njit(cache=True, nogil=True)
def _sum_runs(sorted_keys, dbits, weights):
    """Sorted encoded keys -> distinct pairs (i*V + j) and their summed weights.

    The pairs are written over `sorted_keys` as they are read (never ahead of the reading)."""
    n = sorted_keys.size
    keys = sorted_keys
    values = np.empty(n, dtype=np.float64)
    mask = (np.int64(1) << dbits) - 1
    out = -1
    last = np.int64(-1)
    for k in range(n):
        key = sorted_keys[k]
        pair = key >> dbits
        w = weights[key & mask] if dbits > 0 else weights[1]
        if pair != last:
            out += 1
            keys[out] = pair
            values[out] = w
            last = pair
        else:
            values[out] += w
    return keys[: out + 1].copy(), values[: out + 1].copy()


@njit(cache=True, nogil=True)
def _merge_sorted(keys_a, values_a, keys_b, values_b):
    """Merge two sorted runs of distinct keys, summing the values of keys in both."""
    na, nb = keys_a.size, keys_b.size
    keys = np.empty(na + nb, dtype=np.int64)
    values = np.empty(na + nb, dtype=np.float64)
    a = b = out = 0
    while a < na and b < nb:
        if keys_a[a] < keys_b[b]:
            keys[out] = keys_a[a]
            values[out] = values_a[a]
            a += 1
        elif keys_b[b] < keys_a[a]:
            keys[out] = keys_b[b]
            values[out] = values_b[b]
            b += 1
        else:
            keys[out] = keys_a[a]
            values[out] = values_a[a] + values_b[b]
            a += 1
            b += 1
        out += 1
    while a < na:
        keys[out] = keys_a[a]
        values[out] = values_a[a]
        a += 1
        out += 1
    while b < nb:
        keys[out] = keys_b[b]
        values[out] = values_b[b]
        b += 1
        out += 1
    return keys[:out].copy(), values[:out].copy()


@njit(cache=True, nogil=True)
def _merge_into(keys, values, n, run_keys, run_values):
    """Merge a sorted run of distinct keys into ``keys[:n]`` (sorted, distinct), summing the
    values of keys in both; ``keys`` has room for ``n + run_keys.size``. Returns the new count.

    Backwards from the end of the room, so no unread key is overwritten; equal keys leave a gap
    at the front, closed by a shift at the end."""
    a = n - 1
    b = run_keys.size - 1
    out = n + run_keys.size - 1
    while b >= 0:
        if a >= 0 and keys[a] > run_keys[b]:
            keys[out] = keys[a]
            values[out] = values[a]
            a -= 1
        elif a >= 0 and keys[a] == run_keys[b]:
            keys[out] = keys[a]
            values[out] = values[a] + run_values[b]
            a -= 1
            b -= 1
        else:
            keys[out] = run_keys[b]
            values[out] = run_values[b]
            b -= 1
        out -= 1
    # keys[:a + 1] are in place; the merged tail starts at out + 1
    gap = out - a
    if gap > 0:
        for k in range(out + 1, n + run_keys.size):
            keys[k - gap] = keys[k]
            values[k - gap] = values[k]
    return n + run_keys.size - gap


@njit(cache=True, nogil=True)
def _assemble(dense, row_len, row_start, keys, values, V, nnz):
    """Row-major COO arrays: in each row the dense columns, then the (larger) rare columns."""
    rows = np.empty(nnz, dtype=np.int32)
    cols = np.empty(nnz, dtype=np.int32)
    vals = np.empty(nnz, dtype=np.float32)
    out = 0
    r = 0
    for i in range(V):
        base = row_start[i]
        for j in range(row_len[i]):
            x = dense[base + j]
            if x != 0.0:
                rows[out] = i
                cols[out] = j
                vals[out] = x
                out += 1
        while r < keys.size and keys[r] // V == i:
            rows[out] = i
            cols[out] = keys[r] - np.int64(i) * V
            vals[out] = values[r]
            out += 1
            r += 1
    return rows, cols, vals
