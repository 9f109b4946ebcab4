"""Universal approximation: one hidden layer of more and more ReLU units fits a 1-D function.

    python examples/09_universal_approximation.py [--out DIR]

A 1-h-1 network, f(x) = W2 max(0, W1 x + b1) + b2, is a piecewise-linear function with at most
h kinks; with more units it follows any continuous target more closely. Fits
y = sin(3x) + 0.3 x^2 on [-2, 2] with h = 1, 2, 4, 8, 16, 32 hidden units (full-batch Adam,
seeded), prints the mean squared error of each (it shrinks as h grows) and writes
universal_approximation.png: the fits over the target, and the error against h.

The hidden units start with their kinks spread evenly over [-2, 2] (unit i computes
max(0, +-(x - c_i))), then every weight trains. From PyTorch's default random start, a small
network often loses units that are off (0) over the whole interval, and the comparison would
measure that bad luck rather than the capacity.
"""

import numpy as np
from _common import output_dir, save
from matplotlib.figure import Figure

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

HIDDEN = (1, 2, 4, 8, 16, 32)


def target(x: np.ndarray) -> np.ndarray:
    return np.sin(3 * x) + 0.3 * x**2


def fit(hidden: int, x: cr.Tensor, y: cr.Tensor, steps: int = 2000) -> nn.Module:
    cr.manual_seed(0)
    model = nn.MLP(1, [hidden], 1)
    kinks = np.linspace(-2, 2, hidden + 2)[1:-1]  # evenly inside the interval
    sign = np.where(np.arange(hidden) % 2 == 0, 1.0, -1.0)  # alternate facing right and left
    with cr.no_grad():
        model[0].weight.copy_(cr.tensor(sign[:, None].astype(np.float32)))
        model[0].bias.copy_(cr.tensor((-sign * kinks).astype(np.float32)))
    opt = cr.optim.Adam(model.parameters(), lr=0.01)
    sched = cr.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    for _ in range(steps):
        loss = F.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return model


def main() -> None:
    out = output_dir(__doc__)
    xs = np.linspace(-2, 2, 200, dtype=np.float32)[:, None]
    x, y = cr.tensor(xs), cr.tensor(target(xs))
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax_fit, ax_err = fig.subplots(1, 2, width_ratios=[3, 2])
    ax_fit.plot(xs[:, 0], target(xs)[:, 0], "k", lw=3, alpha=0.3, label="target")
    errors = []
    for hidden in HIDDEN:
        model = fit(hidden, x, y)
        with cr.no_grad():
            pred = model(x)
            mse = F.mse_loss(pred, y).item()
        errors.append(mse)
        print(f"hidden units h = {hidden:2d}: mean squared error {mse:.5f}")
        ax_fit.plot(xs[:, 0], pred.numpy()[:, 0], label=f"{hidden} unit" + "s" * (hidden > 1))
    ax_fit.set_title("y = sin(3x) + 0.3 x^2 and the 1-h-1 ReLU fits")
    ax_fit.set_xlabel("x")
    ax_fit.legend(fontsize=8)
    ax_err.plot(HIDDEN, errors, "o-")
    ax_err.set_xscale("log", base=2)
    ax_err.set_xticks(HIDDEN, [str(h) for h in HIDDEN])
    ax_err.set_yscale("log")
    ax_err.set_xlabel("hidden units")
    ax_err.set_ylabel("mean squared error")
    ax_err.set_title("the error shrinks with more units")
    for ax in (ax_fit, ax_err):
        ax.grid(True, alpha=0.3)
    save(fig, out / "universal_approximation.png")


if __name__ == "__main__":
    main()
