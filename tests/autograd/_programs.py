"""Random programs, run in chainrule and in PyTorch, every value and gradient compared.

A program is Python source that runs unchanged in both libraries: ``lib`` is ``chainrule`` or
``torch``, ``F`` their ``nn.functional``, and PyTorch's names and argument orders are
chainrule's. It has leaves (float64, some requiring grad), steps (one op each, drawn from
``SPECS``, on earlier values: shared subexpressions, views, ``x`` beside ``x.detach()``, some
under ``no_grad``), ``retain_grad`` on some intermediates, and one backward scenario:

* ``backward``: ``loss.backward()``; every leaf's and retained ``.grad``;
* ``grad``: ``autograd.grad`` of the loss with respect to leaves and intermediates;
* ``caller``: ``autograd.backward(outputs, given gradients, retain_graph=True)`` twice; the given
  gradients must come out unchanged;
* ``accumulate``: ``loss.backward(create_graph=True)`` then ``loss.backward()``;
* ``second``: gradients with ``create_graph=True``, then the gradient of their weighted sum.

After the backward, one ``.grad`` is zeroed in place and every other gradient is read again:
two gradients that share memory show up as a difference with PyTorch. Values are kept away from
kinks and ties (each op's ``valid`` checks its inputs), so central differences and PyTorch's
conventions agree. A mismatch is shrunk (``shrink``) to a short program that still fails, and
the failure message is that program, ready to paste.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

import chainrule as cr
from chainrule.ops._registry import op_classes

LIMIT = 1e4  # a value past this, not finite, or empty makes a step invalid (nothing to compare)
#: A value holding more numbers makes a step invalid: unfold and padding grow an image at every
#: step, and a chain of them would grow without bound.
MAX_NUMBERS = 4096


# ----- the ops a step can be -----
@dataclass(frozen=True)
class Spec:
    """One op of the programs: its source template, its arity and when it is valid.

    ``template`` is formatted with the argument names ({0}, {1}, ...) and the params; a param
    that is a NumPy array becomes a constant of the program. ``draw(rng, *arrays)`` picks the
    params for these inputs (None when the op does not apply); ``valid(params, *arrays)`` says
    whether the inputs are away from the op's kinks, ties and domain edges. ``fns`` names the
    chainrule Functions the op runs (checked against the classes that exist).
    """

    name: str
    template: str
    arity: int = 1
    fns: tuple = ()
    draw: Callable[..., dict | None] = lambda rng, *a: {}
    valid: Callable[..., bool] = lambda p, *a: True
    torch_template: str | None = None  # where PyTorch spells it otherwise

    def __repr__(self) -> str:
        return self.name


def _away(x: np.ndarray, points: Any, d: float = 1e-3) -> bool:
    return bool(np.all(np.abs(x - points) > d))


def _off_steps(x: np.ndarray, at: float, d: float = 1e-3) -> bool:
    """No value within ``d`` of a jump of a step function: integers (at 0.0) or halves (0.5)."""
    frac = np.asarray(x) - np.floor(x)
    return bool(np.all(np.abs(frac - at) > d) and np.all(np.abs(frac - at - 1) > d))


def _no_ties(x: np.ndarray, axis: Any = None) -> bool:
    """No two values closer than 1e-6 along ``axis`` (None: anywhere)."""
    if x.size <= 1:
        return True
    if axis is None:
        s = np.sort(x.reshape(-1))
        return bool(np.all(np.diff(s) > 1e-6))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    axes = tuple(a % x.ndim for a in axes)
    keep = [a for a in range(x.ndim) if a not in axes]
    moved = np.transpose(x, keep + list(axes)).reshape(*[x.shape[a] for a in keep], -1)
    s = np.sort(moved, axis=-1)
    return bool(np.all(np.diff(s, axis=-1) > 1e-6))


def _bshape(*arrays: np.ndarray) -> tuple | None:
    try:
        return np.broadcast_shapes(*[a.shape for a in arrays])
    except ValueError:
        return None


def unary(name, template, fns, valid=None, draw=None, torch_template=None) -> Spec:
    return Spec(
        name,
        template,
        1,
        fns,
        draw or (lambda rng, x: {}),
        valid or (lambda p, x: True),
        torch_template,
    )


def binary(name, template, fns, valid=None, draw=None) -> Spec:
    def pick(rng, x, y):
        if _bshape(x, y) is None:
            return None
        return draw(rng, x, y) if draw else {}

    return Spec(name, template, 2, fns, pick, valid or (lambda p, x, y: True))


def _dim(rng, x, min_size=1) -> int | None:
    dims = [d for d in range(x.ndim) if x.shape[d] >= min_size]
    if not dims:
        return None
    d = int(rng.choice(dims))
    return d - x.ndim if rng.random() < 0.3 else d


def _roll(rng, x) -> dict:
    """roll's shifts and dims: one shift of the flattened x, or a shift per distinct dim."""
    if rng.random() < 0.3:
        return {"shifts": int(rng.integers(-4, 5)), "dims": None}
    k = int(rng.integers(1, x.ndim + 1))
    dims = tuple(int(d) for d in rng.choice(x.ndim, k, replace=False))
    return {"shifts": tuple(int(s) for s in rng.integers(-4, 5, k)), "dims": dims}


def _dims(rng, x) -> Any:
    """An int dim or a tuple of distinct dims of x (None for a 0-d x)."""
    if x.ndim == 0:
        return None
    if rng.random() < 0.6:
        return _dim(rng, x)
    k = int(rng.integers(1, x.ndim + 1))
    return tuple(int(d) for d in rng.choice(x.ndim, k, replace=False))


def _reduce(name, method, fns) -> list[Spec]:
    """``x.method(dim, keepdim=...)`` and ``x.method()``."""

    def draw(rng, x):
        dim = _dims(rng, x)
        return None if dim is None else {"dim": dim, "keep": bool(rng.random() < 0.5)}

    return [
        unary(name, "{0}." + method + "({dim}, keepdim={keep})", fns, draw=draw),
        unary(name + "_all", "{0}." + method + "()", fns),
    ]


def _reduce_no_ties(name, template, fns, per_dim=True) -> Spec:
    def draw(rng, x):
        if not per_dim:
            return {}
        dim = _dim(rng, x)
        return None if dim is None else {"dim": dim, "keep": bool(rng.random() < 0.5)}

    def valid(p, x):
        return _no_ties(x, p.get("dim"))

    return unary(name, template, fns, valid=valid, draw=draw)


