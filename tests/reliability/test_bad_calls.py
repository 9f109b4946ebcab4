"""Wrong calls across the public API: each raises a clear error naming what was expected and what
was found (table-driven: one row per wrong call)."""

import math
import re

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import cli, data, nn, optim
from chainrule.train import TrainConfig


def _backward_twice():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    y.backward()


def _modified_saved_input():
    w = cr.ones(2, 2, requires_grad=True)
    loss = (cr.ones(3, 2) @ w).sum()
    with cr.no_grad():
        w.add_(1)
    loss.backward()


def _wrong_gradient_count():
    class Bad(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            return g

    Bad.apply(cr.ones(2, requires_grad=True), cr.ones(2)).sum().backward()


def _model():
    return nn.MLP(4, [3], 2)


# (description, call, error type, fragments the message must contain: expected and found)
ROWS = [
    ("tensor of strings", lambda: cr.tensor(["a", "b"]), TypeError, ["str", "expected numbers"]),
    ("tensor of objects", lambda: cr.tensor([object()]), TypeError, ["object", "expected"]),
    ("ragged list", lambda: cr.tensor([[1, 2], [3]]), TypeError, ["list", "equal lengths"]),
    (
        "int requires grad",
        lambda: cr.tensor([1, 2], requires_grad=True),
        RuntimeError,
        ["floating point", "int64"],
    ),
    ("unknown dtype", lambda: cr.zeros(2, dtype="complex64"), TypeError, ["complex64"]),
    ("bad default dtype", lambda: cr.set_default_dtype(cr.int64), TypeError, ["floating", "int64"]),
    ("zeros bad shape", lambda: cr.zeros("a"), TypeError, ["shape", "'a'"]),
    ("randint high <= low", lambda: cr.randint(5, 2, (3,)), ValueError, ["high", "low"]),
    ("arange step 0", lambda: cr.arange(0, 5, 0), ValueError, ["step"]),
    ("manual_seed negative", lambda: cr.manual_seed(-1), ValueError, ["non-negative", "-1"]),
    (
        "add broadcast",
        lambda: cr.ones(2, 3) + cr.ones(4),
        RuntimeError,
        ["Add", r"\(2, 3\)", r"\(4,\)"],
    ),
    ("mul broadcast", lambda: cr.ones(3) * cr.ones(2), RuntimeError, ["Mul", r"\(3,\)", r"\(2,\)"]),
    (
        "matmul inner",
        lambda: cr.ones(2, 3) @ cr.ones(4, 5),
        RuntimeError,
        ["matmul", r"\(2, 3\)", r"\(4, 5\)"],
    ),
    (
        "matmul 0-d",
        lambda: cr.matmul(cr.tensor(1.0), cr.ones(2)),
        RuntimeError,
        ["at least 1 dimension"],
    ),
    ("reshape size", lambda: cr.ones(2, 3).reshape(4, 2), RuntimeError, [r"\(4, 2\)", r"\(2, 3\)"]),
    ("reshape two -1", lambda: cr.ones(6).reshape(-1, -1), RuntimeError, [r"\(-1, -1\)"]),
    (
        "permute not a permutation",
        lambda: cr.ones(2, 3).permute(0, 0),
        RuntimeError,
        ["permutation", r"\(0, 0\)"],
    ),
    ("transpose dim", lambda: cr.ones(2, 3).transpose(0, 5), IndexError, ["5", r"\[-2, 1\]"]),
    ("sum dim", lambda: cr.ones(2, 3).sum(dim=3), IndexError, ["3", "2 dimension"]),
    (
        "cat shapes",
        lambda: cr.cat([cr.ones(2, 3), cr.ones(2, 4)], dim=0),
        RuntimeError,
        [r"\(2, 4\)", r"\(2, 3\)"],
    ),
    ("cat empty", lambda: cr.cat([]), TypeError, ["non-empty"]),
    (
        "stack shapes",
        lambda: cr.stack([cr.ones(2), cr.ones(3)]),
        RuntimeError,
        [r"\(3,\)", r"\(2,\)"],
    ),
    ("split sizes", lambda: cr.ones(5).split([2, 2]), RuntimeError, [r"\[2, 2\]", "5"]),
    ("split size 0", lambda: cr.ones(5).split(0), ValueError, ["positive", "0"]),
    ("expand fewer dims", lambda: cr.ones(2, 3).expand(3), RuntimeError, [r"\(3,\)", r"\(2, 3\)"]),
    (
        "broadcast_to",
        lambda: cr.ones(3).broadcast_to((2, 4)),
        RuntimeError,
        [r"\(3,\)", r"\(2, 4\)"],
    ),
    ("index out of range", lambda: cr.ones(2, 3)[5], IndexError, [r"\(2, 3\)", "5"]),
    (
        "float index",
        lambda: cr.ones(3)[cr.tensor([0.5])],
        IndexError,
        ["integer or bool", "float32"],
    ),
    (
        "where non-bool",
        lambda: cr.where(cr.ones(2), cr.ones(2), cr.zeros(2)),
        TypeError,
        ["bool", "float32"],
    ),
    ("clamp no bounds", lambda: cr.clamp(cr.ones(2)), ValueError, ["min", "max"]),
    ("item of many", lambda: cr.ones(3).item(), RuntimeError, ["3 elements"]),
    (
        "numpy of grad tensor",
        lambda: cr.ones(2, requires_grad=True).numpy(),
        RuntimeError,
        ["requires grad", "detach"],
    ),
    ("backward no grad", lambda: cr.ones(2).sum().backward(), RuntimeError, ["does not require"]),
    (
        "backward non-scalar",
        lambda: (cr.ones(3, requires_grad=True) * 2).backward(),
        RuntimeError,
        ["one element", r"\(3,\)"],
    ),
    (
        "backward wrong gradient",
        lambda: (cr.ones(3, requires_grad=True) * 2).backward(cr.ones(2)),
        RuntimeError,
        [r"\(2,\)", r"\(3,\)"],
    ),
    ("backward twice", _backward_twice, RuntimeError, ["second time", "retain_graph"]),
    ("saved input changed", _modified_saved_input, RuntimeError, ["modified in place", "version"]),
    (
        "wrong gradient count",
        _wrong_gradient_count,
        RuntimeError,
        ["BadBackward", "1 gradient", "2 input"],
    ),
    (
        "in-place on leaf",
        lambda: cr.ones(2, requires_grad=True).add_(1),
        RuntimeError,
        ["in-place", "leaf", "no_grad"],
    ),
    (
        "grad of unused",
        lambda: cr.autograd.grad(
            cr.ones(2, requires_grad=True).sum(), [cr.ones(2, requires_grad=True)]
        ),
        RuntimeError,
        ["not used", "allow_unused"],
    ),
    (
        "gradcheck float32",
        lambda: cr.autograd.gradcheck(lambda x: x.sum(), (cr.ones(2, requires_grad=True),)),
        TypeError,
        ["float32", "float64"],
    ),
    (
        "Linear features",
        lambda: nn.Linear(4, 2)(cr.ones(3, 5)),
        ValueError,
        ["4 features", r"\(3, 5\)"],
    ),
    ("Linear size", lambda: nn.Linear(0, 2), ValueError, ["in_features", "0"]),
    (
        "MLP activation",
        lambda: nn.MLP(2, [3], 2, activation="swish"),
        ValueError,
        ["swish", "relu"],
    ),
    ("Dropout p", lambda: nn.Dropout(1.5), ValueError, ["[0, 1]", "1.5"]),
    (
        "Module typo",
        lambda: setattr(_model(), "trainig", False),
        AttributeError,
        ["trainig", "training"],
    ),
    (
        "load_state_dict shapes",
        lambda: nn.Linear(2, 3).load_state_dict({"weight": cr.ones(4, 2), "bias": cr.ones(3)}),
        RuntimeError,
        ["weight", r"\(4, 2\)", r"\(3, 2\)"],
    ),
    (
        "cross_entropy target range",
        lambda: F.cross_entropy(cr.ones(2, 3), cr.tensor([0, 3])),
        IndexError,
        ["3"],
    ),
    (
        "cross_entropy float target",
        lambda: F.cross_entropy(cr.ones(2, 3), cr.tensor([0.0, 1.0])),
        TypeError,
        ["float"],
    ),
    (
        "cross_entropy length",
        lambda: F.cross_entropy(cr.ones(2, 3), cr.tensor([0, 1, 2])),
        ValueError,
        ["2", "3"],
    ),
    ("SGD negative lr", lambda: optim.SGD(_model().parameters(), lr=-1), ValueError, ["lr", "-1"]),
    (
        "SGD nesterov",
        lambda: optim.SGD(_model().parameters(), lr=0.1, nesterov=True),
        ValueError,
        ["Nesterov", "momentum"],
    ),
    (
        "Adam betas",
        lambda: optim.Adam(_model().parameters(), betas=(1.5, 0.9)),
        ValueError,
        ["1.5"],
    ),
    ("optimizer without params", lambda: optim.SGD([], lr=0.1), ValueError, ["empty"]),
    (
        "DataLoader batch 0",
        lambda: data.DataLoader(data.TensorDataset(np.ones((4, 2))), batch_size=0),
        ValueError,
        ["batch_size", "0"],
    ),
    (
        "TensorDataset lengths",
        lambda: data.TensorDataset(np.ones((4, 2)), np.ones(3)),
        ValueError,
        ["4", "3"],
    ),
    (
        "unknown data set",
        lambda: data.datasets.load("imagenet"),
        ValueError,
        ["imagenet", "digits"],
    ),
    ("config lr", lambda: TrainConfig(lr=-1.0).validate(), ValueError, ["--lr", "-1"]),
    (
        "config dataset",
        lambda: TrainConfig(dataset="svhn").validate(),
        ValueError,
        ["svhn", "digits"],
    ),
    (
        "config unknown option",
        lambda: TrainConfig.from_dict({"lr_rate": 1}),
        ValueError,
        ["lr_rate", "known options"],
    ),
    (
        "save non-string key",
        lambda: cr.save({1: cr.ones(1)}, "/tmp/x.safetensors"),
        TypeError,
        ["strings", "1"],
    ),
    (
        "load missing",
        lambda: cr.load("/nonexistent/w.safetensors"),
        FileNotFoundError,
        ["no weight file", "w.safetensors"],
    ),
]


def test_at_least_fifty_wrong_calls():
    assert len(ROWS) >= 50


@pytest.mark.parametrize("description, call, error, fragments", ROWS, ids=[r[0] for r in ROWS])
def test_wrong_call_gives_a_clear_error(description, call, error, fragments, counts):
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    for fragment in fragments:
        assert re.search(fragment, message), f"{fragment!r} not in: {message}"
    counts["calls|wrong calls answered with a clear error"] += 1


# ----- the command line: wrong calls and bad files end in one line, exit 2, no traceback -----
def _toml(text: str):
    def make(tmp_path):
        (tmp_path / "run.toml").write_text(text)
        return ["train", "--config", tmp_path / "run.toml", "--out", tmp_path / "run"]

    return make


def _npy(array):
    """An .npy of ``array``, or of a bare header declaring that shape (NumPy could not make it)."""

    def make(tmp_path):
        if isinstance(array, tuple):
            header = repr({"descr": "<f4", "fortran_order": False, "shape": array}).encode()
            header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
            data = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header
            (tmp_path / "x.npy").write_bytes(data + bytes(4 * math.prod(array)))
        else:
            np.save(tmp_path / "x.npy", array)
        return ["predict", "RUN", tmp_path / "x.npy"]

    return make


# (description, argv or a function of tmp_path giving it ("RUN": a trained digits run), fragments)
CLI_ROWS = [
    ("config data_dir a list", _toml('data_dir = ["a", "b"]\n'), ["--data-dir", "['a', 'b']"]),
    ("config data_dir a number", _toml("data_dir = 3\n"), ["--data-dir", "string", "3"]),
    ("config download 'no'", _toml('download = "no"\n'), ["--download", "boolean", "'no'"]),
    ("config nested 10,000 deep", _toml("hidden = " + "[" * 10_000 + "]" * 10_000), ["deep"]),
    ("graph matmul(x,2)", ["graph", "matmul(x,2)", "--set", "x=[1,2]"], ["number 2"]),
    ("graph 2 @ x", ["graph", "2 @ x", "--set", "x=[1,2]"], ["number 2"]),
    (
        "graph 27M values through functions",
        ["graph", "sum(max(max(a,b),c))", "--set"]
        + ["a=" + str([[list(range(300))]]).replace(" ", "")]
        + ["b=" + str([[[i] for i in range(300)]]).replace(" ", "")]
        + ["c=" + str([[[i]] for i in range(300)]).replace(" ", "")],
        ["27000000 values"],
    ),
    ("predict NaN array", _npy(np.full((8, 8), np.nan)), ["finite", "64 NaN"]),
    ("predict empty batch", _npy(np.zeros((0, 8, 8))), ["empty batch"]),
    ("predict array of 70 dimensions", _npy((1,) * 70), ["70 dimensions"]),
    ("predict array of shape (0, 2^62, 2^62)", _npy((0, 2**62, 2**62)), ["(0, 46116860184"]),
    ("predict nothing to classify", ["predict", "RUN"], ["--samples"]),
    ("predict a folder that is no run", lambda p: ["predict", p, "--samples"], ["not a run"]),
]


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    import contextlib
    import io

    out = tmp_path_factory.mktemp("bad_calls") / "run"
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(["train", "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    return out


@pytest.mark.parametrize("description, argv, fragments", CLI_ROWS, ids=[r[0] for r in CLI_ROWS])
def test_wrong_command_gives_one_clear_line(
    description, argv, fragments, tmp_path, capsys, counts, request
):
    argv = argv(tmp_path) if callable(argv) else argv
    if "RUN" in argv:
        argv = [request.getfixturevalue("digits_run") if a == "RUN" else a for a in argv]
    try:
        status = cli.main([str(a) for a in argv])
    except SystemExit as e:
        status = e.code
    err = capsys.readouterr().err
    assert status == 2 and err.startswith(f"chainrule {argv[0]}: error:"), err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in: {err}"
    counts["calls|wrong calls answered with a clear error"] += 1
