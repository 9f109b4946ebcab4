"""cr.compile: a replayed step gives eager's numbers bit for bit, and falls back when it must.

Each test runs the same step twice from the same seed, once eagerly and once compiled, over
several batches, and compares the losses, the parameters and their gradients byte for byte;
``replays`` (how many calls were replayed) shows that the fast path really ran.
"""

from __future__ import annotations

import itertools
import types
import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

cr_compile = cr.compile

STEPS = 6  # two recordings, then four replays


def _batches(n_in: int, n_classes: int = 3, batch: int = 8, dtype=np.float32, steps=STEPS):
    rng = np.random.default_rng(1)
    return [
        (
            cr.tensor(rng.standard_normal((batch, n_in)).astype(dtype)),
            cr.tensor(rng.integers(0, n_classes, batch)),
        )
        for _ in range(steps)
    ]


def _setup(build_model, build_opt, loss_fn, reg: float = 0.0):
    cr.manual_seed(0)
    model = build_model()
    opt = build_opt(model.parameters())

    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        if reg:
            loss = loss + reg * nn.l2_penalty(model)
        loss.backward()
        opt.step()
        return loss

    return model, opt, step


def _same(a: cr.Tensor, b: cr.Tensor) -> bool:
    return (
        a.dtype == b.dtype
        and a.shape == b.shape
        and a.numpy(force=True).tobytes() == (b.numpy(force=True).tobytes())
    )


def _same_as_eager(step, compiled, leaf: cr.Tensor, *args) -> bool:
    """One call of the eager step and one of the compiled step on ``args``, each from a fresh
    ``leaf.grad``: the same loss and the same gradient of ``leaf``, byte for byte."""
    results = []
    for f in (step, compiled):
        leaf.grad = None
        results.append((f(*args).detach().clone(), leaf.grad.clone()))
    (le, ge), (lc, gc) = results
    return _same(le, lc) and _same(ge, gc)


def _run_both(build_model, build_opt, loss_fn, batches, reg=0.0):
    """Train eagerly and compiled from the same seed; assert bit-for-bit equality each step."""
    m1, _, eager = _setup(build_model, build_opt, loss_fn, reg)
    m2, _, step = _setup(build_model, build_opt, loss_fn, reg)
    compiled = cr_compile(step)
    for x, y in batches:
        cr.manual_seed(7)  # dropout's draws: the same for both
        l1 = eager(x, y)
        cr.manual_seed(7)
        l2 = compiled(x, y)
        assert _same(l1, l2)
        for p1, p2 in zip(m1.parameters(), m2.parameters()):
            assert _same(p1, p2)
            assert _same(p1.grad, p2.grad)
    return compiled


def _mlp(n_in=4, hidden=(16, 16), n_out=3):
    return lambda: nn.MLP(n_in, list(hidden), n_out)


@pytest.mark.parametrize(
    "build_opt",
    [
        lambda ps: cr.optim.SGD(ps, lr=0.1),
        lambda ps: cr.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
        lambda ps: cr.optim.Adam(ps, lr=0.01, weight_decay=1e-2),
        lambda ps: cr.optim.AdamW(ps, lr=0.01),
        lambda ps: cr.optim.RMSprop(ps, lr=0.01),
    ],
    ids=["sgd", "sgd-nesterov-decay", "adam-decay", "adamw", "rmsprop"],
)
def test_mlp_step_is_eager_bit_for_bit(build_opt):
    compiled = _run_both(_mlp(), build_opt, F.cross_entropy, _batches(4))
    assert compiled.reason is None
    assert compiled.replays == STEPS - 2


@pytest.mark.parametrize(
    "loss_fn,reg",
    [(F.cross_entropy, 0.0), (F.multi_margin_loss, 1e-3), (F.cross_entropy, 5e-4)],
    ids=["linear-softmax", "linear-svm-l2", "linear-softmax-l2"],
)
def test_linear_classifiers(loss_fn, reg):
    compiled = _run_both(
        lambda: nn.Linear(5, 3), lambda ps: cr.optim.SGD(ps, lr=0.05), loss_fn, _batches(5), reg
    )
    assert compiled.replays == STEPS - 2


def test_float64_and_other_activations():
    def build():
        return nn.Sequential(
            nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 8), nn.Sigmoid(), nn.Linear(8, 2)
        )

    cr.set_default_dtype(cr.float64)
    try:
        batches = _batches(3, 2, dtype=np.float64)
        compiled = _run_both(build, lambda ps: cr.optim.Adam(ps, lr=0.01), F.cross_entropy, batches)
    finally:
        cr.set_default_dtype(cr.float32)
    assert compiled.replays == STEPS - 2


def test_convnet():
    from chainrule.train.convnet import ConvNet

    rng = np.random.default_rng(2)
    batches = [
        (
            cr.tensor(rng.standard_normal((4, 1, 8, 8)).astype(np.float32)),
            cr.tensor(rng.integers(0, 3, 4)),
        )
        for _ in range(4)
    ]
    compiled = _run_both(
        lambda: ConvNet((8, 8), 3, channels=(4,), kernel_size=3, hidden=8),
        lambda ps: cr.optim.SGD(ps, lr=0.1, momentum=0.9),
        F.cross_entropy,
        batches,
    )
    assert compiled.reason is None and compiled.replays == 2


def test_dropout_draws_new_masks_like_eager():
    def build():
        return nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 3))

    m1, _, eager = _setup(build, lambda ps: cr.optim.SGD(ps, lr=0.1), F.cross_entropy)
    m2, _, step = _setup(build, lambda ps: cr.optim.SGD(ps, lr=0.1), F.cross_entropy)
    compiled = cr_compile(step)
    x, y = _batches(4)[0]
    cr.manual_seed(3)
    eager_losses = [eager(x, y) for _ in range(STEPS)]
    cr.manual_seed(3)
    compiled_losses = [compiled(x, y) for _ in range(STEPS)]
    assert compiled.replays == STEPS - 2
    for a, b in zip(eager_losses, compiled_losses):
        assert _same(a, b)
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        assert _same(p1, p2)
    # one batch, weights moving slowly: equal losses would mean the same mask every step
    assert len({float(v.item()) for v in compiled_losses[2:]}) > 1
    # and the generator moved on exactly as eager's did
    cr.manual_seed(3)
    for _ in range(STEPS):
        eager(x, y)
    after_eager = cr.rand(3).numpy()
    cr.manual_seed(3)
    for _ in range(STEPS):
        compiled(x, y)
    assert np.array_equal(cr.rand(3).numpy(), after_eager)


