"""`Map` (coordinates of some rows of a space, with their trust) and `make_map`, which draws one."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._rowblocks import checked_rows, checked_take, id_slice, ids_at
from ..errors import EmbspaceError
from ..space import Space
from ._methods import EXTRA_HINT, METHODS, Progress, _quiet, reducer
from ._trust import POINT_TRUST, TRUST_K, TRUST_SAMPLE, map_trust, point_recall

DIMS = (2, 3)
MIN_POINTS = 3 * TRUST_K  # trustworthiness at k=10 is defined from 16 points; 30 keeps it meaningful


@dataclass
class Map:
    """Coordinates of rows of a space in 2 or 3 dimensions, with how far they can be trusted.

    Attributes
    ----------
    key : str
        Stable name from method, dims, points, seed and non-default parameters, e.g.
        ``"umap-2d-n50000-s0"`` (a parameter hash is appended when parameters differ from the
        defaults: ``"tsne-2d-n5000-s0-p1a2b3c4d"``). The cache folder is ``<space>/maps/<key>/``.
    method : {"pca", "tsne", "umap"}
    dims : {2, 3}
    params : dict
        The method's parameters that shape the picture (defaults included).
    seed : int or None
        None only for UMAP run on all cores, which is not reproducible.
    rows : int64 ndarray of shape (n,)
        Row numbers in the space of the mapped points, ascending.
    coords : float32 ndarray of shape (n, dims)
        Map coordinates of those rows.
    trust : dict
        ``{"trustworthiness": float, "knn_recall": float, "k": 10, "sample": int, "metric": str,
        "point_trust": "all" | "sample", "seconds": float}``; see `embspace.reduce.map_trust`.
    point_trust : float32 ndarray of shape (n,)
        Each point's recall of its 10 nearest neighbours of the space among its 10 nearest on
        the map; NaN for points not measured (by default maps of more than 10,000 points
        measure only the trust sample; see `make_map`'s `point_trust`).
    seconds : float
        Wall time of the method itself (without trust, sampling and I/O).
    created : str
        ISO 8601 time (UTC) the map was made.
    sample : int or None
        The requested sample size (None: every row).
    sampling : {"all", "first", "random"}
        How the rows were chosen: the first rows of a frequency-ordered space, or a seeded sample.
    space_n : int
        Rows in the space the map was made from.
    vectors_sha256 : str or None
        sha256 of the space's vectors.npy the map was made from (set once it is tied to a folder).
    cached : bool
        Whether it was read from the cache (not stored).
    """

    key: str
    method: str
    dims: int
    params: dict[str, Any]
    seed: int | None
    rows: np.ndarray
    coords: np.ndarray
    trust: dict[str, Any]
    point_trust: np.ndarray
    seconds: float
    created: str
    sample: int | None = None
    sampling: str = "all"
    space_n: int = 0
    vectors_sha256: str | None = None
    cached: bool = field(default=False, compare=False)

    @property
    def n(self) -> int:
        """Number of mapped points."""
        return len(self.rows)

    def ids(self, space: Space) -> list[str]:
        """The ids of the mapped points, in map order (read for these rows only, not the whole id list)."""
        return ids_at(space, self.rows)

    def info(self) -> dict[str, Any]:
        """Everything but the arrays, as JSON-ready values (what map.json stores)."""
        return {
            "key": self.key,
            "method": self.method,
            "dims": self.dims,
            "params": _jsonable(self.params),
            "seed": self.seed,
            "n": self.n,
            "sample": self.sample,
            "sampling": self.sampling,
            "space_n": self.space_n,
            "trust": _jsonable(self.trust),
            "seconds": self.seconds,
            "created": self.created,
            "vectors_sha256": self.vectors_sha256,
        }

    def __repr__(self) -> str:
        t = self.trust
        return (
            f"<Map {self.key}: {self.n} points, trustworthiness {t.get('trustworthiness', float('nan')):.3f}, "
            f"kNN recall {t.get('knn_recall', float('nan')):.3f}>"
        )

    # ---- notebooks -----------------------------------------------------------------------------
    def to_png(self, space: Space | None = None, *, size: float = 6.0, dpi: int = 100, labels: int = 20) -> bytes:
        """A small picture of the map as PNG bytes, points coloured by their trust: with the `space` it
        was drawn from (`make_map` keeps it), `labels` of them named (ids, or the start of each text);
        ``embspace map -o map.png`` draws the full picture. Needs matplotlib."""
        return _png(self, space, size, dpi, labels)

    def _repr_png_(self) -> bytes | None:
        """A notebook's view of the map: its picture (None, and so the text repr, without matplotlib)."""
        try:
            return self.to_png(getattr(self, "_space", None))
        except EmbspaceError:
            return None

    def to_pandas(self):
        """One row per mapped point: ``row``, ``id`` (when the map keeps its space), ``x``, ``y`` (``z``)
        and ``trust``. Needs pandas (``pip install pandas``)."""
        from .._notebook import pandas

        pd = pandas()
        columns = {"row": self.rows}
        space = getattr(self, "_space", None)
        if space is not None:
            columns["id"] = self.ids(space)
        columns.update({axis: self.coords[:, d] for d, axis in enumerate("xyz"[: self.dims])})
        columns["trust"] = self.point_trust
        return pd.DataFrame(columns)


def _png(m: Map, space: Space | None, size: float, dpi: int, labels: int) -> bytes:
    """The points of `m` coloured by their trust (where measured), with a title and, given the space,
    up to `labels` labels spread over the picture, as PNG bytes."""
    import io
    import warnings

    try:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise EmbspaceError(f"pictures of maps need matplotlib; run: {EXTRA_HINT}") from None
    from ._fonts import fonts_for

    named = _label_rows(m, space, labels) if space is not None and m.dims == 2 else np.empty(0, dtype=np.int64)
    texts = [_label_text(space, m.rows[j]) for j in named]
    t = m.trust
    title = (
        (f"{space.info.get('name')}: " if space is not None and space.info.get("name") else "")
        + f"{m.method} {m.dims}-D, {m.n:,} points | trustworthiness {t.get('trustworthiness', float('nan')):.3f}, "
        f"kNN recall {t.get('knn_recall', float('nan')):.3f}"
    )
    fonts = fonts_for([title, *texts])
    with matplotlib.rc_context({"font.family": fonts.families}), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from", category=UserWarning)
        fig = Figure(figsize=(size, size), dpi=dpi)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(projection="3d" if m.dims == 3 else None)
        trust = m.point_trust if np.isfinite(m.point_trust).any() else None
        dot = float(np.clip(3e4 / max(m.n, 1), 0.4, 12.0))
        ax.scatter(*(m.coords[:, d] for d in range(m.dims)), s=dot, c=trust, cmap="viridis", alpha=0.6, linewidths=0)
        box = {"boxstyle": "round,pad=0.1", "facecolor": "white", "alpha": 0.7, "linewidth": 0}
        for j, text in zip(named, texts):
            if fonts.can_draw(text):
                ax.annotate(text, m.coords[j, :2], fontsize=7, xytext=(2, 2), textcoords="offset points", bbox=box)
        ax.set_title(title, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        if m.dims == 2:
            ax.set_aspect("equal", adjustable="datalim")
            for side in ax.spines.values():
                side.set_visible(False)
            fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.95)
        out = io.BytesIO()
        fig.savefig(out, format="png", dpi=dpi, facecolor="white")
    return out.getvalue()


def _label_rows(m: Map, space: Space, labels: int) -> np.ndarray:
    """Up to `labels` points (positions in `m`) to name, at most one per cell of a grid over the map:
    the most frequent first in a frequency-ordered space, else a seeded random order."""
    if labels <= 0 or m.n == 0:
        return np.empty(0, dtype=np.int64)
    if m.sampling == "first" or space.info.get("order") == "frequency":
        order = np.argsort(m.rows, kind="stable")
    else:
        order = np.random.default_rng(0 if m.seed is None else m.seed).permutation(m.n)
    xy = m.coords[:, :2]
    lo, span = xy.min(axis=0), np.maximum(np.ptp(xy, axis=0), 1e-12)
    cells = np.minimum((6 * (xy - lo) / span).astype(np.int64), 5)
    seen, picked = set(), []
    for j in order[: 200 * labels]:
        cell = (int(cells[j, 0]), int(cells[j, 1]))
        if cell not in seen:
            seen.add(cell)
            picked.append(j)
            if len(picked) == labels:
                break
    return np.array(picked, dtype=np.int64)


def _label_text(space: Space, row: int, width: int = 24) -> str:
    """The id, or in a space of texts the start of the text."""
    texts = space.meta.get("text")
    if texts is None or not isinstance(texts[row], str) or not texts[row].strip():
        return id_slice(space, row, row + 1)[0]
    flat = " ".join(texts[row].split())
    return flat if len(flat) <= width else flat[: width - 1].rstrip() + "\u2026"


def make_map(
    space: Space,
    method: str = "umap",
    dims: int = 2,
    sample: int | None = None,
    seed: int | None = 0,
    progress: Progress | None = None,
    *,
    trust_sample: int = TRUST_SAMPLE,
    point_trust: str = "auto",
    **params,
) -> Map:
    """Draw a space (or a sample of it) in 2 or 3 dimensions and measure how far the picture holds.

    Parameters
    ----------
    space : Space
        Cosine spaces are mapped from unit vectors (UMAP with metric cosine; t-SNE and PCA on
        the normalised rows); dot and euclidean spaces from the vectors as they are.
    method : {"pca", "tsne", "umap"}
        scikit-learn PCA, openTSNE t-SNE, or umap-learn UMAP.
    dims : {2, 3}
    sample : int, optional
        Map only this many rows: the first ones when ``space.info["order"] == "frequency"`` (the
        most frequent words), else a sample drawn with `seed`. Default: every row.
    seed : int or None
        Seeds the method and the samples. t-SNE repeats exactly with ``n_jobs=1``; UMAP with a
        seed is deterministic and single-threaded, ``seed=None`` runs it on every core.
    progress : callable(fraction: float, message: str), optional
        Called now and then with the share of the work done (0 to 1).
    trust_sample : int
        Points the trust numbers are averaged over (see `embspace.reduce.map_trust`).
    point_trust : {"auto", "all", "sample"}
        Which points get their own trust (recall of their 10 neighbours): every point, the trust
        sample only (NaN elsewhere), or "auto": every point for maps of up to 10,000 points. Every
        point costs an exact 10-NN search of all mapped points (2.5 s for 20,000 x 50 on a busy
        2-core machine); `complete_point_trust` adds it later.
    **params
        Passed to the library (e.g. ``perplexity=50`` for t-SNE, ``n_neighbors=30`` for UMAP,
        ``n_jobs``); unknown names are an error.

    Returns
    -------
    Map

    Examples
    --------
    >>> m = make_map(space, "pca", sample=2000)          # doctest: +SKIP
    >>> m.coords.shape, round(m.trust["trustworthiness"], 2)  # doctest: +SKIP
    ((2000, 2), 0.7)
    """
    report = progress or _quiet
    if point_trust not in POINT_TRUST:
        raise EmbspaceError(f"point_trust must be one of {', '.join(POINT_TRUST)}; got {point_trust!r}")
    plan = plan_map(method, dims, sample, seed, params, space.n, space.metric)
    rows, sampling = choose_rows(space, plan.n, seed)
    vectors = _map_rows(space, rows, sampling)
    x = plan.reducer.prepare(vectors, space.metric)
    start = time.perf_counter()
    coords = plan.reducer.embed(x, dims, seed, {**plan.params, **plan.run}, _scaled(report, 0.0, 0.9))
    seconds = time.perf_counter() - start
    if coords.shape != (plan.n, dims) or not np.isfinite(coords).all():
        raise EmbspaceError(
            f"{method} returned coordinates of shape {coords.shape} with non-finite values; "
            f"expected finite ({plan.n}, {dims})"
        )
    start = time.perf_counter()
    trust, points = map_trust(
        vectors, coords, space.metric, TRUST_K, trust_sample, seed, point_trust, _scaled(report, 0.9, 1.0)
    )
    trust["seconds"] = round(time.perf_counter() - start, 3)
    made = Map(
        key=plan.key,
        method=method,
        dims=dims,
        params=plan.params,
        seed=seed,
        rows=rows,
        coords=coords,
        trust=trust,
        point_trust=points,
        seconds=round(seconds, 3),
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        sample=sample,
        sampling=sampling,
        space_n=space.n,
    )
    made._space = space  # for the notebook's picture (labels, title) and to_pandas' ids; not saved
    return made


def complete_point_trust(m: Map, space: Space, progress: Progress | None = None) -> Map:
    """Give every point of `m` its trust (where only the trust sample has one); `m` is updated
    and returned. `space` must be the space the map was drawn from."""
    missing = np.flatnonzero(np.isnan(m.point_trust))
    if len(missing) == 0:
        m.trust["point_trust"] = "all"
        return m
    if m.space_n and m.space_n != space.n:
        raise EmbspaceError(f"map {m.key} was drawn from a space of {m.space_n:,} rows; this one has {space.n:,}")
    report = progress or _quiet
    report(0.0, f"map trust: {len(missing):,} more points' {TRUST_K} nearest neighbours in the space")
    vectors = _map_rows(space, m.rows, m.sampling)
    start = time.perf_counter()
    recall, _ = point_recall(vectors, m.coords, missing, m.trust.get("k", TRUST_K), space.metric)
    m.point_trust = m.point_trust.copy()
    m.point_trust[missing] = recall
    m.trust["point_trust"] = "all"
    m.trust["seconds"] = round(m.trust.get("seconds", 0.0) + time.perf_counter() - start, 3)
    report(1.0, "map trust: done")
    return m


@dataclass
class Plan:
    """What `make_map` will do, known before any vector is read: the key, the points, the parameters."""

    reducer: Any
    n: int
    params: dict[str, Any]
    run: dict[str, Any]
    key: str


def plan_map(
    method: str, dims: int, sample: int | None, seed: int | None, params: dict[str, Any], space_n: int, metric: str
) -> Plan:
    """Check the request against a space of `space_n` rows and name the map it makes."""
    red = reducer(method)
    if dims not in DIMS or isinstance(dims, bool):
        raise EmbspaceError(f"dims must be 2 or 3; got {dims!r}")
    if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0):
        raise EmbspaceError(f"seed must be a non-negative integer or None; got {seed!r}")
    n = space_n if sample is None else sample
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise EmbspaceError(f"sample must be an integer; got {sample!r}")
    if n > space_n:
        raise EmbspaceError(
            f"sample={n:,} is larger than the space's {space_n:,} rows; pass a sample of at most {space_n:,} or none"
        )
    if n < MIN_POINTS:
        raise EmbspaceError(
            f"a map needs at least {MIN_POINTS} points (its trust compares 10 neighbours); "
            f"got {n:,}" + (" (the space is too small)" if sample is None else "")
        )
    picture, run = red.resolve(params, dims, metric, int(n))
    key = f"{method}-{dims}d-n{int(n)}-s{'none' if seed is None else int(seed)}"
    defaults = {k: v for k, v in red.defaults(dims, metric).items() if k not in red.run_params}
    if _jsonable(picture) != _jsonable(defaults):
        blob = json.dumps(_jsonable(picture), sort_keys=True, separators=(",", ":"))
        key += "-p" + hashlib.sha256(blob.encode()).hexdigest()[:8]
    return Plan(red, int(n), picture, run, key)


