"""Tables: the feature space and the learned space of table rows, new rows placed alike, kNN prediction of
the target, `build table` and `compare` on the command line, and bad input (tiny hand-made tables).

The real data is Housing (546 houses, Ecdat), read out of the `pydataset` package's CSV tarball without
importing the package (its import writes to ~/.pydataset); those tests skip when it is not installed.
"""

from __future__ import annotations

import json
import sysconfig
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

pd = pytest.importorskip("pandas")

import embspace  # noqa: E402
from embspace import tables  # noqa: E402
from embspace.cli import main  # noqa: E402
from embspace.errors import EmbspaceError  # noqa: E402

HOUSING_TAR = Path(sysconfig.get_paths()["purelib"]) / "pydataset" / "resources.tar.gz"
HOUSING_MEMBER = "resources/rdata/csv/Ecdat/Housing.csv"
YES_NO = ["driveway", "recroom", "fullbase", "gashw", "airco", "prefarea"]
NUMERIC = ["lotsize", "bedrooms", "bathrms", "stories", "garagepl"]
FAST = {"epochs": 60, "patience": 15}  # a short training: enough to beat the mean, quick on 2 cores


@pytest.fixture(scope="module")
def housing() -> pd.DataFrame:
    if not HOUSING_TAR.is_file():
        pytest.skip(f"Housing is not installed ({HOUSING_TAR} is absent; `make dev` installs pydataset)")
    with tarfile.open(HOUSING_TAR) as tar:
        frame = pd.read_csv(tar.extractfile(HOUSING_MEMBER))
    return frame.rename(columns={frame.columns[0]: "house"})