def test_shared_weights_views_and_accumulated_grads():
    """A layer used twice (gradients summed in the engine's order), a view of a parameter
    (w.T, w[0]), and gradients accumulated over two steps (zero_grad(set_to_none=False))."""

    def run(compiled: bool):
        cr.manual_seed(0)
        lin = nn.Linear(4, 4)
        w = cr.randn(4, 3, requires_grad=True)
        opt = cr.optim.SGD([*lin.parameters(), w], lr=0.01)

        def step(x, y, zero):
            if zero:
                opt.zero_grad(set_to_none=False)
            h = lin(lin(x).relu()) + x
            scores = h @ w + w[0] + (w.T @ w).sum() * 1e-3
            loss = F.cross_entropy(scores, y)
            loss.backward()
            if zero:
                opt.step()
            return loss, scores

        fn = cr_compile(step) if compiled else step
        out = []
        for i, (x, y) in enumerate(_batches(4, steps=8)):
            loss, scores = fn(x, y, i % 2 == 1)
            out.append((loss, scores, [p.grad for p in opt.param_groups[0]["params"]]))
        return out, fn, [*lin.parameters(), w]

    eager, _, p1 = run(False)
    compiled, fn, p2 = run(True)
    assert fn.replays == 4  # two keys (zero True/False), each recorded twice
    for (l1, s1, g1), (l2, s2, g2) in zip(eager, compiled):
        assert _same(l1, l2) and _same(s1, s2)
        assert all(_same(a, b) for a, b in zip(g1, g2))
    assert all(_same(a, b) for a, b in zip(p1, p2))


def test_input_gradient():
    cr.manual_seed(0)
    lin = nn.Linear(3, 2)

    def step(x):
        loss = (lin(x) ** 2).mean()
        loss.backward()
        return loss

    compiled = cr_compile(step)
    rng = np.random.default_rng(0)
    for _ in range(4):
        data = rng.standard_normal((5, 3)).astype(np.float32)
        x1, x2 = cr.tensor(data, requires_grad=True), cr.tensor(data, requires_grad=True)
        lin.zero_grad()
        step(x1)
        g1 = lin.weight.grad
        lin.zero_grad()
        compiled(x2)
        assert _same(x1.grad, x2.grad) and _same(g1, lin.weight.grad)
    assert compiled.replays == 2


def test_gradients_by_finite_differences_float64():
    """The replayed gradient is the derivative: central differences in float64."""
    cr.manual_seed(0)
    w = cr.randn(3, 2, dtype=cr.float64, requires_grad=True)

    x = cr.randn(5, 3, dtype=cr.float64)
    y = cr.tensor([0, 1, 1, 0, 1])
    opt = cr.optim.SGD([w], lr=0.0)

    def step2(x, y):
        opt.zero_grad()
        loss = F.cross_entropy((x @ w).tanh(), y)
        loss.backward()
        return loss

    compiled = cr_compile(step2)
    for _ in range(3):
        compiled(x, y)
    assert compiled.replays == 1
    grad = w.grad.numpy().copy()
    base = w.detach().numpy().copy()
    eps = 1e-6

    def loss_at(moved):
        with cr.no_grad():
            return F.cross_entropy((x @ cr.tensor(moved)).tanh(), y).item()

    for i in np.ndindex(*base.shape):
        plus, minus = base.copy(), base.copy()
        plus[i] += eps
        minus[i] -= eps
        assert abs((loss_at(plus) - loss_at(minus)) / (2 * eps) - grad[i]) < 1e-6


def test_against_pytorch():
    torch = pytest.importorskip("torch")
    cr.manual_seed(0)
    model = nn.MLP(4, [8], 3)
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    tmodel = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    with torch.no_grad():
        for tp, p in zip(tmodel.parameters(), model.parameters()):
            tp.copy_(torch.from_numpy(p.numpy(force=True)))
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1)

    @cr_compile
    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for x, y in _batches(4):
        loss = step(x, y)
        topt.zero_grad()
        tloss = torch.nn.functional.cross_entropy(
            tmodel(torch.from_numpy(x.numpy())), torch.from_numpy(y.numpy())
        )
        tloss.backward()
        topt.step()
        assert abs(loss.item() - tloss.item()) < 1e-5
    assert step.replays == STEPS - 2
    for tp, p in zip(tmodel.parameters(), model.parameters()):
        np.testing.assert_allclose(p.numpy(force=True), tp.detach().numpy(), atol=1e-5)


# ----- guards: a change records again, and the numbers stay eager's -----
def test_new_shapes_and_learning_rates_are_honoured():
    m1, o1, eager = _setup(_mlp(), lambda ps: cr.optim.SGD(ps, lr=0.1), F.cross_entropy)
    m2, o2, step = _setup(_mlp(), lambda ps: cr.optim.SGD(ps, lr=0.1), F.cross_entropy)
    s1 = cr.optim.lr_scheduler.StepLR(o1, step_size=1, gamma=0.5)
    s2 = cr.optim.lr_scheduler.StepLR(o2, step_size=1, gamma=0.5)
    compiled = cr_compile(step)
    batches = _batches(4, batch=8) + _batches(4, batch=5)  # a last, smaller batch: a new key
    for i, (x, y) in enumerate(batches):
        assert _same(eager(x, y), compiled(x, y))
        if i % 3 == 2:
            s1.step()
            s2.step()
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        assert _same(p1, p2)
    assert compiled.replays == len(batches) - 4


def test_training_flag_and_replaced_parameter_record_again():
    def build():
        return nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 3))

    cr.manual_seed(0)
    model = build()

    def forward(x):
        return model(x)

    compiled = cr_compile(forward)
    x = cr.randn(2, 4)
    with cr.no_grad():
        model.eval()
        for _ in range(3):
            out = compiled(x)
        assert compiled.replays == 1 and _same(out, model(x))
        model.train()  # dropout on: the recorded program no longer applies
        cr.manual_seed(5)
        a = compiled(x)
        cr.manual_seed(5)
        assert _same(a, model(x))
        model.eval()
        model[0].weight = nn.Parameter(cr.randn(8, 4))  # a new parameter object
        assert _same(compiled(x), model(x))
        model[0].weight.data = cr.randn(8, 4, dtype=cr.float64)  # a new dtype
        assert _same(compiled(x), model(x))


