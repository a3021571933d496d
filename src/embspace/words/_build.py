"""`build words`: corpus -> word space with sgns, cbow, fasttext, glove or ppmi-svd, one set of knobs.

Every method reads the corpus through the same tokenizer and vocabulary rules (min count, max
vocabulary), so differences between methods are differences between methods (Levy, Goldberg &
Dagan 2015), not between preprocessing pipelines.
"""

from __future__ import annotations

import os
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from .._install import install_hint
from .._progress import progress
from ..errors import EmbspaceError
from ..space import Space

METHODS = ("sgns", "cbow", "fasttext", "glove", "ppmi-svd")


@dataclass
class WordParams:
    """The knobs of `build words`. Shared ones first; the rest apply to the methods named."""

    dim: int | None = None  # None: the method's default (METHOD_DEFAULTS)
    window: int | None = None
    min_count: int = 5
    max_vocab: int | None = None
    subsample: float | None = None  # word2vec-style frequent-word subsampling threshold (0 = off)
    epochs: int | None = None
    seed: int = 0
    workers: int = field(default_factory=lambda: min(4, os.cpu_count() or 1))
    lowercase: bool = True
    encoding_errors: str = "replace"  # undecodable bytes in text: strict | replace | ignore
    abtt: int | None = None  # all-but-the-top: remove the mean and the top D directions after training
    # word2vec / fastText
    negative: int = 5
    ns_exponent: float = 0.75
    min_n: int = 3
    max_n: int = 6
    buckets: int = 200_000  # fastText sub-word hash buckets (gensim's default is 2M: 800 MB at 100-d)
    # GloVe
    x_max: float = 10.0  # GloVe's demo.sh value; the paper's 100 scored 0.11 lower on WS-353 here
    alpha: float = 0.75
    learning_rate: float = 0.05
    # PPMI-SVD
    cds: float = 0.75  # these four: measured on 7M tokens (BENCHMARKS.md, "Choosing the
    eig: float = 0.5  # defaults"); w + c added 0.01-0.05 mean Spearman in every setting
    neg_shift: float = 1.0
    context_vectors: bool = True

    METHOD_KNOBS = {
        "sgns": ("negative", "ns_exponent"),
        "cbow": ("negative", "ns_exponent"),
        "fasttext": ("negative", "ns_exponent", "min_n", "max_n", "buckets"),
        "glove": ("x_max", "alpha", "learning_rate"),
        "ppmi-svd": ("cds", "eig", "neg_shift", "context_vectors"),
    }
    METHOD_DEFAULTS = {
        "sgns": {"dim": 100, "window": 5, "subsample": 1e-3, "epochs": 5, "abtt": 0},
        "cbow": {"dim": 100, "window": 5, "subsample": 1e-3, "epochs": 5, "abtt": 0},
        "fasttext": {"dim": 100, "window": 5, "subsample": 1e-3, "epochs": 5, "abtt": 0},
        # glove: chosen with benchmarks/tune_words.py (7M tokens) and floors_words.py (1.78M tokens), see
        # BENCHMARKS.md: subsampling frequent words before counting lifted mean Spearman 0.38 -> 0.47
        # (100-d, 7M tokens); more dimensions add a little; the score peaks near epoch 10-12 on 7M
        # tokens; removing the mean and the top 4 directions (all-but-the-top) added 0.04; 150-d scored
        # within 0.004 of 200-d and trains faster
        # epochs: None = by corpus size, glove_epochs(tokens) once the tokens are counted (15, the original
        # GloVe's default, below GLOVE_LARGE tokens; 10 above): benchmarks/bench_glove.py, BENCHMARKS.md
        "glove": {"dim": 150, "window": 10, "subsample": 1e-4, "epochs": None, "abtt": 4},
        "ppmi-svd": {"dim": 300, "window": 5, "subsample": 0.0, "epochs": None, "abtt": 0},
    }
    SHARED = (
        "dim",
        "window",
        "min_count",
        "max_vocab",
        "subsample",
        "epochs",
        "seed",
        "workers",
        "lowercase",
        "encoding_errors",
        "abtt",
    )

    def resolve(self, method: str) -> WordParams:
        """A copy with every None replaced by `method`'s default, checked."""
        if method not in METHODS:
            raise EmbspaceError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
        values = asdict(self)
        for name, default in self.METHOD_DEFAULTS[method].items():
            if values[name] is None:
                values[name] = default
        out = WordParams(**values)
        out._check()
        if method == "fasttext" and out.abtt:
            raise EmbspaceError(
                "--abtt is not available for fasttext: vectors of unseen words come from "
                "sub-words and would not be post-processed the same way"
            )
        return out

    def _check(self) -> None:
        for name in ("dim", "window", "min_count", "workers"):
            if getattr(self, name) < 1:
                raise EmbspaceError(f"--{name.replace('_', '-')} must be at least 1; got {getattr(self, name)}")
        if self.epochs is not None and self.epochs < 1:
            raise EmbspaceError(f"--epochs must be at least 1; got {self.epochs}")
        if self.max_vocab is not None and self.max_vocab < 2:
            raise EmbspaceError(f"--max-vocab must be at least 2; got {self.max_vocab}")
        if not 0 <= self.subsample < 1:
            raise EmbspaceError(f"--subsample must be in [0, 1); got {self.subsample}")
        if not 0 <= self.abtt < self.dim:
            raise EmbspaceError(f"--abtt must be from 0 to {self.dim - 1} (below --dim {self.dim}); got {self.abtt}")
        if not 1 <= self.min_n <= self.max_n:
            raise EmbspaceError(
                f"character n-grams from --min-n {self.min_n} to --max-n {self.max_n}: need 1 <= min-n <= max-n"
            )

    def for_method(self, method: str) -> dict[str, Any]:
        """The parameters that `method` uses, as recorded in the manifest."""
        values = asdict(self)
        return {k: values[k] for k in self.SHARED + self.METHOD_KNOBS[method]}

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


