"""The Embedding Projector's pictures: ``sprite.png`` (one sheet of every row's thumbnail) and the
config that points the Projector at the vectors, the labels and the sprite.

The Projector reads one sprite image with the pictures in row order, left to right and top to
bottom, all ``singleImageDim`` pixels; it finds the grid from the sheet's width. A sheet larger than
8,192 px a side is more than browsers reliably decode into a WebGL texture, so the tiles shrink for a
big space, down to 8 px (1,048,576 images); beyond that the export is refused.

Two configs are written beside the files: ``projector_config.json`` for projector.tensorflow.org
(``?config=URL``, paths relative to where the files are hosted) and ``projector_config.pbtxt`` for
TensorBoard's projector plugin (the log folder).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..errors import FormatError

MAX_SIDE = 8192  # pixels of the sprite sheet, each way
MIN_TILE = 8  # pixels of a picture; smaller shows nothing
CONFIG_JSON = "projector_config.json"
CONFIG_PBTXT = "projector_config.pbtxt"


def sprite_path(vecs: Path) -> Path:
    """``sprite.png`` beside ``vecs.tsv``; ``glove_sprite.png`` beside ``glove_vecs.tsv``; else ``x_sprite.png``."""
    stem = vecs.stem
    name = stem[:-4] + "sprite" if stem.endswith("vecs") else stem + "_sprite"
    return vecs.with_name(name + ".png")


def projector_files(vecs: Path) -> list[Path]:
    """The files a tsv export of a space with thumbnails adds: the sprite and the two configs."""
    return [sprite_path(vecs), vecs.with_name(CONFIG_JSON), vecs.with_name(CONFIG_PBTXT)]


def sprite_tile(n: int, tile: int, path: Path | None = None) -> int:
    """The tile size (px) of a sprite of `n` pictures kept at most MAX_SIDE px a side."""
    side = max(1, math.ceil(math.sqrt(n)))
    fitted = min(tile, MAX_SIDE // side)
    if fitted < MIN_TILE:
        most = (MAX_SIDE // MIN_TILE) ** 2
        where = f"cannot write {path}: " if path else ""
        raise FormatError(
            f"{where}the Embedding Projector's sprite holds at most {most:,} pictures ({MIN_TILE} px each in "
            f"{MAX_SIDE:,} x {MAX_SIDE:,} px); this space has {n:,}; export a subset of the rows "
            f"(Space.subset or --sample) or drop the pictures"
        )
    return fitted


def configs(name: str, n: int, dim: int, vecs: Path, meta: Path, sprite: Path, tile: int) -> tuple[bytes, bytes]:
    """(projector_config.json, projector_config.pbtxt) naming the files by their names (same folder)."""
    entry = {
        "tensorName": name,
        "tensorShape": [n, dim],
        "tensorPath": vecs.name,
        "metadataPath": meta.name,
        "sprite": {"imagePath": sprite.name, "singleImageDim": [tile, tile]},
    }
    as_json = json.dumps({"embeddings": [entry]}, ensure_ascii=False, indent=2) + "\n"
    as_text = (
        "embeddings {\n"
        f"  tensor_name: {_text_string(name)}\n"
        f"  tensor_path: {_text_string(vecs.name)}\n"
        f"  metadata_path: {_text_string(meta.name)}\n"
        "  sprite {\n"
        f"    image_path: {_text_string(sprite.name)}\n"
        f"    single_image_dim: {tile}\n"
        f"    single_image_dim: {tile}\n"
        "  }\n"
        "}\n"
    )
    return as_json.encode("utf-8"), as_text.encode("ascii")


def _text_string(text: str) -> str:
    """A protobuf text-format string: printable ASCII as is, every other byte of the UTF-8 as \\ooo."""
    out = []
    for byte in text.encode("utf-8"):
        ch = chr(byte)
        out.append(ch if 32 <= byte < 127 and ch not in '"\\' else f"\\{byte:03o}")
    return '"' + "".join(out) + '"'
