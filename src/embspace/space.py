"""The `Space` type: ids, float32 vectors, optional metadata columns and provenance."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import search
from .errors import CorruptSpaceError, EmbspaceError, SpaceError, UnknownIdError, close_matches
from .search import METRICS, Neighbor

__all__ = ["METRICS", "Neighbor", "Space"]

# The kinds of data whose spaces take queries that are not ids or vectors (an image), by the builder the
# space's info names: "module:function(space, items) -> (q, dim) vectors", imported only when such a query
# comes (the core imports no kind of data). A table space takes a row: a dict of column -> value.
QUERY_ENCODERS = {"embspace.images": "embspace.images:embed_images", "embspace.tables": "embspace.tables:embed_rows"}
ROW_QUERIES = {"embspace.tables"}  # the builders whose spaces take a dict (a row) as a query
# The kinds of data whose spaces recommend, by builder: "module:function(space, **query) -> list of records".
RECOMMENDERS = {"embspace.items": "embspace.items:recommend"}
# A space that was post-processed or tuned names its steps in info["transforms"]; a query that is encoded
# (an image, a table row, a fastText sub-word vector) comes out as the rows did before those steps and goes
# through them here: "module:function(space, vectors) -> vectors". Ids and given vectors never do.
TRANSFORMS = "embspace.tune:apply_transforms"


class Space:
    """An embedding space: one vector per id.

    Parameters
    ----------
    ids : sequence of str, length n
        Unique, non-empty labels, one per row (a word, a document id, an image path...).
    vectors : array-like of shape (n, dim)
        Converted to C-contiguous float32; a read-only memory map is kept as it is.
    meta : mapping of column name -> sequence of length n, optional
        Per-row metadata (label, text, counts...). Values must be Arrow-compatible.
    info : dict, optional
        Provenance: builder, parameters, data read, seed, time taken. JSON-serialisable.
    metric : {"cosine", "dot", "euclidean"}
        The metric searches use when none is given.

    Examples
    --------
    >>> s = Space(["a", "b"], [[1.0, 0.0], [0.0, 1.0]])
    >>> s.n, s.dim, s.index("b")
    (2, 2, 1)
    """

    def __init__(
        self,
        ids: Sequence[str],
        vectors: Any,
        meta: Mapping[str, Sequence] | None = None,
        info: Mapping[str, Any] | None = None,
        metric: str = "cosine",
        *,
        check: bool = True,
    ):
        vectors = _as_float32_matrix(vectors)
        ids = ids if isinstance(ids, list) else list(ids)
        if metric not in METRICS:
            raise SpaceError(f"unknown metric {metric!r}; expected one of {', '.join(METRICS)}")
        if check:
            _check_vectors(vectors)
            _check_ids(ids, vectors.shape[0])
        self._ids: list[str] | None = ids
        self._vectors = vectors
        self._column = None  # an opened space's ids, read when used and found by hash (see store.load)
        self._guard = None  # an opened space's vectors.npy, each block checked when first read
        self._stored_norms = None  # an opened space's (checked norms.npy, (n,) squared row norms)
        self._pending_norms: np.ndarray | None = None  # norms a first scan fills tile by tile
        self._index: dict[str, int] | None = None
        self._scans_left = 8
        self._unit: np.ndarray | None = None
        self._sq_norms: np.ndarray | None = None
        self.meta: dict[str, list] = {}
        for name, column in (meta or {}).items():
            column = list(column)
            if len(column) != len(ids):
                raise SpaceError(f"meta column {name!r} has {len(column)} values but the space has {len(ids)} rows")
            if name == "id":
                raise SpaceError("meta column name 'id' is reserved for the ids; rename the column")
            self.meta[name] = column
        self.info: dict[str, Any] = dict(info or {})
        self.metric = metric
        # Named float32 matrices that belong to the space but are not rows, e.g. the sub-word
        # buckets of a fastText space (see embspace._subwords). Saved under extras/ in the folder.
        self.extras: dict[str, np.ndarray] = {}
        # Named files that belong to the space: image thumbnails (PNG sprite pages), a trained network
        # (safetensors). bytes, or the Path of a checked file in a loaded space. Saved under assets/.
        self.assets: dict[str, bytes | Path] = {}

    @classmethod
    def opened(cls, column, vectors: np.ndarray, meta, info: dict, metric: str, guard, norms=None) -> Space:
        """A space over files opened by `store.load`: ids in `column` (an `_ids.IdColumn`), metadata in `meta`
        (read when used), vectors (n, dim) over a mapped file whose blocks `guard` checks as they are read,
        and `norms`, (checked file, (n,) squared row norms) when stored."""
        space = cls.__new__(cls)
        space._ids, space._column, space._guard = None, column, guard
        space._stored_norms, space._pending_norms = norms, None
        space._vectors = vectors
        space._index, space._scans_left, space._unit, space._sq_norms = None, 0, None, None
        space.meta, space.info, space.metric = meta, info, metric
        space.extras, space.assets = {}, {}
        return space

    # ---- basic shape -------------------------------------------------------------------------
    @property
    def ids(self) -> list[str]:
        """The ids, a list of n strings (an opened space reads them all on first use: see `id_slice`)."""
        if self._ids is None:
            self._ids = self._column.to_list()
        return self._ids

    def id_slice(self, start: int, stop: int) -> list[str]:
        """The ids of rows start..stop; on an opened space, reads only those (`ids` reads all of them)."""
        if self._ids is None:
            return self._column.slice(start, stop)
        return self._ids[start:stop]

    def _id_at(self, row: int) -> str:
        return self._ids[row] if self._ids is not None else self._column.at(row)

    def _row_ids(self):
        """Something that answers ``[row]`` with an id, without reading all of them."""
        return self._ids if self._ids is not None else self._column

    @property
    def vectors(self) -> np.ndarray:
        """float32 array of shape (n, dim); may be a read-only memory map (every block checked on first use)."""
        if self._guard is not None:
            self._check_all()
        return self._vectors

    def _check_all(self) -> None:
        guard = self._guard
        if guard is not None:
            guard.check_all()
            _refuse_non_finite(self._vectors, guard.path)  # a forged file whose checksums agree
            self._guard = None

    def _check_rows(self, r0: int, r1: int) -> None:
        """Check the blocks of vectors.npy under rows r0..r1 before they are used (an opened space)."""
        guard = self._guard
        if guard is not None:
            guard.check(*self._bytes_of(r0, r1))

    def _bytes_of(self, r0, r1):
        """Where rows r0..r1 lie in vectors.npy (byte offsets; ints or int arrays), for its block checks."""
        offset, row_bytes = self._guard.size - self._vectors.nbytes, 4 * self._vectors.shape[1]
        return offset + r0 * row_bytes, offset + r1 * row_bytes

    def _check_scores(self, scores: np.ndarray, r0: int) -> None:
        """Refuse a tile of scores that a NaN or Inf row made NaN (a forged file whose checksums agree)."""
        if self._guard is not None and np.isnan(scores).any():
            row = r0 + int(np.flatnonzero(np.isnan(scores).any(axis=0))[0])
            _refuse_non_finite(self._vectors[row : row + 1], self._guard.path, row)

    def _rows(self, rows) -> np.ndarray:
        """Rows of the vectors by number (an int array), their blocks checked first."""
        guard = self._guard
        if guard is not None:
            rows = np.asarray(rows, dtype=np.int64)
            starts, stops = self._bytes_of(rows.ravel(), rows.ravel() + 1)
            guard.check_blocks(np.union1d(starts // guard.block, (stops - 1) // guard.block))
            out = np.asarray(self._vectors[rows], dtype=np.float32)
            _refuse_non_finite(out.reshape(-1, self._vectors.shape[1]), guard.path, rows.ravel())
            return out
        return np.asarray(self._vectors[rows], dtype=np.float32)

    def _stored_id_index(self) -> np.ndarray | None:
        return None if self._column is None or self._column.index is None else np.asarray(self._column.index)

    def _id_array(self):
        """The ids as an Arrow array (for writing), without Python strings when they were never read."""
        import pyarrow as pa

        if self._ids is None:
            return self._column.to_arrow()
        return pa.array(self._ids, type=pa.string())

    @property
    def n(self) -> int:
        return self._vectors.shape[0]

    @property
    def dim(self) -> int:
        return self._vectors.shape[1]

    def __len__(self) -> int:
        return self.n

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, str):
            return False
        if self._index is None and self._column is not None:
            return self._column.find(item) >= 0
        if self._index is None and self._scans_left > 0:
            self._scans_left -= 1
            return item in self._ids
        return item in self._lookup

    def __repr__(self) -> str:
        name = self.info.get("name", "")
        label = f" {name!r}" if name else ""
        return f"<Space{label} n={self.n} dim={self.dim} metric={self.metric}>"

    # ---- lookup --------------------------------------------------------------------------------
    @property
    def _lookup(self) -> dict[str, int]:
        if self._index is None:
            ids = self.ids
            index = dict(zip(ids, range(len(ids))))
            if len(index) != len(ids):  # free to see here; a loaded space is not checked for it up front
                raise self._duplicate_error()
            self._index = index
        return self._index

    def _duplicate_error(self) -> EmbspaceError:
        seen: set[str] = set()
        row, item = next((r, i) for r, i in enumerate(self.ids) if i in seen or seen.add(i))
        where = self.info.get("path")
        text = f"repeats the id {item[:80]!r} (second at row {row})"
        if where:
            return CorruptSpaceError(f"{where}/items.parquet", f"{text}; ids must be unique; rebuild the space")
        return SpaceError(f"the space {text}; ids must be unique")

    def index(self, item: str) -> int:
        """Row number of `item`; raises UnknownIdError with close spellings if absent.

        O(1): an opened space finds it through its stored hash index; a space made in memory through a
        dict built on demand (its first few lookups scan the id list in C instead, so a one-shot query
        does not pay for the dict).
        """
        if self._index is None and self._column is not None and isinstance(item, str):
            row = self._column.find(item)
            if row < 0:
                raise UnknownIdError(item, close_matches(item, self.ids))
            return row
        if self._index is None and self._scans_left > 0 and isinstance(item, str):
            self._scans_left -= 1
            try:
                return self._ids.index(item)
            except ValueError:
                raise UnknownIdError(item, close_matches(item, self._ids)) from None
        try:
            return self._lookup[item]
        except (KeyError, TypeError):
            raise UnknownIdError(str(item), close_matches(str(item), self.ids)) from None

    def indices(self, items: Iterable[str]) -> np.ndarray:
        return np.fromiter((self.index(i) for i in items), dtype=np.int64)

    def vector(self, item: str) -> np.ndarray:
        """The vector of `item`, shape (dim,).

        A space with sub-word buckets (fastText) also answers for ids it does not hold.
        """
        if "subwords" not in self.extras or item in self or not isinstance(item, str):
            row = self.index(item)
            return self._rows(np.array([row]))[0]
        # a fastText space answers for ids it does not hold, from its sub-word buckets
        from ._subwords import subword_vector

        vector = subword_vector(item, self.extras["subwords"], self.info.get("subwords") or {}, self._row_ids())
        return self.transform_encoded(vector[None, :])[0] if self.info.get("transforms") else vector

    def __getitem__(self, item: str) -> np.ndarray:
        return self.vector(item)

    # ---- derived views -------------------------------------------------------------------------
    def normalized(self) -> np.ndarray:
        """Unit-length rows, shape (n, dim), float32; zero rows stay zero. Cached."""
        if self._unit is None:
            norms = np.sqrt(self.sq_norms())
            norms[norms == 0] = 1.0
            self._unit = np.ascontiguousarray(self.vectors / norms[:, None], dtype=np.float32)
        return self._unit

    def sq_norms(self) -> np.ndarray:
        """Squared L2 norm of each row, shape (n,), float32. Cached."""
        if self._sq_norms is None:
            stored = self._stored_norms
            if stored is not None:  # an opened space's, checked whole (4 bytes a row) when first used
                file, norms = stored
                if hasattr(file, "check_all"):
                    file.check_all()
                self._sq_norms = norms
            else:
                self._sq_norms = search.row_sq_norms(self.vectors)
        return self._sq_norms

    def normalize(self) -> Space:
        """A new Space whose vectors have unit length (metric cosine)."""
        info = dict(self.info, normalized=True)
        return Space(self.ids, self.normalized(), self.meta, info, self.metric, check=False)

    def subset(self, selector: Iterable[str] | np.ndarray | slice) -> Space:
        """A new Space of the chosen rows, in the given order.

        `selector` is a list of ids, a boolean mask of length n, an integer array or a slice.
        A slice shares memory with this space.
        """
        if isinstance(selector, slice):
            rows = range(self.n)[selector]
            vectors = self.vectors[selector]
        else:
            sel = selector if isinstance(selector, np.ndarray) else list(selector)
            if isinstance(sel, np.ndarray) and sel.dtype == bool:
                if sel.shape != (self.n,):
                    raise SpaceError(f"mask has shape {sel.shape}; expected ({self.n},)")
                rows = np.flatnonzero(sel)
            elif isinstance(sel, np.ndarray) and np.issubdtype(sel.dtype, np.integer):
                rows = sel
            else:
                rows = self.indices(sel)
            if len(rows) == 0:
                raise SpaceError("the selection is empty; a Space needs at least one row")
            vectors = np.ascontiguousarray(self._rows(rows))
        if isinstance(rows, range) and rows.step == 1:
            ids = self.id_slice(rows.start, rows.stop)
        else:
            ids = [self._id_at(int(i)) for i in rows]
        meta = {k: [col[i] for i in rows] for k, col in self.meta.items()}
        out = Space(ids, vectors, meta, dict(self.info), self.metric, check=len(set(ids)) != len(ids))
        out.extras = dict(self.extras)
        out.assets = dict(self.assets)
        return out

    def head(self, n: int) -> Space:
        """The first `n` rows (word spaces are usually in frequency order)."""
        return self.subset(slice(0, n))

    # ---- search (ids to rows and vectors, then the array kernels of embspace.search) ----------------
    def neighbors(
        self, query, k: int = 10, metric: str | None = None, exclude_query: bool = True, restrict: int | None = None
    ):
        """Exact top-k neighbours of an id, a vector (dim,), or many of either.

        Parameters
        ----------
        query : str, ndarray (dim,), list of str, or ndarray (q, dim)
        k : int
            Number of neighbours; an error if larger than the rows that can be returned.
        exclude_query : bool
            Leave an id query out of its own neighbours.
        restrict : int, optional
            Search only the first `restrict` rows (the most frequent words in a word space).

        Returns
        -------
        list of Neighbor(id, score) for one query; a list of such lists for many. Scores are
        similarities for cosine and dot (descending), distances for euclidean (ascending).
        """
        single, vectors, rows = self.query_vectors(query)
        if rows is None and (metric or self.metric) == "cosine":
            zero = ~vectors.any(axis=1)
            if zero.any():  # every row would score 0: an answer that means nothing
                which = "the query vector" if single else f"query vector {int(np.flatnonzero(zero)[0])}"
                raise SpaceError(f"{which} is all zeros; its cosine similarity to anything is undefined")
        exclude = rows[:, None] if (exclude_query and rows is not None) else None
        metric = metric or self.metric
        if self._guard is not None or self._stored_norms is not None or self._sq_norms is None:
            found = self._first_scan(vectors, k, metric, exclude, restrict)
        else:
            found = search.neighbors(
                self._vectors,
                self._row_ids(),
                vectors,
                k,
                metric,
                exclude=exclude,
                restrict=restrict,
                sq_norms=None if metric == "dot" else self.sq_norms(),  # dot needs no norms
            )
        return found[0] if single else found

    def _first_scan(self, vectors, k, metric, exclude, restrict):
        """The first scan of a space: what each tile needs is done while the tile is in cache (its norms when
        none are stored), and an opened space's blocks are checked from the bytes the scan just scored. With
        one block of queries (rows in order), the rows are split between the cores, each part hashed as it
        is scored; otherwise each tile's blocks are checked before it is read. Every block is checked before
        any result is returned."""
        from concurrent.futures import ThreadPoolExecutor

        guard = self._guard
        if self._stored_norms is not None and metric != "dot":
            self.sq_norms()
        n_rows = min(self.n, restrict or self.n)
        sq = self._sq_norms if metric != "dot" else None
        norms_out = self._norms_to_fill(metric, restrict)
        in_order = search.in_order(len(vectors), n_rows, k)
        parts = search.row_parts(n_rows) if in_order else [(0, n_rows)]

        def scan(a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
            stream = guard.stream() if in_order and guard is not None else None

            def after(scores: np.ndarray, r0: int) -> None:
                self._check_scores(scores, a + r0)
                if stream is not None:  # the bytes just scored, hashed while they are in cache
                    stream.feed(*self._bytes_of(a + r0, a + r0 + scores.shape[1]))

            idx, scores = search.topk(
                self._vectors[a:b],
                vectors,
                k if len(parts) == 1 else min(k, b - a),
                metric,
                exclude=None if exclude is None else exclude - a,
                sq_norms=None if sq is None else sq[a:b],
                before_tile=(lambda r0, r1: self._check_rows(a + r0, a + r1)) if guard and not stream else None,
                after_tile=after if guard is not None else None,
                norms_out=None if norms_out is None else norms_out[a:b],
            )
            if stream is not None:
                stream.finish()  # every block this part read is checked before its result is used
            return idx + a, scores

        if len(parts) == 1:
            idx, scores = scan(*parts[0])
        else:
            with search.one_blas_thread(), ThreadPoolExecutor(len(parts)) as pool:
                found = list(pool.map(lambda part: scan(*part), parts))
            idx, scores = search.merge_parts(found, k, largest=metric != "euclidean")
        self._norms_filled(restrict)
        if guard is not None and not guard.left:
            self._guard = None  # every block checked, every row scored
        return search.labelled(self._row_ids(), idx, scores)

    def _norms_to_fill(self, metric: str, restrict: int | None) -> np.ndarray | None:
        if metric == "dot" or self._sq_norms is not None:
            return None
        self._pending_norms = np.empty(self.n, dtype=np.float32)
        return self._pending_norms

    def _norms_filled(self, restrict: int | None) -> None:
        pending = self._pending_norms
        self._pending_norms = None
        if pending is not None and (restrict is None or restrict >= self.n):
            self._sq_norms = pending

    def query_vectors(self, query) -> tuple[bool, np.ndarray, np.ndarray | None]:
        """(one query?, query vectors (q, dim) float32, their row numbers or None) for any query form
        `neighbors` takes: an id, a vector, a list of ids or an array of vectors; in a space built from
        images also an image (a pathlib.Path, a PIL image, or a path string that is not an id) or a list of them,
        embedded the way the space was built."""
        media = self._media_query(query)
        if media is not None:
            return media
        if isinstance(query, str):
            if query not in self and "subwords" in self.extras:  # fastText: a vector from sub-words
                return True, self.vector(query)[None, :], None
            row = self.index(query)
            return True, self._rows(np.array([row])), np.array([row])
        if isinstance(query, np.ndarray) and query.dtype.kind in "fiu":
            return query.ndim == 1, search.check_query_vectors(query, self.dim), None
        items = list(query)
        if not items:
            raise EmbspaceError("no queries given")
        if all(isinstance(i, str) for i in items):
            if "subwords" not in self.extras:
                rows = self.indices(items)
                return False, self._rows(rows), rows
            rows, vectors = self._rows_and_vectors(items)
            return False, vectors, rows
        return self.query_vectors(np.asarray(items, dtype=np.float32))

    def _media_query(self, query) -> tuple[bool, np.ndarray, None] | None:
        """Images as queries, embedded by the kind of data that built the space (see QUERY_ENCODERS)."""
        hook = QUERY_ENCODERS.get(self.info.get("builder"))
        if hook is None:
            return None
        single = not isinstance(query, (list, tuple))
        items = [query] if single else list(query)
        if not items or not all(self._is_media(i) for i in items):
            return None
        import importlib

        module, name = hook.split(":")
        vectors = self.transform_encoded(getattr(importlib.import_module(module), name)(self, items))
        return single, search.check_query_vectors(vectors, self.dim), None

    def transform_encoded(self, vectors: np.ndarray) -> np.ndarray:
        """Encoded query vectors (q, d) through the steps the space's rows went through after they were
        encoded (``info["transforms"]``: post-processing, a tuned head); unchanged when there are none."""
        if not self.info.get("transforms"):
            return vectors
        import importlib

        module, name = TRANSFORMS.split(":")
        return getattr(importlib.import_module(module), name)(self, vectors)

    def _is_media(self, item) -> bool:
        if isinstance(item, Mapping):
            return self.info.get("builder") in ROW_QUERIES
        if isinstance(item, os.PathLike) or type(item).__module__.startswith("PIL."):
            return True
        return isinstance(item, str) and item not in self and os.path.isfile(item)

    def _rows_and_vectors(self, items: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Row numbers (-1 for an id the space does not hold) and vectors (q, dim) float32 of `items`;
        unheld ids get their vector from the space's sub-word buckets (fastText) or raise UnknownIdError."""
        rows = np.fromiter((self._row_or_missing(i) for i in items), dtype=np.int64, count=len(items))
        vectors = np.empty((len(items), self.dim), dtype=np.float32)
        held = rows >= 0
        vectors[held] = self._rows(rows[held])
        for j in np.flatnonzero(~held):
            vectors[j] = self.vector(items[j])
        return rows, vectors

    def _row_or_missing(self, item: str) -> int:
        return self.index(item) if item in self else -1  # no close spellings looked up for a miss

    def similarity(self, a: str, b: str, metric: str | None = None) -> float:
        """Similarity of two ids (cosine by default; distance for euclidean)."""
        return search.similarity(self.vector(a), self.vector(b), metric or self.metric)

    def analogy(
        self, a: str, b: str, c: str, k: int = 5, method: str = "3cosadd", restrict: int | None = None
    ) -> list[Neighbor]:
        """a is to b as c is to ?  (``analogy("man", "king", "woman")`` -> queen).

        `method` is "3cosadd" or "3cosmul"; `restrict` answers only among the first N ids.
        """
        if self.n < 4:
            raise EmbspaceError("an analogy needs a space of at least 4 items")
        words = (a, b, c)
        if "subwords" in self.extras and not all(w in self for w in words):
            # fastText: unseen words get sub-word vectors, as gensim's most_similar answers for them
            rows, vectors = self._rows_and_vectors(words)
            idx, scores = search.analogy_vectors_topk(self.vectors, rows, vectors, k, method, restrict, self.sq_norms())
        else:
            rows = [np.array([self.index(w)]) for w in words]
            idx, scores = search.analogy_topk(
                self.vectors, *rows, k=k, method=method, restrict=restrict, sq_norms=self.sq_norms()
            )
        return [Neighbor(self._id_at(int(i)), float(s)) for i, s in zip(idx[0], scores[0])]

    def doesnt_match(self, items: Sequence[str]) -> str:
        """The id among `items` furthest from their mean direction."""
        items = list(items)
        if len(items) < 3:
            raise EmbspaceError(f"give at least 3 items to find the odd one out; got {len(items)}")
        return items[search.odd_one_out(self.query_vectors(items)[1])]

    def recommend(
        self,
        user: str | None = None,
        items: Sequence[str] | str | None = None,
        similar: str | None = None,
        k: int = 10,
        include_seen: bool = False,
        **options,
    ):
        """Items to recommend, best first: for a `user` the space was built with (what they had left out
        unless `include_seen`), for a new user's recent `items`, or like the item `similar`.

        Returns a list of records (id, score, because): `because` names the liked items each is nearest to.
        A space built from interactions only (`embspace.items.build`); ``options`` go to its recommender
        (``baseline="popularity"``, ``explain=3``).
        """
        hook = RECOMMENDERS.get(self.info.get("builder"))
        if hook is None:
            raise EmbspaceError(
                "this space was not built from interactions, so it cannot recommend; "
                "make one with `embspace build items` (embspace.items.build)"
            )
        import importlib

        module, name = hook.split(":")
        return getattr(importlib.import_module(module), name)(
            self, user=user, items=items, similar=similar, k=k, include_seen=include_seen, **options
        )

    # ---- notebooks -----------------------------------------------------------------------------
    def _repr_html_(self, rows: int = 10) -> str:
        """A notebook's view: name, size, metric and the first `rows` ids with their metadata, escaped."""
        from ._notebook import html_table

        name = self.info.get("name") or self.info.get("path") or ""
        columns = list(self.meta)
        shown = min(rows, self.n)
        body = [(f"{r:,}", self._id_at(r), *(self.meta[c][r] for c in columns)) for r in range(shown)]
        caption = f"Space {name}: " if name else "Space: "
        caption += f"{self.n:,} \u00d7 {self.dim} float32, {self.metric}"
        caption += f"; the first {shown:,} rows" if shown < self.n else ""
        return html_table(("row", "id", *columns), body, caption=caption, right=(0,))


