"""Matrix multiplication, as NumPy's ``matmul`` defines it (vectors, matrices, batches)."""

from __future__ import annotations

from ..autograd.function import Function
from ..autograd.tensor import Tensor


class MatMul(Function):
    """y = x @ w. For matrices: dL/dx = dL/dy w^T and dL/dw = x^T dL/dy.

    The shapes alone fix the formulas; the Jacobian dy/dx, (N*M) x (N*D) numbers, is never formed.
    A 1-d operand is treated as a row (left) or a column (right) vector, then that axis is dropped;
    batch dimensions broadcast and the engine sums their gradients.
    """

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
        if x.ndim == 1:  # row vector: (D,) @ (..., D, M) -> (..., M)
            x = x.reshape((1,) + x.shape)
            grad = grad.reshape(grad.shape[:-1] + (1,) + grad.shape[-1:])
        if w.ndim == 1:  # column vector: (..., N, D) @ (D,) -> (..., N)
            w = w.reshape(w.shape + (1,))
            grad = grad.reshape(grad.shape + (1,))
        gx = grad @ w.swapaxes(-1, -2) if need_x else None
        gw = x.swapaxes(-1, -2) @ grad if need_w else None
        if gw is not None and ctx.inputs[1].ndim == 1:
            gw = gw.reshape(gw.shape[:-1])  # drop the column axis; the engine sums the batch
        return gx, gw


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