def test_compiled_module_replays_without_gradients_only():
    cr.manual_seed(0)
    model = nn.MLP(4, [8], 3)
    compiled = cr_compile(model)
    x = cr.randn(5, 4)
    with cr.no_grad():
        for _ in range(3):
            out = compiled(x)
    assert compiled.replays == 1 and _same(out, model(x))
    assert compiled.parameters is not None  # the module's attributes pass through
    with pytest.warns(UserWarning, match="builds no graph"):
        for _ in range(3):
            out = compiled(x)
    assert out.grad_fn is not None  # eager: backward works
    out.sum().backward()
    assert model[0].weight.grad is not None
    with cr.no_grad():
        compiled(x)
    assert compiled.replays == 2  # the no_grad key still replays


# ----- what cannot be replayed: detected, warned once, run eagerly -----
def _untraceable_steps():
    cr.manual_seed(0)
    lin = nn.Linear(3, 2)
    opt = cr.optim.SGD(lin.parameters(), lr=0.1)
    calls = [0]
    counter = itertools.count(1)

    def item(x):
        opt.zero_grad()
        loss = lin(x).sum()
        if loss.item() > 1e9:  # data-dependent control flow
            return loss
        loss.backward()
        opt.step()
        return loss

    def branch(x):  # a Python counter the guards cannot read: the two recordings differ
        out = lin(x)
        return (out.relu() if next(counter) % 2 else out.tanh()).sum()

    def noise(x):
        return (lin(x) + cr.randn(2)).sum()

    def hook(x):
        h = lin(x)
        h.register_hook(lambda g: g * 2)
        loss = h.sum()
        loss.backward()
        return loss

    def graph(x):
        loss = (lin(x) ** 2).sum()
        (g,) = cr.autograd.grad(loss, lin.weight, create_graph=True)
        return g

    def inplace(x):
        w = lin.weight.detach()
        w.add_(1.0)
        return lin(x).sum()

    def given(x):
        out = lin(x)
        out.backward(cr.ones_like(out))
        return out

    def lr(x):  # a schedule inside the step: a replay would not repeat it
        calls[0] += 1
        opt.zero_grad()
        loss = lin(x).sum()
        loss.backward()
        opt.param_groups[0]["lr"] = 0.1 / calls[0]
        opt.step()
        return loss

    return {
        "item": (item, "item"),
        "branch": (branch, "differ"),
        "noise": (noise, "random draw"),
        "hook": (hook, "hook"),
        "graph": (graph, "autograd.grad"),
        "inplace": (inplace, "in-place"),
        "given": (given, "gradient="),
        "lr": (lr, "hyperparameters"),
    }


