"""A small expression language for scalars and small tensors, parsed by hand (never ``eval``).

It is what ``chainrule graph "1/(1+exp(-(w0*x0+w1*x1+w2)))"`` reads. The grammar, with Python's
precedence::

    expr    = term (("+" | "-") term)*
    term    = unary (("*" | "/" | "@") unary)*
    unary   = ("-" | "+") unary | power
    power   = primary ("**" unary)?                  right-associative: 2**-1, x**2**3
    primary = NUMBER | NAME | FUNCTION "(" [expr ("," expr)*] ")" | "(" expr ")"
            | "[" [expr ("," expr)* [","]] "]"       a list literal: a small tensor

A program (``parse_program``, what ``chainrule graph`` reads) is statements separated by ``;``
or new lines, each ``NAME = expr`` but the last, which may also be a bare expression::

    program = (NAME "=" expr (";" | NEWLINE))* [NAME "="] expr

so the slides' intermediates have names: ``q = x + y; f = q * z``. A name assigned is that
intermediate tensor's ``name`` (drawings and ``explain`` show it); a name used before it is
assigned is a variable.

Names are variables, given values when the expression is evaluated; the functions are a fixed
list (``FUNCTIONS``) of chainrule's operations. Anything else (attribute access, indexing,
keywords, names that start with ``_``, calls of other functions, strings) is refused with an
``ExpressionError`` that says where and why. Nesting, length and the size of the tensors the
expression builds are bounded, so no input makes the parser or the evaluation run away: the
size of every result (an operator's broadcast shape, a matrix product's shape and work, a
function's, a list's) is checked before it is computed.

Example:
    >>> e = parse("1/(1+exp(-(w*x)))")
    >>> sorted(e.names)
    ['w', 'x']
    >>> e.evaluate({"w": cr.tensor(2.0, requires_grad=True), "x": -1.0})
    tensor(0.1192, dtype=float32, grad_fn=<DivBackward>)
"""

from __future__ import annotations

import keyword
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import ops
from ..autograd.tensor import Tensor
from ..ops._registry import expressions

MAX_LENGTH = 10_000  # characters
MAX_DEPTH = 60  # nesting of parentheses, calls, lists, unary signs and powers
MAX_TREE_DEPTH = 250  # operations applied one to the result of the next (x+x+...+x)
MAX_ELEMENTS = 1_000_000  # values in any tensor the expression builds

CONSTANTS = {"pi": math.pi, "e": math.e}


class ExpressionError(ValueError):
    """An expression outside the language, or one that cannot be evaluated.

    Attributes:
        position: where in the text (0-based), or None.
    """

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position


def _dim(x: Any) -> int:
    if isinstance(x, float) and x.is_integer():
        return int(x)
    raise ExpressionError(f"a dimension must be a whole number; got {x!r}")


def _overloads(entries: list) -> tuple[int, int, Callable, str]:
    """One language function from the ops registered under its name (told apart by arity)."""
    lo = min(e.min_args for e, _ in entries)
    hi = max(e.max_args for e, _ in entries)

    def apply(*args: Any) -> Any:
        for e, fn in entries:
            if e.min_args <= len(args) <= e.max_args:
                return fn(*[_dim(a) if i in e.dims else a for i, a in enumerate(args)])
        raise ExpressionError(f"no {entries[0][0].name} takes {len(args)} arguments")

    apply.__name__ = entries[0][0].name
    return lo, hi, apply, "; ".join(e.doc for e, _ in entries)


# name -> (fewest arguments, most arguments, function, what it does), derived from the ops that
# name themselves in the language (``Expression`` in ops/_registry.py). A function's result is
# never larger than its arguments broadcast together (the evaluator checks that size before
# calling it, and tests/viz hold every function to it); matmul, the exception, has its own check.
FUNCTIONS: dict[str, tuple[int, int, Callable, str]] = {
    name: _overloads(sorted(entries, key=lambda e: e[0].min_args))
    for name, entries in sorted(expressions().items())
}

_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<number>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|[-+*/@(),\[\]])"
)
_STATEMENT = re.compile(r"[ \t\r\f\v]+|(?P<op>[=;\n])")  # a program's extra tokens

