"""chainrule.viz.expr: the expression language of `chainrule graph`, parsed by hand and fuzzed."""

import ast
import inspect
import math
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
import chainrule.viz  # noqa: F401  (cr.viz)
from chainrule.viz import expr
from chainrule.viz.expr import ExpressionError, parse, parse_program, parse_value


def test_the_sigmoid_neuron_parses_into_the_lectures_gates():
    e = parse("1/(1+exp(-(w0*x0+w1*x1+w2)))")
    assert e.names == ("w0", "x0", "w1", "x1", "w2")
    values = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}
    leaves = {k: cr.tensor(v, dtype=cr.float64, requires_grad=True) for k, v in values.items()}
    f = e.evaluate(leaves)
    assert f.item() == pytest.approx(0.7311, abs=1e-4)
    labels = [g.label for g in cr.viz.trace(f).gates]
    assert labels == ["*", "*", "+", "+", "*(-1)", "exp", "+1", "1/x"]


@pytest.mark.parametrize(
    "text, value",
    [
        ("2+3*4", 14),
        ("(2+3)*4", 20),
        ("-2**2", -4),
        ("2**-1", 0.5),
        ("2**3**2", 512),
        ("10/4-1", 1.5),
        ("1e-3*1000", 1),
        ("+.5", 0.5),
        ("max(0, -3)", 0),
        ("min(2, 3)", 2),
        ("exp(0) + log(1)", 1),
        ("sqrt(16) * abs(-2)", 8),
        ("sigmoid(0)", 0.5),
        ("relu(-1) + tanh(0)", 0),
        ("2*pi", 2 * math.pi),
        ("sum([1, 2, 3])", 6),
        ("mean([1, 2, 3,])", 2),
        ("max([1, 5, 2])", 5),
        ("sum([[1, 2], [3, 4]], 0) @ [1, 1]", 10),
        ("logsumexp([0, 0])", math.log(2)),
        ("sum(softmax([1, 2, 3]))", 1),
        ("1/0", math.inf),
    ],
)
def test_arithmetic_follows_pythons_precedence(text, value):
    got = parse(text).evaluate()
    got = got.item() if isinstance(got, cr.Tensor) else got
    assert got == pytest.approx(value)


def test_lists_are_small_tensors_and_variables_take_tensors():
    x = cr.tensor([[2.0, 1, -3], [-3, 4, 2]], dtype=cr.float64, requires_grad=True)
    y = parse("x @ [[3, 2, 1, -1], [2, 1, 3, 2], [3, 2, 1, -2]]").evaluate({"x": x})
    np.testing.assert_allclose(y.detach().numpy(), [[-1, -1, 2, 6], [5, 2, 11, 7]])
    assert y.requires_grad
    z = parse("[x0, 2*x0]").evaluate({"x0": cr.tensor(3.0, requires_grad=True)})
    assert z.tolist() == [3, 6] and z.requires_grad
    np.testing.assert_array_equal(parse_value("[[1, 2], [3, 4]]"), [[1, 2], [3, 4]])
    assert parse_value("-1.5") == -1.5 and parse_value("2*pi") == pytest.approx(2 * math.pi)


