"""Random programs in chainrule and in PyTorch: every value and gradient must agree.

The programs (``_programs.py``) cover every op, shared subexpressions, views, ``retain_grad``,
``autograd.grad`` with respect to intermediates, caller-given gradients with ``retain_graph``
called twice, accumulation over two backward passes (the first with ``create_graph=True``),
second order, ``detach`` mixed with the live tensor and ``no_grad``. A mismatch is shrunk to a
short program, which the failure message prints ready to paste.

CI runs a fixed, seeded budget; ``CHAINRULE_PROGRAMS=5000`` runs more (and
``CHAINRULE_IMAGE_PROGRAMS`` more of the programs on batches of images), and
``CHAINRULE_PROGRAM_SEED`` starts elsewhere.
"""

import os
import warnings

import _programs as P
import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

BUDGET = int(os.environ.get("CHAINRULE_PROGRAMS", "600"))
SEED = int(os.environ.get("CHAINRULE_PROGRAM_SEED", "0"))
CHUNKS = 6


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        # PyTorch warns that backward(create_graph=True) makes a reference cycle: it does, and
        # the "accumulate" scenario does it on purpose
        warnings.simplefilter("ignore", UserWarning)
        yield


def _check(program: P.Program) -> None:
    problem = P.compare(program)
    if problem is None:
        return
    small = P.shrink(program, lambda c: P.compare(c) is not None)
    pytest.fail(
        f"chainrule and PyTorch differ; a shortest failing program found:\n\n"
        f"{P.repro(small, P.compare(small) or problem)}",
        pytrace=False,
    )


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_random_programs_match_pytorch(chunk):
    refused = 0
    seeds = range(SEED + chunk, SEED + BUDGET, CHUNKS)
    for seed in seeds:
        program = P.draw(np.random.default_rng(seed))
        try:
            _check(program)
        except P.Invalid:
            refused += 1  # PyTorch lacks that second derivative, or broadcasts otherwise
    assert refused <= 0.05 * len(seeds), f"{refused} of {len(seeds)} programs PyTorch refused"


@pytest.mark.parametrize("spec", P.SPECS, ids=lambda s: s.name)
def test_each_op_in_a_program_matches_pytorch(spec):
    """Every op, in each backward scenario, and the Functions it declares are the ones it runs."""
    # one program per backward scenario, and more (scenarios in turn) until the Functions the
    # op declares have all run: a drawn program may not reach one (an empty mask, a cut path)
    checked, seen = 0, set()
    for seed in range(400):
        if checked >= len(P.MODES) and set(spec.fns) <= seen:
            break
        rng = np.random.default_rng(seed)
        # the op weighs as much as all the others together, however many the table holds
        program = P.draw(rng, n_steps=4, specs=[spec] * len(P.SPECS) + P.SPECS)
        if not any(step.spec == spec.name for step in program.steps):
            continue
        program = P.with_mode(program, P.MODES[checked % len(P.MODES)])
        checked += 1
        try:
            _check(program)
        except P.Invalid:
            continue
        seen |= P.functions_run(P.with_mode(program, "graph"))
    assert checked, f"no program could use {spec.name}"
    assert set(spec.fns) <= seen, f"{spec.name} should run {spec.fns}; ran {sorted(seen)}"


IMAGE_BUDGET = int(os.environ.get("CHAINRULE_IMAGE_PROGRAMS", "160"))


def _batch_innermost_inputs(program: P.Program) -> int:
    """Image steps whose input is a convolution's output of more than one image, as it is: an
    (N, C, H, W) array with its batch innermost in memory (``Conv2d``)."""
    vals = P.values(program)
    n_leaves, count = len(program.leaves), 0
    for step in program.steps:
        src = step.args[0] - n_leaves
        if step.spec not in P.IMAGE_OPS or src < 0 or "conv" not in program.steps[src].spec:
            continue
        out = vals[step.args[0]]
        count += out.shape == dict(step.params)["xs"] and out.shape[0] > 1 and out[0].size > 1
    return count


