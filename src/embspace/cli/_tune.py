"""`embspace tune ...`: improve a space after it is built (post-processing, retrofitting, tuning).

Subcommands of other modules join the group through _SUBCOMMAND_MODULES: each module named there has a
``TUNE_COMMANDS`` list of click commands.
"""

from __future__ import annotations

import importlib

import click

from ..tune._retrofit import DEFAULTS as RETROFIT_DEFAULTS
from ._output import check_writable_output, echo_json, json_option, open_space, table

# modules (relative to embspace.cli) whose TUNE_COMMANDS join `embspace tune`
_SUBCOMMAND_MODULES: tuple[str, ...] = ("_tune_contrastive", "_tune_texts")


@click.group("tune")
def tune() -> None:
    """Improve a space: post-process it, retrofit it to a lexicon, tune it on pairs or labels.

    Every tuned space records its steps in the manifest (info["transforms"]), so a query encoded later
    (a text, an image, a table row) goes through them too.

    \b
    Examples:
      embspace tune post glove.space --center --abtt 2 --normalize -o glove-post.space
      embspace tune retrofit glove.space --lexicon wordnet -o glove-wn.space
    """


def _remember_order(ctx: click.Context, param: click.Parameter, value) -> object:
    """Steps run in the order given on the command line: note each as click meets it."""
    if value not in (None, False, 0):
        ctx.meta.setdefault("post_order", []).append((param.name, value))
    return value


@tune.command("post")
@click.argument("space_path", metavar="SPACE")
@click.option("--center", is_flag=True, callback=_remember_order, help="Subtract the mean vector.")
@click.option(
    "--abtt",
    type=click.IntRange(0, 10_000),
    default=0,
    callback=_remember_order,
    metavar="D",
    help="All-but-the-top: subtract the mean, remove the top D principal directions [0: off].",
)
@click.option("--normalize", is_flag=True, callback=_remember_order, help="Scale every vector to unit length.")
@click.option("-o", "--output", required=True, help="The .space folder to write.")
@click.option("--force", is_flag=True, help="Replace OUT if it is already a space.")
@json_option
@click.pass_context
def post_cmd(ctx, space_path, center, abtt, normalize, output, force, as_json):
    """Centre, all-but-the-top and/or unit length, in the order given, for any space.

    The steps are recorded in OUT's manifest with the mean and the removed directions, so queries
    encoded later (texts, images, table rows, fastText sub-words) go through them too.

    \b
    Examples:
      embspace tune post glove.space --center --abtt 2 --normalize -o glove-post.space
      embspace tune post questions.space --normalize --center --normalize -o q-post.space
    """
    from ..store import save
    from ..tune import post

    check_writable_output(output, force)
    steps = [name if name != "abtt" else ("abtt", value) for name, value in ctx.meta.get("post_order", [])]
    if not steps:
        raise click.ClickException("no step chosen; give --center, --abtt D and/or --normalize")
    space = post(open_space(space_path), steps=steps)
    save(space, output, overwrite=force)
    added = space.info["transforms"][-len(steps) :]
    if as_json:
        echo_json({"output": output, "n": space.n, "dim": space.dim, "steps": added})
        return
    rows = [(i, s["kind"], _step_detail(s)) for i, s in enumerate(added, 1)]
    click.echo(table(rows, ["#", "step", "detail"], align="rll"))
    click.echo(f"wrote {output}: {space.n:,} × {space.dim}", err=True)


def _step_detail(step: dict) -> str:
    if step["kind"] == "abtt":
        shares = ", ".join(f"{v:.1%}" for v in step.get("removed_variance", []))
        return f"removed {step['d']} directions ({shares} of the variance)"
    if step["kind"] == "center":
        return "mean subtracted"
    return "unit length"


def _weights(ctx: click.Context, param: click.Parameter, value: str | None) -> dict[str, float] | None:
    if value is None:
        return None
    out = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        relation, sep, number = part.partition("=")
        try:
            out[relation.strip()] = float(number)
        except ValueError:
            raise click.BadParameter(f"expected RELATION=WEIGHT, e.g. hypernyms=0.5; got {part!r}") from None
        if not sep or not relation.strip():
            raise click.BadParameter(f"expected RELATION=WEIGHT, e.g. hypernyms=0.5; got {part!r}")
    return out


