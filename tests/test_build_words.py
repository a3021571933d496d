"""`build words`: every method on a small real corpus, reproducibility, and bad input."""

import json
import subprocess
import sys

import numpy as np
import pytest

import embspace
from conftest import SHARED
from embspace import EmbspaceError
from embspace.evaluate import word_pairs
from embspace.words import METHODS, WordParams
from embspace.words import build as build_words

CORPUS = [str(SHARED / "corpora" / name) for name in ("inaugural.zip", "state_union.zip", "movie_reviews.zip")]
# Small, quick settings for the suite. MEN Spearman measured with them on these 1.78M tokens by
# `benchmarks/floors_words.py --reps 2` (2026-11-24): ppmi-svd 0.373 / 0.360; glove (15 epochs, the default
# all-but-the-top with 4 directions; `--methods glove --reps 3`) 0.187 / 0.197 / 0.237;
# earlier (same settings, /tmp/floors2.py): cbow 0.238, sgns 0.203, fasttext 0.122.
# The floors sit below those by the run-to-run noise of two-worker training.
FAST = {
    "sgns": {"dim": 50, "epochs": 3},
    "cbow": {"dim": 50, "epochs": 3},
    "fasttext": {"dim": 50, "epochs": 2, "buckets": 50_000},
    "glove": {"dim": 100, "epochs": 15},
    "ppmi-svd": {"dim": 100},
}
FLOORS = {"ppmi-svd": 0.30, "cbow": 0.17, "sgns": 0.14, "fasttext": 0.08, "glove": 0.15}


@pytest.fixture(scope="module", params=METHODS)
def built(request):
    method = request.param
    return method, build_words(CORPUS, method, workers=2, **FAST[method])


def test_each_method_builds_a_useful_space(built):
    method, space = built
    assert space.n > 15_000 and space.info["method"] == method
    assert space.info["tokens"] > 1_700_000 and space.info["corpus"]["files"][0]["sha256"]
    counts = space.meta["count"]
    assert counts == sorted(counts, reverse=True) and min(counts) >= 5
    result = word_pairs(space, "men")
    assert result.coverage > 0.6
    assert result.score >= FLOORS[method], (method, result.score)
    assert {"president", "congress", "war"} <= set(space.ids[:500])


def test_params_are_recorded(tmp_path):
    space = build_words(CORPUS[:1], "ppmi-svd", dim=10, window=3, cds=0.5)
    path = embspace.save(space, tmp_path / "p.space")
    info = json.loads((path / "manifest.json").read_text())["info"]
    assert info["params"]["window"] == 3 and info["params"]["cds"] == 0.5 and info["params"]["dim"] == 10
    assert "negative" not in info["params"]
    assert info["corpus"]["files"][0]["size"] > 0


def test_bad_knobs_and_methods():
    with pytest.raises(EmbspaceError, match="unknown method 'bert'; choose one of sgns"):
        build_words(CORPUS, "bert")
    with pytest.raises(EmbspaceError, match="unknown knob.*windw.*valid: dim"):
        build_words(CORPUS, "sgns", windw=5)
    with pytest.raises(EmbspaceError, match="--dim must be at least 1"):
        build_words(CORPUS, "sgns", dim=0)
    with pytest.raises(EmbspaceError, match="--min-n 50 to --max-n 3: need 1 <= min-n <= max-n"):
        build_words(CORPUS, "fasttext", min_n=50, max_n=3)


def test_svd_dim_larger_than_vocabulary():
    with pytest.raises(EmbspaceError, match="too large for a vocabulary"):
        build_words(CORPUS[:1], "ppmi-svd", dim=5000, min_count=50)


@pytest.mark.parametrize("method", METHODS)
def test_no_word_above_min_count(tmp_path, method):
    text = tmp_path / "tiny.txt"
    text.write_text("a few words only\nonce each here\n")
    with pytest.raises(EmbspaceError, match="min-count"):
        build_words([str(text)], method, min_count=5)


def test_empty_and_binary_corpus(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(EmbspaceError):
        build_words([str(empty)], "glove")
    binary = tmp_path / "blob.txt"
    binary.write_bytes(bytes(range(256)) * 100)
    with pytest.raises(EmbspaceError, match="binary"):
        build_words([str(binary)], "glove")


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "embspace", "-q", *args], capture_output=True, text=True)


