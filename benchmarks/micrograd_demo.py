"""Workload (e): micrograd's own demo, one training step, with Python's garbage collector on.

micrograd's README and demo.ipynb: ``MLP(2, [16, 16, 1])`` on ``make_moons(n_samples=100,
noise=0.1)`` with labels -1/+1, the SVM "max-margin" loss ``mean(relu(1 - y * score))`` plus
``alpha * sum(p * p)`` over every parameter (alpha = 1e-4), then ``zero_grad``, ``backward`` and
``p.data -= learning_rate * p.grad`` with ``learning_rate = 1.0 - 0.9 * k / 100``. One step is
that, exactly as the notebook writes it for micrograd, and the same computation batched with
tensors for the others, from micrograd's initial weights (copied):

- chainrule: ``nn.MLP(2, [16, 16], 1)``, ``F.relu(1 - y * scores).mean() + alpha *
  nn.l2_penalty(parameters)`` (the library's L2 term: one op for the sum of every parameter's
  squares, biases included as micrograd counts them), ``optim.SGD`` with the learning rate set
  per step, float32;
- chainrule compiled (key ``compiled``): the same step through ``cr.compile``, the learning rate
  set before each call (the optimizer reads it at every replay); recorded on its first two
  calls, replayed after; a check runs it beside eager chainrule and compares bit for bit;
- PyTorch (for information): the same with torch ops, float32;
- hand-written NumPy (for information, the floor): forward, backward and update by hand.

The collector stays on for every competitor (micrograd's graph holds reference cycles, which only
the collector frees: that is part of what its users pay).
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

ALPHA = 1e-4


def moons() -> tuple[np.ndarray, np.ndarray]:
    """The notebook's data: seeds 1337, 100 moons points, labels -1/+1."""
    from sklearn.datasets import make_moons

    np.random.seed(1337)
    random.seed(1337)
    x, y = make_moons(n_samples=100, noise=0.1)
    return x, y * 2 - 1


def _lr(k: int) -> float:
    return 1.0 - 0.9 * (k % 100) / 100


