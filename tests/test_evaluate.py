"""Evaluation: word-pair similarity, analogies, the report card; agreement with gensim on GloVe."""

import json
import math

import numpy as np
import pytest
from scipy import stats

import embspace
from embspace import EmbspaceError, Space
from embspace.evaluate import Result, analogies, builtin_path, format_table, word_pairs
from embspace.evaluate import report_card as evaluate


def write(tmp_path, text, name="set.txt", newline="\n"):
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path


@pytest.fixture
def pair_space():
    # cosines with "a": a 1, b 0.8, c 0.6, d 0, e -0.6
    ids = ["a", "b", "c", "d", "e", "Big", "big"]
    vectors = [[1, 0], [0.8, 0.6], [0.6, 0.8], [0, 1], [-0.6, 0.8], [1, 1], [-1, 1]]
    return Space(ids, vectors)


# ---- word pairs: reading files ---------------------------------------------------------------------
def test_pairs_file_with_tabs_spaces_comments_crlf_and_bom(tmp_path, pair_space):
    text = "\ufeff# a comment\n\na\tb\t9\na  c   7.5\n  # indented comment\na\td\t2\r\na e -1e0\n"
    path = write(tmp_path, text, newline="\r\n")
    result = word_pairs(pair_space, path)
    assert (result.found, result.total, result.coverage) == (4, 4, 1.0)
    assert result.name == "set" and result.task == "word_pairs" and result.metric == "spearman"
    assert result.score == pytest.approx(1.0)  # gold order b > c > d > e matches cosine order


@pytest.mark.parametrize("line", ["a b", "a b c d", "a b high", "a b nan", "a\t\t3", "a b inf"])
def test_malformed_pair_line_names_file_and_line(tmp_path, pair_space, line):
    path = write(tmp_path, f"# header\na b 1\n{line}\n", name="bad.tsv")
    with pytest.raises(EmbspaceError) as err:
        word_pairs(pair_space, path)
    message = str(err.value)
    assert "bad.tsv:3:" in message and "\n" not in message


def test_empty_or_missing_file_and_unknown_name(tmp_path, pair_space):
    with pytest.raises(EmbspaceError, match="no word pairs"):
        word_pairs(pair_space, write(tmp_path, "# only a comment\n\n"))
    with pytest.raises(EmbspaceError, match="does not exist") as err:
        word_pairs(pair_space, tmp_path / "nope.txt")
    assert "ws353" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(EmbspaceError, match="folder"):
        word_pairs(pair_space, tmp_path)
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\xe9 a 1\n".encode("latin-1"))
    with pytest.raises(EmbspaceError, match="latin1.txt: not UTF-8"):
        word_pairs(pair_space, latin1)


def test_builtin_sets_ship_with_the_package(pair_space):
    sizes = {"ws353": 353, "simlex999": 999, "men": 3000}
    for name, size in sizes.items():
        result = word_pairs(pair_space, name)
        assert (result.name, result.total) == (name, size)
        assert builtin_path(name).is_file() and "embspace" in str(builtin_path(name))
    google = analogies(pair_space, "google")
    assert google.total == 19_544 and len(google.details["sections"]) == 14
    assert google.found == 0 and math.isnan(google.score)
    with pytest.raises(EmbspaceError, match="ws353"):
        builtin_path("wordsim")


# ---- word pairs: scores, coverage, policies ---------------------------------------------------------
def test_oov_drop_and_wrong(tmp_path, pair_space):
    path = write(tmp_path, "a b 9\na c 7\na zzz 5\na d 3\nyyy e 1\n")
    cos = np.array([0.8, 0.6, 0.0])
    gold = np.array([9.0, 7.0, 3.0])
    drop = word_pairs(pair_space, path, oov="drop")
    assert (drop.found, drop.total, drop.coverage, drop.oov) == (3, 5, 0.6, "drop")
    assert drop.score == pytest.approx(stats.spearmanr(gold, cos)[0])
    assert drop.details["pearson"] == pytest.approx(stats.pearsonr(gold, cos)[0])
    assert drop.details["missing"] == ["zzz", "yyy"]

    wrong = word_pairs(pair_space, path, oov="wrong")
    gold_all, cos_all = [9, 7, 5, 3, 1], [0.8, 0.6, 0.0, 0.0, 0.0]
    assert (wrong.found, wrong.total, wrong.coverage) == (3, 5, 0.6)
    assert wrong.score == pytest.approx(stats.spearmanr(gold_all, cos_all)[0])
    assert wrong.details["pearson"] == pytest.approx(stats.pearsonr(gold_all, cos_all)[0])
    with pytest.raises(EmbspaceError, match="drop"):
        word_pairs(pair_space, path, oov="skip")


