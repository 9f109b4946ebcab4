"""Gradients as values: ``grad``, ``vjp``, ``hvp``, ``jacobian`` and ``hessian``.

All are built from vector-Jacobian products, the one thing the engine computes. ``jacobian``
and ``hessian`` form the full matrices, one backward per output element: for teaching and
tests on small functions, never inside a training step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..backend import NUMPY, namespace, ndarray
from ..ops import reshape, stack
from .engine import run_backward
from .tensor import Tensor, to_array

_empty = NUMPY.empty


def _as_tuple(x: Any) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _root_grad(t: Tensor, g: Any, create_graph: bool, i: int) -> Any:
    """The gradient that starts backward at output ``t``."""
    if not isinstance(t, Tensor):
        raise TypeError(f"backward: output {i} is a {type(t).__name__}, not a Tensor")
    if not t._requires_grad:
        raise RuntimeError(
            f"element {i} of the outputs does not require grad and has no grad_fn: nothing it "
            "depends on requires grad (create leaves with requires_grad=True, and compute "
            "outside cr.no_grad())"
        )
    if g is None:
        if t._data.size != 1:
            raise RuntimeError(
                f"grad can be implicitly created only for outputs with one element; this output "
                f"has shape {tuple(t.shape)}: pass gradient= a tensor of that shape"
            )
        data = t._data
        if type(data) is ndarray:  # NumPy's ones() is Python code: empty and fill are not
            arr = _empty(data.shape, data.dtype)
            arr.fill(1)
        else:
            arr = namespace(data).ones(data.shape, dtype=data.dtype, device=data.device)
        return Tensor._make(arr) if create_graph else arr
    if create_graph and isinstance(g, Tensor):
        gt = g
    else:
        gt = Tensor._make(to_array(g, copy=False, device=t.device))
    if gt.shape != t.shape:
        raise RuntimeError(
            f"backward: the gradient for output {i} has shape {tuple(gt.shape)}, but the output "
            f"has shape {tuple(t.shape)}"
        )
    if gt.dtype != t.dtype:
        gt = gt.astype(t.dtype)
    return gt if create_graph else gt._data


def _backward(
    tensors: Sequence[Tensor], grads: Sequence[Any], retain_graph: bool | None, create_graph: bool
) -> None:
    if retain_graph is None:
        retain_graph = create_graph
    roots = [_root_grad(t, g, create_graph, i) for i, (t, g) in enumerate(zip(tensors, grads))]
    run_backward(list(tensors), roots, retain_graph, create_graph)


def backward(
    tensors: Tensor | Sequence[Tensor],
    grad_tensors: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> None:
    """Accumulate into the leaves' ``.grad`` the gradients of the sum of ``tensors``.

    ``cr.autograd.backward([a, b], [ga, gb])`` does ``a.backward(ga)`` and ``b.backward(gb)`` in
    one pass.
    """
    ts = _as_tuple(tensors)
    gs = _as_tuple(grad_tensors) if grad_tensors is not None else (None,) * len(ts)
    _backward(ts, gs, retain_graph, create_graph)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """The gradients of ``outputs`` with respect to ``inputs``, returned rather than stored.

    No leaf's ``.grad`` changes. With ``create_graph=True`` the results are themselves in the
    graph and can be differentiated again (gradients of gradients).

    Args:
        outputs: tensors to differentiate.
        inputs: tensors (leaves or intermediate results) to differentiate with respect to.
        grad_outputs: dL/d(output) for each output; may be None for one-element outputs.
        retain_graph: keep the graph for another backward (defaults to ``create_graph``).
        create_graph: record the backward pass itself.
        allow_unused: return None for an input the outputs do not depend on, instead of raising.

    Returns:
        One gradient per input, shaped like it.

    Example:
        >>> x = cr.tensor(3.0, requires_grad=True)
        >>> (dx,) = cr.autograd.grad(x ** 2, x, create_graph=True)   # 2x = 6
        >>> (ddx,) = cr.autograd.grad(dx, x)                          # 2
    """
    outs = _as_tuple(outputs)
    ins = _as_tuple(inputs)
    gos = _as_tuple(grad_outputs) if grad_outputs is not None else (None,) * len(outs)
    if len(gos) != len(outs):
        raise ValueError(f"grad: got {len(gos)} grad_outputs for {len(outs)} outputs")
    capture: dict = {}
    for i, t in enumerate(ins):
        if not isinstance(t, Tensor) or not t._requires_grad:
            raise RuntimeError(
                f"grad: input {i} does not require grad; only tensors with requires_grad=True "
                "can be differentiated with respect to"
            )
        key = id(t) if t.grad_fn is None else (t.grad_fn, t._index)
        capture.setdefault(key, len(capture))  # one slot per tensor, even if given twice
    if retain_graph is None:
        retain_graph = create_graph
    roots = [_root_grad(t, g, create_graph, i) for i, (t, g) in enumerate(zip(outs, gos))]
    captured = run_backward(list(outs), roots, retain_graph, create_graph, capture)
    result: list = []
    for i, t in enumerate(ins):
        key = id(t) if t.grad_fn is None else (t.grad_fn, t._index)
        g = captured[capture[key]]
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: input {i} (shape {tuple(t.shape)}) was not used to compute the "
                    "outputs; pass allow_unused=True to get None for it"
                )
            result.append(None)
        elif isinstance(g, Tensor):
            result.append(g)
        else:
            result.append(Tensor._make(g.copy() if getattr(g, "base", None) is not None else g))
    return tuple(result)


def _zeros(like: Tensor, shape: tuple) -> Any:
    """Zeros of ``shape`` with ``like``'s dtype, on its device."""
    d = like._data
    return namespace(d).zeros(shape, dtype=d.dtype, device=d.device)


