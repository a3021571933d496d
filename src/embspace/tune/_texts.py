"""Fine-tuning a text space's sentence encoder itself: pairs (MultipleNegativesRankingLoss) or labels
(supervised contrastive, or SetFit's cosine pairs), in a plain torch loop; the model saved as a folder.

>>> result = tune_texts(space, label="label", output="trec-minilm", max_steps=60)   # doctest: +SKIP
>>> result.before, result.after                                                       # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._progress import progress
from .._version import __version__
from ..errors import EmbspaceError
from ..space import Space

LABEL_LOSSES = ("supcon", "pairs")
PAIR_LOSSES = ("mnrl",)
DEVICES = ("auto", "cpu", "cuda")
PROVENANCE = "embspace_tune.json"  # written into the model folder beside sentence-transformers' own files
MIN_PER_CLASS = 2  # a class with fewer labelled texts has no positive pair


@dataclass
class TextTuning:
    """What `tune_texts` did: the model folder, the held-out scores before and after, the steps run.

    ``before``/``after``: held-out kNN label accuracy (labels) or recall@1 of the partner among the
    held-out pairs (pairs); ``metric`` names it, ``heldout`` counts what it was measured on.
    """

    model: str
    metric: str
    before: float
    after: float
    heldout: int
    train: int
    steps: int
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "metric": self.metric,
            "before": self.before,
            "after": self.after,
            "heldout": self.heldout,
            "train": self.train,
            "steps": self.steps,
            "seconds": self.seconds,
            **self.details,
        }


def model_of(space: Space) -> tuple[str, Path]:
    """The sentence-transformers model a text space was built with: (its name in info, its folder)."""
    encoder = space.info.get("encoder") if isinstance(space.info.get("encoder"), dict) else None
    kind = (encoder or {}).get("kind")
    if kind not in ("sentence-transformers", "onnx"):
        what = f"encoder {kind!r}" if kind else f"builder {space.info.get('builder', 'unknown')!r}"
        raise EmbspaceError(
            f"tune texts fine-tunes the sentence-transformers model a text space was built with; this space has "
            f"{what}. Build one with `embspace build texts FILE --model minilm`, or tune its vectors with "
            "`embspace tune contrastive`"
        )
    from ..texts._encoder_base import minilm_path
    from ..texts._encoders import FAST_NAMES, MINILM_NAMES, check_model_folder

    name = str(encoder.get("model") or "minilm")
    if kind == "onnx" or name in MINILM_NAMES or name in FAST_NAMES:
        return "minilm", minilm_path()  # the int8 fast path is tuned in float32 from the same weights
    path = Path(name).expanduser()
    check_model_folder(path)
    return name, path.resolve()


def space_texts(space: Space) -> list[str]:
    if "text" not in space.meta:
        raise EmbspaceError("the space keeps no texts (no 'text' column); build it with `embspace build texts`")
    return ["" if t is None else str(t) for t in space.meta["text"]]


def space_fingerprint(space: Space) -> dict[str, Any]:
    """Name, shape and sha256 of the vectors of a source space: enough to tell which one was used."""
    digest = hashlib.sha256(np.ascontiguousarray(space.vectors, dtype=np.float32).tobytes()).hexdigest()
    return {"name": space.info.get("name"), "n": space.n, "dim": space.dim, "vectors_sha256": digest}


# ---- data -----------------------------------------------------------------------------------------
def label_split(labels: Sequence[str], holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers (train, held out), stratified by label, seeded. Classes with one text train only."""
    labels = np.asarray(labels, dtype=object)
    rng = np.random.default_rng(seed)
    train, held = [], []
    for value in sorted(set(labels.tolist())):
        rows = rng.permutation(np.flatnonzero(labels == value))
        take = int(round(holdout * len(rows))) if len(rows) > 1 else 0
        take = min(max(take, 1 if holdout > 0 and len(rows) > 2 else 0), len(rows) - 1)
        held.extend(rows[:take])
        train.extend(rows[take:])
    return np.sort(np.array(train, dtype=np.int64)), np.sort(np.array(held, dtype=np.int64))


