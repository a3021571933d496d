"""`embspace import`, `export` and `info`."""

from __future__ import annotations

import time
import warnings

import click

from ..formats import FORMATS, IMPORT_FORMATS
from ..formats._io import ENCODING_ERRORS, undecodable_note
from ..space import METRICS
from ..store import check_unique_ids, load, read_manifest, save
from ._output import check_writable_output, echo_json, json_option, open_space, table


@click.command("import")
@click.argument("file", type=click.Path(exists=True))
@click.option("--format", "fmt", required=True, type=click.Choice(IMPORT_FORMATS), help="Format of FILE.")
@click.option("-o", "--output", required=True, help="The .space folder to write.")
@click.option("--ids", type=click.Path(exists=True, dir_okay=False), help="numpy: file of ids, one per line.")
@click.option("--meta", type=click.Path(exists=True, dir_okay=False), help="tsv: the meta.tsv beside vecs.tsv.")
@click.option("--limit", type=click.IntRange(min=1), help="Read only the first N rows.")
@click.option(
    "--max-dim",
    type=click.IntRange(1, 1_000_000),
    default=10_000,
    show_default=True,
    help="Text and word2vec/fastText binary files: refuse a file declaring or holding more dimensions, "
    "before reading it.",
)
@click.option(
    "--encoding-errors",
    type=click.Choice(ENCODING_ERRORS),
    default="strict",
    show_default=True,
    help="Words or labels that are not UTF-8: refuse the file, or replace each bad byte sequence "
    "by U+FFFD, or drop it (gensim's unicode_errors); the bytes are counted.",
)
@click.option(
    "--metric", type=click.Choice(METRICS), default="cosine", show_default=True, help="Default metric of the space."
)
@click.option("--force", is_flag=True, help="Replace OUT if it is already a space.")
def import_(file, fmt, output, ids, meta, limit, max_dim, encoding_errors, metric, force):
    """Make a .space folder from a vectors file.

    Text (glove, word2vec, fasttext-vec, tsv), word2vec-binary, numpy and parquet files are written a block at
    a time, so a file larger than memory imports; fasttext-bin and spacy-vectors are read whole first.

    \b
    Examples:
      embspace import glove.6B.50d.txt --format glove -o glove.space
      embspace import GoogleNews.bin --format word2vec-binary --limit 500000 -o gn.space
      embspace import cc.en.300.bin --format fasttext-bin -o cc.space   # + sub-words for unseen words
      embspace import vecs.tsv --format tsv --meta meta.tsv -o projector.space
      embspace import latin1.vec --format fasttext-vec --encoding-errors replace -o x.space
    """
    from ..formats import STREAMED_FORMATS, import_file, read

    check_writable_output(output, force)
    start = time.perf_counter()
    if fmt in STREAMED_FORMATS:  # a block at a time, never whole in memory
        done = import_file(
            file,
            fmt,
            output,
            ids=ids,
            meta=meta,
            limit=limit,
            encoding_errors=encoding_errors,
            max_dim=max_dim,
            metric=metric,
            overwrite=force,
        )
        n, dim, made = done["n"], done["dim"], done["info"]
    else:  # read whole, then saved
        space = read(file, fmt, ids=ids, meta=meta, limit=limit, encoding_errors=encoding_errors, max_dim=max_dim)
        space.metric = metric
        save(space, output, overwrite=force)
        n, dim, made = space.n, space.dim, space.info
    note = undecodable_note(made.get("undecodable_bytes", {}), encoding_errors)
    if note:
        click.echo(f"note: {note}", err=True)
    click.echo(f"wrote {output}: {n:,} × {dim} from {file} ({fmt}) in {time.perf_counter() - start:.1f} s", err=True)


@click.command("export")
@click.argument("space_path", metavar="SPACE")
@click.option("--format", "fmt", required=True, type=click.Choice(FORMATS), help="Format to write.")
@click.option("-o", "--output", required=True, help="File (or vecs.tsv) to write; missing folders are made.")
@click.option(
    "--columns",
    metavar="A,B",
    help="tsv, parquet: the meta columns to write, comma-separated (default: all; '' for ids only).",
)
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
def export(space_path, fmt, output, columns, force):
    """Write a space to a vectors file.

    \b
    Examples:
      embspace export glove.space --format word2vec-binary -o glove.bin
      embspace export glove.space --format tsv -o projector/vecs.tsv   # + meta.tsv for projector.tensorflow.org
      embspace export reviews.space --format tsv --columns text,label -o projector/vecs.tsv
      embspace export photos.space --format tsv -o projector/vecs.tsv   # + sprite.png, projector_config.json
    """
    from .._rowblocks import check_unique
    from ..errors import EmbspaceError
    from ..formats import FormatNote, output_files, write

    existing = [target for target in output_files(output, fmt) if target.exists()]
    if existing and not force:
        raise EmbspaceError(f"{existing[0]} exists; pass --force to replace it")
    space = open_space(space_path)
    existing = [target for target in output_files(output, fmt, space) if target.exists()]
    if existing and not force:  # a space of images adds the Projector's sprite and configs
        raise EmbspaceError(f"{existing[0]} exists; pass --force to replace it")
    check_unique(space)  # two rows under one id make a file other tools read wrongly (8 bytes a row, not a dict)
    chosen = None if columns is None else [name.strip() for name in columns.split(",") if name.strip()]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FormatNote)
        files = write(space, output, fmt, columns=chosen)
    for warning in caught:
        if issubclass(warning.category, FormatNote):
            click.echo(f"note: {warning.message}", err=True)
        else:
            warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
    click.echo("wrote " + ", ".join(str(f) for f in files), err=True)


