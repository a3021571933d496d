"""The transform chain: what was done to a space's vectors after they were made, so a new query gets it too.

A space that was post-processed or tuned keeps, in ``info["transforms"]``, the steps in the order they
were applied. Each step is a JSON dict::

    {"kind": "center", "extras": {"mean": "t0_mean"}}
    {"kind": "abtt", "d": 2, "extras": {"mean": "t1_mean", "directions": "t1_directions"}}
    {"kind": "normalize"}
    {"kind": "head", ..., "asset": "t3_head.safetensors"}

``extras`` maps a role to the name of a float32 matrix in ``space.extras``; ``asset`` names a file in
``space.assets`` (both saved with the space and checked against the manifest). The space's own rows
already went through every step; a query that is *encoded* (a text through the space's encoder, an
image, a table row, a fastText sub-word vector) comes out as the untransformed rows did and goes through
`apply_transforms` (`Space.query_vectors` and `embspace.texts.encode_queries` call it).

A step kind is registered in STEPS as ``"module:function"``; the function is called as
``function(space, step, vectors)`` with float32 `vectors` of shape (q, d_in) and returns float32
(q, d_out), never changing its input in place.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from ..errors import EmbspaceError

STEPS: dict[str, str] = {
    "center": "embspace.tune._post:apply_center",
    "normalize": "embspace.tune._post:apply_normalize",
    "abtt": "embspace.tune._post:apply_abtt",
    "head": "embspace.tune._head:apply_head",
    "align": "embspace.tune._align:apply_align",
}


def transforms(info: dict[str, Any]) -> list[dict[str, Any]]:
    """The steps recorded in `info` (a list, empty when none), checked to be a list of dicts with a kind."""
    steps = info.get("transforms") or []
    if not isinstance(steps, list) or not all(isinstance(s, dict) and isinstance(s.get("kind"), str) for s in steps):
        raise EmbspaceError("the space's info['transforms'] is not a list of steps with a 'kind'; rebuild the space")
    return steps


def apply_transforms(space, vectors: np.ndarray) -> np.ndarray:
    """Put encoded query `vectors` (q, d_in) through every step of `space`'s chain; float32 (q, d_out).

    A space without ``info["transforms"]`` gives the vectors back as float32. A step of a kind this
    version does not know, or whose stored matrices are missing, raises EmbspaceError in one line.
    """
    x = np.asarray(vectors, dtype=np.float32)
    for position, step in enumerate(transforms(space.info)):
        x = _function(step["kind"])(space, step, x)
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 2:
            raise EmbspaceError(f"transform step {position} ({step['kind']}) gave shape {x.shape}; expected (q, d)")
    return x


def append_step(info: dict[str, Any], step: dict[str, Any]) -> dict[str, Any]:
    """A copy of `info` whose ``transforms`` ends with `step` (the earlier steps kept); `info` is unchanged."""
    if step.get("kind") not in STEPS:
        raise EmbspaceError(f"unknown transform step {step.get('kind')!r}; expected one of {', '.join(STEPS)}")
    out = dict(info)
    out["transforms"] = [*transforms(info), dict(step)]
    return out


def step_name(info: dict[str, Any], role: str) -> str:
    """A name for an extra or asset of the step about to be appended to `info` (unique within the chain):
    ``t<position>_<role>``, e.g. ``t1_directions``."""
    return f"t{len(transforms(info))}_{role}"


def step_extra(space, step: dict[str, Any], role: str) -> np.ndarray:
    """The float32 matrix a step stores under `role`, refused in one line when the space lacks it."""
    name = (step.get("extras") or {}).get(role)
    if not isinstance(name, str) or name not in space.extras:
        raise EmbspaceError(
            f"the {step.get('kind')} step of this space needs its {role!r} matrix (extras/{name}.npy), which is "
            "missing; rebuild the space"
        )
    return np.asarray(space.extras[name], dtype=np.float32)


def _function(kind: str):
    hook = STEPS.get(kind)
    if hook is None:
        raise EmbspaceError(
            f"this space was transformed by a step {kind!r} this version of embspace does not know "
            f"(known: {', '.join(STEPS)}); upgrade embspace to query it"
        )
    module, name = hook.split(":")
    return getattr(importlib.import_module(module), name)


def source_ref(space) -> dict[str, Any]:
    """What a tuned space records of the space it came from: its name, folder and the sha256 of its vectors
    (the manifest's for a loaded space, hashed here for one in memory)."""
    import hashlib

    from ..store import VECTORS, read_manifest

    path = space.info.get("path")
    sha = None
    if path:
        try:
            sha = read_manifest(path)["files"][VECTORS]["sha256"]
        except (EmbspaceError, OSError, KeyError):
            sha = None  # moved or replaced since it was opened: hash what is in memory instead
    if sha is None:
        digest = hashlib.sha256()
        for start in range(0, space.n, 65_536):
            digest.update(np.ascontiguousarray(space.vectors[start : start + 65_536], dtype="<f4").tobytes())
        sha = digest.hexdigest()
    ref = {"name": space.info.get("name"), "n": space.n, "dim": space.dim, "vectors_sha256": sha}
    if path:
        ref["path"] = str(path)
    return ref


def tuned_space(source, vectors: np.ndarray, info: dict[str, Any], record: dict[str, Any], extras=None, assets=None):
    """A new Space with `source`'s ids, meta, extras and assets, the new `vectors`, `info` (usually the
    source's with a step appended) and `record` appended to ``info["tuned"]``: the method, its parameters
    and seed, and the source space (`source_ref`), so the space can be made again."""
    from ..space import Space

    info = {k: v for k, v in info.items() if k != "path"}
    info["tuned"] = [*(info.get("tuned") or []), {**record, "source": source_ref(source)}]
    if source.info.get("name") and record.get("method"):  # glove-6b-50d -> glove-6b-50d+retrofit
        info["name"] = f"{source.info['name']}+{record['method']}"
    out = Space(source.ids, vectors, source.meta, info, source.metric, check=False)
    out.extras = {**source.extras, **(extras or {})}
    out.assets = {**source.assets, **(assets or {})}
    return out
