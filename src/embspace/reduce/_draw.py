"""Pictures of a map: a static PNG (matplotlib, Agg) with a readable selection of labels, and the
helpers it shares with the HTML page (colours from a metadata column, which points get a label)."""

from __future__ import annotations

import os
import unicodedata
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._files import atomic_files, writable_parent
from .._rowblocks import ids_at
from ..errors import EmbspaceError
from ..space import Space
from ._map import Map
from ._methods import EXTRA_HINT

PICTURES = (".png", ".html")
TRUST_COLUMN = "trust"  # --color trust: each point's map trust, unless the space has such a column
MAX_CATEGORIES = 10  # more would not be told apart; the rest are drawn grey as "other"
LABEL_CHARS = 32  # a text's label: its first words, about a fifth of the picture's width
_POINT_COLOR = "#3566a8"


@dataclass
class Coloring:
    """How points are coloured: by nothing, by category (codes into `categories`, -1 = other or
    missing) or by number (`values`, NaN = missing)."""

    kind: str  # "none" | "categorical" | "numeric"
    name: str = ""
    codes: np.ndarray | None = None
    categories: list[str] | None = None
    counts: list[int] | None = None
    values: np.ndarray | None = None


def coloring(m: Map, space: Space, column: str | None) -> Coloring:
    """The colouring of the mapped points by metadata `column` (or each point's trust)."""
    if not column:
        return Coloring("none")
    if column == TRUST_COLUMN and column not in space.meta:
        return Coloring(
            "numeric", "map trust (recall of 10 nearest neighbours)", values=np.asarray(m.point_trust, dtype=np.float64)
        )
    if column not in space.meta:
        have = ", ".join(repr(c) for c in space.meta) or "none"
        raise EmbspaceError(
            f"unknown colour column {column!r}; the space's metadata columns: {have} "
            f"(or '{TRUST_COLUMN}' for each point's map trust)"
        )
    raw = space.meta[column]
    values = [raw[i] for i in m.rows]
    present = [v for v in values if v is not None]
    if present and all(
        isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in present
    ):
        return Coloring(
            "numeric", column, values=np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        )
    labels = np.array(["" if v is None else str(v) for v in values], dtype=object)
    found, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    keep = [i for i in order if found[i] != ""][:MAX_CATEGORIES]
    code_of = np.full(len(found), -1, dtype=np.int64)
    code_of[keep] = np.arange(len(keep))
    return Coloring(
        "categorical",
        column,
        codes=code_of[inverse],
        categories=[str(found[i]) for i in keep],
        counts=[int(counts[i]) for i in keep],
    )


def label_priority(m: Map, space: Space, limit: int) -> np.ndarray:
    """Up to `limit` map positions in the order they should get a label: most frequent first in a
    frequency-ordered space, else a seeded random order (which spreads labels over the map)."""
    if m.sampling == "first" or space.info.get("order") == "frequency":
        return np.argsort(m.rows, kind="stable")[:limit]
    rng = np.random.default_rng(0 if m.seed is None else m.seed)
    return rng.permutation(m.n)[:limit]


def label_texts(space: Space, rows, width: int = LABEL_CHARS) -> list[str]:
    """What to write beside the points of `rows`: the start of each text in a space of texts (one
    with a ``text`` column, as `embspace.texts.build` makes), else the id."""
    texts = space.meta.get("text")
    ids = ids_at(space, rows)  # the ids of these rows only, not the whole list
    if texts is None:
        return ids
    return [
        shorten(texts[r], width) if isinstance(texts[r], str) and texts[r].strip() else i for r, i in zip(rows, ids)
    ]


def shorten(text: str, width: int = LABEL_CHARS) -> str:
    """`text` on one line and at most `width` characters, cut at a word boundary where one is near."""
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    cut = flat[: width - 1]
    space = cut.rfind(" ")
    if space >= width // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "\u2026"


