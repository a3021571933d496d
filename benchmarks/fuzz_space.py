"""Fuzz a .space folder and the explorer: damage every file and send hostile requests, and say how each ended.

    .venv/bin/python benchmarks/fuzz_space.py [--cases 40] [--seed 0] [--space PATH] [--workdir DIR]
                                              [--requests 2000] [--clients 8] [--no-files] [--no-server]
                                              [--json F] [--md F]

Files: a space with everything a folder can hold (ids, a metadata column, an extras matrix, an asset file,
an HNSW index and a cached PCA map), made here (300 x 16) or copied from --space (hard links; the original is checked
to be unchanged at the end; an index and a map are added to the copy when it has none). Every file of
the folder (manifest.json, vectors.npy, items.parquet, extras/*.npy, assets/*, index/index.json, index/index.faiss,
maps/KEY/map.json and its .npy arrays) is damaged in turn: truncations (0, 1, the header's end, the
middle, size - 1 and --cases random offsets), --cases seeded bit flips, appended bytes, replaced by an
empty file, a folder, a symlink to /dev/zero, a FIFO; JSON files also by nesting 100,000 deep, a
5,000-digit integer, fields of the wrong type, renamed keys and out-of-range values (each also
re-signed with a valid "checksum" where the file has one, so that the schema check, not the checksum,
must refuse it); .npy files by headers declaring (-1, d), (10**12, d), another dtype or Fortran order,
and an object array whose pickle would make a folder if it were ever loaded. Each damaged folder is
then opened by every reader of that file: `embspace.load(verify=True)` (mmap and not),
`embspace.index.open_index`, `embspace.reduce.load_map` / `list_maps` / `get_or_make_map`, and the CLI
(`info`, `verify`, `search --id` with and without the index) through click's CliRunner.

Each case ends as one of
  typed      an EmbspaceError subclass, or a CLI exit != 0 with a one-line message and no traceback
  handled    the cached index / map was taken as absent (or redrawn by get_or_make_map)
  benign     accepted, and the result is the same as from the intact folder (e.g. whitespace in JSON)
  traceback  any other exception, or a traceback / multi-line error from the CLI
  hang       no answer within --timeout seconds (FIFO and /dev/zero cases run in a forked child)
  forged     a plausible value (right type and range) written with a valid "checksum" was believed: no
             check can tell such a forgery from a real file, so it is counted apart, not as a failure
  silent     accepted, and the result differs from the intact folder's
  executed   the pickle payload ran
The target is 0 traceback, 0 hang, 0 silent, 0 executed. tests/test_fuzz.py runs a bounded set of the
same cases (imported from here).

Server: the explorer in a real uvicorn subprocess (`python -m embspace serve SPACE --port 0`) over the
space; first the hostile requests of `server_requests` (status of each: no 5xx, no reset), then hostile
regex searches from 2 threads while one client times ordinary neighbour queries (p50 / p99), then
--requests ordinary requests from --clients threads with the server's RSS before and after.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import json
import os
import random
import re
import resource
import select
import shutil
import signal
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

OUTCOMES = ("typed", "handled", "benign", "forged", "traceback", "hang", "silent", "executed")
BAD = ("traceback", "hang", "silent", "executed")
HUGE_INT = "9" * 5000
DEEP = 100_000
PICKLE_MARKER = "pickle-ran"  # the folder an object .npy's pickle makes if anything ever loads it
LONG_ID = "a" * 40 + "!"  # a 40-character id: "(a+)+$" backtracks exponentially on it


# ---- the space ----------------------------------------------------------------------------------------------
def make_space(folder: Path, n: int = 300, dim: int = 16, seed: int = 0) -> Path:
    """A small space with every kind of file: ids, a metadata column, extras, an HNSW index and a PCA map."""
    import embspace

    rng = np.random.default_rng(seed)
    ids = [f"w{i}" for i in range(n)]
    ids[-1] = LONG_ID
    space = embspace.Space(
        ids,
        rng.normal(size=(n, dim)).astype(np.float32),
        meta={"pos": [("noun", "verb", "adj")[i % 3] for i in range(n)]},
        info={"name": "fuzz", "subwords": {"min_n": 3, "max_n": 5, "buckets": 64}},
    )
    space.extras["subwords"] = rng.normal(size=(64, dim)).astype(np.float32)
    if hasattr(space, "assets"):  # named files (thumbnail pages, a network), listed in the manifest
        space.assets["notes.bin"] = rng.integers(0, 256, size=300, dtype=np.uint8).tobytes()
    path = embspace.save(space, folder)
    complete_space(path)
    return path


def complete_space(path: Path) -> None:
    """Give the space an index and a PCA map if it has none (a flat index over 50,000 rows: hnsw takes long)."""
    import embspace
    from embspace.index import build_index, index_info
    from embspace.reduce import get_or_make_map, list_maps

    if index_info(path) is None:
        n = embspace.load(path, verify=False).n
        build_index(path, "hnsw" if n <= 50_000 else "flat", sample=min(200, n))
    if not list_maps(path):
        n = embspace.load(path, verify=False).n
        get_or_make_map(path, "pca", 2, sample=None if n <= 5000 else 5000)


def clone(src: Path, dst: Path) -> Path:
    """A copy of a space folder made of hard links (falling back to copies); damaged files are written anew."""
    for root, dirs, files in os.walk(src):
        rel = Path(root).relative_to(src)
        (dst / rel).mkdir(parents=True, exist_ok=True)
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith("."):
                continue
            try:
                os.link(Path(root) / name, dst / rel / name)
            except OSError:
                shutil.copy2(Path(root) / name, dst / rel / name)
    return dst


def space_files(path: Path) -> list[str]:
    """Every file of the folder, relative, in a stable order (temporary and lock files left out)."""
    out = []
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        out += [str((Path(root) / f).relative_to(path)) for f in sorted(files) if not f.startswith(".")]
    order = {"manifest.json": 0, "vectors.npy": 1, "items.parquet": 2}
    return sorted(out, key=lambda f: (order.get(f, 3), f))


def map_of(path: Path) -> dict:
    """The plan (method, dims, sample, seed, key) of the first cached map of a space."""
    from embspace.reduce import list_maps

    info = list_maps(path)[0]
    return {k: info.get(k) for k in ("key", "method", "dims", "sample", "seed")}


# ---- damages ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Damage:
    """One way of damaging a file: `write(target, original)` puts the damaged thing at `target` (which is absent)."""

    kind: str
    label: str
    write: Callable[[Path, bytes], None]
    risky: bool = False  # may block a reader (FIFO, /dev/zero): run it in a child process with a timeout
    forgery: bool = False  # re-signed and plausible: accepting it is "forged", not "silent" (nothing can tell)


def _bytes(data: bytes) -> Callable[[Path, bytes], None]:
    return lambda target, original: target.write_bytes(data)


def _truncate(at: int) -> Callable[[Path, bytes], None]:
    return lambda target, original: target.write_bytes(original[:at])


def _flip(offset: int, bit: int) -> Callable[[Path, bytes], None]:
    def write(target: Path, original: bytes) -> None:
        data = bytearray(original)
        data[offset] ^= 1 << bit
        target.write_bytes(bytes(data))

    return write


def _append(extra: bytes) -> Callable[[Path, bytes], None]:
    return lambda target, original: target.write_bytes(original + extra)


def _fifo(target: Path, original: bytes) -> None:
    os.mkfifo(target)


def _devzero(target: Path, original: bytes) -> None:
    os.symlink("/dev/zero", target)


def _folder(target: Path, original: bytes) -> None:
    target.mkdir()
    (target / "x").write_bytes(b"x")


def header_end(name: str, data: bytes) -> int:
    """Where a file's header ends: the .npy header, Parquet's magic, a JSON file's first line, 16 bytes else."""
    if name.endswith(".npy") and data[:6] == b"\x93NUMPY":
        if data[6:7] == b"\x01":
            return 10 + int.from_bytes(data[8:10], "little")
        return 12 + int.from_bytes(data[8:12], "little")
    if name.endswith(".parquet"):
        return 4
    if name.endswith(".json"):
        return data.find(b"\n") + 1 or 1
    return 16


