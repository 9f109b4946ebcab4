"""The fused kernels (chainrule._fused): their bodies checked on a machine without a GPU.

CuPy runs each fused chain (Adam's update, the softmax cross-entropy backward) as an
``ElementwiseKernel`` whose body is a string in ``_fused``. That same string is

* compiled with g++ inside a small C++ harness (a loop over the elements, each parameter named
  as CuPy names it) and run, through ctypes, on the arguments Adam and CrossEntropy really pass
  to the backend's extra, for float32 and float64: it must give the generic implementation's
  numbers to the bit. Both compute each operation in the same order in IEEE arithmetic, and
  ``-ffp-contract=off`` keeps g++ from fusing a multiply and an add (a GPU's compiler does fuse
  them: there, an ulp or so apart, which the GPU test allows);
* wrapped the way CuPy wraps it (a ``__global__`` function over the element arrays) and
  compiled with ``nvcc --ptx``, to show that it is valid CUDA;
* run by CuPy itself on a GPU, against the generic implementation on the CPU (skipped without
  one).
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import _fused, backend, optim
from chainrule.backend import NUMPY
from chainrule.optim import adam

GXX = shutil.which("g++")
NVCC = shutil.which("nvcc")
needs_gxx = pytest.mark.skipif(GXX is None, reason="g++ is not installed (.ci/run installs it)")

#: CuPy's parameter types in C++ (T and I: the float and index types the harness is built for)
CTYPES = {"T": "T", "I": "I", "bool": "bool", "int32": "int"}


def params(spec: str) -> list[tuple[str, str]]:
    """CuPy's ``"T x, bool flag"`` as [("T", "x"), ("bool", "flag")]."""
    return [tuple(p.split()) for p in spec.split(",")]


def declarations(kernel: _fused.Kernel, arrays: tuple[bool, ...]) -> tuple[list, list]:
    """Each parameter as the kernel's body sees it: (C++ parameters, per-element bindings)."""
    ins, outs = params(kernel.in_params), params(kernel.out_params)
    args, bind = [], []
    for k, ((ty, name), is_array) in enumerate(zip(ins + outs, arrays)):
        c = CTYPES[ty]
        if k >= len(ins):
            args.append(f"{c}* _raw_{name}")
            bind.append(f"{c}& {name} = _raw_{name}[i];")
        elif is_array:
            args.append(f"const {c}* _raw_{name}")
            bind.append(f"const {c}& {name} = _raw_{name}[i];")
        else:
            args.append(f"{c} {name}")
    return args, bind


def cpp_source(kernel: _fused.Kernel, arrays: tuple[bool, ...]) -> str:
    """A C++ library running the kernel's body over n elements, as float and as double."""
    args, bind = declarations(kernel, arrays)
    call = ", ".join(a.split()[-1] for a in args)
    lines = [
        "#include <cmath>",
        "using std::sqrt;",
        "template <typename T, typename I>",
        f"static void body(long long n, {', '.join(args)}) {{",
        "  for (long long i = 0; i < n; ++i) {",
        *(f"    {b}" for b in bind),
        kernel.body,
        "  }",
        "}",
    ]
    for t in ("float", "double"):
        typed = [a.replace("T", t).replace("I*", "long long*") for a in args]
        lines.append(
            f'extern "C" void run_{t}(long long n, {", ".join(typed)}) '
            f"{{ body<{t}, long long>(n, {call}); }}"
        )
    return "\n".join(lines)


def cuda_source(kernel: _fused.Kernel, arrays: tuple[bool, ...], t: str) -> str:
    """The kernel as CuPy generates it around the body: one thread per element (grid-stride)."""
    args, bind = declarations(kernel, arrays)
    return "\n".join(
        [
            f"typedef {t} T;",
            "typedef long long I;",
            f'extern "C" __global__ void {kernel.name}(long long n, {", ".join(args)}) {{',
            "  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;",
            "       i += (long long)blockDim.x * gridDim.x) {",
            *(f"    {b}" for b in bind),
            kernel.body,
            "  }",
            "}",
        ]
    )


