"""Builders: data in, a Space out. `Corpus`, `Tokenizer` and `Vocab` feed every word-space method."""
from ._corpus import DEFAULT_PATTERN, Corpus, Tokenizer, Vocab

__all__ = ["DEFAULT_PATTERN", "Corpus", "Tokenizer", "Vocab"]
