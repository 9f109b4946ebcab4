"""Devices above the ops (issue 12 item 3): optimizers, random numbers, init, clipping, losses'
checks, saving and loading, on array-api-strict's device1 (``strict:1``) against the CPU.

array-api-strict refuses everything the Array API standard does not define and every NumPy
conversion on device1, so each test here also proves that the layer above the ops computes only
through ``backend.namespace``.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import backend, nn, optim
from chainrule.nn.utils import clip_grad_norm_, clip_grad_value_

pytest.importorskip("array_api_strict")

STRICT = "strict:1"


def on(array_or_tensor) -> cr.device:
    data = array_or_tensor._data if isinstance(array_or_tensor, cr.Tensor) else array_or_tensor
    return backend.device_of(data)


def state_devices(opt) -> set[str]:
    return {str(on(v)) for s in opt.state.values() for v in s.values() if backend.is_array(v)}


OPTIMIZERS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "maximize": True}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1}),
    (
        "Adagrad",
        {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1, "initial_accumulator_value": 0.1},
    ),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.9, "weight_decay": 0.1}),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for name, kw in OPTIMIZERS]


def mlp(seed: int = 0) -> nn.Module:
    cr.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2)).to(cr.float64)


def batch(seed: int = 1) -> tuple[cr.Tensor, cr.Tensor]:
    rng = np.random.default_rng(seed)
    return cr.tensor(rng.standard_normal((16, 3))), cr.tensor(rng.integers(0, 2, 16))


# ----- optimizers: the same numbers on strict:1, state on the parameters' device -----
@pytest.mark.parametrize("dtype", [cr.float64, cr.float32])
@pytest.mark.parametrize(("name", "kwargs"), OPTIMIZERS, ids=IDS)
def test_optimizer_steps_on_strict_match_the_cpu_and_keep_state_there(name, kwargs, dtype):
    # the gradients come from the CPU model (no op runs on strict:1 here): only the update
    # arithmetic is compared, on every optimizer and option
    cpu = mlp().to(dtype)
    dev = mlp().to(dtype).to(STRICT)
    opt_cpu = getattr(optim, name)(cpu.parameters(), **kwargs)
    opt_dev = getattr(optim, name)(dev.parameters(), **kwargs)
    x, y = batch()
    for step in range(5):
        opt_cpu.zero_grad()
        opt_dev.zero_grad(set_to_none=step % 2 == 0)
        F.cross_entropy(cpu(x.to(dtype)), y).backward()
        for p, q in zip(cpu.parameters(), dev.parameters()):
            if q.grad is None:
                q.grad = p.grad.to(STRICT)
            else:  # zero_grad(set_to_none=False) left zeros on strict:1 to add into
                assert on(q.grad) == STRICT and not q.grad.numpy(force=True).any()
                q.grad = q.grad + p.grad.to(STRICT)
        opt_cpu.step()
        opt_dev.step()
    for p, q in zip(cpu.parameters(), dev.parameters()):
        assert on(q) == STRICT
        np.testing.assert_allclose(q.detach().cpu().numpy(), p.detach().numpy(), rtol=0, atol=1e-10)
    assert state_devices(opt_dev) == ({STRICT} if name != "SGD" or "momentum" in kwargs else set())
    assert state_devices(opt_cpu) <= {"cpu"}


@pytest.mark.parametrize(("name", "kwargs"), OPTIMIZERS, ids=IDS)
def test_optimizer_state_moves_between_devices_with_load_state_dict(name, kwargs):
    cpu, dev = mlp(), mlp().to(STRICT)
    x, y = batch()

    def step(model, opt, grads):
        opt.zero_grad()
        for p, g in zip(model.parameters(), grads):
            p.grad = g.to(p.device)
        opt.step()

    def grads():
        cpu.zero_grad()
        F.cross_entropy(cpu(x), y).backward()
        return [p.grad.detach() for p in cpu.parameters()]

    opt_cpu = getattr(optim, name)(cpu.parameters(), **kwargs)
    opt_dev = getattr(optim, name)(dev.parameters(), **kwargs)
    for _ in range(2):
        g = grads()
        step(cpu, opt_cpu, g)
        step(dev, opt_dev, g)

    # strict:1's state into a CPU optimizer and the CPU's into a strict:1 one: each buffer goes
    # to its parameter's device, and the runs carry on identically
    cpu2, dev2 = mlp(), mlp().to(STRICT)
    for a, b in ((cpu2, cpu), (dev2, dev)):
        a.load_state_dict(b.state_dict())
    opt_cpu2 = getattr(optim, name)(cpu2.parameters(), **kwargs)
    opt_dev2 = getattr(optim, name)(dev2.parameters(), **kwargs)
    opt_cpu2.load_state_dict(opt_dev.state_dict())
    opt_dev2.load_state_dict(opt_cpu.state_dict())
    assert state_devices(opt_cpu2) <= {"cpu"}
    assert state_devices(opt_dev2) <= {STRICT}
    assert state_devices(opt_dev2) == state_devices(opt_dev)
    for _ in range(2):
        g = grads()
        for model, opt in ((cpu, opt_cpu), (cpu2, opt_cpu2), (dev2, opt_dev2)):
            step(model, opt, g)
    for p, q, r in zip(cpu.parameters(), cpu2.parameters(), dev2.parameters()):
        np.testing.assert_array_equal(q.detach().numpy(), p.detach().numpy())
        np.testing.assert_array_equal(r.detach().cpu().numpy(), p.detach().numpy())


@pytest.mark.parametrize(("name", "kwargs"), OPTIMIZERS, ids=IDS)
def test_a_2_layer_mlp_trains_on_strict_as_on_the_cpu(name, kwargs):
    x, y = batch()
    models = {}
    for where in ("cpu", STRICT):
        model = mlp().to(where)
        opt = getattr(optim, name)(model.parameters(), **kwargs)
        xd, yd = x.to(where), y.to(where)
        for _ in range(5):
            opt.zero_grad()
            F.cross_entropy(model(xd), yd).backward()
            opt.step()
        models[where] = (model, opt)
    (cpu, _), (dev, opt_dev) = models["cpu"], models[STRICT]
    for p, q in zip(cpu.parameters(), dev.parameters()):
        assert on(q) == STRICT and on(q.grad) == STRICT
        np.testing.assert_allclose(q.detach().cpu().numpy(), p.detach().numpy(), rtol=0, atol=1e-10)
    assert state_devices(opt_dev) <= {STRICT}


def test_a_model_on_strict_given_a_cpu_batch_names_the_op_and_both_devices():
    model = mlp().to(STRICT)
    x, y = batch()
    with pytest.raises(RuntimeError, match=r"Linear: .*on cpu and strict:1"):
        model(x)
    scores = cr.zeros(16, 2, dtype=cr.float64, device=STRICT)
    for loss in (F.cross_entropy, F.nll_loss, F.multi_margin_loss):
        with pytest.raises(RuntimeError, match=rf"{loss.__name__}: .*strict:1.*cpu"):
            loss(scores, y)
    with pytest.raises(RuntimeError, match=r"cross_entropy: expected weight on .*strict:1"):
        F.cross_entropy(scores, y.to(STRICT), cr.ones(2, dtype=cr.float64))


# ----- random numbers: one generator, the same values on every device -----
def draws(where=None):
    cr.manual_seed(7)
    like = cr.zeros(2, 3, dtype=cr.float64, device=where)
    return {
        "randn": cr.randn(4, 3, device=where),
        "rand": cr.rand(5, dtype=cr.float64, device=where),
        "randint": cr.randint(0, 10, (6,), device=where),
        "randperm": cr.randperm(7, device=where),
        "normal": cr.normal(1.0, 2.0, (3,), device=where),
        "randn_like": cr.randn_like(like),
        "rand_like": cr.rand_like(like),
        "randint_like": cr.randint_like(like, 0, 5),
    }


def test_manual_seed_gives_the_same_values_on_the_cpu_and_strict():
    cpu, dev = draws(), draws(STRICT)
    for name, t in cpu.items():
        assert on(t) == "cpu" and on(dev[name]) == STRICT, name
        assert dev[name].dtype == t.dtype, name
        np.testing.assert_array_equal(dev[name].numpy(force=True), t.numpy(), err_msg=name)
    assert cr.randn(2, device=cr.device(STRICT), requires_grad=True).requires_grad


def test_init_functions_fill_on_the_tensors_device_with_the_cpus_values():
    for init in (
        nn.init.kaiming_uniform_,
        nn.init.kaiming_normal_,
        nn.init.xavier_uniform_,
        nn.init.xavier_normal_,
        lambda t: nn.init.uniform_(t, -2, 3),
        lambda t: nn.init.normal_(t, 1, 0.5),
        lambda t: nn.init.constant_(t, 0.25),
        nn.init.zeros_,
        nn.init.ones_,
    ):
        filled = []
        for where in ("cpu", STRICT):
            t = cr.empty(4, 3, device=where)
            cr.manual_seed(3)
            assert init(t) is t and on(t) == where
            filled.append(t.numpy(force=True))
        np.testing.assert_array_equal(filled[1], filled[0])
    cr.manual_seed(3)
    cpu = nn.Linear(5, 4)
    cr.manual_seed(3)
    dev = nn.Linear(5, 4).to(STRICT)
    for p, q in zip(cpu.parameters(), dev.parameters()):
        np.testing.assert_array_equal(q.numpy(force=True), p.detach().numpy())


def test_dropout_draws_the_same_mask_on_every_device():
    outs = []
    for where in ("cpu", STRICT):
        cr.manual_seed(5)
        x = cr.ones(4, 6, dtype=cr.float64, device=where)
        outs.append((F.dropout(x, 0.5), F.dropout2d(cr.ones(2, 3, 2, 2, device=where), 0.5)))
    for a, b in zip(*outs):
        assert on(b) == STRICT
        np.testing.assert_array_equal(b.numpy(force=True), a.numpy())


# ----- the losses and batch norm on strict:1, against the CPU -----
def _scores():
    return np.random.default_rng(2).standard_normal((6, 3))


def _probs():
    return 1 / (1 + np.exp(-_scores()))


LOSSES = [
    (
        "cross_entropy",
        lambda x, d: F.cross_entropy(x, cr.tensor([0, 2, 1, 1, 0, 2], device=d)),
    ),
    (
        "cross_entropy_weighted_smoothed",
        lambda x, d: F.cross_entropy(x, [0, 2, 1, 1, 0, 2], [1.0, 2.0, 0.5], label_smoothing=0.1),
    ),
    (
        "cross_entropy_soft",
        lambda x, d: F.cross_entropy(x, cr.softmax(x.detach(), -1)),
    ),
    (
        "nll_loss",
        lambda x, d: F.nll_loss(cr.log_softmax(x, 1), [0, 2, 1, 1, 0, 2]),
    ),
    (
        "multi_margin_loss",
        lambda x, d: F.multi_margin_loss(x, [0, 2, 1, 1, 0, 2], p=2, weight=[1.0, 2.0, 0.5]),
    ),
    ("mse_loss", lambda x, d: F.mse_loss(x, x.detach() * 0.5)),
    ("l1_loss", lambda x, d: F.l1_loss(x, x.detach() * 0.5)),
    (
        "binary_cross_entropy",
        lambda x, d: F.binary_cross_entropy(cr.sigmoid(x), cr.tensor(_probs(), device=d)),
    ),
    (
        "binary_cross_entropy_with_logits",
        lambda x, d: F.binary_cross_entropy_with_logits(
            x, cr.tensor(_probs(), device=d), pos_weight=[1.0, 2.0, 3.0]
        ),
    ),
    (
        "kl_div",
        lambda x, d: F.kl_div(
            cr.log_softmax(x, 1), cr.softmax(x.detach() * 2, 1), reduction="batchmean"
        ),
    ),
]


@pytest.mark.parametrize("loss", [pytest.param(f, id=name) for name, f in LOSSES])
def test_losses_on_strict_match_the_cpu(loss):
    results = []
    for where in ("cpu", STRICT):
        x = cr.tensor(_scores(), device=where, requires_grad=True)
        value = loss(x, where)
        value.backward()
        assert on(value) == where and on(x.grad) == where
        results.append((value.item(), x.grad.numpy(force=True)))
    assert results[1][0] == pytest.approx(results[0][0], rel=0, abs=1e-12)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=0, atol=1e-12)


def test_batch_norm_trains_and_tracks_its_statistics_on_strict():
    outs = []
    for where in ("cpu", STRICT):
        bn = nn.BatchNorm1d(3).to(cr.float64).to(where)
        x = cr.tensor(_scores(), device=where)
        y = bn(x)
        bn.eval()
        outs.append([y, bn(x), bn.running_mean, bn.running_var, bn.num_batches_tracked])
    for a, b in zip(*outs):
        assert on(b) == STRICT
        np.testing.assert_allclose(b.numpy(force=True), a.detach().numpy(), rtol=0, atol=1e-12)


# ----- gradient clipping and one_hot, through the namespace -----
def test_clipping_on_strict_matches_the_cpu():
    rng = np.random.default_rng(0)
    values = [rng.standard_normal(s) for s in [(3, 2), (2,)]]
    for norm_type in (2.0, 1.0, float("inf")):
        results = []
        for where in ("cpu", STRICT):
            ps = [cr.tensor(v, device=where, requires_grad=True) for v in values]
            for p, v in zip(ps, values):
                p.grad = cr.tensor(v, device=where)
            total = clip_grad_norm_(ps, 0.5, norm_type=norm_type)
            assert on(total) == where
            results.append([total.item()] + [p.grad.numpy(force=True) for p in ps])
        assert results[1][0] == results[0][0]
        for a, b in zip(results[0][1:], results[1][1:]):
            np.testing.assert_array_equal(b, a)
    ps = [cr.tensor(v, device=STRICT, requires_grad=True) for v in values]
    for p, v in zip(ps, values):
        p.grad = cr.tensor(v, device=STRICT)
    clip_grad_value_(ps, 0.3)
    for p, v in zip(ps, values):
        assert on(p.grad) == STRICT
        np.testing.assert_array_equal(p.grad.numpy(force=True), np.clip(v, -0.3, 0.3))


def test_one_hot_on_strict():
    idx = cr.tensor([2, 0, 1, 2], device=STRICT)
    out = F.one_hot(idx)
    assert on(out) == STRICT and out.dtype == cr.int64
    np.testing.assert_array_equal(out.numpy(force=True), np.eye(3, dtype=np.int64)[[2, 0, 1, 2]])
    np.testing.assert_array_equal(F.one_hot(idx, 4).numpy(force=True)[:, 3], 0)
    with pytest.raises(ValueError, match=r"in \[0, 2\)"):
        F.one_hot(idx, 2)


def test_loss_target_checks_run_on_strict():
    x = cr.zeros(4, 3, dtype=cr.float64, device=STRICT)
    with pytest.raises(IndexError, match="target 3 is out of range"):
        F.cross_entropy(x, cr.tensor([0, 3, 1, -1], device=STRICT))
    with pytest.raises(TypeError, match="integer tensor"):
        F.nll_loss(x, cr.tensor([0.0, 1.0, 1.0, 2.0], device=STRICT))
    with pytest.raises(ValueError, match="probabilities"):
        F.binary_cross_entropy(x + 2, cr.zeros(4, 3, dtype=cr.float64, device=STRICT))


# ----- saving and loading -----
def test_save_on_strict_and_load_to_the_cpu_and_back(tmp_path):
    pytest.importorskip("safetensors")
    model = mlp().to(STRICT)
    path = tmp_path / "m.safetensors"
    cr.save(model.state_dict(), path, metadata={"epoch": "2"})
    want = {k: v.numpy(force=True) for k, v in model.state_dict().items()}

    for kwargs, where in [
        ({}, STRICT),  # None: back to the device each tensor was saved from
        ({"map_location": "cpu"}, "cpu"),
        ({"map_location": cr.device("strict", 2)}, "strict:2"),
        ({"map_location": {STRICT: "cpu"}}, "cpu"),
        ({"map_location": {"cuda:0": "cpu"}}, STRICT),  # no tensor was on cuda:0
        ({"map_location": lambda t, loc: t if loc == STRICT else None}, "cpu"),
    ]:
        sd, meta = cr.load(path, with_metadata=True, **kwargs)
        assert meta == {"epoch": "2"}  # chainrule's record of devices stays its own
        for k, v in sd.items():
            assert on(v) == where, (kwargs, k)
            np.testing.assert_array_equal(v.numpy(force=True), want[k])

    # and back: a CPU model takes the loaded state, is moved to strict:1, saved and loaded again
    cpu = mlp(seed=9)
    cpu.load_state_dict(cr.load(path, map_location="cpu"))
    cpu.to(STRICT)
    cr.save(cpu.state_dict(), path)
    for k, v in cr.load(path).items():
        assert on(v) == STRICT
        np.testing.assert_array_equal(v.numpy(force=True), want[k])


def test_load_refuses_bad_map_locations_clearly(tmp_path):
    pytest.importorskip("safetensors")
    path = tmp_path / "w.safetensors"
    cr.save({"w": cr.ones(2, device=STRICT)}, path)
    with pytest.raises(TypeError, match="map_location must be None, a device"):
        cr.load(path, 3)
    with pytest.raises(ValueError, match="map_location: device: expected one of"):
        cr.load(path, "gpu")
    with pytest.raises(ValueError, match="strict:9, which cannot be used here"):
        cr.load(path, "strict:9")
    with pytest.raises(TypeError, match=r"map_location\['cpu'\] must be a device"):
        cr.load(path, {"cpu": 5})
    with pytest.raises(TypeError, match="map_location returned int for 'w'"):
        cr.load(path, lambda t, loc: 1)
    with pytest.raises(ValueError, match="chainrule's own"):
        cr.save({"w": cr.ones(2)}, path, metadata={"chainrule.devices": "{}"})


def test_chainrule_train_on_strict_matches_the_cpu_and_resumes(tmp_path):
    """``chainrule train --device strict:1`` with the default Adam: its checkpoint holds Adam's
    state (made on strict:1, saved through the CPU), a resumed run ends where the CPU's ends."""
    from chainrule.train import TrainConfig, fit

    def run(device: str, out: str, epochs: int, resume: bool = False) -> dict:
        cfg = TrainConfig(hidden=[16], epochs=epochs, device=device, seed=3)
        fit(cfg, tmp_path / out, resume=resume, figures=False)
        return cr.load(tmp_path / out / "checkpoint.safetensors")

    cpu = run("cpu", "cpu", 3)
    run("strict:1", "strict", 2)
    resumed = run("strict:1", "strict", 3, resume=True)
    assert any(k.startswith("optim.") for k in cpu)  # Adam's moments are in the checkpoint
    assert cpu.keys() == resumed.keys()
    for k in cpu:
        np.testing.assert_allclose(resumed[k].cpu().numpy(), cpu[k].numpy(), rtol=1e-5, atol=1e-6)