class Harness:
    """Runs kernels' bodies on NumPy arrays, compiled with g++ once per kernel and signature."""

    def __init__(self, folder) -> None:
        self.folder = folder
        self.libs: dict = {}

    def run(self, kernel: _fused.Kernel, args: tuple, dtype) -> list[np.ndarray]:
        """The kernel on ``args`` (in its parameters' order; outputs given or not, as CuPy takes
        them): the outputs, as new arrays of the arguments' broadcast shape."""
        n_in, n_out = len(params(kernel.in_params)), len(params(kernel.out_params))
        arrays = tuple(isinstance(a, np.ndarray) and a.ndim > 0 for a in args)
        arrays += (True,) * (n_in + n_out - len(args))
        shape = np.broadcast_shapes(*(a.shape for a, is_a in zip(args, arrays) if is_a))
        types = [ty for ty, _ in params(kernel.in_params) + params(kernel.out_params)]
        scalar = {"T": ctypes.c_double if dtype == np.float64 else ctypes.c_float}
        scalar.update(bool=ctypes.c_bool, int32=ctypes.c_int)
        values, buffers = [], []
        for k, ty in enumerate(types):
            a = args[k] if k < len(args) else np.zeros(shape, dtype)
            if not arrays[k]:
                values.append(scalar[ty](a.item() if isinstance(a, np.ndarray | np.generic) else a))
                continue
            element = dtype if ty == "T" else np.int64
            buffer = np.ascontiguousarray(np.broadcast_to(a, shape), dtype=element).copy()
            values.append(buffer.ctypes.data_as(ctypes.c_void_p))
            buffers.append((k, buffer))
        fn = getattr(
            self.library(kernel, arrays), "run_double" if dtype == np.float64 else "run_float"
        )
        fn.restype = None
        fn(ctypes.c_longlong(int(np.prod(shape))), *values)
        return [buffer for k, buffer in buffers if k >= n_in]

    def library(self, kernel: _fused.Kernel, arrays: tuple[bool, ...]):
        key = (kernel.name, arrays)
        if key not in self.libs:
            stem = self.folder / f"{kernel.name}_{len(self.libs)}"
            stem.with_suffix(".cpp").write_text(cpp_source(kernel, arrays))
            compile_ = [GXX, "-O2", "-std=c++17", "-ffp-contract=off", "-shared", "-fPIC"]
            subprocess.run(
                [*compile_, "-o", str(stem.with_suffix(".so")), str(stem.with_suffix(".cpp"))],
                check=True,
                capture_output=True,
            )
            self.libs[key] = ctypes.CDLL(str(stem.with_suffix(".so")))
        return self.libs[key]


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    return Harness(tmp_path_factory.mktemp("fused"))


# ----- Adam -----
ADAM_CASES = [
    ("Adam", {"lr": 0.05}),
    ("Adam", {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-3, "maximize": True}),
    ("Adam", {"lr": 0.05, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.05, "weight_decay": 0.1, "amsgrad": True}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.3}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.3, "amsgrad": True, "maximize": True}),
]


def adam_steps(name: str, kwargs: dict, dtype, steps: int = 4) -> None:
    """A few real steps on a small model, every parameter through the backend's adam_update."""
    rng = np.random.default_rng(0)
    w = cr.tensor(rng.standard_normal((7, 5)), dtype=dtype, requires_grad=True)
    b = cr.tensor(rng.standard_normal(5) * 1e-3, dtype=dtype, requires_grad=True)
    x = cr.tensor(rng.standard_normal((9, 7)), dtype=dtype)
    opt = getattr(optim, name)([w, b], **kwargs)
    for _ in range(steps):
        opt.zero_grad()
        ((x @ w + b).tanh() ** 2).sum().backward()
        opt.step()