_HINTS = {
    ".": "attribute access ('.') is not part of the expression language (write numbers as 0.5)",
    "^": "write powers as x**2",
    "=": "the expression cannot assign; give values with --set NAME=VALUE (a program, as "
    "chainrule graph reads, names intermediates: q = x + y; f = q * z)",
    "'": "strings are not part of the expression language",
    '"': "strings are not part of the expression language",
    ";": "write one expression (a program, as chainrule graph reads, has statements: "
    "q = x + y; f = q * z)",
    ":": "slices and lambdas are not part of the expression language",
}

_HELP = (
    "the language has numbers, names, + - * / ** @, parentheses, [lists], commas and the "
    "functions " + ", ".join(FUNCTIONS)
)


@dataclass(frozen=True)
class Token:
    kind: str  # "number", "name", "op" or "end"
    text: str
    pos: int


def tokenize(text: str, program: bool = False) -> list[Token]:
    """Split ``text`` into tokens; any character outside the language raises ExpressionError.

    With ``program``, ``=``, ``;`` and new lines are tokens too (a program's statements)."""
    if not isinstance(text, str):
        raise ExpressionError(f"an expression must be a string; got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"the expression is {len(text)} characters long; at most {MAX_LENGTH} are allowed"
        )
    tokens, pos = [], 0
    while pos < len(text):
        if program:
            m = _STATEMENT.match(text, pos)
            if m is not None:
                if m.lastgroup == "op":
                    tokens.append(Token("op", ";" if m.group() == "\n" else m.group(), pos))
                pos = m.end()
                continue
        m = _TOKEN.match(text, pos)
        if m is None:
            ch = text[pos]
            hint = _HINTS.get(ch, _HELP)
            raise ExpressionError(f"unexpected character {ch!r} at position {pos}: {hint}", pos)
        kind = m.lastgroup
        if kind != "space":
            word = m.group()
            if kind == "name":
                _check_name(word, pos)
            tokens.append(Token(kind, word, pos))
        pos = m.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def _check_name(word: str, pos: int) -> None:
    if word.startswith("_"):
        raise ExpressionError(
            f"the name {word!r} at position {pos} starts with '_': such names (like the dunder "
            "names __import__ or __class__) are not allowed",
            pos,
        )
    if keyword.iskeyword(word) or keyword.issoftkeyword(word):
        raise ExpressionError(
            f"{word!r} at position {pos} is a Python keyword, not part of the expression language",
            pos,
        )


# ----- the syntax tree -----
@dataclass(frozen=True)
class Num:
    value: float
    pos: int


@dataclass(frozen=True)
class Name:
    id: str
    pos: int


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple
    pos: int


@dataclass(frozen=True)
class Unary:
    op: str
    operand: Any
    pos: int


@dataclass(frozen=True)
class Binary:
    op: str
    left: Any
    right: Any
    pos: int


@dataclass(frozen=True)
class List:
    items: tuple
    pos: int
    text: str  # the literal as written, to name the constant in drawings


