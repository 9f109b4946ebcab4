"""sort, argsort, topk, all, any, gather, index_select and masked_fill against PyTorch where
the op table cannot look: indices (ties, NaN), bool and integer results, and bad arguments.
(Their values' gradients are in the op table: tests/ops/_table.py.)"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

TIES = np.array([[2.0, 1.0, 2.0, 1.0, 3.0], [0.0, np.nan, 0.0, -1.0, np.nan]])


def _both(fn):
    return [fn(lib, lib.tensor(TIES)) for lib in (cr, torch)]


def _np(t):
    return t.numpy() if isinstance(t, cr.Tensor) else t.detach().numpy()


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_stable_sort_matches_pytorch_with_ties_and_nan(dim, descending):
    ours, theirs = _both(lambda lib, x: x.sort(dim=dim, descending=descending, stable=True))
    np.testing.assert_array_equal(_np(ours.values), _np(theirs.values))
    np.testing.assert_array_equal(_np(ours.indices), _np(theirs.indices))
    ours, theirs = _both(lambda lib, x: lib.argsort(x, dim=dim, descending=descending, stable=True))
    np.testing.assert_array_equal(_np(ours), _np(theirs))
    assert ours.dtype == cr.int64


@pytest.mark.parametrize("largest", [True, False])
def test_topk_matches_pytorch(largest):
    x = np.random.default_rng(0).permutation(24).reshape(4, 6).astype(np.float64)
    for dim in (0, 1):
        for k in range(x.shape[dim] + 1):
            ours = cr.tensor(x).topk(k, dim, largest)
            theirs = torch.tensor(x).topk(k, dim, largest)
            np.testing.assert_array_equal(_np(ours.values), _np(theirs.values))
            np.testing.assert_array_equal(_np(ours.indices), _np(theirs.indices))
    with pytest.raises(RuntimeError, match=r"k must be an int in \[0, 6\]"):
        cr.tensor(x).topk(7)


@pytest.mark.parametrize("name", ["all", "any"])
def test_all_and_any_match_pytorch(name):
    x = np.array([[1, 0, 2], [3, 4, 5]])
    for dtype in ("bool", "uint8", "int64", "float32"):
        for dim, keepdim in ((None, False), (0, False), (1, True), ((0, 1), False)):
            results = []
            for lib in (cr, torch):
                t = lib.tensor(x.astype(dtype))
                f = getattr(lib, name)
                results.append(f(t) if dim is None else f(t, dim, keepdim))
            ours, theirs = results
            assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
            np.testing.assert_array_equal(_np(ours), _np(theirs))


def test_bad_selections_are_refused_with_what_was_expected():
    x = cr.ones(3, 4)
    with pytest.raises(RuntimeError, match="dtype int64"):
        x.gather(1, cr.tensor([[0]], dtype=cr.int32))
    with pytest.raises(RuntimeError, match="larger than input"):
        x.gather(1, cr.zeros(4, 1, dtype=cr.int64))
    with pytest.raises(TypeError, match="index must be a Tensor"):
        x.index_select(0, [0, 1])
    with pytest.raises(IndexError, match="out of bounds|out of range"):
        x.index_select(0, cr.tensor([3]))
    with pytest.raises(RuntimeError, match="bool mask"):
        x.masked_fill(cr.ones(3, 4), 0.0)
    with pytest.raises(RuntimeError, match="does not broadcast"):
        x.masked_fill(cr.ones(2, 4, dtype=cr.bool), 0.0)
    with pytest.raises(RuntimeError, match="0-d tensor"):
        x.masked_fill(cr.ones(3, 4, dtype=cr.bool), cr.zeros(2))


def test_masked_fill_takes_the_value_in_the_input_s_dtype():
    for lib in (cr, torch):
        out = lib.tensor([1, 2, 3]).masked_fill(lib.tensor([True, False, True]), 2.7)
        assert str(out.dtype).removeprefix("torch.") == "int64" and out.tolist() == [2, 2, 2]
