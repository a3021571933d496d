"""`embspace.tune.post`: centre, all-but-the-top and unit length for any space, kept in its transform chain.

Each step is applied to the space's rows and recorded in ``info["transforms"]`` with what a new query
needs (the mean, the removed directions, as extras), so a text, an image or a table row encoded later
lands where the rows did.

>>> out = post(space, center=True, abtt=2, normalize=True)          # doctest: +SKIP
>>> out.info["transforms"][1]["kind"]                                 # doctest: +SKIP
'abtt'
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import EmbspaceError
from ._abtt import fit_abtt
from ._chain import append_step, step_extra, step_name, tuned_space

ORDER = ("center", "abtt", "normalize")  # the order steps run in when none is given
_BLOCK = 65_536


def post(
    space,
    center: bool = False,
    normalize: bool = False,
    abtt: int = 0,
    *,
    steps: Sequence[str | tuple[str, int]] | None = None,
):
    """A new Space whose vectors went through the chosen post-processing steps, in order.

    Parameters
    ----------
    space : Space
    center : bool
        Subtract the mean vector.
    normalize : bool
        Scale every row to unit length (zero rows stay zero).
    abtt : int
        All-but-the-top (Mu & Viswanath 2018): subtract the mean, then project out the top `abtt`
        principal directions; 0 skips it.
    steps : sequence, optional
        The steps in the order to apply, instead of the flags: ``"center"``, ``"normalize"`` or
        ``("abtt", D)``, each as often as wanted, e.g. ``["normalize", "center", "normalize"]``. Without
        it the flags run in the order center, abtt, normalize.

    Returns
    -------
    Space with the same ids, meta and metric; ``info["transforms"]`` ends with the new steps and
    ``info["tuned"]`` records the call. Queries encoded later go through the same steps.
    """
    plan = _plan(center, normalize, abtt, steps)
    start = time.perf_counter()
    x = np.array(space.vectors, dtype=np.float32, order="C", copy=True)
    info = dict(space.info)
    extras: dict[str, np.ndarray] = {}
    done = []
    for kind, d in plan:
        x, step, stored = _fit(kind, d, x, info)
        info = append_step(info, step)
        extras.update(stored)
        done.append(step)
    info["normalized"] = plan[-1][0] == "normalize"
    record = {
        "method": "post",
        "steps": [kind if kind != "abtt" else {"abtt": d} for kind, d in plan],
        "seconds": round(time.perf_counter() - start, 3),
    }
    return tuned_space(space, x, info, record, extras=extras)


def _plan(center, normalize, abtt, steps) -> list[tuple[str, int]]:
    if steps is None:
        if isinstance(abtt, bool) or not isinstance(abtt, (int, np.integer)) or abtt < 0:
            raise EmbspaceError(f"--abtt must be a whole number of directions, 0 or more; got {abtt!r}")
        wanted = {"center": bool(center), "abtt": int(abtt), "normalize": bool(normalize)}
        plan = [(kind, wanted["abtt"] if kind == "abtt" else 0) for kind in ORDER if wanted[kind]]
    else:
        plan = [_parse_step(s) for s in steps]
    if not plan:
        raise EmbspaceError("no post-processing step chosen; give --center, --normalize and/or --abtt D")
    return plan


def _parse_step(step) -> tuple[str, int]:
    if isinstance(step, str) and step in ("center", "normalize"):
        return step, 0
    if isinstance(step, (tuple, list)) and len(step) == 2 and step[0] == "abtt":
        d = step[1]
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
            raise EmbspaceError(f"--abtt must be a whole number of directions, 1 or more; got {d!r}")
        return "abtt", int(d)
    raise EmbspaceError(f"unknown post-processing step {step!r}; expected 'center', 'normalize' or ('abtt', D)")


def _fit(kind: str, d: int, x: np.ndarray, info: dict) -> tuple[np.ndarray, dict[str, Any], dict[str, np.ndarray]]:
    """Apply one step to the rows `x` (in place where it can); (rows, the step's record, its extras)."""
    if kind == "center":
        mean = _mean(x)
        x -= mean
        name = step_name(info, "mean")
        return x, {"kind": "center", "extras": {"mean": name}}, {name: mean[None, :]}
    if kind == "normalize":
        return _unit(x), {"kind": "normalize"}, {}
    x, mean, top, fitted = fit_abtt(x, d)
    names = {"mean": step_name(info, "mean"), "directions": step_name(info, "directions")}
    step = {"kind": "abtt", "d": d, "removed_variance": fitted["removed_variance"], "extras": names}
    return x, step, {names["mean"]: mean[None, :], names["directions"]: np.ascontiguousarray(top.T)}


def _mean(x: np.ndarray) -> np.ndarray:
    total = np.zeros(x.shape[1], dtype=np.float64)
    for i in range(0, x.shape[0], _BLOCK):
        total += x[i : i + _BLOCK].sum(axis=0, dtype=np.float64)
    return (total / x.shape[0]).astype(np.float32)


def _unit(x: np.ndarray) -> np.ndarray:
    for i in range(0, x.shape[0], _BLOCK):
        block = x[i : i + _BLOCK]
        norms = np.sqrt(np.einsum("ij,ij->i", block, block))
        norms[norms == 0] = 1.0
        block /= norms[:, None]
    return x


# ---- the steps applied to a query (registered in _chain.STEPS) -------------------------------------
def apply_center(space, step: dict, vectors: np.ndarray) -> np.ndarray:
    mean = step_extra(space, step, "mean")
    _check_width(step, vectors, mean.shape[1])
    return vectors - mean


def apply_normalize(space, step: dict, vectors: np.ndarray) -> np.ndarray:
    return _unit(np.array(vectors, dtype=np.float32, copy=True))


def apply_abtt(space, step: dict, vectors: np.ndarray) -> np.ndarray:
    mean = step_extra(space, step, "mean")
    directions = step_extra(space, step, "directions")  # (d, dim), orthonormal rows
    _check_width(step, vectors, mean.shape[1])
    x = vectors - mean
    return x - (x @ directions.T) @ directions


def _check_width(step: dict, vectors: np.ndarray, dim: int) -> None:
    if vectors.shape[1] != dim:
        raise EmbspaceError(f"the {step['kind']} step takes {dim}-d vectors; got {vectors.shape[1]}-d ones")
