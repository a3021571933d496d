"""The `contrastive` method: a small CNN trained on the collection's own images.

Without labels it learns by SimCLR (Chen et al. 2020): two random augmentations of each image are pulled
together and pushed from every other image of the batch (NT-Xent). With labels it learns by supervised
contrastive learning (SupCon, Khosla et al. 2020): every image of the same class is a positive. The loss
sees a projection head; the space's vectors are the backbone's pooled output before it, L2-normalised.
The trained network is kept in the space as safetensors (never pickle), with its architecture in the
manifest, so query images are embedded by the same network later.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import numpy as np

from .._weights import load_weights
from ..errors import EmbspaceError
from ._base import Embedder, FitContext
from ._cnn import resolve_device, stack_resized, use_all_cores

ASSET = "model.safetensors"
ARCHITECTURE = "convnet-s2s2-bn-relu"
WIDTHS = (32, 64, 128, 256)
HEAD_DIM = 128
# Measured on this 2-core CPU (a quiet moment, load average 2.3): one SupCon epoch of 10,000 28-px Fashion-MNIST
# images, two views, batch 256, took 13.5 s, so ~81 s for 60,000 and 10 epochs ~13.5 minutes, within the 15
# the issue allows (benchmarks/bench_images.py reports the time of each build).
DEFAULT_EPOCHS = 10
# SupCon: its paper's 0.1. SimCLR: 0.2, not its CIFAR 0.5: on 5,000 Fashion-MNIST images, 4 epochs, kNN@10 0.767
# against 0.736 at 0.5 (a stronger crop, area 25-100 %, gave 0.746).
TEMPERATURES = {"simclr": 0.2, "supcon": 0.1}
MIN_SIZE, MAX_SIZE = 8, 128


def _net(widths: tuple[int, ...], head_dim: int):
    """The backbone and the projection head (Linear-ReLU-Linear, used by the loss only).

    Backbone: conv 3x3 + BN + ReLU blocks; the first two halve the image by their stride, the later ones
    after the third follow a 2x2 max-pool; then a global average pool. Downsampling early keeps a 28-px
    training step cheap on a CPU (2.5x faster than pooling after full-size blocks, measured).
    """
    import torch
    from torch import nn

    layers: list[nn.Module] = []
    channels = 3
    for i, width in enumerate(widths):
        if i >= 3:
            layers.append(nn.MaxPool2d(2, ceil_mode=True))
        stride = 2 if i < 2 else 1
        layers += [
            nn.Conv2d(channels, width, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        ]
        channels = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    backbone = nn.Sequential(*layers)
    head = nn.Sequential(nn.Linear(channels, channels), nn.ReLU(inplace=True), nn.Linear(channels, head_dim))
    return torch.nn.ModuleDict({"backbone": backbone, "head": head})


def _scale(x):
    """uint8 (b, 3, s, s) tensor -> float in [-1, 1]."""
    return x.float().sub_(127.5).div_(127.5)


def augment(x, generator, min_area: float = 0.5, flip: bool = True):
    """Two-view augmentation of a float batch (b, 3, s, s) in [-1, 1], all in torch on the batch's device.

    A random resized crop (area `min_area`-100 %, aspect 3/4-4/3, anywhere in the image: so also a translation),
    a horizontal flip (half the images; none when `flip` is false), and brightness/contrast jitter (+-0.25 /
    x0.7-1.3).
    """
    import torch
    import torch.nn.functional as F

    b, dev = x.shape[0], x.device

    def uniform(lo: float, hi: float):
        return torch.rand(b, generator=generator).mul_(hi - lo).add_(lo).to(dev)

    area = uniform(min_area, 1.0)
    log_ratio = uniform(math.log(3 / 4), math.log(4 / 3))
    ratio = log_ratio.exp()
    sx = (area * ratio).sqrt().clamp(max=1.0)  # crop width / image width
    sy = (area / ratio).sqrt().clamp(max=1.0)
    tx = (uniform(-1, 1)) * (1 - sx)  # the crop stays inside the image
    ty = (uniform(-1, 1)) * (1 - sy)
    mirror = torch.where(torch.rand(b, generator=generator) < 0.5, -1.0, 1.0).to(dev)  # drawn either way: same stream
    theta = torch.zeros(b, 2, 3, device=dev)
    theta[:, 0, 0] = sx * mirror if flip else sx
    theta[:, 0, 2] = tx
    theta[:, 1, 1] = sy
    theta[:, 1, 2] = ty
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    contrast = uniform(0.7, 1.3).view(b, 1, 1, 1)
    brightness = uniform(-0.25, 0.25).view(b, 1, 1, 1)
    return ((out - mean) * contrast + mean + brightness).clamp_(-1.0, 1.0)


def contrastive_loss(z, labels, temperature: float):
    """SupCon loss (Khosla et al. 2020, L_out) of unit rows `z` (2b, d); `labels` (2b,) integer classes.

    With every label unique but shared by an image's two views, this is SimCLR's NT-Xent.
    """
    import torch

    n = z.shape[0]
    logits = (z @ z.T) / temperature
    self_mask = torch.eye(n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    positives = (labels[:, None] == labels[None, :]) & ~self_mask
    per_anchor = log_prob.masked_fill(~positives, 0.0).sum(1) / positives.sum(1).clamp(min=1)
    return -per_anchor.mean()


class Contrastive(Embedder):
    """A small CNN trained by SimCLR (no labels) or SupCon (labels) on the collection itself.

    Parameters
    ----------
    epochs : int
        Passes over the collection (10 by default: ~13.5 minutes for 60,000 28-px images on 2 CPU cores).
    image_size : int or None
        Training and embedding size. None: the collection's own size when every image is the same square
        of 16-32 px (28 for Fashion-MNIST), else 32.
    batch_size : int
        Images per step (each seen twice, as two augmented views).
    lr : float
        AdamW learning rate, with a warm-up and a cosine decay.
    temperature : float or None
        Of the contrastive loss; None: 0.2 for SimCLR, 0.1 for SupCon.
    seed : int or None
        Initial weights, shuffling and augmentations (None: the build's seed). Same seed, same CPU and
        thread count: the same network.
    device : {"auto", "cpu", "cuda"}
    widths : tuple of int
        Channels of the conv blocks; the last is the vector's dimension.
    flip : bool
        Whether a mirror image means the same thing in this collection (clothes, most photos: True) or not
        (digits, letters, text: False). True: mirror images are one of the training augmentations, and an
        image is embedded as the average of its vector and its mirror image's (see `embed`).
    """

    method = "contrastive"
    extra = "images-cnn"

    def __init__(
        self,
        epochs: int = DEFAULT_EPOCHS,
        image_size: int | None = None,
        batch_size: int = 256,
        lr: float = 2e-3,
        temperature: float | None = None,
        seed: int | None = None,
        device: str = "auto",
        widths: tuple[int, ...] = WIDTHS,
        head_dim: int = HEAD_DIM,
        flip: bool = True,
    ):
        _check_int("epochs", epochs, 1, 10_000)
        _check_int("batch_size", batch_size, 2, 65_536)
        if image_size is not None:
            _check_int("image_size", image_size, MIN_SIZE, MAX_SIZE)
        if not (isinstance(lr, (int, float)) and 0 < lr <= 1):
            raise EmbspaceError(f"lr must be a number in (0, 1]; got {lr!r}")
        if temperature is not None and not (isinstance(temperature, (int, float)) and 0.01 <= temperature <= 10):
            raise EmbspaceError(f"temperature must be between 0.01 and 10; got {temperature!r}")
        _check_architecture(list(widths), head_dim)
        self.epochs, self.image_size, self.batch_size = int(epochs), image_size, int(batch_size)
        self.lr, self.temperature, self.seed = float(lr), temperature, seed
        self.device = resolve_device(device)
        self.widths, self.head_dim = tuple(int(w) for w in widths), int(head_dim)
        if not isinstance(flip, bool):
            raise EmbspaceError(f"flip must be true or false; got {flip!r}")
        self.flip = flip
        self.mirror_average = flip  # spaces built before 0.2 restore with False (see restore)
        self.net_ = None
        self.mode_: str | None = None
        self.losses_: list[float] = []
        self.seconds_: float | None = None

    # ---- training --------------------------------------------------------------------------------
    def fit(self, ctx: FitContext) -> None:
        """Read the collection once (uint8 at the training size, in memory), then train `epochs` epochs."""
        import time

        import torch

        if self.device == "cpu":
            use_all_cores()
        seed = int(self.seed if self.seed is not None else ctx.seed)
        images, labels = self._read(ctx)
        n = images.shape[0]
        if n < 2:
            raise EmbspaceError(f"contrastive training needs at least 2 images; the collection has {n}")
        self.mode_ = "simclr" if labels is None else "supcon"
        temperature = float(self.temperature if self.temperature is not None else TEMPERATURES[self.mode_])
        self.temperature_ = temperature
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = _net(self.widths, self.head_dim).to(self.device, memory_format=torch.channels_last)
        generator = torch.Generator().manual_seed(seed)
        batch = min(self.batch_size, n)
        steps_per_epoch = n // batch  # the last partial batch is dropped: a batch of 1 has no negatives
        total = steps_per_epoch * self.epochs
        optimizer = torch.optim.AdamW(net.parameters(), lr=self.lr, weight_decay=1e-4)
        warmup = max(1, min(total // 10, 500))
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer,
            lambda step: (
                (step + 1) / warmup
                if step < warmup
                else 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))
            ),
        )
        images = images.to(self.device)  # uint8 at the training size: 141 MB for 60,000 28-px images
        ids = torch.arange(n)
        tags = None if labels is None else torch.from_numpy(labels)
        started = time.perf_counter()
        self.losses_ = []
        net.train()
        bar_factory = ctx.progress
        bar = (
            bar_factory(total=self.epochs * steps_per_epoch * batch, desc=f"training ({self.mode_})", unit="img")
            if bar_factory
            else None
        )
        try:
            for epoch in range(self.epochs):
                order = torch.randperm(n, generator=generator)
                running = 0.0
                for step in range(steps_per_epoch):
                    rows = order[step * batch : (step + 1) * batch]
                    x = _scale(images[rows.to(self.device)].permute(0, 3, 1, 2))
                    views = torch.cat([augment(x, generator, flip=self.flip), augment(x, generator, flip=self.flip)])
                    views = views.contiguous(memory_format=torch.channels_last)
                    z = torch.nn.functional.normalize(net["head"](net["backbone"](views)), dim=1)
                    tag = (ids[rows] if tags is None else tags[rows]).to(self.device)
                    loss = contrastive_loss(z, torch.cat([tag, tag]), temperature)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    schedule.step()
                    running += float(loss.detach())
                    if bar is not None:
                        bar.update(len(rows))
                        bar.set_postfix_str(f"epoch {epoch + 1}/{self.epochs} loss {running / (step + 1):.3f}")
                self.losses_.append(round(running / max(1, steps_per_epoch), 5))
        finally:
            if bar is not None:
                bar.close()
        net.eval()
        self.net_ = net
        self.seconds_ = round(time.perf_counter() - started, 2)

    def _read(self, ctx: FitContext):
        """The collection as a uint8 tensor (n, s, s, 3) at the training size, and integer labels or None.

        One array of ctx.n rows filled batch by batch (grown only if the source yields more): the training
        set is held once, never as a list of chunks plus their concatenation.
        """
        import torch

        store: np.ndarray | None = None
        filled = 0
        for batch in ctx.passes():
            if not batch.images:
                continue
            if self.image_size is None:  # decided by the first batch; later ones are resized to it
                self.image_size = _natural_size(batch.images)
            chunk = stack_resized(batch.images, self.image_size)
            if store is None:
                store = np.empty((max(ctx.n, len(chunk)), *chunk.shape[1:]), dtype=np.uint8)
            if filled + len(chunk) > len(store):
                store = np.concatenate([store[:filled], np.empty((filled + len(chunk), *chunk.shape[1:]), np.uint8)])
            store[filled : filled + len(chunk)] = chunk
            filled += len(chunk)
        if store is None or not filled:
            raise EmbspaceError("contrastive training found no images to train on")
        images = torch.from_numpy(store[:filled])
        labels = None
        if ctx.labels is not None:
            labels = np.asarray(ctx.labels)
            if labels.shape != (images.shape[0],):
                raise EmbspaceError(
                    f"{labels.shape[0] if labels.ndim else 0} labels for {images.shape[0]} images; "
                    "give one label per image"
                )
            labels = _classes(labels, images.shape[0])
        return images, labels

    # ---- embedding -------------------------------------------------------------------------------
    def embed(self, images: list[np.ndarray]) -> np.ndarray:
        """(b, widths[-1]) float32 unit vectors: the backbone's pooled output for each image, averaged with
        that of its mirror image when the network was trained with mirror images (`flip`, the default).

        The network was trained to map an image and its mirror image together (the flip is one of its
        augmentations), so averaging the two unit vectors is a cheap test-time augmentation: on a
        10,000/2,000 Fashion-MNIST slice it raised SupCon's kNN@10 from 0.871 to 0.8765 (SimCLR's 0.811 to
        0.8115) for twice the embedding cost, still thousands of images/s.
        """
        import torch

        if self.net_ is None:
            raise EmbspaceError("this contrastive embedder is not trained yet; call fit (or restore a space's)")
        out = np.empty((len(images), self.widths[-1]), dtype=np.float32)
        step = 512
        with torch.inference_mode():
            for start in range(0, len(images), step):
                chunk = stack_resized(images[start : start + step], self.image_size)
                x = _scale(torch.from_numpy(chunk).permute(0, 3, 1, 2).to(self.device))  # NHWC: channels_last
                v = torch.nn.functional.normalize(self.net_["backbone"](x), dim=1)
                if self.mirror_average:
                    mirrored = torch.nn.functional.normalize(self.net_["backbone"](x.flip(3)), dim=1)
                    v = torch.nn.functional.normalize(v + mirrored, dim=1)
                out[start : start + len(chunk)] = v.float().cpu().numpy()
        return out

    # ---- persistence -----------------------------------------------------------------------------
    def _weights_bytes(self) -> bytes:
        from safetensors.torch import save

        tensors = {k: v.detach().cpu().contiguous() for k, v in self.net_.state_dict().items()}
        return save(tensors, metadata={"architecture": json.dumps(self._architecture(), sort_keys=True)})

    def _architecture(self) -> dict[str, Any]:
        return {"name": ARCHITECTURE, "widths": list(self.widths), "head_dim": self.head_dim}

    def state(self) -> dict[str, Any]:
        if self.net_ is None:
            raise EmbspaceError("this contrastive embedder is not trained yet; call fit first")
        return {
            "architecture": self._architecture(),
            "dim": self.widths[-1],
            "image_size": self.image_size,
            "scale": "(x - 127.5) / 127.5",
            "flip": self.flip,
            "mirror_average": self.mirror_average,
            "objective": self.mode_,
            "temperature": self.temperature_,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "seed": self.seed,
            "losses": self.losses_,
            "training_seconds": self.seconds_,
            "device": self.device,
            "weights": ASSET,
            "weights_sha256": hashlib.sha256(self._weights_bytes()).hexdigest(),
        }

    def assets(self) -> dict[str, bytes]:
        if self.net_ is None:
            raise EmbspaceError("this contrastive embedder is not trained yet; call fit first")
        return {ASSET: self._weights_bytes()}

    @classmethod
    def restore(cls, state: dict[str, Any], extras: dict[str, np.ndarray], assets: dict) -> Contrastive:
        """The trained network from the manifest's `state` and the space's safetensors asset."""
        import torch

        arch = state.get("architecture") if isinstance(state, dict) else None
        if not isinstance(arch, dict) or arch.get("name") != ARCHITECTURE:
            raise EmbspaceError(f"this space's contrastive network is {arch!r}; expected architecture {ARCHITECTURE!r}")
        widths, head_dim = arch.get("widths"), arch.get("head_dim")
        _check_architecture(widths, head_dim)
        size = state.get("image_size")
        _check_int("the space's image_size", size, MIN_SIZE, MAX_SIZE)
        tensors = load_weights(assets, ASSET, state.get("weights_sha256"), "contrastive")
        self = cls(
            image_size=size,
            widths=tuple(widths),
            head_dim=head_dim,
            temperature=state.get("temperature"),
            flip=state.get("flip", True),
        )
        net = _net(self.widths, self.head_dim)
        try:
            net.load_state_dict(tensors, strict=True)
        except RuntimeError as exc:
            raise EmbspaceError(
                f"{ASSET} does not fit the network the manifest describes ({_first_line(exc)})"
            ) from None
        self.net_ = net.eval().to(self.device, memory_format=torch.channels_last)
        mirror = state.get("mirror_average", False)  # spaces built before it: trained with flips, one view
        if not isinstance(mirror, bool):
            raise EmbspaceError(f"this space's mirror_average is {mirror!r}; expected true or false")
        self.mirror_average = mirror
        self.mode_ = state.get("objective")
        self.temperature_ = state.get("temperature")
        self.losses_ = list(state.get("losses") or [])
        self.seconds_ = state.get("training_seconds")
        self.epochs = int(state.get("epochs") or 1)
        return self


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " ".join(lines[:2])[:200]


def _check_int(name: str, value, lo: int, hi: int) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or not lo <= value <= hi:
        raise EmbspaceError(f"{name} must be an integer between {lo} and {hi}; got {value!r}")


def _check_architecture(widths, head_dim) -> None:
    if not isinstance(widths, list) or not 1 <= len(widths) <= 8:
        raise EmbspaceError(f"widths must be 1 to 8 channel counts; got {widths!r}")
    for w in widths:
        _check_int("a width", w, 1, 2048)
    _check_int("head_dim", head_dim, 1, 2048)


def _natural_size(images: list[np.ndarray]) -> int:
    """The collection's own size when its images are one square size of 16-32 px, else 32."""
    shapes = {im.shape[:2] for im in images}
    if len(shapes) == 1:
        h, w = shapes.pop()
        if h == w and 16 <= h <= 32:
            return int(h)
    return 32


def _classes(labels: np.ndarray, n: int) -> np.ndarray:
    """Integer classes; a row without a label (negative, or NaN) is its own class (only its views pair)."""
    if labels.dtype.kind == "f":
        missing = ~np.isfinite(labels)
        labels = np.where(missing, -1, labels).astype(np.int64)
    elif labels.dtype.kind in "iu":
        labels = labels.astype(np.int64)
    else:
        _, labels = np.unique(labels.astype(str), return_inverse=True)
        labels = labels.astype(np.int64)
    out = labels.copy()
    missing = labels < 0
    out[missing] = labels.max(initial=0) + 1 + np.arange(int(missing.sum()))
    return out