def _zeros_like(x: Tensor) -> Tensor:
    return Tensor._make(namespace(x._data).zeros_like(x._data))


def _zeros_for_unused(grads: tuple, inputs: tuple) -> tuple:
    """The gradients, with zeros for the inputs the function did not use."""
    return tuple(g if g is not None else _zeros_like(x) for g, x in zip(grads, inputs))


def _prepare(inputs: Any) -> tuple[tuple[Tensor, ...], bool]:
    single = isinstance(inputs, Tensor)
    ins = tuple(
        Tensor._make(to_array(x, copy=False)).requires_grad_(True) for x in _as_tuple(inputs)
    )
    return ins, single


def vjp(func: Callable[..., Tensor], inputs: Any, v: Any = None) -> tuple[Tensor, Any]:
    """``(func(*inputs), v^T J)``: the vector-Jacobian product at ``inputs``.

    ``v`` has the output's shape (it may be omitted for a one-element output).
    """
    ins, single = _prepare(inputs)
    out = func(*ins)
    gs = grad(out, ins, v, allow_unused=True)
    gs = _zeros_for_unused(gs, ins)
    return out.detach(), gs[0] if single else gs


def hvp(func: Callable[..., Tensor], inputs: Any, v: Any) -> tuple[Tensor, Any]:
    """``(func(*inputs), H v)``: a Hessian-vector product of a scalar function, by two backward
    passes (the gradient, then the gradient of <gradient, v>), never forming H."""
    ins, single = _prepare(inputs)
    vs = tuple(Tensor._make(to_array(x, copy=False)) for x in _as_tuple(v))
    out = func(*ins)
    gs = grad(out, ins, create_graph=True)
    dot = sum((g * u).sum() for g, u in zip(gs, vs))
    hv = grad(dot, ins, allow_unused=True)
    hv = _zeros_for_unused(hv, ins)
    return out.detach(), hv[0] if single else hv


def jacobian(func: Callable[..., Tensor], inputs: Any, create_graph: bool = False) -> Any:
    """The Jacobian of ``func`` at ``inputs``: shape ``output.shape + input.shape``.

    Built row by row, one vector-Jacobian product per output element. For a tuple of inputs,
    a tuple of Jacobians.
    """
    ins, single = _prepare(inputs)
    out = func(*ins)
    if not isinstance(out, Tensor):
        raise TypeError(f"jacobian: func must return one Tensor; got {type(out).__name__}")
    rows: list[list] = [[] for _ in ins]
    for k in range(out.numel()):
        onehot = Tensor._make(_zeros(out, (out._data.size,)))
        onehot[k] = 1
        if out._requires_grad:
            gs = grad(
                out,
                ins,
                onehot.reshape(out.shape),
                retain_graph=True,
                create_graph=create_graph,
                allow_unused=True,
            )
        else:
            gs = (None,) * len(ins)
        for j, (g, x) in enumerate(zip(gs, ins)):
            rows[j].append(g if g is not None else _zeros_like(x))
    jac = tuple(
        reshape(stack(r), out.shape + x.shape)
        if r
        else Tensor._make(_zeros(x, out.shape + x.shape))
        for r, x in zip(rows, ins)
    )
    return jac[0] if single else jac


def hessian(func: Callable[..., Tensor], inputs: Any) -> Any:
    """The Hessian of a scalar ``func`` at ``inputs``: the Jacobian of its gradient
    (shape ``input.shape + input.shape``), from second-order vector-Jacobian products."""
    ins, single = _prepare(inputs)
    if not single:
        raise TypeError("hessian: pass a single input tensor (concatenate several into one)")

    def gradient(x: Tensor) -> Tensor:
        (g,) = grad(func(x), x, create_graph=True)
        return g

    return jacobian(gradient, ins[0])
