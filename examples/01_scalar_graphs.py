"""Worked examples 1 and 2 of the lecture: a graph of gates, upstream x local gradients.

    python examples/01_scalar_graphs.py [--out DIR]

1. f(x, y, z) = (x + y) z at x = -2, y = 5, z = -4: df/dx = df/dy = -4, df/dz = 3.
2. The sigmoid neuron f = 1 / (1 + exp(-(w0 x0 + w1 x1 + w2))) at w0 = 2, x0 = -1, w1 = -3,
   x1 = -2, w2 = -3, as the gates * * + + *(-1) exp +1 1/x: f = 0.7311, df/dw0 = -0.1966,
   df/dx0 = 0.3932. The same neuron with one sigmoid gate, whose local gradient is (1 - s) s,
   its intermediates named as in the slides' flat code (s0 .. s3, L = sigmoid(s3)).

Prints every backward step (``cr.viz.explain``) and the gradients; writes the graphs,
add_mul.svg/png and neuron.svg/png (and .dot), with each edge's value above its gradient.
"""

from _common import output_dir, save_graph

import chainrule as cr


def leaf(name: str, value: float) -> cr.Tensor:
    return cr.tensor(value, dtype=cr.float64, requires_grad=True, name=name)


def main() -> None:
    out = output_dir(__doc__)

    print("== 1. f(x, y, z) = (x + y) z")
    x, y, z = leaf("x", -2.0), leaf("y", 5.0), leaf("z", -4.0)
    q = x + y
    q.name = "q"  # the slides' name for the intermediate: drawings and explain use it
    f = q * z
    print(f"forward: q = x + y = {q.item():g}, f = q z = {f.item():g}")
    graph = cr.viz.trace(f)  # a snapshot, taken before backward() frees the graph
    print(cr.viz.explain(graph))
    save_graph(graph, out, "add_mul")
    f.backward()
    for t in (x, y, z):
        print(f"df/d{t.name} = {t.grad.item():g}")

    print("\n== 2. the sigmoid neuron, gate by gate")
    w0, x0, w1, x1, w2 = (
        leaf(n, v) for n, v in zip(("w0", "x0", "w1", "x1", "w2"), (2.0, -1.0, -3.0, -2.0, -3.0))
    )
    f = 1 / (1 + cr.exp(-(w0 * x0 + w1 * x1 + w2)))
    graph = cr.viz.trace(f)
    print(cr.viz.explain(graph))
    save_graph(graph, out, "neuron")
    f.backward()
    print(f"f = {f.item():.4f}")
    for t in (w0, x0, w1, x1, w2):
        print(f"df/d{t.name} = {t.grad.item():.4f}")

    print("\n== 2b. the same neuron with one sigmoid gate")
    for t in (w0, x0, w1, x1, w2):
        t.grad = None
    # the slides' "flat code" names every intermediate: s0 .. s3 and L
    s0, s1 = w0 * x0, w1 * x1
    s2 = s0 + s1
    s3 = s2 + w2
    s = cr.sigmoid(s3)
    for t, name in ((s0, "s0"), (s1, "s1"), (s2, "s2"), (s3, "s3"), (s, "L")):
        t.name = name
    print(cr.viz.explain(s))
    s.backward()
    print(f"local gradient of the sigmoid gate: (1 - s) s = {(1 - s.item()) * s.item():.4f}")
    print(f"df/dw0 = {w0.grad.item():.4f}, df/dx0 = {x0.grad.item():.4f} (as above)")


if __name__ == "__main__":
    main()
