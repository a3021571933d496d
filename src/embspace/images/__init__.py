"""Images: a space of images from pixels, hand-made features (colour, shape, texture), a CNN or contrastive training.

    >>> import numpy as np, tempfile, os
    >>> from embspace import images
    >>> path = os.path.join(tempfile.mkdtemp(), "tiles.npy")
    >>> np.save(path, np.random.default_rng(0).integers(0, 255, (6, 16, 16, 3), dtype=np.uint8))
    >>> space = images.build(path, method="features")
    >>> space.n, space.ids[0], space.metric
    (6, 'tiles:0', 'cosine')
    >>> images.embed_images(space, np.zeros((16, 16, 3), np.uint8)).shape == (1, space.dim)
    True

`build` reads folders of image files, CSV/Parquet tables of paths, ``.npy`` arrays and IDX files
(`read_images` opens them), embeds them in batches and keeps a thumbnail of each image (`thumbnail`,
`sprite`); `embed_images` puts query images into an existing image space with the method its manifest
names. scikit-image and Pillow come with ``pip install -e '.[images]'``; the ``cnn`` and ``contrastive``
methods need torch: ``pip install -e '.[images-cnn]'`` in the embspace checkout.
"""

from ._base import METHODS, Batch, Embedder, FitContext
from ._build import build, embed_images, embedder_for
from ._input import MAX_PIXELS, ImageSource, decode_image, image_files, read_images
from ._sprites import sprite, thumbnail
from ._thumbs import thumbnail_pixels

__all__ = [
    "MAX_PIXELS",
    "METHODS",
    "Batch",
    "Embedder",
    "FitContext",
    "ImageSource",
    "build",
    "decode_image",
    "embed_images",
    "embedder_for",
    "image_files",
    "read_images",
    "sprite",
    "thumbnail",
    "thumbnail_pixels",
]
