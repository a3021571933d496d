"""Import and export of embedding spaces in the formats other tools use.

========================  ===============================================================
format                    files
========================  ===============================================================
``glove``                 text, ``word v1 ... vd`` per line, no header
``word2vec``              text, a ``COUNT DIM`` header line, then rows as in GloVe
``fasttext-vec``          fastText's ``.vec``: the same layout as ``word2vec``
``word2vec-binary``       ``COUNT DIM\\n`` then ``word<space>`` + dim little-endian float32
``tsv``                   TensorBoard projector: ``vecs.tsv`` (numbers) + ``meta.tsv`` (labels);
                          a space of images adds ``sprite.png`` and ``projector_config.json/.pbtxt``
``numpy``                 ``x.npy`` (float array, never pickled) + ``x.ids.txt`` (one id per line)
``parquet``               columns ``id`` (string), ``vector`` (fixed_size_list<float32>[dim]), meta
``fasttext-bin``          import only: fastText's ``.bin`` model, word vectors + sub-word buckets
========================  ===============================================================

Text files are streamed and parsed in blocks; bad input raises :class:`FormatError` naming the
file and line. Writes go to a temporary file beside the target and are moved into place whole.
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._files import atomic_files, finish, make_parents
from .._install import install_hint
from .._rowblocks import id_blocks, id_slice, space_blocks
from .._spelling import spell
from ..errors import EmbspaceError, FormatError, SpaceError
from ..space import Space
from . import _arrays as arrays
from . import _tsv as tsv
from ._binary import read_word2vec_binary, write_word2vec_binary_blocks
from ._fasttext_bin import read_fasttext_bin
from ._io import (
    NEWLINES,
    WHITESPACE,
    Decoder,
    FormatNote,
    check_ids_free_of,
    encode_ids,
    existing_file,
    source_info,
)
from ._text import MAX_DIM, binary_hints, duplicate_word, read_text, write_text_blocks

FORMATS = ("glove", "word2vec", "word2vec-binary", "fasttext-vec", "tsv", "numpy", "parquet")  # in and out
IMPORT_FORMATS = (*FORMATS, "fasttext-bin", "spacy-vectors")  # spacy-vectors: a folder (vectors, key2row, strings.json)
_TEXT_HEADER = {"glove": False, "word2vec": True, "fasttext-vec": True}
STREAMED_FORMATS = (*_TEXT_HEADER, "word2vec-binary", "tsv", "numpy", "parquet")  # import_file: block by block


def read(
    path: str | os.PathLike,
    format: str,
    *,
    ids: str | os.PathLike | None = None,
    meta: str | os.PathLike | None = None,
    limit: int | None = None,
    encoding_errors: str = "strict",
    show_progress: bool | None = None,
    max_dim: int = MAX_DIM,
) -> Space:
    """Import a space from a file in one of :data:`IMPORT_FORMATS`.

    Parameters
    ----------
    path : path
        The vectors file (``vecs.tsv`` for ``tsv``, the ``.npy`` for ``numpy``); for ``tsv`` and
        ``numpy`` also a folder written by :func:`write`.
    format : str
        One of :data:`IMPORT_FORMATS`. ``fasttext-bin`` (read by gensim) keeps the model's sub-word
        buckets, so ``space.vector(word)`` answers for words outside the vocabulary too.
    ids : path, optional
        ``numpy`` only: the ids file, one per line (default: ``<stem>.ids.txt`` or ``ids.txt`` beside).
    meta : path, optional
        ``tsv`` only: the projector metadata file (default: ``meta.tsv`` beside ``vecs.tsv``).
    limit : int, optional
        Read only the first `limit` rows.
    encoding_errors : {"strict", "replace", "ignore"}
        Words and labels that are not UTF-8: refused with their file and line (the default), or
        read with each bad byte sequence replaced by U+FFFD or dropped, as gensim's
        ``unicode_errors``. The bytes replaced or dropped are counted per file in
        ``info["undecodable_bytes"]``.
    show_progress : bool, optional
        A progress bar in bytes on stderr; by default on only where the CLI enabled progress.
    max_dim : int
        Text, word2vec-binary and fasttext-bin files: the most dimensions a header may declare or a
        first row may hold (10,000 by default); a wider file is refused before it is parsed. Raise it for a file
        that really is that wide.

    Returns
    -------
    Space
        ``vectors`` float32 of shape (n, dim); ``info`` records the format and the source file
        (path, size in bytes and, when the whole file was read, its sha256).

    Examples
    --------
    >>> space = read("glove.6B.50d.txt", "glove")  # doctest: +SKIP
    """
    fmt = _check_format(format, IMPORT_FORMATS)
    path = Path(path)
    _check_limits(limit, max_dim)
    _check_side_files(fmt, ids, meta)
    decode = Decoder(encoding_errors, more=binary_hints() if fmt in _TEXT_HEADER else ())
    extras: dict[str, np.ndarray] = {}
    more_info: dict[str, Any] = {}
    start = time.perf_counter()
    checked = fmt in _TEXT_HEADER or fmt == "word2vec-binary"  # these readers check rows, NaN and duplicates
    if fmt in _TEXT_HEADER:
        existing_file(path)
        got = read_text(
            path,
            fmt,
            header=_TEXT_HEADER[fmt],
            with_ids=True,
            limit=limit,
            show_progress=show_progress,
            decode=decode,
            max_dim=max_dim,
        )
        item_ids, vectors, columns, source = got.ids, got.vectors, {}, source_info(path, got.sha256)
    elif fmt == "word2vec-binary":
        existing_file(path)
        item_ids, vectors, sha256, _ = read_word2vec_binary(
            path, limit=limit, show_progress=show_progress, decode=decode, max_dim=max_dim
        )
        columns, source = {}, source_info(path, sha256)
    elif fmt == "tsv":
        item_ids, vectors, columns, source = _read_tsv(path, meta, limit, show_progress, decode, max_dim)
    elif fmt == "numpy":
        item_ids, vectors, columns, source = _read_numpy(path, ids, limit, decode)
    elif fmt == "fasttext-bin":
        existing_file(path)
        model = read_fasttext_bin(path, limit=limit, decode=decode, max_dim=max_dim)
        item_ids, vectors, columns = model.ids, model.vectors, {"count": model.counts}
        source = source_info(path, hash_if_cheap=True)
        extras = {"subwords": model.buckets} if model.subwords else {}
        more_info = {"order": "frequency", "fasttext": model.settings}
        if model.subwords:
            more_info["subwords"] = model.subwords
    elif fmt == "spacy-vectors":  # a spaCy vectors folder, read as data (no spaCy, no code run)
        from ._spacy import read_spacy_vectors

        got = read_spacy_vectors(path, limit=limit)
        item_ids, vectors, columns, checked = got.ids, got.vectors, {}, True
        source = {"path": str(path.resolve()), "size": sum(f.stat().st_size for f in path.iterdir() if f.is_file())}
        more_info = {key: got.info[key] for key in ("order", "keys", "aliases", "rows_in_table", "rows_without_word")}
    else:
        existing_file(path)
        item_ids, vectors, columns = arrays.read_parquet(path, limit)
        source = source_info(path, hash_if_cheap=limit is None)
    info: dict[str, Any] = {"builder": "import", "format": fmt, "source": source, "name": _name(path), **more_info}
    if limit is not None:
        info["limit"] = limit
    if not decode.strict:
        info["encoding_errors"] = encoding_errors
        info["undecodable_bytes"] = decode.undecodable
    info["seconds"] = round(time.perf_counter() - start, 3)
    try:
        space = Space(item_ids, vectors, columns, info, check=not checked)
    except SpaceError as exc:
        raise FormatError(f"{path}: {exc}") from None
    space.extras.update(extras)
    return space


def _check_side_files(fmt: str, ids, meta) -> None:
    """`ids` (an ids file) belongs to numpy files only, `meta` (a meta.tsv) to tsv only."""
    if ids is not None and fmt != "numpy":
        raise FormatError(
            f"{spell('ids')} applies to {spell('format', 'numpy')} only; {fmt!r} files carry their own ids"
        )
    if meta is not None and fmt != "tsv":
        raise FormatError(
            f"{spell('meta')} applies to {spell('format', 'tsv')} only; {fmt!r} files carry their own ids"
        )


def import_file(
    path: str | os.PathLike,
    format: str,
    output: str | os.PathLike,
    *,
    limit: int | None = None,
    encoding_errors: str = "strict",
    show_progress: bool | None = None,
    max_dim: int = MAX_DIM,
    metric: str = "cosine",
    overwrite: bool = False,
    ids: str | os.PathLike | None = None,
    meta: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Import a file of vectors in one of :data:`STREAMED_FORMATS` straight into the ``.space`` folder
    `output`, a block at a time.

    The same checks and errors as :func:`read` (header count, row widths, NaN, duplicate words with both
    line numbers, `limit`), but memory holds one block (about 16 MiB of text, or of a ``.npy``'s rows) plus the
    writer's 16 bytes per row for the id index, never the whole file, so a file larger than memory imports.
    ``numpy`` reads its ids file whole (`ids`, as in :func:`read`) and ``tsv`` its meta.tsv (`meta`): a list of
    n strings (and the meta columns), the vectors still a block at a time. The folder is published whole at the
    end, or not at all (``embspace.store.SpaceWriter``); `overwrite` replaces an existing space. Returns
    ``{"n", "dim", "info"}``.

    Examples
    --------
    >>> import_file("glove.840B.300d.txt", "glove", "glove-840b.space")  # doctest: +SKIP
    """
    from ..store import DuplicateIdError, SpaceWriter

    fmt = _check_format(format, STREAMED_FORMATS)
    path = Path(path)
    _check_limits(limit, max_dim)
    _check_side_files(fmt, ids, meta)
    if fmt == "numpy":
        return _import_numpy(path, output, ids, limit, Decoder(encoding_errors), metric, overwrite)
    if fmt == "tsv":
        decode = Decoder(encoding_errors)
        return _import_tsv(path, output, meta, limit, show_progress, decode, max_dim, metric, overwrite)
    if fmt == "parquet":
        return _import_parquet(path, output, limit, metric, overwrite)
    existing_file(path)
    if fmt == "word2vec-binary":
        decode = Decoder(encoding_errors)
        return _import_word2vec_binary(path, output, limit, show_progress, decode, max_dim, metric, overwrite)
    decode = Decoder(encoding_errors, more=binary_hints())
    header = _TEXT_HEADER[fmt]
    start = time.perf_counter()
    writers: list[SpaceWriter] = []
    try:
        with contextlib.ExitStack() as stack:

            def sink(ids: list[str], vectors: np.ndarray) -> None:
                if not writers:  # the dimension is known from the first block
                    writer = SpaceWriter(output, vectors.shape[1], metric=metric, overwrite=overwrite)
                    writers.append(stack.enter_context(writer))
                writers[0].append(ids, vectors)

            got = read_text(
                path,
                fmt,
                header=header,
                with_ids=True,
                limit=limit,
                show_progress=show_progress,
                decode=decode,
                max_dim=max_dim,
                sink=sink,
            )
            info: dict[str, Any] = {"builder": "import", "format": fmt, "source": source_info(path, got.sha256)}
            info["name"] = _name(path)
            if limit is not None:
                info["limit"] = limit
            if not decode.strict:
                info["encoding_errors"] = encoding_errors
                info["undecodable_bytes"] = decode.undecodable
            info["seconds"] = round(time.perf_counter() - start, 3)
            writers[0].info = info
    except DuplicateIdError as exc:  # found when the writer closes, from a hash of each id
        raise duplicate_word(path, 2 if header else 1, exc.first_row, exc.second_row, exc.item, decode) from None
    return {"n": got.rows, "dim": writers[0].dim, "info": info}


