"""Items and users: interactions -> a space of items (itemknn, ease, als, bpr, item2vec) with the users'
vectors inside, and recommendations that say why.

    >>> from embspace import items
    >>> space = items.build("u.data", method="itemknn")  # doctest: +SKIP
    >>> space.recommend(user="196", k=5)  # doctest: +SKIP
"""

from __future__ import annotations

from ._build import build
from ._input import Interactions, read_interactions
from ._methods import DEFAULTS, METHODS
from ._recommend import Recommendation, Recommendations, UnknownUserError, recommend
from ._split import split

__all__ = [
    "DEFAULTS",
    "METHODS",
    "Interactions",
    "Recommendation",
    "Recommendations",
    "UnknownUserError",
    "build",
    "read_interactions",
    "recommend",
    "split",
]
