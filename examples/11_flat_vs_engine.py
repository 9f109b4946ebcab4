"""The same backpropagation written flat by hand and computed by the engine, side by side.

    python examples/11_flat_vs_engine.py [--out DIR]

1. The lecture's "flat" code for the sigmoid neuron: a forward pass that names every
   intermediate (s0, s1, s2, s3, L) and a backward pass that walks them in reverse, one line
   per local gradient. The engine builds the same graph from ``cr.sigmoid(w0*x0 + w1*x1 + w2)``
   and gives the same five numbers.
2. A 2-layer network, scores = max(0, X W1 + b1) W2 + b2 with softmax loss and L2 penalty,
   trained on the spiral by hand in NumPy (forward, backward and SGD in 20 lines) and with
   ``nn.MLP``, ``F.cross_entropy`` and ``optim.SGD`` from the same start, in float64. The losses
   and the final weights agree to round-off.

Prints both sets of numbers and their largest difference; writes flat_vs_engine.png.
"""

import math

import numpy as np
from _common import output_dir, save
from matplotlib.figure import Figure

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn


def neuron_flat(w0: float, x0: float, w1: float, x1: float, w2: float) -> dict[str, float]:
    """The slide's code: forward pass, then backward pass, one gate per line."""
    # forward pass: compute the output
    s0 = w0 * x0
    s1 = w1 * x1
    s2 = s0 + s1
    s3 = s2 + w2
    L = 1 / (1 + math.exp(-s3))  # sigmoid(s3)
    # backward pass: compute the gradients
    grad_L = 1.0
    grad_s3 = grad_L * (1 - L) * L  # sigmoid gate
    grad_w2 = grad_s3  # add gate
    grad_s2 = grad_s3
    grad_s0 = grad_s2  # add gate
    grad_s1 = grad_s2
    grad_w1 = grad_s1 * x1  # multiply gate
    grad_x1 = grad_s1 * w1
    grad_w0 = grad_s0 * x0  # multiply gate
    grad_x0 = grad_s0 * w0
    return {"w0": grad_w0, "x0": grad_x0, "w1": grad_w1, "x1": grad_x1, "w2": grad_w2}


def neuron_engine(**values: float) -> dict[str, float]:
    t = {k: cr.tensor(v, dtype=cr.float64, requires_grad=True) for k, v in values.items()}
    L = cr.sigmoid(t["w0"] * t["x0"] + t["w1"] * t["x1"] + t["w2"])
    L.backward()
    return {k: v.grad.item() for k, v in t.items()}


def train_by_hand(X, y, W1, b1, W2, b2, lr, lam, steps):
    """The 2-layer net in NumPy: forward, softmax loss, backward, SGD. Weights are (in, out)."""
    W1, b1, W2, b2 = (a.copy() for a in (W1, b1, W2, b2))
    n, losses = len(X), []
    for _ in range(steps):
        h = np.maximum(0, X @ W1 + b1)  # forward
        scores = h @ W2 + b2
        shifted = scores - scores.max(axis=1, keepdims=True)
        probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        loss = -np.log(probs[np.arange(n), y]).mean() + lam * ((W1**2).sum() + (W2**2).sum())
        losses.append(loss)
        dscores = probs.copy()  # backward: d loss / d scores = (softmax - one-hot) / N
        dscores[np.arange(n), y] -= 1
        dscores /= n
        dW2 = h.T @ dscores + 2 * lam * W2
        db2 = dscores.sum(axis=0)
        dh = dscores @ W2.T
        dh[h <= 0] = 0  # ReLU routes the gradient to the units that were on
        dW1 = X.T @ dh + 2 * lam * W1
        db1 = dh.sum(axis=0)
        W1 -= lr * dW1  # SGD
        b1 -= lr * db1
        W2 -= lr * dW2
        b2 -= lr * db2
    return (W1, b1, W2, b2), losses


def train_by_engine(X, y, model, lr, lam, steps):
    opt = cr.optim.SGD(model.parameters(), lr=lr)
    xt, yt, losses = cr.tensor(X), cr.tensor(y), []
    for _ in range(steps):
        loss = F.cross_entropy(model(xt), yt) + lam * nn.l2_penalty(model)
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return losses


def main() -> None:
    out = output_dir(__doc__)

    print("== 1. the sigmoid neuron: flat code and engine")
    values = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}
    flat, engine = neuron_flat(**values), neuron_engine(**values)
    print(f"{'':6s}{'flat':>10s}{'engine':>10s}")
    for k in flat:
        print(f"d/d{k:3s}{flat[k]:10.4f}{engine[k]:10.4f}")
    err_neuron = max(abs(flat[k] - engine[k]) for k in flat)
    print(f"neuron: max |flat - engine| = {err_neuron:.1e}")

    print("\n== 2. a 2-layer network trained by hand and by the engine")
    s = cr.data.datasets.spiral(n_samples=300, n_classes=3, seed=0)
    X, y = s.x_train.astype(np.float64), s.y_train
    cr.manual_seed(0)
    model = nn.MLP(2, [50], 3, dtype=cr.float64)
    start = [p.detach().numpy().copy() for p in model.parameters()]  # W1 (50, 2), b1, W2, b2
    W1, b1, W2, b2 = start[0].T, start[1], start[2].T, start[3]  # by hand: (in, out)
    lr, lam, steps = 1.0, 1e-3, 200
    (W1, b1, W2, b2), losses_hand = train_by_hand(X, y, W1, b1, W2, b2, lr, lam, steps)
    losses_engine = train_by_engine(X, y, model, lr, lam, steps)
    trained = [p.detach().numpy() for p in model.parameters()]
    err_weights = max(np.abs(a - b).max() for a, b in zip(trained, (W1.T, b1, W2.T, b2)))
    err_loss = np.abs(np.array(losses_hand) - np.array(losses_engine)).max()
    print(f"loss at step 1: hand {losses_hand[0]:.6f}, engine {losses_engine[0]:.6f}")
    print(f"loss at step {steps}: hand {losses_hand[-1]:.6f}, engine {losses_engine[-1]:.6f}")
    print(
        f"2-layer net: max |hand - engine| over {steps} losses {err_loss:.1e}, "
        f"over the final weights {err_weights:.1e}"
    )

    fig = Figure(figsize=(10, 3.8), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[2, 3])
    names, pos = list(flat), np.arange(len(flat))
    ax1.bar(pos - 0.2, [flat[k] for k in names], 0.4, label="flat code")
    ax1.bar(pos + 0.2, [engine[k] for k in names], 0.4, label="engine")
    ax1.set_xticks(pos, [f"df/d{k}" for k in names])
    ax1.axhline(0, color="k", lw=0.5)
    ax1.set_title("sigmoid neuron: the five gradients")
    ax1.legend(fontsize=8)
    ax2.plot(losses_hand, lw=4, alpha=0.4, label="by hand (NumPy)")
    ax2.plot(losses_engine, "k--", lw=1, label="engine (nn.MLP, SGD)")
    ax2.set_xlabel("step")
    ax2.set_ylabel("loss")
    ax2.set_title("2-layer net on the spiral: the same losses")
    ax2.legend(fontsize=8)
    for ax in (ax1, ax2):
        ax.grid(True, alpha=0.3)
    save(fig, out / "flat_vs_engine.png")


if __name__ == "__main__":
    main()
