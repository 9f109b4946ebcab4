"""Where a tensor's numbers live: array modules, and the devices they compute on.

A Tensor holds one array (``Tensor._data``) of one array module: NumPy on the CPU, CuPy on an
NVIDIA GPU, or the Array API standard's strict reference implementation (``array-api-strict``),
a device that exists to prove the engine portable. The engine, the ops, ``nn`` and ``optim``
never import an array module: they compute through the namespace of the arrays in hand,

    xp = namespace(x)          # NumPy's, CuPy's or array-api-strict's functions
    y = xp.exp(xp.sum(x, axis=0, keepdims=True))

which offers exactly the functions of the Python Array API standard (``STANDARD``) under their
standard names, plus a few extras the standard lacks (``EXTRAS``: scatter-add for the indexing
backward, strided windows for convolutions, and two fused updates that a GPU runs as one kernel
each, see ``_fused``), each with one implementation per array module.
Code written against a namespace runs unchanged on every device; a test runs the whole op table
on array-api-strict, so a NumPy-only call fails on a machine without a GPU.

chainrule's dtypes are NumPy's (``cr.float32`` is ``numpy.dtype('float32')``) on every device;
``native_dtype``/``canonical_dtype`` translate for modules with dtype objects of their own.
"""

from __future__ import annotations

import contextlib
import importlib.util
from types import SimpleNamespace
from typing import Any

import numpy

from . import _fused

#: The Array API standard's functions and constants (2024.12) that a namespace offers.
STANDARD = (
    "abs acos acosh add all any arange argmax argmin argsort asarray asin asinh astype atan atan2 "
    "atanh bitwise_and bitwise_invert bitwise_left_shift bitwise_or bitwise_right_shift "
    "bitwise_xor broadcast_arrays broadcast_shapes broadcast_to can_cast ceil clip concat copysign "
    "cos cosh count_nonzero cumulative_prod cumulative_sum diff divide e empty empty_like equal "
    "exp expand_dims expm1 eye finfo flip floor floor_divide full full_like greater greater_equal "
    "hypot iinfo inf isdtype isfinite isin isinf isnan less less_equal linspace log log10 log1p "
    "log2 logaddexp logical_and logical_not logical_or logical_xor matmul matrix_transpose max "
    "maximum mean meshgrid min minimum moveaxis multiply nan negative newaxis nextafter nonzero "
    "not_equal ones ones_like permute_dims pi positive pow prod reciprocal remainder repeat "
    "reshape result_type roll round searchsorted sign signbit sin sinh sort sqrt square squeeze "
    "stack std subtract sum take take_along_axis tan tanh tensordot tile tril triu trunc "
    "unique_all unique_counts unique_inverse unique_values unstack var vecdot where zeros "
    "zeros_like bool int8 int16 int32 int64 uint8 uint16 uint32 uint64 float32 float64"
).split()

#: What a namespace offers beyond the standard, one implementation per array module.
EXTRAS = {
    "scatter_add": "scatter_add(target, index, values): target[index] += values, repeated "
    "indices adding up (NumPy's add.at); returns target, changed in place where it can be",
    "scatter_set": "scatter_set(target, index, values): target[index] = values for an integer "
    "array index (where an index repeats, the last of its values stays, as NumPy's assignment "
    "leaves it); returns target, changed in place where it can be",
    "as_strided": "as_strided(x, shape, strides): a read-only view of x's elements, taken in C "
    "order, with the given shape and strides counted in elements (a convolution's windows)",
    "in_c_order": "in_c_order(x): whether x's elements lie in memory in C order, without gaps "
    "(NumPy's and CuPy's flags.c_contiguous; always so where the module shows no memory, as "
    "array-api-strict)",
    "errstate": "errstate(**how): a context that silences floating-point warnings where the "
    "module raises them (NumPy's errstate; a no-op elsewhere)",
    "native_dtype": "native_dtype(d): the module's dtype for chainrule's (NumPy) dtype d",
    "adam_update": "adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, scalars, "
    "maximize, decay_mode): one Adam/AdamW step in place on param and its moments (one CUDA "
    "kernel on CuPy; see _fused)",
    "cross_entropy_backward": "cross_entropy_backward(p, key, axis, scale, target_scale, "
    "smooth, class_weight): the softmax cross-entropy's gradient, p * scale less the target's "
    "share (one CUDA kernel on CuPy; see _fused)",
}