def pick_labels(
    xy: np.ndarray, texts: list[str], want: int, char_w: float, line_h: float, bounds: tuple[float, float, float, float]
) -> list[int]:
    """Greedy label placement: walk the candidates (rows of `xy`, best first) and keep each whose
    label box (right of its point, in the units of `xy`) overlaps no kept box and stays inside
    `bounds` = (x0, y0, x1, y1). Returns the kept positions, at most `want`."""
    x0, y0, x1, y1 = bounds
    kept: list[int] = []
    boxes = np.empty((want, 4))
    for i, ((x, y), text) in enumerate(zip(xy, texts)):
        if len(kept) >= want:
            break
        box = (x + 0.3 * char_w, y - 0.5 * line_h, x + (text_width(text) + 0.6) * char_w, y + 0.5 * line_h)
        if box[0] < x0 or box[2] > x1 or box[1] < y0 or box[3] > y1:
            continue
        b = boxes[: len(kept)]
        if np.any((b[:, 0] < box[2]) & (box[0] < b[:, 2]) & (b[:, 1] < box[3]) & (box[1] < b[:, 3])):
            continue
        boxes[len(kept)] = box
        kept.append(i)
    return kept


def text_width(text: str) -> int:
    """Width of `text` in character cells: a Chinese, Japanese or Korean character takes two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def spread(xy: np.ndarray, cells: int) -> np.ndarray:
    """Reorder candidates (best first) so that labels spread over the map: cut the extent of
    `xy` into cells x cells squares, then take the best of every square, then the second best...
    Returns positions into `xy`."""
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    cell = np.floor((xy - lo) / np.maximum(hi - lo, 1e-12) * (cells - 1e-9)).astype(np.int64)
    square = cell[:, 0] * cells + cell[:, 1]
    rank_in_square = np.empty(len(xy), dtype=np.int64)
    for s in np.unique(square):
        members = np.flatnonzero(square == s)  # ascending: best first
        rank_in_square[members] = np.arange(len(members))
    return np.lexsort((np.arange(len(xy)), rank_in_square))


def check_picture_path(path: str | os.PathLike, force: bool) -> Path:
    """Fail before any work if a picture cannot be written at `path`."""
    path = Path(path)
    if path.suffix.lower() not in PICTURES:
        raise EmbspaceError(
            f"cannot tell what to write from {str(path)!r}: the name must end in {' or '.join(PICTURES)}"
        )
    if path.exists() and (path.is_dir() or not force):
        raise EmbspaceError(
            f"{path} exists; pass --force to replace it" if not path.is_dir() else f"{path} is a folder"
        )
    writable_parent(path)
    return path


def write_atomically(path: Path, write) -> Path:
    """Call write(temporary_path) and rename the result to `path`; nothing half-written is left."""
    with atomic_files(path) as (tmp,):
        write(tmp)
    return path


def title_of(m: Map, space: Space) -> str:
    name = space.info.get("name") or Path(str(space.info.get("path", "space"))).name
    t = m.trust
    return (
        f"{name}: {m.method.upper() if m.method == 'pca' else m.method} {m.dims}-D, {m.n:,} points  |  "
        f"trustworthiness {t['trustworthiness']:.3f}, kNN recall@{t['k']} {t['knn_recall']:.3f}"
    )


# ---- PNG ---------------------------------------------------------------------------------------------
def draw_png(
    m: Map,
    space: Space,
    path: str | os.PathLike,
    color: str | None = None,
    labels: int = 30,
    size: float = 10.0,
    dpi: int = 120,
    thumbnails: bool = False,
) -> Path:
    """Write a static picture of map `m` of `space` (PNG, matplotlib's Agg renderer).

    Parameters
    ----------
    color : str, optional
        A metadata column: categories get a legend (the 10 most common; others grey), numbers a
        colour bar. ``"trust"`` colours by each point's map trust.
    labels : int
        How many points get a label (their id, or the start of their text in a space of texts):
        the most frequent (or a seeded random choice) whose labels do not overlap.
    size, dpi : the picture is `size` inches square at `dpi` dots per inch.
    thumbnails : bool
        In a space of images (one that keeps thumbnails): draw each point's picture in place of its
        dot, as many as fit without overlapping (a seeded sample spread over the map; the other points
        stay dots), framed in the point's colour. Labels are left out. A space without thumbnails is
        refused.

    Labels in scripts that matplotlib's default font lacks (Chinese, Japanese, Korean, Devanagari,
    Thai...) are drawn with installed fonts that have them (see `embspace.reduce._fonts`); the ids
    no installed font can draw get no label, and a warning names them.
    """
    try:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise EmbspaceError(f"PNG maps need matplotlib; run: {EXTRA_HINT}") from None
    from ._fonts import fonts_for

    if thumbnails:
        from ..images._sprites import require

        require(space, "--thumbnails")
        labels = 0  # the pictures are the labels
    paint = coloring(m, space, color)
    title = title_of(m, space)
    candidates = label_priority(m, space, max(50 * labels, 500)) if labels > 0 else np.empty(0, dtype=np.int64)
    texts = label_texts(space, m.rows[candidates])
    fonts = fonts_for([title, paint.name, *(paint.categories or []), *texts])
    drawable = np.array([fonts.can_draw(t) for t in texts], dtype=bool)
    left_out = ids_at(space, m.rows[candidates[np.flatnonzero(~drawable)]])
    with matplotlib.rc_context({"font.family": fonts.families}), warnings.catch_warnings():
        # characters no installed font has: said once below, not once per glyph by matplotlib
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from", category=UserWarning)
        fig = Figure(figsize=(size, size), dpi=dpi)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(projection="3d" if m.dims == 3 else None)
        c = m.coords
        kwargs = _scatter_style(m.n, paint)
        artist = ax.scatter(*(c[:, d] for d in range(m.dims)), **kwargs)
        _legend(fig, ax, artist, paint)
        ax.set_title(title, fontsize=9)
        if m.dims == 2:
            fig.subplots_adjust(left=0.01, right=0.99 if paint.kind != "numeric" else 1.0, bottom=0.01, top=0.96)
            ax.margins(0.01)
            ax.set_aspect("equal", adjustable="datalim")
            ax.set_xticks([])
            ax.set_yticks([])
            for side in ax.spines.values():
                side.set_visible(False)
        else:
            fig.subplots_adjust(left=0.0, right=1.0, bottom=0.0, top=0.97)
            lo, hi = np.percentile(c, 0.5, axis=0), np.percentile(c, 99.5, axis=0)
            ax.set_xlim(lo[0], hi[0])
            ax.set_ylim(lo[1], hi[1])
            ax.set_zlim(lo[2], hi[2])
            ax.set_xticklabels([])
            ax.set_yticklabels([])
            ax.set_zticklabels([])
        fig.canvas.draw()  # settles limits and projections so the labels can be placed in pixels
        _draw_labels(ax, m, candidates[drawable], [t for t, ok in zip(texts, drawable) if ok], labels, dpi)
        if thumbnails:
            _draw_thumbnails(fig, ax, m, space, paint, kwargs)
        out = write_atomically(Path(path), lambda tmp: fig.savefig(tmp, format="png", dpi=dpi, facecolor="white"))
    if fonts.missing:
        warnings.warn(missing_glyphs_message(fonts.missing, left_out), UserWarning, stacklevel=2)
    return out


def missing_glyphs_message(missing: set[str], left_out: list[str]) -> str:
    """What a picture could not draw: the ids left without a label (or the characters the title or
    legend shows as boxes) because no installed font has their characters, and how to get one."""
    from ._fonts import INSTALL_HINT

    fix = f"to draw them, install fonts that have them ({INSTALL_HINT})"
    if not left_out:
        chars = " ".join(sorted(missing)[:12]) + (" ..." if len(missing) > 12 else "")
        return f"no installed font has the characters {chars}; the title or legend shows them as empty boxes; {fix}"
    shown = ", ".join(left_out[:5]) + (f" and {len(left_out) - 5:,} more" if len(left_out) > 5 else "")
    many = len(left_out) != 1
    return (
        f"{len(left_out):,} id{'s' if many else ''} got no label because no installed font has "
        f"{'their' if many else 'its'} characters: {shown}; {fix}"
    )


def _scatter_style(n: int, paint: Coloring) -> dict:
    style = {
        "s": float(np.clip(3e4 / n, 0.4, 12.0)),
        "alpha": float(np.clip(2e4 / n, 0.35, 0.85)),
        "linewidths": 0,
        "rasterized": True,
    }
    if paint.kind == "none":
        style["c"] = _POINT_COLOR
    elif paint.kind == "numeric":
        from matplotlib import colormaps

        style.update(
            c=paint.values, cmap=colormaps["viridis"].with_extremes(bad=(0.8, 0.8, 0.8, 0.5)), plotnonfinite=True
        )
    else:
        from matplotlib import colormaps

        tab = colormaps["tab10"]
        colors = np.array([tab(i % 10) for i in range(len(paint.categories))] + [(0.72, 0.72, 0.72, 1.0)])
        style["c"] = colors[np.where(paint.codes >= 0, paint.codes, len(paint.categories))]
    return style


def _legend(fig, ax, artist, paint: Coloring) -> None:
    if paint.kind == "numeric":
        fig.colorbar(artist, ax=ax, shrink=0.6, pad=0.02, label=paint.name)
    elif paint.kind == "categorical":
        from matplotlib import colormaps
        from matplotlib.lines import Line2D

        tab = colormaps["tab10"]
        handles = [
            Line2D([], [], marker="o", linestyle="", color=tab(i % 10), label=f"{cat} ({count:,})")
            for i, (cat, count) in enumerate(zip(paint.categories, paint.counts))
        ]
        if np.any(paint.codes < 0):
            handles.append(
                Line2D(
                    [],
                    [],
                    marker="o",
                    linestyle="",
                    color=(0.72, 0.72, 0.72),
                    label=f"other ({int(np.sum(paint.codes < 0)):,})",
                )
            )
        ax.legend(
            handles=handles,
            title=paint.name,
            loc="upper right",
            fontsize=7,
            title_fontsize=8,
            framealpha=0.8,
            markerscale=1.2,
        )


def _draw_labels(ax, m: Map, candidates: np.ndarray, texts: list[str], want: int, dpi: int) -> None:
    """Write up to `want` of `texts` (the labels of map positions `candidates`, best first) where
    they do not overlap."""
    if want <= 0 or len(candidates) == 0:
        return
    from matplotlib import patheffects

    fontsize = 7.0
    char_w, line_h = 0.62 * fontsize * dpi / 72, 1.25 * fontsize * dpi / 72
    box = ax.get_window_extent()
    pixels = _pixels(ax, m.coords[candidates])
    order = spread(pixels, cells=max(2, int(np.ceil(np.sqrt(want)))))
    chosen = pick_labels(
        pixels[order], [texts[j] for j in order], want, char_w, line_h, (box.x0, box.y0, box.x1, box.y1)
    )
    chosen = [int(order[j]) for j in chosen]
    outline = [patheffects.withStroke(linewidth=2.0, foreground="white")]
    for j in chosen:
        ax.text(
            *m.coords[candidates[j]],
            "\u200e  " + texts[j],  # the mark keeps the gap left of the point in right-to-left text
            fontsize=fontsize,
            va="center",
            ha="left",
            color="#202020",
            path_effects=outline,
            clip_on=True,
        )


def _draw_thumbnails(fig, ax, m: Map, space: Space, paint: Coloring, style: dict) -> int:
    """Draw the pictures of as many map points as fit without overlapping, over their dots: a seeded
    random order spread over the map, placed greedily. Returns how many were drawn."""
    from PIL import Image

    from ..images._sprites import Pages, require, tiles

    lay = require(space, "--thumbnails")
    width, height = (int(round(v)) for v in fig.canvas.get_width_height())
    side = max(16, int(round(min(width, height) / 24)))  # about 24 pictures across
    tile_of = tiles(space, lay)[m.rows]
    pixels = _pixels(ax, m.coords)
    ranked = label_priority(m, space, m.n)  # a seeded random order (or frequency order), as for labels
    order = ranked[tile_of[ranked] >= 0]
    box = ax.get_window_extent()
    legend = ax.get_legend()
    blocked = [legend.get_window_extent()] if legend is not None else []
    chosen = place_squares(pixels[order], side, (box.x0, box.y0, box.x1, box.y1), blocked)
    layer = np.zeros((height, width, 4), dtype=np.uint8)
    frames = _frame_colours(m.n, paint, style)
    pages = Pages(space, lay, keep=2)
    picks = order[chosen]
    for i in picks[np.argsort(tile_of[picks] // lay.per_page, kind="stable")]:  # each page decoded once
        picture = np.asarray(pages.tile(int(tile_of[i])).resize((side, side), Image.Resampling.LANCZOS))
        x0 = int(round(pixels[i, 0] - side / 2))
        y0 = height - int(round(pixels[i, 1] + side / 2))  # rows of the layer count from the top
        cell = layer[y0 : y0 + side, x0 : x0 + side]
        cell[..., :3] = picture[: cell.shape[0], : cell.shape[1]]
        cell[..., 3] = 255
        cell[[0, 1, -2, -1], :, :3] = frames[i]
        cell[:, [0, 1, -2, -1], :3] = frames[i]
    fig.figimage(layer, xo=0, yo=0, origin="upper", zorder=5)
    return len(picks)


def place_squares(centres: np.ndarray, side: float, bounds: tuple[float, float, float, float], blocked=()) -> list[int]:
    """Greedy placement of squares of `side` px centred on `centres` (best first): keep each that
    overlaps no kept square, lies inside `bounds` = (x0, y0, x1, y1) and meets none of the `blocked`
    boxes (with x0, y0, x1, y1). A grid of `side` cells finds the kept squares near each candidate."""
    x0, y0, x1, y1 = bounds
    half = side / 2
    grid: dict[tuple[int, int], list[tuple[float, float]]] = {}
    kept: list[int] = []
    for j, (x, y) in enumerate(centres):
        if x - half < x0 or x + half > x1 or y - half < y0 or y + half > y1:
            continue
        if any(b.x0 < x + half and x - half < b.x1 and b.y0 < y + half and y - half < b.y1 for b in blocked):
            continue
        cx, cy = int(x // side), int(y // side)
        near = (p for dx in (-1, 0, 1) for dy in (-1, 0, 1) for p in grid.get((cx + dx, cy + dy), ()))
        if any(abs(px - x) < side and abs(py - y) < side for px, py in near):
            continue
        grid.setdefault((cx, cy), []).append((x, y))
        kept.append(j)
    return kept


def _frame_colours(n: int, paint: Coloring, style: dict) -> np.ndarray:
    """uint8 (n, 3): each point's colour on the picture (grey when points have one colour)."""
    if paint.kind == "none":
        return np.tile(np.array([[150, 150, 150]], dtype=np.uint8), (n, 1))
    if paint.kind == "categorical":
        rgba = np.asarray(style["c"], dtype=np.float64)
    else:
        from matplotlib import colors

        cmap = style["cmap"]
        finite = np.isfinite(paint.values)
        lo, hi = (paint.values[finite].min(), paint.values[finite].max()) if finite.any() else (0.0, 1.0)
        rgba = cmap(colors.Normalize(lo, hi)(np.where(finite, paint.values, np.nan)))
    return np.round(np.asarray(rgba)[:, :3] * 255).astype(np.uint8)


def _pixels(ax, points: np.ndarray) -> np.ndarray:
    """Display (pixel) positions of data points, through the 3-D projection when there is one."""
    if points.shape[1] == 3:
        from mpl_toolkits.mplot3d import proj3d

        x, y, _ = proj3d.proj_transform(points[:, 0], points[:, 1], points[:, 2], ax.get_proj())
        return ax.transData.transform(np.column_stack([x, y]))
    return ax.transData.transform(points)
