"""ANN indexes: recall against exact search on real GloVe words, caching, staleness, the CLI."""

from __future__ import annotations

import json
import os
import re
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

import embspace
from embspace._sealed import sealed_bytes
from embspace.cli import main
from embspace.errors import EmbspaceError
from embspace.index import AnnIndex, StaleIndexError, ann_neighbors, build_index, index_info, open_index

pytest.importorskip("faiss")


@pytest.fixture(scope="module")
def glove_path(glove_small, tmp_path_factory):
    path = tmp_path_factory.mktemp("ann") / "glove20k.space"
    embspace.save(glove_small, path)
    return path


@pytest.mark.parametrize("kind, floor", [("flat", 0.999), ("hnsw", 0.95), ("ivfpq", 0.9)])
def test_index_recall_against_exact(glove_small, kind, floor):
    index = AnnIndex(kind).fit(glove_small)
    stats = index.measure_recall(glove_small, k=10, sample=300)
    assert stats["recall@10"] >= floor, stats
    assert stats["queries"] == 300 and stats["ann_qps"] > 0 and stats["exact_qps"] > 0


def test_ann_neighbors_match_exact_for_ids_and_vectors(glove_small):
    index = AnnIndex("flat").fit(glove_small)
    exact = glove_small.neighbors(["king", "frog"], k=5)
    approx = ann_neighbors(glove_small, index, ["king", "frog"], k=5)
    assert [[n.id for n in r] for r in approx] == [[n.id for n in r] for r in exact]
    assert np.allclose([n.score for n in approx[0]], [n.score for n in exact[0]], atol=1e-5)
    one = ann_neighbors(glove_small, index, glove_small.vector("king"), k=3, exclude_query=False)
    assert one[0].id == "king"


def test_euclidean_and_dot_metrics(small_space):
    for metric in ("euclidean", "dot"):
        index = AnnIndex("flat", metric=metric).fit(small_space)
        exact = small_space.neighbors("w3", k=4, metric=metric)
        approx = ann_neighbors(small_space, index, "w3", k=4)
        assert [n.id for n in approx] == [n.id for n in exact]
        assert np.allclose([n.score for n in approx], [n.score for n in exact], atol=1e-4)


