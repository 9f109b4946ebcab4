"""Why the non-linearity matters: a linear classifier against a 2-layer MLP on the spiral.

    python examples/05_nonlinearity.py [--out DIR]

No straight lines separate the three arms of the spiral, so the softmax classifier W x + b
stays near chance (about 50%); f = W2 max(0, W1 x) bends its boundaries around the arms
(nearly 100%). Prints both accuracies and writes nonlinearity.png, the two decision boundaries
side by side, and architectures.png, networks drawn as the lecture's slides draw them
(``cr.viz.draw_network``): its 2-layer and 3-layer examples, and the 2-100-3 MLP trained here.
"""

import numpy as np
from _common import accuracy, fit, output_dir, save
from matplotlib.figure import Figure

import chainrule as cr
from chainrule import nn


def main() -> None:
    out = output_dir(__doc__)
    cr.manual_seed(0)
    s = cr.data.datasets.spiral(n_samples=300, n_classes=3, seed=0)
    x = np.concatenate([s.x_train, s.x_val])  # train on train + val; report on the test split
    y = np.concatenate([s.y_train, s.y_val])

    linear = fit(nn.Linear(2, 3), x, y, steps=200, lr=0.1)
    mlp = fit(nn.MLP(2, [100], 3), x, y, steps=300, lr=0.02)
    fig = Figure(figsize=(10, 4.5), layout="constrained")
    for ax, model, name in zip(
        fig.subplots(1, 2), (linear, mlp), ("linear: W x + b", "MLP: W2 max(0, W1 x)")
    ):
        acc = accuracy(model, s.x_test, s.y_test)
        print(f"{name:22s} train accuracy {accuracy(model, x, y):.1%}, test accuracy {acc:.1%}")
        cr.viz.decision_boundary(model, x, y, ax=ax, title=f"{name}: test accuracy {acc:.0%}")
    save(fig, out / "nonlinearity.png")

    fig = Figure(figsize=(13, 4.6), layout="constrained")
    for ax, net, title in zip(
        fig.subplots(1, 3, width_ratios=[3, 4, 3]),
        (nn.MLP(3, [4], 2), nn.MLP(3, [4, 4], 1), mlp),
        (None, None, '"2-layer Neural Net": the 2-100-3 MLP above'),
    ):
        cr.viz.draw_network(net, ax=ax, title=title)
    save(fig, out / "architectures.png")


if __name__ == "__main__":
    main()
