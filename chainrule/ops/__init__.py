"""The built-in operations, one Function per op, grouped by family.

Every op is a function here (``cr.exp(x)``) and a Tensor method (``x.exp()``), as in PyTorch;
``bind_methods`` attaches the methods and operators to Tensor.
"""

from __future__ import annotations

from typing import Any

from .activations import elu, leaky_relu, relu, sigmoid, tanh
from .elementwise import (
    abs,
    add,
    cast,
    clamp,
    clip,
    clone,
    div,
    eq,
    equal,
    exp,
    ge,
    gt,
    isfinite,
    isnan,
    le,
    log,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    lt,
    maximum,
    minimum,
    mul,
    ne,
    neg,
    pow,
    sign,
    sqrt,
    sub,
    where,
)
from .indexing import getitem, index_key
from .linalg import linear, matmul
from .reduce import (
    amax,
    amin,
    argmax,
    argmin,
    log_softmax,
    logsumexp,
    max,
    mean,
    min,
    softmax,
    std,
    sum,
    var,
)
from .shape import (
    broadcast_to,
    cat,
    chunk,
    concatenate,
    expand,
    flatten,
    permute,
    reshape,
    split,
    squeeze,
    stack,
    swapaxes,
    t,
    transpose,
    unsqueeze,
    view,
)

# name on Tensor -> function; operators first, then methods that share the function's name
_METHODS: dict[str, Any] = {
    "__add__": add,
    "__radd__": lambda self, other: add(other, self),
    "__sub__": sub,
    "__rsub__": lambda self, other: sub(other, self),
    "__mul__": mul,
    "__rmul__": lambda self, other: mul(other, self),
    "__truediv__": div,
    "__rtruediv__": lambda self, other: div(other, self),
    "__pow__": pow,
    "__rpow__": lambda self, other: pow(other, self),
    "__matmul__": matmul,
    "__rmatmul__": lambda self, other: matmul(other, self),
    "__neg__": neg,
    "__pos__": lambda self: self,
    "__abs__": abs,
    "__eq__": eq,
    "__ne__": ne,
    "__lt__": lt,
    "__le__": le,
    "__gt__": gt,
    "__ge__": ge,
    "__and__": logical_and,
    "__or__": logical_or,
    "__xor__": logical_xor,
    "__invert__": logical_not,
    "__getitem__": getitem,
}
for _f in (
    add,
    sub,
    mul,
    div,
    neg,
    pow,
    abs,
    exp,
    log,
    sqrt,
    tanh,
    sigmoid,
    relu,
    leaky_relu,
    elu,
    clamp,
    clip,
    maximum,
    minimum,
    sign,
    matmul,
    sum,
    mean,
    var,
    std,
    amax,
    amin,
    max,
    min,
    argmax,
    argmin,
    logsumexp,
    softmax,
    log_softmax,
    reshape,
    view,
    flatten,
    permute,
    transpose,
    swapaxes,
    t,
    squeeze,
    unsqueeze,
    expand,
    broadcast_to,
    split,
    chunk,
    eq,
    ne,
    lt,
    le,
    gt,
    ge,
    isnan,
    isfinite,
):
    _METHODS[_f.__name__] = _f
_METHODS.update(
    {
        "swapaxes": swapaxes,
        "view": view,
        "clip": clip,
        "subtract": sub,
        "multiply": mul,
        "divide": div,
        "negative": neg,
        "expand_as": lambda self, other: expand(self, other.shape),
        "view_as": lambda self, other: reshape(self, other.shape),
        "reshape_as": lambda self, other: reshape(self, other.shape),
        "where": lambda self, condition, other: where(condition, self, other),
        "equal": equal,
        "not_equal": ne,
        "less": lt,
        "less_equal": le,
        "greater": gt,
        "greater_equal": ge,
    }
)


def bind_methods(cls: type) -> None:
    """Attach every op as a method (and operator) of ``cls``."""
    for name, fn in _METHODS.items():
        setattr(cls, name, fn)


__all__ = [name for name in dir() if not name.startswith("_")] + ["index_key"]
