"""Indexing off the CPU: NumPy's rules on a module that indexes only as the standard does.

array-api-strict refuses most of NumPy's keys (flat indexing, slice bounds past the axis, integer
arrays beside slices, masks beside anything), so ``getitem`` rewrites them (``indexing.py``). The
op table's rows run one example each on ``strict:1``; here every key of ``MIXED_KEYS`` and the
corners of NumPy's rule run there, forward, backward and second order, against NumPy. Index
arrays given on another device than the tensor's (NumPy arrays, lists, CPU tensors for a
``strict:1`` tensor, and the other way round) are moved to the tensor's device, as PyTorch takes
a CPU index for a CUDA tensor. Assignment (``x[key] = value``) runs the same keys, and NumPy's
corners of assignment (repeated positions, broadcast values, None axes, casts), on ``strict:1``.
"""

from __future__ import annotations

import numpy as np
import pytest
from _table import MIXED_KEYS, numpy_key

import chainrule as cr
from chainrule import backend

pytest.importorskip("array_api_strict", reason="array-api-strict is not installed")

STRICT = cr.device("strict:1")

#: NumPy's rule where it is least obvious: where the block of integer-array axes goes.
CORNERS: list[tuple[tuple, object]] = [
    ((3, 4, 5, 6), (np.array([0, 1]), None, np.array([1, 2]))),  # None parts the arrays
    ((3, 4, 5, 6), (slice(None), np.array([0, 1]), None, np.array([1, 2]))),
    ((4, 2, 3), (slice(None), 1, Ellipsis, np.array([2, 0]))),  # an ellipsis of no axes parts
    ((3, 4, 2), (Ellipsis, np.array([1, 0]), 1)),  # an int beside an array: one block
    ((3, 4), (np.array(2),)),  # a 0-d integer array acts as an int
    ((3, 4), (True,)),  # a Python bool is a 0-d mask: a new axis
    ((3, 4), (slice(None), np.array(False))),  # a 0-d False mask: a new axis of size 0
    ((2, 3, 4), (np.array([[True, False, True], [False, True, True]]), np.array([3, 0, 1, 2]))),
    ((3, 4), (slice(5, None), slice(None, None, -1))),  # slice bounds past the axis
    ((3, 4), (slice(-10, 10, 2), slice(10, -10, -3))),
    ((2, 0, 3), (slice(None), np.zeros((0,), np.int64), 1)),
    ((4, 4, 1, 2), (Ellipsis, np.zeros((0, 1), np.int64), np.array([1, -1, -4]))),  # reads none
    ((5,), [4, -5, 4, 0]),  # repeats add up in backward
    ((3,), ()),
]


def _grads(x: cr.Tensor, key: object, up: np.ndarray, c: np.ndarray) -> tuple:
    y = x[key]
    u = cr.tensor(up, device=x.device, requires_grad=True)
    (g,) = cr.autograd.grad(y, x, u, create_graph=True)
    (gg,) = cr.autograd.grad(g, u, cr.tensor(c, device=x.device))
    return y, g, gg


@pytest.mark.parametrize(("shape", "key"), MIXED_KEYS + CORNERS, ids=repr)
def test_key_on_strict_matches_numpy(shape: tuple, key: object) -> None:
    rng = np.random.default_rng(0)
    data = rng.standard_normal(shape)
    want = data[numpy_key(key)]
    up = rng.standard_normal(np.shape(want))
    c = rng.standard_normal(shape)
    expected_grad = np.zeros(shape)
    np.add.at(expected_grad, numpy_key(key), up)
    for where in ("cpu", STRICT):
        x = cr.tensor(data, device=where, requires_grad=True)
        y, g, gg = _grads(x, key, up, c)
        for t in (y, g, gg):
            assert t.device == x.device
        np.testing.assert_array_equal(backend.to_numpy(y._data), want)
        np.testing.assert_allclose(backend.to_numpy(g._data), expected_grad, rtol=1e-12)
        # the gradient's derivative along the upstream: indexing again
        np.testing.assert_array_equal(backend.to_numpy(gg._data), c[numpy_key(key)])


@pytest.mark.parametrize(
    ("shape", "key"),
    [
        ((3,), 3),
        ((3, 4), (0, 0, 0)),
        ((3,), np.array([0, 3])),
        ((3,), [-4]),
        ((3, 4), (np.array([0, 1]), np.array([0, 1, 2]))),
        ((3, 4), np.array([True, False])),
        ((3, 4), (Ellipsis, 0, Ellipsis)),
        ((3,), np.array([0.5])),
    ],
    ids=repr,
)
def test_bad_key_raises_index_error_on_strict_as_numpy(shape: tuple, key: object) -> None:
    with pytest.raises(IndexError):
        np.zeros(shape)[numpy_key(key)]
    with pytest.raises(IndexError, match=r"indexing a tensor of shape"):
        cr.zeros(shape, device=STRICT)[key]


