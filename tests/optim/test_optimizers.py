"""Optimizers: PyTorch's updates, validation, parameter groups, zero_grad, state dicts."""

import copy
import json

import numpy as np
import pytest

import chainrule as cr
import chainrule.optim as optim

# ----- a small problem: two parameter groups, one parameter that never gets a gradient -----

RNG = np.random.default_rng(0)
X = RNG.standard_normal((8, 3))
Y = RNG.standard_normal((8, 2))
W0 = RNG.standard_normal((3, 2))
B0 = RNG.standard_normal(2)
U0 = RNG.standard_normal(4)


def make_params(dtype=np.float64):
    """w, b (the model) and u (never used by the loss, so its grad stays None)."""
    return [cr.tensor(a.astype(dtype), requires_grad=True) for a in (W0, B0, U0)]


def loss_fn(w, b, x=None, y=None):
    x = cr.tensor(X.astype(w.dtype)) if x is None else x
    y = cr.tensor(Y.astype(w.dtype)) if y is None else y
    return ((cr.tanh(x @ w + b) - y) ** 2).mean()


def groups(params, second_lr):
    w, b, u = params
    return [{"params": [w, u]}, {"params": [b], "lr": second_lr}]


def run(opt_cls, kwargs, steps=10, dtype=np.float64, params=None, opt=None):
    params = make_params(dtype) if params is None else params
    opt = opt_cls(groups(params, 0.5 * kwargs["lr"]), **kwargs) if opt is None else opt
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(*params[:2]).backward()
        opt.step()
    return params, opt


# one row per optimizer and option (amsgrad where offered)
CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.8, "nesterov": True, "weight_decay": 0.05}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "maximize": True}),
    ("Adam", {"lr": 0.05}),
    ("Adam", {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-3}),
    ("Adam", {"lr": 0.05, "amsgrad": True}),
    ("Adam", {"lr": 0.05, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.05, "weight_decay": 0.1, "amsgrad": True}),
    ("Adam", {"lr": 0.05, "maximize": True}),
    ("AdamW", {"lr": 0.05}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.3}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.3, "amsgrad": True}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-4}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "weight_decay": 0.1, "maximize": True}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.1}),
    ("Adagrad", {"lr": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-3}),
    ("Adagrad", {"lr": 0.1, "weight_decay": 0.1, "maximize": True}),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for name, kw in CASES]


# ----- against PyTorch -----


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=IDS)
def test_matches_torch_after_10_steps(name, kwargs):
    torch = pytest.importorskip("torch")
    params, _ = run(getattr(optim, name), kwargs)

    tp = [torch.tensor(a, requires_grad=True) for a in (W0, B0, U0)]
    topt = getattr(torch.optim, name)(
        [{"params": [tp[0], tp[2]]}, {"params": [tp[1]], "lr": 0.5 * kwargs["lr"]}], **kwargs
    )
    x, y = torch.tensor(X), torch.tensor(Y)
    for _ in range(10):
        topt.zero_grad()
        ((torch.tanh(x @ tp[0] + tp[1]) - y) ** 2).mean().backward()
        topt.step()

    for p, t, a0 in zip(params, tp, (W0, B0, U0)):
        assert not np.allclose(t.detach().numpy(), a0) or t is tp[2]  # the step did something
        np.testing.assert_allclose(p.detach().numpy(), t.detach().numpy(), rtol=1e-6, atol=1e-12)
    np.testing.assert_array_equal(params[2].detach().numpy(), U0)  # no grad: left alone


