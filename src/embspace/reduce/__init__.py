"""Maps of a space: PCA, t-SNE and UMAP in 2-D or 3-D, how far each can be trusted, and their cache.

>>> from embspace.reduce import get_or_make_map                    # doctest: +SKIP
>>> m = get_or_make_map("glove.space", "umap", sample=20_000)       # doctest: +SKIP
>>> m.coords.shape, m.trust["trustworthiness"]                     # doctest: +SKIP

The libraries (scikit-learn, openTSNE, umap-learn, matplotlib) load only when a map is drawn;
install them with ``pip install -e '.[explore]'`` in the embspace checkout.
"""

from ._cache import StaleMapError, get_or_make_map, list_maps, load_map, save_map
from ._map import DIMS, MIN_POINTS, Map, complete_point_trust, make_map
from ._methods import METHODS, Reducer
from ._trust import map_trust

__all__ = [
    "Map",
    "make_map",
    "save_map",
    "load_map",
    "list_maps",
    "get_or_make_map",
    "map_trust",
    "complete_point_trust",
    "StaleMapError",
    "Reducer",
    "METHODS",
    "DIMS",
    "MIN_POINTS",
]
