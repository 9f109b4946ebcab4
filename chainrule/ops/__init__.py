"""The built-in operations, one Function per op, grouped by family.

Every op is a function here (``cr.exp(x)``) and a Tensor method (``x.exp()``), as in PyTorch.
Both are derived from the registrations in the family modules (``_registry.register``, written
right under each op's class): this file lists no op by name. ``bind_methods`` attaches the
methods and operators to Tensor.
"""

from __future__ import annotations

from ..autograd import function as _function
from . import (
    activations,
    compose,
    conv,
    elementwise,
    indexing,
    linalg,
    losses,
    pool,
    reduce,
    shape,
)
from ._registry import ENTRIES, public_functions, tensor_methods
from .graph_functions import GRAPH_FUNCTIONS
from .indexing import index_key
from .reduce import ValuesIndices

_FUNCTIONS = public_functions()
globals().update(_FUNCTIONS)

#: name on Tensor -> function, operators included (derived from the registrations)
_METHODS = tensor_methods()

# what a backward rule's ctx.xp is under create_graph (the engine sits below the ops)
_function.GRAPH_FUNCTIONS[0] = GRAPH_FUNCTIONS


def bind_methods(cls: type) -> None:
    """Attach every op as a method (and operator) of ``cls``."""
    for name, fn in _METHODS.items():
        setattr(cls, name, fn)


__all__ = sorted(_FUNCTIONS) + ["index_key", "ValuesIndices"]
