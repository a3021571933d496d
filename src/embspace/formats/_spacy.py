"""spaCy's vectors folder (``vectors``, ``key2row``, ``strings.json``) read as data, without spaCy.

A spaCy pipeline such as ``fr_core_news_md`` keeps its word vectors as a plain ``.npy`` table and a
msgpack map from a word's 64-bit key to its row; the key is MurmurHash64A of the word's UTF-8 bytes
with seed 1, and ``strings.json`` lists the words. Pruned pipelines map many keys onto one row: the
first key of each row in ``key2row`` (which spaCy writes in frequency order) is the row's own word,
the later ones are rarer words that were given the nearest kept vector. Nothing here executes code
from the files: no pickle, no spaCy.
"""

from __future__ import annotations

import json
import os
import struct
import time
from pathlib import Path

import numpy as np

from ..errors import FormatError
from ..space import Space

_M = np.uint64(0xC6A4A7935BD1E995)
_R = np.uint64(47)
SPACY_FILES = ("vectors", "key2row", "strings.json")


def murmurhash64a(words: list[str], seed: int = 1) -> np.ndarray:
    """MurmurHash64A (Austin Appleby) of each word's UTF-8 bytes, as spaCy's ``hash_string`` computes it.

    Returns an ndarray of shape (len(words),), uint64. Vectorised over words of the same number of
    8-byte blocks; uint64 products wrap as in C.
    """
    encoded = [w.encode("utf-8", "surrogatepass") for w in words]
    lengths = np.fromiter((len(e) for e in encoded), dtype=np.uint64, count=len(encoded))
    out = np.empty(len(encoded), dtype=np.uint64)
    blocks_of = lengths // np.uint64(8)
    with np.errstate(over="ignore"):
        for nblocks in np.unique(blocks_of):
            rows = np.flatnonzero(blocks_of == nblocks)
            width = (int(nblocks) + 1) * 8  # the full blocks, then the tail padded with zeros
            packed = np.array([encoded[i] for i in rows], dtype=f"S{width}")  # zero-padded to `width` bytes
            blocks = packed.view("<u8").reshape(len(rows), int(nblocks) + 1)
            h = np.uint64(seed) ^ (lengths[rows] * _M)
            for j in range(int(nblocks)):
                k = blocks[:, j] * _M
                k ^= k >> _R
                k *= _M
                h ^= k
                h *= _M
            has_tail = (lengths[rows] & np.uint64(7)) != 0
            h = np.where(has_tail, (h ^ blocks[:, -1]) * _M, h)
            h ^= h >> _R
            h *= _M
            h ^= h >> _R
            out[rows] = h
    return out


def read_uint_map(data: bytes, where: str = "key2row") -> tuple[np.ndarray, np.ndarray]:
    """A msgpack map of unsigned integers to unsigned integers, as (keys uint64, values int64) in file order.

    Only what spaCy writes is accepted (a map whose keys and values are positive integers); anything else
    is a FormatError naming the byte offset.
    """
    if not data:
        raise FormatError(f"{where}: empty file; expected a msgpack map of keys to rows")
    head = data[0]
    if head == 0xDF and len(data) >= 5:
        count, pos = struct.unpack_from(">I", data, 1)[0], 5
    elif head == 0xDE and len(data) >= 3:
        count, pos = struct.unpack_from(">H", data, 1)[0], 3
    elif 0x80 <= head <= 0x8F:
        count, pos = head & 0x0F, 1
    else:
        raise FormatError(f"{where}: starts with byte 0x{head:02x}; expected a msgpack map of keys to rows")
    if count > len(data) // 2:
        raise FormatError(f"{where}: claims {count:,} entries in {len(data):,} bytes; the file is truncated")
    numbers: list[int] = []
    append, u64 = numbers.append, _U64.unpack_from
    try:
        for _ in range(2 * count):  # key, value, key, value...; the common forms inline (a million in ~1 s)
            byte = data[pos]
            if byte == 0xCF:
                append(u64(data, pos + 1)[0])
                pos += 9
            elif byte < 0x80:
                append(byte)
                pos += 1
            elif byte == 0xCD:
                append(data[pos + 1] << 8 | data[pos + 2])
                pos += 3
            else:
                value, pos = _uint(data, pos, where)
                append(value)
    except (struct.error, IndexError):
        raise FormatError(f"{where}: truncated after {pos:,} bytes of {count:,} entries") from None
    if pos != len(data):
        raise FormatError(f"{where}: {len(data) - pos:,} bytes follow the map; expected the map alone")
    pairs = np.array(numbers, dtype=np.uint64).reshape(count, 2)
    return np.ascontiguousarray(pairs[:, 0]), pairs[:, 1].astype(np.int64)


