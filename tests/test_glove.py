"""GloVe: co-occurrence counting against a brute-force reference, the trainer, real-data sanity."""

from __future__ import annotations

import collections
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from embspace.errors import EmbspaceError
from embspace.words._cooccur import cooccurrence
from embspace.words._glove import glove_vectors, train_glove

CORPORA = Path("/work/shared/data/corpora")


def brute_force(sentences, vocab_size, window, weighting, symmetric):
    counts = np.zeros((vocab_size, vocab_size))
    for ids in sentences:
        for p in range(len(ids)):
            for d in range(1, window + 1):
                if p - d < 0:
                    break
                w = 1.0 / d if weighting == "harmonic" else 1.0
                counts[ids[p - d], ids[p]] += w
                if symmetric:
                    counts[ids[p], ids[p - d]] += w
    return counts


def random_sentences(vocab_size, n, seed=0, longest=30):
    rng = np.random.default_rng(seed)
    # Zipf-like ids, so that the dense table of frequent pairs and the rare-pair buffer both fill
    return [np.minimum(rng.zipf(1.3, rng.integers(0, longest)) - 1, vocab_size - 1).astype(np.int32) for _ in range(n)]


# ---- co-occurrence -------------------------------------------------------------------------------
@pytest.mark.parametrize("weighting", ["harmonic", "uniform"])
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("max_pairs", [1024, 1 << 20])  # 1024: mostly rare pairs, many flushes
@pytest.mark.parametrize("window", [1, 3, 10])
def test_counts_match_brute_force(weighting, symmetric, max_pairs, window):
    sentences = random_sentences(60, 300)
    X = cooccurrence(
        lambda: iter(sentences),
        60,
        window=window,
        weighting=weighting,
        symmetric=symmetric,
        max_pairs_in_memory=max_pairs,
    )
    expected = brute_force(sentences, 60, window, weighting, symmetric)
    np.testing.assert_allclose(X.toarray(), expected, rtol=1e-6)
    assert X.shape == (60, 60) and X.data.dtype == np.float32
    assert X.row.dtype == np.int32 and X.col.dtype == np.int32
    keys = X.row.astype(np.int64) * 60 + X.col
    assert (np.diff(keys) > 0).all() and (X.data > 0).all() and X.has_canonical_format


def test_long_sentence_larger_than_the_buffer_and_large_vocabulary():
    rng = np.random.default_rng(1)
    sentences = [rng.integers(0, 3000, 5000).astype(np.int32), rng.integers(0, 3000, 7).astype(np.int64)]
    X = cooccurrence(sentences, 3000, window=5, max_pairs_in_memory=1024)  # a plain iterable works too
    expected = brute_force(sentences, 3000, 5, "harmonic", True)
    np.testing.assert_allclose(X.toarray(), expected, rtol=1e-6)


@pytest.mark.parametrize("seed", range(5))
def test_in_place_merge_sums_shared_keys_and_keeps_order(seed):
    from embspace.words._cooccur import _merge_into

    rng = np.random.default_rng(seed)
    a = np.unique(rng.integers(0, 200, rng.integers(0, 120)))
    b = np.unique(rng.integers(0, 200, rng.integers(1, 120)))
    va, vb = rng.random(a.size), rng.random(b.size)
    keys = np.zeros(a.size + b.size + 3, dtype=np.int64)  # spare room past what is needed
    values = np.zeros(keys.size)
    keys[: a.size], values[: a.size] = a, va
    n = _merge_into(keys, values, a.size, b, vb)
    expected = dict(zip(a.tolist(), va.tolist()))
    for k, v in zip(b.tolist(), vb.tolist()):
        expected[k] = expected.get(k, 0.0) + v
    assert keys[:n].tolist() == sorted(expected)
    np.testing.assert_allclose(values[:n], [expected[k] for k in sorted(expected)])


def test_small_example_and_uniform_counts():
    X = cooccurrence(lambda: [np.array([0, 1, 2], dtype=np.int32)], 3, window=2)
    assert X.toarray().tolist() == [[0.0, 1.0, 0.5], [1.0, 0.0, 1.0], [0.5, 1.0, 0.0]]
    U = cooccurrence(
        lambda: [np.array([0, 1, 2, 0], dtype=np.int32)], 3, window=2, weighting="uniform", symmetric=False
    )
    # right-context counts: row = earlier word, column = later word
    assert U.toarray().tolist() == [[0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 0.0, 0.0]]


