"""ANN indexes (FAISS flat / HNSW / IVF-PQ), cached in a space folder and never trusted over the vectors.

An index lives in ``SPACE/index/``: ``index.faiss`` (written by ``faiss.write_index``, not pickle) and
``index.json`` (kind, parameters, metric, the sha256 of the index file and of the ``vectors.npy`` it was
built from, recall@10 measured against exact search). `open_index` refuses an index whose file was
altered or whose vectors changed; the cure is to rebuild it.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from ._blocks import hash_file, is_blocks_entry
from ._files import sha256_file
from ._install import install_hint
from ._sealed import COUNT, OBJECT, POSITIVE, SHA256, TEXT, check_fields, is_number, one_of, read_sealed, sealed_bytes
from ._writers import publishing, write_durably
from .errors import CorruptSpaceError, EmbspaceError
from .search import METRICS, Neighbor, unit
from .space import Space

KINDS = ("flat", "hnsw", "ivfpq")
INDEX_DIR = "index"
INDEX_FILE = "index.faiss"
INDEX_META = "index.json"
INSTALL = install_hint("texts")
PQ_BITS = 8  # bits per sub-quantiser code: 256 centroids per sub-space
PQ_CENTROIDS = 1 << PQ_BITS
MIN_POINTS_PER_CENTROID = 39  # FAISS's k-means warns below this many training points per centroid
IVFPQ_MIN_ROWS = 10_000  # 256 PQ centroids x 39 points, rounded: below this use hnsw or exact search


# Ranges a build takes (the CLI checks the same): beyond them faiss allocates without bound or overflows a C int.
PARAM_RANGES = {
    "m": (2, 256),
    "ef_construction": (1, 100_000),
    "ef_search": (1, 100_000),
    "nlist": (1, 1_000_000),
    "pq_m": (1, 10_000),
    "nprobe": (1, 1_000_000),
    "rerank": (1, 1_000),
    "seed": (0, 2**32 - 1),
}


class StaleIndexError(EmbspaceError):
    """The cached index does not belong to the space's current vectors, or its file was altered."""


def _faiss():
    try:
        import faiss
    except ImportError:
        raise EmbspaceError(
            f"ANN indexes need the Python package 'faiss' (faiss-cpu), which is not installed; {INSTALL}"
        ) from None
    return faiss


