"""`embspace.texts.build(..., engine="ray")`: texts encoded over a pool of Ray actors, one model load each."""

from __future__ import annotations

import math
import os

import numpy as np

from .._ray import maybe_crash, on_gpu, ray_session, run_actor_pool, vector_column, vectors_of
from ._encoders import TfidfSvdEncoder, make_encoder
from ._input import TextTable

ROWS_PER_CALL = 2048  # texts an actor takes at once (at most): the encoder sorts them by length inside


class TextEncoderActor:
    """A Ray actor: the encoder the single-process build uses, built once, applied to batches of rows.

    Parameters
    ----------
    model, max_seq_length, batch_size :
        As `embspace.texts.build` got them.
    fitted : Encoder, optional
        An encoder fitted in the driver (tfidf-svd learns its vocabulary from every text), used as it is.
    """

    def __init__(self, model: str, max_seq_length: int | None, batch_size: int | None, fitted=None):
        self.encoder = fitted if fitted is not None else make_encoder(model, max_seq_length=max_seq_length)
        self.batch_size = batch_size
        if fitted is None and on_gpu():
            self.encoder.model.to("cuda")  # the cached model lives in this actor's process only

    def __call__(self, batch):
        import pyarrow as pa

        maybe_crash()
        texts = batch.column("text").to_pylist()
        if isinstance(self.encoder, TfidfSvdEncoder):
            vectors = self.encoder.encode(texts)
            truncated = np.zeros(len(texts), dtype=bool)
        else:
            lengths = self.encoder.token_lengths(texts)
            vectors = self.encoder.encode(texts, batch_size=self.batch_size, lengths=lengths)
            truncated = lengths > self.encoder.max_seq_length
        return pa.table({"row": batch.column("row"), "vector": vector_column(vectors), "truncated": truncated})


def encode_on_ray(
    table: TextTable,
    encoder,
    model: str,
    batch_size: int | None,
    max_seq_length: int | None,
    address: str | None,
    workers: int | None,
    shards_dir: str | os.PathLike | None,
) -> tuple[np.ndarray, int, int | None, dict]:
    """`table`'s texts encoded on Ray as `encoder` would here: (vectors (n, dim) float32 in row order,
    texts truncated, texts per forward pass, ``info["engine"]``)."""
    import pyarrow as pa

    fitted = None
    if isinstance(encoder, TfidfSvdEncoder):
        encoder.fit(table.texts)  # a vocabulary and SVD of every text: learnt here, shipped to the actors
        fitted = encoder
    else:
        batch_size = batch_size or encoder.default_batch_size
    n = len(table.texts)
    rows = pa.table({"row": pa.array(np.arange(n, dtype=np.int64)), "text": pa.array(table.texts, pa.large_string())})
    with ray_session(address, workers) as session:
        # Enough calls that every actor works and a retried one costs little; at most ROWS_PER_CALL texts each.
        per_call = max(1, min(ROWS_PER_CALL, math.ceil(n / (session.workers * 4))))
        kwargs = {"model": model, "max_seq_length": max_seq_length, "batch_size": batch_size, "fitted": fitted}
        out = run_actor_pool(rows, TextEncoderActor, kwargs, session, rows_per_call=per_call, shards_dir=shards_dir)
        described = session.describe()
    truncated = int(np.asarray(out.column("truncated").to_numpy(zero_copy_only=False)).sum())
    return vectors_of(out), truncated, batch_size, described