def choose_rows(space: Space, n: int, seed: int | None) -> tuple[np.ndarray, str]:
    """(row numbers ascending, how they were chosen): all rows, the first n of a frequency-ordered
    space, or n drawn at random with `seed`."""
    if n >= space.n:
        return np.arange(space.n, dtype=np.int64), "all"
    if space.info.get("order") == "frequency":
        return np.arange(n, dtype=np.int64), "first"
    rng = np.random.default_rng(0 if seed is None else seed)
    return np.sort(rng.choice(space.n, size=n, replace=False)).astype(np.int64), "random"


def _map_rows(space: Space, rows: np.ndarray, sampling: str) -> np.ndarray:
    """The vectors of the mapped rows, in memory: O(sample x dim), whatever the size of the space (an opened
    space checks only the blocks under them)."""
    if sampling in ("all", "first"):
        return np.asarray(checked_rows(space, 0, len(rows)), dtype=np.float32)
    return checked_take(space, rows)


def _scaled(progress: Progress, lo: float, hi: float) -> Progress:
    if progress is _quiet:
        return _quiet
    return lambda fraction, message: progress(lo + (hi - lo) * min(max(fraction, 0.0), 1.0), message)


def _jsonable(value: Any) -> Any:
    """Plain JSON values (numpy scalars and arrays turned into numbers and lists)."""

    def default(v):
        if isinstance(v, np.generic):
            return v.item()
        if isinstance(v, np.ndarray):
            return v.tolist()
        raise EmbspaceError(f"map parameter value {v!r} ({type(v).__name__}) cannot be stored as JSON")

    return json.loads(json.dumps(value, default=default))


__all__ = ["Map", "make_map", "complete_point_trust", "plan_map", "choose_rows", "METHODS", "DIMS", "MIN_POINTS"]