class _Parser:
    """Recursive descent over the tokens; ``depth`` bounds the nesting (and so the recursion)."""

    def __init__(self, text: str, program: bool = False) -> None:
        self.text = text
        self.tokens = tokenize(text, program)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def expect(self, text: str, what: str) -> Token:
        t = self.tok
        if t.text != text or t.kind != "op":
            raise ExpressionError(
                f"expected {text!r} {what} at position {t.pos}; {_found(t)}", t.pos
            )
        return self.take()

    def nest(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(
                f"the expression nests more than {MAX_DEPTH} levels deep (at position {pos})", pos
            )

    def parse(self) -> Any:
        if self.tok.kind == "end":
            raise ExpressionError("the expression is empty", 0)
        node = self.expr()
        t = self.tok
        if t.kind != "end":
            raise ExpressionError(
                f"unexpected {_describe(t)} at position {t.pos} after a complete expression"
                + (": put an operator (such as *) between the two" if t.kind != "op" else ""),
                t.pos,
            )
        if _tree_depth(node) > MAX_TREE_DEPTH:
            raise ExpressionError(
                f"the expression is more than {MAX_TREE_DEPTH} operations deep; the language is "
                "for small expressions"
            )
        return node

    def program(self) -> tuple[list[tuple[Name, Any]], Any]:
        """Statements up to the end: the assignments (name, tree) and the last statement."""
        statements: list[tuple[Name | None, Any]] = []
        starts: list[int] = []
        while True:
            while self.tok.kind == "op" and self.tok.text == ";":  # empty statements
                self.take()
            if self.tok.kind == "end":
                break
            target = None
            nxt = self.tokens[self.i + 1]
            if self.tok.kind == "name" and nxt.kind == "op" and nxt.text == "=":
                t = self.take()
                if t.text in FUNCTIONS or t.text in CONSTANTS:
                    raise ExpressionError(
                        f"{t.text!r} at position {t.pos} is a "
                        + ("function" if t.text in FUNCTIONS else "constant")
                        + " of the language; assign to another name",
                        t.pos,
                    )
                target = Name(t.text, t.pos)
                self.take()
            start = self.tok
            if start.kind == "end" or (start.kind == "op" and start.text in ("=", ";")):
                raise ExpressionError(
                    f"expected an expression at position {start.pos}; {_found(start)}", start.pos
                )
            starts.append(start.pos)
            statements.append((target, self.statement_end(self.expr())))
        if not statements:
            raise ExpressionError("the expression is empty", 0)
        for (target, _), pos in zip(statements[:-1], starts):
            if target is None:
                raise ExpressionError(
                    f"the statement at position {pos} computes a value nobody uses: every "
                    "statement but the last assigns a name (q = x + y; f = q * z)",
                    pos,
                )
        *assignments, (last_target, last) = statements
        if last_target is not None:
            assignments.append((last_target, last))
            last = last_target
        return assignments, last  # type: ignore[return-value]

    def statement_end(self, tree: Any) -> Any:
        t = self.tok
        if t.kind == "end" or (t.kind == "op" and t.text == ";"):
            if _tree_depth(tree) > MAX_TREE_DEPTH:
                raise ExpressionError(
                    f"the expression is more than {MAX_TREE_DEPTH} operations deep; the "
                    "language is for small expressions"
                )
            return tree
        hint = "" if t.kind == "op" else ": put an operator (such as *) between the two"
        if t.kind == "op" and t.text == "=":
            hint = ": only a name can be assigned, at the start of a statement (q = x + y)"
        raise ExpressionError(
            f"unexpected {_describe(t)} at position {t.pos} after a complete expression{hint}",
            t.pos,
        )

    def expr(self) -> Any:
        left = self.term()
        while self.tok.kind == "op" and self.tok.text in ("+", "-"):
            t = self.take()
            left = Binary(t.text, left, self.term(), t.pos)
        return left

    def term(self) -> Any:
        left = self.unary()
        while self.tok.kind == "op" and self.tok.text in ("*", "/", "@"):
            t = self.take()
            left = Binary(t.text, left, self.unary(), t.pos)
        return left

    def unary(self) -> Any:
        t = self.tok
        if t.kind == "op" and t.text in ("-", "+"):
            self.take()
            self.nest(t.pos)
            operand = self.unary()
            self.depth -= 1
            return Unary(t.text, operand, t.pos)
        return self.power()

    def power(self) -> Any:
        base = self.primary()
        t = self.tok
        if t.kind == "op" and t.text == "**":
            self.take()
            self.nest(t.pos)
            exponent = self.unary()
            self.depth -= 1
            return Binary("**", base, exponent, t.pos)
        return base

    def primary(self) -> Any:
        t = self.take()
        if t.kind == "number":
            node: Any = Num(float(t.text), t.pos)
        elif t.kind == "name":
            node = self.name_or_call(t)
        elif t.kind == "op" and t.text == "(":
            self.nest(t.pos)
            node = self.expr()
            self.expect(")", f"to close the '(' at position {t.pos}")
            self.depth -= 1
        elif t.kind == "op" and t.text == "[":
            self.nest(t.pos)
            items = self.items("]", t)
            self.depth -= 1
            node = List(items, t.pos, self.text[t.pos : self.tokens[self.i - 1].pos + 1])
        else:
            raise ExpressionError(f"expected a number, a name, '(' or '[' at position {t.pos}; "
                                  f"{_found(t)}", t.pos)  # fmt: skip
        nxt = self.tok
        if nxt.kind == "op" and nxt.text in ("(", "["):
            what = "a call" if nxt.text == "(" else "indexing"
            raise ExpressionError(
                f"unexpected {nxt.text!r} at position {nxt.pos}: {what} of this value is not part "
                "of the expression language (only the listed functions can be called; write * "
                "to multiply)",
                nxt.pos,
            )
        return node

    def name_or_call(self, t: Token) -> Any:
        called = self.tok.kind == "op" and self.tok.text == "("
        if not called:
            if t.text in FUNCTIONS:
                raise ExpressionError(
                    f"{t.text!r} at position {t.pos} is a function: call it, as {t.text}(x)", t.pos
                )
            return Name(t.text, t.pos)
        if t.text not in FUNCTIONS:
            raise ExpressionError(
                f"unknown function {t.text!r} at position {t.pos}; the functions are "
                + ", ".join(FUNCTIONS),
                t.pos,
            )
        open_ = self.take()
        self.nest(open_.pos)
        args = self.items(")", open_)
        self.depth -= 1
        lo, hi = FUNCTIONS[t.text][:2]
        if not lo <= len(args) <= hi:
            want = str(lo) if lo == hi else f"{lo} or {hi}"
            raise ExpressionError(
                f"{t.text}() at position {t.pos} takes {want} argument{'s' if hi > 1 else ''}; "
                f"got {len(args)} ({FUNCTIONS[t.text][3]})",
                t.pos,
            )
        return Call(t.text, tuple(args), t.pos)

    def items(self, close: str, open_: Token) -> tuple:
        """Comma-separated expressions up to ``close``; a list may end with a comma."""
        items: list = []
        while not (self.tok.kind == "op" and self.tok.text == close):
            items.append(self.expr())
            if self.tok.kind == "op" and self.tok.text == ",":
                comma = self.take()
                if close == ")" and self.tok.text == ")":
                    raise ExpressionError(
                        f"a ',' at position {comma.pos} ends no argument", comma.pos
                    )
            elif not (self.tok.kind == "op" and self.tok.text == close):
                t = self.tok
                raise ExpressionError(
                    f"expected ',' or {close!r} (to close the {open_.text!r} at position "
                    f"{open_.pos}) at position {t.pos}; {_found(t)}",
                    t.pos,
                )
        self.take()
        return tuple(items)


def _children(node: Any) -> tuple:
    if isinstance(node, (Call, List)):
        return node.args if isinstance(node, Call) else node.items
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    return ()


def _tree_depth(tree: Any) -> int:
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        stack.extend((c, d + 1) for c in _children(node))
    return deepest


def _describe(t: Token) -> str:
    if t.kind == "end":
        return "the end of the expression"
    return f"{t.kind} {t.text!r}" if t.kind != "op" else repr(t.text)


def _found(t: Token) -> str:
    return f"found {_describe(t)}"


class Expression:
    """A parsed expression or program: ``names`` are its variables; ``evaluate`` computes it.

    Attributes:
        text: the source text.
        tree: the syntax tree (of a program: its last statement).
        assignments: a program's ``(name, tree)`` statements, in order (empty for an
            expression).
        names: the variable names, in order of first appearance (constants such as pi excluded
            unless the expression gives them no other meaning; a program's assigned names
            excluded where used after their assignment).
        assigned: the names a program assigns, in order.
    """

    def __init__(self, text: str, tree: Any, assignments: tuple = ()) -> None:
        self.text = text
        self.tree = tree
        self.assignments = tuple((target.id, t) for target, t in assignments)
        names: dict[str, None] = {}
        known: set[str] = set()
        for target, t in (*assignments, (None, tree)):
            stack = [t]
            while stack:  # iterative, in source order
                node = stack.pop()
                if isinstance(node, Name) and node.id not in known:
                    names.setdefault(node.id)
                stack.extend(reversed(_children(node)))
            if target is not None:
                known.add(target.id)
        self.names = tuple(names)
        self.assigned = tuple(dict.fromkeys(name for name, _ in self.assignments))

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"

    def evaluate(self, variables: Mapping[str, Any] | None = None) -> Any:
        """Compute the expression with chainrule's operations.

        Args:
            variables: a value (Tensor, number or array) for each name; ``pi`` and ``e`` are
                known unless given here.

        Returns:
            A Tensor where a variable or a list is involved, else a float.

        Raises:
            ExpressionError: a name without a value, or an operation that fails (shapes that do
                not match, a tensor larger than MAX_ELEMENTS values).
        """
        env = dict(CONSTANTS)
        env.update(variables or {})
        clash = [name for name in self.assigned if name in (variables or {})]
        if clash:
            raise ExpressionError(
                f"{clash[0]!r} is both given a value and assigned by the program; a name is "
                "either a variable or an intermediate"
            )
        evaluator = _Evaluator(env)
        with np.errstate(all="ignore"):  # 1/0 is inf and log(-1) nan, as in NumPy
            for name, tree in self.assignments:
                value = evaluator.run(tree)
                if isinstance(value, Tensor) and not any(value is v for v in env.values()):
                    value.name = name  # the intermediate's name, for drawings and explain
                env[name] = value
            return evaluator.run(self.tree)


def parse(text: str) -> Expression:
    """Parse ``text`` into an ``Expression``, or raise ``ExpressionError`` saying why not.

    Example:
        >>> parse("x.__class__")
        Traceback (most recent call last):
        ExpressionError: unexpected character '.' at position 1: attribute access ('.') is not...
    """
    return Expression(text, _Parser(text).parse())


def parse_program(text: str) -> Expression:
    """Parse a program, statements such as ``q = x + y; f = q * z``, into an ``Expression``.

    A single expression is a program of one statement. The names assigned become the names of
    the intermediate tensors when the program is evaluated.

    Example:
        >>> p = parse_program("q = x + y; f = q * z")
        >>> p.names, p.assigned
        (('x', 'y', 'z'), ('q', 'f'))
    """
    parser = _Parser(text, program=True)
    assignments, last = parser.program()
    return Expression(text, last, tuple(assignments))


def evaluate(text: str, variables: Mapping[str, Any] | None = None) -> Any:
    """``parse(text).evaluate(variables)``."""
    return parse(text).evaluate(variables)


def parse_value(text: str) -> np.ndarray:
    """A constant: a number or a (nested) list, such as ``-1.5`` or ``[[1, 2], [3, 4]]``; the
    language's arithmetic and functions are allowed, names other than pi and e are not.

    Returns:
        A float64 array (0-d for a number).
    """
    expr = parse(text)
    unknown = [n for n in expr.names if n not in CONSTANTS]
    if unknown:
        raise ExpressionError(f"a value must be a constant; {unknown[0]!r} is a name")
    value = expr.evaluate({})
    if isinstance(value, Tensor):
        value = value._data
    return np.asarray(value, dtype=np.float64)


_BINARY: dict[str, Callable] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "**": lambda a, b: a**b,
}


