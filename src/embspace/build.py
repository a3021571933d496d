"""Deprecated: the old home of the builders, kept for one release (removed in 0.3).

Use `embspace.words.build` (was `build_words`), `embspace.texts.build` (was `build_texts`),
`embspace.texts.tokens` (was `build_tokens`), `embspace.texts.encode_queries` and
`embspace.tune.all_but_the_top`.
"""

from __future__ import annotations

import importlib
import warnings

_MOVED = {
    "build_words": ("embspace.words", "build"),
    "WordParams": ("embspace.words", "WordParams"),
    "METHODS": ("embspace.words", "METHODS"),
    "Corpus": ("embspace.words", "Corpus"),
    "Tokenizer": ("embspace.words", "Tokenizer"),
    "Vocab": ("embspace.words", "Vocab"),
    "DEFAULT_PATTERN": ("embspace.words", "DEFAULT_PATTERN"),
    "build_texts": ("embspace.texts", "build"),
    "build_tokens": ("embspace.texts", "tokens"),
    "encode_queries": ("embspace.texts", "encode_queries"),
    "all_but_the_top": ("embspace.tune", "all_but_the_top"),
}


def __getattr__(name: str):
    try:
        module, new = _MOVED[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    warnings.warn(
        f"embspace.build.{name} is deprecated and will be removed in 0.3; use {module}.{new}",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(module), new)
