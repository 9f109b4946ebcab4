"""The pieces of the training loop and the places where later work plugs in.

A model family (``models.register_model``), device placement (``device.to_device``), the
training step (``step.TrainStep``, what a compiled step replaces) and its gradient hooks (where
an allreduce goes): each is used by ``fit`` exactly where its docstring says.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd.tensor import Tensor
from chainrule.nn import functional as F
from chainrule.train import TrainConfig, evaluate, fit, load_model, loop, models, training
from chainrule.train.choices import make_loss
from chainrule.train.config import MODELS
from chainrule.train.device import run_device
from chainrule.train.step import TrainStep, make_train_step

DIGITS_TRAIN, DIGITS_VAL = 1293, 145  # the embedded digits at val_fraction 0.1


def small_batch(seed: int = 0) -> tuple[nn.Module, Tensor, Tensor]:
    cr.manual_seed(seed)
    model = nn.MLP(4, [5], 3)
    x = cr.randn(6, 4)
    y = cr.tensor(np.array([0, 1, 2, 0, 1, 2]))
    return model, x, y


# ----- the training step -----
def test_the_step_equals_the_steps_written_out():
    model, x, y = small_batch()
    twin, _, _ = small_batch()
    opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    twin_opt = cr.optim.SGD(twin.parameters(), lr=0.1, momentum=0.9)
    result = TrainStep(model, opt, F.cross_entropy, reg=1e-3)(x, y)

    loss = F.cross_entropy(twin(x), y) + 1e-3 * nn.l2_penalty(twin)
    twin_opt.zero_grad()
    loss.backward()
    twin_opt.step()
    assert result.loss == loss.item()
    assert result.scores.shape == (6, 3)
    for p, q in zip(model.parameters(), twin.parameters()):
        assert np.array_equal(p.numpy(force=True), q.numpy(force=True))


def test_grad_hooks_run_in_order_between_backward_and_the_update():
    model, x, y = small_batch()
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    before = [p.numpy(force=True) for p in model.parameters()]
    seen = []

    def allreduce(m):  # where an allreduce goes: gradients there, weights not yet updated
        assert all(p.grad is not None for p in m.parameters())
        assert all(np.array_equal(p.numpy(force=True), b) for p, b in zip(m.parameters(), before))
        seen.append("allreduce")
        for p in m.parameters():
            p.grad = p.grad * 0.0  # what it does to the gradients, the update sees

    s = TrainStep(model, opt, F.cross_entropy, grad_hooks=[lambda m: seen.append("clip")])
    s.grad_hooks.insert(0, allreduce)
    s(x, y)
    assert seen == ["allreduce", "clip"]
    assert all(np.array_equal(p.numpy(force=True), b) for p, b in zip(model.parameters(), before))


def test_a_check_that_raises_leaves_gradients_and_weights_untouched():
    model, x, y = small_batch()
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    before = [p.numpy(force=True) for p in model.parameters()]
    values = []

    def check(value):
        values.append(value)
        raise FloatingPointError("diverged")

    with pytest.raises(FloatingPointError):
        TrainStep(model, opt, F.cross_entropy)(x, y, check=check)
    assert values and np.isfinite(values[0])
    assert all(p.grad is None for p in model.parameters())
    assert all(np.array_equal(p.numpy(force=True), b) for p, b in zip(model.parameters(), before))


def test_the_config_s_step_has_its_loss_reg_and_clip_hook():
    model, _, _ = small_batch()
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    plain = make_train_step(TrainConfig(), model, opt, F.cross_entropy)
    assert plain.loss_fn is F.cross_entropy and plain.reg == 0.0 and plain.grad_hooks == []
    config = TrainConfig(loss="svm", reg=0.01, clip_grad=0.5)
    svm = make_train_step(config, model, opt, make_loss(config))
    assert svm.loss_fn is F.multi_margin_loss and svm.reg == 0.01 and len(svm.grad_hooks) == 1


def test_fit_trains_through_whatever_make_train_step_gives(tmp_path, monkeypatch):
    calls = []
    real_make = training.make_train_step

    def compiled(*args):  # what cr.compile(step) will give: a callable, nothing more
        real = real_make(*args)

        def call(x, y, check=None):
            calls.append(len(y))
            return real(x, y, check)

        return call

    monkeypatch.setattr(training, "make_train_step", compiled)
    fit(TrainConfig(epochs=1, batch_size=500), tmp_path / "run", figures=False)
    assert calls == [500, 500, DIGITS_TRAIN - 1000]


# ----- a batch is a Tensor, placed by to_device -----
def test_every_batch_and_the_model_pass_to_device_and_batches_are_tensors(tmp_path, monkeypatch):
    placed = []

    def record(obj, where):
        assert where == run_device("auto")  # the default: the GPU if CuPy finds one, else the CPU
        placed.append(obj)
        return obj

    monkeypatch.setattr(training, "to_device", record)
    monkeypatch.setattr(loop, "to_device", record)
    losses = []
    real_make_loss = training.make_loss

    def make_loss(config):
        fn = real_make_loss(config)

        def loss(scores, y):
            losses.append((type(scores), type(y)))
            return fn(scores, y)

        return loss

    monkeypatch.setattr(training, "make_loss", make_loss)
    fit(TrainConfig(epochs=2, batch_size=500), tmp_path / "run", figures=False)
    assert isinstance(placed[0], nn.Module)  # the model, once, first
    batches = placed[1:]
    assert not any(isinstance(b, nn.Module) for b in batches)
    per_epoch = 3 + 1  # 3 training batches, then the validation split in one batch
    assert len(batches) == 2 * per_epoch
    for x, y in batches:
        assert isinstance(x, Tensor) and isinstance(y, Tensor)
    assert [len(y) for _, y in batches[:per_epoch]] == [500, 500, DIGITS_TRAIN - 1000, DIGITS_VAL]
    assert set(losses) == {(Tensor, Tensor)}  # training and validation losses alike


# ----- a model family -----
def tiny(spec):
    return nn.Sequential(
        nn.Linear(spec["in_features"], 16), nn.Tanh(), nn.Linear(16, spec["num_classes"])
    )


def test_a_registered_model_family_trains_evaluates_and_loads(tmp_path, monkeypatch):
    monkeypatch.setitem(MODELS, "tiny", models.ModelFamily(tiny))
    summary = fit(TrainConfig(model="tiny", epochs=2), tmp_path / "run", figures=False)
    assert summary["test_accuracy"] > 0.3
    model, prep, spec = load_model(tmp_path / "run")
    assert spec["model"] == "tiny" and isinstance(model, nn.Sequential)
    assert evaluate(tmp_path / "run")["test_accuracy"] == summary["test_accuracy"]


def test_register_model_refuses_a_name_twice_and_unknown_names_are_named():
    with pytest.raises(ValueError, match="registered already"):
        models.register_model("mlp", models.ModelFamily(tiny))
    with pytest.raises(ValueError, match="--model: 'resnet' is not one of linear, mlp, convnet"):
        TrainConfig(model="resnet").validate()
    with pytest.raises(ValueError, match="unknown model 'resnet'.*register_model"):
        models.build_model({"model": "resnet"})
