"""Module: the building block of networks, holding parameters and sub-modules.

As in PyTorch, assigning a ``Parameter`` or a ``Module`` to an attribute registers it, so that
``parameters()``, ``state_dict()`` and ``train()/eval()`` reach it. State-dict keys are PyTorch's
(``0.weight``, ``layers.2.bias``), so weights move between the two libraries by name.

Once ``__init__`` has returned, assigning an attribute that the module does not have fails
(``model.trainig = False`` is a typo, not a new setting), and so does reading one.
"""

from __future__ import annotations

import difflib
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from .. import dtypes
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import RemovableHandle, Tensor, cuda_device, to_args, to_array
from ..backend import is_floating, namespace
from . import hooks


class Parameter(Tensor):
    """A Tensor that a Module registers as learnable; it requires grad by default.

    Args:
        data: the initial values (a Tensor, whose memory is shared, or anything ``cr.tensor``
            takes).
        requires_grad: whether the optimizer should train it.

    Example:
        >>> w = cr.nn.Parameter(cr.zeros(3, 2))
        >>> w.requires_grad
        True
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = []
        self._init_slots(data._data if isinstance(data, Tensor) else to_array(data))
        self.requires_grad_(requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class _ModuleMeta(type):
    """Marks a module as built once its ``__init__`` has returned (see ``Module.__setattr__``)."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        module = super().__call__(*args, **kwargs)
        object.__setattr__(module, "_built", True)
        return module


