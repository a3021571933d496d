import numpy as np
import pytest

from embspace import EmbspaceError, Space, SpaceError, UnknownIdError, search


def brute_force(space, queries, k, metric, exclude=None):
    v = space.vectors.astype(np.float64)
    q = np.asarray(queries, dtype=np.float64)
    if metric == "cosine":
        s = (q / np.linalg.norm(q, axis=1, keepdims=True)) @ (v / np.linalg.norm(v, axis=1, keepdims=True)).T
    elif metric == "dot":
        s = q @ v.T
    else:
        s = -np.linalg.norm(q[:, None, :] - v[None, :, :], axis=2)
    if exclude is not None:
        s[np.arange(len(q)), exclude] = -np.inf
    return np.argsort(-s, axis=1, kind="stable")[:, :k]


@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
def test_exact_topk_matches_brute_force(small_space, metric):
    rows = np.arange(50)
    got = small_space.neighbors(small_space.ids, k=5, metric=metric)
    want = brute_force(small_space, small_space.vectors, 5, metric, exclude=rows)
    assert [[small_space.index(n.id) for n in r] for r in got] == want.tolist()
    scores = [n.score for n in got[0]]
    assert scores == sorted(scores, reverse=metric != "euclidean")


@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
def test_search_kernels_take_plain_arrays(small_space, metric):
    """embspace.search works on arrays alone: no Space, rows in and rows out."""
    vectors = np.ascontiguousarray(small_space.vectors)
    rows, scores = search.topk(vectors, vectors[:10], k=4, metric=metric, exclude=np.arange(10)[:, None])
    assert rows.shape == scores.shape == (10, 4) and rows.dtype == np.int64 and scores.dtype == np.float32
    assert rows.tolist() == brute_force(small_space, vectors[:10], 4, metric, exclude=np.arange(10)).tolist()
    named = search.neighbors(vectors, small_space.ids, vectors[:2], k=3, metric=metric)
    assert [[n.id for n in r] for r in named] == [
        [small_space.ids[i] for i in r] for r in search.topk(vectors, vectors[:2], k=3, metric=metric)[0]
    ]
    with pytest.raises(EmbspaceError, match="unknown metric"):
        search.topk(vectors, vectors[:1], k=1, metric="manhattan")
    assert search.similarity(vectors[0], vectors[0], "cosine") == pytest.approx(1.0, abs=1e-6)


def test_blocks_and_merging_give_same_answer(small_space, monkeypatch):
    full = small_space.neighbors(small_space.ids, k=7)
    monkeypatch.setattr(search, "SCORE_BUDGET", 64)  # forces many query and row tiles + merges
    monkeypatch.setattr(search, "TILE_ROWS", 6)
    blocked = small_space.neighbors(small_space.ids, k=7)
    assert [[n.id for n in r] for r in blocked] == [[n.id for n in r] for r in full]
    np.testing.assert_allclose([[n.score for n in r] for r in blocked], [[n.score for n in r] for r in full], atol=1e-6)


def test_query_by_vector_one_and_many(small_space):
    vec = small_space.vectors[3]
    one = small_space.neighbors(vec, k=1)
    assert one[0].id == "w3" and one[0].score == pytest.approx(1.0, abs=1e-6)
    many = small_space.neighbors(small_space.vectors[:4], k=2)
    assert [r[0].id for r in many] == ["w0", "w1", "w2", "w3"]
    by_id = small_space.neighbors("w3", k=3)
    assert all(n.id != "w3" for n in by_id)