def check_classes(labels: Sequence[str]) -> None:
    values, counts = np.unique(np.asarray(labels, dtype=object).astype(str), return_counts=True)
    if len(values) < 2:
        raise EmbspaceError(f"label-contrastive tuning needs at least 2 classes; got {len(values)}")
    few = [f"{v!r} ({c})" for v, c in zip(values, counts) if c < MIN_PER_CLASS]
    if few:
        raise EmbspaceError(
            f"too few labelled texts for contrastive pairs: {len(few)} class(es) with fewer than {MIN_PER_CLASS}: "
            + ", ".join(few[:5])
            + ("..." if len(few) > 5 else "")
            + "; label more texts or drop those classes"
        )


def _balanced_batches(labels: np.ndarray, batch_size: int, steps: int, rng: np.random.Generator):
    """`steps` batches of row numbers, each from as many classes as fit with >= 2 texts per class.

    Supervised contrastive loss needs positives inside the batch: P classes x K texts (K >= 2).
    """
    classes = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    per = max(2, min(batch_size // max(1, min(len(classes), batch_size // 2)), max(len(c) for c in classes)))
    n_classes = min(len(classes), max(1, batch_size // per))
    for _ in range(steps):
        chosen = rng.choice(len(classes), n_classes, replace=False)
        rows = [rng.choice(classes[c], min(per, len(classes[c])), replace=False) for c in chosen]
        yield np.concatenate(rows)


def _pair_batches(n: int, batch_size: int, steps: int, rng: np.random.Generator):
    order, at = rng.permutation(n), 0
    for _ in range(steps):
        if at + batch_size > n:
            order, at = rng.permutation(n), 0
        yield order[at : at + min(batch_size, n)]
        at += batch_size


def _setfit_pairs(labels: np.ndarray, rng: np.random.Generator, per_text: int = 4):
    """SetFit's pairs: for every text, `per_text` same-label partners (target 1) and as many others (0)."""
    pairs = []
    for i, lab in enumerate(labels):
        same, other = np.flatnonzero(labels == lab), np.flatnonzero(labels != lab)
        same = same[same != i]
        for j in rng.choice(same, min(per_text, len(same)), replace=False):
            pairs.append((i, int(j), 1.0))
        for j in rng.choice(other, min(per_text, len(other)), replace=False):
            pairs.append((i, int(j), 0.0))
    return pairs


# ---- losses ---------------------------------------------------------------------------------------
def supcon_loss(emb, labels, temperature: float = 0.1):
    """Supervised contrastive loss (Khosla et al. 2020) over one batch of unit vectors (b, d)."""
    import torch

    sim = emb @ emb.T / temperature
    b = emb.shape[0]
    eye = torch.eye(b, dtype=torch.bool, device=emb.device)
    sim = sim.masked_fill(eye, -1e9)
    log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    positive = (labels[:, None] == labels[None, :]) & ~eye
    count = positive.sum(1)
    keep = count > 0
    mean_log = (log_prob * positive).sum(1)[keep] / count[keep]
    return -mean_log.mean()


def mnrl_loss(anchors, positives, scale: float = 20.0):
    """MultipleNegativesRankingLoss: each anchor's partner against every other partner in the batch."""
    import torch

    scores = anchors @ positives.T * scale
    return torch.nn.functional.cross_entropy(scores, torch.arange(len(anchors), device=anchors.device))


# ---- the loop -------------------------------------------------------------------------------------
def _device(device: str) -> str:
    import torch

    if device not in DEVICES:
        raise EmbspaceError(f"unknown device {device!r}; expected one of {', '.join(DEVICES)}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise EmbspaceError("--device cuda: no CUDA GPU is visible to torch here; use --device cpu or auto")
    return device


def _load_trainable(path: Path, device: str):
    from ..texts._encoder_base import _offline

    _offline()
    import transformers
    from sentence_transformers import SentenceTransformer

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    try:
        return SentenceTransformer(str(path), device=device, local_files_only=True)
    except Exception as exc:  # a broken folder raises many kinds of errors
        raise EmbspaceError(
            f"{path}: cannot load as a sentence-transformers model ({exc.__class__.__name__})"
        ) from None


def _embed(model, texts: list[str], device: str):
    import torch

    features = model.preprocess(texts) if hasattr(model, "preprocess") else model.tokenize(texts)
    features = {k: v.to(device) if hasattr(v, "to") else v for k, v in features.items()}
    out = model(features)["sentence_embedding"]
    return torch.nn.functional.normalize(out, dim=1)


def _encode(model, texts: list[str], batch_size: int = 128) -> np.ndarray:
    import torch

    model.eval()
    with torch.inference_mode():
        out = model.encode(
            texts, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
        )
    return np.asarray(out, dtype=np.float32)


def knn_accuracy(train: np.ndarray, train_labels, test: np.ndarray, test_labels, k: int = 5) -> float:
    """Share of `test` rows whose k nearest `train` rows (cosine, unit rows) vote for their label.

    Votes are weighted by similarity, so ties are rare; k is capped by the training size.
    """
    train_labels = np.asarray(train_labels, dtype=object)
    test_labels = np.asarray(test_labels, dtype=object)
    classes, codes = np.unique(train_labels.astype(str), return_inverse=True)
    k = min(k, len(train))
    sims = test @ train.T
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    votes = np.zeros((len(test), len(classes)))
    np.add.at(votes, (np.arange(len(test))[:, None], codes[top]), np.take_along_axis(sims, top, 1) + 1.0)
    predicted = classes[votes.argmax(1)]
    return float(np.mean(predicted == test_labels.astype(str)))


def _recall_at_1(anchors: np.ndarray, positives: np.ndarray) -> float:
    return float(np.mean((anchors @ positives.T).argmax(1) == np.arange(len(anchors))))


@dataclass
class _Plan:
    steps: int
    batch_size: int
    learning_rate: float
    warmup: int


def _plan(n_train: int, batch_size: int, epochs: float, max_steps: int | None, learning_rate: float) -> _Plan:
    per_epoch = max(1, math.ceil(n_train / batch_size))
    steps = max(1, math.ceil(epochs * per_epoch))
    if max_steps is not None:
        steps = min(steps, max_steps) if max_steps > 0 else steps
    return _Plan(steps, batch_size, learning_rate, warmup=max(0, steps // 10))


def _train(model, plan: _Plan, step_fn, device: str, seed: int) -> float:
    import torch

    torch.manual_seed(seed)
    model.to(device)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=plan.learning_rate, weight_decay=0.01)

    def factor(step: int) -> float:  # linear warm-up, then linear decay to 0
        if step < plan.warmup:
            return (step + 1) / (plan.warmup + 1)
        return max(0.0, (plan.steps - step) / max(1, plan.steps - plan.warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    last = float("nan")
    with progress(total=plan.steps, desc="tuning", unit="step") as bar:
        for step in range(plan.steps):
            loss = step_fn(step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            last = float(loss.detach())
            bar.update(1)
            bar.set_postfix_str(f"loss {last:.4f}")
    model.eval()
    return last


def tune_texts(
    space: Space,
    output: str | os.PathLike,
    *,
    label: str | None = None,
    pairs: Sequence[tuple[str, str]] | None = None,
    loss: str | None = None,
    holdout: float = 0.2,
    max_steps: int | None = None,
    epochs: float = 1.0,
    batch_size: int = 32,
    learning_rate: float = 2e-5,
    seed: int = 0,
    device: str = "auto",
    overwrite: bool = False,
) -> TextTuning:
    """Fine-tune the sentence encoder of a text space and save it as a sentence-transformers folder.

    Parameters
    ----------
    space : Space
        Built by `embspace.texts.build` with a sentence-transformers model (its ``info["encoder"]``).
    output : path
        The model folder to write (atomically: a temporary sibling renamed at the end). Use it with
        ``embspace.texts.build(..., model=output)`` or ``embspace build texts --model OUTPUT``.
    label : str, optional
        A meta column of labels: label-contrastive tuning (``loss`` ``supcon``, the default, or
        ``pairs``: SetFit's same/different-label pairs with a cosine loss).
    pairs : sequence of (text, text), optional
        Texts that belong together (a question and its answer, two paraphrases): ``mnrl``,
        MultipleNegativesRankingLoss with in-batch negatives.
    holdout : float
        Fraction of labelled texts (stratified) or of pairs kept out of training to score before/after.
    max_steps, epochs, batch_size, learning_rate, seed : training; ``max_steps`` caps ``epochs``.
    device : {"auto", "cpu", "cuda"}

    Returns
    -------
    TextTuning with the held-out score before and after, the steps run and the time taken.
    """
    if (label is None) == (pairs is None):
        raise EmbspaceError("give exactly one of label= (a meta column) or pairs= (text pairs) to tune texts")
    if not 0 <= holdout < 1:
        raise EmbspaceError(f"holdout must be in [0, 1); got {holdout}")
    if batch_size < 2:
        raise EmbspaceError(f"batch_size must be at least 2 (in-batch negatives); got {batch_size}")
    name, path = model_of(space)
    target = Path(output)
    _check_model_target(target, overwrite)
    device = _device(device)
    start = time.perf_counter()
    if label is not None:
        loss = loss or "supcon"
        if loss not in LABEL_LOSSES:
            raise EmbspaceError(f"unknown loss {loss!r} for labels; expected one of {', '.join(LABEL_LOSSES)}")
        run = _LabelRun(space, label, holdout, seed)
    else:
        loss = loss or "mnrl"
        if loss not in PAIR_LOSSES:
            raise EmbspaceError(f"unknown loss {loss!r} for pairs; expected one of {', '.join(PAIR_LOSSES)}")
        run = _PairRun(pairs, holdout, seed)
    model = _load_trainable(path, device)
    before = run.score(model) if run.heldout else float("nan")
    plan = _plan(run.train_size(loss), batch_size, epochs, max_steps, learning_rate)
    rng = np.random.default_rng(seed)
    step_fn = run.step_fn(model, loss, plan, rng, device)
    final_loss = _train(model, plan, step_fn, device, seed)
    after = run.score(model) if run.heldout else float("nan")
    seconds = round(time.perf_counter() - start, 3)
    details = {
        "method": loss,
        "base_model": name,
        "params": {
            "label": label,
            "holdout": holdout,
            "max_steps": max_steps,
            "epochs": epochs,
            "batch_size": batch_size,
            "learning_rate": learning_rate,
            "seed": seed,
            "device": device,
            "warmup_steps": plan.warmup,
        },
        "final_loss": final_loss,
        "source": space_fingerprint(space),
        "embspace_version": __version__,
    }
    result = TextTuning(str(target), run.metric, before, after, run.heldout, run.train, plan.steps, seconds, details)
    _save_model(model, target, result.as_dict(), overwrite)
    return result


def _check_model_target(target: Path, overwrite: bool) -> None:
    if target.exists() and not overwrite:
        raise EmbspaceError(f"{target} already exists; pass --force (overwrite=True) to replace it")
    if target.exists() and not (target / PROVENANCE).is_file():
        raise EmbspaceError(f"{target} exists and is not a model folder written by tune texts; refusing to replace it")
    if not target.absolute().parent.is_dir():
        raise EmbspaceError(f"{target.parent}: no such folder for the model")


def _save_model(model, target: Path, record: dict[str, Any], overwrite: bool) -> None:
    """Save into a temporary sibling, then rename: a crash leaves the old folder or the new one."""
    parent = target.absolute().parent
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=parent))
    try:
        model.to("cpu")
        model.save(str(tmp))
        (tmp / PROVENANCE).write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
        if target.exists() and overwrite:
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=parent))
            os.replace(target, old / "model")
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


class _LabelRun:
    metric = "knn_accuracy"

    def __init__(self, space: Space, label: str, holdout: float, seed: int):
        if label not in space.meta:
            raise EmbspaceError(
                f"the space has no {label!r} column; its columns are " + (", ".join(map(repr, space.meta)) or "none")
            )
        texts = space_texts(space)
        values = ["" if v is None else str(v) for v in space.meta[label]]
        rows = [i for i, v in enumerate(values) if v != "" and texts[i].strip()]
        check_classes([values[i] for i in rows])
        self.texts = [texts[i] for i in rows]
        self.labels = np.array([values[i] for i in rows], dtype=object)
        self.train_rows, self.held_rows = label_split(self.labels, holdout, seed)
        check_classes(self.labels[self.train_rows])
        self.train, self.heldout = len(self.train_rows), len(self.held_rows)
        self.seed = seed
        self._pairs: list = []

    def train_size(self, loss: str) -> int:
        if loss == "pairs":
            rng = np.random.default_rng(self.seed)
            self._pairs = _setfit_pairs(self.labels[self.train_rows], rng)
            return len(self._pairs)
        return self.train

    def score(self, model) -> float:
        train = _encode(model, [self.texts[i] for i in self.train_rows])
        held = _encode(model, [self.texts[i] for i in self.held_rows])
        return knn_accuracy(train, self.labels[self.train_rows], held, self.labels[self.held_rows])

    def step_fn(self, model, loss: str, plan: _Plan, rng: np.random.Generator, device: str):
        import torch

        texts = [self.texts[i] for i in self.train_rows]
        labels = self.labels[self.train_rows]
        codes = torch.as_tensor(np.unique(labels.astype(str), return_inverse=True)[1], device=device)
        if loss == "supcon":
            batches = iter(_balanced_batches(labels, plan.batch_size, plan.steps, rng))

            def step(_: int):
                rows = next(batches)
                return supcon_loss(_embed(model, [texts[i] for i in rows], device), codes[rows])

            return step
        pairs = self._pairs
        order = iter(_pair_batches(len(pairs), plan.batch_size, plan.steps, rng))

        def pair_step(_: int):
            chosen = [pairs[i] for i in next(order)]
            a = _embed(model, [texts[i] for i, _, _ in chosen], device)
            b = _embed(model, [texts[j] for _, j, _ in chosen], device)
            target = torch.tensor([t for _, _, t in chosen], dtype=a.dtype, device=device)
            return torch.nn.functional.mse_loss((a * b).sum(1), target)  # SetFit's CosineSimilarityLoss

        return pair_step


class _PairRun:
    metric = "recall@1"

    def __init__(self, pairs: Sequence[tuple[str, str]], holdout: float, seed: int):
        clean = [(str(a), str(b)) for a, b in pairs if str(a).strip() and str(b).strip()]
        if len(clean) < 2:
            raise EmbspaceError(f"pair tuning needs at least 2 pairs of non-empty texts; got {len(clean)}")
        order = np.random.default_rng(seed).permutation(len(clean))
        take = int(round(holdout * len(clean)))
        take = min(take, len(clean) - 2)
        self.held = [clean[i] for i in order[:take]]
        self.pairs = [clean[i] for i in order[take:]]
        self.train, self.heldout = len(self.pairs), len(self.held)

    def train_size(self, loss: str) -> int:
        return self.train

    def score(self, model) -> float:
        return _recall_at_1(_encode(model, [a for a, _ in self.held]), _encode(model, [b for _, b in self.held]))

    def step_fn(self, model, loss: str, plan: _Plan, rng: np.random.Generator, device: str):
        order = iter(_pair_batches(len(self.pairs), plan.batch_size, plan.steps, rng))

        def step(_: int):
            chosen = [self.pairs[i] for i in next(order)]
            a = _embed(model, [x for x, _ in chosen], device)
            b = _embed(model, [y for _, y in chosen], device)
            return mnrl_loss(a, b)

        return step


# ---- pairs files and the re-embedded space ---------------------------------------------------------
PAIR_HEADERS = {"id1", "id2", "a", "b", "left", "right", "anchor", "positive", "query", "answer", "text1", "text2"}
PAIR_HEADERS |= {"sentence1", "sentence2", "source", "target", "id_a", "id_b"}


def read_text_pairs(path: str | os.PathLike, space: Space) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """Pairs of texts from a TSV/CSV of two columns: ids of `space` (their texts are used) or texts.

    When any value is an id of the space, the file is read as id pairs: pairs naming an unknown id are
    counted, listed and dropped (all unknown is an error). When none is, the columns are the texts.
    A first line of column names (id1/id2, anchor/positive, sentence1/sentence2...) is skipped.
    """
    import csv

    path = Path(path)
    if not path.is_file():
        raise EmbspaceError(f"{path}: no such pairs file")
    delimiter = "," if path.suffix.lower() == ".csv" else "\t"
    try:
        with path.open(encoding="utf-8", newline="") as f:
            rows = [r for r in csv.reader(f, delimiter=delimiter) if any(c.strip() for c in r)]
    except UnicodeDecodeError:
        raise EmbspaceError(f"{path}: not UTF-8 text; save the pairs file as UTF-8") from None
    if rows and {c.strip().lower() for c in rows[0][:2]} <= PAIR_HEADERS:
        rows = rows[1:]
    bad = [i for i, r in enumerate(rows) if len(r) < 2]
    if bad:
        sep = "comma" if delimiter == "," else "tab"
        raise EmbspaceError(
            f"{path}: line {bad[0] + 1} has fewer than 2 {sep}-separated columns; expected two per line"
        )
    if not rows:
        raise EmbspaceError(f"{path}: no pairs in the file")
    pairs = [(r[0].strip(), r[1].strip()) for r in rows]
    lookup = space._lookup
    if not any(a in lookup or b in lookup for a, b in pairs):
        return pairs, {"pairs_are": "texts", "pairs": len(pairs), "unknown": 0}
    texts = space_texts(space)
    known = [(a, b) for a, b in pairs if a in lookup and b in lookup]
    unknown = list(dict.fromkeys(x for a, b in pairs for x in (a, b) if x not in lookup))
    if not known:
        raise EmbspaceError(f"{path}: no pair has both ids in the space ({len(unknown):,} unknown ids)")
    out = [(texts[lookup[a]], texts[lookup[b]]) for a, b in known]
    return out, {"pairs_are": "ids", "pairs": len(pairs), "dropped": len(pairs) - len(known), "unknown_ids": unknown}


def reembed(space: Space, model: str | os.PathLike, tuning: TextTuning | None = None) -> Space:
    """`space`'s texts encoded again with a (tuned) model folder: same ids and meta, the new encoder in info.

    A source space's transform chain (post-processing) is not carried over: it belonged to the old vectors.
    """
    from ..texts._encoders import SentenceEncoder

    encoder = SentenceEncoder(str(Path(model).resolve()))
    texts = space_texts(space)
    vectors = encoder.encode(texts)
    info = {k: v for k, v in space.info.items() if k not in ("transforms", "seconds", "encode_seconds")}
    info.update(
        name=f"{space.info.get('name') or 'texts'}-tuned",
        encoder=encoder.describe(),
        tuned=tuning.as_dict() if tuning is not None else {"model": str(model), "source": space_fingerprint(space)},
    )
    return Space(space.ids, vectors, dict(space.meta), info, metric="cosine", check=False)
