"""Network size against regularization strength: regularize rather than shrink the network.

    python examples/06_size_vs_regularization.py [--out DIR]

The lecture's grid: MLPs with 3, 6 and 20 hidden units (rows) trained on a small, noisy spiral
with L2 strength lambda = 0.001, 0.01 and 0.1 (columns), loss = cross-entropy + lambda sum(W^2).
More units fit more intricate boundaries; a larger lambda smooths them. Prints each run's train
and test accuracy and writes size_vs_reg.png (``cr.viz.boundary_grid``). The same grid from the
command line, as full training runs: ``chainrule sweep --dataset spiral --hidden 3,6,20
--reg 0.001,0.01,0.1``.
"""

import numpy as np
from _common import accuracy, fit, output_dir, save

import chainrule as cr
from chainrule import nn

HIDDEN = (3, 6, 20)
LAMBDAS = (0.001, 0.01, 0.1)


def train(hidden: int, lam: float, x: np.ndarray, y: np.ndarray, steps: int = 1000) -> nn.Module:
    cr.manual_seed(0)  # every cell starts from the same kind of random weights
    return fit(nn.MLP(2, [hidden], 3), x, y, steps, lr=0.03, lam=lam)


def main() -> None:
    out = output_dir(__doc__)
    # few, noisy points, so that a flexible network can overfit them
    s = cr.data.datasets.spiral(n_samples=150, n_classes=3, noise=0.3, seed=0)
    x = np.concatenate([s.x_train, s.x_val])
    y = np.concatenate([s.y_train, s.y_val])
    standardize = cr.data.transforms.Standardize().fit(x)  # zero mean, unit variance
    x, x_test = standardize(x), standardize(s.x_test)
    models = {}
    for hidden in HIDDEN:
        for lam in LAMBDAS:
            model = train(hidden, lam, x, y)
            train_acc, test_acc = accuracy(model, x, y), accuracy(model, x_test, s.y_test)
            print(
                f"hidden {hidden:2d}, lambda {lam:<5g}: train {train_acc:.1%}, test {test_acc:.1%}"
            )
            models[hidden, lam] = (model, train_acc)
    fig = cr.viz.boundary_grid(models, x, y, rows=HIDDEN, cols=LAMBDAS, resolution=80)
    save(fig, out / "size_vs_reg.png")


if __name__ == "__main__":
    main()