class Micrograd:
    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        from micrograd.engine import Value
        from micrograd.nn import MLP

        random.seed(1337)
        self.Value, self.X, self.y = Value, x, y
        self.model = MLP(2, [16, 16, 1])
        self.k = 0

    def loss(self) -> tuple[Any, float]:  # the notebook's loss(), batch_size=None
        Value, model = self.Value, self.model
        Xb, yb = self.X, self.y
        inputs = [list(map(Value, xrow)) for xrow in Xb]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(yb, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        alpha = ALPHA
        reg_loss = alpha * sum(p * p for p in model.parameters())
        total_loss = data_loss + reg_loss
        accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(yb, scores)]
        return total_loss, sum(accuracy) / len(accuracy)

    def step(self) -> float:
        total_loss, acc = self.loss()
        self.model.zero_grad()
        total_loss.backward()
        learning_rate = _lr(self.k)
        for p in self.model.parameters():
            p.data -= learning_rate * p.grad
        self.k += 1
        return total_loss.data

    def layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Weights (out, in) and biases (out,) per layer, as arrays."""
        out = []
        for layer in self.model.layers:
            w = np.array([[v.data for v in n.w] for n in layer.neurons])
            b = np.array([n.b.data for n in layer.neurons])
            out.append((w, b))
        return out

    def grads(self) -> list[np.ndarray]:
        return [np.array([p.grad for p in self.model.parameters()])]


class Chainrule:
    def __init__(self, x: np.ndarray, y: np.ndarray, layers: list) -> None:
        import chainrule as cr
        import chainrule.nn.functional as F
        from chainrule import nn

        self.F, self.nn = F, nn
        self.model = nn.MLP(2, [16, 16], 1)
        self.model.load_state_dict(_state(layers, cr.tensor))
        self.params = list(self.model.parameters())
        self.opt = cr.optim.SGD(self.params, lr=1.0)
        self.x = cr.tensor(x.astype(np.float32))
        self.y = cr.tensor(y.astype(np.float32)[:, None])
        self.k = 0

    def step(self) -> float:
        scores = self.model(self.x)
        data_loss = self.F.relu(1 - self.y * scores).mean()
        reg_loss = ALPHA * self.nn.l2_penalty(self.params)
        total_loss = data_loss + reg_loss
        self.opt.param_groups[0]["lr"] = _lr(self.k)
        self.opt.zero_grad()
        total_loss.backward()
        self.opt.step()
        self.k += 1
        return total_loss

    def first_loss(self) -> float:
        return float(self.step().item())

    def grads(self) -> list[np.ndarray]:
        return [np.concatenate([p.grad.numpy().ravel() for p in self.params])]


class ChainruleCompiled(Chainrule):
    """The same step, recorded by ``cr.compile`` and replayed on arrays; the learning rate is set
    outside the compiled function, as a scheduler would, and read by the optimizer at each call."""

    def __init__(self, x: np.ndarray, y: np.ndarray, layers: list) -> None:
        import chainrule as cr

        super().__init__(x, y, layers)

        def step(x: Any, y: Any) -> Any:
            scores = self.model(x)
            data_loss = self.F.relu(1 - y * scores).mean()
            total_loss = data_loss + ALPHA * self.nn.l2_penalty(self.params)
            self.opt.zero_grad()
            total_loss.backward()
            self.opt.step()
            return total_loss

        self.compiled = cr.compile(step)

    def step(self) -> Any:
        self.opt.param_groups[0]["lr"] = _lr(self.k)
        total_loss = self.compiled(self.x, self.y)
        self.k += 1
        return total_loss


def compiled_agrees(x: np.ndarray, y: np.ndarray, layers: list, steps: int = 5) -> dict:
    """Eager and compiled chainrule from the same weights: the same losses and gradients, bit for
    bit, over ``steps`` steps (the last ``steps - 2`` replayed, the learning rate changing)."""
    eager, compiled = Chainrule(x, y, layers), ChainruleCompiled(x, y, layers)
    same = True
    for _ in range(steps):
        same &= float(eager.step().item()) == float(compiled.step().item())
        same &= bool(np.array_equal(eager.grads()[0], compiled.grads()[0]))
    return {"ok": same, "replays": compiled.compiled.replays, "steps": steps}


class Torch:
    def __init__(self, x: np.ndarray, y: np.ndarray, layers: list) -> None:
        import torch
        from _harness import limit_torch_threads

        limit_torch_threads(torch)
        self.torch = torch
        mods: list[Any] = []
        for i, (w, _) in enumerate(layers):
            mods.append(torch.nn.Linear(w.shape[1], w.shape[0]))
            if i < len(layers) - 1:
                mods.append(torch.nn.ReLU())
        self.model = torch.nn.Sequential(*mods)
        self.model.load_state_dict(_state(layers, lambda a: torch.tensor(a)))
        self.params = list(self.model.parameters())
        self.opt = torch.optim.SGD(self.params, lr=1.0)
        self.x = torch.tensor(x.astype(np.float32))
        self.y = torch.tensor(y.astype(np.float32)[:, None])
        self.k = 0

    def step(self) -> Any:
        scores = self.model(self.x)
        data_loss = self.torch.relu(1 - self.y * scores).mean()
        reg_loss = ALPHA * sum((p * p).sum() for p in self.params)
        total_loss = data_loss + reg_loss
        self.opt.param_groups[0]["lr"] = _lr(self.k)
        self.opt.zero_grad()
        total_loss.backward()
        self.opt.step()
        self.k += 1
        return total_loss

    def first_loss(self) -> float:
        return float(self.step().item())

    def grads(self) -> list[np.ndarray]:
        return [np.concatenate([p.grad.numpy().ravel() for p in self.params])]


class ByHand:
    """Forward, backward and update by hand in NumPy (float32): the floor."""

    def __init__(self, x: np.ndarray, y: np.ndarray, layers: list) -> None:
        self.x = x.astype(np.float32)
        self.y = y.astype(np.float32)[:, None]
        self.W = [w.astype(np.float32) for w, _ in layers]
        self.b = [b.astype(np.float32) for _, b in layers]
        self.k = 0
        self.dW: list[np.ndarray] = []
        self.db: list[np.ndarray] = []

    def step(self) -> float:
        W, b, n = self.W, self.b, len(self.x)
        acts = [self.x]
        a = self.x
        for i in range(len(W)):
            a = a @ W[i].T + b[i]
            if i < len(W) - 1:
                np.maximum(a, 0, out=a)
            acts.append(a)
        margins = 1 - self.y * a
        data_loss = np.maximum(margins, 0).mean()
        reg = ALPHA * (sum(float((w * w).sum()) for w in W) + sum(float((c * c).sum()) for c in b))
        g = np.where(margins > 0, -self.y, 0).astype(np.float32) / n  # d loss / d score
        dW, db = [None] * len(W), [None] * len(W)
        for i in reversed(range(len(W))):
            dW[i] = g.T @ acts[i] + (2 * ALPHA) * W[i]
            db[i] = g.sum(0) + (2 * ALPHA) * b[i]
            if i > 0:
                g = g @ W[i]
                g *= acts[i] > 0
        lr = _lr(self.k)
        for i in range(len(W)):
            W[i] -= lr * dW[i]
            b[i] -= lr * db[i]
        self.dW, self.db = dW, db
        self.k += 1
        return data_loss + reg

    def first_loss(self) -> float:
        return float(self.step())

    def grads(self) -> list[np.ndarray]:
        return [np.concatenate([a.ravel() for pair in zip(self.dW, self.db) for a in pair])]


def _state(layers: list, make: Any) -> dict[str, Any]:
    state = {}
    for i, (w, b) in enumerate(layers):
        state[f"{2 * i}.weight"] = make(w.astype(np.float32))
        state[f"{2 * i}.bias"] = make(b.astype(np.float32))
    return state


def _flat_micrograd(m: Micrograd) -> np.ndarray:
    """micrograd's gradients regrouped as (W0, b0, W1, b1, ...), rows = neurons."""
    out = []
    for layer in m.model.layers:
        out.append(np.array([[v.grad for v in n.w] for n in layer.neurons]).ravel())
        out.append(np.array([n.b.grad for n in layer.neurons]))
    return np.concatenate(out)


