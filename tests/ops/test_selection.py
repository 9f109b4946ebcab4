"""sort, argsort, topk, all, any, gather, scatter, index_select and masked_fill against PyTorch
where the op table cannot look: indices (ties, NaN), bool and integer results, in-place forms
and bad arguments. (Their values' gradients are in the op table: tests/ops/_table.py.)"""

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


@pytest.mark.parametrize(
    "call",
    [
        lambda lib, x, i: lib.gather(x, 1, i),
        lambda lib, x, i: lib.scatter_add(x, 1, i, lib.ones(i.shape, dtype=x.dtype)),
        lambda lib, x, i: lib.scatter(x, 1, i, 7.0),
        lambda lib, x, i: lib.index_select(x, 1, i[0]),
    ],
    ids=["gather", "scatter_add", "scatter", "index_select"],
)
@pytest.mark.parametrize("bad", [-1, 5])
def test_an_index_outside_the_dimension_is_an_error_as_in_pytorch(call, bad):
    """PyTorch refuses -1 (it does not count from the end) and the size itself; chainrule's
    gather and index_select read -1 as the last column, with no error."""
    index = np.array([[0, bad]])
    for lib in (cr, torch):
        with pytest.raises((IndexError, RuntimeError), match="out of (bounds|DATA bounds)"):
            call(lib, lib.tensor(np.zeros((2, 5))), lib.tensor(index))


def test_scatter_s_in_place_forms_and_repeated_places_match_pytorch():
    """scatter_add_ adds repeats up, scatter_ writes a number or a tensor (repeats here none,
    PyTorch leaves which stays unspecified); both bump the version and refuse a tensor that
    requires grad. Out of place, scatter's src gradient reads the upstream at every place a
    value went, repeats included, as PyTorch's."""
    index = np.array([[0, 1, 3], [2, 2, 0]])
    src = np.arange(6.0).reshape(2, 3)
    got = []
    for lib in (cr, torch):
        a = lib.tensor(np.zeros((2, 4)))
        a.scatter_add_(1, lib.tensor(index), lib.tensor(src))
        b = lib.tensor(np.ones((2, 4)))
        b.scatter_(1, lib.tensor(index[:, :2] + np.array([[0], [1]])), 9.0)
        c = lib.tensor(np.ones((2, 4)))
        c.scatter_(1, lib.tensor(index[:1]), lib.tensor(src[:1]))
        s = lib.tensor(src, requires_grad=True)
        lib.scatter(lib.tensor(np.zeros((2, 4))), 1, lib.tensor(index), s).sum().backward()
        got.append([_np(t) for t in (a, b, c, s.grad)])
    for ours, theirs in zip(*got):
        np.testing.assert_array_equal(ours, theirs)
    t = cr.tensor(np.zeros((2, 4)))
    t.scatter_add_(1, cr.tensor(index), cr.tensor(src))
    assert t._version == 1
    with pytest.raises(RuntimeError, match="requires grad"):
        cr.tensor(np.zeros((2, 4)), requires_grad=True).scatter_(1, cr.tensor(index), 1.0)


@pytest.mark.parametrize("op", ["scatter", "scatter_add"])
def test_scatter_s_backward_reads_where_forward_wrote_after_the_index_changes(op):
    """The index tensor zeroed in place between forward and backward: src's gradient is still
    read at the places forward wrote (found by the random in-place programs)."""
    index = np.array([[2, 0], [1, 3]])
    up = np.arange(8.0).reshape(2, 4)
    grads = []
    for change in (False, True):
        src = cr.tensor(np.ones((2, 2)), requires_grad=True)
        k = cr.tensor(index)
        out = getattr(cr, op)(cr.tensor(np.zeros((2, 4))), 1, k, src)
        if change:
            k.copy_(cr.zeros_like(k))
        out.backward(cr.tensor(up))
        grads.append(src.grad.numpy())
    np.testing.assert_array_equal(grads[1], grads[0])
    np.testing.assert_array_equal(grads[0], np.take_along_axis(up, index, 1))
