"""Network size against regularization strength: regularize rather than shrink the network.

    python examples/06_size_vs_regularization.py [--out DIR]

The lecture's two rows, on the two noisy moons it draws (two interleaved classes with
outliers; 80 training points, 320 more held out for testing): MLPs with 3, 6 and 20 tanh hidden
units and no penalty ("more neurons = more capacity": the 20-unit network carves pockets around
outliers), then the 20-unit network with loss = cross-entropy + lambda sum(W^2) ("use stronger
regularization instead"). The lecture's figure comes from ConvNetJS's demo, hence tanh.

Its lambdas are 0.001, 0.01 and 0.1. Measured here (the example prints them): 0.001 already
gives a smooth curve, and from about 0.01 on the boundary is a straight line (right on about
84% of the training points, far from chance), so 0.01 and 0.1 look the same. The row
therefore runs half a decade lower, at 0.0003, 0.003 and 0.03, where each tenfold step shows:
pockets, a smooth curve, a line. Prints every run's train and test accuracy and writes
size_vs_reg.png (``cr.viz.boundary_grid``; each title names the split of its accuracies). As
full training runs from the command line (another data size and minibatch SGD, so other
numbers): ``chainrule sweep --dataset moons --hidden 3,6,20 --reg 0.0003,0.003,0.03
--activation tanh``.
"""

import numpy as np
from _common import accuracy, fit, output_dir, save

import chainrule as cr
from chainrule import nn

HIDDEN = (3, 6, 20)  # the first row, without a penalty
LAMBDAS = (0.0003, 0.003, 0.03)  # the second row, on the 20-unit network
LECTURE_LAMBDAS = (0.001, 0.01, 0.1)  # the lecture's, printed: 0.01 and 0.1 draw the same line


def train(hidden: int, lam: float, x: np.ndarray, y: np.ndarray) -> nn.Module:
    cr.manual_seed(0)  # every cell starts from the same kind of random weights
    return fit(nn.MLP(2, [hidden], 2, activation="tanh"), x, y, steps=3000, lr=0.03, lam=lam)


def main() -> None:
    out = output_dir(__doc__)
    # few, noisy training points, so that a flexible network can overfit them; many test points
    s = cr.data.datasets.moons(n_samples=400, noise=0.3, seed=1, test_fraction=0.8)
    x = np.concatenate([s.x_train, s.x_val])
    y = np.concatenate([s.y_train, s.y_val])
    standardize = cr.data.transforms.Standardize().fit(x)  # zero mean, unit variance
    x, x_test = standardize(x), standardize(s.x_test)

    def report(hidden: int, lam: float, note: str = "") -> tuple[nn.Module, str]:
        model = train(hidden, lam, x, y)
        train_acc, test_acc = accuracy(model, x, y), accuracy(model, x_test, s.y_test)
        print(
            f"hidden {hidden:2d}, lambda {lam:<6g}: train {train_acc:.1%}, test {test_acc:.1%}"
            + note
        )
        return model, f"{hidden} hidden units, lambda = {lam:g}\n" + (
            f"train {train_acc:.1%}, test {test_acc:.1%}"
        )

    cells = [[(h, 0.0) for h in HIDDEN], [(HIDDEN[-1], lam) for lam in LAMBDAS]]
    drawn = [[report(hidden, lam) for hidden, lam in row] for row in cells]
    for lam in LECTURE_LAMBDAS:
        report(HIDDEN[-1], lam, " (the lecture's lambda)")
    fig = cr.viz.boundary_grid(
        [[model for model, _ in row] for row in drawn], x, y, rows=[0, 1], cols=[0, 1, 2],
        titles=[[title for _, title in row] for row in drawn], resolution=120,
        suptitle="more neurons, more capacity (top); a stronger L2 penalty smooths (bottom)\n"
        f"the {len(y)} training points shown; test accuracy on {len(s.y_test)} others",
    )  # fmt: skip
    save(fig, out / "size_vs_reg.png")


if __name__ == "__main__":
    main()