def _as_float32_matrix(vectors: Any) -> np.ndarray:
    if isinstance(vectors, np.memmap) and vectors.dtype == np.float32 and vectors.ndim == 2:
        return vectors
    try:
        arr = np.asarray(vectors)
    except (ValueError, TypeError) as exc:
        raise SpaceError(f"vectors are not a rectangular array of numbers ({exc})") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise SpaceError(f"vectors must be numeric; got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise SpaceError(f"vectors must have shape (n, dim); got shape {arr.shape}")
    if arr.dtype != np.float32 or not arr.flags.c_contiguous:
        with np.errstate(over="ignore"):  # overflow is reported below, as an error
            converted = np.ascontiguousarray(arr, dtype=np.float32)
        if (
            np.issubdtype(arr.dtype, np.floating)
            and arr.dtype.itemsize > 4
            and np.count_nonzero(np.isinf(converted)) > np.count_nonzero(np.isinf(arr))
        ):
            raise SpaceError("vectors hold values too large for float32 (they would become Inf)")
        arr = converted
    return arr


def _check_vectors(vectors: np.ndarray) -> None:
    n, dim = vectors.shape
    if n == 0 or dim == 0:
        raise SpaceError(f"a Space needs at least one row and one dimension; got shape {vectors.shape}")
    step = 1 << 16
    for start in range(0, n, step):
        block = np.asarray(vectors[start : start + step])
        if not np.isfinite(block).all():
            bad = start + int(np.flatnonzero(~np.isfinite(block).all(axis=1))[0])
            raise SpaceError(f"row {bad} holds NaN or Inf; clean the vectors before building a Space")


def _refuse_non_finite(vectors: np.ndarray, path, rows=None) -> None:
    """CorruptSpaceError naming the first row of `vectors` (rows numbered by `rows`, or from 0) that is not finite."""
    step = 1 << 16
    for start in range(0, vectors.shape[0], step):
        bad = ~np.isfinite(np.asarray(vectors[start : start + step])).all(axis=1)
        if bad.any():
            at = start + int(np.flatnonzero(bad)[0])
            row = at if rows is None else int(np.atleast_1d(rows)[at]) if np.ndim(rows) else int(rows)
            raise CorruptSpaceError(
                path, f"row {row} holds NaN or Inf; rebuild the space (embspace build / import) and save it again"
            )


def _check_ids(ids: list, n: int) -> None:
    if len(ids) != n:
        raise SpaceError(f"{len(ids)} ids for {n} vectors; give exactly one id per row")
    for i, item in enumerate(ids):
        if not isinstance(item, str) or not item:
            raise SpaceError(f"id at row {i} is {item!r}; ids must be non-empty strings")
    if len(set(ids)) != n:
        seen: set[str] = set()
        for i, item in enumerate(ids):
            if item in seen:
                raise SpaceError(f"duplicate id {item!r} (second at row {i}); ids must be unique")
            seen.add(item)
