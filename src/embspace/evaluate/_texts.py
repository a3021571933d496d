"""Evaluating text spaces: STS (Spearman), retrieval (recall@k, MRR@10, nDCG@10), kNN label agreement
and a logistic-regression probe with a bag-of-words baseline beside it.

Texts that are not rows of the space (STS sentences, retrieval queries) are encoded with the space's
own encoder, recorded in its manifest.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from ..errors import EmbspaceError
from ..space import Space
from ._result import Result


# ---- STS ----------------------------------------------------------------------------------------
def read_sts(path: str | os.PathLike) -> list[tuple[str, str, float]]:
    """Sentence pairs with gold scores from an STS-B file (tab-separated: score in column 5,
    sentences in 6 and 7) or a 3-column ``sentence1<TAB>sentence2<TAB>score`` file."""
    path = Path(path)
    if not path.is_file():
        raise EmbspaceError(f"{path}: no such STS file")
    pairs = []
    with open(path, encoding="utf-8", errors="strict", newline="") as fh:
        try:
            for lineno, line in enumerate(fh, 1):
                cols = line.rstrip("\r\n").split("\t")
                if len(cols) >= 7:
                    score, a, b = cols[4], cols[5], cols[6]
                elif len(cols) == 3:
                    a, b, score = cols
                else:
                    continue
                try:
                    pairs.append((a, b, float(score)))
                except ValueError:
                    if lineno > 1:
                        raise EmbspaceError(f"{path}: line {lineno} has score {score!r}, not a number") from None
        except UnicodeDecodeError:
            raise EmbspaceError(f"{path}: not UTF-8 text; convert it to UTF-8") from None
    if not pairs:
        raise EmbspaceError(f"{path}: no sentence pairs found; expected STS-B columns (score in 5, sentences in "
                            "6 and 7) or `sentence1<TAB>sentence2<TAB>score`")
    return pairs


def sts(space: Space, pairs: str | os.PathLike | Sequence[tuple[str, str, float]], name: str | None = None,
        batch_size: int | None = None) -> Result:
    """Spearman correlation of the cosine of each pair's vectors with the gold scores.

    Parameters
    ----------
    space : Space
        A text space (its encoder encodes the sentences).
    pairs : path or sequence of (sentence1, sentence2, score)

    Returns
    -------
    Result with task ``sts``, metric ``spearman``; coverage counts the pairs whose two vectors are not
    zero (tfidf-svd gives zero for a text with no known word); those pairs are left out.
    """
    from scipy.stats import pearsonr, spearmanr

    from ..build._encoders import encoder_for

    if isinstance(pairs, (str, os.PathLike)):
        name = name or Path(pairs).stem
        pairs = read_sts(pairs)
    pairs = list(pairs)
    if not pairs:
        raise EmbspaceError("no STS pairs given")
    encoder = encoder_for(space)
    texts = list(dict.fromkeys([p[0] for p in pairs] + [p[1] for p in pairs]))
    row = {t: i for i, t in enumerate(texts)}
    vectors = encoder.encode(texts, batch_size=batch_size)
    a = vectors[[row[p[0]] for p in pairs]]
    b = vectors[[row[p[1]] for p in pairs]]
    ok = (np.abs(a).sum(axis=1) > 0) & (np.abs(b).sum(axis=1) > 0)
    cos = (a * b).sum(axis=1)
    gold = np.array([p[2] for p in pairs], dtype=np.float64)
    found = int(ok.sum())
    score = pearson = float("nan")
    if found > 2 and np.ptp(cos[ok]) > 0 and np.ptp(gold[ok]) > 0:  # else undefined: reported as n/a
        score = float(spearmanr(cos[ok], gold[ok]).statistic)
        pearson = float(pearsonr(cos[ok], gold[ok]).statistic)
    return Result(name or "sts", "sts", "spearman", score, found / len(pairs), found, len(pairs), "drop",
                  {"pearson": pearson, "encoder": encoder.name})


# ---- retrieval ----------------------------------------------------------------------------------
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
    from ..build._text_input import read_texts

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


def retrieval(space: Space, queries: Mapping[str, str] | str | os.PathLike,
              qrels: Mapping[str, Mapping[str, float]] | str | os.PathLike, ks: Iterable[int] = (1, 5, 10),
              name: str = "retrieval", batch_size: int | None = None) -> Result:
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
    from ..build._encoders import encoder_for
    from ..search import neighbors

    queries = read_queries(queries) if isinstance(queries, (str, os.PathLike)) else dict(queries)
    qrels = read_qrels(qrels) if isinstance(qrels, (str, os.PathLike)) else {q: dict(r) for q, r in qrels.items()}
    judged = [q for q in queries if q in qrels]
    usable = [q for q in judged if any(d in space for d in qrels[q])]
    if not usable:
        raise EmbspaceError("no query has a relevant document among the space's ids; check that the qrels' "
                            "document ids are the space's ids")
    ks = sorted(set(ks) | {10})
    depth = min(max(ks), space.n)
    vectors = encoder_for(space).encode([queries[q] for q in usable], batch_size=batch_size)
    ranked = neighbors(space, vectors, k=depth, exclude_query=False)
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
        ndcg.append(float((gains * discounts[:len(gains)]).sum() / (ideal * discounts[:len(ideal)]).sum()))
    details = {f"recall@{k}": float(np.mean(v)) for k, v in recall.items()}
    details.update({"mrr@10": float(np.mean(mrr)), "ndcg@10": float(np.mean(ndcg)), "documents": space.n})
    return Result(name, "retrieval", "ndcg@10", details["ndcg@10"], len(usable) / max(1, len(judged)),
                  len(usable), len(judged), "drop", details)


# ---- labels -------------------------------------------------------------------------------------
def _labels(space: Space, label: str) -> np.ndarray:
    if label not in space.meta:
        raise EmbspaceError(f"the space has no {label!r} column; its columns are "
                            + (", ".join(repr(c) for c in space.meta) or "none"))
    values = space.meta[label]
    return np.array(["" if v is None else str(v) for v in values], dtype=object)


def knn_labels(space: Space, label: str = "label", k: int = 10, sample: int | None = 5000, seed: int = 0) -> Result:
    """kNN label agreement: the share of each item's k nearest neighbours (itself left out) with its label.

    Measured on up to `sample` items (all when None); the chance level (sum of squared label
    shares) is in ``details["chance"]``.
    """
    from ..search import neighbors

    labels = _labels(space, label)
    has = labels != ""
    rows = np.flatnonzero(has)
    if len(rows) < 2:
        raise EmbspaceError(f"fewer than 2 items carry a {label!r}; kNN agreement needs labels")
    if sample and len(rows) > sample:
        rows = np.sort(np.random.default_rng(seed).choice(rows, sample, replace=False))
    k = min(k, space.n - 1)
    result = neighbors(space, [space.ids[r] for r in rows], k=k)
    lookup = space._lookup
    agree = [np.mean([labels[lookup[nb.id]] == labels[r] for nb in res]) for r, res in zip(rows, result)]
    _, counts = np.unique(labels[has], return_counts=True)
    chance = float(((counts / counts.sum()) ** 2).sum())
    return Result(f"knn@{k}/{label}", "knn_labels", "agreement", float(np.mean(agree)), len(rows) / space.n,
                  len(rows), space.n, "drop", {"k": k, "chance": chance, "classes": len(counts)})


def probe(space: Space, label: str = "label", folds: int = 5, seed: int = 0, baseline: bool = True) -> Result:
    """Accuracy of a logistic-regression probe on the vectors (stratified k-fold cross-validation).

    With `baseline` and a ``text`` column, a bag-of-words (TF-IDF unigrams + bigrams) logistic regression
    on the same folds is reported beside it in ``details["bow_accuracy"]``.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    labels = _labels(space, label)
    rows = np.flatnonzero(labels != "")
    y = labels[rows].astype(str)
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise EmbspaceError(f"the {label!r} column has fewer than 2 classes; a probe needs at least 2")
    folds = int(max(2, min(folds, counts.min())))
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    x = np.asarray(space.vectors[rows], dtype=np.float32)
    acc = cross_val_score(LogisticRegression(max_iter=2000, C=1.0), x, y, cv=cv)
    details = {"folds": folds, "classes": len(classes), "majority": float(counts.max() / counts.sum()),
               "accuracy_std": float(acc.std())}
    if baseline and "text" in space.meta:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import make_pipeline

        texts = [str(space.meta["text"][r]) for r in rows]
        bow = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True),
                            LogisticRegression(max_iter=2000, C=10.0))
        details["bow_accuracy"] = float(cross_val_score(bow, texts, y, cv=cv).mean())
    return Result(f"probe/{label}", "probe", "accuracy", float(acc.mean()), len(rows) / space.n, len(rows),
                  space.n, "drop", details)


def text_card(space: Space, sts_files: Sequence = (), retrieval_sets: Sequence = (), label: str | None = None,
              ) -> list[Result]:
    """The report card of a text space: STS and retrieval sets given, plus kNN agreement and a probe
    for every label column (``label`` by default, if present)."""
    results = [sts(space, f) for f in sts_files]
    results += [retrieval(space, q, r, name=Path(str(q)).stem if isinstance(q, (str, os.PathLike)) else "retrieval")
                for q, r in retrieval_sets]
    labels = [label] if label else [c for c in ("label", "sense", "category", "class") if c in space.meta]
    for column in labels:
        results.append(knn_labels(space, column))
        results.append(probe(space, column))
    if not results:
        raise EmbspaceError("a text space has no built-in test set: give STS pairs (--sts FILE), a retrieval set "
                            "(--retrieval QUERIES QRELS), or build it from a file with a 'label' column")
    return results


def is_text_space(space: Space) -> bool:
    """Built from texts or tokens (it records an encoder)."""
    return isinstance(space.info.get("encoder"), dict)