@pytest.mark.parametrize("name", list(_untraceable_steps()))
def test_untraceable_steps_warn_once_and_run_eagerly(name):
    fn, why = _untraceable_steps()[name]
    compiled = cr_compile(fn)
    x = cr.randn(4, 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(5):
            compiled(x)
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert len(messages) == 1 and why in messages[0], messages
    assert compiled.reason is not None and compiled.replays == 0


def test_untraceable_step_gives_eager_results():
    m1, o1, _ = _setup(_mlp(), lambda ps: cr.optim.SGD(ps, lr=0.1), F.cross_entropy)

    def eager(x, y):
        o1.zero_grad()
        loss = F.cross_entropy(m1(x), y)
        loss.backward()
        o1.step()
        return loss.item()

    m2, o2, _ = _setup(_mlp(), lambda ps: cr.optim.SGD(ps, lr=0.1), F.cross_entropy)

    def step(x, y):
        o2.zero_grad()
        loss = F.cross_entropy(m2(x), y)
        loss.backward()
        o2.step()
        return loss.item()

    compiled = cr_compile(step)
    with pytest.warns(UserWarning, match="item"):
        for x, y in _batches(4):
            assert eager(x, y) == compiled(x, y)
    assert all(_same(a, b) for a, b in zip(m1.parameters(), m2.parameters()))


def test_bad_arguments():
    with pytest.raises(TypeError, match="function or a Module"):
        cr_compile(3)
    with pytest.raises(ValueError, match="cache_size"):
        cr_compile(lambda x: x, cache_size=0)


def test_strict_device():
    pytest.importorskip("array_api_strict")
    where = "strict:1"

    def build():
        return nn.MLP(4, [8], 3).to(where)

    batches = [(x.to(where), y.to(where)) for x, y in _batches(4)]
    compiled = _run_both(build, lambda ps: cr.optim.Adam(ps, lr=0.01), F.cross_entropy, batches)
    assert compiled.replays == STEPS - 2


# ----- chainrule train: compiled by default, --no-compile the same numbers -----
TRAIN_RUNS = {
    "mlp-adam": ["--epochs", "2"],
    "svm-momentum-reg-clip": [
        "--model", "linear", "--loss", "svm", "--optimizer", "momentum", "--reg", "1e-3",
        "--clip-grad", "1.0", "--schedule", "cosine", "--epochs", "2",
    ],
    "convnet": [
        "--model", "convnet", "--channels", "4", "--hidden", "16", "--epochs", "1",
    ],
}  # fmt: skip


@pytest.mark.parametrize("name", list(TRAIN_RUNS))
def test_train_compiled_equals_no_compile(tmp_path, name, monkeypatch):
    """Two short ``chainrule train`` runs, compiled and ``--no-compile``: the same weights (best
    and checkpoint, optimizer buffers included) and metrics, bit for bit; the compiled run
    really replayed."""
    from chainrule.cli import main
    from chainrule.serialization import load
    from chainrule.train import step as step_module
    from chainrule.train.run import RunFolder

    made = []
    original = step_module.TrainStep.__init__

    def spy(self, *args, **kwargs):
        original(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(step_module.TrainStep, "__init__", spy)
    runs = {}
    for mode, extra in (("compiled", []), ("eager", ["--no-compile"])):
        out = tmp_path / mode
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # a fallback would warn
            assert main(["train", *TRAIN_RUNS[name], "--quiet", "--out", str(out), *extra]) == 0
        runs[mode] = out
    compiled_step, eager_step = made
    assert compiled_step.compiled is not None and compiled_step.compiled.replays > 10
    assert eager_step.compiled is None
    a, b = runs["compiled"], runs["eager"]
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in RunFolder(a).read_metrics()]
    assert strip == [
        {k: v for k, v in r.items() if k != "seconds"} for r in RunFolder(b).read_metrics()
    ]
    for file in ("model.safetensors", "checkpoint.safetensors"):
        ta, tb = load(a / file), load(b / file)
        assert ta.keys() == tb.keys()
        for k in ta:
            assert _same(ta[k], tb[k]), (file, k)


def test_the_same_tensor_twice_is_another_key():
    def f(a, b):
        return (a * 2 + b).sum()

    compiled = cr_compile(f)
    x, a, b = cr.randn(3), cr.randn(3), cr.randn(3)
    for _ in range(3):
        assert _same(compiled(x, x), f(x, x))
    assert compiled.replays == 1
    for _ in range(3):  # two different tensors: not the program of f(x, x)
        assert _same(compiled(a, b), f(a, b))
    assert compiled.replays == 2


def test_a_parameter_passed_as_an_argument_is_refused():
    cr.manual_seed(0)
    lin = nn.Linear(3, 2)

    def f(w, x):
        return (lin(x) * w.sum()).sum()

    compiled = cr_compile(f)
    with pytest.warns(UserWarning, match="passed as an argument"):
        with cr.no_grad():
            for _ in range(3):
                compiled(lin.weight, cr.randn(4, 3))
    assert compiled.replays == 0


def test_rebinding_the_optimizer_or_a_layer_records_again():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    opt = cr.optim.SGD(model.parameters(), lr=0.1)

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    compiled = cr_compile(step)
    batches = _batches(3, 2, steps=9)
    for x, y in batches[:3]:
        compiled(x, y)
    assert compiled.replays == 1
    opt = cr.optim.SGD(model.parameters(), lr=0.0)  # noqa: F841  (read by step)
    before = [p.numpy(force=True).copy() for p in model.parameters()]
    for x, y in batches[3:6]:
        compiled(x, y)  # the new optimizer, lr 0: nothing moves
    assert all(np.array_equal(a, p.numpy(force=True)) for a, p in zip(before, model.parameters()))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def forward(self, x):
            return self.fc(x)

    net = Net()
    forward = cr_compile(net)
    x = batches[0][0]
    with cr.no_grad():
        for _ in range(3):
            forward(x)
        assert forward.replays == 1
        net.fc = nn.Linear(3, 2)  # a new layer: its parameters, not the old ones
        assert _same(forward(x), net(x))


def test_code_shows_the_replay_in_eager_order():
    """``code`` is the replay's own source: the ops' forwards in the step's order, then their
    backwards in the engine's order, then the optimizer's step; None until there is a
    program."""
    _, opt, step = _setup(_mlp(), lambda ps: cr.optim.SGD(ps, lr=0.1), F.cross_entropy)
    compiled = cr_compile(step)
    batches = _batches(4, steps=3)
    compiled(*batches[0])
    assert compiled.code is None  # recorded once: no program yet
    for x, y in batches[1:]:
        compiled(x, y)
    lines = [ln.strip() for ln in compiled.code.splitlines()]
    calls = [
        ln.split("=", 1)[1].split("(")[0].strip().rstrip("0123456789")
        for ln in lines
        if ln.startswith(("o = ", "r = "))
    ]
    assert calls == [
        "Linear_forward",
        "ReLU_forward",
        "Linear_forward",
        "ReLU_forward",
        "Linear_forward",
        "CrossEntropy_forward",
        "CrossEntropy_backward",
        "Linear_backward",
        "ReLU_backward",
        "Linear_backward",
        "ReLU_backward",
        "Linear_backward",
    ]
    assert any(ln.startswith("sgd") and ".step(" in ln for ln in lines)


def test_a_replay_holds_no_array_after_the_call():
    """As eager frees its graph after backward, a replay lets go of its activations: nothing the
    program keeps between calls refers to an array of the last call."""
    from chainrule.compiler.program import Program

    _, _, step = _setup(_mlp(), lambda ps: cr.optim.SGD(ps, lr=0.1), F.cross_entropy)
    compiled = cr_compile(step)
    for x, y in _batches(4, steps=3):
        loss = compiled(x, y)
    (program,) = [p for p in compiled._cache.values() if isinstance(p, Program)]
    assert all(argv[pos] is None for argv, pos in program.held)
    assert all(ctx.saved == () for ctx in program.contexts) and program.contexts
    assert loss.shape == ()  # what the call returned stays valid


def test_batch_norm_in_training_runs_eagerly_and_in_evaluation_replays():
    """Its running statistics change in place outside any op: a replay would not update them,
    so training runs eagerly (warned); evaluation only reads them, and replays."""
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    opt = cr.optim.SGD(model.parameters(), lr=0.1)

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    compiled = cr_compile(step)
    with pytest.warns(UserWarning, match="in-place change"):
        for x, y in _batches(4, steps=3):
            compiled(x, y)
    assert compiled.replays == 0
    assert int(model[1].num_batches_tracked.item()) == 3  # every call updated the statistics
    model.eval()
    forward = cr_compile(model)
    x = _batches(4)[0][0]
    with cr.no_grad():
        for _ in range(3):
            out = forward(x)
        assert forward.replays == 1 and _same(out, model(x))


def test_a_tensor_computed_from_values_outside_ops_is_never_baked():
    """Code that computes on an argument's array directly (outside any op) makes a new tensor
    each call. Two recordings on equal arguments cannot tell it from a constant, so the third
    call records again; values that differ then make the step eager, with eager's results."""
    cr.manual_seed(0)
    lin = nn.Linear(3, 2)

    def f(x):
        scale = cr.Tensor._make(x._data * 0 + x._data.sum())  # from the values, not an op
        return (lin(x) * scale[:, :2]).sum()

    compiled = cr_compile(f)
    x = cr.randn(4, 3)
    with cr.no_grad():
        compiled(x)
        compiled(cr.tensor(x.numpy().copy()))  # equal values, another tensor
        x2 = cr.randn(4, 3)
        with pytest.warns(UserWarning, match="differs between calls"):
            assert _same(compiled(x2), f(x2))
        x3 = cr.randn(4, 3)
        assert _same(compiled(x3), f(x3))
    assert compiled.replays == 0


def test_another_thread_s_ops_are_not_the_step_s():
    """While a step is recorded, another thread computing with tensors (and reading values with
    .item()) is not taken for the step: the step still replays, with eager's numbers. Grad mode
    is each thread's own, so the other thread records graphs and backpropagates its own
    (tests/autograd/test_grad_mode.py drives the two threads' modes against each other)."""
    import threading
    import time

    def make():
        cr.manual_seed(1)
        model = nn.MLP(4, [16], 3)
        opt = cr.optim.Adam(model.parameters(), lr=0.01)

        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss

        return model, step

    batches = _batches(4, steps=20)
    m1, eager = make()
    for x, y in batches:
        eager(x, y)
    m2, step = make()
    compiled = cr_compile(step)
    done = threading.Event()
    seen = []

    wrong = []

    def other():
        u, v = cr.randn(8), cr.randn(8)
        while not done.is_set():
            seen.append((u * v + 1.0).sum().item())
            a = cr.tensor(u.numpy(), requires_grad=True)
            try:
                (a * v).sum().backward()
                if not np.array_equal(a.grad.numpy(), v.numpy()):
                    wrong.append(a.grad)
            except RuntimeError as e:  # no graph was recorded
                wrong.append(e)
            time.sleep(0)  # let the training thread run

    helper = threading.Thread(target=other)
    helper.start()
    try:
        for x, y in batches:
            compiled(x, y)
            time.sleep(0)  # let the other thread run, inside the recordings too
    finally:
        done.set()
        helper.join()
    assert seen and compiled.reason is None and compiled.replays == len(batches) - 2
    assert all(_same(a, b) for a, b in zip(m1.parameters(), m2.parameters()))
    assert not wrong


def test_a_0d_result_an_op_saved_is_replaced_by_its_array():
    """NumPy hands a 0-d op's result back as a scalar; where forward saved it (Exp saves its
    output), the replay keeps the array it became, as ``apply`` does, and leaves the rest."""
    from types import SimpleNamespace

    from chainrule.compiler.program import _scalar_output

    o, other = np.exp(np.float32(0.5)), np.ones(2, np.float32)
    ctx = SimpleNamespace(saved=(o, other))
    a = _scalar_output(ctx, o)
    assert type(a) is np.ndarray and a.shape == () and a.dtype == np.float32 and a == o
    assert ctx.saved[0] is a and ctx.saved[1] is other
    ctx = SimpleNamespace(saved=())
    assert _scalar_output(ctx, o) == o and ctx.saved == ()


# ----- values computed from the step's values without a gradient -----
#: Steps that use a function of values without gradient (a comparison, argmax, a logical op,
#: isnan, sign, max-pool's indices): each is an op, recorded and computed again at replay. The
#: two recordings see inputs of the same signs and the same arg-max, so the masks, indices
#: and signs are equal in both: had they been made outside ops they would pass for constants.
VALUE_STEPS = {
    "mask": lambda w, x: (w * x * (x > 0)).sum(),
    "where": lambda w, x: (w * cr.where(x < 0.5, x, 2 * x)).sum(),
    "float mask": lambda w, x: (w * (x >= 0).float() * x).sum(),
    "argmax": lambda w, x: (w * x.argmax()).sum() + (w * (x == x.max())).sum(),
    "index by argmax": lambda w, x: w[x.argmax()] * x.sum(),
    "logical": lambda w, x: (w * ~((x > 0) & (x < 1)) + w * ((x > 1) | (x < -1)) * x).sum(),
    "isnan": lambda w, x: (w * x.isnan().logical_not() * x.isfinite()).sum() * x.sum(),
    "sign": lambda w, x: (w * x.sign() * x).sum(),
    "max_pool indices": lambda w, x: (
        (
            w * F.max_pool2d(x.reshape(1, 1, 2, 2), 2, return_indices=True)[1].reshape(()).float()
        ).sum()
        + (w * x).sum()
    ),
}


@pytest.mark.parametrize("name", VALUE_STEPS)
def test_values_computed_without_gradient_are_computed_again_at_each_replay(name):
    f = VALUE_STEPS[name]
    # the same signs and arg-max (index 2) twice, then other signs and another arg-max
    xs = [[0.2, -0.7, 0.9, -0.1], [0.3, -0.4, 0.8, -0.2], [-0.5, 0.6, 0.1, 2.0]]
    xs += [[1.5, 0.25, -3.0, -0.5], [-0.1, -0.2, -0.3, -0.05], [0.7, 0.6, 0.5, 0.4]]

    def runs(compiled: bool):
        w = cr.tensor([1.0, -2.0, 3.0, 0.5], dtype=cr.float64, requires_grad=True)

        def step(x):
            loss = f(w, x)
            loss.backward()
            return loss

        run = cr_compile(step) if compiled else step
        out = []
        for v in xs:
            w.grad = None
            loss = run(cr.tensor(v, dtype=cr.float64))
            out.append((loss.detach().clone(), w.grad.clone()))
        return out, run

    eager, _ = runs(False)
    compiled, run = runs(True)
    assert run.replays == len(xs) - 2, run.reason
    for k, ((le, ge), (lc, gc)) in enumerate(zip(eager, compiled)):
        assert _same(le, lc) and _same(ge, gc), f"call {k}: the replay differs from eager"


def test_one_hot_reads_the_labels_so_its_step_runs_eagerly():
    # one_hot checks the labels' range in Python: a replay could not repeat that check, so the
    # step runs eagerly (with a warning), and its results are eager's
    w = cr.tensor([1.0, -2.0, 3.0], dtype=cr.float64, requires_grad=True)

    def step(y):
        loss = (w * F.one_hot(y, 3).double()).sum()
        loss.backward()
        return loss

    compiled = cr_compile(step)
    with pytest.warns(UserWarning, match="reads a value into Python"):
        losses = [float(compiled(cr.tensor(y)).item()) for y in ([0, 1], [2, 2], [1, 0])]
    assert losses == [-1.0, 6.0, -1.0] and compiled.replays == 0


@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss", "multi_margin_loss"])
def test_class_targets_are_checked_and_masked_again_at_each_replay(loss):
    """Which targets equal ignore_index (-100 by default), and whether one is out of range, is
    decided by the op on the arrays at every call: recorded on batches without either, a
    replay on a batch with -100 gives eager's numbers (120 classes: -100 would index one), and
    an index out of range raises eager's IndexError instead of wrapping around."""
    rng = np.random.default_rng(3)
    w = cr.tensor(rng.standard_normal((5, 120)), dtype=cr.float64, requires_grad=True)
    fn = getattr(F, loss)
    if loss == "nll_loss":
        fn = lambda s, y: F.nll_loss(s.log_softmax(1), y)  # noqa: E731

    def step(x, y):
        out = fn(x @ w, y)
        out.backward()
        return out

    compiled = cr_compile(step)
    xs = [cr.tensor(rng.standard_normal((4, 5)), dtype=cr.float64) for _ in range(4)]
    ys = [[3, 7, 119, 0], [1, 2, 3, 4], [5, -100, 6, -100], [-100, 8, 9, 10]]
    for k, (x, yv) in enumerate(zip(xs, ys)):
        y = cr.tensor(yv)
        if loss == "multi_margin_loss" and -100 in yv:  # no ignore_index: out of range
            for f in (step, compiled):
                with pytest.raises(IndexError, match="target -100 is out of range"):
                    f(x, y)
            continue
        assert _same_as_eager(step, compiled, w, x, y), f"call {k} differs from eager"
    assert compiled.replays >= 1
    for f in (step, compiled):
        with pytest.raises(IndexError, match="target -1 is out of range"):
            f(xs[0], cr.tensor([1, -1, 2, 3]))


def test_constants_made_inside_the_step_take_part_in_its_backward():
    """Tensors the step makes from Python values (cr.tensor, cr.ones, cr.arange) are constants
    of the program; the ops that take them are backpropagated through at replay (building the
    program failed on them: it looked for an op that made them)."""
    w = cr.tensor([1.0, 2.0, -1.0], requires_grad=True)

    def step(x):
        scale = cr.tensor([2.0, 3.0, 0.5]) * cr.ones(3) + cr.arange(3.0)
        loss = (w * x * scale).sum() + (w * cr.tensor(0.25)).sum()
        loss.backward()
        return loss

    compiled = cr_compile(step)
    for k in range(5):
        assert _same_as_eager(step, compiled, w, cr.tensor([1.0, float(k), -2.0])), f"call {k}"
    assert compiled.replays == 3


WEIGHTED_LOSSES = {
    "cross_entropy": lambda s, x, y, cw: F.cross_entropy(s, y, weight=cw),
    "soft cross_entropy": lambda s, x, y, cw: F.cross_entropy(s, F.softmax(x[:, :3], 1), weight=cw),
    "nll_loss": lambda s, x, y, cw: F.nll_loss(s.log_softmax(1), y, weight=cw),
    "binary_cross_entropy": lambda s, x, y, cw: F.binary_cross_entropy(
        s.sigmoid(), (x[:, :3] > 0).double(), weight=cw
    ),
    "with_logits": lambda s, x, y, cw: F.binary_cross_entropy_with_logits(
        s, (x[:, :3] > 0).double(), weight=cw, pos_weight=cw
    ),
    "multi_margin_loss": lambda s, x, y, cw: F.multi_margin_loss(s, y, weight=cw),
}


@pytest.mark.parametrize("kind", ["same dtype", "cast", "numpy"])
@pytest.mark.parametrize("name", WEIGHTED_LOSSES)
def test_a_loss_weight_changed_in_place_is_read_again_at_replay(name, kind):
    """A loss's class or element weights are copied into the input's dtype by an op (clone or
    cast), so a replay copies the weight tensor's values again: after an in-place change of the
    weights, the replay uses the new ones, as eager does (it kept the recording's before). A
    NumPy array goes into that op as a tensor sharing its memory: its changes are seen too."""
    rng = np.random.default_rng(4)
    w = cr.tensor(rng.standard_normal((4, 3)), dtype=cr.float64, requires_grad=True)
    values = np.array([1.0, 2.0, 0.5])
    cw = values if kind == "numpy" else cr.tensor(values, dtype={"cast": cr.float32}.get(kind))
    loss_fn = WEIGHTED_LOSSES[name]

    def step(x, y):
        loss = loss_fn(x @ w, x, y, cw)
        loss.backward()
        return loss

    compiled = cr_compile(step)
    for k in range(6):
        if k == 4:
            with cr.no_grad():
                cw *= 3.0  # in place: a NumPy array's *=, a tensor's mul_
        x = cr.tensor(rng.standard_normal((4, 4)), dtype=cr.float64)
        y = cr.tensor(rng.integers(0, 3, 4))
        assert _same_as_eager(step, compiled, w, x, y), f"call {k} differs from eager"
    assert compiled.replays == 4, compiled.reason


def test_a_module_attribute_rebound_between_calls_records_the_step_again():
    """A called module's plain attribute (a temperature, a margin) is watched by identity like
    its parameters: rebinding it between calls records the step again, so the replays that
    follow use the new value (they kept the recorded one before)."""

    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 2)
            self.temperature = 1.0

        def forward(self, x):
            return self.lin(x) / self.temperature

    def sgd(params):
        return cr.optim.SGD(params, lr=0.1)

    m1, _, eager = _setup(Scaled, sgd, F.cross_entropy)
    m2, _, step = _setup(Scaled, sgd, F.cross_entropy)
    compiled = cr_compile(step)
    for k, (x, y) in enumerate(_batches(3, n_classes=2, steps=8)):
        if k == 4:
            m1.temperature = m2.temperature = 5.0
        assert _same(eager(x, y), compiled(x, y)), f"call {k}"
    assert all(_same(a, b) for a, b in zip(m1.parameters(), m2.parameters()))
    assert compiled.replays == 4  # calls 2, 3, then 6, 7: calls 4 and 5 recorded again


