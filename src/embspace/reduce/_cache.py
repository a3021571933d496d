"""Maps cached in the space folder: ``<space>/maps/<key>/`` with coords, rows, point trust and map.json.

A map is tied to the exact vectors it was drawn from: map.json keeps the sha256 of vectors.npy as
the space's manifest lists it, and a map whose vectors have changed since is stale: never loaded,
left out of `list_maps`, and drawn again by `get_or_make_map`. The maps are not listed in the
space's manifest, so they never affect `embspace.load`. Saving a space over its folder
(`embspace.save`) replaces the whole folder, maps included: they are a cache and are drawn again
on demand.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .._files import read_npy_header, sha256_file
from .._sealed import (
    COUNT,
    OBJECT,
    SHA256,
    TEXT,
    check_fields,
    is_count,
    is_file_entry,
    is_number,
    one_of,
    read_sealed,
    sealed_bytes,
    show,
)
from .._version import __version__
from .._writers import publishing, write_durably
from ..errors import CorruptSpaceError, EmbspaceError
from ..store import VECTORS, load, read_manifest
from ._map import Map, complete_point_trust, make_map, plan_map
from ._methods import Progress
from ._trust import TRUST_SAMPLE

MAPS = "maps"
MAP_JSON = "map.json"
MAP_FORMAT = "embspace.map"
MAP_FORMAT_VERSION = 2  # 2: map.json carries its own checksum and is schema-checked
_KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")
_ARRAYS = {
    "coords.npy": ("coords", "<f4", 2),
    "rows.npy": ("rows", "<i8", 1),
    "point_trust.npy": ("point_trust", "<f4", 1),
}


class StaleMapError(EmbspaceError):
    """A cached map was drawn from other vectors than the space now holds."""


def vectors_sha256(space_path: str | os.PathLike) -> str:
    """The sha256 of vectors.npy as the space's manifest lists it."""
    return read_manifest(space_path)["files"][VECTORS]["sha256"]


def save_map(space_path: str | os.PathLike, m: Map) -> Path:
    """Write `m` to ``<space_path>/maps/<m.key>/`` atomically (temporary folder, fsync, rename).

    The map is tied to the vectors the manifest lists now (or refused with StaleMapError if it
    says it was drawn from other ones). An existing map with the same key is replaced.
    Returns the map's folder.
    """
    space_path = Path(space_path)
    manifest = read_manifest(space_path)
    sha = manifest["files"][VECTORS]["sha256"]
    if m.vectors_sha256 not in (None, sha):
        raise StaleMapError(f"map {m.key} was drawn from other vectors than {space_path} holds; draw it again")
    if m.n and (int(m.rows.max()) >= manifest["n"] or int(m.rows.min()) < 0):
        raise EmbspaceError(f"map {m.key} has rows up to {int(m.rows.max())}; {space_path} has {manifest['n']} rows")
    _check_key(m.key)
    maps = space_path / MAPS
    maps.mkdir(exist_ok=True)
    with publishing(maps / m.key) as tmp:
        files = {}
        for name, (attr, dtype, _) in _ARRAYS.items():
            files[name] = _write_npy(tmp / name, np.ascontiguousarray(getattr(m, attr), dtype=dtype))
        info = dict(
            m.info(),
            vectors_sha256=sha,
            space_n=manifest["n"],
            format=MAP_FORMAT,
            format_version=MAP_FORMAT_VERSION,
            embspace_version=__version__,
            files=files,
        )
        write_durably(tmp / MAP_JSON, sealed_bytes(info))
    m.vectors_sha256, m.space_n = sha, manifest["n"]
    return maps / m.key