def test_k_too_large_and_bad_queries(small_space):
    with pytest.raises(EmbspaceError, match="k=50 is larger than the 49 items"):
        small_space.neighbors("w1", k=50)
    assert len(small_space.neighbors(small_space.vectors[0], k=50)) == 50
    with pytest.raises(EmbspaceError, match="positive integer"):
        small_space.neighbors("w1", k=0)
    with pytest.raises(UnknownIdError):
        small_space.neighbors("nope")
    with pytest.raises(SpaceError, match="expected"):
        small_space.neighbors(np.ones(3, dtype=np.float32))
    with pytest.raises(SpaceError, match="the query vector is all zeros; its cosine similarity"):
        small_space.neighbors(np.zeros(small_space.dim, dtype=np.float32))
    with pytest.raises(SpaceError, match="query vector 1 is all zeros"):
        small_space.neighbors(np.stack([small_space.vectors[0], np.zeros(small_space.dim, np.float32)]))
    assert len(small_space.neighbors(np.zeros(small_space.dim, dtype=np.float32), k=3, metric="euclidean")) == 3
    with pytest.raises(SpaceError, match="NaN"):
        small_space.neighbors(np.full(8, np.nan, dtype=np.float32))
    with pytest.raises(EmbspaceError, match="unknown metric"):
        small_space.neighbors("w1", metric="hamming")


