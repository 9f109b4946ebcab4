"""chainrule.viz.graph: the traced snapshot, its DOT text and its rendering, numbers read back."""

import html
import re
import shutil
import struct

import numpy as np
import pytest

import chainrule as cr
import chainrule.viz  # noqa: F401  (cr.viz)
from chainrule import nn
from chainrule.viz import graph as G

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None,
    reason="Graphviz's `dot` is not installed (apt-get install graphviz); .ci/run installs it",
)

# the lecture's sigmoid neuron: (source, destination) -> (forward value, gradient) on that edge
NEURON_EDGES = {
    ("w0", "*"): (2, -0.1966),
    ("x0", "*"): (-1, 0.3932),
    ("w1", "*"): (-3, -0.3932),
    ("x1", "*"): (-2, -0.5898),
    ("w2", "+"): (-3, 0.1966),
    ("*", "+"): [(-2, 0.1966), (6, 0.1966)],
    ("+", "+"): (4, 0.1966),
    ("+", "*(-1)"): (1, 0.1966),
    ("*(-1)", "exp"): (-1, -0.1966),
    ("exp", "+1"): (0.3679, -0.5344),
    ("+1", "1/x"): (1.368, -0.5344),
    ("1/x", "f"): (0.7311, 1),
}


def neuron():
    """f = 1 / (1 + exp(-(w0 x0 + w1 x1 + w2))) at the lecture's values; (f, leaves)."""
    values = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}
    leaves = {
        k: cr.tensor(v, dtype=cr.float64, requires_grad=True, name=k) for k, v in values.items()
    }
    w0, x0, w1, x1, w2 = leaves.values()
    return 1 / (1 + cr.exp(-(w0 * x0 + w1 * x1 + w2))), leaves


def strip_tags(s):
    return html.unescape(re.sub(r"<[^>]*>", " ", s)).split()


def _colored(label, color):
    m = re.search(rf'COLOR="{color}">(.*?)</FONT>', label)
    return " ".join(strip_tags(m.group(1))) if m else None


def parse_dot(dot):
    """Nodes (id -> label words) and wires [(src label, dst label, value text, grad text)].

    A wire runs from a node through the label node that carries its numbers (value above the
    line, gradient below) to the gate that takes it; a value used more than once runs through
    one label with its total gradient, then one label per use with that use's gradient.
    """
    nodes, labels, succ = {}, {}, {}
    for m in re.finditer(r"^\s+(\w+) \[label=<(.*?)>,", dot, re.M):
        nodes[m.group(1)] = " ".join(strip_tags(m.group(2)))
    for m in re.finditer(r"^\s+(l\d+) \[shape=plain, label=<(.*)>\];$", dot, re.M):
        label = m.group(2)
        labels[m.group(1)] = (_colored(label, G.VALUE_COLOR), _colored(label, G.GRAD_COLOR))
    for m in re.finditer(r"^\s+(\w+)(?::m:[we])? -> (\w+)(?::m:[we])?(?: \[.*\])?;$", dot, re.M):
        succ.setdefault(m.group(1), []).append(m.group(2))
    edges = []
    for src, dsts in succ.items():
        if src in labels:
            continue
        for mid in dsts:
            if mid not in labels:
                edges.append((nodes[src], nodes[mid], None, None))
                continue
            value, grad = labels[mid]
            for dst in succ[mid]:
                if dst in labels:  # a branch of a value used more than once
                    (branch_dst,) = succ[dst]
                    edges.append((nodes[src], nodes[branch_dst], value, labels[dst][1]))
                else:
                    edges.append((nodes[src], nodes[dst], value, grad))
    return nodes, edges


