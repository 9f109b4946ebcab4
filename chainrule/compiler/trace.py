"""Recording one eager call of a step: which ops ran on which values, and what backward did.

``record(fn, args, kwargs, tensors)`` runs ``fn`` eagerly, exactly as without ``cr.compile``,
while a few seams of the package are watched (installed for the call, restored after it):

* ``Function.apply``: each op, its class, where each argument came from (an argument of the
  step, a tensor from outside such as a parameter, an earlier op's output, a constant) and the
  outputs it made;
* ``Tensor.backward`` (``autograd.functional._backward``) and the engine's ``_process``: the
  roots of each backward and the order the engine ran the nodes in, which fixes the order in
  which gradients are summed;
* ``Optimizer.step``, ``Optimizer.zero_grad``, ``Module.zero_grad`` and ``LRScheduler.step``:
  calls to repeat as they are (so a changed ``lr`` is read at each replay);
* ``Module.__call__``: the modules the step calls, whose ``training`` flags guard a replay;
* dropout's mask (``nn.functional._keep_mask``): a draw to repeat from the generator, in order;
* everything a replay could not repeat: reading a tensor's values into Python (``item()``,
  ``float()``, ``bool()``, ``numpy()``, ``tolist()``, ``repr``), changing a tensor in place
  outside an op, other random draws, reseeding, ``autograd.grad``, ``create_graph``, hooks on
  intermediate values, ``retain_grad``, a Function that computes on Tensors. Each is noted as
  the reason the step is not traceable; the call itself still runs eagerly and is correct.

The seams themselves are in ``seams.py``. They are the package's (class attributes, watched for
one call), so one thread records at a time (another's step runs eagerly meanwhile), and what
other threads do while it records is not taken for the step's.
"""

from __future__ import annotations

import types
from threading import Lock, get_ident
from typing import Any

from .. import optim
from ..autograd.tensor import Tensor
from ..backend import _BY_TYPE, to_numpy
from ..nn.module import Module
from .seams import ACTIVE, _install, _uninstall