@needs_gxx
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("name", "kwargs"), ADAM_CASES)
def test_adam_kernel_body_gives_the_generic_numbers_bit_for_bit(
    monkeypatch, harness, name, kwargs, dtype
):
    calls = []

    def both(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *rest):
        state = (param, exp_avg, exp_avg_sq, max_exp_avg_sq)
        copies = [None if a is None else a.copy() for a in state]
        kernel, args = _fused.adam_operands(copies[0], grad, *copies[1:], *rest)
        got = harness.run(kernel, args, dtype)
        _fused.adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *rest)
        want = [a for a in state if a is not None]
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)
        calls.append(rest[-1])

    monkeypatch.setattr(NUMPY, "adam_update", both)
    monkeypatch.setattr(adam, "FLAT_LIMIT", 0)  # no flat update: each parameter on its own
    adam_steps(name, kwargs, dtype)
    assert len(calls) == 2 * 4  # two parameters, four steps: every update went through it


@needs_gxx
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("decay_mode", [_fused.NO_DECAY, _fused.COUPLED, _fused.DECOUPLED])
def test_adam_kernel_body_on_zeros_infinities_and_nans(harness, decay_mode, dtype):
    # amsgrad's maximum keeps a NaN from either side, as NumPy's does; signs of zero survive
    rng = np.random.default_rng(1)
    n = 64
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30, -1e30, 3.0])
    param, grad, m, v, v_max = (rng.standard_normal(n).astype(dtype) for _ in range(5))
    v, v_max = v * v, v_max * v_max
    for a in (param, grad, m, v_max):
        a[rng.permutation(n)[: len(special)]] = special
    group = {"lr": 0.01, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.1}
    sc = adam._scalars(group, cr._arith.of(param), param, 3)
    for maximize in (False, True):
        state = [a.copy() for a in (param, m, v, v_max)]
        kernel, args = _fused.adam_operands(state[0], grad, *state[1:], sc, maximize, decay_mode)
        got = harness.run(kernel, args, dtype)
        with np.errstate(all="ignore"):
            _fused.adam_update(*[state[0], grad, *state[1:]], sc, maximize, decay_mode)
        for g, w in zip(got, state):
            np.testing.assert_array_equal(g, w)
            np.testing.assert_array_equal(np.signbit(g), np.signbit(w))


# ----- the softmax cross-entropy backward -----
CE_CASES = [
    ((16, 10), {}),
    ((10,), {"reduction": "sum"}),
    ((8, 5), {"weight": True, "reduction": "sum"}),
    ((8, 5), {"ignore_index": 2}),
    ((8, 5), {"label_smoothing": 0.1, "weight": True, "ignore_index": 1}),
    ((4, 3, 2, 5), {"label_smoothing": 0.2, "reduction": "none"}),
    ((4, 3, 2, 5), {"weight": True, "ignore_index": 0, "reduction": "mean"}),
]


@needs_gxx
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("shape", "kwargs"), CE_CASES)
def test_cross_entropy_kernel_body_gives_the_generic_numbers_bit_for_bit(
    monkeypatch, harness, shape, kwargs, dtype
):
    calls = []

    def both(p, *rest):
        got = harness.run(
            _fused.CROSS_ENTROPY_BACKWARD, _fused.cross_entropy_operands(np, p, *rest), dtype
        )
        want = _fused.cross_entropy_backward(p, *rest)
        assert len(got) == 1 and got[0].dtype == want.dtype
        np.testing.assert_array_equal(got[0], want)
        calls.append(1)
        return want

    monkeypatch.setattr(NUMPY, "cross_entropy_backward", both)
    rng = np.random.default_rng(2)
    c = shape[0] if len(shape) == 1 else shape[1]
    kw = dict(kwargs)
    if kw.pop("weight", False):
        kw["weight"] = cr.tensor(rng.uniform(0.5, 2.0, c), dtype=dtype)
    x = cr.tensor(rng.standard_normal(shape) * 3, dtype=dtype, requires_grad=True)
    target_shape = () if len(shape) == 1 else (shape[0], *shape[2:])
    target = cr.tensor(rng.integers(0, c, target_shape))
    loss = F.cross_entropy(x, target, **kw)
    upstream = cr.tensor(rng.standard_normal(loss.shape), dtype=dtype)
    loss.backward(upstream)
    assert calls == [1]
    assert x.grad is not None and x.grad.shape == shape


