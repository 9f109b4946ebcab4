"""A recorded step, replayed on arrays: each op's own forward and backward, in eager's order.

``compare.build(first, second)`` compares two recordings of one step (``trace.record``) and,
when they did the same thing, turns the second into a ``Program``. ``Program.run(tensors)`` then
repeats the step for new arguments of the same shapes:

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

from ..autograd.engine import _cast, _like, _plus, _Run, _sum_into, _zeros, sum_to
from ..autograd.function import _as_array, _no_record
from ..autograd.grad_mode import state
from ..autograd.tensor import Tensor
from ..backend import _BY_TYPE, namespace, ndarray
from ..nn import functional as nnf
from .trace import Recording


class _Ctx:
    """What a replayed op's forward and backward see as ``ctx``: one per op, made once."""

    __slots__ = ("function", "needs_input_grad", "saved", "xp", "_step", "__dict__")

    def __init__(self, step: _OpStep, needs: tuple, xp: Any) -> None:
        self.function = step.cls
        self.needs_input_grad = needs
        self.saved: tuple = ()
        self.xp = xp
        self._step = step

    def save_for_backward(self, *values: Any) -> None:
        self.saved = values

    @property
    def saved_tensors(self) -> tuple:
        return self.saved

    @property
    def inputs(self) -> tuple:
        """The op's arguments as a graph node holds them: tensors as Tensors (made on demand,
        for the few rules that read them)."""
        step = self._step
        return tuple(
            Tensor._make(a, need) if is_t else a
            for a, is_t, need in zip(step.argv, step.is_tensor, self.needs_input_grad)
        )

    def name(self) -> str:
        return f"{self.function.__name__}Backward"


def _build(spec: tuple, vals: list) -> Any:
    """An op's argument that holds arrays (a tuple of index arrays) for this replay."""
    kind = spec[0]
    if kind == "v":
        return vals[spec[1]]
    if kind == "c":
        return spec[1]
    if kind == "t":
        items = [_build(s, vals) for s in spec[1]]
        return spec[2](items) if spec[2] in (tuple, list) else spec[2](*items)
    return dict(zip(spec[1], [_build(s, vals) for s in spec[2]]))


class _OpStep:
    __slots__ = ("cls", "forward", "ctx", "argv", "fills", "builds", "outs", "out", "is_tensor")

    def __init__(self, op: dict) -> None:
        self.cls = op["cls"]
        self.forward = self.cls.forward
        self.is_tensor = op["is_tensor"]
        self.argv: list = []
        self.fills: list[tuple[int, int]] = []
        self.builds: list[tuple[int, tuple]] = []
        for pos, sp in enumerate(op["specs"]):
            self.argv.append(sp[1] if sp[0] == "c" else None)
            if sp[0] == "v":
                self.fills.append((pos, sp[1]))
            elif sp[0] != "c":
                self.builds.append((pos, sp))
        needs = op["needs"]
        self.ctx = _no_record(len(self.argv)) if needs is None else _Ctx(self, needs, op["xp"])
        self.outs = op["outs"]
        self.out = self.outs[0] if not op["multi"] else -1

    def run(self, vals: list, tensors: list) -> None:
        argv = self.argv
        for pos, s in self.fills:
            argv[pos] = vals[s]
        for pos, sp in self.builds:
            argv[pos] = _build(sp, vals)
        out = self.forward(self.ctx, *argv)
        if type(out) is ndarray and self.out >= 0:  # the common case
            vals[self.out] = out
            return
        raw = out if type(out) is tuple else (out,)
        arrays = [_as_array(o, self.cls, argv) for o in raw]
        for s, a in zip(self.outs, arrays):
            vals[s] = a
        ctx = self.ctx
        if ctx.saved and any(r is not a for r, a in zip(raw, arrays)):
            # as Function.apply does: a saved output is kept as the array it became
            ctx.saved = tuple(_converted(v, raw, arrays) for v in ctx.saved)


def _converted(v: Any, raw: tuple, arrays: list) -> Any:
    for r, a in zip(raw, arrays):
        if v is r:
            return a
    return v


