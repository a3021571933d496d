"""Aligning two spaces with a seed dictionary: orthogonal Procrustes or least squares, refined from mutual
nearest neighbours, and CSLS retrieval (translation) with P@k on held-out pairs.

The recipe follows VecMap (Artetxe et al. 2018) and MUSE (Conneau et al. 2018): both spaces are
normalised (unit length, centred, unit length), an orthogonal map W = U Vᵀ from the SVD of XᵀY is
fitted on the dictionary's pairs, and, optionally, the dictionary is grown with the mutual CSLS nearest
neighbours among the most frequent words and W fitted again. CSLS (cross-domain similarity local
scaling) scores a pair as 2·cos(x, y) − r_T(x) − r_S(y), where r is the mean cosine to the k=10 nearest
neighbours in the other space: it keeps "hub" words, near to everything, from being everyone's answer.

The aligned space holds the source's words mapped into the target's (normalised) coordinates; its
extras keep the map and both means, and the CSLS penalty of every target word, so `translate` needs
only the two spaces.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np

from .._progress import progress
from ..errors import EmbspaceError
from ..search import Neighbor
from ..space import Space
from ._chain import append_step, step_extra, step_name, tuned_space
from ._dictionary import keep_known

METHODS = ("procrustes", "lstsq", "vecmap")
CSLS_K = 10
_BLOCK = 2048  # query rows per similarity block: (2048, 20k) float32 is 160 MB at most with 20k targets


# ---- normalisation and maps ------------------------------------------------------------------------------
def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, float32 (n, d); zero rows stay zero."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(x / norms, dtype=np.float32)


def vecmap_normalize(x: np.ndarray, mean: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """VecMap's normalisation: unit length, centre (subtract the mean of the unit rows), unit length.

    Returns (normalised rows (n, d) float32, the mean (d,) float32). Give `mean` to reuse a fitted one.
    """
    x = unit_rows(x)
    if mean is None:
        mean = x.mean(axis=0, dtype=np.float64).astype(np.float32)
    return unit_rows(x - mean), np.asarray(mean, dtype=np.float32)


def fit_procrustes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The orthogonal W (d, d) minimising ||xW − y||: W = U Vᵀ where U S Vᵀ = svd(xᵀ y)."""
    u, _, vt = np.linalg.svd(x.astype(np.float64).T @ y.astype(np.float64))
    return (u @ vt).astype(np.float32)


