"""embspace.tune.retrofit (Faruqui et al. 2015): the update, WordNet 3.0 from its data files, lexicon files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import embspace
from conftest import SHARED
from embspace.cli import main
from embspace.errors import EmbspaceError
from embspace.evaluate import word_pairs
from embspace.tune import retrofit
from embspace.tune._lexicon import wordnet

WORDNET = Path("/usr/share/wordnet")
needs_wordnet = pytest.mark.skipif(
    not (WORDNET / "data.noun").is_file(), reason="WordNet 3.0 is not installed (apt-get install wordnet-base)"
)
SIMLEX = SHARED / "wordsim" / "EN-SIMLEX-999.txt"


@pytest.fixture(scope="module")
def words():
    """The 20,000 most frequent GloVe 6B 50d words (skipped when the vectors are not installed)."""
    from embspace.datasets import glove_6b_50d

    try:
        return glove_6b_50d().head(20_000)
    except EmbspaceError as exc:
        pytest.skip(f"GloVe 6B 50d is not installed: {exc}")


def _cos(space, a, b):
    x, y = space.vector(a), space.vector(b)
    return float(x @ y / np.linalg.norm(x) / np.linalg.norm(y))


def test_update_is_the_papers(words, tmp_path):
    lexicon = tmp_path / "lex.txt"
    lexicon.write_text("# a comment\ncar automobile truck zzznotaword\nHappy glad\n\n", encoding="utf-8")
    out = retrofit(words, lexicon, iterations=3)
    q = {w: np.asarray(words.vector(w), np.float64) for w in ("car", "automobile", "truck", "happy", "glad")}
    # the file links car -> automobile, truck and happy -> glad only: the neighbours stay, so the fixed point
    # is reached in one round, halfway between a word and the mean of its neighbours (alpha = beta = 1)
    np.testing.assert_allclose(out.vector("car"), (q["car"] + (q["automobile"] + q["truck"]) / 2) / 2, atol=1e-6)
    np.testing.assert_allclose(out.vector("happy"), (q["happy"] + q["glad"]) / 2, atol=1e-6)
    assert np.array_equal(out.vector("automobile"), words.vector("automobile"))
    moved = np.flatnonzero((out.vectors != words.vectors).any(axis=1))
    assert sorted(out.ids[i] for i in moved) == ["car", "happy"]  # every other word exactly as it was
    # alpha and per-relation weights: q = (alpha q̂ + beta w mean(neighbours)) / (alpha + beta w)
    out = retrofit(words, lexicon, alpha=2.0, beta=1.0, weights={"lexicon": 0.5})
    np.testing.assert_allclose(out.vector("happy"), (2 * q["happy"] + 0.5 * q["glad"]) / 2.5, atol=1e-6)
    record = out.info["tuned"][-1]
    assert record["method"] == "retrofit" and record["lexicon"]["name"] == "lex.txt"
    assert len(record["lexicon"]["sha256"]) == 64 and record["params"]["alpha"] == 2.0
    assert record["coverage"]["words"] == 2 and record["coverage"]["relations"]["lexicon"]["links"] == 3


def test_iterations_reach_the_fixed_point(words):
    # king <-> queen: the update's fixed point solves k = (k̂ + q) / 2, q = (q̂ + k) / 2
    k, q = (np.asarray(words.vector(w), np.float64) for w in ("king", "queen"))
    lexicon = {"king": ["queen"], "queen": ["king"]}
    out = retrofit(words, lexicon, iterations=30)
    np.testing.assert_allclose(out.vector("king"), (2 * k + q) / 3, atol=1e-5)
    np.testing.assert_allclose(out.vector("queen"), (k + 2 * q) / 3, atol=1e-5)
    assert _cos(out, "king", "queen") > _cos(words, "king", "queen")
    few = retrofit(words, lexicon, iterations=2)
    assert np.abs(few.vector("king") - (2 * k + q) / 3).max() > 1e-3  # not there yet after 2 rounds


@needs_wordnet
def test_wordnet_parse():
    table = wordnet(("synonyms", "hypernyms", "hyponyms", "similar"), senses=None)
    assert {"auto", "automobile", "motorcar", "machine"} <= table["synonyms"]["car"]
    assert "motor vehicle" in table["hypernyms"]["car"]  # '_' becomes a space
    assert "car" in table["hyponyms"]["motor vehicle"]
    assert "car" not in table["synonyms"]["car"]
    assert all(not w.endswith(("(a)", "(p)", "(ip)")) for w in table["similar"])
    first = wordnet(("synonyms",), senses=1)["synonyms"]["car"]
    assert "automobile" in first and "gondola" not in first  # gondola is car's 4th sense


@needs_wordnet
def test_wordnet_retrofit_moves_synonyms_closer(words, tmp_path):
    out = retrofit(words, "wordnet")
    record = out.info["tuned"][-1]
    assert record["lexicon"]["name"] == "wordnet" and set(record["lexicon"]["files"]) == {
        f"data.{p}" for p in ("noun", "verb", "adj", "adv")
    }
    assert 0 < record["coverage"]["words"] < words.n and record["coverage"]["space_words"] == words.n
    for a, b in (("car", "automobile"), ("happy", "glad"), ("big", "large")):
        assert _cos(out, a, b) > _cos(words, a, b)
    unlinked = np.flatnonzero((out.vectors == words.vectors).all(axis=1))
    assert unlinked.size == words.n - record["coverage"]["words"]
    if SIMLEX.is_file():
        before, after = word_pairs(words, SIMLEX), word_pairs(out, SIMLEX)
        assert after.found == before.found and after.score > before.score + 0.05
    embspace.save(out, tmp_path / "r.space")
    back = embspace.load(tmp_path / "r.space")
    assert back.info["tuned"] == json.loads(json.dumps(out.info["tuned"]))
    assert np.array_equal(back.vectors, out.vectors)


@needs_wordnet
def test_top_and_normalize(words):
    out = retrofit(words, "wordnet", relations="synonyms", top=2_000, normalize=True)
    assert out.info["transforms"][-1]["kind"] == "normalize"  # recorded in the chain
    coverage = out.info["tuned"][-1]["coverage"]
    assert coverage["space_words"] == 2_000
    changed = np.flatnonzero((np.abs(out.vectors - words.normalize().vectors) > 1e-7).any(axis=1))
    assert changed.max() < 2_000


def test_bad_lexicons_are_one_line(words, tmp_path):
    cases = {
        "binary.bin": b"\x00\x01\x02\x03" * 100,
        "vectors.json": b'{"car": ["automobile"]}\n',
        "scores.txt": b"car automobile 8.5\nhappy glad 9.1\nbig large 9.0\n",
        "single.txt": b"car\nhappy\n",
        "empty.txt": b"",
        "latin1.txt": "caf\xe9 coffee\n".encode("latin-1"),
        "badgzip.txt.gz": b"\x1f\x8b\x08garbage",
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(EmbspaceError, match="not a lexicon in a known format") as err:
            retrofit(words, tmp_path / name)
        assert "\n" not in str(err.value)
    (tmp_path / "ok.txt.gz").write_bytes(gzip.compress(b"car automobile\n"))
    assert retrofit(words, tmp_path / "ok.txt.gz").info["tuned"][-1]["coverage"]["words"] == 1
    (tmp_path / "nowords.txt").write_text("qqqzz xxxyy\n", encoding="utf-8")
    with pytest.raises(EmbspaceError, match="no word of the lexicon"):
        retrofit(words, tmp_path / "nowords.txt")
    with pytest.raises(EmbspaceError, match="does not exist"):
        retrofit(words, tmp_path / "missing.txt")
    with pytest.raises(EmbspaceError, match="unknown WordNet relation 'antonyms'"):
        retrofit(words, "wordnet", relations="synonyms,antonyms")
    with pytest.raises(EmbspaceError, match="which the lexicon does not have"):
        retrofit(words, {"car": ["automobile"]}, weights={"hypernyms": 0.5})
    with pytest.raises(EmbspaceError, match="--alpha must be above 0"):
        retrofit(words, {"car": ["automobile"]}, alpha=0)
    with pytest.raises(EmbspaceError, match="--iterations"):
        retrofit(words, {"car": ["automobile"]}, iterations=0)
    with pytest.raises(EmbspaceError, match="WordNet 3.0 is not installed"):
        retrofit(words, "wordnet", wordnet_root=tmp_path)


def test_cli_retrofit(words, tmp_path):
    src = tmp_path / "w.space"
    embspace.save(words, src)
    lexicon = tmp_path / "lex.txt"
    lexicon.write_text("car automobile truck\nautomobile car\nhappy glad\n", encoding="utf-8")
    runner = CliRunner()
    ok = runner.invoke(
        main, ["-q", "tune", "retrofit", str(src), "--lexicon", str(lexicon), "-o", str(tmp_path / "a.space")]
    )
    assert ok.exit_code == 0, ok.output
    assert "moved 3 of 20,000 words" in ok.output and "lexicon" in ok.output
    ok = runner.invoke(
        main,
        ["-q", "tune", "retrofit", str(src), "--lexicon", str(lexicon), "--iterations", "2", "--alpha", "2", "--json",
         "-o", str(tmp_path / "b.space")],
    )  # fmt: skip
    assert ok.exit_code == 0, ok.output
    result = json.loads(ok.output)
    assert result["coverage"]["words"] == 3 and result["params"]["iterations"] == 2
    (tmp_path / "bad.txt").write_bytes(b"\x00\xff" * 50)
    for args in (
        ["--lexicon", str(tmp_path / "bad.txt")],
        ["--lexicon", str(lexicon), "--weights", "hypernyms"],
        ["--lexicon", str(lexicon), "--weights", "hypernyms=0.5"],
        ["--lexicon", str(lexicon), "--alpha", "0"],
        ["--relations", "synonyms,antonyms"],
        ["--senses", "zero"],
    ):
        bad = runner.invoke(main, ["-q", "tune", "retrofit", str(src), *args, "-o", str(tmp_path / "c.space")])
        assert bad.exit_code != 0 and "Traceback" not in bad.output, (args, bad.output)
        assert isinstance(bad.exception, SystemExit), bad.exception
        assert len([line for line in bad.output.splitlines() if line.startswith("Error")]) == 1, bad.output
    assert not (tmp_path / "c.space").exists()


@needs_wordnet
def test_cli_retrofit_wordnet(words, tmp_path):
    src = tmp_path / "w.space"
    embspace.save(words.head(3_000), src)
    out = CliRunner().invoke(
        main, ["-q", "tune", "retrofit", str(src), "--relations", "synonyms", "-o", str(tmp_path / "wn.space")]
    )
    assert out.exit_code == 0, out.output
    assert "synonyms" in out.output and "of 3,000 words" in out.output
