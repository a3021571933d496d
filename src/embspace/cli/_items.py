"""`embspace build items`, `embspace recommend` and `embspace split`: items and users from interactions."""

from __future__ import annotations

import click

from ._build import build as build_group
from ._output import check_writable_output, echo_json, json_option, open_space, table

_METHOD_HELP = (
    "itemknn: cosine between item columns, shrunk, 200 neighbours each (default) | ease: closed-form "
    "item-item regression (best on MovieLens-100k; up to 30,000 items) | als, bpr: matrix factorisation "
    "(implicit; GPU where present) | item2vec: skip-gram over each user's time-ordered items (gensim)."
)
_COLUMNS = [
    click.option("--user", help="Column of user ids [user, user_id, userId... ; MovieLens u.data: 1st]."),
    click.option("--item", help="Column of item ids [item, item_id, movieId... ; u.data: 2nd]."),
    click.option(
        "--rating",
        help="Numeric column: a rating or a count [rating, score, count]. ALS turns it into confidence "
        "1 + alpha * rating; itemknn, ease, bpr and item2vec use only that the user had the item.",
    ),
    click.option("--time", help="Column of unix seconds or ISO dates that orders each user's history [file order]."),
    click.option(
        "--duplicates",
        type=click.Choice(["sum", "latest"]),
        default="sum",
        show_default=True,
        help="Several rows for one (user, item): add their ratings, or keep the latest row.",
    ),
]


def _columns(command):
    for option in reversed(_COLUMNS):
        command = option(command)
    return command


@click.command("items")
@click.argument("interactions", type=click.Path(exists=True, dir_okay=False))
@_columns
@click.option(
    "--method",
    type=click.Choice(["itemknn", "ease", "als", "bpr", "item2vec"]),
    default="itemknn",
    show_default=True,
    help=_METHOD_HELP,
)
@click.option("-o", "--output", required=True, help="The .space folder to write.")
@click.option("--items-meta", type=click.Path(exists=True, dir_okay=False), help="A table of titles, genres...")
@click.option("--item-key", help="The item id column of --items-meta [item, item_id, movieId...].")
@click.option("--format", "fmt", type=click.Choice(["csv", "tsv", "jsonl", "parquet", "data"]), help="[from suffix]")
@click.option("--dim", type=click.IntRange(1, 4_096), help="Vector dimensions [64].")
@click.option("--neighbors", type=click.IntRange(1, 100_000), help="itemknn, ease: neighbours kept per item [200].")
@click.option("--shrinkage", type=click.FloatRange(0, 1e9), help="itemknn: added to the cosine's denominator [10].")
@click.option("--l2", type=click.FloatRange(0, 1e12, min_open=True), help="ease: L2 regularisation [400].")
@click.option("--regularization", type=click.FloatRange(0, 1e6), help="als [1], bpr [0.01].")
@click.option("--alpha", type=click.FloatRange(0, 1e6), help="als: confidence = 1 + alpha * rating [4].")
@click.option("--iterations", type=click.IntRange(1, 100_000), help="als [15], bpr [100].")
@click.option("--learning-rate", type=click.FloatRange(0, 10, min_open=True), help="bpr [0.005].")
@click.option("--window", type=click.IntRange(1, 10_000), help="item2vec: items each side [20].")
@click.option("--epochs", type=click.IntRange(1, 10_000), help="item2vec [20].")
@click.option("--negative", type=click.IntRange(1, 100), help="item2vec: negative samples [5].")
@click.option(
    "--ns-exponent",
    type=click.FloatRange(-10, 10),
    help="item2vec: negatives drawn by count^x; below 0 favours rare items [-0.5].",
)
@click.option(
    "--recency",
    type=click.FloatRange(0, 1e9),
    help="When recommending, a user's interactions weigh half every N interactions back; 0 = all equal "
    "[itemknn, ease, item2vec 7; als 10 (its user step redone with these weights); bpr 0].",
)
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True)
@click.option("--force", is_flag=True, help="Replace OUT if it is already a space.")
@json_option
def build_items_cmd(
    interactions,
    user,
    item,
    rating,
    time,
    duplicates,
    method,
    output,
    items_meta,
    item_key,
    fmt,
    seed,
    force,
    as_json,
    **params,
):
    """Items and users from interactions: one point per item, the users' vectors inside the space.

    INTERACTIONS is CSV, TSV, JSONL or Parquet with a user and an item column, or a MovieLens u.data /
    ratings.dat / recbole .inter file. The space keeps the training interactions, so `recommend` leaves
    out what a user has seen and says which of their items each recommendation is nearest to.

    \b
    Examples:
      embspace build items u.data -o movies.space
      embspace build items ratings.csv --user userId --item movieId --rating rating --time timestamp \\
          --items-meta movies.csv --item-key movieId --method als -o movies-als.space
      embspace build items plays.parquet --method item2vec --dim 100 -o songs.space
    """
    from ..items import build as build_items
    from ..store import save

    check_writable_output(output, force)
    space = build_items(
        interactions,
        method,
        user=user,
        item=item,
        rating=rating,
        time=time,
        items_meta=items_meta,
        item_key=item_key,
        duplicates=duplicates,
        fmt=fmt,
        seed=seed,
        **{k: v for k, v in params.items() if v is not None},
    )
    save(space, output, overwrite=force)
    info = space.info
    if as_json:
        echo_json({k: info[k] for k in ("method", "params", "users", "items", "interactions", "notes", "seconds")})
        return
    for note in info["notes"]:
        click.echo(f"note: {note}", err=True)
    click.echo(
        f"wrote {output}: {info['items']:,} items × {space.dim} and {info['users']:,} users from "
        f"{info['interactions']:,} interactions ({method}) in {info['seconds']:.1f} s",
        err=True,
    )


