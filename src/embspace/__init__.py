"""embspace: a workbench for embedding spaces."""
__version__ = "0.1.0"

from .errors import CorruptSpaceError, EmbspaceError, FormatError, SpaceError, UnknownIdError  # noqa: E402
from .space import Space  # noqa: E402
from .store import load, save  # noqa: E402
# Bound after the subpackage is imported, so `embspace.evaluate` is the function and
# `from embspace.evaluate import format_table` still finds the subpackage in sys.modules.
from .evaluate import evaluate  # noqa: E402

__all__ = [
    "Space", "load", "save", "evaluate", "read", "write",
    "EmbspaceError", "SpaceError", "UnknownIdError", "CorruptSpaceError", "FormatError",
]


def read(path, format, **kwargs):
    """Import vectors from a file; see :func:`embspace.formats.read`."""
    from .formats import read as _read

    return _read(path, format, **kwargs)


def write(space, path, format, **kwargs):
    """Export a space to a file; see :func:`embspace.formats.write`."""
    from .formats import write as _write

    return _write(space, path, format, **kwargs)