class Recording:
    """What one eager call did, in the order it did it.

    Values live in numbered slots. ``sources[s]`` says where slot s comes from: ``("arg", k)``
    (the k-th tensor argument), ``("ext", tensor)`` (a tensor from outside: a parameter, a
    buffer), ``("new", tensor, copied)`` (a tensor made inside the step other than by an op: a
    constant, unless it is computed from values; ``copied`` is what ``Tensor(data, *args,
    **kwargs)`` copied, as ``(data, args, kwargs)``, for data that is an array or a tensor,
    else None), ``("out", op, j)`` (output j of op number ``op``) or ``("mask", step)`` (a
    dropout mask). ``steps`` lists, in order, ``("op", i)``,
    ``("backward", roots, order)``, ``("call", obj, name, args, kwargs)`` and
    ``("mask", input slot, shape, p, slot)``.
    """

    def __init__(self, tensors: list[Tensor]) -> None:
        self.sources: list[tuple] = []
        self.requires: list[bool] = []  # does the value in each slot require grad?
        self.meta: list[tuple] = []  # (shape, dtype, array type) of each slot's value
        self.ops: list[dict] = []
        self.steps: list[tuple] = []
        self.modules: list[Module] = []
        self.flags: list[bool] = []  # their training flags after the call
        self.hyper: dict[int, tuple] = {}  # id(optimizer) -> (it, its hyperparameters)
        self.watch: list[tuple[Any, Any, Any]] = []  # see ``watched``
        self.reason: str | None = None
        self.output: Any = None
        self._by_tensor: dict[int, int] = {}
        self._by_array: dict[int, int] = {}
        self._node_op: dict[int, int] = {}
        self._keep: list = []  # holds what the dicts above key by id, so no id is reused
        self._born: set[int] = set()  # ids of the tensors made during the call
        self._copied: dict[int, tuple] = {}  # id -> (tensor, what Tensor() copied, args, kwargs)
        self._trusted = 0  # > 0 inside a call that is repeated as a whole (optimizer.step)
        self.thread = get_ident()  # the thread making it: others' ops are not the step's
        self._in_backward = False
        self._order: list[int] | None = None
        # the arguments' values as they were (an argument refilled in place changes later)
        self.arg_values = [to_numpy(t._data).copy() for t in tensors]
        for k, t in enumerate(tensors):
            self._new_slot(("arg", k), t)

    # ----- slots -----
    def _new_slot(self, source: tuple, t: Tensor) -> int:
        s = len(self.sources)
        self.sources.append(source)
        self.requires.append(t._requires_grad)
        d = t._data
        self.meta.append((d.shape, d.dtype, type(d)))
        self._by_tensor[id(t)] = s
        self._by_array.setdefault(id(d), s)
        self._keep.append(t)
        return s

    def fail(self, reason: str) -> None:
        """Note why the step cannot be replayed (the first reason is kept)."""
        if self.reason is None:
            self.reason = reason

    def slot_of(self, t: Tensor) -> int:
        """The slot of tensor ``t``, a new one for a tensor from outside the step."""
        s = self._by_tensor.get(id(t))
        if s is not None:
            return s
        s = self._by_array.get(id(t._data))
        if s is not None:  # the same array under another Tensor: x.detach(), x.data
            if t._requires_grad:
                self.fail("a tensor sharing an op's output (x.detach().requires_grad_()) is used")
            self._by_tensor[id(t)] = s
            self._keep.append(t)
            return s
        if self._derived(t._data):
            self.fail("a view of an op's output was made outside an op (Tensor._make of a slice)")
        if t.grad_fn is not None:
            self.fail("a tensor computed before the step (it has a grad_fn) is used in it")
        if id(t) in self._born:  # made inside the step, not by an op: a constant
            if t._requires_grad:
                self.fail("a tensor made inside the step requires grad")
            copied = self._copied.get(id(t))
            return self._new_slot(("new", t, copied[1:] if copied else None), t)
        return self._new_slot(("ext", t), t)

    def spec(self, a: Any) -> tuple:
        """How to get value ``a`` (an op's argument, the step's result) at replay: ("v", slot)
        for a tensor or an array an op made, ("t", specs, type) for a tuple or list and
        ("d", keys, specs) for a dict that hold some, ("c", a) for a constant."""
        if isinstance(a, Tensor):
            return ("v", self.slot_of(a))
        if type(a) in _BY_TYPE:
            s = self._by_array.get(id(a))
            if s is None and self._derived(a):
                self.fail("an op's argument is a view of a value, made outside ops")
            return ("c", a) if s is None else ("v", s)
        if isinstance(a, (tuple, list)):
            specs = [self.spec(b) for b in a]
            if all(sp[0] == "c" for sp in specs):
                return ("c", a)
            return ("t", specs, type(a))
        if type(a) is dict:
            specs = [self.spec(b) for b in a.values()]
            if all(sp[0] == "c" for sp in specs):
                return ("c", a)
            return ("d", list(a), specs)
        return ("c", a)

    def _derived(self, a: Any) -> bool:
        """Whether array ``a`` is a view of a value of the step (its base is one)."""
        base = getattr(a, "base", None)
        while base is not None:
            if id(base) in self._by_array:
                return True
            base = getattr(base, "base", None)
        return False

    # ----- what the seams report -----
    def on_apply(self, cls: type, args: tuple, out: Any) -> None:
        if not cls.on_arrays:
            self.fail(f"{cls.__name__} is a Function that computes on Tensors (on_arrays=False)")
        specs = [self.spec(a) for a in args]
        outs = out if type(out) is tuple else (out,)
        i = len(self.ops)
        # the graph node, if apply recorded one (an output that is not floating has none)
        node = next((t.grad_fn for t in outs if t.grad_fn is not None), None)
        op = {
            "cls": cls,
            "specs": specs,
            "is_tensor": [isinstance(a, Tensor) for a in args],
            "outs": [],
            "multi": type(out) is tuple,
            "needs": None if node is None else node.needs_input_grad,
            "xp": None if node is None else node.xp,
            "out_meta": None if node is None else node._out_meta,
        }
        self.ops.append(op)
        for j, t in enumerate(outs):
            op["outs"].append(self._new_slot(("out", i, j), t))
        if node is not None:
            self._node_op[id(node)] = i
            self._keep.append(node)
        self.steps.append(("op", i))

    def on_backward(self, tensors: Any, grads: Any, retain_graph: Any, create_graph: bool) -> None:
        if create_graph:
            self.fail("backward(create_graph=True)")
        if any(g is not None for g in grads):
            self.fail("backward(gradient=...) with a given gradient")
        roots = []
        for t in tensors:
            if isinstance(t, Tensor):
                roots.append(self.slot_of(t))
        self._order = []
        self.steps.append(("backward", roots, self._order))

    def on_process(self, node: Any) -> None:
        i = self._node_op.get(id(node))
        if i is None:
            self.fail("backward reached a graph built before the step")
        elif node._hooks is not None or node._retained is not None:
            self.fail("a hook or retain_grad() on a value inside the step")
        elif self._order is not None:
            self._order.append(i)

    def on_call(self, obj: Any, name: str, args: tuple, kwargs: dict) -> None:
        hyper = self.hyper.get(id(obj))
        try:
            changed = hyper is not None and bool(hyper[1] != hyperparameters(obj))
        except (TypeError, ValueError):  # a hyperparameter held as an array: can't tell
            changed = True
        if changed:
            self.fail(
                f"the step changes {type(obj).__name__}'s hyperparameters (lr, ...) itself, which "
                "a replay would not repeat: set them outside the compiled step, or with a "
                "scheduler's step()"
            )
        self.steps.append(("call", obj, name, args, kwargs))

    def after_call(self) -> None:
        """A repeated call may change hyperparameters (a scheduler's step sets lr): fine."""
        for key, (opt, _) in self.hyper.items():
            self.hyper[key] = (opt, hyperparameters(opt))

    def on_mask(self, input: Tensor, shape: tuple, p: float, mask: Tensor) -> None:
        s_in = self.slot_of(input)
        s = self._new_slot(("mask", len(self.steps)), mask)
        self.steps.append(("mask", s_in, tuple(shape), p, s))


