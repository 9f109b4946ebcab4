"""Making tensors, converting them, and what they show: cr.tensor, the factories, random tensors,
conversions, repr, comparisons and NumPy interoperability."""

import operator

import numpy as np
import pytest

import chainrule as cr


@pytest.fixture
def float64_default():
    cr.set_default_dtype(cr.float64)
    try:
        yield
    finally:
        cr.set_default_dtype(cr.float32)


# ----- cr.tensor: dtype rules -----
@pytest.mark.parametrize(
    "data, dtype",
    [
        (1.5, np.float32),
        ([1.0, 2.0], np.float32),
        ([1, 2.5], np.float32),  # a float anywhere makes it floating
        ([[1.0], [2.0]], np.float32),
        (3, np.int64),
        ([1, 2, 3], np.int64),
        (True, np.bool_),
        ([True, False], np.bool_),
    ],
    ids=str,
)
def test_python_data_dtypes(data, dtype):
    t = cr.tensor(data)
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.numpy(), np.array(data, dtype=dtype))


def test_dtype_rules_match_torch():
    torch = pytest.importorskip("torch")
    names = {torch.float32: "float32", torch.int64: "int64", torch.bool: "bool"}
    for data in (1.5, [1.0, 2.0], [1, 2.5], 3, [1, 2], True, [False, True]):
        assert str(cr.tensor(data).dtype) == names[torch.tensor(data).dtype], data


def test_set_default_dtype_changes_what_floats_become(float64_default):
    assert cr.get_default_dtype() == np.float64
    assert cr.tensor(1.5).dtype == np.float64
    assert cr.tensor([1.0, 2.0]).dtype == np.float64
    assert cr.zeros(2).dtype == np.float64
    assert cr.randn(2).dtype == np.float64
    assert cr.tensor([1, 2]).dtype == np.int64  # ints are not affected


def test_default_dtype_is_float32_and_rejects_integers():
    assert cr.get_default_dtype() == np.float32
    with pytest.raises(TypeError):
        cr.set_default_dtype(cr.int64)
    assert cr.get_default_dtype() == np.float32


@pytest.mark.parametrize(
    "dtype", [np.float16, np.float32, np.float64, np.int32, np.int64, np.bool_]
)
def test_numpy_arrays_keep_their_dtype(dtype):
    a = np.array([1, 0, 1], dtype=dtype)
    assert cr.tensor(a).dtype == dtype
    assert cr.from_numpy(a).dtype == dtype


def test_explicit_dtype_wins():
    assert cr.tensor([1, 2], dtype=cr.float64).dtype == np.float64
    assert cr.tensor(np.array([1.5]), dtype=cr.float32).dtype == np.float32
    assert cr.tensor([1.7, -2.2], dtype=cr.int64).tolist() == [1, -2]


def test_tensor_copies_but_from_numpy_shares_memory():
    a = np.array([1.0, 2.0, 3.0])
    copied = cr.tensor(a)
    shared = cr.from_numpy(a)
    a[0] = 100.0
    assert copied.tolist() == [1.0, 2.0, 3.0]
    assert shared.tolist() == [100.0, 2.0, 3.0]
    shared.numpy()[1] = -5.0
    assert a[1] == -5.0


def test_from_numpy_rejects_other_data():
    with pytest.raises(TypeError, match="list"):
        cr.from_numpy([1.0, 2.0])


def test_tensor_constructor_and_name():
    t = cr.Tensor([1.0, 2.0], requires_grad=True, name="w")
    assert t.requires_grad and t.name == "w"
    assert cr.tensor(2.0, name="b").name == "b"
    assert cr.tensor(2.0).name is None


# ----- requires_grad only for floating dtypes -----
@pytest.mark.parametrize("data", [[1, 2], [True, False], 3], ids=["int", "bool", "int-scalar"])
def test_integer_and_bool_tensors_cannot_require_grad(data):
    with pytest.raises(RuntimeError, match="floating") as info:
        cr.tensor(data, requires_grad=True)
    assert str(cr.tensor(data).dtype) in str(info.value)  # says what it got
    t = cr.tensor(data)
    with pytest.raises(RuntimeError, match="floating"):
        t.requires_grad_()
    with pytest.raises(RuntimeError, match="floating"):
        cr.zeros(2, dtype=cr.int64, requires_grad=True)


