"""A module's hooks, as PyTorch's: functions called around its forward and its backward.

``Module.register_forward_pre_hook``, ``register_forward_hook``,
``register_full_backward_pre_hook`` and ``register_full_backward_hook`` keep their hooks here,
and ``Module.__call__`` runs ``call`` once a module has any (without them it calls ``forward``
alone). They are how activations and gradients are read layer by layer: the output of every
convolution, the gradient that reaches each layer.

The backward hooks ride on two identity Functions, as PyTorch's do: the module's tensor inputs
pass through ``_HookInputs`` before forward, and its tensor outputs through ``_HookOutputs``
after it. Backward reaches ``_HookOutputs`` first, with the gradients of the outputs
(``grad_output``); the pre-hooks run there and may replace them. It reaches ``_HookInputs``
last, with the gradients of the inputs (``grad_input``); the hooks run there, given both, and
may replace ``grad_input``. A module none of whose inputs requires grad runs its hooks at
``_HookOutputs``, with ``grad_input`` all None.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import namespace


class Hooks:
    """A module's hooks, each list in calling order; entries are ``(hook, with_kwargs)``."""

    __slots__ = ("forward_pre", "forward", "always", "backward_pre", "backward")

    def __init__(self) -> None:
        self.forward_pre: list = []
        self.forward: list = []
        self.always: list = []  # the forward hooks registered with always_call=True
        self.backward_pre: list = []
        self.backward: list = []

    def __bool__(self) -> bool:
        return bool(self.forward_pre or self.forward or self.backward_pre or self.backward)


def register(hooks: list, hook: Callable, prepend: bool, with_kwargs: bool = False) -> Any:
    """Add ``hook`` to ``hooks`` (first with ``prepend``); the entry, for a handle."""
    if not callable(hook):
        raise TypeError(f"a hook must be callable; got {type(hook).__name__}")
    entry = (hook, with_kwargs)
    if prepend:
        hooks.insert(0, entry)
    else:
        hooks.append(entry)
    return entry


def call(module: Any, hooks: Hooks, args: tuple, kwargs: dict) -> Any:
    """``module(*args, **kwargs)`` with its hooks, in PyTorch's order: the forward pre-hooks,
    the inputs' backward hook, forward, the forward hooks, the outputs' backward hook."""
    for hook, with_kwargs in list(hooks.forward_pre):
        if with_kwargs:
            out = hook(module, args, kwargs)
            if out is not None:
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise RuntimeError(
                        "a forward pre-hook registered with with_kwargs=True must return None "
                        f"or a tuple (args, kwargs); got {type(out).__name__}"
                    )
                args, kwargs = out
        else:
            out = hook(module, args)
            if out is not None:
                args = out if isinstance(out, tuple) else (out,)
    state = None
    if hooks.backward or hooks.backward_pre:
        state = _State(module, hooks, len(args))
        args = state.wrap_inputs(args)
    result = None
    try:
        result = module.forward(*args, **kwargs)
        for hook, with_kwargs in list(hooks.forward):
            out = hook(module, args, kwargs, result) if with_kwargs else hook(module, args, result)
            if out is not None:
                result = out
    except Exception:
        for hook, with_kwargs in list(hooks.always):
            try:
                hook(module, args, kwargs, result) if with_kwargs else hook(module, args, result)
            except Exception as e:  # as PyTorch: the forward's error is the one raised
                warnings.warn(f"a forward hook with always_call=True raised {e!r}", stacklevel=3)
        raise
    return result if state is None else state.wrap_outputs(result)