def test_dot_of_the_sigmoid_neuron_holds_the_lectures_values_and_gradients():
    f, _ = neuron()
    dot = cr.viz.draw_graph(f, format="dot")
    assert "rankdir=LR" in dot
    nodes, edges = parse_dot(dot)
    gates = sorted(v for k, v in nodes.items() if k.startswith("g"))
    assert gates == sorted(["*", "*", "+", "+", "*(-1)", "exp", "+1", "1/x"])
    found = {}
    for src, dst, value, grad in edges:
        found.setdefault((src, dst), []).append((float(value), float(grad)))
    assert set(found) == set(NEURON_EDGES)
    for key, want in NEURON_EDGES.items():
        want = sorted(want if isinstance(want, list) else [want])
        got = sorted(found[key])
        assert len(got) == len(want), key
        for (v, g), (wv, wg) in zip(got, want):
            assert v == pytest.approx(wv, abs=1e-3), key
            assert g == pytest.approx(wg, abs=1e-4), key


def test_values_and_grads_can_be_left_out():
    f, _ = neuron()
    no_grads = cr.viz.draw_graph(f, grads=False, format="dot")
    assert G.GRAD_COLOR not in no_grads and "0.7311" in no_grads
    no_values = cr.viz.draw_graph(f, values=False, format="dot")
    assert "0.7311" not in no_values and "-0.5344" in no_values
    bare = cr.viz.draw_graph(f, values=False, grads=False, format="dot")
    assert all(value is None and grad is None for *_, value, grad in parse_dot(bare)[1])


def test_tracing_touches_no_grad_and_matches_backward():
    f, leaves = neuron()
    g = cr.viz.trace(f)
    assert all(t.grad is None for t in leaves.values())
    f.backward()  # the graph is freed here; the snapshot keeps what it needs
    got = {v.name: float(v.grad) for v in g.leaves()}
    assert got == pytest.approx({k: t.grad.item() for k, t in leaves.items()})
    assert "-0.5898" in g.to_dot()  # still drawable after backward


def test_forward_backward_then_look_as_the_lecture_does():
    # issue 17, item 2: backward keeps a small graph's structure and forward values (its nodes'
    # inputs) and frees only its saved values; the drawing replays each gate's forward from them
    f, leaves = neuron()
    f.backward()
    forward, _ = __import__("chainrule.viz.snapshot", fromlist=["_walk"])._walk(f.grad_fn)
    assert len(forward) == 8 and all(node.saved is None for node in forward)
    nodes, edges = parse_dot(cr.viz.draw_graph(f, format="dot"))
    found = {}
    for src, dst, value, grad in edges:
        found.setdefault((src, dst), []).append((float(value), float(grad)))
    assert set(found) == set(NEURON_EDGES)
    for key, want in NEURON_EDGES.items():
        want = sorted(want if isinstance(want, list) else [want])
        for (v, g), (wv, wg) in zip(sorted(found[key]), want):
            assert v == pytest.approx(wv, abs=1e-3), key
            assert g == pytest.approx(wg, abs=1e-4), key
    ex = cr.viz.explain(f)
    assert "upstream 1 x local -1/x^2 = -0.5344" in str(ex)
    assert {k: float(v) for k, v in ex.leaves.items()} == pytest.approx(
        {k: t.grad.item() for k, t in leaves.items()}
    )
    assert all(node.saved is None for node in forward)  # nothing was kept for the drawing
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        f.backward()  # the saved values are gone: a second backward still says so


def test_a_small_network_drawn_after_backward_is_drawn_as_before_it():
    # matrices, a loss with integer targets, the L2 penalty: the gates' forward replayed from the
    # kept inputs gives every value and gradient the graph had before backward
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2))
    data = nn.functional.cross_entropy(model(cr.randn(4, 2)), cr.tensor([0, 1, 1, 0]))
    loss = data + 0.01 * nn.l2_penalty(model)
    before = cr.viz.trace(loss, module=model)
    loss.backward()
    after = cr.viz.trace(loss, module=model)
    for collapse in (True, False):
        assert after.to_dot(collapse=collapse) == before.to_dot(collapse=collapse)
    assert str(cr.viz.explain(loss, module=model)) == str(cr.viz.explain(before))
    grads = {v.name: v.grad for v in after.leaves() if v.requires_grad}
    for name, p in model.named_parameters():
        np.testing.assert_allclose(grads[name], p.grad.numpy(), rtol=1e-6)