def test_cli_unwritable_output_fails_before_training(tmp_path):
    proc = _cli("build", "words", CORPUS[0], "--method", "glove", "-o", str(tmp_path / "no" / "x.space"))
    assert proc.returncode != 0 and "does not exist" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_unknown_method_lists_valid(tmp_path):
    proc = _cli("build", "words", CORPUS[0], "--method", "bert", "-o", str(tmp_path / "x.space"))
    assert proc.returncode == 2 and "sgns" in proc.stderr and "ppmi-svd" in proc.stderr


def test_cli_build_and_compare(tmp_path):
    out_a, out_b = tmp_path / "a.space", tmp_path / "b.space"
    proc = _cli("build", "words", CORPUS[0], "--method", "ppmi-svd", "--dim", "50", "-o", str(out_a), "--evaluate")
    assert proc.returncode == 0, proc.stderr
    assert "ws353" in proc.stdout.lower() or "ws-353" in proc.stdout.lower()
    proc = _cli("build", "words", CORPUS[0], "--method", "glove", "--dim", "30", "--epochs", "3", "-o", str(out_b))
    assert proc.returncode == 0, proc.stderr
    proc = _cli("compare", str(out_a), str(out_b), "--json", "--no-card")
    data = json.loads(proc.stdout)
    assert 0 <= data["overlap"]["mean"] <= 1 and data["overlap"]["shared"] > 1000


def test_interrupt_leaves_no_space(tmp_path, monkeypatch):
    from embspace.words import _build as _words

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(_words, "_train_glove", interrupted)
    from click.testing import CliRunner

    from embspace.cli import main

    out = tmp_path / "x.space"
    result = CliRunner().invoke(main, ["-q", "build", "words", CORPUS[0], "--method", "glove", "-o", str(out)])
    assert result.exit_code == 130 and not out.exists()
    assert list(tmp_path.iterdir()) == []
    assert isinstance(WordParams(), WordParams)


def test_fasttext_answers_for_unseen_words(tmp_path):
    space = build_words(CORPUS[:1], "fasttext", workers=1, epochs=1, min_count=3, buckets=5000)
    path = embspace.save(space, tmp_path / "ft.space")
    loaded = embspace.load(path)
    assert loaded.extras["subwords"].shape == (5000, space.dim)
    assert "presidentially" not in loaded
    vec = loaded.vector("presidentially")
    assert vec.shape == (space.dim,) and np.isfinite(vec).all()
    assert len(loaded.neighbors("presidentially", k=3)) == 3
    assert [n.id for n in loaded.neighbors(["presidentially"], k=3)[0]] == [
        n.id for n in loaded.neighbors("presidentially", k=3)
    ]
    assert len(loaded.analogy("man", "president", "presidentially", k=2)) == 2
    gensim = pytest.importorskip("gensim.models.fasttext")
    expected = loaded.extras["subwords"][gensim.ft_ngram_hashes("presidentially", 3, 6, 5000)].mean(axis=0)
    np.testing.assert_allclose(vec, expected, rtol=1e-6)


def test_all_but_the_top_removes_mean_and_top_directions():
    from embspace.tune._abtt import all_but_the_top

    rng = np.random.default_rng(0)
    common = rng.normal(size=(1, 20)) * 5  # a shared offset, and two loud directions
    x = (
        rng.normal(size=(3000, 20))
        + common
        + rng.normal(size=(3000, 1)) * 8 * np.eye(20)[3]
        + rng.normal(size=(3000, 1)) * 6 * np.eye(20)[7]
    ).astype(np.float32)
    out, info = all_but_the_top(x, 2)
    assert out.dtype == np.float32 and out.shape == x.shape and not np.shares_memory(out, x)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-4)
    centred = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
    expected = centred - (centred @ vt[:2].T) @ vt[:2]
    np.testing.assert_allclose(out, expected, atol=1e-3)
    assert np.abs(out[:, [3, 7]]).mean() < 0.05  # the loud axes are gone, the rest kept
    assert info["d"] == 2 and info["removed_variance"][0] > info["removed_variance"][1] > 0.1
    same, info0 = all_but_the_top(x, 0)
    np.testing.assert_array_equal(same, x) and info0 == {"d": 0}
    for bad in (-1, 20, 2.5, True):
        with pytest.raises(EmbspaceError, match="--abtt must be"):
            all_but_the_top(x, bad)


