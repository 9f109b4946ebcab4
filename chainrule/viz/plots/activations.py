"""The lecture's activation functions and their derivatives, the derivatives found by autograd."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ... import ops
from ...autograd.tensor import Tensor
from ...creation import linspace, tensor
from ...dtypes import float64
from ._common import new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# The Maxout panel's unit: max(w1 x + b1, w2 x + b2) with one input, two pieces.
MAXOUT_PIECES = ((1.0, 0.0), (-0.5, -1.0))  # (w, b) of each piece


def _maxout(x: Tensor) -> Tensor:
    """The lecture's Maxout unit on one input: F.maxout with the weights of MAXOUT_PIECES."""
    from ...nn.functional import maxout

    w = tensor([[p[0]] for p in MAXOUT_PIECES], dtype=x.dtype)
    b = tensor([p[1] for p in MAXOUT_PIECES], dtype=x.dtype)
    return maxout(x.reshape(-1, 1), w, b, len(MAXOUT_PIECES)).reshape(-1)


# name -> (function, formula for the title). Leaky ReLU uses the lecture's slope 0.1.
ACTIVATIONS: dict[str, tuple[Callable[[Tensor], Tensor], str]] = {
    "sigmoid": (ops.sigmoid, "1 / (1 + e^-x)"),
    "tanh": (ops.tanh, "tanh(x)"),
    "relu": (ops.relu, "max(0, x)"),
    "leaky_relu": (lambda x: ops.leaky_relu(x, 0.1), "max(0.1x, x)"),
    "maxout": (_maxout, "max(w1 x + b1, w2 x + b2), here max(x, -0.5x - 1)"),
    "elu": (ops.elu, "x if x > 0 else e^x - 1"),
}


def activation_functions(
    names: Sequence[str] = ("sigmoid", "tanh", "relu", "leaky_relu", "maxout", "elu"),
) -> Figure:
    """Plot each activation (left) and its derivative (right) on [-5, 5].

    The derivative is not written out: chainrule's autograd computes it, by backpropagating
    through f at 501 points at once (``x.grad`` of ``f(x).sum()``, since each output depends on
    its own input only). Sigmoid's derivative peaks at 0.25 and vanishes for large |x|; ReLU's
    is 0 or 1; Maxout's is the slope of whichever piece is larger (a unit with learned pieces;
    the panel fixes them at max(x, -0.5x - 1)).

    Args:
        names: among "sigmoid", "tanh", "relu", "leaky_relu" (slope 0.1), "maxout" (two
            pieces) and "elu" (alpha 1); by default all six, in the lecture's order.

    Returns:
        A Figure with two axes per name, one row per name: f(x), then df/dx.

    Example:
        >>> fig = activation_functions(["sigmoid", "relu"])
    """
    if isinstance(names, str):
        names = [names]
    names = list(names)
    unknown = [n for n in names if n not in ACTIVATIONS]
    if unknown or not names:
        raise ValueError(
            f"activation_functions: expected names among {list(ACTIVATIONS)}; got "
            f"{unknown if unknown else 'none'}"
        )
    fig = new_figure((7.5, 2.2 * len(names) + 0.3))
    for i, name in enumerate(names):
        f, formula = ACTIVATIONS[name]
        x = linspace(-5, 5, 501, dtype=float64, requires_grad=True)
        y = f(x)
        y.sum().backward()
        xs, ys, dys = x.detach().numpy(), y.detach().numpy(), x.grad.numpy()
        left = fig.add_subplot(len(names), 2, 2 * i + 1)
        right = fig.add_subplot(len(names), 2, 2 * i + 2, sharex=left)
        left.plot(xs, ys, color="C0")
        left.set_title(f"{name}: {formula}", fontsize=9 if len(formula) > 30 else 10)
        left.set_ylabel("f(x)")
        right.plot(xs, dys, color="C1")
        right.set_title(f"{name}' (by autograd)", fontsize=10)
        right.set_ylabel("df/dx")
        for ax in (left, right):
            ax.grid(True, alpha=0.3)
            if i == len(names) - 1:
                ax.set_xlabel("x")
    return fig
