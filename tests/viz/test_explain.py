"""chainrule.viz.explain: backpropagation step by step, checked against the lecture's numbers."""

import re

import numpy as np
import pytest

import chainrule as cr
import chainrule.viz  # noqa: F401  (cr.viz)
from chainrule.viz.explain import format_bytes


def neuron():
    values = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}
    leaves = {
        k: cr.tensor(v, dtype=cr.float64, requires_grad=True, name=k) for k, v in values.items()
    }
    w0, x0, w1, x1, w2 = leaves.values()
    return 1 / (1 + cr.exp(-(w0 * x0 + w1 * x1 + w2))), leaves


def scalar(name, value):
    return cr.tensor(value, dtype=cr.float64, requires_grad=True, name=name)


def test_the_sigmoid_neuron_step_by_step_as_on_the_slides():
    f, leaves = neuron()
    ex = cr.viz.explain(f)
    assert [s.gate for s in ex.steps] == ["1/x", "+1", "exp", "*(-1)", "+#2", "+#1", "*#1", "*#2"]
    assert float(ex.output) == pytest.approx(0.7311, abs=1e-4)
    down = {(s.gate, e.to): float(e.downstream) for s in ex.steps for e in s.edges}
    assert down == pytest.approx(
        {
            ("1/x", "+1"): -0.5344,
            ("+1", "exp"): -0.5344,
            ("exp", "*(-1)"): -0.1966,
            ("*(-1)", "+#2"): 0.1966,
            ("+#2", "+#1"): 0.1966,
            ("+#2", "w2"): 0.1966,
            ("+#1", "*#1"): 0.1966,
            ("+#1", "*#2"): 0.1966,
            ("*#1", "w0"): -0.1966,
            ("*#1", "x0"): 0.3932,
            ("*#2", "w1"): -0.3932,
            ("*#2", "x1"): -0.5898,
        },
        abs=1e-4,
    )
    # the slides' numbers in the order the backward pass meets them, at their two decimals
    slides = [float(ex.output)] + [
        float(e.downstream)
        for s in ex.steps
        for e in s.edges
        if (s.gate, e.to) in {("1/x", "+1"), ("exp", "*(-1)"), ("*(-1)", "+#2")}
        or e.to in ("x0", "w1", "x1")
    ]
    assert [round(v, 2) for v in slides] == [0.73, -0.53, -0.20, 0.20, 0.39, -0.39, -0.59]
    assert {k: float(v) for k, v in ex.leaves.items()} == pytest.approx(
        {"w0": -0.1966, "x0": 0.3932, "w1": -0.3932, "x1": -0.5898, "w2": 0.1966}, abs=1e-4
    )
    f.backward()  # the engine agrees
    assert {k: float(v) for k, v in ex.leaves.items()} == pytest.approx(
        {k: t.grad.item() for k, t in leaves.items()}
    )


def test_each_step_is_upstream_times_local():
    f, _ = neuron()
    ex = cr.viz.explain(f)
    local = {(s.gate, e.to): (e.local, float(e.local_value)) for s in ex.steps for e in s.edges}
    assert local[("1/x", "+1")] == ("-1/x^2", pytest.approx(-1 / 1.3679**2, abs=1e-4))
    assert local[("exp", "*(-1)")] == ("e^x", pytest.approx(0.3679, abs=1e-4))
    assert local[("*(-1)", "+#2")] == ("-1", -1)
    assert local[("+1", "exp")] == ("1", 1)
    assert local[("*#1", "w0")] == ("x0", -1)  # the mul gate swaps its inputs
    assert local[("*#1", "x0")] == ("w0", 2)
    for s in ex.steps:
        for e in s.edges:
            assert float(e.upstream) * float(e.local_value) == pytest.approx(float(e.downstream))
    text = str(ex)
    lines = re.findall(r"upstream (\S+) x local (.+?) -> downstream (\S+)", text)
    assert len(lines) == 12
    for up, loc, down in lines:
        value = float(loc.rsplit("= ", 1)[-1])
        assert float(up) * value == pytest.approx(float(down), abs=2e-4)