def test_abtt_knob_is_recorded_and_checked(tmp_path):
    space = build_words(CORPUS[:1], "ppmi-svd", dim=20, abtt=3, min_count=20)
    assert space.info["params"]["abtt"] == 3 and space.info["abtt"]["d"] == 3
    np.testing.assert_allclose(space.vectors.mean(axis=0), 0, atol=1e-4)
    assert WordParams().resolve("glove").abtt == 4 and WordParams().resolve("sgns").abtt == 0
    with pytest.raises(EmbspaceError, match="--abtt must be from 0 to 19"):
        build_words(CORPUS[:1], "ppmi-svd", dim=20, abtt=20)
    proc = _cli("build", "words", CORPUS[0], "--method", "fasttext", "--abtt", "2", "-o", str(tmp_path / "f.space"))
    assert proc.returncode == 1 and "not available for fasttext" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "f.space").exists()


def test_kind_packages_export_builders_without_heavy_imports():
    code = (
        "import sys, embspace.words as w, embspace.texts as t, embspace.tune as u; "
        "assert callable(w.build) and callable(t.build) and callable(t.tokens); "
        "assert callable(t.encode_queries) and callable(u.all_but_the_top); "
        "print(sorted(m for m in ('torch', 'gensim', 'onnxruntime', 'sentence_transformers') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_old_builder_names_warn_and_still_work():
    import embspace.build as old
    from embspace import texts, tune, words

    for name, new in [
        ("build_words", words.build),
        ("build_texts", texts.build),
        ("build_tokens", texts.tokens),
        ("encode_queries", texts.encode_queries),
        ("all_but_the_top", tune.all_but_the_top),
        ("Corpus", words.Corpus),
    ]:
        with pytest.warns(DeprecationWarning, match=f"embspace.build.{name} is deprecated"):
            assert getattr(old, name) is new
    with pytest.raises(AttributeError):
        old.no_such_builder  # noqa: B018


def test_build_takes_one_path_or_sentences_in_memory(tmp_path, monkeypatch):
    from pathlib import Path

    one = build_words(CORPUS[0], "ppmi-svd", dim=20, min_count=20)  # a str, not its characters
    assert one.n > 500 and one.info["corpus"]["files"][0]["path"] == CORPUS[0]
    assert build_words(Path(CORPUS[0]), "ppmi-svd", dim=20, min_count=20).ids == one.ids
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]
    tokens = [list(rng.choice(words, size=8)) for _ in range(300)]  # gensim's `sentences`
    for method in ("sgns", "glove"):
        space = build_words(tokens, method, dim=8, min_count=1, epochs=1, workers=1)
        assert set(space.ids) == set(words) and space.info["corpus"]["in_memory"] == "tokens"
    texts = [" ".join(t).upper() for t in tokens]  # strings: tokenised (and case-folded) like file text
    space = build_words(texts, "ppmi-svd", dim=8, min_count=1)
    assert set(space.ids) == set(words) and space.info["corpus"]["sentences"] == 300
    monkeypatch.chdir(tmp_path)
    with pytest.raises(EmbspaceError, match="corpus path not found: corpus.txt"):
        build_words("corpus.txt", "glove")