class Module(metaclass=_ModuleMeta):
    """Base class of every layer and network: subclass it, assign layers in ``__init__``, and
    write ``forward``.

    Example:
        >>> class TwoLayer(cr.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.fc1 = cr.nn.Linear(3072, 100)
        ...         self.fc2 = cr.nn.Linear(100, 10)
        ...     def forward(self, x):
        ...         return self.fc2(self.fc1(x).relu())
        >>> [name for name, _ in TwoLayer().named_parameters()]
        ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']
    """

    _built = False
    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    #: The module's hooks (``hooks.Hooks``), made by the first ``register_*_hook``.
    _hooks: hooks.Hooks | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._hooks is None:
            return self.forward(*args, **kwargs)
        return hooks.call(self, self._hooks, args, kwargs)

    # ----- hooks -----
    def _hook_lists(self) -> hooks.Hooks:
        if self._hooks is None:
            object.__setattr__(self, "_hooks", hooks.Hooks())
        return self._hooks

    def register_forward_pre_hook(
        self, hook: Callable[..., Any], *, prepend: bool = False, with_kwargs: bool = False
    ) -> RemovableHandle:
        """Call ``hook(module, args)`` before each forward; a returned value (a tuple, or one
        value) replaces the positional arguments. With ``with_kwargs``: ``hook(module, args,
        kwargs)``, returning None or ``(args, kwargs)``. ``prepend``: run it before the hooks
        already registered. Returns a handle whose ``remove()`` takes it away."""
        lists = self._hook_lists()
        entry = hooks.register(lists.forward_pre, hook, prepend, with_kwargs)
        return RemovableHandle((lists.forward_pre,), entry)

    def register_forward_hook(
        self,
        hook: Callable[..., Any],
        *,
        prepend: bool = False,
        with_kwargs: bool = False,
        always_call: bool = False,
    ) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after each forward (the activations of a layer,
        as they are computed); a returned value replaces the output. With ``with_kwargs``:
        ``hook(module, args, kwargs, output)``. ``always_call``: call it also when forward
        raises (with output None). Returns a handle whose ``remove()`` takes it away.

        Example:
            >>> seen = {}
            >>> h = model[0].register_forward_hook(lambda m, args, out: seen.update(x=out))
            >>> _ = model(x); h.remove()
        """
        lists = self._hook_lists()
        entry = hooks.register(lists.forward, hook, prepend, with_kwargs)
        if always_call:
            lists.always.append(entry)
        return RemovableHandle((lists.forward, lists.always), entry)

    def register_full_backward_pre_hook(
        self, hook: Callable[..., Any], prepend: bool = False
    ) -> RemovableHandle:
        """Call ``hook(module, grad_output)`` when the gradients of the module's outputs are
        computed, before those of its inputs; a returned tuple replaces ``grad_output``."""
        lists = self._hook_lists()
        entry = hooks.register(lists.backward_pre, hook, prepend)
        return RemovableHandle((lists.backward_pre,), entry)

    def register_full_backward_hook(
        self, hook: Callable[..., Any], prepend: bool = False
    ) -> RemovableHandle:
        """Call ``hook(module, grad_input, grad_output)`` when the gradients of the module's
        inputs are computed: ``grad_input`` holds one per positional argument of forward (None
        for those that need none), ``grad_output`` one per output. A returned tuple replaces
        ``grad_input``. The upstream gradient and the downstream one of the lecture, at a layer.
        """
        lists = self._hook_lists()
        entry = hooks.register(lists.backward, hook, prepend)
        return RemovableHandle((lists.backward,), entry)

    # ----- registration -----
    def _registry(self) -> tuple[dict, dict, dict]:
        try:
            d = self.__dict__
            return d["_parameters"], d["_buffers"], d["_modules"]
        except KeyError:
            raise AttributeError(
                f"{type(self).__name__}: call super().__init__() before assigning attributes"
            ) from None

    def __setattr__(self, name: str, value: Any) -> None:
        params, buffers, modules = self._registry()
        if isinstance(value, Parameter):
            self._forget(name, params)
            params[name] = value
        elif isinstance(value, Module):
            self._forget(name, modules)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} to parameter {name!r} of "
                    f"{type(self).__name__}: expected a cr.nn.Parameter or None"
                )
            params[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} to sub-module {name!r}: expected a "
                    "Module or None"
                )
            modules[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign {type(value).__name__} to buffer {name!r}: expected a Tensor "
                    "or None"
                )
            buffers[name] = value
        else:
            if self._built and not hasattr(self, name):
                raise AttributeError(
                    self._unknown(name, "has no attribute")
                    + "; new attributes can only be added in __init__"
                )
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        # only called when normal look-up fails: parameters, buffers and sub-modules live in dicts
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            found = d.get(registry)
            if found is not None and name in found:
                return found[name]
        raise AttributeError(self._unknown(name, "has no attribute"))

    def __delattr__(self, name: str) -> None:
        params, buffers, modules = self._registry()
        for registry in (params, buffers, modules):
            if name in registry:
                del registry[name]
                return
        object.__delattr__(self, name)

    def _forget(self, name: str, keep: dict | None = None) -> None:
        """Remove ``name`` from the registries other than ``keep`` and from the attributes, as
        PyTorch does before registering it: a name registered again in ``keep`` keeps its place
        there, so re-assigning or tying a parameter does not reorder ``parameters()``."""
        for registry in self._registry():
            if registry is not keep:
                registry.pop(name, None)
        self.__dict__.pop(name, None)
        self._non_persistent.discard(name)

    def _unknown(self, name: str, what: str) -> str:
        known = list(self.__dict__) + list(vars(type(self)))
        for registry in self._registry():
            known += list(registry)
        close = difflib.get_close_matches(name, [k for k in known if not k.startswith("_")], 1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"{type(self).__name__!r} object {what} {name!r}{hint}"

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or a None placeholder) under ``name``."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: expected a Parameter; got {type(param).__name__}")
        params = self._registry()[0]
        self._forget(name, params)
        params[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register a tensor that is state but not a parameter (e.g. BatchNorm's running mean).

        Persistent buffers are part of ``state_dict()``.
        """
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: expected a Tensor; got {type(tensor).__name__}")
        buffers = self._registry()[1]
        self._forget(name, buffers)
        buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register a sub-module under ``name``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: expected a Module; got {type(module).__name__}")
        modules = self._registry()[2]
        self._forget(name, modules)
        modules[name] = module

    register_module = add_module

    # ----- traversal -----
    def named_modules(
        self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """This module and every sub-module, with dotted names, each once, as PyTorch's:
        ``memo``, a set of modules to leave out, gets those yielded; ``remove_duplicate=False``
        yields a module held under two names under each."""
        seen: set = set() if memo is None else memo
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if remove_duplicate:
                if module in seen:
                    continue
                seen.add(module)
            yield name, module
            children = [(k, m) for k, m in module._modules.items() if m is not None]
            for k, m in reversed(children):
                stack.append((f"{name}.{k}" if name else k, m))

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct sub-modules with their names, each once (a module held under two names
        comes under the first), as PyTorch's."""
        seen: set[int] = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def get_submodule(self, target: str) -> Module:
        """The sub-module at dotted path ``target`` ("" is this module), as PyTorch's:
        ``model.get_submodule("seq.0")``."""
        module = self
        walked = []
        for name in target.split(".") if target else []:
            child = module._modules.get(name)
            if child is None:
                where = ".".join(walked) or type(self).__name__
                raise AttributeError(
                    f"get_submodule: {where} has no sub-module {name!r} (its sub-modules: "
                    f"{', '.join(module._modules) or 'none'})"
                )
            module = child
            walked.append(name)
        return module

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named(self, registry: str, prefix: str, recurse: bool) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mod_name, module in modules:
            for name, t in getattr(module, registry).items():
                if t is None or id(t) in seen:
                    continue
                seen.add(id(t))
                yield (f"{mod_name}.{name}" if mod_name else name), t

    def named_parameters(
        self, prefix: str = "", recurse: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """Every parameter with its dotted name (each shared parameter once)."""
        return self._named("_parameters", prefix, recurse)  # type: ignore[return-value]

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter, for an optimizer: ``cr.optim.SGD(model.parameters(), lr=0.1)``."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ----- modes and gradients -----
    def train(self, mode: bool = True) -> Module:
        """Training mode (Dropout drops, BatchNorm uses batch statistics); returns self."""
        if not isinstance(mode, bool):
            raise TypeError(f"train: mode must be a bool; got {type(mode).__name__}")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Switch gradients on or off for every parameter (e.g. to freeze a layer)."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient (to None, or to zeros in place)."""
        for p in self.parameters():
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    with no_grad():
                        p.grad.zero_()

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call ``fn`` on every sub-module, then on this one (e.g. to initialise weights)."""
        for m in list(self.children()):
            m.apply(fn)
        fn(self)
        return self

    # ----- devices and dtypes -----
    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Move the parameters and buffers to a device, convert the floating ones to a dtype, or
        both, in place: ``model.to("cuda")``, ``model.to(cr.float64)``, ``model.to(device=d)``.

        The Parameter objects stay the same (their values and gradients move), so an optimizer
        built earlier keeps working, as in PyTorch. Returns the module.
        """
        where, dtype, _ = to_args(args, kwargs)
        d = dtypes.to_dtype(dtype) if dtype is not None else None
        if d is not None and d.kind != "f":
            raise TypeError(f"Module.to: expected a floating dtype; got {d}")
        for t in list(self.parameters()) + list(self.buffers()):
            _move(t, where, d if is_floating(t.dtype) else None)
        return self

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self, device: Any = None) -> Module:
        return self.to(cuda_device(device))

    def double(self) -> Module:
        return self.to(dtypes.float64)

    def float(self) -> Module:
        return self.to(dtypes.float32)

    # ----- state -----
    def state_dict(self, prefix: str = "", keep_vars: bool = False) -> OrderedDict[str, Tensor]:
        """Every parameter and persistent buffer by dotted name, in registration order.

        The values share memory with the module (detached, unless ``keep_vars``).
        """
        out: OrderedDict[str, Tensor] = OrderedDict()
        self._state_into(out, prefix, keep_vars)
        return out

    def _state_into(self, out: dict, prefix: str, keep_vars: bool) -> None:
        """``state_dict``'s walk: every module under every name it is held by, as PyTorch's (a
        module shared by two attributes gives both names' keys, so that either loads)."""
        for name, p in self._parameters.items():
            if p is not None:
                out[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent:
                out[prefix + name] = b if keep_vars else b.detach()
        for name, m in self._modules.items():
            if m is not None:
                m._state_into(out, f"{prefix}{name}.", keep_vars)

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True
    ) -> IncompatibleKeys:
        """Copy values into the parameters and buffers, by name.

        Args:
            state_dict: name -> Tensor or array, as ``state_dict()`` (or PyTorch) gives.
            strict: require exactly the module's keys.

        Returns:
            ``(missing_keys, unexpected_keys)``.

        Raises:
            RuntimeError: listing, in one message, every missing key, every unexpected key (with
                ``strict``) and every shape mismatch. Nothing is copied when it raises.
        """
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        problems = []
        values = {}
        for k, target in own.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            arr = v._data if isinstance(v, Tensor) else to_array(v, copy=False)
            if target.shape == () and arr.shape == (1,):
                # cr.save before 2026-12-07 stored a 0-d tensor (BatchNorm's num_batches_tracked)
                # with shape (1,): its one value, so that such files still load
                arr = namespace(arr).reshape(arr, ())
            if arr.shape != target.shape:
                problems.append(
                    f"size mismatch for {k}: the checkpoint has shape {tuple(arr.shape)}, the "
                    f"module has {tuple(target.shape)}"
                )
            values[k] = arr
        if strict:
            if missing:
                problems.insert(0, "Missing key(s): " + ", ".join(repr(k) for k in missing))
            if unexpected:
                problems.insert(
                    1 if missing else 0,
                    "Unexpected key(s): " + ", ".join(repr(k) for k in unexpected),
                )
        if problems:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n  "
                + "\n  ".join(problems)
            )
        with no_grad():
            for k, arr in values.items():
                own[k].copy_(Tensor._make(arr))  # from any device, into the module's
        return IncompatibleKeys(missing, unexpected)

    # ----- display -----
    def extra_repr(self) -> str:
        """The text inside this module's parentheses in ``repr`` (layer sizes, options)."""
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, m in self._modules.items():
            body = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {body}")
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        head = f"{type(self).__name__}({extra}" if extra else f"{type(self).__name__}("
        return head + "\n  " + "\n  ".join(lines) + "\n)"

    def __dir__(self) -> list[str]:
        keys = set(super().__dir__())
        for registry in self._registry():
            keys.update(registry)
        return sorted(keys)


