"""The four patterns of gradient flow, each run through the engine.

    python examples/02_gate_patterns.py [--out DIR]

- add gate distributes: upstream 2 reaches both inputs as 2.
- mul gate swaps: x = 2, y = 3, upstream 5 gives grad x = 5 * 3 = 15, grad y = 5 * 2 = 10.
- copy gate adds: a value used twice, with upstream 4 and 2, gets 4 + 2 = 6.
- max gate routes: inputs 4 and 5, upstream 9: the 5 gets 9, the 4 gets 0.

Prints each gradient and the step ``cr.viz.explain`` names; writes one graph per pattern,
gate_add, gate_mul, gate_copy and gate_max (.svg and .png with Graphviz, .dot always).
"""

from _common import output_dir, save_graph

import chainrule as cr


def leaf(name: str, value: float) -> cr.Tensor:
    return cr.tensor(value, dtype=cr.float64, requires_grad=True, name=name)


def show(title: str, out_tensor: cr.Tensor, upstream: float, leaves: list, out, stem: str) -> None:
    print(f"== {title}")
    grad_output = cr.tensor(upstream, dtype=cr.float64)
    graph = cr.viz.trace(out_tensor, grad_output=grad_output)
    print(cr.viz.explain(graph))
    save_graph(graph, out, stem)
    out_tensor.backward(grad_output)
    print(", ".join(f"grad {t.name} = {t.grad.item():g}" for t in leaves) + "\n")


def main() -> None:
    out = output_dir(__doc__)

    x, y = leaf("x", 4.0), leaf("y", -1.0)
    show("add gate distributes (upstream 2)", x + y, 2.0, [x, y], out, "gate_add")

    x, y = leaf("x", 2.0), leaf("y", 3.0)
    show("mul gate swaps (upstream 5)", x * y, 5.0, [x, y], out, "gate_mul")

    # x feeds two gates; their upstream gradients (4 and 2) add up at x
    x = leaf("x", 1.5)
    show("copy gate adds (upstream 4 and 2)", 4 * x + 2 * x, 1.0, [x], out, "gate_copy")

    x, y = leaf("x", 4.0), leaf("y", 5.0)
    show("max gate routes (upstream 9)", cr.maximum(x, y), 9.0, [x, y], out, "gate_max")


if __name__ == "__main__":
    main()
