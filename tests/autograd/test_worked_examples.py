"""The lecture's worked examples 1 to 5 (shared/reference/worked-examples.md), number by number.

Expected values are worked out here from the math (closed forms in float64), and checked a second
time against the rounded numbers the reference and the slides print.
"""

import math

import numpy as np
import pytest

import chainrule as cr

F64 = cr.float64


def leaf(value):
    return cr.tensor(value, dtype=F64, requires_grad=True)


# ----- 1. f(x, y, z) = (x + y) z -----
def test_example1_add_then_multiply():
    x, y, z = leaf(-2.0), leaf(5.0), leaf(-4.0)
    q = x + y
    f = q * z
    assert q.item() == 3.0
    assert f.item() == -12.0
    (df_dq,) = cr.autograd.grad(f, q, retain_graph=True)  # the upstream gradient at q
    assert df_dq.item() == -4.0
    f.backward()
    assert z.grad.item() == 3.0  # df/dz = q
    assert x.grad.item() == -4.0  # upstream -4 times local dq/dx = 1
    assert y.grad.item() == -4.0


# ----- 2. the sigmoid neuron -----
W0, X0, W1, X1, W2 = 2.0, -1.0, -3.0, -2.0, -3.0
E = math.exp(-1.0)  # exp(-(w0 x0 + w1 x1 + w2)) at the example's point
S = 1.0 / (1.0 + E)  # f = sigmoid(1)
DS = S * (1.0 - S)  # the sigmoid's local gradient, also E / (1 + E)^2

# node: (forward value, gradient of f), from the closed forms
NODES = {
    "w0*x0": (-2.0, DS),
    "w1*x1": (6.0, DS),
    "w0*x0+w1*x1": (4.0, DS),
    "+w2": (1.0, DS),
    "*(-1)": (-1.0, -DS),
    "exp": (E, -1.0 / (1.0 + E) ** 2),
    "+1": (1.0 + E, -1.0 / (1.0 + E) ** 2),
    "1/x": (S, 1.0),
}
# the reference's table, rounded to 4 decimals
TABLE = {
    "w0*x0": (-2.0, 0.1966),
    "w1*x1": (6.0, 0.1966),
    "+w2": (1.0, 0.1966),
    "*(-1)": (-1.0, -0.1966),
    "exp": (0.3679, -0.5344),
    "+1": (1.3679, -0.5344),
    "1/x": (0.7311, 1.0),
}
LEAF_GRADS = {"w0": X0 * DS, "x0": W0 * DS, "w1": X1 * DS, "x1": W1 * DS, "w2": DS}
LEAF_TABLE = {"w0": -0.1966, "x0": 0.3932, "w1": -0.3932, "x1": -0.5898, "w2": 0.1966}


def neuron_gate_by_gate():
    leaves = {k: leaf(v) for k, v in zip(("w0", "x0", "w1", "x1", "w2"), (W0, X0, W1, X1, W2))}
    a = leaves["w0"] * leaves["x0"]
    b = leaves["w1"] * leaves["x1"]
    c = a + b
    d = c + leaves["w2"]
    e = d * -1.0
    f_ = cr.exp(e)
    g = f_ + 1.0
    h = 1.0 / g
    nodes = dict(zip(NODES, (a, b, c, d, e, f_, g, h)))
    return leaves, nodes


def test_example2_sigmoid_neuron_gate_by_gate_with_retain_grad():
    leaves, nodes = neuron_gate_by_gate()
    for t in nodes.values():
        t.retain_grad()
    out = nodes["1/x"]
    out.backward()
    for name, t in nodes.items():
        value, grad = NODES[name]
        assert t.item() == pytest.approx(value, abs=1e-12), name
        assert t.grad is not None, name
        assert t.grad.item() == pytest.approx(grad, abs=1e-12), name
    for name, (value, grad) in TABLE.items():
        assert nodes[name].item() == pytest.approx(value, abs=1e-4), name
        assert nodes[name].grad.item() == pytest.approx(grad, abs=1e-4), name
    for name, t in leaves.items():
        assert t.grad.item() == pytest.approx(LEAF_GRADS[name], abs=1e-12), name
        assert t.grad.item() == pytest.approx(LEAF_TABLE[name], abs=1e-4), name