def load_map(space_path: str | os.PathLike, key: str) -> Map:
    """Read the cached map `key` of a space.

    Raises EmbspaceError if there is none, StaleMapError if the space's vectors changed since it
    was drawn, CorruptSpaceError if its files are damaged. Arrays are read without pickle.
    """
    space_path = Path(space_path)
    _check_key(key)
    folder = space_path / MAPS / key
    info = _read_info(folder)
    if info is None:
        raise EmbspaceError(f"{space_path} has no map {key!r}; draw it with `embspace map` or get_or_make_map")
    if info.get("vectors_sha256") != vectors_sha256(space_path):
        raise StaleMapError(f"map {key} of {space_path} was drawn from other vectors; draw it again")
    arrays = {
        attr: _read_npy(folder / name, info["files"].get(name), dtype, ndim)
        for name, (attr, dtype, ndim) in _ARRAYS.items()
    }
    n = info.get("n")
    if (
        arrays["coords"].shape != (n, info.get("dims"))
        or arrays["rows"].shape != (n,)
        or arrays["point_trust"].shape != (n,)
    ):
        raise CorruptSpaceError(folder, f"arrays do not match map.json (n={n}, dims={info.get('dims')})")
    if n and (arrays["rows"].min() < 0 or arrays["rows"].max() >= info.get("space_n", 0)):
        raise CorruptSpaceError(folder / "rows.npy", "holds row numbers outside the space")
    return Map(
        key=key,
        method=info["method"],
        dims=info["dims"],
        params=info.get("params", {}),
        seed=info.get("seed"),
        trust=info.get("trust", {}),
        seconds=info.get("seconds", 0.0),
        created=info.get("created", ""),
        sample=info.get("sample"),
        sampling=info.get("sampling", "all"),
        space_n=info.get("space_n", 0),
        vectors_sha256=info.get("vectors_sha256"),
        cached=True,
        **arrays,
    )


def list_maps(space_path: str | os.PathLike, include_stale: bool = False) -> list[dict[str, Any]]:
    """The cached maps of a space: each map.json's content with its "key" and "stale" (bool).

    Stale maps (drawn from other vectors) are left out unless `include_stale`; unreadable ones
    always are. Sorted by method, dims and number of points.
    """
    maps = Path(space_path) / MAPS
    if not maps.is_dir():
        return []
    sha = vectors_sha256(space_path)
    out = []
    for folder in maps.iterdir():
        if not _KEY.fullmatch(folder.name) or folder.is_symlink():
            continue  # temporary folders and anything we did not write
        try:
            info = _read_info(folder)
        except CorruptSpaceError:
            continue
        if info is None:
            continue
        info.pop("files", None)
        info["key"] = folder.name
        info["stale"] = info.get("vectors_sha256") != sha
        if include_stale or not info["stale"]:
            out.append(info)
    return sorted(out, key=lambda i: (str(i.get("method")), i.get("dims", 0), i.get("n", 0), i["key"]))


def get_or_make_map(
    space_path: str | os.PathLike,
    method: str = "umap",
    dims: int = 2,
    sample: int | None = None,
    seed: int | None = 0,
    progress: Progress | None = None,
    *,
    force: bool = False,
    trust_sample: int = TRUST_SAMPLE,
    point_trust: str = "auto",
    **params,
) -> Map:
    """The map cached in the space folder if there is a current one, else a new one, drawn and cached.

    Takes the same arguments as `make_map` (with the space's path instead of a Space); `force`
    draws it again even when cached. A cached map keeps the trust it was drawn with, except that
    ``point_trust="all"`` completes a map whose points were measured only on the sample (and
    caches that). The returned map's `cached` says whether it was read from the cache. A space
    folder that cannot be written still gets its map, uncached (with a warning).
    """
    space_path = Path(space_path)
    manifest = read_manifest(space_path)
    plan = plan_map(method, dims, sample, seed, params, manifest["n"], manifest.get("metric", "cosine"))
    m = None
    if not force:
        try:
            m = load_map(space_path, plan.key)
        except EmbspaceError:
            pass  # not cached, stale or damaged: drawn again below (and replaced)
    if m is not None and (point_trust != "all" or m.trust.get("point_trust") == "all"):
        return m
    if m is not None:  # cached, but asked for every point's trust
        complete_point_trust(m, load(space_path), progress)
    else:
        sha = manifest["files"][VECTORS]["sha256"]
        m = make_map(
            load(space_path),
            method,
            dims,
            sample,
            seed,
            progress,
            trust_sample=trust_sample,
            point_trust=point_trust,
            **params,
        )
        m.vectors_sha256 = sha
    try:
        save_map(space_path, m)
    except StaleMapError:
        warnings.warn(f"{space_path} changed while map {m.key} was drawn; it was not cached", stacklevel=2)
        m.vectors_sha256 = None
    except OSError as exc:
        warnings.warn(f"map {m.key} could not be cached in {space_path / MAPS} ({exc.strerror or exc})", stacklevel=2)
    return m


