"""embspace.tune.post and the transform chain: steps recorded, kept on disk, and applied to encoded queries."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import embspace
from conftest import SHARED
from embspace.cli import main
from embspace.errors import EmbspaceError
from embspace.tune import all_but_the_top, apply_transforms, post

TREC = SHARED / "labelled" / "trec" / "train.txt"


@pytest.fixture(scope="module")
def words():
    """The 5,000 most frequent GloVe 6B 50d words (skipped when the vectors are not installed)."""
    from embspace.datasets import glove_6b_50d

    try:
        return glove_6b_50d().head(5_000)
    except EmbspaceError as exc:
        pytest.skip(f"GloVe 6B 50d is not installed: {exc}")


def _by_hand(x: np.ndarray, d: int) -> np.ndarray:
    """center, abtt d, normalize with plain numpy (float64)."""
    x = x.astype(np.float64)
    x = x - x.mean(axis=0)
    x = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    top = vt[:d]
    x = x - (x @ top.T) @ top
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_post_steps_are_recorded_and_match_numpy(words):
    out = post(words, center=True, abtt=2, normalize=True)
    kinds = [s["kind"] for s in out.info["transforms"]]
    assert kinds == ["center", "abtt", "normalize"]
    assert out.info["normalized"] is True and out.ids == words.ids and out.info["name"] == "glove-6b-50d+post"
    record = out.info["tuned"][-1]
    assert (
        record["method"] == "post" and record["source"]["n"] == 5_000 and len(record["source"]["vectors_sha256"]) == 64
    )
    np.testing.assert_allclose(out.vectors, _by_hand(np.asarray(words.vectors), 2), atol=2e-5)
    # the same steps applied to the source rows as queries give the new rows
    np.testing.assert_allclose(apply_transforms(out, words.vectors), out.vectors, atol=1e-5)
    # all_but_the_top keeps its old contract and agrees with the abtt step
    rows, info = all_but_the_top(words.vectors, 2)
    assert info["d"] == 2 and len(info["removed_variance"]) == 2
    np.testing.assert_allclose(post(words, abtt=2).vectors, rows, atol=1e-5)


def test_query_through_chain_equals_by_hand(words):
    out = post(words, steps=["normalize", "center", ("abtt", 3)])
    q = np.random.default_rng(0).normal(size=(4, 50)).astype(np.float32)
    unit = q / np.linalg.norm(q, axis=1, keepdims=True)
    mean = out.extras[out.info["transforms"][1]["extras"]["mean"]]
    abtt = out.info["transforms"][2]
    centred = unit - mean - out.extras[abtt["extras"]["mean"]]
    top = out.extras[abtt["extras"]["directions"]]
    expected = centred - (centred @ top.T) @ top
    np.testing.assert_allclose(apply_transforms(out, q), expected, atol=1e-5)
    # ids and vectors given directly are the space's own and are not transformed again
    assert np.array_equal(out.query_vectors("king")[1][0], out.vector("king"))
    assert np.array_equal(out.query_vectors(q)[1], q)


def test_steps_survive_save_and_load(words, tmp_path):
    out = post(post(words, center=True), abtt=2, normalize=True)
    assert [s["kind"] for s in out.info["transforms"]] == ["center", "abtt", "normalize"]
    assert len(out.info["tuned"]) == 2  # each call recorded
    embspace.save(out, tmp_path / "p.space")
    back = embspace.load(tmp_path / "p.space")
    assert back.info["transforms"] == out.info["transforms"]
    assert set(back.extras) == {"t0_mean", "t1_mean", "t1_directions"}
    q = np.asarray(words.vectors[:7])
    np.testing.assert_allclose(apply_transforms(back, q), back.vectors[:7], atol=1e-5)
    assert back.neighbors("king", k=3) == out.neighbors("king", k=3)


def test_text_queries_go_through_the_chain(tmp_path):
    if not TREC.is_file():
        pytest.skip(f"{TREC} is not there (the shared data folder)")
    from embspace.texts import build, encode_queries, encoder_for

    questions = [line.split(" ", 1)[1].strip() for line in TREC.read_text(encoding="latin-1").splitlines()[:600]]
    space = build(questions, "tfidf-svd", dim=24)
    out = post(space, center=True, normalize=True)
    texts = ["who wrote hamlet ?", "what is the capital of france ?"]
    raw = encoder_for(space).encode(texts)
    expected = raw - out.extras["t0_mean"]
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(encode_queries(out, texts), expected, atol=1e-5)
    np.testing.assert_allclose(encode_queries(space, texts), raw, atol=1e-6)  # an untuned space: unchanged
    # the CLI's text search finds the same neighbours as the library with the transformed query
    embspace.save(out, tmp_path / "q.space")
    result = CliRunner().invoke(main, ["-q", "search", str(tmp_path / "q.space"), texts[0], "-k", "3", "--json"])
    assert result.exit_code == 0, result.output
    found = [r["id"] for r in json.loads(result.output)["results"]]
    assert found == [nb.id for nb in out.neighbors(expected[0], k=3)]


def test_sts_evaluation_goes_through_the_chain():
    dev = SHARED / "sts" / "sts-dev.csv"
    if not dev.is_file():
        pytest.skip(f"{dev} is not there (the shared data folder)")
    from scipy.stats import spearmanr

    from embspace.evaluate import sts
    from embspace.texts import build, encoder_for

    rows = [line.split("\t") for line in dev.read_text(encoding="utf-8").splitlines()[:300]]
    pairs = [(r[5], r[6], float(r[4])) for r in rows if len(r) >= 7]
    space = build([p[0] for p in pairs] + [p[1] for p in pairs], "tfidf-svd", dim=32)
    out = post(space, center=True, abtt=1)
    raw = encoder_for(space)
    a, b = (apply_transforms(out, raw.encode([p[i] for p in pairs])) for i in (0, 1))
    ok = (np.abs(raw.encode([p[0] for p in pairs])).sum(1) > 0) & (np.abs(raw.encode([p[1] for p in pairs])).sum(1) > 0)
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    expected = spearmanr(cos[ok], np.array([p[2] for p in pairs])[ok]).statistic
    result = sts(out, pairs)
    assert result.found == int(ok.sum()) and result.score == pytest.approx(expected, abs=1e-6)
    assert result.score != pytest.approx(sts(space, pairs).score, abs=1e-6)  # the steps changed the score


def test_table_row_queries_go_through_the_chain():
    pd = pytest.importorskip("pandas")
    from embspace.tables import build, embed_rows

    rng = np.random.default_rng(1)
    rows = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60) * 3, "c": rng.integers(0, 5, 60)})
    space = build(rows)
    out = post(space, abtt=1)
    row = {"a": 0.5, "b": -1.0, "c": 2}
    raw = embed_rows(space, [row])
    assert np.allclose(out.query_vectors(row)[1], apply_transforms(out, raw), atol=1e-6)
    assert not np.allclose(out.query_vectors(row)[1], raw)


def test_bad_input_is_one_line(words):
    with pytest.raises(EmbspaceError, match="no post-processing step"):
        post(words)
    with pytest.raises(EmbspaceError, match="--abtt must be"):
        post(words, abtt=50)
    with pytest.raises(EmbspaceError, match="unknown post-processing step"):
        post(words, steps=["whiten"])
    broken = post(words, center=True)
    broken.extras.clear()
    with pytest.raises(EmbspaceError, match="missing"):
        apply_transforms(broken, np.ones((1, 50), np.float32))
    broken.info["transforms"] = [{"kind": "warp"}]
    with pytest.raises(EmbspaceError, match="does not know"):
        apply_transforms(broken, np.ones((1, 50), np.float32))


def test_cli_post_order_and_exits(words, tmp_path):
    src = tmp_path / "w.space"
    embspace.save(words.head(500), src)
    runner = CliRunner()
    ok = runner.invoke(
        main, ["-q", "tune", "post", str(src), "--normalize", "--center", "-o", str(tmp_path / "a.space")]
    )
    assert ok.exit_code == 0, ok.output
    kinds = [s["kind"] for s in embspace.load(tmp_path / "a.space").info["transforms"]]
    assert kinds == ["normalize", "center"]  # the order given on the command line
    ok = runner.invoke(
        main, ["-q", "tune", "post", str(src), "--center", "--abtt", "2", "--json", "-o", str(tmp_path / "b.space")]
    )
    assert ok.exit_code == 0 and '"abtt"' in ok.output
    for args in (
        ["tune", "post", str(src), "-o", str(tmp_path / "c.space")],  # no step
        ["tune", "post", str(src), "--abtt", "50", "-o", str(tmp_path / "c.space")],  # d >= dim
        ["tune", "post", str(tmp_path / "none.space"), "--center", "-o", str(tmp_path / "c.space")],
        ["tune", "post", str(src), "--center", "-o", str(tmp_path / "a.space")],  # exists, no --force
    ):
        bad = runner.invoke(main, ["-q", *args])
        assert bad.exit_code != 0 and "Traceback" not in bad.output
        assert isinstance(bad.exception, SystemExit), bad.exception
        assert len([line for line in bad.output.splitlines() if line.startswith("Error")]) == 1, bad.output
    assert not (tmp_path / "c.space").exists()


def test_subword_vectors_go_through_the_chain():
    pytest.importorskip("gensim.models.fasttext")
    from embspace._subwords import subword_vector

    rng = np.random.default_rng(2)
    space = embspace.Space([f"w{i}" for i in range(30)], rng.normal(size=(30, 8)) + 2)
    space.extras["subwords"] = rng.normal(size=(500, 8)).astype(np.float32)
    space.info["subwords"] = {"min_n": 3, "max_n": 5, "buckets": 500}
    out = post(space, center=True, normalize=True)
    raw = subword_vector("unseen", space.extras["subwords"], space.info["subwords"])
    expected = raw - out.extras["t0_mean"][0]
    np.testing.assert_allclose(out.vector("unseen"), expected / np.linalg.norm(expected), atol=1e-6)
    np.testing.assert_allclose(out.query_vectors(["w3", "unseen"])[1][1], out.vector("unseen"), atol=1e-6)
    assert np.array_equal(out.vector("w3"), out.vectors[3])  # a held word is its (transformed) row
