"""`embspace.images.build`: a space of images, one vector per image; `embed_images` for query images later."""

from __future__ import annotations

import inspect
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._progress import progress as progress_bar
from .._ray import check_engine, require_ray
from .._version import __version__
from ..errors import EmbspaceError
from ..space import Space
from ._base import Embedder, FitContext, embedder_class
from ._input import MAX_PIXELS, ImageSkip, ImageSource, decode_image, read_images
from ._thumbs import ThumbnailWriter

BUILDER = "embspace.images"
_SIZES_KEPT = 10_000  # distinct image sizes remembered (for the note about resizing)


class MixedSizesWarning(UserWarning):
    """The images come in several sizes; each method resizes them (said once per build)."""


def build(
    source: str | os.PathLike | Sequence[str | os.PathLike] | np.ndarray | ImageSource,
    method: str = "features",
    *,
    labels: str | Sequence | None = None,
    label: str | None = None,
    path_column: str = "path",
    batch_size: int = 256,
    max_pixels: int = MAX_PIXELS,
    thumbnails: bool = True,
    thumb_size: int = 64,
    seed: int = 0,
    limit: int | None = None,
    name: str | None = None,
    progress: bool | None = None,
    engine: str = "local",
    address: str | None = None,
    workers: int | None = None,
    shards_dir: str | os.PathLike | None = None,
    **knobs: Any,
) -> Space:
    """Embed images into a space: one row per image that could be read.

    Parameters
    ----------
    source : path, list of paths or ImageSource
        A folder of images (recursive), an image file, a CSV/Parquet table with a column of paths, a ``.npy``
        of shape (n, h, w) or (n, h, w, c), or an IDX file (``*-idx3-ubyte[.gz]``); or an array of images
        (n, h, w[, c]) (ids ``images:ROW``); see `read_images`.
    method : {"features", "pixels", "cnn", "contrastive"}
        ``features``: colour, shape and texture blocks (scikit-image); ``pixels``: resized pixels;
        ``cnn``: EfficientNet-Lite0 features; ``contrastive``: a small CNN trained on these images.
    labels, label, path_column :
        Labels from sub-folders (``labels="folders"``), one per image of an array (a sequence), or a
        table column (`label`); the table's column of image paths.
    batch_size : int
        Images decoded and embedded together (memory is bounded by the batch).
    max_pixels : int
        Images above this many pixels are skipped (decompression bombs).
    thumbnails, thumb_size : bool, int
        Keep a `thumb_size` px thumbnail of every image in the space (PNG sprite pages).
    seed : int
        For methods that draw random numbers (contrastive training).
    limit : int, optional
        Read at most this many images of each source.
    progress : bool, optional
        Show a progress bar (default: as the CLI set it; off in the library).
    engine : {"local", "ray"}
        ``local``: this process. ``ray``: decode and embed over a pool of Ray actors (one model load each, a
        GPU each where the cluster has them); the method is fitted and finished here, so the space is the
        same, plus ``info["engine"]``. Needs ``pip install -e '.[ray]'``.
    address, workers, shards_dir : optional
        ray only: the cluster to join (``host:6379``, ``ray://host:10001``, ``auto``; default a local Ray
        without a dashboard), how many actors, and where their Parquet shards go (a temporary folder inside
        it, removed after; storage every node shares on a cluster of several machines).
    **knobs
        The method's own parameters (e.g. ``size=32`` for pixels, ``epochs=5`` for contrastive).

    Returns
    -------
    Space of shape (n_images, dim), metric cosine. ids are paths relative to the source folder (or
    ``NAME:ROW`` for arrays); meta ``label`` (with labels), a table's columns, ``thumbnail``, ``width``,
    ``height``. ``info["images"]`` records the method so `embed_images` embeds queries the same way.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> np.save(os.path.join(folder, "digits.npy"), np.random.default_rng(0).integers(0, 255, (5, 8, 8), np.uint8))
    >>> space = build(os.path.join(folder, "digits.npy"), "pixels", size=8)
    >>> space.n, space.dim, space.ids[0]
    (5, 64, 'digits:0')
    """
    start = time.perf_counter()
    if batch_size < 1:
        raise EmbspaceError(f"batch_size must be at least 1; got {batch_size}")
    check_engine(engine, address, workers)
    if engine == "ray":
        require_ray(address)  # before reading anything: one line naming the extra
    cls = embedder_class(method)
    embedder = _make_embedder(cls, method, knobs, seed)
    if isinstance(source, ImageSource):
        images = source
    else:
        images = read_images(
            source, labels=labels, label=label, path_column=path_column, max_pixels=max_pixels, limit=limit
        )
    where = _source_name(source)
    if images.n == 0:
        raise EmbspaceError(f"no images in {where}: found no image files ({', '.join(_kinds())})")
    classes = images.classes()

    def passes():
        # After a whole pass, ctx.labels holds the classes of the images that pass could read: a file
        # skipped as unreadable has no row, so labels stay aligned with the images fit() was given.
        kept = []
        for rows, batch in images.batches(batch_size):
            kept.append(rows)
            yield batch
        if classes is not None:
            ctx.labels = classes[1][np.concatenate(kept)] if kept else classes[1][:0]

    ctx = FitContext(
        passes=passes,
        n=images.n,
        labels=None if classes is None else classes[1],
        progress=progress_bar if progress is None else _bar_factory(progress),
        seed=seed,
        extra={"gray": images.gray, "label_names": None if classes is None else classes[0]},
    )
    fit_start = time.perf_counter()
    embedder.fit(ctx)
    fit_seconds = time.perf_counter() - fit_start
    engine_info = None
    if engine == "ray":
        from ._ray import embed_on_ray

        found = embed_on_ray(
            embedder,
            method,
            knobs,
            seed,
            images,
            batch_size,
            thumb_size if thumbnails else None,
            address,
            workers,
            shards_dir,
        )
        done, engine_info = _pass_from_ray(found, images, thumbnails, thumb_size), found.engine
    else:
        done = _embed_all(embedder, images, batch_size, thumbnails, thumb_size, progress)
    if not done.kept.size:
        reasons = "; ".join(f"{i}: {r}" for i, r in images.skipped[:3])
        raise EmbspaceError(f"no images in {where}: none of {images.n:,} could be read ({reasons})")
    vectors = np.ascontiguousarray(embedder.finish(done.raw), dtype=np.float32)
    done.raw = np.empty((0, 0), dtype=np.float32)  # the raw vectors are no longer needed
    state = dict(embedder.state(), method=method)
    resized_to = _resized_to(state)
    sizes = done.sizes
    if len(sizes) > 1:
        many = f"at least {_SIZES_KEPT:,}" if len(sizes) >= _SIZES_KEPT else f"{len(sizes):,}"
        warnings.warn(
            f"images come in {many} sizes; resized to {resized_to} for {method}", MixedSizesWarning, stacklevel=2
        )
    ids = [images.ids[r] for r in done.kept]
    meta = _meta(images, done)
    info = {
        "name": name or f"images-{method}",
        "kind": "images",
        "builder": BUILDER,
        "method": method,
        "images": state,
        **_provenance(images, done, where, resized_to),
        "params": {"batch_size": batch_size, "max_pixels": max_pixels, "seed": seed, "knobs": _jsonable(knobs)},
        "seconds": round(time.perf_counter() - start, 3),
        "fit_seconds": round(fit_seconds, 3),
        "embspace_version": __version__,
    }
    if engine_info is not None:
        info["engine"] = engine_info
    if classes is not None:
        given = "list" if labels is not None and not isinstance(labels, str) else (labels or label or "idx")
        info["labels"] = {"from": given, "classes": len(classes[0])}
    space = Space(ids, vectors, meta, info, metric="cosine")
    space.extras.update({k: np.asarray(v, dtype=np.float32) for k, v in embedder.extras().items()})
    space.assets.update(embedder.assets())
    if done.thumbs is not None:
        pages, layout = done.thumbs.finish()
        space.assets.update(pages)
        space.info["thumbnails"] = layout
    return space