def test_no_pairs_gives_an_empty_matrix():
    X = cooccurrence(lambda: iter([np.array([3], dtype=np.int32), np.array([], dtype=np.int32)]), 5)
    assert X.shape == (5, 5) and X.nnz == 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"weighting": "log"}, "weighting must be one of"),
        ({"window": 0}, "window must be"),
        ({"vocab_size": 0}, "vocab_size must be"),
        ({"max_pairs_in_memory": 10}, "max_pairs_in_memory must be"),
    ],
)
def test_cooccurrence_rejects_bad_knobs(kwargs, message):
    args = {"vocab_size": 5, **kwargs}
    with pytest.raises(EmbspaceError, match=message):
        cooccurrence(lambda: iter([np.array([0, 1], dtype=np.int32)]), **args)


@pytest.mark.parametrize(
    "ids, message",
    [
        (np.array([0, 5]), "word id 5 is outside the vocabulary 0..4"),
        (np.array([-1, 2]), "word id -1 is outside"),
        (np.array([0.0, 1.0]), "integer word ids"),
    ],
)
def test_cooccurrence_rejects_bad_ids(ids, message):
    with pytest.raises(EmbspaceError, match=message):
        cooccurrence(lambda: iter([ids]), 5)


# ---- training ------------------------------------------------------------------------------------
def topic_corpus(seed=0):
    """Words 0-9 only ever meet each other, as do words 10-19."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 10, 12).astype(np.int32) + 10 * (k % 2) for k in range(400)]


@pytest.fixture(scope="module")
def topic_counts():
    sentences = topic_corpus()
    return cooccurrence(lambda: iter(sentences), 20, window=5)


def test_training_is_deterministic_with_one_worker(topic_counts):
    before = (topic_counts.row.copy(), topic_counts.col.copy(), topic_counts.data.copy())
    W1, C1, l1 = train_glove(topic_counts, dim=8, epochs=5, seed=3)
    W2, C2, l2 = train_glove(topic_counts, dim=8, epochs=5, seed=3)
    W3, _, _ = train_glove(topic_counts, dim=8, epochs=5, seed=4)
    assert np.array_equal(W1, W2) and np.array_equal(C1, C2) and np.array_equal(l1, l2)
    assert not np.array_equal(W1, W3)
    for old, new in zip(before, (topic_counts.row, topic_counts.col, topic_counts.data)):
        assert np.array_equal(old, new)  # training shuffles its own copy


def test_training_shapes_loss_and_progress(topic_counts):
    seen = []
    W, C, losses = train_glove(
        topic_counts, dim=8, epochs=20, x_max=10, seed=0, progress=lambda epoch, loss: seen.append((epoch, loss))
    )
    assert W.shape == C.shape == (20, 8) and W.dtype == C.dtype == np.float32
    assert losses.shape == (20,) and np.isfinite(losses).all()
    assert [e for e, _ in seen] == list(range(1, 21)) and [loss for _, loss in seen] == losses.tolist()
    # measured: 4.74, 0.68, 0.10, 0.017, 0.0049, ... 0.0027 (a plateau where SGD noise shows)
    assert (np.diff(losses[:5]) < 0).all() and losses[-1] < 0.01 * losses[0]
    v = glove_vectors(W, C)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    sims = v @ v.T
    same = np.kron(np.eye(2), np.ones((10, 10))).astype(bool) & ~np.eye(20, dtype=bool)
    assert sims[same].mean() > sims[~np.kron(np.eye(2), np.ones((10, 10))).astype(bool)].mean() + 0.5


def test_hogwild_workers_train_too(topic_counts):
    W, C, losses = train_glove(topic_counts, dim=8, epochs=10, seed=0, workers=2)
    assert np.isfinite(W).all() and np.isfinite(C).all() and losses[-1] < losses[0]


def test_duplicate_entries_are_summed(topic_counts):
    m = topic_counts
    half = (m.data / 2).astype(np.float32)
    doubled = sp.coo_matrix(
        (np.concatenate([half, m.data - half]), (np.concatenate([m.row, m.row]), np.concatenate([m.col, m.col]))),
        shape=m.shape,
    )
    W1, _, l1 = train_glove(m, dim=4, epochs=2)
    W2, _, l2 = train_glove(doubled, dim=4, epochs=2)
    np.testing.assert_allclose(W1, W2, atol=1e-6)


def test_rectangular_counts_give_word_and_context_shapes():
    X = sp.random(30, 12, density=0.3, random_state=0, format="csr") * 10
    W, C, _ = train_glove(X, dim=5, epochs=2)
    assert W.shape == (30, 5) and C.shape == (12, 5)
    assert np.array_equal(glove_vectors(W, C, combine="word"), W)
    with pytest.raises(EmbspaceError, match="combine='word'"):
        glove_vectors(W, C)


def test_glove_vectors_sum_is_the_default():
    W = np.ones((3, 2), dtype=np.float32)
    C = np.full((3, 2), 2.0, dtype=np.float32)
    out = glove_vectors(W, C)
    assert out.dtype == np.float32 and out.flags.c_contiguous and (out == 3).all()
    with pytest.raises(EmbspaceError, match="combine must be one of sum, word"):
        glove_vectors(W, C, combine="mean")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"dim": 0}, "dim must be a whole number >= 1"),
        ({"epochs": 0}, "epochs must be"),
        ({"workers": 0}, "workers must be"),
        ({"learning_rate": 0.0}, "learning_rate must be a positive number"),
        ({"x_max": -1.0}, "x_max must be"),
        ({"alpha": -0.5}, "alpha must be"),
    ],
)
def test_training_rejects_bad_knobs(topic_counts, kwargs, message):
    with pytest.raises(EmbspaceError, match=message):
        train_glove(topic_counts, **kwargs)


@pytest.mark.parametrize(
    "matrix, message",
    [
        (sp.coo_matrix((4, 4), dtype=np.float32), "no positive entries"),
        (np.eye(3), "must be a scipy sparse matrix"),
        (sp.coo_matrix(np.array([[0.0, -1.0], [2.0, 0.0]])), "negative, NaN or infinite"),
        (sp.coo_matrix(np.array([[0.0, np.nan], [2.0, 0.0]])), "negative, NaN or infinite"),
    ],
)
def test_training_rejects_bad_counts(matrix, message):
    with pytest.raises(EmbspaceError, match=message) as info:
        train_glove(matrix)
    assert "\n" not in str(info.value)


# ---- real text -----------------------------------------------------------------------------------
def read_zip_sentences(*names):
    sentences = []
    for name in names:
        with zipfile.ZipFile(CORPORA / f"{name}.zip") as archive:
            for member in sorted(archive.namelist()):
                if member.endswith(".txt"):
                    for line in archive.read(member).decode("latin-1").splitlines():
                        if tokens := re.findall(r"\w+", line.lower()):
                            sentences.append(tokens)
    return sentences


@pytest.mark.skipif(not (CORPORA / "inaugural.zip").exists(), reason="needs the NLTK corpora")
def test_real_speeches_put_related_words_together():
    # ~476k tokens of US inaugural and State of the Union speeches, 5,915 words with count >= 5.
    # Measured over seeds 0-2 (dim 50, 10 epochs, x_max 10): related pairs 0.46-0.73,
    # unrelated pairs -0.16-0.07; the floors leave room for other seeds and CPUs.
    sentences = read_zip_sentences("inaugural", "state_union")
    counts = collections.Counter(w for s in sentences for w in s)
    words = [w for w, c in sorted(counts.items(), key=lambda wc: (-wc[1], wc[0])) if c >= 5]
    index = {w: i for i, w in enumerate(words)}
    encoded = [np.array([index[w] for w in s if w in index], dtype=np.int32) for s in sentences]
    X = cooccurrence(lambda: iter(encoded), len(words), window=10)
    W, C, losses = train_glove(X, dim=50, epochs=10, x_max=10, seed=0)
    v = glove_vectors(W, C)
    v /= np.linalg.norm(v, axis=1, keepdims=True)

    def sim(a, b):
        return float(v[index[a]] @ v[index[b]])

    related = [("soviet", "union"), ("tax", "taxes"), ("economy", "economic"), ("war", "peace")]
    unrelated = [("tax", "freedom"), ("soviet", "children"), ("economy", "god"), ("war", "taxes")]
    assert min(sim(a, b) for a, b in related) > 0.3
    assert max(sim(a, b) for a, b in unrelated) < 0.25
    assert losses[-1] < losses[0]