def test_the_text_reads_like_the_slides_at_two_digits():
    f, _ = neuron()
    text = str(cr.viz.explain(f, digits=2))
    assert "1/x (DivBackward): output 0.73, upstream 1" in text
    assert "upstream 1 x local -1/x^2 = -0.53 -> downstream -0.53" in text
    assert "upstream -0.53 x local e^x = 0.37 -> downstream -0.2" in text
    assert "add gate distributes" in text and "mul gate swaps" in text
    assert text.rstrip().endswith("w0 = -0.2, x0 = 0.39, w1 = -0.39, x1 = -0.59, w2 = 0.2")


def test_the_gate_patterns_are_named():
    x, y = scalar("x", 2.0), scalar("y", 3.0)
    (step,) = cr.viz.explain(x + y, grad_output=2.0).steps  # add distributes
    assert step.pattern == "add gate distributes"
    assert [float(e.downstream) for e in step.edges] == [2, 2]
    (step,) = cr.viz.explain(x * y, grad_output=5.0).steps  # mul swaps
    assert step.pattern == "mul gate swaps"
    assert [float(e.downstream) for e in step.edges] == [15, 10]
    a, b = scalar("a", 4.0), scalar("b", 5.0)
    (step,) = cr.viz.explain(cr.maximum(a, b), grad_output=9.0).steps  # max routes
    assert step.pattern == "max gate routes"
    assert {e.to: float(e.downstream) for e in step.edges} == {"a": 0, "b": 9}
    z = scalar("z", 1.0)
    steps = cr.viz.explain(4 * z + 2 * z).steps  # copy adds
    copy = [s for s in steps if s.kind == "copy"]
    assert len(copy) == 1 and copy[0].gate == "z" and copy[0].pattern == "copy gate adds"
    assert sorted(float(p) for p in copy[0].parts) == [2, 4] and float(copy[0].upstream) == 6
    assert "copy gate adds: z is used 2 times" in str(cr.viz.explain(4 * z + 2 * z))


def test_a_matrix_product_states_its_vjp_and_the_jacobian_it_avoids():
    x = cr.tensor([[2.0, 1, -3], [-3, 4, 2]], requires_grad=True, name="x")
    w = cr.tensor([[3.0, 2, 1, -1], [2, 1, 3, 2], [3, 2, 1, -2]], requires_grad=True, name="w")
    g = np.array([[2.0, 3, -3, 9], [-8, 1, 4, 6]])
    ex = cr.viz.explain(x @ w, grad_output=g)
    (step,) = ex.steps
    ex_x, ex_w = step.edges
    np.testing.assert_allclose(ex_x.downstream, [[0, 16, -9], [-24, 9, -30]])
    np.testing.assert_allclose(
        ex_w.downstream, [[28, 3, -18, 0], [-30, 7, 13, 33], [-22, -7, 17, -15]]
    )
    assert ex_x.local == "upstream @ w^T" and ex_w.local == "x^T @ upstream"
    assert ex_x.jacobian_shape == (8, 6) and ex_x.jacobian_bytes == 8 * 6 * 4
    assert "vector-Jacobian product upstream @ w^T" in str(ex)


def test_the_lectures_256_gib_jacobian():
    assert format_bytes((64 * 4096) ** 2 * 4) == "256 GiB"
    x = cr.zeros(64, 4096, requires_grad=True)
    w = cr.zeros(4096, 4096, requires_grad=True)
    ex = cr.viz.explain((x @ w).sum())
    edge = ex.steps[1].edges[0]
    assert edge.jacobian_shape == (64 * 4096, 64 * 4096) and edge.jacobian_bytes == 2**38
    assert "262144 x 262144 = 68719476736 numbers, 256 GiB in float32: never formed" in str(ex)


