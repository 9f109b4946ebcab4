"""chainrule: neural networks from the chain rule up.

One reverse-mode automatic differentiation engine over a computational graph, with PyTorch's
names. ``import chainrule as cr``.

Example:
    >>> import chainrule as cr
    >>> x = cr.tensor(-2.0, requires_grad=True)
    >>> y = cr.tensor(5.0, requires_grad=True)
    >>> z = cr.tensor(-4.0, requires_grad=True)
    >>> f = (x + y) * z
    >>> f.backward()
    >>> x.grad.item(), y.grad.item(), z.grad.item()
    (-4.0, -4.0, 3.0)
"""

from __future__ import annotations

from . import autograd, compiler, data, nn, optim, threads, viz
from ._memory import get_keep_memory, set_keep_memory
from .autograd import Function, Tensor, enable_grad, inference_mode, no_grad, set_grad_enabled
from .autograd.grad_mode import is_grad_enabled
from .backend import device
from .compiler import compile
from .creation import (
    arange,
    as_tensor,
    empty,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    tensor,
    zeros,
    zeros_like,
)
from .dtypes import (
    bool,
    double,
    float,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    int8,
    int16,
    int32,
    int64,
    long,
    set_default_dtype,
    uint8,
)
from .ops import *  # noqa: F403  (every op as a function: cr.exp, cr.matmul, ...)
from .random import (
    get_rng_state,
    manual_seed,
    normal,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    set_rng_state,
)
from .serialization import load, save
from .threads import get_num_threads, set_num_threads

__version__ = "0.1.0"


def is_tensor(obj: object) -> bool:
    """True if ``obj`` is a chainrule Tensor."""
    return isinstance(obj, Tensor)