def _import_numpy(path: Path, output, ids, limit: int | None, decode: Decoder, metric: str, overwrite: bool) -> dict:
    """A ``.npy`` (memory-mapped, its header checked first: never a pickle) and its ids file into `output`, the
    vectors a block at a time."""
    from .._rowblocks import vector_blocks
    from ..store import SpaceWriter

    start = time.perf_counter()
    npy = arrays.npy_paths(path)[0] if path.is_dir() else path
    existing_file(npy)
    ids_path = arrays.find_ids_file(npy, ids)
    matrix, total = arrays.open_npy(npy)
    item_ids = arrays.read_ids_file(ids_path, decode)
    if len(item_ids) != total:
        raise FormatError(f"{ids_path}: {len(item_ids)} ids for the {total} rows of {npy}; give exactly one id per row")
    rows = total if limit is None else min(limit, total)
    with SpaceWriter(output, matrix.shape[1], metric=metric, overwrite=overwrite) as writer:
        for first, block in vector_blocks(matrix[:rows]):
            writer.append(item_ids[first : first + len(block)], arrays.float32_rows(block, npy, first))
        source = source_info(npy, hash_if_cheap=limit is None)
        source["ids"] = source_info(ids_path, hash_if_cheap=True)
        info: dict[str, Any] = {"builder": "import", "format": "numpy", "source": source, "name": _name(path)}
        if limit is not None:
            info["limit"] = limit
        if not decode.strict:
            info["encoding_errors"] = decode.errors
            info["undecodable_bytes"] = decode.undecodable
        info["seconds"] = round(time.perf_counter() - start, 3)
        writer.info = info
    return {"n": rows, "dim": matrix.shape[1], "info": info}


