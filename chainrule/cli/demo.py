"""``chainrule demo``: the engine at work on the lecture's examples, then a small training run."""

from __future__ import annotations

import argparse
import time

import numpy as np

EXAMPLES = """examples:
  chainrule demo              the sigmoid neuron's gradients, then a 2-layer net on a spiral
  chainrule demo --steps 500  train longer
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="show backpropagation on the lecture's examples and train a tiny network",
        description=__doc__,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--steps", type=int, default=1000, help="gradient-descent steps (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(run_command=run)


def run(args: argparse.Namespace) -> int:
    import chainrule as cr

    if args.steps < 1:
        raise SystemExit(f"chainrule demo: --steps must be at least 1; got {args.steps}")

    print("The lecture's sigmoid neuron f = 1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))")
    values = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}
    leaves = {
        k: cr.tensor(v, dtype=cr.float64, requires_grad=True, name=k) for k, v in values.items()
    }
    w0, x0, w1, x1, w2 = leaves.values()
    f = 1 / (1 + cr.exp(-(w0 * x0 + w1 * x1 + w2)))
    f.backward()
    print(f"  forward:  f = {f.item():.4f}")
    print("  backward: " + ", ".join(f"df/d{k} = {t.grad.item():.4f}" for k, t in leaves.items()))

    print("\nA 2-layer network (2 -> 100 -> 3, ReLU) learns a 3-class spiral by gradient descent")
    cr.manual_seed(args.seed)
    x, y = _spiral(100, 3, np.random.default_rng(args.seed))
    X, Y = cr.from_numpy(x), cr.from_numpy(y)
    W1 = (cr.randn(2, 100) * 0.5).requires_grad_()
    b1 = cr.zeros(100, requires_grad=True)
    W2 = (cr.randn(100, 3) * 0.1).requires_grad_()
    b2 = cr.zeros(3, requires_grad=True)
    params = [W1, b1, W2, b2]
    lr, reg = 1.0, 1e-3
    start = time.perf_counter()
    for step in range(args.steps + 1):
        scores = (X @ W1 + b1).relu() @ W2 + b2
        data_loss = -scores.log_softmax(dim=1)[cr.arange(len(y)), Y].mean()
        loss = data_loss + reg * ((W1 * W1).sum() + (W2 * W2).sum())
        for p in params:
            p.grad = None
        loss.backward()
        with cr.no_grad():
            for p in params:
                p -= lr * p.grad
        if step % max(1, args.steps // 5) == 0:
            acc = (scores.argmax(dim=1) == Y).float().mean().item()
            print(f"  step {step:4d}  loss {loss.item():.4f}  training accuracy {acc:.1%}")
    print(f"  {args.steps} steps in {time.perf_counter() - start:.2f} s")
    return 0


def _spiral(n: int, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """CS231n's spiral: k arms of n points each, with a little noise."""
    x = np.zeros((n * k, 2), np.float32)
    y = np.zeros(n * k, np.int64)
    for c in range(k):
        r = np.linspace(0.0, 1, n)
        t = np.linspace(c * 4, (c + 1) * 4, n) + rng.standard_normal(n) * 0.2
        x[c * n : (c + 1) * n] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[c * n : (c + 1) * n] = c
    return x, y
