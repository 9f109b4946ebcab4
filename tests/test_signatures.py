"""PyTorch's argument orders and defaults, checked against PyTorch's own signatures.

Users arrive knowing PyTorch and pass arguments by position: ``SGD(params, 0.1, 0.9, 0, 1e-4)``
is a weight decay of 1e-4 there. A chainrule function, class or method with a PyTorch twin must
take its positional arguments in the same order (the first ones both have), and a default both
give must be the same; otherwise the same call means something else, silently. SGD put
``nesterov`` before ``weight_decay``, so that call turned Nesterov on and the decay off; and
``F.softmax(x)`` took the last axis where PyTorch takes its implicit one (the first, for 3-d
input). The twins are found by name; PyTorch's C functions, which have no Python signature, are
skipped.
"""

import inspect

import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
#: differences in a parameter's name only, where the order is the same (a call by position
#: means the same): chainrule's names, which say what the argument is in chainrule
NAMES_ONLY = {
    "cr.compile",  # a step function or a module: fn (PyTorch: model)
    "cr.save",  # safetensors of a state dict to a path; PyTorch pickles any object
    "cr.load",
    "cr.set_default_dtype",  # dtype (PyTorch: d)
    "cr.set_rng_state",  # rng_state (PyTorch: new_state)
    "Tensor.split",  # split_size_or_sections, as torch.split names it (the method: split_size)
}
#: defaults that say the same thing otherwise
SAME_DEFAULT = {
    # None: chainrule's default generator as it is at the call (cr.manual_seed replaces it);
    # PyTorch's default is its default generator object
    ("data.random_split", "generator"),
}


def _twins():
    import torch.nn.functional as tf

    pairs = []
    functions = [
        ("F", cr.nn.functional, tf),
        ("nn.init", cr.nn.init, torch.nn.init),
        ("nn.utils", cr.nn.utils, torch.nn.utils),
        ("data", cr.data, torch.utils.data),
    ]
    for prefix, ours, theirs in functions:
        for name in dir(ours):
            c, t = getattr(ours, name), getattr(theirs, name, None)
            if not name.startswith("_") and callable(c) and callable(t):
                pairs.append((f"{prefix}.{name}", c, t))
    classes = [
        ("nn", cr.nn, torch.nn),
        ("optim", cr.optim, torch.optim),
        ("lr_scheduler", cr.optim.lr_scheduler, torch.optim.lr_scheduler),
        ("data", cr.data, torch.utils.data),
    ]
    for prefix, ours, theirs in classes:
        for name in dir(ours):
            c, t = getattr(ours, name), getattr(theirs, name, None)
            if isinstance(c, type) and isinstance(t, type):
                pairs.append((f"{prefix}.{name}", c.__init__, t.__init__))
    for name in dir(cr):
        c, t = getattr(cr, name), getattr(torch, name, None)
        if not name.startswith("_") and callable(c) and callable(t) and not isinstance(c, type):
            pairs.append((f"cr.{name}", c, t))
    methods = [
        ("Tensor", cr.Tensor, torch.Tensor),
        ("nn.Module", cr.nn.Module, torch.nn.Module),
        ("nn.Sequential", cr.nn.Sequential, torch.nn.Sequential),
        ("nn.ModuleList", cr.nn.ModuleList, torch.nn.ModuleList),
        ("nn.ModuleDict", cr.nn.ModuleDict, torch.nn.ModuleDict),
        ("optim.Optimizer", cr.optim.Optimizer, torch.optim.Optimizer),
    ]
    for prefix, ours, theirs in methods:
        for name in dir(ours):
            c, t = getattr(ours, name), getattr(theirs, name, None)
            if not name.startswith("_") and callable(c) and callable(t):
                pairs.append((f"{prefix}.{name}", c, t))
    return pairs


def _signature(f):
    try:
        return inspect.signature(f)
    except (TypeError, ValueError):  # a C function: no signature to compare
        return None


def test_positional_arguments_and_defaults_follow_pytorch():
    compared, problems = 0, []
    for name, ours, theirs in _twins():
        a, b = _signature(ours), _signature(theirs)
        if a is None or b is None:
            continue
        compared += 1
        mine = [p.name for p in a.parameters.values() if p.kind in POSITIONAL]
        torchs = [p.name for p in b.parameters.values() if p.kind in POSITIONAL]
        if name.startswith("Tensor.") and mine[:1] == ["input"] and torchs[:1] == ["self"]:
            torchs[0] = "input"  # a Tensor method's self is the function's input
        n = min(len(mine), len(torchs))
        if mine[:n] != torchs[:n] and name not in NAMES_ONLY:
            problems.append(f"{name}: positional {mine[:n]}, PyTorch's {torchs[:n]}")
        for p in a.parameters.values():
            q = b.parameters.get(p.name)
            if q is None or p.default is inspect.Parameter.empty:
                continue
            if q.default is inspect.Parameter.empty or (name, p.name) in SAME_DEFAULT:
                continue
            if (p.default is None) != (q.default is None) or p.default != q.default:
                problems.append(f"{name}({p.name}=): {p.default!r}, PyTorch's {q.default!r}")
    assert compared > 60, f"only {compared} twins compared"
    assert not problems, "\n".join(problems)