@pytest.mark.parametrize(("name", "kwargs"), CASES[:: len(CASES) // 6], ids=IDS[:: len(CASES) // 6])
def test_state_matches_torch_state(name, kwargs):
    torch = pytest.importorskip("torch")
    params, opt = run(getattr(optim, name), kwargs, steps=3)
    tp = [torch.tensor(a, requires_grad=True) for a in (W0, B0, U0)]
    topt = getattr(torch.optim, name)(
        [{"params": [tp[0], tp[2]]}, {"params": [tp[1]], "lr": 0.5 * kwargs["lr"]}], **kwargs
    )
    x, y = torch.tensor(X), torch.tensor(Y)
    for _ in range(3):
        topt.zero_grad()
        ((torch.tanh(x @ tp[0] + tp[1]) - y) ** 2).mean().backward()
        topt.step()
    ours, theirs = opt.state_dict(), topt.state_dict()
    assert [g["params"] for g in ours["param_groups"]] == [
        g["params"] for g in theirs["param_groups"]
    ]
    for i, s in ours["state"].items():
        for k, v in s.items():
            tv = theirs["state"][i][k]
            np.testing.assert_allclose(v, tv.numpy() if torch.is_tensor(tv) else tv, rtol=1e-6)


@pytest.mark.parametrize(("name", "kwargs"), CASES[::3], ids=IDS[::3])
def test_lr_set_between_steps_matches_torch(name, kwargs):
    """Setting param_groups[i]["lr"] before each step, as schedulers and users do."""
    torch = pytest.importorskip("torch")
    params = make_params()
    opt = getattr(optim, name)(groups(params, 0.5 * kwargs["lr"]), **kwargs)
    tp = [torch.tensor(a, requires_grad=True) for a in (W0, B0, U0)]
    topt = getattr(torch.optim, name)(
        [{"params": [tp[0], tp[2]]}, {"params": [tp[1]], "lr": 0.5 * kwargs["lr"]}], **kwargs
    )
    x, y = torch.tensor(X), torch.tensor(Y)
    for step in range(10):
        for o in (opt, topt):
            o.param_groups[0]["lr"] = kwargs["lr"] * 0.8**step
            o.param_groups[1]["lr"] = kwargs["lr"] * (1 + step) / 10
        opt.zero_grad()
        loss_fn(*params[:2]).backward()
        opt.step()
        topt.zero_grad()
        ((torch.tanh(x @ tp[0] + tp[1]) - y) ** 2).mean().backward()
        topt.step()
    for p, t in zip(params, tp):
        np.testing.assert_allclose(p.detach().numpy(), t.detach().numpy(), rtol=1e-6, atol=1e-12)


# ----- without PyTorch -----


def test_sgd_defaults_are_vanilla_gradient_descent():
    step_size = 0.1
    w = cr.tensor(W0.copy(), requires_grad=True)
    b = cr.tensor(B0.copy(), requires_grad=True)
    opt = optim.SGD([w, b], lr=step_size)
    weights, bias = W0.copy(), B0.copy()
    for _ in range(5):
        opt.zero_grad()
        loss_fn(w, b).backward()
        weights += -step_size * w.grad.numpy()  # the lecture's update, by hand
        bias += -step_size * b.grad.numpy()
        opt.step()
        np.testing.assert_allclose(w.detach().numpy(), weights, rtol=0, atol=1e-15)
        np.testing.assert_allclose(b.detach().numpy(), bias, rtol=0, atol=1e-15)


@pytest.mark.parametrize("opt_cls", [optim.SGD, optim.Adam, optim.RMSprop, optim.Adagrad])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_weight_decay_is_2_lambda_l2(opt_cls, momentum):
    """weight_decay = 2 lambda on the loss equals no weight decay on loss + lambda sum(W^2)."""
    if momentum and opt_cls in (optim.Adam, optim.Adagrad):
        pytest.skip("no momentum option")
    lam = 0.05
    extra = {"momentum": momentum} if momentum else {}
    a = make_params()[:2]
    opt_a = opt_cls(a, lr=0.05, weight_decay=2 * lam, **extra)
    b = make_params()[:2]
    opt_b = opt_cls(b, lr=0.05, **extra)
    for _ in range(10):
        opt_a.zero_grad()
        loss_fn(*a).backward()
        opt_a.step()
        opt_b.zero_grad()
        (loss_fn(*b) + lam * ((b[0] ** 2).sum() + (b[1] ** 2).sum())).backward()
        opt_b.step()
    for p, q in zip(a, b):
        assert not np.allclose(p.detach().numpy(), W0 if p.ndim == 2 else B0)
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-12)


def test_adamw_decay_is_decoupled():
    """AdamW is not Adam on the L2-regularized loss, and with no gradient it only decays."""
    a = make_params()[:2]
    opt_a = optim.AdamW(a, lr=0.05, weight_decay=0.2)
    b = make_params()[:2]
    opt_b = optim.Adam(b, lr=0.05, weight_decay=0.2)
    for _ in range(5):
        for opt, ps in ((opt_a, a), (opt_b, b)):
            opt.zero_grad()
            loss_fn(*ps).backward()
            opt.step()
    assert not np.allclose(a[0].detach().numpy(), b[0].detach().numpy(), rtol=1e-4)

    w = cr.tensor([1.0, -2.0], dtype=cr.float64, requires_grad=True)
    opt = optim.AdamW([w], lr=0.1, weight_decay=0.5)
    for _ in range(3):
        w.grad = cr.zeros(2, dtype=cr.float64)
        opt.step()
    np.testing.assert_allclose(w.detach().numpy(), [0.95**3, -2 * 0.95**3], rtol=1e-15)


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=IDS)
def test_a_group_may_mix_dtypes_and_step_counts(name, kwargs):
    """A group of a float32 and a float64 parameter, the first without a gradient on some
    steps, updates each exactly as an optimizer of its own would."""
    opt_cls = getattr(optim, name)
    rng = np.random.default_rng(1)
    w, w_alone = (cr.tensor(W0, requires_grad=True) for _ in range(2))
    b, b_alone = (cr.tensor(B0.astype(np.float32), requires_grad=True) for _ in range(2))
    together = opt_cls([b, w], **kwargs)
    alone = [opt_cls([w_alone], **kwargs), opt_cls([b_alone], **kwargs)]
    for step in range(6):
        gw = rng.standard_normal(W0.shape)
        gb = rng.standard_normal(B0.shape).astype(np.float32)
        w.grad, w_alone.grad = cr.tensor(gw), cr.tensor(gw)
        b.grad, b_alone.grad = (None, None) if step % 3 == 1 else (cr.tensor(gb), cr.tensor(gb))
        together.step()
        for opt in alone:
            opt.step()
    np.testing.assert_array_equal(w.detach().numpy(), w_alone.detach().numpy())
    np.testing.assert_array_equal(b.detach().numpy(), b_alone.detach().numpy())
    assert b.dtype == np.float32


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=IDS)
def test_float32_stays_float32(name, kwargs):
    params, opt = run(getattr(optim, name), kwargs, steps=3, dtype=np.float32)
    for p in params:
        assert p.dtype == np.float32
        assert np.isfinite(p.detach().numpy()).all()
    for s in opt.state.values():
        for v in s.values():
            if isinstance(v, np.ndarray):
                assert v.dtype == np.float32


