"""Non-convexity and local minima: one network, several seeds, the loss between their solutions.

    python examples/14_nonconvexity.py [--out DIR]

"MLPs are highly non-convex. Therefore, its optimization landscape has multiple local minima."
The same 2-6-3 MLP is trained on a small spiral from five seeds (full-batch Adam, the same data
and steps): each run stops at a different loss, a different local minimum. Along the straight
line between two solutions, theta(a) = (1 - a) theta_A + a theta_B, a convex loss would stay
under the chord joining L(theta_A) and L(theta_B); this one rises far above it, a barrier
between two valleys. The clearest case is symmetry: a solution and the same network with two
hidden units swapped compute the same function and have the same loss, yet the midpoint between
them is worse. Prints each seed's final loss, the losses along both lines and their barriers,
and writes nonconvexity.png: the training curves, the loss along the lines with the chord a
convex function would stay under, and the loss on the plane through three solutions.
"""

import numpy as np
from _common import output_dir, save
from matplotlib.figure import Figure

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

SEEDS = (0, 1, 2, 3, 4)
STEPS = 600
HIDDEN = 6


def flat(model: nn.Module) -> np.ndarray:
    """Every parameter of the model in one vector (float64)."""
    return np.concatenate([p.detach().numpy().ravel() for p in model.parameters()]).astype(float)


def load(model: nn.Module, theta: np.ndarray) -> None:
    """Set the model's parameters from one vector, as ``flat`` wrote it."""
    start = 0
    with cr.no_grad():
        for p in model.parameters():
            n = p.numel()
            p.copy_(cr.tensor(theta[start : start + n].reshape(p.shape).astype(np.float32)))
            start += n


def loss_at(model: nn.Module, theta: np.ndarray, x: cr.Tensor, y: cr.Tensor) -> float:
    load(model, theta)
    with cr.no_grad():
        return F.cross_entropy(model(x), y).item()


def train(seed: int, x: cr.Tensor, y: cr.Tensor) -> tuple[np.ndarray, list[float]]:
    cr.manual_seed(seed)
    model = nn.MLP(2, [HIDDEN], 3)
    opt = cr.optim.Adam(model.parameters(), lr=0.05)
    curve = []
    for _ in range(STEPS):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        curve.append(loss.item())
    return flat(model), curve


def swap_units(model: nn.Module, theta: np.ndarray, i: int, j: int) -> np.ndarray:
    """The same network with hidden units i and j swapped: rows of W1 and b1, columns of W2."""
    load(model, theta)
    with cr.no_grad():
        for p in (model[0].weight, model[0].bias):
            a = p.detach().numpy().copy()
            a[[i, j]] = a[[j, i]]
            p.copy_(cr.tensor(a))
        w2 = model[2].weight.detach().numpy().copy()
        w2[:, [i, j]] = w2[:, [j, i]]
        model[2].weight.copy_(cr.tensor(w2))
    return flat(model)


def line(model, a, b, x, y, alphas):
    return np.array([loss_at(model, (1 - t) * a + t * b, x, y) for t in alphas])


def barrier(losses: np.ndarray, alphas: np.ndarray) -> float:
    """How far the loss rises above the chord between the ends (0 for a convex loss)."""
    inside = (alphas >= 0) & (alphas <= 1)
    chord = (1 - alphas) * losses[alphas == 0][0] + alphas * losses[alphas == 1][0]
    return float((losses - chord)[inside].max())