def test_a_graph_too_large_to_keep_says_how_to_draw_it():
    from chainrule.autograd.engine import KEEP_NUMBERS

    w = cr.randn(KEEP_NUMBERS + 1, requires_grad=True)
    f = (w * w).sum()
    f.backward()
    assert f.grad_fn.inputs is None  # freed as before: a training step keeps nothing
    with pytest.raises(RuntimeError, match=r"freed by backward.*retain_graph=True.*trace"):
        cr.viz.draw_graph(f, format="dot")
    f2 = (w * w).sum()
    f2.backward(retain_graph=True)
    assert "min" in cr.viz.draw_graph(f2, format="dot")


def test_a_drawing_after_an_optimizer_step_raises_rather_than_mix_old_and_new_values():
    w = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    f = (w * cr.tensor([3.0, 4.0], dtype=cr.float64)).sum()
    f.backward()
    with cr.no_grad():
        w -= 0.1 * w.grad
    with pytest.raises(RuntimeError, match="modified in place since forward"):
        cr.viz.draw_graph(f, format="dot")


def test_leaves_show_their_names_and_tensors_their_shape_and_values():
    x = cr.tensor([1.0, -2.0, 3.0, -1.0], requires_grad=True, name="scores")
    w = cr.randn(64, 32, requires_grad=True)
    dot = cr.viz.draw_graph((x.relu() * 2).sum() + (w * w).sum(), format="dot")
    nodes, edges = parse_dot(dot)
    # an unnamed input is called by the argument it is to its first gate
    assert "scores (4,)" in nodes.values() and "x (64, 32)" in nodes.values()
    relu_in = [e for e in edges if e[0] == "scores (4,)"][0]
    assert relu_in[2] == "(4,) [1, -2, 3, -1]" and relu_in[3] == "[2, 0, 2, 0]"  # shape once
    big = [e for e in edges if e[0] == "x (64, 32)"][0]
    m = re.fullmatch(r"\(64, 32\) min (\S+) mean (\S+) max (\S+)", big[2])
    data = w.detach().numpy()
    assert m and [float(v) for v in m.groups()] == pytest.approx(
        [data.min(), data.mean(), data.max()], rel=1e-3, abs=1e-3
    )


@pytest.mark.parametrize(
    "make, label",
    [
        (lambda x: 1 / x, "1/x"),
        (lambda x: x**-1, "1/x"),
        (lambda x: x**2, "**2"),
        (lambda x: 1 + x, "+1"),
        (lambda x: x * -1, "*(-1)"),
        (lambda x: -x, "*(-1)"),
        (lambda x: x - 2.5, "-2.5"),
        (lambda x: 1 - x, "1-x"),
        (lambda x: x / 4, "/4"),
        (lambda x: cr.exp(x), "exp"),
        (lambda x: cr.sigmoid(x), "sigmoid"),
        (lambda x: cr.maximum(x, 0.0), "max(x, 0)"),
        (lambda x: x @ cr.ones(3, 2), "matmul"),
        (lambda x: x.sum(dim=0), "sum(dim=0)"),
        (lambda x: x * x, "*"),
    ],
)
def test_gates_are_labelled_with_the_slides_symbols(make, label):
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    g = cr.viz.trace(make(x).sum() if label != "sum(dim=0)" else make(x))
    assert g.gates[0].label == label


def test_each_use_of_a_value_gets_its_own_gradient_on_its_edge():
    x = cr.tensor(3.0, requires_grad=True, name="x")
    _, edges = parse_dot(cr.viz.draw_graph(x * x + x, format="dot"))
    from_x = sorted(float(grad) for src, _, _, grad in edges if src == "x")
    assert from_x == [1, 3, 3]  # the copy gate adds them: 7 = d(x^2 + x)/dx


