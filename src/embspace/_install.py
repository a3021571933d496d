"""How to install an optional part of embspace, said so that it works here: embspace is not on PyPI.

Error messages about a missing extra call `install_hint("texts")` rather than spelling a command: from
a checkout (an editable install) it names that checkout, which works from any folder.
"""

from __future__ import annotations

import shlex
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def checkout() -> Path | None:
    """The embspace source checkout this package runs from (an editable install), or None."""
    root = Path(__file__).resolve().parents[2]  # <root>/src/embspace/_install.py
    try:
        project = (root / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return None
    return root if 'name = "embspace"' in project else None


def install_hint(extra: str) -> str:
    """The command that installs the optional dependencies `extra` (texts, explore, gensim, glove, ...).

    >>> install_hint("texts")  # doctest: +SKIP
    "pip install -e '/home/me/embspace[texts]'"
    """
    root = checkout()
    if root is None:
        return f"pip install -e '.[{extra}]' in the embspace checkout"
    return f"pip install -e {shlex.quote(f'{root}[{extra}]')}"
