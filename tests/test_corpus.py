"""Corpus readers, the tokenizer and the vocabulary: every input kind, on tiny real data."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import importlib.util
import lzma
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from embspace.errors import EmbspaceError
from embspace.words import Corpus, Tokenizer, Vocab

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "data" / "corpora"
_GENSIM = importlib.util.find_spec("gensim")  # its wheel ships real, shortened Wikipedia dumps
GENSIM_DATA = Path(_GENSIM.origin).parent / "test" / "test_data" if _GENSIM else Path("/nonexistent")
WIKI_DUMP = GENSIM_DATA / "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"

TEXT = "The cat sat on the mat.\n\nThe dog ate the cat's food!\n   \nA third line, with the end\n"
SENTENCES = [
    ["the", "cat", "sat", "on", "the", "mat"],
    ["the", "dog", "ate", "the", "cat's", "food"],
    ["a", "third", "line", "with", "the", "end"],
]


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


# ---- tokenizer ---------------------------------------------------------------------------------
def test_tokenizer_unicode():
    tokens = Tokenizer()("Café naïve — Straße's x-ray 3.5 1,000 __init__ ___ ’quoted’ don’t")
    assert tokens == ["café", "naïve", "strasse's", "x-ray", "3.5", "1,000", "init", "quoted", "don’t"]


def test_tokenizer_normalises_combining_accents():
    assert Tokenizer()("Cafe\u0301") == ["café"]


def test_tokenizer_lowercase_off_and_min_length():
    assert Tokenizer(lowercase=False)("The Straße, OK") == ["The", "Straße", "OK"]
    assert Tokenizer(min_length=3)("a an the cats") == ["the", "cats"]


def test_tokenizer_settings_round_trip():
    tok = Tokenizer(lowercase=False, pattern=r"\S+", min_length=2)
    assert Tokenizer.from_dict(tok.to_dict()) == tok
    assert tok.to_dict()["pattern"] == r"\S+"


@pytest.mark.parametrize("pattern", [r"(\w+)", r"[unclosed"])
def test_tokenizer_refuses_bad_patterns(pattern):
    with pytest.raises(EmbspaceError, match="pattern"):
        Tokenizer(pattern=pattern)


# ---- input kinds -------------------------------------------------------------------------------
def test_text_file_and_texts(tmp_path):
    corpus = Corpus(write(tmp_path / "a.txt", TEXT))
    assert list(corpus) == SENTENCES
    assert list(corpus.texts()) == [
        "The cat sat on the mat.",
        "The dog ate the cat's food!",
        "A third line, with the end",
    ]
    assert corpus.count_tokens() == 18
    assert corpus.total_bytes == len(TEXT)


def test_crlf_and_bom(tmp_path):
    path = write(tmp_path / "crlf.txt", b"\xef\xbb\xbf" + TEXT.replace("\n", "\r\n").encode())
    corpus = Corpus(path)
    assert list(corpus) == SENTENCES
    assert not any("\r" in line or "\ufeff" in line for line in corpus.texts())


@pytest.mark.parametrize("suffix, compress", [(".gz", gzip.compress), (".bz2", bz2.compress), (".xz", lzma.compress)])
def test_compressed_text(tmp_path, suffix, compress):
    corpus = Corpus(write(tmp_path / f"a.txt{suffix}", compress(TEXT.encode())))
    assert list(corpus) == SENTENCES
    assert corpus.describe()["files"][0]["kind"] == "text+" + suffix[1:]


def test_kind_comes_from_the_bytes_not_the_name(tmp_path):
    corpus = Corpus(write(tmp_path / "misnamed.txt", gzip.compress(TEXT.encode())))
    assert list(corpus) == SENTENCES


def test_folder_recursive_sorted_hidden_skipped(tmp_path):
    write(tmp_path / "b" / "2.txt", "two")
    write(tmp_path / "a.txt", "one")
    write(tmp_path / "b" / "10.txt.gz", gzip.compress(b"three"))
    write(tmp_path / ".hidden.txt", "hidden")
    write(tmp_path / ".git" / "config", "hidden too")
    corpus = Corpus(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in corpus.paths] == ["a.txt", "b/10.txt.gz", "b/2.txt"]
    assert list(corpus) == [["one"], ["three"], ["two"]]


def test_many_paths_are_read_in_order(tmp_path):
    a, b = write(tmp_path / "a.txt", "alpha"), write(tmp_path / "b.txt", "beta")
    assert list(Corpus([b, str(a)])) == [["beta"], ["alpha"]]


def test_zip_members(tmp_path):
    path = tmp_path / "c.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("docs/", "")
        zf.writestr("docs/b.txt", "bee")
        zf.writestr("docs/a.txt", "ay\r\nay")
        zf.writestr("docs/NOTES", "notes")
        zf.writestr("docs/picture.png", b"\x89PNG\x00\x00")
        zf.writestr("docs/.hidden.txt", "hidden")
        zf.writestr("__MACOSX/docs/._a.txt", b"\x00\x05")
    corpus = Corpus(path)
    assert corpus.sources[0].members == ("docs/NOTES", "docs/a.txt", "docs/b.txt")
    assert list(corpus) == [["notes"], ["ay"], ["ay"], ["bee"]]
    assert corpus.describe()["files"][0]["members"] == 3


def test_nltk_zips(tmp_path):
    corpus = Corpus(CORPORA / "inaugural.zip", encoding_errors="replace")
    assert len(corpus.sources[0].members) == 60  # 59 speeches and the README
    sentences = list(corpus)
    assert sum(map(len, sentences)) > 130_000
    assert ["fellow-citizens", "of", "the", "senate", "and", "of", "the", "house", "of", "representatives"] in sentences
    assert Corpus(CORPORA / "movie_reviews.zip").sources[0].members[0] == "movie_reviews/README"


def test_not_utf8_member_of_a_real_zip_is_named():
    # NLTK's inaugural.zip has one speech with bytes that are not UTF-8
    with pytest.raises(EmbspaceError, match=r"inaugural\.zip:inaugural/2005-Bush\.txt is not UTF-8") as err:
        Corpus(CORPORA / "inaugural.zip").count_tokens()
    assert "\n" not in str(err.value)


@pytest.mark.skipif(not WIKI_DUMP.exists(), reason="gensim's test data is not installed")
def test_wikipedia_dump():
    corpus = Corpus(WIKI_DUMP)  # .bz2 without .xml in the name: sniffed
    assert corpus.describe()["files"][0]["kind"] == "wiki+bz2"
    texts = []
    for text in corpus.texts():
        texts.append(text)
        if len(texts) == 400:
            break
    assert texts[0].startswith("Anarchism is a political philosophy that advocates self-governed societies")
    joined = "\n".join(texts)
    for markup in ("{{", "}}", "[[", "]]", "<ref", "&lt;", "&quot;", "'''", "http", "{|", "Category:"):
        assert markup not in joined, markup
    assert "Computer accessibility" not in joined  # the first page is a redirect
    assert ["etymology", "and", "terminology"] in [Tokenizer()(t) for t in texts]


WIKI_XML = """<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/">
  <siteinfo><sitename>Test</sitename></siteinfo>
  <page><title>Cat</title><ns>0</ns><id>1</id><revision><text xml:space="preserve">\
{{Infobox animal|name={{nested|x}}|image=cat.jpg}}
'''The cat''' is a [[mammal|small mammal]].&lt;ref name="a"&gt;A {{cite|b}} ref&lt;/ref&gt; \
It likes [[fish]]es.&lt;ref name="b"/&gt;&lt;!-- hidden --&gt;

