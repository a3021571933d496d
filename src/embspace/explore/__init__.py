"""The local web explorer: a Starlette app over one or more spaces, and its one static page.

>>> from embspace.explore import serve                 # doctest: +SKIP
>>> serve(["glove.space"], port=8765)                  # doctest: +SKIP

The page draws maps with WebGL (regl-scatterplot in 2-D, three.js in 3-D; both vendored in
``static/vendor``, no build step), finds the true neighbours of a point in the space, runs
analogies, compares two spaces and draws missing maps. Starlette and uvicorn load only when an
app is made; install them with ``pip install -e '.[explore]'`` in the embspace checkout.
"""

from ._server import create_app, serve

__all__ = ["create_app", "serve"]