# ----- refused data -----
@pytest.mark.parametrize(
    "data, found",
    [
        ("abc", "str"),
        (["a", "b"], "str"),
        ([object()], "object"),
        ({"a": 1}, "dict"),
        (None, "NoneType"),
        ([1 + 2j], "complex"),
    ],
    ids=["str", "list-of-str", "object", "dict", "None", "complex"],
)
def test_non_numeric_data_is_refused_naming_what_was_found(data, found):
    with pytest.raises(TypeError) as info:
        cr.tensor(data)
    assert found in str(info.value)


@pytest.mark.parametrize("data", [[[1, 2], [3]], [[1.0, 2.0], [3.0]], [1.0, [2.0, 3.0]]])
def test_ragged_lists_are_refused_clearly(data):
    with pytest.raises((TypeError, ValueError)) as info:
        cr.tensor(data)
    msg = str(info.value)
    assert "list" in msg
    assert "equal length" in msg or "inhomogeneous" in msg


# ----- factories -----
@pytest.mark.parametrize("factory, fill", [(cr.zeros, 0.0), (cr.ones, 1.0)])
def test_zeros_and_ones_take_sizes_both_ways(factory, fill):
    for t in (factory(2, 3), factory((2, 3)), factory([2, 3])):
        assert t.shape == (2, 3)
        assert t.dtype == np.float32
        assert not t.requires_grad
        np.testing.assert_array_equal(t.numpy(), np.full((2, 3), fill))
    assert factory(4).shape == (4,)
    assert factory(()).shape == ()
    assert factory(2, dtype=cr.int64).dtype == np.int64
    assert factory(2, requires_grad=True).requires_grad


def test_full():
    t = cr.full((2, 3), 7.0)
    assert t.shape == (2, 3) and t.dtype == np.float32
    np.testing.assert_array_equal(t.numpy(), np.full((2, 3), 7.0))
    assert cr.full((2,), 3).dtype == np.int64  # follows the value, as in PyTorch
    assert cr.full((2,), True).dtype == np.bool_
    assert cr.full((2,), 3, dtype=cr.float64).dtype == np.float64


def test_eye():
    np.testing.assert_array_equal(cr.eye(3).numpy(), np.eye(3))
    np.testing.assert_array_equal(cr.eye(2, 3).numpy(), [[1, 0, 0], [0, 1, 0]])
    assert cr.eye(2).dtype == np.float32


def test_arange():
    t = cr.arange(5)
    assert t.dtype == np.int64
    assert t.tolist() == [0, 1, 2, 3, 4]
    assert cr.arange(2, 8, 2).tolist() == [2, 4, 6]
    f = cr.arange(0.0, 1.0, 0.25)
    assert f.dtype == np.float32
    np.testing.assert_array_equal(f.numpy(), [0.0, 0.25, 0.5, 0.75])
    assert cr.arange(5, 0, -2).tolist() == [5, 3, 1]
    with pytest.raises(ValueError):
        cr.arange(0, 5, 0)


def test_linspace():
    t = cr.linspace(0, 1, 5)
    assert t.dtype == np.float32
    np.testing.assert_array_equal(t.numpy(), [0.0, 0.25, 0.5, 0.75, 1.0])
    assert cr.linspace(-1, 1, 3, dtype=cr.float64).tolist() == [-1.0, 0.0, 1.0]
    with pytest.raises(ValueError):
        cr.linspace(0, 1, -1)


def test_like_factories():
    x = cr.ones(2, 3, dtype=cr.float64)
    for fn in (cr.zeros_like, cr.ones_like, cr.rand_like, cr.randn_like):
        t = fn(x)
        assert t.shape == (2, 3) and t.dtype == np.float64, fn.__name__
    np.testing.assert_array_equal(cr.zeros_like(x).numpy(), np.zeros((2, 3)))
    np.testing.assert_array_equal(cr.ones_like(x).numpy(), np.ones((2, 3)))
    np.testing.assert_array_equal(cr.full_like(x, 3).numpy(), np.full((2, 3), 3.0))
    assert cr.full_like(x, 3).dtype == np.float64
    ri = cr.randint_like(cr.zeros(4, dtype=cr.int64), 0, 5)
    assert ri.dtype == np.int64 and ri.shape == (4,)
    assert ((ri.numpy() >= 0) & (ri.numpy() < 5)).all()
    assert cr.zeros_like(x, requires_grad=True).requires_grad
    assert cr.zeros_like(x, dtype=cr.float32).dtype == np.float32


