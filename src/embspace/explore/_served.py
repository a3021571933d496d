"""The spaces an explorer serves: each opened once (vectors memory-mapped), with its maps and the
derived arrays the page asks for, cached."""

from __future__ import annotations

import gzip
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import EmbspaceError
from ..space import Space
from ..store import is_space, load

MAPS_KEPT = 6  # loaded maps kept per space (a 1M-point 3-D map is 12 MB of coordinates)
DERIVED = {":row": "row number (frequency rank)", ":norm": "vector length", ":trust": "map trust of each point"}
NUMERIC_BINS = 16  # numeric columns are coloured by quantile bins: robust to skew and to missing values
CATEGORIES = 12  # the most frequent categories get a colour each; the rest are "other"
TITLE = "title"  # a metadata column shown beside (or instead of) the opaque ids, where a space has one
SEPARATOR = "|"  # of several values in one cell (genres "Action|Adventure")


@dataclass
class ViewOfMap:
    """A loaded map with what the page needs of it: coordinates scaled into [-1, 1] (one scale for
    every axis, so shapes are kept), the position of each space row on the map (-1: not on it)."""

    map: object  # embspace.reduce.Map
    scaled: np.ndarray  # float32 (n, dims)
    position: np.ndarray  # int32 (space.n,), map index of each row or -1

    def near_ranks(self, at: int, positions: np.ndarray) -> np.ndarray:
        """Rank (1 = nearest) of the map points `positions` among all map points, by map distance
        from map point `at` (the point itself not counted)."""
        coords = self.map.coords
        d = np.einsum("ij,ij->i", coords - coords[at], coords - coords[at])
        d[at] = -1.0  # never counted as nearer than anything
        target = d[positions]
        if len(positions) <= 16:
            return np.array([int(np.count_nonzero(d < t)) for t in target], dtype=np.int64)
        return np.searchsorted(np.sort(d), target, side="left").astype(np.int64)