@pytest.mark.parametrize("chunk", range(2))
def test_image_programs_on_batches_match_pytorch(chunk):
    """Chains of convolutions, pooling and unfold on batches of images, among the other ops, in
    every backward scenario: a convolution leaves its output batch-innermost in memory, and the
    image ops after it take it so; the values and gradients must still be PyTorch's."""
    image = [P.SPEC[name] for name in P.IMAGE_OPS]
    chained, refused = 0, 0
    seeds = range(SEED + chunk, SEED + IMAGE_BUDGET, 2)
    for seed in seeds:
        rng = np.random.default_rng(seed)
        program = P.draw(rng, n_steps=8, specs=image * 30 + P.SPECS, leaf_shapes=P.IMAGE_LEAVES)
        try:
            _check(program)
        except P.Invalid:
            refused += 1
            continue
        chained += _batch_innermost_inputs(program) > 0
    assert refused <= 0.05 * len(seeds), f"{refused} of {len(seeds)} programs PyTorch refused"
    # the premise: a good share of the programs hand a batch-innermost output to an image op
    assert chained >= 0.1 * len(seeds), f"only {chained} of {len(seeds)} chained image ops"


def test_every_function_chainrule_defines_is_in_the_programs():
    # a new op needs a row in _programs.SPECS, or this fails
    missing = P.function_classes() - P.covered_functions()
    assert not missing, f"ops with no program spec: {sorted(missing)}"


# ----- the harness itself -----
def test_a_wrong_gradient_is_found_and_shrunk_to_a_short_program(monkeypatch):
    # break exp's backward (e^x * 2 instead of e^x): the harness must notice and shrink it
    from chainrule.ops.elementwise import Exp

    original = Exp.backward

    def wrong(ctx, grad):
        return original(ctx, grad) * 2.0

    monkeypatch.setattr(Exp, "backward", staticmethod(wrong))
    exp = P.SPEC["exp"]
    small = None
    found = 0
    for seed in range(200):
        program = P.draw(np.random.default_rng(seed), n_steps=8, specs=[exp] * 3 + P.SPECS)
        try:
            if P.compare(program) is None:
                continue
        except P.Invalid:
            continue
        found += 1
        shrunk = P.shrink(program, lambda c: P.compare(c) is not None)
        assert len(shrunk.steps) <= len(program.steps) and P.compare(shrunk) is not None
        # other ops reach exp too (cross-entropy's second derivative): shrink until one of
        # them is exp's own
        if len(shrunk.steps) <= 2 and [s.spec for s in shrunk.steps].count("exp") == 1:
            small = shrunk
            break
    assert found, "a doubled gradient of exp went unnoticed"
    assert small is not None, "no program found with exp's gradient shrank to exp itself"
    text = P.repro(small, P.compare(small))
    assert ".exp()" in text and "differs from PyTorch" in text
    namespace: dict = {}
    exec(text, namespace)  # the reproduction runs as it is printed
    assert namespace["R"]


def test_the_harness_sees_two_gradients_sharing_memory(monkeypatch):
    # let a .grad keep the array it is given: x0 and x1 of x0 + x1 then share one, and the
    # zeroing probe must report it
    from chainrule.autograd import engine

    monkeypatch.setattr(engine._Run, "own", lambda self, g: cr.Tensor._make(g))
    x = np.array([1.0, 2.0])
    program = P.Program(
        leaves=(x, x + 1.0),
        requires=(True, True),
        steps=(P.Step("add", (0, 1), ()),),
        mode="backward",
        outputs=(2,),
        weights=(np.array([1.0, -1.0]),),
    )
    problem = P.compare(program)
    assert problem is not None and "after zeroing" in problem


def test_a_program_is_the_same_source_in_both_libraries():
    program = P.draw(np.random.default_rng(3))
    for k in range(len(program.steps)):
        spec = P.SPEC[program.steps[k].spec]
        if spec.torch_template is None:
            assert program.step_source(k, "cr") == program.step_source(k, "torch")
    assert "lib." in program.source() and "torch" not in program.source("cr")
