"""The reducers: PCA (scikit-learn), t-SNE (openTSNE) and UMAP (umap-learn), behind one small class.

Each library is imported only when its reducer runs; a missing one is an EmbspaceError that names
the extra to install.
"""

from __future__ import annotations

import inspect
import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from .._install import install_hint
from ..errors import EmbspaceError

Progress = Callable[[float, str], None]
EXTRA_HINT = install_hint("explore")


class Reducer:
    """One way to draw points in 2 or 3 dimensions. Subclasses implement `embed`.

    Class attributes: `name` (the method's name), `library` (what to import), `run_params`
    (parameters that change how it runs, such as threads, but not the picture: they are left out
    of a map's key), `fixed` (parameters embspace sets itself).
    """

    name = ""
    library = ""
    run_params: frozenset[str] = frozenset()
    fixed: frozenset[str] = frozenset({"n_components", "random_state"})

    def defaults(self, dims: int, metric: str) -> dict[str, Any]:
        """The parameters a map gets when none are given (stored with the map)."""
        return {}

    def check(self, params: dict[str, Any], n: int) -> None:
        """Raise EmbspaceError when `params` cannot work for `n` points."""

    def prepare(self, vectors: np.ndarray, metric: str) -> np.ndarray:
        """The matrix handed to the library: unit rows for cosine spaces, the rows as they are else."""
        x = np.ascontiguousarray(vectors, dtype=np.float32)
        if metric != "cosine":
            return x
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return x / norms

    def embed(
        self, x: np.ndarray, dims: int, seed: int | None, params: dict[str, Any], progress: Progress
    ) -> np.ndarray:
        """Coordinates of shape (n, dims) for the rows of `x` (n, dim)."""
        raise NotImplementedError

    # ---- shared ---------------------------------------------------------------------------------
    def estimator(self):
        """The library's estimator class (imported here, lazily)."""
        raise NotImplementedError

    def valid_params(self) -> set[str]:
        names = set(inspect.signature(self.estimator().__init__).parameters) - {"self", "args", "kwargs"}
        return names - self.fixed

    def resolve(self, params: dict[str, Any], dims: int, metric: str, n: int) -> tuple[dict, dict]:
        """(picture parameters, run parameters): the defaults with `params` on top, checked."""
        valid = self.valid_params()
        unknown = sorted(set(params) - valid)
        if unknown:
            raise EmbspaceError(f"unknown {self.name} parameter {unknown[0]!r}; valid ones: {', '.join(sorted(valid))}")
        merged = {**self.defaults(dims, metric), **params}
        run = {k: v for k, v in merged.items() if k in self.run_params}
        picture = {k: v for k, v in merged.items() if k not in self.run_params}
        self.check(picture, n)
        return picture, run

    def _import(self, module: str):
        try:
            return __import__(module, fromlist=["_"])
        except ImportError:
            raise EmbspaceError(f"{self.name} maps need {self.library}; run: {EXTRA_HINT}") from None


class PCAReducer(Reducer):
    """Principal components (scikit-learn `PCA`); exact and deterministic."""

    name = "pca"
    library = "scikit-learn"
    fixed = Reducer.fixed | {"copy"}

    def estimator(self):
        return self._import("sklearn.decomposition").PCA

    def embed(self, x, dims, seed, params, progress):
        progress(0.0, "pca: principal components")
        pca = self.estimator()(n_components=dims, random_state=seed, **params)
        return np.ascontiguousarray(pca.fit_transform(x), dtype=np.float32)


