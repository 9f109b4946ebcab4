"""Tensor: an n-dimensional array that remembers how it was computed.

A Tensor wraps a NumPy array (``_data``). When it requires grad and was made by an op, ``grad_fn``
is the graph node of that op; ``backward()`` walks those nodes back to the leaves and fills their
``.grad``. Operators and methods (``x * y``, ``x.exp()``) call the ops in ``chainrule.ops``, which
are bound to this class at the bottom of this file.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any

from .. import dtypes
from ..backend import (
    NUMPY,
    canonical_dtype,
    device_of,
    format_array,
    from_numpy,
    is_array,
    is_floating,
    namespace,
    ndarray,
    resolve,
    to_device,
    to_numpy,
)
from ..backend import device as _device
from .grad_mode import state


def to_array(data: Any, dtype: Any = None, copy: bool = True, device: Any = None) -> Any:
    """Turn ``data`` (numbers, nested lists, arrays, tensors) into an array of a supported dtype.

    Python floats become the default dtype (float32); arrays keep theirs. The array lives on
    ``device`` (a cr.device, or None: where ``data`` is, the CPU for Python data).
    """
    if type(data) is float and dtype is None and device is None:  # the common scalar
        return NUMPY.asarray(data, dtype=dtypes.get_default_dtype())
    if isinstance(data, Tensor):
        data = data._data
    want = dtypes.to_dtype(dtype) if dtype is not None else None
    if is_array(data) and type(data) is not ndarray:  # another module's array: stay in it
        xp = namespace(data)
        if want is not None and canonical_dtype(data.dtype) != want:
            arr = xp.astype(data, xp.native_dtype(want))
        else:
            arr = xp.asarray(data, copy=True) if copy else data
        return arr if device is None else to_device(arr, device)
    arr = _numpy_array(data, want, copy)
    return arr if device is None else from_numpy(arr, device)


def _numpy_array(data: Any, want: Any, copy: bool) -> ndarray:
    """``data`` (Python numbers and lists, NumPy arrays and scalars) as a NumPy array."""
    if isinstance(data, ndarray) or type(data).__module__ == "numpy":
        arr = NUMPY.asarray(data, dtype=want, copy=True if copy else None)
    else:
        try:
            arr = NUMPY.asarray(data, dtype=want)
        except (ValueError, TypeError) as e:
            raise TypeError(
                f"cr.tensor: could not make a tensor from {type(data).__name__}: {e}. Expected a "
                "number, a (nested) list of numbers of equal lengths, or an array"
            ) from e
        if want is None and arr.dtype.kind == "f":
            arr = NUMPY.astype(arr, dtypes.get_default_dtype(), copy=False)
    if arr.dtype.kind not in "biuf":
        found = {"U": "str", "S": "bytes", "c": "complex", "O": "object"}.get(arr.dtype.kind)
        raise TypeError(
            f"cr.tensor: unsupported data of type {found or arr.dtype} (dtype {arr.dtype}, from "
            f"a {type(data).__name__}); expected numbers or booleans (float, int or bool)"
        )
    return arr


class Tensor:
    """An array with an optional gradient and the graph node that produced it.

    Create tensors with ``cr.tensor(data, dtype=None, requires_grad=False)`` or the factories
    (``cr.zeros``, ``cr.randn``, ...). ``Tensor(data, ...)`` takes the same arguments.

    Example:
        >>> x = cr.tensor([1.0, -2.0, 3.0], requires_grad=True)
        >>> y = (x * x).sum()
        >>> y.backward()
        >>> x.grad
        tensor([ 2., -4.,  6.], dtype=float32)
    """

    __slots__ = (
        "_data",
        "_requires_grad",
        "_grad",
        "grad_fn",
        "_index",
        "_vc",  # version counter: a one-item list, shared with detach()ed views of the data
        "_extra",
        "__weakref__",
    )
    # NumPy operations on Tensors go through __array_ufunc__ / __array_function__ below.

    def __init__(
        self,
        data: Any,
        dtype: Any = None,
        requires_grad: bool = False,
        name: str | None = None,
        device: Any = None,
    ) -> None:
        self._init_slots(to_array(data, dtype, device=resolve(device)))
        if requires_grad:
            self.requires_grad_(True)
        if name is not None:
            self.name = name

    def _init_slots(self, data: ndarray) -> None:
        """Fill every slot for a new leaf that holds ``data`` and does not require grad."""
        self._data = data
        self._requires_grad = False
        self._grad = None
        self.grad_fn = None
        self._index = 0
        self._vc = [0]
        self._extra = None

    @classmethod
    def _make(
        cls, data: ndarray, requires_grad: bool = False, grad_fn: Any = None, index: int = 0
    ) -> Tensor:
        """Wrap an array without checks or copies (the engine's hot path, hence inlined)."""
        t = object.__new__(cls)
        t._data = data
        t._requires_grad = requires_grad
        t._grad = None
        t.grad_fn = grad_fn
        t._index = index
        t._vc = [0]
        t._extra = None
        return t

    # ----- attributes -----
    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> Any:
        data = self._data
        return data.dtype if type(data) is ndarray else canonical_dtype(data.dtype)

    @property
    def device(self) -> Any:
        """Where the values live: ``device(type='cpu')``, ``device(type='cuda', index=0)``."""
        return device_of(self._data)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def data(self) -> Tensor:
        """The same values as a Tensor outside the graph (shares memory; PyTorch's ``.data``)."""
        return Tensor._make(self._data)

    @data.setter
    def data(self, value: Any) -> None:
        arr = value._data if isinstance(value, Tensor) else to_array(value, copy=False)
        self._data = arr
        self._version += 1

    @property
    def _version(self) -> int:
        """How many times this tensor's values were changed in place (shared with detach())."""
        return self._vc[0]

    @_version.setter
    def _version(self, value: int) -> None:
        self._vc[0] = value

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.requires_grad_(value)

    @property
    def is_leaf(self) -> bool:
        """True for tensors no recorded op produced: their ``.grad`` is filled by backward."""
        return self.grad_fn is None

    @property
    def grad(self) -> Tensor | None:
        """The accumulated gradient (a Tensor of this shape), or None before any backward."""
        return self._grad  # non-leaf tensors keep none unless retain_grad() was called

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"grad must be a Tensor or None; got {type(value).__name__}")
            if value.shape != self.shape:
                raise RuntimeError(
                    f"assigned grad has shape {tuple(value.shape)}, but the tensor has shape "
                    f"{tuple(self.shape)}"
                )
        self._grad = value

    @property
    def name(self) -> str | None:
        """An optional display name (shown by repr and by graph drawings)."""
        return None if self._extra is None else self._extra.get("name")

    @name.setter
    def name(self, value: str | None) -> None:
        if value is not None and not isinstance(value, str):
            raise TypeError(f"name must be a string; got {type(value).__name__}")
        self._extras()["name"] = value

    def _extras(self) -> dict:
        if self._extra is None:
            self._extra = {}
        return self._extra

    def _retains(self) -> bool:
        node = self.grad_fn
        return node is not None and node._retained is not None and self._index in node._retained

    @property
    def T(self) -> Tensor:
        """The tensor with its axes reversed (a matrix's transpose)."""
        return self.permute(*range(self.ndim - 1, -1, -1))

    @property
    def mT(self) -> Tensor:
        """Transpose of the last two axes (a batch of matrices)."""
        return self.transpose(-2, -1)

    def size(self, dim: int | None = None) -> Any:
        """The shape, or the size of one dimension."""
        if dim is None:
            return self._data.shape
        return self._data.shape[dim]

    def dim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return self._data.size

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    # ----- conversion -----
    def numpy(self, force: bool = False) -> ndarray:
        """The values as a NumPy array sharing memory (a copy with ``force=True``).

        Raises for a tensor that requires grad, as PyTorch does: use ``t.detach().numpy()``;
        and for one on another device than the CPU unless ``force=True``: use ``t.cpu()``.
        """
        if force:
            arr = to_numpy(self._data)
            return arr.copy() if arr is self._data else arr
        if self._requires_grad:
            raise RuntimeError(
                "Can't call numpy() on a Tensor that requires grad. Use tensor.detach().numpy()."
            )
        if type(self._data) is not ndarray and self.device.type != "cpu":
            raise TypeError(
                f"can't convert a tensor on {self.device} to a NumPy array; use tensor.cpu() "
                "to copy it to the CPU first"
            )
        return self._data

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> ndarray:
        arr = self.numpy() if self.device.type == "cpu" else self.detach().cpu().numpy()
        if dtype is not None and arr.dtype != dtype:
            return arr.astype(dtype)
        return arr.copy() if copy else arr

    def item(self) -> float | int | bool:
        """The single value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to a Python number"
            )
        return to_numpy(self._data).item()

    def tolist(self) -> Any:
        return to_numpy(self._data).tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.dtype.kind not in "iu":
            raise TypeError(f"only integer tensors can be used as an index; got {self.dtype}")
        return int(self.item())

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(
                f"Boolean value of a Tensor with {self._data.size} elements is ambiguous"
            )
        return bool(self.item())

    __hash__ = object.__hash__  # identity, as in PyTorch (== is elementwise)

    def astype(self, dtype: Any) -> Tensor:
        """This tensor converted to ``dtype`` (differentiable between floating dtypes)."""
        return _ops.cast(self, dtype)

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """This tensor on another device, of another dtype, or both; itself when it has them.

        As in PyTorch: ``t.to("cuda")``, ``t.to(cr.float64)``, ``t.to("cuda", cr.float16)``,
        ``t.to(other)`` (other's device and dtype), with ``device=``, ``dtype=`` and ``copy=``
        as keywords. Differentiable: the gradient goes back to this tensor's device and dtype.
        """
        where, dtype, copy = to_args(args, kwargs)
        out = self
        if where is not None and where != self.device:
            out = _ops.elementwise.to_device_op(out, where)
        if dtype is not None:
            out = _ops.cast(out, dtype)
        if copy and out is self:
            out = _ops.clone(self)
        return out

    def cpu(self) -> Tensor:
        """This tensor on the CPU (itself when it is there)."""
        return self.to("cpu")

    def cuda(self, device: Any = None) -> Tensor:
        """This tensor on a GPU: ``device`` (an index or a cr.device), or the current one."""
        return self.to(cuda_device(device))

    def type(self, dtype: Any) -> Tensor:
        return _ops.cast(self, dtype)

    def float(self) -> Tensor:
        return _ops.cast(self, dtypes.float32)

    def double(self) -> Tensor:
        return _ops.cast(self, dtypes.float64)

    def half(self) -> Tensor:
        return _ops.cast(self, dtypes.float16)

    def long(self) -> Tensor:
        return _ops.cast(self, dtypes.int64)

    def int(self) -> Tensor:
        return _ops.cast(self, dtypes.int32)

    def bool(self) -> Tensor:
        return _ops.cast(self, dtypes.bool)

    def is_floating_point(self) -> bool:
        return is_floating(self._data.dtype)

    def type_as(self, other: Tensor) -> Tensor:
        """This tensor in ``other``'s dtype (itself when it has it)."""
        return self.to(other.dtype)

    def is_contiguous(self) -> bool:
        """Whether the values lie in C order (a view with the batch innermost does not)."""
        flags = getattr(self._data, "flags", None)
        return True if flags is None else bool(flags.c_contiguous)

    def contiguous(self) -> Tensor:
        """This tensor when its values lie in C order, else a copy that does (differentiable)."""
        if self.is_contiguous():
            return self
        return self.reshape(-1).reshape(self.shape)  # flattening in C order copies, once

    def nelement(self) -> int:
        return self.numel()

    def element_size(self) -> int:
        """Bytes per value."""
        return self._data.dtype.itemsize

    def new_full(
        self,
        size: Any,
        fill_value: Any,
        *,
        dtype: Any = None,
        device: Any = None,
        requires_grad: bool = False,
    ) -> Tensor:
        """A tensor of ``size`` filled with ``fill_value``, in this tensor's dtype and on its
        device unless given."""
        shape = _ops._util.shape_arg((size,), "new_full")
        xp = namespace(self._data)
        kind = self._data.dtype if dtype is None else xp.native_dtype(canonical_dtype(dtype))
        out = Tensor(xp.full(shape, fill_value, dtype=kind, device=self._data.device))
        out = out if device is None else out.to(device)
        return out.requires_grad_() if requires_grad else out

    def new_zeros(self, *size: Any, **kwargs: Any) -> Tensor:
        """Zeros of ``size``, in this tensor's dtype and on its device unless given."""
        return self.new_full(_ops._util.shape_arg(size, "new_zeros"), 0, **kwargs)

    def new_ones(self, *size: Any, **kwargs: Any) -> Tensor:
        """Ones of ``size``, in this tensor's dtype and on its device unless given."""
        return self.new_full(_ops._util.shape_arg(size, "new_ones"), 1, **kwargs)

    def new_empty(self, *size: Any, **kwargs: Any) -> Tensor:
        """A tensor of ``size`` (zeros: chainrule hands out no uninitialised memory)."""
        return self.new_full(_ops._util.shape_arg(size, "new_empty"), 0, **kwargs)

    # ----- autograd -----
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set whether backward should compute a gradient for this leaf; returns self."""
        if requires_grad and not is_floating(self._data.dtype):
            raise RuntimeError(
                f"only tensors of floating point dtype can require gradients; this one is "
                f"{self._data.dtype}. Convert it first, e.g. t.float()"
            )
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError(
                "requires_grad can only be switched off on leaf tensors; use .detach() to get a "
                "tensor outside the graph"
            )
        self._requires_grad = bool(requires_grad)
        return self

    def detach(self) -> Tensor:
        """The same values (shared memory) as a new leaf that does not require grad."""
        t = Tensor._make(self._data)
        t._vc = self._vc  # the same memory: an in-place change through t is a change of self
        return t

    def clone(self) -> Tensor:
        """A copy of the values; gradients flow back to this tensor."""
        return _ops.clone(self)

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` when backward runs."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on a Tensor that has requires_grad=False")
        if self.grad_fn is not None:
            _engine.retain(self)

    @property
    def retains_grad(self) -> bool:
        return self._retains()

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned Tensor
        replaces the gradient. Returns a handle whose ``remove()`` takes the hook away."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is None:
            hooks = self._extras().setdefault("hooks", [])
            hooks.append(hook)
        else:
            hooks = self.grad_fn.register_hook(self._index, hook)
        return RemovableHandle((hooks,), hook)

    def backward(
        self,
        gradient: Any = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
    ) -> None:
        """Compute the gradient of this tensor with respect to every leaf it depends on.

        Gradients accumulate (add) into the leaves' ``.grad``, as in PyTorch.

        Args:
            gradient: dL/d(self), of self's shape; may be omitted only when self has one element.
            retain_graph: keep the graph for another backward (defaults to ``create_graph``).
            create_graph: record the backward pass, so the gradients can be differentiated again.
        """
        _functional._backward([self], [gradient], retain_graph, create_graph)

    # ----- in-place operations (bump the version counter) -----
    def _check_inplace(self, op: str, *operands: Any) -> None:
        """Refuse an in-place change the graph would not follow: of a tensor that requires grad,
        or by an operand that does (its gradient would be dropped, silently, from then on)."""
        if not state.grad_enabled:
            return
        if self._requires_grad:
            kind = "a leaf tensor" if self.grad_fn is None else "a tensor in the graph"
            raise RuntimeError(
                f"{op}: in-place operation on {kind} that requires grad. Use an out-of-place "
                "operation (y = x + 1), or run it inside `with cr.no_grad():` (as optimizers do)"
            )
        for v in operands:
            if isinstance(v, Tensor) and v._requires_grad:
                raise RuntimeError(
                    f"{op}: writes a value that requires grad into a tensor that does not; the "
                    "tensor would hold the numbers but not the graph, and the gradient through "
                    "it would be lost. Compute it out of place (acc = acc + value, cr.stack, "
                    "cr.cat, cr.where), or write value.detach() if no gradient should flow"
                )

    def _inplace(self, op: str, value: ndarray, cast: bool = False, *operands: Any) -> Tensor:
        """Write ``value`` into this tensor. ``cast``: in any dtype (``copy_``, ``fill_``);
        else, as in PyTorch, a result of a higher kind than the tensor's (float into an integer
        tensor, an integer into a bool one) is refused, not truncated. ``operands``: the
        tensors ``value`` was computed from (``_check_inplace``)."""
        self._check_inplace(op, *operands)
        out = self._data
        if not cast and _kind(value.dtype) > _kind(out.dtype):
            raise RuntimeError(
                f"{op}: the result is {value.dtype}, which cannot be written into this "
                f"{out.dtype} tensor without truncating it; compute it out of place "
                "(y = x / 2) or convert the tensor first (x = x.float())"
            )
        if value.shape != out.shape:
            try:
                value = namespace(out).broadcast_to(value, out.shape)
            except ValueError:
                raise RuntimeError(
                    f"{op}: a value of shape {tuple(value.shape)} cannot be written into a "
                    f"tensor of shape {tuple(out.shape)}"
                ) from None
        out[...] = value
        self._version += 1
        return self

    def add_(self, other: Any, alpha: float = 1) -> Tensor:
        o = _value(other)
        return self._inplace("add_", self._data + (o if alpha == 1 else alpha * o), False, other)

    def sub_(self, other: Any, alpha: float = 1) -> Tensor:
        o = _value(other)
        return self._inplace("sub_", self._data - (o if alpha == 1 else alpha * o), False, other)

    def mul_(self, other: Any) -> Tensor:
        return self._inplace("mul_", self._data * _value(other), False, other)

    def div_(self, other: Any) -> Tensor:
        return self._inplace("div_", self._data / _value(other), False, other)

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        xp = namespace(self._data)
        clipped = xp.clip(self._data, _value(min), _value(max))
        return self._inplace("clamp_", clipped, False, min, max)

    def scatter_(self, dim: int, index: Tensor, src: Any = None, *, value: Any = None) -> Tensor:
        """``scatter`` into this tensor (``src`` a Tensor or a number, or ``value``)."""
        out = _ops.scatter(self, dim, index, src, value=value)._data
        return self._inplace("scatter_", out, False, src)

    def scatter_add_(self, dim: int, index: Tensor, src: Tensor) -> Tensor:
        """``scatter_add`` into this tensor."""
        out = _ops.scatter_add(self, dim, index, src)._data
        return self._inplace("scatter_add_", out, False, src)

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def fill_(self, value: Any) -> Tensor:
        return self._copy("fill_", value)

    def copy_(self, src: Any) -> Tensor:
        """Write ``src``'s values (from any device; broadcast to this shape) into this tensor."""
        return self._copy("copy_", src)

    def _copy(self, op: str, src: Any) -> Tensor:
        value = to_array(src, self.dtype, copy=False, device=self.device)
        return self._inplace(op, value, True, src)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._check_inplace("__setitem__", value)
        # index arrays and the value are moved to this tensor's device, as for x[key]
        _ops.indexing.setitem(self._data, key, value)
        self._version += 1

    def _iop(self, op: str, fn: Callable[[Any, Any], Tensor], other: Any) -> Tensor:
        # x += y is in place, as in PyTorch; where the result belongs in the graph (x is in it,
        # or y requires grad and x does not: acc += loss) it rebinds x to x + y. Rebinding
        # leaves x's memory as it was, so it is refused (_check_inplace) where anything else
        # shares that memory: a tensor (a view of x or the x that is a view, a detach()ed
        # alias, a value an op saved: each holds x's version counter) or an array (the NumPy
        # array of from_numpy, x.numpy() kept, an op's saved array: each holds x's array, or
        # views it, which holds it as its base). They would not see the change PyTorch makes,
        # or its backward would raise. An op's output that views a temporary of the op (a
        # convolution's) shares nothing.
        if (
            state.grad_enabled
            and (
                (self._requires_grad and self.grad_fn is not None)
                or (not self._requires_grad and isinstance(other, Tensor) and other._requires_grad)
            )
            and sys.getrefcount(self._vc) <= _ALONE
            and sys.getrefcount(self._data) <= _ALONE
        ):
            return fn(self, other)
        return self._inplace(op, fn(self, other)._data, False, other)

    def __pos__(self) -> Tensor:
        return self  # +x is x, as in PyTorch

    def __iadd__(self, other: Any) -> Tensor:
        return self._iop("+=", _ops.add, other)

    def __isub__(self, other: Any) -> Tensor:
        return self._iop("-=", _ops.sub, other)

    def __imul__(self, other: Any) -> Tensor:
        return self._iop("*=", _ops.mul, other)

    def __itruediv__(self, other: Any) -> Tensor:
        return self._iop("/=", _ops.div, other)

    # ----- NumPy interoperability -----
    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return _dispatch.array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return _dispatch.array_function(func, args, kwargs)

    # ----- display -----
    # (Jupyter's picture of a tensor, the graph that made it, is Tensor._repr_svg_: the engine
    # draws nothing, so chainrule.viz installs it when imported; see viz/graph.py)
    def __repr__(self) -> str:
        body = format_array(to_numpy(self._data), prefix="tensor(")
        parts = [f"tensor({body}"]
        if self.device.type != "cpu":
            parts.append(f"device='{self.device}'")
        parts.append(f"dtype={self.dtype}")
        if self.grad_fn is not None:
            parts.append(f"grad_fn={self.grad_fn!r}")
        elif self._requires_grad:
            parts.append("requires_grad=True")
        if self.name is not None:
            parts.append(f"name={self.name!r}")
        return ", ".join(parts) + ")"


