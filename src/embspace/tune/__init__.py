"""Improving a space after it is built: post-processing (all-but-the-top) today; tuning and alignment next.

>>> from embspace.tune import all_but_the_top
>>> vectors, info = all_but_the_top(space.vectors, 2)   # doctest: +SKIP
"""

from ._abtt import all_but_the_top

__all__ = ["all_but_the_top"]
