"""Builders: data in, a Space out.

`build_words` (sgns, cbow, fasttext, glove, ppmi-svd from a corpus), `build_texts` (one vector per text),
`build_tokens` (one vector per occurrence of chosen words), `encode_queries` (texts into an existing text
space), `all_but_the_top` (post-processing for word vectors). `Corpus`, `Tokenizer` and `Vocab` feed
every word-space method. Heavy libraries (gensim, torch, onnxruntime) load only when a builder needs them.
"""
from ._abtt import all_but_the_top
from ._corpus import DEFAULT_PATTERN, Corpus, Tokenizer, Vocab
from ._encoders import encode_queries
from ._texts import build_texts
from ._tokens import build_tokens
from ._words import METHODS, WordParams, build_words

__all__ = ["DEFAULT_PATTERN", "METHODS", "Corpus", "Tokenizer", "Vocab", "WordParams", "all_but_the_top",
           "build_texts", "build_tokens", "build_words", "encode_queries"]