class _BackwardStep:
    """One ``loss.backward()``: the ops' backward in the recorded order, gradients routed."""

    __slots__ = ("roots", "nodes", "n_ops")

    def __init__(self, roots: list, order: list, rec: Recording, ops: list) -> None:
        self.n_ops = len(rec.ops)
        self.roots = [(s, _target(rec, s)) for s in roots]
        self.nodes = []
        for i in order:
            op, step = rec.ops[i], ops[i]
            inputs = []
            for pos, (sp, need) in enumerate(zip(op["specs"], op["needs"])):
                if need:
                    inputs.append((pos, sp[1]) + _target(rec, sp[1]))
            multi = op["out_meta"] if op["multi"] else None
            self.nodes.append((i, step.ctx, step.cls.backward, multi, inputs))

    def run(self, vals: list, tensors: list) -> None:
        prev = state.grad_enabled
        state.grad_enabled = False
        try:
            self._run(vals, tensors)
        finally:
            state.grad_enabled = prev

    def _run(self, vals: list, tensors: list) -> None:
        run = _Run(False, None)
        gbuf: list = [None] * self.n_ops
        for s, (kind, where, j) in self.roots:
            a = vals[s]
            g = namespace(a).ones(a.shape, dtype=a.dtype, device=a.device)
            run.given.add(id(g))  # as the engine does with the caller's gradient
            if kind == 0:
                run.to_leaf(tensors[where], g)
            elif kind == 1:
                run.to_leaf(where, g)
            else:
                _deliver(gbuf, kind, where, j, g)
        for i, ctx, backward, multi, inputs in self.nodes:
            grads = gbuf[i]
            gbuf[i] = None
            if grads is None:  # no gradient reached it: nothing flows on (as in the engine)
                continue
            if multi is not None:
                glist = [g if g is not None else _zeros(m, False) for g, m in zip(grads, multi)]
                result = backward(ctx, *glist)
            else:
                result = backward(ctx, grads)
            if type(result) is not tuple:
                result = (result,)
            for pos, s, kind, where, j in inputs:
                g = result[pos]
                if g is None:
                    continue
                data = vals[s]
                if type(g) not in _BY_TYPE:
                    g = g._data if isinstance(g, Tensor) else _like(data, g)
                if g.shape != data.shape:
                    g = sum_to(g, data.shape, ctx, pos)
                if g.dtype is not data.dtype:
                    g = _cast(g, data.dtype)
                if kind == 2:  # the one output of an op: the engine's p._grad
                    if gbuf[where] is None:
                        gbuf[where] = g
                    else:  # passed straight in, so the count _sum_into reads is the engine's
                        gbuf[where] = _sum_into(gbuf[where], g)
                elif kind == 0:
                    run.to_leaf(tensors[where], g)
                elif kind == 1:
                    run.to_leaf(where, g)
                else:
                    _deliver(gbuf, kind, where, j, g)


def _deliver(gbuf: list, kind: int, where: int, j: int, g: Any) -> None:
    """``engine._deliver``: add ``g`` to output ``j`` of op ``where``."""
    if kind == 2:
        cur = gbuf[where]
        gbuf[where] = g if cur is None else _plus(cur, g)
        return
    buf = gbuf[where]
    if buf is None:
        buf = gbuf[where] = [None] * j[1]
    cur = buf[j[0]]
    buf[j[0]] = g if cur is None else _plus(cur, g)


def _target(rec: Recording, s: int) -> tuple:
    """Where a gradient for slot ``s`` goes: (0, k, None) the k-th tensor argument's ``.grad``,
    (1, tensor, None) an outside tensor's, (2, op, None) the one output of op ``op``, (3, op,
    (j, n)) output j of an op with n outputs."""
    src = rec.sources[s]
    if src[0] == "arg":
        return (0, src[1], None)
    if src[0] == "ext":
        return (1, src[1], None)
    op = rec.ops[src[1]]
    if op["multi"]:
        return (3, src[1], (src[2], len(op["outs"])))
    return (2, src[1], None)


class _CallStep:
    __slots__ = ("obj", "name", "args", "kwargs")

    def __init__(self, obj: Any, name: str, args: tuple, kwargs: dict) -> None:
        self.obj, self.name, self.args, self.kwargs = obj, name, args, kwargs

    def run(self, vals: list, tensors: list) -> None:
        getattr(self.obj, self.name)(*self.args, **self.kwargs)


