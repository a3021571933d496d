"""Items and users: reading interactions, every method, recommend with reasons, splits and evaluate --holdout.

MovieLens-100k comes from `make datasets` (the recbole wheel; never committed); without it those tests skip.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import embspace
from embspace.cli import main
from embspace.errors import EmbspaceError, UnknownIdError
from embspace.evaluate import recommendation
from embspace.items import METHODS, UnknownUserError, build, read_interactions, recommend, split

ML = Path(__file__).resolve().parents[1] / ".venv" / "data" / "ml-100k"
needs_ml = pytest.mark.skipif(
    not (ML / "ml-100k.inter").exists(), reason="MovieLens-100k not installed: run `make datasets`"
)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def ml_split(tmp_path_factory):
    if not (ML / "ml-100k.inter").exists():
        pytest.skip("MovieLens-100k not installed: run `make datasets`")
    tmp = tmp_path_factory.mktemp("ml")
    counts = split(ML / "ml-100k.inter", tmp / "train.parquet", tmp / "test.parquet", by="time", fraction=0.2)
    return tmp / "train.parquet", tmp / "test.parquet", counts


@pytest.fixture(scope="module")
def ml_space(ml_split):
    return build(ml_split[0], items_meta=ML / "ml-100k.item")


@pytest.fixture(scope="module")
def ml_slice(tmp_path_factory):
    """The interactions of MovieLens' first 120 users, as a small CSV (every method fits it in seconds)."""
    if not (ML / "ml-100k.inter").exists():
        pytest.skip("MovieLens-100k not installed: run `make datasets`")
    lines = (ML / "ml-100k.inter").read_text().splitlines()
    keep = [line for line in lines[1:] if int(line.split("\t")[0]) <= 120]
    path = tmp_path_factory.mktemp("slice") / "slice.csv"
    path.write_text("user,item,rating,time\n" + "\n".join(",".join(line.split("\t")) for line in keep) + "\n")
    return path


# ---- MovieLens-100k: quality and the Star Wars test --------------------------------------------------------


@needs_ml
def test_star_wars_brings_its_sequels(ml_space):
    found = ml_space.recommend(similar="50", k=10)
    ids = [r.id for r in found]
    assert "181" in ids and "172" in ids  # Return of the Jedi, The Empire Strikes Back
    assert ml_space.meta["title"][ml_space.index("50")] == "Star Wars"
    assert all(r.because == ("50",) for r in found)


@needs_ml
def test_default_method_beats_popularity_by_far_on_the_time_split(ml_space, ml_split):
    results = {r.metric: r for r in recommendation(ml_space, ml_split[1], k=10)}
    assert set(results) == {"hit@10", "ndcg@10", "recall@10", "coverage@10"}
    ndcg = results["ndcg@10"]
    assert ndcg.found == ndcg.total == 943
    assert ndcg.details["popularity"] == pytest.approx(0.121, abs=0.003)  # the figure
    assert ndcg.score >= 0.206 and ndcg.score >= 1.7 * ndcg.details["popularity"]
    for r in results.values():
        assert r.score > r.details["popularity"]


@needs_ml
def test_a_user_is_recommended_unseen_items_with_reasons(ml_space, ml_split):
    had = set(read_interactions(ml_split[0]).items[read_interactions(ml_split[0]).users == "196"])
    found = ml_space.recommend(user="196", k=10)
    assert len(found) == 10 and not {r.id for r in found} & had
    assert all(r.because and set(r.because) <= had for r in found)
    scores = [r.score for r in found]
    assert scores == sorted(scores, reverse=True)
    seen = ml_space.recommend(user="196", k=len(had) + 5, include_seen=True)
    assert {r.id for r in seen} & had


@needs_ml
def test_a_new_user_gets_items_near_their_choices(ml_space):
    found = ml_space.recommend(items=["50", "172"], k=10)
    ids = [r.id for r in found]
    assert "181" in ids and not {"50", "172"} & set(ids)
    assert all(set(r.because) <= {"50", "172"} and r.because for r in found)


@needs_ml
def test_unknown_users_and_items_say_what_is_close(ml_space):
    with pytest.raises(UnknownUserError, match=r"user '19x' is not among the space's users; did you mean '19'"):
        ml_space.recommend(user="19x")
    with pytest.raises(UnknownIdError, match="'9999' is not in the space"):
        ml_space.recommend(items="50,9999")
    with pytest.raises(EmbspaceError, match="exactly one of"):
        ml_space.recommend(user="196", similar="50")


def test_a_space_not_built_from_interactions_cannot_recommend(small_space):
    with pytest.raises(EmbspaceError, match="not built from interactions"):
        small_space.recommend(user="1")


# ---- every method, through the same checks ----------------------------------------------------------------


