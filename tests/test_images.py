"""embspace.images: sources (folders, tables, .npy, IDX), conversions, pixels and features, thumbnails,
query images, bad input and the `build images` command, on tiny real images made here and real digits."""

from __future__ import annotations

import gzip
import io
import os
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("PIL")
pytest.importorskip("skimage")

from PIL import Image  # noqa: E402

import embspace  # noqa: E402
from embspace import images  # noqa: E402
from embspace.cli import main  # noqa: E402
from embspace.errors import EmbspaceError  # noqa: E402
from embspace.images._build import MixedSizesWarning  # noqa: E402
from embspace.images._features import Features, hog_batch  # noqa: E402
from embspace.images._input import decode_image  # noqa: E402

FASHION = Path("/usr/share/datasets/fashion-mnist")
COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 210)}


def _picture(colour, size=(24, 16), mark=True) -> Image.Image:
    """A flat-coloured picture with a black square in its top-left corner (so orientation shows)."""
    image = Image.new("RGB", size, colour)
    if mark:
        image.paste((0, 0, 0), (0, 0, size[0] // 3, size[1] // 3))
    return image


@pytest.fixture
def photos(tmp_path) -> Path:
    """photos/<colour>/<n>.<format>: six formats, three colours, 12 images in all."""
    root = tmp_path / "photos"
    formats = [("png", "PNG"), ("jpg", "JPEG"), ("webp", "WEBP"), ("gif", "GIF")]
    for colour, rgb in COLOURS.items():
        (root / colour).mkdir(parents=True)
        for k, (suffix, fmt) in enumerate(formats):
            _picture(rgb).save(root / colour / f"{k}.{suffix}", format=fmt)
    return root


def _digits(n=600):
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.images[:n] * (255 / 16)).round().astype(np.uint8), d.target[:n]


def _loo_agreement(vectors: np.ndarray, labels: np.ndarray) -> float:
    """Share of rows whose nearest other row (cosine) has the same label."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-12)
    sims = unit @ unit.T
    np.fill_diagonal(sims, -np.inf)
    return float((labels[sims.argmax(axis=1)] == labels).mean())


def _png_declaring(width: int, height: int) -> bytes:
    """A small valid PNG whose header then says it is width x height (a decompression bomb's header)."""
    out = io.BytesIO()
    Image.new("L", (4, 4), 0).save(out, format="PNG")
    data = bytearray(out.getvalue())
    ihdr = 8  # after the signature: length (4), b"IHDR" (4), then width, height
    data[ihdr + 8 : ihdr + 16] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr + 4 : ihdr + 8 + 13]))
    data[ihdr + 8 + 13 : ihdr + 8 + 17] = struct.pack(">I", crc)
    return bytes(data)


def _run(*args):
    return CliRunner().invoke(main, ["-q", *map(str, args)])


# ---- sources -----------------------------------------------------------------------------------------


def test_folder_with_subfolder_labels(photos):
    space = images.build(photos, "pixels", labels="folders", size=8)
    assert space.n == 12 and space.dim == 8 * 8 * 3
    assert space.ids[:2] == ["blue/0.png", "blue/1.jpg"] and space.ids == sorted(space.ids)
    assert space.meta["label"] == [i.split("/")[0] for i in space.ids]
    assert set(space.meta["width"]) == {24} and set(space.meta["height"]) == {16}
    assert space.info["builder"] == "embspace.images" and space.info["images"]["method"] == "pixels"
    assert space.info["labels"] == {"from": "folders", "classes": 3} and space.info["skipped"] == 0
    # Same colour, same neighbourhood: every image's nearest other image has its label.
    assert _loo_agreement(space.vectors, np.array(space.meta["label"])) == 1.0


def test_every_format_decodes_to_rgb(tmp_path):
    rgb = COLOURS["green"]
    for fmt, suffix in [("PNG", "png"), ("JPEG", "jpg"), ("WEBP", "webp"), ("BMP", "bmp"), ("TIFF", "tif")]:
        path = tmp_path / f"x.{suffix}"
        _picture(rgb, mark=False).save(path, format=fmt)
        pixels = decode_image(path)
        assert pixels.shape == (16, 24, 3) and pixels.dtype == np.uint8
        assert np.abs(pixels.reshape(-1, 3).mean(axis=0) - rgb).max() < 6, fmt
    frames = [_picture(c, mark=False) for c in (COLOURS["red"], COLOURS["blue"])]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    first = decode_image(tmp_path / "anim.gif")
    assert first[0, 0, 0] > 150 and first[0, 0, 2] < 100  # the first frame (red), not the blue one