def test_restrict_vocab_and_case_folding(tmp_path, pair_space):
    path = write(tmp_path, "A B 9\na C 7\na D 3\nBIG e 2\n")
    assert word_pairs(pair_space, path).found == 4
    assert word_pairs(pair_space, path, case_insensitive=False).found == 0
    assert word_pairs(pair_space, path, restrict_vocab=3).found == 2  # only a, b, c count
    # "BIG" folds to "Big" (row 5, the first casing) and not "big" (row 6): cos(Big, e) > 0
    folded = word_pairs(pair_space, write(tmp_path, "big e 1\nbig d 2\n", "big.txt"))
    assert folded.details["pearson"] == pytest.approx(1.0)
    exact = word_pairs(pair_space, write(tmp_path, "big e 1\nbig d 2\n", "big.txt"), case_insensitive=False)
    assert exact.details["pearson"] == pytest.approx(-1.0)  # the row "big" itself
    with pytest.raises(EmbspaceError, match="restrict_vocab"):
        word_pairs(pair_space, path, restrict_vocab=0)


def test_spearman_handles_ties_and_degenerate_input(tmp_path, pair_space):
    path = write(tmp_path, "a b 5\na c 5\na d 1\nb c 5\n")
    result = word_pairs(pair_space, path)
    cos = [0.8, 0.6, 0.0, float(np.dot([0.8, 0.6], [0.6, 0.8]))]
    assert result.score == pytest.approx(stats.spearmanr([5, 5, 1, 5], cos)[0])
    one = word_pairs(pair_space, write(tmp_path, "a b 5\n", "one.txt"))
    assert one.found == 1 and math.isnan(one.score)
    none = word_pairs(pair_space, write(tmp_path, "x y 5\nx z 3\n", "none.txt"))
    assert none.found == 0 and none.coverage == 0 and math.isnan(none.score)
    assert json.loads(json.dumps(none.to_dict()))["score"] is None


# ---- analogies ---------------------------------------------------------------------------------------
@pytest.fixture
def royal_space():
    # axes: royalty, gender, fruitiness, and a common part so that no two words are opposite
    ids = ["man", "woman", "king", "queen", "apple", "prince", "pear", "girl"]
    vectors = [
        [0.1, 1, 0, 1],
        [0.1, -1, 0, 1],
        [1, 1, 0, 1],
        [1, -1, 0.05, 1],
        [0, 0, 1, 1],
        [0.9, 0.8, 0.1, 1],
        [0.1, 0.1, 1, 1],
        [0, -1, 0.2, 1],
    ]
    return Space(ids, vectors)


GOOGLE_STYLE = """: royal
man king woman queen
king man queen woman
woman queen man king
: gram-fruit
apple pear apple pear
man king unknown queen
"""


def test_analogy_constructed_example(royal_space):
    # king:man :: queen:? is woman by 3CosAdd (0.976 vs 0.968) but girl by 3CosMul (0.904 vs 0.894)
    assert [n.id for n in royal_space.analogy("king", "man", "queen", k=1, method="3cosadd")] == ["woman"]
    assert [n.id for n in royal_space.analogy("king", "man", "queen", k=1, method="3cosmul")] == ["girl"]


