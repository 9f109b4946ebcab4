"""Workloads (i), (j): one float32 training step of a LeNet-style ConvNet, against PyTorch.

(i) MNIST size: a batch of 64 images of 1x28x28; (j) CIFAR size: 64 images of 3x32x32. The
network is the issue's: conv C->16 5x5, ReLU, max-pool 2, conv 16->32 5x5, ReLU, max-pool 2,
flatten, linear -> 120, ReLU, linear -> 10 (no padding: 28 -> 24 -> 12 -> 8 -> 4, 32 -> 28 ->
14 -> 10 -> 5). A step is forward, softmax cross-entropy, backward and plain SGD (lr 0.01), on
one fixed batch of standard-normal images and random labels. Both competitors start from the
same weights (PyTorch's initialisation, drawn once with NumPy and copied) and see the same data;
one step of each is checked against the other's before timing.

Competitors:

- chainrule: ``nn.Sequential`` of ``nn.Conv2d``/``nn.MaxPool2d``/``nn.Linear``,
  ``F.cross_entropy``, ``optim.SGD``;
- PyTorch CPU: the same ``nn.Sequential``, same thread count.

Memory: the first chainrule optimizer made in a process sets glibc's malloc to keep freed
arrays (``chainrule/_memory.py``: a step's fresh pages cost (i) 8 of its 22 ms before). In the
suite both competitors share one process, so PyTorch's steps run with that setting too: the
suite compares the two steps' work under one malloc. ``interleaved.py --torch --only i,j`` runs
PyTorch in a process of its own, without chainrule, as its users run it.

This module imports NumPy alone at the top.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

LR = 0.01
BATCH = 64
SHAPES = {"i": (1, 28), "j": (3, 32)}
TITLES = {
    "i": "(i) LeNet-style ConvNet, 64 images of 1x28x28 (MNIST size), float32 training step",
    "j": "(j) LeNet-style ConvNet, 64 images of 3x32x32 (CIFAR size), float32 training step",
}


@dataclass
class Problem:
    channels: int
    side: int
    x: np.ndarray  # (N, C, H, W) float32
    y: np.ndarray  # (N,) int64
    weights: list[tuple[np.ndarray, np.ndarray]]  # conv1, conv2, fc1, fc2: (W, b)


def make_problem(key: str, seed: int = 0) -> Problem:
    c, side = SHAPES[key]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, c, side, side), dtype=np.float32)
    y = rng.integers(0, 10, BATCH).astype(np.int64)
    flat = 32 * (((side - 4) // 2 - 4) // 2) ** 2
    shapes = [(16, c, 5, 5), (32, 16, 5, 5), (120, flat), (10, 120)]
    weights = []
    for shape in shapes:
        fan_in = int(np.prod(shape[1:]))
        bound = 1 / np.sqrt(fan_in)  # PyTorch's default initialisation bound
        w = rng.uniform(-bound, bound, shape).astype(np.float32)
        b = rng.uniform(-bound, bound, shape[0]).astype(np.float32)
        weights.append((w, b))
    return Problem(c, side, x, y, weights)


def _layers(nn: Any, p: Problem) -> list:
    flat = p.weights[2][0].shape[1]
    return [
        nn.Conv2d(p.channels, 16, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(flat, 120),
        nn.ReLU(),
        nn.Linear(120, 10),
    ]


_PARAM_LAYERS = (0, 3, 7, 9)  # the layers holding the weights, in Problem.weights' order


class ChainruleConvNet:
    def __init__(self, p: Problem) -> None:
        import chainrule as cr

        self.cr = cr
        self.model = cr.nn.Sequential(*_layers(cr.nn, p))
        for i, (w, b) in zip(_PARAM_LAYERS, p.weights):
            self.model[i].weight._data[...] = w
            self.model[i].bias._data[...] = b
        self.opt = cr.optim.SGD(self.model.parameters(), lr=LR)
        self.x, self.y = cr.tensor(p.x), cr.tensor(p.y)
        self.loss = None

    def step(self) -> None:
        self.opt.zero_grad()
        self.loss = self.cr.nn.functional.cross_entropy(self.model(self.x), self.y)
        self.loss.backward()
        self.opt.step()

    def loss_value(self) -> float:
        return float(self.loss.item())

    def first_weight(self) -> np.ndarray:
        return self.model[0].weight.detach().numpy()


class TorchConvNet:
    def __init__(self, p: Problem) -> None:
        import torch

        self.torch = torch
        self.model = torch.nn.Sequential(*_layers(torch.nn, p))
        with torch.no_grad():
            for i, (w, b) in zip(_PARAM_LAYERS, p.weights):
                self.model[i].weight.copy_(torch.from_numpy(w))
                self.model[i].bias.copy_(torch.from_numpy(b))
        self.opt = torch.optim.SGD(self.model.parameters(), lr=LR)
        self.x, self.y = torch.from_numpy(p.x), torch.from_numpy(p.y)
        self.loss = None

    def step(self) -> None:
        self.opt.zero_grad()
        self.loss = self.torch.nn.functional.cross_entropy(self.model(self.x), self.y)
        self.loss.backward()
        self.opt.step()

    def loss_value(self) -> float:
        return float(self.loss.item())

    def first_weight(self) -> np.ndarray:
        return self.model[0].weight.detach().numpy()


BUILDERS = {"chainrule": ChainruleConvNet, "torch": TorchConvNet}
LABELS = {"chainrule": "chainrule", "torch": "PyTorch"}
MODULES = {"chainrule": "chainrule", "torch": "torch"}


def _check(built: dict[str, Any], p: Problem) -> dict[str, Any]:
    """One step of each from the shared weights: same loss, same first-layer update."""
    w0 = p.weights[0][0]
    for obj in built.values():
        obj.step()
    ref = built["chainrule"]
    ref_update = ref.first_weight() - w0
    out: dict[str, Any] = {"chainrule_loss": ref.loss_value()}
    ok = True
    for key, obj in built.items():
        if key == "chainrule":
            continue
        loss = obj.loss_value()
        upd = obj.first_weight() - w0
        err = float(np.abs(upd - ref_update).max() / max(np.abs(ref_update).max(), 1e-30))
        good = abs(loss - out["chainrule_loss"]) <= 1e-4 * max(1.0, abs(loss)) and err < 1e-2
        ok &= good
        out[key] = {"loss": loss, "update_rel_err": err, "ok": good}
    out["ok"] = ok
    return out


def run(key: str, settings: Any, log: Any) -> dict[str, Any]:
    from _harness import TARGETS, Competitor, build, interleave

    p = make_problem(key)
    built, skips = build(BUILDERS, MODULES, p)
    check = _check(built, p)
    log(f"    check (one step from the same weights): {'ok' if check['ok'] else 'MISMATCH'}")
    competitors = [Competitor(k, LABELS[k], step=obj.step) for k, obj in built.items()]
    result = interleave(competitors, settings, log=log)
    result["skipped"] = skips
    return {
        "key": key,
        "title": TITLES[key],
        "unit": "step",
        "measurements": [{"label": "training step", **result}],
        "targets": TARGETS[key],
        "checks": {
            "one_step_agreement": check,
            "chainrule_loss_at_end": built["chainrule"].loss_value(),
        },
        "extra": {"batch": BATCH, "image": [p.channels, p.side, p.side]},
    }
