"""The lecture's Multiply gate as a custom ``cr.autograd.Function``: forward and backward.

    python examples/12_custom_function.py [--out DIR]

The code is the slide's PyTorch code with ``torch`` replaced by ``cr``: forward saves its inputs
for backward (``ctx.save_for_backward``), backward multiplies the upstream gradient by each
local gradient. With x = 2, y = 3 and upstream 5 it gives 15 and 10 (the mul gate swaps).
It composes with the built-in ops (worked example 1, (x + y) z, gives -4, -4, 3), passes
``gradcheck`` against finite differences, and, because its backward is written with tensor
operations, ``gradgradcheck`` too. Writes the graph multiply.svg/png (.dot always).
"""

from _common import output_dir, save_graph

import chainrule as cr


class Multiply(cr.autograd.Function):
    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)  # cache the values backward needs
        z = x * y
        return z

    @staticmethod
    def backward(ctx, grad_z):  # grad_z: the upstream gradient
        x, y = ctx.saved_tensors
        grad_x = y * grad_z  # dz/dx * dL/dz
        grad_y = x * grad_z  # dz/dy * dL/dz
        return grad_x, grad_y


def main() -> None:
    out = output_dir(__doc__)

    x = cr.tensor(2.0, dtype=cr.float64, requires_grad=True, name="x")
    y = cr.tensor(3.0, dtype=cr.float64, requires_grad=True, name="y")
    z = Multiply.apply(x, y)
    print(f"z = Multiply.apply(x, y) = {z.item():g}, z.grad_fn.name() = {z.grad_fn.name()}")
    upstream = cr.tensor(5.0, dtype=cr.float64)
    print(cr.viz.explain(z, grad_output=upstream))
    save_graph(z, out, "multiply", grad_output=upstream)
    z.backward(upstream)
    print(f"mul gate, upstream 5: grad x = {x.grad.item():g}, grad y = {y.grad.item():g}")

    a, b, c = (cr.tensor(v, dtype=cr.float64, requires_grad=True) for v in (-2.0, 5.0, -4.0))
    Multiply.apply(a + b, c).backward()
    print(
        f"(x + y) z with Multiply: df/dx = {a.grad.item():g}, df/dy = {b.grad.item():g}, "
        f"df/dz = {c.grad.item():g}"
    )

    cr.manual_seed(0)
    u = cr.randn(3, 4, dtype=cr.float64, requires_grad=True)
    v = cr.randn(3, 4, dtype=cr.float64, requires_grad=True)
    print(f"gradcheck(Multiply.apply): {cr.autograd.gradcheck(Multiply.apply, (u, v))}")
    print(f"gradgradcheck(Multiply.apply): {cr.autograd.gradgradcheck(Multiply.apply, (u, v))}")


if __name__ == "__main__":
    main()
