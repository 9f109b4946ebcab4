"""Workloads (a), (b), (c): one float32 training step of an MLP, and the matmul ceiling.

(a) 3072-100-10 at batch 256 (the lecture's CIFAR-10 net), (b) 3072-1024-1024-10 at batch 256,
(c) 2-16-16-2 at batch 32 (Playground size). A step is: forward, softmax cross-entropy, backward,
plain SGD (lr 1e-3), on one fixed batch of standard-normal inputs and random labels. Every
competitor starts from the same weights (PyTorch's initialisation, drawn once with NumPy and
copied) and sees the same data; one step of each is checked against chainrule's before timing.

Competitors, all written here:

- chainrule: ``nn.MLP``, ``F.cross_entropy``, ``optim.SGD``, ``zero_grad()``, ``backward()``,
  ``step()``;
- chainrule compiled (key ``compiled``): the same step as a function through ``cr.compile``,
  recorded on its first two calls and replayed after (its warm-up covers both); a check runs
  both from the same weights for a few steps and compares the losses and weights bit for bit;
- hand-written NumPy, the floor: fused ``x @ W.T + b`` into preallocated buffers, ReLU in place,
  stable softmax cross-entropy, backward by hand, SGD in place; no needless copies;
- PyTorch CPU: ``nn.Sequential`` + ``F.cross_entropy`` + ``optim.SGD``, same thread count;
- scikit-learn: ``MLPClassifier(solver="sgd", momentum=0, alpha=0, batch_size=N)``, one
  ``partial_fit`` per step (an epoch of one batch); for 2 classes it has one logistic output,
  initialised to the same function (softmax of 2 logits is the sigmoid of their difference);
- the ceiling: exactly the matrix products of the NumPy step (forward, weight gradients, input
  gradients of the hidden layers), back to back with preallocated outputs. Its ratio to a step's
  time is the fraction of the matmul ceiling that step reaches.

This module imports NumPy alone at the top: ``peak_memory.py`` runs each competitor in a fresh
process and must not load the others' libraries.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

LR = 1e-3
SHAPES: dict[str, tuple[tuple[int, ...], int]] = {
    "a": ((3072, 100, 10), 256),
    "b": ((3072, 1024, 1024, 10), 256),
    "c": ((2, 16, 16, 2), 32),
}


@dataclass
class Problem:
    """The data and the initial weights every competitor copies."""

    sizes: tuple[int, ...]
    batch: int
    x: np.ndarray  # (N, sizes[0]) float32
    y: np.ndarray  # (N,) int64
    weights: list[tuple[np.ndarray, np.ndarray]]  # per layer: W (out, in), b (out,)

    @property
    def name(self) -> str:
        return "-".join(map(str, self.sizes)) + f" MLP, batch {self.batch}"


def make_problem(key: str, seed: int = 0) -> Problem:
    sizes, n = SHAPES[key]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], n).astype(np.int64)
    weights = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1 / np.sqrt(fan_in)  # PyTorch's nn.Linear initialisation
        w = rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32)
        b = rng.uniform(-bound, bound, fan_out).astype(np.float32)
        weights.append((w, b))
    return Problem(sizes, n, x, y, weights)


def matmul_shapes(p: Problem) -> list[tuple[int, int, int]]:
    """(m, k, n) of every product in one training step, in the order the NumPy step runs them."""
    n, sizes, shapes = p.batch, p.sizes, []
    for i in range(len(sizes) - 1):  # forward: (N, in) @ (in, out)
        shapes.append((n, sizes[i], sizes[i + 1]))
    for i in reversed(range(len(sizes) - 1)):
        shapes.append((sizes[i + 1], n, sizes[i]))  # dW = g.T @ a: (out, N) @ (N, in)
        if i > 0:
            shapes.append((n, sizes[i + 1], sizes[i]))  # g @ W: (N, out) @ (out, in)
    return shapes


def step_flops(p: Problem) -> int:
    return sum(2 * m * k * n for m, k, n in matmul_shapes(p))


# ----- hand-written NumPy: the floor -----
class NumpyMLP:
    """Forward, softmax cross-entropy, backward and SGD by hand, into preallocated buffers."""

    def __init__(self, p: Problem, lr: float = LR) -> None:
        self.lr, self.x, self.y = lr, p.x, p.y
        self.W = [w.copy() for w, _ in p.weights]
        self.b = [b.copy() for _, b in p.weights]
        n = p.batch
        self.h = [np.empty((n, w.shape[0]), np.float32) for w in self.W]  # each layer's output
        self.gh = [np.empty((n, w.shape[0]), np.float32) for w in self.W[:-1]]  # d loss / d h
        self.dW = [np.empty_like(w) for w in self.W]
        self.db = [np.empty_like(b) for b in self.b]
        self.rows = np.arange(n)
        self.loss = float("nan")

    def forward(self) -> None:
        a, last = self.x, len(self.W) - 1
        for i, (w, b, h) in enumerate(zip(self.W, self.b, self.h)):
            np.matmul(a, w.T, out=h)
            h += b
            if i < last:
                np.maximum(h, 0, out=h)
            a = h
        s = self.h[-1]  # scores -> shifted scores -> probabilities, in place
        s -= s.max(axis=1, keepdims=True)
        picked = s[self.rows, self.y]
        np.exp(s, out=s)
        total = s.sum(axis=1, keepdims=True)
        self.loss = float(np.log(total).mean() - picked.mean())
        s /= total

    def backward(self) -> None:
        g = self.h[-1]  # softmax - onehot, over N: d loss / d scores
        g[self.rows, self.y] -= 1
        g *= 1 / len(self.y)
        for i in reversed(range(len(self.W))):
            a = self.x if i == 0 else self.h[i - 1]
            np.matmul(g.T, a, out=self.dW[i])
            np.sum(g, axis=0, out=self.db[i])
            if i > 0:
                gh = self.gh[i - 1]
                np.matmul(g, self.W[i], out=gh)
                np.multiply(gh, a > 0, out=gh)  # ReLU's gate
                g = gh

    def update(self) -> None:
        for w, b, dw, db in zip(self.W, self.b, self.dW, self.db):
            dw *= self.lr
            w -= dw
            db *= self.lr
            b -= db

    def step(self) -> None:
        self.forward()
        self.backward()
        self.update()

    def phases(self) -> list[tuple[str, Any]]:
        return [
            ("forward + loss", self.forward),
            ("backward", self.backward),
            ("update", self.update),
        ]

    def first_weight(self) -> np.ndarray:
        return self.W[0]


# ----- chainrule -----
class ChainruleMLP:
    def __init__(self, p: Problem, lr: float = LR) -> None:
        import chainrule as cr
        import chainrule.nn.functional as F
        from chainrule import nn

        self.F = F
        self.model = nn.MLP(p.sizes[0], list(p.sizes[1:-1]), p.sizes[-1])
        state = {}
        for i, (w, b) in enumerate(p.weights):
            state[f"{2 * i}.weight"] = cr.tensor(w.copy())
            state[f"{2 * i}.bias"] = cr.tensor(b.copy())
        self.model.load_state_dict(state)
        self.opt = cr.optim.SGD(self.model.parameters(), lr=lr)
        self.x, self.y = cr.from_numpy(p.x), cr.from_numpy(p.y)
        self.loss: Any = None

    def step(self) -> None:
        loss = self.F.cross_entropy(self.model(self.x), self.y)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        self.loss = loss

    def forward(self) -> None:
        self.loss = self.F.cross_entropy(self.model(self.x), self.y)

    def backward(self) -> None:
        self.loss.backward()

    def phases(self) -> list[tuple[str, Any]]:
        return [
            ("forward + loss", self.forward),
            ("zero_grad", self.opt.zero_grad),
            ("backward", self.backward),
            ("update", self.opt.step),
        ]

    def loss_value(self) -> float:
        return float(self.loss.item())

    def first_weight(self) -> np.ndarray:
        return self.model[0].weight.detach().numpy()


class ChainruleCompiledMLP(ChainruleMLP):
    """The same step, recorded once by ``cr.compile`` and replayed on arrays after."""

    def __init__(self, p: Problem, lr: float = LR) -> None:
        import chainrule as cr

        super().__init__(p, lr)

        def step(x: Any, y: Any) -> Any:
            loss = self.F.cross_entropy(self.model(x), y)
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            return loss

        self.compiled = cr.compile(step)

    def step(self) -> None:
        self.loss = self.compiled(self.x, self.y)

    def phases(self) -> list[tuple[str, Any]]:
        return [("compiled step", self.step)]


def compiled_agrees(p: Problem, steps: int = 5) -> dict[str, Any]:
    """Eager and compiled chainrule from the same weights: the same losses and weights, bit for
    bit, after ``steps`` steps (the last ``steps - 2`` of them replayed)."""
    eager, compiled = ChainruleMLP(p), ChainruleCompiledMLP(p)
    same = True
    for _ in range(steps):
        eager.step()
        compiled.step()
        same &= eager.loss_value() == compiled.loss_value()
    same &= bool(np.array_equal(eager.first_weight(), compiled.first_weight()))
    return {"ok": same, "replays": compiled.compiled.replays, "steps": steps}


# ----- PyTorch -----
class TorchMLP:
    def __init__(self, p: Problem, lr: float = LR) -> None:
        import torch
        from _harness import limit_torch_threads

        limit_torch_threads(torch)
        self.torch = torch
        layers: list[Any] = []
        for i, (w, b) in enumerate(p.weights):
            lin = torch.nn.Linear(w.shape[1], w.shape[0])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(w))
                lin.bias.copy_(torch.from_numpy(b))
            layers.append(lin)
            if i < len(p.weights) - 1:
                layers.append(torch.nn.ReLU())
        self.model = torch.nn.Sequential(*layers)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=lr)
        self.x, self.y = torch.from_numpy(p.x), torch.from_numpy(p.y)
        self.cross_entropy = torch.nn.functional.cross_entropy
        self.loss: Any = None

    def step(self) -> None:
        loss = self.cross_entropy(self.model(self.x), self.y)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        self.loss = loss

    def forward(self) -> None:
        self.loss = self.cross_entropy(self.model(self.x), self.y)

    def backward(self) -> None:
        self.loss.backward()

    def phases(self) -> list[tuple[str, Any]]:
        return [
            ("forward + loss", self.forward),
            ("zero_grad", self.opt.zero_grad),
            ("backward", self.backward),
            ("update", self.opt.step),
        ]

    def loss_value(self) -> float:
        return float(self.loss.item())

    def first_weight(self) -> np.ndarray:
        return self.model[0].weight.detach().numpy()


# ----- scikit-learn -----
class SklearnMLP:
    def __init__(self, p: Problem, lr: float = LR) -> None:
        from sklearn.neural_network import MLPClassifier

        self.x, self.y = p.x, p.y
        self.clf = MLPClassifier(
            hidden_layer_sizes=tuple(p.sizes[1:-1]),
            activation="relu",
            solver="sgd",
            alpha=0.0,
            batch_size=p.batch,
            learning_rate="constant",
            learning_rate_init=lr,
            momentum=0.0,
            nesterovs_momentum=False,
            shuffle=False,
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.clf.partial_fit(p.x, p.y, classes=np.arange(p.sizes[-1]))
        # then overwrite its weights with the shared ones (sklearn stores W.T)
        last = len(p.weights) - 1
        for i, (w, b) in enumerate(p.weights):
            if i == last and self.clf.coefs_[i].shape[1] == 1:  # 2 classes: one logistic unit
                w, b = (w[1] - w[0])[None, :], b[1:] - b[:1]
            self.clf.coefs_[i][...] = w.T
            self.clf.intercepts_[i][...] = b

    def step(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.clf.partial_fit(self.x, self.y)

    def loss_value(self) -> float:
        return float(self.clf.loss_)

    def first_weight(self) -> np.ndarray:
        return self.clf.coefs_[0].T


# ----- the ceiling: the step's matrix products alone -----
class Ceiling:
    """The NumPy step's matrix products alone, on its own buffers and array layouts."""

    def __init__(self, p: Problem) -> None:
        self.m = NumpyMLP(p)
        self.m.step()  # realistic values in every buffer

    def step(self) -> None:
        m = self.m
        a = m.x
        for w, h in zip(m.W, m.h):
            np.matmul(a, w.T, out=h)
            a = h
        g = m.h[-1]
        for i in reversed(range(len(m.W))):
            np.matmul(g.T, m.x if i == 0 else m.h[i - 1], out=m.dW[i])
            if i > 0:
                np.matmul(g, m.W[i], out=m.gh[i - 1])
                g = m.gh[i - 1]


