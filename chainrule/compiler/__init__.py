"""``cr.compile``: record a training step once, then replay it on arrays.

A training step on a small model costs mostly Python: a Tensor and a graph node per op, the
argument checks of every ``apply``, the engine's topological sort. ``cr.compile(step)`` records
what the step did on its first calls for given shapes (``trace.py``) and from then on replays it
(``program.py``, as one generated Python function, ``CompiledFunction.code``): each op's own
forward and backward on the arrays, in the order eager ran them, gradients into the parameters'
``.grad``, then the optimizer's own ``step()``. The numbers are
eager's, bit for bit: the same functions run on the same arrays in the same order.

When it replays, and when it does not:

* The first two calls for a cache key run eagerly and are recorded; if the two did the same
  thing (same ops, same argument sources, same constants, same backward order), later calls
  with that key replay. The key holds the tensor arguments' shapes, dtypes, devices and
  ``requires_grad``, the other arguments' values, grad mode and the default dtype; before each
  replay the tensors from outside the step (parameters), the called modules' ``training``
  flags and, by identity, what the step reached by name (``trace.watched``: globals, closure
  variables, a bound method's object's attributes, the modules' attributes, parameters and
  sub-modules) are checked too, and below those, three levels down, what the code of the step
  names (and the code of the functions it reaches, of the called modules' ``forward`` and of
  the methods it names of those modules and of a step method's object): a dict's item
  (``cfg["scale"]``), an object's or a class's attribute (``self.config.reg``,
  ``Config.scale``), and a list's items.
  Anything changed: the call runs eagerly and is recorded again (``cache_size`` keys are kept).
* A step a replay could not repeat is detected while recording and runs eagerly from then on,
  with one ``UserWarning`` naming the reason: it reads a tensor's values into Python
  (``.item()``, ``float()``, ``if tensor:``, ``.numpy()``, ``print``), changes a tensor in
  place outside an op, draws random numbers other than dropout's mask, reseeds, uses hooks on
  intermediate values, ``retain_grad``, ``create_graph``, ``autograd.grad``, a Function that
  computes on Tensors, or two recordings differ (Python control flow on values).
* Dropout replays: its mask is drawn again at each replay, from the same generator in the
  same order, so a seed gives eager's masks.

What a replay does not repeat: Python code of the step other than ops, ``backward()``,
``optimizer.step()``/``zero_grad()``, ``Module.zero_grad()`` and a scheduler's ``step()``
(appending to a list, counting calls: a list the step reaches by name and changes is watched,
so such a step runs eagerly); a value it reads where the watch does not look (through another
object's method, ``cfg.get_scale()``, more than three levels down, in a container of more than
64 items, or in chainrule's own objects) is that of the recording. Tensors it returns are detached
(``requires_grad`` False): backward has already run. A compiled Module
(``cr.compile(model)``) replays its forward under ``cr.no_grad()`` only (a replay builds no
graph for a later backward); with gradients on it runs eagerly, so compile the whole step for
training.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from .. import dtypes
from ..autograd.grad_mode import anomaly, state
from ..autograd.tensor import Tensor
from ..backend import ndarray
from . import trace
from .compare import AGAIN, build
from .program import Program

__all__ = ["compile", "CompiledFunction"]

_EAGER = "eager"  # a cache entry: this key runs eagerly


class CompiledFunction:
    """A step function (or Module) that replays its recorded ops; see ``chainrule.compile``.

    Attributes:
        fn: the function or Module it wraps (its attributes are reachable through this object).
        reason: why it runs eagerly from now on, or None while it may replay.
        replays: how many calls were replayed (for tests and benchmarks).
    """

    def __init__(self, fn: Callable[..., Any], cache_size: int = 8) -> None:
        if not callable(fn):
            raise TypeError(f"cr.compile expects a function or a Module; got {type(fn).__name__}")
        if not isinstance(cache_size, int) or cache_size < 1:
            raise ValueError(f"cr.compile: cache_size must be a positive int; got {cache_size!r}")
        self.fn = fn
        self.cache_size = cache_size
        self.reason: str | None = None
        self.replays = 0
        self._cache: dict[Any, Any] = {}
        self._recordings = 0
        self._warned: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        if name == "fn":  # not set yet (during unpickling or a failed __init__)
            raise AttributeError(name)
        return getattr(self.fn, name)

    @property
    def code(self) -> str | None:
        """The Python source a replay runs, for the latest program made (None before the step
        has been recorded twice, or once it runs eagerly): one line per thing the step does,
        as ``torch.fx``'s ``GraphModule.code`` shows a traced module."""
        programs = [p for p in self._cache.values() if type(p) is Program]
        return programs[-1].source if programs else None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.reason is not None or anomaly.enabled or trace.ACTIVE[0] is not None:
            return self.fn(*args, **kwargs)
        tensors: list[Tensor] = []
        key = _key(args, kwargs, tensors)
        if key is None:
            self._give_up("an argument is neither a Tensor nor a hashable value")
            return self.fn(*args, **kwargs)
        entry = self._cache.get(key)
        if type(entry) is Program:
            if entry.valid():
                self.replays += 1
                return entry.run(tensors)
            entry = None  # a parameter or a training flag changed: record again
        elif entry is _EAGER:
            return self.fn(*args, **kwargs)
        self._recordings += 1
        if self._recordings > 4 * self.cache_size:
            self._give_up(f"it was recorded {self._recordings - 1} times: its guards change often")
            return self.fn(*args, **kwargs)
        before = entry if isinstance(entry, trace.Recording) else None
        result, rec = trace.record(self.fn, args, kwargs, tensors, before)
        if rec is None:  # another thread was recording: this call ran eagerly, unrecorded
            self._recordings -= 1
        elif rec.reason is not None:
            self._give_up(rec.reason)
        elif entry is None:
            self._remember(key, rec)
        else:
            program, why = build(entry, rec)
            if why == AGAIN:
                self._remember(key, rec)
            elif program is None and why.startswith("its result requires grad"):
                self._cache[key] = _EAGER  # under no_grad the same step may still replay
                self._warn(why)
            elif program is None:
                self._give_up(why)
            else:
                self._cache[key] = program
        return result

    def _remember(self, key: Any, entry: Any) -> None:
        self._cache.pop(key, None)
        self._cache[key] = entry
        while len(self._cache) > self.cache_size:
            del self._cache[next(iter(self._cache))]

    def _give_up(self, reason: str) -> None:
        self.reason = reason
        self._cache.clear()
        self._warn(f"running it eagerly from now on: {reason}")

    def _warn(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            name = getattr(self.fn, "__qualname__", type(self.fn).__name__)
            warnings.warn(f"cr.compile({name}): {message}", UserWarning, stacklevel=3)

    def __repr__(self) -> str:
        return f"CompiledFunction({self.fn!r})"


def _key(args: tuple, kwargs: dict, tensors: list) -> Any:
    """The cache key of a call (None if an argument cannot be keyed); fills ``tensors``.

    Besides the arguments: grad mode, and the default dtype, which decides the dtype of the
    constants a step makes and of its integer-to-float promotions."""
    parts: list = [state.grad_enabled, dtypes.get_default_dtype()]
    for name, a in (*((None, a) for a in args), *kwargs.items()):
        if isinstance(a, Tensor):
            d = a._data
            where = None if type(d) is ndarray else d.device
            same = -1  # step(x, x) is not step(a, b)
            for i, t in enumerate(tensors):
                if t is a:
                    same = i
                    break
            parts.append((name, same, d.shape, d.dtype, type(d), where, a._requires_grad))
            tensors.append(a)
        else:
            try:
                hash(a)
            except TypeError:
                return None
            parts.append((name, a))
    return tuple(parts)


def compile(fn: Callable[..., Any] | None = None, *, cache_size: int = 8) -> Any:  # noqa: A001
    """Record a training step (or a Module's forward) once, then replay it on arrays.

    In the spirit of ``torch.compile``: the result is called as ``fn`` is and returns what it
    returns, faster for small models, with eager's numbers bit for bit. See the module's
    docstring for when it replays and when it runs eagerly.

    Args:
        fn: a step function, e.g. ``def step(x, y): opt.zero_grad(); loss = loss_fn(model(x),
            y); loss.backward(); opt.step(); return loss``, or a Module (its forward, replayed
            under ``cr.no_grad()``). Without it, ``compile`` returns a decorator.
        cache_size: how many cache keys (argument shapes, dtypes, grad mode) to keep programs
            for.

    Returns:
        A ``CompiledFunction`` wrapping ``fn``.

    Example:
        >>> model = cr.nn.Linear(3, 2)
        >>> opt = cr.optim.SGD(model.parameters(), lr=0.1)
        >>> @cr.compile
        ... def step(x, y):
        ...     opt.zero_grad()
        ...     loss = cr.nn.functional.cross_entropy(model(x), y)
        ...     loss.backward()
        ...     opt.step()
        ...     return loss
        >>> x, y = cr.randn(4, 3), cr.tensor([0, 1, 1, 0])
        >>> for _ in range(3):
        ...     loss = step(x, y)      # recorded twice, then replayed
        >>> step.replays
        1
    """
    if fn is None:
        return lambda f: CompiledFunction(f, cache_size)
    return CompiledFunction(fn, cache_size)