@click.command("info")
@click.argument("space_path", metavar="SPACE")
@json_option
def info(space_path, as_json):
    """Size, metric, provenance and a few ids of a space.

    \b
    Example:
      embspace info ~/.cache/embspace/glove-6b-50d.space
    """
    space = open_space(space_path)
    manifest = read_manifest(space_path)
    disk = sum(entry["size"] for entry in manifest["files"].values())
    summary = {
        "path": str(space_path),
        "n": space.n,
        "dim": space.dim,
        "dtype": "float32",
        "metric": space.metric,
        "meta_columns": list(space.meta),
        "bytes_on_disk": disk,
        "first_ids": space.id_slice(0, 10),
        "info": manifest.get("info", {}),
    }
    if as_json:
        echo_json(summary)
        return
    rows = [
        ("path", str(space_path)),
        ("items", f"{space.n:,}"),
        ("dimensions", str(space.dim)),
        ("dtype", "float32"),
        ("metric", space.metric),
        ("on disk", _size(disk)),
        ("meta columns", ", ".join(space.meta) or "-"),
        ("first ids", " ".join(summary["first_ids"])),
    ]
    rows += [(f"info.{k}", _short(v)) for k, v in summary["info"].items()]
    click.echo(table(rows, ["field", "value"], align="ll"))


def _size(nbytes: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if nbytes < 1024 or unit == "GB":
            return f"{nbytes:.1f} {unit}" if unit != "B" else f"{nbytes} B"
        nbytes /= 1024
    return str(nbytes)


def _short(value, width: int = 90) -> str:
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


@click.command("verify")
@click.argument("space_path", metavar="SPACE")
@json_option
def verify(space_path, as_json):
    """Check a space completely: the size and checksums of every file, finite vectors, unique non-empty ids.

    Exit 0 when the space is whole; otherwise one line naming the file and the first bad row, and exit 1.

    \b
    Example:
      embspace verify ~/.cache/embspace/glove-6b-50d.space
    """
    start = time.perf_counter()
    open_space(space_path)  # a one-line error for a path that is no space
    space = load(space_path, verify="full")  # every block of every file, finite vectors, unique non-empty ids
    check_unique_ids(space)
    caches = _check_caches(space, space_path)
    seconds = time.perf_counter() - start
    files = len(read_manifest(space_path)["files"])
    if as_json:
        echo_json(
            {
                "path": str(space_path),
                "ok": True,
                "n": space.n,
                "dim": space.dim,
                "files": files,
                **caches,
                "seconds": round(seconds, 3),
            }
        )
        return
    click.echo(
        f"{space_path}: ok ({space.n:,} rows × {space.dim}, {files} files: sizes, checksums, finite vectors, "
        f"unique non-empty ids; {_caches_said(caches)}; {seconds:.2f} s)"
    )


def _check_caches(space, space_path) -> dict:
    """Check the index and the maps cached in the folder (each sealed file, each array's checksum); a damaged
    one raises its typed error with the command that makes it again. Stale maps are counted, not refused."""
    import importlib.util
    from pathlib import Path

    from ..index import index_info, open_index
    from ..reduce import StaleMapError, load_map
    from ..reduce._cache import is_map_key

    index = None
    if index_info(space_path) is not None:
        index = open_index(space) if importlib.util.find_spec("faiss") else index_info(space_path)
        index = getattr(index, "kind", None) or index["kind"]
    current = stale = 0
    folder = Path(space_path) / "maps"
    keys = sorted(p.name for p in folder.iterdir() if is_map_key(p.name)) if folder.is_dir() else []
    for key in keys:  # other names (temporary folders of a writer at work) are not maps
        try:
            load_map(space_path, key)
            current += 1
        except StaleMapError:
            stale += 1
    return {"index": index, "maps": current, "stale_maps": stale}


def _caches_said(caches: dict) -> str:
    said = f"index: {caches['index'] or 'none'}, maps: {caches['maps']}"
    return said + (f" (+{caches['stale_maps']} stale)" if caches["stale_maps"] else "")


@click.command("upgrade")
@click.argument("space_path", metavar="SPACE")
def upgrade(space_path):
    """Rewrite a space made by an older embspace (format 1) as format 2, which opens in constant time.

    Every file is checked first; the vectors are kept as they are (linked, not copied), the cached maps and
    index stay valid, and the folder is replaced atomically.

    \b
    Example:
      embspace upgrade ~/.cache/embspace/glove-6b-50d.space
    """
    from ..errors import SpaceNote
    from ..store import upgrade as upgrade_space

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpaceNote)  # the note says to run this
        open_space(space_path)
    if upgrade_space(space_path):
        click.echo(f"{space_path}: rewritten as format 2 (block checksums, an id index)")
    else:
        click.echo(f"{space_path}: already format 2; nothing to do")


COMMANDS = [import_, export, info, verify, upgrade]