def build(paths, method: str = "sgns", params: WordParams | None = None, **knobs) -> Space:
    """Train a word space on a corpus: files, folders, archives, Wikipedia dumps, or sentences in memory.

    Parameters
    ----------
    paths : path, list of paths, or sentences
        The corpus. One path (str or PathLike) or many: text files, folders, ``.gz``/``.bz2``/
        ``.xz``/``.zip`` archives, MediaWiki XML dumps. Or sentences in memory, as gensim takes
        them: lists of tokens (``[["the", "cat", "sat"], ...]``, kept as given but case-folded unless
        ``lowercase=False``), or strings (``["The cat sat.", ...]``, tokenised like file text).
    method : {"sgns", "cbow", "fasttext", "glove", "ppmi-svd"}
    params : WordParams, optional; or the same names as keyword arguments (`dim=300, window=2`).

    Returns
    -------
    Space of the vocabulary in descending frequency order, vectors float32 (V, dim), with a
    ``count`` meta column and the parameters, corpus and timings in ``info``.
    """
    params = params or WordParams()
    unknown = set(knobs) - set(WordParams.names())
    if unknown:
        raise EmbspaceError(f"unknown knob(s) {', '.join(sorted(unknown))}; valid: {', '.join(WordParams.names())}")
    for name, value in knobs.items():
        setattr(params, name, value)
    params = params.resolve(method)

    from ._corpus import Tokenizer
    from ._corpus_memory import open_corpus

    corpus = open_corpus(paths, tokenizer=Tokenizer(lowercase=params.lowercase), encoding_errors=params.encoding_errors)
    start = time.perf_counter()
    trainer = {
        "sgns": _train_word2vec,
        "cbow": _train_word2vec,
        "fasttext": _train_word2vec,
        "glove": _train_glove,
        "ppmi-svd": _train_ppmi,
    }[method]
    words, counts, vectors, extra = trainer(corpus, method, params)
    if params.abtt:
        from ..tune._abtt import all_but_the_top

        vectors, extra["abtt"] = all_but_the_top(vectors, params.abtt)
    extras = extra.pop("_extras", {})
    seconds = time.perf_counter() - start
    info = {
        "name": f"{method}-{params.dim}d",
        "builder": "embspace.words.build",
        "method": method,
        "params": params.for_method(method),
        "corpus": corpus.describe(),
        "tokens": int(counts.sum()) if extra.get("tokens") is None else extra["tokens"],
        "vocabulary": len(words),
        "order": "frequency",
        "seconds": round(seconds, 3),
        **{k: v for k, v in extra.items() if k != "tokens"},
    }
    space = Space(words, vectors, meta={"count": [int(c) for c in counts]}, info=info, metric="cosine")
    space.extras.update(extras)
    if corpus.undecodable:  # said, not dropped silently: latin-1 "café" reads as "caf" + U+FFFD
        from ._corpus_read import UndecodableBytesWarning, undecodable_note

        note = undecodable_note(corpus.undecodable, params.encoding_errors, "encoding_errors='strict'")
        warnings.warn(note, UndecodableBytesWarning, stacklevel=2)
    return space


