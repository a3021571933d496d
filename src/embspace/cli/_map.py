"""`embspace map`: draw (or reuse) a PCA / t-SNE / UMAP map of a space, with its trust; PNG or HTML."""

from __future__ import annotations

import time
import warnings

import click

from ..errors import EmbspaceError
from ._output import echo_json, json_option, open_space

METHOD_NAMES = ("pca", "tsne", "umap")  # embspace.reduce.METHODS, without importing it at start-up


@click.command("map")
@click.argument("space_path", metavar="SPACE")
@click.option(
    "--method",
    type=click.Choice(METHOD_NAMES),
    default="umap",
    show_default=True,
    help="PCA (scikit-learn), t-SNE (openTSNE) or UMAP (umap-learn).",
)
@click.option("--dims", type=int, default=2, show_default=True, help="2 or 3.")
@click.option(
    "--sample",
    type=click.IntRange(1, 100_000_000),
    help="Map N rows: the first N of a frequency-ordered space, else N at random.",
)
@click.option(
    "--seed",
    type=click.IntRange(0, 2**32 - 1),
    default=0,
    show_default=True,
    help="Seed of the method and the samples.",
)
@click.option("-o", "--output", help="Also write a picture: FILE.png (static) or FILE.html (interactive).")
@click.option(
    "--color",
    "color",
    metavar="COLUMN",
    help="Colour points by a metadata column, or by 'trust': each point's recall of its 10 neighbours.",
)
@click.option(
    "--labels",
    type=click.IntRange(0, 10_000),
    default=30,
    show_default=True,
    help="How many ids to write on the picture.",
)
@click.option(
    "--thumbnails",
    is_flag=True,
    help="PNG of a space of images: draw the pictures in place of dots (as many as fit without overlapping).",
)
@click.option("--recompute", is_flag=True, help="Draw the map again even if it is cached.")
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@json_option
def map_(space_path, method, dims, sample, seed, output, color, labels, thumbnails, recompute, force, as_json):
    """Draw a 2-D or 3-D map of a space and say how far it can be trusted.

    The map is cached in SPACE/maps/ with its method, parameters, seed and trust, and reused
    (until the vectors change). Trust: trustworthiness and the mean recall of each point's 10
    nearest neighbours (space vs map), on a 2,000-point sample.

    \b
    Examples:
      embspace map glove.space --method umap --sample 20000 -o glove-umap.png
      embspace map glove.space --method tsne --sample 5000 -o glove-tsne.html
      embspace map glove.space --method pca --dims 3 --sample 10000 --json
      embspace map items.space --method umap --color category -o items.png
      embspace map photos.space --method umap --color label --thumbnails -o photos.png
    """
    from .._progress import fraction_progress
    from ..reduce import get_or_make_map
    from ..reduce._draw import check_picture_path
    from ..reduce._map import plan_map
    from ..store import read_manifest

    if dims not in (2, 3):
        raise EmbspaceError(f"--dims must be 2 or 3; got {dims}")
    if thumbnails and not (output and output.lower().endswith(".png")):
        raise EmbspaceError(
            "--thumbnails draws on a PNG picture: add -o FILE.png (the explorer, embspace serve, shows the "
            "pictures interactively)"
        )
    if output:  # every check that needs no map comes first: nothing is drawn for a bad request
        check_picture_path(output, force)
    space = open_space(space_path)  # checks the folder and its files
    if thumbnails:
        from ..images._sprites import require

        require(space, "--thumbnails")
    if color and color not in space.meta and color != "trust":
        have = ", ".join(space.meta) or "none"
        raise EmbspaceError(
            f"unknown colour column {color!r}; the space's metadata columns: {have} "
            f"(or 'trust' for each point's map trust)"
        )
    manifest = read_manifest(space_path)
    plan_map(method, dims, sample, seed, {}, manifest["n"], manifest.get("metric", "cosine"))
    start = time.perf_counter()
    with fraction_progress(f"{method} map") as report, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = get_or_make_map(
            space_path,
            method,
            dims,
            sample,
            seed,
            report,
            force=recompute,
            point_trust="all" if color == "trust" else "auto",
        )
    for w in caught:
        if "could not be cached" in str(w.message) or "changed while" in str(w.message):
            click.echo(f"warning: {w.message}", err=True)
    wrote = None
    if output:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            wrote = str(_write_picture(m, space, output, color, labels, thumbnails))
        for w in caught:  # e.g. ids no installed font can draw: one line each, no file paths
            if issubclass(w.category, UserWarning):
                click.echo(f"warning: {w.message}", err=True)
    took = time.perf_counter() - start
    if as_json:
        echo_json(
            {
                "space": space_path,
                "key": m.key,
                "method": m.method,
                "dims": m.dims,
                "n": m.n,
                "seed": m.seed,
                "params": m.params,
                "sampling": m.sampling,
                "seconds": m.seconds,
                "wall_seconds": round(took, 3),
                "cached": m.cached,
                "trust": m.trust,
                "created": m.created,
                "output": wrote,
            }
        )
        return
    t = m.trust
    source = "cached" if m.cached else f"drawn in {m.seconds:.1f} s"
    click.echo(f"{m.key}: {m.method} {m.dims}-D map of {m.n:,} of {space.n:,} points ({source})")
    click.echo(
        f"trustworthiness {t['trustworthiness']:.4f}   kNN recall@{t['k']} {t['knn_recall']:.4f}   "
        f"(sample of {t['sample']:,} points)"
    )
    if wrote:
        click.echo(f"wrote {wrote}")


def _write_picture(m, space, output: str, color: str | None, labels: int, thumbnails: bool = False):
    if output.lower().endswith(".html"):
        from ..reduce._html import write_html

        return write_html(m, space, output, color=color, labels=labels)
    from ..reduce._draw import draw_png

    return draw_png(m, space, output, color=color, labels=labels, thumbnails=thumbnails)


COMMANDS = [map_]