#: Settings a step reads through a global (test_a_setting_read_deeper_than_a_name_...).
_SETTINGS = {"scale": 1.0}
_SCALE = 1.0


def _scaled_globally(loss):
    return loss * _SCALE


class _Config:
    scale = 1.0


def _deep_settings():
    """Steps that read the loss's scale deeper than a name they hold, each with the change to
    make between calls: (make the step for a model and optimizer, change the setting)."""
    local = {"scale": 1.0}
    weights = [1.0]
    nested = ({"scale": 1.0},)
    config = types.SimpleNamespace(loss=types.SimpleNamespace(scale=1.0))

    class Trainer:
        scale = 1.0

        def __init__(self, model, opt):
            self.model, self.opt, self.config = model, opt, config

        def step(self, x, y):
            return _train(self.model, self.opt, x, y, self.config.loss.scale)

        def step_class(self, x, y):
            return _train(self.model, self.opt, x, y, self.scale)

        def step_helper(self, x, y):
            return _train(self.model, self.opt, x, y, self.helper())

        def helper(self):
            return self.config.loss.scale

    settings = {"t": 1.0}

    class Tempered(nn.Module):
        def __init__(self, model):
            super().__init__()
            self.inner, self.settings = model, settings

        def forward(self, x):
            return self.inner(x) / self.temperature()

        def temperature(self):
            return self.settings["t"]

    def tempered(model, opt):
        wrapped = Tempered(model)
        return lambda x, y: _train(wrapped, opt, x, y, 1.0)

    def by_closure(read):
        return lambda model, opt: lambda x, y: _train(model, opt, x, y, read())

    def set_global(name, value):
        globals()[name] = value

    return {
        "dict in a closure": (by_closure(lambda: local["scale"]), lambda: local.update(scale=5.0)),
        "dict in a global": (
            lambda model, opt: lambda x, y: _train(model, opt, x, y, _SETTINGS["scale"]),
            lambda: _SETTINGS.update(scale=5.0),
        ),
        "list item": (by_closure(lambda: weights[0]), lambda: weights.__setitem__(0, 5.0)),
        "dict in a tuple": (
            by_closure(lambda: nested[0]["scale"]),
            lambda: nested[0].update(scale=5.0),
        ),
        "object's object's attribute": (
            lambda model, opt: Trainer(model, opt).step,
            lambda: setattr(config.loss, "scale", 5.0),
        ),
        "class attribute": (
            by_closure(lambda: _Config.scale),
            lambda: setattr(_Config, "scale", 5.0),
        ),
        "the step's class attribute": (
            lambda model, opt: Trainer(model, opt).step_class,
            lambda: setattr(Trainer, "scale", 5.0),
        ),
        "through a method of the step's object": (
            lambda model, opt: Trainer(model, opt).step_helper,
            lambda: setattr(config.loss, "scale", 5.0),
        ),
        "through a method of a called module": (
            tempered,
            lambda: settings.update(t=5.0),
        ),
        "a helper's global": (
            lambda model, opt: lambda x, y: _train(model, opt, x, y, 1.0, _scaled_globally),
            lambda: set_global("_SCALE", 5.0),
        ),
    }