class _Evaluator:
    """Evaluates a syntax tree. Numbers stay Python floats (so ``1 + exp(x)`` is the lecture's
    ``+1`` gate); constant lists become float64 tensors that need no gradient."""

    def __init__(self, env: dict[str, Any]) -> None:
        self.env = env
        self.pos: int | None = None  # where the operation being evaluated is, for errors

    def run(self, node: Any) -> Any:
        try:
            return self.value_of(node)
        except ExpressionError:
            raise
        except (ArithmeticError, ValueError, TypeError, RuntimeError, IndexError) as e:
            pos = self.pos
            where = f" at position {pos}" if pos is not None else ""
            raise ExpressionError(f"could not evaluate{where}: {e}", pos) from None

    def value_of(self, node: Any) -> Any:
        self.pos = node.pos
        if isinstance(node, Num):
            return node.value
        if isinstance(node, Name):
            if node.id not in self.env:
                raise ExpressionError(
                    f"the name {node.id!r} at position {node.pos} has no value; give it one "
                    f"(chainrule graph: --set {node.id}=VALUE)",
                    node.pos,
                )
            return _wrap(self.env[node.id])
        if isinstance(node, Unary):
            x = self.value_of(node.operand)
            self.pos = node.pos
            if node.op == "+":
                return x
            return ops.neg(x) if isinstance(x, Tensor) else -x
        if isinstance(node, Binary):
            a, b = self.value_of(node.left), self.value_of(node.right)
            self.pos = node.pos
            return self.binary(node.op, a, b, node.pos)
        if isinstance(node, Call):
            args = [self.value_of(a) for a in node.args]
            self.pos = node.pos
            return self.call(node.func, args, node.pos)
        if isinstance(node, List):
            return self.list(node)
        raise ExpressionError(f"unknown syntax node {type(node).__name__}")  # pragma: no cover

    def binary(self, op: str, a: Any, b: Any, pos: int) -> Any:
        if not isinstance(a, Tensor) and not isinstance(b, Tensor):
            if op == "@":
                _no_matmul("'@'", a, b, pos)
            return float(_BINARY[op](np.float64(a), np.float64(b)))
        if op == "@":
            _check_matmul("'@'", a, b, pos)
            return ops.matmul(a, b)
        _check_size(math.prod(_broadcast([a, b], repr(op), pos)), pos)
        return _BINARY[op](a, b)

    def call(self, name: str, args: list, pos: int) -> Any:
        fn = FUNCTIONS[name][2]
        if name == "matmul":
            _check_matmul("matmul()", *args, pos)
        else:  # no function's result is larger than its arguments broadcast together
            _check_size(math.prod(_broadcast(args, f"{name}()", pos)), pos)
        if any(isinstance(a, Tensor) for a in args):
            return fn(*args)
        # constants only: compute on float64 tensors, hand back plain numbers or arrays
        out = fn(Tensor(args[0], dtype="float64"), *args[1:])._data
        return float(out) if out.ndim == 0 else out

    def list(self, node: List) -> Any:
        self.pos = node.pos
        items = [self.value_of(item) for item in node.items]
        self.pos = node.pos
        if not items:
            raise ExpressionError(f"the list at position {node.pos} is empty", node.pos)
        if any(isinstance(x, Tensor) for x in items):
            _check_size(len(items) * max(math.prod(np.shape(_data(x))) for x in items), node.pos)
            return ops.stack([x if isinstance(x, Tensor) else Tensor(x, "float64") for x in items])
        shapes = {np.shape(x) for x in items}
        if len(shapes) > 1:
            raise ExpressionError(
                f"the items of the list at position {node.pos} have different shapes "
                f"{sorted(shapes)}; a tensor needs items of one shape",
                node.pos,
            )
        _check_size(len(items) * math.prod(next(iter(shapes))), node.pos)
        t = Tensor(np.array(items, dtype=np.float64))
        if len(node.text) <= 24:
            t.name = node.text  # drawn as the constant it is
        return t