# ----- random tensors -----
def test_random_tensors_are_reproducible_with_manual_seed():
    cr.manual_seed(42)
    a = (cr.rand(3, 2), cr.randn(4), cr.randint(0, 10, (5,)))
    cr.manual_seed(42)
    b = (cr.rand(3, 2), cr.randn(4), cr.randint(0, 10, (5,)))
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u.numpy(), v.numpy())
    cr.manual_seed(43)
    assert not np.array_equal(cr.rand(3, 2).numpy(), a[0].numpy())


def test_random_shapes_dtypes_and_ranges():
    cr.manual_seed(0)
    u = cr.rand(1000)
    assert u.dtype == np.float32 and u.shape == (1000,)
    assert (u.numpy() >= 0).all() and (u.numpy() < 1).all()
    n = cr.randn((200, 50), dtype=cr.float64)
    assert n.shape == (200, 50) and n.dtype == np.float64
    assert abs(n.numpy().mean()) < 0.05 and abs(n.numpy().std() - 1) < 0.05
    i = cr.randint(3, 7, (1000,))
    assert i.dtype == np.int64
    assert set(np.unique(i.numpy())) == {3, 4, 5, 6}
    assert cr.randint(5, size=(2, 2)).shape == (2, 2)  # randint(high, size)
    assert cr.rand(2, requires_grad=True).requires_grad
    with pytest.raises(TypeError):
        cr.randn(2, dtype=cr.int64)
    with pytest.raises(ValueError):
        cr.randint(5, 5, (2,))
    with pytest.raises(ValueError):
        cr.manual_seed(-1)


# ----- conversions -----
def test_numpy_shares_memory_and_refuses_tensors_requiring_grad():
    t = cr.tensor([1.0, 2.0])
    a = t.numpy()
    a[0] = 9.0
    assert t.tolist() == [9.0, 2.0]
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        w.numpy()
    with pytest.raises(RuntimeError, match="detach"):
        np.asarray(w)
    np.testing.assert_array_equal(w.detach().numpy(), [1.0, 2.0])


def test_np_asarray():
    t = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
    a = np.asarray(t)
    assert isinstance(a, np.ndarray)
    assert a.dtype == np.float32 and a.shape == (2, 2)
    np.testing.assert_array_equal(a, [[1.0, 2.0], [3.0, 4.0]])
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert np.array(t).tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_item_and_tolist():
    assert cr.tensor(2.5).item() == 2.5
    assert isinstance(cr.tensor(2.5).item(), float)
    assert isinstance(cr.tensor(3).item(), int)
    assert cr.tensor(True).item() is True
    assert cr.tensor([[7.0]]).item() == 7.0  # one element of any shape
    with pytest.raises(RuntimeError, match="4 elements"):
        cr.tensor([[1.0, 2.0], [3.0, 4.0]]).item()
    assert cr.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert cr.tensor(5).tolist() == 5
    assert float(cr.tensor([1.5])) == 1.5
    assert int(cr.tensor(4)) == 4


def test_attributes():
    t = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert t.shape == (2, 3)
    assert t.ndim == 2 and t.dim() == 2
    assert t.dtype == cr.float32 == np.float32
    assert t.size() == (2, 3)
    assert t.size(1) == 3 and t.size(-1) == 3
    assert t.numel() == 6
    assert len(t) == 2
    np.testing.assert_array_equal(t.T.numpy(), [[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]])
    assert cr.ones(2, 3, 4).T.shape == (4, 3, 2)
    assert t.is_floating_point() and not cr.tensor([1]).is_floating_point()


def test_dtype_conversions():
    t = cr.tensor([1.5, -2.5])
    assert t.astype(cr.float64).dtype == np.float64
    assert t.double().dtype == np.float64
    assert t.double().float().dtype == np.float32
    assert t.to(cr.float64).dtype == np.float64
    assert t.long().tolist() == [1, -2]
    assert cr.tensor([1, 2]).float().dtype == np.float32


