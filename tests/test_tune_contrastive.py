"""embspace.tune.contrastive and `embspace tune contrastive`: a projection head learned from labels or pairs on
real data (scikit-learn's digits as a pixel space, TREC questions and STS-B pairs as tf-idf spaces), the head's
round trip through a saved space, queries through the chain, and bad input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("torch")
pytest.importorskip("safetensors")

import embspace  # noqa: E402
from conftest import SHARED  # noqa: E402
from embspace.cli import main  # noqa: E402
from embspace.errors import EmbspaceError  # noqa: E402
from embspace.tune import apply_transforms, contrastive  # noqa: E402

TREC = SHARED / "labelled" / "trec" / "train.txt"
STS = SHARED / "sts" / "sts-train.csv"
FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(scope="module")
def digits_images():
    datasets = pytest.importorskip("sklearn.datasets")
    d = datasets.load_digits()
    pixels = (d.images * (255 / 16)).round().astype(np.uint8)  # (1797, 8, 8), 0..16 -> 0..255
    return pixels, [str(t) for t in d.target]


@pytest.fixture(scope="module")
def digits_space(digits_images):
    pytest.importorskip("PIL")
    from embspace import images

    pixels, labels = digits_images
    return images.build(pixels, "pixels", labels=labels, size=8, thumbnails=False)


@pytest.fixture(scope="module")
def trec_space():
    if not TREC.exists():
        pytest.skip(f"{TREC} is missing (the shared data folder)")
    from embspace import texts

    lines = TREC.read_text(encoding="latin-1").splitlines()[:600]
    questions = [line.split(" ", 1)[1] for line in lines]
    space = texts.build(questions, model="tfidf-svd", dim=32)
    space.meta["label"] = [line.split(":", 1)[0] for line in lines]
    return space


def test_labels_head_raises_knn_accuracy_on_fashion_mnist():
    if not (FASHION / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"Fashion-MNIST is not installed at {FASHION} (make datasets)")
    pytest.importorskip("PIL")
    from embspace import images

    space = images.build(FASHION / "train-images-idx3-ubyte.gz", "pixels", limit=2000, size=14, thumbnails=False)
    raw = gzip.decompress((FASHION / "train-labels-idx1-ubyte.gz").read_bytes())
    space.meta["label"] = [str(v) for v in np.frombuffer(raw[8:], np.uint8)[:2000]]
    tuned, report = contrastive(space, labels="label", head="mlp", epochs=20, seed=0)
    (score,) = report.scores
    assert score["name"] == "knn@10 accuracy" and score["coverage"] == 1.0
    assert report.data["held_out_items"] == score["queries"] == 400
    assert score["after"] > score["before"] + 0.02  # 0.765 -> 0.810 here
    assert report.losses[-1] < report.losses[0]
    assert tuned.metric == "cosine" and tuned.dim == space.dim
    np.testing.assert_allclose(np.linalg.norm(tuned.vectors, axis=1), 1.0, atol=1e-5)
    step = tuned.info["transforms"][-1]
    assert step["kind"] == "head" and step["architecture"] == "mlp" and step["asset"] in tuned.assets
    record = tuned.info["tuned"][-1]
    assert record["method"] == "contrastive" and record["objective"] == "supcon" and record["seed"] == 0
    assert record["params"]["epochs"] == 20 and len(record["source"]["vectors_sha256"]) == 64


def test_text_query_goes_through_the_head(trec_space, tmp_path):
    from embspace.texts._encoders import encode_queries

    tuned, _ = contrastive(trec_space, labels="label", epochs=2, test_fraction=0)
    embspace.save(tuned, tmp_path / "q.space")
    loaded = embspace.load(tmp_path / "q.space")
    text = loaded.meta["text"][7]
    vector = encode_queries(loaded, [text])
    np.testing.assert_allclose(vector[0], loaded.vectors[7], atol=1e-5)
    result = CliRunner().invoke(main, ["search", str(tmp_path / "q.space"), text, "-k", "1", "--json", "-q"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)["results"][0]
    assert found["id"] == loaded.ids[7] and found["score"] == pytest.approx(1.0, abs=1e-5)


def test_pixel_space_round_trip_and_image_query(digits_space, digits_images, tmp_path):
    from PIL import Image

    tuned, report = contrastive(digits_space, labels="label", epochs=5, hard_negatives=3, seed=1)
    assert 0.8 < report.scores[0]["after"] <= 1.0
    again, _ = contrastive(digits_space, labels="label", epochs=5, hard_negatives=3, seed=1)
    np.testing.assert_array_equal(tuned.vectors, again.vectors)  # same seed, same head
    path = embspace.save(tuned, tmp_path / "digits.space")
    loaded = embspace.load(path)
    np.testing.assert_array_equal(loaded.vectors, tuned.vectors)
    assert loaded.info["transforms"] == tuned.info["transforms"]
    png = tmp_path / "five.png"
    Image.fromarray(digits_images[0][5]).save(png)
    _, vectors, _ = loaded.query_vectors(png)  # embedded as the rows were, then through the head
    np.testing.assert_allclose(vectors[0], loaded.vectors[5], atol=1e-5)
    assert loaded.neighbors(png, k=1)[0].id == loaded.ids[5]
    narrower, _ = contrastive(digits_space, labels="label", head="mlp", dim=16, epochs=2, seed=1)
    _, vectors, _ = narrower.query_vectors(png)  # 64-d pixels in, 16-d out: the chain, not the embedder, checks
    assert narrower.dim == 16 and vectors.shape == (1, 16)
    np.testing.assert_allclose(vectors[0], narrower.vectors[5], atol=1e-5)


def test_mlp_head_with_another_dimension_on_a_euclidean_space(digits_images):
    pixels, labels = digits_images
    space = embspace.Space(
        [f"d{i}" for i in range(len(labels))], pixels.reshape(len(labels), -1), {"label": labels}, metric="euclidean"
    )
    tuned, report = contrastive(space, labels="label", head="mlp", dim=16, epochs=3)
    assert tuned.dim == 16 and tuned.info["transforms"][-1]["input"] == "scaled"
    assert report.scores[0]["before"] > 0.9
    np.testing.assert_allclose(apply_transforms(tuned, space.vectors[:20]), tuned.vectors[:20], atol=1e-5)


def _sts_pairs(limit: int = 1200):
    if not STS.exists():
        pytest.skip(f"{STS} is missing (the shared data folder)")
    rows = [line.split("\t") for line in STS.read_text(encoding="utf-8").splitlines()[:limit]]
    rows = [r for r in rows if len(r) >= 7]
    sentences = list(dict.fromkeys(s for r in rows for s in (r[5], r[6])))
    pairs = [(r[5], r[6]) for r in rows if float(r[4]) >= 3.5 and r[5] != r[6]]
    return sentences, pairs


def test_pairs_from_a_file_with_unknown_ids(tmp_path):
    from embspace import texts

    sentences, pairs = _sts_pairs()
    space = texts.build(sentences, model="tfidf-svd", dim=64)
    row = {s: space.ids[i] for i, s in enumerate(sentences)}
    lines = ["left\tright"] + [f"{row[a]}\t{row[b]}" for a, b in pairs] + ["nosuch\t1", "2\talso-missing"]
    (tmp_path / "pairs.tsv").write_text("\n".join(lines) + "\n")
    tuned, report = contrastive(space, pairs=tmp_path / "pairs.tsv", hard_negatives=3, epochs=10)
    assert report.data["unknown"] == {"rows_dropped": 2, "examples": ["nosuch", "also-missing"]}
    names = [s["name"] for s in report.scores]
    assert names == ["recall@1", "recall@10", "mrr"]
    by = {s["name"]: s for s in report.scores}
    assert by["recall@10"]["queries"] == 2 * report.data["held_out_pairs"] > 100
    assert 0 < by["recall@1"]["before"] <= by["recall@10"]["before"] <= 1
    assert by["mrr"]["after"] > by["mrr"]["before"] - 0.02  # held-out paraphrases: about as close, or closer
    assert by["recall@10"]["coverage"] == pytest.approx(len(pairs) / (len(pairs) + 2), abs=0.01)
    assert report.losses[-1] < report.losses[0]


def test_cli_json_and_table(digits_space, tmp_path):
    source = embspace.save(digits_space, tmp_path / "d.space")
    out = tmp_path / "t.space"
    args = ["tune", "contrastive", str(source), "--label", "label", "--epochs", "2", "-o", str(out), "-q"]
    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["objective"] == "supcon" and data["dim"] == digits_space.dim and len(data["losses"]) == 2
    assert embspace.load(out).info["transforms"][-1]["kind"] == "head"
    result = CliRunner().invoke(main, args)  # OUT exists now
    assert result.exit_code != 0 and "--force" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(main, [*args, "--force"])
    assert result.exit_code == 0 and "knn@10 accuracy" in result.output


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"pairs": [("nope", "nada"), ("x", "y")]}, "none of the 2 pairs in the list"),
        ({"labels": "colour"}, "neither a column of the space nor a file"),
        ({"labels": ["a"] * 10 + ["b"] + [None] * 9}, "fewer than 2 items"),
        ({"labels": ["a"] * 20}, "needs 2 classes"),
        ({"pairs": [("d0", "d1")], "labels": "label"}, "one of them"),
        ({"labels": "label", "head": "transformer"}, "head 'transformer'"),
        ({"labels": "label", "test_fraction": 1.5}, "test_fraction"),
        ({"pairs": [("d0", "d0"), ("d1", "d2")]}, "at least 2"),
    ],
)
def test_bad_input_is_one_line(kwargs, message):
    rng = np.random.default_rng(0)
    space = embspace.Space([f"d{i}" for i in range(20)], rng.normal(size=(20, 4)), {"label": ["a", "b"] * 10})
    with pytest.raises(EmbspaceError, match=message) as err:
        contrastive(space, **kwargs)
    assert "\n" not in str(err.value)


def test_bad_files_and_a_tampered_head(tmp_path):
    rng = np.random.default_rng(0)
    space = embspace.Space([f"d{i}" for i in range(40)], rng.normal(size=(40, 4)), {"label": ["a", "b"] * 20})
    (tmp_path / "one.tsv").write_text("d1\n")
    with pytest.raises(EmbspaceError, match="line 1"):
        contrastive(space, pairs=tmp_path / "one.tsv")
    (tmp_path / "labels.csv").write_text("id,label\n" + "".join(f"d{i},{'xy'[i % 2]}\n" for i in range(40)))
    tuned, report = contrastive(space, labels=tmp_path / "labels.csv", epochs=1)
    assert report.data["labels"] == str(tmp_path / "labels.csv") and report.data["labelled"] == 40
    step = tuned.info["transforms"][-1]
    tuned.assets[step["asset"]] = b"not the head"
    with pytest.raises(EmbspaceError, match="sha256 differs"):
        apply_transforms(tuned, np.ones((1, 4), np.float32))
    result = CliRunner().invoke(main, ["tune", "contrastive", str(tmp_path / "none.space"), "-o", "x.space"])
    assert result.exit_code != 0 and "--pairs" in result.output


def test_nothing_held_out_scores_nothing(digits_images):
    pixels, labels = digits_images
    space = embspace.Space([f"d{i}" for i in range(300)], pixels[:300].reshape(300, -1), {"label": labels[:300]})
    tuned, report = contrastive(space, labels="label", epochs=1, test_fraction=0)
    assert report.scores == [] and report.data["held_out_items"] == 0 and "nothing held out" in report.table()
    assert tuned.n == 300


def test_a_table_row_query_goes_through_the_head():
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_wine

    from embspace import tables

    frame = load_wine(as_frame=True).frame
    features = [c for c in frame.columns if c != "target"]
    frame.insert(0, "id", [f"w{i}" for i in range(len(frame))])
    frame["kind"] = frame.pop("target").astype(str)
    space = tables.build(frame, id="id", columns=features)
    tuned, report = contrastive(space, labels="kind", epochs=10)
    assert report.scores[0]["after"] >= 0.85  # the head learns on the wine's 13 measurements only
    row = frame.iloc[3][features].to_dict()
    _, vectors, _ = tuned.query_vectors(row)  # the table transform, then the head
    np.testing.assert_allclose(vectors[0], tuned.vectors[3], atol=1e-5)
    assert tuned.neighbors(row, k=1)[0].id == "w3"
    narrower, _ = contrastive(space, labels="kind", dim=4, epochs=3)
    _, vectors, _ = narrower.query_vectors(row)
    np.testing.assert_allclose(vectors[0], narrower.vectors[3], atol=1e-5)
