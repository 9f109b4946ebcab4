"""A recorded step, replayed on arrays: each op's own forward and backward, in eager's order.

``compare.build(first, second)`` compares two recordings of one step (``trace.record``) and,
when they did the same thing, turns the second into a ``Program``: one Python function,
written once from the recording as straight-line code (``Program.source``; ``_write``), with a
local variable per value and no loop or lookup left to do per call. ``Program.run(tensors)``
then repeats the step for new arguments of the same shapes:

* each op runs its class's own ``forward`` on the arrays, with a context object made once per
  op and reused (the same ``save_for_backward``, ``saved_tensors``, ``needs_input_grad``, ``xp``
  and ``inputs`` a backward rule reads on a graph node);
* each backward runs the ops' own ``backward`` in the order the engine ran them when recorded,
  and routes every gradient as the engine does: summed down to its input's shape
  (``engine.sum_to``), cast to its dtype, added to the gradients already there in the same
  order (``_sum_into``/``_plus``), and delivered to leaves by the engine's own ``_Run.to_leaf``
  (which also runs a leaf's hooks);
* the optimizer's ``zero_grad``/``step`` and a scheduler's ``step`` are called as they were, so
  they read their hyperparameters (a changed ``lr``) at each replay;
* a dropout mask is drawn again, by the same function, in the same order.

Why the numbers are eager's, bit for bit: the same functions run on the same arrays in the same
order; what the replay leaves out is the bookkeeping around them (Tensor and Node objects, the
argument checks of ``apply``, the engine's topological sort), which computes no number. Why it
is never silently wrong: two recordings must agree op by op (classes, argument sources, constant
values, backward order, repeated calls) before a program is made, and ``valid()`` checks, before
each replay, the tensors from outside the step (shape, dtype, array type, device,
requires_grad), the training flags of the modules it called and what the step reached by name
(``unchanged``); ``compile`` checks the rest (arguments, grad mode, anomaly detection) in its
cache key.
"""

from __future__ import annotations

from typing import Any

from ..autograd.engine import _cast, _like, _plus, _Run, _spare, _sum_into, _zeros, sum_to
from ..autograd.function import NUMPY_SCALARS, _as_array, _asarray, _no_record
from ..autograd.grad_mode import state
from ..autograd.tensor import Tensor
from ..backend import _BY_TYPE, namespace, ndarray
from ..nn import functional as nnf
from .trace import ITEMS, Recording


class _Ctx:
    """What a replayed op's forward and backward see as ``ctx``: one per op, made once."""

    __slots__ = ("function", "needs_input_grad", "saved", "xp", "argv", "is_tensor", "__dict__")
    owns_grad = False  # as on a graph node; set before each backward of an op that reads it

    def __init__(self, op: dict, argv: list) -> None:
        self.function = op["cls"]
        self.needs_input_grad = op["needs"]
        self.saved: tuple = ()
        self.xp = op["xp"]
        self.argv = argv  # this call's arguments, filled by the replay before forward
        self.is_tensor = op["is_tensor"]

    def save_for_backward(self, *values: Any) -> None:
        self.saved = values

    @property
    def saved_tensors(self) -> tuple:
        return self.saved

    @property
    def inputs(self) -> tuple:
        """The op's arguments as a graph node holds them: tensors as Tensors (made on demand,
        for the few rules that read them)."""
        return tuple(
            Tensor._make(a, need) if is_t else a
            for a, is_t, need in zip(self.argv, self.is_tensor, self.needs_input_grad)
        )

    def name(self) -> str:
        return f"{self.function.__name__}Backward"


def _outputs(cls: type, ctx: Any, out: Any, argv: Any) -> list:
    """An op's forward results as arrays (the replay's fast path takes one ndarray as it is)."""
    raw = out if type(out) is tuple else (out,)
    arrays = [_as_array(o, cls, argv) for o in raw]
    if ctx.saved and any(r is not a for r, a in zip(raw, arrays)):
        # as Function.apply does: a saved output is kept as the array it became
        ctx.saved = tuple(_converted(v, raw, arrays) for v in ctx.saved)
    return arrays