# ----- a ConvNet on strict:1, against the CPU -----
def test_a_convnet_trains_on_strict_as_on_the_cpu():
    # convolution (padded, strided), both poolings (overlapping max windows: col2im adds) and
    # a linear head, three Adam steps: every image op's forward and backward on the device
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((4, 2, 9, 9)), rng.integers(0, 3, 4)
    params = []
    for where in ("cpu", STRICT):
        cr.manual_seed(0)
        model = nn.Sequential(
            nn.Conv2d(2, 3, 3, padding=1, stride=1),
            nn.ReLU(),
            nn.MaxPool2d(3, stride=2),
            nn.Conv2d(3, 4, 2),
            nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False),
            nn.Flatten(),
            nn.Linear(4 * 2 * 2, 3),
        )
        model = model.to(cr.float64).to(where)
        opt = optim.Adam(model.parameters(), lr=0.01)
        xd, yd = cr.tensor(x, device=where), cr.tensor(y, device=where)
        for _ in range(3):
            opt.zero_grad()
            F.cross_entropy(model(xd), yd).backward()
            opt.step()
        assert {str(on(p)) for p in model.parameters()} == {where}
        params.append([p.detach().numpy(force=True) for p in model.parameters()])
    for got, want in zip(params[1], params[0]):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


# ----- the NumPy namespace's method-backed functions do what NumPy's functions do -----
_A = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
FAST_CALLS = [
    ("reshape", (_A, (4, 6)), {}),
    ("reshape", (_A, (-1,)), {"copy": True}),
    ("reshape", (_A, (6, 4)), {"copy": False}),
    ("reshape", (_A.transpose(2, 1, 0), (4, 6)), {}),  # a copy, in C order
    ("reshape", (np.float64(2.0), (1,)), {}),  # a NumPy scalar: NumPy's function
    ("permute_dims", (_A, (2, 0, 1)), {}),
    ("astype", (_A, np.float32), {}),
    ("astype", (_A, np.int32), {"copy": False}),
    ("astype", (_A, np.int64), {"copy": True, "device": "cpu"}),
    ("sum", (_A,), {}),
    ("sum", (_A,), {"axis": (0, 2), "keepdims": True}),
    ("sum", (_A,), {"axis": 1, "dtype": np.float64}),
    ("sum", (np.float32(1.5),), {}),
    ("max", (_A,), {}),
    ("max", (_A.astype(np.float32),), {"axis": 1, "keepdims": True}),
    ("max", (np.array([1.0, np.nan, 3.0]),), {"axis": 0}),  # NaN wins, as in numpy.max
    ("max", (np.float32(1.5),), {}),
]