def test_cached_index_is_used_checked_and_refused_when_stale(glove_path, tmp_path):
    built = build_index(glove_path, "hnsw", sample=200)
    meta = index_info(glove_path)
    assert meta["kind"] == "hnsw" and meta["stats"]["recall@10"] == built.stats_["recall@10"] >= 0.95
    space = embspace.load(glove_path)
    assert open_index(space).index_.ntotal == space.n

    runner = CliRunner()
    result = runner.invoke(main, ["neighbors", str(glove_path), "king", "-k", "3"])
    assert result.exit_code == 0 and "hnsw index, recall@10" in result.output
    result = runner.invoke(main, ["neighbors", str(glove_path), "king", "-k", "3", "--exact"])
    assert "(cosine, exact," in result.output

    other = tmp_path / "other.space"
    embspace.save(space.head(19_000).normalize(), other)
    shutil.copytree(glove_path / "index", other / "index")  # an index made for other vectors
    with pytest.raises(StaleIndexError, match="built for other vectors"):
        open_index(other)
    result = runner.invoke(main, ["neighbors", str(other), "king"])
    assert result.exit_code == 1 and "built for other vectors; rebuild it with `embspace index" in result.output
    result = runner.invoke(main, ["-q", "index", str(other), "--kind", "flat", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["recall@10"] == 1.0
    assert open_index(other).kind == "flat"

    with open(other / "index" / "index.faiss", "r+b") as fh:  # damage the cached file
        fh.seek(200)
        fh.write(b"\xff\xff\xff\xff")
    with pytest.raises(StaleIndexError, match="checksum"):
        open_index(other)
    assert runner.invoke(main, ["index", str(other), "--remove"]).exit_code == 0
    assert open_index(other) is None


def test_index_bad_input(small_space, tmp_path):
    with pytest.raises(EmbspaceError, match="unknown index kind"):
        AnnIndex("annoy")
    with pytest.raises(EmbspaceError, match="not fitted yet"):
        AnnIndex("hnsw").search(np.zeros((1, 8), dtype=np.float32))
    with pytest.raises(EmbspaceError, match="at least 10,000 rows"):
        AnnIndex("ivfpq").fit(small_space)
    result = CliRunner().invoke(main, ["index", str(tmp_path / "missing.space")])
    assert result.exit_code == 1 and "no such space" in result.output


def test_ivfpq_refuses_small_spaces_in_one_line_and_keeps_faiss_quiet(glove_small, tmp_path, capfd):
    """Issue 11 #10: on 3,000 rows IVF-PQ printed FAISS's clustering warnings (one per quantiser, from
    C++ on fd 2, even with -q), took long to train and was slower than exact search."""
    small = glove_small.head(3000)
    with pytest.raises(EmbspaceError) as raised:
        AnnIndex("ivfpq").fit(small)
    message = str(raised.value)
    assert "\n" not in message and "at least 10,000 rows" in message and "--kind hnsw" in message
    assert "3,000 rows" in message
    path = tmp_path / "small.space"
    embspace.save(small, path)
    capfd.readouterr()
    result = CliRunner().invoke(main, ["-q", "index", str(path), "--kind", "ivfpq"])
    assert result.exit_code == 1 and result.output.count("\n") == 1 and "--kind hnsw" in result.output
    assert "WARNING" not in capfd.readouterr().err


def test_ivfpq_chooses_nlist_from_n_and_trains_without_faiss_warnings(glove_small, capfd):
    n = glove_small.n
    capfd.readouterr()
    index = AnnIndex("ivfpq").fit(glove_small)
    err = capfd.readouterr().err
    assert "WARNING" not in err and "clustering" not in err, err[:300]
    assert index.nlist * 39 <= n and index.nlist <= 16 * np.sqrt(n)  # FAISS's guidance
    assert glove_small.dim % index.pq_m == 0
    with pytest.raises(EmbspaceError, match=r"nlist=1000 needs at least 39,000 rows.*choose nlist <= 512"):
        AnnIndex("ivfpq", nlist=1000).fit(glove_small)


@pytest.mark.parametrize(
    "params", [dict(m=10**9), dict(ef_construction=10**12), dict(ef_search=10**30), dict(nlist=10**9), dict(m="32")]
)
def test_out_of_range_parameters_are_refused(params):
    from embspace.index import AnnIndex

    with pytest.raises(EmbspaceError, match="out of range"):
        AnnIndex.with_params("hnsw", **params)


def _edited(change, reseal=True):
    def edit(raw: bytes) -> bytes:
        meta = json.loads(raw)
        checksum = meta.pop("checksum")
        change(meta)
        return sealed_bytes(meta) if reseal else json.dumps(dict(meta, checksum=checksum)).encode()

    return edit


@pytest.mark.parametrize(
    "edit, message",
    [
        (_edited(lambda m: m["stats"].update(recall=0.123), reseal=False), "checksum does not match"),
        (_edited(lambda m: m.update(metric="cosinf"), reseal=False), "checksum does not match"),
        (_edited(lambda m: m.update(metric="cosinf")), "field 'metric' is 'cosinf'"),
        (_edited(lambda m: m["stats"].update(recall=7.0)), "field 'stats'"),
        (_edited(lambda m: m.__setitem__("knd", m.pop("kind"))), "lacks the 'kind' field"),
        (_edited(lambda m: m["params"].update(ef_search=1_000_000_000)), "ef_search=1000000000 is out of range"),
        (_edited(lambda m: m["params"].update(efsearch=5)), "unknown index parameters efsearch"),
        (_edited(lambda m: m.update(n="50")), "field 'n' is '50'"),
        (_edited(lambda m: m.update(version=99)), "format version 99; this embspace reads version 2"),
        (_edited(lambda m: m.update(params=[])), "field 'params'"),
        (lambda raw: b"{" * 50_000 + b"}" * 50_000, "not valid JSON"),
        (lambda raw: b'{"format": "embspace.index", "version": ' + b"7" * 5000 + b"}", "not valid JSON"),
        (lambda raw: b"", "not valid JSON"),
        (lambda raw: raw[:-40], "not valid JSON"),
    ],
)
def test_a_damaged_or_hand_edited_index_json_is_refused_with_the_rebuild_command(small_space, tmp_path, edit, message):
    path = embspace.save(small_space, tmp_path / "s.space")
    build_index(path, "hnsw", sample=20)
    meta = path / "index" / "index.json"
    meta.write_bytes(edit(meta.read_bytes()))
    with pytest.raises(StaleIndexError, match=re.escape(message)) as refused:
        open_index(path)
    assert f"rebuild it with `embspace index {path}" in str(refused.value)
    result = CliRunner().invoke(main, ["neighbors", str(path), "w3", "-k", "3"])
    assert result.exit_code == 1 and "Traceback" not in result.output and len(result.output.splitlines()) == 1
    assert CliRunner().invoke(main, ["-q", "index", str(path), "--kind", "flat"]).exit_code == 0  # the cure works
    assert open_index(path).kind == "flat"


@pytest.mark.parametrize("what", ["dev-zero", "fifo", "folder"])
def test_index_json_that_is_not_a_regular_file_is_refused(small_space, tmp_path, what):
    path = embspace.save(small_space, tmp_path / "s.space")
    build_index(path, "flat", sample=20)
    meta = path / "index" / "index.json"
    meta.unlink()
    {"dev-zero": lambda: meta.symlink_to("/dev/zero"), "fifo": lambda: os.mkfifo(meta), "folder": meta.mkdir}[what]()
    with pytest.raises(StaleIndexError, match="regular file"):
        open_index(path)


def test_index_file_of_another_size_is_refused_before_it_is_hashed(small_space, tmp_path):
    path = embspace.save(small_space, tmp_path / "s.space")
    build_index(path, "flat", sample=20)
    with open(path / "index" / "index.faiss", "ab") as fh:
        fh.write(b"\0" * 100)
    with pytest.raises(StaleIndexError, match="another size"):
        open_index(path)
