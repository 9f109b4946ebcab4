"""Function: one operation with its forward and its vector-Jacobian product, side by side.

The lecture's API, which PyTorch shares::

    class Multiply(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, y)
            return x * y

        @staticmethod
        def backward(ctx, grad_z):
            x, y = ctx.saved_tensors
            return y * grad_z, x * grad_z   # local gradient times upstream gradient

    z = Multiply.apply(x, y)

``apply`` runs ``forward`` and, when an input requires grad and recording is on, records a
``Node``: the ``ctx`` that forward filled in, the inputs, and which of them need a gradient. The
node is the output's ``grad_fn``; the engine later calls ``backward(node, grad)`` on it.

Two kinds of Function share this API:

* A user's Function (``on_arrays = False``, the default) sees Tensors in forward and backward, as in
  PyTorch; forward runs with recording off.
* The built-in ops set ``on_arrays = True``: forward receives the arrays inside the tensors
  (NumPy's, CuPy's or array-api-strict's) and returns arrays, which keeps the per-op path
  short; it computes through ``backend.namespace`` of its inputs. Their backward calls the
  functions of ``ctx.xp`` and operators: in a first-order backward it receives arrays and
  ``ctx.xp`` is their namespace; with ``create_graph=True`` it receives Tensors and ``ctx.xp``
  holds the same names as differentiable ops (``ops.graph_functions``). One rule thus serves
  gradients and gradients of gradients on every device. Values such a backward saves must be an
  input, an output, or something whose own derivative is zero (a mask, an index); anything
  else would be taken as a constant in a second-order backward.

Saved inputs are guarded by a version counter: chainrule's in-place operations (``add_``,
``zero_``, ``x[i] = v``, an optimizer's step) bump it, and a backward that finds a saved input
changed since forward raises instead of returning a wrong gradient.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Sequence
from typing import Any

from ..backend import (
    _BY_TYPE,
    _FLOAT_DTYPES,
    NUMPY,
    canonical_dtype,
    device_of,
    is_floating,
    namespace,
    ndarray,
)
from .grad_mode import anomaly, state

#: NumPy's scalar types of the dtypes chainrule supports: what NumPy returns for a 0-d result.
NUMPY_SCALARS = frozenset(
    type(NUMPY.asarray(0, dtype=t)[()])
    for t in ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
    + ("float16", "float32", "float64")
)
_asarray = NUMPY.asarray


class Node:
    """One recorded call of a Function: the ``ctx`` its forward filled and its outputs' ``grad_fn``.

    Attributes:
        function: the Function subclass that was applied.
        inputs: the arguments of the call, as given (Tensors and constants); ``None`` once backward
            has freed the graph.
        needs_input_grad: one bool per argument: does it require a gradient?
        n_outputs: how many tensors forward returned.
    """

    __slots__ = (
        "function",
        "inputs",
        "needs_input_grad",
        "n_outputs",
        "saved",
        "_saved_src",
        "_out_meta",
        "_hooks",
        "_retained",
        "_trace",
        "_graph_mode",
        "_grad",
        "_deps",
        "_ns",
        "__dict__",  # room for what a Function stores on ctx (ctx.alpha = ...)
        "__weakref__",
    )

    #: Set by the engine, for the call of a backward whose Function ``overwrites_grad``, where
    #: no one but that call holds the upstream gradient array (``engine._spare``).
    owns_grad = False

    def __init__(self, function: type, inputs: tuple, needs_input_grad: tuple, ns: Any) -> None:
        self.function = function
        self.inputs = inputs
        self.needs_input_grad = needs_input_grad
        self.n_outputs = 1
        self._ns = ns  # the inputs' namespace where apply knows it (all NumPy's), else None
        self.saved: tuple = ()
        self._saved_src = None
        self._out_meta = None
        self._hooks = None
        self._retained = None
        self._trace = None
        self._graph_mode = False
        self._grad = None
        self._deps = 0

    # ----- the ctx API used inside forward and backward -----
    def save_for_backward(self, *values: Any) -> None:
        """Keep values (inputs, outputs, arrays) for backward, to read as ``saved_tensors``."""
        self.saved = values

    @property
    def saved_tensors(self) -> tuple:
        """The values given to ``save_for_backward``, checked for in-place changes since forward."""
        saved = self.saved
        if saved is None:
            raise RuntimeError(
                f"{self.name()}: trying to backward through the graph a second time, or to read "
                "its saved tensors after they have been freed. Saved values are freed by "
                "backward; pass retain_graph=True to the first backward to backward twice."
            )
        src = self._saved_src
        if src is None:
            if self.function.on_arrays and not self._graph_mode:
                return saved
            return tuple(self._unpack(k, None) for k in range(len(saved)))
        for s in src:
            if s is not None and s[2][0] != s[3]:
                what = "an input" if s[0] == "in" else "an output"
                raise RuntimeError(
                    f"{self.name()}: {what} saved for backward ({s[0]}put {s[1]}) was modified "
                    f"in place after forward: its version is {s[2][0]}, forward saw {s[3]}. Use "
                    "an out-of-place operation (x = x + y rather than x += y), or call backward "
                    "before changing it."
                )
        if self.function.on_arrays and not self._graph_mode:
            return saved
        return tuple(self._unpack(k, src[k]) for k in range(len(saved)))

    def _unpack(self, k: int, src: tuple | None) -> Any:
        """Saved value k as a Tensor: an input as itself, an output re-attached to this node."""
        from .tensor import Tensor

        value = self.saved[k]
        if src is not None:
            if src[0] == "in" and self._graph_mode:
                return self.inputs[src[1]]
            if src[0] == "out":
                if self._graph_mode:
                    return Tensor._make(value, True, self, src[1])
                return Tensor._make(value)
        if isinstance(value, ndarray) and not self.function.on_arrays:
            return Tensor._make(value)
        return value

    @property
    def xp(self) -> Any:
        """The array functions a backward rule calls: ``ctx.xp.where(mask, grad, 0)``.

        In an ordinary backward, the namespace of the inputs' arrays (``backend.namespace``:
        the Array API standard's functions and the backend's extras; the rule gets arrays). Under
        ``create_graph=True``, their differentiable twins: chainrule ops on Tensors with the
        array module's names and arguments (``chainrule.ops.graph_functions``), so the same rule
        is recorded and can be differentiated again, whatever array module the tensors live on.
        """
        if self._graph_mode:
            return GRAPH_FUNCTIONS[0]
        ns = self._ns
        if ns is None:
            for a in self.inputs or ():
                if isinstance(a, Tensor):
                    ns = self._ns = namespace(a._data)
                    break
        return ns

    def name(self) -> str:
        """The op's name as shown in errors and in ``grad_fn`` reprs, e.g. ``MulBackward``."""
        return f"{self.function.__name__}Backward"

    @property
    def next_functions(self) -> tuple:
        """(grad_fn, output index) of each input, as PyTorch shows them; None for constants."""
        out = []
        for a in self.inputs or ():
            fn = getattr(a, "grad_fn", None)
            out.append((fn, getattr(a, "_index", 0)) if fn is not None else (None, 0))
        return tuple(out)

    def register_hook(self, output_index: int, hook: Any) -> list:
        """Call ``hook(grad)`` with the gradient of output ``output_index`` once it is known.

        Returns the list of that output's hooks (to remove it from later).
        """
        if self._hooks is None:
            self._hooks = {}
        hooks = self._hooks.setdefault(output_index, [])
        hooks.append(hook)
        return hooks

    def created_at(self) -> str:
        """Where forward was called (recorded only with anomaly detection on)."""
        if not self._trace:
            return "(turn on cr.autograd.set_detect_anomaly(True) to record where)"
        return "".join(self._trace[-3:]).rstrip()

    def __repr__(self) -> str:
        return f"<{self.name()}>"


