"""The lecture's activation functions, their derivatives (found by autograd), compared in use.

    python examples/07_activation_functions.py [--out DIR]

Sigmoid's derivative is at most 0.25 and vanishes for large |x|, tanh's at most 1; ReLU's is
0 or 1, Leaky ReLU (max(0.1x, x)) keeps 0.1 for x < 0, Maxout max(w1 x + b1, w2 x + b2) takes
the slope of its larger piece, ELU is smooth. Prints each derivative's largest value and, for a
2-50-3 network trained briefly on the spiral with each activation (and Maxout), the test
accuracy; writes activations.png (all six, each with its derivative).
"""

import numpy as np
from _common import output_dir, save

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu")


def main() -> None:
    out = output_dir(__doc__)
    save(cr.viz.activation_functions(), out / "activations.png")  # the six, Maxout among them

    x = cr.linspace(-5, 5, 1001, dtype=cr.float64, requires_grad=True)
    functions = {
        "sigmoid": cr.sigmoid,
        "tanh": cr.tanh,
        "relu": cr.relu,
        "leaky_relu": lambda t: cr.leaky_relu(t, 0.1),
        "elu": cr.elu,
    }
    for name, f in functions.items():
        x.grad = None
        f(x).sum().backward()  # each output depends on its own input: x.grad is f'(x)
        g = x.grad.numpy()
        print(f"{name:10s} f'(x) on [-5, 5]: max {g.max():.4f}, at x = -5: {g[0]:.4f}")

    cr.manual_seed(0)
    s = cr.data.datasets.spiral(n_samples=300, n_classes=3, seed=0)
    x_train = cr.tensor(np.concatenate([s.x_train, s.x_val]))
    y_train = cr.tensor(np.concatenate([s.y_train, s.y_val]))
    print("\n2-50-3 MLP on the spiral, 300 steps of Adam:")
    for name in (*ACTIVATIONS, "maxout"):
        cr.manual_seed(0)
        model = nn.MLP(2, [50], 3, activation=name)
        opt = cr.optim.Adam(model.parameters(), lr=0.02)
        for _ in range(300):
            loss = F.cross_entropy(model(x_train), y_train)
            opt.zero_grad()
            loss.backward()
            opt.step()
        with cr.no_grad():
            acc = (model(cr.tensor(s.x_test)).numpy().argmax(1) == s.y_test).mean()
        print(f"  {name:10s} final training loss {loss.item():.3f}, test accuracy {acc:.1%}")


if __name__ == "__main__":
    main()
