"""A module's forward and backward hooks, against PyTorch's: what each hook is given, what
its return value replaces, the order they run in, and the gradients that come out."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")

X = np.random.default_rng(0).standard_normal((4, 3))


def _pair():
    """The same float64 3-5-2 MLP in both libraries, and each library's module namespace."""
    torch.manual_seed(0)
    mt = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
    mt = mt.double()
    mc = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).to(cr.float64)
    mc.load_state_dict({k: cr.tensor(v.detach().numpy()) for k, v in mt.state_dict().items()})
    return (mt, torch.tensor(X, requires_grad=True)), (mc, cr.tensor(X, requires_grad=True))


def _np(g):
    if g is None:
        return None
    return g.detach().numpy()


def _same(a, b) -> bool:
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(p, q) for p, q in zip(a, b))
    if a is None or b is None or isinstance(a, str):
        return a == b
    return np.allclose(a, b, rtol=1e-12, atol=1e-14)


def _both(install, loss=lambda y: (y**2).sum()):
    """Install hooks (``install(model, log)``) on both models, run forward and backward, and
    return each library's log, the input's gradient and every parameter's."""
    out = []
    for model, x in _pair():
        log: list = []
        install(model, log)
        loss(model(x)).backward()
        out.append((log, _np(x.grad), [_np(p.grad) for p in model.parameters()]))
    return out


INSTALLS = {
    "forward pre-hook sees and replaces the arguments": lambda m, log: (
        m[0].register_forward_pre_hook(lambda mod, args: log.append(_np(args[0]))),
        m[2].register_forward_pre_hook(lambda mod, args: args[0] * 0.5),  # one value
        m[1].register_forward_pre_hook(lambda mod, args: (args[0] + 1,)),  # a tuple
    ),
    "forward hook sees and replaces the output": lambda m, log: (
        m[0].register_forward_hook(lambda mod, args, out: log.append((_np(args[0]), _np(out)))),
        m[1].register_forward_hook(lambda mod, args, out: out * 2),
    ),
    "with_kwargs": lambda m, log: (
        m[0].register_forward_pre_hook(
            lambda mod, args, kwargs: ((args[0] * 2,), kwargs), with_kwargs=True
        ),
        m[2].register_forward_hook(
            lambda mod, args, kwargs, out: log.append(sorted(kwargs)) or out - 1,
            with_kwargs=True,
        ),
    ),
    "prepend runs first": lambda m, log: (
        m[1].register_forward_hook(lambda mod, args, out: log.append("second") or out + 1),
        m[1].register_forward_hook(
            lambda mod, args, out: log.append("first") or out * 3, prepend=True
        ),
    ),
    "backward hook sees grad_input and grad_output": lambda m, log: [
        m[i].register_full_backward_hook(
            lambda mod, gi, go, i=i: log.append((i, [_np(g) for g in gi], [_np(g) for g in go]))
        )
        for i in range(3)
    ],
    "backward hook replaces grad_input": lambda m, log: (
        m[1].register_full_backward_hook(lambda mod, gi, go: (gi[0] * 0 + 1,)),
        m[0].register_full_backward_hook(lambda mod, gi, go: log.append(_np(go[0]))),
    ),
    "backward pre-hook replaces grad_output": lambda m, log: (
        m[2].register_full_backward_pre_hook(lambda mod, go: (go[0] * 3,)),
        m[2].register_full_backward_hook(lambda mod, gi, go: log.append(_np(go[0]))),
    ),
    "the whole Sequential": lambda m, log: (
        m.register_full_backward_hook(lambda mod, gi, go: log.append([_np(g) for g in gi])),
        m.register_forward_hook(lambda mod, args, out: log.append(_np(out))),
    ),
}


@pytest.mark.parametrize("name", list(INSTALLS))
def test_hooks_match_pytorch(name):
    (log_t, xg_t, pg_t), (log_c, xg_c, pg_c) = _both(INSTALLS[name])
    assert log_c and _same(log_c, log_t)
    assert _same(xg_c, xg_t) and _same(pg_c, pg_t)


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")  # PyTorch's, on this case
def test_hooks_of_a_module_without_grad_inputs_get_none_for_them():
    """The first layer of a network on data: no input needs a gradient. Its backward hooks
    still run (when its outputs' gradients arrive), with grad_input all None, as PyTorch's."""
    logs = []
    for model, _ in _pair():
        log: list = []
        model[0].register_full_backward_hook(
            lambda mod, gi, go, log=log: log.append((gi, [_np(g) for g in go]))
        )
        data = torch.tensor(X) if isinstance(model, torch.nn.Module) else cr.tensor(X)
        model(data).sum().backward()
        logs.append(log)
    (t,), (c,) = logs
    assert c[0] == (None,) and t[0] == (None,) and _same(c[1], t[1])