def test_a_users_function_and_a_split_are_replayed_like_the_engine():
    class Multiply(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, y)
            return x * y

        @staticmethod
        def backward(ctx, grad):
            x, y = ctx.saved_tensors
            return grad * y, grad * x

    x = cr.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    y = cr.tensor([0.5, -1.0, 2.0, 3.0], requires_grad=True)
    first, _ = cr.split(Multiply.apply(x, y), 2)  # the second half is never used
    f = (first * first).sum()
    g = cr.viz.trace(f)
    assert "Multiply" in [gate.label for gate in g.gates]
    f.backward()
    traced = {v.name: v.grad for v in g.leaves()}
    np.testing.assert_allclose(traced["x"], x.grad.numpy())  # Multiply.forward's x and y
    np.testing.assert_allclose(traced["y"], y.grad.numpy())


def test_an_unnamed_input_is_called_by_its_value_or_a_name_nobody_else_has():
    x = cr.tensor(3.0, requires_grad=True, name="x")
    g = cr.viz.trace(cr.tensor(2.0) * x)  # Mul.forward(ctx, x, y): the constant is its x
    assert [v.name for v in g.leaves()] == ["2", "x"]
    v = cr.tensor([1.0, -2.0, 3.0, -1.0], requires_grad=True, name="x")
    g = cr.viz.trace((v.relu() * cr.tensor([4.0, -1.0, 5.0, 9.0])).sum())
    assert [v.name for v in g.leaves()] == ["x", "[4, -1, 5, 9]"]
    nodes, _ = parse_dot(g.to_dot())
    assert "[4, -1, 5, 9] (4,)" in nodes.values()
    big = cr.tensor(np.arange(6.0).reshape(2, 3))  # too large to be called by its values
    g = cr.viz.trace((cr.tensor(np.ones((2, 3)), requires_grad=True, name="x") * big).sum())
    assert [v.name for v in g.leaves()] == ["x", "y"]
    a = cr.tensor(2.0, requires_grad=True, name="y")
    b = cr.tensor(3.0, requires_grad=True)
    g = cr.viz.trace(a * b)  # b is Mul's y, but that name is a's
    assert [v.name for v in g.leaves()] == ["y", "y#2"]
    assert "y#2 = 3" in str(cr.viz.explain(g))


def test_a_small_network_traces_to_the_engines_gradients_and_collapses_by_layer():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2))
    x = cr.randn(4, 2)
    loss = nn.functional.cross_entropy(model(x), cr.tensor([0, 1, 1, 0]))
    g = cr.viz.trace(loss, module=model)
    loss.backward()
    for v in g.leaves():
        if v.requires_grad:
            np.testing.assert_allclose(
                v.grad, dict(model.named_parameters())[v.name].grad.detach().numpy()
            )
    nodes, _ = parse_dot(g.to_dot(collapse=True))
    labels = list(nodes.values())
    assert sum("Linear" in label for label in labels) == 2
    assert not any("0.weight" in label for label in labels) and "relu" in labels
    nodes, _ = parse_dot(g.to_dot(collapse=False))
    assert {"0.weight (3, 2)", "2.bias (2,)"} <= set(nodes.values())


def test_a_layer_s_box_shows_the_gradients_of_the_parameters_it_hides():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2))
    loss = nn.functional.cross_entropy(model(cr.randn(4, 2)), cr.tensor([0, 1, 1, 0]))
    dot = cr.viz.draw_graph(loss, module=model, format="dot")
    loss.backward()
    box = re.search(r"^\s+m1 \[label=<(.*?)>, shape=box", dot, re.M).group(1)
    for name in ("weight", "bias"):
        grad = getattr(model[2], name).grad.numpy()
        rows = G.summary_lines(grad)[1:]  # the rows of dL/dW, in red under its name
        assert f'<FONT COLOR="{G.GRAD_COLOR}">{"<BR/>".join(rows)}</FONT>' in box, name
    unasked = cr.viz.draw_graph(
        model(cr.randn(4, 2)).sum(), module=model, grads=False, format="dot"
    )
    assert G.GRAD_COLOR not in unasked


