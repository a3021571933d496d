"""`embspace.images.build(..., engine="ray")`: the embedding pass over a pool of Ray actors.

The driver resolves the source (`read_images`) and fits the method exactly as the single-process build does;
the actors decode their rows of that same source, embed them and draw their thumbnail tiles; the driver
then finishes the raw vectors (`Embedder.finish`) over the whole collection and lays the tiles out in row
order, so the space is the one the single-process build makes.
"""

from __future__ import annotations

import bisect
import inspect
import math
import os
import time
from dataclasses import dataclass

import numpy as np

from .._ray import maybe_crash, on_gpu, ray_session, run_actor_pool, vector_column, vectors_of
from ._base import Embedder, embedder_class
from ._input import KEEP_SKIPPED, ImageSkip, ImageSource
from ._thumbs import fit_tile

ROWS_PER_CALL = 512  # candidate images an actor decodes and embeds at once (at most)


@dataclass
class RayPass:
    """What the actors found, in candidate row order: raw vectors and rows of the images read, their sizes,
    their thumbnail tiles (uint8 (tile, tile, 3), or None), the skipped ones, and ``info["engine"]``."""

    raw: np.ndarray
    kept: np.ndarray
    widths: list[int]
    heights: list[int]
    tiles: list[np.ndarray] | None
    skipped: list[tuple[str, str]]
    skipped_count: int
    seconds: float
    engine: dict


class ImageEmbedderActor:
    """A Ray actor: decodes rows of the source, embeds them with the method, draws their thumbnail tiles.

    Parameters
    ----------
    images : ImageSource
        The source as the driver resolved it (files are read by path: on a cluster, at the same paths).
    fitted : Embedder, optional
        The driver's embedder, fitted on the collection (a method that learns before embedding); else the
        actor builds its own (one model load per actor) from `method`, `knobs` and `seed`.
    cwd : str
        The driver's working folder, so relative paths name the same files.
    """

    def __init__(self, images, method, knobs, seed, batch_size, thumb_size, cwd, fitted=None):
        if cwd and os.path.isdir(cwd):
            os.chdir(cwd)
        if fitted is None:
            knobs = dict(knobs)
            if on_gpu() and "device" in inspect.signature(embedder_class(method).__init__).parameters:
                knobs.setdefault("device", "cuda")
            fitted = new_embedder(method, knobs, seed)
        self.embedder = fitted
        self.images, self.batch_size, self.thumb_size = images, batch_size, thumb_size
        self.starts = [start for start, _ in images.readers]
        self.dim = int(np.asarray(self.embedder.embed([np.full((32, 32, 3), 255, np.uint8)])).shape[1])

    def __call__(self, batch):
        import pyarrow as pa

        maybe_crash()
        rows = batch.column("row").to_numpy()
        decoded = self._read(rows)
        kept = [i for i, image in enumerate(decoded) if not isinstance(image, ImageSkip)]
        vectors = np.zeros((len(rows), self.dim), dtype=np.float32)
        for lo in range(0, len(kept), self.batch_size):
            part = kept[lo : lo + self.batch_size]
            vectors[part] = np.asarray(self.embedder.embed([decoded[i] for i in part]), dtype=np.float32)
        ok = [not isinstance(image, ImageSkip) for image in decoded]
        tiles = None
        if self.thumb_size:
            tiles = [fit_tile(im, self.thumb_size).tobytes() if good else None for im, good in zip(decoded, ok)]
        return pa.table(
            {
                "row": pa.array(rows, pa.int64()),
                "vector": vector_column(vectors),
                "kept": pa.array(ok),
                "reason": pa.array([None if good else str(im) for im, good in zip(decoded, ok)], pa.string()),
                "height": pa.array([int(im.shape[0]) if good else 0 for im, good in zip(decoded, ok)], pa.int32()),
                "width": pa.array([int(im.shape[1]) if good else 0 for im, good in zip(decoded, ok)], pa.int32()),
                "tile": pa.array(tiles, pa.binary()) if tiles is not None else pa.nulls(len(rows), pa.binary()),
            }
        )

    def _read(self, rows: np.ndarray) -> list:
        """Decoded images (or ImageSkip) of `rows`, read in runs of consecutive rows within one part."""
        out: list = []
        i = 0
        while i < len(rows):
            part = bisect.bisect_right(self.starts, int(rows[i])) - 1
            end = self.starts[part + 1] if part + 1 < len(self.starts) else self.images.n
            j = i + 1
            while j < len(rows) and rows[j] == rows[j - 1] + 1 and rows[j] < end:
                j += 1
            out.extend(self.images.readers[part][1](range(int(rows[i]), int(rows[j - 1]) + 1)))
            i = j
        return out


def new_embedder(method: str, knobs: dict, seed: int) -> Embedder:
    """The method's embedder as the build makes it (knobs already checked there; the seed where it takes one)."""
    cls = embedder_class(method)
    if "seed" in inspect.signature(cls.__init__).parameters and "seed" not in knobs:
        knobs = {**knobs, "seed": seed}
    return cls(**knobs)


def embed_on_ray(
    embedder: Embedder,
    method: str,
    knobs: dict,
    seed: int,
    images: ImageSource,
    batch_size: int,
    thumb_size: int | None,
    address: str | None,
    workers: int | None,
    shards_dir: str | os.PathLike | None,
) -> RayPass:
    """Every candidate image of `images` embedded on Ray (raw vectors, before `finish`), in row order."""
    import pyarrow as pa

    # A method that learnt from the collection (fit) is shipped as it is; the others are built per actor.
    fitted = embedder if type(embedder).fit is not Embedder.fit else None
    n = images.n
    rows = pa.table({"row": pa.array(np.arange(n, dtype=np.int64))})
    started = time.perf_counter()
    with ray_session(address, workers) as session:
        per_call = max(1, min(ROWS_PER_CALL, math.ceil(n / (session.workers * 4))))
        kwargs = {
            "images": images,
            "method": method,
            "knobs": knobs,
            "seed": seed,
            "batch_size": batch_size,
            "thumb_size": thumb_size,
            "cwd": os.getcwd(),
            "fitted": fitted,
        }
        out = run_actor_pool(rows, ImageEmbedderActor, kwargs, session, rows_per_call=per_call, shards_dir=shards_dir)
        engine = session.describe()
    seconds = time.perf_counter() - started
    ok = np.asarray(out.column("kept").to_numpy(zero_copy_only=False), dtype=bool)
    kept = np.flatnonzero(ok).astype(np.int64)
    skipped_rows = np.flatnonzero(~ok)
    reasons = out.column("reason").to_pylist()
    skipped = [(images.ids[r], reasons[r]) for r in skipped_rows[:KEEP_SKIPPED]]
    tiles = None
    if thumb_size:
        side = int(thumb_size)
        raw_tiles = out.column("tile").to_pylist()
        tiles = [np.frombuffer(raw_tiles[r], np.uint8).reshape(side, side, 3) for r in kept]
    heights = out.column("height").to_numpy(zero_copy_only=False)[kept].tolist()
    widths = out.column("width").to_numpy(zero_copy_only=False)[kept].tolist()
    raw = vectors_of(out)[kept]
    return RayPass(raw, kept, widths, heights, tiles, skipped, int(skipped_rows.size), seconds, engine)
