"""Optimizer: the contract every optimizer in ``chainrule.optim`` follows.

An optimizer holds the parameters it changes in ``param_groups`` (a list of dicts: a ``"params"``
list and that group's hyperparameters), its per-parameter buffers in ``state`` (a dict keyed by the
parameter Tensor), and changes the parameters in place when ``step()`` is called. A subclass
states its hyperparameters' valid ranges (``_check_group``) and its update rule for one parameter
(``_update``), written on the arrays; this class does the rest: groups, validation,
``zero_grad``, ``step``, and ``state_dict``/``load_state_dict``.

The update runs on the arrays behind the tensors (``p._data``, ``p.grad._data``) with in-place
operations, so a step builds no graph and allocates little. It is written once for every array
module (NumPy, CuPy, array-api-strict) with the standard's operators and ``_arith``'s functions,
and a parameter's state (momentum buffers, moments) lives on the parameter's device. Each update
bumps the parameter's version counter, so a graph that saved the old value refuses to run
backward.

For a small model a step costs mostly Python's and NumPy's overhead per call, not arithmetic.
SGD and Adam therefore override ``_update_group`` rather than ``_update``: they read a group's
hyperparameters once per step rather than once per parameter, and scale arrays by 0-d arrays
(``as_scalars``) rather than by Python floats, which gives the same results faster.
"""

from __future__ import annotations

import copy
import numbers
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from .. import _arith
from .._memory import keep_memory_for_training
from ..autograd import Tensor, enable_grad, no_grad
from ..backend import device_of, is_array, namespace, ndarray, to_device

#: What an optimizer accepts as ``params``: Tensors, or dicts that each describe a parameter group.
ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]]


