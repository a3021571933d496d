"""embspace: a workbench for embedding spaces.

The core is here: `Space`, `load` and `save` (the ``.space`` folder), `read` and `write` (other file
formats) and the errors. One package per kind of data builds a space (`embspace.words.build`,
`embspace.texts.build`); one package per verb takes any space (`embspace.evaluate`, `embspace.reduce`,
`embspace.explore`, `embspace.tune`).
"""

from ._version import __version__
from .errors import CorruptSpaceError, EmbspaceError, FormatError, SpaceError, UnknownIdError
from .space import Space
from .store import load, save

__all__ = [
    "CorruptSpaceError",
    "EmbspaceError",
    "FormatError",
    "Space",
    "SpaceError",
    "UnknownIdError",
    "__version__",
    "load",
    "read",
    "save",
    "write",
]


def read(path, format, *, ids=None, meta=None, limit=None, encoding_errors="strict", show_progress=None):
    """Import vectors from a file (glove, word2vec, fasttext-vec, tsv, ...); see :func:`embspace.formats.read`.

    >>> space = embspace.read("wiki.en.vec", "fasttext-vec", encoding_errors="replace")  # doctest: +SKIP
    """
    from .formats import read as _read

    return _read(
        path, format, ids=ids, meta=meta, limit=limit, encoding_errors=encoding_errors, show_progress=show_progress
    )


def write(space, path, format, *, columns=None):
    """Export a space to a file (glove, word2vec, tsv for the Projector, ...); see :func:`embspace.formats.write`.

    >>> embspace.write(space, "projector/vecs.tsv", "tsv", columns=["text", "label"])  # doctest: +SKIP
    """
    from .formats import write as _write

    return _write(space, path, format, columns=columns)


def __getattr__(name: str):
    # `embspace.evaluate` was a function bound over the subpackage of the same name; it is now the
    # subpackage (callable for one release, with a DeprecationWarning). Import it on first use.
    if name in ("evaluate", "words", "texts", "tune", "formats", "reduce", "explore", "search", "index"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
