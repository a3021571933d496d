"""Notebooks (issue 11 #20): a Space, a list of Results and a Map show as a table or a picture, and
results convert to pandas."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from embspace import EmbspaceError, Space
from embspace.evaluate import Result, Results, format_table, report_card

HOSTILE = '<script>alert("x")</script>'


@pytest.fixture
def hostile_space():
    ids = [HOSTILE, "b&c"] + [f"w{i}" for i in range(23)]
    texts = ["<b>bold</b> & more"] + [f"text {i}" for i in range(24)]
    vectors = np.random.default_rng(0).normal(size=(25, 4))
    return Space(ids, vectors, meta={"text": texts}, info={"name": "x<y>"})


def test_space_shows_as_an_escaped_html_table(hostile_space):
    page = hostile_space._repr_html_()
    assert page.startswith("<table>") and page.count("<tr>") == 11  # the header and the first 10 rows
    assert "<script>" not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "b&amp;c" in page and "&lt;b&gt;bold&lt;/b&gt; &amp; more" in page
    assert "Space x&lt;y&gt;: 25 \u00d7 4 float32, cosine; the first 10 rows" in page
    assert "<th" in page and ">text</th>" in page


def test_report_card_is_a_results_list_that_shows_as_a_table(glove_small):
    card = report_card(glove_small.head(5000), pairs=["men", "ws353"])
    assert isinstance(card, Results) and isinstance(card, list) and all(isinstance(r, Result) for r in card)
    assert str(card) == format_table(card)
    page = card._repr_html_()
    assert page.count("<tr>") == 3 and ">men</td>" in page and f"{card[0].score:.4f}" in page
    one = Result(HOSTILE, "word_pairs", "spearman", 0.5, 1.0, 1, 1, "drop")
    assert "<script>" not in one._repr_html_() and "&lt;script&gt;" in one._repr_html_()


def test_to_pandas_without_pandas_is_a_one_line_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if it were not installed
    card = Results([Result("men", "word_pairs", "spearman", 0.5, 1.0, 1, 1, "drop")])
    with pytest.raises(EmbspaceError) as raised:
        card.to_pandas()
    assert "\n" not in str(raised.value) and "pip install pandas" in str(raised.value)


def test_results_to_pandas():
    pytest.importorskip("pandas")
    card = Results(
        [
            Result("men", "word_pairs", "spearman", 0.7, 0.5, 1, 2, "drop"),
            Result("google", "analogies", "accuracy", 0.3, 1.0, 4, 4, "drop", {"method": "3cosmul"}),
            Result("probe/label", "probe", "accuracy", 0.8, 1.0, 9, 9, "drop", {"bow_accuracy": 0.6, "majority": 0.2}),
        ]
    )
    frame = card.to_pandas()
    assert list(frame["name"]) == ["men", "google", "probe/label"] and frame["score"].tolist() == [0.7, 0.3, 0.8]
    assert frame["method"].tolist()[1] == "3cosmul" and frame["bow_accuracy"].tolist()[2] == 0.6
    assert {"coverage", "found", "total", "majority", "details"} <= set(frame.columns)
    assert card[0].to_pandas().shape[0] == 1


def test_map_shows_as_a_picture(glove_small):
    pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    from embspace.reduce import make_map

    m = make_map(glove_small.head(300), "pca")
    png = m._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    m._space = None  # a map read from a cache, without its space: the points alone
    assert m._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"


def test_map_to_pandas(glove_small):
    pytest.importorskip("pandas")
    pytest.importorskip("sklearn")
    from embspace.reduce import make_map

    space = glove_small.head(300)
    frame = make_map(space, "pca").to_pandas()
    assert list(frame.columns) == ["row", "id", "x", "y", "trust"] and frame["id"].tolist()[:2] == space.ids[:2]