def _converted(v: Any, raw: tuple, arrays: list) -> Any:
    for r, a in zip(raw, arrays):
        if v is r:
            return a
    return v


def _fix(g: Any, data: Any, ctx: _Ctx, pos: int) -> Any:
    """A gradient for input ``data`` as the engine routes it: an array of its shape and dtype."""
    if type(g) not in _BY_TYPE:
        g = g._data if isinstance(g, Tensor) else _like(data, g)
    if g.shape != data.shape:
        g = sum_to(g, data.shape, ctx, pos)
    if g.dtype is not data.dtype:
        g = _cast(g, data.dtype)
    return g


def _ones(a: Any) -> Any:
    """The gradient backward starts from at a root: ones like it."""
    return namespace(a).ones(a.shape, dtype=a.dtype, device=a.device)


def _target(rec: Recording, s: int) -> tuple | None:
    """Where a gradient for slot ``s`` goes: (0, k, None) the k-th tensor argument's ``.grad``,
    (1, tensor, None) an outside tensor's, (2, op, None) the one output of op ``op``, (3, op,
    (j, n)) output j of an op with n outputs; None for a constant made in the step or a dropout
    mask, which never take one (the recording refuses a made tensor that requires grad)."""
    src = rec.sources[s]
    if src[0] == "arg":
        return (0, src[1], None)
    if src[0] == "ext":
        return (1, src[1], None)
    if src[0] != "out":
        return None
    op = rec.ops[src[1]]
    if op["multi"]:
        return (3, src[1], (src[2], len(op["outs"])))
    return (2, src[1], None)


class _Writer:
    """The replay's Python source, line by line, and the objects its names are bound to."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.env: dict[str, Any] = {
            "_nd": ndarray,
            "_make": Tensor._make,
            "_Tensor": Tensor,
            "_state": state,
            "_Run": _Run,
            "_ones": _ones,
            "_fix": _fix,
            "_plus": _plus,
            "_sum_into": _sum_into,
            "_spare": _spare,
            "_zeros": _zeros,
            "_outputs": _outputs,
            "_scalar_output": _scalar_output,
            "_scalars": NUMPY_SCALARS,
            "_keep_mask": nnf._keep_mask,
        }
        self.names: dict[int, str] = {}

    def bind(self, obj: Any, hint: str = "k") -> str:
        """The name of ``obj`` in the source (one name per object, ``hint`` and a number)."""
        name = self.names.get(id(obj))
        if name is None:
            hint = hint if hint.isidentifier() and hint.isascii() else "k"  # a class's name
            name = self.names[id(obj)] = f"{hint}{len(self.env)}"
            self.env[name] = obj
        return name

    def line(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def value(self, spec: tuple) -> str:
        """The expression of an op's argument (``trace.Recording.spec``)."""
        kind = spec[0]
        if kind == "v":
            return f"v{spec[1]}"
        if kind == "c":
            return self.bind(spec[1])
        if kind == "t":
            items = ", ".join(self.value(s) for s in spec[1])
            if spec[2] is tuple:
                return f"({items},)"
            return f"[{items}]" if spec[2] is list else f"{self.bind(spec[2])}({items})"
        items = ", ".join(self.value(s) for s in spec[2])
        return f"dict(zip({self.bind(spec[1])}, ({items},)))"


class Program:
    """A step to replay: see the module's docstring."""

    def __init__(self, rec: Recording, baked: dict[int, Any], copies: dict[int, tuple]) -> None:
        self.outside: list[tuple] = []  # (slot, tensor, meta, requires_grad)
        for s, src in enumerate(rec.sources):
            if src[0] == "ext":
                self.outside.append((s, src[1], _meta(src[1]._data), rec.requires[s]))
        # what the step's tensors were copied from (cr.tensor(array)), as they were
        self.copied = [(c[0], _meta(_array(c[0]))) for c in copies.values()]
        modules: list = []
        for m in rec.modules:
            modules += [sub for sub in m.modules() if all(sub is not k for k in modules)]
        self.flags = [(m, m.training) for m in modules]
        self.watch = rec.watch
        # what holds a call's arrays after it, cleared when it ends (eager frees its graph
        # after backward): the ops' arguments and saved values
        self.held: list[tuple[list, int]] = []
        self.contexts: list[_Ctx] = []
        self._replay, self.source = _write(self, rec, baked, copies)

    def valid(self) -> bool:
        """Whether the tensors from outside and the modules' training flags are as recorded."""
        for _, t, meta, requires in self.outside:
            if _meta(t._data) != meta or t._requires_grad is not requires or t.grad_fn is not None:
                return False
        for m, training in self.flags:
            if m.training is not training or m._hooks:  # hooks: it records again, and fails
                return False
        for source, meta in self.copied:
            if _meta(_array(source)) != meta:
                return False
        return unchanged(self.watch)

    def run(self, tensors: list) -> Any:
        """Replay the step for the call's tensor arguments ``tensors``; returns its result."""
        return self._replay(tensors)


