"""Two linear layers without an activation collapse into one linear map, W3 = W2 W1.

    python examples/08_linear_collapse.py [--out DIR]

f = W2 (W1 x + b1) + b2 = (W2 W1) x + (W2 b1 + b2): however wide the hidden layer, the network
is a linear classifier. Trains a 2-100-3 network with no activation on the spiral, computes
W3 = W2 W1 and b3 = W2 b1 + b2, and compares: the largest difference between the two outputs
(float32 round-off, below 1e-5), the same predictions, the same straight boundaries
(linear_collapse.png) and the accuracy of a linear classifier (about 50%).
"""

import numpy as np
from _common import output_dir, save
from matplotlib.figure import Figure

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn


def main() -> None:
    out = output_dir(__doc__)
    cr.manual_seed(0)
    s = cr.data.datasets.spiral(n_samples=300, n_classes=3, seed=0)
    x = np.concatenate([s.x_train, s.x_val])
    y = np.concatenate([s.y_train, s.y_val])

    deep = nn.MLP(2, [100], 3, activation="identity")  # Linear, Identity, Linear
    print(deep)
    opt = cr.optim.Adam(deep.parameters(), lr=0.02)
    xt, yt = cr.tensor(x), cr.tensor(y)
    for _ in range(200):
        loss = F.cross_entropy(deep(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()

    first, last = deep[0], deep[2]
    w1, b1 = first.weight.detach().numpy(), first.bias.detach().numpy()  # W1 (100, 2)
    w2, b2 = last.weight.detach().numpy(), last.bias.detach().numpy()  # W2 (3, 100)
    collapsed = nn.Linear(2, 3)
    with cr.no_grad():
        collapsed.weight.copy_(cr.tensor(w2 @ w1))  # W3 = W2 W1, (3, 2)
        collapsed.bias.copy_(cr.tensor(w2 @ b1 + b2))  # b3 = W2 b1 + b2
        grid = cr.tensor(np.random.default_rng(0).uniform(-1, 1, (10_000, 2)).astype(np.float32))
        err = np.abs(deep(xt).numpy() - collapsed(xt).numpy()).max()
        same = (deep(grid).numpy().argmax(1) == collapsed(grid).numpy().argmax(1)).mean()
        acc = (deep(cr.tensor(s.x_test)).numpy().argmax(1) == s.y_test).mean()
    print(f"W1 {w1.shape}, W2 {w2.shape} -> W3 = W2 W1 {collapsed.weight.shape}:")
    print(np.round(collapsed.weight.detach().numpy(), 4))
    print(f"max |f(x) - (W3 x + b3)| over the data: {err:.2e}")
    print(f"same predicted class at {same:.2%} of 10,000 random points")
    print(f"test accuracy of the 2-layer linear network: {acc:.1%} (a linear classifier's)")

    fig = Figure(figsize=(10, 4.5), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    cr.viz.decision_boundary(deep, x, y, ax=ax1, title="W2 (W1 x + b1) + b2: 100 hidden units")
    cr.viz.decision_boundary(collapsed, x, y, ax=ax2, title="W3 x + b3, W3 = W2 W1: one layer")
    save(fig, out / "linear_collapse.png")


if __name__ == "__main__":
    main()