# ---- word2vec and fastText through gensim ----------------------------------------------------------
def _train_word2vec(corpus, method: str, params: WordParams):
    try:
        from gensim.models import FastText, Word2Vec
    except ImportError:
        raise EmbspaceError(f"method {method!r} needs gensim: {install_hint('gensim')}") from None
    with tempfile.TemporaryDirectory(prefix="embspace-corpus-") as tmp:
        # gensim's corpus_file mode reads a tokenised line corpus with every worker at full speed
        line_corpus = corpus.write_line_corpus(os.path.join(tmp, "corpus.txt"))
        tokens = _count_tokens_in_line_corpus(line_corpus)
        common = dict(
            corpus_file=str(line_corpus),
            vector_size=params.dim,
            window=params.window,
            min_count=params.min_count,
            max_final_vocab=params.max_vocab,
            sample=params.subsample,
            seed=params.seed,
            workers=params.workers,
            negative=params.negative,
            ns_exponent=params.ns_exponent,
            epochs=params.epochs,
            sg=1 if method in ("sgns",) else 0,
        )
        try:
            with progress(total=params.epochs, desc=method, unit="epoch") as bar:
                common["callbacks"] = [_epoch_progress(bar)]
                if method == "fasttext":
                    common["sg"] = 1
                    model = FastText(min_n=params.min_n, max_n=params.max_n, bucket=params.buckets, **common)
                else:
                    model = Word2Vec(**common)
        except RuntimeError as exc:  # gensim: "you must first build vocabulary before training the model"
            if "vocabulary" not in str(exc):
                raise
            raise EmbspaceError(
                f"no word occurs at least --min-count={params.min_count} times in {tokens:,} "
                f"tokens; lower --min-count or give more text"
            ) from None
    wv = model.wv
    if len(wv.index_to_key) == 0:
        raise EmbspaceError(f"no word occurs at least --min-count={params.min_count} times; lower --min-count")
    counts = np.array([wv.get_vecattr(w, "count") for w in wv.index_to_key], dtype=np.int64)
    extra: dict[str, Any] = {"tokens": tokens}
    if method == "fasttext":  # keep the n-gram buckets: vectors for words outside the vocabulary
        extra["subwords"] = {"min_n": params.min_n, "max_n": params.max_n, "buckets": int(wv.bucket)}
        extra["_extras"] = {"subwords": np.asarray(wv.vectors_ngrams, dtype=np.float32)}
    return list(wv.index_to_key), counts, np.asarray(wv.vectors, dtype=np.float32), extra


def _epoch_progress(bar):
    """A gensim callback that moves `bar` one step at the end of each training epoch."""
    from gensim.models.callbacks import CallbackAny2Vec

    class EpochProgress(CallbackAny2Vec):
        def on_epoch_end(self, model) -> None:
            bar.update(1)

    return EpochProgress()


def _count_tokens_in_line_corpus(path) -> int:
    total = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 24):
            total += block.count(b" ") + block.count(b"\n")
    if total == 0:
        raise EmbspaceError("the corpus holds no tokens")
    return total