@pytest.mark.parametrize(("name", "args", "kwargs"), FAST_CALLS)
def test_numpy_namespace_fast_functions_match_numpy(name, args, kwargs):
    assert getattr(backend.NUMPY, name) is not getattr(np, name)  # the fast one is tested
    got = getattr(backend.NUMPY, name)(*args, **kwargs)
    want = getattr(np, name)(*args, **kwargs)
    assert type(got) is type(want) and got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    if isinstance(args[0], np.ndarray):  # a view where NumPy gives a view, a copy where a copy
        assert np.shares_memory(got, args[0]) == np.shares_memory(want, args[0])


def test_numpy_namespace_fast_functions_raise_as_numpy():
    with pytest.raises(ValueError):
        np.reshape(np.ones(3), (2,))
    with pytest.raises(ValueError):
        backend.NUMPY.reshape(np.ones(3), (2,))
    with pytest.raises(ValueError):
        backend.NUMPY.reshape(_A.transpose(2, 1, 0), (4, 6), copy=False)


def test_device_count_and_use_device():
    assert backend.device_count("cpu") == 1
    assert backend.device_count("strict") == 3  # array-api-strict's CPU_DEVICE, device1, device2
    if backend.available("cuda"):
        assert backend.device_count("cuda") >= 1
    else:  # no CuPy or no GPU: none, and no error
        assert backend.device_count("cuda") == 0
    backend.use_device(cr.device(STRICT))  # array-api-strict has no current device: a no-op
    assert cr.zeros(1, device=STRICT).device == cr.device(STRICT)
