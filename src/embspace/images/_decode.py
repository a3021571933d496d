"""Decoding one image into uint8 RGB: files, bytes, PIL images and arrays; the reasons an image is refused."""

from __future__ import annotations

import io
import re
import struct
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .._spelling import spell

MAX_PIXELS = 50_000_000  # an image above this many pixels is refused (decompression bombs)
# The formats Pillow may try: the ones embspace reads, and none that run an outside program (EPS runs
# Ghostscript) or parse rarely used containers.
FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "DIB", "TIFF")  # JPEG covers phones' MPO


class ImageSkip(Exception):
    """One image could not be used; the message is the reason (the source goes on without it)."""


def decode_image(source: Any, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """One image as uint8 RGB of shape (h, w, 3): a path, bytes, a PIL image or an array.

    EXIF orientation applied, animated images give their first frame, grayscale / palette / 16-bit /
    CMYK converted, alpha composited on white. Raises ImageSkip with the reason when it cannot be used.
    """
    from PIL import Image

    if isinstance(source, np.ndarray):
        return array_to_rgb(source)
    if isinstance(source, Image.Image):
        return _pil_to_rgb(source, max_pixels)
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise ImageSkip("empty (0 bytes)")
        fh: Any = io.BytesIO(source)
    else:
        path = Path(source)
        try:
            if path.stat().st_size == 0:
                raise ImageSkip("empty file (0 bytes)")
            fh = open(path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise ImageSkip(f"cannot be read: {exc.strerror or exc}") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            try:
                Image.init()  # every plugin registered, so each of FORMATS is known (cheap once done)
                image = Image.open(fh, formats=FORMATS)
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
                raise ImageSkip(_bomb(exc, max_pixels)) from None
            except Image.UnidentifiedImageError:
                raise ImageSkip("not an image of PNG, JPEG, WebP, GIF, BMP or TIFF (not what its name says?)") from None
            except (OSError, ValueError, SyntaxError, struct.error, EOFError) as exc:
                raise ImageSkip(f"unreadable: {short_reason(exc)}") from None
            return _pil_to_rgb(image, max_pixels)
    finally:
        fh.close()


def _pil_to_rgb(image, max_pixels: int) -> np.ndarray:
    from PIL import Image, ImageOps

    w, h = image.size
    if w * h > max_pixels:  # checked on the header, before any pixel is decoded
        raise ImageSkip(f"{w:,} x {h:,} = {w * h:,} pixels is larger than the limit of {max_pixels:,} ({_limit()})")
    if w < 1 or h < 1:
        raise ImageSkip(f"has no pixels ({w} x {h})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            if getattr(image, "n_frames", 1) > 1:
                image.seek(0)  # an animation: its first frame
            image.load()
            image = ImageOps.exif_transpose(image)
            return _modes_to_rgb(image)
    except ImageSkip:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageSkip(_bomb(exc, max_pixels)) from None
    except (OSError, ValueError, SyntaxError, struct.error, EOFError, TypeError, KeyError) as exc:
        raise ImageSkip(f"truncated or damaged: {short_reason(exc)}") from None


def _bomb(exc: BaseException, max_pixels: int) -> str:
    """The reason for an image Pillow itself refused as a decompression bomb (its size is in the message)."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    size = f"{int(found.group(1)):,} pixels" if found else "the image"
    return f"{size} is larger than the limit of {max_pixels:,} pixels ({_limit()})"


def _limit() -> str:
    return spell("max_pixels", metavar="N")


def _modes_to_rgb(image) -> np.ndarray:
    """RGB uint8 from any Pillow mode: 16/32-bit and float scaled, alpha on white, CMYK/YCbCr/LAB converted."""
    from PIL import Image

    mode = image.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if (mode.startswith("I;16") or values.max(initial=0) > 255) else 255.0
        if mode == "F" and values.max(initial=0) <= 1.0:
            top = 1.0
        gray = np.clip(np.rint(values * (255.0 / top)), 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    elif mode == "L" and "transparency" in image.info:
        image = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", image.size, (255, 255, 255, 255)), image)
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    return np.ascontiguousarray(rgb)


def array_to_rgb(array: np.ndarray) -> np.ndarray:
    """uint8 RGB (h, w, 3) from an array (h, w) or (h, w, 1|3|4): uint8, or float in [0, 1] or [0, 255]."""
    a = np.asarray(array)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)) or 0 in a.shape:
        raise ImageSkip(f"an array of shape {a.shape} is not an image; expected (h, w) or (h, w, 1|3|4)")
    a = to_uint8(a)
    if a.ndim == 2:
        return np.repeat(a[:, :, None], 3, axis=2)
    if a.shape[2] == 4:  # alpha on white
        alpha = a[:, :, 3:4].astype(np.float32) / 255.0
        a = np.rint(a[:, :, :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return np.ascontiguousarray(a)


def to_uint8(a: np.ndarray, scale: float | None = None) -> np.ndarray:
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * 255
    if np.issubdtype(a.dtype, np.floating):
        values = a.astype(np.float32)
        if not np.isfinite(values).all():
            raise ImageSkip("holds NaN or Inf pixel values")
        if scale is None:
            scale = 255.0 if values.max(initial=0) <= 1.0 else 1.0
        return np.clip(np.rint(values * scale), 0, 255).astype(np.uint8)
    if np.issubdtype(a.dtype, np.integer):
        top = int(a.max(initial=0))
        if a.min(initial=0) < 0:
            raise ImageSkip("holds negative pixel values")
        return (a if top <= 255 else a.astype(np.float64) * (255.0 / 65535.0)).astype(np.uint8)
    raise ImageSkip(f"pixels of dtype {a.dtype} are not an image; expected uint8 or float")


def short_reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:160]