def _train(model, opt, x, y, scale, then=None):
    opt.zero_grad()
    loss = F.cross_entropy(model(x), y) * scale
    loss = then(loss) if then is not None else loss
    loss.backward()
    opt.step()
    return loss


@pytest.mark.parametrize("name", list(_deep_settings()))
def test_a_setting_read_deeper_than_a_name_records_the_step_again(name, monkeypatch):
    """A setting the step reads through what a name holds (a dict's item, a list's, an
    object's attribute, a class's, a helper function's global) and that changes between calls
    records the step again, as a rebound name does: the replays after it use the new value.
    They multiplied by the recorded one before, silently (cr.compile watched names only)."""
    monkeypatch.setitem(_SETTINGS, "scale", 1.0)
    monkeypatch.setattr(_Config, "scale", 1.0)
    monkeypatch.setitem(globals(), "_SCALE", 1.0)
    make, change = _deep_settings()[name]

    def sgd(params):
        return cr.optim.SGD(params, lr=0.1)

    m1, o1, _ = _setup(lambda: nn.Linear(3, 2), sgd, F.cross_entropy)
    m2, o2, _ = _setup(lambda: nn.Linear(3, 2), sgd, F.cross_entropy)
    eager, compiled = make(m1, o1), cr_compile(make(m2, o2))
    for k, (x, y) in enumerate(_batches(3, n_classes=2, steps=8)):
        if k == 4:
            change()
        assert _same(eager(x, y), compiled(x, y)), f"call {k}"
    assert all(_same(a, b) for a, b in zip(m1.parameters(), m2.parameters()))
    assert compiled.replays == 4  # calls 2, 3, then 6, 7: calls 4 and 5 recorded again


