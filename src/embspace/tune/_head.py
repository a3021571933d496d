"""Contrastive tuning of any space with a projection head learned on its frozen vectors.

The head (a linear map, or Linear-ReLU-Linear) is trained with InfoNCE on id pairs (each pair's partner
against the other partners of the batch, both ways; Oord et al. 2018, as CLIP and sentence-transformers'
MultipleNegativesRankingLoss) or with supervised contrastive loss on labels (every item of the same class is
a positive; Khosla et al. 2020). Hard negatives, optionally, are the nearest rows of the frozen space that are
not positives. The new space's rows are the head's outputs, unit length (metric cosine); the head is kept as
a safetensors asset and recorded as a ``head`` step of ``info["transforms"]``, so a query encoded later (a
text, an image, a table row) goes through it too (`apply_head`).

>>> tuned, report = contrastive(space, labels="label", epochs=20)     # doctest: +SKIP
>>> print(report.table())                                              # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import time
import weakref
from typing import Any

import numpy as np

from .._install import install_hint
from .._progress import progress
from .._weights import load_weights
from ..errors import EmbspaceError
from ._chain import append_step, step_name, tuned_space
from ._head_scores import ContrastiveReport, label_scores, pair_scores
from ._pairs import check_classes, read_labels, read_pairs, split_items, split_pairs

HEADS = ("linear", "mlp")
DEVICES = ("auto", "cpu", "cuda")
TEMPERATURE = 0.1
_BLOCK = 65_536
# A step below this many FLOPs trains on one thread: its matrices are too small to share, and on the 2-core CPU
# under other load a 64-d linear head took 70 ms a step on torch's 2 threads against 4.5 ms on one.
_ONE_THREAD_FLOPS = 2e9


def contrastive(
    space,
    pairs: Any = None,
    labels: Any = None,
    *,
    head: str = "linear",
    dim: int | None = None,
    epochs: int = 20,
    batch_size: int = 256,
    lr: float = 1e-3,
    temperature: float = TEMPERATURE,
    hard_negatives: int = 0,
    test_fraction: float = 0.2,
    seed: int = 0,
    device: str = "auto",
    show_progress: bool | None = None,
):
    """Learn a projection head on `space`'s frozen vectors from `pairs` or `labels`; the tuned space and a report.

    Parameters
    ----------
    space : Space
    pairs : path or sequence of (id, id), optional
        Pairs that should sit close: a TSV/CSV file of two ids per line (an optional header) or a list.
        Unknown ids are counted and dropped (``report.unknown``). Trained with symmetric InfoNCE.
    labels : str, path, mapping or sequence, optional
        A column of ``space.meta``, a CSV/TSV file of id,label, a mapping id -> label or one label per row;
        rows without a label are only transformed. Trained with supervised contrastive loss. Every class
        needs at least 2 items.
    head : {"linear", "mlp"}
        A linear map (started as the identity, or the top principal directions when `dim` is smaller), or
        Linear-ReLU-Linear with a hidden layer as wide as the input.
    dim : int, optional
        Output dimension (the input's by default).
    epochs, batch_size, lr : int, int, float
        Passes over the training pairs/items, pairs or items per step, AdamW's learning rate (cosine decay).
    temperature : float
        Of the softmax over similarities.
    hard_negatives : int
        K > 0: for each anchor, its K nearest rows in the frozen space that are not its positives are mined
        once; each step adds one of them, drawn at random, to the candidates.
    test_fraction : float
        Share of the pairs (or of each class's items) held out, seeded, to score before and after: for
        pairs recall@1/@10 and MRR of the partner among all rows, for labels kNN accuracy (k=10) of held-out
        items against the training items. 0 trains on everything and scores nothing.
    seed : int
        The split, the initial weights, the batches and the negatives drawn.
    device : {"auto", "cpu", "cuda"}
        Where the head trains; the space's rows and queries are put through it on the CPU.

    Returns
    -------
    (Space, ContrastiveReport): the space of shape (n, dim) with unit rows, metric cosine, the same ids, meta,
    extras and assets plus the head; ``info["transforms"]`` ends with the head step, ``info["tuned"]`` records
    the call. The report holds the before/after scores with their coverage, the losses and the time.
    """
    if (pairs is None) == (labels is None):
        raise EmbspaceError("give pairs or labels (one of them) to tune from")
    _require_torch()
    cfg = _Config(head, dim, epochs, batch_size, lr, temperature, hard_negatives, test_fraction, seed, device)
    cfg.metric = "dot" if space.metric == "cosine" else space.metric  # for mining: the inputs are unit for cosine
    d_in = space.dim
    d_out = int(cfg.dim or d_in)
    x = _inputs(space)  # (n, d_in) float32, as the head sees them
    started = time.perf_counter()
    if pairs is not None:
        rows, unknown = read_pairs(pairs, space)
        train, held = split_pairs(rows, cfg.test_fraction, cfg.seed)
        task = _PairTask(train, held, rows, unknown, space.n)
    else:
        values, source, unknown = read_labels(labels, space)
        names, classes = check_classes(values)
        train, held = split_items(classes, cfg.test_fraction, cfg.seed)
        task = _LabelTask(train, held, classes, names, source, unknown, values)
    net, losses = _train(x, task, cfg, d_out, show_progress)
    out = _forward(net, x)
    seconds = round(time.perf_counter() - started, 2)
    report = task.report(space, out, losses, seconds)
    weights = _weights_bytes(net, cfg.head, d_in, d_out)
    asset = step_name(space.info, "head") + ".safetensors"
    step = {
        "kind": "head",
        "architecture": cfg.head,
        "d_in": d_in,
        "d_out": d_out,
        "hidden": d_in if cfg.head == "mlp" else None,
        "input": "unit" if space.metric == "cosine" else "scaled",
        "scale": None if space.metric == "cosine" else _scale(space.vectors),
        "asset": asset,
        "sha256": hashlib.sha256(weights).hexdigest(),
    }
    info = append_step(space.info, step)
    info["normalized"] = True
    record = {
        "method": "contrastive",
        "objective": task.objective,
        "params": cfg.params(),
        "seed": cfg.seed,
        "data": task.data(),
        "losses": losses,
        "scores": report.scores,
        "seconds": seconds,
        "device": cfg.device_used,
    }
    tuned = tuned_space(space, out, info, record, assets={asset: weights})
    tuned.metric = "cosine"
    return tuned, report


# ---- the head --------------------------------------------------------------------------------------------------
def _net(head: str, d_in: int, d_out: int):
    from torch import nn

    if head == "linear":
        return nn.Sequential(nn.Linear(d_in, d_out))
    return nn.Sequential(nn.Linear(d_in, d_in), nn.ReLU(), nn.Linear(d_in, d_out))


def _init(net, head: str, x: np.ndarray, rows: np.ndarray) -> None:
    """A linear head starts where the frozen space is: the identity (or the top principal directions of the
    training rows when it reduces the dimension), so a short training cannot start from a scrambled space."""
    import torch

    if head != "linear":
        return
    layer = net[0]
    d_out, d_in = layer.weight.shape
    with torch.no_grad():
        layer.bias.zero_()
        if d_out == d_in:
            layer.weight.copy_(torch.eye(d_in))
        elif d_out < d_in:
            sample = x[rows[:20_000]].astype(np.float64)
            sample -= sample.mean(axis=0)
            _, _, vt = np.linalg.svd(sample, full_matrices=False)
            top = np.zeros((d_out, d_in))
            top[: min(d_out, len(vt))] = vt[:d_out]
            layer.weight.copy_(torch.from_numpy(top.astype(np.float32)))


def _inputs(space) -> np.ndarray:
    """The rows as the head sees them: unit length for a cosine space, else divided by their RMS norm."""
    x = np.array(space.vectors, dtype=np.float32, order="C", copy=True)
    if space.metric == "cosine":
        return _unit(x)
    return x / np.float32(_scale(x))


def _scale(vectors) -> float:
    n = vectors.shape[0]
    total = sum(float(np.square(vectors[i : i + _BLOCK], dtype=np.float64).sum()) for i in range(0, n, _BLOCK))
    return math.sqrt(total / max(n, 1)) or 1.0


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (x / norms).astype(np.float32, copy=False)


def _forward(net, x: np.ndarray) -> np.ndarray:
    """Unit rows of the head's output, float32 (n, d_out), on the CPU in blocks: the rows and any later query
    are computed by the same code."""
    import torch

    net = net.to("cpu").eval()
    out = np.empty((x.shape[0], net[-1].out_features), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, x.shape[0], _BLOCK):
            out[start : start + _BLOCK] = net(torch.from_numpy(np.ascontiguousarray(x[start : start + _BLOCK]))).numpy()
    return _unit(out)


def _weights_bytes(net, head: str, d_in: int, d_out: int) -> bytes:
    from safetensors.torch import save

    tensors = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    meta = {"architecture": json.dumps({"head": head, "d_in": d_in, "d_out": d_out}, sort_keys=True)}
    return save(tensors, metadata=meta)


# ---- a query through the head (the chain's "head" step) -------------------------------------------------------
_RESTORED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # space -> {asset sha256: head}


def apply_head(space, step: dict[str, Any], vectors: np.ndarray) -> np.ndarray:
    """Put query vectors (q, d_in) through the space's head step; unit rows (q, d_out), float32.

    The head is read from its safetensors asset (checked against the step's sha256) once per space."""
    _require_torch()
    import torch

    x = np.asarray(vectors, dtype=np.float32)
    d_in, d_out = step.get("d_in"), step.get("d_out")
    if x.ndim != 2 or x.shape[1] != d_in:
        raise EmbspaceError(f"the space's head takes vectors of {d_in} dimensions; got shape {x.shape}")
    net = _restored(space, step)
    if step.get("input") == "unit":
        x = _unit(x.copy())
    else:
        scale = step.get("scale")
        if not isinstance(scale, (int, float)) or not scale > 0:
            raise EmbspaceError(f"the space's head step has no valid input scale ({scale!r}); rebuild the space")
        x = x / np.float32(scale)
    with torch.inference_mode():
        out = net(torch.from_numpy(np.ascontiguousarray(x))).numpy()
    if out.shape[1] != d_out:
        raise EmbspaceError(f"the space's head gave {out.shape[1]} dimensions; its step says {d_out}")
    return _unit(out)


def _require_torch() -> None:
    try:
        import safetensors  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        raise EmbspaceError(f"a projection head needs torch and safetensors: {install_hint('tune')}") from None


def _restored(space, step: dict[str, Any]):
    sha = step.get("sha256")
    cache = _RESTORED.setdefault(space, {})
    if sha in cache:
        return cache[sha]
    _require_torch()
    head, d_in, d_out = step.get("architecture"), step.get("d_in"), step.get("d_out")
    if head not in HEADS or not all(isinstance(d, int) and 0 < d <= 65_536 for d in (d_in, d_out)):
        raise EmbspaceError(f"the space's head step is not one this version reads ({head!r}, {d_in}->{d_out})")
    tensors = load_weights(space.assets, step.get("asset"), sha, "tuned")
    net = _net(head, d_in, d_out)
    try:
        net.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        first = " ".join(str(exc).split())[:160]
        raise EmbspaceError(f"{step.get('asset')} does not fit the head its step describes ({first})") from None
    cache[sha] = net.eval()
    return cache[sha]


# ---- training ---------------------------------------------------------------------------------------------------
class _Config:
    def __init__(self, head, dim, epochs, batch_size, lr, temperature, hard_negatives, test_fraction, seed, device):
        if head not in HEADS:
            raise EmbspaceError(f"head {head!r} is not one of {', '.join(HEADS)}")
        _check_int("dim", dim, 1, 8192, optional=True)
        _check_int("epochs", epochs, 1, 100_000)
        _check_int("batch_size", batch_size, 2, 65_536)
        _check_int("hard_negatives", hard_negatives, 0, 1000)
        _check_int("seed", seed, 0, 2**63 - 1)
        _check_number("lr", lr, 0, 1, low_open=True)
        _check_number("temperature", temperature, 0.001, 100)
        _check_number("test_fraction", test_fraction, 0, 0.9)
        if device not in DEVICES:
            raise EmbspaceError(f"device {device!r} is not one of {', '.join(DEVICES)}")
        self.head, self.dim, self.epochs, self.batch_size = head, dim, int(epochs), int(batch_size)
        self.lr, self.temperature, self.test_fraction = float(lr), float(temperature), float(test_fraction)
        self.hard_negatives, self.seed, self.device = int(hard_negatives), int(seed), device
        self.device_used, self.metric = "cpu", "dot"

    def params(self) -> dict[str, Any]:
        keys = ("head", "dim", "epochs", "batch_size", "lr", "temperature", "hard_negatives", "test_fraction")
        return {k: getattr(self, k) for k in keys}


def _check_int(name, value, lo, hi, optional=False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise EmbspaceError(f"{name} must be a whole number from {lo} to {hi}; got {value!r}")


def _check_number(name, value, lo, hi, low_open=False) -> None:
    ok = isinstance(value, (int, float, np.number)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not (lo < value if low_open else lo <= value) or value > hi:
        raise EmbspaceError(f"{name} must be a number from {lo} to {hi}{' (not 0)' if low_open else ''}; got {value!r}")


def _device(name: str) -> str:
    import torch

    cuda = torch.cuda.is_available()
    if name == "cuda" and not cuda:
        raise EmbspaceError(f"device 'cuda' asked for, but this torch ({torch.__version__}) sees no CUDA GPU; use cpu")
    return "cuda" if name == "cuda" or (name == "auto" and cuda) else "cpu"


def _train(x: np.ndarray, task, cfg: _Config, d_out: int, show_progress):
    """The trained head (on the CPU) and the mean loss of each epoch."""

    device = cfg.device_used = _device(cfg.device)
    hidden = x.shape[1] if cfg.head == "mlp" else 0
    flops = 6 * cfg.batch_size * (x.shape[1] * (hidden or d_out) + hidden * d_out)
    with _threads(1 if device == "cpu" and flops < _ONE_THREAD_FLOPS else None):
        return _train_on(x, task, cfg, d_out, show_progress, device)


@contextlib.contextmanager
def _threads(n: int | None):
    """torch's intra-op threads set to `n` for the block (None: unchanged), restored after."""
    import torch

    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if n is not None:
            torch.set_num_threads(before)


def _train_on(x: np.ndarray, task, cfg: _Config, d_out: int, show_progress, device: str):
    import torch

    rng = np.random.default_rng(cfg.seed + 1)
    hard = task.mine(x, cfg.hard_negatives, cfg.metric) if cfg.hard_negatives else None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        net = _net(cfg.head, x.shape[1], d_out)
    _init(net, cfg.head, x, task.rows())
    net = net.to(device).train()
    data = torch.from_numpy(x).to(device)
    steps = task.steps(cfg.batch_size)
    total = steps * cfg.epochs
    optimizer = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * s / total)))
    losses: list[float] = []
    with progress(total=total, desc=f"tuning a head ({task.objective})", unit="step", show=show_progress) as bar:
        for epoch in range(cfg.epochs):
            running = 0.0
            for batch in task.batches(cfg.batch_size, rng):
                loss = task.loss(net, data, batch, hard, rng, cfg.temperature)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                running += float(loss.detach())
                bar.update(1)
            losses.append(round(running / steps, 5))
            bar.set_postfix_str(f"epoch {epoch + 1}/{cfg.epochs} loss {losses[-1]:.4f}")
    return net.to("cpu").eval(), losses


def _batches(n: int, size: int, rng) -> list[np.ndarray]:
    """Shuffled batches of positions 0..n-1; a last batch of 1 joins the one before (it has no negatives)."""
    order = rng.permutation(n)
    out = [order[i : i + size] for i in range(0, n, size)]
    if len(out) > 1 and len(out[-1]) < 2:
        out[-2] = np.concatenate([out[-2], out.pop()])
    return out


def _normalize(z):
    import torch

    return torch.nn.functional.normalize(z, dim=1)


class _PairTask:
    objective = "infonce"

    def __init__(self, train: np.ndarray, held: np.ndarray, every: np.ndarray, unknown, n_rows: int):
        self.train, self.held, self.every, self.unknown = train, held, every, unknown
        both = np.concatenate([train, train[:, ::-1]])
        self.n_rows = n_rows
        self.known = np.unique(both[:, 0] * self.n_rows + both[:, 1])  # training partners, both ways

    def rows(self) -> np.ndarray:
        return np.unique(self.train)

    def steps(self, size: int) -> int:
        return len(_batches(len(self.train), size, np.random.default_rng(0)))

    def batches(self, size: int, rng):
        return _batches(len(self.train), size, rng)

    def mine(self, x: np.ndarray, k: int, metric: str) -> dict[int, np.ndarray]:
        """For each anchor (either side of a training pair), its k nearest rows that are not its partner."""
        from ..search import topk

        anchors = self.rows()
        found, _ = topk(x, x[anchors], k=min(x.shape[0] - 1, k + 16), metric=metric, exclude=anchors[:, None])
        keys = anchors[:, None] * self.n_rows + found
        partner = np.isin(keys, self.known)
        out = {}
        for anchor, row, bad in zip(anchors, found, partner):
            keep = row[~bad][:k]
            if len(keep):
                out[int(anchor)] = keep
        return out

    def _partners(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(len a, len b) mask: b_j is a known partner of (or the same row as) a_i."""
        keys = a[:, None] * self.n_rows + b[None, :]
        return np.isin(keys, self.known) | (a[:, None] == b[None, :])

    def loss(self, net, data, batch, hard, rng, temperature):
        import torch
        import torch.nn.functional as F

        a, b = self.train[batch, 0], self.train[batch, 1]
        if rng.random() < 0.5:  # the pair is unordered: each side anchors as often
            a, b = b, a
        candidates = b
        if hard:
            candidates = np.concatenate([b, [_draw(hard, r, rng, fallback=p) for r, p in zip(a, b)]])
        za = _normalize(net(data[torch.from_numpy(a).to(data.device)]))
        zc = _normalize(net(data[torch.from_numpy(candidates).to(data.device)]))
        logits = za @ zc.T / temperature
        false = self._partners(a, candidates)
        false[np.arange(len(a)), np.arange(len(a))] = False  # the partner itself is the target
        mask = torch.from_numpy(false).to(data.device)
        logits = logits.masked_fill(mask, float("-inf"))
        target = torch.arange(len(a), device=data.device)
        forward = F.cross_entropy(logits, target)
        back = logits[:, : len(a)].T  # each partner against the batch's anchors
        return (forward + F.cross_entropy(back, target)) / 2

    def data(self) -> dict[str, Any]:
        return {
            "pairs": int(len(self.every)),
            "train_pairs": int(len(self.train)),
            "held_out_pairs": int(len(self.held)),
            "unknown": self.unknown.to_dict(),
        }

    def report(self, space, tuned_vectors, losses, seconds) -> ContrastiveReport:
        scores = pair_scores(space, tuned_vectors, self.held, self.every, self.unknown.rows) if len(self.held) else []
        return ContrastiveReport(self.objective, scores, self.data(), losses, seconds)


class _LabelTask:
    objective = "supcon"

    def __init__(self, train, held, classes, names, source, unknown, values):
        self.train, self.held, self.classes, self.names = train, held, classes, names
        self.source, self.unknown, self.values = source, unknown, values
        # the training rows grouped by class, to draw a positive for each anchor of a batch
        self.by_class = train[np.argsort(classes[train], kind="stable")]
        self.class_count = np.bincount(classes[train], minlength=len(names))
        self.class_start = np.concatenate([[0], np.cumsum(self.class_count)[:-1]])

    def rows(self) -> np.ndarray:
        return self.train

    def steps(self, size: int) -> int:
        return len(_batches(len(self.train), size, np.random.default_rng(0)))

    def batches(self, size: int, rng):
        return [self.train[b] for b in _batches(len(self.train), size, rng)]

    def mine(self, x: np.ndarray, k: int, metric: str) -> dict[int, np.ndarray]:
        """For each training item, its k nearest training items of another class."""
        from ..search import topk

        db = np.ascontiguousarray(x[self.train])
        found, _ = topk(
            db, db, k=min(len(self.train) - 1, 4 * k + 16), metric=metric, exclude=np.arange(len(db))[:, None]
        )
        rows = self.train[found]
        other = self.classes[rows] != self.classes[self.train][:, None]
        out = {}
        for item, row, ok in zip(self.train, rows, other):
            keep = row[ok][:k]
            if len(keep):
                out[int(item)] = keep
        return out

    def loss(self, net, data, batch, hard, rng, temperature):
        import torch

        # one more item of its class for each anchor: with many small classes a random batch holds few positives
        c = self.classes[batch]
        positives = self.by_class[self.class_start[c] + rng.integers(0, self.class_count[c])]
        extra = [_draw(hard, r, rng, fallback=-1) for r in batch] if hard else []
        rows = np.unique(np.concatenate([batch, positives, np.array([e for e in extra if e >= 0], dtype=np.int64)]))
        z = _normalize(net(data[torch.from_numpy(rows).to(data.device)]))
        tags = torch.from_numpy(self.classes[rows]).to(data.device)
        return supcon(z, tags, temperature)

    def data(self) -> dict[str, Any]:
        return {
            "labels": self.source,
            "classes": int(len(self.names)),
            "labelled": int((self.classes >= 0).sum()),
            "train_items": int(len(self.train)),
            "held_out_items": int(len(self.held)),
            "unknown": self.unknown.to_dict(),
        }

    def report(self, space, tuned_vectors, losses, seconds) -> ContrastiveReport:
        scores = label_scores(space, tuned_vectors, self.train, self.held, self.values) if len(self.held) else []
        return ContrastiveReport(self.objective, scores, self.data(), losses, seconds)


def _draw(hard: dict[int, np.ndarray], row, rng, fallback) -> int:
    choices = hard.get(int(row))
    return int(choices[rng.integers(len(choices))]) if choices is not None else int(fallback)


def supcon(z, labels, temperature: float):
    """Supervised contrastive loss (Khosla et al. 2020, L_out) of unit rows `z` (b, d) with integer `labels`
    (b,), averaged over the anchors that have a positive in the batch."""
    import torch

    n = z.shape[0]
    self_mask = torch.eye(n, dtype=torch.bool, device=z.device)
    logits = (z @ z.T / temperature).masked_fill(self_mask, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    positives = (labels[:, None] == labels[None, :]) & ~self_mask
    count = positives.sum(1)
    has = count > 0
    if not bool(has.any()):
        return (z * 0).sum()  # no positive in this batch: nothing to learn from it, a zero with a gradient
    per_anchor = log_prob.masked_fill(~positives, 0.0).sum(1) / count.clamp(min=1)
    return -per_anchor[has].mean()
