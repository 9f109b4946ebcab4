"""Matrix multiplication, as NumPy's ``matmul`` defines it (vectors, matrices, batches).

Forward and backward use only operators (``@``) and the Array API standard's names (``.mT``,
``ctx.xp.reshape``, ``ctx.xp.sum``), so they run on every device, on arrays and on Tensors alike.
"""

from __future__ import annotations

from typing import Any

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ._registry import Expression, register


class MatMul(Function):
    """y = x @ w. For matrices: dL/dx = dL/dy w^T and dL/dw = x^T dL/dy.

    The shapes alone fix the formulas; the Jacobian dy/dx, (N*M) x (N*D) numbers, is never formed.
    A 1-d operand is treated as a row (left) or a column (right) vector, then that axis is dropped;
    batch dimensions broadcast and the engine sums their gradients.
    """

    symbol = "matmul"
    vjp = ("upstream @ w^T", "x^T @ upstream")

    on_arrays = True

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return x @ w

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        need_x, need_w = ctx.needs_input_grad
        if x.ndim == 1 and w.ndim == 1:  # dot product
            return (grad * w if need_x else None), (grad * x if need_w else None)
        xp = ctx.xp
        if x.ndim == 1:  # row vector: (D,) @ (..., D, M) -> (..., M)
            x = xp.reshape(x, (1,) + x.shape)
            grad = xp.reshape(grad, grad.shape[:-1] + (1,) + grad.shape[-1:])
        if w.ndim == 1:  # column vector: (..., N, D) @ (D,) -> (..., N)
            w = xp.reshape(w, w.shape + (1,))
            grad = xp.reshape(grad, grad.shape + (1,))
        gx = grad @ w.mT if need_x else None
        gw = x.mT @ grad if need_w else None
        if gw is not None and ctx.inputs[1].ndim == 1:
            # drop the column axis; the engine sums the batch
            gw = xp.reshape(gw, gw.shape[:-1])
        return gx, gw


@register(
    MatMul,
    methods=("matmul", "__matmul__"),
    reflected=("__rmatmul__",),
    expression=Expression("matmul", 2, 2, "matrix product, as x @ w"),
)
def matmul(input: Tensor, other: Tensor) -> Tensor:
    """Matrix product, as NumPy's ``@``: vectors, matrices and broadcast batches of matrices."""
    a, b = input.shape, other.shape
    if not a or not b:
        raise RuntimeError(
            f"matmul: both arguments need at least 1 dimension; got shapes {tuple(a)} and "
            f"{tuple(b)}"
        )
    inner_a = a[-1]
    inner_b = b[-2] if len(b) > 1 else b[0]
    if inner_a != inner_b:
        raise RuntimeError(
            f"matmul: shapes {tuple(a)} and {tuple(b)} cannot be multiplied: the last dimension "
            f"of the first ({inner_a}) must equal the "
            f"{'first' if len(b) == 1 else 'second-to-last'} dimension of the second ({inner_b})"
        )
    return MatMul.apply(input, other)


def _products(name: str, dims: tuple[int, int], doc: str) -> Any:
    """mm, bmm, mv, dot: matmul for operands of exactly these numbers of dimensions, as
    PyTorch's (which neither broadcasts them nor takes others)."""

    def product(input: Tensor, other: Tensor) -> Tensor:
        if (input.ndim, other.ndim) != dims:
            raise RuntimeError(
                f"{name}: expected a {dims[0]}-d and a {dims[1]}-d tensor; got shapes "
                f"{tuple(input.shape)} and {tuple(other.shape)}"
            )
        if name == "bmm" and input.shape[0] != other.shape[0]:
            raise RuntimeError(
                f"bmm: the batch sizes differ: {tuple(input.shape)} and {tuple(other.shape)}"
            )
        return matmul(input, other)

    product.__name__ = product.__qualname__ = name
    product.__doc__ = doc
    return register(MatMul, methods=(name,))(product)


mm = _products("mm", (2, 2), "Matrix times matrix: (n, k) @ (k, m) -> (n, m).")
bmm = _products("bmm", (3, 3), "A batch of matrix products: (b, n, k) @ (b, k, m) -> (b, n, m).")
mv = _products("mv", (2, 1), "Matrix times vector: (n, k) @ (k,) -> (n,).")
dot = _products("dot", (1, 1), "The dot product of two vectors of one length: a 0-d tensor.")


@register(MatMul, methods=("outer",))
def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """The outer product of two vectors: (n,) and (m,) -> (n, m), ``out[i, j] = a[i] b[j]``."""
    if input.ndim != 1 or vec2.ndim != 1:
        raise RuntimeError(
            f"outer: expected two 1-d tensors; got shapes {tuple(input.shape)} and "
            f"{tuple(vec2.shape)}"
        )
    return matmul(input.reshape(-1, 1), vec2.reshape(1, -1))


class Linear(Function):
    """y = x W^T + b, fused: one matrix product and an in-place bias add.

    x is (..., in_features), W is (out_features, in_features), b is (out_features,).
    dL/dx = g W, dL/dW = g^T x and dL/db = sum of g over the batch, with the batch dimensions
    flattened so that each gradient is one matrix product.
    """

    symbol = "linear"
    vjp = ("upstream @ W", "upstream^T @ x", "upstream summed over the batch")

    on_arrays = True

    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        y = x @ w.T
        if b is not None:
            y += b  # y is a fresh array: adding in place saves a copy
        return y

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        xp = ctx.xp
        if grad.ndim != 2:  # a batch of more than one dimension: flatten it
            grad, x2 = xp.reshape(grad, (-1, grad.shape[-1])), xp.reshape(x, (-1, x.shape[-1]))
            gx = xp.reshape(grad @ w, x.shape) if need_x else None
        else:
            x2 = x
            gx = grad @ w if need_x else None
        gw = grad.T @ x2 if need_w else None
        gb = xp.sum(grad, axis=0) if need_b else None
        return gx, gw, gb


@register(Linear, functional=True)
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias`` in one op, as PyTorch's ``F.linear``.

    Args:
        input: (..., in_features).
        weight: (out_features, in_features).
        bias: (out_features,) or None.

    Returns:
        (..., out_features).
    """
    if weight.ndim != 2:
        raise RuntimeError(f"linear: weight must be 2-d (out, in); got shape {tuple(weight.shape)}")
    if input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        raise RuntimeError(
            f"linear: expected input with {weight.shape[1]} features in its last dimension "
            f"(weight shape {tuple(weight.shape)}); got input of shape {tuple(input.shape)}"
        )
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise RuntimeError(
            f"linear: bias must have shape ({weight.shape[0]},); got {tuple(bias.shape)}"
        )
    return Linear.apply(input, weight, bias)