def test_what_the_step_does_not_name_may_change_between_replays():
    """Deeper than a name, only what the step's code names is watched: an object the step
    reaches, whose other attributes change at every call (the last loss, set after the call;
    a method of the same name as one the step calls, whose code names that attribute), does
    not make the step record again: it goes on replaying."""

    class Runner:
        def __init__(self):
            self.model = nn.Linear(3, 2)
            self.opt = cr.optim.SGD(self.model.parameters(), lr=0.1)
            runner = self
            self.compiled = cr_compile(lambda x, y: _train(runner.model, runner.opt, x, y, 1.0))
            self.last = None

        def step(self, x, y):  # "step" is named by the step's code too (opt.step())
            self.last = self.compiled(x, y)

    runner = Runner()
    for x, y in _batches(3, n_classes=2, steps=6):
        runner.step(x, y)
    assert runner.compiled.replays == 4


def _changes_between_calls():
    """What a user may change between two calls of a compiled step, outside it: each is
    (model, optimizer) -> None, made after the step has replayed."""

    def set_grad(m, opt):
        m[0].weight.grad = cr.ones_like(m[0].weight)

    def scale_in_place(m, opt):
        with cr.no_grad():
            m[0].weight.mul_(0.5)

    def load(m, opt):
        m.load_state_dict({k: v * 0 + 0.1 for k, v in m.state_dict().items()})

    return {
        "freeze a weight": lambda m, opt: m[0].weight.requires_grad_(False),
        "a hook on a weight": lambda m, opt: m[0].weight.register_hook(lambda g: g * 0),
        "a weight scaled in place": scale_in_place,
        "a weight's .data replaced": lambda m, opt: setattr(m[0].weight, "data", m[0].weight * 2),
        "momentum switched on": lambda m, opt: opt.param_groups[0].update(momentum=0.9),
        "weight decay switched on": lambda m, opt: opt.param_groups[0].update(weight_decay=0.1),
        "a learning rate": lambda m, opt: opt.param_groups[0].update(lr=0.5),
        "a .grad left from before": set_grad,
        "a bias removed": lambda m, opt: setattr(m[2], "bias", None),
        "load_state_dict": load,
        "evaluation mode": lambda m, opt: m.eval(),
    }


