"""Import/export: round trips, gensim interop, projector TSV, Parquet, limits, bad input, safety, atomicity."""

from __future__ import annotations

import hashlib
import pickle
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import embspace
from embspace import EmbspaceError, FormatError, Space, formats
from embspace.formats import FORMATS, from_keyedvectors, read, to_keyedvectors, write
from embspace.formats import _text as formats_text

FILE_NAMES = {
    "glove": "glove.txt",
    "word2vec": "space.w2v.txt",
    "word2vec-binary": "space.bin",
    "fasttext-vec": "space.vec",
    "tsv": "vecs.tsv",
    "numpy": "space.npy",
    "parquet": "space.parquet",
}
EXACT = {"word2vec-binary", "numpy", "parquet"}


@pytest.fixture(scope="module")
def glove():
    from embspace.datasets import glove_6b_50d

    return glove_6b_50d().head(2000)


@pytest.fixture
def tiny():
    vectors = np.array([[0.5, -1.25, 3.0], [1e-7, 2.5e8, -0.0], [0.1, 0.2, 0.3]], dtype=np.float32)
    return Space(["the", "naïve", "café"], vectors)


def same_bits(a, b) -> bool:
    a, b = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    return a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))


def write_bytes(path, data: bytes):
    path.write_bytes(data)
    return path


def error_of(call, *args, **kwargs) -> str:
    with pytest.raises(FormatError) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message, "errors are one line"
    return message