== Behaviour ==
[[File:Cat.jpg|thumb|A [[cat]] sleeping [left]]]
{| class="wikitable"
|-
| table || cells
|}
* See [http://example.org the site] or http://example.org/bare&amp;nbsp;now.
[[Category:Animals]]
[[de:Katze]]</text></revision></page>
  <page><title>Talk:Cat</title><ns>1</ns><id>2</id><revision><text>talk page</text></revision></page>
  <page><title>Kitty</title><ns>0</ns><id>3</id><redirect title="Cat"/>\
<revision><text>#REDIRECT [[Cat]]</text></revision></page>
</mediawiki>
"""


@pytest.mark.skipif(not WIKI_DUMP.exists(), reason="gensim's test data is not installed")
def test_utf16_wikipedia_dump():
    corpus = Corpus(GENSIM_DATA / "bgwiki-latest-pages-articles-shortened.xml.bz2")
    assert corpus.sources[0].kind == "wiki+bz2"
    assert next(iter(corpus))[:2] == ["григорианският", "календар"]


def test_wiki_markup_is_stripped(tmp_path):
    corpus = Corpus(write(tmp_path / "dump.xml", WIKI_XML))
    assert corpus.describe()["files"][0]["kind"] == "wiki"
    assert list(corpus.texts()) == ["The cat is a small mammal. It likes fishes.", "Behaviour", "See the site or now."]


# ---- bad input ---------------------------------------------------------------------------------
def test_missing_path(tmp_path):
    with pytest.raises(EmbspaceError, match="not found"):
        Corpus(tmp_path / "nope.txt")


def test_binary_file_refused(tmp_path):
    with pytest.raises(EmbspaceError, match="a binary file, not text"):
        Corpus(write(tmp_path / "x.txt", b"abc\x00\x01\x02" * 10))
    with pytest.raises(EmbspaceError, match="a binary file, not text"):
        Corpus(write(tmp_path / "x.gz", gzip.compress(b"\x00" * 100)))


def test_binary_zip_member_refused(tmp_path):
    path = tmp_path / "c.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("data.bin.txt", b"\x00\x01" * 100)
    with pytest.raises(EmbspaceError, match=r"c\.zip:data\.bin\.txt is a binary file"):
        list(Corpus(path))


def test_bad_utf8_refused_in_one_line(tmp_path):
    path = write(tmp_path / "latin1.txt", "good line\ncaf\xe9 au lait\n".encode("latin-1"))
    with pytest.raises(EmbspaceError) as err:
        list(Corpus(path))
    message = str(err.value)
    assert "latin1.txt is not UTF-8" in message and "0xe9 near byte 13" in message
    assert "\n" not in message
    assert list(Corpus(path, encoding_errors="replace")) == [["good", "line"], ["caf", "au", "lait"]]


def test_corrupt_gzip(tmp_path):
    path = write(tmp_path / "x.gz", gzip.compress(TEXT.encode() * 1000)[:200])
    with pytest.raises(EmbspaceError, match="x.gz"):
        list(Corpus(path))


@pytest.mark.parametrize("content", ["", "\n\n  \n", "... !!! ---\n"])
def test_empty_corpus_refused(tmp_path, content):
    corpus = Corpus(write(tmp_path / "empty.txt", content))
    with pytest.raises(EmbspaceError, match="no tokens"):
        list(corpus)
    with pytest.raises(EmbspaceError, match="no tokens"):
        Vocab.build(corpus)
    with pytest.raises(EmbspaceError, match="no tokens"):
        corpus.write_line_corpus(tmp_path / "out.txt")
    assert not (tmp_path / "out.txt").exists()


def test_empty_folder_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(EmbspaceError, match="holds no files"):
        Corpus(tmp_path / "empty")


# ---- sentences ---------------------------------------------------------------------------------
def test_long_line_split(tmp_path):
    corpus = Corpus(write(tmp_path / "a.txt", "a b c d e f g\nh i"), max_sentence_length=3)
    assert list(corpus) == [["a", "b", "c"], ["d", "e", "f"], ["g"], ["h", "i"]]


def test_huge_line_is_read_in_pieces_without_losing_tokens(tmp_path):
    # a text8-like file: one line of 600k tokens (~3.9 MB), longer than the reader's line limit
    words = [f"w{i % 997}" for i in range(600_000)]
    path = write(tmp_path / "text8", " ".join(words) + "\nlast line")
    sentences = list(Corpus(path, max_sentence_length=10_000))
    assert [len(s) for s in sentences] == [10_000] * 60 + [2]
    assert sum(sentences[:-1], []) == words


def test_characters_split_across_read_blocks(tmp_path):
    text = "aé " * 400_000  # 1.6 MB: block boundaries fall inside two-byte characters
    assert Corpus(write(tmp_path / "a.txt", text)).count_tokens() == 400_000


def test_progress_counts_every_byte(tmp_path, monkeypatch):
    import embspace.words._corpus as corpus_module

    class Bar:
        def __init__(self, total, **_):
            self.total, self.n = total, 0

        def update(self, n):
            self.n += n

        def __enter__(self):
            bars.append(self)
            return self

        def __exit__(self, *exc):
            return None

    bars = []
    monkeypatch.setattr(corpus_module, "progress", Bar)
    write(tmp_path / "a.txt", TEXT)
    write(tmp_path / "b.txt.gz", gzip.compress(TEXT.encode() * 100))
    corpus = Corpus([tmp_path, CORPORA / "movie_reviews.zip"])
    corpus.count_tokens()
    assert bars[0].n == bars[0].total == corpus.total_bytes


def test_reiterable_and_line_corpus(tmp_path):
    corpus = Corpus(write(tmp_path / "a.txt.gz", gzip.compress(TEXT.encode())))
    assert list(corpus) == list(corpus) == SENTENCES
    out = corpus.write_line_corpus(tmp_path / "sub" / "line.txt")
    assert out == tmp_path / "sub" / "line.txt"
    assert out.read_text(encoding="utf-8") == "".join(" ".join(s) + "\n" for s in SENTENCES)


def test_describe_has_sizes_and_hashes(tmp_path):
    a = write(tmp_path / "a.txt", TEXT)
    b = write(tmp_path / "b.txt.bz2", bz2.compress(b"more words"))
    info = Corpus([a, b], tokenizer=Tokenizer(lowercase=False)).describe()
    assert [f["path"] for f in info["files"]] == [str(a), str(b)]
    assert [f["size"] for f in info["files"]] == [a.stat().st_size, b.stat().st_size]
    assert [f["sha256"] for f in info["files"]] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in (a, b)]
    assert [f["kind"] for f in info["files"]] == ["text", "text+bz2"]
    assert info["tokenizer"]["lowercase"] is False


def test_memory_does_not_grow_with_corpus_length(tmp_path):
    line = "the quick brown fox jumps over the lazy dog and keeps running far away\n"
    block = (line * 1000).encode()
    path = tmp_path / "big.txt"
    with open(path, "wb") as fh:
        for _ in range(30_000_000 // len(block)):
            fh.write(block)
    corpus = Corpus(path)
    tracemalloc.start()
    try:
        lines = sum(1 for _ in corpus.texts())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert lines == path.stat().st_size // len(line)
    assert peak < 20e6, f"reading a 30 MB file peaked at {peak / 1e6:.1f} MB"


# ---- vocabulary --------------------------------------------------------------------------------
def test_vocab_min_count_max_vocab_and_ties():
    sentences = [["b", "a", "c", "a"], ["c", "b", "d", "e"], ["a"]]
    vocab = Vocab.build(sentences, min_count=2)
    assert vocab.words == ["a", "b", "c"]  # a:3, then b and c tie at 2: by word
    assert vocab.counts.dtype == np.int64 and vocab.counts.tolist() == [3, 2, 2]
    assert vocab.index == {"a": 0, "b": 1, "c": 2}
    assert vocab.total == 9  # every token of the corpus
    assert Vocab.build(sentences, min_count=1, max_vocab=2).words == ["a", "b"]
    assert Vocab.build(reversed(sentences), min_count=1).words == ["a", "b", "c", "d", "e"]
    assert len(Vocab.build(sentences, min_count=10)) == 0


def test_vocab_encode_drops_oov_and_keeps_alignment():
    vocab = Vocab.build([["a", "b", "a"], ["b", "c"]], min_count=2)
    ids = list(vocab.encode([["a", "x", "b"], ["x", "y"], ["b"]]))
    assert [i.dtype for i in ids] == [np.int32] * 3
    assert [i.tolist() for i in ids] == [[0, 1], [], [1]]


def test_vocab_from_corpus(tmp_path):
    corpus = Corpus(write(tmp_path / "a.txt", TEXT))
    vocab = Vocab.build(corpus, min_count=2)
    assert vocab.words == ["the"]  # "cat" once, "cat's" once
    assert vocab.total == corpus.count_tokens() == 18
    assert [a.tolist() for a in vocab.encode(corpus)] == [[0, 0], [0, 0], [0]]


def test_vocab_refuses_bad_rules():
    with pytest.raises(EmbspaceError, match="min_count"):
        Vocab.build([["a"]], min_count=0)
    with pytest.raises(EmbspaceError, match="repeats"):
        Vocab(["a", "a"], [1, 1])


def test_build_encoded_matches_build_and_encode_in_one_pass(tmp_path, monkeypatch):
    import gc
    import os
    import tempfile

    import numpy as np

    from embspace.words import Corpus, Vocab

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    text = tmp_path / "c.txt"
    text.write_text("the cat sat on the mat\nzzz qqq\nthe dog sat\n\nthe cat ran on the mat again\n" * 50)
    corpus = Corpus([text])
    expected = Vocab.build(corpus, min_count=60, max_vocab=5)
    vocab, encoded = Vocab.build_encoded(corpus, min_count=60, max_vocab=5)
    assert vocab.words == expected.words and vocab.total == expected.total
    np.testing.assert_array_equal(vocab.counts, expected.counts)
    for _ in range(2):  # re-iterable
        got = list(encoded)
        want = list(expected.encode(corpus))
        assert len(got) == len(want) and all(np.array_equal(a, b) and a.dtype == np.int32 for a, b in zip(got, want))
    assert any(a.size == 0 for a in got)  # "zzz qqq": only unknown words, still one (empty) sentence
    folder = encoded.folder
    assert os.path.isdir(folder)
    del encoded, got
    gc.collect()
    assert not os.path.exists(folder)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(EmbspaceError, match="no tokens"):
        Vocab.build_encoded(Corpus([empty]))
    assert not [p for p in os.listdir(tmp_path) if p.startswith("embspace-ids-")]


# ---- one door for every corpus: a path, many paths, sentences in memory ----------------------------
def test_open_corpus_takes_one_path_many_paths_or_sentences(tmp_path, monkeypatch):
    from embspace.words._corpus_memory import open_corpus

    path = write(tmp_path / "a.txt", TEXT)
    monkeypatch.chdir(tmp_path)
    for one in (str(path), path, "a.txt", [str(path)], (path,)):  # never the characters of a string
        corpus = open_corpus(one)
        assert [p.resolve() for p in corpus.paths] == [path.resolve()]
        assert list(corpus) == SENTENCES
    tokens = [["The", "Cat"], ["a", "dog", ""], ["Café"]]
    assert list(open_corpus(tokens)) == [["the", "cat"], ["a", "dog"], ["café"]]  # kept, case-folded like text
    assert list(open_corpus(tokens, tokenizer=Tokenizer(lowercase=False)))[0] == ["The", "Cat"]
    texts = ["The cat sat on the mat.", "The dog ate the cat's food!", "  ", "A third line, with the end"]
    assert list(open_corpus(texts)) == SENTENCES  # strings go through the tokenizer, as file lines do
    assert list(open_corpus(iter(texts))) == SENTENCES  # a generator: one pass is enough for a build
    assert list(open_corpus(tuple(tuple(s) for s in SENTENCES))) == SENTENCES
    corpus = open_corpus(iter(tokens))
    list(corpus)
    with pytest.raises(EmbspaceError, match="generator, which can be read only once"):
        list(corpus)


@pytest.mark.parametrize(
    "source, match",
    [
        ("nope.txt", "corpus path not found: nope.txt; for sentences in memory pass lists of tokens"),
        (["nope.txt"], "corpus path not found"),
        ([], "no corpus given"),
        (42, "got int"),
        (b"the cat", "got bytes"),
        ([["the", "cat"], "a dog"], "sentence 1 is a str; the corpus began with lists of tokens"),
        ([["the", 3]], "sentence 0 holds a int"),
        ([["new york", "city"]], "join the words of a phrase with '_'"),
        ([[], [""]], "holds no tokens"),
    ],
)
def test_open_corpus_refuses_what_it_cannot_read(tmp_path, monkeypatch, source, match):
    from embspace.words._corpus_memory import open_corpus

    monkeypatch.chdir(tmp_path)
    with pytest.raises(EmbspaceError, match=match):
        list(open_corpus(source))


# ---- bytes that are not UTF-8 are counted, never dropped silently -----------------------------------
def test_undecodable_bytes_are_counted_per_file(tmp_path):
    latin1 = write(tmp_path / "latin1.txt", "café crème\nthé\n".encode("latin-1"))
    good = write(tmp_path / "utf8.txt", "café crème\nthé\n")
    member = tmp_path / "z.zip"
    with zipfile.ZipFile(member, "w") as zf:
        zf.writestr("a.txt", b"caf\xe9 \xff\xfe ok\n")
    corpus = Corpus([latin1, good, member], encoding_errors="replace")
    assert list(corpus)[:4] == [["caf", "cr", "me"], ["th"], ["café", "crème"], ["thé"]]
    assert corpus.undecodable == {str(latin1): 3, f"{member}:a.txt": 3}
    assert corpus.describe()["undecodable_bytes"] == corpus.undecodable
    ignored = Corpus(latin1, encoding_errors="ignore")
    assert list(ignored) == [["caf", "crme"], ["th"]] and ignored.undecodable == {str(latin1): 3}
    clean = Corpus(good, encoding_errors="replace")
    assert list(clean) == [["café", "crème"], ["thé"]] and clean.undecodable == {}
    assert "undecodable_bytes" not in clean.describe()
    # a legitimate U+FFFD in UTF-8 text is not a replaced byte
    assert Corpus(write(tmp_path / "fffd.txt", "a \ufffd b\n"), encoding_errors="replace").count_tokens() == 2


def test_undecodable_bytes_split_across_read_blocks_count_once(tmp_path, monkeypatch):
    from embspace.words import _corpus_read

    monkeypatch.setattr(_corpus_read, "BLOCK", 4)
    data = "abc é xyz\n".encode() + b"\xc3" + b" tail\n"  # a lone lead byte after a character split by a block
    corpus = Corpus(write(tmp_path / "a.txt", data), encoding_errors="replace")
    assert list(corpus) == [["abc", "é", "xyz"], ["tail"]] and corpus.undecodable == {str(tmp_path / "a.txt"): 1}
