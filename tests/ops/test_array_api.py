"""The whole op table a second time, on an array module that is not NumPy.

array-api-strict is the Python Array API standard's reference implementation: it has the
standard's functions and nothing else (no ``x.sum()``, no ``np.add.at``), refuses to mix with
NumPy arrays, and its ``device1`` (chainrule's ``strict:1``) refuses to turn into one. Every row
of the op table runs there in float64 and float32, forward, backward and second order, and must
give what it gives on the CPU: any NumPy-only call left in the engine or an op fails here, on a
machine without a GPU.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from _table import OPS, Op
from hypothesis import Phase, find, settings

import chainrule as cr
from chainrule import backend

#: strict:1 by default; benchmarks/gpu_check.sh sets CHAINRULE_TEST_DEVICE=cuda on a GPU machine
STRICT = cr.device(os.environ.get("CHAINRULE_TEST_DEVICE", "strict:1"))
if not backend.available(STRICT.type):
    pytest.skip(f"device {STRICT} is not available here", allow_module_level=True)
FIRST = settings(max_examples=1, phases=[Phase.generate], database=None, derandomize=True)
TOL = {cr.float64: {"rtol": 1e-10, "atol": 1e-12}, cr.float32: {"rtol": 2e-4, "atol": 1e-5}}


def _run(op: Op, arrays: tuple, params: dict, dtype, where) -> dict:
    """Forward, backward and (where the row has it) second order of one row on ``where``."""
    xs = [cr.tensor(np.asarray(a), dtype=dtype, device=where, requires_grad=True) for a in arrays]
    kw = {k: v.to(where) if isinstance(v, cr.Tensor) else v for k, v in params.items()}
    out = op.cr(*xs, **kw)
    outs = list(out) if isinstance(out, tuple) else [out]
    result = {"values": [o.detach() for o in outs]}
    live = [o for o in outs if o.requires_grad]
    if not live:
        return result
    rng = np.random.default_rng(0)
    ups = [cr.tensor(rng.standard_normal(o.shape), dtype=o.dtype, device=where) for o in live]
    grads = cr.autograd.grad(live, xs, ups, create_graph=op.second_order, allow_unused=True)
    result["grads"] = [g for g in grads if g is not None]
    if op.second_order and result["grads"]:
        total = sum((g * g).sum() for g in result["grads"] if g.requires_grad)
        if isinstance(total, cr.Tensor):
            seconds = cr.autograd.grad(total, xs, allow_unused=True)
            result["second"] = [g for g in seconds if g is not None]
    return result


@pytest.mark.parametrize(
    ("op", "dtype"),
    [
        pytest.param(op, dtype, id=f"{op.name}-{dtype}")
        for op in OPS
        for dtype in (cr.float64, cr.float32)
    ],
)
def test_op_on_array_api_strict_matches_numpy(op: Op, dtype) -> None:
    ex = find(op.example, lambda e: True, settings=FIRST)
    want = _run(op, ex.arrays, ex.params, dtype, "cpu")
    got = _run(op, ex.arrays, ex.params, dtype, STRICT)
    assert got.keys() == want.keys()
    for kind in want:
        assert len(got[kind]) == len(want[kind]), kind
        for k, (g, w) in enumerate(zip(got[kind], want[kind])):
            assert g.device == STRICT, f"{kind} {k} is on {g.device}"
            assert not isinstance(g._data, np.ndarray), f"{kind} {k} is a NumPy array"
            assert g.dtype == w.dtype, f"{kind} {k}: dtype {g.dtype}, on the CPU {w.dtype}"
            assert g.shape == w.shape, f"{kind} {k}: shape {g.shape}, on the CPU {w.shape}"
            np.testing.assert_allclose(
                backend.to_numpy(g._data), w.detach().numpy(), **TOL[dtype], err_msg=f"{kind} {k}"
            )


@pytest.mark.skipif(STRICT.type != "strict", reason="array-api-strict's own behaviour")
def test_strict_refuses_numpy() -> None:
    """The device the table runs on really refuses NumPy: the test above can fail."""
    x = cr.ones(3, device=STRICT)
    with pytest.raises(RuntimeError, match="NumPy"):
        np.exp(x._data)
    with pytest.raises(TypeError):
        x._data + np.ones(3)