#: A module's own attributes that are watched otherwise: the dicts whose entries are watched
#: one by one, and the training flag (``Program.flags``).
_APART = frozenset({"_parameters", "_buffers", "_non_persistent", "_modules", "training"})


def watched(fn: Any, modules: list[Module]) -> list[tuple[Any, Any, Any]]:
    """What the step reached by name, to check by identity before a replay: (namespace, name,
    value) for the globals its code names and its closure's cells (namespace None: the cell),
    a bound method's object's attributes, and the called modules' attributes, parameters,
    buffers and sub-modules. Rebinding any of them (``opt = Adam(...)``,
    ``model.fc = nn.Linear(...)``, ``model.temperature = 2.0``) records the step again.

    And what those hold, ``DEPTH`` levels down (``_inside``), where the step's code reads it:
    the items of a dict and the attributes of an object or a class whose name the code of the
    step (or of a function it reaches, or of a called module's ``forward``) names, the items of
    a list, the closure and globals of a function. So ``cfg["scale"] = 5.0``,
    ``self.config.reg = 0.1`` or ``weights[0] = 2.0`` between calls records the step again
    too, where a replay would multiply by the recorded value; an attribute no code of the step
    names (``self.last_loss``, set after each call) does not.
    """
    out: list[tuple[Any, Any, Any]] = []
    owner = getattr(fn, "__self__", None)
    if owner is not None and isinstance(getattr(owner, "__dict__", None), dict):
        out += [(owner.__dict__, k, v) for k, v in owner.__dict__.items()]
    fn = getattr(fn, "__func__", fn)
    out += _function_names(fn)
    for m in modules:
        out += [(m.__dict__, k, v) for k, v in m.__dict__.items() if k not in _APART]
        for d in (m._parameters, m._buffers, m._modules):
            out += [(d, k, v) for k, v in d.items()]
    # the classes whose methods that the step's code names are read too: the step's own
    # (self.loss(x, y) inside a method step) and the called modules' (forward's helpers)
    classes = [type(owner)] if owner is not None else []
    classes += [type(m) for m in modules]
    start = [entry[2] for entry in out] + classes
    follow = {id(c) for c in classes}
    names: set = set()
    for f in (fn, *(getattr(type(m), "forward", None) for m in modules)):
        _code_names(getattr(f, "__code__", None), names)
    while True:  # again while the functions it finds name more (a few rounds at most)
        known = len(names)
        deeper = _deeper(start, names, follow, {id(fn), id(owner), *(id(m) for m in modules)})
        if len(names) == known:
            return out + deeper