def _provenance(images: ImageSource, done: _Pass, where: str, resized_to: str) -> dict[str, Any]:
    """What was read and how it went: the source, skipped files with reasons, sizes, speed."""
    n = int(done.kept.size)
    return {
        "source": {"name": where, "parts": images.described, "candidates": images.n},
        "skipped": images.skipped_count,
        "skipped_files": [{"id": i, "reason": r} for i, r in images.skipped],
        "image_sizes": min(len(done.sizes), _SIZES_KEPT),
        "resized_to": resized_to,
        "embed_seconds": round(done.seconds, 3),
        "images_per_second": round(n / done.seconds, 1) if done.seconds > 0 else None,
    }


def _kinds() -> list[str]:
    return ["PNG", "JPEG", "WebP", "GIF", "BMP", "TIFF"]


def _source_name(source) -> str:
    if isinstance(source, ImageSource):
        return ", ".join(p.get("path", "?") for p in source.described) or "the source"
    if isinstance(source, np.ndarray):
        return f"the array of shape {source.shape}"
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return ", ".join(os.fspath(s) for s in source)


def _bar_factory(show: bool):
    def factory(*args, **kwargs):
        return progress_bar(*args, **{**kwargs, "show": show})

    return factory


def _make_embedder(cls: type[Embedder], method: str, knobs: dict, seed: int) -> Embedder:
    """`cls(**knobs)`; an unknown knob is one line listing the valid ones."""
    params = inspect.signature(cls.__init__).parameters
    valid = [
        p for p in params if p != "self" and params[p].kind in (params[p].KEYWORD_ONLY, params[p].POSITIONAL_OR_KEYWORD)
    ]
    unknown = [k for k in knobs if k not in valid]
    if unknown:
        raise EmbspaceError(
            f"the image method {method!r} has no parameter{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(u) for u in unknown)}; its parameters: {', '.join(valid) or 'none'}"
        )
    if "seed" in valid and "seed" not in knobs:
        knobs = {**knobs, "seed": seed}
    try:
        return cls(**knobs)
    except TypeError as exc:
        raise EmbspaceError(f"the image method {method!r}: {exc}") from None


