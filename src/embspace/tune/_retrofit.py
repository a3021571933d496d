"""`embspace.tune.retrofit`: pull the vectors of words a lexicon links towards each other (Faruqui et al. 2015).

Each word of the lexicon that the space holds is moved, over a few iterations, to

    q_i = (alpha * q̂_i + sum_j beta_ij * q_j) / (alpha + sum_j beta_ij),    beta_ij = beta * w_r(ij) / deg_i

where q̂_i is its vector before, j runs over its neighbours in the space, w_r is the weight of the
relation that links them and deg_i their number: with alpha = beta = 1 and all weights 1, the paper's
update (each word halfway between where it was and the mean of its neighbours). The iteration runs on all
words at once as one sparse product (Jacobi; the paper's code updates word by word, Gauss-Seidel): both
converge to the same fixed point, the solution of one linear system, at a rate of beta / (alpha + beta) per
round or better. Words the lexicon does not link keep their vectors exactly.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._progress import progress
from ..errors import EmbspaceError
from . import _lexicon
from ._chain import tuned_space

# Chosen on GloVe 6B 50d (benchmarks/bench_retrofit.py): the paper's update (alpha = beta = 1) with WordNet's
# synonyms, hypernyms, hyponyms and similar-to from each word's 2 most frequent senses, the hypernym and hyponym
# links at half weight. All senses pull a frequent word towards its rare senses' words (WS-353 falls below the
# start); full-weight hypernyms favour SimLex over WS-353.
DEFAULTS: dict[str, Any] = {
    "relations": ("synonyms", "hypernyms", "hyponyms", "similar"),
    "senses": 2,
    "iterations": 10,
    "alpha": 1.0,
    "beta": 1.0,
    "weights": {"hypernyms": 0.5, "hyponyms": 0.5},
    "normalize": False,
    "top": None,
}


def retrofit(
    space,
    lexicon: str | os.PathLike | Mapping = "wordnet",
    *,
    relations=DEFAULTS["relations"],
    senses: int | None = DEFAULTS["senses"],
    iterations: int = DEFAULTS["iterations"],
    alpha: float = DEFAULTS["alpha"],
    beta: float = DEFAULTS["beta"],
    weights: Mapping[str, float] | None = DEFAULTS["weights"],
    normalize: bool = DEFAULTS["normalize"],
    top: int | None = DEFAULTS["top"],
    wordnet_root: str | os.PathLike | None = None,
):
    """A new Space whose words linked by `lexicon` were pulled towards each other; the rest unchanged.

    Parameters
    ----------
    space : Space
        Any space whose ids are words (matched exactly, else ignoring case: the first, most frequent casing).
    lexicon : "wordnet", a path, or a mapping
        WordNet 3.0 from ``/usr/share/wordnet`` (Debian ``wordnet-base``); a ``word neighbour ...`` file; or
        ``{word: neighbours}`` / ``{relation: {word: neighbours}}`` in memory.
    relations : sequence of str or comma-separated str
        WordNet only: any of ``synonyms``, ``hypernyms``, ``hyponyms``, ``similar``.
    senses : int or None
        WordNet only: links from each word's `senses` most frequent senses per part of speech; None for all
        (as the paper).
    iterations : int
        Rounds of the update, 1 or more.
    alpha, beta : float
        Weight of a word's own vector (> 0) and of its neighbours together (>= 0).
    weights : mapping relation -> float, optional
        A weight per relation (1 for any not named), e.g. ``{"hypernyms": 0.5, "hyponyms": 0.5}`` (the
        default; relations the lexicon does not have are ignored when left at the default).
    normalize : bool
        Scale every vector to unit length first (as the paper's code does); recorded in the transform chain.
    top : int, optional
        Only the first `top` rows (the most frequent words of a word space) are moved or pulled towards.

    Returns
    -------
    Space with ``info["tuned"][-1]`` recording the lexicon, the parameters and the coverage: the space's
    words moved (``words``), the links used (``links``) and the lexicon's words found in the space.
    """
    start = time.perf_counter()
    default_weights = weights is DEFAULTS["weights"]
    params = _check(iterations, alpha, beta, weights, top, space.n)
    table, described = _lexicon_table(lexicon, relations, senses, wordnet_root)
    if default_weights and params["weights"]:
        params["weights"] = {r: v for r, v in params["weights"].items() if r in table} or None
    if normalize:
        from ._post import post

        space = post(space, normalize=True)
    limit = min(top or space.n, space.n)
    rows_of = _word_rows(space, limit)
    i, j, w, coverage = _links(table, rows_of, params["weights"])
    if i.size == 0:
        raise EmbspaceError(
            f"no word of the lexicon ({described['name']}) and none of its neighbours are both among the space's "
            f"{'first ' + format(limit, ',') + ' ' if limit < space.n else ''}ids; check that the space holds words"
        )
    vectors = np.array(space.vectors, dtype=np.float32, order="C", copy=True)
    moved = _iterate(vectors, i, j, w, float(alpha), float(beta), int(iterations))
    coverage.update(words=int(moved.size), space_words=limit, share=round(moved.size / limit, 4), links=int(i.size))
    record = {
        "method": "retrofit",
        "lexicon": described,
        "params": {
            "iterations": int(iterations),
            "alpha": float(alpha),
            "beta": float(beta),
            "weights": params["weights"],
            "normalize": bool(normalize),
            "top": top,
        },
        "coverage": coverage,
        "seconds": round(time.perf_counter() - start, 3),
    }
    info = dict(space.info)
    if info.get("normalized"):
        info["normalized"] = False  # the moved words are no longer unit length
    return tuned_space(space, vectors, info, record)


def _check(iterations, alpha, beta, weights, top, n) -> dict:
    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or not 1 <= iterations <= 1000:
        raise EmbspaceError(f"--iterations must be a whole number from 1 to 1000; got {iterations!r}")
    for name, value, low in (("alpha", alpha, 0.0), ("beta", beta, None)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not np.isfinite(value):
            raise EmbspaceError(f"--{name} must be a number; got {value!r}")
        if (low is not None and value <= low) or value < 0:
            raise EmbspaceError(f"--{name} must be {'above' if low is not None else 'at least'} 0; got {value!r}")
    if top is not None and (isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 2):
        raise EmbspaceError(f"--top must be a whole number of rows, 2 or more; got {top!r}")
    clean = None
    if weights:
        clean = {}
        for relation, value in dict(weights).items():
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not 0 <= value < 1e6:
                raise EmbspaceError(f"the weight of {relation!r} must be a number from 0 up; got {value!r}")
            clean[str(relation)] = float(value)
    return {"weights": clean}


def _lexicon_table(lexicon, relations, senses, wordnet_root) -> tuple[dict[str, dict[str, set[str]]], dict]:
    """(relation -> {word: neighbours}, what the record says about it)."""
    if isinstance(lexicon, Mapping):
        if lexicon and all(isinstance(v, Mapping) for v in lexicon.values()):
            table = {
                str(r): {str(w).lower(): {str(x).lower() for x in n} for w, n in t.items()} for r, t in lexicon.items()
            }
        else:
            table = {"lexicon": {str(w).lower(): {str(x).lower() for x in n} for w, n in lexicon.items()}}
        return table, {"name": "in memory", "relations": sorted(table)}
    if isinstance(lexicon, str) and lexicon.lower() == "wordnet":
        relations = _lexicon.check_relations(relations)
        folder = _lexicon.wordnet_dir(wordnet_root)
        table = _lexicon.wordnet(relations, folder, senses=senses)
        described = {"name": "wordnet", "version": "3.0", "relations": list(relations), "senses": senses}
        return table, {**described, "files": _described(folder)}
    path = Path(lexicon)
    table = _lexicon.read_lexicon(path)
    from .._files import sha256_file

    return table, {"name": path.name, "bytes": path.stat().st_size, "sha256": sha256_file(path)}


def _described(folder: Path) -> dict[str, dict]:
    from .._files import sha256_file

    return {
        f"data.{pos}": {"bytes": (folder / f"data.{pos}").stat().st_size, "sha256": sha256_file(folder / f"data.{pos}")}
        for pos in _lexicon.WORDNET_POS
    }


def _word_rows(space, limit: int) -> dict[str, int]:
    """Lowercased word -> row among the first `limit` rows: an exact id first, else the first row whose id
    lowercases to it (a word space is in frequency order, so the most frequent casing)."""
    ids = space.ids[:limit]
    rows: dict[str, int] = {}
    for row, word in enumerate(ids):
        rows.setdefault(word.lower(), row)
    for row, word in enumerate(ids):
        if word.islower():
            rows[word] = row
    return rows


def _links(table, rows_of: dict[str, int], weights) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """The lexicon's links between rows of the space: (rows, neighbour rows, relation weights) with each
    pair once (its largest weight), and the lexicon's coverage by relation."""
    weights = weights or {}
    unknown = [r for r in weights if r not in table]
    if unknown:
        raise EmbspaceError(
            f"a weight is given for {unknown[0]!r}, which the lexicon does not have; its relations: {', '.join(table)}"
        )
    parts_i, parts_j, parts_w = [], [], []
    coverage: dict[str, Any] = {"relations": {}}
    for relation, words in table.items():
        weight = weights.get(relation, 1.0)
        held = [(rows_of[w], ns) for w, ns in words.items() if w in rows_of]
        i = [r for r, ns in held for x in ns if x in rows_of]
        j = [rows_of[x] for _, ns in held for x in ns if x in rows_of]
        coverage["relations"][relation] = {
            "lexicon_words": len(words),
            "in_space": len(held),
            "links": len(i),
            "weight": weight,
        }
        if weight > 0 and i:
            parts_i.append(np.asarray(i, np.int64))
            parts_j.append(np.asarray(j, np.int64))
            parts_w.append(np.full(len(i), weight, np.float64))
    if not parts_i:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), coverage
    i, j, w = np.concatenate(parts_i), np.concatenate(parts_j), np.concatenate(parts_w)
    keep = i != j  # two casings of one word met at one row
    i, j, w = i[keep], j[keep], w[keep]
    order = np.lexsort((-w, j, i))  # each (i, j) once, its largest weight first
    i, j, w = i[order], j[order], w[order]
    first = np.ones(i.size, bool)
    first[1:] = (i[1:] != i[:-1]) | (j[1:] != j[:-1])
    return i[first], j[first], w[first], coverage


def _iterate(vectors: np.ndarray, i, j, w, alpha: float, beta: float, iterations: int) -> np.ndarray:
    """Run the update on the rows the links touch, in place in `vectors`; returns the rows moved."""
    from scipy import sparse

    involved, local = np.unique(np.concatenate([i, j]), return_inverse=True)
    li, lj = local[: i.size], local[i.size :]
    m = involved.size
    degree = np.bincount(li, minlength=m).astype(np.float64)
    coefficient = beta * w / degree[li]
    links = sparse.csr_matrix((coefficient, (li, lj)), shape=(m, m))
    denominator = (alpha + np.asarray(links.sum(axis=1)).ravel())[:, None]
    start = vectors[involved].astype(np.float64)
    anchored = alpha * start
    q = start.copy()
    with progress(total=iterations, desc="retrofit", unit="round") as bar:
        for _ in range(iterations):
            q = (anchored + links @ q) / denominator
            bar.update(1)
    moved = np.flatnonzero(degree > 0)
    vectors[involved[moved]] = q[moved].astype(np.float32)
    return involved[moved]