def _wrap(v: Any) -> Any:
    """A variable's value: Tensors as they are, numbers as floats, arrays as constant tensors."""
    if isinstance(v, Tensor):
        return v
    if isinstance(v, (int, float, np.number)) and not isinstance(v, bool):
        return float(v)
    arr = np.asarray(v, dtype=np.float64)
    return float(arr) if arr.ndim == 0 else Tensor(arr)


def _data(x: Any) -> Any:
    return x._data if isinstance(x, Tensor) else x


def _broadcast(values: list, what: str, pos: int) -> tuple:
    """The shape the values broadcast to (numbers are shape ()), or an ExpressionError."""
    return _broadcast_shapes([np.shape(_data(v)) for v in values], what, pos)


def _broadcast_shapes(shapes: list, what: str, pos: int) -> tuple:
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        listed = " and ".join(str(s) for s in shapes)
        raise ExpressionError(
            f"{what} at position {pos}: the shapes {listed} do not broadcast", pos
        ) from None


def _check_size(n: int, pos: int) -> None:
    if n > MAX_ELEMENTS:
        raise ExpressionError(
            f"the operation at position {pos} would make a tensor of {n} values; the language "
            f"is for small tensors (at most {MAX_ELEMENTS})",
            pos,
        )


def _check_matmul(what: str, a: Any, b: Any, pos: int) -> None:
    """Both operands tensors, and the product's work (batch x rows x columns x inner) bounded."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        _no_matmul(what, a, b, pos)
    sa, sb = a.shape, b.shape
    if sa and sb:  # 0-d operands: matmul's own error says so
        batch = _broadcast_shapes([sa[:-2], sb[:-2]], what, pos)
        rows, cols = (sa[-2] if len(sa) > 1 else 1), (sb[-1] if len(sb) > 1 else 1)
        _check_size(math.prod(batch) * rows * cols * max(sa[-1], 1), pos)


def _no_matmul(what: str, a: Any, b: Any, pos: int) -> Any:
    number = "first" if not isinstance(a, Tensor) else "second"
    value = a if not isinstance(a, Tensor) else b
    raise ExpressionError(
        f"{what} at position {pos} multiplies tensors (lists or variables), not plain numbers; "
        f"its {number} operand is the number {_text(value)}. Use * to multiply by a number",
        pos,
    )


def _text(v: Any) -> str:
    return f"{float(v):g}" if np.ndim(v) == 0 else f"of shape {np.shape(v)}"