def test_an_output_no_gradient_reached_is_none_in_grad_output():
    class Two(nn.Module):
        def forward(self, x):
            return x * 2, x * 3

    seen = []
    module = Two()
    module.register_full_backward_hook(lambda mod, gi, go: seen.append(go))
    x = cr.tensor(X, requires_grad=True)
    a, _ = module(x)
    a.sum().backward()
    assert seen[0][1] is None and np.array_equal(seen[0][0].numpy(), np.ones_like(X))
    assert np.array_equal(x.grad.numpy(), np.full_like(X, 2.0))


def test_a_hook_that_changes_its_gradient_in_place_changes_nothing_else():
    """Hooks get gradients of their own: ``g.mul_(0)`` in a hook that returns None leaves the
    gradients that flow on as they were."""
    grads = []
    for spoil in (False, True):
        (_, _), (model, x) = _pair()
        if spoil:
            model[1].register_full_backward_hook(lambda mod, gi, go: [gi[0].mul_(0)] and None)
            model[1].register_full_backward_pre_hook(lambda mod, go: [go[0].mul_(0)] and None)
        model(x).sum().backward()
        grads.append(x.grad.numpy())
    assert np.array_equal(grads[0], grads[1]) and np.abs(grads[0]).sum() > 0


def test_second_order_through_backward_hooks_matches_pytorch():
    results = []
    for model, x in _pair():
        model[1].register_full_backward_hook(lambda mod, gi, go: (gi[0] * 2,))
        grad = torch.autograd.grad if isinstance(x, torch.Tensor) else cr.autograd.grad
        (g,) = grad((model(x) ** 2).sum(), x, create_graph=True)
        (gg,) = grad((g**2).sum(), x)
        results.append((_np(g), _np(gg)))
    assert _same(results[0], results[1])


def test_handles_remove_hooks():
    model = nn.Linear(3, 2)
    calls = []
    h1 = model.register_forward_hook(lambda mod, args, out: calls.append(1))
    with model.register_forward_pre_hook(lambda mod, args: calls.append(0)):
        model(cr.tensor(X))
    h1.remove()
    h1.remove()  # twice is harmless
    model(cr.tensor(X))
    assert calls == [0, 1]
    # a Tensor's hook gives the same handle
    t = cr.ones(2, requires_grad=True)
    with t.register_hook(lambda g: g * 10):
        (t * 1).sum().backward()
    (t * 1).sum().backward()
    assert t.grad.tolist() == [11.0, 11.0]


def test_always_call_runs_the_hook_when_forward_raises():
    model = nn.Linear(3, 2)
    seen = []
    model.register_forward_hook(lambda mod, args, out: seen.append(out), always_call=True)
    model.register_forward_hook(lambda mod, args, out: seen.append("not always"))
    with pytest.raises(ValueError, match="3 features"):
        model(cr.ones(4, 5))
    assert seen == [None]


def test_bad_hooks_are_refused():
    model = nn.Linear(3, 2)
    with pytest.raises(TypeError, match="callable"):
        model.register_forward_hook("print")
    model.register_forward_pre_hook(lambda mod, args, kwargs: args, with_kwargs=True)
    with pytest.raises(RuntimeError, match=r"tuple \(args, kwargs\)"):
        model(cr.tensor(X))
    other = nn.Linear(3, 2)
    other.register_full_backward_hook(lambda mod, gi, go: (gi[0], gi[0]))
    with pytest.raises(RuntimeError, match="1 gradient"):
        other(cr.tensor(X, requires_grad=True)).sum().backward()


def test_a_compiled_step_through_a_hooked_module_runs_eagerly():
    """A replay runs no Python of the step, so it would call no hook: a step whose modules have
    hooks runs eagerly, with a warning, also when the hook comes after replays began."""
    for late in (False, True):
        model = nn.Linear(3, 2)
        opt = cr.optim.SGD(model.parameters(), lr=0.1)
        calls = []

        def step(x, model=model, opt=opt):
            opt.zero_grad()
            loss = model(x).sum()
            loss.backward()
            opt.step()
            return loss

        if not late:
            model.register_forward_hook(lambda mod, args, out, calls=calls: calls.append(1))
        compiled = cr.compile(step)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for k in range(6):
                if late and k == 3:
                    model.register_forward_hook(lambda mod, args, out, c=calls: c.append(1))
                compiled(cr.tensor(X))
        assert len(calls) == (3 if late else 6)
        assert any("hooks" in str(w.message) for w in caught)
        assert compiled.reason is not None