class TSNEReducer(Reducer):
    """t-SNE (openTSNE `TSNE`): FFT-accelerated in 2-D (Barnes-Hut below 10,000 points), Barnes-Hut
    in 3-D (FFT supports at most 2). One thread by default, as in openTSNE, so a seed repeats the
    map exactly; ``n_jobs=-1`` uses every core (measured 3x slower than one thread on this 2-core
    machine while another process held one core)."""

    name = "tsne"
    library = "openTSNE"
    run_params = frozenset({"n_jobs", "verbose", "callbacks", "callbacks_every_iters"})

    def estimator(self):
        return self._import("openTSNE").TSNE

    def defaults(self, dims, metric):
        # cosine spaces arrive as unit vectors: euclidean distance then orders neighbours as cosine does
        return {
            "perplexity": 30.0,
            "metric": "euclidean",
            "initialization": "pca",
            "negative_gradient_method": "auto" if dims == 2 else "bh",
            "n_jobs": 1,
        }

    def check(self, params, n):
        perplexity = params.get("perplexity", 30.0)
        if not isinstance(perplexity, (int, float)) or perplexity <= 0:
            raise EmbspaceError(f"perplexity must be a positive number; got {perplexity!r}")
        if 3 * perplexity >= n - 1:
            raise EmbspaceError(
                f"t-SNE with perplexity {perplexity:g} needs more than {int(3 * perplexity) + 1} "
                f"points; got {n} (map more points or pass a perplexity below {(n - 1) / 3:.1f})"
            )

    def embed(self, x, dims, seed, params, progress):
        tsne_class = self.estimator()
        every = 25
        tsne = tsne_class(n_components=dims, random_state=seed, **params)
        total = tsne.early_exaggeration_iter + tsne.n_iter
        done = [0]

        def callback(iteration, error, embedding):
            done[0] += every
            progress(0.1 + 0.9 * min(1.0, done[0] / total), f"t-SNE: iteration {min(done[0], total)}/{total}")
            return False

        if params.get("callbacks") is None and progress is not _quiet:
            tsne.callbacks, tsne.callbacks_every_iters = callback, every
        progress(0.0, "t-SNE: nearest neighbours and affinities")
        return np.ascontiguousarray(tsne.fit(x), dtype=np.float32)


class UMAPReducer(Reducer):
    """UMAP (umap-learn `UMAP`). With a seed it is deterministic and runs on one thread (umap-learn's
    rule); with ``seed=None`` it uses every core."""

    name = "umap"
    library = "umap-learn"
    run_params = frozenset({"n_jobs", "verbose", "tqdm_kwds", "low_memory"})

    def estimator(self):
        return self._import("umap").UMAP

    def defaults(self, dims, metric):
        return {"n_neighbors": 15, "min_dist": 0.1, "metric": "cosine" if metric == "cosine" else "euclidean"}

    def check(self, params, n):
        k = params.get("n_neighbors", 15)
        if not isinstance(k, (int, np.integer)) or k < 2:
            raise EmbspaceError(f"n_neighbors must be an integer of at least 2; got {k!r}")
        if k >= n:
            raise EmbspaceError(f"UMAP with n_neighbors={k} needs more than {k} points; got {n}")

    def embed(self, x, dims, seed, params, progress):
        import numba

        umap_class = self.estimator()
        params = dict(params)
        params.setdefault("n_jobs", 1 if seed is not None else -1)  # umap-learn: a seed means one thread
        if "tqdm_kwds" not in params and progress is not _quiet:
            params["tqdm_kwds"] = {
                "disable": False,
                "file": _EpochSink(progress),
                "bar_format": "{n}/{total}\n",
                "mininterval": 0.25,
            }
        threads = numba.get_num_threads()
        progress(0.0, "UMAP: nearest neighbours and fuzzy graph")
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*force_all_finite.*", category=FutureWarning)
                coords = umap_class(n_components=dims, random_state=seed, **params).fit_transform(x)
        finally:
            numba.set_num_threads(threads)  # umap-learn sets numba's global thread count
        return np.ascontiguousarray(coords, dtype=np.float32)


class _EpochSink:
    """A file for umap-learn's tqdm bar over epochs: turns "12/200" lines into progress calls."""

    def __init__(self, progress: Progress):
        self.progress = progress

    def write(self, text: str) -> int:
        found = re.findall(r"(\d+)/(\d+)", text)
        if found:
            done, total = (int(v) for v in found[-1])
            if total:
                self.progress(0.3 + 0.7 * done / total, f"UMAP: epoch {done}/{total}")
        return len(text)

    def flush(self) -> None:
        pass


def _quiet(fraction: float, message: str) -> None:
    pass


REDUCERS: dict[str, Reducer] = {r.name: r for r in (PCAReducer(), TSNEReducer(), UMAPReducer())}
METHODS = tuple(REDUCERS)


def reducer(method: str) -> Reducer:
    try:
        return REDUCERS[method]
    except (KeyError, TypeError):
        raise EmbspaceError(f"unknown map method {method!r}; choose one of {', '.join(METHODS)}") from None