class ServedSpace:
    """One space folder opened for the explorer.

    Parameters
    ----------
    path : path of a ``.space`` folder
    index : int
        Its number in the explorer's URLs (``/api/space/{index}/...``).
    """

    def __init__(self, path: str | Path, index: int):
        path = Path(path)
        if not path.exists():
            raise EmbspaceError(f"{path}: no such space (make one with `embspace import` or `embspace demo`)")
        if not is_space(path):
            raise EmbspaceError(
                f"{path} is not a .space folder (no manifest.json); make one with "
                f"`embspace import` or `embspace demo --no-serve`"
            )
        self.path = path
        self.index = index
        self.space: Space = load(path, mmap=True)
        self.name = str(self.space.info.get("name") or path.name.removesuffix(".space"))
        self._lock = threading.RLock()
        self._maps: OrderedDict[str, ViewOfMap] = OrderedDict()
        self._ids_json: bytes | None = None
        self._ids_gzip: bytes | None = None
        self._titles_json: bytes | None = None
        self._titles: list[str] | None = None
        self._thumbs = _Thumbs(self)

    # ---- description ------------------------------------------------------------------------------
    def summary(self) -> dict:
        """What the page shows about the space (no filesystem path: the page needs none)."""
        info = self.space.info
        keep = ("builder", "source", "corpus", "licence", "order", "normalized", "created", "method")
        return {
            "index": self.index,
            "name": self.name,
            "n": self.space.n,
            "dim": self.space.dim,
            "metric": self.space.metric,
            "columns": self.columns(),
            "info": {k: info[k] for k in keep if k in info and isinstance(info[k], (str, int, float, bool))},
            "thumbnails": self._thumbs.description(),
            "title": self.has_titles,
            "users": self.users,
        }

    # ---- titles and users (a space of items) ------------------------------------------------------
    @property
    def has_titles(self) -> bool:
        """Whether the space has a "title" column to show beside its ids."""
        return TITLE in self.space.meta

    def title(self, row: int) -> str | None:
        """The title of `row` (None: the space has no titles, or this row has none)."""
        if not self.has_titles:
            return None
        value = self.space.meta[TITLE][row]
        return None if value is None or value == "" else str(value)

    def titles(self) -> list[str]:
        """The titles aligned with the ids ("" where a row has none), built once."""
        if not self.has_titles:
            raise EmbspaceError(f"{self.name} has no {TITLE!r} column")
        with self._lock:
            if self._titles is None:
                self._titles = [self.title(r) or "" for r in range(self.space.n)]
            return self._titles

    def titles_json(self) -> bytes:
        """The titles as one JSON list aligned with the ids ("" where a row has none), built once."""
        titles = self.titles()
        with self._lock:
            if self._titles_json is None:
                text = json.dumps(titles, ensure_ascii=False, separators=(",", ":"))
                text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
                self._titles_json = text.encode()
            return self._titles_json

    @property
    def users(self) -> int | None:
        """How many users travel with a space built from interactions (None for any other space)."""
        space = self.space
        if space.info.get("builder") != "embspace.items" or "users" not in space.extras:
            return None
        if "users.parquet" not in space.assets:
            return None
        return int(space.extras["users"].shape[0])

    # ---- thumbnails (a space of images) -----------------------------------------------------------
    def thumbnail_tiles(self) -> np.ndarray:
        """int32 (n,): the thumbnail tile of each row (-1: none); refused when the space has none."""
        return self._thumbs.tiles()

    def thumbnail_page(self, page: int) -> tuple[bytes, str]:
        """(PNG bytes, sha256) of sprite page `page`: only the pages the layout lists."""
        return self._thumbs.page(page)

    def columns(self) -> list[dict]:
        """Columns the page can colour by: the metadata columns, then derived ones. The row number
        is offered only where it means something: in a space ordered by frequency (a word space
        from a corpus, GloVe...), where it is the frequency rank."""
        ranked = self.space.info.get("order") == "frequency"
        derived = [key for key in DERIVED if key not in self.space.meta and (ranked or key != ":row")]
        out = [{"name": name, "label": name, "derived": False} for name in self.space.meta]
        return out + [{"name": key, "label": DERIVED[key], "derived": True} for key in derived]

    def ids_json(self, gzipped: bool) -> bytes:
        """The ids as one JSON list (UTF-8), built once; gzipped when asked."""
        with self._lock:
            if self._ids_json is None:
                text = json.dumps(self.space.ids, ensure_ascii=False, separators=(",", ":"))
                # escaped like every other JSON answer (see _app._json), so no browser takes it for HTML
                text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
                self._ids_json = text.encode()
                self._ids_gzip = gzip.compress(self._ids_json, compresslevel=5, mtime=0)
            return self._ids_gzip if gzipped else self._ids_json

    # ---- rows ---------------------------------------------------------------------------------------
    def row_of(self, item: str | None = None, row: int | str | None = None) -> int:
        """The row of an id (exact), or a row number checked against the space."""
        if item is not None and item != "":
            return self.space.index(item)
        if row is None or row == "":
            raise EmbspaceError("give an id (id=...) or a row number (row=...)")
        try:
            r = int(row)
        except (TypeError, ValueError):
            raise EmbspaceError(f"row must be an integer; got {row!r}") from None
        if not 0 <= r < self.space.n:
            raise EmbspaceError(f"row {r} is outside the space (0 to {self.space.n - 1})")
        return r

    def point(self, row: int) -> dict:
        """An item's id, metadata and vector length."""
        meta = {name: _plain(col[row]) for name, col in self.space.meta.items()}
        return {"row": row, "id": self.space.ids[row], "meta": meta, "norm": float(np.sqrt(self.space.sq_norms()[row]))}

    # ---- maps --------------------------------------------------------------------------------------
    def map_view(self, key: str) -> ViewOfMap:
        """The cached map `key`, loaded once (kept among the last few used)."""
        from ..reduce import load_map

        with self._lock:
            if key in self._maps:
                self._maps.move_to_end(key)
                return self._maps[key]
        m = load_map(self.path, key)
        view = _view_of(m, self.space.n)
        with self._lock:
            self._maps[key] = view
            while len(self._maps) > MAPS_KEPT:
                self._maps.popitem(last=False)
        return view

    def forget_map(self, key: str) -> None:
        with self._lock:
            self._maps.pop(key, None)

    def map_position(self, key: str | None, row: int) -> int | None:
        if not key:
            return None
        pos = int(self.map_view(key).position[row])
        return pos if pos >= 0 else None

    def colour_codes(self, key: str, column: str) -> tuple[np.ndarray, dict]:
        """Colour codes of the map's points by `column` (float32: 0..m-1, -1 = other or missing) and
        the legend ``{"kind": "categorical"|"numeric", "name", "labels": [...], "counts": [...]}``."""
        view = self.map_view(key)
        rows = view.map.rows
        if column in self.space.meta:
            raw = self.space.meta[column]
            return _codes([raw[i] for i in rows], column)
        if column == ":row" and any(c["name"] == ":row" for c in self.columns()):
            return _numeric_codes(rows.astype(np.float64), DERIVED[column], integer=True)
        if column == ":norm":
            return _numeric_codes(np.sqrt(self.space.sq_norms()[rows].astype(np.float64)), DERIVED[column])
        if column == ":trust":
            return _trust_codes(view.map.point_trust)
        have = ", ".join(c["name"] for c in self.columns())
        raise EmbspaceError(f"unknown column {column!r}; this space can be coloured by: {have}")


