"""`embspace tune ...`: improve a space after it is built (post-processing, retrofitting, tuning).

Subcommands of other modules join the group through _SUBCOMMAND_MODULES: each module named there has a
``TUNE_COMMANDS`` list of click commands.
"""

from __future__ import annotations

import importlib

import click

from ._output import check_writable_output, echo_json, json_option, open_space, table

# modules (relative to embspace.cli) whose TUNE_COMMANDS join `embspace tune`
_SUBCOMMAND_MODULES: tuple[str, ...] = ("_tune_contrastive",)


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


COMMANDS = [tune]
for _module in _SUBCOMMAND_MODULES:
    for _command in importlib.import_module(f"{__package__}.{_module}").TUNE_COMMANDS:
        tune.add_command(_command)