def test_the_l2_penalty_of_a_whole_model_is_drawn_outside_every_layer():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2))
    data = nn.functional.cross_entropy(model(cr.randn(4, 2)), cr.tensor([0, 1, 1, 0]))
    loss = data + 0.01 * nn.l2_penalty(model)
    nodes, edges = parse_dot(cr.viz.draw_graph(loss, module=model, format="dot"))
    layer0 = next(label for label in nodes.values() if label.startswith("0 Linear"))
    layer2 = next(label for label in nodes.values() if label.startswith("2 Linear"))
    pairs = {(src, dst) for src, dst, *_ in edges}
    # each weight goes into its own layer and into the penalty, never into another layer
    assert ("2.weight (2, 3)", layer2) in pairs and ("2.weight (2, 3)", layer0) not in pairs
    assert ("2.weight (2, 3)", "sum of squares") in pairs
    assert ("0.weight (3, 2)", layer0) in pairs and ("0.weight (3, 2)", "sum of squares") in pairs
    assert (layer0, "*0.01") not in pairs and ("sum of squares", "*0.01") in pairs


def test_a_hand_written_penalty_is_drawn_outside_the_layers_too():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2))
    data = nn.functional.cross_entropy(model(cr.randn(4, 2)), cr.tensor([0, 1, 1, 0]))
    loss = data + 0.01 * ((model[0].weight ** 2).sum() + (model[2].weight ** 2).sum())
    g = cr.viz.trace(loss, module=model)
    assert [gate.module for gate in g.gates if gate.label == "**2"] == [None, None]
    nodes, edges = parse_dot(g.to_dot())
    layers = {label for label in nodes.values() if "Linear" in label}
    pairs = {(src, dst) for src, dst, *_ in edges}
    assert ("0.weight (3, 2)", "**2") in pairs and ("2.weight (2, 3)", "**2") in pairs
    # each layer has one wire out, into the next step of the forward pass, none into the penalty
    assert sorted(dst for src, dst in pairs if src in layers) == ["cross_entropy", "relu"]


def test_a_layer_of_several_gates_becomes_one_box():
    class Affine(nn.Module):
        def __init__(self):
            super().__init__()
            self.W = nn.Parameter(cr.ones(3, 2))
            self.b = nn.Parameter(cr.zeros(2))

        def forward(self, x):
            return x @ self.W + self.b

    layer = Affine()
    out = layer(cr.ones(4, 3)).relu().sum()
    nodes, edges = parse_dot(cr.viz.draw_graph(out, module=layer, format="dot"))
    assert "matmul" not in nodes.values() and "+" not in nodes.values()
    box = [label for label in nodes.values() if "Affine" in label]
    assert box == ["model Affine W (3, 2) [4, 4] [4, 4] [4, 4] b (2,) [4, 4]"]  # and dL/dW, dL/db
    assert [(e[0], e[1]) for e in edges if e[1] == "relu"] == [(box[0], "relu")]


def test_a_tensor_output_needs_grad_output_for_gradients():
    x = cr.tensor([1.0, -2.0, 3.0, -1.0], requires_grad=True, name="x")
    dot = cr.viz.draw_graph(x.relu(), format="dot")
    assert "gradients not shown" in dot and "grad_output" in dot
    dot = cr.viz.draw_graph(x.relu(), grad_output=[4.0, -1.0, 5.0, 9.0], format="dot")
    assert ">[4, 0, 5, 0]<" in html.unescape(dot)
    with pytest.raises(ValueError, match=r"grad_output must have the output's shape \(4,\)"):
        cr.viz.trace(x.relu(), grad_output=[1.0, 2.0])