class _State:
    """One call's backward hooks: what the two identity Functions share."""

    def __init__(self, module: Any, hooks: Hooks, n_args: int) -> None:
        self.module = module
        self.hooks = hooks
        self.n_args = n_args
        self.wrapped: list[int] = []  # positions of the inputs that require grad
        self.grad_output: tuple | None = None

    def wrap_inputs(self, args: tuple) -> tuple:
        self.wrapped = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
        if not self.wrapped:
            return args
        out = _HookInputs.apply(self, *[args[i] for i in self.wrapped])
        out = out if isinstance(out, tuple) else (out,)
        args = list(args)
        for i, t in zip(self.wrapped, out):
            args[i] = t
        return tuple(args)

    def wrap_outputs(self, result: Any) -> Any:
        one = isinstance(result, Tensor)
        outs = (result,) if one else result
        if not isinstance(outs, tuple):
            return result  # a list, a dict: PyTorch's hooks look at Tensors and tuples only
        at = [i for i, o in enumerate(outs) if isinstance(o, Tensor) and o.requires_grad]
        if not at:
            return result
        done = _HookOutputs.apply(self, *[outs[i] for i in at])
        done = done if isinstance(done, tuple) else (done,)
        outs = list(outs)
        for i, t in zip(at, done):
            outs[i] = t
        return outs[0] if one else tuple(outs)

    def run_hooks(self, grad_input: tuple) -> tuple:
        """The full backward hooks on (grad_input, grad_output): grad_input, maybe replaced."""
        return _replacing(
            self.hooks.backward,
            lambda hook, grads: hook(self.module, grads, self.grad_output),
            grad_input,
            "backward hook",
            "one per input of the module's forward",
        )


def _replacing(hooks: list, call: Callable, grads: tuple, what: str, each: str) -> tuple:
    """Call each hook in turn on ``grads`` (``call(hook, grads)``); a returned value (a tuple,
    or one gradient) replaces them for the hooks after it and for backward."""
    for hook, _ in list(hooks):
        out = call(hook, grads)
        if out is not None:
            out = out if isinstance(out, tuple) else (out,)
            if len(out) != len(grads):
                raise RuntimeError(
                    f"a {what} must return None or {len(grads)} gradient(s), {each}; got {len(out)}"
                )
            grads = out
    return grads


def _as_tensors(grads: tuple) -> tuple:
    """Gradients as hooks see them: Tensors over copies (a hook may change its argument in
    place; the array may be another's gradient too), None where none arrived."""
    return tuple(
        None
        if g is None
        else g
        if isinstance(g, Tensor)
        else Tensor._make(namespace(g).asarray(g, copy=True))
        for g in grads
    )


def _back(given: tuple, final: tuple, grads: tuple) -> tuple:
    """The gradients to pass on after the hooks: where a hook kept the one it was ``given``,
    the engine's own (``grads``); where it returned another, that one (in a first-order
    backward a copy of its array: the hook's caller may keep the Tensor it returned)."""
    out = []
    for g, f, raw in zip(given, final, grads):
        if f is g:
            out.append(raw)
        elif isinstance(f, Tensor) and not isinstance(raw, Tensor):
            out.append(namespace(f._data).asarray(f._data, copy=True))
        else:
            out.append(f)
    return tuple(out)


class _Identity(Function):
    """What the two hook Functions share: forward returns its tensors as they are (one, or a
    tuple of several), after the call's ``_State``; an output no gradient reached comes to
    backward as None."""

    on_arrays = True
    materialize_grads = False

    @staticmethod
    def forward(ctx, state, *xs):
        return xs if len(xs) > 1 else xs[0]


class _HookOutputs(_Identity):
    """Identity on a module's outputs: backward runs the backward pre-hooks on grad_output."""

    symbol = "backward hook (outputs)"

    @staticmethod
    def backward(ctx, *grads):
        state: _State = ctx.inputs[0]
        given = _as_tensors(grads)
        grad_output = _replacing(
            state.hooks.backward_pre,
            lambda hook, g: hook(state.module, g),
            given,
            "backward pre-hook",
            "one per output",
        )
        state.grad_output = grad_output
        if not state.wrapped:  # no input asks for a gradient: the hooks run now
            state.run_hooks((None,) * state.n_args)
        return (None, *_back(given, grad_output, grads))


class _HookInputs(_Identity):
    """Identity on a module's inputs that require grad: backward runs the backward hooks."""

    symbol = "backward hook (inputs)"

    @staticmethod
    def backward(ctx, *grads):
        state: _State = ctx.inputs[0]
        given = _as_tensors(grads)
        grad_input = [None] * state.n_args
        for i, g in zip(state.wrapped, given):
            grad_input[i] = g
        grad_input = state.run_hooks(tuple(grad_input))
        return (None, *_back(given, tuple(grad_input[i] for i in state.wrapped), grads))
