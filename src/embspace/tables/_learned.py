"""The `learned` method: entity embeddings of the categorical columns and a small MLP over the standardised
numeric ones, trained to predict the target (Guo & Berkhahn 2016, "Entity Embeddings of Categorical
Variables"); the rows' penultimate activations are the space's vectors.

Regression trains on mean squared error over the standardised target (optionally its logarithm),
classification on cross-entropy. Training is seeded (the same seed and thread count give the same space on
a CPU), stops early on a validation split and keeps the best epoch's weights. The network is kept in the
space as safetensors (never pickle), its architecture and the target's scaling in the manifest.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import time
from typing import Any

import numpy as np

from .._install import install_hint
from .._weights import load_weights
from ..errors import EmbspaceError

ASSET = "network.safetensors"
ARCHITECTURE = "entity-embeddings-mlp"
MAX_LEVELS = 10_000  # embedding rows per categorical column; rarer levels share the unknown row 0


def import_torch():
    try:
        import safetensors  # noqa: F401
        import torch
    except ImportError as exc:
        raise EmbspaceError(
            f"the learned table method needs the Python package {exc.name!r}, which is not installed; "
            f"{install_hint('tables')}"
        ) from None
    return torch


@contextlib.contextmanager
def one_thread():
    """Run torch on one thread: the network is so small that a second thread only adds synchronisation
    (21 epochs on Housing: 0.7 s on one thread, 5.9 s on two cores that other work shares), and one thread
    gives the same numbers on any machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def embedding_size(levels: int) -> int:
    """Embedding width of a column with `levels` values: fast.ai's rule of thumb 1.6 * levels^0.56, capped at 16."""
    return int(max(2, min(16, round(1.6 * levels**0.56))))


def _network(cards: list[int], emb_dims: list[int], numeric: int, hidden: int, dim: int, outputs: int, dropout=0.0):
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.embeddings = nn.ModuleList(nn.Embedding(c + 1, d) for c, d in zip(cards, emb_dims))
            width = sum(emb_dims) + numeric
            self.hidden = nn.Linear(width, hidden)
            self.dropout = nn.Dropout(dropout)
            self.penultimate = nn.Linear(hidden, dim)
            self.out = nn.Linear(dim, outputs)

        def embed(self, codes, numbers):
            parts = [emb(codes[:, i]) for i, emb in enumerate(self.embeddings)]
            x = torch.cat([*parts, numbers], dim=1)
            return torch.relu(self.penultimate(self.dropout(torch.relu(self.hidden(x)))))

        def forward(self, codes, numbers):
            return self.out(self.embed(codes, numbers))

    return Net()