def test_step_skips_params_without_grad_and_bumps_version():
    w, b, u = make_params()
    opt = optim.Adam([w, b, u], lr=0.1)
    loss_fn(w, b).backward()
    versions = [p._version for p in (w, b, u)]
    opt.step()
    assert [p._version for p in (w, b, u)] == [versions[0] + 1, versions[1] + 1, versions[2]]
    assert u not in opt.state and w in opt.state and b in opt.state
    np.testing.assert_array_equal(u.detach().numpy(), U0)


def test_step_invalidates_graphs_that_saved_the_old_value():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    y = (w * w).sum()  # saves w
    opt.step()  # changes w in place
    with pytest.raises(RuntimeError):
        y.backward()


def test_step_does_not_change_the_gradient():
    w, b, _ = make_params()
    opt = optim.SGD([w, b], lr=0.1, momentum=0.9, weight_decay=0.1, maximize=True)
    loss_fn(w, b).backward()
    g = w.grad.numpy().copy()
    opt.step()
    opt.step()
    np.testing.assert_array_equal(w.grad.numpy(), g)


def test_closure_runs_with_grad_enabled_and_its_loss_is_returned():
    w, b, _ = make_params()
    opt = optim.SGD([w, b], lr=0.1)
    before = w.detach().numpy().copy()

    def closure():
        opt.zero_grad()
        loss = loss_fn(w, b)
        loss.backward()
        return loss

    with cr.no_grad():
        loss = opt.step(closure)
    assert isinstance(loss, cr.Tensor) and loss.item() > 0
    assert not np.allclose(w.detach().numpy(), before)
    assert opt.step() is None


