import numpy as np
import pytest

import embspace
from embspace import Space, SpaceError, UnknownIdError


def test_basic_shape_and_lookup(small_space):
    assert small_space.n == 50 and small_space.dim == 8
    assert small_space.vectors.dtype == np.float32 and small_space.vectors.flags.c_contiguous
    assert small_space.index("w7") == 7
    np.testing.assert_array_equal(small_space["w7"], small_space.vectors[7])
    assert "w3" in small_space and "nope" not in small_space and 3 not in small_space
    for _ in range(20):  # past the first scans the dict is used; answers stay the same
        assert small_space.index("w49") == 49


def test_unknown_id_suggests_close_spellings(glove_small):
    with pytest.raises(UnknownIdError) as err:
        glove_small.index("kingg")
    assert "kingg" in str(err.value) and "king" in err.value.suggestions
    assert "did you mean" in str(err.value)


@pytest.mark.parametrize(
    "ids, vectors, match",
    [
        (["a", "b"], [[1.0, np.nan], [0.0, 1.0]], "NaN or Inf"),
        (["a", "b"], [[1.0, np.inf], [0.0, 1.0]], "NaN or Inf"),
        (["a", "a"], [[1.0, 0.0], [0.0, 1.0]], "duplicate id 'a'"),
        (["a"], [[1.0, 0.0], [0.0, 1.0]], "1 ids for 2 vectors"),
        ([], np.zeros((0, 3)), "at least one row"),
        (["a", "b"], [1.0, 2.0], "shape"),
        (["a", ""], [[1.0], [2.0]], "non-empty strings"),
        (["a", "b"], [["x", "y"], ["z", "w"]], "numeric"),
        (["a"], [[1e39]], "too large for float32"),
    ],
)
def test_bad_input_is_refused(ids, vectors, match):
    with pytest.raises(SpaceError, match=match):
        Space(ids, vectors)


def test_meta_length_and_reserved_name():
    with pytest.raises(SpaceError, match="meta column 'x' has 1 values"):
        Space(["a", "b"], np.eye(2), meta={"x": [1]})
    with pytest.raises(SpaceError, match="reserved"):
        Space(["a", "b"], np.eye(2), meta={"id": [1, 2]})
    with pytest.raises(SpaceError, match="unknown metric"):
        Space(["a"], [[1.0]], metric="manhattan")


def test_subset_by_ids_mask_slice(small_space):
    sub = small_space.subset(["w3", "w1"])
    assert sub.ids == ["w3", "w1"] and sub.meta["count"] == [47, 49]
    np.testing.assert_array_equal(sub.vectors, small_space.vectors[[3, 1]])
    mask = np.zeros(50, dtype=bool)
    mask[[4, 5]] = True
    assert small_space.subset(mask).ids == ["w4", "w5"]
    head = small_space.head(10)
    assert head.n == 10 and np.shares_memory(head.vectors, small_space.vectors)
    with pytest.raises(SpaceError, match="empty"):
        small_space.subset([])
    with pytest.raises(UnknownIdError):
        small_space.subset(["w3", "zzz"])
    with pytest.raises(SpaceError, match="mask has shape"):
        small_space.subset(np.ones(3, dtype=bool))


def test_normalized_view(small_space):
    unit = small_space.normalized()
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, rtol=1e-5)
    zero = Space(["a", "b"], [[0.0, 0.0], [3.0, 4.0]]).normalize()
    np.testing.assert_allclose(zero.vectors, [[0, 0], [0.6, 0.8]], rtol=1e-6)
    assert zero.info["normalized"] is True


def test_float64_input_becomes_float32_contiguous():
    s = Space(["a", "b"], np.asfortranarray(np.ones((2, 3))))
    assert s.vectors.dtype == np.float32 and s.vectors.flags.c_contiguous
    assert repr(s) == "<Space n=2 dim=3 metric=cosine>"
    assert isinstance(embspace.Space, type)
