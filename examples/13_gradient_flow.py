"""Gradient flow: the mean |gradient| of each layer over training, sigmoid against ReLU.

    python examples/13_gradient_flow.py [--out DIR]

Two 64-32-32-32-32-32-10 networks on the 8x8 digits, identical but for the activation, trained
with SGD from the same seed; after every backward, ``cr.viz.mean_abs_grads`` records each weight
matrix's mean |gradient|. Sigmoid's local gradient is at most 0.25, so the gradient shrinks layer
by layer on its way back: the first layer gets orders of magnitude less than the last, and
learns slowly (vanishing gradients). With ReLU (local gradient 0 or 1) the layers get gradients
of the same order. Prints, per activation, the mean |gradient| of the first and last layers and
their ratio, and the final loss; writes gradient_flow.png (``cr.viz.gradient_flow``): the two
runs side by side on one shared axis, layers counted from the input (layer 1) to the output.
"""

import numpy as np
from _common import output_dir, save

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

HIDDEN = [32] * 5
STEPS = 150


def main() -> None:
    out = output_dir(__doc__)
    d = cr.data.datasets.digits()
    x = d.x_train.reshape(len(d.x_train), -1)[:512]
    x = cr.tensor(cr.data.transforms.Standardize().fit(x)(x))
    y = cr.tensor(d.y_train[:512])

    histories = {}
    for activation in ("sigmoid", "relu"):
        cr.manual_seed(0)
        model = nn.MLP(64, HIDDEN, 10, activation=activation)
        opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        history = []
        for _ in range(STEPS):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            history.append(cr.viz.mean_abs_grads(model))
            opt.step()
        layers = list(history[0])
        first = np.mean([h[layers[0]] for h in history])
        last = np.mean([h[layers[-1]] for h in history])
        print(
            f"{activation:8s} mean |grad| over {STEPS} steps: first layer ({layers[0]}) "
            f"{first:.2e}, last layer ({layers[-1]}) {last:.2e}, "
            f"last / first = {last / first:.1f}; final loss {loss.item():.3f}"
        )
        histories[activation] = history
    save(cr.viz.gradient_flow(histories), out / "gradient_flow.png")


if __name__ == "__main__":
    main()
