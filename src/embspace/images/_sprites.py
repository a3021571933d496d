"""Reading the thumbnails of a space of images: the layout in ``info["thumbnails"]``, which tile of
which sprite page shows a row, the tiles themselves, and one sprite sheet of chosen rows.

The layout (written by the image builder): PNG pages in ``space.assets`` named ``thumbs-000.png``,
``thumbs-001.png``...; each a grid of ``cols`` x ``rows`` tiles of ``tile`` x ``tile`` pixels (RGB,
the picture fitted inside and centred on white). Tile ``t`` is on page ``t // per_page`` at
``j = t % per_page``: column ``j % cols``, row ``j // cols``. The meta column ``thumbnail`` gives
each row its tile (-1: none), so a subset of the space keeps the right pictures.
"""

from __future__ import annotations

import io
import math
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import EmbspaceError

COLUMN = "thumbnail"
MAX_PAGE_SIDE = 8192  # pixels; the builder writes pages of at most 2,048
BUILD_HINT = "build it with `embspace build images SOURCE -o OUT.space` (without --no-thumbnails)"


def page_name(page: int) -> str:
    """The asset name of sprite page `page`."""
    return f"thumbs-{page:03d}.png"


@dataclass(frozen=True)
class Layout:
    """Where the tiles are: `count` tiles of `tile` px, `per_page` (= cols x rows) on each of `pages`."""

    tile: int
    cols: int
    rows: int
    per_page: int
    pages: int
    count: int
    format: str = "png"

    def where(self, t: int) -> tuple[int, int, int]:
        """(page, x, y): the page of tile `t` and the pixel offset of its top-left corner there."""
        page, j = divmod(int(t), self.per_page)
        return page, (j % self.cols) * self.tile, (j // self.cols) * self.tile

    def as_dict(self) -> dict:
        return asdict(self)


def layout(space) -> Layout | None:
    """The thumbnail layout of `space`, None when it keeps no thumbnails.

    A layout that does not add up (sizes out of range, pages missing from the space's assets, no
    ``thumbnail`` column) is refused with a one-line EmbspaceError.
    """
    raw = space.info.get("thumbnails")
    if raw is None:
        return None
    fields = ("tile", "cols", "rows", "per_page", "pages", "count")
    if not isinstance(raw, dict) or not all(
        isinstance(raw.get(k), int) and not isinstance(raw.get(k), bool) for k in fields
    ):
        raise EmbspaceError(f"the space's thumbnail layout is damaged: expected integers {', '.join(fields)}")
    out = Layout(**{k: raw[k] for k in fields}, format=str(raw.get("format", "png")))
    problem = _layout_problem(out, space)
    if problem:
        raise EmbspaceError(f"the space's thumbnail layout is damaged: {problem}")
    return out


def _layout_problem(lay: Layout, space) -> str | None:
    if lay.format != "png":
        return f"pages in format {lay.format!r}; only png is read"
    if not (1 <= lay.tile <= 1024 and lay.cols >= 1 and lay.rows >= 1):
        return f"tile {lay.tile} px, {lay.cols} x {lay.rows} tiles a page"
    if lay.cols * lay.tile > MAX_PAGE_SIDE or lay.rows * lay.tile > MAX_PAGE_SIDE:
        return f"pages of {lay.cols * lay.tile} x {lay.rows * lay.tile} px (at most {MAX_PAGE_SIDE})"
    if lay.per_page != lay.cols * lay.rows:
        return f"per_page {lay.per_page} is not cols x rows ({lay.cols * lay.rows})"
    if lay.count < 0 or lay.pages != math.ceil(lay.count / lay.per_page):
        return f"{lay.pages} pages for {lay.count} tiles of {lay.per_page} a page"
    missing = [page_name(p) for p in range(lay.pages) if page_name(p) not in space.assets]
    if missing:
        return f"page {missing[0]} is not among the space's files"
    if COLUMN not in space.meta:
        return f"no {COLUMN!r} column names each row's tile"
    return None


def require(space, what: str = "this") -> Layout:
    """The layout of `space`, or a one-line error saying the space has no thumbnails."""
    lay = layout(space)
    if lay is None:
        name = space.info.get("name") or Path(str(space.info.get("path", "the space"))).name
        raise EmbspaceError(f"{name} keeps no thumbnails, which {what} needs; {BUILD_HINT}")
    return lay


def tiles(space, lay: Layout | None = None) -> np.ndarray:
    """int64 (n,): the tile of each row (-1: none; missing or out-of-range values count as none)."""
    lay = lay or layout(space)
    if lay is None:
        return np.full(space.n, -1, dtype=np.int64)
    raw = space.meta[COLUMN]
    out = np.array([v if isinstance(v, (int, np.integer)) and not isinstance(v, bool) else -1 for v in raw])
    out = out.astype(np.int64, copy=False).reshape(space.n)
    out[(out < 0) | (out >= lay.count)] = -1
    return out


def page_bytes(space, page: int) -> bytes:
    """The PNG bytes of page `page` (an asset of the space)."""
    content = space.assets[page_name(page)]
    return content if isinstance(content, bytes) else Path(content).read_bytes()


class Pages:
    """Decoded sprite pages of one space, the last `keep` used kept (a 2,048 px page is 12 MB)."""

    def __init__(self, space, lay: Layout | None = None, keep: int = 4):
        self.space = space
        self.layout = lay or require(space)
        self.keep = keep
        self._pages: OrderedDict[int, object] = OrderedDict()

    def page(self, page: int):
        """Page `page` as an RGB PIL image."""
        if page in self._pages:
            self._pages.move_to_end(page)
            return self._pages[page]
        from PIL import Image

        try:
            with Image.open(io.BytesIO(page_bytes(self.space, page))) as im:
                if im.width > MAX_PAGE_SIDE or im.height > MAX_PAGE_SIDE:
                    raise EmbspaceError(f"thumbnail page {page_name(page)} is {im.width} x {im.height} px")
                image = im.convert("RGB")
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise EmbspaceError(f"thumbnail page {page_name(page)} cannot be read: {exc}") from None
        self._pages[page] = image
        while len(self._pages) > self.keep:
            self._pages.popitem(last=False)
        return image

    def tile(self, t: int):
        """Tile `t` as an RGB PIL image of `tile` x `tile` px."""
        page, x, y = self.layout.where(t)
        image = self.page(page)
        size = self.layout.tile
        if x + size > image.width or y + size > image.height:
            raise EmbspaceError(
                f"thumbnail page {page_name(page)} ({image.width} x {image.height} px) is too small for tile {t}"
            )
        return image.crop((x, y, x + size, y + size))


def thumbnail(space, row: int | str):
    """The thumbnail of a row (a row number or an id) as an RGB PIL image, or None when that row has none.

    >>> thumbnail(space, 0).size  # doctest: +SKIP
    (64, 64)
    """
    lay = require(space, "a thumbnail")
    row = space.index(row) if isinstance(row, str) else int(row)
    if not 0 <= row < space.n:
        raise EmbspaceError(f"row {row} is outside the space (0..{space.n - 1})")
    t = int(tiles(space, lay)[row])
    return None if t < 0 else Pages(space, lay, keep=1).tile(t)


def sprite(space, rows, tile: int, background=(255, 255, 255)):
    """One sprite sheet of the thumbnails of `rows`, in order, in a square grid.

    The grid has ``ceil(sqrt(len(rows)))`` columns and as many rows as needed; each thumbnail is
    resized to `tile` px; a row without a thumbnail is a blank tile. Returns an RGB PIL image.
    """
    from PIL import Image

    lay = require(space, "a sprite sheet")
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    side = max(1, math.ceil(math.sqrt(len(rows))))
    lines = max(1, math.ceil(len(rows) / side))
    sheet = Image.new("RGB", (side * tile, lines * tile), background)
    of_row = tiles(space, lay)[rows]
    pages = Pages(space, lay, keep=2)
    # page by page, so each page is decoded once
    for i in np.lexsort((np.arange(len(rows)), of_row // lay.per_page)):
        t = int(of_row[i])
        if t < 0:
            continue
        image = pages.tile(t)
        if tile != lay.tile:
            image = image.resize((tile, tile), Image.Resampling.LANCZOS)
        sheet.paste(image, ((i % side) * tile, (i // side) * tile))
    return sheet