@click.command("recommend")
@click.argument("space_path", metavar="SPACE")
@click.option("--user", help="A user the space was built with: what they had is left out.")
@click.option("--items", help="A new user's recent choices, oldest first: comma-separated item ids.")
@click.option("--similar", help="An item id: the items most like it.")
@click.option("-k", "k", default=10, show_default=True, type=click.IntRange(1, 100_000), help="How many.")
@click.option("--include-seen", is_flag=True, help="Keep what the user has already had.")
@click.option("--popularity", is_flag=True, help="The popularity baseline instead: the most-had items.")
@json_option
def recommend(space_path, user, items, similar, k, include_seen, popularity, as_json):
    """Recommend items for a user, for a set of recent choices, or like one item; each says why
    (the user's items it is nearest to).

    \b
    Examples:
      embspace recommend movies.space --user 196 -k 5
      embspace recommend movies.space --items 50,172,181
      embspace recommend movies.space --similar 50 --json
    """
    if sum(x is not None for x in (user, items, similar)) != 1:
        raise click.ClickException("give exactly one of --user, --items or --similar")
    space = open_space(space_path)
    found = space.recommend(
        user=user,
        items=items,
        similar=similar,
        k=k,
        include_seen=include_seen,
        baseline="popularity" if popularity else None,
    )
    titles = space.meta.get("title")

    def title(i):
        return titles[space.index(i)] if titles and titles[space.index(i)] is not None else ""

    note = getattr(found, "note", None)
    if as_json:
        rows = [dict(r.to_dict(), title=title(r.id)) if titles else r.to_dict() for r in found]
        echo_json({"query": {"user": user, "items": items, "similar": similar, "k": k}, "results": rows, "note": note})
        return
    if note:
        click.echo(f"note: {note}", err=True)
    if not found:
        return
    because = [", ".join(f"{b} {title(b)}".strip() for b in r.because) for r in found]
    rows = [(n, r.id, title(r.id), r.score, b) for n, (r, b) in enumerate(zip(found, because), 1)]
    click.echo(table(rows, ["#", "id", "title", "score", "because"], align="rllrl"))


@click.command("split")
@click.argument("interactions", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--by",
    type=click.Choice(["time", "last"]),
    default="time",
    show_default=True,
    help="time: each user's last --fraction by time; last: each user's last interaction.",
)
@click.option(
    "--fraction",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.2,
    show_default=True,
    help="--by time: the share of each user's interactions held out.",
)
@click.option("--train", "train", required=True, help="Training file to write (.csv, .tsv, .jsonl, .parquet).")
@click.option("--test", "test", required=True, help="Test file to write (.csv, .tsv, .jsonl, .parquet).")
@_columns
@click.option("--force", is_flag=True, help="Replace the files if they exist.")
@json_option
def split(interactions, by, fraction, train, test, user, item, rating, time, duplicates, force, as_json):
    """Split interactions per user into a training and a test file, for `evaluate --holdout`.

    A user with one interaction stays in training; every other user keeps at least one.

    \b
    Examples:
      embspace split u.data --by time --fraction 0.2 --train train.tsv --test test.tsv
      embspace split u.data --by last --train train.parquet --test last.parquet
      embspace build items train.tsv -o movies.space && embspace evaluate movies.space --holdout test.tsv
    """
    from ..items import split as split_interactions

    counts = split_interactions(
        interactions,
        train,
        test,
        by=by,
        fraction=fraction,
        user=user,
        item=item,
        rating=rating,
        time=time,
        duplicates=duplicates,
        overwrite=force,
    )
    if as_json:
        echo_json(counts)
        return
    for note in counts["notes"]:
        click.echo(f"note: {note}", err=True)
    for side, path in (("train", train), ("test", test)):
        c = counts[side]
        click.echo(f"wrote {path}: {c['rows']:,} interactions of {c['users']:,} users and {c['items']:,} items")


build_group.add_command(build_items_cmd)
COMMANDS = [recommend, split]
