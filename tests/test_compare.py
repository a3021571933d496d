import numpy as np
import pytest

from embspace import EmbspaceError, Space
from embspace.evaluate._compare import neighbour_overlap


def test_identical_spaces_overlap_fully(glove_small):
    head = glove_small.head(3000)
    result = neighbour_overlap(head, head, k=10, sample=200)
    assert result["mean"] == 1.0 and result["compared"] == 200 and result["shared"] == 3000


def test_rotated_space_keeps_neighbourhoods_noise_does_not(glove_small):
    head = glove_small.head(3000)
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(50, 50)))
    rotated = Space(head.ids, head.vectors @ q.astype(np.float32))
    assert neighbour_overlap(head, rotated, k=10, sample=300)["mean"] > 0.99
    noisy = Space(head.ids, head.vectors + np.random.default_rng(1).normal(scale=0.5, size=head.vectors.shape))
    result = neighbour_overlap(head, noisy, k=10, sample=300)
    assert result["mean"] < 0.9
    worst = result["most_different"][0]
    assert worst["overlap"] == min(r["overlap"] for r in result["most_different"])
    assert len(worst["a_only"]) == len(worst["b_only"]) == round(10 * (1 - worst["overlap"]))


def test_only_shared_ids_are_compared(glove_small):
    a = glove_small.subset(glove_small.ids[:2000])
    b = glove_small.subset(glove_small.ids[1000:3000])
    result = neighbour_overlap(a, b, k=5, sample=None)
    assert result["shared"] == 1000 and result["mean"] == 1.0
    with pytest.raises(EmbspaceError, match="share 0 ids"):
        neighbour_overlap(a, glove_small.subset(glove_small.ids[5000:5100]), k=5)
