"""Retrieval: rank a text space's rows for each query; recall@k, MRR@10 and nDCG@10 against judgements.

The queries are encoded with the space's own encoder, recorded in its manifest.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from ..errors import EmbspaceError
from ..space import Space
from ._result import Result


def read_qrels(path: str | os.PathLike) -> dict[str, dict[str, float]]:
    """Relevance judgements: TREC ``qid 0 docid rel`` or tab/CSV ``qid, docid[, rel]`` (a header is skipped)."""
    path = Path(path)
    if not path.is_file():
        raise EmbspaceError(f"{path}: no such relevance file")
    qrels: dict[str, dict[str, float]] = {}
    with open(path, encoding="utf-8", newline="") as fh:
        for lineno, line in enumerate(fh, 1):
            cols = line.replace(",", "\t").split() if "\t" not in line else line.rstrip("\r\n").split("\t")
            if len(cols) == 4:
                qid, _, doc, rel = cols
            elif len(cols) in (2, 3):
                qid, doc, rel = (cols + ["1"])[:3]
            else:
                continue
            try:
                value = float(rel)
            except ValueError:
                if lineno == 1:
                    continue
                raise EmbspaceError(f"{path}: line {lineno}: relevance {rel!r} is not a number") from None
            if value > 0:
                qrels.setdefault(qid, {})[doc] = value
    if not qrels:
        raise EmbspaceError(f"{path}: no relevance judgements found; expected `qid<TAB>docid<TAB>relevance`")
    return qrels


def read_queries(path: str | os.PathLike) -> dict[str, str]:
    """Queries as ``qid<TAB>text`` lines (a JSONL file with ``id`` and ``text`` fields works too)."""
    from ..texts import read_texts

    path = Path(path)
    if path.suffix.lower() in (".jsonl", ".csv", ".parquet"):
        table = read_texts(path, id_column="id")
        return dict(zip(table.ids, table.texts))
    out = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if "\t" in line:
                qid, text = line.rstrip("\r\n").split("\t", 1)
                out[qid] = text
    if not out:
        raise EmbspaceError(f"{path}: no queries found; expected `qid<TAB>query text` lines")
    return out


def retrieval(
    space: Space,
    queries: Mapping[str, str] | str | os.PathLike,
    qrels: Mapping[str, Mapping[str, float]] | str | os.PathLike,
    ks: Iterable[int] = (1, 5, 10),
    name: str = "retrieval",
    batch_size: int | None = None,
) -> Result:
    """Rank the space's rows for each query; recall@k, MRR@10 and nDCG@10 against `qrels`.

    Parameters
    ----------
    queries : mapping qid -> text, or a file (see `read_queries`)
    qrels : mapping qid -> {doc id: relevance > 0}, or a file (see `read_qrels`)

    Returns
    -------
    Result with task ``retrieval``, metric ``ndcg@10`` as the score; the others in ``details``.
    Coverage: queries with judgements whose relevant documents are in the space (others are dropped).
    """
    from ..texts import encoder_for

    queries = read_queries(queries) if isinstance(queries, (str, os.PathLike)) else dict(queries)
    qrels = read_qrels(qrels) if isinstance(qrels, (str, os.PathLike)) else {q: dict(r) for q, r in qrels.items()}
    judged = [q for q in queries if q in qrels]
    usable = [q for q in judged if any(d in space for d in qrels[q])]
    if not usable:
        raise EmbspaceError(
            "no query has a relevant document among the space's ids; check that the qrels' "
            "document ids are the space's ids"
        )
    ks = sorted(set(ks) | {10})
    depth = min(max(ks), space.n)
    vectors = space.transform_encoded(encoder_for(space).encode([queries[q] for q in usable], batch_size=batch_size))
    ranked = space.neighbors(vectors, k=depth, exclude_query=False)
    if len(usable) == 1 and ranked and not isinstance(ranked[0], list):
        ranked = [ranked]
    recall = {k: [] for k in ks}
    mrr, ndcg = [], []
    for q, result in zip(usable, ranked):
        rel = qrels[q]
        ids = [nb.id for nb in result]
        for k in ks:
            recall[k].append(len(set(ids[:k]) & set(rel)) / len(rel))
        first = next((i for i, d in enumerate(ids[:10]) if d in rel), None)
        mrr.append(0.0 if first is None else 1.0 / (first + 1))
        gains = np.array([rel.get(d, 0.0) for d in ids[:10]])
        discounts = 1.0 / np.log2(np.arange(2, 12))
        ideal = np.sort(np.array(list(rel.values())))[::-1][:10]
        ndcg.append(float((gains * discounts[: len(gains)]).sum() / (ideal * discounts[: len(ideal)]).sum()))
    details = {f"recall@{k}": float(np.mean(v)) for k, v in recall.items()}
    details.update({"mrr@10": float(np.mean(mrr)), "ndcg@10": float(np.mean(ndcg)), "documents": space.n})
    return Result(
        name,
        "retrieval",
        "ndcg@10",
        details["ndcg@10"],
        len(usable) / max(1, len(judged)),
        len(usable),
        len(judged),
        "drop",
        details,
    )
