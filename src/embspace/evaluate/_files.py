"""Evaluation files: the built-in sets shipped in ``embspace/data`` and reading any file line by line."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from ..errors import EmbspaceError

BUILTIN = {
    "ws353": "wordsim353.tsv",
    "simlex999": "simlex999.txt",
    "men": "men.txt",
    "google": "questions-words.txt",
}
PAIR_SETS = ("ws353", "simlex999", "men")
ANALOGY_SETS = ("google",)


def builtin_path(name: str) -> Path:
    """Path of a built-in evaluation file (``ws353``, ``simlex999``, ``men`` or ``google``)."""
    try:
        filename = BUILTIN[name]
    except (KeyError, TypeError):
        raise EmbspaceError(
            f"unknown built-in evaluation set {name!r}; choose one of {', '.join(BUILTIN)} or give a file path"
        ) from None
    return Path(str(resources.files("embspace").joinpath("data", filename)))


def resolve(path_or_name: str | os.PathLike) -> tuple[str, Path]:
    """(default result name, file path) for a built-in set name or a file path."""
    if isinstance(path_or_name, str) and path_or_name in BUILTIN:
        return path_or_name, builtin_path(path_or_name)
    path = Path(path_or_name)
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise EmbspaceError(
            f"evaluation file {str(path)!r} {what}; give a file path or a built-in set ({', '.join(BUILTIN)})"
        )
    return path.stem, path


def read_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of each line that is not blank and not a ``#`` comment.

    UTF-8 (a byte-order mark is dropped); LF or CRLF line ends; surrounding whitespace stripped.
    """
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise EmbspaceError(f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    except OSError as exc:
        raise EmbspaceError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    out = []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.strip()
        if line and not line.startswith("#"):
            out.append((number, line))
    return out


def malformed(path: Path, number: int, line: str, expected: str) -> EmbspaceError:
    shown = line if len(line) <= 60 else line[:57] + "..."
    return EmbspaceError(f"{path}:{number}: expected {expected}, got {shown!r}")