def _deeper(level: list, names: set, follow: set, seen: set) -> list[tuple[Any, Any, Any]]:
    """``watched``'s entries below the values ``level``, ``DEPTH`` levels down, breadth first;
    ``names`` grows by the names of the functions found, and of the methods it names of the
    classes in ``follow`` (ids)."""
    out: list[tuple[Any, Any, Any]] = []
    for _ in range(DEPTH):
        below: list = []
        for v in level:
            if len(out) >= MAX_WATCHED or id(v) in seen:
                continue
            seen.add(id(v))
            try:
                entries, held = _inside(v, names, id(v) in follow)
            except Exception:  # a user's object that fails to be looked at: not watched
                continue
            out += entries
            below += held
        level = below
    return out


def _code_names(code: Any, names: set) -> None:
    """Add the names ``code`` reads (globals, attributes, string constants such as dict keys),
    its nested functions' included."""
    if code is None:
        return
    names.update(code.co_names)
    for c in code.co_consts:
        if type(c) is str:
            names.add(c)
        elif isinstance(c, types.CodeType):
            _code_names(c, names)


#: How many levels below the names a step reaches ``watched`` follows, and how many entries
#: it adds there at most (a container of more than ``MAX_ITEMS`` is watched by identity only).
DEPTH, MAX_WATCHED, MAX_ITEMS = 3, 256, 64

#: The name of a ``watched`` entry that holds a list's items, as a tuple, to compare one by one.
ITEMS = object()

#: Watched otherwise (modules, optimizers by their hyperparameters), the package's own, or
#: state that changes at every step by design (a scheduler's count): not looked into.
_OPAQUE = (Module, optim.Optimizer, optim.lr_scheduler.LRScheduler, Tensor, types.ModuleType)
_SCALARS = (int, float, complex, str, bytes, type(None))
_CODE = (
    types.FunctionType,
    staticmethod,
    classmethod,
    property,
    types.MemberDescriptorType,
    types.GetSetDescriptorType,
)


class ClassValues:
    """A class's own namespace as a ``watched`` entry reads it (``get``), one for each class:
    ``cls.__dict__`` is a new proxy at each access, so it cannot itself name the place."""

    __slots__ = ("cls",)

    def __init__(self, cls: type) -> None:
        self.cls = cls

    def get(self, name: str, default: Any) -> Any:
        return self.cls.__dict__.get(name, default)


#: Whose functions and classes hold no setting of the user's, and whose objects (a compiled
#: step, a data loader) change their attributes as they work: not looked into (chainrule's
#: effect on a step is watched otherwise).
_CODE_OF, _OBJECTS_OF = ("chainrule", "builtins"), ("chainrule",)


def _package(v: Any) -> str | None:
    """The top package that defines function or class ``v``."""
    module = getattr(v, "__module__", None)
    return module.split(".")[0] if isinstance(module, str) else None


def _function_names(fn: Any) -> list[tuple[Any, Any, Any]]:
    """A function's globals that its code names, and its closure's cells (namespace None)."""
    out: list[tuple[Any, Any, Any]] = []
    code, glob = getattr(fn, "__code__", None), getattr(fn, "__globals__", None)
    if code is not None and glob is not None:
        out += [(glob, k, glob[k]) for k in code.co_names if k in glob]
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            out.append((None, cell, cell.cell_contents))
        except ValueError:  # an empty cell
            pass
    return out