class RemovableHandle:
    """Returned by ``register_hook`` (a Tensor's) and a Module's ``register_*_hook``:
    ``handle.remove()`` takes the hook's entry out of each of ``lists`` (also on leaving a
    ``with`` block over the handle)."""

    __slots__ = ("_lists", "_entry")

    def __init__(self, lists: tuple[list, ...], entry: Any) -> None:
        self._lists = lists
        self._entry = entry

    def remove(self) -> None:
        for hooks in self._lists:
            for i, e in enumerate(hooks):
                if e is self._entry:
                    del hooks[i]
                    break

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


def _alone() -> int:
    """What ``sys.getrefcount`` gives, in ``_iop``, for a tensor's version counter or array
    that the tensor alone holds (a view, an alias, a saved value each hold it once more)."""

    def count(t: Tensor) -> int:
        return sys.getrefcount(t._vc)

    return count(Tensor._make(NUMPY.zeros(1)))


def _value(x: Any) -> Any:
    return x._data if isinstance(x, Tensor) else x


def to_args(args: tuple, kwargs: dict) -> tuple:
    """``.to``'s arguments (Tensor's and Module's), PyTorch's ways, as (device or None, dtype or
    None, copy)."""
    where, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    if kwargs:
        raise TypeError(f"Tensor.to: unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            where, dtype = a.device, a.dtype
        elif isinstance(a, (str, _device)) and where is None and not _is_dtype_name(a):
            where = a
        else:
            dtype = a
    return resolve(where), dtype, copy


def _is_dtype_name(a: Any) -> bool:
    return isinstance(a, str) and a.partition(":")[0] not in ("cpu", "cuda", "strict")


def cuda_device(index: Any) -> Any:
    if index is None:
        return _device("cuda")
    if isinstance(index, int):
        return _device("cuda", index)
    d = _device(index)
    if d.type != "cuda":
        raise ValueError(f"Tensor.cuda: expected a CUDA device; got {d}")
    return d


def _kind(dtype: Any) -> int:
    """0 for bool, 1 for integers, 2 for floating point: the kinds an in-place result may not
    climb (``Tensor._inplace``)."""
    if is_floating(dtype):
        return 2
    return 0 if canonical_dtype(dtype) == dtypes.bool else 1


from .. import ops as _ops  # noqa: E402
from . import dispatch as _dispatch  # noqa: E402
from . import engine as _engine  # noqa: E402
from . import functional as _functional  # noqa: E402

_ops.bind_methods(Tensor)
_ALONE = _alone()
