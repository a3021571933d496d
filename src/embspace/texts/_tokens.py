"""`embspace.texts.tokens`: contextual word vectors, one point per occurrence of a chosen word in a sentence.

The transformer reads the whole sentence; the vectors of the word's sub-word pieces (last layer) are
mean-pooled, so "bank" by a river and "bank" that holds money land in different places.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence

import numpy as np

from .._progress import progress
from .._version import __version__
from ..errors import EmbspaceError
from ..space import Space
from ._build import _table, known_keywords
from ._encoders import DEFAULT_MODEL, TFIDF_NAMES, SentenceEncoder


def _parse_words(words: str | Sequence[str]) -> list[str]:
    items = words.split(",") if isinstance(words, str) else list(words)
    out = list(dict.fromkeys(w.strip() for w in items if w and w.strip()))
    if not out:
        raise EmbspaceError("no words given; pass the words to follow, e.g. --words bank,bat")
    return out


def find_occurrences(texts: list[str], words: list[str], case_sensitive: bool = False):
    """(text row, word, char start, char end) of every whole-word occurrence of `words` in `texts`."""
    flags = 0 if case_sensitive else re.IGNORECASE
    pattern = re.compile(
        r"(?<!\w)(" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")(?!\w)", flags
    )
    canon = {w if case_sensitive else w.lower(): w for w in words}
    hits = []
    for row, text in enumerate(texts):
        for m in pattern.finditer(text):
            key = m.group(1) if case_sensitive else m.group(1).lower()
            hits.append((row, canon[key], m.start(1), m.end(1)))
    return hits


@known_keywords
def tokens(
    source: str | os.PathLike | Sequence[str],
    words: str | Sequence[str],
    model: str = DEFAULT_MODEL,
    *,
    column: str | None = None,
    id_column: str | None = None,
    fmt: str | None = None,
    batch_size: int = 32,
    case_sensitive: bool = False,
    max_seq_length: int | None = None,
) -> Space:
    """Contextual vectors of `words`: one row per occurrence, labelled with its sentence.

    Parameters
    ----------
    source : path or sequence of str
        Sentences: a text file (one per line), CSV/TSV/JSONL/Parquet (see `embspace.texts.build`), or a list.
    words : str or sequence of str
        The words to follow (comma-separated in a string); matched as whole words, ignoring case.
    model : str
        ``minilm`` (default), ``minilm-fast`` or a local sentence-transformers folder.

    Returns
    -------
    Space of shape (n_occurrences, dim), metric cosine. Ids are ``word@sentence-id`` (``#2``... for a
    repeat in one sentence); meta columns ``word``, ``sentence``, ``sentence_id``, ``position`` (char
    offset) and the file's other columns (e.g. a sense label).
    """
    if model in TFIDF_NAMES:
        raise EmbspaceError(
            "contextual word vectors need a transformer model; tfidf-svd has none "
            "(use --model minilm or a sentence-transformers folder)"
        )
    words = _parse_words(words)
    start = time.perf_counter()
    table = _table(source, column, id_column, fmt)
    hits = find_occurrences(table.texts, words, case_sensitive)
    if not hits:
        raise EmbspaceError(
            f"none of the words {', '.join(words)} occurs in the {len(table.texts):,} texts (matched as whole words)"
        )
    encoder = SentenceEncoder(model, max_seq_length=max_seq_length)
    vectors, kept, truncated = _pool_occurrences(encoder, table.texts, hits, batch_size)
    hits = [h for h, ok in zip(hits, kept) if ok]
    if not hits:
        raise EmbspaceError("every occurrence lies past the model's token limit; raise --max-seq-length")
    ids, seen = [], {}
    for row, word, _, _ in hits:
        base = f"{word}@{table.ids[row]}"
        seen[base] = seen.get(base, 0) + 1
        ids.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
    meta = {
        "word": [h[1] for h in hits],
        "sentence": [table.texts[h[0]] for h in hits],
        "sentence_id": [table.ids[h[0]] for h in hits],
        "position": [h[2] for h in hits],
    }
    for name, col in table.meta.items():
        if name not in meta:
            meta[name] = [col[h[0]] for h in hits]
    # nothing here is random (a transformer in eval mode, no sampling): there is no seed to record
    params = {
        "batch_size": batch_size,
        "case_sensitive": case_sensitive,
        "max_seq_length": max_seq_length,
        "seed": None,
    }
    info = {
        "name": f"tokens-{encoder.name}",
        "kind": "tokens",
        "builder": "embspace.texts.tokens",
        "encoder": {**encoder.describe(), "pooling": "mean of the word's sub-word pieces, last layer"},
        "params": params,
        "words": words,
        "data": table.source,
        "texts": len(table.texts),
        "occurrences": len(hits),
        "skipped_past_limit": truncated,
        "skipped_empty": table.skipped_empty,
        "normalized": False,
        "seconds": round(time.perf_counter() - start, 3),
        "embspace_version": __version__,
    }
    return Space(ids, vectors, meta, info, metric="cosine", check=False)


def _pool_occurrences(encoder: SentenceEncoder, texts: list[str], hits, batch_size: int):
    import torch

    st = encoder.model
    transformer = st[0].auto_model
    tokenizer = encoder.tokenizer
    by_row: dict[int, list[int]] = {}
    for i, (row, _, _, _) in enumerate(hits):
        by_row.setdefault(row, []).append(i)
    rows = sorted(by_row)
    out = np.zeros(
        (len(hits), encoder.dim if not hasattr(transformer.config, "hidden_size") else transformer.config.hidden_size),
        dtype=np.float32,
    )
    kept = np.zeros(len(hits), dtype=bool)
    with progress(total=len(rows), desc="encoding", unit="sentence") as bar, torch.inference_mode():
        for b in range(0, len(rows), batch_size):
            batch = rows[b : b + batch_size]
            enc = tokenizer(
                [texts[r] for r in batch],
                padding=True,
                truncation=True,
                max_length=encoder.max_seq_length,
                return_offsets_mapping=True,
                return_tensors="pt",
            )
            offsets = enc.pop("offset_mapping").numpy()
            special = np.array(
                [
                    tokenizer.get_special_tokens_mask(ids, already_has_special_tokens=True)
                    for ids in enc["input_ids"].tolist()
                ],
                dtype=bool,
            )
            hidden = transformer(**enc).last_hidden_state.float().numpy()
            for j, row in enumerate(batch):
                for i in by_row[row]:
                    _, _, s, e = hits[i]
                    pieces = (offsets[j, :, 0] < e) & (offsets[j, :, 1] > s) & ~special[j]
                    if pieces.any():
                        out[i] = hidden[j, pieces].mean(axis=0)
                        kept[i] = True
            bar.update(len(batch))
    return out[kept], kept, int((~kept).sum())