class _NoRecordContext:
    """The ctx forward sees when nothing will be recorded: saving is a no-op.

    One per number of arguments, shared: what a forward stores on it is never read back.
    """

    __slots__ = ("needs_input_grad", "__dict__")
    saved = ()

    def __init__(self, n_args: int) -> None:
        self.needs_input_grad = (False,) * n_args

    def save_for_backward(self, *values: Any) -> None:
        pass


_NO_RECORD = [_NoRecordContext(n) for n in range(9)]


def _no_record(n_args: int) -> _NoRecordContext:
    return _NO_RECORD[n_args] if n_args < 9 else _NoRecordContext(n_args)


class Function:
    """Base class of every differentiable operation; subclass it and call ``apply``.

    Override ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)`` as static methods.
    ``backward`` returns one gradient per argument of forward (None for constants and inputs
    that need none), each of the input's shape, or of a shape that broadcasts to it: the engine
    sums broadcast axes away.
    """

    #: True for ops that compute on raw arrays (all built-in ops); see the module docstring.
    on_arrays: bool = False
    #: Of several outputs, one that received no gradient is given to backward as zeros; False:
    #: as None (PyTorch's ``ctx.set_materialize_grads(False)``).
    materialize_grads: bool = True
    #: backward may write its input's gradient into the upstream gradient array itself where
    #: ``ctx.owns_grad`` says nobody else holds it (first order, NumPy; ReLU, Tanh, Sigmoid).
    overwrites_grad: bool = False

    # What the rest of the package knows about the op lives here, on its class, and nowhere
    # else: drawings (viz.snapshot), the step-by-step explanation (viz.explain), the expression
    # language (viz.expr) and the Tensor methods (ops) read these. A user's Function may set them
    # too; without them it is drawn with its class name and explained as d(out)/d(in).

    #: The gate's label in drawings: "+", "exp", "[ ]". None: the class name.
    symbol: str | None = None
    #: The local gradient d(out)/d(input) on single numbers, as the lecture writes it (x is the
    #: input; the output is z, or the lecture's own letter for it, s for the sigmoid): one
    #: string for every input, or a tuple with one per input. Ops
    #: whose formula depends on the call (a constant operand) define ``describe_local`` instead.
    local_grad: str | tuple[str, ...] | None = None
    #: How backward applies the local gradient to tensors without forming the Jacobian, one
    #: string per input (the last one serves the rest): "upstream @ w^T".
    vjp: tuple[str, ...] | None = None
    #: The lecture's name for the gate's pattern ("add gate distributes"), if it has one.
    pattern: str | None = None
    #: The functions (``cr.exp``) that run this op, filled in when they are registered.
    functions: tuple[str, ...] = ()

    @staticmethod
    def describe_call(args: tuple) -> str | None:
        """The gate's label for a call with arguments ``args`` (tensors replaced by None), where
        the call shows in it (``sum(dim=1)``); None: ``symbol``."""
        return None

    @staticmethod
    def describe_local(position: int, args: tuple, other: str, const: Any) -> str | None:
        """The local gradient for input ``position`` of a call with arguments ``args``.

        ``other`` names the other operand of a binary gate and ``const(c)`` formats a number as
        the drawings do. None: ``local_grad`` says it. Ops override this where the formula
        depends on a constant operand (``x ** 2`` has local gradient 2x).
        """
        return None

    @staticmethod
    def forward(ctx: Node, *args: Any) -> Any:
        raise NotImplementedError("a Function subclass must define forward(ctx, *args)")

    @staticmethod
    def backward(ctx: Node, *grad_outputs: Any) -> Any:
        raise NotImplementedError("a Function subclass must define backward(ctx, *grad_outputs)")

    @classmethod
    def apply(cls, *args: Any) -> Any:
        """Run forward on ``args`` and record the call when an input requires grad."""
        # The hot path of everything: one pass over the arguments collects their arrays and
        # which of them need a gradient; after that, no more checks than the outputs need.
        record = False
        elsewhere = False  # an array not NumPy's: check that all are on one device
        data = []
        if state.grad_enabled:
            needs = []
            for a in args:
                if isinstance(a, Tensor):
                    d = a._data
                    data.append(d)
                    r = a._requires_grad
                    needs.append(r)
                    if r:
                        record = True
                    if type(d) is not ndarray:
                        elsewhere = True
                else:
                    data.append(a)
                    needs.append(False)
        else:
            for a in args:
                if isinstance(a, Tensor):
                    d = a._data
                    data.append(d)
                    if type(d) is not ndarray:
                        elsewhere = True
                else:
                    data.append(a)
        if elsewhere:
            _one_device(cls, args)
        if record:
            ctx = Node(cls, args, tuple(needs), None if elsewhere else NUMPY)
            n = len(data)
            if n == 2:  # the common binary op, inline: one identity test
                if data[0] is data[1] and args[0] is not args[1]:
                    data[1] = _another_view(data[1])
            elif n > 2 and (
                n > 3 or data[1] is data[0] or data[2] is data[0] or data[2] is data[1]
            ):
                _distinct_arrays(args, data)
        else:
            ctx = _no_record(len(args))
        try:
            if cls.on_arrays:
                out = cls.forward(ctx, *data)
            else:
                prev = state.grad_enabled
                state.grad_enabled = False
                try:
                    out = cls.forward(ctx, *args)
                finally:
                    state.grad_enabled = prev
        except ValueError as e:  # NumPy's shape errors, re-raised naming the op and the shapes
            raise RuntimeError(f"{cls.__name__}: {e}; {_describe(args)}") from None
        if type(out) is tuple:
            return _record_outputs(cls, ctx, args, data, out, record)
        # one output, the common case, without the tuple machinery
        raw = out  # what forward returned (a user's Function returns a Tensor it may have saved)
        if type(out) is not ndarray:
            # NumPy hands a 0-d result back as a scalar (np.float32): the lean path for small
            # tensors re-wraps it directly when every input is NumPy's
            if type(out) in NUMPY_SCALARS and not elsewhere:
                out = _asarray(out)
            else:
                out = _as_array(out, cls, data)
        if not record:
            result = Tensor._make(out)
        # only floating outputs carry gradients
        elif out.dtype in _FLOAT_DTYPES if type(out) is ndarray else is_floating(out.dtype):
            result = Tensor._make(out, True, ctx)
        else:
            result = Tensor._make(out)
        # an output that is, or views, an input's memory shares its version counter (a
        # built-in op's fresh output, the common case, is told apart by two tests)
        if (
            not cls.on_arrays
            or type(out) is not ndarray
            or out.base is not None
            or (data and out is data[0])
        ):
            vc = _alias_counter(out, args, data)
            if vc is not None:
                result._vc = vc
        if not record:
            return result
        if ctx.saved:
            _tag_saved(ctx, args, data, (raw,), (out,), (result,))
        if anomaly.enabled:
            ctx._trace = _user_frames()
            _check_finite(ctx, [out], "forward output")
        return result