def _inside(v: Any, names: set, methods: bool = False) -> tuple[list[tuple[Any, Any, Any]], list]:
    """``watched``'s entries for what ``v`` holds, and the values held (to look into next): a
    dict's items, a plain object's attributes and a class's values other than its methods,
    where ``names`` holds their name (``methods``: a class's methods named there add their
    code's names); a list's items (one entry, named ``ITEMS``); a function's names (adding its
    code's to ``names``); a bound method's object. A tuple's items are looked into (the tuple
    cannot change, what it holds can). Nothing for numbers, strings, arrays, tensors, modules,
    optimizers, chainrule's own functions, classes and objects, and containers of more than
    ``MAX_ITEMS``."""
    if isinstance(v, _SCALARS) or type(v) in _BY_TYPE or isinstance(v, _OPAQUE):
        return [], []
    code = isinstance(v, (types.FunctionType, type))
    if _package(v if code else type(v)) in (_CODE_OF if code else _OBJECTS_OF):
        return [], []
    if isinstance(v, types.MethodType):
        return [], [v.__self__, v.__func__]
    if isinstance(v, types.FunctionType):
        _code_names(v.__code__, names)
        entries = _function_names(v)
    elif isinstance(v, type):  # a class's own values (Config.scale); ``methods``: their names
        where, entries = ClassValues(v), []
        for k, x in v.__dict__.items():
            if k not in names or k.startswith("__"):
                continue
            if not isinstance(x, _CODE):
                entries.append((where, k, x))
            elif methods:
                f = x.fget if isinstance(x, property) else getattr(x, "__func__", x)
                _code_names(getattr(f, "__code__", None), names)
    elif isinstance(v, tuple):
        return [], list(v) if len(v) <= MAX_ITEMS else []
    elif isinstance(v, list):
        if len(v) > MAX_ITEMS:
            return [], []
        return [(v, ITEMS, tuple(v))], list(v)
    elif isinstance(v, dict):
        entries = [(v, k, x) for k, x in v.items() if type(k) is not str or k in names]
    else:
        attrs = getattr(v, "__dict__", None)
        if type(attrs) is not dict:
            return [], []
        entries = [(attrs, k, x) for k, x in attrs.items() if k in names]
        if len(entries) > MAX_ITEMS:
            return [], []
        return entries, [e[2] for e in entries] + [type(v)]  # and its class's values
    if len(entries) > MAX_ITEMS:
        return [], []
    return entries, [e[2] for e in entries]


def hyperparameters(obj: Any) -> Any:
    """An optimizer's hyperparameters, group by group (None for anything else)."""
    if not isinstance(obj, optim.Optimizer):
        return None
    return [{k: v for k, v in g.items() if k != "params"} for g in obj.param_groups]


def record(
    fn: Any, args: tuple, kwargs: dict, tensors: list[Tensor], before: Recording | None = None
) -> tuple[Any, Recording]:
    """Run ``fn(*args, **kwargs)`` eagerly and record it; ``tensors`` are its tensor arguments.

    ``before``, an earlier recording of the step: the hyperparameters of the optimizers it
    called are noted now, and the step may not change them before it calls them (a replay
    would not repeat that).

    Returns:
        ``fn``'s result (the eager one) and the recording (``reason`` set if not replayable),
        or None when another thread is recording (the seams are the package's: one at a time).
    """
    if not _ONE_AT_A_TIME.acquire(blocking=False):
        return fn(*args, **kwargs), None
    try:
        return _record(fn, args, kwargs, tensors, before)
    finally:
        _ONE_AT_A_TIME.release()


_ONE_AT_A_TIME = Lock()


def _record(
    fn: Any, args: tuple, kwargs: dict, tensors: list[Tensor], before: Recording | None
) -> tuple[Any, Recording]:
    rec = Recording(tensors)
    for step in before.steps if before is not None else ():
        if step[0] == "call" and isinstance(step[1], optim.Optimizer):
            rec.hyper[id(step[1])] = (step[1], hyperparameters(step[1]))
    ACTIVE[0] = rec
    saved = _install()
    try:
        result = fn(*args, **kwargs)
    finally:
        _uninstall(saved, rec)
        ACTIVE[0] = None
    rec.output = rec.spec(result)
    rec.flags = [m.training for m in rec.modules]
    rec.watch = watched(fn, rec.modules)
    owned = {id(p) for m in rec.modules for p in m.parameters()}
    for step in rec.steps:
        if step[0] == "call" and isinstance(step[1], optim.Optimizer):
            owned |= {id(p) for g in step[1].param_groups for p in g["params"]}
    if any(id(t) in owned for t in tensors):
        # reached both as an argument and through the model: a replay would take every use
        # for the argument's
        rec.fail("a parameter of the model or the optimizer is passed as an argument")
    return result, rec
