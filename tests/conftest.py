"""Shared fixtures: tiny hand-made spaces and the real GloVe 6B 50d space (made once per machine)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import embspace

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def small_space() -> embspace.Space:
    rng = np.random.default_rng(0)
    ids = [f"w{i}" for i in range(50)]
    return embspace.Space(ids, rng.normal(size=(50, 8)), meta={"count": list(range(50, 0, -1))}, info={"name": "small"})


@pytest.fixture(scope="session")
def glove() -> embspace.Space:
    from embspace.datasets import glove_6b_50d

    return glove_6b_50d()


@pytest.fixture(scope="session")
def glove_small(glove) -> embspace.Space:
    return glove.head(20_000)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Say it plainly when the explorer's browser tests were skipped (no Chromium, no playwright):
    a summary of "N passed, 1 skipped" hides that the explorer was not tested at all."""
    stats = terminalreporter.stats
    browser = [r for key in ("passed", "failed", "skipped") for r in stats.get(key, []) if _is_browser(r)]
    skipped = [r for r in browser if r.skipped]
    if not skipped or len(skipped) < len(browser):
        return
    reason = skipped[0].longrepr[2] if isinstance(skipped[0].longrepr, tuple) else str(skipped[0].longrepr)
    reason = reason.removeprefix("Skipped: ")
    why = "chromium not installed" if "chromium" in reason.lower() else reason
    terminalreporter.write_sep(
        "!", f"browser tests skipped: {why} — the explorer was NOT tested", yellow=True, bold=True
    )


def _is_browser(report) -> bool:
    return getattr(report, "nodeid", "").split("::")[0].endswith("test_browser.py")


# ids a hostile file could hold: every page and route must show them as data, never as markup
XSS = [
    "<img src=x onerror=alert(1)>",
    "</script><script>alert(2)</script>",
    "javascript:alert(3)",
    "<!--",
    "a&amp;b",
    "line\u2028separator",
]