def _alias_counter(out: Any, args: tuple, data: list) -> list | None:
    """The version counter an op's output must share: that of the input tensor whose memory
    the output array is or views (reshape, a slice, a transpose, a cast to its own dtype), as
    PyTorch's views share their base's. An in-place change through either (``x.add_(1)``,
    ``x[0] = 5``, an optimizer's step) is then a change of the other, and a backward that saved
    the other's values before it raises instead of using the changed ones. None for an output
    with memory of its own, and for arrays that do not say what they view (array-api-strict's).
    """
    owner = memory_owner(out)
    for i, d in enumerate(data):
        a = args[i]
        if isinstance(a, Tensor) and (d is out or memory_owner(d) is owner):
            return a._vc
    return None


def memory_owner(a: Any) -> Any:
    """The object that owns array ``a``'s memory: the end of its chain of bases. The chain
    may pass through objects that are no arrays (NumPy's ``as_strided`` builds its view over a
    helper whose ``base`` is the original), so it is walked to its end: two arrays with one
    owner may share memory."""
    while True:
        b = getattr(a, "base", None)
        if b is None:
            return a
        a = b


def _distinct_arrays(args: tuple, data: list) -> None:
    """Give each argument its own array object, so a saved array names one argument.

    Saved values are matched to the arguments by identity (``_tag_saved``). Two different
    tensors can hold the same array (``x`` and ``x.detach()``, two ``from_numpy`` of one array):
    the later one gets a view, the same memory under another identity, or the detached copy
    would be taken for the live input in a second-order backward. The same tensor twice
    (``x * x``) keeps one array: either match is right.
    """
    for i in range(1, len(data)):
        d = data[i]
        if type(d) in _BY_TYPE:
            for j in range(i):
                if data[j] is d and args[j] is not args[i]:
                    data[i] = _another_view(d)
                    break


