"""L2 regularization: the lecture's R(W) = sum of squared weights.

The total loss is the data loss plus lambda R(W). Its gradient, 2 lambda W, is what an optimizer's
``weight_decay`` adds to each gradient, so ``weight_decay = 2 * lambda`` gives the same update
as adding ``lambda * l2_penalty(model)`` to the loss (for SGD and Adam, which couple it; AdamW
decouples it from the adaptive scaling).
"""

from __future__ import annotations

from collections.abc import Iterable

from ..autograd.tensor import Tensor
from ..ops.reduce import SumOfSquares
from .module import Module


def l2_penalty(params_or_module: Module | Iterable[Tensor], exclude_bias: bool = True) -> Tensor:
    """R(W) = sum over the weights of W^2.

    Args:
        params_or_module: a Module (its parameters by name) or an iterable of tensors.
        exclude_bias: leave out a Module's biases (parameters named ``bias``), as the lecture's
            R(W) regularises the weights only. Tensors given as a list are all counted.

    Returns:
        A 0-d tensor, in the graph: add ``lam * l2_penalty(model)`` to the loss.

    Example:
        >>> w1 = cr.tensor([1.0, 0.0, 0.0, 0.0]); w2 = cr.tensor([0.25, 0.25, 0.25, 0.25])
        >>> cr.nn.l2_penalty([w1]).item(), cr.nn.l2_penalty([w2]).item()
        (1.0, 0.25)
    """
    if isinstance(params_or_module, Module):
        named = list(params_or_module.named_parameters())
        params = [p for n, p in named if not (exclude_bias and n.split(".")[-1] == "bias")]
    else:
        params = list(params_or_module)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"l2_penalty: item {i} is a {type(p).__name__}, not a Tensor")
    if not params:
        raise ValueError("l2_penalty: no parameters to regularise")
    return SumOfSquares.apply(*params)