def test_undecodable_bytes_are_said_in_the_words_of_the_caller(tmp_path):
    rng = np.random.default_rng(1)
    lines = [" ".join(rng.choice(["café", "crème", "thé", "lait", "pain", "eau"], size=8)) for _ in range(50)]
    text = "\n".join(lines) + "\n"
    latin1, utf8 = tmp_path / "latin1.txt", tmp_path / "utf8.txt"
    latin1.write_bytes(text.encode("latin-1"))
    utf8.write_text(text, encoding="utf-8")
    bad = sum(ch in "éè" for ch in text)
    args = ("--method", "ppmi-svd", "--dim", "2", "--min-count", "1")
    proc = _cli("build", "words", str(latin1), *args, "-o", str(tmp_path / "l.space"))
    assert proc.returncode == 0, proc.stderr
    assert f"note: {bad} undecodable bytes in {latin1} were replaced (U+FFFD); --encoding-errors strict" in proc.stderr
    assert "Warning" not in proc.stderr
    proc = _cli("build", "words", str(latin1), *args, "--encoding-errors", "strict", "-o", str(tmp_path / "s.space"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "not UTF-8 text: byte 0xe9" in proc.stderr and "--encoding-errors replace" in proc.stderr
    assert "encoding_errors=" not in proc.stderr
    proc = _cli("build", "words", str(utf8), *args, "-o", str(tmp_path / "u.space"))
    assert proc.returncode == 0 and "note:" not in proc.stderr
    assert {"café", "crème", "thé"} <= set(embspace.load(tmp_path / "u.space").ids)  # accents stay inside words
    with pytest.warns(UserWarning, match=f"{bad} undecodable bytes in .* encoding_errors='strict' to refuse"):
        space = build_words(str(latin1), "ppmi-svd", dim=2, min_count=1)
    assert space.info["corpus"]["undecodable_bytes"] == {str(latin1): bad} and "caf" in space.ids
    with pytest.raises(EmbspaceError, match="read it with encoding_errors='replace'"):
        build_words(str(latin1), "ppmi-svd", dim=2, min_count=1, encoding_errors="strict")


@pytest.mark.parametrize("method", ["sgns", "cbow", "fasttext"])
def test_gensim_methods_show_epoch_progress(method, monkeypatch):
    from embspace.words import _build as _words

    bars = []

    class Bar:
        def __init__(self, total=None, desc="", unit="it", **_):
            self.total, self.desc, self.unit, self.n = total, desc, unit, 0
            bars.append(self)

        def update(self, n=1):
            self.n += n

        def set_postfix_str(self, s):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

    monkeypatch.setattr(_words, "progress", Bar)
    build_words(CORPUS[0], method, dim=8, epochs=3, min_count=20, workers=1, buckets=1000)
    epochs = [b for b in bars if b.unit == "epoch"]
    assert [(b.desc, b.total, b.n) for b in epochs] == [(method, 3, 3)]


def test_cli_shows_epoch_progress_unless_quiet(tmp_path):
    args = ["build", "words", CORPUS[0], "--method", "sgns", "--dim", "8", "--epochs", "2", "--min-count", "20"]
    loud = subprocess.run(
        [sys.executable, "-m", "embspace", *args, "-o", str(tmp_path / "a.space")], capture_output=True, text=True
    )
    assert loud.returncode == 0, loud.stderr
    assert "sgns: 100%" in loud.stderr and "epoch/s" in loud.stderr
    quiet = _cli(*args, "-o", str(tmp_path / "b.space"))
    assert quiet.returncode == 0 and "epoch/s" not in quiet.stderr


@pytest.mark.parametrize("method, temp", [("glove", "embspace-ids-"), ("sgns", "embspace-corpus-")])
def test_sigterm_cleans_up_like_ctrl_c(tmp_path, method, temp):
    import os
    import signal
    import time

    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    out = tmp_path / "x.space"
    proc = subprocess.Popen(
        [sys.executable, "-m", "embspace", "-q", "build", "words", *CORPUS, "--method", method, "-o", str(out)],
        env={**os.environ, "TMPDIR": str(tmpdir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(1200):  # until the build has made its temporary folder (or has ended)
            if any(p.name.startswith(temp) for p in tmpdir.iterdir()) or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert proc.poll() is None, f"the build ended before it could be stopped: {proc.stderr.read()}"
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and "interrupted; nothing was written" in stderr, stderr
    assert "Traceback" not in stderr
    assert list(tmpdir.iterdir()) == [] and not out.exists()


def test_glove_epochs_follow_the_corpus_size_unless_given():
    from embspace.words._build import GLOVE_LARGE, glove_epochs

    assert glove_epochs(1_000_000) == 15 and glove_epochs(GLOVE_LARGE) == 10 and glove_epochs(7_300_000) == 10
    small = build_words(CORPUS[:1], "glove", dim=10, min_count=20, workers=1)
    assert small.info["params"]["epochs"] == 15 and len(small.info["loss_per_epoch"]) == 15
    given = build_words(CORPUS[:1], "glove", dim=10, min_count=20, workers=1, epochs=2)
    assert given.info["params"]["epochs"] == 2 and len(given.info["loss_per_epoch"]) == 2
