"""A linear classifier f = W x + b, seen three ways, and its two losses.

    python examples/04_softmax_templates.py [--out DIR]

- algebraic: scores are W x + b; the softmax classifier's loss on the lecture's scores
  (cat 3.2, car 5.1, frog -1.7, true class cat) is -log 0.130 = 2.0404, and the multiclass SVM's
  is max(0, 5.1 - 3.2 + 1) + max(0, -1.7 - 3.2 + 1) = 2.9. Cross-entropy = entropy + KL.
- visual: trained on the 8x8 digits, each row of W is a template of its class (templates.png).
- geometric: on 2-D points each class owns a region cut out by straight lines
  (linear_regions.png).
- L2 regularization prefers spread-out weights: R([1, 0, 0, 0]) = 1, R([.25] * 4) = 0.25.

Trains for a few seconds at most (full batch, seeded) and prints the test accuracy.
"""

import numpy as np
from _common import accuracy, fit, output_dir, save

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn


def train_linear(x: np.ndarray, y: np.ndarray, steps: int, lr: float, lam: float) -> nn.Linear:
    """Full-batch Adam on cross-entropy + lam * R(W): a softmax classifier."""
    return fit(nn.Linear(x.shape[1], int(y.max()) + 1), x, y, steps, lr, lam)


def main() -> None:
    out = output_dir(__doc__)
    cr.manual_seed(0)

    print("== the algebraic viewpoint: scores, softmax, the two losses")
    scores = cr.tensor([[3.2, 5.1, -1.7]], dtype=cr.float64)  # cat, car, frog
    cat = cr.tensor([0])
    p = cr.softmax(scores, dim=1)
    print(f"exp(scores) = {np.round(np.exp(scores.numpy()[0]), 2).tolist()}")
    print(f"probabilities = {np.round(p.numpy()[0], 3).tolist()}")
    loss = F.cross_entropy(scores, cat).item()
    print(f"softmax loss for cat: -log {p.numpy()[0, 0]:.3f} = {loss:.4f}")
    svm = F.multi_margin_loss(scores, cat).item()  # PyTorch's definition divides by the classes
    print(
        f"SVM loss for cat: sum of max(0, s_j - s_cat + 1) = {svm * 3:.1f} "
        f"(multi_margin_loss = {svm:.4f} = 2.9 / 3)"
    )

    target = cr.tensor([[0.7, 0.2, 0.1]], dtype=cr.float64)  # a soft label P, against Q = p
    h_pq = F.cross_entropy(scores, target).item()
    h_p = F.entropy(target).sum().item()
    kl = F.kl_div(cr.log_softmax(scores, dim=1), target, reduction="sum").item()
    print(f"H(P, Q) = {h_pq:.4f} = H(P) + KL(P || Q) = {h_p:.4f} + {kl:.4f} = {h_p + kl:.4f}")

    w1 = cr.tensor([1.0, 0.0, 0.0, 0.0])
    w2 = cr.tensor([0.25, 0.25, 0.25, 0.25])
    x = cr.ones(4)
    print(
        f"L2: w1.x = {(w1 * x).sum().item():g}, w2.x = {(w2 * x).sum().item():g}, "
        f"R(w1) = {nn.l2_penalty([w1]).item():g}, R(w2) = {nn.l2_penalty([w2]).item():g}"
    )

    print("\n== the visual viewpoint: templates of the 8x8 digits")
    d = cr.data.datasets.digits()
    xtr, xte = d.x_train.reshape(len(d.x_train), -1), d.x_test.reshape(len(d.x_test), -1)
    model = train_linear(xtr, d.y_train, steps=150, lr=0.05, lam=1e-3)
    print(f"softmax classifier 64 -> 10: test accuracy {accuracy(model, xte, d.y_test):.1%}")
    save(cr.viz.templates(model, d.image_shape, classes=d.classes), out / "templates.png")

    print("\n== the geometric viewpoint: regions cut by straight lines")
    g = cr.data.datasets.gaussians(n_samples=300, n_classes=4, noise=0.35, seed=0)
    model = train_linear(g.x_train, g.y_train, steps=200, lr=0.1, lam=0.0)
    acc = accuracy(model, g.x_test, g.y_test)
    print(f"softmax classifier 2 -> 4 on Gaussian blobs: test accuracy {acc:.1%}")
    fig = cr.viz.decision_boundary(model, g.x_train, g.y_train, title="linear classifier: W x + b")
    save(fig, out / "linear_regions.png")


if __name__ == "__main__":
    main()