def test_example2_sigmoid_neuron_node_gradients_seen_by_hooks():
    # the same numbers observed with register_hook (independent of retain_grad)
    leaves, nodes = neuron_gate_by_gate()
    seen = {}
    for name, t in nodes.items():
        t.register_hook(lambda grad, name=name: seen.__setitem__(name, grad.item()))
    nodes["1/x"].backward()
    for name, (value, grad) in NODES.items():
        assert nodes[name].item() == pytest.approx(value, abs=1e-12), name
        assert seen[name] == pytest.approx(grad, abs=1e-12), name
    for name, t in leaves.items():
        assert t.grad.item() == pytest.approx(LEAF_TABLE[name], abs=1e-4), name


def test_example2_local_gradients_of_the_gates():
    # d(1/x)/dx = -1/x^2, d(e^x)/dx = e^x, d(ax)/dx = a, d(c+x)/dx = 1
    x = leaf(1.0 + E)
    (g,) = cr.autograd.grad(1.0 / x, x)
    assert g.item() == pytest.approx(-1.0 / (1.0 + E) ** 2, abs=1e-12)
    x = leaf(-1.0)
    (g,) = cr.autograd.grad(cr.exp(x), x)
    assert g.item() == pytest.approx(E, abs=1e-12)
    x = leaf(1.0)
    (g,) = cr.autograd.grad(x * -1.0, x)
    assert g.item() == -1.0
    (g,) = cr.autograd.grad(x + 1.0, x)
    assert g.item() == 1.0


def test_example2_sigmoid_neuron_with_one_sigmoid_gate():
    w0, x0, w1, x1, w2 = leaf(W0), leaf(X0), leaf(W1), leaf(X1), leaf(W2)
    dot = w0 * x0 + w1 * x1 + w2
    s = cr.sigmoid(dot)
    assert s.item() == pytest.approx(S, abs=1e-12)
    assert s.item() == pytest.approx(0.7311, abs=1e-4)
    (local,) = cr.autograd.grad(s, dot, retain_graph=True)
    assert local.item() == pytest.approx((1 - S) * S, abs=1e-12)
    assert local.item() == pytest.approx(0.1966, abs=1e-4)
    assert "Sigmoid" in repr(s.grad_fn)
    s.backward()
    for name, t in zip(("w0", "x0", "w1", "x1", "w2"), (w0, x0, w1, x1, w2)):
        assert t.grad.item() == pytest.approx(LEAF_GRADS[name], abs=1e-12), name


def test_example2_readme_neuron_as_a_vector_dot_product():
    w = cr.tensor([W0, W1, W2], dtype=F64, requires_grad=True)
    x = cr.tensor([X0, X1, 1.0], dtype=F64)
    f = cr.sigmoid((w * x).sum())
    f.backward()
    assert f.item() == pytest.approx(S, abs=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), [X0 * DS, X1 * DS, DS], atol=1e-12)
    assert x.grad is None  # x does not require grad


def test_example2_neuron_matches_torch():
    torch = pytest.importorskip("torch")
    leaves, nodes = neuron_gate_by_gate()
    nodes["1/x"].backward()
    tl = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (W0, X0, W1, X1, W2)]
    tw0, tx0, tw1, tx1, tw2 = tl
    (1 / (1 + torch.exp(-(tw0 * tx0 + tw1 * tx1 + tw2)))).backward()
    for t, ref in zip(leaves.values(), tl):
        assert t.grad.item() == pytest.approx(ref.grad.item(), abs=1e-12)


# ----- 3. gate patterns -----
def test_example3_add_gate_distributes():
    x, y = leaf(4.0), leaf(-7.0)
    z = x + y
    z.backward(cr.tensor(2.0, dtype=F64))
    assert x.grad.item() == 2.0
    assert y.grad.item() == 2.0


