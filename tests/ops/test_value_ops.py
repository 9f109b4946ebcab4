"""count_nonzero, nonzero, unique, bincount, isclose and allclose against PyTorch: ops on values
whose results carry no gradient (indices, counts, bools)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

INTS = np.array([[0, 2, 2, 5], [3, 0, 2, 5], [0, 0, 1, 7]])


def _same(ours, theirs) -> None:
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _same(a, b)
        return
    if isinstance(theirs, bool):
        assert ours is theirs
        return
    assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize(
    "call",
    [
        lambda lib, x: lib.count_nonzero(x),
        lambda lib, x: lib.count_nonzero(x, 0),
        lambda lib, x: lib.count_nonzero(x, (0, 1)),
        lambda lib, x: x.nonzero(),
        lambda lib, x: x.nonzero(as_tuple=True),
        lambda lib, x: x[0, 0].nonzero(),
        lambda lib, x: lib.unique(x),
        lambda lib, x: lib.unique(x, return_inverse=True),
        lambda lib, x: lib.unique(x, return_counts=True),
        lambda lib, x: x.unique(sorted=True, return_inverse=True, return_counts=True),
        lambda lib, x: lib.bincount(x[1]),
        lambda lib, x: lib.bincount(x[2], minlength=10),
        lambda lib, x: lib.bincount(x[0], lib.tensor([0.5, 1.0, 2.0, 4.0], dtype=lib.float64)),
    ],
)
def test_value_ops_match_pytorch(call):
    _same(call(cr, cr.tensor(INTS)), call(torch, torch.tensor(INTS)))


def test_isclose_and_allclose_match_pytorch():
    a = np.array([1.0, 2.0, np.inf, -np.inf, np.nan, 1e-9, 1.0])
    b = np.array([1.0 + 1e-6, 2.1, np.inf, np.inf, np.nan, 0.0, 1.0 + 2e-5])
    for kwargs in ({}, {"equal_nan": True}, {"rtol": 1e-3, "atol": 0.2}):
        ours = cr.isclose(cr.tensor(a), cr.tensor(b), **kwargs)
        theirs = torch.isclose(torch.tensor(a), torch.tensor(b), **kwargs)
        _same(ours, theirs)
        assert cr.allclose(cr.tensor(a[:2]), cr.tensor(b[:2]), **kwargs) == torch.allclose(
            torch.tensor(a[:2]), torch.tensor(b[:2]), **kwargs
        )


def test_bad_value_op_arguments_are_refused():
    with pytest.raises(RuntimeError, match="integer tensor"):
        cr.bincount(cr.tensor([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="non-negative"):
        cr.bincount(cr.tensor([1, -2]))
    with pytest.raises(NotImplementedError, match="dim="):
        cr.unique(cr.tensor(INTS), dim=0)