def main() -> None:
    out = output_dir(__doc__)
    s = cr.data.datasets.spiral(n_samples=150, n_classes=3, noise=0.2, seed=0)
    xs = np.concatenate([s.x_train, s.x_val])
    xs = cr.data.transforms.Standardize().fit(xs)(xs)
    x, y = cr.tensor(xs), cr.tensor(np.concatenate([s.y_train, s.y_val]))
    model = nn.MLP(2, [HIDDEN], 3)  # a frame to evaluate any parameter vector in

    solutions, curves, finals = [], [], []
    for seed in SEEDS:
        theta, curve = train(seed, x, y)
        solutions.append(theta)
        curves.append(curve)
        finals.append(loss_at(model, theta, x, y))
        print(f"seed {seed}: final training loss {finals[-1]:.4f}")
    print(f"the same network, data and steps: final losses from {min(finals):.4f} to "
          f"{max(finals):.4f}, {len(set(np.round(finals, 3)))} different minima")  # fmt: skip

    order = np.argsort(finals)
    a, b, c = (solutions[k] for k in order[:3])  # the three lowest minima
    alphas = np.round(np.linspace(-0.25, 1.25, 61), 6)
    between = line(model, a, b, x, y, alphas)
    twin = swap_units(model, a, 0, 1)  # the same function: the same loss
    symmetric = line(model, a, twin, x, y, alphas)
    mid = np.argmin(np.abs(alphas - 0.5))
    print(f"between the two best seeds: L(A) = {between[alphas == 0][0]:.4f}, "
          f"L(midpoint) = {between[mid]:.4f}, L(B) = {between[alphas == 1][0]:.4f}; "
          f"barrier above the chord {barrier(between, alphas):.4f}")  # fmt: skip
    print(f"between A and A with hidden units 1 and 2 swapped: L = {symmetric[alphas == 0][0]:.4f} "
          f"and {symmetric[alphas == 1][0]:.4f}, L(midpoint) = {symmetric[mid]:.4f}; "
          f"barrier above the chord {barrier(symmetric, alphas):.4f}")  # fmt: skip

    # the plane through three solutions, in orthonormal coordinates (Gram-Schmidt)
    u = b - a
    v = c - a
    v_in_u = v @ u / (u @ u)
    e1 = u / np.linalg.norm(u)
    e2 = (v - v_in_u * u) / np.linalg.norm(v - v_in_u * u)
    spots = {
        "A": (0.0, 0.0),
        "B": (float(np.linalg.norm(u)), 0.0),
        "C": (float(v @ e1), float(v @ e2)),
    }
    xs_ = np.array([p[0] for p in spots.values()])
    ys_ = np.array([p[1] for p in spots.values()])
    pad = 0.25 * max(np.ptp(xs_), np.ptp(ys_))
    gx = np.linspace(xs_.min() - pad, xs_.max() + pad, 41)
    gy = np.linspace(ys_.min() - pad, ys_.max() + pad, 41)
    surface = np.array([[loss_at(model, a + p * e1 + q * e2, x, y) for p in gx] for q in gy])

    fig = Figure(figsize=(14, 4.2), layout="constrained")
    ax_curves, ax_line, ax_plane = fig.subplots(1, 3, width_ratios=[1, 1.1, 1])
    for seed, curve, final in zip(SEEDS, curves, finals):
        ax_curves.plot(curve, label=f"seed {seed}: {final:.3f}")
    ax_curves.set_yscale("log")
    ax_curves.set_xlabel("step")
    ax_curves.set_ylabel("training loss")
    ax_curves.set_title(f"one 2-{HIDDEN}-3 network, {len(SEEDS)} seeds:\ndifferent minima")
    ax_curves.legend(fontsize=8)
    for losses, label, color in (
        (between, "between the two best seeds", "C0"),
        (symmetric, "between A and A with 2 units swapped", "C3"),
    ):
        ax_line.plot(alphas, losses, color=color, label=label)
        ends = losses[alphas == 0][0], losses[alphas == 1][0]
        ax_line.plot([0, 1], ends, "--", color=color, lw=1, alpha=0.7)
    ax_line.plot([], [], "k--", lw=1, label="the chord: a convex loss stays below it")
    ax_line.axvspan(0, 1, color="0.9", zorder=0)
    ax_line.set_xlabel("a: theta = (1 - a) theta_A + a theta_B")
    ax_line.set_ylabel("training loss")
    ax_line.set_title("the loss along a line between two solutions")
    ax_line.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    contour = ax_plane.contourf(gx, gy, np.log10(surface), levels=20, cmap="viridis")
    fig.colorbar(contour, ax=ax_plane, label="log10 training loss")
    for name, (p, q) in spots.items():
        ax_plane.plot(p, q, "w*", ms=12, mec="k")
        ax_plane.annotate(name, (p, q), textcoords="offset points", xytext=(6, 6), color="w")
    ax_plane.set_title("the loss on the plane through\nthree solutions A, B, C")
    ax_plane.set_xlabel("along B - A")
    ax_plane.set_ylabel("along C - A (its part orthogonal to B - A)")
    for ax in (ax_curves, ax_line):
        ax.grid(True, alpha=0.3)
    save(fig, out / "nonconvexity.png")


if __name__ == "__main__":
    main()