def _write(
    program: Program, rec: Recording, baked: dict[int, Any], copies: dict[int, tuple]
) -> tuple[Any, str]:
    """The step as straight-line Python, one line per thing done: the function and its source.

    Values are locals ``v<slot>``, an op's gradient buffer is ``gb<op>``; the functions, contexts
    and constants the lines call are bound by name (``k<n>`` and the like). It also fills
    ``program.held`` and ``program.contexts``, what a call leaves to clear when it ends.
    """
    w = _Writer()
    w.line(0, "def replay(tensors):")
    for s, src in enumerate(rec.sources):
        if src[0] == "arg":
            w.line(1, f"v{s} = tensors[{src[1]}]._data")
        elif src[0] == "ext":
            w.line(1, f"v{s} = {w.bind(src[1], 't')}._data")
        elif src[0] == "new" and s not in copies:
            w.line(1, f"v{s} = {w.bind(baked[s])}")
    w.line(1, "try:")
    contexts: dict[int, tuple[str, str]] = {}
    pending = dict(copies)  # cr.tensor(array): copied again where the step first uses it

    def copy_before(specs: list) -> None:
        for s in _slots(specs):
            if s in pending:
                data, args, kwargs = pending.pop(s)
                copy = f"_Tensor({w.bind(data)}, *{w.bind(args)}, **{w.bind(kwargs)})"
                w.line(2, f"v{s} = {copy}._data")

    for step in rec.steps:
        if step[0] == "op":
            op = rec.ops[step[1]]
            copy_before(op["specs"])
            contexts[step[1]] = _write_op(w, program, op, _on_numpy(rec, op["specs"]))
        elif step[0] == "backward":
            _write_backward(w, rec, step[1], step[2], contexts)
        elif step[0] == "call":
            obj, name, args, kwargs = step[1:]  # a method the seams watch: step, zero_grad
            assert name.isidentifier(), name
            call = f"{w.bind(obj, type(obj).__name__.lower())}.{name}"
            w.line(2, f"{call}(*{w.bind(args)}, **{w.bind(kwargs)})")
        else:
            source, shape, p, slot = step[1:]
            copy_before([("v", source)])
            mask = f"_keep_mask(_make(v{source}), {w.bind(shape)}, {w.bind(p)})"
            w.line(2, f"v{slot} = {mask}._data")
    copy_before([rec.output])
    w.line(2, f"return {_result(w, rec, rec.output)}")
    w.line(1, "finally:")
    if not program.held:
        w.line(2, "pass")
    for argv, pos in program.held:
        w.line(2, f"{w.bind(argv)}[{pos}] = None")
    for ctx in program.contexts:
        w.line(2, f"{w.bind(ctx)}.saved = ()")
    source = "\n".join(w.lines) + "\n"
    exec(compile(source, "<cr.compile replay>", "exec"), w.env)  # noqa: S102  (our own lines)
    return w.env["replay"], source


