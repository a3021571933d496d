"""Streaming where the size grows: export, import of text, evaluate and maps hold a block of rows, not n.

Blocks are made tiny here (a few rows) so that every path crosses many block boundaries on small data.
"""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

import embspace
from embspace import FormatError, Space, SpaceError
from embspace import _rowblocks as rowblocks
from embspace.cli import main as cli
from embspace.formats import FormatNote, import_file, read, write
from embspace.formats import _text as formats_text

FILES = {
    "glove": "g.txt",
    "word2vec": "w.txt",
    "fasttext-vec": "f.vec",
    "word2vec-binary": "b.bin",
    "numpy": "v.npy",
    "parquet": "p.parquet",
    "tsv": "vecs.tsv",
}


def words_space(n: int = 700, dim: int = 12, seed: int = 0, meta: bool = False) -> Space:
    rng = np.random.default_rng(seed)
    ids = [f"w{i}" if i % 7 else f"naïve{i}" for i in range(n)]
    columns = {"note": [f"cell {i}" if i % 50 else f"tab\there {i}" for i in range(n)]} if meta else None
    return Space(ids, rng.standard_normal((n, dim)).astype(np.float32), columns)


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 7 vector rows and 5 ids; text written 3 rows at a time; text read ~100 bytes at a time."""
    monkeypatch.setattr(rowblocks, "BLOCK_BYTES", 7 * 4 * 12)
    monkeypatch.setattr(rowblocks, "ID_BLOCK", 5)
    monkeypatch.setattr(formats_text, "WRITE_BLOCK", 3 * 12)
    monkeypatch.setattr(formats_text, "FIRST_BLOCK", 100)
    monkeypatch.setattr(formats_text, "BLOCK", 100)


@pytest.fixture
def loaded(tmp_path):
    """A saved and loaded space (vectors memory-mapped), with a meta column."""
    embspace.save(words_space(meta=True), tmp_path / "s.space")
    return embspace.load(tmp_path / "s.space")


def exported(space, folder, fmt):
    folder.mkdir(exist_ok=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FormatNote)
        files = write(space, folder / FILES[fmt], fmt)
    notes = [str(w.message) for w in caught if issubclass(w.category, FormatNote)]
    return {f.name: f.read_bytes() for f in files}, notes


# ---- export ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", [f for f in FILES if f != "parquet"])
def test_export_in_small_blocks_writes_the_same_bytes(loaded, tmp_path, monkeypatch, fmt):
    whole, whole_notes = exported(loaded, tmp_path / "whole", fmt)
    monkeypatch.setattr(rowblocks, "BLOCK_BYTES", 7 * 4 * 12)
    monkeypatch.setattr(rowblocks, "ID_BLOCK", 5)
    monkeypatch.setattr(formats_text, "WRITE_BLOCK", 3 * 12)
    blocked, blocked_notes = exported(loaded, tmp_path / "blocked", fmt)
    assert blocked == whole
    assert blocked_notes == whole_notes
    if fmt == "tsv":
        assert "14 cells" in blocked_notes[0]  # rows 0, 50, ..., 650 hold a tab: counted across blocks


def test_export_parquet_in_blocks_reads_back_the_same(loaded, tmp_path, small_blocks):
    import pyarrow.parquet as pq

    write(loaded, tmp_path / "p.parquet", "parquet")
    back = read(tmp_path / "p.parquet", "parquet")
    assert back.ids == loaded.ids
    assert np.array_equal(back.vectors, loaded.vectors)
    assert back.meta["note"] == loaded.meta["note"]
    assert pq.ParquetFile(tmp_path / "p.parquet").num_row_groups == -(-loaded.n // 7)  # one per block


@pytest.mark.parametrize("fmt,char", [("glove", " "), ("word2vec-binary", "\t"), ("numpy", "\n"), ("tsv", "\t")])
def test_export_refuses_a_bad_id_in_a_later_block_and_leaves_nothing(tmp_path, small_blocks, fmt, char):
    space = words_space()
    space.ids[523] = f"bad{char}id"
    with pytest.raises(FormatError, match=r"\(row 523\)") as info:
        write(space, tmp_path / FILES[fmt], fmt)
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def export_peak(folder, n: int, fmt: str) -> int:
    """Bytes traced at the peak of exporting a loaded n x 64 space (its id list already read)."""
    rng = np.random.default_rng(1)
    embspace.save(Space([f"w{i}" for i in range(n)], rng.standard_normal((n, 64)).astype(np.float32)), folder / "s")
    space = embspace.load(folder / "s")
    space.ids  # noqa: B018 - the id list a loaded space may hold is not the export's to count
    tracemalloc.start()
    try:
        write(space, folder / FILES[fmt], fmt)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("fmt", ["numpy", "parquet", "fasttext-vec", "word2vec-binary", "tsv"])
def test_export_memory_does_not_grow_with_n(tmp_path, monkeypatch, fmt):
    monkeypatch.setattr(rowblocks, "BLOCK_BYTES", 1 << 18)  # 1,024 rows of 64 float32
    (tmp_path / "small").mkdir()
    (tmp_path / "big").mkdir()
    small, big = export_peak(tmp_path / "small", 8_000, fmt), export_peak(tmp_path / "big", 48_000, fmt)
    extra = (48_000 - 8_000) * 64 * 4  # 10 MB more vectors
    assert big - small < extra / 4, f"{fmt}: peak {small:,} -> {big:,} bytes for {extra:,} more bytes of vectors"


def test_check_unique_finds_the_first_repeat_as_the_space_does(small_blocks):
    space = words_space()
    space.ids[640] = space.ids[3]
    space.ids[600] = space.ids[100]
    assert rowblocks.first_repeat(space) == (100, 600, "w100")
    with pytest.raises(SpaceError) as ours:
        rowblocks.check_unique(space)
    with pytest.raises(SpaceError) as theirs:
        space._lookup  # noqa: B018
    assert str(ours.value) == str(theirs.value)
    assert rowblocks.first_repeat(words_space()) is None


def test_check_unique_compares_ids_whose_hashes_collide(monkeypatch):
    space = words_space(50)
    monkeypatch.setattr(rowblocks, "hash", lambda item: len(item), raising=False)  # many collisions
    assert rowblocks.first_repeat(space) is None
    space.ids[40] = "w9"
    assert rowblocks.first_repeat(space) == (9, 40, "w9")


class SlicedSpace(Space):
    """A space whose whole id list must not be asked for: only `id_slice` answers (as a loaded big space)."""

    slices: list[tuple[int, int]]

    @property
    def ids(self):
        raise AssertionError("the whole id list was asked for")

    def id_slice(self, start: int, stop: int) -> list[str]:
        self.slices.append((start, stop))
        return self._ids[start:stop]


def sliced(space: Space) -> SlicedSpace:
    out = SlicedSpace(space._ids, space.vectors, space.meta, space.info, space.metric, check=False)
    out.slices = []
    return out


def test_ids_at_reads_blocks_of_ids_only(small_blocks):
    space = sliced(words_space())
    rows = [699, 3, 4, 350, 3, 0]
    assert rowblocks.ids_at(space, rows) == [space._ids[r] for r in rows]
    assert all(stop - start <= 5 for start, stop in space.slices)
    assert rowblocks.ids_at(space, []) == []


def test_vector_blocks_cover_every_row_once(loaded, small_blocks):
    starts, blocks = zip(*rowblocks.vector_blocks(loaded.vectors))
    assert starts == tuple(range(0, loaded.n, 7))
    assert np.array_equal(np.concatenate(blocks), loaded.vectors)


def test_export_reads_ids_in_blocks(tmp_path, small_blocks):
    space = sliced(words_space())
    write(space, tmp_path / "f.vec", "fasttext-vec")
    write(space, tmp_path / "v.npy", "numpy")
    assert read(tmp_path / "f.vec", "fasttext-vec").ids == space._ids
    assert max(stop - start for start, stop in space.slices) <= 7


# ---- import ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["glove", "word2vec", "fasttext-vec"])
def test_import_file_streams_to_the_same_space_as_read(tmp_path, small_blocks, fmt):
    space = words_space()
    write(space, tmp_path / FILES[fmt], fmt)
    done = import_file(tmp_path / FILES[fmt], fmt, tmp_path / "out.space", metric="dot")
    back, ref = embspace.load(tmp_path / "out.space"), read(tmp_path / FILES[fmt], fmt)
    assert (done["n"], done["dim"]) == (700, 12)
    assert back.ids == ref.ids == space.ids
    assert np.array_equal(back.vectors, ref.vectors) and np.array_equal(back.vectors, space.vectors)
    assert back.metric == "dot"
    for key in ("builder", "format", "source", "name"):
        assert back.info[key] == ref.info[key]
    limited = import_file(tmp_path / FILES[fmt], fmt, tmp_path / "ten.space", limit=10)
    assert limited["n"] == 10 and embspace.load(tmp_path / "ten.space").ids == space.ids[:10]
    assert embspace.load(tmp_path / "ten.space").info["limit"] == 10


BAD_TEXT = {
    "duplicate word": (
        "word2vec",
        "5 2\na 1 2\nb 3 4\nc 5 6\nd 7 8\nb 9 9\n",
        "line 6: duplicate word 'b' (first on line 3); words must be unique",
    ),
    "NaN in a later block": ("glove", "".join(f"w{i} 1 2\n" for i in range(40)) + "x nan 1\n", "line 41: word 'x'"),
    "too few rows": ("fasttext-vec", "9 2\na 1 2\nb 3 4\n", "the file ends after 2 rows but the header"),
    "too many rows": ("word2vec", "1 2\na 1 2\nb 3 4\n", "more rows than the header's count"),
    "ragged row": ("glove", "".join(f"w{i} 1 2\n" for i in range(30)) + "y 1\n", "line 31"),
}


@pytest.mark.parametrize("case", BAD_TEXT)
def test_import_file_bad_input_one_line_and_nothing_published(tmp_path, small_blocks, case):
    fmt, text, expected = BAD_TEXT[case]
    (tmp_path / "in.txt").write_text(text)
    with pytest.raises(FormatError) as info:
        import_file(tmp_path / "in.txt", fmt, tmp_path / "out.space")
    assert expected in str(info.value) and "\n" not in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt"]


def test_import_duplicate_words_publish_nothing(tmp_path, small_blocks):
    (tmp_path / "dup.vec").write_text("3 2\na 1 2\nb 3 4\na 5 6\n")
    out = str(tmp_path / "d.space")
    result = CliRunner().invoke(cli, ["import", str(tmp_path / "dup.vec"), "--format", "word2vec", "-o", out])
    assert result.exit_code != 0
    assert "line 4: duplicate word 'a' (first on line 2)" in result.output
    assert not (tmp_path / "d.space").exists()


def test_cli_import_streams_text_and_keeps_the_other_checks(tmp_path, monkeypatch, small_blocks):
    space = words_space(200)
    write(space, tmp_path / "g.txt", "glove")
    calls = []
    real = formats_text.read_text
    monkeypatch.setattr(formats_text, "read_text", lambda *a, **k: calls.append(k.get("sink")) or real(*a, **k))
    monkeypatch.setattr("embspace.formats.read_text", formats_text.read_text)
    out = tmp_path / "g.space"
    result = CliRunner().invoke(cli, ["import", str(tmp_path / "g.txt"), "--format", "glove", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "200 × 12" in result.output
    assert calls and calls[0] is not None  # the streamed path
    assert embspace.load(out).ids == space.ids
    again = CliRunner().invoke(cli, ["import", str(tmp_path / "g.txt"), "--format", "glove", "-o", str(out)])
    assert again.exit_code != 0 and "exists" in again.output
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("a\n")
    wrong = ["import", str(tmp_path / "g.txt"), "--format", "glove", "--ids", str(ids_file), "-o", str(tmp_path / "x")]
    result = CliRunner().invoke(cli, wrong)
    assert result.exit_code != 0 and "applies to --format numpy only" in result.output


# ---- evaluate and map -----------------------------------------------------------------------------
def test_report_card_with_a_restricted_vocabulary_reads_only_its_ids(glove_small):
    from embspace.evaluate import report_card

    plain = report_card(glove_small, restrict_vocab=5000)
    space = sliced(glove_small)
    streamed = report_card(space, restrict_vocab=5000)
    assert [r.to_dict() for r in streamed] == [r.to_dict() for r in plain]
    assert max(stop for _, stop in space.slices) <= 5000


def test_case_sensitive_lookup_in_a_restricted_vocabulary(glove_small):
    from embspace.evaluate._word_rows import WordRows

    vocab = WordRows(sliced(glove_small), restrict=100, case_insensitive=False)
    assert vocab.row(glove_small._ids[99]) == 99
    assert vocab.row(glove_small._ids[100]) == -1
    assert np.allclose(vocab.sq_norms(), (np.asarray(glove_small.vectors[:100]) ** 2).sum(axis=1), rtol=1e-5)


def test_map_of_a_sample_reads_ids_of_the_sample_only(glove_small, tmp_path):
    from embspace.reduce import make_map
    from embspace.reduce._draw import label_texts

    space = sliced(glove_small.head(3000))
    m = make_map(space, "pca", sample=500, seed=1)
    assert m.ids(space) == [space._ids[r] for r in m.rows]
    assert label_texts(space, m.rows[:5]) == [space._ids[r] for r in m.rows[:5]]
    assert all(stop - start <= rowblocks.ID_BLOCK for start, stop in space.slices)


# ---- damage is still refused when only some blocks are read ----------------------------------------
@pytest.fixture
def damaged(tmp_path):
    """An opened space of 40,000 x 64 (about 3 checked blocks of vectors.npy) with a byte flipped near its end."""
    n = 40_000
    vectors = np.random.default_rng(2).standard_normal((n, 64)).astype(np.float32)
    embspace.save(Space([f"w{i}" for i in range(n)], vectors), tmp_path / "d.space")
    path = tmp_path / "d.space" / "vectors.npy"
    data = bytearray(path.read_bytes())
    data[-100] ^= 0x40
    path.write_bytes(bytes(data))
    space = embspace.load(tmp_path / "d.space")
    if getattr(space, "_guard", None) is None:
        pytest.skip("this store checks every block when a space is opened")
    return space


def test_first_rows_of_a_damaged_space_are_read_without_the_damaged_block(damaged):
    from embspace.errors import CorruptSpaceError
    from embspace.evaluate._word_rows import WordRows

    assert rowblocks.checked_rows(damaged, 0, 1000).shape == (1000, 64)
    assert WordRows(damaged, restrict=1000).sq_norms().shape == (1000,)
    assert rowblocks.checked_take(damaged, np.array([5, 10])).shape == (2, 64)
    with pytest.raises(CorruptSpaceError, match="vectors.npy"):
        rowblocks.checked_take(damaged, np.array([5, damaged.n - 1]))


@pytest.mark.parametrize("fmt", ["numpy", "parquet", "glove"])
def test_export_of_a_damaged_space_stops_at_the_block_and_leaves_nothing(damaged, tmp_path, fmt):
    from embspace.errors import CorruptSpaceError

    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(CorruptSpaceError, match="vectors.npy"):
        write(damaged, out / FILES[fmt], fmt)
    assert list(out.iterdir()) == []


def test_map_of_a_sample_over_a_damaged_block_is_refused(damaged):
    from embspace.errors import CorruptSpaceError
    from embspace.reduce import make_map

    with pytest.raises(CorruptSpaceError, match="vectors.npy"):
        make_map(damaged, "pca", sample=2000, seed=0)


def test_first_repeat_from_a_stored_id_index(tmp_path, small_blocks):
    from embspace._ids import hash_index, sort_index

    embspace.save(words_space(), tmp_path / "u.space")
    assert rowblocks.first_repeat(embspace.load(tmp_path / "u.space")) is None
    space = words_space()
    space.ids[650] = space.ids[20]
    index = sort_index(hash_index(space.ids))
    space._stored_id_index = lambda: index
    assert rowblocks.first_repeat(space) == (20, 650, "w20")


def test_import_file_streams_a_npy_to_the_same_space_as_read(tmp_path, small_blocks):
    space = words_space()
    write(space, tmp_path / "v.npy", "numpy")
    done = import_file(tmp_path / "v.npy", "numpy", tmp_path / "n.space", limit=500)
    back, ref = embspace.load(tmp_path / "n.space"), read(tmp_path / "v.npy", "numpy", limit=500)
    assert done["n"] == 500 and back.ids == ref.ids == space.ids[:500]
    assert np.array_equal(back.vectors, ref.vectors)
    assert back.info["source"] == ref.info["source"] and back.info["limit"] == 500


@pytest.mark.parametrize(
    "values,expected",
    [
        (np.array([[1.0, 2.0]] * 30 + [[np.nan, 1.0]]), "v.npy: row 30 holds NaN or Inf"),
        (np.array([[1.0, 2.0]] * 30 + [[1e300, 1.0]]), "values too large for float32"),
    ],
)
def test_import_file_npy_bad_rows_in_a_later_block(tmp_path, small_blocks, values, expected):
    np.save(tmp_path / "v.npy", values)
    (tmp_path / "v.ids.txt").write_text("".join(f"r{i}\n" for i in range(len(values))))
    with pytest.raises(FormatError, match=expected):
        import_file(tmp_path / "v.npy", "numpy", tmp_path / "n.space")
    with pytest.raises(FormatError, match=expected):
        read(tmp_path / "v.npy", "numpy")
    assert not (tmp_path / "n.space").exists()


def test_import_file_streams_parquet_with_its_meta(tmp_path, small_blocks, monkeypatch):
    from embspace.formats import _arrays

    real = _arrays.parquet_blocks
    monkeypatch.setattr(_arrays, "parquet_blocks", lambda path, limit: real(path, limit, rows=64))
    space = words_space(meta=True)
    write(space, tmp_path / "p.parquet", "parquet")
    done = import_file(tmp_path / "p.parquet", "parquet", tmp_path / "p.space")
    back, ref = embspace.load(tmp_path / "p.space"), read(tmp_path / "p.parquet", "parquet")
    assert done["n"] == 700 and back.ids == ref.ids == space.ids
    assert np.array_equal(back.vectors, ref.vectors)
    assert back.meta["note"] == ref.meta["note"] == space.meta["note"]
    assert back.info["format"] == "parquet"
    assert import_file(tmp_path / "p.parquet", "parquet", tmp_path / "q.space", limit=100)["n"] == 100


def test_import_file_parquet_bad_rows_in_a_later_block(tmp_path, monkeypatch):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from embspace.formats import _arrays

    real = _arrays.parquet_blocks
    monkeypatch.setattr(_arrays, "parquet_blocks", lambda path, limit: real(path, limit, rows=4))
    ids = [f"r{i}" for i in range(10)]
    cases = {
        "ragged": (ids, [[1.0, 2.0]] * 9 + [[1.0]], "row 9: the vector has 1 values; row 0 has 2"),
        "null": (ids[:6] + [None] + ids[7:], [[1.0, 2.0]] * 10, "row 6: the id is null"),
        "dup": (ids[:9] + ["r2"], [[1.0, 2.0]] * 10, "duplicate id 'r2' (second at row 9)"),
        "nan": (ids, [[1.0, 2.0]] * 5 + [[float("nan"), 1.0]] * 5, "row 5 holds NaN or Inf"),
    }
    for name, (column, vectors, expected) in cases.items():
        table = pa.table(
            {"id": pa.array(column, type=pa.string()), "vector": pa.array(vectors, pa.list_(pa.float32()))}
        )
        pq.write_table(table, tmp_path / f"{name}.parquet")
        with pytest.raises(FormatError) as info:
            import_file(tmp_path / f"{name}.parquet", "parquet", tmp_path / f"{name}.space")
        assert expected in str(info.value), name
        assert not (tmp_path / f"{name}.space").exists()


def test_import_file_streams_binary_word2vec(tmp_path, monkeypatch):
    from embspace.formats import _binary

    monkeypatch.setattr(_binary, "BLOCK", 300)  # a few rows of 12 float32 per block
    space = words_space()
    write(space, tmp_path / "b.bin", "word2vec-binary")
    done = import_file(tmp_path / "b.bin", "word2vec-binary", tmp_path / "b.space")
    back, ref = embspace.load(tmp_path / "b.space"), read(tmp_path / "b.bin", "word2vec-binary")
    assert done["n"] == 700 and back.ids == ref.ids == space.ids
    assert np.array_equal(back.vectors, ref.vectors) and back.info["source"] == ref.info["source"]
    assert import_file(tmp_path / "b.bin", "word2vec-binary", tmp_path / "l.space", limit=33)["n"] == 33
    dup = Space([*space.ids[:600], space.ids[5], *space.ids[601:]], space.vectors, check=False)
    write(dup, tmp_path / "dup.bin", "word2vec-binary")
    for call in (
        lambda: read(tmp_path / "dup.bin", "word2vec-binary"),
        lambda: import_file(tmp_path / "dup.bin", "word2vec-binary", tmp_path / "d.space"),
    ):
        with pytest.raises(FormatError, match=r"row 601: duplicate word 'w5' \(first at row 6\)"):
            call()
    assert not (tmp_path / "d.space").exists()
    bad = space.vectors.copy()
    bad[650, 3] = np.inf
    write(Space(space.ids, bad, check=False), tmp_path / "inf.bin", "word2vec-binary")
    with pytest.raises(FormatError, match=r"row 651: word 'w650' holds NaN or Inf"):
        import_file(tmp_path / "inf.bin", "word2vec-binary", tmp_path / "i.space")
    assert not (tmp_path / "i.space").exists()


def test_import_file_streams_projector_tsv_with_its_labels(tmp_path, small_blocks):
    space = words_space(meta=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FormatNote)
        write(space, tmp_path / "vecs.tsv", "tsv")
    done = import_file(tmp_path / "vecs.tsv", "tsv", tmp_path / "t.space")
    back, ref = embspace.load(tmp_path / "t.space"), read(tmp_path / "vecs.tsv", "tsv")
    assert done["n"] == 700 and back.ids == ref.ids == space.ids
    assert np.array_equal(back.vectors, ref.vectors)
    assert back.meta["note"] == ref.meta["note"] and back.info["source"] == ref.info["source"]
    lines = (tmp_path / "meta.tsv").read_text().splitlines()
    (tmp_path / "meta.tsv").write_text("\n".join(lines[:-40]) + "\n")  # 40 labels short
    for call in (read, lambda p, f: import_file(p, f, tmp_path / "short.space")):
        with pytest.raises(FormatError, match="660 labels for the 700 rows"):
            call(tmp_path / "vecs.tsv", "tsv")
    assert not (tmp_path / "short.space").exists()


def test_checked_take_any_order_with_repeats(loaded, small_blocks):
    rows = np.array([699, 3, 5, 3, 0, 350])
    whole = np.asarray(loaded.vectors)
    assert np.array_equal(rowblocks.checked_take(loaded, rows), whole[rows])
    in_memory = words_space()
    assert np.array_equal(rowblocks.checked_take(in_memory, rows), in_memory.vectors[rows])
    assert rowblocks.checked_take(in_memory, np.empty(0, dtype=np.int64)).shape == (0, 12)