# ----- as CUDA -----
@pytest.mark.skipif(NVCC is None, reason="nvcc (the CUDA toolkit) is not installed")
@pytest.mark.parametrize("t", ["float", "double"])
@pytest.mark.parametrize(
    ("kernel", "scalars"),
    [
        (_fused.ADAM, range(1, 12)),
        (_fused.AMSGRAD, range(1, 12)),
        (_fused.CROSS_ENTROPY_BACKWARD, [7]),
        (_fused.CROSS_ENTROPY_BACKWARD, [1, 2, 3, 4, 7]),  # per-position values as scalars
    ],
    ids=["adam", "amsgrad", "ce-arrays", "ce-scalars"],
)
def test_kernel_bodies_compile_as_cuda(tmp_path, kernel, scalars, t):
    n = len(params(kernel.in_params)) + len(params(kernel.out_params))
    arrays = tuple(k not in scalars for k in range(n))
    source = tmp_path / f"{kernel.name}.cu"
    source.write_text(cuda_source(kernel, arrays, t))
    ptx = tmp_path / f"{kernel.name}.ptx"
    done = subprocess.run(
        [NVCC, "--ptx", "-o", str(ptx), str(source)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert f".entry {kernel.name}" in ptx.read_text()


# ----- on a GPU, through CuPy -----
needs_gpu = pytest.mark.skipif(
    not backend.available("cuda"), reason="no CuPy or no GPU here: the kernels run on a GPU only"
)
#: the GPU's compiler fuses multiplies and adds: an ulp or so from the generic numbers
GPU_TOL = {np.float32: {"rtol": 1e-5, "atol": 1e-6}, np.float64: {"rtol": 1e-12, "atol": 1e-14}}


@needs_gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("name", "kwargs"), ADAM_CASES)
def test_cupy_adam_kernel_matches_the_generic_update(name, kwargs, dtype):
    rng = np.random.default_rng(3)
    cpu = [cr.tensor(rng.standard_normal(s), dtype=dtype, requires_grad=True) for s in [(50, 30)]]
    gpu = [t.detach().to("cuda").requires_grad_() for t in cpu]
    opts = [getattr(optim, name)(ts, **kwargs) for ts in (cpu, gpu)]
    x = rng.standard_normal((20, 50))
    for _ in range(5):
        for ts, opt in zip((cpu, gpu), opts):
            opt.zero_grad()
            xs = cr.tensor(x, dtype=dtype, device=ts[0].device)
            ((xs @ ts[0]).tanh() ** 2).sum().backward()
            opt.step()
    np.testing.assert_allclose(
        gpu[0].detach().cpu().numpy(), cpu[0].detach().numpy(), **GPU_TOL[dtype]
    )


@needs_gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("shape", "kwargs"), CE_CASES)
def test_cupy_cross_entropy_kernel_matches_the_generic_backward(shape, kwargs, dtype):
    rng = np.random.default_rng(4)
    c = shape[0] if len(shape) == 1 else shape[1]
    target_shape = () if len(shape) == 1 else (shape[0], *shape[2:])
    x0, y0 = rng.standard_normal(shape) * 3, rng.integers(0, c, target_shape)
    w0 = rng.uniform(0.5, 2.0, c)
    grads = []
    for where in ("cpu", "cuda"):
        kw = dict(kwargs)
        if kw.pop("weight", False):
            kw["weight"] = cr.tensor(w0, dtype=dtype, device=where)
        x = cr.tensor(x0, dtype=dtype, device=where, requires_grad=True)
        loss = F.cross_entropy(x, cr.tensor(y0, device=where), **kw)
        loss.backward(cr.ones(loss.shape, dtype=dtype, device=where))
        grads.append(x.grad.cpu().numpy())
    np.testing.assert_allclose(grads[1], grads[0], **GPU_TOL[dtype])
