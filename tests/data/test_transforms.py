"""flatten, scale01, Standardize (train statistics only), one_hot."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.data.transforms import Standardize, flatten, one_hot, scale01


def test_flatten_arrays_and_tensors():
    x = np.zeros((5, 32, 32, 3), np.float32)
    assert flatten(x).shape == (5, 3072)
    t = flatten(cr.tensor(np.ones((4, 8, 8), np.float32)))
    assert isinstance(t, cr.Tensor) and t.shape == (4, 64)
    assert flatten(np.arange(3)).shape == (3, 1)
    with pytest.raises(ValueError, match="0-d"):
        flatten(np.float32(1.0))


def test_scale01():
    u8 = np.array([0, 51, 255], np.uint8)
    np.testing.assert_allclose(scale01(u8), [0, 0.2, 1])
    assert scale01(u8).dtype == np.float32
    np.testing.assert_allclose(scale01(np.array([0, 8, 16], np.uint8), max_value=16), [0, 0.5, 1])
    np.testing.assert_allclose(scale01(np.array([0.0, 2.0, 4.0])), [0, 0.5, 1])
    assert scale01(np.zeros(3)).tolist() == [0, 0, 0]
    assert isinstance(scale01(cr.tensor(np.array([3], np.uint8))), cr.Tensor)
    with pytest.raises(ValueError, match="max_value"):
        scale01(u8, max_value=0)


def test_standardize_uses_train_statistics_only():
    rng = np.random.default_rng(0)
    x_train = rng.normal(5.0, 2.0, (200, 3, 4)).astype(np.float32)
    x_train[:, 0, 0] = 7.0  # a constant feature: std 0 -> treated as 1
    x_val = rng.normal(-3.0, 10.0, (50, 3, 4)).astype(np.float32)
    std = Standardize().fit(x_train)
    z = std(x_train)
    assert z.dtype == np.float32 and z.shape == x_train.shape
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=0)[1:, 1:], 1, atol=1e-4)
    assert np.all(z[:, 0, 0] == 0)
    v = std(x_val)  # validation data use the training mean/std, not their own
    np.testing.assert_allclose(v, (x_val - x_train.mean(0)) / std.std, rtol=1e-4, atol=1e-4)
    assert abs(v.mean()) > 1  # far from 0: its own statistics were not used
    state = std.state_dict()
    assert set(state) == {"mean", "std"} and state["mean"].shape == (3, 4)
    other = Standardize()
    other.load_state_dict(state)
    np.testing.assert_array_equal(other(x_val), v)
    centred = Standardize(with_std=False).fit(x_train)(x_train)  # the lecture's mean image
    np.testing.assert_allclose(centred, x_train - x_train.mean(0), atol=1e-5)


def test_standardize_errors():
    with pytest.raises(RuntimeError, match="fit"):
        Standardize()(np.zeros((2, 3)))
    std = Standardize().fit(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        std(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="'mean' and 'std'"):
        Standardize().load_state_dict({"mean": np.zeros(3)})
    with pytest.raises(ValueError, match="N >= 1"):
        Standardize().fit(np.zeros((0, 3)))


def test_one_hot():
    out = one_hot(np.array([2, 0, 1]), 3)
    np.testing.assert_array_equal(out, np.eye(3, dtype=np.float32)[[2, 0, 1]])
    assert out.dtype == np.float32
    assert isinstance(one_hot(cr.tensor([1, 0]), 2), cr.Tensor)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        one_hot(np.array([3]), 3)
    with pytest.raises(TypeError, match="integers"):
        one_hot(np.array([0.5]), 3)