BUILDERS = {
    "chainrule": ChainruleMLP,
    "compiled": ChainruleCompiledMLP,
    "numpy": NumpyMLP,
    "torch": TorchMLP,
    "sklearn": SklearnMLP,
}
LABELS = {
    "chainrule": "chainrule",
    "compiled": "chainrule, cr.compile",
    "numpy": "hand-written NumPy",
    "torch": "PyTorch",
    "sklearn": "scikit-learn MLPClassifier",
    "ceiling": "NumPy matmul ceiling",
}
MODULES = {
    "chainrule": "chainrule",
    "compiled": "chainrule",
    "numpy": "numpy",
    "torch": "torch",
    "sklearn": "sklearn",
}

TITLES = {
    "a": "(a) 3072-100-10 MLP, batch 256, float32 training step",
    "b": "(b) 3072-1024-1024-10 MLP, batch 256, float32 training step",
    "c": "(c) 2-16-16-2 MLP, batch 32, float32 training step (Playground size)",
}


def _check(built: dict[str, Any], p: Problem) -> dict[str, Any]:
    """One step of each from the shared weights: same loss, same first-layer update."""
    w0 = p.weights[0][0]
    for obj in built.values():
        obj.step()
    ref = built["chainrule"]
    ref_update = ref.first_weight() - w0
    ref_loss = ref.loss_value()
    out: dict[str, Any] = {"chainrule_loss": ref_loss}
    ok = True
    for key, obj in built.items():
        if key == "chainrule":
            continue
        loss = obj.loss if key == "numpy" else obj.loss_value()
        upd = obj.first_weight() - w0
        err = float(np.abs(upd - ref_update).max() / max(np.abs(ref_update).max(), 1e-30))
        good = abs(loss - ref_loss) <= 1e-4 * max(1.0, abs(ref_loss)) and err < 1e-2
        ok &= good
        out[key] = {"loss": loss, "update_rel_err": err, "ok": good}
    out["ok"] = ok
    return out