def test_conversions_exif_palette_16bit_alpha_cmyk(tmp_path):
    # EXIF orientation 6: the stored picture is turned 90 degrees; decoding turns it upright.
    upright = _picture(COLOURS["red"], size=(20, 40))  # 20 wide, 40 high, black mark top-left
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # how a camera held sideways stores it
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(tmp_path / "turned.jpg", exif=exif.tobytes(), quality=95)
    pixels = decode_image(tmp_path / "turned.jpg")
    assert pixels.shape == (40, 20, 3)
    assert pixels[:5, :5].mean() < 60 and pixels[-5:, -5:, 0].mean() > 150  # the mark is top-left again
    # Palette with a transparent colour: transparent pixels become white.
    palette = Image.new("P", (8, 8), 0)
    palette.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    palette.paste(1, (0, 0, 4, 8))
    palette.save(tmp_path / "palette.png", transparency=1)
    p = decode_image(tmp_path / "palette.png")
    assert tuple(p[0, 0]) == (255, 255, 255) and tuple(p[0, 7]) == (255, 0, 0)
    # 16-bit grayscale: scaled to 8 bits.
    deep = np.full((6, 6), 65535, dtype=np.uint16)
    deep[:, :3] = 32768
    Image.fromarray(deep).save(tmp_path / "deep.png")
    d = decode_image(tmp_path / "deep.png")
    assert tuple(d[0, 5]) == (255, 255, 255) and abs(int(d[0, 0, 0]) - 128) <= 1
    # RGBA half transparent: composited on white.
    Image.new("RGBA", (4, 4), (0, 0, 0, 128)).save(tmp_path / "alpha.png")
    assert abs(int(decode_image(tmp_path / "alpha.png")[0, 0, 0]) - 127) <= 1
    # CMYK JPEG: converted to RGB.
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg")
    c = decode_image(tmp_path / "cmyk.jpg")
    assert c.shape == (8, 8, 3) and c[0, 0, 0] > 200 and c[0, 0, 1] < 60


def test_csv_and_parquet_with_path_column_meta_and_labels(photos):
    rows = sorted(photos.rglob("*.png"))
    table = photos / "catalogue.csv"
    lines = ["file,category,price"] + [f"{p.relative_to(photos)},{p.parent.name},{i}.5" for i, p in enumerate(rows)]
    table.write_text("\n".join(lines) + "\n")
    space = images.build(table, "pixels", path_column="file", label="category", size=4)
    assert space.ids == [str(p.relative_to(photos)) for p in rows]
    assert space.meta["label"] == [p.parent.name for p in rows]
    assert space.meta["price"] == [0.5, 1.5, 2.5] and space.meta["path"] == space.ids
    with pytest.raises(EmbspaceError, match=r"no label column 'colour'; the columns are file, category, price"):
        images.build(table, "pixels", path_column="file", label="colour")
    with pytest.raises(EmbspaceError, match="no column 'path' of image paths"):
        images.build(table, "pixels")
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"path": space.ids, "shop": ["a", "b", "c"]}), photos / "items.parquet")
    again = images.build(photos / "items.parquet", "pixels", size=4)
    assert again.ids == space.ids and again.meta["shop"] == ["a", "b", "c"]
    assert np.allclose(again.vectors, space.vectors)


def test_npy_gray_and_colour(tmp_path):
    pictures, _ = _digits(20)
    np.save(tmp_path / "digits.npy", pictures)
    gray = images.build(tmp_path / "digits.npy", "pixels", size=8)
    assert gray.ids[3] == "digits:3" and gray.dim == 64  # gray sources keep one channel
    assert gray.info["images"]["channels"] == 1
    assert np.allclose(gray.vectors[3], pictures[3].ravel() / 255, atol=1e-6)
    colour = np.random.default_rng(0).random((5, 10, 12, 3))  # floats in [0, 1]
    np.save(tmp_path / "colour.npy", colour)
    space = images.build(tmp_path / "colour.npy", "pixels", size=6)
    assert space.n == 5 and space.dim == 6 * 6 * 3 and space.meta["width"][0] == 12
    folder = tmp_path / "gray"  # gray pictures as RGB files: found gray, kept as one channel
    folder.mkdir()
    for k in range(4):
        Image.fromarray(pictures[k]).convert("RGB").save(folder / f"{k}.png")
    from_files = images.build(folder, "pixels", size=8)
    assert from_files.info["images"]["channels"] == 1 and np.allclose(from_files.vectors, gray.vectors[:4], atol=1e-6)
    query = images.embed_images(from_files, folder / "2.png")
    assert np.allclose(query[0], from_files.vectors[2], atol=1e-5)
    np.save(tmp_path / "bad.npy", np.zeros((3, 4), np.uint8))
    with pytest.raises(EmbspaceError, match=r"shape \(3, 4\); expected \(n, h, w\)"):
        images.build(tmp_path / "bad.npy", "pixels")