@pytest.mark.parametrize("method, royal_correct", [("3cosadd", 3), ("3cosmul", 2)])
def test_analogy_accuracy_sections_and_coverage(tmp_path, royal_space, method, royal_correct):
    path = write(tmp_path, GOOGLE_STYLE, "royal.txt")
    result = analogies(royal_space, path, method=method, restrict_vocab=None)
    assert result.task == "analogies" and result.metric == "accuracy" and result.details["method"] == method
    assert (result.found, result.total) == (4, 5) and result.coverage == pytest.approx(0.8)
    assert result.details["missing"] == ["unknown"]
    royal, fruit = result.details["sections"]["royal"], result.details["sections"]["gram-fruit"]
    assert royal == {"accuracy": royal_correct / 3, "correct": royal_correct, "found": 3, "total": 3}
    # "apple pear apple ?": the question words are never the answer, so pear cannot be found
    assert fruit == {"accuracy": 0.0, "correct": 0, "found": 1, "total": 2}
    assert result.score == pytest.approx(royal_correct / 4)
    assert result.details["semantic"]["accuracy"] == royal_correct / 3
    assert result.details["syntactic"] == {"accuracy": 0.0, "correct": 0, "found": 1, "total": 2}

    wrong = analogies(royal_space, path, method=method, oov="wrong", restrict_vocab=None)
    assert wrong.score == pytest.approx(royal_correct / 5) and wrong.found == 4 and wrong.oov == "wrong"
    assert wrong.details["sections"]["gram-fruit"]["accuracy"] == 0.0