def compiled_speedup(result: dict[str, Any]) -> dict[str, float] | None:
    """The compiled step against eager chainrule and PyTorch, as ratios of the medians of the same
    run (their time / the compiled step's: > 1 means the compiled step is faster)."""
    comps = result["competitors"]
    if "compiled" not in comps:
        return None
    t = comps["compiled"]["median"]
    return {k: comps[k]["median"] / t for k in ("chainrule", "torch", "numpy") if k in comps}


def breakdown(objs: dict[str, Any], seconds: float) -> dict[str, dict[str, float]]:
    """Median seconds of each phase of a step, for the competitors that expose phases."""
    import statistics
    import time

    out: dict[str, dict[str, float]] = {}
    from _harness import settle

    for key, obj in objs.items():
        if not hasattr(obj, "phases"):
            continue
        settle()  # the previous competitor's BLAS threads must not share the cores
        phases = obj.phases()
        times: dict[str, list[float]] = {name: [] for name, _ in phases}
        t_end = time.perf_counter() + seconds
        while time.perf_counter() < t_end or not times[phases[0][0]]:
            for name, fn in phases:
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
        out[key] = {name: statistics.median(ts) for name, ts in times.items()}
    return out


def run(key: str, settings: Any, log: Any) -> dict[str, Any]:
    from _harness import TARGETS, Competitor, build, interleave

    p = make_problem(key)
    built, skips = build(BUILDERS, MODULES, p)
    check = _check(built, p)
    log(f"    check (one step from the same weights): {'ok' if check['ok'] else 'MISMATCH'}")
    agrees = compiled_agrees(p) if "compiled" in built else None
    if agrees is not None:
        log(f"    check (compiled = eager, bit for bit): {'ok' if agrees['ok'] else 'MISMATCH'}")
    competitors = [Competitor(k, LABELS[k], step=obj.step) for k, obj in built.items()]
    if key in ("a", "b"):
        competitors.append(Competitor("ceiling", LABELS["ceiling"], step=Ceiling(p).step))
    if "sklearn" in built and p.sizes[-1] == 2:
        competitors[
            [c.key for c in competitors].index("sklearn")
        ].note = (
            "for 2 classes MLPClassifier has one logistic output unit, set to the same function"
        )
    result = interleave(competitors, settings, log=log)
    flops = step_flops(p)
    for c in result["competitors"].values():
        c["gflops"] = flops / c["median"] / 1e9
    result["skipped"] = skips
    last_loss = built["chainrule"].loss_value()
    return {
        "key": key,
        "title": TITLES[key],
        "unit": "step",
        "measurements": [{"label": "training step", **result}],
        "targets": TARGETS[key],
        "checks": {
            "one_step_agreement": check,
            "compiled_bit_for_bit": agrees,
            "chainrule_loss_at_end": last_loss,
        },
        "extra": {
            "compiled_speedup": compiled_speedup(result),
            "matmul_shapes_mkn": matmul_shapes(p),
            "step_gflop": flops / 1e9,
            "breakdown": breakdown(built, 0.1 if settings.quick else 1.0),
        },
    }
