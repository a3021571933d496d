"""MediaWiki XML dumps: stream the articles and strip wiki markup to one paragraph per line.

Only main-namespace pages that are not redirects are read. The markup stripper is a handful of
regular expressions plus a bracket counter for nested templates and tables; it keeps the prose
and link labels and drops templates, tables, references, files, categories, tags and URLs.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import BinaryIO

from ..errors import EmbspaceError

_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
# tags whose content is not prose: references, maths, galleries, code, timelines…
_DROPPED_TAGS = (
    "ref|math|chem|ce|gallery|timeline|score|syntaxhighlight|source|pre|code|nowiki|"
    "graph|mapframe|maplink|imagemap|templatedata|references|hiero|inputbox|poem"
)
_DROPPED = re.compile(rf"<({_DROPPED_TAGS})\b[^>]*?(?:/>|>.*?</\1\s*>)", re.S | re.I)
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
# an innermost [[link]]: it may hold single brackets ("Bicyclo[1.1.0]butane") but no [[ or ]]
_LINK = re.compile(r"\[\[((?:[^\[\]]|\[(?!\[)|\](?!\])|\](?=\]\]))*)\]\]")
_EXTERNAL = re.compile(r"\[(?:https?:|ftp:)?//[^\s\]]*\s*([^\]]*)\]")
_URL = re.compile(r"(?:https?|ftp)://\S+")
_EMPHASIS = re.compile(r"'{2,}")
_HEADING = re.compile(r"^=+\s*(.*?)\s*=+\s*$", re.M)
_LIST_MARK = re.compile(r"^[*#:;]+\s*", re.M)
_MAGIC = re.compile(r"__[A-Z]+__")
_TEMPLATE_MARKS = re.compile(r"\{\{|\}\}")
_TABLE_MARKS = re.compile(r"\{\||\|\}")
_DROPPED_LINKS = {
    "file",
    "image",
    "media",
    "category",
    "wikipedia",
    "wp",
    "template",
    "help",
    "portal",
    "special",
    "user",
    "talk",
}
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:-[a-z]{2,8})*|simple")


def read_wiki(stream: BinaryIO, name: str) -> Iterator[tuple[list[str], bool]]:
    """Batches of paragraphs, one batch per article, from a (decompressed) MediaWiki dump."""
    root = None
    try:
        for event, elem in ET.iterparse(stream, events=("start", "end")):
            if root is None:
                root = elem
            if event != "end" or not elem.tag.endswith("page"):
                continue
            paragraphs = _article(elem)
            root.clear()  # drop the finished page so memory stays flat
            if paragraphs:
                yield paragraphs, False
    except ET.ParseError as exc:
        raise EmbspaceError(f"{name} is not a well-formed MediaWiki XML dump ({exc})") from None


def _article(page: ET.Element) -> list[str]:
    if page.findtext("{*}ns", "0").strip() != "0" or page.find("{*}redirect") is not None:
        return []
    text = page.findtext("{*}revision/{*}text") or ""
    if text[:9].upper() == "#REDIRECT":
        return []
    return paragraphs(text)


def paragraphs(markup: str) -> list[str]:
    """The prose of one article's wikitext, one paragraph (or heading) per item."""
    text = strip_markup(markup)
    out = []
    for line in text.split("\n"):
        line = " ".join(line.split())
        if line and line[0] not in "|!{}":
            out.append(line)
    return out


def strip_markup(markup: str) -> str:
    """Wikitext to plain text; lines are kept, so paragraphs stay on their own lines."""
    text = _COMMENT.sub("", markup)
    text = _DROPPED.sub(" ", text)
    text = _strip_nested(text, "{{", "}}", _TEMPLATE_MARKS)
    text = _strip_nested(text, "{|", "|}", _TABLE_MARKS)
    text = _TAG.sub(" ", text)
    for _ in range(8):  # innermost links first: captions of file links hold links
        new = _LINK.sub(_link_label, text)
        if new == text:
            break
        text = new
    text = html.unescape(text)  # after tags are gone, so an escaped "&lt;" stays text
    text = _EXTERNAL.sub(r"\1", text)
    text = _URL.sub("", text)
    text = _EMPHASIS.sub("", text)
    text = _HEADING.sub(r"\1", text)
    text = _LIST_MARK.sub("", text)
    return _MAGIC.sub("", text)


def _strip_nested(text: str, opener: str, closer: str, marks: re.Pattern) -> str:
    """Remove every balanced opener…closer span, nested ones included; an unclosed opener is dropped
    by itself so the text after it survives."""
    if opener not in text:
        return text
    out, depth, start, outer = [], 0, 0, 0
    for mark in marks.finditer(text):
        if mark.group() == opener:
            if depth == 0:
                out.append(text[start : mark.start()])
                outer = mark.end()
            depth += 1
        elif depth:
            depth -= 1
            if depth == 0:
                start = mark.end()
    out.append(text[outer:] if depth else text[start:])
    return "".join(out)


def _link_label(match: re.Match) -> str:
    target, _, label = match.group(1).partition("|")
    target = target.strip().lstrip(":")
    prefix, colon, _ = target.partition(":")
    prefix = prefix.strip().lower()
    if colon and (prefix in _DROPPED_LINKS or _LANGUAGE.fullmatch(prefix)):
        return ""
    if "|" in label:  # a link with more parameters: its label is the last one
        label = label.rsplit("|", 1)[1]
    return label or target
