"""Checking gradients against finite differences.

``gradcheck`` compares, for every input element, the analytic Jacobian (from backward) with the
numeric one from central differences (f(x + eps) - f(x - eps)) / (2 eps), in float64. An element
passes when ``|analytic - numeric| <= atol + rtol * |numeric|``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .functional import _as_tuple, grad
from .tensor import Tensor


class GradcheckError(RuntimeError):
    """Raised by ``gradcheck`` when an analytic and a numeric Jacobian disagree."""


def _outputs(fn: Callable[..., Any], inputs: Sequence[Any]) -> tuple[Tensor, ...]:
    out = _as_tuple(fn(*inputs))
    for i, o in enumerate(out):
        if not isinstance(o, Tensor):
            raise TypeError(f"gradcheck: output {i} of fn is a {type(o).__name__}, not a Tensor")
    return out


def _numeric(fn: Callable[..., Any], inputs: list, i: int, eps: float) -> list[np.ndarray]:
    """Numeric Jacobians d(output k)/d(input i), each of shape (out.size, in.size)."""
    x = inputs[i]
    flat = x._data.reshape(-1)  # a view: perturbing it perturbs x in place
    cols: list[list[np.ndarray]] = []
    n_out = 0
    for j in range(flat.size):  # with recording on: fn may itself differentiate (gradgradcheck)
        orig = flat[j]
        flat[j] = orig + eps
        plus = [o._data.astype(np.float64).ravel() for o in _outputs(fn, inputs)]
        flat[j] = orig - eps
        minus = [o._data.astype(np.float64).ravel() for o in _outputs(fn, inputs)]
        flat[j] = orig
        cols.append([(p - m) / (2 * eps) for p, m in zip(plus, minus)])
        n_out = len(plus)
    return [
        np.stack([c[k] for c in cols], axis=1) if cols else np.zeros((0, 0)) for k in range(n_out)
    ]


def _analytic(fn: Callable[..., Any], inputs: list, i: int) -> list[np.ndarray]:
    """Analytic Jacobians d(output k)/d(input i), one vector-Jacobian product per output row."""
    outs = _outputs(fn, inputs)
    x = inputs[i]
    jacs = []
    for o in outs:
        rows = []
        for r in range(o._data.size):
            if not o.requires_grad:
                rows.append(np.zeros(x._data.size))
                continue
            onehot = np.zeros(o._data.size, o.dtype)
            onehot[r] = 1
            (g,) = grad(o, x, onehot.reshape(o.shape), retain_graph=True, allow_unused=True)
            rows.append(np.zeros(x._data.size) if g is None else g._data.astype(np.float64).ravel())
        jacs.append(np.stack(rows) if rows else np.zeros((0, x._data.size)))
    return jacs


def _where(shape: tuple, flat_index: int) -> tuple:
    return tuple(int(k) for k in np.unravel_index(flat_index, shape)) if shape else ()


def gradcheck(
    fn: Callable[..., Any],
    inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Check the gradients of ``fn`` at ``inputs`` against central finite differences.

    Args:
        fn: a function of the inputs returning a Tensor or a tuple of Tensors.
        inputs: a Tensor or a tuple of arguments; Tensors that require grad are checked and must
            be float64 (finite differences in float32 are too coarse to mean anything).
        eps: the finite-difference step.
        atol: the absolute tolerance.
        rtol: the relative tolerance; an element passes when
            |analytic - numeric| <= atol + rtol * |numeric|.
        raise_exception: raise ``GradcheckError`` on failure (else return False).

    Returns:
        True when every Jacobian matches.

    Raises:
        GradcheckError: naming, for each input that fails, the largest absolute and relative
            error and where they are (output element, input element).

    Example:
        >>> x = cr.randn(3, dtype=cr.float64, requires_grad=True)
        >>> cr.autograd.gradcheck(lambda x: (x * x).sum(), (x,))
        True
    """
    args = list(_as_tuple(inputs))
    checked = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad; nothing to check")
    for i in checked:
        if args[i].dtype != np.float64:
            raise TypeError(
                f"gradcheck: input {i} is {args[i].dtype}; finite differences need float64 "
                "(use .double())"
            )
        if not args[i]._data.flags.c_contiguous:  # _numeric perturbs a flat view in place
            args[i] = Tensor(np.ascontiguousarray(args[i]._data), requires_grad=True)
    outs = _outputs(fn, args)
    failures = []
    for i in checked:
        numeric = _numeric(fn, args, i, eps)
        analytic = _analytic(fn, args, i)
        for k, (a, n) in enumerate(zip(analytic, numeric)):
            if a.size == 0:
                continue
            err = np.abs(a - n)
            bad = err > atol + rtol * np.abs(n)
            if bad.any() or not np.isfinite(a).all():
                rel = err / np.maximum(np.abs(n), 1e-300)
                ia = np.unravel_index(int(np.nanargmax(err)), err.shape)
                ir = np.unravel_index(int(np.nanargmax(np.where(bad, rel, 0))), err.shape)
                failures.append(
                    f"input {i} (shape {tuple(args[i].shape)}), output {k} "
                    f"(shape {tuple(outs[k].shape)}): largest absolute error {err[ia]:.3g} at "
                    f"output {_where(outs[k].shape, ia[0])}, input {_where(args[i].shape, ia[1])} "
                    f"(analytic {a[ia]:.6g}, numeric {n[ia]:.6g}); largest relative error "
                    f"{rel[ir]:.3g} at output {_where(outs[k].shape, ir[0])}, input "
                    f"{_where(args[i].shape, ir[1])}; {int(bad.sum())} of {bad.size} elements "
                    f"exceed atol={atol} + rtol={rtol} * |numeric|"
                )
    if failures:
        if raise_exception:
            raise GradcheckError("Jacobian mismatch:\n  " + "\n  ".join(failures))
        return False
    return True


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: Any,
    grad_outputs: Any = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    seed: int = 0,
) -> bool:
    """Check second derivatives: ``gradcheck`` of the map (inputs, v) -> v^T J(inputs).

    The backward pass is recorded (``create_graph=True``) and itself differentiated, against
    finite differences of the first-order gradients. ``grad_outputs`` (v) are random float64
    tensors, seeded, when not given.
    """
    args = list(_as_tuple(inputs))
    checked = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    outs = _outputs(fn, args)
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        grad_outputs = tuple(Tensor(rng.standard_normal(o.shape), requires_grad=True) for o in outs)
    vs = list(_as_tuple(grad_outputs))
    n = len(args)

    def first_order(*xs: Any) -> tuple[Tensor, ...]:
        ins, v = list(xs[:n]), xs[n:]
        out = _outputs(fn, ins)
        diff = [ins[i] for i in checked]
        gs = grad(out, diff, v, create_graph=True, allow_unused=True)
        return tuple(g if g is not None else (ins[i] * 0) for g, i in zip(gs, checked))

    return gradcheck(first_order, (*args, *vs), eps, atol, rtol, raise_exception)
