"""The backward pass: walk the graph from the outputs back to the leaves, applying the chain rule.

Each node's ``backward`` turns the upstream gradient of its outputs into the downstream gradients
of its inputs (upstream x local, as a vector-Jacobian product). The engine

1. finds every node reachable from the outputs and counts, for each, how many edges lead into it
   (iteratively: a chain of 100,000 ops needs no recursion);
2. processes a node only once every consumer has delivered its gradient (the sum of them: a value
   used twice gets both, the lecture's copy gate), in an order where this always holds;
3. reduces each gradient to its input's shape (summing the axes broadcasting added), keeps the
   input's dtype, and either passes it on to the input's own node or accumulates it into a leaf's
   ``.grad``;
4. frees each node's saved values once it has run, unless ``retain_graph``, and its inputs too
   unless the whole graph is small (``KEEP_NUMBERS``): a small graph keeps its structure and
   forward values, so it can still be drawn after backward.

A second gradient for the same place is added in place when no one else holds the first one
(``_sum_into``), so accumulating costs no new array. "No one else" must hold for the memory, not
just the array object: backward rules hand out views (reshape, permute, cat, stack), and a view
shares its base's memory with whoever holds the base. The rule, and what keeps it true:

* ``_sum_into`` writes only into an array that owns its memory (``base is None``), is writeable,
  and has no reference but its holder's. A view of it holds it as its base, so the count sees
  every view too.
* A ``.grad`` (leaf or retained) never stores an array someone else holds: the caller's gradient,
  an array another ``.grad`` already holds, a view, a read-only broadcast, or anything a user's
  Function or hook returned (the user may keep it) is copied first (``_Run.own``).
* With ``create_graph`` every stored ``.grad`` is a clone (a differentiable copy), as PyTorch does:
  two leaves fed by one add must not share one tensor.

State lives on the nodes themselves (``_grad``, ``_deps``) rather than in dicts.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Sequence
from typing import Any

from ..backend import _BY_TYPE, NUMPY, canonical_dtype, namespace, ndarray
from .function import NUMPY_SCALARS, Node, _check_finite
from .grad_mode import anomaly, state
from .tensor import Tensor


def sum_to(grad: Any, shape: tuple, node: Node | None = None, index: int = 0) -> Any:
    """Sum ``grad`` down to ``shape``, undoing NumPy broadcasting (arrays or Tensors)."""
    gshape = grad.shape
    if gshape == shape:
        return grad
    lead = len(gshape) - len(shape)
    ok = lead >= 0
    axes = list(range(lead)) if ok else []
    if ok:
        for k, n in enumerate(shape):
            m = gshape[lead + k]
            if n == 1 and m != 1:
                axes.append(lead + k)
            elif n != m:
                ok = False
                break
    if not ok:
        who = node.name() if node is not None else "backward"
        raise RuntimeError(
            f"{who}: the gradient for input {index} has shape {tuple(gshape)}, which does not "
            f"reduce to the input's shape {tuple(shape)}; backward must return one gradient "
            "per input, of that input's shape (or one that broadcasts to it)"
        )
    if isinstance(grad, Tensor):
        if axes:
            grad = grad.sum(axis=tuple(axes), keepdims=True)
        return grad.reshape(shape) if lead else grad
    xp = namespace(grad)
    if axes:
        grad = xp.sum(grad, axis=tuple(axes), keepdims=True)
    return xp.reshape(grad, shape) if lead else grad


def _sum_into(cur: ndarray, g: ndarray) -> ndarray:
    """``cur + g``, written into ``cur`` when nothing but its one holder refers to its memory.

    First order only. The caller passes the holder's attribute directly (``t._data``,
    ``node._grad``), so the reference count is the holder's, this frame's and getrefcount's own,
    as measured once for this interpreter by ``_alone``; any other reference (another .grad, a
    pending gradient, a user's variable, a view of it, which holds it as its base) makes it
    higher and the sum goes to a new array. A view itself (``base`` set) shares memory with its
    base, whoever holds that: never written into.
    """
    if (
        type(cur) is ndarray
        and cur.base is None
        and sys.getrefcount(cur) <= _ALONE
        and cur.flags.writeable
    ):
        cur += g
        return cur
    return _plus(cur, g)


def _plus(a: Any, b: Any) -> Any:
    """``a + b`` as an array: NumPy returns a scalar for two 0-d arrays (Tensors pass through)."""
    s = a + b
    return s if type(s) in _BY_TYPE or isinstance(s, Tensor) else NUMPY.asarray(s)


def _alone() -> int:
    """The reference count ``_sum_into`` sees for an array held by one attribute only."""

    class Holder:
        __slots__ = ("value",)

    def count(cur: ndarray) -> int:
        return sys.getrefcount(cur)

    h = Holder()
    h.value = NUMPY.zeros(1)
    return count(h.value)


_ALONE = _alone()


def _holders(g: ndarray) -> tuple[int, int]:
    """``sys.getrefcount`` of array ``g`` and of its base (0 where it has none)."""
    base = g.base
    return sys.getrefcount(g), 0 if base is None else sys.getrefcount(base)


def _spare(g: Any) -> bool:
    """Whether upstream gradient ``g``, just taken out of a node's buffer into the caller's one
    variable, is held by nothing else, so that a backward may write its result into it
    (``Function.overwrites_grad``), as PyTorch's engine steals a gradient nobody else holds.

    The proof is ``_sum_into``'s: every holder of the array holds a reference (another node's
    buffer, a ``.grad``, a user's variable, a view of it, which holds it as its base), so a
    reference count no higher than this frame's own, as measured once for this interpreter
    (``_SPARE``), leaves none. A view (max-pool's gradient is a permuted view of a fresh array) is
    spare where its base owns its memory, nothing but the view holds the base, and the view
    never reaches one element twice (``_apart``). NumPy's arrays only: others may not say what
    they view.
    """
    if type(g) is not ndarray or not g.flags.writeable:
        return False
    n, m = _holders(g)
    if n > _SPARE[0]:
        return False
    if m == 0:
        return True
    base = g.base
    return type(base) is ndarray and base.base is None and m <= _SPARE[1] and _apart(g)


def _apart(g: ndarray) -> bool:
    """Whether the elements of (strided) array ``g`` lie at distinct places: its axes, taken by
    increasing stride, each step past everything the axes before reach."""
    reach = g.itemsize
    for stride, n in sorted((abs(s), n) for s, n in zip(g.strides, g.shape) if n > 1):
        if stride < reach:
            return False
        reach = stride * n
    return True


def _spare_counts() -> tuple[int, int]:
    """The counts ``_holders`` gives, in ``_spare``, for a view held by one variable of
    ``_spare``'s caller, whose base nothing but the view holds."""

    def spare(g: ndarray) -> tuple[int, int]:  # in _spare's place
        return _holders(g)

    g = NUMPY.zeros(2)[1:]
    return spare(g)


_SPARE = _spare_counts()
_asarray = NUMPY.asarray


class _Run:
    """One backward pass: where gradients go and which arrays have been handed out."""

    __slots__ = ("create_graph", "capture", "captured", "given")

    def __init__(self, create_graph: bool, capture: dict | None) -> None:
        self.create_graph = create_graph
        self.capture = capture  # id(tensor) or (node, index) -> slot, for autograd.grad
        self.captured: list = [None] * (len(capture) if capture else 0)
        # ids of arrays a .grad must not take as they are: already in some .grad, the caller's,
        # or returned by a user's Function or hook (first order)
        self.given: set[int] = set()

    def own(self, g: Any) -> Any:
        """What a ``.grad`` may store for gradient ``g``: a Tensor with memory of its own.

        First order: ``g`` itself when nobody else holds it, else a copy (always a copy for an
        array that is not NumPy's, as not every array module tells a view apart). With
        ``create_graph``: a differentiable clone, as PyTorch stores, so no two ``.grad`` share
        one tensor.
        """
        if self.create_graph:
            return g.clone()
        if type(g) is not ndarray:  # other modules may not say whether g is a view: copy
            g = namespace(g).asarray(g, copy=True)
        elif id(g) in self.given or g.base is not None or not g.flags.writeable:
            g = g.copy()  # shared, a view of another array, or a read-only broadcast
        self.given.add(id(g))
        return Tensor._make(g)

    def keep(self, slot: int, g: Any) -> None:
        cur = self.captured[slot]
        self.captured[slot] = g if cur is None else _plus(cur, g)

    def to_leaf(self, t: Tensor, g: Any) -> None:
        """Deliver gradient ``g`` to leaf ``t``: run its hooks, then accumulate into ``t.grad``."""
        extra = t._extra
        if extra is not None and "hooks" in extra:
            g = _run_hooks(extra["hooks"], g, self)
        if self.capture is not None:
            slot = self.capture.get(id(t))
            if slot is not None:
                self.keep(slot, g)
            return
        cur = t._grad
        if cur is None:
            t._grad = self.own(g)
        elif self.create_graph:
            t._grad = cur + g
        elif cur._requires_grad:  # a gradient recorded by create_graph: leave its graph alone
            t._grad = Tensor._make(_plus(cur._data, g))
        else:
            data = _sum_into(cur._data, g)
            if data is not cur._data:
                t._grad = Tensor._make(data)


def _run_hooks(hooks: list, g: Any, run: _Run) -> Any:
    """Call each hook with the gradient; a returned Tensor replaces it.

    First order, a hook gets a copy of its own: the array may be shared (an add gate hands one
    gradient to both inputs), and a hook that changes its argument in place (``g.mul_(10)``,
    ``g.clamp_(-1, 1)``) must change this gradient only. What it did to the copy goes on.
    """
    create_graph = run.create_graph
    for hook in hooks:
        gt = g if create_graph else Tensor._make(namespace(g).asarray(g, copy=True))
        out = hook(gt)
        if out is None:
            out = gt
        elif not isinstance(out, Tensor) or out.shape != gt.shape:
            raise RuntimeError(
                f"hook {getattr(hook, '__name__', hook)!r} must return None or a Tensor of "
                f"shape {tuple(gt.shape)}; got {type(out).__name__}"
                + (f" of shape {tuple(out.shape)}" if isinstance(out, Tensor) else "")
            )
        if create_graph:
            g = out
        else:
            g = out._data
            run.given.add(id(g))  # a tensor the hook had: the user may keep it
    return g


def _deliver(node: Node, index: int, g: Any) -> None:
    """Add gradient ``g`` to the gradient buffer of output ``index`` of ``node``."""
    if node.n_outputs == 1:
        cur = node._grad
        node._grad = g if cur is None else _plus(cur, g)
    else:
        buf = node._grad
        if buf is None:
            buf = node._grad = [None] * node.n_outputs
        cur = buf[index]
        buf[index] = g if cur is None else _plus(cur, g)


KEEP_NUMBERS = 4096
GATE_NUMBERS = 16
"""A graph is small when the tensors its nodes take hold at most ``KEEP_NUMBERS`` numbers in
all, each node counting as ``GATE_NUMBERS`` more (so at most 256 of them). A backward without
``retain_graph`` frees a small graph's saved values but keeps each node's ``inputs`` (the
graph's structure and forward values), so it can be drawn after backward, as the lecture's
order has it (forward, backward, then look); a larger graph's inputs are freed as well. All or
nothing, decided before backward starts, so a graph is either drawable or freed as before; what
a kept graph holds stays bounded whatever the model (32 KiB of float64 numbers and the objects
of at most 256 nodes), and a training step's activations exceed it at once."""


def _collect(roots: list[Node]) -> bool:
    """Count, for each node reachable from ``roots``, the edges leading into it (``_deps``).

    Returns:
        Whether the graph is small (``KEEP_NUMBERS``).
    """
    seen = set(roots)
    for r in roots:
        r._deps = 0
        r._grad = None
    stack = list(seen)
    numbers = 0  # held by the tensors the nodes take
    while stack:
        node = stack.pop()
        if node.saved is None:  # freed by a backward (its inputs too, unless the graph is small)
            raise RuntimeError(
                f"{node.name()}: trying to backward through the graph a second time (its saved "
                "values were freed by the first backward). Pass retain_graph=True to the first "
                "backward if you need to backward through it again."
            )
        for a, need in zip(node.inputs, node.needs_input_grad):
            if need:
                numbers += a._data.size
                p = a.grad_fn
                if p is not None:
                    if p in seen:
                        p._deps += 1
                    else:
                        seen.add(p)
                        p._deps = 1
                        p._grad = None
                        stack.append(p)
            elif isinstance(a, Tensor):  # data, targets, masks: a kept graph holds them too
                numbers += a._data.size
    return numbers + GATE_NUMBERS * len(seen) <= KEEP_NUMBERS


def run_backward(
    roots: Sequence[Tensor],
    grads: Sequence[Any],
    retain_graph: bool,
    create_graph: bool,
    capture: dict | None = None,
) -> list:
    """Backpropagate ``grads`` from ``roots``; accumulate into leaves or into ``capture`` slots.

    Args:
        roots: output tensors, each requiring grad.
        grads: one gradient per root, an array of its shape (a Tensor when ``create_graph``).
        retain_graph: keep saved values so the graph can be walked again.
        create_graph: record the backward pass itself, so its results can be differentiated.
        capture: for ``autograd.grad``: maps ``id(leaf)`` or ``(node, output index)`` to the slot
            its gradient goes to; leaves' ``.grad`` are then left alone.

    Returns:
        The captured gradients, one per slot (None where none arrived).
    """
    run = _Run(create_graph, capture)
    prev = state.grad_enabled
    state.grad_enabled = create_graph
    try:
        root_nodes = []
        for t in roots:
            if t.grad_fn is not None and t.grad_fn not in root_nodes:
                root_nodes.append(t.grad_fn)
        small = _collect(root_nodes)
        for t, g in zip(roots, grads):
            if not create_graph:
                run.given.add(id(g))  # the caller's array: never store it as a .grad itself
            if t.grad_fn is None:
                run.to_leaf(t, g)
            else:
                _deliver(t.grad_fn, t._index, g)
        ready = [n for n in root_nodes if n._deps == 0]
        while ready:
            node = ready.pop()
            _process(node, run, ready)
            if not retain_graph:
                node.saved = None
                if not small:  # a small graph keeps its inputs, to be drawn (KEEP_NUMBERS)
                    node.inputs = None
    finally:
        state.grad_enabled = prev
    return run.captured


def _process(node: Node, run: _Run, ready: list) -> None:
    """Run one node's backward, pass each input its gradient, and queue the nodes now ready."""
    grads = node._grad
    node._grad = None
    inputs = node.inputs
    create_graph = run.create_graph
    if grads is None:  # no gradient reached this node: nothing flows to its inputs
        result: tuple = (None,) * len(inputs)
    else:
        fn = node.function
        node._graph_mode = create_graph
        if (
            fn.on_arrays
            and node.n_outputs == 1
            and node._hooks is None
            and node._retained is None
            and run.capture is None
        ):
            if fn.overwrites_grad and not create_graph and _spare(grads):
                node.owns_grad = True  # the backward may write into grads: nobody else holds it
                try:
                    result = fn.backward(node, grads)
                finally:
                    node.owns_grad = False
            else:
                result = fn.backward(node, grads)  # a built-in op's one output, unobserved
        else:
            result = _backward(node, grads, run)
        if type(result) is not tuple:
            result = (result,)
        if len(result) != len(inputs):
            raise RuntimeError(
                f"{node.name()}: backward returned {len(result)} gradient(s), but forward took "
                f"{len(inputs)} input(s); return one per input (None where none is needed)"
            )
        if anomaly.enabled:
            _check_finite(node, result, "backward gradient")
    for i, (a, need, g) in enumerate(zip(inputs, node.needs_input_grad, result)):
        if not need:
            continue
        p = a.grad_fn
        if g is not None:
            data = a._data
            if not create_graph:
                if type(g) is ndarray:
                    pass
                elif type(g) in NUMPY_SCALARS and type(data) is ndarray:
                    g = _asarray(g)  # the lean path: NumPy's 0-d results come back as scalars
                elif isinstance(g, Tensor):
                    g = g._data
                elif type(g) not in _BY_TYPE:
                    g = _like(data, g)
            elif not isinstance(g, Tensor):
                g = Tensor._make(_like(data, g))
            if g.shape != data.shape:
                g = sum_to(g, data.shape, node, i)
            if g.dtype is not data.dtype:
                g = _cast(g, data.dtype)
            if p is None:
                run.to_leaf(a, g)
            elif p.n_outputs == 1:
                if p._grad is None:
                    p._grad = g
                elif create_graph:
                    p._grad = p._grad + g
                else:
                    p._grad = _sum_into(p._grad, g)
            else:
                _deliver(p, a._index, g)
        if p is not None:  # one edge into p is done: p runs once all of them are
            p._deps -= 1
            if p._deps == 0:
                ready.append(p)


def _backward(node: Node, grads: Any, run: _Run) -> Any:
    """Call the Function's backward with the gradients of the node's outputs, where more than
    the common case applies: several outputs, hooks, retain_grad or autograd.grad captures on
    them, or a user's Function. Returns what backward returned (one gradient per input)."""
    fn = node.function
    multi = node.n_outputs > 1
    if multi or node._hooks is not None or node._retained is not None or run.capture is not None:
        glist = grads if multi else [grads]
        glist = _observe(node, glist, run)
        if multi and fn.materialize_grads:  # outputs that received nothing get zeros
            glist = [
                g if g is not None else _zeros(meta, run.create_graph)
                for g, meta in zip(glist, node._out_meta)
            ]
        if fn.on_arrays or run.create_graph:
            result = fn.backward(node, *glist)
        else:
            result = fn.backward(node, *[_own_tensor(g) for g in glist])
    elif run.create_graph:  # a user's Function here: _process runs a built-in op's plain case
        result = fn.backward(node, grads)
    else:
        result = fn.backward(node, _own_tensor(grads))
    if not fn.on_arrays and not run.create_graph:
        _foreign(result if type(result) is tuple else (result,), run)
    return result


def _own_tensor(g: Any) -> Tensor:
    """Upstream gradient ``g`` for a user's Function's backward, as a Tensor over a copy: the
    array may be another input's gradient too (an add gate hands one array to both), and a
    backward that changes its argument in place must not change that one."""
    return Tensor._make(namespace(g).asarray(g, copy=True))


def _foreign(result: tuple, run: _Run) -> None:
    """Note what a user's Function returned: a .grad stores copies (the user may keep them)."""
    for g in result:
        if isinstance(g, Tensor):
            run.given.add(id(g._data))
        elif type(g) in _BY_TYPE:
            run.given.add(id(g))


def _observe(node: Node, glist: list, run: _Run) -> list:
    """Tensor hooks, retain_grad and autograd.grad captures on a node's outputs."""
    glist = list(glist)
    for i, g in enumerate(glist):
        if g is None:
            continue
        if node._hooks is not None and i in node._hooks:
            g = glist[i] = _run_hooks(node._hooks[i], g, run)
        if node._retained is not None and i in node._retained:
            t = node._retained[i]()
            if t is not None:
                cur = t._grad
                if cur is None:
                    t._grad = run.own(g)
                elif run.create_graph:
                    t._grad = cur + g
                else:
                    t._grad = Tensor._make(_plus(cur._data, g))
        if run.capture is not None:
            slot = run.capture.get((node, i))
            if slot is not None:
                run.keep(slot, g)
    return glist


def _zeros(meta: tuple, as_tensor: bool) -> Any:
    """Zeros for an output no gradient reached; ``meta`` is the output's (shape, dtype, array
    namespace, device), as ``Function.apply`` noted it."""
    shape, dtype, xp, where = meta
    z = xp.zeros(shape, dtype=dtype, device=where)
    return Tensor._make(z) if as_tensor else z


def _like(data: Any, value: Any) -> Any:
    """A gradient a backward returned as a number (or NumPy scalar), as an array on the device
    of the input ``data`` it is for."""
    return namespace(data).asarray(value, device=data.device)


def _cast(g: Any, dtype: Any) -> Any:
    """Gradient ``g`` (array or Tensor) converted to its input's dtype (where they differ)."""
    if isinstance(g, Tensor):
        d = canonical_dtype(dtype)
        return g if g.dtype == d else g.astype(d)
    if g.dtype == dtype:
        return g
    return namespace(g).astype(g, dtype)


def retain(t: Tensor) -> None:
    """Make backward store the gradient of non-leaf ``t`` in ``t.grad``."""
    node = t.grad_fn
    if node._retained is None:
        node._retained = {}
    node._retained[t._index] = weakref.ref(t)
