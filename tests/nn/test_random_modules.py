"""Random layer configurations against PyTorch: normalization and pooling layers with state.

Each case draws a layer (BatchNorm1d/2d, LayerNorm, MaxPool2d, AvgPool2d, Conv2d) and random
constructor options in their valid ranges (``momentum=None``, no affine, no running statistics,
ceil mode, padding, "same", dilation, groups, a divisor ...), then runs it beside PyTorch's for
a few training steps on random inputs with random upstream gradients, then once in evaluation:
outputs, the input's gradient, the parameters' gradients and every buffer must equal PyTorch's
(float64).

``CHAINRULE_MODULE_CASES`` sets how many cases run (``CHAINRULE_PROGRAM_SEED`` their seed).
"""

import os

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")

CASES = int(os.environ.get("CHAINRULE_MODULE_CASES", "150"))
SEED = int(os.environ.get("CHAINRULE_PROGRAM_SEED", "0"))
KINDS = ["BatchNorm1d", "BatchNorm2d", "LayerNorm", "MaxPool2d", "AvgPool2d", "Conv2d"]


def _pair(rng: np.random.Generator, low: int, high: int) -> int | tuple[int, int]:
    a, b = (int(v) for v in rng.integers(low, high + 1, size=2))
    return a if rng.random() < 0.5 else (a, b)


