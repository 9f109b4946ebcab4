"""Random programs with one in-place change between forward and backward: raised, or harmless.

Each random program of ``_programs.py`` runs twice in chainrule: as it is, and with one of its
tensors changed in place under ``no_grad`` after forward and before its backward scenario (a
leaf, an intermediate value, a view of one, an index or mask tensor, a NumPy constant). A
backward needs the values its forward saw, so the changed run must either raise (a saved value
changed: "modified in place") or give every gradient of the unchanged run, to the bit. A third
outcome, other gradients and no error, is a backward that read changed values: the silent
wrong gradient this test exists to catch (views that did not share their base's version counter
and index arrays kept by reference were two).

``CHAINRULE_IN_PLACE_PROGRAMS`` runs more of them, ``CHAINRULE_PROGRAM_SEED`` starts elsewhere.
"""

import os
import warnings

import _programs as P
import numpy as np
import pytest

pytest.importorskip("torch")  # the programs are drawn valid by PyTorch's forward

BUDGET = int(os.environ.get("CHAINRULE_IN_PLACE_PROGRAMS", "150"))
SEED = int(os.environ.get("CHAINRULE_PROGRAM_SEED", "0"))
#: the lines that start a scenario's backward: the change goes just before the first of them
BACKWARD_STARTS = ("loss.backward(", "gs = lib.autograd.grad(", "lib.autograd.backward(")

CHANGE = """with lib.no_grad():
    _t = {name}
    if isinstance(_t, lib.Tensor) and _t.dtype in (lib.float32, lib.float64):
        _t.add_(0.5)
    elif isinstance(_t, lib.Tensor):
        _t.copy_(lib.zeros_like(_t))  # an index becomes 0, a mask all False
    elif isinstance(_t, np.ndarray):
        _t[...] = 0 if _t.dtype.kind in "biu" else _t + 0.5
    else:
        raise ValueError("nothing to change")
"""


def _changed(source: str, name: str) -> str:
    lines = source.split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith(BACKWARD_STARTS))
    return "\n".join(lines[:at] + CHANGE.format(name=name).rstrip().split("\n") + lines[at:])


def _run(program: P.Program, source: str) -> dict:
    ns = {**P.namespace(program, "cr"), "np": np}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(source, "<program>", "exec"), ns)  # noqa: S102 (ours)
    return {k: v for k, v in ns["R"].items() if k != "values"}


def _targets(program: P.Program) -> list[str]:
    """What may be changed: leaves, intermediate values and constants, not the loss weights
    (W, which the scenario reads after the change, as the loss or the caller's gradients)."""
    values = [program.name(i) for i in range(program.n_values)]
    return values + [k for k in program.consts() if not k.startswith("W")]


@pytest.mark.parametrize("chunk", range(3))
def test_an_in_place_change_after_forward_raises_or_changes_no_gradient(chunk):
    checked = 0
    for seed in range(SEED + chunk, SEED + BUDGET, 3):
        rng = np.random.default_rng(seed)
        program = P.draw(rng)
        if program.mode == "graph":
            continue
        source = program.source("cr")
        clean = _run(program, source)
        name = str(rng.choice(_targets(program)))
        changed = _changed(source, name)
        try:
            got = _run(program, changed)
        except RuntimeError as e:
            assert "modified in place" in str(e), (str(e), changed)
            checked += 1
            continue
        except (ValueError, TypeError):  # a read-only view, a tuple: nothing was changed
            continue
        assert got.keys() == clean.keys()
        for key, want in clean.items():
            have = got[key]
            same = (want is None and have is None) or (
                want is not None
                and have is not None
                and np.array_equal(np.asarray(have), np.asarray(want), equal_nan=True)
            )
            assert same, f"{key} changed, silently, after changing {name} in place:\n{changed}"
        checked += 1
    assert checked >= BUDGET // 6, f"only {checked} programs checked"