class _Thumbs:
    """The sprite pages of a served space of images: the layout (checked once), the tile of each
    row, and the pages read from the space folder, checked against the sha256 the manifest lists."""

    PAGES_KEPT = 8  # pages kept in memory (a page of 1,024 tiles of 64 px is 1-4 MB of PNG)

    def __init__(self, served: ServedSpace):
        self.served = served
        self._layout = None
        self._problem = None
        self._tiles: np.ndarray | None = None
        self._pages: OrderedDict[int, tuple[bytes, str]] = OrderedDict()
        self._lock = threading.Lock()
        from ..images._sprites import layout

        try:
            self._layout = layout(served.space)
        except EmbspaceError as exc:  # the page shows the space without pictures
            self._problem = str(exc)

    def description(self) -> dict | None:
        if self._layout is None:
            return None
        return {k: v for k, v in self._layout.as_dict().items() if k != "format"}

    def _require(self):
        if self._layout is None:
            raise EmbspaceError(self._problem or f"{self.served.name} keeps no thumbnails")
        return self._layout

    def tiles(self) -> np.ndarray:
        from ..images._sprites import tiles

        lay = self._require()
        with self._lock:
            if self._tiles is None:
                self._tiles = tiles(self.served.space, lay).astype(np.int32)
            return self._tiles

    def page(self, page: int) -> tuple[bytes, str]:
        import hashlib

        from ..images._sprites import page_name
        from ..store import read_manifest

        lay = self._require()
        name = page_name(page) if 0 <= page < lay.pages else None
        if name is None or name not in self.served.space.assets:
            raise EmbspaceError(f"no thumbnail page {page}; this space has {lay.pages} (0 to {lay.pages - 1})")
        with self._lock:
            if page in self._pages:
                self._pages.move_to_end(page)
                return self._pages[page]
        content = self.served.space.assets[name]
        body = content if isinstance(content, bytes) else _read_regular(Path(content))
        digest = hashlib.sha256(body).hexdigest()
        if not isinstance(content, bytes):
            listed = read_manifest(self.served.path)["files"].get(f"assets/{name}", {}).get("sha256")
            if listed != digest:
                raise EmbspaceError(f"thumbnail page {name} changed on disk since the space was opened")
        with self._lock:
            self._pages[page] = (body, digest)
            while len(self._pages) > self.PAGES_KEPT:
                self._pages.popitem(last=False)
        return body, digest


