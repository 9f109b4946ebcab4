"""The array modules beyond NumPy, imported when a device of theirs is first asked for.

``cuda``: CuPy on NVIDIA GPUs (``pip install chainrule[cuda12]`` or ``[cuda13]``).
``strict``: array-api-strict, the Python Array API standard's reference implementation on the
CPU. It refuses everything the standard does not define (methods such as ``x.sum()``, NumPy's
functions, mixing with NumPy arrays, arrays of two devices in one operation); chainrule's tests
run the op table on it to prove that the engine computes only through ``backend.namespace``.
"""

from __future__ import annotations

import contextlib
import importlib
from typing import Any

import numpy

from . import _fused, backend
from .backend import _Backend, _namespace, device


def load(kind: str) -> _Backend:
    if kind == "cuda":
        return _cupy()
    if kind == "strict":
        return _strict()
    raise ValueError(f"no backend for device type {kind!r}")  # pragma: no cover


def _import(name: str, kind: str, how: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise RuntimeError(
            f"device {kind!r} needs {name}, which is not installed here ({e}); {how}"
        ) from None


# ----- array-api-strict -----
def _strict() -> _Backend:
    xp = _import(
        "array_api_strict", "strict", "pip install array-api-strict (the 'test' extra has it)"
    )
    devices = xp.__array_namespace_info__().devices()[:3]  # CPU_DEVICE, device1, device2

    def scatter_add(target: Any, index: Any, values: Any) -> Any:
        # the standard has no scatter: add up on the CPU, put the result back on target's device
        out = numpy.array(_to_numpy(target))
        numpy.add.at(out, _index_to_numpy(index), _to_numpy(values))
        return xp.asarray(out, device=target.device)

    def scatter_set(target: Any, index: Any, values: Any) -> Any:
        # no scatter either: assign on the CPU (NumPy's rule for repeats), put the result back
        out = numpy.array(_to_numpy(target))
        out[_index_to_numpy(index)] = _to_numpy(values)
        return xp.asarray(out, device=target.device)

    def as_strided(x: Any, shape: tuple, strides: tuple) -> Any:
        # the standard has no strided views: gather the same elements with take
        flat = xp.reshape(x, (-1,))
        offsets = numpy.zeros(shape, dtype=numpy.int64)
        for axis, (n, step) in enumerate(zip(shape, strides)):
            offsets += (numpy.arange(n) * step).reshape((-1,) + (1,) * (len(shape) - axis - 1))
        taken = xp.take(flat, xp.asarray(offsets.reshape(-1), device=x.device))
        return xp.reshape(taken, shape)

    def native_dtype(d: Any) -> Any:
        return d if not isinstance(d, numpy.dtype) else getattr(xp, d.name)

    ns = _namespace(
        xp,
        scatter_add=scatter_add,
        scatter_set=scatter_set,
        as_strided=as_strided,
        in_c_order=lambda x: True,  # the standard shows no memory: its order is the logical one
        errstate=backend.nullcontext,
        native_dtype=native_dtype,
        adam_update=_fused.adam_update,
        cross_entropy_backward=_fused.cross_entropy_backward,
    )

    def _to_numpy(a: Any) -> numpy.ndarray:
        if not isinstance(a, xp_array):
            return numpy.asarray(a)
        # device1/device2 refuse __array__; go through the CPU device
        return numpy.asarray(a.to_device(devices[0]))

    def _index_to_numpy(index: Any) -> Any:
        if isinstance(index, tuple):
            return tuple(_index_to_numpy(i) for i in index)
        return _to_numpy(index) if isinstance(index, xp_array) else index

    xp_array = type(xp.asarray(0))

    class Strict(_Backend):
        def device_of(self, array: Any) -> device:
            return device("strict", devices.index(array.device))

        def to_numpy(self, array: Any) -> numpy.ndarray:
            return _to_numpy(array)

        def from_numpy(self, array: numpy.ndarray, index: int | None) -> Any:
            if index is not None and index >= len(devices):
                raise RuntimeError(
                    f"device strict:{index} does not exist; array-api-strict has strict:0 to "
                    f"strict:{len(devices) - 1}"
                )
            return xp.asarray(array, device=devices[index or 0], copy=True)

        def count(self) -> int:
            return len(devices)

    return Strict("strict", xp_array, ns)


# ----- CuPy -----
def _cupy() -> _Backend:
    cp = _import(
        "cupy", "cuda", "pip install 'chainrule[cuda12]' or 'chainrule[cuda13]' (see docs/gpu.md)"
    )
    try:
        count = cp.cuda.runtime.getDeviceCount()
    except Exception as e:  # CUDA runtime errors when no driver or no GPU is present
        raise RuntimeError(f"device 'cuda': CuPy finds no usable GPU here ({e})") from None
    if count == 0:
        raise RuntimeError("device 'cuda': CuPy is installed but finds no GPU")

    def scatter_add(target: Any, index: Any, values: Any) -> Any:
        cp.add.at(target, index, values)
        return target

    def scatter_set(target: Any, index: Any, values: Any) -> Any:
        # CuPy leaves unspecified which value of a repeated index stays
        target[index] = values
        return target

    def as_strided(x: Any, shape: tuple, strides: tuple) -> Any:
        x = cp.ascontiguousarray(x)
        size = x.itemsize
        return cp.lib.stride_tricks.as_strided(x, shape, tuple(s * size for s in strides))

    kernels: dict[str, Any] = {}

    def run(kernel: _fused.Kernel, args: tuple) -> Any:
        # one ElementwiseKernel per chain, made on first use (CuPy compiles it on its first call
        # for each combination of dtypes and keeps the binary in its cache)
        made = kernels.get(kernel.name)
        if made is None:
            made = kernels[kernel.name] = cp.ElementwiseKernel(
                kernel.in_params, kernel.out_params, kernel.body, kernel.name
            )
        return made(*args)

    def adam_update(*args: Any) -> None:
        run(*_fused.adam_operands(*args))

    def cross_entropy_backward(p: Any, *args: Any) -> Any:
        return run(_fused.CROSS_ENTROPY_BACKWARD, _fused.cross_entropy_operands(cp, p, *args))

    ns = _namespace(
        cp,
        scatter_add=scatter_add,
        scatter_set=scatter_set,
        as_strided=as_strided,
        in_c_order=lambda x: x.flags.c_contiguous,
        errstate=backend.nullcontext,
        native_dtype=lambda d: d,
        adam_update=adam_update,
        cross_entropy_backward=cross_entropy_backward,
    )

    class Cuda(_Backend):
        def device_of(self, array: Any) -> device:
            return device("cuda", array.device.id)

        def to_numpy(self, array: Any) -> numpy.ndarray:
            return cp.asnumpy(array)

        def from_numpy(self, array: numpy.ndarray, index: int | None) -> Any:
            gpu = cp.cuda.Device(index) if index is not None else contextlib.nullcontext()
            with gpu:
                return cp.asarray(array)

        def count(self) -> int:
            return int(cp.cuda.runtime.getDeviceCount())

        def use(self, index: int) -> None:
            cp.cuda.Device(index).use()

    return Cuda("cuda", cp.ndarray, ns)