class device:  # noqa: N801  (PyTorch's name: cr.device("cuda:0"))
    """A device a tensor can live on: ``cr.device("cpu")``, ``cr.device("cuda", 0)``.

    The types are ``cpu`` (NumPy), ``cuda`` (CuPy, index = the GPU) and ``strict``
    (array-api-strict; index 0 is its CPU_DEVICE, 1 and 2 its device1 and device2). As in
    PyTorch, ``device("cuda")`` means the current GPU and a tensor's ``.device`` names its index.
    """

    __slots__ = ("type", "index")

    def __init__(self, type: Any, index: int | None = None) -> None:  # noqa: A002
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        if not isinstance(type, str):
            raise TypeError(
                f"device: expected a string such as 'cpu', 'cuda' or 'cuda:1', or a cr.device; "
                f"got {type!r}"
            )
        name, sep, number = type.partition(":")
        if sep:
            if index is not None:
                raise ValueError(f"device: {type!r} already names an index; got index={index}")
            if not number.isdigit():
                raise ValueError(f"device: expected 'type:index' with a number; got {type!r}")
            index = int(number)
        if name not in _KINDS:
            raise ValueError(
                f"device: expected one of {', '.join(_KINDS)} (optionally with ':index'); "
                f"got {type!r}"
            )
        if index is not None and (not isinstance(index, int) or index < 0):
            raise ValueError(f"device: the index must be a non-negative int; got {index!r}")
        object.__setattr__(self, "type", name)
        object.__setattr__(self, "index", index)

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError("cr.device is immutable")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type={self.type!r})"
        return f"device(type={self.type!r}, index={self.index})"


#: NumPy's array type (the engine's fast paths test for it by identity).
ndarray = numpy.ndarray
#: NumPy's test of whether two arrays' memory ranges overlap (``_arith``'s blocked update).
may_share_memory = numpy.may_share_memory


def _numpy_scatter_add(target: Any, index: Any, values: Any) -> Any:
    numpy.add.at(target, index, values)
    return target


def _numpy_scatter_set(target: Any, index: Any, values: Any) -> Any:
    target[index] = values
    return target


def _numpy_as_strided(x: Any, shape: tuple, strides: tuple) -> Any:
    x = numpy.ascontiguousarray(x)
    size = x.itemsize
    return numpy.lib.stride_tricks.as_strided(
        x, shape, tuple(s * size for s in strides), writeable=False
    )


def _namespace(module: Any, fast: dict | None = None, **extras: Any) -> SimpleNamespace:
    """The standard's names as ``module`` spells them (or as ``fast`` replaces them), and the
    extras."""
    names = {name: getattr(module, name) for name in STANDARD if hasattr(module, name)}
    missing = set(STANDARD) - set(names)
    if missing:  # an older module: the names it lacks are errors when called, not at import
        names.update({name: _lacks(module, name) for name in missing})
    assert set(extras) == set(EXTRAS), "every namespace implements every extra"
    assert set(fast or ()) <= set(STANDARD), "fast versions replace standard functions only"
    names.update(fast or {})
    return SimpleNamespace(**names, **extras, __name__=module.__name__)


def _lacks(module: Any, name: str) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            f"{module.__name__} {getattr(module, '__version__', '')} has no {name}(), which "
            "chainrule needs; upgrade it"
        )

    return call


# NumPy's functions of these names are Python wrappers around the array's methods (np.reshape
# costs ~1 us, x.reshape ~0.2 us): on the hot path of small steps that is the engine's overhead.
# For an ndarray and the standard's arguments each method does exactly what the function does;
# anything else goes to the function.
def _numpy_reshape(x: Any, /, shape: tuple, *, copy: bool | None = None) -> Any:
    if copy is None and type(x) is ndarray:
        return x.reshape(shape)
    return numpy.reshape(x, shape, copy=copy)


def _numpy_permute_dims(x: Any, /, axes: tuple) -> Any:
    if type(x) is ndarray:
        return x.transpose(axes)
    return numpy.permute_dims(x, axes)


def _numpy_astype(x: Any, dtype: Any, /, *, copy: bool = True, device: Any = None) -> Any:
    if device is None and type(x) is ndarray:
        return x.astype(dtype, copy=copy)
    return numpy.astype(x, dtype, copy=copy, device=device)


