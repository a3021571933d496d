"""`embspace neighbors`, `analogy`, `similarity`, `odd-one-out`."""

from __future__ import annotations

import click

from ..search import ANALOGY_METHODS
from ..space import METRICS
from ._output import echo_json, json_option, neighbors_json, open_space, score_kind, table


@click.command("neighbors")
@click.argument("space_path", metavar="SPACE")
@click.argument("words", nargs=-1, required=True)
@click.option("-k", "k", default=10, show_default=True, type=click.IntRange(1, 100_000), help="How many neighbours.")
@click.option("--metric", type=click.Choice(METRICS), help="Default: the space's metric.")
@click.option("--exact", is_flag=True, help="Ignore a cached ANN index (`embspace index`).")
@json_option
def neighbors(space_path, words, k, metric, exact, as_json):
    """Nearest neighbours of one or more ids (through the space's ANN index when it has one).

    \b
    Examples:
      embspace neighbors glove.space king -k 5
      embspace neighbors glove.space frog toad --metric euclidean --json
    """
    from ._texts import _index_for, _neighbors

    space = open_space(space_path)
    index, how = _index_for(space, exact)
    if index is not None and index.metric != (metric or space.metric):  # the index answers for its metric only
        index, how = None, "exact"
    results = _neighbors(space, index, list(words), k, True, metric)
    if as_json:
        out = [neighbors_json(result, metric or space.metric) for result in results]
        echo_json(out[0] if len(words) == 1 else dict(zip(words, out)))
        return
    label = "distance" if (metric or space.metric) == "euclidean" else "score"
    for word, result in zip(words, results):
        click.echo(f"neighbours of {word!r} ({metric or space.metric}, {how}, {space.n:,} items)")
        click.echo(table([(i, n.id, n.score) for i, n in enumerate(result, 1)], ["#", "id", label]))
        click.echo()


@click.command("analogy")
@click.argument("space_path", metavar="SPACE")
@click.argument("a")
@click.argument("b")
@click.argument("c")
@click.option("-k", "k", default=5, show_default=True, type=click.IntRange(1, 100_000), help="How many answers.")
@click.option("--method", type=click.Choice(ANALOGY_METHODS), default="3cosadd", show_default=True)
@click.option("--restrict-vocab", type=click.IntRange(min=4), help="Answer only among the first N ids.")
@json_option
def analogy(space_path, a, b, c, k, method, restrict_vocab, as_json):
    """A is to B as C is to ?  (the query words are never answers).

    \b
    Example:
      embspace analogy glove.space man king woman        # -> queen
      embspace analogy glove.space paris france rome --method 3cosmul
    """
    space = open_space(space_path)
    result = space.analogy(a, b, c, k=k, method=method, restrict=restrict_vocab)
    if as_json:
        echo_json([{"id": n.id, "score": n.score} for n in result])
        return
    click.echo(f"{a} : {b} :: {c} : ?   ({method})")
    click.echo(table([(i, n.id, n.score) for i, n in enumerate(result, 1)], ["#", "id", "score"]))


@click.command("similarity")
@click.argument("space_path", metavar="SPACE")
@click.argument("a")
@click.argument("b")
@click.option("--metric", type=click.Choice(METRICS), help="Default: the space's metric.")
@json_option
def similarity(space_path, a, b, metric, as_json):
    """Similarity of two ids (cosine by default; distance for euclidean).

    \b
    Example:
      embspace similarity glove.space coffee tea
    """
    space = open_space(space_path)
    value = space.similarity(a, b, metric=metric)
    if as_json:
        metric = metric or space.metric
        echo_json({"a": a, "b": b, "metric": metric, "score": value, "score_kind": score_kind(metric)})
    else:
        click.echo(f"{metric or space.metric}({a}, {b}) = {value:.4f}")


@click.command("odd-one-out")
@click.argument("space_path", metavar="SPACE")
@click.argument("items", nargs=-1, required=True)
@json_option
def odd_one_out(space_path, items, as_json):
    """Which one doesn't belong: the item furthest from the others' mean direction.

    \b
    Example:
      embspace odd-one-out glove.space breakfast lunch dinner cereal
    """
    space = open_space(space_path)
    odd = space.doesnt_match(items)
    echo_json({"items": list(items), "odd_one_out": odd}) if as_json else click.echo(odd)


COMMANDS = [neighbors, analogy, similarity, odd_one_out]
