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