def _reference(vectors, a, b, c, method, eps=1e-3):
    """Plain per-question 3CosAdd / 3CosMul, as written in the papers."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    out = []
    for qa, qb, qc in zip(a, b, c):
        if method == "3cosadd":
            target = unit[qb] - unit[qa] + unit[qc]
            scores = unit @ (target / np.linalg.norm(target))
        else:
            cos = [(1 + unit @ unit[q]) / 2 for q in (qa, qb, qc)]
            scores = cos[1] * cos[2] / (cos[0] + eps)
        scores[[qa, qb, qc]] = -np.inf
        out.append(int(np.argmax(scores)))
    return np.array(out)


def test_analogies_match_a_plain_reference(tmp_path):
    rng = np.random.default_rng(3)
    n = 60
    vectors = rng.normal(size=(n, 6))
    ids = [f"w{i}" for i in range(n)]
    q = rng.integers(0, n, size=(300, 3))
    q = q[(q[:, 0] != q[:, 1]) & (q[:, 1] != q[:, 2]) & (q[:, 0] != q[:, 2])]
    space = Space(ids, vectors)
    predicted = {}
    for method in ("3cosadd", "3cosmul"):
        expected = _reference(space.vectors.astype(np.float64), q[:, 0], q[:, 1], q[:, 2], method)
        predicted[method] = expected
        lines = [": all"] + [f"w{x} w{y} w{z} w{e}" for (x, y, z), e in zip(q, expected)]
        path = write(tmp_path, "\n".join(lines) + "\n", f"{method}.txt")
        result = analogies(space, path, method=method)
        assert result.details["correct"] >= len(q) - 1  # float32 near-ties may flip one
    assert (predicted["3cosadd"] != predicted["3cosmul"]).sum() > 10  # the two methods do differ


def test_case_variants_of_question_words_are_skipped_like_gensim(tmp_path):
    # "King" is the nearest answer to man:king::woman:?, but it folds to the question word "king"
    ids = ["king", "man", "woman", "queen", "King", "x"]
    vectors = [[1, 1, 0], [0.1, 1, 0], [0.1, -1, 0], [1, -1, 0.3], [1, -0.9, 0], [0, 0, 1]]
    path = write(tmp_path, ": s\nMAN KING WOMAN QUEEN\n")
    space = Space(ids, vectors)
    assert space.analogy("man", "king", "woman", k=1)[0].id == "King"
    assert analogies(space, path).score == 1.0
    # without folding the question words are not found at all
    assert analogies(space, path, case_insensitive=False).found == 0
    assert (
        analogies(space, write(tmp_path, ": s\nman king woman queen\n", "low.txt"), case_insensitive=False).score == 0.0
    )  # "King" is a different word then


def test_analogy_file_errors(tmp_path, royal_space):
    with pytest.raises(EmbspaceError, match=r"bad\.txt:3:"):
        analogies(royal_space, write(tmp_path, ": s\nman king woman queen\nman king woman\n", "bad.txt"))
    with pytest.raises(EmbspaceError, match=r"bad2\.txt:1:"):
        analogies(royal_space, write(tmp_path, ":\nman king woman queen\n", "bad2.txt"))
    with pytest.raises(EmbspaceError, match="no analogy questions"):
        analogies(royal_space, write(tmp_path, ": empty\n", "empty.txt"))
    with pytest.raises(EmbspaceError, match="3cosadd"):
        analogies(royal_space, write(tmp_path, GOOGLE_STYLE), method="cosine")
    unsectioned = analogies(royal_space, write(tmp_path, "man king woman queen\n", "plain.txt"))
    assert list(unsectioned.details["sections"]) == ["plain"] and "semantic" not in unsectioned.details
    with pytest.raises(EmbspaceError, match="at least 4"):
        analogies(royal_space, write(tmp_path, GOOGLE_STYLE), restrict_vocab=3)


# ---- results, the table and the report card ------------------------------------------------------
def test_result_to_dict_is_json_safe(tmp_path, royal_space):
    result = analogies(royal_space, write(tmp_path, GOOGLE_STYLE, "royal.txt"), restrict_vocab=None)
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert {"name", "task", "metric", "score", "coverage", "found", "total", "oov", "details"} <= set(data)
    assert data["details"]["sections"]["royal"]["accuracy"] == 1.0
    assert isinstance(result, Result)


def test_format_table(tmp_path, royal_space):
    results = evaluate(
        royal_space,
        pairs=write(tmp_path, "man woman 3\nking queen 4\nman zzz 1\n", "p.txt"),
        analogies=write(tmp_path, GOOGLE_STYLE, "royal.txt"),
        restrict_vocab=None,
    )
    table = format_table(results)
    lines = table.splitlines()
    assert lines[0].split() == ["name", "task", "metric", "score", "coverage"]
    assert len(lines) == 2 + 3
    assert "p  " in lines[2] and "2/3 (66.7%)" in lines[2]
    assert "analogies/3cosadd" in table and "analogies/3cosmul" in table and "4/5 (80.0%)" in table
    assert "0.7500" in table and "0.5000" in table


def test_evaluate_runs_the_card_or_exactly_the_files_given(tmp_path, royal_space):
    card = evaluate(royal_space)
    assert [(r.name, r.task, r.details.get("method")) for r in card] == [
        ("ws353", "word_pairs", None),
        ("simlex999", "word_pairs", None),
        ("men", "word_pairs", None),
        ("google", "analogies", "3cosadd"),
        ("google", "analogies", "3cosmul"),
    ]
    assert all(r.details["restrict_vocab"] == 300_000 for r in card)
    pairs = write(tmp_path, "man woman 3\nking queen 4\n", "p.txt")
    only = evaluate(royal_space, pairs=[pairs, "ws353"], oov="wrong")
    assert [r.name for r in only] == ["p", "ws353"] and all(r.oov == "wrong" for r in only)
    one = evaluate(royal_space, analogies=write(tmp_path, GOOGLE_STYLE, "royal.txt"), methods="3cosmul")
    assert [(r.name, r.details["method"]) for r in one] == [("royal", "3cosmul")]
    with pytest.raises(EmbspaceError, match="3cosmul"):
        evaluate(royal_space, methods=("3cosadd", "vector"))
    with pytest.raises(EmbspaceError, match="oov"):
        evaluate(royal_space, oov="ignore")


def test_embspace_evaluate_is_the_subpackage_and_the_old_call_warns(tmp_path, royal_space):
    import embspace.evaluate as package

    pairs = write(tmp_path, "man woman 3\nking queen 4\nking man 1\n", "p.txt")
    assert embspace.evaluate is package and callable(package.format_table)
    card = package.report_card(royal_space, pairs=str(pairs))
    with pytest.warns(DeprecationWarning, match="report_card"):
        old = embspace.evaluate(royal_space, pairs=str(pairs))
    with pytest.warns(DeprecationWarning, match="report_card"):
        from embspace.evaluate import evaluate as old_function

        older = old_function(royal_space, pairs=str(pairs))
    assert card[0].to_dict() == old[0].to_dict() == older[0].to_dict()


# ---- agreement with gensim on the real GloVe 6B 50d space ----------------------------------------
GENSIM_R = 30_000  # gensim's evaluate_word_analogies takes ~12 s on 2 cores with this vocabulary


@pytest.fixture(scope="module")
def gensim_kv(glove):
    gensim = pytest.importorskip("gensim.models")
    kv = gensim.KeyedVectors(glove.dim)
    kv.add_vectors(glove.ids, np.asarray(glove.vectors))
    return kv


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ws353", "simlex999", "men"])
@pytest.mark.parametrize("restrict", [300_000, 20_000])
def test_word_pairs_agree_with_gensim(glove, gensim_kv, name, restrict):
    for oov, dummy in (("drop", False), ("wrong", True)):
        pearson, spearman, oov_ratio = gensim_kv.evaluate_word_pairs(
            str(builtin_path(name)), restrict_vocab=restrict, dummy4unknown=dummy
        )
        ours = word_pairs(glove, name, oov=oov, restrict_vocab=restrict)
        assert ours.score == pytest.approx(spearman[0], abs=0.005)
        assert ours.details["pearson"] == pytest.approx(pearson[0], abs=0.005)
        if not dummy:  # gensim divides by the pairs it scored, which with dummies is all of them
            assert 100 * (1 - ours.coverage) == pytest.approx(oov_ratio)


@pytest.mark.slow
def test_google_3cosadd_agrees_with_gensim(glove, gensim_kv):
    score, sections = gensim_kv.evaluate_word_analogies(str(builtin_path("google")), restrict_vocab=GENSIM_R)
    ours = analogies(glove, "google", method="3cosadd", restrict_vocab=GENSIM_R)
    total = sections[-1]
    assert ours.found == len(total["correct"]) + len(total["incorrect"])
    assert ours.score == pytest.approx(score, abs=0.005)
    for section in sections[:-1]:
        counted = len(section["correct"]) + len(section["incorrect"])
        if counted:
            mine = ours.details["sections"][section["section"]]
            assert mine["found"] == counted
            assert mine["accuracy"] == pytest.approx(len(section["correct"]) / counted, abs=0.02)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # gensim's own init_sims call
def test_google_3cosmul_agrees_with_gensim_most_similar_cosmul(glove, tmp_path):
    """Top-1 answers on 1,000 sampled questions, against gensim's most_similar_cosmul.

    gensim's most_similar_cosmul ignores restrict_vocab, so it gets a space of the first R words.
    Its epsilon is 1e-6 where ours (Levy & Goldberg's) is 1e-3, so a near-tie may go the other way
    (1 question in 1,000 here; none with our epsilon set to 1e-6).
    """
    from gensim.models import KeyedVectors

    from embspace.evaluate._analogies import read_analogies
    from embspace.search import analogy_topk

    kv = KeyedVectors(glove.dim)
    kv.add_vectors(glove.ids[:GENSIM_R], np.asarray(glove.vectors[:GENSIM_R]))
    words, _, _ = read_analogies(builtin_path("google"))
    found = [q for q in (list(map(str.lower, q)) for q in words) if all(w in kv.key_to_index for w in q)]
    sample = [found[i] for i in np.random.default_rng(0).choice(len(found), 1000, replace=False)]
    theirs = [kv.most_similar_cosmul(positive=[b, c], negative=[a], topn=1)[0][0] for a, b, c, _ in sample]

    rows = glove.indices([w for q in sample for w in q]).reshape(-1, 4)
    idx, _ = analogy_topk(glove.vectors, rows[:, 0], rows[:, 1], rows[:, 2], k=1, method="3cosmul", restrict=GENSIM_R)
    mine = [glove.ids[i] for i in idx[:, 0]]
    assert sum(m == t for m, t in zip(mine, theirs)) >= 995

    path = tmp_path / "sample.txt"
    path.write_text(": sample\n" + "".join(" ".join(q) + "\n" for q in sample))
    ours = analogies(glove, path, method="3cosmul", restrict_vocab=GENSIM_R)
    gensim_accuracy = np.mean([t == q[3] for t, q in zip(theirs, sample)])
    assert ours.found == 1000 and ours.score == pytest.approx(gensim_accuracy, abs=0.005)


# ---- labels: the probe, its baselines, many classes (issue 11 #11) --------------------------------
def _trec(n: int, fine: bool) -> tuple[list[str], list[str]]:
    from conftest import SHARED

    lines = (SHARED / "labelled" / "trec" / "train.txt").read_bytes().decode("utf-8", "replace").splitlines()[:n]
    pairs = [line.split(" ", 1) for line in lines]
    return [t for _, t in pairs], [lab if fine else lab.split(":")[0] for lab, _ in pairs]


def _review_sentences(reviews: int, per_review: int) -> tuple[list[str], list[str]]:
    """Movie-review sentences labelled by the review they come from: a real many-class label set."""
    import zipfile

    from conftest import SHARED

    texts, labels = [], []
    with zipfile.ZipFile(SHARED / "corpora" / "movie_reviews.zip") as z:
        for name in sorted(n for n in z.namelist() if n.endswith(".txt"))[:reviews]:
            lines = [s for s in z.read(name).decode("utf-8", "replace").splitlines() if len(s.split()) >= 5]
            texts += lines[:per_review]
            labels += [name.rsplit("/", 1)[-1]] * len(lines[:per_review])
    return texts, labels


def _labelled_space(texts, labels, dim=64) -> Space:
    pytest.importorskip("sklearn")
    from embspace.texts import build as build_texts

    built = build_texts(texts, model="tfidf-svd", dim=dim)
    return Space(built.ids, built.vectors, meta={"text": texts, "label": labels}, info=dict(built.info))


def test_probe_table_shows_the_bag_of_words_and_majority_baselines(tmp_path):
    from click.testing import CliRunner

    from embspace.cli import main
    from embspace.evaluate import knn_labels, probe

    space = _labelled_space(*_trec(600, fine=False))
    result = probe(space)
    assert result.details["method"] == "logistic" and result.label == "probe/logistic"
    assert result.baselines == {
        "bag of words": result.details["bow_accuracy"],
        "majority class": result.details["majority"],
    }
    assert result.score > result.details["majority"] + 0.1
    table = format_table([knn_labels(space), result])
    header, _, knn_row, probe_row = table.splitlines()
    assert header.split()[-1] == "baselines"
    assert f"bag of words {result.details['bow_accuracy']:.4f}, majority class {result.details['majority']:.4f}" in (
        probe_row
    )
    assert "chance 0." in knn_row
    assert "baselines" not in format_table([Result("ws353", "word_pairs", "spearman", 0.5, 1.0, 1, 1, "drop")])

    path = tmp_path / "questions.space"
    embspace.save(space, path)
    out = CliRunner().invoke(main, ["-q", "evaluate", str(path), "--label", "label"])
    assert out.exit_code == 0, out.output
    assert "bag of words 0." in out.output and "majority class 0." in out.output and "chance 0." in out.output


def test_probe_on_many_classes_is_fast_quiet_honest_and_shows_progress(monkeypatch, capsys):
    """804 classes took 197 s with logistic regression, leaked scikit-learn's warnings and showed nothing."""
    import warnings

    from embspace import _progress
    from embspace.evaluate import probe

    texts, labels = _review_sentences(260, 4)
    texts.append("a review of one sentence only , and a class of one item")
    labels.append("single")  # fewer items than folds: scikit-learn warns about the least populated class
    space = _labelled_space(texts, labels)
    monkeypatch.setattr(_progress, "_ENABLED", True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = probe(space)
    assert [str(w.message)[:60] for w in caught] == []
    assert "probe label (261 classes)" in capsys.readouterr().err
    d = result.details
    assert d["method"] == "centroid" and result.label == "probe/centroid" and d["classes"] == 261
    assert d["folds"] == 4 and d["rare_classes"] == 1 and result.found == len(texts)
    assert result.score > 5 * d["majority"] and d["bow_accuracy"] > 5 * d["majority"]


def test_probe_method_by_number_of_classes_and_refusals():
    from embspace.evaluate import probe

    space = _labelled_space(*_trec(800, fine=True))
    ridge = probe(space, baseline=False)
    assert ridge.details["method"] == "ridge" and 20 < ridge.details["classes"] <= 200
    assert ridge.score > 2 * ridge.details["majority"] and "bow_accuracy" not in ridge.details
    centroid = probe(space, baseline=False, method="centroid")
    assert centroid.details["method"] == "centroid" and centroid.score > ridge.details["majority"]
    with pytest.raises(EmbspaceError, match="unknown probe method 'svm'; choose one of logistic, ridge, centroid"):
        probe(space, method="svm")
    lonely = Space(["a", "b", "c"], np.eye(3), meta={"label": ["x", "y", "z"]})
    with pytest.raises(EmbspaceError, match="single item"):
        probe(lonely)


# ---- kNN accuracy and same-label recall (image spaces first) -----------------------------------------------------
def _digits_space():
    from sklearn.datasets import load_digits

    digits = load_digits()
    split = ["test" if i % 5 == 0 else "train" for i in range(len(digits.target))]
    ids = [f"digit-{i}" for i in range(len(digits.target))]
    meta = {"label": [str(t) for t in digits.target], "split": split}
    return embspace.Space(ids, digits.data.astype(np.float32) + 1e-3, meta), digits


def test_knn_accuracy_matches_scikit_learn_on_a_split_and_leave_one_out():
    from sklearn.neighbors import KNeighborsClassifier

    from embspace.evaluate import knn_accuracy

    space, digits = _digits_space()
    results = knn_accuracy(space, "label", k=10, queries="split=test", recall_ks=(1, 5))
    knn, r1, r5, r10 = results
    test = np.array(space.meta["split"]) == "test"
    x = space.vectors
    clf = KNeighborsClassifier(10, metric="cosine", algorithm="brute").fit(x[~test], digits.target[~test])
    expected = float((clf.predict(x[test]) == digits.target[test]).mean())
    assert (
        knn.task == "knn_accuracy" and knn.details["queries"] == test.sum() and knn.details["database"] == (~test).sum()
    )
    assert abs(knn.score - expected) <= 2 / test.sum()  # ties may be broken differently (nearest class first here)
    assert knn.score > 0.9 and knn.details["majority"] < 0.2
    assert 0.9 < r1.score <= r5.score <= r10.score <= 1.0 and r1.name == "recall@1/label"
    loo = knn_accuracy(space, "label", k=10, sample=None)[0]
    assert loo.details["split"] == "leave-one-out" and loo.details["queries"] == space.n and loo.score > 0.9
    shuffled = embspace.Space(space.ids, x, {"label": list(np.random.default_rng(0).permutation(space.meta["label"]))})
    assert knn_accuracy(shuffled, "label", sample=None)[0].score < 0.2  # no structure: chance level
    base = knn_accuracy(space, "label", queries=("split", "test"), baseline=np.asarray(x) ** 2)[0]
    assert "pixels" in base.baselines


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"queries": "split"}, "is not COLUMN=VALUE"),
        ({"queries": "fold=test"}, "no 'fold' column for the query split"),
        ({"queries": "split=dev"}, "split=dev leaves 0 labelled queries"),
        ({"label": "colour"}, "no 'colour' column"),
    ],
)
def test_knn_accuracy_bad_input(kwargs, message):
    from embspace.evaluate import knn_accuracy

    space, _ = _digits_space()
    with pytest.raises(EmbspaceError, match=message):
        knn_accuracy(space, **{"label": "label", **kwargs})
