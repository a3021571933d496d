"""Format 2: a space opens without reading its files, each block is checked when first read, ids are found
through the stored hash index; format 1 still opens (checked whole, with a note); SpaceWriter."""

import json
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

import embspace
from embspace import CorruptSpaceError, EmbspaceError, store
from embspace._blocks import BLOCK
from embspace._sealed import checksum
from embspace.cli import main
from embspace.errors import SpaceNote

ROWS, DIM = 40_000, 64  # 10 MB of vectors: three 4 MiB blocks


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((ROWS, DIM)).astype(np.float32)
    ids = [f"item{i:06d}" for i in range(ROWS)]
    space = embspace.Space(ids, vectors, meta={"group": [i % 7 for i in range(ROWS)]})
    path = embspace.save(space, tmp_path_factory.mktemp("open") / "big.space")
    return space, path


def _copy(path, tmp_path):
    import shutil

    return shutil.copytree(path, tmp_path / path.name)


def _flip(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x10
    path.write_bytes(bytes(data))


def _row_offset(path, row):
    return (path / "vectors.npy").stat().st_size - 4 * DIM * (ROWS - row)


def test_open_reads_no_ids_and_one_block_for_one_vector(big):
    space, path = big
    opened = embspace.load(path)
    np.testing.assert_array_equal(opened.vector("item012345"), space.vectors[12345])
    assert opened._ids is None  # no Python string per row was made
    guard = opened._guard
    assert guard is not None and int(guard.checked.sum()) == 1 and guard.left == len(guard.sums) - 1
    assert "item000007" in opened and "nope" not in opened and opened.index("item039999") == ROWS - 1
    assert opened.id_slice(5, 8) == ["item000005", "item000006", "item000007"]
    assert opened._ids is None and opened.meta["group"][:3] == [0, 1, 2]


@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
def test_first_scan_of_an_opened_space_answers_as_in_memory(big, metric):
    space, path = big
    opened = embspace.load(path)
    opened.metric = metric
    queries = ["item000003", "item031000"]
    expect = embspace.Space(space.ids, np.array(space.vectors), metric=metric).neighbors(queries, k=5)
    first = opened.neighbors(queries, k=5)  # checks each tile's blocks and computes its norms as it goes
    again = opened.neighbors(queries, k=5)  # norms kept, blocks checked
    for found in (first, again):
        assert [[n.id for n in q] for q in found] == [[n.id for n in q] for q in expect]
        np.testing.assert_allclose(
            [[n.score for n in q] for q in found], [[n.score for n in q] for q in expect], rtol=1e-5
        )
    assert opened._guard is None and opened._ids is None
    if metric != "dot":
        assert opened._sq_norms is not None


@pytest.mark.parametrize("where", [0, 1, 2])
def test_a_flipped_byte_in_any_block_is_refused_before_a_result_from_it(big, tmp_path, where):
    _, source = big
    path = _copy(source, tmp_path)
    row = {0: 10, 1: 20_000, 2: ROWS - 1}[where]
    offset = _row_offset(path, row) + 4 * 3
    assert offset // BLOCK == where
    _flip(path / "vectors.npy", offset)
    space = embspace.load(path)  # opening reads none of it
    other = 10 if where else 30_000
    assert space.vector(f"item{other:06d}").shape == (DIM,)  # a clean block still answers
    for read in (
        lambda: space.vector(f"item{row:06d}"),
        lambda: space.neighbors("item000001", k=3),
        lambda: space.vectors,
    ):
        with pytest.raises(CorruptSpaceError, match=rf"vectors\.npy: block {where} .*does not match its checksum"):
            read()
    with pytest.raises(CorruptSpaceError, match=r"vectors\.npy: block"):
        embspace.load(path, verify="full")
    for args in (["verify", str(path)], ["neighbors", str(path), "item000001", "-k", "3"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1 and "vectors.npy: block" in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_flipped_ids_and_id_index_are_refused_where_read(big, tmp_path):
    _, source = big
    path = _copy(source, tmp_path)
    _flip(path / "idhash.npy", 4096)
    space = embspace.load(path)
    with pytest.raises(CorruptSpaceError, match=r"idhash\.npy: block 0"):
        for i in range(0, ROWS, 997):  # some lookup reads the damaged block
            space.index(f"item{i:06d}")
    path = _copy(source, tmp_path / "second")
    _flip(path / "items.parquet", 200)  # inside the first row group's ids (a block the footer shares here)
    with pytest.raises(CorruptSpaceError, match=r"items\.parquet: block 0"):
        embspace.load(path).ids  # noqa: B018


def test_verify_full_and_the_cli(big):
    _, path = big
    space = embspace.load(path, verify="full")
    assert space._guard is None
    result = CliRunner().invoke(main, ["verify", str(path)])
    assert result.exit_code == 0 and "checksums" in result.output


def _as_format_1(path):
    """Rewrite a format-2 folder as the format-1 files an older embspace wrote."""
    from embspace._files import sha256_file

    (path / "idhash.npy").unlink()
    manifest = json.loads((path / "manifest.json").read_text())
    manifest.pop("checksum")
    manifest["format_version"] = 1
    manifest["files"] = {
        name: {"size": (path / name).stat().st_size, "sha256": sha256_file(path / name)}
        for name in manifest["files"]
        if name != "idhash.npy"
    }
    manifest["checksum"] = checksum(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest))


def test_format_1_opens_checked_whole_with_a_note_once_and_upgrades(big, tmp_path):
    space, source = big
    path = _copy(source, tmp_path)
    _as_format_1(path)
    (path / "maps").mkdir()
    (path / "maps" / "kept.txt").write_text("a cached map")
    with pytest.warns(SpaceNote, match="older embspace"):
        old = embspace.load(path)
    assert old.ids[:2] == ["item000000", "item000001"] and old.neighbors("item000002", k=2)[0].id
    with warnings.catch_warnings():
        warnings.simplefilter("error", SpaceNote)  # the note is said once
        embspace.load(path)
    _flip(path / "vectors.npy", _row_offset(path, 20_000))
    with pytest.raises(CorruptSpaceError, match=r"vectors\.npy: sha256 does not match"):
        embspace.load(path)  # checked whole: refused before anything is returned
    _flip(path / "vectors.npy", _row_offset(path, 20_000))
    result = CliRunner().invoke(main, ["upgrade", str(path)])
    assert result.exit_code == 0 and "format 2" in result.output, result.output
    assert store.read_manifest(path)["format_version"] == 2 and (path / "maps" / "kept.txt").exists()
    upgraded = embspace.load(path, verify="full")
    np.testing.assert_array_equal(upgraded.vector("item030000"), space.vectors[30_000])
    assert CliRunner().invoke(main, ["upgrade", str(path)]).output.strip().endswith("nothing to do")


def test_a_format_2_manifest_without_block_sums_is_refused(big, tmp_path):
    _, source = big
    path = _copy(source, tmp_path)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest.pop("checksum")
    manifest["files"]["vectors.npy"]["blocks"]["sums"].pop()
    manifest["checksum"] = checksum(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CorruptSpaceError, match="no valid block checksums"):
        embspace.load(path)


def test_space_writer_writes_what_save_writes(big, tmp_path):
    space, _ = big
    out = tmp_path / "w.space"
    with store.SpaceWriter(out, DIM, metric="cosine", info={"name": "written"}) as w:
        for start in range(0, ROWS, 15_000):
            stop = min(start + 15_000, ROWS)
            w.append(space.ids[start:stop], space.vectors[start:stop], {"group": space.meta["group"][start:stop]})
        assert w.rows == ROWS
    written = embspace.load(out, verify="full")
    assert written.n == ROWS and written.info["name"] == "written" and written.ids == space.ids
    assert written.meta["group"] == space.meta["group"]
    np.testing.assert_array_equal(written.vectors, space.vectors)
    assert written.neighbors("item000100", k=3) == space.neighbors("item000100", k=3)


def test_space_writer_refuses_repeats_and_publishes_nothing_on_error(tmp_path):
    out = tmp_path / "w.space"
    with pytest.raises(store.DuplicateIdError, match=r"'b' \(rows 1 and 3\)") as err:
        with store.SpaceWriter(out, 2) as w:
            w.append(["a", "b"], np.ones((2, 2)))
            w.append(["c", "b"], np.ones((2, 2)))
    assert (err.value.first_row, err.value.second_row) == (1, 3)
    with pytest.raises(EmbspaceError, match="shape"):
        with store.SpaceWriter(out, 2) as w:
            w.append(["a"], np.ones((1, 3)))
    with pytest.raises(EmbspaceError, match="NaN or Inf"):
        with store.SpaceWriter(out, 2) as w:
            w.append(["a"], np.array([[np.nan, 1.0]]))
    with pytest.raises(KeyboardInterrupt):
        with store.SpaceWriter(out, 2) as w:
            w.append(["a"], np.ones((1, 2)))
            raise KeyboardInterrupt
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_a_first_scan_split_between_cores_answers_as_in_memory_and_checks_every_part(tmp_path):
    rng = np.random.default_rng(1)
    n = 300_000  # above two parts' worth of rows: the first scan of an opened space splits its rows
    vectors = rng.standard_normal((n, 8)).astype(np.float32)
    space = embspace.Space([f"r{i}" for i in range(n)], vectors)
    path = embspace.save(space, tmp_path / "wide.space")
    from embspace import search

    assert len(search.row_parts(n, workers=2)) == 2
    expect = space.neighbors(["r7", "r299000"], k=5)
    opened = embspace.load(path)
    assert opened.neighbors(["r7", "r299000"], k=5) == expect and opened._guard is None
    for metric in ("dot", "euclidean"):
        got = embspace.load(path).neighbors("r12", k=4, metric=metric)
        assert [x.id for x in got] == [x.id for x in space.neighbors("r12", k=4, metric=metric)]
    _flip(path / "vectors.npy", (path / "vectors.npy").stat().st_size - 5000)  # in the second part's last block
    with pytest.raises(CorruptSpaceError, match=r"vectors\.npy: block \d+ .*does not match"):
        embspace.load(path).neighbors("r7", k=5)
