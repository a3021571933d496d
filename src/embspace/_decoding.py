"""UTF-8 decoding that counts what it replaces or drops, for corpora and for imported vector files.

The error handlers act as Python's own "replace" and "ignore" (one U+FFFD per maximal bad sequence) and
add the bytes they handled to a per-thread tally: reset it, decode, read it.
"""

from __future__ import annotations

import codecs
import threading

_tally = threading.local()


def _counting(replacement: str):
    def handler(exc: UnicodeError) -> tuple[str, int]:
        if not isinstance(exc, UnicodeDecodeError):
            raise exc
        _tally.bytes = getattr(_tally, "bytes", 0) + (exc.end - exc.start)
        return replacement, exc.end

    return handler


_COUNTING = {"replace": "embspace-count-replace", "ignore": "embspace-count-ignore"}
codecs.register_error(_COUNTING["replace"], _counting("\ufffd"))
codecs.register_error(_COUNTING["ignore"], _counting(""))


def counting(errors: str) -> str:
    """The error handler to decode with: a counting one for "replace" and "ignore", else `errors` itself."""
    return _COUNTING.get(errors, errors)


def reset_count() -> None:
    """Start this thread's tally of replaced or dropped bytes at zero."""
    _tally.bytes = 0


def counted() -> int:
    """Bytes replaced or dropped in this thread since `reset_count`."""
    return getattr(_tally, "bytes", 0)