@pytest.mark.parametrize(
    "text, message",
    [
        ("x.__class__", "attribute access"),
        ("x.y", "attribute access"),
        ("__import__('os')", "starts with '_'"),
        ("_secret", "starts with '_'"),
        ("import os", "Python keyword"),
        ("lambda: 0", "Python keyword"),
        ("1 if x else 2", "Python keyword"),
        ("foo(x)", "unknown function 'foo'"),
        ("eval(x)", "unknown function 'eval'"),
        ("getattr(x, y)", "unknown function 'getattr'"),
        ("exp", "is a function"),
        ("exp(1, 2)", "takes 1 argument; got 2"),
        ("matmul(x)", "takes 2 arguments; got 1"),
        ("x[0]", "indexing"),
        ("(x)(1)", "a call of this value"),
        ("'a'", "strings"),
        ("x^2", "x**2"),
        ("x = 1", "cannot assign"),
        ("x; y", "one expression"),
        ("σ(x)", "unexpected character 'σ'"),
        ("", "empty"),
        ("   ", "empty"),
        ("(1 + 2", "to close the '(' at position 0"),
        ("[1, 2", "to close the '[' at position 0"),
        ("1 2", "put an operator"),
        ("exp(x,)", "ends no argument"),
        ("*2", "expected a number"),
        ("(" * 100 + "1" + ")" * 100, "nests more than"),
        ("-" * 100 + "1", "nests more than"),
        ("+".join(["x"] * 300), "operations deep"),
        ("x" * 20000, "characters long"),
    ],
)
def test_anything_outside_the_grammar_is_refused_clearly(text, message):
    with pytest.raises(ExpressionError, match=re.escape(message)) as e:
        parse(text)
    assert isinstance(e.value, ValueError)


def test_positions_point_at_the_fault():
    with pytest.raises(ExpressionError) as e:
        parse("1 + x.y")
    assert e.value.position == 5


@pytest.mark.parametrize(
    "text, message",
    [
        ("x + y", "'y' at position 4 has no value.*--set y=VALUE"),
        ("[1, 2] + [1, 2, 3]", r"shapes \(2,\) and \(3,\) do not broadcast"),
        ("[1, [2]]", "could not evaluate"),
        ("[1, 2] @ [1, 2, 3]", "could not evaluate"),
        ("sum([1, 2], 5)", "out of range"),
        ("sum([1, 2], 0.5)", "whole number"),
        ("2 @ 3", "multiplies tensors"),
        ("[]", "empty"),
        ("[" + ",".join(["0"] * 1001) + "] * [" + ",".join(["[0]"] * 1000) + "]", "small tensors"),
    ],
)
def test_evaluation_errors_are_expression_errors(text, message):
    with pytest.raises(ExpressionError, match=message):
        parse(text).evaluate({"x": 1.0})


SPLIT = 1000  # a and b below: 1000 values along different axes, 10^6 together


@pytest.mark.parametrize(
    "text, size",
    [
        ("max(a, b) + c", 2 * SPLIT**2),
        ("sum(max(max(a, b), c))", 2 * SPLIT**2),
        ("min(a, b + 0) * 2 - exp(c)", 2 * SPLIT**2),
        ("matmul(col, row)", 2000 * 2000),
        ("col @ row", 2000 * 2000),
        ("[max(a, b), max(a, b)]", 2 * SPLIT**2),
        ("[a * b, 1, 2, 3]", 4 * SPLIT**2),
    ],
)
def test_every_result_is_sized_before_it_is_computed(text, size):
    values = {
        "a": np.ones(SPLIT),
        "b": np.ones((SPLIT, 1)),
        "c": np.ones((2, 1, 1)),
        "col": np.ones((2000, 1)),
        "row": np.ones((1, 2000)),
    }
    with pytest.raises(ExpressionError, match=f"would make a tensor of {size} values"):
        parse(text).evaluate(values)


def test_no_function_returns_more_than_its_arguments_broadcast_together():
    """The evaluator's size check relies on it; matmul, the exception, is checked apart."""
    x, y = cr.ones(2, 3, dtype=cr.float64), cr.ones(4, 1, 3, dtype=cr.float64)
    second = {"max": y, "min": y, "sum": 1.0, "mean": 1.0, "logsumexp": 1.0, "softmax": 1.0}
    second.update(log_softmax=1.0, leaky_relu=0.1, elu=1.0)
    tried = set()
    for name, (lo, hi, fn, _) in expr.FUNCTIONS.items():
        if name == "matmul":
            continue
        for n in range(lo, hi + 1):
            args = [x, second.get(name)][:n]
            bound = math.prod(
                np.broadcast_shapes(*(np.shape(getattr(a, "_data", a)) for a in args))
            )
            assert fn(*args).numel() <= bound, name
            tried.add(name)
    assert tried == set(expr.FUNCTIONS) - {"matmul"}


