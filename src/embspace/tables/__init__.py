"""Tables: a space of table rows, from their features or from a network trained to predict a column.

    >>> import pandas as pd
    >>> from embspace import tables
    >>> rows = pd.DataFrame({"house": ["a", "b", "c"], "rooms": [2, 3, 5], "garden": ["yes", "no", "yes"]})
    >>> space = tables.build(rows, id="house")
    >>> space.neighbors({"rooms": 4, "garden": "yes"}, k=1)[0].id
    'c'

`build` reads CSV, TSV, Parquet or JSONL (or a DataFrame) and makes the feature space (``features``:
standardised numbers, one-hot categoricals, imputed and flagged missing values) or a learned one
(``learned``: entity embeddings and a small MLP trained on the target, Guo & Berkhahn 2016);
`embed_rows` places new rows the same way (so `Space.neighbors` takes a dict row); `knn_target` says
how well each row's nearest rows predict a column, beside the mean (or majority) baseline. The learned
method needs torch and safetensors: ``pip install -e '.[tables]'`` in the embspace checkout.
"""

from ._build import BUILDER, METHODS, DroppedColumnWarning, build, embed_rows
from ._input import read_table
from ._knn import knn_predict, knn_target, prediction_scores

__all__ = [
    "BUILDER",
    "METHODS",
    "DroppedColumnWarning",
    "build",
    "embed_rows",
    "knn_predict",
    "knn_target",
    "prediction_scores",
    "read_table",
]