class _MaskStep:
    __slots__ = ("source", "shape", "p", "slot")

    def __init__(self, source: int, shape: tuple, p: float, slot: int) -> None:
        self.source, self.shape, self.p, self.slot = source, shape, p, slot

    def run(self, vals: list, tensors: list) -> None:
        mask = nnf._keep_mask(Tensor._make(vals[self.source]), self.shape, self.p)
        vals[self.slot] = mask._data


class Program:
    """A step to replay: see the module's docstring."""

    def __init__(self, rec: Recording, baked: dict[int, Any]) -> None:
        self.vals: list = [None] * len(rec.sources)
        self.args: list[tuple[int, int]] = []
        self.outside: list[tuple] = []  # (slot, tensor, meta, requires_grad)
        for s, src in enumerate(rec.sources):
            if src[0] == "arg":
                self.args.append((s, src[1]))
            elif src[0] == "new":
                self.vals[s] = baked[s]
            elif src[0] == "ext":
                self.outside.append((s, src[1], _meta(src[1]._data), rec.requires[s]))
        modules: list = []
        for m in rec.modules:
            modules += [sub for sub in m.modules() if all(sub is not k for k in modules)]
        self.flags = [(m, m.training) for m in modules]
        self.watch = rec.watch
        ops = [_OpStep(op) for op in rec.ops]
        # what holds this call's arrays after it: the ops' arguments and saved values
        self.held = [(op.argv, pos) for op in ops for pos, _ in (*op.fills, *op.builds)]
        self.contexts = [op.ctx for op in ops if type(op.ctx) is _Ctx]
        self.transient = [s for s, src in enumerate(rec.sources) if src[0] != "new"]
        self.steps: list = []
        for step in rec.steps:
            if step[0] == "op":
                self.steps.append(ops[step[1]])
            elif step[0] == "backward":
                self.steps.append(_BackwardStep(step[1], step[2], rec, ops))
            elif step[0] == "call":
                self.steps.append(_CallStep(*step[1:]))
            else:
                self.steps.append(_MaskStep(*step[1:]))
        self.output = rec.output
        self.sources = rec.sources

    def valid(self) -> bool:
        """Whether the tensors from outside and the modules' training flags are as recorded."""
        for _, t, meta, requires in self.outside:
            if _meta(t._data) != meta or t._requires_grad is not requires or t.grad_fn is not None:
                return False
        for m, training in self.flags:
            if m.training is not training:
                return False
        return unchanged(self.watch)

    def run(self, tensors: list) -> Any:
        """Replay the step for the call's tensor arguments ``tensors``; returns its result."""
        vals = self.vals
        for s, k in self.args:
            vals[s] = tensors[k]._data
        for s, t, _, _ in self.outside:
            vals[s] = t._data
        try:
            for step in self.steps:
                step.run(vals, tensors)
            return self._result(self.output, tensors)
        finally:  # hold no array past the call (eager frees the graph after backward)
            for s in self.transient:
                vals[s] = None
            for argv, pos in self.held:
                argv[pos] = None
            for ctx in self.contexts:
                ctx.saved = ()

    def _result(self, spec: tuple, tensors: list) -> Any:
        kind = spec[0]
        if kind == "v":
            src = self.sources[spec[1]]
            if src[0] == "arg":
                return tensors[src[1]]
            if src[0] == "ext":
                return src[1]
            return Tensor._make(self.vals[spec[1]])
        if kind == "c":
            return spec[1]
        if kind == "t":
            items = [self._result(s, tensors) for s in spec[1]]
            return spec[2](items) if spec[2] in (tuple, list) else spec[2](*items)
        return dict(zip(spec[1], [self._result(s, tensors) for s in spec[2]]))


def _meta(a: Any) -> tuple:
    return (a.shape, a.dtype, type(a), None if type(a) is ndarray else a.device)


def unchanged(watch: list) -> bool:
    """Whether every name in ``watch`` (``trace.watched``) still holds the same object."""
    for where, name, value in watch:
        if where is None:
            try:
                if name.cell_contents is not value:
                    return False
            except ValueError:
                return False
        elif where.get(name, watch) is not value:
            return False
    return True