@pytest.mark.parametrize("form", ["numpy", "list", "cpu tensor", "mask", "cpu mask"])
def test_index_from_the_cpu_moves_to_a_strict_tensor(form: str) -> None:
    data = np.arange(12.0).reshape(3, 4)
    idx = {
        "numpy": np.array([2, 0, 2]),
        "list": [2, 0, 2],
        "cpu tensor": cr.tensor([2, 0, 2]),
        "mask": np.array([True, False, True]),
        "cpu mask": cr.tensor([True, False, True]),
    }[form]
    x = cr.tensor(data, device=STRICT, requires_grad=True)
    y = x[idx, 1:]
    assert y.device == STRICT
    np.testing.assert_array_equal(backend.to_numpy(y._data), data[numpy_key(idx), 1:])
    (g,) = cr.autograd.grad(y, x, cr.ones(y.shape, dtype=y.dtype, device=STRICT))
    expected = np.zeros_like(data)
    np.add.at(expected, (numpy_key(idx), slice(1, None)), 1.0)
    assert g.device == STRICT
    np.testing.assert_array_equal(backend.to_numpy(g._data), expected)


def test_index_on_strict_moves_to_a_cpu_tensor() -> None:
    data = np.arange(6.0)
    x = cr.tensor(data, requires_grad=True)
    y = x[cr.tensor([5, 5, 1], device=STRICT)]
    assert y.device == cr.device("cpu") and isinstance(y._data, np.ndarray)
    np.testing.assert_array_equal(y.detach().numpy(), data[[5, 5, 1]])


# ----- assignment: x[key] = value on strict:1, as NumPy assigns -----
#: Keys and values where assignment differs from reading: repeated positions (the last value
#: stays), a value that broadcasts or has extra leading axes of size 1, None axes, casts.
SET_CASES: list[tuple[tuple, object, object]] = [
    ((5,), [4, 1, 4, 4], np.array([1.0, 2.0, 3.0, 7.0])),  # position 4: the last value, 7
    ((3, 4), (np.array([0, 2, 0]), slice(1, 3)), np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])),
    ((3, 4), np.array([True, False, True]), 9.0),  # a number fills the selection
    ((3, 4), np.array([True, False, True]), np.array([1.0, 2.0, 3.0, 4.0])),  # broadcast rows
    ((3, 4), (None, 1), np.array([[[5.0, 6.0, 7.0, 8.0]]])),  # None: leading axes of size 1
    ((3, 4), (slice(None), None, 2), np.array([1.0, 2.0, 3.0])[:, None]),
    ((2, 3), (Ellipsis, -1), 2),  # an int value into a float tensor: cast
    ((4,), slice(None, None, -2), np.array([1.5, 2.5])),
    ((3,), (), 4.0),
    ((2, 2), np.zeros((0,), np.int64), 1.0),  # selects nothing
]


def _assigned(where, shape: tuple, key: object, value: object) -> np.ndarray:
    x = cr.tensor(np.arange(float(np.prod(shape))).reshape(shape), device=where)
    version = x._version
    x[key] = value
    assert x.device == cr.device(where) and x._version == version + 1
    return backend.to_numpy(x._data)


@pytest.mark.parametrize(("shape", "key", "value"), SET_CASES, ids=repr)
def test_assignment_on_strict_matches_numpy(shape: tuple, key: object, value: object) -> None:
    want = np.arange(float(np.prod(shape))).reshape(shape)
    want[numpy_key(key)] = value
    np.testing.assert_array_equal(_assigned("cpu", shape, key, value), want)
    np.testing.assert_array_equal(_assigned(STRICT, shape, key, value), want)


@pytest.mark.parametrize(("shape", "key"), MIXED_KEYS + CORNERS, ids=repr)
def test_assignment_of_every_key_on_strict_matches_numpy(shape: tuple, key: object) -> None:
    rng = np.random.default_rng(1)
    want = rng.standard_normal(shape)
    value = rng.standard_normal(np.shape(want[numpy_key(key)]))
    want[numpy_key(key)] = value
    for where in ("cpu", STRICT):
        x = cr.tensor(np.random.default_rng(1).standard_normal(shape), device=where)
        x[key] = cr.tensor(value)  # a CPU tensor as the value: moved to x's device
        np.testing.assert_array_equal(backend.to_numpy(x._data), want)


@pytest.mark.parametrize("form", ["numpy", "list", "cpu tensor", "mask"])
def test_assignment_with_an_index_from_the_cpu_on_strict(form: str) -> None:
    idx = {
        "numpy": np.array([2, 0]),
        "list": [2, 0],
        "cpu tensor": cr.tensor([2, 0]),
        "mask": cr.tensor([True, False, True]),
    }[form]
    x = cr.zeros(3, 4, device=STRICT)
    x[idx, 1:] = cr.ones(3, device=STRICT)
    want = np.zeros((3, 4))
    want[numpy_key(idx), 1:] = 1.0
    assert x.device == STRICT
    np.testing.assert_array_equal(backend.to_numpy(x._data), want)


def test_assignment_with_an_index_on_strict_into_a_cpu_tensor() -> None:
    x = cr.zeros(5)
    x[cr.tensor([4, 1], device=STRICT)] = cr.tensor([1.0, 2.0], device=STRICT)
    assert isinstance(x._data, np.ndarray)
    np.testing.assert_array_equal(x.numpy(), [0.0, 2.0, 0.0, 0.0, 1.0])


@pytest.mark.parametrize("where", ["cpu", STRICT], ids=str)
def test_assignment_that_does_not_fit_raises(where) -> None:
    x = cr.zeros(3, 4, device=where)
    with pytest.raises(ValueError, match="broadcast"):
        x[0] = np.ones(3)
    with pytest.raises(IndexError):
        x[[0, 3]] = 1.0
