"""Thumbnails of an image space: writing the PNG sprite pages kept in ``space.assets`` (`_sprites` reads them).

The format (shared with the explorer, PNG maps and the Projector export): pages ``thumbs-000.png``,
``thumbs-001.png``, ... each a grid of ``cols`` x ``rows`` tiles of ``tile`` x ``tile`` RGB pixels; an
image is scaled to fit its tile, aspect kept, centred on white. Tile ``t`` is on page ``t // per_page``
at ``j = t % per_page``: column ``j % cols``, row ``j // cols``. ``space.info["thumbnails"]`` holds
``{"tile", "cols", "rows", "per_page", "pages", "count", "format": "png"}`` and the integer meta column
``thumbnail`` names each row's tile (-1: none), so subsets keep their pictures.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EmbspaceError
from ._sprites import Pages, page_name, require, tiles

MAX_SIDE = 2048  # a page is at most this many pixels wide and high
MEMORY_PAGES = 8  # collections needing more pages than this keep them in a temporary folder, not in memory


class SpooledPage(type(Path())):
    """A page written to a temporary folder, which lives as long as any page of it is referenced
    (the built space's assets, a subset's): so memory stays bounded by one page at any size."""

    _spool: Any = None


class ThumbnailWriter:
    """Tiles added in order go onto pages, each page PNG-encoded as soon as it is full (memory: one page).

    Parameters
    ----------
    tile : int
        Tile side in pixels (8..256).
    expected : int
        How many images may come (an upper bound): small collections get short pages.
    """

    def __init__(self, tile: int = 64, expected: int | None = None):
        if not 8 <= int(tile) <= 256:
            raise EmbspaceError(f"thumbnail size must be in 8..256 pixels; got {tile}")
        self.tile = int(tile)
        self.cols = MAX_SIDE // self.tile
        rows = self.cols if not expected else min(self.cols, max(1, math.ceil(expected / self.cols)))
        self.rows = rows
        self.per_page = self.cols * self.rows
        self.pages: dict[str, bytes | Path] = {}
        self.count = 0
        self._page: np.ndarray | None = None
        self._spool = None
        if expected and expected > MEMORY_PAGES * self.per_page:
            import tempfile

            self._spool = tempfile.TemporaryDirectory(prefix="embspace-thumbs-")

    def add(self, images: list[np.ndarray]) -> list[int]:
        """Put uint8 RGB images (h, w, 3) on the pages; returns their tile numbers."""
        tiles = []
        for image in images:
            j = self.count % self.per_page
            if self._page is None:
                self._page = np.full((self.rows * self.tile, self.cols * self.tile, 3), 255, dtype=np.uint8)
            r, c = divmod(j, self.cols)
            y, x = r * self.tile, c * self.tile
            self._page[y : y + self.tile, x : x + self.tile] = fit_tile(image, self.tile)
            tiles.append(self.count)
            self.count += 1
            if self.count % self.per_page == 0:
                self._flush()
        return tiles

    def _flush(self) -> None:
        if self._page is None:
            return
        from PIL import Image

        out = io.BytesIO()
        Image.fromarray(self._page).save(out, format="PNG", optimize=False, compress_level=6)
        name = page_name(len(self.pages))
        if self._spool is None:
            self.pages[name] = out.getvalue()
        else:
            path = SpooledPage(self._spool.name, name)
            path.write_bytes(out.getvalue())
            path._spool = self._spool  # the folder goes when the last page referencing it does
            self.pages[name] = path
        self._page = None

    def finish(self) -> tuple[dict[str, bytes | Path], dict[str, Any]]:
        """(assets: page name -> PNG bytes or a spooled file, the ``info["thumbnails"]`` entry)."""
        self._flush()
        layout = {
            "tile": self.tile,
            "cols": self.cols,
            "rows": self.rows,
            "per_page": self.per_page,
            "pages": len(self.pages),
            "count": self.count,
            "format": "png",
        }
        return dict(self.pages), layout


def fit_tile(image: np.ndarray, tile: int) -> np.ndarray:
    """`image` scaled to fit a `tile` x `tile` square (aspect kept, antialiased), centred on white."""
    from PIL import Image

    h, w = image.shape[:2]
    scale = tile / max(h, w)
    th, tw = max(1, round(h * scale)), max(1, round(w * scale))
    small = (
        image if (th, tw) == (h, w) else np.asarray(Image.fromarray(image).resize((tw, th), Image.Resampling.LANCZOS))
    )
    out = np.full((tile, tile, 3), 255, dtype=np.uint8)
    y, x = (tile - th) // 2, (tile - tw) // 2
    out[y : y + th, x : x + tw] = small
    return out


def thumbnail_pixels(space, size: int = 28) -> np.ndarray:
    """Every row's thumbnail as raw pixels: float32 (n, size * size) in [0, 1] when all are gray, else
    (n, size * size * 3); a row without a thumbnail is all zeros. The raw-pixel baseline of an image space.

    Pages are read one at a time, in order (memory: one page plus the result).
    """
    from PIL import Image

    if not 1 <= int(size) <= 256:
        raise EmbspaceError(f"size must be in 1..256 pixels; got {size}")
    lay = require(space, "a raw-pixel baseline")
    numbers = tiles(space, lay)
    out = np.zeros((space.n, size, size, 3), dtype=np.uint8)
    pages = Pages(space, lay, keep=1)
    order = np.argsort(numbers, kind="stable")  # page by page: each page decoded once
    for row in order[numbers[order] >= 0]:
        out[row] = np.asarray(pages.tile(int(numbers[row])).resize((size, size), Image.Resampling.BICUBIC))
    flat = out.reshape(space.n, -1)
    if np.array_equal(flat[:, 0::3], flat[:, 1::3]) and np.array_equal(flat[:, 0::3], flat[:, 2::3]):
        flat = flat[:, 0::3]
    return np.ascontiguousarray(flat, dtype=np.float32) / np.float32(255.0)