class _Numbered(Module):
    """What Sequential and ModuleList share: children named "0", "1", ..., renumbered after a
    deletion or an insertion, as PyTorch's."""

    def __setitem__(self, idx: int, module: Module) -> None:
        key = list(self._modules)[_index(idx, len(self), type(self).__name__)]
        self.add_module(key, module)

    def __delitem__(self, idx: int | slice) -> None:
        items = list(self._modules.values())
        if isinstance(idx, slice):
            del items[idx]
        else:
            del items[_index(idx, len(items), type(self).__name__)]
        _renumber(self, items)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> Any:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> Any:
        for m in list(modules):
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        items = list(self._modules.values())
        items.insert(index, module)
        _renumber(self, items)

    def pop(self, key: int | slice) -> Any:
        """Remove and return the module at index ``key`` (the modules, for a slice)."""
        out = self[key]
        del self[key]
        return out


def _renumber(module: Module, items: list) -> None:
    module._modules.clear()
    for i, m in enumerate(items):
        module.add_module(str(i), m)


def _times(n: Any) -> int:
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise TypeError(f"a container of modules repeats a non-negative int of times; got {n!r}")
    return n


def _index(idx: int, n: int, who: str) -> int:
    if not -n <= idx < n:
        raise IndexError(f"{who}: index {idx} is out of range for {n} modules")
    return idx % n


