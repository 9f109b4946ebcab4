"""Backpropagation with vectors and matrices: vector-Jacobian products, never the Jacobian.

    python examples/03_tensor_backward.py [--out DIR]

- ReLU on x = [1, -2, 3, -1] with dL/dy = [4, -1, 5, 9] gives dL/dx = [4, 0, 5, 0]. The 4x4
  Jacobian is diagonal (1 where x > 0); the backward multiplies elementwise instead.
- y = x w with x (2x3), w (3x4): dL/dx = dL/dy w^T, dL/dw = x^T dL/dy; the shapes alone fix the
  formulas. For N = 64, D = M = 4096, one Jacobian dy/dx would hold (64 * 4096)^2 float32
  numbers, 256 GiB.

Prints the gradients, checks them against the full Jacobians (formed here only because they are
tiny, with ``cr.autograd.functional.jacobian``); writes jacobians.png and the graphs relu and
matmul (.svg and .png with Graphviz, .dot always).
"""

import numpy as np
from _common import output_dir, save, save_graph
from matplotlib.figure import Figure

import chainrule as cr


def heatmap(ax, matrix: np.ndarray, title: str) -> None:
    lim = max(np.abs(matrix).max(), 1e-12)
    ax.imshow(matrix, cmap="RdBu_r", vmin=-lim, vmax=lim)
    for (i, j), v in np.ndenumerate(matrix):
        if v != 0:
            color = "white" if abs(v) > 0.6 * lim else "black"
            ax.text(j, i, f"{v:g}", ha="center", va="center", fontsize=7, color=color)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def main() -> None:
    out = output_dir(__doc__)
    f64 = cr.float64

    print("== ReLU on a vector")
    x = cr.tensor([1.0, -2.0, 3.0, -1.0], dtype=f64, requires_grad=True, name="x")
    upstream = cr.tensor([4.0, -1.0, 5.0, 9.0], dtype=f64)
    y = cr.relu(x)
    save_graph(y, out, "relu", grad_output=upstream)
    y.backward(upstream)
    print(f"y = max(0, x) = {y.detach().numpy().tolist()}")
    print(f"dL/dx = {(x.grad.numpy() + 0.0).tolist()}")  # + 0.0 turns -0.0 into 0.0
    j_relu = cr.autograd.functional.jacobian(cr.relu, x.detach()).numpy()
    print("Jacobian dy/dx (formed only to check):\n" + str(j_relu))
    print(f"J^T dL/dy = {(j_relu.T @ upstream.numpy()).tolist()} (the same, at 16x the work)")

    print("\n== matrix multiply y = x w")
    xv = np.array([[2.0, 1.0, -3.0], [-3.0, 4.0, 2.0]])
    wv = np.array([[3.0, 2.0, 1.0, -1.0], [2.0, 1.0, 3.0, 2.0], [3.0, 2.0, 1.0, -2.0]])
    gy = np.array([[2.0, 3.0, -3.0, 9.0], [-8.0, 1.0, 4.0, 6.0]])
    x = cr.tensor(xv, requires_grad=True, name="x")
    w = cr.tensor(wv, requires_grad=True, name="w")
    y = x @ w
    save_graph(y, out, "matmul", grad_output=gy)
    print(cr.viz.explain(y, grad_output=gy))
    y.backward(cr.tensor(gy))
    print(f"dL/dx = {x.grad.numpy().astype(int).tolist()}")
    print(f"dL/dw = {w.grad.numpy().astype(int).tolist()}")
    formula_dx, formula_dw = gy @ wv.T, xv.T @ gy
    print(
        "dL/dy w^T equals dL/dx:",
        np.array_equal(formula_dx, x.grad.numpy()),
        "| x^T dL/dy equals dL/dw:",
        np.array_equal(formula_dw, w.grad.numpy()),
    )
    j_x, j_w = cr.autograd.functional.jacobian(lambda a, b: a @ b, (cr.tensor(xv), cr.tensor(wv)))
    j_x = j_x.numpy().reshape(8, 6)  # dy/dx: (2*4) outputs by (2*3) inputs, mostly zeros
    j_w = j_w.numpy().reshape(8, 12)
    zeros = np.mean(j_x == 0)
    print(f"full Jacobians: dy/dx {j_x.shape}, dy/dw {j_w.shape}; {zeros:.0%} of dy/dx is 0")
    print(f"J_x^T dL/dy equals dL/dx: {np.allclose(j_x.T @ gy.ravel(), formula_dx.ravel())}")

    n, d = 64, 4096
    size = (n * d) ** 2 * 4
    print(
        f"\nN = {n}, D = M = {d}: dy/dx would have (N D)^2 = {(n * d) ** 2:,} float32 entries "
        f"= {size / 2**30:g} GiB; dL/dx = dL/dy w^T needs {n * d * 4 / 2**20:g} MiB"
    )

    fig = Figure(figsize=(10, 3.4), layout="constrained")
    axes = fig.subplots(1, 3, width_ratios=[4, 6, 12])
    heatmap(axes[0], j_relu, "ReLU dy/dx\n(4x4, diagonal)")
    heatmap(axes[1], j_x, "matmul dy/dx\n(8x6: copies of w^T)")
    heatmap(axes[2], j_w, "matmul dy/dw\n(8x12: copies of x)")
    fig.suptitle("The Jacobians a backward pass never forms")
    save(fig, out / "jacobians.png")


if __name__ == "__main__":
    main()
