"""The seams ``trace.record`` watches while a step runs eagerly, installed for one call.

Each seam wraps a function or method of the package: it calls the original, so the step's
results are eager's, and tells the recording in progress (``ACTIVE``) what happened: an op
applied, a backward and the engine's order, a call to repeat at replay (``optimizer.step()``),
a module called, a dropout mask drawn, a tensor born, or something a replay could not repeat
(a value read into Python, an in-place change, another random draw). ``_install`` puts them in
place and returns what ``_uninstall`` restores; the originals are the very objects found, so
nothing changes once the call is over. Inside a call that is repeated as a whole (``_trusted``)
the seams stay silent: what that call does, its replay does again.
"""

from __future__ import annotations

from threading import get_ident
from typing import TYPE_CHECKING, Any

from .. import optim
from ..autograd import engine, functional
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import is_array
from ..nn import functional as nnf
from ..nn.module import Module
from ..optim.lr_scheduler import LRScheduler
from ..random import _generator

if TYPE_CHECKING:
    from .trace import Recording

#: The recording in progress, if any (a step called inside another's recording runs eagerly).
ACTIVE: list[Recording | None] = [None]


def _mine() -> Recording | None:
    """The recording in progress if this thread is making it (other threads' ops are not the
    step's: they run as they would, unseen)."""
    rec = ACTIVE[0]
    return rec if rec is not None and rec.thread == get_ident() else None


def _active() -> Recording | None:
    """``_mine()``, outside the calls a replay repeats as a whole."""
    rec = _mine()
    return rec if rec is not None and rec._trusted == 0 else None


def _apply(original: Any) -> Any:
    def apply(cls: type, *args: Any) -> Any:
        out = original(cls, *args)
        rec = _active()
        if rec is not None:
            rec.on_apply(cls, args, out)
        return out

    return classmethod(apply)


def _backward(original: Any) -> Any:
    def backward(tensors: Any, grads: Any, retain_graph: Any, create_graph: bool) -> None:
        rec = _active()
        if rec is None:
            return original(tensors, grads, retain_graph, create_graph)
        rec.on_backward(tensors, grads, retain_graph, create_graph)
        rec._in_backward = True
        try:
            return original(tensors, grads, retain_graph, create_graph)
        finally:
            rec._in_backward = False
            rec._order = None

    return backward


def _run_backward(original: Any) -> Any:
    def run_backward(*args: Any, **kwargs: Any) -> Any:
        rec = _active()
        if rec is not None and not rec._in_backward:
            rec.fail("autograd.grad() reads gradients into the step")
        return original(*args, **kwargs)

    return run_backward


def _process(original: Any) -> Any:
    def process(node: Any, run: Any, ready: list) -> None:
        rec = _active()
        if rec is not None:
            rec.on_process(node)
        return original(node, run, ready)

    return process


def _repeated(original: Any, name: str) -> Any:
    """A method whose call is recorded and repeated as a whole at replay (``opt.step()``)."""

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        rec = _active()
        if rec is None:
            return original(self, *args, **kwargs)
        if name == "step" and (args or kwargs):
            rec.fail(f"{type(self).__name__}.step() with arguments (a closure or a metric)")
        rec.on_call(self, name, args, dict(kwargs))
        rec._trusted += 1
        try:
            return original(self, *args, **kwargs)
        finally:
            rec._trusted -= 1
            rec.after_call()

    method.__name__ = name
    return method


def _module_call(original: Any) -> Any:
    def call(self: Module, *args: Any, **kwargs: Any) -> Any:
        rec = _active()
        if rec is not None:
            if all(m is not self for m in rec.modules):
                rec.modules.append(self)
            if self._hooks:
                rec.fail(
                    "a module with hooks is called (register_forward_hook, ...): a replay "
                    "would not call them"
                )
        return original(self, *args, **kwargs)

    return call


def _keep_mask(original: Any) -> Any:
    def keep_mask(input: Tensor, shape: tuple, p: float) -> Tensor:
        rec = _active()
        if rec is None:
            return original(input, shape, p)
        rec._trusted += 1  # the draw inside is the mask's own
        try:
            mask = original(input, shape, p)
        finally:
            rec._trusted -= 1
        rec.on_mask(input, shape, p, mask)
        return mask

    return keep_mask


def _born_make(original: Any) -> Any:
    def make(cls: type, *args: Any) -> Tensor:
        t = original(cls, *args)
        rec = _mine()
        if rec is not None:
            rec._born.add(id(t))
        return t

    return classmethod(make)


def _born_init(original: Any) -> Any:
    def init_slots(self: Tensor, data: Any) -> None:
        original(self, data)
        rec = _mine()
        if rec is not None:
            rec._born.add(id(self))

    return init_slots