# ---- round trips --------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip(glove, tmp_path, fmt):
    path = tmp_path / FILE_NAMES[fmt]
    files = write(glove, path, fmt)
    assert all(f.is_file() for f in files) and path in files
    back = read(path, fmt)
    assert back.ids == glove.ids
    assert back.vectors.dtype == np.float32 and back.vectors.flags.c_contiguous
    if fmt in EXACT:
        assert same_bits(back.vectors, glove.vectors)
    else:
        np.testing.assert_allclose(back.vectors, glove.vectors, rtol=1e-6, atol=1e-6)
    info = back.info
    assert info["builder"] == "import" and info["format"] == fmt
    assert info["source"]["path"] == str(path.resolve())
    assert info["source"]["size"] == path.stat().st_size
    assert info["source"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert info["name"] == (tmp_path.name if fmt == "tsv" else path.stem)


@pytest.mark.parametrize("fmt", ["glove", "word2vec", "fasttext-vec", "tsv"])
def test_text_keeps_every_float32_bit(tmp_path, fmt):
    rng = np.random.default_rng(0)
    vectors = (rng.standard_normal((300, 7)) * 10.0 ** rng.uniform(-40, 38, (300, 7))).astype(np.float32)
    vectors[0] = [0.0, -0.0, 1e-45, 3.4028235e38, -3.4028235e38, 1.1754944e-38, 0.1]
    space = Space([f"w{i}" for i in range(300)], vectors)
    path = tmp_path / FILE_NAMES[fmt]
    write(space, path, fmt)
    assert same_bits(read(path, fmt).vectors, vectors)


def test_glove_text_looks_like_glove(glove, tmp_path):
    write(glove.head(2), tmp_path / "g.txt", "glove")
    first = (tmp_path / "g.txt").read_text().splitlines()[0].split(" ")
    assert first[0] == "the" and first[1] == "0.418" and len(first) == 51


def test_folder_targets(glove, tmp_path):
    space = glove.head(50)
    assert write(space, tmp_path / "proj", "tsv") == [tmp_path / "proj" / "vecs.tsv", tmp_path / "proj" / "meta.tsv"]
    assert write(space, tmp_path / "arr", "numpy") == [tmp_path / "arr" / "vectors.npy", tmp_path / "arr" / "ids.txt"]
    assert read(tmp_path / "proj", "tsv").ids == space.ids
    assert read(tmp_path / "arr", "numpy").ids == space.ids
    assert read(tmp_path / "arr" / "vectors.npy", "numpy").info["name"] == "arr"


def test_blocks_and_progress(glove, tmp_path, monkeypatch, capsys):
    """Small blocks: rows, odd lines and errors across many block boundaries; a bar on request."""
    monkeypatch.setattr(formats_text, "FIRST_BLOCK", 512)
    monkeypatch.setattr(formats_text, "BLOCK", 4096)
    path = tmp_path / "g.txt"
    write(glove, path, "glove")
    lines = path.read_text().splitlines(keepends=True)
    lines[1500] = "new york" + lines[1500][lines[1500].index(" ") :]
    path.write_text("".join(lines) + "\n\n")
    back = read(path, "glove", show_progress=True)
    assert back.ids[1500] == "new york" and back.ids[:1500] == glove.ids[:1500]
    np.testing.assert_allclose(back.vectors, glove.vectors, atol=1e-6)
    assert "reading g.txt" in capsys.readouterr().err  # the bar, on stderr
    lines[1700] = lines[1700].replace(" ", " x", 1)
    path.write_text("".join(lines))
    assert "line 1701" in error_of(read, path, "glove")


# ---- gensim -------------------------------------------------------------------------------------
@pytest.fixture
def KeyedVectors():
    return pytest.importorskip("gensim.models").KeyedVectors


def test_gensim_reads_our_word2vec_text_and_binary(glove, tmp_path, KeyedVectors):
    for fmt, binary in (("word2vec", False), ("word2vec-binary", True), ("fasttext-vec", False)):
        path = tmp_path / FILE_NAMES[fmt]
        write(glove, path, fmt)
        kv = KeyedVectors.load_word2vec_format(str(path), binary=binary)
        assert kv.index_to_key == glove.ids
        if binary:
            assert same_bits(kv.vectors, glove.vectors)
        else:
            np.testing.assert_allclose(kv.vectors, glove.vectors, atol=1e-6)


def test_we_read_gensim_word2vec_text_and_binary(glove, tmp_path, KeyedVectors):
    kv = to_keyedvectors(glove)
    kv.save_word2vec_format(str(tmp_path / "g.txt"), binary=False)
    kv.save_word2vec_format(str(tmp_path / "g.bin"), binary=True)
    text = read(tmp_path / "g.txt", "word2vec")
    assert text.ids == glove.ids
    np.testing.assert_allclose(text.vectors, glove.vectors, atol=1e-6)
    binary = read(tmp_path / "g.bin", "word2vec-binary")
    assert binary.ids == glove.ids and same_bits(binary.vectors, glove.vectors)


def test_binary_bytes_match_gensim(glove, tmp_path, KeyedVectors):
    write(glove, tmp_path / "ours.bin", "word2vec-binary")
    to_keyedvectors(glove).save_word2vec_format(str(tmp_path / "gensim.bin"), binary=True)
    assert (tmp_path / "ours.bin").read_bytes() == (tmp_path / "gensim.bin").read_bytes()


def test_binary_with_c_tool_newlines(tiny, tmp_path, KeyedVectors):
    body = b"".join(w.encode() + b" " + v.astype("<f4").tobytes() + b"\n" for w, v in zip(tiny.ids, tiny.vectors))
    path = write_bytes(tmp_path / "c.bin", b"3 3\n" + body)
    back = read(path, "word2vec-binary")
    assert back.ids == tiny.ids and same_bits(back.vectors, tiny.vectors)
    assert KeyedVectors.load_word2vec_format(str(path), binary=True).index_to_key == tiny.ids


def test_keyedvectors_round_trip(glove, KeyedVectors):
    space = Space(glove.ids, glove.vectors, meta={"count": list(range(glove.n, 0, -1))})
    kv = to_keyedvectors(space)
    assert len(kv) == glove.n and kv.vectors.shape == (glove.n, 50)
    assert kv.most_similar("king", topn=1)[0][0] == space.neighbors("king", k=1)[0][0]
    assert kv.get_vecattr("the", "count") == glove.n
    back = from_keyedvectors(kv, info={"name": "kv"})
    assert back.ids == space.ids and same_bits(back.vectors, space.vectors)
    assert back.meta["count"] == space.meta["count"]
    assert back.info["builder"] == "import" and back.info["name"] == "kv"


def test_from_preallocated_keyedvectors_skips_placeholder_rows(KeyedVectors):
    kv = KeyedVectors(4, count=10)
    kv.add_vector("a", np.ones(4, dtype=np.float32))
    kv.add_vector("b", np.full(4, 2.0, dtype=np.float32))
    space = from_keyedvectors(kv)
    assert space.ids == ["a", "b"] and space.vectors.shape == (2, 4)


def test_missing_gensim_names_the_extra(tiny, monkeypatch):
    monkeypatch.setitem(sys.modules, "gensim.models", None)
    with pytest.raises(EmbspaceError, match=r"pip install -e '.*\[gensim\]'"):
        to_keyedvectors(tiny)


# ---- formats with metadata ----------------------------------------------------------------------
def test_tsv_with_meta_columns(tiny, tmp_path):
    space = Space(tiny.ids, tiny.vectors, meta={"pos": ["det", "adj", "noun"], "freq": [10, 2, None]})
    files = write(space, tmp_path / "vecs.tsv", "tsv")
    assert (tmp_path / "meta.tsv").read_text().splitlines() == [
        "id\tpos\tfreq",
        "the\tdet\t10",
        "naïve\tadj\t2",
        "café\tnoun\t",
    ]
    assert files == [tmp_path / "vecs.tsv", tmp_path / "meta.tsv"]
    assert "\t" in (tmp_path / "vecs.tsv").read_text().splitlines()[0]
    back = read(tmp_path / "vecs.tsv", "tsv")
    assert back.ids == space.ids and same_bits(back.vectors, space.vectors)
    assert back.meta == {"pos": ["det", "adj", "noun"], "freq": ["10", "2", ""]}  # TSV cells are text


def test_tsv_single_column_meta_has_no_header(tiny, tmp_path):
    write(tiny, tmp_path / "glove_vecs.tsv", "tsv")
    assert (tmp_path / "glove_meta.tsv").read_text().splitlines() == tiny.ids
    labels = write_bytes(tmp_path / "labels.tsv", b"a\nb\nc\n")
    assert read(tmp_path / "glove_vecs.tsv", "tsv", meta=labels).ids == ["a", "b", "c"]


def test_tsv_bad_meta(tiny, tmp_path):
    write(tiny, tmp_path / "vecs.tsv", "tsv")
    meta = write_bytes(tmp_path / "meta.tsv", b"id\tpos\nx\tn\ny\tv\nx\ta\n")
    message = error_of(read, tmp_path / "vecs.tsv", "tsv")
    assert str(meta) in message and "duplicate id 'x'" in message and "line 4" in message and "line 2" in message
    write_bytes(meta, b"a\nb\n")
    assert "2 labels for the 3 rows" in error_of(read, tmp_path / "vecs.tsv", "tsv")
    meta.unlink()
    assert "meta=" in error_of(read, tmp_path / "vecs.tsv", "tsv")


def projector_rows(meta_tsv) -> list[list[str]]:
    """meta.tsv as the Embedding Projector reads it: split on \\n, blank lines skipped, split on \\t."""
    return [line.split("\t") for line in meta_tsv.read_text(encoding="utf-8").split("\n") if line.strip()]


def test_tsv_cells_with_tabs_and_line_breaks_become_spaces(tiny, tmp_path):
    texts = ["tab\there", "two\nlines\r\nthree", "plain"]
    space = Space(tiny.ids, tiny.vectors, meta={"text": texts, "label": ["a", "b\rc", "c"]})
    with pytest.warns(formats.FormatNote, match=r"meta.tsv: 3 cells \(2 in 'text', 1 in 'label'\) held tabs"):
        write(space, tmp_path / "vecs.tsv", "tsv")
    rows = projector_rows(tmp_path / "meta.tsv")
    assert rows == [
        ["id", "text", "label"],
        ["the", "tab here", "a"],
        ["naïve", "two lines three", "b c"],
        ["café", "plain", "c"],
    ]
    assert read(tmp_path / "vecs.tsv", "tsv").meta["text"] == ["tab here", "two lines three", "plain"]


def test_tsv_and_parquet_columns(tiny, tmp_path):
    space = Space(tiny.ids, tiny.vectors, meta={"text": ["x", "y", "z"], "label": ["a", "b", "c"], "n": [1, 2, 3]})
    write(space, tmp_path / "vecs.tsv", "tsv", columns=["label"])
    assert projector_rows(tmp_path / "meta.tsv")[:2] == [["id", "label"], ["the", "a"]]
    write(space, tmp_path / "ids_vecs.tsv", "tsv", columns=[])
    assert (tmp_path / "ids_meta.tsv").read_text().splitlines() == tiny.ids  # one column: no header
    write(space, tmp_path / "s.parquet", "parquet", columns=["n", "text"])
    assert pq.read_table(tmp_path / "s.parquet").column_names == ["id", "vector", "n", "text"]
    assert "no meta column 'txt'; its columns: 'text', 'label', 'n'" in error_of(
        write, space, tmp_path / "x.tsv", "tsv", columns=["txt"]
    )
    assert "columns= applies to format='tsv' and format='parquet' only" in error_of(
        write, space, tmp_path / "x.txt", "glove", columns=["text"]
    )


def test_cli_export_columns_notes_and_folders(tiny, tmp_path):
    """--columns, the note about flattened cells, missing folders made, every output file guarded by --force."""
    from click.testing import CliRunner

    from embspace.cli import main

    space = Space(tiny.ids, tiny.vectors, meta={"text": ["a\tb", "c", "d"], "label": ["x", "y", "z"]})
    path = str(embspace.save(space, tmp_path / "s.space"))
    out = tmp_path / "new" / "deeper" / "vecs.tsv"
    result = CliRunner().invoke(main, ["-q", "export", path, "--format", "tsv", "--columns", "text", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "note: meta.tsv: 1 cell (1 in 'text') held tabs or line breaks" in result.output
    assert "--format parquet keeps them" in result.output
    assert projector_rows(out.parent / "meta.tsv") == [["id", "text"], ["the", "a b"], ["naïve", "c"], ["café", "d"]]
    out.unlink()  # meta.tsv is still there: replacing it takes --force too
    again = CliRunner().invoke(main, ["-q", "export", path, "--format", "tsv", "-o", str(out)])
    assert again.exit_code == 1 and "meta.tsv exists; pass --force" in again.output
    (tmp_path / "a-file").write_text("")
    blocked = CliRunner().invoke(
        main, ["-q", "export", path, "--format", "glove", "-o", str(tmp_path / "a-file" / "g.txt")]
    )
    assert blocked.exit_code == 1 and blocked.output.count("\n") == 1
    assert "a-file or a folder above it is a file, not a folder" in blocked.output
    unknown = CliRunner().invoke(
        main, ["-q", "export", path, "--format", "tsv", "--columns", "txt", "-o", str(out), "--force"]
    )
    assert unknown.exit_code == 1 and "no meta column 'txt'" in unknown.output


def test_parquet_meta_columns_and_plain_lists(tiny, tmp_path):
    space = Space(tiny.ids, tiny.vectors, meta={"n": [1, 2, 3], "tag": ["a", None, "c"], "w": [0.5, 1.5, 2.5]})
    write(space, tmp_path / "s.parquet", "parquet")
    table = pq.read_table(tmp_path / "s.parquet")
    assert table.schema.field("vector").type == pa.list_(pa.float32(), 3)
    back = read(tmp_path / "s.parquet", "parquet")
    assert back.meta == space.meta and same_bits(back.vectors, space.vectors)
    plain = pa.table({"id": tiny.ids, "vector": pa.array(tiny.vectors.tolist(), type=pa.list_(pa.float32()))})
    pq.write_table(plain, tmp_path / "plain.parquet")
    assert same_bits(read(tmp_path / "plain.parquet", "parquet").vectors, tiny.vectors)


def test_parquet_bad_input(tmp_path):
    ragged = pa.table({"id": ["a", "b"], "vector": pa.array([[1.0, 2.0], [1.0]], type=pa.list_(pa.float32()))})
    pq.write_table(ragged, tmp_path / "ragged.parquet")
    assert "row 1" in error_of(read, tmp_path / "ragged.parquet", "parquet")
    pq.write_table(pa.table({"id": ["a"], "emb": [[1.0]]}), tmp_path / "nocol.parquet")
    assert "'vector'" in error_of(read, tmp_path / "nocol.parquet", "parquet")
    pq.write_table(pa.table({"id": ["a", "a"], "vector": [[1.0], [2.0]]}), tmp_path / "dup.parquet")
    assert "duplicate id 'a'" in error_of(read, tmp_path / "dup.parquet", "parquet")


# ---- limit --------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_limit(glove, tmp_path, fmt):
    path = tmp_path / FILE_NAMES[fmt]
    write(glove, path, fmt)
    head = read(path, fmt, limit=10)
    assert head.ids == glove.ids[:10] and head.info["limit"] == 10
    np.testing.assert_allclose(head.vectors, glove.vectors[:10], atol=1e-6)
    assert read(path, fmt, limit=10**6).n == glove.n
    with pytest.raises(FormatError, match="limit"):
        read(path, fmt, limit=0)


# ---- bad input ----------------------------------------------------------------------------------
W2V_BAD = {
    "fewer rows than the header": (b"4 2\na 1 2\nb 3 4\nc 5 6\n", "line 5", "says 4"),
    "more rows than the header": (b"2 2\na 1 2\nb 3 4\nc 5 6\n", "line 4", "more rows"),
    "header dim disagrees": (b"2 3\na 1 2\nb 3 4\n", "line 2", "expected 3"),
    "row with too few values": (b"3 2\na 1 2\nb 3\nc 5 6\n", "line 3", "1 values"),
    "row with too many values": (b"3 2\na 1 2\nb 3 4 5\nc 5 6\n", "line 3", "3 values"),
    "non-numeric value": (b"2 2\na 1 2\nb 3 x4\n", "line 3", "'x4' is not a number"),
    "NaN": (b"2 2\na 1 2\nb nan 4\n", "line 3", "'b' holds NaN"),
    "Inf": (b"2 2\na inf 2\nb 1 4\n", "line 2", "'a' holds NaN or Inf"),
    "duplicate word": (b"3 2\na 1 2\nb 3 4\na 5 6\n", "line 4", "duplicate word 'a' (first on line 2)"),
    "bad header": (b"a 1 2\nb 3 4\n", "line 1", "format='glove'"),
    "blank line inside": (b"2 2\na 1 2\n\nb 3 4\n", "line 3", "blank line"),
    "not UTF-8": (b"2 2\na 1 2\ncaf\xe9 3 4\n", "line 3", "not UTF-8"),
    "empty word": (b"1 2\n 1 2\n", "line 2", "empty"),
}


@pytest.mark.parametrize("case", list(W2V_BAD))
def test_bad_word2vec_text(tmp_path, case):
    data, where, what = W2V_BAD[case]
    path = write_bytes(tmp_path / "bad.txt", data)
    message = error_of(read, path, "word2vec")
    assert str(path) in message and where in message and what in message


def test_bad_glove_text(tmp_path):
    path = write_bytes(tmp_path / "g.txt", b"a 1 2 3\nb 1 2\n")
    assert f"{path}, line 2" in error_of(read, path, "glove") and "expected 3 (as on line 1)" in error_of(
        read, path, "glove"
    )
    write_bytes(path, b"400000 50\nthe 1 2\n")
    assert "format='word2vec'" in error_of(read, path, "glove")
    write_bytes(path, b"")
    assert "empty" in error_of(read, path, "glove")
    write_bytes(path, b"2 3\n")
    assert "no vectors" in error_of(read, path, "word2vec")


def test_text_quirks_are_read(tmp_path):
    """CRLF, trailing spaces (fastText writes them), a BOM, tabs, blank lines at the end, spaces in words."""
    path = write_bytes(tmp_path / "q.vec", "\ufeff3 2 \r\nnew york 1 2 \r\nb\t3  4 \r\nc 5 6\r\n\r\n\n".encode())
    back = read(path, "fasttext-vec")
    assert back.ids == ["new york", "b", "c"]
    np.testing.assert_array_equal(back.vectors, [[1, 2], [3, 4], [5, 6]])
    path = write_bytes(tmp_path / "t.vec", b"2 2\na 1 2 \nb 3 4 \n")
    assert read(path, "fasttext-vec").ids == ["a", "b"]


def test_binary_file_read_as_text(glove, tmp_path):
    path = tmp_path / "g.bin"
    write(glove, path, "word2vec-binary")
    message = error_of(read, path, "word2vec")
    assert str(path) in message and "word2vec-binary" in message


def test_bad_word2vec_binary(tiny, tmp_path):
    path = tmp_path / "t.bin"
    write(tiny, path, "word2vec-binary")
    data = path.read_bytes()
    write_bytes(path, data[:-5])
    assert "ends after 2" in error_of(read, path, "word2vec-binary")
    write_bytes(path, b"2" + data[1:])
    assert "more data after the 2 vectors" in error_of(read, path, "word2vec-binary")
    write_bytes(path, b"4" + data[1:])
    assert "truncated" in error_of(read, path, "word2vec-binary")
    write_bytes(path, b"3 3\na 1.0 2.0 3.0\nb 1.0 2.0 3.0\nc 1.0 2.0 3.0\n")
    assert "format='word2vec'" in error_of(read, path, "word2vec-binary")
    nan = np.array([1, np.nan, 3], dtype="<f4").tobytes()
    write_bytes(path, b"1 3\nx " + nan)
    assert "row 1: word 'x' holds NaN" in error_of(read, path, "word2vec-binary")


def test_unknown_format_lists_the_valid_ones(tiny, tmp_path):
    message = error_of(read, tmp_path / "x", "csv")
    assert all(fmt in message for fmt in FORMATS)
    with pytest.raises(FormatError, match="word2vec-binary"):
        write(tiny, tmp_path / "x", "hdf5")


@pytest.mark.parametrize(
    "fmt,bad_id",
    [
        ("glove", "new york"),
        ("word2vec", "a\tb"),
        ("fasttext-vec", "x\ny"),
        ("word2vec-binary", "two words"),
        ("tsv", "tab\there"),
        ("numpy", "line\nbreak"),
    ],
)
def test_ids_a_format_cannot_hold(tiny, tmp_path, fmt, bad_id):
    space = Space([bad_id, "b", "c"], tiny.vectors)
    path = tmp_path / FILE_NAMES[fmt]
    message = error_of(write, space, path, fmt)
    assert repr(bad_id) in message and "row 0" in message
    assert list(tmp_path.iterdir()) == []


def test_messages_name_the_callers_setting(tiny, tmp_path):
    """Python callers read keywords (meta=PATH, format='glove'); users of the CLI read its flags."""
    from click.testing import CliRunner

    from embspace.cli import main

    write(tiny, tmp_path / "vecs.tsv", "tsv")
    (tmp_path / "meta.tsv").unlink()
    write(tiny, tmp_path / "v.npy", "numpy")
    (tmp_path / "v.ids.txt").unlink()
    glove_file = write_bytes(tmp_path / "g.txt", b"a 1 2\nb 3 4\n")
    w2v_file = write_bytes(tmp_path / "w.txt", b"2 2\na 1 2\nb 3 4\n")
    (tmp_path / "elsewhere").mkdir()
    ids_file = write_bytes(tmp_path / "elsewhere" / "ids.txt", b"a\nb\n")
    broken = embspace.save(Space(["line\nbreak", "b", "c"], tiny.vectors), tmp_path / "broken.space")
    cases = [  # (Python call, what Python callers read, CLI arguments, what CLI users read)
        (
            (tmp_path / "vecs.tsv", "tsv"),
            {},
            "pass meta=PATH",
            ["import", "{d}/vecs.tsv", "--format", "tsv"],
            "pass --meta PATH",
        ),
        (
            (tmp_path / "v.npy", "numpy"),
            {},
            "pass ids=PATH",
            ["import", "{d}/v.npy", "--format", "numpy"],
            "pass --ids PATH",
        ),
        (
            (glove_file, "word2vec"),
            {},
            "use format='glove'",
            ["import", "{d}/g.txt", "--format", "word2vec"],
            "use --format glove",
        ),
        (
            (w2v_file, "glove"),
            {},
            "use format='word2vec'",
            ["import", "{d}/w.txt", "--format", "glove"],
            "use --format word2vec",
        ),
        (
            (glove_file, "glove"),
            {"ids": ids_file},
            "ids= applies to format='numpy' only",
            ["import", "{d}/g.txt", "--format", "glove", "--ids", "{d}/elsewhere/ids.txt"],
            "--ids applies to --format numpy only",
        ),
    ]
    for args, kwargs, python_says, cli_args, cli_says in cases:
        assert python_says in error_of(read, *args, **kwargs)
        cli_args = [a.format(d=tmp_path) for a in cli_args] + ["-o", str(tmp_path / "out.space")]
        result = CliRunner().invoke(main, ["-q", *cli_args])
        assert result.exit_code == 1 and cli_says in result.output, result.output
        assert "=PATH" not in result.output and "format='" not in result.output
    # ids with a line break: the numpy ids file cannot hold them, so the advice is Parquet, not numpy again
    python_says = error_of(write, embspace.load(broken), tmp_path / "x.npy", "numpy")
    assert python_says.endswith("rename the id or export with format='parquet'")
    result = CliRunner().invoke(main, ["-q", "export", str(broken), "--format", "numpy", "-o", str(tmp_path / "x.npy")])
    assert result.exit_code == 1 and result.output.strip().endswith("rename the id or export with --format parquet")
    assert "id 'tab\\there' (row 0) contains a tab" in error_of(
        write, Space(["tab\there", "b", "c"], tiny.vectors), tmp_path / "x.txt", "glove"
    )
    assert "format='parquet' or format='numpy'" in error_of(
        write, Space(["two words", "b", "c"], tiny.vectors), tmp_path / "x.txt", "glove"
    )


# ---- NumPy safety -------------------------------------------------------------------------------
class Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))  # would create the marker file if ever unpickled


def test_pickled_npy_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    np.save(tmp_path / "evil.npy", np.array([Payload(marker)], dtype=object), allow_pickle=True)
    write_bytes(tmp_path / "evil.ids.txt", b"a\n")
    assert "never loaded" in error_of(read, tmp_path / "evil.npy", "numpy")
    write_bytes(tmp_path / "raw.npy", pickle.dumps(Payload(marker)))
    write_bytes(tmp_path / "raw.ids.txt", b"a\n")
    assert "not a .npy" in error_of(read, tmp_path / "raw.npy", "numpy")
    assert not marker.exists()


def test_numpy_inputs(tmp_path):
    np.save(tmp_path / "v.npy", np.asfortranarray(np.arange(6, dtype=np.float64).reshape(3, 2)))
    message = error_of(read, tmp_path / "v.npy", "numpy")
    assert "v.ids.txt" in message and "ids=" in message
    write_bytes(tmp_path / "ids.txt", b"a\r\nb\r\nc\r\n")
    back = read(tmp_path / "v.npy", "numpy")
    assert back.ids == ["a", "b", "c"] and back.vectors.dtype == np.float32
    np.testing.assert_array_equal(back.vectors, [[0, 1], [2, 3], [4, 5]])
    other = write_bytes(tmp_path / "names.txt", b"x\ny\n")
    assert "2 ids for the 3 rows" in error_of(read, tmp_path / "v.npy", "numpy", ids=other)
    write_bytes(other, b"x\ny\nx\n")
    assert "line 3: duplicate id 'x' (first on line 1)" in error_of(read, tmp_path / "v.npy", "numpy", ids=other)
    np.save(tmp_path / "flat.npy", np.arange(3.0))
    assert "shape (3,)" in error_of(read, tmp_path / "flat.npy", "numpy", ids=tmp_path / "ids.txt")
    np.save(tmp_path / "nan.npy", np.array([[1.0], [np.nan], [2.0]]))
    assert "row 1" in error_of(read, tmp_path / "nan.npy", "numpy", ids=tmp_path / "ids.txt")


# ---- atomic writes ------------------------------------------------------------------------------
def test_failed_write_leaves_no_file_and_keeps_the_old_one(glove, tmp_path, monkeypatch):
    path = tmp_path / "g.txt"
    real = formats_text._BlockFormatter.__call__
    calls = {"n": 0}

    def fail_on_third_block(self, start, step):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        return real(self, start, step)

    monkeypatch.setattr(formats_text, "WRITE_BLOCK", 50 * 100)  # 100 rows per block
    monkeypatch.setattr(formats_text._BlockFormatter, "__call__", fail_on_third_block)
    with pytest.raises(OSError, match="disk full"):
        write(glove, path, "word2vec")
    assert list(tmp_path.iterdir()) == []

    monkeypatch.setattr(formats_text._BlockFormatter, "__call__", real)
    write(glove.head(5), path, "word2vec")
    before = path.read_bytes()
    monkeypatch.setattr(formats_text._BlockFormatter, "__call__", fail_on_third_block)
    calls["n"] = 0
    with pytest.raises(OSError, match="disk full"):
        write(glove, path, "word2vec")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["g.txt"]


def test_failed_two_file_write_replaces_neither(tiny, tmp_path, monkeypatch):
    write(tiny, tmp_path / "vecs.tsv", "tsv")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    calls = {"n": 0}
    real = formats.finish

    def fail_second(fh):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("no space left")
        real(fh)

    monkeypatch.setattr("embspace.formats.finish", fail_second)
    with pytest.raises(OSError):
        write(Space(["x", "y", "z"], tiny.vectors * 2), tmp_path / "vecs.tsv", "tsv")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


# ---- real files that ship with gensim ------------------------------------------------------------
@pytest.fixture
def gensim_data():
    from pathlib import Path

    gensim = pytest.importorskip("gensim")
    return Path(gensim.__file__).parent / "test" / "test_data"


def test_truncated_vec_exits_1_cleanly(gensim_data, tmp_path):
    """A correct one-line error, then exit 1: no thread left behind aborts the process."""
    lines = (gensim_data / "lee_fasttext.vec").read_bytes().splitlines(keepends=True)
    (tmp_path / "t.vec").write_bytes(b"".join(lines[:900]))
    for _ in range(4):  # the abort was a race between an Arrow worker and the exit: one run in three
        proc = subprocess.run(
            [sys.executable, "-m", "embspace", "import", "t.vec", "--format", "fasttext-vec", "-o", "t.space"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert "terminate called" not in proc.stderr
        assert proc.returncode == 1, proc.stderr
        errors = [line for line in proc.stderr.splitlines() if "Error" in line]
        assert errors == [
            "Error: t.vec, line 901: the file ends after 899 rows but the header (line 1) says 1762; "
            "the file is truncated or the header is wrong"
        ]
    assert not (tmp_path / "t.space").exists()


def test_arrow_threads_never_hold_python_memory(glove, tmp_path, monkeypatch):
    """The cause of the abort above: Arrow's threaded CSV reader released a Python-owned input
    buffer from a worker thread, which needs the GIL, after read_csv returned; at interpreter exit
    Python kills such a thread inside a C++ destructor. Every block it gets must be Arrow's memory."""
    handed = []
    real = formats_text.pcsv.read_csv

    def spy(source, **kwargs):
        handed.append(source)
        return real(source, **kwargs)

    monkeypatch.setattr(formats_text.pcsv, "read_csv", spy)
    python_blocks = []
    real_add = formats_text._Rows.add

    def keep_block(self, block, line):
        python_blocks.append(np.frombuffer(block, dtype=np.uint8).ctypes.data)
        return real_add(self, block, line)

    monkeypatch.setattr(formats_text._Rows, "add", keep_block)
    write(glove.head(300), tmp_path / "g.txt", "glove")
    assert read(tmp_path / "g.txt", "glove").n == 300
    assert handed and python_blocks
    for source in handed:
        assert isinstance(source, pa.Buffer) and source.address not in python_blocks


def test_undecodable_bytes_refused_replaced_or_dropped(gensim_data, tmp_path, KeyedVectors):
    """gensim's pang_lee_polarity_fasttext.vec holds 5 Latin-1 bytes; gensim reads it with unicode_errors='replace'."""
    from click.testing import CliRunner

    from embspace.cli import main

    vec = gensim_data / "pang_lee_polarity_fasttext.vec"
    message = error_of(read, vec, "fasttext-vec")
    assert "line 150: not UTF-8 text (byte 0x97)" in message and "read it with encoding_errors='replace'" in message
    space = read(vec, "fasttext-vec", encoding_errors="replace")
    kv = KeyedVectors.load_word2vec_format(str(vec), unicode_errors="replace")
    assert space.ids == kv.index_to_key and "clich\ufffds" in space.ids
    np.testing.assert_allclose(space.vectors, kv.vectors, rtol=1e-6)
    assert space.info["encoding_errors"] == "replace"
    assert space.info["undecodable_bytes"] == {"pang_lee_polarity_fasttext.vec": 5}
    assert "encoding_errors" not in read(gensim_data / "lee_fasttext.vec", "fasttext-vec").info
    # ignore drops the bytes; line 150's word was nothing else, so the line has no word left
    assert "(after bytes that are not UTF-8 were dropped; try encoding_errors='replace')" in error_of(
        read, vec, "fasttext-vec", encoding_errors="ignore"
    )
    out = tmp_path / "pl.space"
    strict = CliRunner().invoke(main, ["-q", "import", str(vec), "--format", "fasttext-vec", "-o", str(out)])
    assert strict.exit_code == 1 and "read it with --encoding-errors replace" in strict.output
    assert "encoding_errors" not in strict.output and not out.exists()
    args = ["-q", "import", str(vec), "--format", "fasttext-vec", "--encoding-errors", "replace", "-o", str(out)]
    replaced = CliRunner().invoke(main, args)
    assert replaced.exit_code == 0, replaced.output
    assert (
        "note: 5 bytes that were not UTF-8 in pang_lee_polarity_fasttext.vec were replaced by U+FFFD; "
        "--encoding-errors strict refuses them"
    ) in replaced.output
    assert embspace.load(out).info["undecodable_bytes"] == {"pang_lee_polarity_fasttext.vec": 5}


def test_undecodable_labels_in_every_text_bearing_format(tmp_path):
    """Projector labels, numpy ids files and binary word2vec words are decoded by the same rule."""
    vectors = np.eye(3, dtype=np.float32)
    (tmp_path / "vecs.tsv").write_bytes(b"1\t0\t0\n0\t1\t0\n0\t0\t1\n")
    (tmp_path / "meta.tsv").write_bytes(b"id\tnote\ncaf\xe9\tna\xefve\nb\tok\nc\tok\n")
    np.save(tmp_path / "v.npy", vectors)
    (tmp_path / "v.ids.txt").write_bytes(b"caf\xe9\nb\nc\n")
    binary = tmp_path / "w.bin"
    binary.write_bytes(b"3 3\n" + b"".join(w + b" " + v.tobytes() for w, v in zip([b"caf\xe9", b"b", b"c"], vectors)))
    for path, fmt, where in [
        (tmp_path / "vecs.tsv", "tsv", "meta.tsv"),
        (tmp_path / "v.npy", "numpy", "v.ids.txt"),
        (binary, "word2vec-binary", "w.bin"),
    ]:
        assert "encoding_errors='replace'" in error_of(read, path, fmt)
        space = read(path, fmt, encoding_errors="replace")
        assert space.ids == ["caf\ufffd", "b", "c"]
        assert space.info["undecodable_bytes"] == {where: 2 if fmt == "tsv" else 1}
        assert read(path, fmt, encoding_errors="ignore").ids[0] == "caf"
    assert read(tmp_path / "vecs.tsv", "tsv", encoding_errors="replace").meta["note"][0] == "na\ufffdve"
    assert "encoding_errors must be one of strict, replace, ignore" in error_of(
        read, binary, "word2vec-binary", encoding_errors="surrogateescape"
    )


@pytest.mark.parametrize("name", ["lee_fasttext.bin", "lee_fasttext_new.bin"])  # before / since fastText 0.2
def test_fasttext_bin_keeps_its_subwords(gensim_data, tmp_path, name):
    from gensim.models.fasttext import load_facebook_vectors

    kv = load_facebook_vectors(str(gensim_data / name))
    space = read(gensim_data / name, "fasttext-bin")
    assert space.ids == kv.index_to_key and space.meta["count"][:3] == [
        kv.get_vecattr(w, "count") for w in kv.index_to_key[:3]
    ]
    np.testing.assert_allclose(space.vectors, kv.vectors, rtol=1e-6)
    # exactly what embspace.words.build(method="fasttext") stores, so unseen words get a vector
    assert space.info["subwords"] == {"min_n": 3, "max_n": 6, "buckets": 1000}
    assert space.extras["subwords"].shape == (1000, 10) and space.extras["subwords"].dtype == np.float32
    assert space.info["fasttext"]["model"] == "skipgram" and space.info["order"] == "frequency"
    assert "goverment" not in space
    np.testing.assert_allclose(space.vector("goverment"), kv["goverment"], rtol=1e-5)
    loaded = embspace.load(embspace.save(space, tmp_path / "ft.space"))
    assert loaded.neighbors("goverment", k=3) == space.neighbors("goverment", k=3)
    head = read(gensim_data / name, "fasttext-bin", limit=10)
    assert head.n == 10 and np.allclose(head.vector("goverment"), kv["goverment"], rtol=1e-5)


def test_fasttext_bin_recognised_and_refused_in_one_line(gensim_data, tiny, tmp_path):
    from click.testing import CliRunner

    from embspace.cli import main

    lee = gensim_data / "lee_fasttext.bin"
    for fmt in ("word2vec-binary", "fasttext-vec", "glove"):
        assert error_of(read, lee, fmt).endswith(f"is a fastText .bin model, not {fmt}; use format='fasttext-bin'")
    args = ["-q", "import", str(lee), "--format", "word2vec-binary", "-o", str(tmp_path / "x.space")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and result.output.strip().endswith("use --format fasttext-bin")
    write(tiny, tmp_path / "w2v.bin", "word2vec-binary")
    assert "is not a fastText .bin model" in error_of(read, tmp_path / "w2v.bin", "fasttext-bin")
    assert "supervised fastText model" in error_of(read, gensim_data / "pang_lee_polarity_fasttext.bin", "fasttext-bin")
    write_bytes(tmp_path / "cut.bin", (gensim_data / "lee_fasttext_new.bin").read_bytes()[:20_000])
    assert "the file is truncated or damaged" in error_of(read, tmp_path / "cut.bin", "fasttext-bin")
    cp852 = gensim_data / "cp852_fasttext.bin"  # its words are cp852, not UTF-8
    assert "is not UTF-8" in error_of(read, cp852, "fasttext-bin") and "encoding_errors='replace'" in error_of(
        read, cp852, "fasttext-bin"
    )
    assert "two of them become the same word" in error_of(read, cp852, "fasttext-bin", encoding_errors="replace")
    assert "(import only)" in error_of(write, tiny, tmp_path / "x.bin", "fasttext-bin")


# ---- scale --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_full_glove_through_word2vec_text(tmp_path):
    from embspace.datasets import glove_6b_50d

    space = glove_6b_50d()
    path = tmp_path / "glove.6B.50d.w2v.txt"
    started = time.perf_counter()
    write(space, path, "word2vec")
    wrote = time.perf_counter() - started
    started = time.perf_counter()
    back = read(path, "word2vec")
    took = time.perf_counter() - started
    print(f"\n400k x 50 word2vec text ({path.stat().st_size / 1e6:.0f} MB): write {wrote:.2f} s, read {took:.2f} s")
    assert back.ids == space.ids
    np.testing.assert_allclose(back.vectors, space.vectors, rtol=1e-6, atol=1e-6)
    assert back.info["source"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("fmt", ["word2vec", "fasttext-vec", "word2vec-binary"])
def test_header_with_a_huge_number_is_refused(tmp_path, fmt):
    path = write_bytes(tmp_path / "h.vec", b"1" * 100_000 + b" 5\na 1 2 3 4 5\n")
    with pytest.raises(FormatError, match="a number of 100,000 digits"):
        read(path, fmt)
    wide = write_bytes(tmp_path / "w.vec", b"2 20000\n")
    with pytest.raises(FormatError, match="20000 dimensions .the header says so.; more than the 10,000 allowed"):
        read(wide, fmt)


@pytest.mark.parametrize("fmt, head", [("glove", b"w "), ("tsv", b"")])
def test_row_wider_than_max_dim_is_refused_from_a_prefix(tmp_path, fmt, head):
    sep = b"\t" if fmt == "tsv" else b" "
    name = "vecs.tsv" if fmt == "tsv" else "g.txt"
    if fmt == "tsv":
        (tmp_path / "meta.tsv").write_text("w\n")
    path = write_bytes(tmp_path / name, head + sep.join([b"0.5"] * 5000) + b"\n")
    with pytest.raises(FormatError, match=r"line 1: \d+\+ dimensions; more than the 8 allowed.*max_dim=N"):
        read(path, fmt, max_dim=8)
    with pytest.raises(FormatError, match="line 1: 9 dimensions; more than the 8 allowed"):
        read(write_bytes(path, head + sep.join([b"0.5"] * 9) + b"\n"), fmt, max_dim=8)
    assert read(path, fmt, max_dim=9).dim == 9
    with pytest.raises(FormatError, match="max_dim must be a positive whole number"):
        read(path, fmt, max_dim=0)


def test_cli_max_dim(tmp_path):
    from click.testing import CliRunner

    from embspace.cli import main

    path = write_bytes(tmp_path / "g.txt", b"w " + b" ".join([b"0.5"] * 12) + b"\n")
    out = CliRunner().invoke(
        main, ["-q", "import", str(path), "--format", "glove", "--max-dim", "10", "-o", str(tmp_path / "a.space")]
    )
    assert out.exit_code == 1 and "raise the cap with --max-dim N" in out.output
    out = CliRunner().invoke(
        main, ["-q", "import", str(path), "--format", "glove", "--max-dim", "12", "-o", str(tmp_path / "b.space")]
    )
    assert out.exit_code == 0 and embspace.load(tmp_path / "b.space").dim == 12


def test_fasttext_bin_settings_beyond_the_file_are_refused(gensim_data, tmp_path):
    import struct

    data = bytearray((gensim_data / "lee_fasttext_new.bin").read_bytes())
    assert struct.unpack_from("<i", data)[0] == 793712314  # magic, version, then dim ... bucket (the 9th int)
    hostile = tmp_path / "hostile.bin"
    struct.pack_into("<i", data, 8 + 8 * 4, 2**31 - 1)
    hostile.write_bytes(bytes(data))
    assert "2,147,483,647 sub-word buckets of 10 dimensions, more than its" in error_of(read, hostile, "fasttext-bin")
    assert "10 dimensions; more than the 5 allowed" in error_of(
        read, gensim_data / "lee_fasttext_new.bin", "fasttext-bin", max_dim=5
    )


# ---- the Embedding Projector's sprite for a space of images (issue 13) ---------------------------------
def _export(*args):
    from click.testing import CliRunner

    from embspace.cli import main

    return CliRunner().invoke(main, ["-q", "export", *map(str, args)])


def test_tsv_export_of_images_writes_the_projector_sprite_and_config(tmp_path):
    import json

    from PIL import Image

    from _thumbspace import image_space, picture_of

    path = embspace.save(image_space(100), tmp_path / "digits.space")
    out = tmp_path / "projector" / "vecs.tsv"
    result = _export(path, "--format", "tsv", "-o", out)
    assert result.exit_code == 0, result.output
    folder = out.parent
    names = {"vecs.tsv", "meta.tsv", "sprite.png", "projector_config.json", "projector_config.pbtxt"}
    assert {p.name for p in folder.iterdir()} == names
    sheet = np.asarray(Image.open(folder / "sprite.png").convert("RGB"))
    assert sheet.shape == (320, 320, 3)  # 10 x 10 tiles of 32 px, in row order
    for row in (0, 1, 37, 98):
        tile = sheet[(row // 10) * 32 : (row // 10 + 1) * 32, (row % 10) * 32 : (row % 10 + 1) * 32]
        assert np.array_equal(tile, picture_of(100, row)), row
    assert (sheet[9 * 32 :, 9 * 32 :] == 255).all()  # the last row has no thumbnail: a blank tile
    config = json.loads((folder / "projector_config.json").read_text())["embeddings"][0]
    assert config == {
        "tensorName": "digits",
        "tensorShape": [100, 64],
        "tensorPath": "vecs.tsv",
        "metadataPath": "meta.tsv",
        "sprite": {"imagePath": "sprite.png", "singleImageDim": [32, 32]},
    }
    text = (folder / "projector_config.pbtxt").read_text()
    assert 'image_path: "sprite.png"' in text and text.count("single_image_dim: 32") == 2
    assert len((folder / "meta.tsv").read_text().splitlines()) == 101
    # --force covers the new files: a sprite left there is not replaced without it
    for name in ("vecs.tsv", "meta.tsv", "projector_config.json", "projector_config.pbtxt"):
        (folder / name).unlink()
    (folder / "sprite.png").write_bytes(b"keep")
    blocked = _export(path, "--format", "tsv", "-o", out)
    assert blocked.exit_code != 0 and "sprite.png exists; pass --force" in blocked.output
    assert (folder / "sprite.png").read_bytes() == b"keep" and not out.exists()
    assert _export(path, "--format", "tsv", "-o", out, "--force").exit_code == 0
    assert Image.open(folder / "sprite.png").size == (320, 320)
    # the library writes the same files; a space without thumbnails only the two
    assert len(write(embspace.load(path), tmp_path / "again", "tsv")) == 5
    plain = Space(["a", "b"], np.eye(2, dtype=np.float32))
    assert [p.name for p in write(plain, tmp_path / "plain", "tsv")] == ["vecs.tsv", "meta.tsv"]


def test_the_sprite_shrinks_for_big_spaces_and_refuses_past_8_px(tmp_path, monkeypatch):
    from _thumbspace import image_space
    from embspace.formats import _projector

    assert _projector.sprite_tile(100, 32) == 32
    assert _projector.sprite_tile(70_000, 64) == 30  # 265 x 265 tiles of 30 px: 7,950 px a side
    assert _projector.sprite_tile(1_048_576, 64) == 8
    with pytest.raises(FormatError, match="at most 1,048,576 pictures"):
        _projector.sprite_tile(1_048_577, 64)
    path = embspace.save(image_space(100), tmp_path / "digits.space")
    monkeypatch.setattr(_projector, "MAX_SIDE", 64)  # 10 x 10 pictures would need 6 px tiles
    result = _export(path, "--format", "tsv", "-o", tmp_path / "out" / "vecs.tsv")
    assert result.exit_code != 0 and "sprite holds at most" in result.output and "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.startswith("Error")]) == 1
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_the_sprite_of_a_subset_keeps_each_rows_picture(tmp_path):
    from PIL import Image

    from _thumbspace import image_space, picture_of

    space = embspace.load(embspace.save(image_space(100), tmp_path / "digits.space"))
    rows = [50, 5, 99, 0]
    part = space.subset(np.array(rows))
    files = write(part, tmp_path / "part", "tsv")
    sheet = np.asarray(Image.open(files[2]).convert("RGB"))
    assert sheet.shape == (64, 64, 3)  # 2 x 2 tiles of 32 px
    for k, row in enumerate(rows):
        tile = sheet[(k // 2) * 32 : (k // 2 + 1) * 32, (k % 2) * 32 : (k % 2 + 1) * 32]
        assert np.array_equal(tile, picture_of(100, row) if row != 99 else np.full_like(tile, 255)), row
