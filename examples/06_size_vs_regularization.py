"""Network size against regularization strength: regularize rather than shrink the network.

    python examples/06_size_vs_regularization.py [--out DIR]

The lecture's two rows, on a small, noisy spiral: MLPs with 3, 6 and 20 hidden units and no
penalty ("more neurons = more capacity"), then the 20-unit network with the L2 penalty lambda =
0.0001, 0.001 and 0.01, loss = cross-entropy + lambda sum(W^2) ("use stronger regularization
instead"). The lecture's lambdas, 0.001, 0.01 and 0.1, are the TensorFlow Playground's; with
this loss on this data 0.1 flattens every boundary to near chance, so the row runs one decade
lower, where a stronger lambda smooths the boundary without collapsing it (the example prints
0.1's accuracies too). Prints each run's train and test accuracy and writes size_vs_reg.png
(``cr.viz.boundary_grid``; each title names the split of its accuracies). As full training runs
from the command line: ``chainrule sweep --dataset spiral --hidden 3,6,20 --reg
0.0001,0.001,0.01``.
"""

import numpy as np
from _common import accuracy, fit, output_dir, save

import chainrule as cr
from chainrule import nn

HIDDEN = (3, 6, 20)  # the first row, without a penalty
LAMBDAS = (0.0001, 0.001, 0.01)  # the second row, on the 20-unit network
LECTURE_LAMBDA = 0.1  # the lecture's largest, printed to show why the row runs lower


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
    cells = [[(h, 0.0) for h in HIDDEN], [(HIDDEN[-1], lam) for lam in LAMBDAS]]
    models, titles = [], []
    for row in cells:
        models.append([])
        titles.append([])
        for hidden, lam in row:
            model = train(hidden, lam, x, y)
            train_acc, test_acc = accuracy(model, x, y), accuracy(model, x_test, s.y_test)
            print(
                f"hidden {hidden:2d}, lambda {lam:<6g}: train {train_acc:.1%}, test {test_acc:.1%}"
            )
            models[-1].append(model)
            titles[-1].append(
                f"{hidden} hidden units, lambda = {lam:g}\n"
                f"train {train_acc:.1%}, test {test_acc:.1%}"
            )
    model = train(HIDDEN[-1], LECTURE_LAMBDA, x, y)
    print(
        f"hidden {HIDDEN[-1]:2d}, lambda {LECTURE_LAMBDA:<6g}: train {accuracy(model, x, y):.1%}, "
        f"test {accuracy(model, x_test, s.y_test):.1%} (the lecture's largest lambda: too strong "
        "for this loss and data)"
    )
    fig = cr.viz.boundary_grid(
        models, x, y, rows=[0, 1], cols=[0, 1, 2], titles=titles, resolution=80,
        suptitle=f"more neurons, more capacity (top); a stronger L2 penalty smooths (bottom)\n"
        f"the {len(y)} training points shown; test accuracy on {len(s.y_test)} others",
    )  # fmt: skip
    save(fig, out / "size_vs_reg.png")


if __name__ == "__main__":
    main()