@dataclass
class AnnIndex:
    """An approximate nearest-neighbour index over the rows of one space.

    Follows the estimator contract: ``__init__`` stores parameters, `fit` builds ``index_``.

    Parameters
    ----------
    kind : {"flat", "hnsw", "ivfpq"}
        ``flat``: exact (FAISS brute force). ``hnsw``: graph; `m` links per node, `ef_construction`,
        `ef_search`. ``ivfpq``: `nlist` inverted lists, `pq_m` sub-quantisers of 8 bits, `nprobe` lists
        visited; the ``rerank`` best candidates per wanted neighbour are re-scored exactly.
    metric : {"cosine", "dot", "euclidean"}, optional
        Default: the space's metric.
    """

    kind: str = "hnsw"
    metric: str | None = None
    m: int = 32
    ef_construction: int = 200
    ef_search: int = 128
    nlist: int | None = None
    pq_m: int | None = None
    nprobe: int = 32
    rerank: int = 10
    seed: int = 0
    index_: Any = field(default=None, repr=False)
    stats_: dict = field(default_factory=dict)
    auto_: dict | None = field(default=None, repr=False)  # what `auto_index` tried and why this one won

    def __post_init__(self):
        if self.kind not in KINDS:
            raise EmbspaceError(f"unknown index kind {self.kind!r}; choose one of {', '.join(KINDS)}")
        if self.metric is not None and self.metric not in METRICS:
            raise EmbspaceError(f"unknown metric {self.metric!r}; choose one of {', '.join(METRICS)}")
        for name, (low, high) in PARAM_RANGES.items():
            value = getattr(self, name)
            if value is None and name in ("nlist", "pq_m"):
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
                raise EmbspaceError(
                    f"index parameter {name}={value!r} is out of range; choose an integer {low}..{high:,}"
                )

    @classmethod
    def with_params(cls, kind: str = "hnsw", **params) -> AnnIndex:
        """An unfitted index from keyword parameters; an unknown name is a one-line error listing the valid ones
        (the constructor itself raises Python's TypeError, as scikit-learn's estimators do)."""
        valid = [f.name for f in fields(cls) if not f.name.endswith("_") and f.name != "kind"]
        unknown = sorted(set(params) - set(valid))
        if unknown:
            raise EmbspaceError(f"unknown index parameter(s) {', '.join(unknown)}; valid: {', '.join(valid)}")
        return cls(kind, **params)

    # ---- building ------------------------------------------------------------------------------
    def fit(self, space: Space) -> AnnIndex:
        """Build the index over every row of `space` (vectors normalised first for cosine)."""
        faiss = _faiss()
        self.metric = self.metric or space.metric
        n, dim = space.n, space.dim
        ip = self.metric in ("cosine", "dot")
        faiss_metric = faiss.METRIC_INNER_PRODUCT if ip else faiss.METRIC_L2
        start = time.perf_counter()
        if self.kind == "flat":
            index = faiss.IndexFlatIP(dim) if ip else faiss.IndexFlatL2(dim)
        elif self.kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, self.m, faiss_metric)
            index.hnsw.efConstruction = self.ef_construction
        else:
            index = self._ivfpq(space, faiss, faiss_metric)
        step = 1 << 16
        for s in range(0, n, step):
            index.add(self._prepared(space, np.arange(s, min(n, s + step))))
        self.index_ = index
        self._space = space
        self.stats_ = {"build_seconds": round(time.perf_counter() - start, 3), "n": n, "dim": dim}
        return self

    def _ivfpq(self, space: Space, faiss, faiss_metric):
        """A trained IVF-PQ index with `nlist` and `pq_m` chosen from the size of the space.

        FAISS's k-means wants at least 39 training points per centroid and warns (from C++, on the
        process's stderr) for every quantiser that gets fewer; an 8-bit product quantiser has 256
        centroids per sub-space. Below `IVFPQ_MIN_ROWS` rows the quantisers cannot be trained well and
        exact search over so few rows is as fast anyway, so the index is refused with advice instead.
        """
        n, dim = space.n, space.dim
        if n < IVFPQ_MIN_ROWS:
            raise EmbspaceError(
                f"an ivfpq index needs at least {IVFPQ_MIN_ROWS:,} rows (its quantisers train on "
                f"{MIN_POINTS_PER_CENTROID} points per centroid) and cannot beat exact search below that; "
                f"use --kind hnsw, or no index (exact search), for {n:,} rows"
            )
        self.nlist = self.nlist or _default_nlist(n)
        if self.nlist * MIN_POINTS_PER_CENTROID > n:
            raise EmbspaceError(
                f"nlist={self.nlist} needs at least {self.nlist * MIN_POINTS_PER_CENTROID:,} rows to train "
                f"({MIN_POINTS_PER_CENTROID} per list); the space has {n:,}: choose nlist <= "
                f"{n // MIN_POINTS_PER_CENTROID:,} or leave it out"
            )
        self.pq_m = self.pq_m or _default_pq_m(dim)
        if dim % self.pq_m:
            raise EmbspaceError(f"pq_m={self.pq_m} does not divide the dimension {dim}; choose a divisor of {dim}")
        quantizer = faiss.IndexFlatIP(dim) if faiss_metric == faiss.METRIC_INNER_PRODUCT else faiss.IndexFlatL2(dim)
        index = faiss.IndexIVFPQ(quantizer, dim, self.nlist, self.pq_m, PQ_BITS, faiss_metric)
        index.cp.seed = self.seed
        index.cp.verbose = False
        index.pq.cp.verbose = False
        index.pq.cp.niter = 10  # as the coarse quantiser; candidates are re-scored exactly, recall holds
        index.verbose = False
        size = max(PQ_CENTROIDS * MIN_POINTS_PER_CENTROID, 50 * self.nlist)
        sample = _sample_rows(n, min(n, size), self.seed)
        try:
            with _quiet_stderr():  # FAISS prints clustering warnings from C++ straight to fd 2
                index.train(self._prepared(space, sample))
        except RuntimeError as exc:
            raise EmbspaceError(f"cannot train the ivfpq index: {str(exc).splitlines()[-1][:200]}") from None
        return index

    def _prepared(self, space: Space, rows: np.ndarray) -> np.ndarray:
        block = np.ascontiguousarray(space.vectors[rows], dtype=np.float32)
        return unit(block) if self.metric == "cosine" else block

    def params(self) -> dict[str, Any]:
        if self.kind == "flat":
            return {}
        if self.kind == "hnsw":
            return {"m": self.m, "ef_construction": self.ef_construction, "ef_search": self.ef_search}
        return {"nlist": self.nlist, "pq_m": self.pq_m, "nprobe": self.nprobe, "rerank": self.rerank}

    def _check_fitted(self) -> None:
        if self.index_ is None:
            raise EmbspaceError("this index is not fitted yet; call fit(space) or open_index(path)")

    # ---- querying ------------------------------------------------------------------------------
    def search(self, queries: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Top-`k` rows for each query vector.

        Parameters
        ----------
        queries : ndarray of shape (n_queries, dim)

        Returns
        -------
        rows : int64 array of shape (n_queries, k); -1 where fewer than k were found
        scores : float32 array of shape (n_queries, k); similarities (cosine, dot) or distances (euclidean)
        """
        self._check_fitted()
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if q.shape[1] != self.index_.d:
            raise EmbspaceError(f"queries have {q.shape[1]} dimensions; the index holds {self.index_.d}")
        if self.metric == "cosine":
            q = unit(q)
        k = min(k, self.index_.ntotal)
        if self.kind == "hnsw":
            self.index_.hnsw.efSearch = max(self.ef_search, k)
        if self.kind == "ivfpq":
            self.index_.nprobe = self.nprobe
            fetch = min(self.index_.ntotal, k * max(1, self.rerank))
            _, cand = self.index_.search(q, fetch)
            return self._rerank(q, cand, k)
        scores, rows = self.index_.search(q, k)
        if self.metric == "euclidean":
            scores = np.sqrt(np.maximum(scores, 0))
        return rows.astype(np.int64), scores.astype(np.float32)

    def _rerank(self, q: np.ndarray, cand: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        space = getattr(self, "_space", None)
        if space is None:
            raise EmbspaceError("an IVF-PQ index needs its space to re-score candidates; open it with open_index")
        safe = np.where(cand < 0, 0, cand)
        vecs = np.asarray(space.vectors[safe.ravel()], dtype=np.float32).reshape(*cand.shape, -1)
        if self.metric == "cosine":
            vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=2, keepdims=True), 1e-30)
        if self.metric == "euclidean":
            scores = -np.linalg.norm(vecs - q[:, None, :], axis=2)
        else:
            scores = np.einsum("qcd,qd->qc", vecs, q)
        scores[cand < 0] = -np.inf
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        rows = np.take_along_axis(cand, top, axis=1).astype(np.int64)
        best = np.take_along_axis(scores, top, axis=1).astype(np.float32)
        return rows, (-best if self.metric == "euclidean" else best)

    def measure_recall(self, space: Space, k: int = 10, sample: int = 1000, seed: int = 0) -> dict[str, Any]:
        """Recall@k against exact search over `sample` rows used as queries, and both speeds."""
        k = min(k, space.n)
        rows = _sample_rows(space.n, min(sample, space.n), seed)
        queries = np.ascontiguousarray(space.vectors[rows], dtype=np.float32)
        t0 = time.perf_counter()
        exact = space.neighbors(queries, k=k, metric=self.metric, exclude_query=False)
        exact_s = time.perf_counter() - t0
        lookup = space._lookup
        t0 = time.perf_counter()
        approx, _ = self.search(queries, k)
        ann_s = time.perf_counter() - t0
        hits = [len({lookup[nb.id] for nb in e} & set(a.tolist())) for e, a in zip(exact, approx)]
        recall = float(np.mean(hits)) / k
        out = {
            "recall": round(recall, 4),
            f"recall@{k}": round(recall, 4),
            "queries": len(rows),
            "k": k,
            "ann_qps": round(len(rows) / ann_s, 1),
            "exact_qps": round(len(rows) / exact_s, 1),
        }
        self.stats_.update(out)
        return out


def _default_nlist(n: int) -> int:
    """FAISS's guidance: 4·sqrt(n) to 16·sqrt(n) inverted lists, as long as each keeps 39 training points."""
    return int(max(1, min(4 * np.sqrt(n), n // MIN_POINTS_PER_CENTROID)))


@contextlib.contextmanager
def _quiet_stderr():
    """Send what C++ code writes to file descriptor 2 to /dev/null for the duration (Python's own
    ``sys.stderr`` is flushed first so nothing already written is lost)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real fd 2 (embedded interpreters): nothing to hide
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _default_pq_m(dim: int) -> int:
    """Sub-quantisers of about 4 dimensions each (at most 64): a divisor of `dim`."""
    divisors = [d for d in range(1, dim + 1) if dim % d == 0 and d <= 64]
    return min(divisors, key=lambda d: abs(d - dim / 4))


def _sample_rows(n: int, size: int, seed: int) -> np.ndarray:
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


# ---- on disk ------------------------------------------------------------------------------------
def _vectors_sha256(space_path: Path) -> str:
    from .store import VECTORS, read_manifest

    return read_manifest(space_path)["files"][VECTORS]["sha256"]


def build_index(
    space_path: str | os.PathLike, kind: str = "hnsw", *, sample: int = 1000, k: int = 10, **params
) -> AnnIndex:
    """Build an index for the space at `space_path`, measure its recall@k and cache it in the folder.

    Replaces any index already cached there. Returns the fitted index; ``stats_`` holds recall@k
    against exact search on `sample` rows, queries/s of both, and build time.
    """
    from .store import load

    space_path = Path(space_path)
    space = load(space_path)
    index = AnnIndex.with_params(kind, **params).fit(space)
    index.measure_recall(space, k=k, sample=sample)
    save_index(index, space_path)
    return index


def build_auto_index(
    space_path: str | os.PathLike, recall: float = 0.95, memory_budget: int | str | None = None, seed: int = 0
) -> tuple[AnnIndex | None, dict[str, Any]]:
    """`auto_index` on the space at `space_path`, cached there when one is chosen (nothing written otherwise)."""
    from .store import load

    space_path = Path(space_path)
    index, report = auto_index(load(space_path), recall=recall, memory_budget=memory_budget, seed=seed)
    if index is not None:
        save_index(index, space_path)
    return index, report


def save_index(index: AnnIndex, space_path: str | os.PathLike) -> Path:
    """Write `index` into ``SPACE/index/`` atomically (temporary folder, then swapped into place)."""
    faiss = _faiss()
    index._check_fitted()
    space_path = Path(space_path)
    target = space_path / INDEX_DIR
    with publishing(target) as tmp:
        faiss.write_index(index.index_, str(tmp / INDEX_FILE))
        with open(tmp / INDEX_FILE, "rb") as fh:
            os.fsync(fh.fileno())
        hashed = hash_file(tmp / INDEX_FILE)  # its sha256 (identity) and xxh3 per block (checked when opened)
        meta = {
            "format": INDEX_FORMAT,
            "version": INDEX_VERSION,
            "kind": index.kind,
            "metric": index.metric,
            "params": index.params(),
            "n": int(index.index_.ntotal),
            "dim": int(index.index_.d),
            "vectors_sha256": _vectors_sha256(space_path),
            "index_size": (tmp / INDEX_FILE).stat().st_size,
            "index_sha256": hashed["sha256"],
            "index_blocks": hashed["blocks"],
            "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "stats": _jsonable_stats(index.stats_),
        }
        if getattr(index, "auto_", None):
            meta["auto"] = index.auto_
        write_durably(tmp / INDEX_META, sealed_bytes(meta))
    return target


def _jsonable_stats(stats: dict) -> dict:
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in stats.items()}


def _corrupt(path: Path, reason: str) -> StaleIndexError:
    return StaleIndexError(f"{path}: {reason}")


def index_info(space_path: str | os.PathLike) -> dict[str, Any] | None:
    """The cached index's ``index.json``, checked (checksum, schema), or None when the space has no index.

    Raises StaleIndexError, with the command that rebuilds the index, when the file is damaged,
    hand-edited, from another version or not a regular file.
    """
    space_path = Path(space_path)
    meta_path = space_path / INDEX_DIR / INDEX_META
    if not os.path.lexists(meta_path):
        return None
    rebuild = f"rebuild it with `embspace index {space_path}`"
    meta = read_sealed(meta_path, INDEX_FORMAT, "version", INDEX_VERSION, rebuild, error=_corrupt, limit=1 << 20)
    check_fields(meta_path, meta, _SCHEMA, rebuild, optional=("auto", "index_blocks"), error=_corrupt)
    if "index_blocks" in meta and not is_blocks_entry(meta["index_blocks"], meta["index_size"]):
        raise _corrupt(meta_path, f"field 'index_blocks' is not one checksum per block of the index file; {rebuild}")
    unknown = sorted(set(meta["params"]) - set(PARAM_RANGES) - {"metric"})
    if unknown:
        raise _corrupt(meta_path, f"names unknown index parameters {', '.join(unknown)[:80]}; {rebuild}")
    try:
        AnnIndex(meta["kind"], **{k: v for k, v in meta["params"].items() if k != "metric"})
    except (EmbspaceError, TypeError) as exc:
        raise _corrupt(meta_path, f"{exc}; {rebuild}") from None
    return meta


INDEX_FORMAT = "embspace.index"
INDEX_VERSION = 2  # 2: index.json carries its own checksum, the index file's size, and is schema-checked
_SCHEMA = {
    "kind": one_of(*KINDS),
    "metric": one_of(*METRICS),
    "params": OBJECT,
    "n": COUNT,
    "dim": POSITIVE,
    "vectors_sha256": SHA256,
    "index_size": COUNT,
    "index_sha256": SHA256,
    "built": TEXT,
    "stats": (
        lambda v: (
            isinstance(v, dict)
            and all(x is None or (is_number(x, 0) and (not k.startswith("recall") or x <= 1)) for k, x in v.items())
        ),
        "an object of measures (recall in 0..1, others >= 0)",
    ),
    "auto": (
        lambda v: isinstance(v, dict) and isinstance(v.get("candidates"), list) and isinstance(v.get("why"), str),
        "the auto-tuning record (an object with 'candidates' and 'why')",
    ),
}


def open_index(space: Space | str | os.PathLike) -> AnnIndex | None:
    """The index cached with a space, checked against its vectors; None when there is none.

    Raises StaleIndexError (with the command that rebuilds it) when index.json or the index file was
    altered, or the index was built for other vectors; such an index is never loaded.
    """
    from .store import load

    if not isinstance(space, Space):
        space = load(space)
    path = space.info.get("path")
    if not path:
        return None
    path = Path(path)
    meta = index_info(path)
    if meta is None:
        return None
    rebuild = f"rebuild it with `embspace index {path} --kind {meta['kind']}`"
    if meta["vectors_sha256"] != _vectors_sha256(path) or meta["n"] != space.n or meta["dim"] != space.dim:
        raise StaleIndexError(f"the index in {path / INDEX_DIR} was built for other vectors; {rebuild}")
    file = path / INDEX_DIR / INDEX_FILE
    st = os.lstat(file) if os.path.lexists(file) else None
    if st is None or not stat.S_ISREG(st.st_mode) or st.st_size != meta["index_size"]:
        raise StaleIndexError(
            f"{file} is missing, not a regular file or of another size than index.json says; {rebuild}"
        )
    if not _index_file_intact(file, meta):
        raise StaleIndexError(f"{file} does not match its checksum; {rebuild}")
    faiss = _faiss()
    raw = _read_faiss(faiss, file, meta["kind"])
    if raw.ntotal != space.n or raw.d != space.dim:
        raise StaleIndexError(f"{file} holds {raw.ntotal} x {raw.d} vectors, not {space.n} x {space.dim}; {rebuild}")
    typed = faiss.downcast_index(raw)  # a view: `raw` keeps owning the index
    kind = {faiss.IndexFlat: "flat", faiss.IndexHNSWFlat: "hnsw", faiss.IndexIVFPQ: "ivfpq"}
    found = next((k for cls, k in kind.items() if isinstance(typed, cls)), type(typed).__name__)
    ip = typed.metric_type == faiss.METRIC_INNER_PRODUCT
    if found != meta["kind"] or ip != (meta["metric"] in ("cosine", "dot")):
        raise StaleIndexError(
            f"{file} is a {found} index ({'inner product' if ip else 'L2'}); index.json says {meta['kind']} "
            f"({meta['metric']}); {rebuild}"
        )
    params = {k: v for k, v in meta["params"].items() if k != "metric"}
    index = AnnIndex(meta["kind"], metric=meta["metric"], **params)
    index.index_ = raw
    index._space = space
    index.stats_ = dict(meta["stats"])
    index.auto_ = meta.get("auto")
    return index


def _index_file_intact(file: Path, meta: dict) -> bool:
    """Whether the index file matches index.json: by its xxh3 block sums (at memory speed, 10x sha256's) when
    the index was saved with them, else by sha256. faiss reads the file itself, so every block is checked."""
    if "index_blocks" not in meta:
        return sha256_file(file) == meta["index_sha256"]
    from ._blocks import CheckedFile

    try:
        CheckedFile(file, {"size": meta["index_size"], "blocks": meta["index_blocks"]}).check_all()
    except CorruptSpaceError:
        return False
    return True


def _read_faiss(faiss, file: Path, kind: str):
    """IVF-PQ indexes are memory-mapped (opening reads no list, so a big one opens in constant time); faiss
    maps only some index types, so anything else, or a build of faiss that refuses, is read whole."""
    if kind == "ivfpq":
        with contextlib.suppress(RuntimeError):
            return faiss.read_index(str(file), faiss.IO_FLAG_MMAP)
    return faiss.read_index(str(file))


def remove_index(space_path: str | os.PathLike) -> bool:
    """Delete the cached index of a space; True if there was one."""
    import shutil

    target = Path(space_path) / INDEX_DIR
    if not target.exists():
        return False
    shutil.rmtree(target)
    return True


def ann_neighbors(space: Space, index: AnnIndex, query, k: int = 10, exclude_query: bool = True):
    """Like `Space.neighbors` (same query forms and Neighbor results) but through `index`."""
    single, vectors, rows = space.query_vectors(query)
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise EmbspaceError(f"k must be a positive integer; got {k!r}")
    available = space.n - (1 if exclude_query and rows is not None else 0)
    if k > available:
        raise EmbspaceError(
            f"k={k} is larger than the {available} items that can be returned; ask for k <= {available}"
        )
    extra = 1 if exclude_query and rows is not None else 0
    found, scores = index.search(vectors, k + extra)
    ids = space.ids
    out = []
    for q, (fr, fs) in enumerate(zip(found, scores)):
        skip = rows[q] if extra else -2
        out.append([Neighbor(ids[r], float(s)) for r, s in zip(fr, fs) if r >= 0 and r != skip][:k])
    return out[0] if single else out


# ---- choosing an index by measurement ------------------------------------------------------------
AUTO_MIN_ROWS = 20_000  # below this, exact search over the rows is as fast as any index (measured anyway above it)
EF_SEARCH_MAX = 4096
_UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12}
_UNITS.update({"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40})


def parse_bytes(text: str | int) -> int:
    """``"2GiB"``, ``"500MB"``, ``"1e9"`` or an int -> bytes; anything else is a one-line error."""
    import re

    if isinstance(text, (int, np.integer)) and not isinstance(text, bool) and text > 0:
        return int(text)
    found = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([a-z]*)\s*", str(text).lower())
    if not found or found.group(2) not in _UNITS or float(found.group(1)) * _UNITS[found.group(2)] < 1:
        raise EmbspaceError(f"memory budget {text!r} is not a size; write e.g. 2GiB, 500MB or 1000000 (bytes)")
    return int(float(found.group(1)) * _UNITS[found.group(2)])


def estimated_memory(kind: str, n: int, dim: int, **params) -> int:
    """Bytes an index of `kind` holds in memory (FAISS's layout, rounded up; the space's own vectors not counted
    except where the index copies them)."""
    if kind == "flat":
        return 4 * n * dim
    if kind == "hnsw":  # full vectors + about 2·M links of 4 bytes per node on level 0, ~1/M of that above
        return 4 * n * dim + int(n * params["m"] * 2 * 4 * 1.1)
    nlist, pq_m = params["nlist"], params["pq_m"]  # codes + 8-byte ids per row, centroids, PQ codebooks
    return n * (pq_m + 8) + 4 * nlist * dim + 4 * PQ_CENTROIDS * dim


def _auto_candidates(n: int, dim: int, budget: int | None) -> list[tuple[str, dict]]:
    """Settings worth building for n rows of dim: HNSW at two graph degrees, and IVF-PQ with the largest code
    (about dim/4, dim/8 or dim/16 bytes a row) that fits `budget`."""
    out: list[tuple[str, dict]] = [
        ("hnsw", {"m": 16, "ef_construction": 200}),
        ("hnsw", {"m": 32, "ef_construction": 200}),
    ]
    if n >= IVFPQ_MIN_ROWS:
        nlist = _default_nlist(n)
        codes = [c for c in dict.fromkeys(_pq_near(dim, dim / (4 * f)) for f in (1, 2, 4))]
        fits = [c for c in codes if budget is None or estimated_memory("ivfpq", n, dim, nlist=nlist, pq_m=c) <= budget]
        out.append(("ivfpq", {"nlist": nlist, "pq_m": (fits or codes[-1:])[0]}))
    return out


def _pq_near(dim: int, size: float) -> int:
    """The divisor of `dim` (at most 64) nearest `size`: sub-quantisers of an 8-bit PQ code."""
    return min((d for d in range(1, min(dim, 64) + 1) if dim % d == 0), key=lambda d: abs(d - size))


class _Probe:
    """Held-out queries (rows of the space) with their exact top-k (the query row itself left out)."""

    def __init__(self, space: Space, rows: np.ndarray, k: int, metric: str):
        self.rows, self.k = rows, k
        self.queries = np.ascontiguousarray(space.vectors[rows], dtype=np.float32)
        lookup = space._lookup
        t0 = time.perf_counter()
        exact = space.neighbors(self.queries, k=k + 1, metric=metric, exclude_query=False)
        self.exact_qps = len(rows) / max(time.perf_counter() - t0, 1e-9)
        self.truth = [self._without_self([lookup[nb.id] for nb in e], r) for e, r in zip(exact, rows)]

    def _without_self(self, found, row) -> set:
        return set([f for f in found if f != row and f >= 0][: self.k])

    def measure(self, index: AnnIndex) -> tuple[float, float]:
        """(recall@k, queries/s) of `index` on these queries, searched as one batch (best of two runs)."""
        best = np.inf
        for _ in range(2):
            t0 = time.perf_counter()
            found, _ = index.search(self.queries, self.k + 1)
            best = min(best, time.perf_counter() - t0)
        hits = [len(self._without_self(f.tolist(), r) & t) for f, r, t in zip(found, self.rows, self.truth)]
        return float(np.mean(hits)) / self.k, len(self.rows) / max(best, 1e-9)


def _tune(index: AnnIndex, probe: _Probe, target: float, trials: list) -> int | None:
    """The smallest efSearch / nprobe that reaches `target` on `probe`: doubling, then bisection (no rebuild)."""
    knob = "ef_search" if index.kind == "hnsw" else "nprobe"
    high_end = EF_SEARCH_MAX if index.kind == "hnsw" else index.nlist
    seen: dict[int, float] = {}

    def recall_at(value: int) -> float:
        if value not in seen:
            setattr(index, knob, value)
            recall, qps = probe.measure(index)
            seen[value] = recall
            trials.append({knob: value, "recall": round(recall, 4), "qps": round(qps, 1)})
        return seen[value]

    value = probe.k if index.kind == "hnsw" else 1  # search() never lets efSearch fall below k
    low = value - 1
    while recall_at(value) < target:
        if value >= high_end:
            return None
        low, value = value, min(2 * value, high_end)
    while value - low > max(1, value // 16):  # bisection to within ~6%: finer steps are below the timing noise
        mid = (low + value) // 2
        low, value = (mid, value) if recall_at(mid) < target else (low, mid)
    return value


def auto_index(
    space: Space,
    recall: float = 0.95,
    memory_budget: int | str | None = None,
    seed: int = 0,
    *,
    sample: int = 500,
    k: int = 10,
) -> tuple[AnnIndex | None, dict[str, Any]]:
    """Choose, build and tune the index that reaches `recall`@k at the highest measured throughput.

    Candidates (HNSW at M=16 and 32, IVF-PQ at two code sizes) within `memory_budget` bytes are built;
    each one's efSearch / nprobe is tuned on `sample` held-out rows of the space (their exact neighbours,
    themselves left out, from the space's own exact search), and the fastest that reaches the target is
    checked again on a second, disjoint sample. Returns ``(None, report)`` when the space is too small for
    any index to beat exact search (under 20,000 rows, or exact search measured faster); raises a one-line
    EmbspaceError naming the best recall reached when no candidate reaches the target within the budget.
    The report (also stored as ``index.auto_``) lists every candidate: kind, params, recall, q/s, memory.
    """
    if isinstance(recall, bool) or not isinstance(recall, (int, float)) or not 0 < recall <= 1:
        raise EmbspaceError(f"recall target {recall!r} is not a fraction; choose a number in (0, 1], e.g. 0.95")
    budget = None if memory_budget is None else parse_bytes(memory_budget)
    n, dim, metric = space.n, space.dim, space.metric
    report: dict[str, Any] = {
        "target_recall": recall,
        "k": k,
        "seed": seed,
        "n": n,
        "dim": dim,
        "memory_budget": budget,
        "candidates": [],
    }
    if n < AUTO_MIN_ROWS:
        report["why"] = f"exact search is faster; no index built ({n:,} rows, under {AUTO_MIN_ROWS:,})"
        return None, report
    size = min(sample, n // 4)
    rows = np.random.default_rng(seed).choice(n, size=2 * size, replace=False)
    tune_probe, check_probe = (
        _Probe(space, np.sort(rows[:size]), k, metric),
        _Probe(space, np.sort(rows[size:]), k, metric),
    )
    report.update(queries=size, exact_qps=round(tune_probe.exact_qps, 1))
    best = None
    for kind, params in _auto_candidates(n, dim, budget):
        # every candidate is built: a denser graph that needs a smaller efSearch is often the faster one
        entry = _try_candidate(space, kind, params, budget, tune_probe, recall, seed)
        report["candidates"].append(entry.pop("_record"))
        entry["at"] = len(report["candidates"]) - 1
        if entry.get("index") is not None and (best is None or entry["qps"] > best["qps"]):
            best = entry
    if best is None:
        raise EmbspaceError(_none_reached(report, budget))
    index, winner = best["index"], report["candidates"][best["at"]]
    checked, qps = _confirm(index, check_probe, recall)
    winner.update(params=index.params(), check_recall=round(checked, 4))
    if checked < recall:
        raise EmbspaceError(
            f"no index reached recall@{k} {recall} on the check sample; the best was {checked:.3f} "
            f"({index.kind} {index.params()})"
        )
    exact_qps = tune_probe.exact_qps
    if qps <= exact_qps:
        report["why"] = (
            f"exact search is faster; no index built (the fastest index, {index.kind}, did "
            f"{qps:,.0f} q/s against exact {exact_qps:,.0f})"
        )
        return None, report
    report["chosen"] = best["at"]
    others = [c for i, c in enumerate(report["candidates"]) if i != best["at"] and c.get("qps")]
    report["why"] = (
        f"{index.kind} {_params_text(index.params())} reached recall@{k} {checked:.3f} (target {recall}) at "
        f"{qps:,.0f} q/s, {qps / exact_qps:.1f}x exact search"
        + (f", the fastest of {len(others) + 1} that reached it" if others else "")
    )
    index.stats_.update(
        {
            "recall": round(checked, 4),
            f"recall@{k}": round(checked, 4),
            "queries": size,
            "k": k,
            "ann_qps": round(qps, 1),
            "exact_qps": round(exact_qps, 1),
        }
    )
    index.auto_ = report
    return index, report


def _params_text(params: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items())


def _try_candidate(space, kind, params, budget, probe, target, seed) -> dict:
    memory = estimated_memory(kind, space.n, space.dim, **params)
    record: dict[str, Any] = {"kind": kind, "params": dict(params), "memory": memory}
    if budget is not None and memory > budget:
        record["skipped"] = f"needs ~{memory:,} bytes, over the budget"
        return {"_record": record}
    index = AnnIndex.with_params(kind, seed=seed, **params).fit(space)
    trials: list = []
    value = _tune(index, probe, target, trials)
    record.update(build_seconds=index.stats_["build_seconds"], trials=trials)
    if value is None:
        top = max(trials, key=lambda t: t["recall"])
        record.update(recall=top["recall"], qps=top["qps"], params=index.params(), reached=False)
        return {"_record": record}
    knob = "ef_search" if kind == "hnsw" else "nprobe"
    setattr(index, knob, value)
    hit = next(t for t in trials if t[knob] == value)
    record.update(recall=hit["recall"], qps=hit["qps"], params=index.params(), reached=True)
    return {"_record": record, "index": index, "qps": hit["qps"]}


def _confirm(index: AnnIndex, probe: _Probe, target: float) -> tuple[float, float]:
    """Recall and q/s on the disjoint check sample; the knob doubles (at most 3 times) if it falls short there."""
    knob = "ef_search" if index.kind == "hnsw" else "nprobe"
    top = EF_SEARCH_MAX if index.kind == "hnsw" else index.nlist
    recall, qps = probe.measure(index)
    for _ in range(3):
        if recall >= target or getattr(index, knob) >= top:
            break
        setattr(index, knob, min(top, 2 * getattr(index, knob)))
        recall, qps = probe.measure(index)
    return recall, qps


def _none_reached(report: dict, budget: int | None) -> str:
    tried = [c for c in report["candidates"] if "recall" in c]
    within = "" if budget is None else f" within the memory budget of {budget:,} bytes"
    if not tried:
        least = min(c["memory"] for c in report["candidates"])
        return f"no index fits{within}: the smallest candidate needs ~{least:,} bytes; raise --memory-budget"
    top = max(tried, key=lambda c: c["recall"])
    return (
        f"no index reached recall@{report['k']} {report['target_recall']}{within}; the best was "
        f"{top['recall']:.3f} ({top['kind']} {_params_text(top['params'])}); lower --recall or raise --memory-budget"
    )
