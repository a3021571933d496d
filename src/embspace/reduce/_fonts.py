"""Fonts for the PNG maps. matplotlib's own DejaVu Sans covers Latin, Greek, Cyrillic, Hebrew and
Arabic; ids in other scripts (Chinese, Japanese, Korean, Devanagari, Thai...) need installed fonts
that have their glyphs (on Debian and Ubuntu: fonts-noto-core and fonts-noto-cjk). They are found
when a picture needs them, among the fonts matplotlib knows and those fontconfig lists, and given
to matplotlib as fallbacks, which it uses glyph by glyph."""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

INSTALL_HINT = "Debian/Ubuntu: apt-get install fonts-noto-core fonts-noto-cjk"
# Scripts whose glyphs live in the Noto CJK fonts (one font for the Han, kana and Hangul blocks).
_CJK_WORDS = ("CJK", "HIRAGANA", "KATAKANA", "HANGUL", "BOPOMOFO", "IDEOGRAPHIC", "KANGXI", "HALFWIDTH", "FULLWIDTH")
# Fonts whose glyphs are placeholders (matplotlib ships Last Resort: a box for every character).
_PLACEHOLDERS = ("Last Resort",)
# Characters that draw nothing (spaces, controls, joiners): no font needs to have them.
_INVISIBLE = {"Cc", "Cf", "Cs", "Zs", "Zl", "Zp"}


@dataclass
class Fonts:
    """The font families to draw with (matplotlib's default first, then the fallbacks chosen) and
    the characters that no installed font has."""

    families: list[str]
    missing: set[str] = field(default_factory=set)

    def can_draw(self, text: str) -> bool:
        return not (self.missing and self.missing.intersection(text))


def fonts_for(texts: Iterable[str]) -> Fonts:
    """The families that draw every character of `texts` that some installed font has.

    matplotlib's default sans-serif font comes first; each further family is added only for
    characters the ones before it lack (fewest fonts, script-matching Noto fonts preferred).
    """
    from matplotlib import font_manager

    default = font_manager.findfont(font_manager.FontProperties(), fallback_to_default=True)
    families = [font_manager.get_font(default).family_name]
    need = {ch for text in texts for ch in str(text) if unicodedata.category(ch) not in _INVISIBLE}
    need -= _charmap(default)
    if not need:
        return Fonts(families)
    for name, path in _candidates(need):
        has = need & _charmap(path)
        if has:
            families.append(name)
            need -= has
            if not need:
                break
    return Fonts(families, need)


def _script(ch: str) -> str:
    """A word that names the script of `ch` ("CJK", "ARABIC", "DEVANAGARI"...), or ""."""
    name = unicodedata.name(ch, "")
    first = name.split(" ", 1)[0]
    return "CJK" if first in _CJK_WORDS else first


def _candidates(need: set[str]) -> list[tuple[str, str]]:
    """(family, file) of every installed regular font, best first for the characters in `need`:
    fonts named after one of their scripts, then Noto, then plain sans-serif faces, then the rest;
    among the CJK faces the one of the language the characters suggest."""
    scripts = {_script(ch).lower() for ch in need} - {""}
    names = {unicodedata.name(ch, "").split(" ", 1)[0] for ch in need}
    region = "jp" if names & {"HIRAGANA", "KATAKANA"} else "kr" if "HANGUL" in names else "sc"
    ranked = []
    for name, path in _regular_fonts().items():
        low = name.lower()
        words = low.split()
        ranked.append(
            (
                not any(s in low for s in scripts),
                "noto" not in low,
                "sans" not in words,
                bool({"mono", "ui", "display", "looped", "bold", "regular"} & set(words)),
                "cjk" in words and region not in words,
                len(name),
                name,
                path,
            )
        )
    ranked.sort()
    return [(r[-2], r[-1]) for r in ranked]


@functools.lru_cache(maxsize=1)
def _regular_fonts() -> dict[str, str]:
    """family -> file of one upright regular face per family, from matplotlib's font list plus the
    system fonts it has not seen (installed after its font cache was written)."""
    from matplotlib import font_manager

    manager = font_manager.fontManager
    known = {entry.fname for entry in manager.ttflist}
    try:
        system = font_manager.findSystemFonts()
    except Exception:  # noqa: BLE001 - an unusual font folder must not stop a picture
        system = []
    for path in system:
        if path not in known:
            try:
                manager.addfont(path)
            except Exception:  # noqa: BLE001 - an unreadable font file is skipped
                continue
    best: dict[str, tuple[int, str]] = {}
    for entry in manager.ttflist:
        if entry.style != "normal" or entry.name.startswith(_PLACEHOLDERS):
            continue
        weight = entry.weight if isinstance(entry.weight, int) else 400
        score = abs(weight - 400) + (0 if entry.stretch == "normal" else 50)
        if entry.name not in best or score < best[entry.name][0]:
            best[entry.name] = (score, entry.fname)
    return {name: path for name, (_, path) in best.items()}


@functools.lru_cache(maxsize=256)
def _charmap(path: str) -> frozenset[str]:
    """The characters the font file `path` has glyphs for."""
    from matplotlib import font_manager

    try:
        return frozenset(chr(c) for c in font_manager.get_font(path).get_charmap())
    except Exception:  # noqa: BLE001 - an unreadable font has no characters
        return frozenset()