def test_a_long_chain_traces_without_recursion():
    x = cr.tensor(0.0, requires_grad=True)
    y = x
    for _ in range(3000):
        y = y + 1
    g = cr.viz.trace(y)
    assert len(g.gates) == 3000 and float(g.leaves()[0].grad) == 1


def test_bad_arguments_are_refused():
    f, _ = neuron()
    with pytest.raises(TypeError, match="expected the Tensor"):
        cr.viz.draw_graph(0.5)
    with pytest.raises(ValueError, match="format must be one of"):
        cr.viz.draw_graph(f, format="jpeg")
    with pytest.raises(ValueError, match="cannot tell the format"):
        cr.viz.draw_graph(f, path="graph.bmp")
    with pytest.raises(TypeError, match="cr.nn.Module"):
        cr.viz.trace(f, module=object())
    leaf = cr.tensor(1.0, name="a")
    assert parse_dot(cr.viz.draw_graph(leaf, format="dot"))[0] == {"v0": "a"}


# ----- rendering with Graphviz -----
@needs_dot
def test_svg_renders_with_the_values_and_gradients(tmp_path):
    f, _ = neuron()
    path = tmp_path / "neuron.svg"
    svg = cr.viz.draw_graph(f, path=path)
    assert path.read_text() == svg and "<svg" in svg
    w, h = (
        float(v) for v in re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', svg).groups()
    )
    assert w > 2 * h > 100  # left to right
    texts = [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]
    for word in ("w0", "x0", "w1", "x1", "w2", "exp", "1/x", "+1", "*(-1)", "0.7311", "1.368"):
        assert word in texts
    grads = {
        float(html.unescape(t))
        for t in re.findall(rf'<text[^>]*fill="{G.GRAD_COLOR}"[^>]*>([^<]*)</text>', svg)
        if re.fullmatch(r"-?[\d.]+", html.unescape(t))
    }
    assert grads == {-0.1966, 0.3932, -0.3932, -0.5898, 0.1966, -0.5344, 1.0}