class LearnedNet:
    """Fit on (codes, numbers, target); embed rows as their penultimate activations.

    Parameters follow the estimator habit: set in `__init__`, learned state in `fit` (names ending in _).
    """

    def __init__(
        self,
        dim: int = 16,
        hidden: int = 64,
        epochs: int = 300,
        patience: int = 30,
        batch_size: int = 64,
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        validation: float = 0.2,
        log_target: bool = False,
        dropout: float = 0.0,
        refit: bool = False,
        seed: int = 0,
    ):
        self.dim, self.hidden, self.epochs, self.patience = dim, hidden, epochs, patience
        self.batch_size, self.lr, self.weight_decay = batch_size, lr, weight_decay
        self.validation, self.log_target, self.seed = validation, log_target, seed
        self.dropout, self.refit = dropout, refit
        self.net_ = None

    # ---- training --------------------------------------------------------------------------------
    def fit(self, codes: np.ndarray, numbers: np.ndarray, cards: list[int], target: np.ndarray, task: str, progress):
        """codes (n, c) int64 (0 = unknown), numbers (n, m) float32, target (n,) float (regression) or int (classes)."""
        torch = import_torch()
        n = len(target)
        self.cards_, self.task_ = [int(c) for c in cards], task
        self.emb_dims_ = [embedding_size(c) for c in self.cards_]
        self.numeric_ = int(numbers.shape[1])
        y = self._scale_target(target, task)
        self.outputs_ = 1 if task == "regression" else int(target.max()) + 1
        rng = np.random.default_rng(self.seed)
        order = rng.permutation(n)
        held = max(1, int(round(n * self.validation))) if n >= 10 else 0
        val, train = order[:held], order[held:]
        data = (
            torch.from_numpy(codes.astype(np.int64)),
            torch.from_numpy(numbers.astype(np.float32)),
            torch.from_numpy(y),
        )
        start = time.perf_counter()
        with one_thread(), progress(total=self.epochs, desc="training", unit="epoch") as bar:
            net, best_epoch, best, losses = self._train(data, train, val if held else train, self.epochs, bar)
            if self.refit and held:  # again on every row, as long as the validation split said was best
                net, _, _, _ = self._train(data, order, None, best_epoch, None)
        self.net_ = net.eval()
        self.best_epoch_, self.epochs_run_, self.losses_ = best_epoch, len(losses), losses
        self.validation_rows_, self.validation_loss_ = int(held), float(best)
        self.seconds_ = round(time.perf_counter() - start, 3)
        return self

    def _train(self, data, train: np.ndarray, val: np.ndarray | None, epochs: int, bar):
        """Train a fresh network (seeded) on rows `train`; with `val`, stop `patience` epochs after the best
        validation loss and return that epoch's weights. (net, best epoch, best loss, [train, val] losses)."""
        import torch

        # Seeded here and for the whole training: the initial weights and the dropout masks both draw from
        # torch's global generator, so a run gives the same network whatever ran before it in the process.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            return self._train_seeded(data, train, val, epochs, bar)

    def _train_seeded(self, data, train: np.ndarray, val: np.ndarray | None, epochs: int, bar):
        import torch

        tc, tx, ty = data
        net = _network(self.cards_, self.emb_dims_, self.numeric_, self.hidden, self.dim, self.outputs_, self.dropout)
        generator = torch.Generator().manual_seed(self.seed)
        loss_fn = torch.nn.MSELoss() if self.task_ == "regression" else torch.nn.CrossEntropyLoss()
        opt = torch.optim.AdamW(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        best, best_epoch, best_state, losses = math.inf, epochs, None, []
        t_idx = torch.from_numpy(train)
        for epoch in range(1, epochs + 1):
            net.train()
            perm = t_idx[torch.randperm(len(t_idx), generator=generator)]
            total = 0.0
            for s in range(0, len(perm), self.batch_size):
                b = perm[s : s + self.batch_size]
                opt.zero_grad()
                loss = loss_fn(net(tc[b], tx[b]), ty[b])
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(b)
            if val is None:
                continue
            net.eval()
            with torch.no_grad():
                v = torch.from_numpy(val)
                v_loss = float(loss_fn(net(tc[v], tx[v]), ty[v]))
            losses.append([round(total / max(1, len(perm)), 6), round(v_loss, 6)])
            bar.update(1)
            if v_loss < best - 1e-6:
                best, best_epoch = v_loss, epoch
                best_state = {k: t.detach().clone() for k, t in net.state_dict().items()}
            elif epoch - best_epoch >= self.patience:
                break
        if best_state is not None:
            net.load_state_dict(best_state)
        return net, best_epoch, best, losses

    def _scale_target(self, target: np.ndarray, task: str) -> np.ndarray:
        if task != "regression":
            self.target_mean_, self.target_std_ = 0.0, 1.0
            return target.astype(np.int64)
        y = target.astype(np.float64)
        if self.log_target:
            if (y <= 0).any():
                raise EmbspaceError("log_target needs a target above 0 in every row; leave it off for this target")
            y = np.log(y)
        self.target_mean_, self.target_std_ = float(y.mean()), float(y.std() or 1.0)
        return ((y - self.target_mean_) / self.target_std_).astype(np.float32)[:, None]

    # ---- use --------------------------------------------------------------------------------------
    def embed(self, codes: np.ndarray, numbers: np.ndarray) -> np.ndarray:
        """Penultimate activations (n, dim) float32."""
        torch = import_torch()
        out = np.empty((len(codes), self.dim), dtype=np.float32)
        tc, tx = torch.from_numpy(codes.astype(np.int64)), torch.from_numpy(numbers.astype(np.float32))
        with one_thread(), torch.inference_mode():
            for s in range(0, len(codes), 4096):
                out[s : s + 4096] = self.net_.embed(tc[s : s + 4096], tx[s : s + 4096]).numpy()
        return out

    def predict(self, codes: np.ndarray, numbers: np.ndarray) -> np.ndarray:
        """The network's own prediction: the target's scale for regression, class numbers for classification."""
        torch = import_torch()
        with one_thread(), torch.inference_mode():
            raw = self.net_(torch.from_numpy(codes.astype(np.int64)), torch.from_numpy(numbers.astype(np.float32)))
        raw = raw.numpy()
        if self.task_ != "regression":
            return raw.argmax(axis=1)
        y = raw[:, 0].astype(np.float64) * self.target_std_ + self.target_mean_
        return np.exp(y) if self.log_target else y

    # ---- persistence ------------------------------------------------------------------------------
    def architecture(self) -> dict[str, Any]:
        return {
            "name": ARCHITECTURE,
            "cardinalities": self.cards_,
            "embedding_dims": self.emb_dims_,
            "numeric": self.numeric_,
            "hidden": self.hidden,
            "dim": self.dim,
            "outputs": self.outputs_,
            "activation": "relu",
        }

    def weights(self) -> bytes:
        from safetensors.torch import save

        tensors = {k: v.detach().cpu().contiguous() for k, v in self.net_.state_dict().items()}
        return save(tensors, metadata={"architecture": json.dumps(self.architecture(), sort_keys=True)})

    def state(self) -> dict[str, Any]:
        return {
            "architecture": self.architecture(),
            "task": self.task_,
            "target_scaling": {"log": self.log_target, "mean": self.target_mean_, "std": self.target_std_},
            "training": {
                "epochs": self.epochs,
                "epochs_run": self.epochs_run_,
                "best_epoch": self.best_epoch_,
                "patience": self.patience,
                "batch_size": self.batch_size,
                "lr": self.lr,
                "weight_decay": self.weight_decay,
                "validation_rows": self.validation_rows_,
                "dropout": self.dropout,
                "refit": self.refit,
                "validation_loss": self.validation_loss_,
                "losses": self.losses_,
                "seed": self.seed,
                "seconds": self.seconds_,
            },
            "weights": ASSET,
            "weights_sha256": hashlib.sha256(self.weights()).hexdigest(),
        }

    @classmethod
    def restore(cls, state: Any, assets: dict) -> LearnedNet:
        """The trained network from the manifest's `state` and the space's safetensors asset."""
        import_torch()

        arch = state.get("architecture") if isinstance(state, dict) else None
        if not isinstance(arch, dict) or arch.get("name") != ARCHITECTURE:
            raise EmbspaceError(f"this space's table network is {arch!r:.100}; expected architecture {ARCHITECTURE!r}")
        cards, emb_dims = arch.get("cardinalities"), arch.get("embedding_dims")
        if not (isinstance(cards, list) and isinstance(emb_dims, list) and len(cards) == len(emb_dims)):
            raise EmbspaceError("this space's table network lists malformed cardinalities; rebuild the space")
        for name, value, hi in [
            *(("a cardinality", c, MAX_LEVELS) for c in cards),
            *(("an embedding width", d, 4096) for d in emb_dims),
            ("numeric", arch.get("numeric"), 100_000),
            ("hidden", arch.get("hidden"), 65_536),
            ("dim", arch.get("dim"), 65_536),
            ("outputs", arch.get("outputs"), 1_000_000),
        ]:
            low = 0 if name in ("numeric",) else 1
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= hi:
                raise EmbspaceError(f"this space's table network has {name} {value!r}; rebuild the space")
        tensors = load_weights(assets, ASSET, state.get("weights_sha256"), "learned table")
        scaling = state.get("target_scaling") or {}
        self = cls(dim=arch["dim"], hidden=arch["hidden"], log_target=bool(scaling.get("log")))
        self.cards_, self.emb_dims_, self.numeric_ = cards, emb_dims, arch["numeric"]
        self.outputs_, self.task_ = arch["outputs"], state.get("task")
        self.target_mean_, self.target_std_ = float(scaling.get("mean", 0.0)), float(scaling.get("std", 1.0))
        net = _network(cards, emb_dims, arch["numeric"], arch["hidden"], arch["dim"], arch["outputs"])
        try:
            net.load_state_dict(tensors, strict=True)
        except RuntimeError as exc:
            first = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())[:200]
            raise EmbspaceError(f"{ASSET} does not fit the network the manifest describes ({first})") from None
        self.net_ = net.eval()
        return self
