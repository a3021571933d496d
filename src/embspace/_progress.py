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

        return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, file=sys.stderr,
                    dynamic_ncols=True, leave=False)
    return _Silent()


class _Silent(contextlib.AbstractContextManager):
    def update(self, n: float = 1) -> None:
        pass

    def set_postfix_str(self, s: str) -> None:
        pass

    def close(self) -> None:
        pass

    def __exit__(self, *exc) -> None:
        return None
