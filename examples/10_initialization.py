"""Initialization matters: all-zero weights stay symmetric; too large a scale saturates sigmoids.

    python examples/10_initialization.py [--out DIR]

1. Symmetry. A 2-10-3 sigmoid network whose weights and biases all start at 0: every hidden unit
   computes the same value and receives the same gradient, so after training its 10 units are
   still identical (one unit, repeated) and it classifies the spiral no better than a linear
   model. (With ReLU or tanh, zero weights give zero gradients altogether: nothing but the output
   bias learns.) The same network from PyTorch's random init learns the spiral.
2. Scale. A 64-100-10 sigmoid layer on the standardized 8x8 digits, W1 drawn from N(0, scale^2):
   at scale 0.01 every unit sits near 0.5 (linear regime), at scale 1 and 10 most units are
   saturated at 0 or 1, where the local gradient (1 - s) s is nearly 0, so little gradient flows.

Prints the spread between the zero-init units, both accuracies, and per scale the fraction of
saturated units (s(1 - s) < 0.01) and the mean |gradient| of W1; writes init_scale.png, the
histograms of the hidden activations for each scale.
"""

import numpy as np
from _common import output_dir, save
from matplotlib.figure import Figure

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

SCALES = (0.01, 0.1, 1.0, 10.0)


def train(model: nn.Module, x: cr.Tensor, y: cr.Tensor, steps: int = 300) -> float:
    opt = cr.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(steps):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with cr.no_grad():
        return float((model(x).numpy().argmax(1) == y.numpy()).mean())


def main() -> None:
    out = output_dir(__doc__)

    print("== 1. all-zero weights stay symmetric")
    s = cr.data.datasets.spiral(n_samples=300, n_classes=3, seed=0)
    x, y = cr.tensor(s.x_train), cr.tensor(s.y_train)
    cr.manual_seed(0)
    zero = nn.MLP(2, [10], 3, activation="sigmoid")
    for p in zero.parameters():
        nn.init.zeros_(p)
    acc_zero = train(zero, x, y)
    w1 = np.concatenate(
        [zero[0].weight.detach().numpy(), zero[0].bias.detach().numpy()[:, None]], 1
    )
    w2 = zero[2].weight.detach().numpy()
    print(f"after training, W1 row 0 (weights, bias) = {np.round(w1[0].astype(float), 4).tolist()}")
    print(
        f"max |unit i - unit 0| over the 10 hidden units: W1 {np.abs(w1 - w1[0]).max():.1e}, "
        f"W2 {np.abs(w2 - w2[:, :1]).max():.1e}"
    )
    cr.manual_seed(0)
    acc_random = train(nn.MLP(2, [10], 3, activation="sigmoid"), x, y)
    print(f"train accuracy: zero init {acc_zero:.1%}, random init {acc_random:.1%}")

    print("\n== 2. the scale of random weights and sigmoid saturation")
    d = cr.data.datasets.digits()
    x = d.x_train.reshape(len(d.x_train), -1)[:512]
    x = cr.tensor(cr.data.transforms.Standardize().fit(x)(x))
    y = cr.tensor(d.y_train[:512])
    fig = Figure(figsize=(11, 3), layout="constrained")
    for ax, scale in zip(fig.subplots(1, len(SCALES), sharey=True), SCALES):
        cr.manual_seed(0)
        model = nn.MLP(64, [100], 10, activation="sigmoid")
        nn.init.normal_(model[0].weight, std=scale)
        hidden = model[1](model[0](x))  # the sigmoid units' outputs, (512, 100)
        F.cross_entropy(model[2](hidden), y).backward()
        h = hidden.detach().numpy()
        saturated = float((h * (1 - h) < 0.01).mean())
        grad = float(np.abs(model[0].weight.grad.numpy()).mean())
        print(f"scale {scale:<5g}: saturated units {saturated:6.1%}, mean |dL/dW1| {grad:.2e}")
        ax.hist(h.ravel(), bins=50, range=(0, 1), color="C0")
        ax.set_title(f"W1 ~ N(0, {scale:g}^2): {saturated:.0%} saturated", fontsize=9)
        ax.set_xlabel("sigmoid output")
    fig.suptitle("hidden activations of a 64-100-10 sigmoid network at initialization")
    save(fig, out / "init_scale.png")


if __name__ == "__main__":
    main()
