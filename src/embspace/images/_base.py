"""What every image method is: an `Embedder` that turns decoded images into vectors, the same way at build
time and for query images later, with everything it needs to do so stored in the space.

An image travels as a decoded RGB array: ``uint8`` of shape ``(h, w, 3)`` (grayscale, palette, 16-bit and
alpha images are converted by the reader, EXIF orientation applied). Each method resizes to its own input
size. The registry maps a method name to its module, imported only when used, so a method whose packages
are missing costs nothing until asked for (and then names the pip extra that brings them).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .._install import install_hint
from ..errors import EmbspaceError


@dataclass
class Batch:
    """Images read together: ids, decoded RGB arrays (uint8, (h, w, 3), sizes may differ), their rows' labels."""

    ids: list[str]
    images: list[np.ndarray]
    labels: list[Any] | None = None


# A source the embedders may read several times (contrastive training reads it once per epoch):
# a callable that starts a fresh pass and yields batches.
Passes = Callable[[], Iterator[Batch]]


@dataclass
class FitContext:
    """What `Embedder.fit` is given: the collection (re-readable), its size, labels by row, progress."""

    passes: Passes
    n: int
    labels: np.ndarray | None = None  # integer class per row when --label/--labels was given
    progress: Any = None  # embspace._progress bar factory or None
    seed: int = 0
    extra: dict = field(default_factory=dict)


class Embedder:
    """Decoded images -> float32 vectors. Subclasses set `method` and implement `embed`.

    The life of an embedder at build time: ``fit(ctx)`` (learn from the collection: only the
    contrastive network trains; the default does nothing), then ``embed`` over every batch, then
    ``finish(raw)`` once over all raw vectors (e.g. standardise feature blocks; stores what it learnt).
    For a query image later: ``restore(state, extras, assets)`` then ``transform(embed(images))``.
    `state()` is JSON kept in the manifest (``info["images"]``); `extras()` are float32 matrices
    (space.extras) and `assets()` files (space.assets), both checksummed with the space.
    """

    method: ClassVar[str] = ""
    extra: ClassVar[str] = "images"  # the pip extra that brings this method's packages

    def fit(self, ctx: FitContext) -> None:  # noqa: B027 - most methods learn nothing
        """Learn from the collection before embedding (default: nothing)."""

    def embed(self, images: list[np.ndarray]) -> np.ndarray:
        """Raw vectors (b, d) float32 of decoded RGB images."""
        raise NotImplementedError

    def finish(self, raw: np.ndarray) -> np.ndarray:
        """The space's vectors from all raw vectors of the collection (default: as they are)."""
        return raw

    def transform(self, raw: np.ndarray) -> np.ndarray:
        """What `finish` did, for query images (default: nothing)."""
        return raw

    def state(self) -> dict[str, Any]:
        """JSON-ready settings that `restore` needs (method name included by the builder)."""
        return {}

    def extras(self) -> dict[str, np.ndarray]:
        return {}

    def assets(self) -> dict[str, bytes]:
        return {}

    @classmethod
    def restore(cls, state: dict[str, Any], extras: dict[str, np.ndarray], assets: dict) -> Embedder:
        """The embedder a space was built with, from what it stored (assets: name -> bytes or Path)."""
        raise NotImplementedError


# method -> (module, class name); modules are imported on first use.
METHODS: dict[str, tuple[str, str]] = {
    "pixels": ("._features", "Pixels"),
    "features": ("._features", "Features"),
    "cnn": ("._cnn", "Cnn"),
    "contrastive": ("._contrastive", "Contrastive"),
}


def embedder_class(method: str) -> type[Embedder]:
    """The Embedder class of `method`; one-line errors for an unknown method or a missing package."""
    if method not in METHODS:
        raise EmbspaceError(f"unknown image method {method!r}; choose one of {', '.join(METHODS)}")
    module, name = METHODS[method]
    try:
        return getattr(importlib.import_module(module, __package__), name)
    except ImportError as exc:
        extra = "images-cnn" if method in ("cnn", "contrastive") else "images"
        raise EmbspaceError(
            f"image method {method!r} needs the Python package {exc.name!r}, which is not installed; "
            f"{install_hint(extra)}"
        ) from None


def to_rgb_size(image: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """`image` (uint8 RGB) resized to `size` (square int or (h, w)) with PIL's antialiasing bicubic filter."""
    from PIL import Image

    h, w = (size, size) if isinstance(size, int) else size
    if image.shape[:2] == (h, w):
        return image
    return np.asarray(Image.fromarray(image).resize((w, h), Image.Resampling.BICUBIC))