def generic_damages(name: str, data: bytes, rng: random.Random, cases: int) -> list[Damage]:
    """Truncations, seeded bit flips (`cases` of each beyond the fixed ones), appended bytes, other file kinds."""
    size = len(data)
    cuts = {0, 1, header_end(name, data), size // 2, size - 1}
    cuts |= {rng.randrange(size) for _ in range(max(0, cases - len(cuts)))} if size else set()
    out = [Damage("truncate", f"truncate@{c}", _truncate(c)) for c in sorted(c for c in cuts if 0 <= c < size)]
    head = header_end(name, data)
    for i in range(cases if size else 0):
        # the first few in the header, where a flip changes what the reader believes; the rest anywhere
        offset = rng.randrange(min(head, size)) if i < max(1, cases // 3) and head else rng.randrange(size)
        bit = rng.randrange(8)
        out.append(Damage("bitflip", f"bitflip@{offset}:{bit}", _flip(offset, bit)))
    out += [
        Damage("append", "append 1 zero byte", _append(b"\0")),
        Damage("append", "append 100 random bytes", _append(rng.randbytes(100))),
        Damage("replace", "empty file", _bytes(b"")),
        Damage("replace", "a folder", _folder),
        Damage("replace", "symlink to /dev/zero", _devzero, risky=True),
        Damage("replace", "a FIFO", _fifo, risky=True),
    ]
    return out


# -- JSON --
def _leaves(value, path=()) -> Iterable[tuple[tuple, object]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield (*path, k), v
            yield from _leaves(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value[:3]):
            yield (*path, i), v
            yield from _leaves(v, (*path, i))


def _set(obj, path: tuple, value):
    obj = json.loads(json.dumps(obj))
    target = obj
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return obj


def resign(obj: dict) -> dict:
    """`obj` with a valid "checksum" again (sha256 over its canonical JSON, as embspace writes it)."""
    content = {k: v for k, v in obj.items() if k != "checksum"}
    body = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return dict(content, checksum="sha256:" + hashlib.sha256(body.encode()).hexdigest())


_RAW = "\x00FUZZ-RAW\x00"  # a placeholder replaced by raw JSON text (a 5,000-digit number, deep nesting)


def _json_text(obj, raw: str | None = None) -> bytes:
    text = json.dumps(obj, indent=2, sort_keys=True)
    if raw is not None:
        text = text.replace(json.dumps(_RAW), raw)
    return text.encode()


# values a careless or hostile editor puts in known fields: each must be refused (or change nothing) when
# the file's checksum no longer matches; re-signed, those outside PLAUSIBLE must still be refused by the schema
OUT_OF_RANGE = {
    "metric": ["cosinf", "Cosine", ""],
    "recall": [0.123, 7.0, -1.0],
    "ef_search": [1_000_000_000, 0],
    "ef_construction": [10**12],
    "m": [1_000_000_000],
    "space_n": ["20000", 20000],
    "version": [99, 0, "1"],
    "format_version": [99, 0, "1"],
    "format": ["embspace.other"],
    "n": [-1, 10**15],
    "dim": [0, 10**15],
    "dims": [7, 3],
    "kind": ["hnsw2", "ivfpq"],
    "method": ["pca2", "umap"],
    "size": [-1, 10**15],
    "sha256": ["0" * 64, "../../etc/passwd"],
    "seed": [-1, 10**30],
    "sample": [-5],
    "trustworthiness": [1.5, -0.2],
    "dtype": ["float64", "object"],
}
TOP_LEVEL = {"n", "dim", "version", "format"}  # these names mean the file's own fields only (not e.g. stats/n)
# (field, value) pairs of the right type and range: re-signed, no schema can refuse them (a consistency check may)
PLAUSIBLE = {("recall", 0.123), ("space_n", 20000), ("dims", 3), ("method", "umap"), ("kind", "ivfpq")}
PLAUSIBLE |= {("sha256", "0" * 64)}


def json_damages(name: str, data: bytes, rng: random.Random, limit: int | None = None) -> list[Damage]:
    """Hand-made hostile JSON: whole-file replacements and field edits (each also re-signed where signed)."""
    out = [
        Damage("json", "nested 100,000 deep", _bytes(b"[" * DEEP + b"]" * DEEP)),
        Damage("json", "objects nested 100,000 deep", _bytes(b'{"a":' * DEEP + b"1" + b"}" * DEEP)),
        Damage("json", "a 5,000-digit integer", _bytes(HUGE_INT.encode())),
        Damage("json", "null", _bytes(b"null")),
        Damage("json", "a list", _bytes(b"[]")),
        Damage("json", "invalid UTF-8", _bytes(data.replace(b"{", b"{\xff\xfe", 1))),
        Damage("json", "NaN literal", _bytes(re.sub(rb": (\d+)", b": NaN", data, count=1))),
        Damage("json", "17 MiB of spaces", _bytes(data + b" " * (17 << 20))),
        Damage("json", "whitespace reflowed", _bytes(json.dumps(json.loads(data), indent=4).encode())),
    ]
    try:
        obj = json.loads(data)
    except ValueError:
        return out
    if not isinstance(obj, dict):
        return out
    signed = "checksum" in obj
    edits: list[tuple[str, object, str | None]] = []  # (label, new object, raw text for the placeholder)
    plausible: set[str] = set()  # labels of edits that are valid values, only not the true ones
    for key in [k for k in obj if k != "checksum"]:
        renamed = {(k.upper() if k == key else k): v for k, v in obj.items()}
        edits.append((f"key {key!r} renamed to {key.upper()!r}", renamed, None))
        edits.append((f"key {key!r} removed", {k: v for k, v in obj.items() if k != key}, None))
    for path, value in _leaves(obj):
        if path == ("checksum",) or (name == "manifest.json" and path[0] == "info" and len(path) > 1):
            continue  # a space's info is free-form provenance: any JSON in it is valid
        where = "/".join(str(p) for p in path)
        if isinstance(value, bool):
            edits.append((f"{where}: bool as string", _set(obj, path, str(value).lower()), None))
        elif isinstance(value, (int, float)):
            edits.append((f"{where}: 5,000-digit integer", _set(obj, path, _RAW), HUGE_INT))
            edits.append((f"{where}: number as string", _set(obj, path, str(value)), None))
            edits.append((f"{where}: nested 100,000 deep", _set(obj, path, _RAW), "[" * DEEP + "]" * DEEP))
        elif isinstance(value, str):
            edits.append((f"{where}: string as number", _set(obj, path, 5), None))
            edits.append((f"{where}: string as list", _set(obj, path, [value]), None))
        elif isinstance(value, dict):
            edits.append((f"{where}: object as list", _set(obj, path, [value]), None))
            edits.append((f"{where}: object as string", _set(obj, path, "x"), None))
        elif isinstance(value, list):
            edits.append((f"{where}: list as object", _set(obj, path, {"0": value}), None))
        elif value is None:
            edits.append((f"{where}: null as object", _set(obj, path, {}), None))
        field = path[-1] if isinstance(path[-1], str) and (len(path) == 1 or path[-1] not in TOP_LEVEL) else None
        for bad in OUT_OF_RANGE.get(field, []):
            if bad != value:
                edits.append((f"{where} = {json.dumps(bad)[:40]}", _set(obj, path, bad), None))
                if (path[-1], bad) in PLAUSIBLE and type(bad) is type(value):
                    plausible.add(edits[-1][0])
    if limit is not None and len(edits) > limit:
        keep = sorted(rng.sample(range(len(edits)), limit))
        # renamed keys and the out-of-range values named in the issue are always kept
        named = [i for i, (label, _, _) in enumerate(edits) if " = " in label or "renamed" in label]
        edits = [edits[i] for i in sorted(set(keep) | set(named))]
    for label, new, raw in edits:
        out.append(Damage("json-field", label, _bytes(_json_text(new, raw))))
        # re-signed, a wrong type or value must be refused by the schema (a missing optional key may be fine)
        if signed and not label.startswith("key "):
            try:
                text = _json_text(resign(new), raw)
                out.append(Damage("json-resigned", label + " (re-signed)", _bytes(text), forgery=label in plausible))
            except (TypeError, ValueError):
                pass
    return out


# -- .npy --
def npy_header(shape: tuple, descr: str = "<f4", fortran: bool = False) -> bytes:
    """A .npy 1.0 header declaring `shape` (any integers, negative or huge), `descr` and order."""
    text = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {tuple(shape)!r}, }}"
    pad = 64 - (10 + len(text) + 1) % 64
    body = (text + " " * pad + "\n").encode("latin-1")
    return b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body


class _MakesAFolder:
    """Pickles to a call of os.mkdir: if any reader unpickles the array, the marker folder appears."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def npy_damages(name: str, data: bytes, marker: Path) -> list[Damage]:
    """Headers that lie about shape, dtype or order; an object array with a pickle payload; a raw pickle."""
    import io
    import pickle

    try:
        from embspace._files import read_npy_header
    except ImportError:
        return []
    tmp = Path(tempfile.mkdtemp())
    try:
        (tmp / "a.npy").write_bytes(data)
        shape, _, dtype = read_npy_header(tmp / "a.npy")
    finally:
        shutil.rmtree(tmp)
    body = data[header_end(name, data) :]
    rest = tuple(shape[1:])
    descr = dtype.str
    headers = {
        f"shape {(-1, *rest)}": npy_header((-1, *rest), descr),
        f"shape {(10**12, *rest)}": npy_header((10**12, *rest), descr),
        f"shape {(shape[0] + 1, *rest)}": npy_header((shape[0] + 1, *rest), descr),
        f"shape {tuple(reversed(shape))}": npy_header(tuple(reversed(shape)), descr),
        "shape ()": npy_header((), descr),
        "dtype <f8": npy_header(shape, "<f8"),
        "dtype >f4 (big-endian)": npy_header(shape, descr.replace("<", ">")),
        "dtype |O": npy_header(shape, "|O"),
        "fortran_order True": npy_header(shape, descr, fortran=True),
    }
    out = [Damage("npy-header", label, _bytes(head + body)) for label, head in headers.items()]
    buf = io.BytesIO()
    np.save(buf, np.array([_MakesAFolder(str(marker))], dtype=object), allow_pickle=True)
    out.append(Damage("npy-pickle", "object array with a pickle payload", _bytes(buf.getvalue())))
    out.append(Damage("npy-pickle", "a raw pickle", _bytes(pickle.dumps(_MakesAFolder(str(marker))))))
    return out


def damages_for(name: str, data: bytes, seed: int, cases: int, marker: Path, json_limit: int | None) -> list[Damage]:
    """Every damage for file `name` (its intact bytes `data`), seeded by the seed and the file's name."""
    rng = random.Random(f"{seed}:{name}")
    out = generic_damages(name, data, rng, cases)
    if name.endswith(".json"):
        out += json_damages(name, data, rng, json_limit)
    if name.endswith(".npy"):
        out += npy_damages(name, data, marker)
    return out


# ---- readers ------------------------------------------------------------------------------------------------
class Handled(Exception):
    """A reader took the damaged index / map as absent (or drew it again): not an error, not silent."""


class CliError(Exception):
    """The CLI exited non-zero; `typed` says whether with one line and no traceback."""

    def __init__(self, message: str, typed: bool):
        super().__init__(message)
        self.typed = typed


def digest(value) -> str:
    def default(v):
        if isinstance(v, np.ndarray):
            return "array:" + hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest() + str(v.shape) + v.dtype.str
        if isinstance(v, np.generic):
            return v.item()
        return repr(v)

    return hashlib.sha256(json.dumps(value, sort_keys=True, default=default).encode()).hexdigest()


def _space_value(space) -> dict:
    info = {k: v for k, v in space.info.items() if k != "path"}
    return {
        "ids": space.ids,
        "vectors": np.asarray(space.vectors),
        "meta": dict(space.meta),  # an opened space reads its columns when asked
        "metric": space.metric,
        "info": info,
        "extras": {k: np.asarray(v) for k, v in space.extras.items()},
        "assets": {
            k: v if isinstance(v, bytes) else Path(v).read_bytes() for k, v in getattr(space, "assets", {}).items()
        },
    }


def read_load(folder: Path, ctx: dict):
    import embspace

    return _space_value(embspace.load(folder, verify=True))


def read_load_nommap(folder: Path, ctx: dict):
    import embspace

    return _space_value(embspace.load(folder, verify=True, mmap=False))


def read_index(folder: Path, ctx: dict):
    from embspace.index import open_index

    index = open_index(folder)
    if index is None:
        raise Handled("no index")
    import embspace

    space = embspace.load(folder, verify=False)
    rows, scores = index.search(np.asarray(space.vectors[:5]), 5)
    return {
        "kind": index.kind,
        "metric": index.metric,
        "params": index.params(),
        "stats": index.stats_,
        "shape": [int(index.index_.ntotal), int(index.index_.d)],
        "rows": rows.tolist(),
        "scores": np.round(scores.astype(np.float64), 4).tolist(),
    }


def _map_value(m) -> dict:
    return {
        "key": m.key,
        "method": m.method,
        "dims": m.dims,
        "params": m.params,
        "seed": m.seed,
        "trust": m.trust,
        "sample": m.sample,
        "sampling": m.sampling,
        "space_n": m.space_n,
        "coords": np.asarray(m.coords),
        "rows": np.asarray(m.rows),
        "point_trust": np.asarray(m.point_trust),
    }


def read_load_map(folder: Path, ctx: dict):
    from embspace.reduce import load_map

    return _map_value(load_map(folder, ctx["map"]["key"]))


def read_list_maps(folder: Path, ctx: dict):
    from embspace.reduce import list_maps

    maps = list_maps(folder, include_stale=True)
    mine = [m for m in maps if m.get("key") == ctx["map"]["key"]]
    if not mine or mine[0].get("stale"):
        raise Handled("left out, or listed as stale")
    return maps


def read_get_or_make_map(folder: Path, ctx: dict):
    import warnings

    from embspace.reduce import get_or_make_map

    plan = ctx["map"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = get_or_make_map(folder, plan["method"], plan["dims"], plan["sample"], plan["seed"])
    if not m.cached:
        raise Handled("drawn again")
    return _map_value(m)


def _cli(folder: Path, args: list[str]):
    from click.testing import CliRunner

    from embspace.cli import main

    result = CliRunner().invoke(main, ["-q", *[a.replace("{SPACE}", str(folder)) for a in args]])
    stdout = result.stdout.replace(str(folder), "{SPACE}")
    stderr = (result.stderr or "").replace(str(folder), "{SPACE}")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        e = result.exception
        raise CliError(f"{type(e).__name__}: {str(e)[:200]}", typed=False)
    if result.exit_code != 0:
        lines = [line for line in stderr.splitlines() if line.strip()]
        text = " | ".join(lines)[:300]
        typed = "Traceback" not in stdout + stderr and len(lines) == 1
        raise CliError(text if typed else f"exit {result.exit_code}, {len(lines)} lines: {text}", typed)
    try:
        value = json.loads(stdout)
    except ValueError:
        return stdout
    if isinstance(value, dict):
        value.pop("seconds", None)
    return value


def reader_cli(*args: str) -> Callable[[Path, dict], object]:
    def read(folder: Path, ctx: dict):
        value = _cli(folder, [a.replace("{ID}", ctx["query_id"]) for a in args])
        if "--exact" not in args and isinstance(value, dict) and value.get("search") == "exact":
            raise Handled("the index was taken as absent: searched exactly")
        return value

    read.__name__ = "cli " + " ".join(a for a in args if a not in ("{SPACE}", "{ID}", "--json"))
    return read


READERS: dict[str, Callable[[Path, dict], object]] = {
    "load": read_load,
    "load mmap=False": read_load_nommap,
    "open_index": read_index,
    "load_map": read_load_map,
    "list_maps": read_list_maps,
    "get_or_make_map": read_get_or_make_map,
    "cli info": reader_cli("info", "{SPACE}", "--json"),
    "cli verify": reader_cli("verify", "{SPACE}", "--json"),
    "cli search": reader_cli("search", "{SPACE}", "{ID}", "--id", "--json"),
    "cli search --exact": reader_cli("search", "{SPACE}", "{ID}", "--id", "--exact", "--json"),
}


QUICK_MANIFEST_READERS = ["load", "cli info", "cli verify", "open_index", "load_map", "list_maps"]


def readers_for(name: str, quick: bool = False) -> list[str]:
    """The readers that use file `name` of a space folder (`quick`: fewer, for the test suite)."""
    if name == "manifest.json":
        return QUICK_MANIFEST_READERS if quick else list(READERS)
    if name.startswith("index/"):
        return ["open_index", "cli search", "cli search --exact"]
    if name.startswith("maps/"):  # quick: get_or_make_map draws each refused map again (~0.1 s)
        return ["load_map", "list_maps"] if quick else ["load_map", "list_maps", "get_or_make_map"]
    return ["load", "load mmap=False", "cli info", "cli verify", "cli search"]


# ---- running a case -----------------------------------------------------------------------------------------
class _Timeout(BaseException):  # a BaseException: no `except Exception` in the reader swallows it
    pass


@contextlib.contextmanager
def _alarm(seconds: float):
    """Raise _Timeout in this (main) thread after `seconds`; a no-op off the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def ring(signum, frame):
        raise _Timeout

    old = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _outcome(reader: Callable, folder: Path, ctx: dict, baseline: str | None, timeout: float) -> tuple[str, str]:
    from embspace.errors import EmbspaceError

    try:
        with _alarm(timeout):
            value = reader(folder, ctx)
    except _Timeout:
        return "hang", f"no answer within {timeout:g} s"
    except Handled as exc:
        return "handled", str(exc)
    except CliError as exc:
        return ("typed" if exc.typed else "traceback"), str(exc)
    except EmbspaceError as exc:
        text = str(exc)
        return "typed", (text.splitlines() or [""])[0][:300]
    except Exception as exc:  # noqa: BLE001 - every other exception is what the fuzzing looks for
        return "traceback", f"{type(exc).__name__}: {str(exc)[:200]}"
    d = digest(value)
    if baseline is None:
        return "benign", d
    return ("benign", "same result as intact") if d == baseline else ("silent", "accepted; the result differs")


def _in_child(reader: Callable, folder: Path, ctx: dict, baseline: str | None, timeout: float) -> tuple[str, str]:
    """`_outcome` in a forked child killed after `timeout` (a read that blocks in C cannot be interrupted),
    with its address space capped 2 GiB above the parent's (so /dev/zero read to the end fails fast)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        try:
            os.close(r)
            with contextlib.suppress(ValueError, OSError):
                limit = _vm_size() + (2 << 30)
                resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            result = _outcome(reader, folder, ctx, baseline, timeout * 10)
            os.write(w, json.dumps(result).encode()[:60000])
        except BaseException as exc:  # noqa: BLE001
            with contextlib.suppress(BaseException):
                os.write(w, json.dumps(["traceback", f"{type(exc).__name__}: {exc}"[:300]]).encode())
        finally:
            os._exit(0)
    os.close(w)
    try:
        ready, _, _ = select.select([r], [], [], timeout)
        if not ready:
            os.kill(pid, signal.SIGKILL)
            return "hang", f"no answer within {timeout:g} s (child killed)"
        chunks = []
        while chunk := os.read(r, 65536):
            chunks.append(chunk)
        raw = b"".join(chunks)
        if not raw:
            return "traceback", "the child died without an answer"
        outcome, message = json.loads(raw)
        return outcome, message
    finally:
        os.close(r)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def _vm_size() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise ValueError("no VmSize")


@dataclass
class Case:
    file: str
    damage: str
    kind: str
    reader: str
    outcome: str
    message: str


@dataclass
class FileFuzz:
    """Damages every file of a pristine space folder in turn and records how each reader ended."""

    pristine: Path
    workdir: Path
    seed: int = 0
    cases: int = 6
    timeout: float = 20.0
    json_limit: int | None = 40
    quick: bool = False  # fewer readers of manifest.json and the maps (for the test suite)
    ctx: dict = field(default_factory=dict)
    baselines: dict = field(default_factory=dict)

    def __post_init__(self):
        import embspace

        self.workdir.mkdir(parents=True, exist_ok=True)
        self.marker = self.workdir / PICKLE_MARKER
        space = embspace.load(self.pristine, verify=False)
        query = space.ids[min(5, space.n - 1)]
        self.ctx = {"map": map_of(self.pristine), "query_id": query}
        self._serial = 0

    def fresh(self) -> Path:
        self._serial += 1
        return clone(self.pristine, self.workdir / f"case{self._serial:06d}.space")

    def baseline(self, reader: str) -> str:
        """The result digest of `reader` on an intact copy (computed once)."""
        if reader not in self.baselines:
            folder = self.fresh()
            outcome, value = _outcome(READERS[reader], folder, self.ctx, None, self.timeout * 3)
            shutil.rmtree(folder, ignore_errors=True)
            if outcome != "benign":
                raise RuntimeError(f"{reader} fails on the intact space: {outcome}: {value}")
            self.baselines[reader] = value
        return self.baselines[reader]

    def damages(self, name: str) -> list[Damage]:
        data = (self.pristine / name).read_bytes()
        return damages_for(name, data, self.seed, self.cases, self.marker, self.json_limit)

    def run_damage(self, name: str, damage: Damage, readers: list[str] | None = None) -> list[Case]:
        """Apply one damage to a fresh copy and open it with each reader (a fresh copy each: readers may repair)."""
        out = []
        original = (self.pristine / name).read_bytes()
        for reader in readers or readers_for(name, self.quick):
            baseline = self.baseline(reader)
            folder = self.fresh()
            target = folder / name
            target.unlink()
            damage.write(target, original)
            run = _in_child if damage.risky else _outcome
            outcome, message = run(READERS[reader], folder, self.ctx, baseline, self.timeout)
            if outcome == "silent" and damage.forgery:
                outcome, message = "forged", "accepted a re-signed, plausible value"
            if self.marker.exists():
                outcome, message = "executed", f"the pickle payload ran ({message})"
                shutil.rmtree(self.marker, ignore_errors=True)
            out.append(Case(name, damage.label, damage.kind, reader, outcome, message))
            _remove(folder)
        return out

    def run_file(self, name: str, progress: Callable[[str], None] | None = None) -> list[Case]:
        out = []
        for damage in self.damages(name):
            out += self.run_damage(name, damage)
            if progress:
                progress(f"{name}: {damage.label}")
        return out


def _remove(folder: Path) -> None:
    """Remove a case folder, FIFOs and symlinks included (never following a link)."""
    shutil.rmtree(folder, ignore_errors=True)


def summarize(cases: list[Case], by: Callable[[Case], str]) -> dict[str, Counter]:
    out: dict[str, Counter] = {}
    for c in cases:
        out.setdefault(by(c), Counter())[c.outcome] += 1
    return out


def failures(cases: list[Case]) -> list[Case]:
    return [c for c in cases if c.outcome in BAD]


def describe(cases: list[Case], limit: int = 40) -> str:
    lines = [f"{c.file} | {c.damage} | {c.reader} -> {c.outcome}: {c.message}" for c in cases[:limit]]
    more = f"\n... and {len(cases) - limit} more" if len(cases) > limit else ""
    return "\n".join(lines) + more


# ---- hostile requests ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Request:
    method: str
    url: str  # path and query, percent-encoded
    body: bytes | None = None
    route: str = ""


HOSTILE_REGEXES = ["(a+)+$", "(.|.)*!", "(x+x+)+y", "((a|a)*)*$", "[", "(?P<a>", "\\", "a{1000000}", "(?=" * 50]


def _q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def hostile_strings(rng: random.Random, count: int) -> list[str]:
    """Random and hand-picked strings: unicode, control characters, long, traversal, numbers of every size."""
    fixed = [
        "",
        " ",
        "\x00",
        "\r\n\r\nX-Injected: 1",
        "../../../../etc/passwd",
        "..%2f..%2fetc%2fpasswd",
        "%252e%252e/",
        "\u202e\u2028\ufeff",
        "<script>alert(1)</script>",
        "w1",
        LONG_ID,
        "-1",
        "1e309",
        "NaN",
        "Infinity",
        str(10**30),
        HUGE_INT,
        "0x10",
        "١٢",  # Arabic-Indic digits: int() accepts them
        "a" * 300,
        "a" * 20_000,
        *HOSTILE_REGEXES,
    ]
    alphabet = [chr(c) for c in range(0, 0x80)] + ["é", "ß", "ı", "\u0301", "😀", "\ud7ff", "\u2029", "\uffff"]
    out = list(fixed)
    while len(out) < count:
        length = rng.choice([1, 2, 5, 20, 100, 1000])
        out.append("".join(rng.choice(alphabet) for _ in range(length)))
    return out


def hostile_bodies(rng: random.Random) -> list[bytes]:
    return [
        b"",
        b"null",
        b"[]",
        b"{",
        b"\xff\xfe",
        b"[" * DEEP + b"]" * DEEP,
        b'{"a":' * 5000 + b"1" + b"}" * 5000,
        ('{"method": "pca", "dims": ' + HUGE_INT + "}").encode(),
        b'{"method": "pca", "dims": 1e999}',
        b'{"method": "pca", "dims": NaN}',
        b'{"method": "pca", "sample": -1}',
        b'{"method": "pca", "seed": 1e30}',
        b'{"method": "pca", "params": []}',
        b'{"method": "pca", "params": {"n_components": 100000}}',
        b'{"method": ["pca"], "dims": "2"}',
        b'{"method": "../../etc", "dims": 2}',
        b'{"method": "pca", "point_trust": {"a": 1}}',
        b'{"method": "pca", "dims": 2, "sample": "20000"}',
        b'{"method": "tsne", "dims": 3, "params": {"perplexity": -5}}',
        b'{"method": "umap", "dims": 2, "params": {"n_neighbors": 1000000000}}',
        b'{"x": "' + b"a" * 70_000 + b'"}',
        bytes(rng.randrange(256) for _ in range(200)),
    ]


def server_requests(seed: int = 0, count: int = 300, max_url: int = 1_000_000) -> list[Request]:
    """`count` seeded hostile requests over every route (a few hostile regexes, which cost up to their budget).

    One URL is `max_url` bytes long (httpx, under starlette's TestClient, refuses URLs over 64 KiB)."""
    rng = random.Random(seed)
    strings = hostile_strings(rng, max(40, count // 3))
    numbers = ["-1", "0", "1", "7", str(10**30), HUGE_INT, "1e3", "abc", "", "2.5", " 3", "٣"]
    key = "pca-2d-n300-s0"
    out: list[Request] = []
    # the expensive ones first, each once: a regex search may take its whole budget (2 s)
    for pattern in HOSTILE_REGEXES[:3]:
        out.append(Request("GET", f"/api/space/0/search?q={_q(pattern)}&mode=regex", route="search regex"))
    out += [
        Request("GET", "/static/" + p, route="static") for p in ("../pyproject.toml", "%2e%2e/x", "..%5cx", "a/../../b")
    ]
    out += [Request("GET", "/api/space/0/ids?" + "x" * size, route="long URL") for size in (20_000, max_url)]
    out += [Request("POST", "/api/space/0/maps", body, route="POST maps") for body in hostile_bodies(rng)]
    out += [Request("POST", "/api/space/0/maps", b"{}" + b" " * 70_000, route="POST maps")]
    s, num = "STR", "NUM"  # placeholders: a hostile string, a hostile number
    # (route, path, {query parameter: choices}); STR / NUM in the path or a choice are filled in at random
    routes: list[tuple[str, str, dict[str, list[str]]]] = [
        ("search", "/api/space/0/search", {"q": [s], "mode": ["exact", "prefix", "x", "regex"], "limit": [num]}),
        ("neighbors", "/api/space/0/neighbors", {"id": [s], "k": [num], "map": [key, s]}),
        ("neighbors", "/api/space/0/neighbors", {"row": [num], "k": [num]}),
        ("point", "/api/space/0/point/NUM", {"map": [key, "", s]}),
        ("map", "/api/space/0/map/STR/coords", {}),
        ("map", "/api/space/0/map/" + key + "/colors", {"column": ["pos", ":trust", s]}),
        ("map", "/api/space/0/map/" + key + "/colors.f32", {"column": ["pos", s]}),
        ("map", "/api/space/0/map/STR", {}),
        ("analogy", "/api/space/0/analogy", {"a": [s], "b": ["w1", s], "c": [s], "k": [num], "method": ["x", s]}),
        ("space", "/api/space/NUM", {}),
        ("space", "/api/space/NUM/ids", {}),
        ("space", "/api/space/0/partners", {"k": [num]}),
        ("compare", "/api/compare", {"a": [num], "b": [num], "sample": [num], "worst": [num]}),
        ("jobs", "/api/jobs/NUM", {}),
        ("other", "/STR", {}),
    ]

    def fill(template: str) -> str:
        if template == s:
            return rng.choice(strings)
        if template == num:
            return rng.choice(numbers)
        return template

    while len(out) < count:
        route, path, params = rng.choice(routes)
        path = path.replace("STR", _q(rng.choice(strings))[:3000]).replace("NUM", _q(rng.choice(numbers)))
        query = "&".join(f"{name}={_q(fill(rng.choice(choices)))}" for name, choices in params.items())
        out.append(Request("GET", path + ("?" + query if query else ""), route=route))
    return out


def acceptable(status: int, content_type: str, url: str) -> str | None:
    """None if the answer is acceptable (no 5xx; JSON from the API, or plain text / a known page otherwise)."""
    if status >= 500:
        return f"status {status}"
    kind = content_type.split(";")[0].strip().lower()
    allowed = {"application/json", "text/plain", "application/octet-stream"}
    if not url.startswith("/api/"):
        allowed |= {"text/html", "text/javascript", "text/css", "image/svg+xml", "image/png"}
    if kind not in allowed:
        return f"content type {content_type!r}"
    return None


# ---- the server benchmark -----------------------------------------------------------------------------------
def rss(pid: int) -> int:
    """Resident memory of `pid` in bytes (psutil if installed, else /proc)."""
    try:
        import psutil

        return psutil.Process(pid).memory_info().rss
    except ImportError:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    return 0


def fetch(host: str, port: int, req: Request, timeout: float = 30.0) -> tuple[int, str, float]:
    """(status, content type, seconds) of one request; status 0 when the connection failed or was reset."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    headers = {"Content-Type": "application/json"} if req.method == "POST" else {}
    t0 = time.perf_counter()
    try:
        conn.request(req.method, req.url, body=req.body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status, resp.getheader("content-type", ""), time.perf_counter() - t0
    except (OSError, http.client.HTTPException) as exc:
        return 0, type(exc).__name__, time.perf_counter() - t0
    finally:
        conn.close()


def percentile(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q)) if xs else float("nan")


def server_bench(space: Path, seed: int, hostile: int, requests: int, clients: int, latency_requests: int) -> dict:
    import embspace

    n = embspace.load(space, verify=False).n
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import start_server, stop_server

    proc, host, port = start_server([space])
    try:
        # 1. hostile requests, one at a time
        statuses, bad, routes = Counter(), [], {}
        t0 = time.perf_counter()
        for req in server_requests(seed, hostile):
            status, kind, seconds = fetch(host, port, req)
            statuses[status // 100 * 100 if status else 0] += 1
            problem = "no answer (" + kind + ")" if status == 0 else acceptable(status, kind, req.url)
            route = routes.setdefault(req.route, {"requests": 0, "ok": 0, "bad": 0, "slowest_s": 0.0})
            route["requests"] += 1
            route["bad" if problem else "ok"] += 1
            route["slowest_s"] = round(max(route["slowest_s"], seconds), 3)
            if problem:
                bad.append(f"{req.method} {req.url[:120]} -> {problem}")
        hostile_s = time.perf_counter() - t0
        rng = random.Random(seed)

        def ordinary() -> Request:
            row = rng.randrange(n)
            return rng.choice(
                [
                    Request("GET", f"/api/space/0/neighbors?row={row}&k=10"),
                    Request("GET", f"/api/space/0/point/{row}"),
                    Request("GET", f"/api/space/0/search?q=w{row % 10}&mode=prefix&limit=20"),
                ]
            )

        # 2. ordinary requests timed while two threads send hostile regexes
        stop = threading.Event()
        regex_answers = Counter()

        def attacker(pattern: str) -> None:
            while not stop.is_set():
                status, _, _ = fetch(host, port, Request("GET", f"/api/space/0/search?q={_q(pattern)}&mode=regex"))
                regex_answers[status] += 1

        threads = [threading.Thread(target=attacker, args=(p,), daemon=True) for p in HOSTILE_REGEXES[:2]]
        for t in threads:
            t.start()
        time.sleep(0.5)
        under_attack = []
        for _ in range(latency_requests):
            status, _, seconds = fetch(
                host, port, Request("GET", f"/api/space/0/neighbors?row={rng.randrange(n)}&k=10")
            )
            if status == 200:
                under_attack.append(seconds)
        stop.set()
        for t in threads:
            t.join(60)
        # 3. load: `requests` ordinary requests from `clients` threads, RSS before and after
        rss_before = rss(proc.pid)
        plan = [ordinary() for _ in range(requests)]
        times: list[float] = []
        errors = Counter()
        lock = threading.Lock()

        def client(part: list[Request]) -> None:
            for req in part:
                status, _, seconds = fetch(host, port, req)
                with lock:
                    if status == 200:
                        times.append(seconds)
                    else:
                        errors[status] += 1

        t0 = time.perf_counter()
        workers = [threading.Thread(target=client, args=(plan[i::clients],)) for i in range(clients)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        load_s = time.perf_counter() - t0
        rss_after = rss(proc.pid)
    finally:
        stop_server(proc)
    return {
        "hostile": {
            "requests": hostile,
            "seconds": round(hostile_s, 1),
            "statuses": dict(statuses),
            "routes": routes,
            "bad": bad,
        },
        "under_regex_attack": {
            "requests": latency_requests,
            "answered": len(under_attack),
            "p50_ms": round(percentile(under_attack, 50) * 1e3, 1),
            "p99_ms": round(percentile(under_attack, 99) * 1e3, 1),
            "max_ms": round(max(under_attack, default=float("nan")) * 1e3, 1),
            "regex_answers": {str(k): v for k, v in regex_answers.items()},
        },
        "load": {
            "requests": requests,
            "clients": clients,
            "seconds": round(load_s, 2),
            "errors": {str(k): v for k, v in errors.items()},
            "p50_ms": round(percentile(times, 50) * 1e3, 1),
            "p99_ms": round(percentile(times, 99) * 1e3, 1),
            "rss_before_mb": round(rss_before / 2**20, 1),
            "rss_after_mb": round(rss_after / 2**20, 1),
        },
    }


# ---- the command ------------------------------------------------------------------------------------------------
def _table(header: list[str], rows: list[list]) -> str:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import table

    return table(header, [[str(c) for c in r] for r in rows])


def files_table(cases: list[Case]) -> str:
    rows = []
    for name, counts in summarize(cases, lambda c: c.file).items():
        damages = len({c.damage for c in cases if c.file == name})
        rows.append([name, damages, sum(counts.values()), *(counts.get(o, 0) for o in OUTCOMES)])
    return _table(["file", "damages", "cases (x readers)", *OUTCOMES], rows)


def readers_table(cases: list[Case]) -> str:
    rows = [
        [r, sum(c.values()), *(c.get(o, 0) for o in OUTCOMES)] for r, c in summarize(cases, lambda c: c.reader).items()
    ]
    return _table(["reader", "cases", *OUTCOMES], rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=40, help="random truncations and bit flips per file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--space", type=Path, help="an existing .space to fuzz (hard-linked, never changed)")
    parser.add_argument("--workdir", type=Path, help="where the damaged copies go (default: a temporary folder)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds before a case counts as a hang")
    parser.add_argument("--json-fields", type=int, default=0, help="JSON field edits per file (0: all)")
    parser.add_argument("--hostile", type=int, default=600, help="hostile requests to the server")
    parser.add_argument("--requests", type=int, default=2000, help="ordinary requests for the load test")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--latency-requests", type=int, default=300, help="timed requests under regex attack")
    parser.add_argument("--no-files", action="store_true")
    parser.add_argument("--no-server", action="store_true")
    here = Path(__file__).resolve().parent / "results"
    parser.add_argument("--json", type=Path, default=here / "fuzz.json")
    parser.add_argument("--md", type=Path, default=here / "fuzz.md")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import embspace
    from _common import machine, print_machine

    info = machine()
    print_machine(info)
    command = "python benchmarks/fuzz_space.py " + " ".join(argv if argv is not None else sys.argv[1:])
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        tmp = Path(tmp)
        if args.space:
            pristine = clone(args.space.resolve(), tmp / "pristine.space")
            before = _fingerprint(args.space)
            complete_space(pristine)
        else:
            pristine = make_space(tmp / "pristine.space")
        space = embspace.load(pristine, verify=False)
        described = f"{space.n:,} x {space.dim}" + (f" from {args.space}" if args.space else " (made here)")
        result: dict = {"machine": info, "command": command, "space": described}
        lines = ["# Fuzzing a space folder and the explorer\n", f"`{command}` — space {described}\n"]
        if not args.no_files:
            fuzz = FileFuzz(pristine, tmp / "cases", args.seed, args.cases, args.timeout, args.json_fields or None)
            cases: list[Case] = []
            t0 = time.perf_counter()
            for name in space_files(pristine):
                start = len(cases)
                cases += fuzz.run_file(name)
                counts = Counter(c.outcome for c in cases[start:])
                print(f"{name}: {len(cases) - start} cases, {dict(counts)}", flush=True)
            seconds = time.perf_counter() - t0
            bad = failures(cases)
            lines += [
                f"## Damaged files ({len(cases):,} cases in {seconds:.0f} s)\n",
                files_table(cases),
                "",
                readers_table(cases),
                "",
            ]
            if bad:
                lines += ["### Cases that failed\n", "```", describe(bad, 200), "```", ""]
            result["files"] = {
                "seconds": round(seconds, 1),
                "by_file": {k: dict(v) for k, v in summarize(cases, lambda c: c.file).items()},
                "by_reader": {k: dict(v) for k, v in summarize(cases, lambda c: c.reader).items()},
                "failures": [c.__dict__ for c in bad],
            }
            print(files_table(cases), readers_table(cases), sep="\n\n")
            if bad:
                print(describe(bad))
        if not args.no_server:
            out = server_bench(pristine, args.seed, args.hostile, args.requests, args.clients, args.latency_requests)
            result["server"] = out
            h, a, ld = out["hostile"], out["under_regex_attack"], out["load"]
            lines += [
                "## The explorer\n",
                _table(
                    ["part", "requests", "result"],
                    [
                        ["hostile requests", h["requests"], f"statuses {h['statuses']}, {len(h['bad'])} bad"],
                        [
                            "neighbours while 2 threads send hostile regexes",
                            a["answered"],
                            f"p50 {a['p50_ms']} ms, p99 {a['p99_ms']} ms, max {a['max_ms']} ms",
                        ],
                        [
                            f"load, {ld['clients']} clients",
                            ld["requests"],
                            f"p50 {ld['p50_ms']} ms, p99 {ld['p99_ms']} ms, RSS {ld['rss_before_mb']} -> "
                            f"{ld['rss_after_mb']} MiB, errors {ld['errors']}",
                        ],
                    ],
                ),
                "",
            ]
            rows = [[r, v["requests"], v["ok"], v["bad"], v["slowest_s"]] for r, v in sorted(h["routes"].items())]
            lines += [
                "Hostile requests per route (ok: a 2xx/4xx answer of the expected content type; bad: a 5xx, another "
                "content type, or no answer):\n",
                _table(["route", "requests", "ok", "bad", "slowest (s)"], rows),
                "",
            ]
            if h["bad"]:
                lines += ["```", *h["bad"][:50], "```", ""]
            print(json.dumps(out, indent=1))
        if args.space and _fingerprint(args.space) != before:
            raise SystemExit(f"{args.space} changed during the run")
    args.md.parent.mkdir(parents=True, exist_ok=True)
    args.md.write_text("\n".join(lines))
    args.json.write_text(json.dumps(result, indent=1, default=str) + "\n")
    print(f"wrote {args.md} and {args.json}")
    bad_files = len(result.get("files", {}).get("failures", []))
    bad_server = len(result.get("server", {}).get("hostile", {}).get("bad", []))
    return 1 if bad_files or bad_server else 0


def _fingerprint(path: Path) -> dict:
    """Size and mtime of every file of a folder (to check that --space was left as it was)."""
    return {f: (os.stat(path / f).st_size, os.stat(path / f).st_mtime_ns) for f in space_files(path)}


if __name__ == "__main__":
    sys.exit(main())
