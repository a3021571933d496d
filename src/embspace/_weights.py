"""A trained network kept in a space: safetensors bytes in ``space.assets``, tied to the manifest by sha256."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from .errors import EmbspaceError


def load_weights(assets: dict, name: str, sha256: Any, what: str) -> dict:
    """The tensors of the safetensors asset `name` (bytes or a Path), refused in one line when it is missing,
    is not the file the manifest's `sha256` names, or is not safetensors. Nothing is unpickled."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    if name not in assets:
        raise EmbspaceError(f"this {what} space has no {name} asset: the trained network is missing")
    blob = assets[name]
    data = Path(blob).read_bytes() if isinstance(blob, (str, Path)) else bytes(blob)
    if hashlib.sha256(data).hexdigest() != sha256:
        raise EmbspaceError(f"{name} is not the network this space was trained with (sha256 differs)")
    try:
        return load(data)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise EmbspaceError(f"{name} cannot be read as safetensors ({str(exc).splitlines()[0][:120]})") from None