def test_zero_grad():
    w, b, u = make_params()
    opt = optim.SGD([w, b, u], lr=0.1)
    loss_fn(w, b).backward()
    opt.zero_grad()
    assert w.grad is None and b.grad is None and u.grad is None

    loss_fn(w, b).backward()
    gw = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is gw  # the same tensor, zeroed in place
    np.testing.assert_array_equal(gw.numpy(), 0)
    np.testing.assert_array_equal(b.grad.numpy(), 0)
    assert u.grad is None

    # the gradient of a sum: the engine may store it as a read-only broadcast view
    v = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    opt = optim.SGD([v], lr=0.1)
    v.sum().backward()
    g = v.grad
    opt.zero_grad(set_to_none=False)
    assert v.grad is g
    np.testing.assert_array_equal(g.numpy(), 0)
    v.sum().backward()
    np.testing.assert_array_equal(v.grad.numpy(), 1)


def test_zero_grad_detaches_a_recorded_gradient():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w * w * w).sum().backward(create_graph=True)
    assert w.grad.requires_grad
    opt.zero_grad(set_to_none=False)
    assert not w.grad.requires_grad
    np.testing.assert_array_equal(w.grad.numpy(), 0)


def test_param_groups_and_add_param_group():
    w, b, u = make_params()
    opt = optim.SGD([{"params": [w]}, {"params": b, "lr": 0.01, "momentum": 0.5}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    assert [g["momentum"] for g in opt.param_groups] == [0, 0.5]
    assert opt.param_groups[1]["params"][0] is b
    opt.add_param_group({"params": [u], "weight_decay": 0.1})
    assert opt.param_groups[2]["lr"] == 0.1 and opt.param_groups[2]["weight_decay"] == 0.1
    w.grad = cr.ones_like(w)
    b.grad = cr.ones_like(b)
    opt.step()
    np.testing.assert_allclose(w.detach().numpy(), W0 - 0.1)
    np.testing.assert_allclose(b.detach().numpy(), B0 - 0.01)
    assert "SGD (" in repr(opt) and "Parameter Group 2" in repr(opt)

    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [w]})
    with pytest.raises(ValueError, match="Invalid lr"):
        opt.add_param_group({"params": [cr.zeros(2, requires_grad=True)], "lr": -1.0})
    assert len(opt.param_groups) == 3


def test_params_from_a_generator():
    params = make_params()
    opt = optim.Adam(p for p in params)
    assert len(opt.param_groups[0]["params"]) == 3


# ----- invalid arguments -----


def _p():
    return [cr.zeros(3, requires_grad=True)]