def test_example3_mul_gate_swaps():
    x, y = leaf(2.0), leaf(3.0)
    z = x * y
    z.backward(cr.tensor(5.0, dtype=F64))
    assert x.grad.item() == 15.0  # 5 * 3
    assert y.grad.item() == 10.0  # 5 * 2


def test_example3_copy_gate_adds():
    # one value feeds two branches; the upstream gradients 4 and 2 add up
    x = leaf(1.5)
    u = x * 1.0
    v = x * 1.0
    cr.autograd.backward([u, v], [cr.tensor(4.0, dtype=F64), cr.tensor(2.0, dtype=F64)])
    assert x.grad.item() == 6.0


def test_example3_copy_gate_adds_through_stack():
    x = leaf(1.5)
    cr.stack([x, x]).backward(cr.tensor([4.0, 2.0], dtype=F64))
    assert x.grad.item() == 6.0


def test_example3_max_gate_routes_with_maximum():
    a, b = leaf(4.0), leaf(5.0)
    m = cr.maximum(a, b)
    assert m.item() == 5.0
    m.backward(cr.tensor(9.0, dtype=F64))
    assert b.grad.item() == 9.0
    assert a.grad.item() == 0.0


def test_example3_max_gate_routes_with_max_over_a_stack():
    a, b = leaf(4.0), leaf(5.0)
    m = cr.stack([a, b]).max()
    assert m.item() == 5.0
    (m * 9.0).backward()
    assert b.grad.item() == 9.0
    assert a.grad.item() == 0.0


# ----- 4. ReLU on a vector -----
def test_example4_relu_on_a_vector():
    x = cr.tensor([1.0, -2.0, 3.0, -1.0], dtype=F64, requires_grad=True)
    y = cr.relu(x)
    np.testing.assert_array_equal(y.detach().numpy(), [1.0, 0.0, 3.0, 0.0])
    y.backward(cr.tensor([4.0, -1.0, 5.0, 9.0], dtype=F64))
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 0.0, 5.0, 0.0])


def test_example4_relu_backward_equals_the_diagonal_jacobian():
    x = np.array([1.0, -2.0, 3.0, -1.0])
    upstream = np.array([4.0, -1.0, 5.0, 9.0])
    jac = cr.autograd.functional.jacobian(cr.relu, cr.tensor(x))
    np.testing.assert_array_equal(jac.numpy(), np.diag((x > 0).astype(float)))
    np.testing.assert_array_equal(upstream @ jac.numpy(), [4.0, 0.0, 5.0, 0.0])


# ----- 5. matrix multiply -----
def test_example5_matmul():
    x = cr.tensor([[2.0, 1.0, -3.0], [-3.0, 4.0, 2.0]], dtype=F64, requires_grad=True)
    w = cr.tensor(
        [[3.0, 2.0, 1.0, -1.0], [2.0, 1.0, 3.0, 2.0], [3.0, 2.0, 1.0, -2.0]],
        dtype=F64,
        requires_grad=True,
    )
    dy = np.array([[2.0, 3.0, -3.0, 9.0], [-8.0, 1.0, 4.0, 6.0]])
    y = x @ w
    assert y.shape == (2, 4)
    y.backward(cr.tensor(dy))
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 16, -9], [-24, 9, -30]])
    np.testing.assert_array_equal(
        w.grad.numpy(), [[28, 3, -18, 0], [-30, 7, 13, 33], [-22, -7, 17, -15]]
    )
    # the shapes alone fix the formulas: dL/dx = dL/dy w^T, dL/dw = x^T dL/dy
    np.testing.assert_array_equal(x.grad.numpy(), dy @ w.detach().numpy().T)
    np.testing.assert_array_equal(w.grad.numpy(), x.detach().numpy().T @ dy)
    assert x.grad.shape == x.shape and w.grad.shape == w.shape