def run(key: str, settings: Any, log: Any) -> dict[str, Any]:
    import gc

    from _harness import TARGETS, Competitor, interleave, skipped

    gc.enable()
    skips: dict[str, str] = {}
    note = skipped("sklearn")  # make_moons, as the notebook uses
    if note:
        return {"key": key, "title": TITLE, "skipped": "needs make_moons: " + note}
    x, y = moons()
    mg_note = skipped("micrograd")
    if mg_note:
        return {"key": key, "title": TITLE, "skipped": "the reference is micrograd: " + mg_note}
    mg = Micrograd(x, y)
    layers = mg.layers()
    built: dict[str, Any] = {}
    for k, cls, module in (
        ("chainrule", Chainrule, "chainrule"),
        ("compiled", ChainruleCompiled, "chainrule"),
        ("torch", Torch, "torch"),
    ):
        note = skipped(module)
        if note:
            skips[k] = note
            continue
        built[k] = cls(x, y, layers)
    built["numpy"] = ByHand(x, y, layers)
    # check: the first step's loss and gradients agree with micrograd's
    mg_loss = mg.step()
    mg_grads = _flat_micrograd(mg)
    checks: dict[str, Any] = {"micrograd_loss": mg_loss}
    ok = True
    for k, obj in built.items():
        loss = obj.first_loss()
        g = obj.grads()[0]
        err = float(np.abs(g - mg_grads).max() / max(np.abs(mg_grads).max(), 1e-30))
        good = abs(loss - mg_loss) < 1e-4 and err < 1e-3
        checks[k] = {"loss": loss, "grad_rel_err": err, "ok": good}
        ok &= good
    checks["ok"] = ok
    log(f"    check (micrograd's loss and gradients after one step): {'ok' if ok else 'MISMATCH'}")
    agrees = compiled_agrees(x, y, layers) if "compiled" in built else None
    if agrees is not None:
        log(f"    check (compiled = eager, bit for bit): {'ok' if agrees['ok'] else 'MISMATCH'}")
    labels = {
        "chainrule": "chainrule (batched tensors)",
        "compiled": "chainrule, cr.compile",
        "torch": "PyTorch (batched tensors)",
        "numpy": "by hand (NumPy)",
    }
    # its check step above was its warm-up: a step takes about a second, a sample is one step
    competitors = [Competitor("micrograd", "micrograd (its demo)", step=mg.step, warmed=True)]
    competitors[0:0] = [Competitor(k, labels[k], step=obj.step) for k, obj in built.items()]
    result = interleave(competitors, settings, log=log)
    result["skipped"] = skips
    return {
        "key": key,
        "title": TITLE,
        "unit": "step",
        "measurements": [{"label": "one training step", **result}],
        "targets": TARGETS[key],
        "checks": {
            "first_step_vs_micrograd": checks,
            "compiled_bit_for_bit": agrees,
            "gc_enabled": gc.isenabled(),
        },
        "extra": {"compiled_speedup": compiled_speedup(result)},
    }


def compiled_speedup(result: dict[str, Any]) -> dict[str, float] | None:
    """The compiled step against eager chainrule, PyTorch and micrograd: ratios of the medians
    of the same run (their time / the compiled step's: > 1 means the compiled step is faster)."""
    comps = result["competitors"]
    if "compiled" not in comps:
        return None
    t = comps["compiled"]["median"]
    return {k: comps[k]["median"] / t for k in ("chainrule", "torch", "micrograd") if k in comps}


TITLE = "(e) micrograd's demo: MLP(2, [16, 16, 1]) on 100 moons, max-margin loss + L2, one step"