@dataclass
class _Pass:
    """What the embedding pass found: raw vectors and, per image read, its candidate row, size and tile."""

    raw: np.ndarray
    kept: np.ndarray
    widths: list[int]
    heights: list[int]
    tiles: list[int]
    sizes: set
    thumbs: ThumbnailWriter | None
    seconds: float


def _embed_all(embedder, images: ImageSource, batch_size, thumbnails, thumb_size, progress) -> _Pass:
    """One pass over the collection: embed every readable image and draw its thumbnail."""
    thumbs = ThumbnailWriter(thumb_size, expected=images.n) if thumbnails else None
    raw: np.ndarray | None = None
    kept_parts: list[np.ndarray] = []
    widths: list[int] = []
    heights: list[int] = []
    tiles: list[int] = []
    sizes: set = set()
    filled = counted = 0
    started = time.perf_counter()
    show = {} if progress is None else {"show": progress}
    with progress_bar(total=images.n, desc="embedding images", unit="img", **show) as bar:
        for rows, batch in images.batches(batch_size):
            vectors = np.asarray(embedder.embed(batch.images), dtype=np.float32)
            if raw is None:  # one allocation for every candidate; cut to the rows read at the end
                raw = np.empty((images.n, vectors.shape[1]), dtype=np.float32)
            raw[filled : filled + len(rows)] = vectors
            filled += len(rows)
            kept_parts.append(rows)
            for image in batch.images:
                heights.append(int(image.shape[0]))
                widths.append(int(image.shape[1]))
                if len(sizes) < _SIZES_KEPT:
                    sizes.add(image.shape[:2])
            if thumbs is not None:
                tiles.extend(thumbs.add(batch.images))
            bar.update(len(rows) + images.skipped_count - counted)  # skipped ones count too: the bar ends full
            counted = images.skipped_count
    seconds = time.perf_counter() - started
    kept = np.concatenate(kept_parts) if kept_parts else np.empty(0, dtype=np.int64)
    raw = np.empty((0, 0), dtype=np.float32) if raw is None else raw[:filled]
    return _Pass(raw, kept, widths, heights, tiles, sizes, thumbs, seconds)


def _pass_from_ray(found, images: ImageSource, thumbnails: bool, thumb_size: int) -> _Pass:
    """The Ray pass (`images._ray.RayPass`) as the local one records it: skipped files, sizes, thumbnail pages."""
    images.skipped, images.skipped_count = found.skipped, found.skipped_count
    thumbs = ThumbnailWriter(thumb_size, expected=images.n) if thumbnails else None
    tiles = thumbs.add(found.tiles) if thumbs is not None else []  # a tile-sized image is its own tile
    sizes: set = set()
    for size in zip(found.heights, found.widths):
        if len(sizes) >= _SIZES_KEPT:
            break
        sizes.add(size)
    return _Pass(found.raw, found.kept, found.widths, found.heights, tiles, sizes, thumbs, found.seconds)