INVALID = [
    (lambda: optim.SGD(_p(), lr=-0.1), "lr"),
    (lambda: optim.SGD(_p(), lr=float("nan")), "lr"),
    (lambda: optim.SGD(_p(), lr=0.1, momentum=-0.9), "momentum"),
    (lambda: optim.SGD(_p(), lr=0.1, weight_decay=-1e-4), "weight_decay"),
    (lambda: optim.SGD(_p(), lr=0.1, nesterov=True), "Nesterov"),
    (lambda: optim.SGD(_p(), lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov"),
    (lambda: optim.SGD([{"params": _p(), "lr": -1.0}], lr=0.1), "lr"),
    (lambda: optim.SGD([{"params": _p(), "nesterov": True}], lr=0.1), "Nesterov"),
    (lambda: optim.Adam(_p(), lr=-1e-3), "lr"),
    (lambda: optim.Adam(_p(), betas=(1.0, 0.999)), "beta1"),
    (lambda: optim.Adam(_p(), betas=(-0.1, 0.999)), "beta1"),
    (lambda: optim.Adam(_p(), betas=(0.9, 1.0)), "beta2"),
    (lambda: optim.Adam(_p(), betas=(0.9, 1.5)), "beta2"),
    (lambda: optim.Adam(_p(), betas=(0.9,)), "pair"),
    (lambda: optim.Adam(_p(), eps=-1e-8), "eps"),
    (lambda: optim.Adam(_p(), weight_decay=-0.1), "weight_decay"),
    (lambda: optim.AdamW(_p(), betas=(0.9, 1.0)), "beta2"),
    (lambda: optim.AdamW(_p(), weight_decay=-0.01), "weight_decay"),
    (lambda: optim.RMSprop(_p(), lr=-0.01), "lr"),
    (lambda: optim.RMSprop(_p(), alpha=-0.1), "alpha"),
    (lambda: optim.RMSprop(_p(), alpha=1.5), "alpha"),
    (lambda: optim.RMSprop(_p(), eps=-1.0), "eps"),
    (lambda: optim.RMSprop(_p(), momentum=-0.5), "momentum"),
    (lambda: optim.RMSprop(_p(), weight_decay=-0.5), "weight_decay"),
    (lambda: optim.Adagrad(_p(), lr=-0.01), "lr"),
    (lambda: optim.Adagrad(_p(), lr_decay=-0.01), "lr_decay"),
    (lambda: optim.Adagrad(_p(), initial_accumulator_value=-1.0), "initial_accumulator"),
    (lambda: optim.Adagrad(_p(), eps=-1.0), "eps"),
    (lambda: optim.Adagrad(_p(), weight_decay=-1.0), "weight_decay"),
    (lambda: optim.SGD([], lr=0.1), "empty"),
    (lambda: optim.Adam([{"params": []}]), "empty"),
    (lambda: optim.SGD([cr.zeros(3)], lr=0.1), "does not require grad"),
    (lambda: optim.SGD([cr.zeros(3, requires_grad=True) * 2], lr=0.1), "non-leaf"),
    (lambda: optim.SGD([{"params": [cr.zeros(2)]}], lr=0.1), "does not require grad"),
    (lambda: optim.Adam(_p() * 2), "twice"),
    (lambda: (lambda p: optim.SGD([{"params": p}, {"params": p}], lr=0.1))(_p()), "more than one"),
    (lambda: optim.Adam([{"lr": 0.1}]), "'params'"),
]


@pytest.mark.parametrize(("make", "match"), INVALID)
def test_invalid_arguments_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    "make",
    [
        lambda: optim.SGD([np.zeros(3)], lr=0.1),  # not a Tensor (PyTorch: TypeError too)
        lambda: optim.SGD([cr.zeros(3, requires_grad=True), 1.0], lr=0.1),
        lambda: optim.SGD(cr.zeros(3, requires_grad=True), lr=0.1),  # a bare Tensor
        lambda: optim.SGD(set(_p()), lr=0.1),  # unordered
        lambda: optim.SGD({"params": _p()}, lr=0.1),  # a bare group
        lambda: optim.SGD([{"params": _p()}, cr.zeros(2, requires_grad=True)], lr=0.1),
        lambda: optim.SGD(_p(), lr="0.1"),
        lambda: optim.Adam(_p(), betas=(0.9, None)),
    ],
)
def test_wrong_types_raise_type_error(make):
    with pytest.raises(TypeError):
        make()


# ----- state dicts -----


def _plain(obj):
    """True if obj is only plain data: no Tensors, nothing but numbers, strings, containers."""
    if isinstance(obj, dict):
        return all(isinstance(k, (int, str)) and _plain(v) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return all(_plain(v) for v in obj)
    if isinstance(obj, np.ndarray):
        return obj.dtype.kind in "biuf"
    return obj is None or isinstance(obj, (bool, int, float, str))


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=IDS)
def test_state_dict_resume_equals_uninterrupted_run(name, kwargs):
    opt_cls = getattr(optim, name)
    full, _ = run(opt_cls, kwargs, steps=10)

    params, opt = run(opt_cls, kwargs, steps=4)
    saved = opt.state_dict()
    saved_params = [p.detach().numpy().copy() for p in params]
    assert _plain(saved)
    run(opt_cls, kwargs, steps=3, params=params, opt=opt)  # keep going: must not touch `saved`

    resumed = [cr.tensor(a, requires_grad=True) for a in saved_params]
    opt2 = opt_cls(groups(resumed, 0.123), lr=0.321)  # hyperparameters come from the dict
    opt2.load_state_dict(saved)
    assert opt2.param_groups[1]["lr"] == 0.5 * kwargs["lr"]
    run(opt_cls, kwargs, steps=6, params=resumed, opt=opt2)
    for p, q in zip(full, resumed):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_state_dict_layout_and_json_keys():
    w, b, u = make_params()
    opt = optim.Adam(groups([w, b, u], 0.01), lr=0.1, amsgrad=True)
    loss_fn(w, b).backward()
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sorted(sd["state"]) == [0, 2]  # u (index 1) got no gradient, so has no state
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert sd["state"][0]["step"] == 1 and isinstance(sd["state"][0]["step"], int)
    assert sd["state"][0]["exp_avg"] is not opt.state[w]["exp_avg"]
    assert sd["param_groups"][1]["lr"] == 0.01

    # a round trip through JSON (arrays as lists, keys as strings) loads too
    text = json.dumps(sd, default=lambda a: a.tolist())
    back = json.loads(text)
    for s in back["state"].values():
        for k, v in s.items():
            if isinstance(v, list):
                s[k] = np.array(v)
    opt2 = optim.Adam(groups(make_params(), 0.5), lr=0.5)
    opt2.load_state_dict(back)
    assert opt2.param_groups[0]["lr"] == 0.1
    np.testing.assert_array_equal(
        opt2.state[opt2.param_groups[0]["params"][0]]["exp_avg"], opt.state[w]["exp_avg"]
    )


def test_load_state_dict_validates_before_changing_anything():
    w, b, u = make_params()
    opt = optim.SGD(groups([w, b, u], 0.05), lr=0.1, momentum=0.9)
    loss_fn(w, b).backward()
    opt.step()
    good = opt.state_dict()

    other = optim.SGD(groups(make_params(), 0.05), lr=0.2, momentum=0.9)

    def broken(edit):
        sd = copy.deepcopy(good)
        edit(sd)
        return sd

    cases = [
        (broken(lambda sd: sd["param_groups"].pop()), "parameter groups"),
        (broken(lambda sd: sd["param_groups"][0]["params"].pop()), "parameters"),
        (broken(lambda sd: sd["state"][0].update(momentum_buffer=np.zeros((2, 3)))), "shape"),
        (broken(lambda sd: sd["state"].update({7: {}})), "no parameter group"),
        (broken(lambda sd: sd["param_groups"][0].pop("momentum")), "momentum"),
        (broken(lambda sd: sd["param_groups"][0].update(lr=-1)), "lr"),
        ({"state": {}}, "param_groups"),
        ([1, 2], "dict"),
    ]
    for sd, match in cases:
        with pytest.raises(ValueError, match=match):
            other.load_state_dict(sd)
        assert other.param_groups[0]["lr"] == 0.2 and not other.state

    adam_sd = optim.Adam(groups(make_params(), 0.05)).state_dict()
    with pytest.raises(ValueError, match="another kind of optimizer"):
        other.load_state_dict(adam_sd)


def test_load_state_dict_casts_buffers_to_the_parameter_dtype():
    params, opt = run(optim.Adam, {"lr": 0.05}, steps=2)
    sd = opt.state_dict()
    params32 = make_params(np.float32)
    opt32 = optim.Adam(groups(params32, 0.025), lr=0.05)
    opt32.load_state_dict(sd)
    assert opt32.state[params32[0]]["exp_avg"].dtype == np.float32
    assert opt32.state[params32[0]]["step"] == 2


def test_zero_grad_without_none_after_a_create_graph_backward_on_a_sum():
    # the gradient of a sum is a broadcast (read-only) under create_graph: zeros replace it
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    opt = cr.optim.SGD([w], lr=0.1)
    w.sum().backward(create_graph=True)
    opt.zero_grad(set_to_none=False)
    assert not w.grad.requires_grad
    np.testing.assert_array_equal(w.grad.numpy(), [0.0, 0.0])
    (w * 3.0).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [3.0, 3.0])