def _import_word2vec_binary(
    path: Path, output, limit, show_progress, decode: Decoder, max_dim: int, metric: str, overwrite: bool
) -> dict:
    """A binary word2vec file into `output`, 16 MiB of the file at a time."""
    from ..store import DuplicateIdError, SpaceWriter

    start = time.perf_counter()
    writers: list[SpaceWriter] = []
    rows = [0]
    try:
        with contextlib.ExitStack() as stack:

            def sink(ids: list[str], vectors: np.ndarray) -> None:
                if not writers:
                    writer = SpaceWriter(output, vectors.shape[1], metric=metric, overwrite=overwrite)
                    writers.append(stack.enter_context(writer))
                writers[0].append(ids, vectors)
                rows[0] += len(ids)

            _, _, sha256, (_, dim) = read_word2vec_binary(
                path, limit=limit, show_progress=show_progress, decode=decode, max_dim=max_dim, sink=sink
            )
            info: dict[str, Any] = {"builder": "import", "format": "word2vec-binary"}
            info["source"] = source_info(path, sha256)
            info["name"] = _name(path)
            if limit is not None:
                info["limit"] = limit
            if not decode.strict:
                info["encoding_errors"] = decode.errors
                info["undecodable_bytes"] = decode.undecodable
            info["seconds"] = round(time.perf_counter() - start, 3)
            writers[0].info = info
    except DuplicateIdError as exc:  # found when the writer closes, from a hash of each id
        raise FormatError(
            f"{path}, row {exc.second_row + 1}: duplicate word {exc.item!r} (first at row {exc.first_row + 1}); "
            f"words must be unique"
        ) from None
    return {"n": rows[0], "dim": dim, "info": info}