def check_hyperparameter(
    name: str,
    value: Any,
    low: float = 0.0,
    high: float | None = None,
    high_inclusive: bool = False,
) -> None:
    """Raise unless ``value`` is a real number in ``[low, high)`` (``[low, high]`` if inclusive).

    Args:
        name: the hyperparameter's name, for the message.
        value: the value to check.
        low: the smallest value allowed.
        high: the bound above, or None for none.
        high_inclusive: whether ``high`` itself is allowed.

    Raises:
        TypeError: ``value`` is not a real number.
        ValueError: ``value`` is out of range (NaN is always out of range).

    Example:
        >>> check_hyperparameter("lr", 0.1)
        >>> check_hyperparameter("momentum", -0.9)
        Traceback (most recent call last):
        ValueError: Invalid momentum: expected a number >= 0.0, got -0.9
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {type(value).__name__} {value!r}")
    below = not value >= low  # written so that NaN fails
    above = high is not None and not (value <= high if high_inclusive else value < high)
    if below or above:
        if high is None:
            want = f"a number >= {low}"
        else:
            want = f"a number in [{low}, {high}{']' if high_inclusive else ')'}"
        raise ValueError(f"Invalid {name}: expected {want}, got {value!r}")


def as_scalars(like: Any, *values: float) -> list[Any]:
    """``values`` as constants to scale arrays of ``like``'s dtype and device with.

    ``a * 0.9`` with a float32 NumPy array ``a`` first turns 0.9 into a float32, on every call; on
    a small array that costs as much as the product itself. A 0-d float32 array holding 0.9 gives
    the same result (both ways multiply by ``float32(0.9)``) without the conversion, so an
    optimizer makes its scalars once per step and uses them for every parameter of that dtype.
    Other array modules get the Python floats, which their arrays convert in the same way.

    Example:
        >>> a = cr.ones(2).numpy()
        >>> lr, beta = as_scalars(a, 0.1, 0.9)
        >>> bool(((a * 0.9) == (a * beta)).all()), (a * lr).dtype
        (True, dtype('float32'))
    """
    return _arith.of(like).scalars(like, *values)


class Optimizer:
    """Base class of all optimizers: parameter groups, ``zero_grad``, ``step``, state dicts.

    Subclasses pass their hyperparameters as ``defaults``, check them in ``_check_group`` and
    implement the update of one parameter in ``_update``.

    Args:
        params: an iterable of Tensors (one group), or of dicts, each a parameter group with a
            ``"params"`` entry (a Tensor or an iterable of them) and any hyperparameters that
            override ``defaults`` for that group.
        defaults: the hyperparameters (``lr``, ...) a group takes when it does not set them.

    Raises:
        TypeError: ``params`` is a single Tensor, a set or a dict, or holds something that is not
            a Tensor.
        ValueError: no parameters, a parameter that does not require grad or is not a leaf, a
            parameter listed twice, or a hyperparameter out of range.

    Example:
        >>> w = cr.randn(3, 2, requires_grad=True)
        >>> b = cr.zeros(2, requires_grad=True)
        >>> opt = cr.optim.SGD([{"params": [w]}, {"params": [b], "lr": 0.01}], lr=0.1)
        >>> [g["lr"] for g in opt.param_groups]
        [0.1, 0.01]
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self.defaults: dict[str, Any] = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self._check_group(self.defaults)
        name = type(self).__name__
        if isinstance(params, (Tensor, dict, set)) or not isinstance(params, Iterable):
            got = "a set" if isinstance(params, set) else type(params).__name__
            raise TypeError(
                f"{name}: params must be an ordered iterable (list, tuple, generator) of Tensors "
                f"or of parameter-group dicts; got {got}. Wrap a single tensor or group in a "
                "list: [w] or [{'params': [w]}]"
            )
        groups = list(params)
        if not groups:
            raise ValueError(
                f"{name} got an empty parameter list: pass the tensors to optimize, e.g. "
                "model.parameters()"
            )
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)
        keep_memory_for_training()  # training starts: malloc keeps a step's arrays (_memory.py)

    # ----- what a subclass provides -----
    def _check_group(self, group: dict[str, Any]) -> None:
        """Raise ValueError if a hyperparameter of ``group`` is out of range."""
        check_hyperparameter("lr", group["lr"])

    def _update(self, p: ndarray, grad: ndarray, state: dict[str, Any], group: dict) -> None:
        """Change the array ``p`` in place, given its gradient, its state and its group."""
        raise NotImplementedError(f"{type(self).__name__} does not implement _update")

    def _update_group(self, group: dict[str, Any], params: list[Tensor]) -> None:
        """Update ``params``, the parameters of ``group`` that have a gradient, in place.

        This calls ``_update`` once per parameter. A subclass may override it instead, to read
        the group's hyperparameters and make its scalars once for all of the group's parameters.
        """
        state = self.state  # a defaultdict: a parameter's first step gets an empty dict
        for p in params:
            self._update(p._data, p._grad._data, state[p], group)

    # ----- parameter groups -----
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters, with hyperparameters that may differ from the defaults.

        Useful when fine-tuning: unfreeze layers and hand them to the optimizer mid-training.

        Args:
            param_group: a dict with ``"params"`` (a Tensor or an iterable of Tensors) and
                optionally hyperparameters (``lr``, ``weight_decay``, ...); missing ones take the
                optimizer's defaults.

        Example:
            >>> opt = cr.optim.SGD([cr.zeros(2, requires_grad=True)], lr=0.1)
            >>> opt.add_param_group({"params": cr.zeros(3, requires_grad=True), "lr": 0.01})
            >>> len(opt.param_groups)
            2
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(
                f"{name}: a parameter group must be a dict with a 'params' entry; got "
                f"{type(param_group).__name__}. Do not mix tensors and dicts in params"
            )
        if "params" not in param_group:
            raise ValueError(
                f"{name}: a parameter group needs a 'params' entry; got keys {sorted(param_group)}"
            )
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, dict)) or not isinstance(params, Iterable):
            raise TypeError(
                f"{name}: a group's 'params' must be a Tensor or an ordered iterable of Tensors; "
                f"got {type(params).__name__} (a set's order changes between runs: use a list)"
            )
        params = list(params)
        if not params:
            raise ValueError(f"{name}: a parameter group has an empty 'params' list")
        seen: set[int] = set()
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{name} can only optimize Tensors, but params[{i}] is "
                    f"{type(p).__name__}; pass model.parameters() or a list of tensors"
                )
            if not p.requires_grad:
                raise ValueError(
                    f"{name}: params[{i}] (shape {tuple(p.shape)}) does not require grad, so it "
                    "never gets a gradient. Create it with requires_grad=True, or leave frozen "
                    "tensors out: [p for p in params if p.requires_grad]"
                )
            if not p.is_leaf:
                raise ValueError(
                    f"{name} can't optimize a non-leaf Tensor (params[{i}] was made by "
                    f"{p.grad_fn!r}); optimize the leaves it was computed from"
                )
            if id(p) in seen:
                raise ValueError(f"{name}: params[{i}] appears twice in one parameter group")
            seen.add(id(p))
        for group in self.param_groups:
            if any(id(q) in seen for q in group["params"]):
                raise ValueError(
                    f"{name}: some parameters appear in more than one parameter group; each "
                    "tensor may belong to one group only"
                )
        group = dict(param_group)
        group["params"] = params
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._check_group(group)
        self.param_groups.append(group)

    # ----- the training step -----
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters before the next backward.

        Args:
            set_to_none: set each ``.grad`` to None (the default: frees memory, and a parameter
                that then gets no gradient is skipped by ``step``); if False, fill the existing
                gradient tensors with zeros in place.

        Example:
            >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
            >>> opt = cr.optim.SGD([w], lr=0.1)
            >>> (w * w).sum().backward()
            >>> opt.zero_grad()
            >>> w.grad is None
            True
        """
        for group in self.param_groups:
            for p in group["params"]:
                g = p._grad
                if g is None:
                    continue
                if set_to_none:
                    p._grad = None
                    continue
                if g.requires_grad or not _zeroed(g._data):
                    # a gradient recorded with create_graph (cut it loose), or a read-only view
                    # such as a broadcast: a new array of zeros, on its device
                    p._grad = Tensor._make(namespace(g._data).zeros_like(g._data))
                    continue
                g._version += 1

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient, once.

        Parameters whose ``.grad`` is None are skipped (their state is left alone).

        Args:
            closure: optional; a function that clears the gradients, recomputes the loss, calls
                ``backward()`` and returns the loss. It runs with gradient recording on.

        Returns:
            What ``closure`` returned, or None without one.

        Example:
            >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
            >>> opt = cr.optim.SGD([w], lr=0.5)
            >>> (w * w).sum().backward()   # grad = 2 w
            >>> opt.step()                  # w -= 0.5 * 2 w
            >>> w
            tensor([0., 0.], dtype=float32, requires_grad=True)
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        self._update_all()
        return loss

    @no_grad()  # a decorator costs less per call than a `with no_grad():` block
    def _update_all(self) -> None:
        for group in self.param_groups:
            params = [p for p in group["params"] if p._grad is not None]
            self._update_group(group, params)
            for p in params:  # so that a graph that saved an old value refuses to run backward:
                p._vc[0] += 1  # p._version += 1, without the cost of the property

    # ----- saving and resuming -----
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state as plain data, to save and later resume from.

        The layout is PyTorch's: ``{"state": {index: {name: value}}, "param_groups":
        [{..., "params": [index, ...]}]}``, where parameters are numbered in the order of the
        groups. Values are ints, floats, bools, strings, tuples, lists, dicts and arrays on
        their parameters' devices (NumPy arrays on the CPU; copies: later steps do not change
        them), never Tensors, so the dict can go to an npz or safetensors file.

        Returns:
            The state dict.

        Example:
            >>> w = cr.zeros(2, requires_grad=True)
            >>> opt = cr.optim.SGD([w], lr=0.1, momentum=0.9)
            >>> w.grad = cr.ones(2)
            >>> opt.step()
            >>> sd = opt.state_dict()
            >>> sd["state"][0]["momentum_buffer"]
            array([1., 1.], dtype=float32)
            >>> sd["param_groups"][0]["params"]
            [0]
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                p_state = self.state.get(p)
                if p_state:
                    state[index[id(p)]] = {
                        k: namespace(v).asarray(v, copy=True) if is_array(v) else copy.deepcopy(v)
                        for k, v in p_state.items()
                    }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Resume from a state dict made by ``state_dict()`` of the same kind of optimizer.

        The parameters stay this optimizer's own; their groups' hyperparameters and their buffers
        are taken (copied) from ``state_dict``, each buffer onto its parameter's device and into
        its dtype (as PyTorch casts them), from whichever device it was saved on. Everything is
        checked before anything changes.

        Args:
            state_dict: ``{"state": ..., "param_groups": ...}`` as ``state_dict()`` returns it
                (state keys may be ints or strings of ints, as after a round trip through JSON).

        Raises:
            ValueError: the number of groups, of parameters in a group, or a buffer's shape does
                not match, or a hyperparameter is missing or out of range.

        Example:
            >>> w = cr.zeros(2, requires_grad=True)
            >>> opt = cr.optim.Adam([w], lr=0.1)
            >>> saved = opt.state_dict()
            >>> opt.load_state_dict(saved)
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            got = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(
                f"{name}.load_state_dict expects a dict with 'state' and 'param_groups' (what "
                f"state_dict() returns); got {got}"
            )
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: the state dict has {len(saved_groups)} parameter "
                f"groups, this optimizer has {len(self.param_groups)}"
            )
        by_index: dict[int, Tensor] = {}
        new_groups = []
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            n_saved, n_own = len(saved.get("params", ())), len(group["params"])
            if n_saved != n_own:
                raise ValueError(
                    f"{name}.load_state_dict: parameter group {i} has {n_saved} parameters in "
                    f"the state dict but {n_own} in this optimizer"
                )
            missing = sorted(set(self.defaults) - set(saved))
            if missing:
                raise ValueError(
                    f"{name}.load_state_dict: parameter group {i} lacks the hyperparameters "
                    f"{missing}; was the state dict saved by another kind of optimizer?"
                )
            for j, p in zip(saved["params"], group["params"]):
                by_index[int(j)] = p
            new = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            new["params"] = group["params"]
            self._check_group(new)
            new_groups.append(new)
        new_state: dict[Tensor, dict[str, Any]] = {}
        for key, saved in state_dict["state"].items():
            p = by_index.get(int(key))
            if p is None:
                raise ValueError(
                    f"{name}.load_state_dict: the state dict has state for parameter {key}, "
                    f"which no parameter group lists (indices 0 to {len(by_index) - 1})"
                )
            p_state = {}
            for k, v in saved.items():
                if isinstance(v, Tensor):
                    v = v._data
                if k == "step" and is_array(v):  # the one count; every other array is a buffer
                    v = _python_number(v)
                elif is_array(v):
                    if v.shape != p.shape:
                        raise ValueError(
                            f"{name}.load_state_dict: state {k!r} of parameter {key} has shape "
                            f"{tuple(v.shape)}, but the parameter has shape {tuple(p.shape)}"
                        )
                    v = _on_parameter(v, p._data)
                else:
                    v = copy.deepcopy(v)
                p_state[k] = v
            new_state[p] = p_state
        self.param_groups[:] = new_groups
        self.state = defaultdict(dict, new_state)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


def _zeroed(a: Any) -> bool:
    """Fill array ``a`` with zeros in place (what ``zero_()`` does, without its checks); False,
    leaving it as it is, when ``a`` is read-only (a broadcast view)."""
    if type(a) is ndarray and not a.flags.writeable:
        return False
    try:
        a[...] = 0
    except ValueError:  # array-api-strict's read-only views refuse only when written
        return False
    return True


def _on_parameter(v: Any, w: Any) -> Any:
    """A copy of array ``v`` on array ``w``'s device, in its dtype."""
    moved = to_device(v, device_of(w))
    return namespace(w).astype(moved, w.dtype, copy=moved is v)


def _python_number(v: Any) -> int | float | bool:
    """A 0-d array's value as a Python number (a step count saved as an array)."""
    xp = namespace(v)
    if xp.isdtype(v.dtype, "bool"):
        return bool(v)
    return int(v) if xp.isdtype(v.dtype, "integral") else float(v)
