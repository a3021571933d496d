"""Words: a corpus in, a word space out (sgns, cbow, fasttext, glove, ppmi-svd), and sub-word vectors.

    >>> from embspace import words
    >>> space = words.build("corpus.txt", method="glove", dim=100)     # doctest: +SKIP
    >>> space = words.build([["the", "cat", "sat"], ["a", "dog", "barked"]], "sgns", min_count=1)  # doctest: +SKIP

`Corpus`, `Tokenizer` and `Vocab` feed every method the same tokens, so differences between
methods are differences between methods. gensim (sgns, cbow, fasttext) loads only when one of
its methods is asked for; install it with ``pip install -e '.[gensim]'`` in the embspace checkout.
"""

from .._subwords import subword_vector
from ._build import METHODS, WordParams, build
from ._corpus import DEFAULT_PATTERN, Corpus, Tokenizer, Vocab

__all__ = ["DEFAULT_PATTERN", "METHODS", "Corpus", "Tokenizer", "Vocab", "WordParams", "build", "subword_vector"]