def _senses(ctx: click.Context, param: click.Parameter, value: str) -> int | None:
    if value == "all":
        return None
    if not value.isdigit() or int(value) < 1:
        raise click.BadParameter(f"expected a whole number from 1 up, or all; got {value!r}")
    return int(value)


@tune.command("retrofit")
@click.argument("space_path", metavar="SPACE")
@click.option(
    "--lexicon",
    default="wordnet",
    show_default=True,
    help="wordnet (WordNet 3.0 from /usr/share/wordnet, Debian wordnet-base) or a file of "
    "`word neighbour neighbour ...` lines.",
)
@click.option(
    "--relations",
    default=",".join(RETROFIT_DEFAULTS["relations"]),
    show_default=True,
    help="WordNet: which links pull words together: synonyms, hypernyms, hyponyms, similar.",
)
@click.option(
    "--senses",
    default=str(RETROFIT_DEFAULTS["senses"]),
    show_default=True,
    callback=_senses,
    help="WordNet: links from each word's N most frequent senses, or all (as the paper).",
)
@click.option(
    "--weights",
    callback=_weights,
    help="Weight per relation, e.g. hypernyms=0.5,hyponyms=0.5 (the default; others 1).",
)
@click.option("--iterations", type=click.IntRange(1, 1000), default=RETROFIT_DEFAULTS["iterations"], show_default=True)
@click.option(
    "--alpha",
    type=click.FloatRange(0, 1e6, min_open=True),
    default=RETROFIT_DEFAULTS["alpha"],
    show_default=True,
    help="Weight of a word's own vector.",
)
@click.option(
    "--beta",
    type=click.FloatRange(0, 1e6),
    default=RETROFIT_DEFAULTS["beta"],
    show_default=True,
    help="Weight of its neighbours together.",
)
@click.option("--normalize", is_flag=True, help="Scale every vector to unit length first (as the paper's code).")
@click.option("--top", type=click.IntRange(2), help="Move and pull towards only the first N rows (frequent words).")
@click.option("-o", "--output", required=True, help="The .space folder to write.")
@click.option("--force", is_flag=True, help="Replace OUT if it is already a space.")
@json_option
def retrofit_cmd(
    space_path, lexicon, relations, senses, weights, iterations, alpha, beta, normalize, top, output, force, as_json
):
    """Pull words a lexicon links (synonyms...) towards each other (Faruqui et al. 2015).

    Words the lexicon does not link keep their vectors. Prints the coverage: the space's words moved and,
    per relation, the lexicon's words found in the space and the links used.

    \b
    Examples:
      embspace tune retrofit glove.space -o glove-wn.space
      embspace tune retrofit glove.space --relations synonyms --senses all --weights "" -o glove-syn.space
      embspace tune retrofit glove.space --lexicon ppdb-xl.txt -o glove-ppdb.space
    """
    from ..store import save
    from ..tune import retrofit

    check_writable_output(output, force)
    space = open_space(space_path)
    options = {"weights": weights} if weights is not None else {}
    out = retrofit(
        space,
        lexicon,
        relations=relations,
        senses=senses,
        iterations=iterations,
        alpha=alpha,
        beta=beta,
        normalize=normalize,
        top=top,
        **options,
    )
    save(out, output, overwrite=force)
    record = out.info["tuned"][-1]
    coverage = record["coverage"]
    if as_json:
        echo_json({"output": output, "lexicon": record["lexicon"], "params": record["params"], "coverage": coverage})
        return
    rows = [(r, c["lexicon_words"], c["in_space"], c["links"], c["weight"]) for r, c in coverage["relations"].items()]
    click.echo(table(rows, ["relation", "lexicon words", "in the space", "links", "weight"], align="lrrrr"))
    click.echo(
        f"moved {coverage['words']:,} of {coverage['space_words']:,} words ({coverage['share']:.1%}) "
        f"over {coverage['links']:,} links, {iterations} iterations"
    )
    click.echo(f"wrote {output}: {out.n:,} × {out.dim} in {record['seconds']:.1f} s", err=True)


COMMANDS = [tune]
for _module in _SUBCOMMAND_MODULES:
    for _command in importlib.import_module(f"{__package__}.{_module}").TUNE_COMMANDS:
        tune.add_command(_command)