def _copied(original: Any) -> Any:
    """``Tensor(data, ...)`` (``cr.tensor``): a copy of an array or a tensor is noted with
    what it copied, so that a replay copies that object's values again."""

    def init(self: Tensor, data: Any, *args: Any, **kwargs: Any) -> None:
        original(self, data, *args, **kwargs)
        rec = _mine()
        if rec is not None and (is_array(data) or isinstance(data, Tensor)):
            rec._copied[id(self)] = (self, data, args, kwargs)  # self held: no id reused

    return init


def _refuse(original: Any, what: str) -> Any:
    """A Tensor method that reads values into Python or changes them in place: noted, then run."""

    def method(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        rec = _active()
        if rec is not None:
            rec.fail(what)
        return original(self, *args, **kwargs)

    method.__name__ = getattr(original, "__name__", "method")
    return method


def _setter(prop: property, what: str) -> property:
    def fset(self: Tensor, value: Any) -> None:
        rec = _active()
        if rec is not None:
            rec.fail(what)
        prop.fset(self, value)

    return property(prop.fget, fset, doc=prop.__doc__)


class _Generator:
    """Stands in for the generator while recording: a draw other than dropout's is noted."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        rec = _active()
        if rec is not None:
            rec.fail(f"a random draw (generator.{name}) other than dropout's mask")
        return getattr(self._real, name)


_READS = {
    "item": "tensor.item() reads a value into Python",
    "tolist": "tensor.tolist() reads values into Python",
    "numpy": "tensor.numpy() reads values into Python",
    "__float__": "float(tensor) reads a value into Python",
    "__int__": "int(tensor) reads a value into Python",
    "__index__": "a tensor used as a Python index reads a value",
    "__bool__": "bool(tensor) (an if or while on a tensor) reads a value into Python",
    "__array__": "np.asarray(tensor) reads values into NumPy",
    "__repr__": "repr(tensor) (printing) reads values",
    "_inplace": "an in-place change of a tensor (add_, zero_, copy_, +=) outside an op",
    "__setitem__": "an assignment into a tensor (x[i] = v) outside an op",
}


def _subclasses(cls: type) -> list[type]:
    out, todo = [], [cls]
    while todo:
        c = todo.pop()
        out.append(c)
        todo.extend(c.__subclasses__())
    return out


def _seams() -> list[tuple[Any, str, Any]]:
    """(owner, attribute, replacement) of every seam watched while recording."""
    seams: list[tuple[Any, str, Any]] = [
        (Function, "apply", _apply(Function.__dict__["apply"].__func__)),
        (functional, "_backward", _backward(functional._backward)),
        (functional, "run_backward", _run_backward(functional.run_backward)),
        (engine, "_process", _process(engine._process)),
        (Module, "__call__", _module_call(Module.__call__)),
        (nnf, "_keep_mask", _keep_mask(nnf._keep_mask)),
        (Tensor, "_make", _born_make(Tensor.__dict__["_make"].__func__)),
        (Tensor, "_init_slots", _born_init(Tensor._init_slots)),
        (Tensor, "__init__", _copied(Tensor.__init__)),
    ]
    # every class's own step/zero_grad: a subclass's override is repeated as a whole too
    for base, names in (
        (optim.Optimizer, ("step", "zero_grad")),
        (LRScheduler, ("step",)),
        (Module, ("zero_grad",)),
    ):
        for cls in _subclasses(base):
            for name in names:
                if name in cls.__dict__:
                    seams.append((cls, name, _repeated(cls.__dict__[name], name)))
    for name, what in (
        ("_version", "an in-place change of a tensor outside an op"),
        ("data", "tensor.data = ... outside an op"),
        ("grad", "tensor.grad = ... outside optimizer.zero_grad()"),
    ):
        seams.append((Tensor, name, _setter(Tensor.__dict__[name], what)))
    for name, what in _READS.items():
        seams.append((Tensor, name, _refuse(Tensor.__dict__[name], what)))
    return seams


def _install() -> list[tuple[Any, str, Any]]:
    """Watch the seams; returns what to put back."""
    saved = []
    for owner, name, new in _seams():
        saved.append((owner, name, owner.__dict__[name]))
        setattr(owner, name, new)
    _generator[0] = _Generator(_generator[0])
    return saved


def _uninstall(saved: list, rec: Recording) -> None:
    for owner, name, old in reversed(saved):
        setattr(owner, name, old)
    gen = _generator[0]
    if isinstance(gen, _Generator):
        _generator[0] = gen._real
    else:  # the step reseeded (cr.manual_seed): keep the user's generator
        rec.fail("the step reseeds the generator (cr.manual_seed)")