def _numpy_sum(x: Any, /, *, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:
    if type(x) is ndarray:
        return x.sum(axis=axis, dtype=dtype, keepdims=keepdims)
    return numpy.sum(x, axis=axis, dtype=dtype, keepdims=keepdims)


def _numpy_max(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Any:
    if type(x) is ndarray:  # the method skips numpy.max's dispatch: the same reduction
        return x.max(axis=axis, keepdims=keepdims)
    return numpy.max(x, axis=axis, keepdims=keepdims)


#: NumPy's namespace: the CPU's.
NUMPY = _namespace(
    numpy,
    fast={
        "reshape": _numpy_reshape,
        "permute_dims": _numpy_permute_dims,
        "astype": _numpy_astype,
        "sum": _numpy_sum,
        "max": _numpy_max,
    },
    scatter_add=_numpy_scatter_add,
    scatter_set=_numpy_scatter_set,
    as_strided=_numpy_as_strided,
    in_c_order=lambda x: x.flags.c_contiguous,
    errstate=numpy.errstate,
    native_dtype=lambda d: d,
    adam_update=_fused.adam_update,
    cross_entropy_backward=_fused.cross_entropy_backward,
)


class _Backend:
    """One array module: how to find its namespace and devices and move arrays in and out."""

    def __init__(self, kind: str, array_type: type, xp: SimpleNamespace) -> None:
        self.kind = kind
        self.array_type = array_type
        self.xp = xp

    def device_of(self, array: Any) -> device:  # pragma: no cover - overridden
        raise NotImplementedError

    def to_numpy(self, array: Any) -> numpy.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def from_numpy(self, array: numpy.ndarray, index: int | None) -> Any:  # pragma: no cover
        raise NotImplementedError

    def count(self) -> int:
        """How many devices of this type there are."""
        return 1

    def use(self, index: int) -> None:
        """Make device ``index`` the current one, where the module has one (CuPy)."""


class _Cpu(_Backend):
    def device_of(self, array: Any) -> device:
        return CPU

    def to_numpy(self, array: Any) -> numpy.ndarray:
        return array

    def from_numpy(self, array: numpy.ndarray, index: int | None) -> Any:
        return array


_KINDS = ("cpu", "cuda", "strict")
CPU = device("cpu")
_BY_TYPE: dict[type, _Backend] = {numpy.ndarray: _Cpu("cpu", numpy.ndarray, NUMPY)}
_BY_KIND: dict[str, _Backend] = {"cpu": _BY_TYPE[numpy.ndarray]}


def _load(kind: str) -> _Backend:
    """The backend of a device type, importing its array module on first use."""
    backend = _BY_KIND.get(kind)
    if backend is None:
        from . import _backends  # CuPy and array-api-strict, imported only when asked for

        backend = _backends.load(kind)
        _BY_KIND[kind] = backend
        _BY_TYPE[backend.array_type] = backend
    return backend


def _backend_of(array: Any) -> _Backend:
    backend = _BY_TYPE.get(type(array))
    if backend is not None:
        return backend
    if isinstance(array, numpy.generic):  # a NumPy scalar, from a 0-d NumPy operation
        return _BY_KIND["cpu"]
    raise TypeError(
        f"expected an array of NumPy, CuPy or array-api-strict; got {type(array).__name__}"
    )


def namespace(array: Any) -> SimpleNamespace:
    """The functions that compute on ``array``: the standard's names plus ``EXTRAS``."""
    if type(array) is numpy.ndarray:
        return NUMPY
    return _backend_of(array).xp


def device_of(array: Any) -> device:
    """The device ``array`` lives on."""
    if type(array) is numpy.ndarray:
        return CPU
    return _backend_of(array).device_of(array)


def is_array(value: Any) -> bool:
    """True for an array of a loaded array module (not a Python number or a NumPy scalar)."""
    return type(value) in _BY_TYPE


def to_numpy(array: Any) -> numpy.ndarray:
    """``array``'s values as a NumPy array on the CPU (itself when it is one)."""
    if type(array) is numpy.ndarray:
        return array
    return _backend_of(array).to_numpy(array)


def to_device(array: Any, where: device) -> Any:
    """``array`` on device ``where`` (itself when it is there already)."""
    if device_of(array) == where:
        return array
    return _load(where.type).from_numpy(to_numpy(array), where.index)


def from_numpy(array: numpy.ndarray, where: device | None) -> Any:
    """A NumPy array put on device ``where`` (None: the CPU); no copy on the CPU."""
    if where is None or where.type == "cpu":
        return array
    return _load(where.type).from_numpy(array, where.index)


def resolve(where: Any) -> device | None:
    """A ``device=`` argument (None, a string or a cr.device) as a cr.device, checked to exist."""
    if where is None:
        return None
    d = where if isinstance(where, device) else device(where)
    _load(d.type)
    return d


def available(kind: str) -> bool:
    """Whether device type ``kind`` can be used here (its array module imports, a GPU exists)."""
    if kind == "cpu":
        return True
    try:
        _load(kind)
    except RuntimeError:
        return False
    return True


def device_count(kind: str) -> int:
    """How many devices of type ``kind`` there are here (0 where it cannot be used), as
    ``torch.cuda.device_count``; counting touches no GPU (it makes no context on one)."""
    return _load(kind).count() if available(kind) else 0


def use_device(where: device) -> None:
    """Make ``where`` its module's current device (CuPy's, for kernels and new arrays); a no-op
    for modules without one."""
    _load(where.type).use(where.index or 0)


def module_installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


_FLOAT_DTYPES = frozenset(numpy.dtype(t) for t in ("float16", "float32", "float64"))


def is_floating(dtype: Any) -> bool:
    """True for the dtypes that can carry gradients (float16, float32, float64), any module's."""
    if isinstance(dtype, numpy.dtype):
        return dtype in _FLOAT_DTYPES
    return canonical_dtype(dtype) in _FLOAT_DTYPES


def canonical_dtype(dtype: Any) -> numpy.dtype:
    """chainrule's (NumPy's) dtype for any module's dtype."""
    if isinstance(dtype, numpy.dtype):
        return dtype
    return numpy.dtype(getattr(dtype, "_np_dtype", dtype))  # array-api-strict's wraps NumPy's


def nullcontext(**how: Any) -> contextlib.AbstractContextManager:
    return contextlib.nullcontext()


def format_array(array: numpy.ndarray, prefix: str) -> str:
    """A NumPy array's values as ``repr`` shows them (4 decimals; long ones elided)."""
    return numpy.array2string(
        array, separator=", ", prefix=prefix, precision=4, threshold=200, edgeitems=3
    )