def test_relu_on_a_vector_multiplies_by_its_mask():
    x = cr.tensor([1.0, -2.0, 3.0, -1.0], requires_grad=True, name="x")
    ex = cr.viz.explain(x.relu(), grad_output=[4.0, -1.0, 5.0, 9.0])
    (edge,) = ex.steps[0].edges
    np.testing.assert_array_equal(edge.downstream, [4, 0, 5, 0])
    assert ex.steps[0].pattern == "max gate routes"
    assert "the Jacobian is diagonal -> downstream (4,) [4, 0, 5, 0]" in str(ex)


def test_markdown():
    f, _ = neuron()
    md = cr.viz.explain(f).to_markdown()
    assert md == cr.viz.explain(f)._repr_markdown_()
    rows = [line for line in md.splitlines() if line.startswith("|")]
    assert rows[0] == "| step | gate | to | upstream | local | downstream | pattern |"
    assert len(rows) == 2 + 12  # header, rule, one row per edge
    assert "| 1 | `1/x` | +1 = 1.368 | 1 | -1/x^2 = -0.5344 | -0.5344 |  |" in rows
    assert r"\*(-1) = -1" in md  # no stray emphasis
    assert "Gradients at the inputs: w0 = -0.1966" in md


def test_explain_leaves_grad_alone_and_works_before_and_after_backward():
    f, leaves = neuron()
    before = str(cr.viz.explain(f))
    assert all(t.grad is None for t in leaves.values())
    f.backward()
    assert leaves["x1"].grad.item() == pytest.approx(-0.5898, abs=1e-4)
    assert str(cr.viz.explain(f)) == before  # a small graph is kept for looking at
    assert leaves["x1"].grad.item() == pytest.approx(-0.5898, abs=1e-4)  # and .grad untouched
    from chainrule.autograd.engine import KEEP_NUMBERS

    big = cr.randn(KEEP_NUMBERS + 1, requires_grad=True)
    loss = (big * big).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="freed by backward"):
        cr.viz.explain(loss)


def test_what_explain_cannot_do_it_says():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"shape \(2,\).*grad_output=.*output.sum\(\)"):
        cr.viz.explain(x * 2)
    with pytest.raises(ValueError, match="does not require grad"):
        cr.viz.explain(cr.tensor(1.0) * 2)
    with pytest.raises(ValueError, match="digits"):
        cr.viz.explain(x.sum(), digits=0)
    leaf = cr.viz.explain(scalar("a", 1.0))
    assert len(leaf) == 0 and "leaf" in str(leaf)


# ----- names (issue 17, item 3) -----
def test_intermediates_are_called_by_their_names_as_on_the_slides():
    x, y, z = scalar("x", -2.0), scalar("y", 5.0), scalar("z", -4.0)
    q = x + y
    q.name = "q"
    f = q * z
    text = str(cr.viz.explain(f))
    assert "1. f = q * z (MulBackward): output -12, upstream 1" not in text  # f is not named
    assert "2. q = x + y (AddBackward): output 3, upstream -4; add gate distributes" in text
    assert "to q = 3: upstream 1 x local z = -4 -> downstream -4" in text
    assert "to z = -4: upstream 1 x local q = 3 -> downstream 3" in text
    f.name = "f"
    assert "1. f = q * z (MulBackward)" in str(cr.viz.explain(f))
    _, edges = _dot_edges(cr.viz.draw_graph(f, format="dot"))
    assert "q = 3" in edges  # the drawing names q on its edge