@pytest.fixture(scope="module")
def housing_csv(housing, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("housing") / "Housing.csv"
    housing.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def learned(housing) -> embspace.Space:
    return tables.build(housing, id="house", target="price", method="learned", **FAST)


def cli(*args):
    return CliRunner().invoke(main, ["-q", *map(str, args)])


# ---- the feature space ----------------------------------------------------------------------------------


def test_features_standardise_numbers_and_turn_yes_no_into_0_1(housing):
    space = tables.build(housing, id="house", target="price")
    layout = space.info["table"]["transform"]["layout"]
    assert space.n == 546 and space.dim == 11 and space.metric == "euclidean"
    assert layout == ["lotsize", "bedrooms", "bathrms", "stories", *[f"{c}=yes" for c in YES_NO[:5]], "garagepl"] + [
        "prefarea=yes"
    ]
    v = space.vectors
    for name in NUMERIC:
        column = v[:, layout.index(name)]
        assert abs(column.mean()) < 1e-5 and column.std() == pytest.approx(1.0, abs=1e-5)
    for name in YES_NO:
        column = v[:, layout.index(f"{name}=yes")]
        assert set(np.unique(column)) == {0.0, 1.0}
        assert (column == 1).sum() == (housing[name] == "yes").sum()
    assert space.ids[:3] == ["1", "2", "3"]
    assert space.meta["price"][0] == 42000.0 and "price" not in layout  # the target: meta, not a feature
    assert space.meta["driveway"][0] == "yes"


def test_knn_price_prediction_beats_the_mean_in_both_spaces(housing, learned):
    features = tables.knn_target(tables.build(housing, id="house", target="price"))
    assert features["rows"] == 546 and features["k"] == 10 and features["task"] == "regression"
    assert features["rmse"] < 0.7 * features["baseline_rmse"] and features["mae"] < 0.7 * features["baseline_mae"]
    trained = tables.knn_target(learned)
    assert trained["rmse"] < 0.7 * trained["baseline_rmse"]
    assert trained["baseline_rmse"] == pytest.approx(features["baseline_rmse"])  # the same mean-of-the-others


def test_missing_values_are_imputed_and_flagged():
    rows = pd.DataFrame(
        {
            "k": ["a", "b", "c", "d", "e"],
            "size": [1.0, np.nan, 3.0, 10.0, 4.0],
            "colour": ["red", "blue", None, "red", "green"],
        }
    )
    space = tables.build(rows, id="k")
    layout = space.info["table"]["transform"]["layout"]
    assert layout == ["size", "size:missing", "colour=red", "colour=blue", "colour=green", "colour:missing"]
    v = space.vectors
    present = np.array([1.0, 3.0, 10.0, 4.0])
    assert v[1, 0] == pytest.approx((3.5 - present.mean()) / present.std())  # the median, standardised
    assert v[:, 1].tolist() == [0, 1, 0, 0, 0] and v[:, 5].tolist() == [0, 0, 1, 0, 0]
    assert v[2, 2:5].tolist() == [1, 0, 0]  # the most frequent colour


def test_new_rows_are_placed_as_the_build_rows_were(housing, tmp_path):
    space = tables.build(housing, id="house", target="price")
    embspace.save(space, tmp_path / "f.space")
    loaded = embspace.load(tmp_path / "f.space")
    again = tables.embed_rows(loaded, housing.drop(columns=["price"]).iloc[:20])
    np.testing.assert_allclose(again, space.vectors[:20], atol=1e-6)
    row = housing.iloc[7].drop("price").to_dict()
    assert loaded.neighbors(row, k=1)[0].id == "8"  # a dict row is a query
    partial = loaded.neighbors({"lotsize": 6000, "airco": "yes", "bedrooms": 3}, k=3)  # the rest imputed
    assert len(partial) == 3
    unseen = tables.embed_rows(loaded, {"lotsize": 6000, "driveway": "maybe"})  # a level never seen: no error
    assert unseen.shape == (1, 11) and unseen[0, 4] == 0.0


def test_an_unknown_column_in_a_new_row_names_close_matches(housing):
    space = tables.build(housing, id="house", target="price")
    with pytest.raises(EmbspaceError, match="did you mean 'lotsize'"):
        tables.embed_rows(space, {"lotsise": 5000})
    with pytest.raises(EmbspaceError, match="is numeric but row 1 holds 'big'"):
        tables.embed_rows(space, {"lotsize": "big"})
    with pytest.raises(EmbspaceError, match="not built from a table"):
        tables.embed_rows(embspace.Space(["a"], [[1.0]]), {"x": 1})


# ---- the learned space --------------------------------------------------------------------------------


def test_learned_space_is_seeded_and_restored_from_its_safetensors(housing, learned, tmp_path):
    record = learned.info["table"]
    assert learned.dim == 16 and learned.info["method"] == "learned" and record["task"] == "regression"
    training = record["network"]["training"]
    assert 1 <= training["best_epoch"] <= training["epochs_run"] <= FAST["epochs"]
    assert training["validation_rows"] == 109
    assert "network.safetensors" in learned.assets
    again = tables.build(housing, id="house", target="price", method="learned", **FAST)
    np.testing.assert_array_equal(again.vectors, learned.vectors)  # same seed, same space
    embspace.save(learned, tmp_path / "l.space")
    loaded = embspace.load(tmp_path / "l.space")
    placed = tables.embed_rows(loaded, housing.drop(columns=["price"]).iloc[:30])
    np.testing.assert_allclose(placed, learned.vectors[:30], atol=1e-5)
    assert loaded.neighbors(housing.iloc[3].to_dict(), k=1)[0].id == "4"
    loaded.assets["network.safetensors"] = b"not the network"
    with pytest.raises(EmbspaceError, match="sha256 differs"):
        tables.embed_rows(loaded, {"lotsize": 5000})


def test_learned_classification_of_a_yes_no_target(housing):
    space = tables.build(housing, id="house", target="airco", method="learned", dim=8, **FAST)
    record = space.info["table"]
    assert record["task"] == "classification" and record["classes"] == ["no", "yes"]
    result = tables.knn_target(space)
    assert result["task"] == "classification" and result["accuracy"] > result["baseline_accuracy"]
    assert result["baseline_accuracy"] == pytest.approx((housing.airco == "no").mean(), abs=0.01)


def test_learned_needs_a_target(housing):
    with pytest.raises(EmbspaceError, match="name it as the target"):
        tables.build(housing, id="house", method="learned")


def test_entity_embeddings_for_a_many_level_column():
    rng = np.random.default_rng(0)
    n = 400
    city = rng.choice([f"c{i}" for i in range(60)], n)
    effect = {f"c{i}": float(i) for i in range(60)}
    rows = pd.DataFrame({"city": city, "x": rng.normal(size=n)})
    rows["y"] = [effect[c] for c in city] + rows["x"] * 2
    space = tables.build(rows, target="y", method="learned", epochs=40, patience=10)
    net = space.info["table"]["network"]["architecture"]
    assert net["cardinalities"] == [60] and net["embedding_dims"] == [16] and net["numeric"] == 1
    features = tables.build(rows, target="y")
    layout = features.info["table"]["transform"]["layout"]
    assert len(layout) == 52 and layout[50] == "city=(other)"  # the 50 most frequent levels + the rest, then x


# ---- input formats --------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".jsonl"])
def test_every_format_gives_the_same_space(tmp_path, suffix):
    rows = pd.DataFrame({"id": ["r1", "r2", "r3", "r4"], "n": [1.5, 2.0, 7.0, 3.0], "c": ["x", "y", "x", "z"]})
    path = tmp_path / f"t{suffix}"
    if suffix == ".parquet":
        rows.to_parquet(path)
    elif suffix == ".jsonl":
        rows.to_json(path, orient="records", lines=True)
    else:
        rows.to_csv(path, sep="\t" if suffix == ".tsv" else ",", index=False)
    space = tables.build(path, id="id")
    assert space.ids == ["r1", "r2", "r3", "r4"]
    np.testing.assert_allclose(space.vectors, tables.build(rows, id="id").vectors)
    assert space.info["data"]["file"] == path.name and len(space.info["data"]["sha256"]) == 64


# ---- bad input --------------------------------------------------------------------------------------------


def test_constant_and_all_missing_columns_are_dropped_and_said():
    rows = pd.DataFrame({"x": [3.0, 1.0, 2.0], "k": [7, 7, 7], "e": [None, None, None], "c": ["a", "b", "a"]})
    with pytest.warns(tables.DroppedColumnWarning, match=r"'k': constant \(every value is 7\); 'e': all values"):
        space = tables.build(rows)
    assert space.info["table"]["transform"]["layout"] == ["x", "c=b"]
    assert [d["column"] for d in space.info["table"]["dropped"]] == ["k", "e"]
    with pytest.raises(EmbspaceError, match="no column is left to embed"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tables.build(rows[["k", "e"]])


def test_bad_targets_are_one_line():
    rows = pd.DataFrame({"id": ["a", "b", "c"], "x": [1.0, 2.0, 4.0], "t": [5, 5, 5], "c": ["p", "q", "p"]})
    with pytest.raises(EmbspaceError, match=r"target 't' has one value \(5\) in every row"):
        tables.build(rows, id="id", target="t")
    with pytest.raises(EmbspaceError, match="target 'c' is not numeric .*holds 'p'"):
        tables.build(rows, id="id", target="c", task="regression")
    with pytest.raises(EmbspaceError, match="empty in every row"):
        tables.build(rows.assign(t=[None, None, None]), id="id", target="t")
    with pytest.raises(EmbspaceError, match="unknown task"):
        tables.build(rows, target="x", task="ranking")


def test_duplicate_and_missing_ids_are_one_line():
    rows = pd.DataFrame({"id": ["a", "b", "a"], "x": [1.0, 2.0, 4.0]})
    with pytest.raises(EmbspaceError, match=r"id 'a' appears twice in the column 'id' \(rows 1 and 3\)"):
        tables.build(rows, id="id")
    with pytest.raises(EmbspaceError, match="id column 'id' is empty at row 2"):
        tables.build(rows.assign(id=["a", None, "c"]), id="id")


def test_unknown_columns_name_close_matches():
    rows = pd.DataFrame({"house": ["a", "b", "c"], "price": [1.0, 2.0, 4.0], "rooms": [1, 2, 2]})
    with pytest.raises(EmbspaceError, match=r"no column 'prise' \(target=COL\); did you mean 'price'"):
        tables.build(rows, target="prise")
    with pytest.raises(EmbspaceError, match=r"no column 'hose' \(id=COL\); did you mean 'house'"):
        tables.build(rows, id="hose")
    with pytest.raises(EmbspaceError, match=r"no column 'room' \(columns=COL\); did you mean 'rooms'"):
        tables.build(rows, columns=["room"])
    with pytest.raises(EmbspaceError, match="its columns: 'house', 'price', 'rooms'"):
        tables.build(rows, id="zzz")


def test_empty_files_are_one_line(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "header.csv").write_text("a,b\n")
    for name in ("empty.csv", "header.csv"):
        with pytest.raises(EmbspaceError, match="is empty; expected a header row and at least one row"):
            tables.build(tmp_path / name)
    (tmp_path / "t.xlsx").write_text("x")
    with pytest.raises(EmbspaceError, match="cannot tell the table format"):
        tables.build(tmp_path / "t.xlsx")


# ---- the command line ------------------------------------------------------------------------------------


def test_cli_builds_both_spaces_and_compare_shows_the_target(housing_csv, tmp_path):
    f, learned_path = tmp_path / "f.space", tmp_path / "l.space"
    done = cli("build", "table", housing_csv, "--id", "house", "--target", "price", "-o", f, "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["layout"][0] == "lotsize"
    done = cli(
        "build", "table", housing_csv, "--id", "house", "--target", "price", "--method", "learned",
        "--epochs", 30, "--dim", 8, "--dropout", 0.1, "--refit", "-o", learned_path,
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "best epoch" in done.stderr and embspace.load(learned_path).dim == 8
    training = embspace.load(learned_path).info["table"]["network"]["training"]
    assert training["refit"] is True and training["dropout"] == 0.1
    shown = cli("compare", f, learned_path, "--no-card")
    assert shown.exit_code == 0, shown.output
    assert "predicting 'price' from the 10 nearest rows (leave-one-out over 546 rows)" in shown.stdout
    assert "mean baseline" in shown.stdout and "B's network was trained on 'price'" in shown.stdout
    data = json.loads(cli("compare", f, learned_path, "--no-card", "--json").stdout)
    target = data["overlap"]["target"]
    assert target["name"] == "price" and target["a"]["rmse"] < target["a"]["baseline_rmse"]
    sampled = json.loads(cli("compare", f, learned_path, "--no-card", "--json", "--sample", 50).stdout)
    assert sampled["overlap"]["target"]["b"]["predicted"] == 50 and sampled["overlap"]["target"]["b"]["rows"] == 546


def test_cli_bad_input_is_one_line(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("id,x,k,t\n1,2,7,5\n1,3,7,5\n")
    for args, message in [
        (["--id", "id"], "the id '1' appears twice"),
        (["--target", "t"], "has one value (5) in every row"),
        (["--target", "tt"], "no column 'tt' (--target COL); did you mean 't'?"),
        (["--epochs", "3"], "--epochs is for --method learned only"),
    ]:
        done = cli("build", "table", table, *args, "-o", tmp_path / "o.space")
        assert done.exit_code == 1 and message in done.output, done.output
        assert "Traceback" not in done.output and len(done.output.strip().splitlines()) == 1
    assert not (tmp_path / "o.space").exists()
    (tmp_path / "blank.csv").write_text("")
    done = cli("build", "table", tmp_path / "blank.csv", "-o", tmp_path / "o.space")
    assert done.exit_code == 1 and "is empty" in done.output
    done = cli("build", "table", table, "-o", tmp_path / "o.space")  # k: constant, said on stderr
    assert done.exit_code == 0 and "note: left out of the vectors: " in done.stderr
    assert "'k': constant (every value is 7)" in done.stderr


def test_only_a_table_space_takes_a_dict_row_as_a_query():
    images_like = embspace.Space(["x", "y", "z"], np.eye(3), info={"builder": "embspace.images"})
    with pytest.raises(embspace.UnknownIdError):
        images_like.neighbors({"q": 1}, k=1)  # not sent to the image encoder as if it were an image


def test_booleans_dates_and_rows_without_a_target():
    rows = pd.DataFrame(
        {
            "when": pd.to_datetime(["2020-01-01", "2020-02-01", "2020-03-05", "2021-01-01"]),
            "x": [1.0, 2.0, 3.0, 4.5],
            "y": [1.0, None, 3.0, 5.0],
            "ok": [True, False, True, None],
        }
    )
    with pytest.warns(tables.DroppedColumnWarning, match="'when': dates or times are not embedded"):
        space = tables.build(rows, target="y")
    assert space.info["table"]["transform"]["layout"] == ["x", "ok=true", "ok:missing"]
    assert space.n == 4 and space.info["table"]["target_rows"] == 3 and space.meta["y"][1] is None
    assert space.vectors[:, 1].tolist() == [1, 0, 1, 1]  # the missing one: the most frequent, flagged
    result = tables.knn_target(space, k=1)
    assert result["rows"] == 3 and result["coverage"] == 0.75
    with pytest.raises(EmbspaceError, match="holds dates or times"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tables.build(rows, target="when")


def test_a_damaged_transform_or_network_description_is_one_line(housing, learned):
    import copy

    features = tables.build(housing, id="house", target="price")
    features.info = copy.deepcopy(features.info)
    features.info["table"]["transform"]["columns"][0]["std"] = 0
    with pytest.raises(EmbspaceError, match="numeric column 'lotsize' has fill .* std 0; rebuild"):
        tables.embed_rows(features, {"lotsize": 5000})
    features.info["table"]["transform"]["columns"][0] = {"name": "lotsize", "kind": "picture", "fill": 1}
    with pytest.raises(EmbspaceError, match="of kind 'picture'"):
        tables.embed_rows(features, {"lotsize": 5000})
    features.info["table"]["transform"] = {"columns": [{"nom": "x"}]}
    with pytest.raises(EmbspaceError, match="transform is malformed"):
        tables.embed_rows(features, {"lotsize": 5000})
    damaged = embspace.Space(learned.ids, learned.vectors, info=copy.deepcopy(learned.info), metric="euclidean")
    damaged.assets = dict(learned.assets)
    damaged.info["table"]["network"]["architecture"]["numeric"] = 3
    with pytest.raises(EmbspaceError, match="network.safetensors does not fit the network"):
        tables.embed_rows(damaged, {"lotsize": 5000})


def test_missing_packages_are_named(monkeypatch):
    import sys

    rows = pd.DataFrame({"x": [1.0, 2.0, 4.0], "y": [1.0, 3.0, 2.0]})
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(EmbspaceError, match=r"needs the Python package 'torch'.*\[tables\]"):
        tables.build(rows, target="y", method="learned")
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(EmbspaceError, match="tables need the Python package 'pandas'"):
        tables.build(rows, target="y")
