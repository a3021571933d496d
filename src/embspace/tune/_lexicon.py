"""Lexicons for retrofitting: WordNet 3.0 read from its data files, or a `word neighbour ...` text file.

A lexicon here is a mapping relation -> {word: set of neighbour words}. WordNet gives the relations
``synonyms`` (the other lemmas of a word's synsets), ``hypernyms`` and ``hyponyms`` (the lemmas of the
synsets a word's synsets point to with ``@``/``@i`` and ``~``/``~i``) and ``similar`` (adjectives'
``&`` similar-to satellites). A file (Faruqui et al. 2015's format) gives one relation, ``lexicon``.

WordNet is read from Debian's ``wordnet-base`` files (``/usr/share/wordnet/data.noun`` ...), parsed
directly: no NLTK, nothing downloaded. Lemmas are lowercased, ``_`` becomes a space (multi-word lemmas
then match only a space that holds such ids) and adjective markers such as ``(a)`` are dropped.
"""

from __future__ import annotations

import functools
import gzip
import os
import re
from pathlib import Path

from ..errors import EmbspaceError

WORDNET_DIRS = ("/usr/share/wordnet", "/usr/local/share/wordnet", "/usr/share/wordnet/dict")
WORDNET_POS = ("noun", "verb", "adj", "adv")
RELATIONS = ("synonyms", "hypernyms", "hyponyms", "similar")
_POINTERS = {"@": "hypernyms", "@i": "hypernyms", "~": "hyponyms", "~i": "hyponyms", "&": "similar"}
_MARKER = re.compile(r"\((?:a|p|ip)\)$")
_MAX_LINE = 1 << 20  # a lexicon line longer than this is not a lexicon


def wordnet_dir(root: str | os.PathLike | None = None) -> Path:
    """The folder holding WordNet's ``data.noun``, ``index.noun`` ... (``$WORDNET_DIR``, or Debian's place);
    a one-line error naming the Debian package when there is none."""
    candidates = [root] if root else [os.environ.get("WORDNET_DIR"), *WORDNET_DIRS]
    for folder in filter(None, candidates):
        if all((Path(folder) / f"{kind}.{pos}").is_file() for pos in WORDNET_POS for kind in ("data", "index")):
            return Path(folder)
    where = root or "/usr/share/wordnet"
    raise EmbspaceError(
        f"WordNet 3.0 is not installed (no data.noun, index.noun ... in {where}); install it with "
        "`apt-get install wordnet-base` or give a lexicon file (`word neighbour ...` per line)"
    )


def wordnet(
    relations=("synonyms",), root: str | os.PathLike | None = None, senses: int | None = None
) -> dict[str, dict[str, set[str]]]:
    """WordNet 3.0 as a lexicon: relation -> {lemma: neighbour lemmas}, for the chosen `relations`.

    Parameters
    ----------
    relations : sequence of str
        Any of ``synonyms``, ``hypernyms``, ``hyponyms``, ``similar``.
    root : path, optional
        The folder with WordNet's ``data.*`` and ``index.*`` files; default ``$WORDNET_DIR`` or
        ``/usr/share/wordnet``.
    senses : int, optional
        Only each word's `senses` most frequent senses per part of speech (the order of WordNet's
        ``index.*`` files) give it neighbours; default all.
    """
    relations = check_relations(relations)
    if senses is not None and (isinstance(senses, bool) or not isinstance(senses, int) or senses < 1):
        raise EmbspaceError(f"--senses must be a whole number, 1 or more; got {senses!r}")
    folder = wordnet_dir(root)
    stamp = tuple((p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.glob("*.*")) if p.is_file())
    lemmas, pointers, ranked = _parsed(str(folder), stamp)
    out: dict[str, dict[str, set[str]]] = {r: {} for r in relations}
    for word, ranks in ranked:
        for synset in ranks[:senses]:
            if "synonyms" in out:
                out["synonyms"].setdefault(word, set()).update(lemmas[synset])
            for relation, target in pointers.get(synset, ()):
                if relation in out:
                    out[relation].setdefault(word, set()).update(lemmas.get(target, ()))
    for table in out.values():
        for word, neighbours in table.items():
            neighbours.discard(word)
    return {r: {w: n for w, n in table.items() if n} for r, table in out.items()}


@functools.lru_cache(maxsize=1)
def _parsed(folder: str, stamp: tuple) -> tuple[dict, dict, list]:
    """WordNet's files read once per process (and again if they change, `stamp`): synset -> lemmas,
    synset -> [(relation, target synset)], and [(lemma, its synsets most frequent first)] per part of speech."""
    lemmas: dict[str, list[str]] = {}  # "offset pos" -> lemmas
    pointers: dict[str, list[tuple[str, str]]] = {}  # "offset pos" -> [(relation, target synset)]
    for pos in WORDNET_POS:
        _read_data_file(Path(folder) / f"data.{pos}", lemmas, pointers)
    return lemmas, pointers, list(_ranked_senses(Path(folder), lemmas))