def test_the_lectures_flat_code_names_s0_to_s3():
    from chainrule.viz.expr import parse_program

    program = parse_program("s0 = w0*x0; s1 = w1*x1; s2 = s0 + s1; s3 = s2 + w2; L = sigmoid(s3)")
    assert program.names == ("w0", "x0", "w1", "x1", "w2")
    assert program.assigned == ("s0", "s1", "s2", "s3", "L")
    values = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}
    L = program.evaluate({k: scalar(k, v) for k, v in values.items()})
    ex = cr.viz.explain(L)
    assert [s.gate for s in ex.steps] == ["L", "s3", "s2", "s0", "s1"]
    assert [s.equation for s in ex.steps] == [
        "sigmoid(s3)", "s2 + w2", "s0 + s1", "w0 * x0", "w1 * x1"
    ]  # fmt: skip
    assert "to s3 = 1: upstream 1 x local (1 - s) s = 0.1966 -> downstream 0.1966" in str(ex)


def test_unnamed_inputs_are_called_by_the_argument_they_are():
    cr.manual_seed(0)
    model = cr.nn.Sequential(cr.nn.Linear(2, 3), cr.nn.ReLU(), cr.nn.Linear(3, 2))
    loss = cr.nn.functional.cross_entropy(model(cr.randn(4, 2)), cr.tensor([0, 1, 1, 0]))
    names = [v.name for v in cr.viz.trace(loss, module=model).values if v.kind != "gate"]
    assert names == ["x", "0.weight", "0.bias", "2.weight", "2.bias", "target"]
    a, b = cr.tensor(2.0, requires_grad=True), cr.tensor(3.0, requires_grad=True)
    assert list(cr.viz.explain(a * b + a).leaves) == ["x", "y"]


# ----- readable local gradients (issue 17, item 4) -----
def test_the_division_gate_names_numerator_and_denominator():
    x, y = scalar("x", 2.0), scalar("y", 3.0)
    (step,) = cr.viz.explain(x / y).steps
    assert [e.local for e in step.edges] == ["1/y", "-x/y^2"]
    assert float(step.edges[1].local_value) == pytest.approx(-2 / 9)
    a, b, c = scalar("a", 1.0), scalar("b", 1.0), scalar("c", 4.0)
    (div, _) = cr.viz.explain((a + b) / c).steps
    assert [e.local for e in div.edges] == ["1/c", "-2/c^2"]  # an unnamed numerator: its value
    assert "#" not in str(cr.viz.explain((a + b) / c))


def test_a_sum_with_a_negative_term_reads_as_a_difference():
    x = scalar("x", 0.5)
    text = str(cr.viz.explain(x * 3 - x * 4))
    assert "its gradients add up: 3 - 4 = -1" in text


def test_the_header_counts_the_copy_gates_among_the_steps():
    x = scalar("x", 0.5)
    ex = cr.viz.explain(x * x + x)
    assert len(ex.steps) == 3
    assert str(ex).startswith("Backpropagation through 2 gates and 1 copy gate (3 steps)")


def test_the_l2_step_reads_2_lambda_w():
    w = cr.tensor([[1.0, -2.0], [0.5, 3.0]], requires_grad=True, name="W")
    ex = cr.viz.explain(0.01 * cr.nn.l2_penalty([w]))
    (edge,) = ex.steps[1].edges
    assert edge.local == "upstream * 2 w = 0.01 * 2 w"
    np.testing.assert_allclose(edge.downstream, 0.02 * w.detach().numpy(), rtol=1e-6)


def test_a_gate_no_gradient_reaches_is_counted_apart():
    class FirstOnly(cr.autograd.Function):
        """z = x * y, passing a gradient to x alone (a user's Function may)."""

        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(y)
            return x * y

        @staticmethod
        def backward(ctx, grad):
            (y,) = ctx.saved_tensors
            return grad * y, None

    x, y = scalar("x", 2.0), scalar("y", 3.0)
    ex = cr.viz.explain(FirstOnly.apply(x, cr.exp(y)))  # exp gets no gradient
    assert [s.gate for s in ex.steps] == ["FirstOnly"]
    assert str(ex).startswith("Backpropagation through 1 gate (1 more that no gradient reaches),")


