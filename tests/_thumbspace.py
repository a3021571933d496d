"""A small space of images made by hand in the thumbnail format of `embspace.images` (sprite pages
in space.assets, info["thumbnails"], a "thumbnail" meta column): scikit-learn's 8x8 digits drawn
dark on white and scaled up to tiles, so the tests of the viewers need no image builder."""

from __future__ import annotations

import io
import math

import numpy as np

import embspace


def digit_tiles(n: int, tile: int, ink=(0, 0, 0)) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 (n, tile, tile, 3) pictures, int labels) of the first `n` digits, in `ink` on white."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    amount = digits.images[:n] / 16.0  # 0 (paper) to 1 (ink)
    big = amount.repeat(tile // 8, axis=1).repeat(tile // 8, axis=2)[..., None]
    pictures = 255 * (1 - big) + np.asarray(ink, dtype=np.float64) * big
    return np.round(pictures).astype(np.uint8), digits.target[:n].astype(int)


def pages_of(pictures: np.ndarray, cols: int, rows: int) -> list[bytes]:
    """PNG pages of `pictures` (tile t at page t // per_page, column j % cols, row j // cols)."""
    from PIL import Image

    tile = pictures.shape[1]
    per_page = cols * rows
    out = []
    for p in range(math.ceil(len(pictures) / per_page)):
        page = Image.new("RGB", (cols * tile, rows * tile), (255, 255, 255))
        for j, picture in enumerate(pictures[p * per_page : (p + 1) * per_page]):
            page.paste(Image.fromarray(picture), ((j % cols) * tile, (j // cols) * tile))
        buf = io.BytesIO()
        page.save(buf, format="PNG")
        out.append(buf.getvalue())
    return out


def image_space(
    n: int = 100, tile: int = 32, cols: int = 8, rows: int = 8, ids=None, name="digits", ink=(0, 0, 0)
) -> embspace.Space:
    """`n` digits as a space of images: vectors are the 64 pixels; tiles are stored in reverse row
    order (so a viewer must read the "thumbnail" column), and the last row has no thumbnail (-1)."""
    pictures, labels = digit_tiles(n, tile, ink)
    order = np.arange(n)[::-1]  # row r's picture is tile n - 1 - r
    stored = pictures[order]
    from sklearn.datasets import load_digits

    vectors = load_digits().data[:n].astype(np.float32) + 0.01
    thumb = [int(n - 1 - r) for r in range(n)]
    thumb[-1] = -1
    ids = list(ids) if ids is not None else [f"digits/{labels[r]}/{r:04d}.png" for r in range(n)]
    space = embspace.Space(
        ids,
        vectors,
        meta={"label": [str(v) for v in labels], "thumbnail": thumb},
        info={"name": name, "builder": "embspace.images"},
    )
    pages = pages_of(stored, cols, rows)
    space.info["thumbnails"] = {
        "tile": tile,
        "cols": cols,
        "rows": rows,
        "per_page": cols * rows,
        "pages": len(pages),
        "count": n,
        "format": "png",
    }
    space.assets = {f"thumbs-{p:03d}.png": page for p, page in enumerate(pages)}
    return space


def picture_of(space_n: int, row: int, tile: int = 32, ink=(0, 0, 0)) -> np.ndarray:
    """The picture the test space shows for `row` (uint8 (tile, tile, 3))."""
    return digit_tiles(space_n, tile, ink)[0][row]