def test_similarity(small_space):
    a, b = small_space.vectors[1].astype(float), small_space.vectors[2].astype(float)
    assert small_space.similarity("w1", "w2") == pytest.approx(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    assert small_space.similarity("w1", "w2", metric="dot") == pytest.approx(a @ b, rel=1e-6)
    assert small_space.similarity("w1", "w2", metric="euclidean") == pytest.approx(np.linalg.norm(a - b))


def test_analogy_constructed():
    # b - a + c lands exactly on d; the three query words are excluded even if closer
    vecs = {
        "man": [1, 0, 0, 0],
        "king": [1, 1, 0, 0],
        "woman": [0, 0, 1, 0],
        "queen": [0, 1, 1, 0],
        "apple": [0, 0, 0, 1],
        "pear": [0.1, 0, 0, 1],
    }
    space = Space(list(vecs), np.array(list(vecs.values()), dtype=np.float32))
    for method in ("3cosadd", "3cosmul"):
        answers = space.analogy("man", "king", "woman", k=3, method=method)
        assert answers[0].id == "queen"
        assert {"man", "king", "woman"}.isdisjoint(n.id for n in answers)
    with pytest.raises(EmbspaceError, match="unknown analogy method"):
        space.analogy("man", "king", "woman", method="3cosfoo")


def test_doesnt_match():
    space = Space(["a", "b", "c", "z"], [[1, 0.1], [1, 0.2], [1, 0.0], [0, 1]])
    assert space.doesnt_match(["a", "b", "c", "z"]) == "z"
    with pytest.raises(EmbspaceError, match="at least 3"):
        space.doesnt_match(["a", "b"])


def test_glove_neighbours_and_analogy(glove):
    assert [n.id for n in glove.neighbors("king", k=3)] == ["prince", "queen", "ii"]
    assert glove.analogy("man", "king", "woman", k=1)[0].id == "queen"
    assert glove.doesnt_match(["breakfast", "cereal", "dinner", "lunch"]) == "cereal"
    assert glove.similarity("king", "queen") == pytest.approx(0.7839, abs=1e-4)


def test_glove_matches_gensim(glove):
    gensim = pytest.importorskip("gensim")
    kv = gensim.models.KeyedVectors(50)
    head = glove.head(50_000)
    kv.add_vectors(head.ids, np.asarray(head.vectors))
    for word in ["king", "frog", "computer", "2008"]:
        ours = head.neighbors(word, k=10)
        theirs = kv.most_similar(word, topn=10)
        assert [n.id for n in ours] == [w for w, _ in theirs]
        np.testing.assert_allclose([n.score for n in ours], [s for _, s in theirs], atol=1e-5)
    ours = head.analogy("man", "king", "woman", k=5, method="3cosmul")
    theirs = kv.most_similar_cosmul(positive=["king", "woman"], negative=["man"], topn=5)
    assert ours[0].id == theirs[0][0]


# ---- fastText: words outside the vocabulary answer through their sub-word buckets ----------------------
@pytest.fixture
def subword_space():
    """A fastText-like space: 40 words and 500 random sub-word buckets (gensim's n-gram hashing)."""
    pytest.importorskip("gensim")
    rng = np.random.default_rng(3)
    ids = ["government", "king", "queen", "man", "woman"] + [f"w{i}" for i in range(35)]
    space = Space(ids, rng.normal(size=(40, 16)), info={"subwords": {"min_n": 3, "max_n": 6, "buckets": 500}})
    space.extras["subwords"] = rng.normal(size=(500, 16)).astype(np.float32)
    return space


def _brute_analogy(space, a, b, c, k, method):
    unit = space.normalized().astype(np.float64)
    va, vb, vc = (v / np.linalg.norm(v) for v in (space.vector(w).astype(np.float64) for w in (a, b, c)))
    if method == "3cosadd":
        target = vb - va + vc
        scores = unit @ (target / np.linalg.norm(target))
    else:
        ca, cb, cc = ((1 + unit @ v) / 2 for v in (va, vb, vc))
        scores = cb * cc / (ca + 1e-3)
    for w in (a, b, c):
        if w in space:
            scores[space.index(w)] = -np.inf
    order = np.argsort(-scores, kind="stable")[:k]
    return [space.ids[i] for i in order], scores[order]


def test_unseen_words_answer_from_subwords_in_lists_and_analogies(subword_space):
    space = subword_space
    assert "goverment" not in space
    alone = space.neighbors("goverment", k=5)
    together = space.neighbors(["goverment", "king"], k=5)  # the many-queries path falls back too
    assert [n.id for n in together[0]] == [n.id for n in alone]
    np.testing.assert_allclose([n.score for n in together[0]], [n.score for n in alone], rtol=1e-5)
    assert [n.id for n in together[1]] == [n.id for n in space.neighbors("king", k=5)]
    assert "king" not in {n.id for n in together[1]}  # a held word still leaves itself out
    np.testing.assert_allclose(space.query_vectors(["goverment"])[1][0], space.vector("goverment"), rtol=1e-6)
    for method in ("3cosadd", "3cosmul"):
        got = space.analogy("man", "king", "goverment", k=4, method=method)
        ids, scores = _brute_analogy(space, "man", "king", "goverment", 4, method)
        assert [n.id for n in got] == ids and {"man", "king"}.isdisjoint(ids)
        np.testing.assert_allclose([n.score for n in got], scores, rtol=1e-4)
        # with every word held, the sub-word path and the batched kernel agree
        held = space.analogy("man", "king", "woman", k=4, method=method)
        assert [n.id for n in held] == _brute_analogy(space, "man", "king", "woman", 4, method)[0]
    assert space.doesnt_match(["goverment", "king", "queen"]) in {"goverment", "king", "queen"}


def test_unseen_words_without_subwords_still_fail(small_space):
    with pytest.raises(UnknownIdError, match="'w999' is not in the space"):
        small_space.neighbors(["w1", "w999"])
    with pytest.raises(UnknownIdError):
        small_space.analogy("w1", "w2", "w999")


def test_cli_neighbors_and_analogy_answer_for_unseen_words(subword_space, tmp_path):
    import json

    from click.testing import CliRunner

    import embspace
    from embspace.cli import main

    path = str(embspace.save(subword_space, tmp_path / "ft.space"))
    runner = CliRunner()
    result = runner.invoke(main, ["-q", "neighbors", path, "goverment", "king", "-k", "3", "--json"])
    assert result.exit_code == 0, result.output
    got = json.loads(result.output)
    assert [n["id"] for n in got["goverment"]] == [n.id for n in subword_space.neighbors("goverment", k=3)]
    result = runner.invoke(main, ["-q", "analogy", path, "man", "king", "goverment", "-k", "2", "--json"])
    assert result.exit_code == 0, result.output
    assert [n["id"] for n in json.loads(result.output)] == _brute_analogy(
        subword_space, "man", "king", "goverment", 2, "3cosadd"
    )[0]
    result = runner.invoke(main, ["-q", "odd-one-out", path, "goverment", "king", "queen"])
    assert result.exit_code == 0, result.output
