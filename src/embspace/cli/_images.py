"""`embspace build images`: a space of images from folders, tables of paths, .npy arrays or IDX files."""

from __future__ import annotations

import inspect
import warnings

import click

from ..errors import EmbspaceError
from ._output import check_writable_output, echo_json
from ._ray import engine_note, ray_arguments, ray_options

_METHODS = ["features", "pixels", "cnn", "contrastive"]
_METHOD_HELP = (
    "features: colour (HSV), shape (HOG), texture (LBP) | pixels: resized pixels | "
    "cnn: EfficientNet-Lite0 (needs the images-cnn extra) | contrastive: a small CNN trained on these images."
)
# Options that only the network methods take: option -> the embedder's parameter.
_NETWORK_KNOBS = {"--image-size": "image_size", "--epochs": "epochs", "--device": "device", "--no-flip": "flip"}
_SHOW_SKIPPED = 5


@click.command("images")
@click.argument("sources", metavar="SOURCE...", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("-o", "--output", required=True, help="The .space folder to write.")
@click.option("--method", type=click.Choice(_METHODS), default="features", show_default=True, help=_METHOD_HELP)
@click.option("--labels", type=click.Choice(["folders"]), help="Folders: each image's sub-folder is its label.")
@click.option("--label", help="Tables: the column of labels.")
@click.option("--path-column", default="path", show_default=True, help="Tables: the column of image paths.")
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=256, show_default=True, help="Images per batch.")
@click.option(
    "--max-pixels",
    type=click.IntRange(1, 10**12),
    default=50_000_000,
    show_default=True,
    help="Skip images larger than this (decompression bombs).",
)
@click.option("--limit", type=click.IntRange(1, 10**9), help="Read at most N images of each source.")
@click.option("--image-size", type=click.IntRange(8, 1024), help="cnn/contrastive: input size in pixels.")
@click.option("--epochs", type=click.IntRange(1, 10_000), help="contrastive: training epochs.")
@click.option(
    "--no-flip",
    "flip",
    flag_value=False,
    default=None,
    help="contrastive: a mirror image means something else here (digits, letters, text): no mirror images in "
    "training, none averaged in when embedding.",
)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="cnn/contrastive: where the network runs.")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True)
@click.option("--no-thumbnails", is_flag=True, help="Keep no thumbnails in the space.")
@click.option("--thumb-size", type=click.IntRange(8, 256), default=64, show_default=True, help="Thumbnail side (px).")
@ray_options
@click.option("--force", is_flag=True, help="Replace OUT if it is already a space.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
def build_images_cmd(sources, output, method, no_thumbnails, thumb_size, force, as_json, **options):
    """Embed images: one vector per image, a thumbnail of each kept in the space.

    SOURCE is a folder of images (PNG, JPEG, WebP, GIF, BMP, TIFF; recursive), a CSV/Parquet table
    with a column of image paths (other columns kept), a .npy of shape (n, h, w) or (n, h, w, c), or
    an IDX file (*-idx3-ubyte.gz, with *-idx1-ubyte.gz labels beside it). Unreadable images are
    skipped and listed.

    \b
    Examples:
      embspace build images photos/ --labels folders -o photos.space
      embspace build images catalogue.csv --path-column file --label category -o shop.space
      embspace build images train-images-idx3-ubyte.gz --method pixels -o fashion.space
      embspace build images photos/ --method contrastive --epochs 20 -o learned.space
      embspace build images /shared/photos/ --method cnn --engine ray --address head:6379 -o /shared/photos.space
    """
    from ..images import build as build_images
    from ..images._base import embedder_class
    from ..images._build import MixedSizesWarning
    from ..store import save

    check_writable_output(output, force)
    knobs = _network_knobs(method, embedder_class(method), options)
    engine = ray_arguments(options["engine"], options["address"], options["workers"], output)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MixedSizesWarning)
        space = build_images(
            list(sources),
            method,
            labels=options["labels"],
            label=options["label"],
            path_column=options["path_column"],
            batch_size=options["batch_size"],
            max_pixels=options["max_pixels"],
            limit=options["limit"],
            thumbnails=not no_thumbnails,
            thumb_size=thumb_size,
            seed=options["seed"],
            **engine,
            **knobs,
        )
    save(space, output, overwrite=force)
    for warning in caught:
        if issubclass(warning.category, MixedSizesWarning):
            click.echo(f"note: {warning.message}", err=True)
        else:
            warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
    _report(space, output, method, as_json)


def _network_knobs(method: str, cls, options: dict) -> dict:
    """--image-size/--epochs/--device as the method's parameters; one line if the method takes none of them."""
    accepted = inspect.signature(cls.__init__).parameters
    knobs = {}
    for flag, name in _NETWORK_KNOBS.items():
        value = options.get(name)
        if value is None:
            continue
        if name not in accepted:
            takers = "contrastive" if flag in ("--epochs", "--no-flip") else "cnn and contrastive"
            raise EmbspaceError(f"{flag} is for {takers}; the method {method} does not take it")
        knobs[name] = value
    return knobs


def _report(space, output: str, method: str, as_json: bool) -> None:
    info = space.info
    skipped = info["skipped"]
    summary = {
        "output": output,
        "method": method,
        "images": space.n,
        "dim": space.dim,
        "skipped": skipped,
        "skipped_files": info["skipped_files"],
        "seconds": info["seconds"],
        "images_per_second": info["images_per_second"],
        "thumbnails": info.get("thumbnails"),
        "labels": info.get("labels"),
        "engine": info.get("engine"),
    }
    for row in info["skipped_files"][:_SHOW_SKIPPED]:
        click.echo(f"skipped {row['id']}: {row['reason']}", err=True)
    if skipped > _SHOW_SKIPPED:
        click.echo(f"... and {skipped - _SHOW_SKIPPED:,} more skipped (listed in the space's info)", err=True)
    on = f"; {engine_note(info['engine'])}" if info.get("engine") else ""
    click.echo(
        f"wrote {output}: {space.n:,} images × {space.dim} ({method}) in {info['seconds']:.1f} s "
        f"({info['images_per_second'] or 0:,.0f} images/s); {skipped:,} skipped{on}",
        err=True,
    )
    if as_json:
        echo_json(summary)