def _both(v: int | tuple[int, int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else v


def _plan(rng: np.random.Generator) -> dict:
    kind = str(rng.choice(KINDS))
    n = int(rng.integers(1, 5))
    kw: dict = {}
    if kind.startswith("BatchNorm"):
        c = int(rng.integers(1, 4))
        kw["eps"] = float(10 ** rng.uniform(-6, -1))
        kw["momentum"] = None if rng.random() < 0.3 else float(rng.uniform(0.0, 1.0))
        kw["affine"] = bool(rng.random() < 0.7)
        kw["track_running_stats"] = bool(rng.random() < 0.7)
        if kind == "BatchNorm1d":  # (N, C) or (N, C, L)
            rest = (int(rng.integers(1, 5)),) if rng.random() < 0.5 else ()
        else:
            rest = tuple(int(v) for v in rng.integers(1, 4, size=2))
        if n * int(np.prod(rest, dtype=int)) < 2:  # PyTorch refuses one value per channel
            n = 2
        args, shape = (c,), (n, c, *rest)
    elif kind == "Conv2d":
        groups = int(rng.choice([1, 1, 2, 3]))
        cin, cout = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
        kernel, dilation = _pair(rng, 1, 3), _pair(rng, 1, 2)
        (kh, kw_), (dh, dw) = _both(kernel), _both(dilation)
        kw["dilation"], kw["groups"], kw["bias"] = dilation, groups, bool(rng.random() < 0.7)
        if rng.random() < 0.3:
            kw["padding"] = str(rng.choice(["same", "valid"]))
        else:
            kw["stride"] = _pair(rng, 1, 3)
            kw["padding"] = _pair(rng, 0, 2)
        # big enough for one window without padding ("valid")
        h = int(rng.integers(dh * (kh - 1) + 1, dh * (kh - 1) + 7))
        w = int(rng.integers(dw * (kw_ - 1) + 1, dw * (kw_ - 1) + 7))
        args, shape = (cin, cout, kernel), (n, cin, h, w)
    elif kind == "LayerNorm":
        shape = tuple(int(v) for v in rng.integers(1, 5, size=int(rng.integers(1, 4))))
        k = int(rng.integers(1, len(shape) + 1))
        normalized = shape[-k:]
        args = (int(normalized[0]),) if k == 1 and rng.random() < 0.5 else (list(normalized),)
        kw["eps"] = float(10 ** rng.uniform(-6, -1))
        kw["elementwise_affine"] = bool(rng.random() < 0.7)
        kw["bias"] = bool(rng.random() < 0.7)
        shape = (n, *shape)
    else:
        kernel = _pair(rng, 1, 3)
        kh, kw_ = _both(kernel)
        stride = None if rng.random() < 0.3 else _pair(rng, 1, 3)
        padding = (int(rng.integers(0, kh // 2 + 1)), int(rng.integers(0, kw_ // 2 + 1)))
        kw["padding"] = padding if rng.random() < 0.5 else min(padding)
        kw["ceil_mode"] = bool(rng.random() < 0.4)
        if stride is not None:
            kw["stride"] = stride
        dh, dw = 1, 1
        if kind == "MaxPool2d" and rng.random() < 0.4:
            kw["dilation"] = _pair(rng, 1, 2)
            dh, dw = _both(kw["dilation"])
        if kind == "AvgPool2d":
            kw["count_include_pad"] = bool(rng.random() < 0.5)
            if rng.random() < 0.25:
                kw["divisor_override"] = int(rng.integers(1, 5))
        # big enough for at least one window
        h = int(rng.integers(dh * (kh - 1) + 1, dh * (kh - 1) + 6))
        w = int(rng.integers(dw * (kw_ - 1) + 1, dw * (kw_ - 1) + 6))
        args, shape = (kernel,), (n, int(rng.integers(1, 3)), h, w)
    return {"kind": kind, "args": args, "kwargs": kw, "shape": shape}


def _state(m) -> dict:
    """A layer's state dict (chainrule's or PyTorch's) as NumPy arrays."""
    return {k: v.numpy() for k, v in m.state_dict().items()}


@pytest.mark.parametrize("case", range(CASES))
def test_random_layers_match_pytorch(case):
    rng = np.random.default_rng([SEED, case])
    plan = _plan(rng)
    what = f"{plan['kind']}{plan['args']} {plan['kwargs']} on {plan['shape']}"
    ours = getattr(nn, plan["kind"])(*plan["args"], **plan["kwargs"]).double()
    theirs = getattr(torch.nn, plan["kind"])(*plan["args"], **plan["kwargs"]).double()
    params = dict(ours.named_parameters())
    with torch.no_grad():  # the same random weight and bias on both sides
        for name, p in theirs.named_parameters():
            value = rng.standard_normal(tuple(p.shape))
            p.copy_(torch.from_numpy(value))
            params[name]._data[...] = value
    assert sorted(params) == sorted(dict(theirs.named_parameters())), what
    for step in range(4):
        if step == 3:
            ours.eval()
            theirs.eval()
        x = rng.standard_normal(plan["shape"]) * rng.uniform(0.5, 3) + rng.uniform(-2, 2)
        xo, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        yo, yt = ours(xo), theirs(xt)
        at = f"{what}, step {step + 1}"
        np.testing.assert_allclose(
            yo.detach().numpy(), yt.detach().numpy(), 1e-10, 1e-10, err_msg=at
        )
        g = rng.standard_normal(tuple(yt.shape))
        yo.backward(cr.tensor(g))
        yt.backward(torch.tensor(g))
        np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), 1e-9, 1e-10, err_msg=at)
        for name, p in theirs.named_parameters():
            np.testing.assert_allclose(
                params[name].grad.numpy(), p.grad.numpy(), 1e-9, 1e-10, err_msg=f"{at}: {name}.grad"
            )
            params[name].grad, p.grad = None, None
        mine, expected = _state(ours), _state(theirs)
        assert sorted(mine) == sorted(expected), at
        for k, v in expected.items():
            assert mine[k].dtype == v.dtype, f"{at}: {k}"
            np.testing.assert_allclose(mine[k], v, 1e-12, 1e-12, err_msg=f"{at}: {k}")


def test_the_cases_reach_each_layer_and_option():
    """The premise: each layer, with its options that change the numbers both ways."""
    seen: set = set()
    for case in range(CASES):
        plan = _plan(np.random.default_rng([SEED, case]))
        kind, kw = plan["kind"], plan["kwargs"]
        seen.add(kind)
        for key in ("affine", "track_running_stats", "ceil_mode", "count_include_pad", "bias"):
            if key in kw:
                seen.add(f"{kind}.{key}={kw[key]}")
        seen |= {f"{kind}.{key}" for key in ("dilation", "divisor_override") if key in kw}
        if kind == "Conv2d":
            seen.add(f"Conv2d.groups={kw['groups']}")
            seen.add(f"Conv2d.padding={kw['padding']}" if isinstance(kw["padding"], str) else "")
        if kw.get("momentum", 0.1) is None:
            seen.add(f"{kind}.momentum=None")
    for kind in KINDS:
        assert kind in seen
    for flag in ("affine", "track_running_stats"):
        for kind in ("BatchNorm1d", "BatchNorm2d"):
            assert {f"{kind}.{flag}=True", f"{kind}.{flag}=False"} <= seen
    assert {"BatchNorm1d.momentum=None", "BatchNorm2d.momentum=None"} <= seen
    assert {"MaxPool2d.ceil_mode=True", "AvgPool2d.ceil_mode=True", "MaxPool2d.dilation"} <= seen
    assert {"AvgPool2d.count_include_pad=False", "AvgPool2d.divisor_override"} <= seen
    assert {"LayerNorm.bias=False", "LayerNorm.bias=True"} <= seen
    assert {"Conv2d.groups=3", "Conv2d.padding=same", "Conv2d.padding=valid"} <= seen
