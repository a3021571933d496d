"""Transfer: a space's vectors as features for a new labelled task, beside the baseline a user would try.

>>> from embspace import transfer
>>> report = transfer.run(space, train="labels.csv")            # doctest: +SKIP
>>> report.score("space", 0.1), report.score("bag of words", 0.1)  # doctest: +SKIP

Works for any space whose ids are the label file's ids: logistic regression (classify) or ridge
(regress), on a test file or by k-fold, at 1%, 10% and 100% of the training labels.
"""

from ._read import Labels, read_labels
from ._run import Transfer, run

__all__ = ["Labels", "Transfer", "read_labels", "run"]