def _import_tsv(
    path: Path, output, meta, limit, show_progress, decode: Decoder, max_dim: int, metric: str, overwrite: bool
) -> dict:
    """A projector pair into `output`: meta.tsv read whole (the ids and labels), vecs.tsv a block at a time."""
    from ..store import SpaceWriter

    start = time.perf_counter()
    vecs, default_meta = tsv.tsv_paths(path)
    existing_file(vecs)
    meta_path = tsv.find_meta_file(vecs, meta, default_meta)
    ids, columns = tsv.read_meta_tsv(meta_path, decode)
    writers: list[SpaceWriter] = []
    rows = [0]
    with contextlib.ExitStack() as stack:

        def sink(_, vectors: np.ndarray) -> None:
            first, rows[0] = rows[0], rows[0] + len(vectors)
            if rows[0] > len(ids):  # more rows than labels: counted to the end, for the message
                return
            if not writers:
                writer = SpaceWriter(output, vectors.shape[1], metric=metric, overwrite=overwrite)
                writers.append(stack.enter_context(writer))
            labels = {name: values[first : rows[0]] for name, values in columns.items()}
            writers[0].append(ids[first : rows[0]], vectors, labels or None)

        got = read_text(
            vecs,
            "tsv",
            header=False,
            with_ids=False,
            delimiter="\t",
            limit=limit,
            show_progress=show_progress,
            decode=decode,
            max_dim=max_dim,
            sink=sink,
        )
        n = got.rows
        if len(ids) < n or (got.complete and len(ids) != n):
            raise FormatError(
                f"{meta_path}: {len(ids)} labels for the {n} rows of {vecs}; give exactly one label row per vector"
            )
        source = source_info(vecs, got.sha256)
        source["meta"] = source_info(meta_path, hash_if_cheap=True)
        info: dict[str, Any] = {"builder": "import", "format": "tsv", "source": source, "name": _name(path)}
        if limit is not None:
            info["limit"] = limit
        if not decode.strict:
            info["encoding_errors"] = decode.errors
            info["undecodable_bytes"] = decode.undecodable
        info["seconds"] = round(time.perf_counter() - start, 3)
        writers[0].info = info
    return {"n": n, "dim": writers[0].dim, "info": info}