@needs_dot
def test_png_and_pdf_render(tmp_path):
    f, _ = neuron()
    png = cr.viz.draw_graph(f, path=tmp_path / "neuron.png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / "neuron.png").read_bytes() == png
    width, height = struct.unpack(">II", png[16:24])
    assert width > 2 * height > 100
    pdf = cr.viz.draw_graph(f, format="pdf")
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000


@needs_dot
def test_notebooks_get_svg():
    f, _ = neuron()
    svg = cr.viz.trace(f)._repr_svg_()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "0.7311" in svg
    assert "<svg" in G.repr_svg(f)
    assert G.repr_svg(cr.tensor(1.0)) is None  # a leaf shows its text repr


def test_a_missing_dot_says_how_to_install_it(tmp_path, monkeypatch, caplog):
    f, _ = neuron()
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot on this PATH
    with pytest.raises(G.GraphvizNotFoundError, match=r"apt-get install graphviz.*format=\"dot\""):
        cr.viz.draw_graph(f, format="svg")
    assert "digraph" in cr.viz.draw_graph(f, format="dot")  # DOT text needs no Graphviz
    assert cr.viz.trace(f)._repr_svg_() is None
    assert "cannot show the graph" in caplog.text


def test_a_missing_graphviz_package_says_how_to_install_it(monkeypatch):
    f, _ = neuron()
    monkeypatch.setitem(__import__("sys").modules, "graphviz", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install"):
        cr.viz.draw_graph(f, format="png")


@needs_dot
def test_a_tensor_shows_its_graph_inline_in_jupyter():
    w = cr.tensor(2.0, requires_grad=True, name="w0")
    x = cr.tensor(-1.0, name="x0")
    f = cr.sigmoid(w * x)
    svg = f._repr_svg_()
    assert svg.lstrip().startswith("<?xml") or "<svg" in svg
    assert "w0" in svg and "sigmoid" in svg
    assert w._repr_svg_() is None  # a leaf has no graph: Jupyter falls back to the text repr


# ----- layout (issue 17, item 5) -----
def _svg_layout(svg):
    """Texts as (x, y, text, fill) and edges as (title, [(x, y) points]) of a rendered drawing."""
    svg = html.unescape(svg)
    texts = [
        (float(x), float(y), t, fill)
        for x, y, fill, t in re.findall(
            r'<text[^>]*? x="([-\d.]+)" y="([-\d.]+)"[^>]*?fill="([^"]+)"[^>]*>([^<]*)</text>', svg
        )
    ]
    groups = re.findall(r'<g id="(?:node|edge)\d+" class="(node|edge)">\s*<title>([^<]*)</title>'
                        r"(.*?)</g>", svg, re.S)  # fmt: skip
    nodes = {title: body for kind, title, body in groups if kind == "node"}
    edges = []
    for kind, title, body in groups:
        if kind == "edge":
            d = re.search(r' d="([^"]+)"', body).group(1)
            pts = [(float(a), float(b)) for a, b in re.findall(r"([-\d.]+),([-\d.]+)", d)]
            edges.append((title, pts))
    return texts, nodes, edges


@needs_dot
def test_inputs_come_in_the_order_of_the_expression():
    f, _ = neuron()
    texts, _, _ = _svg_layout(cr.viz.draw_graph(f, format="svg"))
    y = {t: ty for _, ty, t, _ in texts if t in ("w0", "x0", "w1", "x1")}
    assert sorted(y, key=y.get) == ["w0", "x0", "w1", "x1"]  # top to bottom, as written


@needs_dot
@pytest.mark.parametrize(
    "text",
    [
        "1/(1+exp(-(w0*x0+w1*x1+w2)))",  # w2 came out between w1 and x1
        "s0 = w0*x0; s1 = w1*x1; s2 = s0 + s1; s3 = s2 + w2; L = sigmoid(s3)",
        "a*(b+c*d)",  # the gates run c*d first
        "a/b - c*a",
        "w2 + w1*x1 + w0*x0",
    ],
)
def test_the_inputs_stand_in_one_column_as_the_expression_names_them(text):
    from chainrule.viz.expr import parse_program

    program = parse_program(text)
    leaves = {
        n: cr.tensor(1.0 + i, dtype=cr.float64, requires_grad=True, name=n)
        for i, n in enumerate(program.names)
    }
    texts, nodes, _ = _svg_layout(cr.viz.draw_graph(program.evaluate(leaves), format="svg"))
    where = {}
    for title, body in nodes.items():
        m = re.search(r' x="([-\d.]+)" y="([-\d.]+)"[^>]*>([^<]+)</text>', html.unescape(body))
        if re.fullmatch(r"v\d+", title) and m:
            where[m.group(3)] = (float(m.group(1)), float(m.group(2)))
    assert sorted(where, key=lambda n: where[n][1]) == list(program.names)  # top to bottom
    xs = [x for x, _ in where.values()]
    assert max(xs) - min(xs) < 10  # one column, as on the slides (a gate stands ~80 further)


@needs_dot
def test_every_value_sits_above_its_own_line_and_its_gradient_below():
    f, _ = neuron()
    texts, nodes, edges = _svg_layout(cr.viz.draw_graph(f, format="svg"))
    checked = 0
    for title, pts in edges:
        m = re.fullmatch(r"(\w+)->(l\d+)(?::m)?:w", title)
        if not m:
            continue
        end_x, end_y = pts[-1]  # where the wire meets its label node
        body = nodes[m.group(2)]
        inside = [
            (float(x), float(y), fill)
            for x, y, fill in re.findall(r' x="([-\d.]+)" y="([-\d.]+)"[^>]*?fill="([^"]+)"', body)
        ]
        value = [y for x, y, fill in inside if fill == G.VALUE_COLOR]
        grad = [y for x, y, fill in inside if fill == G.GRAD_COLOR]
        assert value and grad, title
        # SVG's y grows downwards; a text's y is its baseline
        assert end_y - 20 < max(value) < end_y, (title, value, end_y)
        assert end_y < min(grad) < end_y + 20, (title, grad, end_y)
        xs = [x for x, _, _ in inside]
        assert min(xs) > end_x  # the numbers sit on the line after the wire reaches them
        checked += 1
    assert checked == 13  # the neuron's 5 inputs, 7 gates feeding the next, and the output


def test_a_value_used_twice_shows_its_total_gradient_where_it_fans_out():
    x = cr.tensor(3.0, requires_grad=True, name="x")
    dot = cr.viz.draw_graph(x * x + x, format="dot")
    _, edges = parse_dot(dot)
    assert sorted(float(g) for src, _, _, g in edges if src == "x") == [1, 3, 3]
    labels = "\n".join(line for line in dot.splitlines() if "shape=plain" in line)
    trunks = re.findall(rf'COLOR="{G.GRAD_COLOR}"><B>([^<]*)</B>', labels)
    assert trunks == ["7"]  # the copy gate's sum, in bold, before the branches
    assert "used more than once" in dot


@needs_dot
def test_pngs_are_drawn_for_slides_and_the_resolution_can_be_chosen(tmp_path):
    x = cr.tensor([1.0, -2.0, 3.0, -1.0], requires_grad=True, name="x")
    g = cr.viz.trace((x.relu() * cr.tensor([4.0, -1.0, 5.0, 9.0])).sum())
    sizes = {}
    for dpi in (None, 96, 300):
        png = cr.viz.draw_graph(g, format="png", **({} if dpi is None else {"dpi": dpi}))
        sizes[dpi] = struct.unpack(">II", png[16:24])
    assert sizes[None][0] >= 2 * sizes[96][0] - 2 and sizes[None][0] >= 1000
    assert sizes[300][0] > sizes[None][0]
    svg = cr.viz.draw_graph(g, format="svg", dpi=300)  # a vector drawing keeps its size
    assert svg == cr.viz.draw_graph(g, format="svg")
    with pytest.raises(ValueError, match="dpi must be an integer from 10 to 2400"):
        cr.viz.draw_graph(g, format="png", dpi=0)


# ----- matrices (issue 17, item 6) -----
def test_the_lectures_matrices_are_shown_in_full_row_by_row():
    x = cr.tensor([[2.0, 1, -3], [-3, 4, 2]], requires_grad=True, name="x")
    w = cr.tensor([[3.0, 2, 1, -1], [2, 1, 3, 2], [3, 2, 1, -2]], requires_grad=True, name="w")
    g = cr.viz.trace(x @ w, grad_output=[[2.0, 3, -3, 9], [-8, 1, 4, 6]])
    _, edges = parse_dot(g.to_dot())
    (from_w,) = [e for e in edges if e[0] == "w (3, 4)"]
    assert from_w[2] == "(3, 4) [3, 2, 1, -1] [2, 1, 3, 2] [3, 2, 1, -2]"
    assert from_w[3] == "[28, 3, -18, 0] [-30, 7, 13, 33] [-22, -7, 17, -15]"  # dL/dW
    dot = g.to_dot()
    assert "[28, 3, -18, 0]<BR/>[-30, 7, 13, 33]<BR/>[-22, -7, 17, -15]" in dot  # one row a line
    _, edges = parse_dot(g.to_dot(max_elements=4))  # the limit: larger ones summarised
    (from_w,) = [e for e in edges if e[0] == "w (3, 4)"]
    assert from_w[3] == "min -30 mean 0.75 max 33"
    text = str(cr.viz.explain(g))
    assert "downstream (3, 4) [[28, 3, -18, 0], [-30, 7, 13, 33], [-22, -7, 17, -15]]" in text
    assert "min -30 mean 0.75 max 33" in str(cr.viz.explain(g, max_elements=4))
    with pytest.raises(ValueError, match="max_elements"):
        cr.viz.draw_graph(g, format="dot", max_elements=-1)
