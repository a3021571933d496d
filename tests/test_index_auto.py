"""Self-tuning indexes: `embspace index SPACE --recall 0.95` on the first 30,000 GloVe words."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import embspace
from embspace.cli import main
from embspace.errors import EmbspaceError
from embspace.index import auto_index, index_info, open_index, parse_bytes

faiss = pytest.importorskip("faiss")


@pytest.fixture(scope="module")
def glove30k():
    from embspace.datasets import glove_6b_50d

    try:
        return glove_6b_50d().head(30_000)
    except (EmbspaceError, ImportError, OSError) as exc:
        pytest.skip(f"GloVe 6B 50d is not installed: {exc}")


@pytest.fixture(scope="module")
def tuned(glove30k, tmp_path_factory):
    """The space saved, then indexed by the CLI with --recall 0.95 (the run every test below looks at)."""
    path = tmp_path_factory.mktemp("auto") / "g30k.space"
    embspace.save(glove30k, path)
    result = CliRunner().invoke(main, ["index", str(path), "--recall", "0.95", "--json"])
    assert result.exit_code == 0, result.output
    return path, json.loads(result.output)


def _recall_excluding_self(space, index, rows, k=10) -> float:
    """Recall@k of `index` against brute force in NumPy (cosine), each query row left out of both sides."""
    x = np.asarray(space.vectors, dtype=np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    sims = x[rows] @ x.T
    sims[np.arange(len(rows)), rows] = -np.inf
    truth = np.argsort(-sims, axis=1)[:, :k]
    found, _ = index.search(np.asarray(space.vectors[rows]), k + 1)
    hits = [len(set([f for f in fr if f != r][:k]) & set(t)) for fr, r, t in zip(found.tolist(), rows, truth.tolist())]
    return float(np.mean(hits)) / k


def test_auto_reaches_the_target_on_fresh_held_out_queries(tuned, glove30k):
    path, report = tuned
    assert report["built"] and report["target_recall"] == 0.95
    index = open_index(embspace.load(path))
    rows = np.random.default_rng(12345).choice(glove30k.n, size=1000, replace=False)
    assert _recall_excluding_self(glove30k, index, rows) >= 0.95
    assert index.stats_["ann_qps"] > index.stats_["exact_qps"]


def test_the_choice_and_every_candidate_survive_save_and_open(tuned):
    path, report = tuned
    meta = index_info(path)
    auto = meta["auto"]
    assert auto["candidates"] == report["candidates"] and auto["why"] == report["why"]
    kinds = {c["kind"] for c in auto["candidates"]}
    assert {"hnsw", "ivfpq"} <= kinds
    chosen = auto["candidates"][auto["chosen"]]
    assert chosen["kind"] == meta["kind"] and chosen["reached"] and chosen["check_recall"] >= 0.95
    for c in auto["candidates"]:
        assert "skipped" in c or ({"recall", "qps", "memory", "trials"} <= set(c) and c["qps"] > 0)
    reached = [c for c in auto["candidates"] if c.get("reached")]
    assert chosen["qps"] == max(c["qps"] for c in reached)  # the fastest that reached the target
    assert open_index(embspace.load(path)).auto_ == auto
    shown = CliRunner().invoke(main, ["index", str(path), "--show"])
    assert shown.exit_code == 0 and "chosen because" in shown.output and "ivfpq" in shown.output


def test_a_tiny_space_gets_no_index(glove30k, tmp_path):
    index, report = auto_index(glove30k.head(2000), recall=0.95)
    assert index is None and report["why"].startswith("exact search is faster; no index built")
    path = tmp_path / "tiny.space"
    embspace.save(glove30k.head(2000), path)
    result = CliRunner().invoke(main, ["index", str(path), "--recall", "0.95"])
    assert result.exit_code == 0 and "exact search is faster; no index built" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not (path / "index").exists()


def test_an_impossible_target_within_the_budget_says_the_best_reached(tuned):
    path, _ = tuned
    before = (path / "index" / "index.json").read_bytes()
    result = CliRunner().invoke(main, ["index", str(path), "--recall", "0.999", "--memory-budget", "1MB"])
    assert result.exit_code != 0
    line = result.output.strip()
    assert len(line.splitlines()) == 1 and "the best was 0.9" in line and "ivfpq" in line, line
    assert (path / "index" / "index.json").read_bytes() == before  # nothing written


@pytest.mark.parametrize(
    "args, said",
    [
        (["--recall", "0.95", "--memory-budget", "1KB"], "no index fits"),
        (["--recall", "0.95", "--memory-budget", "lots"], "not a size"),
        (["--recall", "0.95", "--kind", "hnsw"], "--kind auto"),
        (["--memory-budget", "1GiB"], "--recall"),
        (["--recall", "1.5"], "1.5"),
    ],
)
def test_bad_auto_input_is_a_one_line_error(tuned, args, said):
    path, _ = tuned
    result = CliRunner().invoke(main, ["index", str(path), *args])
    assert result.exit_code != 0 and said in result.output, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and said in errors[0]  # click's usage errors add a usage line above it


def test_parse_bytes():
    assert parse_bytes("2GiB") == 2 << 30 and parse_bytes("500MB") == 500_000_000 and parse_bytes(1024) == 1024
    with pytest.raises(EmbspaceError, match="not a size"):
        parse_bytes("-3GB")


def test_ivfpq_is_opened_memory_mapped(glove30k, tmp_path, monkeypatch):
    from embspace.index import AnnIndex, save_index

    path = tmp_path / "pq.space"
    embspace.save(glove30k.head(12_000), path)
    space = embspace.load(path)
    save_index(AnnIndex("ivfpq", nlist=64).fit(space), path)
    flags = []
    real = faiss.read_index
    monkeypatch.setattr(faiss, "read_index", lambda f, *a: flags.append(a) or real(f, *a))
    index = open_index(space)
    assert flags == [(faiss.IO_FLAG_MMAP,)]
    rows, _ = index.search(np.asarray(space.vectors[:5]), 3)
    assert (rows[:, 0] == np.arange(5)).all()