# ----- Adam's flat update for small groups (optim.adam._flat) -----
def _adam_run(make_opt, steps, skip=None, reload_at=None):
    """A tiny 2-layer net trained for ``steps`` steps; returns its weights and the state dict."""
    rng = np.random.default_rng(0)
    params = [
        cr.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True)
        for s in [(5, 3), (5,), (2, 5), (2,)]
    ]
    x = cr.tensor(rng.standard_normal((8, 3)).astype(np.float32))
    opt = make_opt(params)
    for k in range(steps):
        h = (x @ params[0].T + params[1]).relu()
        loss = ((h @ params[2].T + params[3]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        if skip is not None and k == skip:
            params[1].grad = None  # this parameter sits out one step
        opt.step()
        if reload_at is not None and k == reload_at:
            saved = opt.state_dict()
            opt = make_opt(params)
            opt.load_state_dict(saved)
    return [p.detach().numpy().copy() for p in params], opt.state_dict()


@pytest.mark.parametrize(
    "make_opt",
    [
        lambda ps: optim.Adam(ps, lr=0.05),
        lambda ps: optim.AdamW(ps, lr=0.05, weight_decay=0.1, maximize=True),
    ],
)
@pytest.mark.parametrize("variant", [{}, {"skip": 2}, {"reload_at": 3}])
def test_adam_flat_update_equals_the_per_parameter_one(monkeypatch, make_opt, variant):
    import chainrule.optim.adam as adam

    flat_w, flat_state = _adam_run(make_opt, 6, **variant)
    monkeypatch.setattr(adam, "FLAT_LIMIT", 0)  # every group takes the per-parameter loop
    loop_w, loop_state = _adam_run(make_opt, 6, **variant)
    for a, b in zip(flat_w, loop_w):
        np.testing.assert_array_equal(a, b)
    for i, s in loop_state["state"].items():
        assert flat_state["state"][i]["step"] == s["step"]
        for key in ("exp_avg", "exp_avg_sq"):
            np.testing.assert_array_equal(flat_state["state"][i][key], s[key])


def test_adam_flat_state_reads_per_parameter_and_is_copied_out():
    w = cr.randn(4, 3, requires_grad=True)
    b = cr.randn(4, requires_grad=True)
    opt = optim.Adam([w, b], lr=0.1)
    (w.sum() + (b * b).sum()).backward()
    opt.step()
    assert opt.state[w]["exp_avg"].shape == (4, 3) and opt.state[b]["exp_avg_sq"].shape == (4,)
    saved = opt.state_dict()
    before = saved["state"][0]["exp_avg"].copy()
    opt.step()
    np.testing.assert_array_equal(saved["state"][0]["exp_avg"], before)  # a copy, not a view


# ----- one update for every array module (chainrule._arith) -----
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=IDS)
def test_numpys_fast_path_equals_the_generic_one_bit_for_bit(monkeypatch, name, kwargs, dtype):
    # NumPy's ufuncs write into out= and Adam keeps a small group's moments as flat views; the
    # generic arithmetic (array-api-strict's) copies results in and updates parameter by
    # parameter: run the generic one on NumPy arrays and compare
    from chainrule import _arith
    from chainrule.backend import NUMPY

    fast, fast_opt = run(getattr(optim, name), kwargs, dtype=dtype)
    monkeypatch.setitem(_arith._by_type, np.ndarray, _arith.Arith(NUMPY, native=False))
    generic, generic_opt = run(getattr(optim, name), kwargs, dtype=dtype)
    for a, b in zip(fast, generic):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    fast_sd, generic_sd = fast_opt.state_dict(), generic_opt.state_dict()
    for i, s in generic_sd["state"].items():
        for k, v in s.items():
            np.testing.assert_array_equal(fast_sd["state"][i][k], v)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "momentum, nesterov, weight_decay", [(0, False, 0), (0.9, True, 0), (0.9, False, 1e-3)]
)
def test_sgd_s_blocked_update_of_a_large_weight_equals_the_plain_one(
    monkeypatch, dtype, momentum, nesterov, weight_decay
):
    """``Arith.sub_scaled`` updates a weight larger than ``BLOCK`` values a block at a time
    (one small temporary for lr * g): every step gives ``w -= lr * g``'s numbers, bit for bit,
    for a size that does not divide into blocks, as the unblocked update."""
    from chainrule import _arith

    shape = (3, _arith.BLOCK + 7)
    rng = np.random.default_rng(5)
    start = rng.standard_normal(shape).astype(dtype)
    grads = [rng.standard_normal(shape).astype(dtype) for _ in range(3)]
    kw = {"lr": 0.05, "momentum": momentum, "nesterov": nesterov, "weight_decay": weight_decay}

    def train() -> np.ndarray:
        w = cr.tensor(start, requires_grad=True)
        opt = optim.SGD([w], **kw)
        for g in grads:
            w.grad = cr.tensor(g)
            opt.step()
        return w.detach().numpy()

    blocked = train()
    calls = []
    plain = _arith.Arith.sub_scaled

    def counted(self, w, a, g):
        calls.append(w.size)
        return plain(self, w, a, g)

    monkeypatch.setattr(_arith.Arith, "sub_scaled", counted)
    assert np.array_equal(train(), blocked) and calls == [start.size] * 3
    monkeypatch.setattr(_arith, "BLOCK", start.size)  # every update in one piece: w -= lr * g
    np.testing.assert_array_equal(train(), blocked)