def test_conversion_between_floats_is_differentiable():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x.double()
    assert y.dtype == np.float64 and y.requires_grad
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])


# ----- repr -----
def test_repr_shows_values_dtype_and_requires_grad():
    r = repr(cr.tensor([1.0, 2.5]))
    assert r.startswith("tensor(")
    assert "1." in r and "2.5" in r
    assert "float32" in r
    assert "requires_grad" not in r and "grad_fn" not in r
    r = repr(cr.tensor([1.0, 2.5], requires_grad=True))
    assert "requires_grad=True" in r
    r = repr(cr.tensor([1, 2]))
    assert "int64" in r


def test_repr_shows_grad_fn_and_name():
    x = cr.tensor([1.0, 2.0], requires_grad=True, name="w")
    assert "name='w'" in repr(x)
    y = x * 3.0
    r = repr(y)
    assert "grad_fn=<MulBackward" in r
    assert "3." in r and "6." in r
    assert "requires_grad=True" not in r  # grad_fn says it, as in PyTorch


def test_repr_of_a_large_tensor_is_summarised():
    r = repr(cr.arange(10_000))
    assert "..." in r
    assert len(r) < 500


# ----- comparisons -----
@pytest.mark.parametrize(
    "op, expected",
    [
        (lambda a, b: a < b, [True, False, False]),
        (lambda a, b: a <= b, [True, True, False]),
        (lambda a, b: a > b, [False, False, True]),
        (lambda a, b: a >= b, [False, True, True]),
        (lambda a, b: a == b, [False, True, False]),
        (lambda a, b: a != b, [True, False, True]),
    ],
    ids=["lt", "le", "gt", "ge", "eq", "ne"],
)
def test_comparisons_return_bool_tensors_without_grad(op, expected):
    a = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = cr.tensor([2.0, 2.0, 2.0])
    for rhs in (b, 2.0):
        out = op(a, rhs)
        assert isinstance(out, cr.Tensor)
        assert out.dtype == np.bool_
        assert not out.requires_grad and out.grad_fn is None
        assert out.tolist() == expected


def test_tensors_hash_by_identity():
    a, b = cr.tensor([1.0]), cr.tensor([1.0])
    assert len({a, b}) == 2
    assert {a: 1}[a] == 1


# ----- NumPy interoperability -----
def test_numpy_ufunc_on_a_tensor_stays_in_the_graph():
    x = cr.tensor([0.0, 1.0], dtype=cr.float64, requires_grad=True)
    y = np.exp(x)
    assert isinstance(y, cr.Tensor)
    assert y.requires_grad and "ExpBackward" in repr(y.grad_fn)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([0.0, 1.0]), rtol=1e-15)


def test_ndarray_operators_with_a_tensor_return_tensors():
    x = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    a = np.array([10.0, 20.0])
    for out in (a + x, a * x, x + a, a - x):
        assert isinstance(out, cr.Tensor)
        assert out.requires_grad
    (a * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [10.0, 20.0])
    np.testing.assert_array_equal((a + x).detach().numpy(), [11.0, 22.0])


def test_unsupported_numpy_function_on_a_tensor_requiring_grad_names_it():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="sin"):
        np.sin(x)
    with pytest.raises(TypeError, match="cumsum"):
        np.cumsum(x)