#: ``Node.xp`` under create_graph; set by ``chainrule.ops`` (the ops sit above the engine).
GRAPH_FUNCTIONS: list[Any] = [None]


def _another_view(d: Any) -> Any:
    """The same memory as array ``d`` under another identity, or ``d`` (a Python number)."""
    if type(d) is ndarray:
        return d.view()
    if type(d) in _BY_TYPE:
        return namespace(d).reshape(d, d.shape)
    return d


def _one_device(fn: type, args: tuple) -> None:
    """Raise, naming the op and the devices, when ``args`` hold tensors on different devices."""
    devices = []
    for a in args:
        if isinstance(a, Tensor):
            d = device_of(a._data)
            if d not in devices:
                devices.append(d)
    if len(devices) > 1:
        raise RuntimeError(
            f"{fn.__name__}: expected all tensors on one device, but found tensors on "
            f"{' and '.join(str(d) for d in devices)}; move them with .to(device) first"
        )


def _describe(args: tuple) -> str:
    shapes = [str(tuple(a.shape)) for a in args if isinstance(a, Tensor) or type(a) in _BY_TYPE]
    if not shapes:
        return "no tensor inputs"
    return "the inputs have shapes " + " and ".join(shapes)


def _as_array(value: Any, fn: type, data: Any = ()) -> Any:
    """A forward result as an array (NumPy returns scalars from 0-d operations)."""
    if isinstance(value, Tensor):
        return value._data
    if type(value) in _BY_TYPE:
        return value
    arrays = [d for d in data if type(d) in _BY_TYPE]
    if arrays:  # a 0-d result NumPy handed back as a scalar: an array on the inputs' device
        arr = namespace(arrays[0]).asarray(value, device=arrays[0].device)
    else:
        arr = NUMPY.asarray(value)
    if canonical_dtype(arr.dtype).kind not in "biuf":
        raise TypeError(
            f"{fn.__name__}.forward returned a value of type {type(value).__name__}; "
            "expected Tensors"
        )
    return arr


