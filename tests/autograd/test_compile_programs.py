"""Random programs as compiled steps: a replay gives eager's numbers, to the bit.

``cr.compile`` promises that a replay runs the same functions on the same arrays in the same
order as eager did, so its numbers are eager's bit for bit. Here each random program of
``_programs.py`` (its ops, shared subexpressions, views, ``detach`` and ``no_grad``, the image
ops on batches) becomes a step function of its leaves that ends in ``loss.backward()`` (every
other one making its constant tensors itself). The compiled step is called four times, on the
leaves changed in their last bits at each call: the first two calls record, the later two
replay; the loss and every leaf's gradient must equal an eager call's on the same leaves.

``CHAINRULE_COMPILED_PROGRAMS`` runs more of them, ``CHAINRULE_PROGRAM_SEED`` starts elsewhere.
"""

import os
import warnings
from dataclasses import replace

import _programs as P
import numpy as np
import pytest

import chainrule as cr

pytest.importorskip("torch")  # the programs are drawn valid by PyTorch's forward

BUDGET = int(os.environ.get("CHAINRULE_COMPILED_PROGRAMS", "120"))
SEED = int(os.environ.get("CHAINRULE_PROGRAM_SEED", "0"))


def _step_function(program: P.Program, made_inside: bool = False):
    """The program as ``step(x0, x1, ...)``: its ops on the leaves, the loss, its backward.

    Its constant tensors (the ops' array parameters, the loss's weights) come from outside the
    step, or, ``made_inside``, are made by the step itself from NumPy arrays (``cr.tensor``):
    constants of the program either way.
    """
    leaves = [program.name(i) for i in range(len(program.leaves))]
    lines = [f"def step({', '.join(leaves)}):"]
    if made_inside:
        for name in program.consts():
            if name[0] in "kW":
                lines.append(f"    {name} = lib.tensor(_arrays[{name!r}])")
    for k, step in enumerate(program.steps):
        line = f"{program.name(len(program.leaves) + k)} = {program.step_source(k)}"
        if step.no_grad:
            lines += ["    with lib.no_grad():", f"        {line}"]
        else:
            lines.append(f"    {line}")
    outs = [program.name(i) for i in program.outputs]
    loss = " + ".join(f"({o} * W{j}).sum()" for j, o in enumerate(outs))
    lines += [f"    loss = {loss}", "    loss.backward()", "    return loss"]
    ns = P.namespace(program, "cr")
    ns["_arrays"] = {k: np.array(v) for k, v in program.consts().items()}
    exec(compile("\n".join(lines) + "\n", "<compiled program>", "exec"), ns)  # noqa: S102
    return ns["step"]


def _call(step, program: P.Program, scale: float = 1.0) -> list:
    """One call on fresh leaves (the program's, times ``scale``): the loss and each leaf's
    gradient, as NumPy copies."""
    leaves = [
        cr.tensor(a * scale, dtype=cr.float64, requires_grad=r)
        for a, r in zip(program.leaves, program.requires)
    ]
    loss = step(*leaves)
    return [loss.detach().numpy().copy()] + [
        None if t.grad is None else t.grad.numpy().copy() for t in leaves
    ]


def _same(a: list, b: list) -> bool:
    return all(
        (x is None and y is None)
        or (x is not None and y is not None and x.shape == y.shape and np.array_equal(x, y))
        for x, y in zip(a, b)
    )


#: Ops whose masks and indices are computed from the values (comparisons, argmax): the
#: programs that favour them check that a replay computes them again.
BY_VALUES = ("index_by_values", "pick_argmax", "where_by_values")


@pytest.mark.parametrize("kind", ["programs", "image-programs", "values-programs"])
def test_a_compiled_program_replays_eager_numbers_bit_for_bit(kind):
    image = [P.SPEC[name] for name in P.IMAGE_OPS]
    by_values = [P.SPEC[name] for name in BY_VALUES]
    replayed = 0
    for seed in range(SEED, SEED + BUDGET):
        rng = np.random.default_rng(seed)
        if kind == "image-programs":
            program = P.draw(rng, n_steps=8, specs=image * 30 + P.SPECS, leaf_shapes=P.IMAGE_LEAVES)
        elif kind == "values-programs":
            program = P.draw(rng, n_steps=6, specs=by_values * 20 + P.SPECS)
        else:
            program = P.draw(rng)
        program = replace(P.with_mode(program, "backward"), retain=())
        step = _step_function(program, made_inside=seed % 2 == 1)
        # other leaves at each call (two recordings on equal arguments cannot tell a constant
        # the step makes from a value computed outside ops, and would record a third time),
        # changed in their last bits only, so that masks and shapes stay the program's
        scales = [1.0, 1 + 2**-20, 1 - 2**-20, 1 + 2**-19]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # a step it cannot replay runs eagerly
            eager = [_call(step, program, c) for c in scales]
            compiled = cr.compile(step)
            calls = [_call(compiled, program, c) for c in scales]
        for k, got in enumerate(calls):
            assert _same(got, eager[k]), (
                f"call {k} of the compiled step (replays so far: {compiled.replays}) differs "
                f"from eager:\n{program.source()}"
            )
        replayed += compiled.replays == 2
    # the premise: most programs are replayed, not run eagerly
    assert replayed >= 0.6 * BUDGET, f"only {replayed} of {BUDGET} programs were replayed"