def test_unsupported_numpy_function_works_on_values_without_grad():
    x = cr.tensor([0.0, 1.0])
    out = np.sin(x)
    np.testing.assert_allclose(np.asarray(out), np.sin([0.0, 1.0]), rtol=1e-6)
    with cr.no_grad():
        w = cr.tensor([0.0, 1.0], requires_grad=True)
        np.testing.assert_allclose(np.asarray(np.cumsum(w)), [0.0, 1.0])


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda: cr.tensor([1.0, 2.0]) + cr.tensor([1, 2]), cr.float32),
        (lambda: cr.arange(3) * 0.5, cr.float32),
        (lambda: cr.ones(2) * cr.tensor(2.0, dtype=cr.float64), cr.float32),
        (lambda: cr.tensor(2.0, dtype=cr.float64) - cr.ones(2), cr.float32),
        (lambda: cr.ones(2, dtype=cr.float64) * cr.ones(2), cr.float64),
        (lambda: cr.arange(3) * 2, cr.int64),
        (lambda: cr.where(cr.tensor([True, False]), cr.ones(2), cr.tensor([1, 2])), cr.float32),
        # true division of integers gives the default float dtype, not NumPy's float64
        (lambda: cr.tensor(np.array([3, 200], np.uint8)) / 255, cr.float32),
        (lambda: cr.arange(3) / cr.arange(1, 4), cr.float32),
        (lambda: 1 / cr.tensor([True, True]), cr.float32),
        (lambda: cr.arange(3, dtype=cr.int32) + cr.tensor(2), cr.int32),
        (lambda: cr.tensor(2) * cr.arange(3, dtype=cr.int32), cr.int32),
        # joining, choosing and clamping: an integer tensor does not widen a float to float64
        (lambda: cr.cat([cr.arange(2), cr.ones(1)]), cr.float32),
        (lambda: cr.stack([cr.arange(2), cr.ones(2)]), cr.float32),
        (lambda: cr.cat([cr.arange(2, dtype=cr.int32), cr.arange(2)]), cr.int64),
        (lambda: cr.where(cr.tensor([True, False]), 1.0, 0.0), cr.float32),
        (lambda: cr.where(cr.tensor([True, False]), 1, 0), cr.int64),
        (lambda: cr.arange(3).clamp(max=2.5), cr.float32),
        (lambda: cr.arange(3).clamp(0, 1), cr.int64),
        # a float function of integers: the default dtype
        (lambda: cr.arange(1, 3).sqrt(), cr.float32),
        (lambda: cr.sigmoid(cr.tensor([True, False])), cr.float32),
        (lambda: cr.arange(3).exp() * cr.ones(3, dtype=cr.float64), cr.float64),
    ],
)
def test_type_promotion_follows_pytorch(make, expected):
    assert make().dtype == expected


def test_type_promotion_table_matches_pytorch():
    """Every pair of bool/int32/int64/float32/float64 operands, each with dimensions or 0-d,
    and Python numbers on either side, under +, -, *, / and **: the result's dtype is PyTorch's
    wherever PyTorch gives one (chainrule also subtracts bools, which PyTorch refuses)."""
    torch = pytest.importorskip("torch")
    kinds = ["bool", "int32", "int64", "float32", "float64"]
    ops = [operator.add, operator.sub, operator.mul, operator.truediv, operator.pow]

    def operand(lib, kind, shape):
        a = np.ones(shape, dtype=kind)
        return cr.tensor(a) if lib is cr else torch.tensor(a)

    def dtype_name(lib, op, a, b):
        try:
            r = op(a(lib), b(lib))
        except RuntimeError:  # PyTorch's refusal (bool subtraction)
            return None
        return str(r.dtype).split(".")[-1]

    checked = 0
    sides = [(k, s) for k in kinds for s in ((2,), ())]
    pairs = [(x, y) for x in sides for y in sides]
    pairs += [(x, (n,)) for x in sides for n in (2, 2.5, True)]
    pairs += [((n,), x) for x in sides for n in (2, 2.5, True)]
    for left, right in pairs:
        a = (lambda lib, v=left: operand(lib, *v)) if len(left) == 2 else (lambda lib, v=left: v[0])
        b = (
            (lambda lib, v=right: operand(lib, *v))
            if len(right) == 2
            else (lambda lib, v=right: v[0])
        )
        for op in ops:
            theirs = dtype_name(torch, op, a, b)
            if theirs is None or (op is operator.pow and "bool" in str(left) + str(right)):
                continue  # refused by PyTorch; a bool power is int8 in NumPy, int64 in PyTorch
            assert dtype_name(cr, op, a, b) == theirs, (op.__name__, left, right)
            checked += 1
    assert checked > 400


def test_an_in_place_result_of_a_higher_kind_is_refused_not_truncated():
    """As in PyTorch: a float result into an integer tensor, or an integer into a bool one, is
    an error; copy_ and fill_ convert, and a float64 result goes into a float32 tensor."""
    x = cr.tensor([1, 2])
    for op in (lambda: x.__itruediv__(2), lambda: x.add_(0.5), lambda: x.mul_(cr.tensor(2.0))):
        with pytest.raises(RuntimeError, match="truncating"):
            op()
    with pytest.raises(RuntimeError, match="int64"):
        cr.tensor([True, False]).add_(1)
    assert x.tolist() == [1, 2]  # nothing was written
    x.add_(2)
    x.fill_(2.5)
    assert x.dtype == cr.int64 and x.tolist() == [2, 2]
    y = cr.ones(2)
    y.add_(cr.ones(2, dtype=cr.float64) / 3)
    assert y.dtype == cr.float32


