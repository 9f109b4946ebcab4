"""End to end: the lecture's point about non-linearity, on XOR and a 3-class spiral.

A small MLP fits both perfectly; a linear softmax classifier cannot fit the spiral, however long
it trains, because its decision boundaries are straight lines.
"""

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn, optim


def spiral(n_per_class=60, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for c in range(classes):
        r = np.linspace(0.05, 1, n_per_class)
        t = np.linspace(c * 4, (c + 1) * 4, n_per_class) + rng.standard_normal(n_per_class) * 0.1
        xs.append(np.c_[r * np.sin(t), r * np.cos(t)])
        ys.append(np.full(n_per_class, c))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.int64)


def fit(model, x, y, steps, lr, reg=0.0):
    opt = optim.Adam(model.parameters(), lr=lr)
    X, Y = cr.from_numpy(x), cr.from_numpy(y)
    for _ in range(steps):
        loss = F.cross_entropy(model(X), Y)
        if reg:
            loss = loss + reg * nn.l2_penalty(model)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with cr.no_grad():
        return (model(X).argmax(dim=1) == Y).float().mean().item()


def test_mlp_solves_xor():
    cr.manual_seed(0)
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    y = np.array([0, 1, 1, 0])
    assert fit(nn.MLP(2, [8], 2, activation="tanh"), x, y, steps=300, lr=0.05) == 1.0


def test_linear_classifier_cannot_solve_xor():
    cr.manual_seed(0)
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    y = np.array([0, 1, 1, 0])
    assert fit(nn.Linear(2, 2), x, y, steps=300, lr=0.05) <= 0.75


def test_mlp_fits_the_spiral_and_a_linear_softmax_classifier_does_not():
    x, y = spiral()
    cr.manual_seed(0)
    mlp_acc = fit(nn.MLP(2, [64], 3), x, y, steps=600, lr=0.02)
    cr.manual_seed(0)
    linear_acc = fit(nn.Linear(2, 3), x, y, steps=600, lr=0.02)
    assert mlp_acc == 1.0
    assert linear_acc < 0.7


@pytest.mark.parametrize("opt_name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_every_optimizer_lowers_the_loss(opt_name):
    x, y = spiral(30)
    cr.manual_seed(1)
    model = nn.MLP(2, [16], 3)
    lr = 0.5 if opt_name == "SGD" else 0.05  # plain gradient descent needs larger steps
    opt = getattr(optim, opt_name)(model.parameters(), lr=lr)
    X, Y = cr.from_numpy(x), cr.from_numpy(y)
    losses = []
    for _ in range(50):
        loss = F.cross_entropy(model(X), Y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]
