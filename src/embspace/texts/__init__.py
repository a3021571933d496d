"""Texts: a space of texts from a sentence encoder (or TF-IDF + SVD), token vectors, and query encoding.

    >>> from embspace import texts
    >>> space = texts.build(["a cat sat", "a dog ran", "stocks fell"], model="tfidf-svd", dim=2)
    >>> space.n, space.dim
    (3, 2)

`build` makes one vector per text, `tokens` one vector per occurrence of chosen words,
`encode_queries` puts new texts into an existing text space with the encoder its manifest names,
and `encoder_for` is that encoder (what the search and evaluate verbs ask this package for).
torch, sentence-transformers and onnxruntime load only when an encoder needs them; install them
with ``pip install -e '.[texts]'`` in the embspace checkout.
"""

from ._build import build
from ._encoders import DEFAULT_MODEL, encode_queries, encoder_for
from ._input import read_texts
from ._tokens import tokens

__all__ = ["DEFAULT_MODEL", "build", "encode_queries", "encoder_for", "read_texts", "tokens"]
