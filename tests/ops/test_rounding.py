"""// and %, and the step functions on integers, against PyTorch: values and dtypes for every
mix of integer and float tensors and Python numbers, either side. (Their gradients, where they
have one, are in the op table: tests/ops/_table.py.)"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

A = np.array([7, -7, 5, -5, 0, 3])
B = np.array([2, 2, -3, -3, 4, 7])
OPERANDS = {
    "int64": lambda lib: lib.tensor(A),
    "int32": lambda lib: lib.tensor(A.astype(np.int32)),
    "float32": lambda lib: lib.tensor(A.astype(np.float32) + 0.5),
    "float64": lambda lib: lib.tensor(A.astype(np.float64) - 0.25),
}
DIVISORS = {
    "int64": lambda lib: lib.tensor(B),
    "float32": lambda lib: lib.tensor(B.astype(np.float32) * 0.75),
    "int": lambda lib: 3,
    "negative float": lambda lib: -2.5,
}


def _values(result) -> tuple:
    array = result.numpy() if isinstance(result, cr.Tensor) else result.detach().numpy()
    return str(result.dtype).replace("torch.", ""), array


@pytest.mark.parametrize("op", ["//", "%"])
@pytest.mark.parametrize(
    "left,right", list(itertools.product(OPERANDS, DIVISORS)), ids=lambda v: str(v)
)
def test_floor_divide_and_remainder_match_pytorch(op, left, right):
    """Both ways round (the divisor on the left too, where 0 is among the divisors: an integer
    division by zero raises in both, a float one gives inf or NaN)."""
    results = []
    for lib in (cr, torch):
        x, y = OPERANDS[left](lib), DIVISORS[right](lib)
        got = []
        for a, b in ((x, y), (y, x)):
            try:
                got.append(_values(eval(f"a {op} b", {"a": a, "b": b})))
            except (RuntimeError, ZeroDivisionError) as e:
                got.append(("raised", "ZeroDivisionError" in str(e) or type(e).__name__))
        results.append(got)
    for (dtype, ours), (theirs_dtype, theirs) in zip(*results):
        assert dtype == theirs_dtype
        if dtype == "raised":
            assert ours is True and theirs in (True, "ZeroDivisionError")
        else:
            np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_floor_divide_has_no_gradient_as_in_pytorch():
    x = cr.tensor([5.0, -3.0], requires_grad=True)
    q = x // 2
    assert q.requires_grad and q.tolist() == [2.0, -2.0]
    with pytest.raises(RuntimeError, match="floor_divide .* no derivative"):
        (q * x).sum().backward()


def test_step_functions_keep_an_integer_tensor_s_dtype():
    ints = np.array([-3, 0, 4])
    for name in ("floor", "ceil", "trunc", "round"):
        ours, theirs = getattr(cr, name)(cr.tensor(ints)), getattr(torch, name)(torch.tensor(ints))
        assert _values(ours)[0] == _values(theirs)[0] == "int64"
        assert ours.tolist() == theirs.tolist() == ints.tolist()


def test_round_takes_decimals_as_pytorch():
    x = np.array([1.2345, -2.5, 0.5, 1.5, 123.456])
    for d in (0, 1, 2, -1):
        np.testing.assert_allclose(
            cr.round(cr.tensor(x), decimals=d).numpy(), torch.round(torch.tensor(x), decimals=d)
        )
    with pytest.raises(TypeError, match="decimals must be an int"):
        cr.round(cr.tensor(x), decimals=1.5)