@needs_ml
@pytest.mark.parametrize("method", METHODS)
def test_every_method_builds_saves_and_recommends_the_same_after_loading(method, ml_slice, tmp_path):
    params = {"iterations": 5, "dim": 16} if method in ("als", "bpr") else {"epochs": 2, "dim": 16}
    params = params if method in ("als", "bpr", "item2vec") else {"dim": 16}
    space = build(ml_slice, method, **params)
    assert space.info["method"] == method and space.vectors.dtype == np.float32
    assert space.extras["users"].shape == (120, space.dim)
    assert sum(space.meta["interactions"]) == space.info["interactions"]
    assert space.meta["interactions"] == sorted(space.meta["interactions"], reverse=True)  # most-had first
    embspace.save(space, tmp_path / "m.space")
    loaded = embspace.load(tmp_path / "m.space")
    before, after = space.recommend(user="7", k=5), loaded.recommend(user="7", k=5)
    assert [r.id for r in before] == [r.id for r in after] and len(after) == 5
    assert all(r.because for r in after)
    assert len(loaded.recommend(similar=before[0].id, k=3)) == 3
    assert len(loaded.recommend(items=[before[0].id, before[1].id], k=3)) == 3


def test_unknown_parameters_are_named_with_the_valid_ones(tmp_path):
    path = _write(tmp_path / "a.csv", "user,item\n1,a\n1,b\n2,b\n2,c\n")
    with pytest.raises(EmbspaceError, match="l2 is not a parameter of itemknn; valid: dim, neighbors"):
        build(path, "itemknn", l2=3.0)
    with pytest.raises(EmbspaceError, match="unknown method 'svd'"):
        build(path, "svd")


# ---- reading interactions: formats and bad input ---------------------------------------------------------


def test_every_format_reads_the_same_interactions(tmp_path):
    rows = [("1", "10", 4.0, 100), ("1", "20", 3.0, 50), ("2", "10", 5.0, 70)]
    csv = _write(tmp_path / "a.csv", "user,item,rating,time\n" + "".join(f"{u},{i},{r},{t}\n" for u, i, r, t in rows))
    tsv = _write(
        tmp_path / "a.tsv", "user\titem\trating\ttime\n" + "".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in rows)
    )
    jsonl = _write(
        tmp_path / "a.jsonl",
        "".join(json.dumps({"user": u, "item": i, "rating": r, "time": t}) + "\n" for u, i, r, t in rows),
    )
    udata = _write(tmp_path / "u.data", "".join(f"{u}\t{i}\t{int(r)}\t{t}\n" for u, i, r, t in rows))
    inter = _write(
        tmp_path / "x.inter",
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
        + "".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in rows),
    )
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = tmp_path / "a.parquet"
    pq.write_table(
        pa.table({"user": [1, 1, 2], "item": [10, 20, 10], "rating": [4.0, 3.0, 5.0], "time": [100, 50, 70]}), parquet
    )
    expected = None
    for path in (csv, tsv, jsonl, udata, inter, parquet):
        data = read_interactions(path)
        got = (data.users.tolist(), data.items.tolist(), data.ratings.tolist(), data.times.tolist())
        assert got == (["1", "1", "2"], ["20", "10", "10"], [3.0, 4.0, 5.0], [50.0, 100.0, 70.0]), path.name
        expected = expected or got


def test_missing_users_and_items_are_counted_dropped_and_said(tmp_path):
    path = _write(tmp_path / "a.csv", "user,item\n1,a\n,b\n2,\n2,a\n3,b\n")
    data = read_interactions(path)
    assert len(data) == 3
    assert data.notes == ["2 of 5 rows dropped (1 with no user, 1 with no item)"]
    result = CliRunner().invoke(main, ["-q", "build", "items", str(path), "-o", str(tmp_path / "a.space")])
    assert result.exit_code == 0, result.output
    assert "note: 2 of 5 rows dropped (1 with no user, 1 with no item)" in result.output


def test_duplicate_rows_are_summed_or_the_latest_kept_and_said(tmp_path):
    path = _write(tmp_path / "a.csv", "user,item,rating,time\n1,a,2,10\n1,a,5,30\n1,b,1,20\n2,a,1,5\n")
    summed = read_interactions(path)
    assert summed.items.tolist() == ["b", "a", "a"] and summed.ratings.tolist() == [1.0, 7.0, 1.0]
    assert summed.notes == ["1 duplicate (user, item) rows merged: ratings summed, at the latest time"]
    latest = read_interactions(path, duplicates="latest")
    assert latest.ratings.tolist() == [1.0, 5.0, 1.0] and "the latest row kept" in latest.notes[0]
    assert latest.times.tolist() == [20.0, 30.0, 5.0]