def _factor_shape(rng, x) -> tuple:
    n = x.size
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    a = int(rng.choice(divisors))
    options = [(n,), (-1,), (a, n // a), (a, -1), (-1, a, 1), (1, n // a, a), x.shape, ()]
    options = [s for s in options if s != () or n == 1]
    return options[int(rng.integers(len(options)))]


def _clamp_bounds(rng, x):
    lo = float(np.round(rng.uniform(-1.5, 0.5), 2))
    return {"lo": lo, "hi": float(np.round(lo + rng.uniform(0.2, 2.0), 2))}


def _expand_shape(rng, x) -> dict:
    """A shape x broadcasts to (size-1 axes grown, maybe a new leading one); ``spelled`` writes
    -1 for some of the sizes that stay, as ``expand`` allows."""
    grown = tuple(int(rng.integers(2, 4)) if s == 1 and rng.random() < 0.7 else s for s in x.shape)
    lead = 1 if rng.random() < 0.5 or grown == x.shape else 0
    shape = (int(rng.integers(1, 3)),) * lead + grown
    spelled = tuple(
        -1 if k >= lead and s == x.shape[k - lead] and rng.random() < 0.3 else s
        for k, s in enumerate(shape)
    )
    return {"shape": shape, "spelled": spelled}


def _basic_key(rng, x) -> dict | None:
    if x.ndim == 0:
        return {"key": "None"} if rng.random() < 0.5 else {"key": "..."}
    n = x.shape[0]
    keys = ["0", "-1", "1:", ":-1", "::2", "None", "..., None", ":, None"]
    if x.ndim >= 2:
        keys += [":, 0", "..., 1:", "1:, :1", "0, None"]
    key = keys[int(rng.integers(len(keys)))]
    if n == 1 and key in ("1:", ":-1"):
        return None
    return {"key": key}


def _int_index(rng, x) -> dict | None:
    if x.ndim == 0:
        return None
    n = x.shape[0]
    k = rng.integers(-n, n, int(rng.integers(1, 5)))
    return {"k": np.asarray(k, dtype=np.int64)}


def _mask(rng, x) -> dict | None:
    if x.ndim == 0:
        return None
    return {"k": rng.random(x.shape) < 0.6}


def _pick(rng, x) -> dict | None:
    if x.ndim != 2:
        return None
    n, c = x.shape
    return {"n": n, "k": np.asarray(rng.integers(0, c, n), dtype=np.int64)}


def _gather(rng, x) -> dict | None:
    """gather's dim and index: along dim any length, at most x's size along the others."""
    if x.ndim == 0:
        return None
    d = int(rng.integers(x.ndim))
    shape = [
        int(rng.integers(1, 4)) if a == d else int(rng.integers(1, n + 1))
        for a, n in enumerate(x.shape)
    ]
    return {"d": d, "k": np.asarray(rng.integers(0, x.shape[d], shape), dtype=np.int64)}


def _scatter(rng, x) -> dict | None:
    """scatter's dim and an index whose lines along dim hold no value twice (PyTorch leaves
    which of repeated writes stays unspecified)."""
    if x.ndim == 0:
        return None
    d = int(rng.integers(x.ndim))
    sizes = [int(rng.integers(1, n + 1)) for n in x.shape]
    lines = np.argsort(rng.random((*sizes[:d], *sizes[d + 1 :], x.shape[d])), axis=-1)
    k = np.moveaxis(lines[..., : sizes[d]], -1, d)
    return {"d": d, "k": np.asarray(k, dtype=np.int64)}


def _select(rng, x) -> dict | None:
    if x.ndim == 0:
        return None
    d = _dim(rng, x)
    k = rng.integers(0, x.shape[d], int(rng.integers(1, 5)))
    return {"d": d, "k": np.asarray(k, dtype=np.int64)}


def _masked_fill(rng, x) -> dict:
    return {
        "k": np.asarray(rng.random(x.shape) < 0.5),
        "v": float(np.round(rng.standard_normal(), 3)),
    }


def _topk(rng, x) -> dict | None:
    if x.ndim == 0:
        return None
    d = _dim(rng, x)
    return {"n": int(rng.integers(0, x.shape[d] + 1)), "d": d, "largest": rng.random() < 0.5}


def _targets(rng, x) -> dict | None:
    """Class targets for (N, C) or (C,) scores, and the loss's options."""
    if x.ndim not in (1, 2) or x.shape[-1] < 2:
        return None
    c = x.shape[-1]
    shape = () if x.ndim == 1 else (x.shape[0],)
    k = np.asarray(rng.integers(0, c, shape), dtype=np.int64)
    red = ["mean", "sum", "none"][int(rng.integers(3))]
    return {"k": k, "red": red, "eps": [0.0, 0.1][int(rng.integers(2))]}


def _same_shape_const(lo: float, hi: float) -> Callable:
    def draw(rng, x):
        red = ["mean", "sum", "none"][int(rng.integers(3))]
        return {"k": np.asarray(np.round(rng.uniform(lo, hi, x.shape), 2)), "red": red}

    return draw


def _reduction(rng, x, y=None) -> dict | None:
    if y is not None and x.shape != y.shape:
        return None
    return {"red": ["mean", "sum", "none"][int(rng.integers(3))]}


def _matmul_ok(rng, x, y) -> dict | None:
    if x.ndim == 0 or y.ndim == 0:
        return None
    k = x.shape[-1]
    ky = y.shape[0] if y.ndim == 1 else y.shape[-2]
    if k != ky:
        return None
    try:
        np.matmul(x, y)
    except ValueError:
        return None
    return {}


def _margin_ok(p, x) -> bool:
    if x.ndim == 2:
        picked = np.take_along_axis(x, p["k"][:, None], 1)
    else:
        picked = x[p["k"]]
    return _away(1.0 - picked + x, 0.0)


def _var_draw(rng, x) -> dict | None:
    dim = _dim(rng, x, min_size=2)
    if dim is None:
        return None
    return {"dim": dim, "corr": int(rng.integers(2)), "keep": bool(rng.random() < 0.5)}


def _spread_ok(p, x) -> bool:
    return bool(np.all(np.var(x, axis=p["dim"]) > 1e-3))


def _linear_draw(rng, x, w) -> dict | None:
    if x.ndim == 0 or w.ndim != 2 or x.shape[-1] != w.shape[1]:
        return None
    return {}


def _split_draw(rng, x) -> dict | None:
    d = _dim(rng, x)
    if d is None:
        return None
    n = x.shape[d]
    return {"size": int(rng.integers(1, n + 1)), "dim": d, "piece": int(rng.choice([0, -1]))}


def _layer_norm_draw(rng, x) -> dict | None:
    if x.ndim == 0 or x.shape[-1] < 2:
        return None
    return {"n": x.shape[-1]}


def _batch_norm_draw(rng, x) -> dict | None:
    if x.ndim != 2 or x.shape[0] < 2:
        return None
    return {}


def _image(rng, x, channels: int) -> tuple | None:
    """(N, C, H, W) holding the values of ``x``; None if it cannot.

    Three times in four, an ``x`` that is an image already keeps its own shape: a convolution's
    output then goes on to the next image op as it is, its batch innermost in memory
    (``Conv2d``). Otherwise one to three images of ``channels``, each as square as it goes (more
    than one, three times in four): more than one image makes a convolution's output
    batch-innermost.
    """
    if x.ndim == 4 and rng.random() < 0.75:
        return tuple(x.shape)
    if x.size % channels:
        return None
    per = x.size // channels
    more = [d for d in (2, 3) if per % d == 0]
    n = int(rng.choice(more)) if more and rng.random() < 0.75 else 1
    area = per // n
    h = max(d for d in range(1, int(area**0.5) + 1) if area % d == 0)
    return (n, channels, h, area // h)


def _conv_draw(rng, x, w, b=None) -> dict | None:
    xs = _image(rng, x, int(rng.choice([1, 2])))
    if xs is None:
        return None
    c = xs[1]
    groups = int(rng.choice([1, c]))
    pad = int(rng.integers(0, 2))
    outs = (b.size,) if b is not None else (1, 2, 3)
    options = [
        (o, kh, kw)
        for o in outs
        if o % groups == 0
        for kh in range(1, xs[2] + 2 * pad + 1)
        for kw in range(1, xs[3] + 2 * pad + 1)
        if o * (c // groups) * kh * kw == w.size
    ]
    if not options:
        return None
    o, kh, kw = options[int(rng.integers(len(options)))]
    return {
        "xs": xs,
        "ws": (o, c // groups, kh, kw),
        "s": int(rng.integers(1, 3)),
        "p": pad,
        "g": groups,
    }


def _pool_draw(rng, x) -> dict | None:
    xs = _image(rng, x, int(rng.choice([1, 2])) if x.size % 2 == 0 else 1)
    k = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    p = (int(rng.integers(0, k[0] // 2 + 1)), int(rng.integers(0, k[1] // 2 + 1)))
    if xs[2] + 2 * p[0] < k[0] or xs[3] + 2 * p[1] < k[1]:
        return None
    return {
        "xs": xs,
        "k": k,
        "s": (int(rng.integers(1, 3)), int(rng.integers(1, 3))),
        "p": p,
        "ceil": bool(rng.random() < 0.3),
        "cip": bool(rng.random() < 0.5),
    }


def _fold_draw(rng, x) -> dict | None:
    options = [
        (c, h, w, kh, kw)
        for c in (1, 2, 3)
        for h in range(1, 5)
        for w in range(1, 5)
        for kh in range(1, min(h, 2) + 1)
        for kw in range(1, min(w, 2) + 1)
        if c * kh * kw * (h - kh + 1) * (w - kw + 1) == x.size
    ]
    if not options:
        return None
    c, h, w, kh, kw = options[int(rng.integers(len(options)))]
    return {"cs": (1, c * kh * kw, (h - kh + 1) * (w - kw + 1)), "size": (h, w), "k": (kh, kw)}


SPECS: list[Spec] = [
    # ----- elementwise, one input -----
    unary("neg", "-{0}", ("Neg",)),
    unary("abs", "{0}.abs()", ("Abs",), valid=lambda p, x: _away(x, 0.0)),
    # its gradient is 0; times x, so that the product carries one (sign(x) x = |x|)
    unary("sign", "{0}.sign() * {0}", ("Sign", "Mul"), valid=lambda p, x: _away(x, 0.0)),
    unary("exp", "{0}.exp()", ("Exp",), valid=lambda p, x: bool(np.all(np.abs(x) < 4))),
    unary("log", "{0}.log()", ("Log",), valid=lambda p, x: bool(np.all(x > 0.1))),
    unary("sqrt", "{0}.sqrt()", ("Sqrt",), valid=lambda p, x: bool(np.all(x > 0.1))),
    unary("log1p", "{0}.log1p()", ("Log1p",), valid=lambda p, x: bool(np.all(x > -0.9))),
    unary("sin", "{0}.sin()", ("Sin",)),
    # the inverse functions on values their domain holds: tanh's (-1, 1), and 1 + x^2 >= 1
    unary("tan", "({0}.tanh()).tan()", ("Tan",)),
    unary("asin_acos", "({0}.tanh() * 0.9).asin() + lib.acos({0}.tanh() * 0.9)", ("Asin", "Acos")),
    unary("atan_atanh", "{0}.atan() + ({0}.tanh() * 0.9).atanh()", ("Atan", "Atanh")),
    unary("hyperbolic", "{0}.sinh() - lib.cosh({0}) + {0}.asinh()", ("Sinh", "Cosh", "Asinh")),
    unary("acosh", "({0} * {0} + 1.5).acosh()", ("Acosh",)),
    unary("xlogy", "lib.xlogy({0}, {0} * {0} + 0.5)", ("Xlogy",)),
    unary(
        "base_2_10",
        "({0} * {0} + 0.5).log2() + lib.log10({0} * {0} + 2.0) + {0}.exp2()",
        ("Log2", "Log10", "Exp2"),
    ),
    unary(
        "atan2_hypot",
        "lib.atan2({0}, {0}.cos() + 1.5) + lib.hypot({0}, {0}.sin() + 1.5)",
        ("Atan2", "Hypot"),
    ),
    unary(
        "prod",
        "{0}.prod({d})",
        ("Prod",),
        draw=lambda rng, x: {"d": "" if x.ndim == 0 or rng.random() < 0.3 else _dim(rng, x)},
        valid=lambda p, x: bool(np.all(np.abs(x) < 3)),
    ),
    unary("silu", "F.silu({0})", ("SiLU",)),
    unary("logsigmoid", "F.logsigmoid({0})", ("LogSigmoid",)),
    unary(
        "pad",
        "F.pad({0}, {p})",
        ("Pad",),
        draw=lambda rng, x: (
            None
            if x.ndim == 0
            else {"p": tuple(int(v) for v in rng.integers(-1 if x.shape[-1] > 2 else 0, 3, 2))}
        ),
    ),
    unary("cos", "lib.cos({0})", ("Cos",)),
    unary(
        "norm",
        "{0}.norm({p}, {d}, {kd})",
        ("VectorNorm",),
        draw=lambda rng, x: {
            "p": [2, 1, 3, "'fro'"][int(rng.integers(4))],
            "d": None if x.ndim == 0 or rng.random() < 0.4 else _dim(rng, x),
            "kd": rng.random() < 0.5,
        },
        valid=lambda p, x: _away(x, 0.0, 0.05),
    ),
    unary("expm1", "{0}.expm1()", ("Expm1",), valid=lambda p, x: bool(np.all(np.abs(x) < 4))),
    unary("square", "{0}.square()", ("Pow",)),
    # a step function's gradient is 0; times x, so that the product carries one
    unary("floor", "{0}.floor() * {0}", ("Floor", "Mul"), valid=lambda p, x: _off_steps(x, 0.0)),
    unary("ceil", "{0}.ceil() * {0}", ("Ceil", "Mul"), valid=lambda p, x: _off_steps(x, 0.0)),
    unary("trunc", "{0}.trunc() * {0}", ("Trunc", "Mul"), valid=lambda p, x: _off_steps(x, 0.0)),
    unary("round", "{0}.round() * {0}", ("Round", "Mul"), valid=lambda p, x: _off_steps(x, 0.5)),
    unary("tanh", "lib.tanh({0})", ("Tanh",)),
    unary("sigmoid", "{0}.sigmoid()", ("Sigmoid",)),
    unary("relu", "F.relu({0})", ("ReLU",), valid=lambda p, x: _away(x, 0.0)),
    unary(
        "leaky_relu",
        "F.leaky_relu({0}, {slope})",
        ("LeakyReLU",),
        valid=lambda p, x: _away(x, 0.0),
        draw=lambda rng, x: {"slope": [0.01, 0.1, 0.3][int(rng.integers(3))]},
    ),
    unary(
        "elu",
        "F.elu({0}, {alpha})",
        ("ELU",),
        valid=lambda p, x: _away(x, 0.0),
        draw=lambda rng, x: {"alpha": [1.0, 0.5][int(rng.integers(2))]},
    ),
    unary("softplus", "F.softplus({0})", ("Softplus",)),
    unary("pow_int", "{0} ** {p}", ("Pow",), draw=lambda rng, x: {"p": int(rng.integers(2, 4))}),
    unary(
        "pow_real",
        "{0} ** {p}",
        ("Pow",),
        valid=lambda p, x: bool(np.all(x > 0.1)),
        draw=lambda rng, x: {"p": [0.5, 1.5, -1.0][int(rng.integers(3))]},
    ),
    unary(
        "rpow",
        "{base} ** {0}",
        ("Pow",),
        valid=lambda p, x: bool(np.all(np.abs(x) < 4)),
        draw=lambda rng, x: {"base": [2.0, 0.5][int(rng.integers(2))]},
    ),
    unary(
        "scale",
        "{0} * {c}",
        ("Mul",),
        draw=lambda rng, x: {"c": [2.0, -0.5, 3.0][int(rng.integers(3))]},
    ),
    unary(
        "shift", "{0} + {c}", ("Add",), draw=lambda rng, x: {"c": [1.0, -0.5][int(rng.integers(2))]}
    ),
    unary(
        "rsub", "{c} - {0}", ("Sub",), draw=lambda rng, x: {"c": [1.0, 0.25][int(rng.integers(2))]}
    ),
    unary(
        "div_const",
        "{0} / {c}",
        ("Div",),
        draw=lambda rng, x: {"c": [2.0, -4.0][int(rng.integers(2))]},
    ),
    unary(
        "rdiv",
        "{c} / {0}",
        ("Div",),
        valid=lambda p, x: _away(x, 0.0, 0.2),
        draw=lambda rng, x: {"c": [1.0, -2.0][int(rng.integers(2))]},
    ),
    unary(
        "clamp",
        "{0}.clamp({lo}, {hi})",
        ("Clamp",),
        valid=lambda p, x: _away(x, p["lo"]) and _away(x, p["hi"]),
        draw=_clamp_bounds,
    ),
    unary(
        "clamp_min",
        "lib.clamp({0}, min={lo})",
        ("Clamp",),
        valid=lambda p, x: _away(x, p["lo"]),
        draw=_clamp_bounds,
    ),
    unary("clone", "{0}.clone()", ("Clone",)),
    unary("to_device", "{0}.to('strict:2').cpu()", ("ToDevice",), torch_template="{0}.clone()"),
    unary("cast", "{0}.float().double()", ("Cast",)),
    unary("detach", "{0}.detach()", ()),
    # ----- elementwise, two or three inputs (broadcasting) -----
    binary("add", "{0} + {1}", ("Add",)),
    binary("sub", "{0} - {1}", ("Sub",)),
    binary("mul", "{0} * {1}", ("Mul",)),
    binary("div", "{0} / {1}", ("Div",), valid=lambda p, x, y: _away(y, 0.0, 0.2)),
    binary(
        "remainder",
        "{0} % {1}",
        ("Remainder",),
        valid=lambda p, x, y: _away(y, 0.0, 0.2) and _off_steps(x / y, 0.0, 1e-2),
    ),
    binary(
        "pow",
        "{0} ** {1}",
        ("Pow",),
        valid=lambda p, x, y: bool(np.all(x > 0.1) and np.all(np.abs(y) < 3)),
    ),
    binary("maximum", "lib.maximum({0}, {1})", ("Maximum",), valid=lambda p, x, y: _away(x, y)),
    binary("minimum", "lib.minimum({0}, {1})", ("Minimum",), valid=lambda p, x, y: _away(x, y)),
    binary(
        "where",
        "lib.where({k}, {0}, {1})",
        ("Where",),
        draw=lambda rng, x, y: {"k": rng.random(_bshape(x, y)) < 0.5},
    ),
    binary(
        "where_by_values",
        "lib.where(({0} > {1}) & ~({0} < -1.0), {0}, {1})",
        ("Where",),
        valid=lambda p, x, y: _away(x, y) and _away(x, -1.0),
    ),
    binary("clamp_tensor_min", "{0}.clamp(min={1})", ("Clamp",), valid=lambda p, x, y: _away(x, y)),
    binary(
        "clamp_tensor_max", "lib.clamp({0}, max={1})", ("Clamp",), valid=lambda p, x, y: _away(x, y)
    ),
    Spec(
        "clamp_tensor_both",
        "lib.clamp({0}, {1}, {2})",
        3,
        ("Clamp",),
        lambda rng, x, lo, hi: {} if _bshape(x, lo, hi) is not None else None,
        lambda p, x, lo, hi: _away(x, lo) and _away(x, hi) and _away(lo, hi),
    ),
    binary("matmul", "{0} @ {1}", ("MatMul",), draw=_matmul_ok),
    Spec("linear", "F.linear({0}, {1})", 2, ("Linear",), _linear_draw),
    Spec(
        "linear_bias",
        "F.linear({0}, {1}, {2})",
        3,
        ("Linear",),
        lambda rng, x, w, b: (
            _linear_draw(rng, x, w) if w.ndim == 2 and b.shape == (w.shape[0],) else None
        ),
    ),
    # ----- reductions -----
    *_reduce("sum", "sum", ("Sum",)),
    *_reduce("mean", "mean", ("Mean",)),
    unary("var", "{0}.var({dim}, correction={corr}, keepdim={keep})", ("Var",), draw=_var_draw),
    unary(
        "std",
        "{0}.std({dim}, correction={corr}, keepdim={keep})",
        ("Std",),
        valid=_spread_ok,
        draw=_var_draw,
    ),
    _reduce_no_ties("amax", "{0}.amax({dim}, keepdim={keep})", ("Amax",)),
    _reduce_no_ties("amin", "{0}.amin({dim}, keepdim={keep})", ("Amin",)),
    _reduce_no_ties("max_dim", "{0}.max({dim}, keepdim={keep}).values", ("Amax",)),
    _reduce_no_ties("min_dim", "{0}.min({dim}, keepdim={keep}).values", ("Amin",)),
    _reduce_no_ties("max_all", "{0}.max()", ("Amax",), per_dim=False),
    _reduce_no_ties("min_all", "{0}.min()", ("Amin",), per_dim=False),
    unary(
        "logsumexp",
        "{0}.logsumexp({dim})",
        ("LogSumExp",),
        draw=lambda rng, x: None if x.ndim == 0 else {"dim": _dims(rng, x)},
    ),
    unary("softmax", "{0}.softmax({dim})", ("Softmax",), draw=lambda rng, x: _maybe_dim(rng, x)),
    unary(
        "log_softmax",
        "{0}.log_softmax({dim})",
        ("LogSoftmax",),
        draw=lambda rng, x: _maybe_dim(rng, x),
    ),
    # ----- shape ops: views -----
    unary(
        "reshape",
        "{0}.reshape({shape})",
        ("Reshape",),
        draw=lambda rng, x: {"shape": _factor_shape(rng, x)},
    ),
    unary(
        "view",
        "{0}.view({shape})",
        ("Reshape",),
        draw=lambda rng, x: {"shape": _factor_shape(rng, x)},
    ),
    unary(
        "flatten",
        "{0}.flatten({s})",
        ("Reshape",),
        draw=lambda rng, x: None if x.ndim == 0 else {"s": int(rng.integers(x.ndim))},
    ),
    unary(
        "permute",
        "{0}.permute({dims})",
        ("Permute",),
        draw=lambda rng, x: {"dims": tuple(int(d) for d in rng.permutation(x.ndim))},
    ),
    unary(
        "transpose",
        "{0}.transpose({a}, {b})",
        ("Permute",),
        draw=lambda rng, x: None if x.ndim == 0 else {"a": _dim(rng, x), "b": _dim(rng, x)},
    ),
    unary(
        "flip",
        "{0}.flip({dims})",
        ("Flip",),
        draw=lambda rng, x: None if x.ndim == 0 else {"dims": _dims(rng, x)},
    ),
    unary(
        "roll",
        "{0}.roll({shifts}, {dims})",
        ("Roll",),
        draw=lambda rng, x: None if x.ndim == 0 else _roll(rng, x),
    ),
    unary(
        "tril",
        "{0}.tril({d})",
        ("Triangle",),
        draw=lambda rng, x: None if x.ndim < 2 else {"d": int(rng.integers(-1, 2))},
    ),
    unary(
        "triu",
        "{0}.triu({d})",
        ("Triangle",),
        draw=lambda rng, x: None if x.ndim < 2 else {"d": int(rng.integers(-1, 2))},
    ),
    unary(
        "cumsum",
        "{0}.cumsum({d})",
        ("Cumsum",),
        draw=lambda rng, x: None if x.ndim == 0 else {"d": _dim(rng, x)},
    ),
    unary("T", "{0}.T", ("Permute",), draw=lambda rng, x: {} if x.ndim == 2 else None),
    unary("mT", "{0}.mT", ("Permute",), draw=lambda rng, x: {} if x.ndim >= 2 else None),
    unary("t", "{0}.t()", ("Permute",), draw=lambda rng, x: {} if x.ndim <= 2 else None),
    unary("squeeze", "{0}.squeeze()", ("Reshape",)),
    unary(
        "squeeze_dim",
        "{0}.squeeze({d})",
        ("Reshape",),
        draw=lambda rng, x: None if x.ndim == 0 else {"d": _dim(rng, x)},
    ),
    unary(
        "unsqueeze",
        "{0}.unsqueeze({d})",
        ("Reshape",),
        draw=lambda rng, x: {"d": int(rng.integers(-x.ndim - 1, x.ndim + 1))},
    ),
    unary("expand", "{0}.expand({spelled})", ("Expand",), draw=_expand_shape),
    unary("broadcast_to", "lib.broadcast_to({0}, {shape})", ("Expand",), draw=_expand_shape),
    unary("split", "{0}.split({size}, {dim})[{piece}]", ("Split",), draw=_split_draw),
    unary("chunk", "{0}.chunk({size}, {dim})[{piece}]", ("Split",), draw=_split_draw),
    Spec(
        "cat",
        "lib.cat([{0}, {1}], {dim})",
        2,
        ("Cat",),
        lambda rng, x, y: _join_dim(rng, x, y, False),
    ),
    Spec(
        "cat3",
        "lib.cat([{0}, {1}, {2}], {dim})",
        3,
        ("Cat",),
        lambda rng, x, y, z: _join_dim(rng, x, y, False, z),
    ),
    Spec(
        "stack",
        "lib.stack([{0}, {1}], {dim})",
        2,
        ("Stack",),
        lambda rng, x, y: _join_dim(rng, x, y, True),
    ),
    unary("index_basic", "{0}[{key}]", ("Index", "IndexAdd"), draw=_basic_key),
    unary("index_int", "{0}[{k}]", ("Index", "IndexAdd"), draw=_int_index),
    unary("index_mask", "{0}[{k}]", ("Index", "IndexAdd"), draw=_mask),
    unary("index_pick", "{0}[lib.arange({n}), {k}]", ("Index", "IndexAdd"), draw=_pick),
    # masks and indices computed from the values (comparisons and argmax are ops without a
    # gradient: a compiled replay must compute them again)
    unary("index_by_values", "{0}[{0} > 0.2]", ("Index",), valid=lambda p, x: _away(x, 0.2)),
    unary("gather", "{0}.gather({d}, {k})", ("Index", "IndexAdd"), draw=_gather),
    unary("index_select", "{0}.index_select({d}, {k})", ("Index", "IndexAdd"), draw=_select),
    unary(
        "scatter_add",
        "{0}.scatter_add({d}, {k}, {0}.gather({d}, {k}) * 2)",
        ("Index", "IndexAdd"),
        draw=_gather,
    ),
    unary(
        "scatter",
        "{0}.scatter({d}, {k}, {0}.gather({d}, {k}).sin())",
        ("IndexSet", "Where"),
        draw=_scatter,
    ),
    unary("masked_fill", "{0}.masked_fill({k}, {v})", ("Where",), draw=_masked_fill),
    unary(
        "sort",
        "{0}.sort({d}, {desc})[0]",
        ("Index", "IndexAdd"),
        draw=lambda rng, x: (
            None if x.ndim == 0 else {"d": _dim(rng, x), "desc": rng.random() < 0.5}
        ),
        valid=lambda p, x: _no_ties(x, p["d"]),
    ),
    unary(
        "topk",
        "{0}.topk({n}, {d}, {largest})[0]",
        ("Index", "IndexAdd"),
        draw=_topk,
        valid=lambda p, x: _no_ties(x, p["d"]),
    ),
    unary(
        "pick_argmax",
        "{0}.reshape(-1)[{0}.reshape(-1).argmax()]",
        ("Index",),
        valid=lambda p, x: x.size > 0 and _no_ties(x),
    ),
    # ----- losses and layers -----
    unary(
        "cross_entropy",
        "F.cross_entropy({0}, {k}, reduction={red!r}, label_smoothing={eps})",
        ("CrossEntropy",),
        draw=_targets,
    ),
    unary(
        "nll_loss",
        "F.nll_loss({0}, {k}, reduction={red!r})",
        ("NLLLoss",),
        draw=lambda rng, x: _targets(rng, x),
    ),
    unary(
        "multi_margin_loss",
        "F.multi_margin_loss({0}, {k})",
        ("ReLU",),
        valid=_margin_ok,
        draw=lambda rng, x: _targets(rng, x) if x.ndim == 2 else None,
    ),
    unary(
        "bce",
        "F.binary_cross_entropy({0}, {k}, reduction={red!r})",
        ("BinaryCrossEntropy",),
        valid=lambda p, x: bool(np.all((x > 0.05) & (x < 0.95))),
        draw=_same_shape_const(0.0, 1.0),
    ),
    unary(
        "bce_logits",
        "F.binary_cross_entropy_with_logits({0}, {k}, reduction={red!r})",
        ("BinaryCrossEntropyWithLogits",),
        draw=_same_shape_const(0.0, 1.0),
    ),
    Spec("mse_loss", "F.mse_loss({0}, {1}, reduction={red!r})", 2, ("Sub", "Mul"), _reduction),
    Spec(
        "l1_loss",
        "F.l1_loss({0}, {1}, reduction={red!r})",
        2,
        ("Abs",),
        _reduction,
        lambda p, x, y: _away(x, y),
    ),
    Spec(
        "l2_penalty",
        "lib.nn.l2_penalty([{0}, {1}])",
        2,
        ("SumOfSquares",),
        torch_template="({0} ** 2).sum() + ({1} ** 2).sum()",
    ),
    # ----- images (NCHW): a value reshaped to (N, C, H, W) -----
    Spec(
        "conv2d",
        "F.conv2d({0}.reshape({xs}), {1}.reshape({ws}), stride={s}, padding={p}, groups={g})",
        2,
        ("Conv2d",),
        _conv_draw,
    ),
    Spec(
        "conv2d_bias",
        "F.conv2d({0}.reshape({xs}), {1}.reshape({ws}), {2}.reshape(-1), stride={s}, "
        "padding={p}, groups={g})",
        3,
        ("Conv2d",),
        _conv_draw,
    ),
    unary(
        "max_pool2d",
        "F.max_pool2d({0}.reshape({xs}), {k}, stride={s}, padding={p}, ceil_mode={ceil})",
        ("MaxPool2d",),
        valid=lambda p, x: _no_ties(x),
        draw=_pool_draw,
    ),
    unary(
        "avg_pool2d",
        "F.avg_pool2d({0}.reshape({xs}), {k}, stride={s}, padding={p}, ceil_mode={ceil}, "
        "count_include_pad={cip})",
        ("AvgPool2d",),
        draw=_pool_draw,
    ),
    unary(
        "unfold",
        "F.unfold({0}.reshape({xs}), {k}, padding={p}, stride={s})",
        ("Unfold",),
        draw=_pool_draw,
    ),
    unary("fold", "F.fold({0}.reshape({cs}), {size}, {k})", ("Fold",), draw=_fold_draw),
    unary(
        "layer_norm",
        "F.layer_norm({0}, ({n},))",
        ("Var", "Mean"),
        valid=lambda p, x: bool(np.all(np.var(x, axis=-1) > 1e-3)),
        draw=_layer_norm_draw,
    ),
    unary(
        "batch_norm",
        "F.batch_norm({0}, None, None, training=True)",
        ("Var", "Mean"),
        valid=lambda p, x: bool(np.all(np.var(x, axis=0) > 1e-3)),
        draw=_batch_norm_draw,
    ),
]
SPEC = {s.name: s for s in SPECS}
#: Ops whose result is a view of their input. PyTorch marks a view made under no_grad as
#: requiring grad (with no grad_fn, a leaf-like view); chainrule's no_grad results never do.
#: That corner is left out: these ops are not drawn under no_grad.
VIEWS = {
    "reshape",
    "view",
    "flatten",
    "permute",
    "transpose",
    "T",
    "mT",
    "t",
    "squeeze",
    "squeeze_dim",
    "unsqueeze",
    "expand",
    "broadcast_to",
    "split",
    "chunk",
    "index_basic",
    "pick_argmax",  # a 0-d integer tensor indexes as an int in PyTorch: a view
    "detach",
}
assert len(SPEC) == len(SPECS), "two specs share a name"


def _maybe_dim(rng, x) -> dict | None:
    d = _dim(rng, x)
    return None if d is None else {"dim": d}


def _join_dim(rng, x, y, stack: bool, z=None) -> dict | None:
    arrays = [a for a in (x, y, z) if a is not None]
    nd = x.ndim
    if any(a.ndim != nd for a in arrays):
        return None
    if stack:
        if any(a.shape != x.shape for a in arrays):
            return None
        return {"dim": int(rng.integers(-nd - 1, nd + 1))}
    if nd == 0:
        return None
    dims = [
        d
        for d in range(nd)
        if all(a.shape[:d] + a.shape[d + 1 :] == x.shape[:d] + x.shape[d + 1 :] for a in arrays)
    ]
    if not dims:
        return None
    return {"dim": int(rng.choice(dims))}


# ----- programs -----
@dataclass(frozen=True)
class Step:
    spec: str
    args: tuple  # indices into the program's values (leaves first, then steps)
    params: tuple  # sorted (name, value) pairs
    detach: tuple = ()  # the argument positions passed as .detach()
    no_grad: bool = False


@dataclass(frozen=True)
class Program:
    leaves: tuple  # float64 arrays
    requires: tuple  # one bool per leaf
    steps: tuple = ()
    mode: str = "backward"
    outputs: tuple = ()  # the values the loss (or the caller's gradients) covers
    weights: tuple = ()  # one float64 array per output: loss = sum((out * w).sum())
    retain: tuple = ()  # intermediates whose .grad is kept
    targets: tuple = ()  # mode "grad": the values to differentiate with respect to
    zero: int = 0  # after backward, the value whose .grad is zeroed in place (else the first)

    @property
    def n_values(self) -> int:
        return len(self.leaves) + len(self.steps)

    def name(self, i: int) -> str:
        return f"x{i}" if i < len(self.leaves) else f"v{i}"

    def consts(self) -> dict[str, np.ndarray]:
        """The NumPy constants the source refers to, by name."""
        out = {f"L{i}": a for i, a in enumerate(self.leaves)}
        for k, step in enumerate(self.steps):
            for key, value in step.params:
                if isinstance(value, np.ndarray):
                    out[f"k{len(self.leaves) + k}_{key}"] = value
        for j, w in enumerate(self.weights):
            out[f"W{j}"] = w
        return out

    def step_source(self, k: int, lib: str = "cr") -> str:
        step = self.steps[k]
        spec = SPEC[step.spec]
        at = len(self.leaves) + k
        names = [
            self.name(a) + (".detach()" if pos in step.detach else "")
            for pos, a in enumerate(step.args)
        ]
        params = {
            key: (Raw(f"k{at}_{key}") if isinstance(v, np.ndarray) else v) for key, v in step.params
        }
        template = spec.template
        if lib == "torch" and spec.torch_template:
            template = spec.torch_template
        return template.format(*names, **params)

    def source(self, lib: str = "cr") -> str:
        """The whole program as Python source; ``lib``, ``F``, ``np`` and the constants are
        names the caller provides (``repro`` writes them out)."""
        lines = []
        for i, r in enumerate(self.requires):
            lines.append(f"x{i} = lib.tensor(L{i}, dtype=lib.float64, requires_grad={r})")
        for k, step in enumerate(self.steps):
            line = f"{self.name(len(self.leaves) + k)} = {self.step_source(k, lib)}"
            if step.no_grad:
                line = f"with lib.no_grad():\n    {line}"
            lines.append(line)
        for i in self.retain:
            lines.append(f"{self.name(i)}.retain_grad()")
        outs = [self.name(i) for i in self.outputs]
        loss = " + ".join(f"({o} * W{j}).sum()" for j, o in enumerate(outs))
        grads_of = [self.name(i) for i in range(len(self.leaves)) if self.requires[i]] + [
            self.name(i) for i in self.retain
        ]
        w = [f"W{j}" for j in range(len(outs))]
        if self.mode == "backward":
            lines.append(f"loss = {loss}")
            lines.append("loss.backward()")
            lines += [f"R[{g + '.grad'!r}] = {g}.grad" for g in grads_of]
        elif self.mode == "accumulate":
            lines.append(f"loss = {loss}")
            lines.append("loss.backward(create_graph=True)")
            lines.append("loss.backward()")
            lines += [f"R[{g + '.grad'!r}] = {g}.grad" for g in grads_of]
        elif self.mode == "caller":
            lines.append(f"G = [{', '.join(w)}]")
            lines.append(f"lib.autograd.backward([{', '.join(outs)}], G, retain_graph=True)")
            lines.append(f"lib.autograd.backward([{', '.join(outs)}], G, retain_graph=True)")
            lines += [f"R[{g + '.grad'!r}] = {g}.grad" for g in grads_of]
            lines.append("R['given gradients'] = lib.cat([g.reshape(-1) for g in G])")
        elif self.mode == "grad":
            ts = [self.name(i) for i in self.targets]
            lines.append(f"loss = {loss}")
            lines.append(f"gs = lib.autograd.grad(loss, [{', '.join(ts)}], allow_unused=True)")
            lines += [f"R['d loss/d {t}'] = gs[{j}]" for j, t in enumerate(ts)]
        elif self.mode == "second":
            xs = [self.name(i) for i in range(len(self.leaves)) if self.requires[i]]
            lines.append(f"loss = {loss}")
            lines.append(
                f"gs = lib.autograd.grad(loss, [{', '.join(xs)}], create_graph=True, "
                "allow_unused=True)"
            )
            lines += [f"R['d loss/d {x}'] = gs[{j}]" for j, x in enumerate(xs)]
            # s = sum_j (j + 1) |g_j|^2, plus 0 * x so that s is in the graph whatever the
            # gradients are: ds/dx = 2 sum_j (j + 1) H_j g_j, a Hessian-vector product
            lines.append(
                f"s = ({xs[0]} * 0.0).sum() + sum(((g * g).sum() * (j + 1) for j, g in "
                "enumerate(gs) if g is not None), 0.0)"
            )
            lines.append(f"hs = lib.autograd.grad(s, [{', '.join(xs)}], allow_unused=True)")
            lines += [f"R['d s/d {x}'] = hs[{j}]" for j, x in enumerate(xs)]
        elif self.mode == "graph":  # for walking the graph: the gradients, all recorded
            xs = [self.name(i) for i in range(len(self.leaves)) if self.requires[i]]
            # weights that require grad make every backward op depend on them: recorded
            lines += [f"W{j}.requires_grad_()" for j in range(len(outs))]
            lines.append(f"loss = {loss}")
            lines.append(
                f"gs = lib.autograd.grad(loss, [{', '.join(xs)}], create_graph=True, "
                "allow_unused=True)"
            )
            return "\n".join(lines)
        if self.mode in ("backward", "accumulate", "caller") and grads_of:
            # zero one .grad in place: any other gradient sharing its memory changes too
            g = self.name(self.zero) if self.name(self.zero) in grads_of else grads_of[0]
            lines.append(f"if {g}.grad is not None:")
            lines.append("    with lib.no_grad():")
            lines.append(f"        {g}.grad.zero_()")
            # (unless h is g itself: flatten with nothing to merge returns its input, as in
            # PyTorch, and then both names hold one tensor and one .grad)
            for h in grads_of:
                if h != g:
                    lines.append(f"if {h} is not {g}:")
                    lines.append(f"    R[{h + '.grad' + AFTER + g + '.grad'!r}] = {h}.grad")
        lines.append(
            "R['values'] = [" + ", ".join(self.name(i) for i in range(self.n_values)) + "]"
        )
        return "\n".join(lines)


class Raw(str):
    """A name in a template (a constant), formatted without quotes."""

    def __format__(self, spec: str) -> str:
        return str(self)

    def __repr__(self) -> str:
        return str(self)


# ----- running a program -----
def _torch():
    import torch

    return torch


def namespace(program: Program, lib: str) -> dict:
    if lib == "torch":
        torch = _torch()
        consts = {
            k: torch.from_numpy(np.array(v)) if k[0] in "kW" else v
            for k, v in program.consts().items()
        }
        return {"lib": torch, "F": torch.nn.functional, "R": Results(), **consts}
    consts = {
        k: cr.from_numpy(np.array(v)) if k[0] in "kW" else v for k, v in program.consts().items()
    }
    return {"lib": cr, "F": cr.nn.functional, "R": Results(), **consts}


class Results(dict):
    """``R``: each result copied to NumPy when it is recorded (a later in-place change of the
    tensor must not change what was read)."""

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, _numpy(value))


def _numpy(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, (list, tuple)):
        return [_numpy(x) for x in v]
    return np.array(v.detach().numpy(force=True), dtype=np.float64, copy=True)


class Invalid(Exception):
    """PyTorch refuses the program: it is not a valid one (shrinking may make such)."""


def execute(program: Program, lib: str) -> dict:
    """Run the program's source; its namespace afterwards."""
    ns = namespace(program, lib)
    exec(compile(program.source(lib), f"<program {lib}>", "exec"), ns)  # noqa: S102 (ours)
    return ns


def run(program: Program, lib: str) -> dict:
    """Run the program; every recorded result as NumPy arrays (None where there is none)."""
    return dict(execute(program, lib)["R"])


def values(program: Program) -> list[np.ndarray] | None:
    """Every value of the program by PyTorch's forward, or None if a step is invalid: out of
    its domain, too large, not finite, or refused by PyTorch."""
    torch = _torch()
    ns = namespace(program, "torch")
    vals: list = []
    for i, r in enumerate(program.requires):
        vals.append(program.leaves[i])
        ns[f"x{i}"] = torch.tensor(program.leaves[i], dtype=torch.float64, requires_grad=r)
    for k, step in enumerate(program.steps):
        if any(a >= len(program.leaves) + k for a in step.args):
            return None
        arrays = [vals[a] for a in step.args]
        params = dict(step.params)
        if not SPEC[step.spec].valid(params, *arrays):
            return None
        try:
            with torch.set_grad_enabled(not step.no_grad):
                out = eval(program.step_source(k, "torch"), ns)  # noqa: S307 (our own source)
        except Exception:  # noqa: BLE001 (PyTorch refuses it: not a valid step)
            return None
        if not isinstance(out, torch.Tensor) or out.dtype != torch.float64:
            return None
        arr = out.detach().numpy()
        if not 0 < arr.size <= MAX_NUMBERS:
            return None
        if not np.all(np.isfinite(arr)) or np.any(np.abs(arr) > LIMIT):
            return None
        vals.append(arr)
        ns[program.name(len(program.leaves) + k)] = out
    return vals


# ----- drawing programs -----
LEAF_SHAPES = [(), (3,), (2, 3), (3, 1), (1, 3), (2, 1, 3), (4,), (2, 2), (3, 2), (2, 2, 2, 3)]
#: Leaves of image programs: batches of small images, and the sizes of small filter banks.
IMAGE_LEAVES = [(2, 2, 3, 3), (3, 1, 4, 4), (2, 3, 3, 2), (2, 2, 2, 2), (4, 2, 1, 1), (2, 1, 2, 2)]
#: The ops that take a value as (N, C, H, W) images.
IMAGE_OPS = ("conv2d", "conv2d_bias", "max_pool2d", "avg_pool2d", "unfold")


def _leaf(rng: np.random.Generator, shapes: list = LEAF_SHAPES) -> np.ndarray:
    shape = shapes[int(rng.integers(len(shapes)))]
    x = np.round(rng.uniform(-1.5, 1.5, shape), 2)
    return np.where(np.abs(x) < 0.05, 0.37, x).astype(np.float64)


def _requires_grad(program: Program, vals: list) -> list[bool]:
    """Which values require grad (as PyTorch sees it), by running it once."""
    torch = _torch()
    ns = namespace(program, "torch")
    out = []
    for i, r in enumerate(program.requires):
        ns[f"x{i}"] = torch.tensor(program.leaves[i], dtype=torch.float64, requires_grad=r)
        out.append(r)
    for k, step in enumerate(program.steps):
        with torch.set_grad_enabled(not step.no_grad):
            t = eval(program.step_source(k, "torch"), ns)  # noqa: S307
        ns[program.name(len(program.leaves) + k)] = t
        out.append(bool(t.requires_grad))
    return out


def draw(
    rng: np.random.Generator,
    n_steps: int | None = None,
    specs: list | None = None,
    leaf_shapes: list = LEAF_SHAPES,
) -> Program:
    """A random valid program of 3 to 12 steps (``specs``: draw the ops from these only; the
    leaves' shapes from ``leaf_shapes``)."""
    specs = specs or SPECS
    n_leaves = int(rng.integers(1, 4))
    leaves = tuple(_leaf(rng, leaf_shapes) for _ in range(n_leaves))
    requires = tuple(bool(rng.random() < 0.85) for _ in range(n_leaves))
    if not any(requires):
        requires = (True, *requires[1:])
    program = Program(leaves, requires)
    vals = list(leaves)
    target = n_steps or int(rng.integers(3, 13))
    tries = 0
    while len(program.steps) < target and tries < 40 * target:
        tries += 1
        spec = specs[int(rng.integers(len(specs)))]
        args = _pick_args(rng, vals, spec.arity)
        arrays = [vals[a] for a in args]
        params = spec.draw(rng, *arrays)
        if params is None:
            continue
        detach = tuple(p for p in range(spec.arity) if rng.random() < 0.08)
        no_grad = spec.name not in VIEWS and bool(rng.random() < 0.05)
        step = Step(spec.name, tuple(args), tuple(sorted(params.items())), detach, no_grad)
        candidate = replace(program, steps=program.steps + (step,))
        new_vals = values(candidate)
        if new_vals is None:
            continue
        program, vals = candidate, new_vals
    return _finish(rng, program, vals)


def _pick_args(rng: np.random.Generator, vals: list, arity: int) -> list[int]:
    """Argument indices, favouring recent values; the same value twice now and then."""
    n = len(vals)
    weights = np.linspace(1.0, 3.0, n)
    weights /= weights.sum()
    args = [int(rng.choice(n, p=weights))]
    for _ in range(arity - 1):
        if rng.random() < 0.15:
            args.append(args[0])
        else:
            same = [i for i in range(n) if vals[i].shape == vals[args[0]].shape]
            pool = same if same and rng.random() < 0.5 else list(range(n))
            args.append(int(rng.choice(pool)))
    return args


MODES = ("backward", "grad", "caller", "accumulate", "second")


def _finish(rng: np.random.Generator, program: Program, vals: list) -> Program:
    """Choose the outputs, their weights, retained gradients and the backward scenario."""
    req = _requires_grad(program, vals)
    live = [i for i in range(len(vals)) if req[i] and i >= len(program.leaves)]
    if not live:
        live = [i for i in range(len(program.leaves)) if req[i]]
    last = live[-1]
    extra = [i for i in live if i != last and rng.random() < 0.25]
    outputs = tuple(sorted({last, *extra}))
    weights = tuple(
        np.asarray(rng.integers(-3, 4, vals[i].shape) / 2, dtype=np.float64) for i in outputs
    )
    inner = [i for i in live if i >= len(program.leaves)]
    retain = tuple(i for i in inner if rng.random() < 0.3)
    mode = MODES[int(rng.integers(len(MODES)))]
    targets: tuple = ()
    if mode == "grad":
        leaves = [i for i in range(len(program.leaves)) if program.requires[i]]
        targets = tuple(sorted({*leaves, *[i for i in inner if rng.random() < 0.4]}))
    return replace(
        program,
        mode=mode,
        outputs=outputs,
        weights=weights,
        retain=retain if mode in ("backward", "caller", "accumulate") else (),
        targets=targets,
        zero=int(rng.choice([*range(len(program.leaves)), *retain])),
    )


# ----- comparing -----
AFTER = " after zeroing "


def compare(program: Program, rtol: float = 1e-9) -> str | None:
    """None when chainrule and PyTorch agree on every result, else what differs.

    A missing gradient (None) counts as zeros: where PyTorch records a gradient that is zero and
    chainrule none, or the other way round, both are right. Two results are checked within
    chainrule alone: the gradients read again after one ``.grad`` was zeroed must equal what
    they were, and the caller's given gradients must be unchanged. PyTorch fails both at times:
    its AccumulateGrad keeps a view of the caller's gradient as a leaf's ``.grad`` (it counts
    references to the view, not to its memory) and a later backward adds into it.
    """
    try:
        theirs = run(program, "torch")
    except Exception as e:  # noqa: BLE001
        raise Invalid(f"PyTorch refuses the program: {e}") from e
    try:
        ours = run(program, "cr")
    except Exception as e:  # noqa: BLE001 (an error is a difference to report)
        return f"chainrule raised {type(e).__name__}: {e}"
    for key, expected in theirs.items():
        got = ours.get(key)
        if key == "values":
            for i, (a, b) in enumerate(zip(got, expected)):
                if problem := _differs(a, b, rtol):
                    return f"the value of {program.name(i)}: {problem}"
            continue
        if AFTER in key:
            before = ours[key.split(AFTER)[0]]
            if problem := _differs(got, before, rtol, "before"):
                return f"{key}: {problem}"
        elif key == "given gradients":
            given = np.concatenate([w.reshape(-1) for w in program.weights])
            if problem := _differs(got, given, rtol, "what the caller gave"):
                return f"{key}: {problem}"
        elif problem := _differs(got, expected, rtol):
            return f"{key}: {problem}"
    return None


def _differs(got: Any, expected: Any, rtol: float, against: str = "PyTorch") -> str | None:
    """What differs between chainrule's ``got`` and ``expected`` (PyTorch's, or ``against``)."""
    says = f"chainrule gives {_show(got)}, {against} {_show(expected)}"
    if got is None or expected is None:
        present = expected if got is None else got
        return None if present is None or not np.any(present) else says
    if got.shape != expected.shape:
        return f"shape {got.shape} in chainrule, {expected.shape} in {against}"
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    return None if np.allclose(got, expected, rtol=rtol, atol=rtol * scale) else says


def _show(a: Any) -> str:
    if a is None:
        return "None"
    return np.array2string(np.asarray(a), precision=6, separator=", ")


# ----- shrinking -----
def shrink(program: Program, fails: Callable[[Program], bool], budget: int = 400) -> Program:
    """A smaller program that still fails: fewer outputs, retained values, steps and leaves."""
    tried = 0
    changed = True
    while changed and tried < budget:
        changed = False
        for candidate in _smaller(program):
            tried += 1
            if tried > budget:
                break
            if values(candidate) is None:
                continue
            try:
                failing = fails(candidate)
            except Invalid:
                continue
            if failing:
                program, changed = candidate, True
                break
    return program


def _smaller(p: Program):
    """Candidate simplifications of ``p``, the biggest cuts first."""
    for j in range(len(p.outputs)):
        if len(p.outputs) > 1:
            yield replace(
                p,
                outputs=p.outputs[:j] + p.outputs[j + 1 :],
                weights=p.weights[:j] + p.weights[j + 1 :],
            )
    for j in range(len(p.retain)):
        yield replace(p, retain=p.retain[:j] + p.retain[j + 1 :])
    for j in range(len(p.targets)):
        if len(p.targets) > 1:
            yield replace(p, targets=p.targets[:j] + p.targets[j + 1 :])
    if p.mode != "backward":
        yield replace(p, mode="backward", targets=(), retain=p.retain)
    for k in range(len(p.steps) - 1, -1, -1):
        cut = _without_step(p, k)
        if cut is not None:
            yield cut
    for k, step in enumerate(p.steps):
        if step.detach or step.no_grad:
            yield replace(p, steps=_set(p.steps, k, replace(step, detach=(), no_grad=False)))
    for i in range(len(p.leaves)):
        cut = _without_leaf(p, i)
        if cut is not None:
            yield cut


def _set(t: tuple, k: int, v: Any) -> tuple:
    return t[:k] + (v,) + t[k + 1 :]


def _renumber(p: Program, at: int, to: int | None) -> Program | None:
    """``p`` with value ``at`` removed: its uses refer to value ``to`` instead (None: no uses
    allowed); later values move down by one."""

    def new(i: int) -> int | None:
        if i == at:
            return None if to is None else new(to)
        return i - 1 if i > at else i

    steps = []
    for k, step in enumerate(p.steps):
        if len(p.leaves) + k == at:
            continue
        args = tuple(new(a) for a in step.args)
        if None in args:
            return None
        steps.append(replace(step, args=args))
    outputs = [new(i) for i in p.outputs]
    if None in outputs or not outputs:
        return None
    leaves_cut = at < len(p.leaves)
    return replace(
        p,
        leaves=p.leaves[:at] + p.leaves[at + 1 :] if leaves_cut else p.leaves,
        requires=p.requires[:at] + p.requires[at + 1 :] if leaves_cut else p.requires,
        steps=tuple(steps),
        outputs=tuple(outputs),
        retain=tuple(
            n for i in p.retain if (n := new(i)) is not None and n >= len(p.leaves) - leaves_cut
        ),
        targets=tuple(dict.fromkeys(n for i in p.targets if (n := new(i)) is not None)),
        zero=new(p.zero) or 0,
    )


def _without_step(p: Program, k: int) -> Program | None:
    """Step k removed: its uses take its first argument instead, where the shape allows."""
    at = len(p.leaves) + k
    step = p.steps[k]
    src = step.args[0]
    if at in p.outputs:
        # an output goes: its weight goes with it, or the output becomes the step's input
        vals = values(p)
        if vals is None or vals[src].shape != vals[at].shape:
            if len(p.outputs) == 1:
                return None
            j = p.outputs.index(at)
            p = replace(
                p,
                outputs=p.outputs[:j] + p.outputs[j + 1 :],
                weights=p.weights[:j] + p.weights[j + 1 :],
            )
    return _renumber(p, at, src)


def _without_leaf(p: Program, i: int) -> Program | None:
    if len(p.leaves) == 1 or any(i in s.args for s in p.steps) or i in p.outputs:
        return None
    if not any(r for j, r in enumerate(p.requires) if j != i):
        return None
    return _renumber(p, i, None)


def repro(program: Program, problem: str) -> str:
    """The failing program as a script to paste, with what differs."""
    lines = ["import numpy as np", "import chainrule as cr", "lib, F, R = cr, cr.nn.functional, {}"]
    for name, value in program.consts().items():
        arr = np.array2string(value, separator=", ", floatmode="unique", threshold=10**6)
        text = f"np.array({arr}, dtype=np.{value.dtype})"
        if name[0] in "kW":
            text = f"cr.from_numpy({text})"
        lines.append(f"{name} = {text}")
    lines.append(program.source("cr"))
    said = "\n# ".join(problem.splitlines())
    return "\n".join(lines) + f"\n# differs from PyTorch: {said}"


def with_mode(program: Program, mode: str) -> Program:
    """The program with another backward scenario (targets: the leaves that require grad)."""
    leaves = tuple(i for i in range(len(program.leaves)) if program.requires[i])
    retain = program.retain if mode in ("backward", "caller", "accumulate") else ()
    return replace(program, mode=mode, targets=leaves if mode == "grad" else (), retain=retain)


def functions_run(program: Program) -> set[str]:
    """The Functions in chainrule's graph of the program's values and (recorded) gradients."""
    ns = execute(with_mode(program, "graph"), "cr")
    roots = [ns[program.name(i)] for i in range(program.n_values)]
    roots += [g for g in ns["gs"] if g is not None]
    seen: set = set()
    stack = [t.grad_fn for t in roots if t.grad_fn is not None]
    visited: set = set()
    while stack:
        node = stack.pop()
        if id(node) in visited:
            continue
        visited.add(id(node))
        seen.add(node.function.__name__)
        stack += [fn for fn, _ in node.next_functions if fn is not None]
    return seen


def covered_functions() -> set[str]:
    return {f for s in SPECS for f in s.fns}


def function_classes() -> set[str]:
    """Every Function subclass chainrule defines (its op set), but those whose results carry no
    gradient (``ValueFunction``): they are in no graph to compare."""
    return {n for n, c in op_classes().items() if getattr(c, "differentiable", True)}
