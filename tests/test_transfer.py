"""`transfer`: a space's vectors as features for a labelled task, beside bag of words (TREC questions, tiny)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner

import embspace
from conftest import SHARED
from embspace.cli import main
from embspace.errors import EmbspaceError
from embspace.transfer import run
from embspace.transfer._run import subsample

TREC = SHARED / "labelled" / "trec" / "train.txt"
N = 240


def _trec(n: int = N) -> tuple[list[str], list[str]]:
    if not TREC.is_file():
        pytest.skip(f"{TREC} not found (../shared/data/labelled)")
    texts, labels = [], []
    for line in TREC.read_text(encoding="latin-1").splitlines()[:n]:
        tag, _, question = line.partition(" ")
        texts.append(question.strip())
        labels.append(tag.split(":")[0])
    return texts, labels


def _write(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def trec(tmp_path_factory):
    texts, labels = _trec()
    folder = tmp_path_factory.mktemp("transfer")
    corpus = _write(folder / "q.csv", ["id", "text"], [(f"q{i}", t) for i, t in enumerate(texts)])
    space = embspace.texts.build(corpus, model="tfidf-svd", id_column="id", dim=48)
    embspace.save(space, folder / "q.space")
    return folder, space, texts, labels


def test_kfold_with_bag_of_words_and_majority_beside_it(trec):
    folder, space, texts, labels = trec
    train = _write(folder / "labels.csv", ["id", "label"], [(f"q{i}", lab) for i, lab in enumerate(labels)])
    report = run(space, train, folds=4, fractions=(0.1, 1.0), seed=0)
    assert report.task == "classify" and report.details["baseline"] == "bag of words"
    assert report.coverage == 1.0 and report.found == N and not report.unknown
    assert {(r["features"], r["fraction"]) for r in report.rows} == {
        (f, x) for f in ("space", "bag of words", "majority") for x in (0.1, 1.0)
    }
    classes = len(set(labels))
    assert all(r["labels"] >= classes for r in report.rows)  # at least one per class, even at 10%
    majority = max(labels.count(c) for c in set(labels)) / N
    assert report.score("majority", 1.0) == pytest.approx(majority, abs=0.05)
    assert report.score("space", 1.0) > majority + 0.15 and report.score("bag of words", 1.0) > majority + 0.15
    assert report.score("space", 1.0) > report.score("space", 0.1)  # more labels help
    again = run(space, train, folds=4, fractions=(0.1, 1.0), seed=0)
    assert again.rows == report.rows  # seeded


def test_test_file_with_unknown_ids_counts_and_lists_them(trec):
    folder, space, texts, labels = trec
    train = _write(folder / "tr.csv", ["id", "label"], [(f"q{i}", labels[i]) for i in range(160)])
    rows = [(f"q{i}", labels[i]) for i in range(160, N)] + [("ghost-1", "HUM"), ("ghost-2", "LOC")]
    test = _write(folder / "te.csv", ["id", "label"], rows)
    report = run(space, train, test, fractions=(1.0,))
    assert report.unknown == ["ghost-1", "ghost-2"] and report.found == N and report.total == N + 2
    assert report.details["evaluation"] == "test file" and report.details["test_found"] == N - 160
    assert 0 < report.score("space") <= 1 and report.rows[0]["coverage"] == pytest.approx(N / (N + 2))


def test_regression_with_raw_numeric_features_as_the_baseline(trec):
    folder, space, texts, labels = trec
    # a real numeric property of each question: its length in words; the raw feature: its length in characters
    rows = [(f"q{i}", len(t.split()), len(t)) for i, t in enumerate(texts)]
    train = _write(folder / "len.csv", ["id", "words", "chars"], rows)
    no_texts = embspace.Space(space.ids, space.vectors, {}, {"name": "bare"})
    report = run(no_texts, train, label_column="words", task="regress", folds=3, fractions=(1.0,))
    assert report.task == "regress" and report.metrics == ("rmse", "r2")
    assert report.details["baseline"] == "raw features"
    assert report.score("raw features", metric="r2") > 0.8  # characters predict words well
    assert report.score("mean", metric="r2") < 0.05
    assert np.isfinite(report.score("space", metric="rmse"))


def test_majority_baseline_when_there_is_nothing_else(trec):
    folder, space, texts, labels = trec
    bare = embspace.Space(space.ids, space.vectors, {}, {"name": "bare"})
    train = _write(folder / "only.csv", ["id", "label"], [(f"q{i}", lab) for i, lab in enumerate(labels)])
    report = run(bare, train, folds=3, fractions=(1.0,))
    assert report.details["baseline"] == "majority"
    assert [r["features"] for r in report.rows] == ["space", "majority"]


def test_subsample_is_stratified_with_one_per_class():
    labels = np.array(["a"] * 90 + ["b"] * 9 + ["c"], dtype=object)
    rows = subsample(labels, 0.01, "classify", np.random.default_rng(0))
    assert sorted(labels[rows].tolist()) == ["a", "b", "c"]
    rows = subsample(labels, 0.1, "classify", np.random.default_rng(0))
    assert list(labels[rows]).count("a") == 9


def test_all_unknown_ids_is_one_line_error(trec):
    folder, space, _, _ = trec
    train = _write(folder / "ghosts.csv", ["id", "label"], [("x1", "a"), ("x2", "b")])
    with pytest.raises(EmbspaceError, match="none of the 2 training ids is in the space"):
        run(space, train)


def test_cli_table_json_and_bad_input(trec):
    folder, space, texts, labels = trec
    train = _write(folder / "cli.csv", ["id", "label"], [(f"q{i}", lab) for i, lab in enumerate(labels)])
    runner = CliRunner()
    args = ["transfer", str(folder / "q.space"), "--train", str(train), "--folds", "3", "--fractions", "1", "-q"]
    out = runner.invoke(main, args)
    assert out.exit_code == 0, out.output
    assert "bag of words" in out.output and "coverage" in out.output and "3-fold" in out.output
    data = json.loads(runner.invoke(main, [*args, "--json"]).output)
    assert data["task"] == "classify" and data["found"] == N and len(data["rows"]) == 3
    bad = runner.invoke(main, [*args[:-3], "--fractions", "0,2"])
    assert bad.exit_code == 2 and "fraction" in bad.output
    nolabel = runner.invoke(main, [*args, "--label-column", "kind"])
    assert nolabel.exit_code == 1 and "no label column 'kind'" in nolabel.output and "Traceback" not in nolabel.output
    ghosts = _write(folder / "g.csv", ["id", "label"], [("x1", "a"), ("x2", "b")])
    r = runner.invoke(main, ["transfer", str(folder / "q.space"), "--train", str(ghosts)])
    assert r.exit_code == 1 and len(r.output.strip().splitlines()) == 1