def test_iso_dates_order_the_history(tmp_path):
    path = _write(
        tmp_path / "a.csv",
        "user,item,date\n1,a,2024-05-02\n1,b,2024-05-01T12:00:00\n2,a,2023-01-01 08:00\n"
        "1,c,2024-05-02T01:00:00+02:00\n",
    )
    data = read_interactions(path)
    assert data.items.tolist() == ["b", "c", "a", "a"]  # c: 23:00 UTC the day before a
    assert data.times[0] == np.datetime64("2024-05-01T12:00:00").astype("datetime64[s]").astype(int)


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        (
            "user,item,rating\n1,a,5\n2,b,lots\n",
            ["--rating", "rating"],
            "the rating column 'rating' is not numeric (row 2: 'lots')",
        ),
        (
            "user,item,when\n1,a,yesterday\n2,b,today\n",
            ["--time", "when"],
            "the time column 'when' holds 'yesterday' (row 1), which is neither unix seconds nor an ISO date",
        ),
        ("user,item\n1,a\n1,b\n", [], "only one user ('1'); recommendations need at least two users"),
        ("user,item\n1,a\n2,a\n", [], "only one item ('a'); recommendations need at least two items"),
        ("user,item\n1,a\n2,b\n", ["--user", "usr"], "has no column 'usr' for --user; did you mean 'user'?"),
        ("who,what\n1,a\n2,b\n", [], "which column holds the users? give --user (columns: who, what)"),
        ("user,item\n,a\n2,\n", [], "no row has both a user and an item"),
    ],
)
def test_bad_interactions_are_one_line_and_a_non_zero_exit(tmp_path, text, args, message):
    path = _write(tmp_path / "bad.csv", text)
    out = tmp_path / "bad.space"
    result = CliRunner().invoke(main, ["-q", "build", "items", str(path), *args, "-o", str(out)])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists()


def test_a_user_who_has_seen_everything_gets_an_empty_list_and_a_note(tmp_path):
    path = _write(tmp_path / "a.csv", "user,item\n1,a\n1,b\n1,c\n2,a\n")
    space = build(path)
    found = recommend(space, user="1")
    assert found == [] and "has had every item" in found.note
    embspace.save(space, tmp_path / "a.space")
    result = CliRunner().invoke(main, ["-q", "recommend", str(tmp_path / "a.space"), "--user", "1"])
    assert result.exit_code == 0 and "note: user 1 has had every item in the space" in result.output
    assert [r.id for r in recommend(space, user="2", k=5)] != []


# ---- split and the command line --------------------------------------------------------------------------


def test_split_by_last_and_by_time_per_user(tmp_path):
    rows = "".join(f"u{u},i{j},{100 * u + j}\n" for u in range(1, 4) for j in range(u * 5)) + "solo,i0,1\n"
    path = _write(tmp_path / "a.csv", "user,item,time\n" + rows)
    counts = split(path, tmp_path / "tr.csv", tmp_path / "te.csv", by="last")
    test = read_interactions(tmp_path / "te.csv")
    assert sorted(zip(test.users.tolist(), test.items.tolist())) == [("u1", "i4"), ("u2", "i9"), ("u3", "i14")]
    assert counts["train"]["users"] == 4  # the user with one interaction stays in training
    split(path, tmp_path / "tr2.parquet", tmp_path / "te2.parquet", by="time", fraction=0.2)
    test = read_interactions(tmp_path / "te2.parquet")
    assert sorted(test.items[test.users == "u3"].tolist()) == ["i12", "i13", "i14"]  # the last 20% of 15
    with pytest.raises(EmbspaceError, match="already exists; pass --force"):
        split(path, tmp_path / "tr.csv", tmp_path / "te.csv")


@needs_ml
def test_the_command_line_builds_recommends_splits_and_evaluates(ml_slice, tmp_path):
    runner = CliRunner()
    train, test, out = tmp_path / "train.tsv", tmp_path / "test.tsv", tmp_path / "m.space"
    result = runner.invoke(
        main, ["-q", "split", str(ml_slice), "--by", "last", "--train", str(train), "--test", str(test)]
    )
    assert result.exit_code == 0, result.output
    assert "interactions of 120 users" in result.output
    result = runner.invoke(
        main,
        [
            "-q",
            "build",
            "items",
            str(train),
            "--rating",
            "rating",
            "--items-meta",
            str(ML / "ml-100k.item"),
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["-q", "recommend", str(out), "--similar", "50", "-k", "3", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert len(data["results"]) == 3 and all(r["because"] == ["50"] and r["title"] for r in data["results"])
    result = runner.invoke(main, ["-q", "recommend", str(out), "--items", "50,181"])
    assert result.exit_code == 0 and "because" in result.output.splitlines()[0]
    result = runner.invoke(main, ["-q", "evaluate", str(out), "--holdout", str(test), "--json"])
    assert result.exit_code == 0, result.output
    tasks = {t["metric"]: t for t in json.loads(result.output)["tasks"]}
    assert tasks["hit@10"]["total"] == 120 and "popularity" in tasks["hit@10"]["details"]
    result = runner.invoke(main, ["-q", "evaluate", str(out), "--holdout", str(test)])
    assert "popularity" in result.output
    result = runner.invoke(main, ["-q", "recommend", str(out), "--user", "77777"])
    assert result.exit_code == 1 and result.output.strip() == "Error: user '77777' is not among the space's users"


def test_pairs_whose_texts_join_alike_are_not_merged(tmp_path):
    """User '13' with item '614' and user '136' with item '14' are two interactions, not one duplicate."""
    from embspace.items import read_interactions

    path = tmp_path / "pairs.csv"
    path.write_text("user,item,time\n13,614,1\n136,14,2\n13,14,3\n13,614,4\n")
    data = read_interactions(path)
    assert len(data.users) == 3 and any("1 duplicate" in note for note in data.notes)