def _record_outputs(
    cls: type, ctx: Any, args: tuple, data: list, outs: tuple, record: bool
) -> tuple:
    """Wrap several forward results as Tensors and, when recording, make ``ctx`` their grad_fn."""
    arrays = [_as_array(o, cls, data) for o in outs]
    if not record:
        results = tuple([Tensor._make(a) for a in arrays])
    else:
        results = tuple(
            [
                Tensor._make(a, True, ctx, i) if is_floating(a.dtype) else Tensor._make(a)
                for i, a in enumerate(arrays)
            ]
        )
    for a, t in zip(arrays, results):
        vc = _alias_counter(a, args, data)
        if vc is not None:
            t._vc = vc
    if not record:
        return results
    node: Node = ctx
    node.n_outputs = len(arrays)
    if node.saved:
        _tag_saved(node, args, data, outs, arrays, results)
    node._out_meta = tuple([(a.shape, a.dtype, namespace(a), a.device) for a in arrays])
    if anomaly.enabled:
        node._trace = _user_frames()
        _check_finite(node, arrays, "forward output")
    return results


def _tag_saved(
    node: Node, args: tuple, data: list, outs: tuple, arrays: Sequence, results: tuple
) -> None:
    """Note which saved values are inputs and which are outputs, with their version counters.

    ``data`` holds each argument's array (the argument itself when it is not a Tensor); ``outs``
    what forward returned, ``arrays`` the same as arrays and ``results`` the output Tensors.
    Each tag is (kind, index, version counter, version now). An array argument that is no Tensor
    is saved as a copy. Outputs are stored as arrays, never as the output Tensor: the Tensor
    holds this node as its grad_fn, and holding it back would make a reference cycle; the node
    keeps only the output's version counter.
    """
    saved = node.saved
    src: list = []
    tagged = False
    n = len(data)
    for k, s in enumerate(saved):
        # an input? A built-in op saves its arrays in argument order (Mul: x, y), so try k first
        if k < n and s is data[k]:
            i = k
        else:
            for i, d in enumerate(data):
                if s is d or s is args[i]:
                    break
            else:
                i = -1
        if i >= 0:
            a = args[i]
            if isinstance(a, Tensor):
                vc = a._vc
                src.append(("in", i, vc, vc[0]))
                tagged = True
                continue
            if type(a) in _BY_TYPE:  # an array given as it is (x * np_array): no version
                # counter watches it, so backward gets a copy of the values forward saw
                if saved is node.saved:
                    saved = list(saved)
                saved[k] = namespace(a).asarray(a, copy=True)
        else:
            for j, o in enumerate(outs):
                if s is o or s is arrays[j]:
                    if saved is node.saved:
                        saved = list(saved)
                    saved[k] = arrays[j]
                    src.append(("out", j, results[j]._vc, 0))
                    tagged = True
                    break
            else:
                src.append(None)
            continue
        src.append(None)
    if type(saved) is list:  # an output replaced by its array, or an array by its copy
        node.saved = tuple(saved)
    if tagged:
        node._saved_src = tuple(src)


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _user_frames() -> list[str]:
    """The call stack outside chainrule itself: where the user's code created the op."""
    frames = [f for f in traceback.extract_stack() if not f.filename.startswith(_PACKAGE)]
    return traceback.format_list(frames)


def _check_finite(node: Node, arrays: Any, what: str) -> None:
    for i, a in enumerate(arrays):
        if a is None:
            continue
        a = a._data if isinstance(a, Tensor) else a
        xp = namespace(a)
        if is_floating(a.dtype) and not xp.all(xp.isfinite(a)):
            kind = "nan" if xp.any(xp.isnan(a)) else "inf"
            raise RuntimeError(
                f"Anomaly: {node.name()} produced {kind} values in its {what} {i} "
                f"(shape {tuple(a.shape)}).\nThe op was created at:\n{node.created_at()}"
            )


def call(fn: type[Function], *args: Any) -> Any:
    """Run a built-in Function on arrays directly, or through ``apply`` when any argument is a
    Tensor. Backward rules use it for ops that have no NumPy function to dispatch through."""
    for a in args:
        if isinstance(a, Tensor):
            return fn.apply(*args)
    return fn.forward(_no_record(len(args)), *args)


from .tensor import Tensor  # noqa: E402  (Tensor's methods call back into ops built on Function)