def _import_parquet(path: Path, output, limit: int | None, metric: str, overwrite: bool) -> dict:
    """A Parquet file into `output`, 65,536 rows (ids, vectors and meta columns) at a time."""
    from ..store import DuplicateIdError, SpaceWriter

    start = time.perf_counter()
    existing_file(path)
    rows = dim = 0
    try:
        with contextlib.ExitStack() as stack:
            writer = None
            for _, ids, vectors, meta in arrays.parquet_blocks(path, limit):
                if writer is None:  # the dimension is known from the first block
                    writer = stack.enter_context(
                        SpaceWriter(output, vectors.shape[1], metric=metric, overwrite=overwrite)
                    )
                writer.append(ids, vectors, meta or None)
                rows, dim = rows + len(ids), vectors.shape[1]
            info: dict[str, Any] = {"builder": "import", "format": "parquet"}
            info["source"] = source_info(path, hash_if_cheap=limit is None)
            info["name"] = _name(path)
            if limit is not None:
                info["limit"] = limit
            info["seconds"] = round(time.perf_counter() - start, 3)
            writer.info = info
    except DuplicateIdError as exc:  # found when the writer closes, from a hash of each id
        raise FormatError(
            f"{path}: duplicate id {exc.item!r} (second at row {exc.second_row}); ids must be unique"
        ) from None
    return {"n": rows, "dim": dim, "info": info}


def _check_limits(limit: int | None, max_dim: int) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise FormatError(f"limit must be a positive whole number of rows; got {limit!r}")
    if isinstance(max_dim, bool) or not isinstance(max_dim, int) or max_dim < 1:
        raise FormatError(f"max_dim must be a positive whole number of dimensions; got {max_dim!r}")