@pytest.fixture
def fashion_idx(tmp_path) -> Path:
    """The first 300 Fashion-MNIST test images and labels, written as new IDX .gz files."""
    if not (FASHION / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip("Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)")
    with gzip.open(FASHION / "t10k-images-idx3-ubyte.gz") as fh:
        head, body = fh.read(16), fh.read(300 * 784)
    with gzip.open(FASHION / "t10k-labels-idx1-ubyte.gz") as fh:
        fh.read(8)
        labels = fh.read(300)
    assert struct.unpack(">IIII", head)[:2] == (0x803, 10_000)
    out = tmp_path / "slice-images-idx3-ubyte.gz"
    with gzip.open(out, "wb") as fh:
        fh.write(struct.pack(">IIII", 0x803, 300, 28, 28) + body)
    with gzip.open(tmp_path / "slice-labels-idx1-ubyte.gz", "wb") as fh:
        fh.write(struct.pack(">II", 0x801, 300) + labels)
    return out


def test_idx_fashion_slice_with_labels(fashion_idx, tmp_path):
    space = images.build(fashion_idx, "pixels", batch_size=64)
    assert space.n == 300 and space.dim == 784 and space.ids[0] == "slice-images:0"
    assert space.meta["label"][:5] == [9, 2, 1, 1, 6] and space.info["labels"]["classes"] == 10
    assert _loo_agreement(space.vectors, np.array(space.meta["label"])) > 0.6  # chance is 0.1
    assert images.build(fashion_idx, "pixels", limit=10).n == 10
    unpacked = tmp_path / "slice-images-idx3-ubyte"  # its labels beside it still packed: found too
    unpacked.write_bytes(gzip.decompress(fashion_idx.read_bytes()))
    same = images.build(unpacked, "pixels")
    assert np.array_equal(same.vectors, space.vectors) and same.meta["label"] == space.meta["label"]
    # A file shorter than its header says: refused in one line before reading.
    cut = tmp_path / "cut-images-idx3-ubyte"
    cut.write_bytes(gzip.decompress(fashion_idx.read_bytes())[:-100])
    with pytest.raises(EmbspaceError, match="the header says 300 x 28 x 28"):
        images.read_images(cut)


# ---- methods -----------------------------------------------------------------------------------------


def test_pixels_and_features_group_digits(tmp_path):
    pictures, labels = _digits(500)
    np.save(tmp_path / "digits.npy", pictures)
    pixels = images.build(tmp_path / "digits.npy", "pixels", size=8, thumbnails=False)
    features = images.build(pictures, "features", labels=labels, thumbnails=False)  # an array, from Python
    assert features.ids[:2] == ["images:0", "images:1"] and features.meta["label"][:3] == [0, 1, 2]
    assert features.info["labels"] == {"from": "list", "classes": 10}
    with pytest.raises(EmbspaceError, match="3 labels for 500 images"):
        images.build(pictures, "pixels", labels=[0, 1, 2])
    state = features.info["images"]
    assert [b["name"] for b in state["blocks"]] == ["colour", "shape", "texture"]
    assert sum(b["size"] for b in state["blocks"]) == features.dim
    assert features.extras["features-standardise"].shape == (2, features.dim)
    for space in (pixels, features):
        assert _loo_agreement(space.vectors, labels) > 0.85, space.info["method"]  # chance is 0.1
    # Each block is standardised and weighted: its expected squared length is its weight squared.
    for block in state["blocks"]:
        part = features.vectors[:, block["offset"] : block["offset"] + block["size"]]
        spread = (part**2).sum(axis=1).mean()
        assert spread <= block["weight"] ** 2 + 1e-3 and (spread > 0.25 * block["weight"] ** 2 or block["size"] < 200)


def test_hog_batch_matches_scikit_image():
    from skimage.feature import hog

    pictures, _ = _digits(8)
    gray = np.stack([np.asarray(Image.fromarray(p).resize((36, 36))) for p in pictures]).astype(np.float32) / 255
    ref = [hog(g, orientations=8, pixels_per_cell=(4, 4), cells_per_block=(2, 2), block_norm="L2-Hys") for g in gray]
    assert np.allclose(hog_batch(gray, 8, 4), np.asarray(ref), atol=1e-5)


def test_unknown_knob_lists_the_valid_ones(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(EmbspaceError, match=r"no parameter 'epochs'; its parameters: size, orientations, cell"):
        images.build(tmp_path / "a.npy", "features", epochs=3)
    with pytest.raises(EmbspaceError, match="unknown image method 'magic'"):
        images.build(tmp_path / "a.npy", "magic")


# ---- query images --------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["pixels", "features"])
def test_a_query_image_lands_on_its_own_row(photos, tmp_path, method):
    space = images.build(photos, method, labels="folders")
    embspace.save(space, tmp_path / "s.space")
    loaded = embspace.load(tmp_path / "s.space")
    row = loaded.index("green/1.jpg")
    path = photos / "green" / "1.jpg"
    for query in (path, Image.open(path), decode_image(path)):
        vector = images.embed_images(loaded, query)
        assert vector.shape == (1, loaded.dim) and np.allclose(vector[0], loaded.vectors[row], atol=1e-5)
    hit = loaded.neighbors(images.embed_images(loaded, path)[0], k=1)[0]
    assert hit.id == "green/1.jpg"
    files = [photos / i for i in loaded.ids]  # several at once, in batches smaller than the list
    assert np.allclose(images.embed_images(loaded, files, batch_size=5), loaded.vectors, atol=1e-5)


def test_query_errors_are_one_line(photos, tmp_path, monkeypatch):
    space = images.build(photos, "pixels", size=4)
    (tmp_path / "bomb.png").write_bytes(_png_declaring(20_000, 20_000))
    with pytest.raises(EmbspaceError, match=r"400,000,000 pixels is larger than the limit of 50,000,000"):
        images.embed_images(space, tmp_path / "bomb.png")
    with pytest.raises(EmbspaceError, match="not built from images"):
        images.embed_images(embspace.Space(["a"], [[1.0, 0.0]]), photos / "red" / "0.png")
    # A space built with a method whose packages are missing here: the error names the extra to install.
    space.info["images"] = {"method": "cnn", "image_size": 112}
    monkeypatch.setitem(sys.modules, "embspace.images._cnn", None)
    with pytest.raises(EmbspaceError, match=r"images-cnn") as caught:
        images.embed_images(space, photos / "red" / "0.png")
    assert "\n" not in str(caught.value)


# ---- bad input -------------------------------------------------------------------------------------------


def test_bad_files_are_skipped_counted_and_listed(photos):
    (photos / "red" / "text.jpg").write_text("this is not a JPEG")
    (photos / "red" / "empty.png").write_bytes(b"")
    (photos / "red" / "bomb.png").write_bytes(_png_declaring(20_000, 20_000))
    (photos / "red" / "cut.png").write_bytes((photos / "red" / "0.png").read_bytes()[:60])
    os.mkfifo(photos / "red" / "pipe.png")  # would block a reader that opened it
    _picture(COLOURS["red"]).save(photos / "red" / "icon.png", format="ICO")  # a format embspace does not read
    whole = (photos / "red" / "1.jpg").read_bytes()
    (photos / "red" / "half.jpg").write_bytes(whole[: len(whole) // 2])  # header fine, pixels cut off
    space = images.build(photos, "pixels", labels="folders", size=4)
    assert space.n == 12 and space.info["skipped"] == 7
    assert "truncated" in {r["id"]: r["reason"] for r in space.info["skipped_files"]}["red/half.jpg"].lower()
    assert "not an image of PNG, JPEG" in {r["id"]: r["reason"] for r in space.info["skipped_files"]}["red/icon.png"]
    reasons = {row["id"]: row["reason"] for row in space.info["skipped_files"]}
    assert "not an image" in reasons["red/text.jpg"] and "0 bytes" in reasons["red/empty.png"]
    assert "limit of 50,000,000" in reasons["red/bomb.png"] and "red/cut.png" in reasons
    assert "thumbnail" in space.meta and space.info["thumbnails"]["count"] == 12
    assert len(space.meta["label"]) == 12


def test_a_collection_with_no_readable_image_fails_in_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no pictures here")
    with pytest.raises(EmbspaceError, match=r"no images in .*empty: found no image files"):
        images.build(tmp_path / "empty", "pixels")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.png").write_bytes(b"")
    (tmp_path / "junk" / "b.jpg").write_text("hello")
    with pytest.raises(EmbspaceError, match=r"no images in .*junk: none of 2 could be read"):
        images.build(tmp_path / "junk", "pixels")
    with pytest.raises(EmbspaceError, match="/dev/zero: not a regular file or a folder"):
        images.build("/dev/zero", "pixels")


def test_mixed_sizes_are_resized_and_said(tmp_path):
    (tmp_path / "mixed").mkdir()
    _picture(COLOURS["red"], size=(30, 20)).save(tmp_path / "mixed" / "a.png")
    _picture(COLOURS["blue"], size=(12, 40)).save(tmp_path / "mixed" / "b.png")
    with pytest.warns(MixedSizesWarning, match=r"images come in 2 sizes; resized to 8 x 8 px"):
        space = images.build(tmp_path / "mixed", "pixels", size=8)
    assert space.dim == 192 and space.meta["width"] == [30, 12] and space.info["image_sizes"] == 2


# ---- thumbnails ------------------------------------------------------------------------------------------


def test_thumbnail_pages_follow_the_format(photos, tmp_path):
    (photos / "wide.png").parent.mkdir(exist_ok=True)
    _picture(COLOURS["blue"], size=(40, 20), mark=False).save(photos / "wide.png")
    with pytest.warns(MixedSizesWarning):
        space = images.build(photos, "pixels", size=4, thumb_size=16)
    layout = space.info["thumbnails"]
    assert layout == {"tile": 16, "cols": 128, "rows": 1, "per_page": 128, "pages": 1, "count": 13, "format": "png"}
    assert sorted(space.assets) == ["thumbs-000.png"] and space.meta["thumbnail"] == list(range(13))
    page = Image.open(io.BytesIO(space.assets["thumbs-000.png"]))
    assert page.mode == "RGB" and page.size == (128 * 16, 16)
    wide = space.meta["thumbnail"][space.index("wide.png")]
    tile = np.asarray(page)[:, wide * 16 : wide * 16 + 16]
    assert tuple(tile[0, 8]) == (255, 255, 255) and tile[8, 8, 2] > 180  # centred on white, aspect kept
    # Read back through the helpers, from a saved space and from a subset (whose rows keep their tiles).
    embspace.save(space, tmp_path / "t.space")
    loaded = embspace.load(tmp_path / "t.space")
    assert np.array_equal(np.asarray(images.thumbnail(loaded, "wide.png")), tile)
    part = loaded.subset(["wide.png", "red/0.png"])
    assert np.array_equal(np.asarray(images.thumbnail(part, 0)), tile)
    sheet = images.sprite(part, [0, 1], tile=8)
    assert sheet.size == (16, 8)
    with pytest.warns(MixedSizesWarning):
        none = images.build(photos, "pixels", size=4, thumbnails=False)
    assert "thumbnail" not in none.meta and "thumbnails" not in none.info and not none.assets
    with pytest.raises(EmbspaceError, match="keeps no thumbnails"):
        images.thumbnail(none, 0)


def test_thumbnail_pixels_are_the_raw_pixel_baseline(fashion_idx):
    space = images.build(fashion_idx, "features", limit=40)
    pixels = images.thumbnail_pixels(space, size=28)
    raw = images.build(fashion_idx, "pixels", limit=40, thumbnails=False).vectors
    assert pixels.shape == (40, 784) and pixels.dtype == np.float32  # gray: one channel
    assert np.abs(pixels - raw).mean() < 0.03  # 28 px -> 64 px tile -> 28 px again
    part = space.subset(space.ids[::-1][:5])
    assert np.array_equal(images.thumbnail_pixels(part), images.thumbnail_pixels(space)[::-1][:5])


def test_image_files_lists_what_a_folder_build_reads(photos):
    (photos / ".hidden").mkdir()
    _picture(COLOURS["red"]).save(photos / ".hidden" / "x.png")
    (photos / "notes.txt").write_text("not a picture")
    files = images.image_files(photos)
    assert [f.relative_to(photos).as_posix() for f in files] == images.build(photos, "pixels", size=4).ids


def test_many_thumbnails_fill_several_pages(tmp_path, monkeypatch):
    from embspace.images import _thumbs

    monkeypatch.setattr(_thumbs, "MEMORY_PAGES", 1)  # so these pages go to a temporary folder
    np.save(tmp_path / "many.npy", np.random.default_rng(1).integers(0, 255, (70, 8, 8), np.uint8))
    space = images.build(tmp_path / "many.npy", "pixels", size=4, thumb_size=256)  # 8 x 8 tiles a page
    layout = space.info["thumbnails"]
    assert (layout["cols"], layout["rows"], layout["per_page"], layout["pages"]) == (8, 8, 64, 2)
    assert sorted(space.assets) == ["thumbs-000.png", "thumbs-001.png"]
    spooled = space.assets["thumbs-001.png"]
    assert isinstance(spooled, Path) and spooled.exists()
    last = np.asarray(images.thumbnail(space, 69))
    assert last.shape == (256, 256, 3) and not (last == 255).all()
    part = space.subset(["many:69"])
    embspace.save(part, tmp_path / "part.space")
    del space
    assert spooled.exists()  # the subset still holds the page
    assert np.array_equal(np.asarray(images.thumbnail(embspace.load(tmp_path / "part.space"), 0)), last)
    folder = spooled.parent
    del part, spooled
    import gc

    gc.collect()
    assert not folder.exists()  # the temporary folder goes with the last page


# ---- the command line -------------------------------------------------------------------------------------


def test_cli_build_images(photos, tmp_path):
    (photos / "red" / "text.jpg").write_text("not a picture")
    out = tmp_path / "photos.space"
    result = _run("build", "images", photos, "--labels", "folders", "--method", "pixels", "-o", out, "--json")
    assert result.exit_code == 0, result.output
    assert "skipped red/text.jpg: not an image" in result.stderr
    assert f"wrote {out}: 12 images × 2352 (pixels)" in result.stderr and "1 skipped" in result.stderr
    import json

    summary = json.loads(result.stdout)
    assert summary["images"] == 12 and summary["skipped"] == 1 and summary["thumbnails"]["count"] == 12
    space = embspace.load(out)
    assert space.meta["label"][0] == "blue" and "thumbs-000.png" in space.assets
    again = _run("build", "images", photos, "-o", out)
    assert again.exit_code == 1 and "--force" in again.output


def test_cli_bad_input_is_one_line(photos, tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("path,kind\nphotos/red/0.png,x\n")
    (tmp_path / "gone.csv").write_text("path\nno/such.png\n")
    cases = [
        (["build", "images", table, "--label", "colour", "-o", tmp_path / "a.space"], "no label column 'colour'"),
        (["build", "images", photos, "--epochs", "3", "-o", tmp_path / "b.space"], "--epochs is for contrastive"),
        (["build", "images", photos, "--batch-size", "0", "-o", tmp_path / "c.space"], "0 is not in the range"),
        (["build", "images", tmp_path / "gone.csv", "-o", tmp_path / "d.space"], "no images in"),
    ]
    for args, message in cases:
        result = _run(*args)
        assert result.exit_code != 0 and message in result.output, (args, result.output)
        assert "Traceback" not in result.output and not Path(args[-1]).exists()
    (tmp_path / "mixed").mkdir()
    _picture(COLOURS["red"], size=(30, 20)).save(tmp_path / "mixed" / "a.png")
    _picture(COLOURS["blue"], size=(12, 40)).save(tmp_path / "mixed" / "b.png")
    result = _run("build", "images", tmp_path / "mixed", "--method", "pixels", "-o", tmp_path / "m.space")
    assert result.exit_code == 0 and "note: images come in 2 sizes; resized to 28 x 28 px" in result.stderr


def test_cli_interrupted_build_writes_nothing(photos, tmp_path, monkeypatch):
    def interrupted(self, batch):
        raise KeyboardInterrupt

    monkeypatch.setattr(Features, "embed", interrupted)
    out = tmp_path / "never.space"
    result = _run("build", "images", photos, "-o", out)
    assert result.exit_code == 130 and "nothing was written" in result.output
    assert not out.exists() and list(tmp_path.iterdir()) == [photos]


def test_several_sources_name_each_images_source_for_a_query_split(tmp_path):
    from embspace.evaluate import knn_accuracy

    rng = np.random.default_rng(0)
    for name in ("train", "test"):
        np.save(tmp_path / f"{name}.npy", rng.integers(0, 255, (20, 12, 12), dtype=np.uint8))
    space = images.build([tmp_path / "train.npy", tmp_path / "test.npy"], "pixels", thumbnails=False)
    assert space.meta["source"] == ["train"] * 20 + ["test"] * 20 and space.ids[20] == "test:0"
    space.meta["label"] = [str(i % 2) for i in range(40)]
    result = knn_accuracy(space, "label", k=3, queries="source=test")[0]
    assert result.details["queries"] == 20 and result.details["database"] == 20
