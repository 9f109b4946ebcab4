"""In-place arithmetic, written once for every array module: the optimizers' and the fused updates'.

An update is written with the standard's operators, whose in-place forms (``m *= b1``,
``w -= step``) every array module has, on the constants ``scalars`` makes, plus four functions
whose result goes into an existing array, as NumPy's ``out=`` does: ``sqrt``, ``divide``,
``maximum`` and ``negative``. A temporary written into that way is made with ``array``, as NumPy
hands back a scalar, not a 0-d array, for arithmetic on a 0-d parameter. ``of(array)`` gives the
``Arith`` for an array's module:

- NumPy and CuPy (``native``): their ufuncs write into ``out`` themselves, with no temporary
  array; the constants are 0-d arrays of the parameters' dtype on NumPy (see
  ``optimizer.as_scalars``: faster for the small arrays of a Playground model, the same numbers);
  and a reshaped slice of an array is a view that writes through to it (``views``), which
  Adam's flat update of a small group relies on.
- Any other module (array-api-strict, the standard's reference): the result is computed, then
  copied into ``out`` with ``out[...] = result``, the standard's way; the constants are Python
  floats (the standard converts them to the array's dtype, as NumPy does a 0-d array's value);
  the standard leaves views unspecified, so Adam updates parameter by parameter.

Both give the same numbers: tests/optim runs every optimizer on NumPy through the generic
``Arith`` too and compares bit for bit.

This module sits just above ``backend`` (whose NumPy namespace takes ``_fused``'s updates, which
are written with it), so it reads the backend only when called, never while it is imported.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from . import backend

#: Array modules whose ufuncs take ``out=`` and whose reshaped slices are views.
NATIVE = frozenset({"numpy", "cupy"})
#: Values per block of ``Arith.sub_scaled`` on NumPy: 256 KiB of float32, so that a block of the
#: parameter, of its gradient and the block's temporary stay in a core's L2 cache together.
BLOCK = 1 << 16


class Arith:
    """The in-place arithmetic of one array module (see the module's docstring).

    Attributes:
        xp: the module's namespace (``backend.namespace``).
        native: whether ``out=`` and views are the module's own (NumPy, CuPy).
        views: whether a reshaped slice of an array writes through to it.
        sqrt, divide, maximum, negative: the standard's functions, with ``out=None``: given an
            array, the result is written into it and it is returned.
        ravel: a flat view of a contiguous array (``views`` modules only).
    """

    __slots__ = (
        "xp",
        "native",
        "views",
        "sqrt",
        "divide",
        "maximum",
        "negative",
        "ravel",
        "blocks",
    )

    def __init__(self, xp: Any, native: bool) -> None:
        self.xp = xp
        self.native = self.views = native
        self.blocks = xp.__name__ == "numpy"  # sub_scaled's blocks: for the CPU's caches
        if native:
            self.sqrt, self.divide = xp.sqrt, xp.divide
            self.maximum, self.negative = xp.maximum, xp.negative
            self.ravel = operator.methodcaller("ravel")  # C-level; xp.reshape costs 10x more
        else:
            self.sqrt, self.divide = _into(xp.sqrt), _into(xp.divide)
            self.maximum, self.negative = _into(xp.maximum), _into(xp.negative)
            self.ravel = lambda a: xp.reshape(a, (-1,))

    def scalars(self, like: Any, *values: float) -> list[Any]:
        """``values`` as constants to scale arrays of ``like``'s dtype with (see above)."""
        if type(like) is backend.ndarray and self.native:
            asarray, dtype = self.xp.asarray, like.dtype
            return [asarray(v, dtype) for v in values]
        return [float(v) for v in values]

    def sub_scaled(self, w: Any, a: Any, g: Any) -> None:
        """``w -= a * g`` in place, ``a`` a constant of ``scalars``: an optimizer's last step.

        Written as it reads, the product is a temporary as large as ``w``, written to memory and
        read back: for a large weight matrix (PyTorch fuses it, ``w.add_(g, alpha=-a)``) a
        third of the update's memory traffic. On NumPy a large C-order ``w`` is updated a block
        of ``BLOCK`` values at a time instead, the block's product in one small temporary that
        stays in the cache: the same operations on the same values, so the same numbers.
        """
        n = w.size
        if not (
            self.blocks
            and n > BLOCK
            and type(w) is type(g) is type(a) is backend.ndarray
            and w.dtype == g.dtype == a.dtype
            and w.shape == g.shape
            and w.flags.c_contiguous
            and g.flags.c_contiguous
            and w.flags.writeable
            and not backend.may_share_memory(w, g)
        ):
            w -= a * g
            return
        xp = self.xp
        wf, gf = w.reshape(-1), g.reshape(-1)
        tmp = xp.empty(BLOCK, dtype=w.dtype)
        for start in range(0, n, BLOCK):
            end = min(start + BLOCK, n)
            t = tmp[: end - start]
            xp.multiply(a, gf[start:end], out=t)
            xp.subtract(wf[start:end], t, out=wf[start:end])

    def copy(self, x: Any, like: Any) -> Any:
        """A new array holding ``x`` in ``like``'s dtype (an array also for a NumPy scalar)."""
        return self.xp.asarray(x, dtype=like.dtype, copy=True)

    def array(self, x: Any) -> Any:
        """``x`` as an array an ``out=`` or an in-place operator may write into: itself when it
        is one. Arithmetic on NumPy's 0-d arrays hands back a NumPy scalar, which neither
        takes ``out=`` nor changes in place (a 0-d parameter's update would crash, or update a
        copy of its state)."""
        return self.xp.asarray(x)


def _into(f: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, out: Any = None) -> Any:
        result = f(*args)
        if out is None:
            return result
        out[...] = result
        return out

    call.__name__ = getattr(f, "__name__", "call")
    return call


#: array type -> its module's ``Arith``; a test puts the generic one in NumPy's place.
_by_type: dict[type, Arith] = {}


def of(array: Any) -> Arith:
    """The ``Arith`` of ``array``'s module."""
    try:
        return _by_type[type(array)]
    except KeyError:
        xp = backend.namespace(array)
        found = _by_type[type(array)] = Arith(xp, xp.__name__ in NATIVE)
        return found