def test_promotion_keeps_the_gradient_dtype():
    x = cr.ones(3, requires_grad=True)
    (x * cr.tensor(2.0, dtype=cr.float64) + cr.arange(3)).sum().backward()
    assert x.grad.dtype == cr.float32
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 2.0])


# ----- PyTorch's semantics where NumPy's differ (issue 11) -----
@pytest.mark.parametrize("scalar", [np.float64(2.5), np.float32(2.5), np.int64(2)])
def test_a_numpy_scalar_does_not_widen_a_float32_tensor(scalar):
    x = cr.tensor([1.0, 2.0])
    for z in (x * scalar, scalar * x, x + scalar, x - scalar, x / scalar, cr.maximum(x, scalar)):
        assert z.dtype == cr.float32
    assert cr.clamp(x, min=np.float64(1.5)).dtype == cr.float32


@pytest.mark.parametrize(
    "op",
    [
        lambda x: x.reshape(2, 3),
        lambda x: x.view(2, 3),
        lambda x: x.permute(0, 1),
        lambda x: x.expand(2, 3),
        lambda x: cr.broadcast_to(x, (2, 3)),
        lambda x: x.squeeze(),
    ],
)
def test_a_shape_op_that_changes_nothing_returns_a_new_tensor(op):
    x = cr.ones(2, 3, requires_grad=True)
    y = op(x)
    assert y is not x and y.grad_fn is not None  # a view in the graph, as in PyTorch
    y.retain_grad()
    (y * 2.0).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), np.full((2, 3), 2.0))
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 2.0))


def test_flatten_with_nothing_to_merge_returns_the_tensor_itself_as_pytorch():
    x = cr.ones(3, 4)
    assert x.flatten(1) is x
    assert x.flatten() is not x


def test_comparisons_have_pytorchs_names():
    x, y = cr.tensor([1.0, 2.0, 3.0]), cr.tensor([1.0, 3.0, 2.0])
    expected = {
        "eq": [True, False, False],
        "ne": [False, True, True],
        "lt": [False, True, False],
        "le": [True, True, False],
        "gt": [False, False, True],
        "ge": [True, False, True],
    }
    for name, values in expected.items():
        assert getattr(x, name)(y).tolist() == values
        assert getattr(cr, name)(x, y).tolist() == values
    # PyTorch's long aliases mean the same
    assert x.less(y).tolist() == expected["lt"] and x.greater_equal(y).tolist() == expected["ge"]
    assert x.not_equal(y).tolist() == expected["ne"]


def test_equal_is_whole_tensor_equality_as_in_pytorch():
    x = cr.tensor([1.0, 2.0])
    assert x.equal(cr.tensor([1.0, 2.0])) is True
    assert x.equal(cr.tensor([1.0, 2.5])) is False
    assert cr.equal(x, cr.tensor([[1.0, 2.0]])) is False  # another shape: not equal


def test_factories_and_utilities_of_a_tensor_match_pytorch():
    torch = pytest.importorskip("torch")
    for lib in (cr, torch):
        x = lib.tensor(np.arange(6.0).reshape(2, 3), dtype=lib.float64)
        made = [
            x.new_zeros(2, 2),
            x.new_ones((3,)),
            x.new_full((2,), 7),
            x.new_zeros(2, dtype=lib.int32),
            x.type_as(lib.tensor([1])),
            x.T.contiguous(),
        ]
        got = [(str(t.dtype).removeprefix("torch."), tuple(t.shape), t.tolist()) for t in made]
        flags = (x.is_contiguous(), x.T.is_contiguous(), x.element_size(), x.nelement())
        infs = lib.tensor([1.0, float("inf"), -float("inf"), float("nan")]).isinf().tolist()
        if lib is cr:
            ours = (got, flags, infs)
        else:
            assert ours == (got, flags, infs)
    t = cr.ones(2, requires_grad=True)
    assert t.new_zeros(2, requires_grad=True).requires_grad and not t.new_zeros(2).requires_grad