def write(space: Space, path: str | os.PathLike, format: str, *, columns: Sequence[str] | None = None) -> list[Path]:
    """Export `space` in one of :data:`FORMATS`; returns the files written.

    ``tsv`` writes ``vecs.tsv`` + ``meta.tsv`` (`path` is the vecs file or a folder), ``numpy``
    writes ``x.npy`` + ``x.ids.txt`` (`path` is the ``.npy`` or a folder: ``vectors.npy`` +
    ``ids.txt``). Meta columns are kept by ``tsv`` (as text) and ``parquet``; the other formats
    hold ids and vectors only. `columns` chooses the meta columns that go along (all by default;
    ``[]`` for none). The Embedding Projector cannot read a tab or a line break inside a ``tsv``
    cell: they are written as spaces, and a :class:`FormatNote` warning says how many. Ids a
    format cannot hold (whitespace in word formats) raise FormatError before anything is
    written. Missing parent folders are made. Every file is written beside its target and moved
    into place only when complete, so a failure leaves the old file (or none), never half of one.
    """
    fmt = _check_format(format)
    path = Path(path)
    meta = _chosen_columns(space, fmt, columns)
    make_parents(path)
    if fmt in _TEXT_HEADER or fmt == "word2vec-binary":
        with atomic_files(path) as (tmp,), open(tmp, "wb") as fh:
            blocks = ((vectors, encode_ids(ids, path)) for _, ids, vectors in _row_blocks(space, WHITESPACE, fmt, path))
            if fmt == "word2vec-binary":
                write_word2vec_binary_blocks(fh, space.n, space.dim, blocks)
            else:
                header = f"{space.n} {space.dim}\n".encode() if _TEXT_HEADER[fmt] else None
                write_text_blocks(fh, blocks, " ", header)
            finish(fh)
        return [path]
    if fmt == "tsv":
        return _write_tsv(space, meta, path)
    if fmt == "numpy":
        return _write_numpy(space, path)
    columns = arrays.meta_arrays(meta, path)  # checked before anything is written
    with atomic_files(path) as (tmp,), open(tmp, "wb") as fh:
        arrays.write_parquet(fh, space.dim, _row_blocks(space, "", fmt, path), columns)
        finish(fh)
    return [path]


def _row_blocks(space: Space, forbidden: str, fmt: str, path: Path):
    """(first row, ids, vectors) a block (16 MiB of vectors) at a time, ids checked free of `forbidden`.

    Export holds one block of rows in memory, never the whole space: a memory-mapped space's pages are
    let go after each block, and a loaded space's ids are read a block at a time where it can.
    """
    for start, vectors in space_blocks(space):
        ids = id_slice(space, start, start + len(vectors))
        if forbidden:
            check_ids_free_of(ids, forbidden, fmt, path, start)
        yield start, ids, vectors


# ---- gensim -------------------------------------------------------------------------------------
def to_keyedvectors(space: Space):
    """A gensim ``KeyedVectors`` holding a copy of the space's ids and vectors.

    Numeric meta columns (ints, floats, bools without gaps) become per-key attributes, so a
    ``count`` column is what gensim's ``save_word2vec_format`` sorts by.
    """
    KeyedVectors = _gensim_keyedvectors()
    kv = KeyedVectors(space.dim, dtype=np.float32)  # no count=: it would preallocate placeholder rows
    kv.index_to_key = list(space.ids)
    kv.key_to_index = {key: i for i, key in enumerate(kv.index_to_key)}
    kv.vectors = np.array(space.vectors, dtype=np.float32)
    kv.next_index = space.n
    for name, values in space.meta.items():
        column = np.asarray(values)
        if column.dtype.kind in "iufb" and column.ndim == 1:
            kv.allocate_vecattrs([name], [column.dtype])
            kv.expandos[name][:] = column
    return kv


def from_keyedvectors(kv, info: dict | None = None) -> Space:
    """A Space from a gensim ``KeyedVectors`` (a copy); per-key attributes such as ``count`` become meta.

    Only the filled rows are taken: a ``KeyedVectors(dim, count=n)`` that was never filled to
    ``n`` holds placeholder rows past ``len(kv)``.
    """
    n = len(kv.key_to_index)
    keys = list(kv.index_to_key[:n])
    if any(key is None for key in keys):
        raise EmbspaceError("the KeyedVectors has unfilled key slots; add vectors with add_vectors() first")
    ids = [key if isinstance(key, str) else str(key) for key in keys]
    vectors = np.array(kv.vectors[:n], dtype=np.float32)
    meta = {
        name: np.asarray(values)[:n].tolist()
        for name, values in getattr(kv, "expandos", {}).items()
        if np.ndim(values) == 1 and name != "id"
    }
    base = {"builder": "import", "format": "gensim.KeyedVectors"}
    return Space(ids, vectors, meta, {**base, **(info or {})})


