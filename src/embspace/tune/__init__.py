"""Improving a space after it is built: post-processing (centre, all-but-the-top, unit length), retrofitting
to a lexicon, a contrastive projection head learned from pairs or labels, alignment of two spaces
(translation), and the transform chain that puts queries encoded later through the same steps.

>>> from embspace.tune import post
>>> better = post(space, center=True, abtt=2, normalize=True)   # doctest: +SKIP
>>> from embspace.tune import contrastive
>>> tuned, report = contrastive(space, labels="label")          # doctest: +SKIP
>>> from embspace.tune import all_but_the_top
>>> vectors, info = all_but_the_top(space.vectors, 2)   # doctest: +SKIP
"""

from ._abtt import all_but_the_top
from ._align import align, translate, words_moved
from ._chain import STEPS, append_step, apply_transforms
from ._head import contrastive
from ._head_scores import ContrastiveReport
from ._post import post
from ._retrofit import retrofit
from ._texts import TextTuning, reembed, tune_texts

__all__ = [
    "STEPS",
    "TextTuning",
    "ContrastiveReport",
    "align",
    "all_but_the_top",
    "append_step",
    "apply_transforms",
    "contrastive",
    "post",
    "reembed",
    "retrofit",
    "translate",
    "tune_texts",
    "words_moved",
]