def fit_lstsq(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The least-squares W (d_x, d_y) minimising ||xW − y|| (gensim's TranslationMatrix); any dimensions."""
    w, *_ = np.linalg.lstsq(x.astype(np.float64), y.astype(np.float64), rcond=None)
    return w.astype(np.float32)


def pca_basis(x: np.ndarray, d: int) -> np.ndarray:
    """The top `d` principal directions (d_x, d) of rows `x` (already centred by the normalisation)."""
    cov = x.astype(np.float64).T @ x.astype(np.float64)
    _, vectors = np.linalg.eigh(cov)
    return np.ascontiguousarray(vectors[:, ::-1][:, :d], dtype=np.float32)


# ---- CSLS ------------------------------------------------------------------------------------------------
def mean_top_similarity(a: np.ndarray, b: np.ndarray, k: int = CSLS_K) -> np.ndarray:
    """r(a): the mean cosine of each row of `a` to its `k` nearest rows of `b` (both unit rows), shape (n_a,)."""
    k = min(k, b.shape[0])
    out = np.empty(a.shape[0], dtype=np.float32)
    for i in range(0, a.shape[0], _BLOCK):
        sims = a[i : i + _BLOCK] @ b.T
        sims.partition(sims.shape[1] - k, axis=1)  # in place: no copy of the block
        out[i : i + _BLOCK] = sims[:, -k:].mean(axis=1)
    return out


def retrieve(
    queries: np.ndarray, targets: np.ndarray, k: int, target_r: np.ndarray | None = None, csls_k: int = CSLS_K
) -> tuple[np.ndarray, np.ndarray]:
    """Top-`k` target rows for each query (unit rows): plain cosine, or CSLS when `target_r` is given.

    Returns (rows (q, k) int64, scores (q, k) float32), best first.
    """
    k = min(k, targets.shape[0])
    rows = np.empty((queries.shape[0], k), dtype=np.int64)
    scores = np.empty((queries.shape[0], k), dtype=np.float32)
    for i in range(0, queries.shape[0], _BLOCK):
        sims = queries[i : i + _BLOCK] @ targets.T
        if target_r is not None:
            kk = min(csls_k, sims.shape[1])
            query_r = -np.partition(-sims, kk - 1, axis=1)[:, :kk].mean(axis=1)
            sims = 2 * sims - query_r[:, None] - target_r[None, :]
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        top_scores = np.take_along_axis(sims, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        rows[i : i + _BLOCK] = np.take_along_axis(top, order, axis=1)
        scores[i : i + _BLOCK] = np.take_along_axis(top_scores, order, axis=1)
    return rows, scores


def mutual_neighbours(mapped: np.ndarray, targets: np.ndarray, csls_k: int = CSLS_K) -> np.ndarray:
    """Pairs (m, 2) of (source row, target row) that are each other's CSLS nearest neighbour."""
    r_source = mean_top_similarity(mapped, targets, csls_k)
    r_target = mean_top_similarity(targets, mapped, csls_k)
    forward, _ = retrieve(mapped, targets, 1, r_target, csls_k)
    backward, _ = retrieve(targets, mapped, 1, r_source, csls_k)
    source_rows = np.arange(mapped.shape[0])
    mutual = backward[forward[:, 0], 0] == source_rows
    return np.stack([source_rows[mutual], forward[mutual, 0]], axis=1)


# ---- fitting ---------------------------------------------------------------------------------------------
def fingerprint(space: Space) -> str:
    """sha256 of a space's ids and vectors: which target an aligned space was made against."""
    digest = hashlib.sha256()
    digest.update("\n".join(space.ids).encode("utf-8", "surrogatepass"))
    vectors = np.ascontiguousarray(space.vectors, dtype=np.float32)
    for i in range(0, vectors.shape[0], 65_536):
        digest.update(vectors[i : i + 65_536].tobytes())
    return digest.hexdigest()


def split_pairs(pairs: list[tuple[str, str]], test_fraction: float, seed: int):
    """(train pairs, test dictionary {source word: set of targets}) split by source word, seeded."""
    if not 0 <= test_fraction < 1:
        raise EmbspaceError(f"--test-fraction must be from 0 to below 1; got {test_fraction}")
    words = list(dict.fromkeys(a for a, _ in pairs))
    order = np.random.default_rng(seed).permutation(len(words))
    n_test = int(round(test_fraction * len(words)))
    if test_fraction and (n_test == 0 or n_test == len(words)):
        raise EmbspaceError(
            f"the dictionary has {len(words)} source words in the spaces: too few to hold out "
            f"{test_fraction:.0%} and train on the rest; give more pairs or --test-fraction 0"
        )
    test_words = {words[i] for i in order[:n_test]}
    train = [p for p in pairs if p[0] not in test_words]
    test: dict[str, set[str]] = {}
    for a, b in pairs:
        if a in test_words:
            test.setdefault(a, set()).add(b)
    return train, test


class _Fit:
    """The two normalised spaces and the maps into their common space, refitted as the dictionary grows.

    procrustes: the source turns onto the target (target unchanged); with `pca`, the larger space is first
    reduced to the smaller one's dimension by PCA. lstsq: the source maps onto the target by least squares.
    vecmap: VecMap's supervised recipe: both sides whitened on the dictionary, turned by the SVD of their
    cross-covariance into a common space of the smaller dimension, and re-weighted by the square root of
    its singular values (Artetxe et al., AAAI 2018); any dimensions.
    """

    def __init__(self, source: np.ndarray, target: np.ndarray, method: str, pca: bool, reweight: float = 0.5):
        self.method, self.reweight = method, reweight
        self.s, self.source_mean = vecmap_normalize(source)
        self.t, self.target_mean = vecmap_normalize(target)
        ds, dt = self.s.shape[1], self.t.shape[1]
        self.source_pca = self.target_pca = None  # PCA bases that bring the larger space down to the smaller
        if ds != dt and method == "procrustes":
            if not pca:
                raise EmbspaceError(
                    f"the spaces have different dimensions ({ds} and {dt}): an orthogonal map needs equal ones; "
                    "use --method lstsq or --method vecmap, or --pca to reduce the larger space by PCA first"
                )
            if ds > dt:
                self.source_pca = pca_basis(self.s, dt)
            else:
                self.target_pca = pca_basis(self.t, ds)
        self.source_map: np.ndarray | None = None
        self.target_map: np.ndarray | None = self.target_pca  # None: the target stays as it is
        self.t_common = self._targets()

    def _targets(self) -> np.ndarray:
        return self.t if self.target_map is None else unit_rows(self.t @ self.target_map)

    def fit(self, source_rows: np.ndarray, target_rows: np.ndarray) -> None:
        x, z = self.s[source_rows].astype(np.float64), self.t[target_rows].astype(np.float64)
        if self.method == "lstsq":
            self.source_map = fit_lstsq(x, z)
            return
        if self.method == "procrustes":
            if self.source_pca is not None:
                x = unit_rows(x @ self.source_pca)
            if self.target_pca is not None:
                z = unit_rows(z @ self.target_pca)
            w = fit_procrustes(x, z)
            self.source_map = w if self.source_pca is None else self.source_pca @ w
            return
        wx, wz = _inverse_sqrt(x.T @ x), _inverse_sqrt(z.T @ z)
        u, sigma, vt = np.linalg.svd((x @ wx).T @ (z @ wz), full_matrices=False)
        scale = sigma**self.reweight
        self.source_map = ((wx @ u) * scale).astype(np.float32)
        self.target_map = ((wz @ vt.T) * scale).astype(np.float32)
        self.t_common = self._targets()

    def mapped(self, rows: slice | np.ndarray = slice(None)) -> np.ndarray:
        """Source rows mapped into the common space, unit rows."""
        return unit_rows(self.s[rows] @ self.source_map)


def _inverse_sqrt(m: np.ndarray) -> np.ndarray:
    """m^(-1/2) of a symmetric positive semi-definite matrix, tiny eigenvalues floored (rank-deficient data)."""
    values, vectors = np.linalg.eigh(m)
    values = np.maximum(values, values.max() * 1e-6)
    return (vectors * values**-0.5) @ vectors.T


def align(
    source: Space,
    target: Space,
    pairs: list[tuple[str, str]],
    *,
    method: str = "procrustes",
    refine: int = 0,
    refine_vocab: int = 10_000,
    test_fraction: float = 0.2,
    seed: int = 0,
    pca: bool = False,
    source_vocab: int | None = None,
    target_vocab: int | None = None,
    csls_vocab: int = 20_000,
    reweight: float = 0.5,
) -> tuple[Space, dict]:
    """Map `source` into `target`'s space from dictionary `pairs` (source word, target word).

    Parameters
    ----------
    method : {"procrustes", "lstsq", "vecmap"}
        An orthogonal map (equal dimensions, or `pca`), a least-squares one (any dimensions), or VecMap's
        supervised recipe (whitening, orthogonal map, re-weighting by `reweight`; any dimensions), which
        maps the target too: the aligned space then lives in the common space of the smaller dimension.
    refine : int
        Rounds of growing the training pairs with mutual CSLS nearest neighbours among the first
        `refine_vocab` words of each space (held-out source words are never added), then refitting.
    test_fraction : float
        Share of the dictionary's source words held out (seeded) for P@1/5/10; 0 keeps all for training.
    pca : bool
        With different dimensions, reduce the larger normalised space to the smaller by PCA.
    source_vocab, target_vocab : int, optional
        Keep only the first N words of each space (frequency order): the aligned space holds the first
        `source_vocab` source words, translations come from the first `target_vocab` target words.
    csls_vocab : int
        The CSLS penalty of a target word is its mean similarity to its 10 nearest among this many of the
        first mapped source words.
    reweight : float
        vecmap: the power of the singular values each side is scaled by (0.5 as VecMap; 0: none).

    Returns
    -------
    (aligned Space of the source's words (n, target dim), report dict with the pairs used and P@k).
    """
    if method not in METHODS:
        raise EmbspaceError(f"unknown alignment method {method!r}; expected one of {', '.join(METHODS)}")
    if refine < 0:
        raise EmbspaceError(f"--refine must be 0 or more rounds; got {refine}")
    start = time.perf_counter()
    src = source.head(source_vocab) if source_vocab and source_vocab < source.n else source
    tgt = target.head(target_vocab) if target_vocab and target_vocab < target.n else target
    kept, pair_report = keep_known(pairs, src, tgt)
    train, test = split_pairs(kept, test_fraction, seed)
    fit = _Fit(np.asarray(src.vectors), np.asarray(tgt.vectors), method, pca, reweight)
    s_index, t_index = src._lookup, tgt._lookup
    seed_rows = np.array([(s_index[a], t_index[b]) for a, b in train], dtype=np.int64).reshape(-1, 2)
    if len(seed_rows) < 2:
        raise EmbspaceError(f"only {len(seed_rows)} training pair(s) in both spaces; an alignment needs more")
    fit.fit(seed_rows[:, 0], seed_rows[:, 1])
    rounds = []
    held_out = np.array([s_index[w] for w in test], dtype=np.int64)
    with progress(total=refine, desc="refining", unit="round", show=None if refine else False) as bar:
        for _ in range(refine):
            nr_s, nr_t = min(refine_vocab, src.n), min(refine_vocab, tgt.n)
            found = mutual_neighbours(fit.mapped(slice(0, nr_s)), fit.t_common[:nr_t])
            found = found[~np.isin(found[:, 0], held_out)]
            rows = np.unique(np.concatenate([seed_rows, found]), axis=0)
            fit.fit(rows[:, 0], rows[:, 1])
            rounds.append({"mutual_pairs": int(len(found)), "training_pairs": int(len(rows))})
            bar.update(1)
    mapped = fit.mapped()
    target_r = mean_top_similarity(fit.t_common, mapped[: min(csls_vocab, src.n)])
    evaluation = evaluate_pairs(mapped, fit.t_common, target_r, test, s_index, tgt.ids) if test else {}
    alignment = {
        "method": method,
        "normalization": ["unit", "center", "unit"],
        "pca": "source" if fit.source_pca is not None else "target" if fit.target_pca is not None else None,
        **({"reweight": reweight} if method == "vecmap" else {}),
        "refine": refine,
        "refine_vocab": refine_vocab,
        "rounds": rounds,
        "test_fraction": test_fraction,
        "seed": seed,
        "csls_k": CSLS_K,
        "csls_vocab": min(csls_vocab, src.n),
        "source_vocab": src.n,
        "target_vocab": tgt.n,
        "training_pairs": len(train),
        "held_out_source_words": len(test),
        "dictionary": pair_report,
        "evaluation": evaluation,
        "target": _describe(target),
        "seconds": round(time.perf_counter() - start, 3),
    }
    # the source's own provenance stays; the map is a step of its transform chain, so a query the source's
    # kind of data encodes later (a text, an image, a fastText sub-word vector) is mapped the same way
    mean_name, map_name = step_name(src.info, "mean"), step_name(src.info, "map")
    step = {"kind": "align", "method": method, "extras": {"mean": mean_name, "map": map_name}}
    info = append_step(src.info, step)
    info["alignment"] = alignment
    params = {k: alignment[k] for k in ("refine", "refine_vocab", "test_fraction", "source_vocab", "target_vocab")}
    record = {"method": "align", "params": {"method": method, **params}, "seed": seed, "target": alignment["target"]}
    extras = {
        mean_name: fit.source_mean[None, :],
        map_name: fit.source_map,
        "target_mean": fit.target_mean[None, :],
        "target_csls": target_r[:, None],
        **({} if fit.target_map is None else {"target_map": fit.target_map}),
    }
    aligned = tuned_space(src, mapped, info, record, extras=extras)
    if fit.target_map is None:  # one an earlier alignment of the source left behind
        aligned.extras.pop("target_map", None)
    aligned.info["name"] = f"{source.info.get('name') or 'source'}->{target.info.get('name') or 'target'}"
    return aligned, alignment


def _describe(space: Space) -> dict:
    return {
        "name": space.info.get("name", ""),
        "path": str(Path(space.info["path"]).resolve()) if space.info.get("path") else "",
        "n": space.n,
        "dim": space.dim,
        "sha256": fingerprint(space),
    }


def evaluate_pairs(
    mapped: np.ndarray,
    targets: np.ndarray,
    target_r: np.ndarray,
    test: dict[str, set[str]],
    source_index: dict[str, int],
    target_ids: list[str],
    ks: tuple[int, ...] = (1, 5, 10),
) -> dict:
    """P@k of held-out source words (a hit: any of the word's dictionary translations in the top k), by
    plain nearest neighbour and by CSLS."""
    words = list(test)
    queries = mapped[[source_index[w] for w in words]]
    out: dict = {"source_words": len(words)}
    for name, r in (("nn", None), ("csls", target_r)):
        rows, _ = retrieve(queries, targets, max(ks), r)
        hits = np.array([[target_ids[j] in test[w] for j in row] for w, row in zip(words, rows)])
        for k in ks:
            out[f"{name}_p@{k}"] = round(float(hits[:, :k].any(axis=1).mean()), 4)
    return out


def apply_align(space: Space, step: dict, vectors: np.ndarray) -> np.ndarray:
    """The "align" step of the transform chain: a query vector (q, d_source) normalised as the source was
    (unit, centred, unit), mapped, unit length: (q, d_aligned) float32."""
    mean, w = step_extra(space, step, "mean")[0], step_extra(space, step, "map")
    if vectors.shape[1] != w.shape[0]:
        raise EmbspaceError(f"the align step takes {w.shape[0]}-d vectors; got {vectors.shape[1]}-d")
    x, _ = vecmap_normalize(vectors, mean)
    return unit_rows(x @ w)


# ---- using an aligned space ------------------------------------------------------------------------------
def _check_target(aligned: Space, target: Space) -> None:
    want = (aligned.info.get("alignment", {}).get("target") or {}).get("sha256")
    if "alignment" not in aligned.info or "target_mean" not in aligned.extras:
        raise EmbspaceError("this space was not made by `embspace align`; align it to a target first")
    if want and fingerprint(target) != want:
        name = (aligned.info["alignment"].get("target") or {}).get("name") or "?"
        raise EmbspaceError(
            f"{target.info.get('path') or 'the target'} is not the space this one was aligned to ({name}, "
            f"sha256 {want[:12]}...); give that one with --target"
        )


def normalized_target(aligned: Space, target: Space) -> tuple[Space, np.ndarray]:
    """The target's first words as the alignment saw them (its normalisation), and their CSLS penalties."""
    _check_target(aligned, target)
    nt = int(aligned.info["alignment"]["target_vocab"])
    head = target.head(nt) if nt < target.n else target
    vectors, _ = vecmap_normalize(np.asarray(head.vectors), np.asarray(aligned.extras["target_mean"])[0])
    if "target_map" in aligned.extras:  # the target side of a two-sided map (vecmap, or PCA of the target)
        vectors = unit_rows(vectors @ np.asarray(aligned.extras["target_map"]))
    return Space(head.ids, vectors, info=head.info, check=False), np.asarray(aligned.extras["target_csls"])[:, 0]


def translate(aligned: Space, target: Space, words, k: int = 5, csls: bool = True) -> list[list[Neighbor]]:
    """The `k` target words nearest each source word of the aligned space, by CSLS (or plain cosine)."""
    words = [words] if isinstance(words, str) else list(words)
    if not 1 <= k:
        raise EmbspaceError(f"-k must be at least 1; got {k}")
    normalised, target_r = normalized_target(aligned, target)
    queries = unit_rows(np.asarray(aligned.vectors[aligned.indices(words)]))
    rows, scores = retrieve(queries, np.asarray(normalised.vectors), k, target_r if csls else None)
    return [[Neighbor(normalised.ids[j], float(s)) for j, s in zip(r, sc)] for r, sc in zip(rows, scores)]


def words_moved(a: Space, b: Space, *, sample: int = 2000, worst: int = 10, anchors: int | None = None) -> dict:
    """After aligning `a` onto `b` (two spaces of one language), which shared words moved most?

    `a` is aligned by orthogonal Procrustes on its shared ids (the first `anchors` of them, default all)
    with VecMap's normalisation; if `a` was made by `embspace align` against `b`, its vectors are used as
    they are. Among the first `sample` shared ids of `a`, the cosine of each word's aligned vector with
    its vector in `b` is reported, lowest first, with coverage.
    """
    shared = [i for i in a.ids if i in b]
    if len(shared) < 2:
        raise EmbspaceError(f"the spaces share {len(shared)} ids; need at least 2 to align one onto the other")
    aligned_before = "alignment" in a.info and (a.info["alignment"].get("target") or {}).get("sha256") == fingerprint(b)
    if aligned_before:
        target, _ = normalized_target(a, b)
        shared = [i for i in shared if i in target]
        ta = unit_rows(np.asarray(a.vectors[a.indices(shared)]))
        tb = np.asarray(target.vectors[target.indices(shared)])
        how = "aligned by `embspace align`"
    else:
        sa, sb = np.asarray(a.vectors[a.indices(shared)]), np.asarray(b.vectors[b.indices(shared)])
        fit = _Fit(sa, sb, "procrustes", pca=True)
        n_anchor = min(anchors or len(shared), len(shared))
        fit.fit(np.arange(n_anchor), np.arange(n_anchor))
        ta, tb = fit.mapped(), fit.t_common
        how = f"orthogonal Procrustes on {n_anchor:,} shared ids"
    compared = shared[: sample or len(shared)]
    cos = np.einsum("ij,ij->i", ta[: len(compared)], tb[: len(compared)])
    order = np.argsort(cos, kind="stable")[:worst]
    return {
        "shared": len(shared),
        "compared": len(compared),
        "coverage_a": round(len(shared) / a.n, 4),
        "alignment": how,
        "mean_cosine": round(float(cos.mean()), 4),
        "moved_most": [{"id": compared[i], "cosine": round(float(cos[i]), 4)} for i in order],
    }