def _gensim_keyedvectors():
    try:
        from gensim.models import KeyedVectors
    except ImportError:
        raise EmbspaceError(f"gensim is not installed; run: {install_hint('gensim')}") from None
    return KeyedVectors


# ---- per-format helpers -------------------------------------------------------------------------
def _check_format(format: str, known: tuple[str, ...] = FORMATS) -> str:
    if format not in known:
        only = " (import only)" if format in IMPORT_FORMATS else ""
        raise FormatError(f"unknown format {format!r}{only}; expected one of {', '.join(known)}")
    return format


def _name(path: Path) -> str:
    if path.is_dir() or not path.suffix:
        return path.name
    if path.stem in ("vecs", "vectors") and path.parent.name:
        return path.parent.name
    return path.stem


def _read_tsv(
    path: Path, meta: Any, limit: int | None, show_progress: bool | None, decode: Decoder, max_dim: int = MAX_DIM
):
    vecs, default_meta = tsv.tsv_paths(path)
    existing_file(vecs)
    meta_path = tsv.find_meta_file(vecs, meta, default_meta)
    got = read_text(
        vecs,
        "tsv",
        header=False,
        with_ids=False,
        delimiter="\t",
        limit=limit,
        show_progress=show_progress,
        decode=decode,
        max_dim=max_dim,
    )
    ids, columns = tsv.read_meta_tsv(meta_path, decode)
    n = len(got.vectors)
    if len(ids) < n or (got.complete and len(ids) != n):
        raise FormatError(
            f"{meta_path}: {len(ids)} labels for the {n} rows of {vecs}; give exactly one label row per vector"
        )
    columns = {name: values[:n] for name, values in columns.items()}
    source = source_info(vecs, got.sha256)
    source["meta"] = source_info(meta_path, hash_if_cheap=True)
    return ids[:n], got.vectors, columns, source


def output_files(path: str | os.PathLike, format: str, space: Space | None = None) -> list[Path]:
    """The files :func:`write` makes for `path` in `format` (two for ``tsv`` and ``numpy``; ``tsv`` of a
    `space` of images adds the Projector's sprite and configs)."""
    fmt, path = _check_format(format), Path(path)
    if fmt == "tsv":
        vecs, meta = tsv.tsv_paths(path)
        if space is not None and space.info.get("thumbnails") is not None:
            from ._projector import projector_files

            return [vecs, meta, *projector_files(vecs)]
        return [vecs, meta]
    if fmt == "numpy":
        return list(arrays.npy_paths(path))
    return [path]


def _chosen_columns(space: Space, fmt: str, columns: Sequence[str] | None) -> dict[str, list]:
    if columns is None:
        return space.meta
    if isinstance(columns, str):
        raise FormatError(f"{spell('columns')} takes a list of column names; got the string {columns!r}")
    if fmt not in ("tsv", "parquet"):
        raise FormatError(
            f"{spell('columns')} applies to {spell('format', 'tsv')} and {spell('format', 'parquet')} only; "
            f"{fmt!r} files hold ids and vectors"
        )
    unknown = [name for name in columns if name not in space.meta]
    if unknown:
        have = ", ".join(repr(name) for name in space.meta) or "none"
        raise FormatError(f"the space has no meta column {unknown[0]!r}; its columns: {have}")
    return {name: space.meta[name] for name in dict.fromkeys(columns)}