@pytest.mark.parametrize("text", ["matmul(x, 2)", "matmul(2, x)", "x @ 2", "2 @ x"])
def test_a_matrix_product_with_a_number_is_refused_clearly(text):
    with pytest.raises(ExpressionError, match=r"multiplies tensors .* operand is the number 2"):
        parse(text).evaluate({"x": cr.ones(2)})


def test_set_values_must_be_constants():
    with pytest.raises(ExpressionError, match="constant"):
        parse_value("x")


def test_the_module_never_calls_eval_exec_or_compile():
    tree = ast.parse(inspect.getsource(expr))
    called = {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert not called & {"eval", "exec", "compile", "__import__", "getattr", "globals"}


# ----- fuzzing: anything either parses or raises ExpressionError, never anything else -----
TOKENS = [
    "x", "y", "w0", "pi", "e", "1", "0", "2.5", "1e3", ".5", "-", "+", "*", "/", "**", "@", "(",
    ")", "[", "]", ",", "exp", "log", "sqrt", "sum", "max", "min", "softmax", "matmul", "relu",
    "sigmoid", "mean", "__class__", ".", "import", "lambda", "foo", "'s'", "=", ";", "^", "σ",
    "\\", "#", ":", "{", "}", "%", "!", "0x1F", "1_000", "nan", "inf",
]  # fmt: skip
VALUES = {
    "x": cr.tensor(0.5, dtype=cr.float64, requires_grad=True),
    "y": cr.tensor([1.0, -2.0, 3.0], dtype=cr.float64, requires_grad=True),
    "w0": cr.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=cr.float64, requires_grad=True),
    "foo": 2.0,
    "nan": float("nan"),
    "inf": float("inf"),
}


def parse_and_evaluate(text):
    try:
        e = parse(text)
    except ExpressionError:
        return
    values = {n: VALUES.get(n, 1.0) for n in e.names}
    try:
        out = e.evaluate(values)
    except ExpressionError:
        return
    assert isinstance(out, (cr.Tensor, float))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), max_size=25).map(" ".join))
def test_fuzz_token_soup(text):
    parse_and_evaluate(text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=30))
def test_fuzz_any_text(text):
    parse_and_evaluate(text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="xy0123456789.e+-*/@()[],_ ", max_size=40))
def test_fuzz_near_misses(text):
    parse_and_evaluate(text)


def parse_and_evaluate_program(text):
    try:
        p = parse_program(text)
    except ExpressionError:
        return
    values = {n: VALUES.get(n, 1.0) for n in p.names if n not in p.assigned}
    try:
        out = p.evaluate(values)
    except ExpressionError:
        return
    assert isinstance(out, (cr.Tensor, float))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from([*TOKENS, "q", "=", ";", "\n", "q ="]), max_size=25).map(" ".join))
def test_fuzz_programs(text):
    parse_and_evaluate_program(text)


def test_a_program_names_what_it_assigns():
    p = parse_program("q = x + y\nf = q * z;")
    assert p.names == ("x", "y", "z") and p.assigned == ("q", "f")
    x = cr.tensor(1.0, requires_grad=True, name="x")
    f = p.evaluate({"x": x, "y": 2.0, "z": 3.0})
    assert f.name == "f" and f.item() == 9 and x.name == "x"
    assert parse_program("y = x; y * 2").evaluate({"x": x}).item() == 2 and x.name == "x"
    for text, message in [
        ("x + 1; y", "nobody uses"),
        ("exp = 1; exp", "is a function"),
        ("q = ; 1", "expected an expression at position 4"),
        ("q = 1 = 2", "only a name can be assigned"),
        (";", "empty"),
    ]:
        with pytest.raises(ExpressionError, match=re.escape(message)):
            parse_program(text)
