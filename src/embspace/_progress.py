"""One progress helper: off in the library, switched on by the CLI (on stderr, with rate and ETA)."""

from __future__ import annotations

import contextlib
import sys

_ENABLED = False


def enable(on: bool = True) -> None:
    """Turn progress bars on (the CLI does this) or off (the library default)."""
    global _ENABLED
    _ENABLED = on


def progress(total: float | None = None, desc: str = "", unit: str = "it", show: bool | None = None):
    """A tqdm bar on stderr when progress is enabled, else a silent stand-in with the same API.

    Use as a context manager: ``with progress(total=size, unit="B") as bar: bar.update(n)``.
    """
    if show if show is not None else _ENABLED:
        from tqdm import tqdm

        terminal = _is_terminal(sys.stderr)
        # On a terminal the bar is wiped when done. Into a file or a pipe a wiped bar leaves its text and a
        # carriage return, and the next line ("wrote ...") is glued to it: there the bar keeps its last
        # state and ends its line, and redraws at most every few seconds.
        return tqdm(
            total=total,
            desc=desc,
            unit=unit,
            unit_scale=True,
            file=sys.stderr,
            dynamic_ncols=terminal,
            ncols=None if terminal else 100,
            leave=not terminal,
            mininterval=0.1 if terminal else 5.0,
        )
    return _Silent()


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


@contextlib.contextmanager
def fraction_progress(desc: str):
    """A percentage bar driven by ``report(fraction, message)`` callbacks (map drawing and the like).

    Yields the callback; fractions only move the bar forward, the message goes beside it.
    """
    with progress(total=100, desc=desc, unit="%") as bar:
        if hasattr(bar, "bar_format"):  # a tqdm bar: a percentage, not a rate of "%" per second
            bar.bar_format = "{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining} {postfix}"
        done = [0.0]

        def report(fraction: float, message: str) -> None:
            step = round(100 * fraction, 1) - done[0]
            if step > 0:
                bar.update(step)
                done[0] += step
            bar.set_postfix_str(message)

        yield report


class _Silent(contextlib.AbstractContextManager):
    def update(self, n: float = 1) -> None:
        pass

    def set_postfix_str(self, s: str) -> None:
        pass

    def close(self) -> None:
        pass

    def __exit__(self, *exc) -> None:
        return None