def _meta(images: ImageSource, done: _Pass) -> dict[str, list]:
    kept = done.kept
    meta: dict[str, list] = {}
    if images.labels is not None:
        meta["label"] = [images.labels[r] for r in kept]
    for column, values in images.meta.items():
        if column in ("id", "label", "thumbnail", "width", "height"):
            column = f"{column}_"  # the table's own column of that name, kept beside ours
        meta[column] = [values[r] for r in kept]
    if done.thumbs is not None:
        meta["thumbnail"] = done.tiles
    meta["width"], meta["height"] = done.widths, done.heights
    return meta


def _resized_to(state: dict) -> str:
    for key in ("size", "image_size"):
        if isinstance(state.get(key), int):
            return f"{state[key]} x {state[key]} px"
    return "the method's input size"


def _jsonable(knobs: dict) -> dict:
    out = {}
    for k, v in knobs.items():
        out[k] = list(v) if isinstance(v, tuple) else v
    return out


# ---- query images -------------------------------------------------------------------------------------------


def embedder_for(space: Space) -> Embedder:
    """The embedder `space` was built with, restored from its manifest, extras and assets."""
    state = space.info.get("images")
    if space.info.get("builder") != BUILDER or not isinstance(state, dict) or "method" not in state:
        raise EmbspaceError(
            "this space was not built from images (no image method in its manifest); "
            "build one with `embspace build images`"
        )
    cls = embedder_class(state["method"])  # a method whose packages are missing: names the extra
    return cls.restore(state, dict(space.extras), dict(space.assets))


def embed_images(
    space: Space, images: Any, *, max_pixels: int = MAX_PIXELS, batch_size: int = 256, embedder: Embedder | None = None
) -> np.ndarray:
    """Vectors of query images, embedded as `space`'s own images were.

    Parameters
    ----------
    images : path, PIL image, uint8 array, or a list of them
        Files are decoded as at build time (EXIF orientation, RGB); arrays are (h, w) or (h, w, 3|4).
        An image that cannot be used (unreadable, above `max_pixels`) is a one-line error naming it.
    batch_size : int
        Images decoded and embedded together (memory is bounded by the batch).
    embedder : Embedder, optional
        The space's embedder when already restored (`embedder_for`), to embed many lists without
        restoring it each time.

    Returns
    -------
    ndarray of shape (n_images, space.dim), float32.
    """
    if batch_size < 1:
        raise EmbspaceError(f"batch_size must be at least 1; got {batch_size}")
    embedder = embedder or embedder_for(space)
    single = isinstance(images, (str, os.PathLike, np.ndarray)) or hasattr(images, "getpixel")
    items = [images] if single else list(images)
    if not items:
        raise EmbspaceError("no query images given")
    # A tuned space's rows went through steps after they were embedded (info["transforms"], applied by the
    # caller): the embedder's width is then the first step's input, which the chain itself checks.
    width = None if space.info.get("transforms") else space.dim
    out: np.ndarray | None = None
    for start in range(0, len(items), batch_size):
        decoded = [_query(item, max_pixels) for item in items[start : start + batch_size]]
        vectors = np.asarray(embedder.transform(embedder.embed(decoded)), dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(decoded) or (width is not None and vectors.shape[1] != width):
            raise EmbspaceError(
                f"the restored {space.info['images']['method']} embedder made vectors of shape {vectors.shape}; "
                f"the space has {space.dim} dimensions; rebuild the space"
            )
        if out is None:
            width = vectors.shape[1]
            out = np.empty((len(items), width), dtype=np.float32)
        out[start : start + len(decoded)] = vectors
    return out


def _query(item: Any, max_pixels: int) -> np.ndarray:
    try:
        return decode_image(item, max_pixels)
    except ImageSkip as skip:
        what = os.fspath(item) if isinstance(item, (str, os.PathLike)) else f"the {type(item).__name__}"
        raise EmbspaceError(f"{what}: {skip}") from None
