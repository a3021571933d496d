"""fastText's binary model (``.bin``, import only): word vectors plus the sub-word (character n-gram) buckets.

Read by gensim's ``load_facebook_vectors``, which parses the binary with struct and numpy (no
pickle). The buckets become ``extras["subwords"]`` and the n-gram settings ``info["subwords"]``,
as `embspace.words.build(method="fasttext")` stores them, so words outside the vocabulary get a
vector (see embspace._subwords). Words that are not UTF-8 meet the import's `Decoder`, through a
codec handed to gensim for the one load.
"""

from __future__ import annotations

import codecs
import math
import struct
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._install import install_hint
from .._spelling import spell
from ..errors import EmbspaceError, FormatError
from ._io import Decoder

MAGIC = 793712314  # fastText >= 0.2 starts its files with this int32, then the version (11 or 12)
# The model's settings (fastText's args.cc), native little-endian; older files start with them.
_SETTINGS = struct.Struct("<12id")
_NAMES = (
    "dim",
    "ws",
    "epoch",
    "min_count",
    "neg",
    "word_ngrams",
    "loss",
    "model",
    "bucket",
    "minn",
    "maxn",
    "lr_update_rate",
    "t",
)
_MODELS = {1: "cbow", 2: "skipgram", 3: "supervised"}
_LOSSES = {1: "hs", 2: "ns", 3: "softmax", 4: "ova"}
HEAD_BYTES = 8 + _SETTINGS.size


def fasttext_settings(head: bytes) -> dict | None:
    """The model settings if `head` (at least the first `HEAD_BYTES` of a file) opens a fastText .bin, else None."""
    if len(head) >= 8 and struct.unpack_from("<i", head)[0] == MAGIC:
        offset, trust = 8, True
    else:  # fastText before 0.2 (2017) wrote no magic number: the settings come first, dim first
        offset, trust = 0, False
    if len(head) < offset + _SETTINGS.size:
        return None
    settings = dict(zip(_NAMES, _SETTINGS.unpack_from(head, offset)))
    return settings if trust or _plausible(settings) else None


def _plausible(s: dict) -> bool:
    return (
        1 <= s["dim"] <= 100_000
        and 1 <= s["ws"] <= 10_000
        and 1 <= s["epoch"] <= 1_000_000
        and s["min_count"] >= 0
        and 0 <= s["neg"] <= 100_000
        and 1 <= s["word_ngrams"] <= 100
        and s["loss"] in _LOSSES
        and s["model"] in _MODELS
        and 0 <= s["bucket"]
        and 0 <= s["minn"] <= 1_000
        and 0 <= s["maxn"] <= 1_000
        and s["lr_update_rate"] >= 1
        and math.isfinite(s["t"])
        and 0 <= s["t"] <= 1
    )


def sniff_fasttext_bin(path: Path) -> dict | None:
    """The settings of the fastText model in `path`, or None when it is not one."""
    with open(path, "rb") as fh:
        return fasttext_settings(fh.read(HEAD_BYTES))


def not_this_format(path: Path, fmt: str) -> FormatError:
    """The error for a fastText .bin given to another reader."""
    return FormatError(f"{path}: is a fastText .bin model, not {fmt}; use {spell('format', 'fasttext-bin')}")


@dataclass
class FastTextVectors:
    ids: list[str]
    vectors: np.ndarray  # (n, dim) float32: fastText's word vectors (the word's own + its n-grams, averaged)
    counts: list[int]
    buckets: np.ndarray  # (n_buckets, dim) float32, empty when the model has no sub-words
    subwords: dict  # min_n, max_n, buckets: as embspace.words.build(method="fasttext") records them
    settings: dict  # the training settings read from the file


