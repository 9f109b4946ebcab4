"""NumPy functions applied to Tensors: ``np.exp(t)``, ``np.where(mask, t, 0)``, ``a * t``.

NumPy hands a call that involves a Tensor to ``Tensor.__array_ufunc__`` or
``Tensor.__array_function__``, which land here. The functions in the tables run as chainrule ops,
recorded in the graph; this is what lets the built-in backward rules, written in NumPy, run on
Tensors when ``create_graph=True``. Any other NumPy function works on the values of tensors that
need no gradient (returning an array) and raises a clear error for tensors that do, rather than
silently cutting the graph.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..ops.graph_functions import expand_dims_like_numpy, split_like_numpy, transpose_like_numpy
from .grad_mode import state
from .tensor import Tensor

_UFUNCS: dict[Any, Any] = {
    np.add: ops.add,
    np.subtract: ops.sub,
    np.multiply: ops.mul,
    np.true_divide: ops.div,
    np.negative: ops.neg,
    np.positive: lambda x: x,
    np.power: ops.pow,
    np.absolute: ops.abs,
    np.exp: ops.exp,
    np.log: ops.log,
    np.sqrt: ops.sqrt,
    np.tanh: ops.tanh,
    np.maximum: ops.maximum,
    np.minimum: ops.minimum,
    np.matmul: ops.matmul,
    np.sign: ops.sign,
    np.equal: ops.eq,
    np.not_equal: ops.ne,
    np.less: ops.lt,
    np.less_equal: ops.le,
    np.greater: ops.gt,
    np.greater_equal: ops.ge,
    np.logical_and: ops.logical_and,
    np.logical_or: ops.logical_or,
    np.logical_not: ops.logical_not,
    np.isnan: ops.isnan,
    np.isfinite: ops.isfinite,
}


_FUNCTIONS: dict[Any, Any] = {
    np.where: ops.where,
    np.broadcast_to: lambda a, shape: ops.broadcast_to(a, shape),
    np.reshape: lambda a, shape: ops.reshape(a, shape),
    np.transpose: transpose_like_numpy,
    np.swapaxes: ops.transpose,
    np.expand_dims: expand_dims_like_numpy,
    np.squeeze: lambda a, axis=None: ops.squeeze(a, axis),
    np.concatenate: lambda arrays, axis=0: ops.cat(arrays, axis),
    np.stack: lambda arrays, axis=0: ops.stack(arrays, axis),
    np.split: split_like_numpy,
    np.sum: lambda a, axis=None, keepdims=False: ops.sum(a, axis, keepdims),
    np.mean: lambda a, axis=None, keepdims=False: ops.mean(a, axis, keepdims),
    np.clip: lambda a, a_min=None, a_max=None: ops.clamp(a, a_min, a_max),
}


def array_ufunc(ufunc: Any, method: str, inputs: tuple, kwargs: dict) -> Any:
    fn = _UFUNCS.get(ufunc)
    if fn is not None and method == "__call__" and not kwargs:
        return fn(*inputs)
    return _on_values(f"numpy.{ufunc.__name__}", getattr(ufunc, method), inputs, kwargs)


def array_function(func: Any, args: tuple, kwargs: dict) -> Any:
    fn = _FUNCTIONS.get(func)
    if fn is not None:
        return fn(*args, **kwargs)
    return _on_values(f"numpy.{func.__name__}", func, args, kwargs)


def _on_values(name: str, func: Any, args: tuple, kwargs: dict) -> Any:
    """Call a NumPy function on the arrays inside the tensors (none may need a gradient)."""

    def unwrap(a: Any) -> Any:
        if isinstance(a, Tensor):
            if a._requires_grad and state.grad_enabled:
                raise TypeError(
                    f"{name} is not differentiable in chainrule and would cut the graph of a "
                    "tensor that requires grad; use the chainrule function (cr.exp, cr.sum, ...) "
                    "or call it on t.detach()"
                )
            return a._data
        if isinstance(a, (list, tuple)):
            return type(a)(unwrap(b) for b in a)
        return a

    return func(*unwrap(args), **{k: unwrap(v) for k, v in kwargs.items()})
