"""``chainrule graph EXPR``: the computational graph of an expression, drawn and explained.

The expression language has numbers, names, + - * / ** @, parentheses, [lists] for small tensors
and the functions exp, log, sqrt, abs, tanh, sigmoid, relu, sum, mean, max, min, softmax, ... It
is parsed by hand, never by Python's eval. Every name gets its value from --set and becomes a
leaf that requires grad (float64), so the output's gradient reaches each of them. Statements
separated by ; name intermediates as the slides do ("q = x + y; f = q * z"): the drawing and
the explanation call them by those names.
"""

from __future__ import annotations

import argparse
import sys

from ._common import fail

EXAMPLES = """examples:
  chainrule graph "1/(1+exp(-(w0*x0+w1*x1+w2)))" --set w0=2 x0=-1 w1=-3 x1=-2 w2=-3 \\
      --out neuron.svg --explain
  chainrule graph "q = x + y; f = q * z" --set x=-2 y=5 z=-4 --explain --markdown
  chainrule graph "-log(p)" --set p=0.13 --explain
  chainrule graph "sum(relu(x) * [4, -1, 5, 9])" --set x=[1,-2,3,-1] --out relu.png --dpi 300
  chainrule graph "sum((x @ w) * g)" --set x=[[2,1,-3],[-3,4,2]] \\
      w=[[3,2,1,-1],[2,1,3,2],[3,2,1,-2]] g=[[2,3,-3,9],[-8,1,4,6]] --explain
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "graph",
        help="draw an expression's computational graph and explain its backward pass",
        description=__doc__,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "expression",
        metavar="EXPR",
        nargs="?",  # missing: run() says so, and where it went
        help='the expression, e.g. "(x+y)*z", or statements naming intermediates, '
        '"q = x + y; f = q * z"',
    )
    p.add_argument(
        "--set",
        dest="assignments",
        metavar="NAME=VALUE",
        nargs="+",
        action="extend",
        default=[],
        help="values of the names: numbers (x=-1.5) or lists (x=[1,2,3], w=[[1,2],[3,4]])",
    )
    p.add_argument(
        "--out",
        metavar="FILE",
        help="write the drawing; the format follows the suffix (.svg, .png, .pdf, .dot)",
    )
    p.add_argument(
        "--format",
        choices=("svg", "png", "pdf", "dot"),
        help="the drawing's format, when the suffix of --out does not say",
    )
    p.add_argument("--explain", action="store_true", help="print every step of backpropagation")
    p.add_argument("--markdown", action="store_true", help="print the explanation as Markdown")
    p.add_argument("--no-values", action="store_true", help="leave forward values off the drawing")
    p.add_argument("--no-grads", action="store_true", help="leave gradients off the drawing")
    p.add_argument(
        "--digits", type=int, default=4, help="significant digits of the numbers (default 4)"
    )
    p.add_argument(
        "--max-elements",
        type=int,
        default=16,
        metavar="N",
        help="show tensors of at most N values in full, a matrix row by row; larger ones as "
        "min/mean/max (default 16: the lecture's 3x4 matrices)",
    )
    p.add_argument(
        "--dpi", type=int, default=192, help="a PNG's resolution (default 192: sharp on a slide)"
    )
    p.set_defaults(run_command=run)


def prepare_argv(argv: list[str]) -> list[str]:
    """Keep an expression that starts with a minus (``"-log(p)"``) from being read as an option.

    argparse takes any argument that starts with ``-`` (other than a negative number) for an
    option; this one's options are all long but ``-h``, so any other word of ``chainrule
    graph`` that starts with a single ``-`` is the expression, and a space in front keeps it so
    (the language ignores spaces); it is moved first, so ``--set p=0.13 "-log(p)"`` works too.
    The usual ``--`` works as well: the word after it is the expression, and options may follow
    it (``graph -- "-log(p)" --set p=0.13``).
    """
    if not argv or argv[0] != "graph":
        return argv
    out = list(argv)
    for i in range(1, len(out)):
        word = out[i]
        if word == "--":  # graph -- "-log(p)" --set p=0.13: -- marks the expression alone
            return out[:i] + out[i + 2 :] + out[i : i + 2]
        if out[i - 1] in _TAKES_A_VALUE:  # --out -x.svg: that is the option's value
            continue
        if word.startswith("-") and not word.startswith("--") and word != "-h":
            # first, where no --set list can take it for one of its values
            return [out[0], " " + word, *out[1:i], *out[i + 1 :]]
    return out


_TAKES_A_VALUE = ("--out", "--format", "--digits", "--max-elements", "--dpi")


def run(args: argparse.Namespace) -> int:
    import chainrule as cr

    from ..viz.explain import explain
    from ..viz.expr import ExpressionError, parse, parse_program, parse_value
    from ..viz.graph import GraphvizNotFoundError, draw_graph, summary
    from ..viz.snapshot import trace

    if not 1 <= args.digits <= 17:
        return fail("graph", f"--digits must be from 1 to 17; got {args.digits}")
    if args.max_elements < 0:
        return fail("graph", f"--max-elements must be 0 or more; got {args.max_elements}")
    if not 10 <= args.dpi <= 2400:
        return fail("graph", f"--dpi must be from 10 to 2400; got {args.dpi}")
    n = args.max_elements
    if args.expression is None:
        stray = [item for item in args.assignments if "=" not in item]
        return fail(
            "graph",
            'expected an expression, as in: chainrule graph "(x+y)*z" --set x=-2 y=5 z=-4'
            + (f"; {stray[0]!r} came after --set, which took it for a value" if stray else ""),
        )
    text = args.expression.lstrip()
    try:
        expr = parse_program(text)
    except ExpressionError as e:
        shown = text.replace("\n", " ")
        return fail("graph", f"{e}\n  {shown}\n  {' ' * (e.position or 0)}^")
    leaves = {}
    for item in args.assignments:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            return fail(
                "graph",
                f"--set expects NAME=VALUE; got {item!r} (put the expression before --set)",
            )
        try:
            if parse(name).names != (name,):
                raise ExpressionError(f"{name!r} is not a name")
            value = parse_value(text)
        except ExpressionError as e:
            return fail("graph", f"--set {item}: {e}")
        leaves[name] = cr.tensor(value, dtype=cr.float64, requires_grad=True, name=name)
    try:
        result = expr.evaluate(leaves)
    except ExpressionError as e:
        return fail("graph", str(e))
    unused = [n for n in leaves if n not in expr.names]
    if unused:
        print(f"note: {', '.join(unused)} set but not used", file=sys.stderr)
    if not isinstance(result, cr.Tensor) or not result.requires_grad:
        print(f"f = {summary(getattr(result, '_data', result), args.digits, n)}")
        if args.out or args.explain:
            return fail(
                "graph",
                "the expression uses no name given with --set, so there is no graph to draw or "
                "explain; write it in names and give them values, e.g. x*y --set x=2 y=3",
            )
        return 0
    out = result.name if result.grad_fn is not None and result.name is not None else "f"
    graph = trace(result)
    for v in graph.values:  # the intermediates the program named, as the forward pass met them
        if v.kind == "gate" and v.name in expr.assigned and v.name != out:
            print(f"{v.name} = {summary(v.data, args.digits, n)}")
    print(f"{out} = {summary(result._data, args.digits, n)}")
    if graph.has_grads:
        for v in graph.leaves():
            if v.requires_grad and v.name in leaves:
                grad = summary(v.grad, args.digits, n) if v.grad is not None else "none"
                print(f"d{out}/d{v.name} = {grad}")
    else:
        print(graph.note)
    if args.out:
        try:
            data = draw_graph(
                graph,
                values=not args.no_values,
                grads=not args.no_grads,
                format=args.format,
                path=args.out,
                digits=args.digits,
                max_elements=n,
                dpi=args.dpi,
            )
        except (GraphvizNotFoundError, ModuleNotFoundError, ValueError, OSError) as e:
            return fail("graph", str(e))
        print(
            f"wrote {args.out} ({len(data)} {'characters' if isinstance(data, str) else 'bytes'})"
        )
    if args.explain or args.markdown:
        try:
            text = explain(graph, digits=args.digits, max_elements=n)
        except ValueError as e:
            return fail("graph", str(e))
        print()
        print(text.to_markdown() if args.markdown else text)
    return 0