def _write_op(w: _Writer, program: Program, op: dict, on_numpy: bool) -> tuple[str, str]:
    """An op's forward; returns the names of its context and its ``backward``. ``on_numpy``:
    every array it takes is NumPy's (``_on_numpy``)."""
    cls, specs = op["cls"], op["specs"]
    args = [w.value(sp) if sp[0] in "vc" else None for sp in specs]
    if op["needs"] is None:
        ctx: Any = _no_record(len(specs))
        for pos, sp in enumerate(specs):
            if args[pos] is None:
                args[pos] = w.value(sp)
        argv = f"({', '.join(args)},)" if args else "()"
    else:
        held = [sp[1] if sp[0] == "c" else None for sp in specs]
        ctx = _Ctx(op, held)
        argv = w.bind(held, "args")
        program.contexts.append(ctx)
        for pos, sp in enumerate(specs):
            if sp[0] == "c":
                continue
            program.held.append((held, pos))
            if args[pos] is None:  # a tuple or dict holding values: built once, used twice
                w.line(2, f"{argv}[{pos}] = {w.value(sp)}")
                args[pos] = f"{argv}[{pos}]"
            else:
                w.line(2, f"{argv}[{pos}] = {args[pos]}")
    c = w.bind(ctx, "ctx")
    w.line(2, f"o = {w.bind(cls.forward, cls.__name__ + '_forward')}({', '.join([c, *args])})")
    outs = ", ".join(f"v{s}" for s in op["outs"]) + ","
    post = f"{outs} = _outputs({w.bind(cls, cls.__name__)}, {c}, o, {argv})"
    if op["multi"]:
        w.line(2, post)
        return c, w.bind(cls.backward, cls.__name__ + "_backward")
    out = f"v{op['outs'][0]}"
    w.line(2, f"if type(o) is _nd: {out} = o")
    if on_numpy:  # as apply's lean path: a 0-d result NumPy handed back as a scalar
        w.line(2, f"elif type(o) in _scalars: {out} = _scalar_output({c}, o)")
    w.line(2, f"else: {post}")
    return c, w.bind(cls.backward, cls.__name__ + "_backward")


def _on_numpy(rec: Recording, specs: list) -> bool:
    """Whether every array an op takes is NumPy's (the recording's types; the guards keep them):
    its values and constants, and no tuple or dict that holds values."""
    for sp in specs:
        if sp[0] == "v" and rec.meta[sp[1]][2] is not ndarray:
            return False
        if sp[0] in "td" or sp[0] == "c" and type(sp[1]) in _BY_TYPE and type(sp[1]) is not ndarray:
            return False
    return True


def _scalar_output(ctx: Any, o: Any) -> Any:
    """``_outputs`` for a NumPy scalar from an op on NumPy arrays: the 0-d array it stands for,
    also where forward saved it."""
    a = _asarray(o)
    if ctx.saved:
        ctx.saved = tuple(a if v is o else v for v in ctx.saved)
    return a


def _write_backward(
    w: _Writer, rec: Recording, roots: list, order: list, contexts: dict[int, tuple[str, str]]
) -> None:
    """One ``loss.backward()``: the ops' backward in the recorded order, gradients routed as
    the engine routes them (``_Run.to_leaf`` for leaves, ``_sum_into`` where the engine sums
    into a node's buffer, ``_plus`` where it delivers to a buffer)."""
    w.line(2, "prev = _state.grad_enabled")
    w.line(2, "_state.grad_enabled = False")
    w.line(2, "try:")
    w.line(3, "run = _Run(False, None)")
    slots = [*roots, *(sp[1] for i in order for sp in rec.ops[i]["specs"] if sp[0] == "v")]
    targets = [_target(rec, s) for s in slots]
    buffers = set(order) | {t[1] for t in targets if t is not None and t[0] >= 2}
    for i in sorted(buffers):
        w.line(3, f"gb{i} = None")
    for s in roots:
        w.line(3, f"g = _ones(v{s})")
        w.line(3, "run.given.add(id(g))")  # as the engine does with the caller's gradient
        _write_delivery(w, _target(rec, s), summed=False)
    for i in order:
        op = rec.ops[i]
        c, backward = contexts[i]
        w.line(3, f"gr = gb{i}")
        w.line(3, f"gb{i} = None")
        w.line(3, "if gr is not None:")  # else no gradient reached it: nothing flows on
        if op["multi"]:
            metas = w.bind(op["out_meta"])
            fill = f"x if x is not None else _zeros(m, False) for x, m in zip(gr, {metas})"
            w.line(4, f"r = {backward}({c}, *[{fill}])")
        else:
            if op["cls"].overwrites_grad:  # as the engine: gr is this code's one variable
                w.line(4, "g = r = None")  # the op before may have handed gr over through them
                w.line(4, f"{c}.owns_grad = _spare(gr)")
            w.line(4, f"r = {backward}({c}, gr)")
        w.line(4, "if type(r) is not tuple: r = (r,)")
        for pos, (sp, need) in enumerate(zip(op["specs"], op["needs"])):
            if not need:
                continue
            data = f"v{sp[1]}"
            w.line(4, f"g = r[{pos}]")
            w.line(4, "if g is not None:")
            fast = f"type(g) is _nd and g.shape == {data}.shape and g.dtype is {data}.dtype"
            w.line(5, f"if not ({fast}): g = _fix(g, {data}, {c}, {pos})")
            _write_delivery(w, _target(rec, sp[1]), summed=True, depth=5)
    w.line(2, "finally:")
    w.line(3, "_state.grad_enabled = prev")