def _ranked_senses(folder: Path, lemmas: dict):
    """(lemma, its synsets most frequent first) per part of speech from ``index.POS``:
    ``lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt synset_offset...``."""
    for pos in WORDNET_POS:
        path = folder / f"index.{pos}"
        if not path.is_file():
            raise EmbspaceError(f"{path} is missing; WordNet 3.0 needs its index files too (reinstall wordnet-base)")
        with open(path, encoding="utf-8", errors="replace") as fh:
            for number, line in enumerate(fh, 1):
                if line.startswith("  "):
                    continue
                fields = line.split()
                try:
                    count, p_count = int(fields[2]), int(fields[3])
                    offsets = fields[6 + p_count : 6 + p_count + count]
                except (IndexError, ValueError):
                    raise EmbspaceError(
                        f"{path}:{number}: not a WordNet 3.0 index line; reinstall wordnet-base"
                    ) from None
                tag = "a" if fields[1] in ("a", "s") else fields[1]
                synsets = [f"{o} {tag}" for o in offsets if f"{o} {tag}" in lemmas]
                yield _lemma(fields[0]), synsets


def _read_data_file(path: Path, lemmas: dict, pointers: dict) -> None:
    """One WordNet ``data.POS`` file: ``offset lex_filenum ss_type w_cnt word lex_id ... p_cnt ptr ... | gloss``."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, 1):
            if line.startswith("  "):  # the licence at the top
                continue
            fields = line.split(" | ", 1)[0].split()
            try:
                offset, ss_type = fields[0], fields[2]
                count = int(fields[3], 16)
                words = [_lemma(fields[4 + 2 * i]) for i in range(count)]
                at = 4 + 2 * count
                p_count = int(fields[at])
                key = f"{offset} {'a' if ss_type == 's' else ss_type}"
                lemmas[key] = list(dict.fromkeys(w for w in words if w))
                links = []
                for i in range(p_count):
                    symbol, target, target_pos = fields[at + 1 + 4 * i : at + 4 + 4 * i]
                    relation = _POINTERS.get(symbol)
                    if relation:
                        links.append((relation, f"{target} {'a' if target_pos == 's' else target_pos}"))
                pointers[key] = links
            except (IndexError, ValueError):
                raise EmbspaceError(f"{path}:{number}: not a WordNet 3.0 data line; reinstall wordnet-base") from None


def _lemma(word: str) -> str:
    return _MARKER.sub("", word).lower().replace("_", " ")


def check_relations(relations) -> tuple[str, ...]:
    """The relations as a tuple, each one WordNet gives; a one-line error for any other."""
    if isinstance(relations, str):
        relations = [r.strip() for r in relations.split(",") if r.strip()]
    relations = tuple(dict.fromkeys(relations))
    unknown = [r for r in relations if r not in RELATIONS]
    if unknown or not relations:
        what = f"unknown WordNet relation {unknown[0]!r}" if unknown else "no WordNet relation given"
        raise EmbspaceError(f"{what}; choose from {', '.join(RELATIONS)} (comma-separated)")
    return relations


def read_lexicon(path: str | os.PathLike) -> dict[str, dict[str, set[str]]]:
    """A lexicon file (Faruqui et al.'s format): one ``word neighbour neighbour ...`` line per word, separated by
    spaces or tabs, UTF-8, optionally gzipped; ``#`` comments and blank lines skipped. Words are lowercased.

    Returns ``{"lexicon": {word: neighbours}}``. A file that is not such text (binary, JSON, a table of
    scores, lines of one word only) is refused in one line.
    """
    path = Path(path)
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise EmbspaceError(f"lexicon {str(path)!r} {what}; give `wordnet` or a `word neighbour ...` file")
    table: dict[str, set[str]] = {}
    numeric = lines = 0
    with _open_text(path) as fh:
        try:
            for number, line in enumerate(fh, 1):
                if len(line) > _MAX_LINE or "\x00" in line:
                    raise _unknown_format(path, f"line {number} is binary or over 1 MiB")
                words = line.split()
                if not words or words[0].startswith("#"):
                    continue
                if number == 1 and words[0][:1] in "{[<":
                    raise _unknown_format(path, "it looks like JSON or markup")
                lines += 1
                if len(words) < 2:
                    continue
                numeric += any(_is_number(w) for w in words[1:])
                table.setdefault(words[0].lower(), set()).update(
                    w.lower() for w in words[1:] if w.lower() != words[0].lower()
                )
        except UnicodeDecodeError:
            raise _unknown_format(path, "it is not UTF-8 text") from None
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise _unknown_format(path, f"it cannot be read ({exc})") from None
    if not any(table.values()):
        raise _unknown_format(path, f"none of its {lines:,} lines names a word and a neighbour")
    if numeric > lines / 2:
        raise _unknown_format(path, "most lines hold numbers (word-pair scores or vectors?), not neighbour words")
    return {"lexicon": {w: n for w, n in table.items() if n}}


def _open_text(path: Path):
    with open(path, "rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
    if gzipped:
        return gzip.open(path, "rt", encoding="utf-8", newline=None)
    return open(path, encoding="utf-8", newline=None)


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def _unknown_format(path: Path, why: str) -> EmbspaceError:
    return EmbspaceError(
        f"{path} is not a lexicon in a known format ({why}); expected one `word neighbour neighbour ...` line "
        "per word, or `wordnet`"
    )