def _write_tsv(space: Space, meta: dict[str, list], path: Path) -> list[Path]:
    vecs, meta_path = tsv.tsv_paths(path)
    tsv.check_meta_names(meta, meta_path)
    pictures = _projector_pictures(space, vecs, meta_path)  # checked before anything is written
    if vecs.parent != path.parent:  # a folder target
        make_parents(vecs)
    extra = list(pictures) if pictures else []
    flattened: dict[str, int] = {}
    with atomic_files(vecs, meta_path, *extra) as (tmp_vecs, tmp_meta, *tmp_extra):
        with open(tmp_meta, "wb") as fh:  # first: an id the file cannot hold is found before the vectors
            for chunk in tsv.meta_tsv_blocks(id_blocks(space), meta, meta_path, flattened):
                fh.write(chunk)
            finish(fh)
        with open(tmp_vecs, "wb") as fh:
            write_text_blocks(fh, ((block, None) for _, block in space_blocks(space)), "\t")
            finish(fh)
        for tmp, make in zip(tmp_extra, pictures.values() if pictures else ()):
            with open(tmp, "wb") as fh:
                make(fh)
                finish(fh)
    flattened = {name: flattened[name] for name in meta if name in flattened}  # in column order
    if flattened:
        warnings.warn(tsv.flattened_note(meta_path, flattened), FormatNote, stacklevel=3)
    return [vecs, meta_path, *extra]


def _projector_pictures(space: Space, vecs: Path, meta_path: Path) -> dict | None:
    """For a space of images (one that keeps thumbnails): {path: write(fh)} of the Projector's sprite
    sheet and the configs that point at it; None for any other space. Refuses (FormatError) a space
    too big for one sprite before anything is written."""
    from ..images._sprites import layout

    lay = layout(space)
    if lay is None:
        return None
    from . import _projector as projector

    sprite = projector.sprite_path(vecs)
    tile = projector.sprite_tile(space.n, lay.tile, sprite)
    name = str(space.info.get("name") or vecs.parent.name or vecs.stem)
    as_json, as_text = projector.configs(name, space.n, space.dim, vecs, meta_path, sprite, tile)

    def write_sprite(fh) -> None:
        from ..images._sprites import sprite as sheet

        sheet(space, np.arange(space.n), tile).save(fh, format="PNG", optimize=False)

    files = dict(zip(projector.projector_files(vecs), (write_sprite, as_json, as_text)))
    return {p: (make if callable(make) else (lambda fh, body=make: fh.write(body))) for p, make in files.items()}


def _read_numpy(path: Path, ids: Any, limit: int | None, decode: Decoder):
    npy = arrays.npy_paths(path)[0] if path.is_dir() else path
    existing_file(npy)
    ids_path = arrays.find_ids_file(npy, ids)
    vectors, total = arrays.read_npy(npy, limit)
    item_ids = arrays.read_ids_file(ids_path, decode)
    if len(item_ids) != total:
        raise FormatError(f"{ids_path}: {len(item_ids)} ids for the {total} rows of {npy}; give exactly one id per row")
    source = source_info(npy, hash_if_cheap=limit is None)
    source["ids"] = source_info(ids_path, hash_if_cheap=True)
    return item_ids[: len(vectors)], vectors, {}, source


def _write_numpy(space: Space, path: Path) -> list[Path]:
    npy, ids_path = arrays.npy_paths(path)
    if npy.parent != path.parent:  # a folder target
        make_parents(npy)
    with atomic_files(npy, ids_path) as (tmp_npy, tmp_ids):
        with open(tmp_ids, "wb") as fh:  # first: an id the file cannot hold is found before the vectors
            for start, ids in id_blocks(space):
                check_ids_free_of(ids, NEWLINES, "numpy", ids_path, start)
                fh.write(("\n".join(ids) + "\n").encode("utf-8"))
            finish(fh)
        with open(tmp_npy, "wb") as fh:
            arrays.write_npy_blocks(fh, space.n, space.dim, (block for _, block in space_blocks(space)))
            finish(fh)
    return [npy, ids_path]