_U64 = struct.Struct(">Q")
_UINT = {0xCC: (">B", 1), 0xCD: (">H", 2), 0xCE: (">I", 4), 0xCF: (">Q", 8)}


def _uint(data: bytes, pos: int, where: str) -> tuple[int, int]:
    byte = data[pos]
    if byte < 0x80:
        return byte, pos + 1
    if byte in _UINT:
        fmt, size = _UINT[byte]
        return struct.unpack_from(fmt, data, pos + 1)[0], pos + 1 + size
    raise FormatError(f"{where}: byte 0x{byte:02x} at offset {pos:,} is not an unsigned integer")


def read_spacy_vectors(folder: str | os.PathLike, *, lowercase: bool = False, limit: int | None = None) -> Space:
    """A word space from a spaCy vectors folder (e.g. ``fr_core_news_md/vocab``): one row per vector.

    Parameters
    ----------
    folder : path
        Holding ``vectors`` (.npy, float32 (n, dim)), ``key2row`` (msgpack) and ``strings.json``.
    lowercase : bool
        Keep only the first (most frequent) row of each lowercased word, with the lowercased id
        (for matching a lowercased space such as GloVe).
    limit : int, optional
        Keep only the first `limit` rows (frequency order).

    Returns
    -------
    Space with ids = each row's own word (frequency order), metric cosine; ``info["aliases"]`` counts the
    rarer words spaCy mapped onto kept rows (not made rows here: they would be duplicate vectors).
    """
    start = time.perf_counter()
    root = Path(folder)
    missing = [name for name in SPACY_FILES if not (root / name).is_file()]
    if missing:
        raise FormatError(
            f"{root}: no {', '.join(missing)}; expected a spaCy vectors folder ({', '.join(SPACY_FILES)})"
        )
    try:
        table = np.load(root / "vectors", allow_pickle=False, mmap_mode="r")
    except ValueError as exc:
        raise FormatError(f"{root / 'vectors'}: not a .npy array ({exc})") from None
    if table.ndim != 2 or table.dtype.kind != "f":
        raise FormatError(f"{root / 'vectors'}: holds {table.dtype} of shape {table.shape}; expected float (n, dim)")
    keys, rows = read_uint_map((root / "key2row").read_bytes(), str(root / "key2row"))
    if len(rows) and (rows.min() < 0 or rows.max() >= table.shape[0]):
        raise FormatError(f"{root / 'key2row'}: names row {int(rows.max())} of a {table.shape[0]}-row table")
    try:
        strings = json.loads((root / "strings.json").read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormatError(f"{root / 'strings.json'}: not JSON ({exc})") from None
    if not isinstance(strings, list) or not all(isinstance(s, str) for s in strings):
        raise FormatError(f"{root / 'strings.json'}: expected a list of strings")
    hashes = murmurhash64a(strings)
    by_hash = np.argsort(hashes)
    _, first = np.unique(rows, return_index=True)  # each row's first key: the row's own word
    first = np.sort(first)  # key2row order: frequency order
    where = np.searchsorted(hashes[by_hash], keys[first]).clip(max=len(strings) - 1)
    known = hashes[by_hash][where] == keys[first]
    own = {int(rows[f]): strings[int(by_hash[w])] for f, w, ok in zip(first, where, known) if ok}
    order = list(own)
    ids, kept, seen = [], [], set()
    for row in order:
        word = own[row].lower() if lowercase else own[row]
        if not word or word in seen:
            continue
        seen.add(word)
        ids.append(word)
        kept.append(row)
        if limit and len(ids) >= limit:
            break
    if not ids:
        raise FormatError(f"{root}: no row's key matches a word of strings.json; is this a spaCy vectors folder?")
    vectors = np.ascontiguousarray(table[np.array(kept)], dtype=np.float32)
    info = {
        "name": root.parent.name if root.name == "vocab" else root.name,
        "builder": "import",
        "format": "spacy-vectors",
        "source": str(root),
        "order": "frequency",
        "lowercase": lowercase,
        "rows_in_table": int(table.shape[0]),
        "keys": int(len(keys)),
        "aliases": int(len(keys) - len(first)),
        "rows_without_word": int(table.shape[0] - len(own)),
        "seconds": round(time.perf_counter() - start, 3),
    }
    return Space(ids, vectors, info=info, metric="cosine")
