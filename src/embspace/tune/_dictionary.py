"""Bilingual dictionaries for alignment: FreeDict (dictd ``.index`` + ``.dict.dz``) and plain pair files.

A dictionary is a list of ``(source word, target word)`` pairs. FreeDict entries give a headword and
numbered senses of comma-separated translations; one-word headwords and one-word translations are
kept (multi-word ones are counted and skipped). A pair file holds ``source target`` per line,
separated by a tab or spaces.
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import EmbspaceError, FormatError

_B64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
_SENSE = re.compile(r"^\s*\d+\.\s*")
_NOTE = re.compile(r"\([^)]*\)|\[[^\]]*\]|<[^>]*>")
_WORD = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)  # one word: letters first, no spaces


@dataclass
class Dictionary:
    """Pairs read from one or more files, with what was skipped."""

    pairs: list[tuple[str, str]] = field(default_factory=list)
    sources: list[dict] = field(default_factory=list)  # per file: path, format, reversed, pairs, skipped

    def add(self, other: Dictionary) -> None:
        seen = set(self.pairs)
        self.pairs.extend(p for p in other.pairs if p not in seen and not seen.add(p))
        self.sources.extend(other.sources)


def read_dictionary(path: str | os.PathLike, *, reverse: bool = False, max_translations: int = 0) -> Dictionary:
    """Read a FreeDict dictionary (its ``.index`` or ``.dict.dz`` path, or the name without them) or a
    pair file. `reverse` swaps every pair (a ``fra-eng`` dictionary used for English -> French).
    `max_translations` keeps only the first N one-word translations of each FreeDict headword (0: all)."""
    p = Path(path)
    freedict = _freedict_files(p)
    if freedict:
        pairs, counts = _read_freedict(*freedict, max_translations)
        fmt = "freedict"
        shown = freedict[0]
    else:
        if not p.exists():
            raise EmbspaceError(f"{p}: no such dictionary (a FreeDict .index/.dict.dz or a `source target` file)")
        pairs, counts = _read_pairs(p)
        fmt = "pairs"
        shown = p
    if reverse:
        pairs = [(b, a) for a, b in pairs]
    unique = list(dict.fromkeys(pairs))
    record = {"path": str(shown), "format": fmt, "reversed": reverse, "pairs": len(unique), **counts}
    return Dictionary(unique, [record])


def _freedict_files(p: Path) -> tuple[Path, Path] | None:
    name = str(p)
    for suffix in (".index", ".dict.dz", ".dict"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    index = Path(name + ".index")
    for data in (Path(name + ".dict.dz"), Path(name + ".dict")):
        if index.is_file() and data.is_file():
            return index, data
    return None


def _b64(text: str, where: Path) -> int:
    value = 0
    for c in text:
        if c not in _B64:
            raise FormatError(f"{where}: {text!r} is not a dictd base64 number")
        value = value * 64 + _B64[c]
    return value


def _read_freedict(index: Path, data_path: Path, max_translations: int) -> tuple[list[tuple[str, str]], dict]:
    try:
        data = gzip.open(data_path).read() if data_path.suffix == ".dz" else data_path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise FormatError(f"{data_path}: not a dictzip/gzip file ({exc})") from None
    pairs: list[tuple[str, str]] = []
    counts = {"entries": 0, "multi_word_headwords": 0, "multi_word_translations": 0}
    for number, line in enumerate(index.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        parts = line.split("\t")
        if len(parts) != 3:
            raise FormatError(f"{index}, line {number}: expected headword<TAB>offset<TAB>length")
        head, offset, length = parts[0], _b64(parts[1], index), _b64(parts[2], index)
        if head.startswith("00database") or head.startswith("00-database"):
            continue
        counts["entries"] += 1
        if not _WORD.fullmatch(head.strip()):
            counts["multi_word_headwords"] += 1
            continue
        body = data[offset : offset + length].decode("utf-8", errors="replace")
        words, multi = _translations(body)
        counts["multi_word_translations"] += multi
        if max_translations:
            words = words[:max_translations]
        pairs.extend((head.strip(), w) for w in words)
    return pairs, counts


def _translations(body: str) -> tuple[list[str], int]:
    """The one-word translations of a FreeDict entry in order, and how many multi-word ones were skipped."""
    words, multi = [], 0
    for line in body.splitlines()[1:]:  # the first line is the headword, its pronunciation and part of speech
        line = _NOTE.sub(" ", _SENSE.sub("", line)).strip()
        if not line or line.startswith(("Note:", "Synonym", "see:", "Antonym")):
            continue
        for piece in re.split(r"[,;]", line):
            piece = piece.strip()
            if not piece:
                continue
            if _WORD.fullmatch(piece):
                words.append(piece)
            else:
                multi += 1
    return list(dict.fromkeys(words)), multi


def _read_pairs(path: Path) -> tuple[list[tuple[str, str]], dict]:
    pairs, skipped, first_bad = [], 0, None
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t") if "\t" in line else line.split()
        fields = [f.strip() for f in fields if f.strip()]
        if len(fields) != 2:
            skipped += 1
            first_bad = first_bad or number
            continue
        pairs.append((fields[0], fields[1]))
    if not pairs:
        raise FormatError(f"{path}: no `source target` pairs (one pair per line, tab or space separated)")
    return pairs, {"lines_skipped": skipped, **({"first_skipped_line": first_bad} if first_bad else {})}


def keep_known(pairs: list[tuple[str, str]], source, target, shown: int = 5) -> tuple[list[tuple[str, str]], dict]:
    """The pairs whose source word is in `source` and target word in `target` (Spaces or id sets).

    Returns the kept pairs and a report: pairs read, kept, dropped, a few unknown source and target
    words. No pair left is an error that says so.
    """
    src = source if isinstance(source, (set, frozenset, dict)) else set(source.ids)
    tgt = target if isinstance(target, (set, frozenset, dict)) else set(target.ids)
    kept = [(a, b) for a, b in pairs if a in src and b in tgt]
    unknown_src = list(dict.fromkeys(a for a, _ in pairs if a not in src))
    unknown_tgt = list(dict.fromkeys(b for _, b in pairs if b not in tgt))
    report = {
        "pairs": len(pairs),
        "kept": len(kept),
        "dropped": len(pairs) - len(kept),
        "coverage": round(len(kept) / len(pairs), 4) if pairs else 0.0,
        "unknown_source_words": len(unknown_src),
        "unknown_target_words": len(unknown_tgt),
        "unknown_source_examples": unknown_src[:shown],
        "unknown_target_examples": unknown_tgt[:shown],
    }
    if not kept:
        raise EmbspaceError(
            f"none of the dictionary's {len(pairs):,} pairs has both words in the spaces "
            f"(unknown source words e.g. {', '.join(unknown_src[:3]) or '-'}; "
            f"unknown target words e.g. {', '.join(unknown_tgt[:3]) or '-'}); "
            "check the direction (--reverse) and the spaces' case"
        )
    return kept, report