def test_sub_scaled_leaves_arrays_it_cannot_block_to_the_plain_update():
    """A transposed weight, a gradient of another dtype or one sharing the weight's memory:
    ``w -= a * g`` as written, the same numbers as NumPy's."""
    from chainrule import _arith
    from chainrule.backend import NUMPY

    arith = _arith.Arith(NUMPY, native=True)
    a = np.asarray(0.5, np.float32)
    base = np.random.default_rng(6).standard_normal((2, _arith.BLOCK)).astype(np.float32)
    other = np.random.default_rng(7).standard_normal(base.shape)
    cases = [
        (base.copy().T, other.T.astype(np.float32)),
        (base.copy(), other),  # float64
    ]
    for w, g in cases:
        want = w.copy()
        want -= a * g
        arith.sub_scaled(w, a, g)
        assert w.dtype == np.float32
        np.testing.assert_array_equal(w, want)
    w = base.copy()
    arith.sub_scaled(w, a, w)  # g is w itself
    np.testing.assert_array_equal(w, base - a * base)


def test_zero_grad_keeps_the_gradient_array_when_it_can():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    opt = cr.optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    g = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is g and g._version > 0
    np.testing.assert_array_equal(g.numpy(), [0.0, 0.0])


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=IDS)
def test_a_0d_parameter_takes_the_steps_of_a_1_element_one(name, kwargs):
    """Arithmetic on NumPy's 0-d arrays gives NumPy scalars, which take no ``out=`` and change
    nothing in place: a 0-d parameter once crashed Adagrad, RMSprop and Adam, and SGD's
    momentum (with weight decay or maximize), or any 0-d buffer after load_state_dict, stayed
    at its first value. Each step, resumed half way from a state dict, must equal the
    1-element parameter's bit for bit, and the buffers stay arrays of the parameter's shape."""
    opt_cls = getattr(optim, name)
    kwargs = {"weight_decay": 0.1, **kwargs}
    grads = np.random.default_rng(3).standard_normal(6)
    for weight_decay in sorted({0, kwargs["weight_decay"]}):
        kw = {**kwargs, "weight_decay": weight_decay}
        scalar = cr.tensor(0.7, dtype=cr.float64, requires_grad=True)
        vector = cr.tensor([0.7], dtype=cr.float64, requires_grad=True)
        opts = [opt_cls([scalar], **kw), opt_cls([vector], **kw)]
        for i, g in enumerate(grads):
            scalar.grad, vector.grad = (
                cr.tensor(g, dtype=cr.float64),
                cr.tensor([g], dtype=cr.float64),
            )
            for opt in opts:
                opt.step()
            assert scalar.item() == vector.item(), f"step {i + 1}"
            if i == 2:  # resume both from their state dicts
                fresh = [opt_cls([p], **kw) for p in (scalar, vector)]
                for new, old in zip(fresh, opts):
                    new.load_state_dict(old.state_dict())
                opts = fresh
        for key, value in opts[0].state[scalar].items():
            if key != "step":
                assert isinstance(value, np.ndarray) and value.shape == (), key