# the numbers of a local gradient worked out, its input called by its name (issue 17, item 4)
@pytest.mark.parametrize(
    "make, to, local",
    [
        (lambda a, b, c: a**2, "a", "2a"),  # not 2x
        (lambda a, b, c: -a / b, "b", "0.7/b^2"),  # not -(-0.7)/b^2
        (lambda a, b, c: a ** (b + c), "a", "0.9 a^(-0.1)"),  # not 0.9 a^(0.9 - 1)
        (lambda a, b, c: (a + c) ** (b * c), "+", "-0.52 x^(-1.52)"),
        (lambda a, b, c: -a * b, "b", "-0.7"),  # not (-0.7)
        (lambda a, b, c: (c - 1) ** a, "a", "(-1.4)^a ln(-1.4)"),  # not ln((-1.4))
        (lambda a, b, c: cr.nn.l2_penalty([a, b]), "b", "2b"),  # not 2w, whichever weight
        (lambda a, b, c: cr.elu(a), "a", "1 if a > 0 else e^a"),  # not s + alpha
        (lambda a, b, c: cr.elu(a, 0.5), "a", "1 if a > 0 else 0.5 e^a"),
        (lambda a, b, c: cr.nn.functional.softplus(a, beta=2.0), "a", "sigmoid(2 a)"),
    ],
)
def test_local_gradients_read_as_one_writes_them(make, to, local):
    a, b, c = scalar("a", 0.7), scalar("b", 1.3), scalar("c", -0.4)
    with np.errstate(invalid="ignore"):  # a negative base's ln is nan, as in NumPy
        ex = cr.viz.explain(make(a, b, c))
    edges = {e.to: e for s in ex.steps for e in s.edges}
    assert edges[to].local == local
    assert "--" not in str(ex) and "+ -" not in str(ex) and "-(-" not in str(ex)


def test_a_denominator_without_a_name_is_not_called_like_the_numerator():
    x, y, z = scalar("x", 0.7), scalar("y", 1.3), scalar("z", -0.4)
    (div, _) = cr.viz.explain(x / (y + z)).steps
    assert [e.local for e in div.edges] == ["1/0.9", "-x/0.9^2"]  # not -x/x^2
    assert float(div.edges[1].local_value) == pytest.approx(-0.7 / 0.81)
    a = scalar("a", 0.7)
    (div, _) = cr.viz.explain(a / (y + z)).steps
    assert div.edges[1].local == "-a/x^2"  # x, the gate's input, as the slides write -1/x^2


def test_an_equation_with_a_negative_constant_reads_as_a_difference():
    from chainrule.viz.expr import parse_program

    q = parse_program("q = a + -1; f = q * b").evaluate({"a": scalar("a", 2.0), "b": 3.0})
    assert [s.equation for s in cr.viz.explain(q).steps] == ["q * 3", "a - 1"]


def _dot_edges(dot):
    """The DOT text with its HTML tags taken out, and the words of every label."""
    import html as _html

    words = _html.unescape(re.sub(r"<[^>]*>", " ", dot))
    return dot, " ".join(words.split())


def test_power_gates_name_base_and_exponent_by_their_operands():
    x, y, z = (cr.tensor(v, dtype=cr.float64, requires_grad=True) for v in (1.0, 2.0, 3.0))
    for t, name in ((x, "x"), (y, "y"), (z, "z")):
        t.name = name
    text = str(cr.viz.explain(2**x + y**z))
    assert "to x = 1: upstream 1 x local 2^x ln(2) = 1.386" in text
    assert "to y = 2: upstream 1 x local z y^(z - 1) = 12" in text
    assert "to z = 3: upstream 1 x local y^z ln(y) = 5.545" in text


def test_leaky_relu_scales_the_upstream_gradient_it_does_not_route_it():
    x = cr.tensor([1.0, -2.0], requires_grad=True)
    x.name = "x"
    text = str(cr.viz.explain(cr.leaky_relu(x, 0.1).sum()))
    assert "upstream * (1 if x > 0 else 0.1) elementwise" in text
    assert "routed" not in text