def _read_regular(path: Path, limit: int = 256 * 1024 * 1024) -> bytes:
    """The bytes of a regular file (no device, FIFO or link followed out of the folder)."""
    import os
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise EmbspaceError(f"thumbnail page {path.name} cannot be read: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            raise EmbspaceError(f"thumbnail page {path.name} is not a regular file of at most {limit:,} bytes")
        return fh.read(limit + 1)


def _view_of(m, space_n: int) -> ViewOfMap:
    coords = np.asarray(m.coords, dtype=np.float64)
    centre = (coords.max(axis=0) + coords.min(axis=0)) / 2
    half = float(np.max(coords.max(axis=0) - coords.min(axis=0))) / 2 or 1.0
    scaled = ((coords - centre) / (half * 1.02)).astype(np.float32)  # a small margin inside [-1, 1]
    position = np.full(space_n, -1, dtype=np.int32)
    position[m.rows] = np.arange(m.n, dtype=np.int32)
    return ViewOfMap(m, scaled, position)


def _plain(value):
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def _codes(values: list, name: str) -> tuple[np.ndarray, dict]:
    present = [v for v in values if v is not None]
    if present and all(
        isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in present
    ):
        return _numeric_codes(np.array([np.nan if v is None else v for v in values], dtype=np.float64), name)
    labels = np.array(["" if v is None else str(v) for v in values], dtype=object)
    labels, several = _first_of_several(labels)
    found, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    order = [i for i in np.argsort(-counts, kind="stable") if found[i] != ""][:CATEGORIES]
    code_of = np.full(len(found), -1, dtype=np.float32)
    code_of[order] = np.arange(len(order), dtype=np.float32)
    codes = code_of[inverse.reshape(-1)]
    other = int(np.count_nonzero(codes < 0))
    legend = {
        "kind": "categorical",
        "name": name,
        "labels": [str(found[i]) for i in order],
        "counts": [int(counts[i]) for i in order],
        "other": other,
        "other_label": "other or missing",
    }
    if several:
        legend["note"] = f"{several:,} points have several values (A{SEPARATOR}B); each is coloured by its first one"
    return codes, legend


def _first_of_several(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """Cells that list several values ("Action|Adventure") as their first value, where the column is one
    of such lists: at least 5% of its cells hold a separator and it has fewer single values than
    combinations. The legend then lists single values (Action, Comedy...), which is what a reader
    of genres expects, rather than hundreds of combinations. Returns (labels, how many had several)."""
    present = labels[labels != ""]
    several = np.array([SEPARATOR in v for v in present], dtype=bool)
    if not len(present) or several.sum() < 0.05 * len(present):
        return labels, 0
    singles = {part.strip() for v in set(present) for part in v.split(SEPARATOR)} - {""}
    if len(singles) >= len(set(present)):
        return labels, 0
    first = np.array([next((p.strip() for p in v.split(SEPARATOR) if p.strip()), "") for v in labels], dtype=object)
    return first, int(several.sum())


def _numeric_codes(values: np.ndarray, name: str, integer: bool = False) -> tuple[np.ndarray, dict]:
    """Quantile bins of a numeric column: code b holds values between edges[b] and edges[b + 1]."""
    finite = np.isfinite(values)
    codes = np.full(len(values), -1, dtype=np.float32)
    if not finite.any():
        return codes, {
            "kind": "numeric",
            "name": name,
            "labels": [],
            "counts": [],
            "other": len(values),
            "other_label": "missing",
        }
    edges = np.unique(np.quantile(values[finite], np.linspace(0, 1, NUMERIC_BINS + 1)))
    if len(edges) == 1:
        edges = np.array([edges[0], edges[0]])
    bins = np.clip(np.searchsorted(edges, values[finite], side="right") - 1, 0, len(edges) - 2)
    codes[finite] = bins
    fmt = (lambda v: f"{int(round(v)):,}") if integer else (lambda v: f"{v:.4g}")
    labels = [f"{fmt(edges[b])} to {fmt(edges[b + 1])}" for b in range(len(edges) - 1)]
    counts = np.bincount(bins, minlength=len(labels)).tolist()
    return codes, {
        "kind": "numeric",
        "name": name,
        "labels": labels,
        "counts": counts,
        "other": int(np.count_nonzero(~finite)),
        "other_label": "missing",
    }


def _trust_codes(point_trust: np.ndarray) -> tuple[np.ndarray, dict]:
    """Each point's recall of its 10 space neighbours on the map, 0.0 to 1.0 in steps of 0.1."""
    t = np.asarray(point_trust, dtype=np.float64)
    measured = np.isfinite(t)
    codes = np.full(len(t), -1, dtype=np.float32)
    codes[measured] = np.clip(np.rint(t[measured] * 10), 0, 10)
    counts = np.bincount(codes[measured].astype(np.int64), minlength=11).tolist()
    return codes, {
        "kind": "numeric",
        "name": DERIVED[":trust"],
        "labels": [f"{b}/10" for b in range(11)],
        "counts": counts,
        "other": int(np.count_nonzero(~measured)),
        "scale": "trust",
        "other_label": "not measured (outside the trust sample)",
    }