# ---- files ------------------------------------------------------------------------------------------
def is_map_key(name: str) -> bool:
    return isinstance(name, str) and _KEY.fullmatch(name) is not None


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise EmbspaceError(f"{key!r} is not a map key; keys look like 'umap-2d-n50000-s0'")


def _read_info(folder: Path) -> dict[str, Any] | None:
    """map.json of a map folder: None when there is none; CorruptSpaceError unless it is sealed and well-formed."""
    path = folder / MAP_JSON
    if folder.is_symlink() or not os.path.lexists(path):
        return None
    redraw = f"draw the map again (embspace map {folder.parent.parent} ...)"
    info = read_sealed(path, MAP_FORMAT, "format_version", MAP_FORMAT_VERSION, redraw)
    check_fields(path, info, _SCHEMA, redraw)
    if info["sample"] is not None and not is_count(info["sample"], 1):
        raise CorruptSpaceError(path, f"field 'sample' is {info['sample']!r}; expected null or a count; {redraw}")
    if info["seed"] is not None and not is_count(info["seed"], 0, 2**32 - 1):
        raise CorruptSpaceError(path, f"field 'seed' is {info['seed']!r}; expected null or 0..2**32-1; {redraw}")
    if not info["key"] == folder.name or not folder.name.startswith(f"{info['method']}-{info['dims']}d"):
        raise CorruptSpaceError(path, f"describes map {show(info['key'])}, not the {folder.name} it is in; {redraw}")
    if info["n"] > info["space_n"] or sorted(info["files"]) != sorted(_ARRAYS):
        raise CorruptSpaceError(path, f"lists other points or files than a map has; {redraw}")
    return info


_SCHEMA = {
    "key": TEXT,
    "method": one_of("pca", "tsne", "umap"),
    "dims": one_of(2, 3),
    "n": COUNT,
    "space_n": COUNT,
    "sample": (lambda v: v is None or type(v) is int, "null or a count"),
    "sampling": TEXT,
    "seed": (lambda v: v is None or type(v) is int, "null or a seed"),
    "params": OBJECT,
    "trust": (lambda v: isinstance(v, dict) and all(_trust_ok(k, x) for k, x in v.items()), "an object of measures"),
    "seconds": (lambda v: is_number(v, 0), "seconds >= 0"),
    "created": TEXT,
    "embspace_version": TEXT,
    "vectors_sha256": SHA256,
    "files": (lambda v: isinstance(v, dict) and all(is_file_entry(e) for e in v.values()), "name -> {size, sha256}"),
}


def _trust_ok(name: str, value: Any) -> bool:
    """A map's trust measures as make_map writes them: scores in 0..1 (NaN where not measured), counts, names."""
    if name in ("trustworthiness", "knn_recall", "continuity"):
        return type(value) is float and (value != value or 0.0 <= value <= 1.0)
    if name in ("k", "sample", "measured"):
        return value is None or is_count(value)
    if name == "metric":
        return value in ("cosine", "dot", "euclidean")
    if name == "point_trust":
        return value in ("all", "sample", "none")
    return value is None or is_number(value, 0)  # seconds, and any measure to come: a number


def _write_npy(dest: Path, array: np.ndarray) -> dict:
    with open(dest, "wb") as fh:
        np.lib.format.write_array(fh, array, allow_pickle=False)
        fh.flush()
        os.fsync(fh.fileno())
    return {"size": dest.stat().st_size, "sha256": sha256_file(dest)}


def _read_npy(path: Path, entry: dict | None, dtype: str, ndim: int) -> np.ndarray:
    if entry is None or not path.is_file() or path.is_symlink():
        raise CorruptSpaceError(path, "missing (or not a regular file)")
    if path.stat().st_size != entry.get("size") or sha256_file(path) != entry.get("sha256"):
        raise CorruptSpaceError(path, "size or sha256 does not match map.json; the file was altered or damaged")
    try:  # the header first, so a pickle or object array is refused before numpy reads it
        shape, fortran, found = read_npy_header(path)
    except ValueError as exc:
        raise CorruptSpaceError(path, f"is not a .npy array ({exc})") from None
    if found != np.dtype(dtype) or fortran or len(shape) != ndim:
        raise CorruptSpaceError(path, f"holds {found} {shape}; expected {np.dtype(dtype)} with {ndim} dimensions")
    return np.load(path, allow_pickle=False)
