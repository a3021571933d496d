"""Settings named in messages the way the caller spells them: ``meta=PATH`` in Python, ``--meta PATH`` in the CLI.

Library code that tells the user which setting fixes a problem calls `spell` instead of writing a
keyword into the message; the command line runs every verb inside `cli_spelling()`, so the same
message names the flag there.

>>> spell("format", "word2vec")
"format='word2vec'"
>>> with cli_spelling():
...     spell("format", "word2vec"), spell("meta", metavar="PATH"), spell("overwrite", True)
('--format word2vec', '--meta PATH', '--force')
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

_CLI = contextvars.ContextVar("embspace_cli_spelling", default=False)
_UNSET = object()

# Python keywords whose CLI flag has another name; a boolean keyword maps to its on-flag.
FLAGS = {"overwrite": "--force"}


@contextlib.contextmanager
def cli_spelling() -> Iterator[None]:
    """Within this block, `spell` names command-line flags instead of Python keywords."""
    token = _CLI.set(True)
    try:
        yield
    finally:
        _CLI.reset(token)


def spelling_cli() -> bool:
    """Whether messages are being spelled for the command line."""
    return _CLI.get()


def spell(name: str, value: object = _UNSET, *, metavar: str | None = None) -> str:
    """The setting `name` (a Python keyword), set to `value` or to a placeholder `metavar`.

    Python: ``name='value'``, ``name=PATH``, ``name=True``, ``name=``; CLI: ``--name value``,
    ``--name PATH``, ``--flag``, ``--name``.
    """
    if not _CLI.get():
        if metavar is not None:
            return f"{name}={metavar}"
        return f"{name}=" if value is _UNSET else f"{name}={value!r}"
    flag = FLAGS.get(name, "--" + name.replace("_", "-"))
    if metavar is not None:
        return f"{flag} {metavar}"
    if value is _UNSET or value is True:
        return flag
    return f"{flag} {value}"