@pytest.mark.parametrize("name", list(_changes_between_calls()))
def test_a_change_between_calls_gives_eager_s_numbers(name):
    """Each change above, made between two replays, then the steps after it: the compiled
    step's losses, weights and gradients stay eager's, bit for bit (it replays where the
    change leaves the recording valid, and records again where it does not)."""
    change = _changes_between_calls()[name]

    def build():
        cr.manual_seed(0)
        m = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2))
        return m, cr.optim.SGD(m.parameters(), lr=0.1)

    (m1, o1), (m2, o2) = build(), build()
    eager = lambda x, y: _train(m1, o1, x, y, 1.0)  # noqa: E731
    compiled = cr_compile(lambda x, y: _train(m2, o2, x, y, 1.0))
    for k, (x, y) in enumerate(_batches(3, n_classes=2, steps=8)):
        if k == 4:
            change(m1, o1)
            change(m2, o2)
        assert _same(eager(x, y), compiled(x, y)), f"call {k}"
        for a, b in zip(m1.parameters(), m2.parameters()):
            assert _same(a, b) and (a.grad is None) == (b.grad is None), f"call {k}"
            assert a.grad is None or _same(a.grad, b.grad), f"call {k}"
    assert compiled.replays >= 2  # calls 2 and 3 at least


def test_a_list_the_step_appends_to_keeps_it_running_eagerly():
    """A step that appends to a list it reaches by name changes a watched list at every call:
    it is recorded again each time and never replayed, so every call appends, as eagerly (a
    replay, which runs no Python of the step, appended nothing before)."""
    lin = nn.Linear(3, 2)
    opt = cr.optim.SGD(lin.parameters(), lr=0.1)
    history = []

    def step(x, y):
        loss = _train(lin, opt, x, y, 1.0)
        history.append(loss)
        return loss

    compiled = cr_compile(step)
    for x, y in _batches(3, n_classes=2, steps=6):
        compiled(x, y)
    assert len(history) == 6 and compiled.replays == 0


@pytest.mark.parametrize("make", ["tensor", "as_tensor"])
def test_a_tensor_copied_from_an_array_inside_the_step_copies_its_values_again(make):
    """``cr.tensor(array)`` (or ``cr.as_tensor`` into another dtype) inside the step copies the
    array's values at each replay, as eager does: a NumPy buffer refilled in place between
    calls (a batch, a target) is read again (the replays kept the recording's copy before, and
    gave other losses and weights)."""
    rng = np.random.default_rng(6)
    buffer = rng.standard_normal((4, 3))
    w = cr.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    opt = cr.optim.SGD([w], lr=0.1)

    def step(y):
        opt.zero_grad()
        x = cr.tensor(buffer) if make == "tensor" else cr.as_tensor(buffer, dtype=cr.float32)
        loss = ((x.double() @ w - y) ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    compiled = cr_compile(step)
    for k in range(6):
        if k >= 3:  # refilled in place once the step replays
            buffer[...] = rng.standard_normal((4, 3))
        y = cr.tensor(rng.standard_normal((4, 2)))
        saved = w.detach().clone()
        expected = step(y).detach().clone()
        with cr.no_grad():
            w.copy_(saved)
        assert _same(expected, compiled(y)), f"call {k}"
    assert compiled.replays == 4, compiled.reason


def test_a_copy_of_a_parameter_made_after_the_update_has_the_updated_values():
    """The copy is made again where the step first uses it: after ``opt.step()`` it holds the
    updated weights, in the replay as in eager (such a step ran eagerly before)."""
    w = cr.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    opt = cr.optim.SGD([w], lr=0.1)

    def step(x):
        opt.zero_grad()
        loss = (x @ w).sum()
        loss.backward()
        opt.step()
        return cr.tensor(w) * 2  # the weights after this step's update

    eager_w = cr.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    eager_opt = cr.optim.SGD([eager_w], lr=0.1)

    def eager(x):
        eager_opt.zero_grad()
        (x @ eager_w).sum().backward()
        eager_opt.step()
        return cr.tensor(eager_w) * 2

    compiled = cr_compile(step)
    rng = np.random.default_rng(8)
    for k in range(5):
        x = cr.tensor(rng.standard_normal((4, 3)))
        assert _same(eager(x), compiled(x)), f"call {k}"
    assert compiled.replays == 3, compiled.reason


def test_a_copied_tensor_whose_array_changes_shape_records_the_step_again():
    """What ``cr.tensor(t)`` copied is checked before each replay like the parameters: the
    copied tensor's array replaced by one of another shape records the step again."""
    w = cr.tensor(np.ones((3, 2)), requires_grad=True)
    src = cr.tensor(np.ones((4, 3)))

    def step(y):
        loss = ((cr.tensor(src) @ w).sum(0) - y).sum()
        loss.backward()
        return loss

    compiled = cr_compile(step)
    y = cr.tensor(np.zeros(2))
    for k in range(6):
        if k == 3:
            src.data = cr.tensor(np.full((5, 3), 2.0))  # another shape, same name
        w.grad = None
        got = compiled(y).item()
        w.grad = None
        assert got == step(y).item(), f"call {k}"
    assert compiled.replays == 2, compiled.replays  # calls 2 and 5: 3 and 4 recorded again


def test_a_new_default_dtype_records_the_step_again():
    """The default dtype is part of the cache key: the constants a step makes (``cr.tensor(0.1)``)
    and its integer-to-float promotions follow it, so after ``cr.set_default_dtype`` the step is
    recorded again (the replays kept float32 constants before, and other numbers)."""
    w = cr.tensor(np.ones((3, 2)), requires_grad=True)

    def step(x):
        loss = ((x @ w) * 0.5 + cr.tensor(0.1) + cr.arange(2) / 3).sum()
        loss.backward()
        return loss

    compiled = cr_compile(step)
    rng = np.random.default_rng(9)
    try:
        for k in range(6):
            if k == 3:
                cr.set_default_dtype(cr.float64)
            x = cr.tensor(rng.standard_normal((4, 3)))
            assert _same_as_eager(step, compiled, w, x), f"call {k}"
    finally:
        cr.set_default_dtype(cr.float32)
    assert compiled.replays == 2  # call 2, and call 5 under the new key (3, 4 recorded)