def read_fasttext_bin(
    path: Path, *, limit: int | None = None, decode: Decoder | None = None, max_dim: int | None = None
) -> FastTextVectors:
    """Read a fastText .bin model (the first `limit` words, and every bucket).

    Settings that promise more than the file can hold (``bucket × dim`` float32s beyond its size),
    or more than `max_dim` dimensions, are refused before gensim allocates anything.
    """
    settings = sniff_fasttext_bin(path)
    if settings is None:
        raise FormatError(
            f"{path}: is not a fastText .bin model (neither fastText's magic number nor its settings open it); "
            f"for binary word2vec use {spell('format', 'word2vec-binary')}"
        )
    if settings["model"] == 3:
        raise FormatError(
            f"{path}: is a supervised fastText model (a classifier), which gensim does not read; "
            f"use the .vec of its word vectors ({spell('format', 'fasttext-vec')})"
        )
    if path.suffix == ".ftz":
        raise FormatError(f"{path}: is a quantised fastText model (.ftz), which cannot be read; use the .bin")
    if max_dim is not None and settings["dim"] > max_dim:
        raise FormatError(
            f"{path}: its settings say {settings['dim']:,} dimensions; more than the {max_dim:,} allowed: "
            f"raise the cap with {spell('max_dim', metavar='N')} if it really is that wide"
        )
    size = path.stat().st_size
    if settings["bucket"] * settings["dim"] * 4 > size:
        raise FormatError(
            f"{path}: its settings say {settings['bucket']:,} sub-word buckets of {settings['dim']} dimensions, "
            f"more than its {size:,} bytes can hold; the file is truncated or damaged"
        )
    load_facebook_vectors = _gensim_loader()
    words = _WordDecoding(decode or Decoder(), path)
    try:
        with words:
            kv = load_facebook_vectors(str(path), encoding=_CODEC)
    except Exception as exc:
        if words.refused is not None:  # a word that is not UTF-8 (Python wraps a codec's own errors)
            raise words.refused from None
        if not isinstance(exc, (AssertionError, struct.error, ValueError, EOFError, NotImplementedError, MemoryError)):
            raise
        if words.decode.undecodable:  # gensim keys its vocabulary by word: two words became one
            raise FormatError(
                f"{path}: its words are not UTF-8, and with their bad bytes {words.decode.errors}d two of them "
                f"become the same word, which the model cannot hold; re-save the model with UTF-8 words"
            ) from None
        detail = str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__
        raise FormatError(
            f"{path}: not a readable fastText .bin ({detail}); the file is truncated or damaged"
        ) from None
    n = len(kv.index_to_key) if limit is None else min(limit, len(kv.index_to_key))
    counts = np.asarray(kv.expandos["count"][:n]).tolist() if "count" in kv.expandos else [0] * n
    has_subwords = kv.bucket > 0 and kv.max_n >= kv.min_n > 0
    return FastTextVectors(
        ids=list(kv.index_to_key[:n]),
        vectors=np.ascontiguousarray(kv.vectors[:n], dtype=np.float32),
        counts=[int(c) for c in counts],
        buckets=np.ascontiguousarray(kv.vectors_ngrams, dtype=np.float32)
        if has_subwords
        else np.empty((0, kv.vector_size), np.float32),
        subwords={"min_n": int(kv.min_n), "max_n": int(kv.max_n), "buckets": int(kv.bucket)} if has_subwords else {},
        settings={
            "model": _MODELS.get(settings["model"], settings["model"]),
            "loss": _LOSSES.get(settings["loss"], settings["loss"]),
            **{k: settings[k] for k in ("dim", "ws", "epoch", "min_count", "neg", "word_ngrams", "t")},
        },
    )


def _gensim_loader():
    try:
        from gensim.models.fasttext import load_facebook_vectors
    except ImportError:
        raise EmbspaceError(f"reading fastText .bin models needs gensim: {install_hint('gensim')}") from None
    return load_facebook_vectors


# ---- words through the import's Decoder -----------------------------------------------------------
# gensim decodes each word with `bytes.decode(encoding)` and, on a UnicodeDecodeError, falls back to
# backslash escapes. The codec below never raises that error: it refuses with a FormatError
# (strict) or replaces and counts (replace, ignore), as the Decoder of this load says.
_CODEC = "embspace_fasttext_words"
_active = threading.local()


def _decode_word(data, errors: str = "strict") -> tuple[str, int]:
    raw = bytes(data)
    try:
        return raw.decode("utf-8"), len(raw)
    except UnicodeDecodeError:
        words = _active.words
        if words.decode.strict:
            words.refused = FormatError(
                f"{words.path}: the word {raw[:40]!r} is not UTF-8; re-save the model with UTF-8 words, "
                f"or read it with {spell('encoding_errors', 'replace')} (bad bytes become U+FFFD)"
            )
            raise words.refused from None
        return words.decode(raw, words.path, 1), len(raw)


def _search(name: str):
    if name != _CODEC:
        return None
    return codecs.CodecInfo(name=_CODEC, encode=codecs.utf_8_encode, decode=_decode_word)


codecs.register(_search)


class _WordDecoding:
    """The Decoder the codec uses while one model loads, and the refusal it raised, if any."""

    def __init__(self, decode: Decoder, path: Path):
        self.decode, self.path = decode, path
        self.refused: FormatError | None = None

    def __enter__(self):
        _active.words = self

    def __exit__(self, *exc):
        _active.words = None