# ---- our own: GloVe and PPMI-SVD ---------------------------------------------------------------------
def _vocab_and_sentences(corpus, params: WordParams):
    from ._corpus import Vocab

    vocab, encoded = Vocab.build_encoded(corpus, min_count=params.min_count, max_vocab=params.max_vocab)
    if len(vocab.words) < 2:
        encoded.close()
        raise EmbspaceError(
            f"fewer than 2 words occur at least --min-count={params.min_count} times "
            f"in {vocab.total:,} tokens; lower --min-count or give more text"
        )
    keep = _subsample_keep(vocab.counts, params.subsample)
    rng_seed = params.seed

    def sentences():
        rng = np.random.default_rng(rng_seed)
        for ids in encoded:
            if keep is not None and ids.size:
                ids = ids[rng.random(ids.size) < keep[ids]]
            yield ids

    return vocab, sentences


def _subsample_keep(counts: np.ndarray, threshold: float) -> np.ndarray | None:
    """word2vec's keep probability for each word: (sqrt(f/t) + 1) t / f, capped at 1."""
    if not threshold:
        return None
    freq = counts / counts.sum()
    return np.minimum(1.0, (np.sqrt(freq / threshold) + 1) * threshold / freq)


GLOVE_LARGE = 5_000_000  # tokens


def glove_epochs(tokens: int) -> int:
    """GloVe's default passes for a corpus of `tokens` tokens: small corpora need more of them.

    Measured against the original GloVe C code at 1M, 3M and 7M tokens (benchmarks/bench_glove.py): 15
    epochs scored 0.03 mean Spearman above 10 at 1M and 3M tokens, and the same as 10 at 7M.
    """
    return 15 if tokens < GLOVE_LARGE else 10


def _train_glove(corpus, method: str, params: WordParams):
    from ._cooccur import cooccurrence
    from ._glove import glove_vectors, train_glove

    vocab, sentences = _vocab_and_sentences(corpus, params)
    start = time.perf_counter()
    cooc = cooccurrence(sentences, len(vocab.words), window=params.window, weighting="harmonic")
    count_seconds = time.perf_counter() - start
    epochs = params.epochs = params.epochs or glove_epochs(int(vocab.total))
    with progress(total=epochs, desc="glove", unit="epoch") as bar:

        def report(epoch: int, loss: float) -> None:
            bar.update(1)
            bar.set_postfix_str(f"loss {loss:.4f}")

        W, C, losses = train_glove(
            cooc,
            dim=params.dim,
            x_max=params.x_max,
            alpha=params.alpha,
            epochs=epochs,
            learning_rate=params.learning_rate,
            seed=params.seed,
            workers=params.workers,
            progress=report,
        )
    extra = {
        "tokens": int(vocab.total),
        "pairs": int(cooc.nnz),
        "count_seconds": round(count_seconds, 3),
        "loss_per_epoch": [round(float(x), 6) for x in losses],
    }
    return vocab.words, vocab.counts, glove_vectors(W, C), extra


def _train_ppmi(corpus, method: str, params: WordParams):
    from ._cooccur import cooccurrence
    from ._ppmi import ppmi_svd

    vocab, sentences = _vocab_and_sentences(corpus, params)
    dim_max = len(vocab.words) - 1
    if params.dim >= len(vocab.words):
        raise EmbspaceError(
            f"--dim {params.dim} is too large for a vocabulary of {len(vocab.words)} words "
            f"(SVD allows at most {dim_max}); lower --dim or --min-count"
        )
    start = time.perf_counter()
    counts = cooccurrence(sentences, len(vocab.words), window=params.window, weighting="uniform")
    count_seconds = time.perf_counter() - start
    vectors, info = ppmi_svd(
        counts,
        dim=params.dim,
        cds=params.cds,
        eig=params.eig,
        neg_shift=params.neg_shift,
        context_vectors=params.context_vectors,
        seed=params.seed,
    )
    extra = {
        "tokens": int(vocab.total),
        "pairs": int(counts.nnz),
        "count_seconds": round(count_seconds, 3),
        "svd": info,
    }
    return vocab.words, vocab.counts, vectors, extra