class Sequential(_Numbered):
    """Modules applied one after the other; ``Sequential(Linear(3072, 100), ReLU(), ...)``.

    Children are named "0", "1", ... (or by the keys of an OrderedDict), as in PyTorch.
    """

    def __init__(self, *args: Any) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, m in args[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(args):
                if not isinstance(m, Module):
                    raise TypeError(
                        f"Sequential: argument {i} is a {type(m).__name__}, not a Module"
                    )
                self.add_module(str(i), m)

    def forward(self, input: Any) -> Any:
        for m in self._modules.values():
            input = m(input)
        return input

    def __getitem__(self, idx: int | slice) -> Any:
        items = list(self._modules.items())
        if isinstance(idx, slice):
            return Sequential(OrderedDict(items[idx]))
        return items[_index(idx, len(items), "Sequential")][1]

    def __add__(self, other: Sequential) -> Sequential:
        if not isinstance(other, Sequential):
            raise TypeError(f"Sequential + {type(other).__name__}: expected a Sequential")
        return Sequential(*self, *other)

    def __iadd__(self, other: Sequential) -> Sequential:
        if not isinstance(other, Sequential):
            raise TypeError(f"Sequential += {type(other).__name__}: expected a Sequential")
        return self.extend(other)

    def extend(self, sequential: Iterable[Module]) -> Sequential:
        return super().extend(sequential)

    def __mul__(self, times: int) -> Sequential:
        return Sequential(*(list(self) * _times(times)))

    __rmul__ = __mul__

    def __imul__(self, times: int) -> Sequential:
        _renumber(self, list(self) * _times(times))
        return self


class ModuleList(_Numbered):
    """A list of modules, registered so that their parameters are found."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx: int | slice) -> Any:
        items = list(self._modules.values())
        if isinstance(idx, slice):
            return ModuleList(items[idx])
        return items[_index(idx, len(items), "ModuleList")]

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        return ModuleList([*self, *other])

    def __iadd__(self, other: Iterable[Module]) -> ModuleList:
        return self.extend(other)


class ModuleDict(Module):
    """A dict of modules by name, registered so that their parameters are found."""

    def __init__(self, modules: Mapping[str, Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            for k, m in modules.items():
                self[k] = m

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def keys(self) -> Iterable[str]:
        return self._modules.keys()

    def values(self) -> Iterable[Module]:
        return self._modules.values()

    def items(self) -> Iterable[tuple[str, Module]]:
        return self._modules.items()

    def clear(self) -> None:
        self._modules.clear()

    def pop(self, key: str) -> Module:
        """Remove the module under ``key`` and return it."""
        out = self[key]
        del self[key]
        return out

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add (or replace) modules from a mapping or from (name, module) pairs."""
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for k, m in pairs:
            self[k] = m


def _move(t: Tensor, where: Any, dtype: Any) -> None:
    """Put tensor ``t``'s values (and gradient) on device ``where`` as ``dtype``, in place
    (either None: unchanged)."""
    moved = t.detach().to(*(a for a in (where, dtype) if a is not None))
    if moved._data is t._data:
        return
    t._data = moved._data
    t._version += 1
    if t.grad is not None:
        t.grad = t.grad.to(*(a for a in (where, dtype) if a is not None))
