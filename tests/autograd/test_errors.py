"""Wrong calls fail with the right error type and a message that names the op and the shapes.

One row per wrong call: (id, call, error type, strings the message must contain).
"""

import numpy as np
import pytest

import chainrule as cr


def ones(*shape, requires_grad=False):
    return cr.ones(*shape, requires_grad=requires_grad)


CASES = [
    ("add-broadcast", lambda: ones(2, 3) + ones(4), RuntimeError, ["Add", "(2, 3)", "(4,)"]),
    (
        "add-broadcast-requires-grad",
        lambda: ones(2, 3, requires_grad=True) + ones(4),
        RuntimeError,
        ["Add", "(2, 3)", "(4,)"],
    ),
    ("mul-broadcast", lambda: ones(2, 3) * ones(4), RuntimeError, ["Mul", "(2, 3)", "(4,)"]),
    (
        "maximum-broadcast",
        lambda: cr.maximum(ones(3, 2), ones(3)),
        RuntimeError,
        ["Maximum", "(3, 2)", "(3,)"],
    ),
    ("matmul", lambda: ones(2, 3) @ ones(4, 5), RuntimeError, ["matmul", "(2, 3)", "(4, 5)"]),
    ("matmul-0d", lambda: cr.matmul(ones(()), ones(3)), RuntimeError, ["matmul", "()"]),
    ("reshape", lambda: ones(2, 3).reshape(4, 2), RuntimeError, ["reshape", "(4, 2)", "(2, 3)"]),
    (
        "cat",
        lambda: cr.cat([ones(2, 3), ones(2, 4)], dim=0),
        RuntimeError,
        ["cat", "(2, 3)", "(2, 4)"],
    ),
    (
        "stack",
        lambda: cr.stack([ones(2, 3), ones(3, 2)]),
        RuntimeError,
        ["stack", "(2, 3)", "(3, 2)"],
    ),
    ("split", lambda: cr.split(ones(5), [2, 2]), RuntimeError, ["split", "5"]),
    ("index", lambda: ones(2, 3)[5], IndexError, ["(2, 3)", "5"]),
    ("index-dim-1", lambda: ones(2, 3)[0, 7], IndexError, ["(2, 3)", "7"]),
    ("index-array", lambda: ones(2, 3)[[0, 4]], IndexError, ["(2, 3)", "4"]),
    ("transpose", lambda: ones(2, 3).transpose(0, 2), IndexError, ["transpose", "2"]),
    ("sum-dim", lambda: ones(2, 3).sum(dim=3), IndexError, ["sum", "3"]),
    (
        "backward-without-grad",
        lambda: ones(2, 3).sum().backward(),
        RuntimeError,
        ["requires grad"],
    ),
    (
        "grad-without-grad",
        lambda: cr.autograd.grad(ones(2).sum(), ones(2)),
        RuntimeError,
        ["require"],
    ),
]


@pytest.mark.parametrize(
    "call, error, fragments", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_wrong_call_raises_a_clear_error(call, error, fragments):
    with pytest.raises(error) as info:
        call()
    msg = str(info.value)
    for fragment in fragments:
        assert fragment in msg, f"{fragment!r} missing from: {msg}"


def test_broadcast_error_is_not_numpys_raw_value_error():
    with pytest.raises(Exception) as info:
        ones(2, 3) + ones(4)
    assert not isinstance(info.value, ValueError)
    assert isinstance(info.value, RuntimeError)


def test_shape_errors_match_torch_error_types():
    torch = pytest.importorskip("torch")
    pairs = [
        (lambda: ones(2, 3) + ones(4), lambda: torch.ones(2, 3) + torch.ones(4)),
        (lambda: ones(2, 3) @ ones(4, 5), lambda: torch.ones(2, 3) @ torch.ones(4, 5)),
        (lambda: ones(2, 3).reshape(4, 2), lambda: torch.ones(2, 3).reshape(4, 2)),
        (lambda: ones(2, 3)[5], lambda: torch.ones(2, 3)[5]),
        (lambda: ones(2, 3).transpose(0, 2), lambda: torch.ones(2, 3).transpose(0, 2)),
    ]
    for ours, theirs in pairs:
        with pytest.raises(Exception) as expected:
            theirs()
        with pytest.raises(type(expected.value)):
            ours()


def test_failed_op_leaves_inputs_unchanged():
    x = cr.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    with pytest.raises(RuntimeError):
        x + ones(4)
    np.testing.assert_array_equal(x.detach().numpy(), np.arange(6.0).reshape(2, 3))
    assert x.grad is None and x.is_leaf