def _write_delivery(w: _Writer, target: tuple, summed: bool, depth: int = 3) -> None:
    """Hand gradient ``g`` to ``target`` (``_target``). ``summed``: into an op's one output as
    the engine's ``p._grad = _sum_into(p._grad, g)``, else as its ``_deliver`` (``_plus``)."""
    kind, where, j = target
    if kind == 0:
        w.line(depth, f"run.to_leaf(tensors[{where}], g)")
    elif kind == 1:
        w.line(depth, f"run.to_leaf({w.bind(where, 't')}, g)")
    elif kind == 2 and summed:  # passed straight in, so the count _sum_into reads is the engine's
        w.line(depth, f"gb{where} = g if gb{where} is None else _sum_into(gb{where}, g)")
    elif kind == 2:
        w.line(depth, f"gb{where} = g if gb{where} is None else _plus(gb{where}, g)")
    else:
        k, n = j
        w.line(depth, f"if gb{where} is None: gb{where} = [None] * {n}")
        w.line(depth, f"b = gb{where}")
        w.line(depth, f"b[{k}] = g if b[{k}] is None else _plus(b[{k}], g)")


def _result(w: _Writer, rec: Recording, spec: tuple) -> str:
    """The expression of the step's result: its tensor arguments and outside tensors as they
    are, an op's output as a new Tensor."""
    kind = spec[0]
    if kind == "v":
        src = rec.sources[spec[1]]
        if src[0] == "arg":
            return f"tensors[{src[1]}]"
        if src[0] == "ext":
            return w.bind(src[1])
        return f"_make(v{spec[1]})"
    if kind == "c":
        return w.bind(spec[1])
    items = [_result(w, rec, s) for s in (spec[1] if kind == "t" else spec[2])]
    if kind == "d":
        return f"dict(zip({w.bind(spec[1])}, ({', '.join(items)},)))"
    if spec[2] is tuple:
        return f"({', '.join(items)},)"
    return f"[{', '.join(items)}]" if spec[2] is list else f"{w.bind(spec[2])}({', '.join(items)})"


def _slots(specs: list) -> list[int]:
    """The value slots that argument specs (``Recording.spec``) read, in order."""
    found = []
    for sp in specs:
        if sp[0] == "v":
            found.append(sp[1])
        elif sp[0] in "td":
            found += _slots(sp[1] if sp[0] == "t" else sp[2])
    return found


def _array(source: Any) -> Any:
    """The array of a tensor, or the array itself."""
    return source._data if isinstance(source, Tensor) else source


def _meta(a: Any) -> tuple:
    return (a.shape, a.dtype, type(a), None if type(a) is ndarray else a.device)


def unchanged(watch: list) -> bool:
    """Whether every name in ``watch`` (``trace.watched``) still holds the same object, and
    every list watched holds the same objects."""
    for where, name, value in watch:
        if where is None:
            try:
                if name.cell_contents is not value:
                    return False
            except ValueError:
                return False
        elif name is ITEMS:
            if len(where) != len(value) or any(a is not b for a, b in zip(where, value)):
                return False
        elif where.get(name, watch) is not value:
            return False
    return True
