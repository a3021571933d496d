import numpy as np
import pytest

from embspace import EmbspaceError, Space
from embspace.evaluate._compare import neighbour_overlap


def test_identical_spaces_overlap_fully(glove_small):
    head = glove_small.head(3000)
    result = neighbour_overlap(head, head, k=10, sample=200)
    assert result["mean"] == 1.0 and result["compared"] == 200 and result["shared"] == 3000


def test_rotated_space_keeps_neighbourhoods_noise_does_not(glove_small):
    head = glove_small.head(3000)
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(50, 50)))
    rotated = Space(head.ids, head.vectors @ q.astype(np.float32))
    assert neighbour_overlap(head, rotated, k=10, sample=300)["mean"] > 0.99
    noisy = Space(head.ids, head.vectors + np.random.default_rng(1).normal(scale=0.5, size=head.vectors.shape))
    result = neighbour_overlap(head, noisy, k=10, sample=300)
    assert result["mean"] < 0.9
    worst = result["most_different"][0]
    assert worst["overlap"] == min(r["overlap"] for r in result["most_different"])
    assert len(worst["a_only"]) == len(worst["b_only"]) == round(10 * (1 - worst["overlap"]))


def test_only_shared_ids_are_compared(glove_small):
    a = glove_small.subset(glove_small.ids[:2000])
    b = glove_small.subset(glove_small.ids[1000:3000])
    result = neighbour_overlap(a, b, k=5, sample=None)
    assert result["shared"] == 1000 and result["mean"] == 1.0
    with pytest.raises(EmbspaceError, match="share 0 ids"):
        neighbour_overlap(a, glove_small.subset(glove_small.ids[5000:5100]), k=5)


# ---- embspace compare (issue 11 #16) ----------------------------------------------------------------
def _saved(space, path):
    import embspace

    embspace.save(space, path)
    return str(path)


def test_compare_card_rows_name_the_analogy_method(glove_small, tmp_path):
    from click.testing import CliRunner

    from embspace.cli import main

    head = glove_small.head(3000)
    noisy = Space(head.ids, head.vectors + np.random.default_rng(1).normal(scale=0.3, size=head.vectors.shape))
    a, b = _saved(head, tmp_path / "a.space"), _saved(noisy, tmp_path / "b.space")
    result = CliRunner().invoke(main, ["-q", "compare", a, b, "--sample", "200"])
    assert result.exit_code == 0, result.output
    card = result.output.split("\n\n")[0].splitlines()[2:]
    names = [line.split("  ")[0].strip() for line in card]
    assert "google (3cosadd)" in names and "google (3cosmul)" in names
    assert len(names) == len(set(names)) == 5 and {"ws353", "simlex999", "men"} <= set(names)
    assert "overlap over 200 shared words" in result.output


def test_compare_text_spaces_shows_texts_not_only_ids(tmp_path):
    pytest.importorskip("sklearn")
    from click.testing import CliRunner

    from conftest import SHARED
    from embspace.cli import main
    from embspace.texts import build as build_texts

    lines = (SHARED / "labelled" / "trec" / "train.txt").read_bytes().decode("utf-8", "replace").splitlines()
    texts = [line.split(" ", 1)[1] for line in lines[:300]]
    narrow, wide = build_texts(texts, model="tfidf-svd", dim=8), build_texts(texts, model="tfidf-svd", dim=64)
    overlap = neighbour_overlap(narrow, wide, k=5, sample=100, worst=3)
    first = overlap["most_different"][0]
    assert overlap["text_column"] == "text" and first["text"] == texts[narrow.index(first["id"])]
    assert first["a_only_text"] == [texts[narrow.index(i)] for i in first["a_only"]]

    a, b = _saved(narrow, tmp_path / "narrow.space"), _saved(wide, tmp_path / "wide.space")
    result = CliRunner().invoke(main, ["-q", "compare", a, b, "-k", "5", "--sample", "100"])
    assert result.exit_code == 0, result.output
    assert "no report card for A: a text space has no built-in test set" in result.output
    assert "over 100 shared texts" in result.output
    header = next(line for line in result.output.splitlines() if line.startswith("id "))
    assert header.split() == ["id", "text", "overlap", "only", "in", "A", "only", "in", "B"]
    assert texts[narrow.index(first["id"])][:30] in result.output  # the item's text beside its id
    assert texts[narrow.index(first["a_only"][0])][:20] in result.output  # a neighbour only A has, as text
