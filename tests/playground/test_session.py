"""One page's training: updates, frames, gradients, limits and the explanation, in process."""

import base64
import shutil

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.playground.config import Limits, SettingError
from chainrule.playground.session import GRID, UNIT_GRID, Session, TrainingStopped


def _bytes(b64):
    return np.frombuffer(base64.b64decode(b64), dtype=np.uint8)


def test_frame_describes_regions_units_and_weights():
    s = Session()
    s.update({"hidden": [5, 4], "classes": 4, "activation": "tanh"})
    f = s.frame()
    assert f["step"] == 0 and f["data_version"] == s.data_version
    cls, conf = _bytes(f["grid"]["cls"]), _bytes(f["grid"]["conf"])
    assert cls.shape == conf.shape == (GRID * GRID,)
    assert cls.max() < 4
    assert [len(u["images"]) for u in f["units"]] == [5, 4]
    assert all(_bytes(im).shape == (UNIT_GRID * UNIT_GRID,) for im in f["units"][0]["images"])
    shapes = [np.shape(layer["w"]) for layer in f["layers"]]
    assert shapes == [(5, 2, 1), (4, 5, 1), (4, 4, 1)]  # (out, in, pieces)
    assert [len(layer.get("da", [])) for layer in f["layers"]] == [5, 4, 0]
    assert 0 <= f["test_acc"] <= 1 and f["train_loss"] > 0


def test_frame_gradients_are_those_of_the_full_batch_loss():
    s = Session()
    s.update({"hidden": [6], "l2": 0.01})
    s.train(20)
    f = s.frame()
    model = s.model
    model.zero_grad()
    scores = model(cr.from_numpy(s.x_train))
    loss = F.cross_entropy(scores, cr.from_numpy(s.y_train)) + 0.01 * cr.nn.l2_penalty(model)
    loss.backward()
    w0 = model[0].weight.grad.numpy()
    np.testing.assert_allclose(np.array(f["layers"][0]["dw"])[:, :, 0], w0, rtol=1e-3, atol=1e-7)
    b1 = model[2].bias.grad.numpy()
    np.testing.assert_allclose(np.array(f["layers"][1]["db"])[:, 0], b1, rtol=1e-3, atol=1e-7)
    assert f["total_loss"] == pytest.approx(loss.item(), rel=1e-5)


def test_maxout_layers_show_their_pieces():
    s = Session()
    s.update({"activation": "maxout", "hidden": [3]})
    s.train(3)
    f = s.frame()
    w = np.array(f["layers"][0]["w"])
    assert w.shape == (3, 2, 2)  # (out, in, pieces)
    rows = s.model[0].weight.detach().numpy()  # unit k's pieces are rows 2k, 2k + 1
    np.testing.assert_allclose(w[1, :, 0], rows[2], rtol=1e-4)
    np.testing.assert_allclose(w[1, :, 1], rows[3], rtol=1e-4)
    assert len(f["units"][0]["images"]) == 3


def test_spiral_trains_above_90_percent():
    s = Session()  # the page's defaults: a 3-arm spiral, 2-16-16-3 ReLU, Adam
    s.train(3000)
    assert s.frame()["test_acc"] > 0.9


def test_same_settings_same_training():
    a, b = Session(), Session()
    a.train(50)
    b.train(50)
    assert a.frame()["layers"] == b.frame()["layers"]


def test_building_leaves_the_global_generator_alone():
    cr.manual_seed(123)
    before = cr.get_rng_state()
    Session().reset()
    assert cr.get_rng_state() == before


def test_training_changes_keep_the_weights_data_changes_rebuild():
    s = Session()
    s.train(30)
    w = s.model[0].weight.detach().numpy().copy()
    assert s.update({"l2": 0.1, "lr": 0.05}) == {"l2", "lr"}
    assert s.step == 30 and np.array_equal(s.model[0].weight.detach().numpy(), w)
    assert s.optimizer.param_groups[0]["lr"] == 0.05
    s.update({"optimizer": "sgd"})
    assert s.step == 30 and isinstance(s.optimizer, cr.optim.SGD)
    version = s.data_version
    s.update({"noise": 0.3})
    assert s.step == 0 and s.data_version == version + 1


def test_a_refused_change_changes_nothing():
    s = Session()
    before = s.config
    with pytest.raises(SettingError):
        s.update({"l2": 0.5, "lr": -1})
    assert s.config is before


def test_added_points_join_the_training_set():
    s = Session()
    s.train(5)
    n, w = len(s.y_train), s.model[0].weight.detach().numpy().copy()
    s.add_point(0.5, -0.25, 2)
    assert len(s.y_train) == n + 1 and s.y_train[-1] == 2
    assert s.step == 5 and np.array_equal(s.model[0].weight.detach().numpy(), w)  # trains on
    assert s.train(30) == 30  # batches now draw from all n + 1 points
    assert s.points()["added_from"] == n
    with pytest.raises(SettingError, match="class"):
        s.add_point(0.0, 0.0, 3)  # the spiral has classes 0 to 2


def test_the_step_limit_pauses():
    s = Session(limits=Limits(max_steps=5))
    s.running = True
    with pytest.raises(TrainingStopped, match="limit of 5 steps"):
        s.train(10)
    assert s.step == 5 and not s.running
    s.reset()
    assert s.train(5) == 5


def test_a_diverging_loss_pauses_with_a_message():
    s = Session()
    s.running = True
    with cr.no_grad():
        s.model[0].weight.fill_(float("inf"))
    with pytest.raises(TrainingStopped, match="learning rate is probably too high"):
        s.train(1)
    assert not s.running
    f = s.frame()  # a diverged network can still be drawn
    assert f["step"] == 0 and len(_bytes(f["grid"]["cls"])) == GRID * GRID


def test_train_for_takes_at_least_one_step_and_at_most_the_cap():
    s = Session()
    assert s.train_for(0.0, 100) == 1
    assert s.train_for(10.0, 7) == 7


def test_svm_loss_and_every_optimizer_train():
    for opt in ("sgd", "momentum", "adam", "rmsprop", "adagrad"):
        s = Session()
        s.update({"loss": "svm", "optimizer": opt, "hidden": [8], "activation": "leaky_relu"})
        first = s.frame()["train_loss"]
        s.train(200)
        assert s.frame()["train_loss"] < first, opt


def test_explain_one_example():
    s = Session()
    s.update({"hidden": [3]})
    e = s.explain(4)
    assert e["index"] == 4 and e["label"] == int(s.y_train[4])
    assert e["text"].startswith("Backpropagation through")
    assert "digraph" in e["dot"]
    if shutil.which("dot"):
        assert e["svg"].startswith("<svg")
    else:
        assert e["svg"] is None and "Graphviz" in e["note"]
    assert s.step == 0  # explaining changes no weight
    assert s.explain()["index"] in range(len(s.y_train))
    with pytest.raises(SettingError, match="index of a training point"):
        s.explain(10**6)


def test_presets_reproduce_the_lecture_s_figures():
    """The numbers docs/playground.md quotes: capacity grows with the hidden size, and lambda
    shrinks the weights (2,500 steps each, deterministic)."""
    from chainrule.playground.config import PRESETS

    acc, norm = {}, {}
    for name, changes in PRESETS.items():
        s = Session()
        s.update(changes)
        s.train(2500)
        f = s.frame()
        acc[name] = f["test_acc"]
        norm[name] = sum(float(np.square(layer["w"]).sum()) for layer in f["layers"])
    sizes = [acc[f"{h} hidden units"] for h in (3, 6, 20)]
    assert sizes[0] < 0.65 < sizes[1] < sizes[2] and sizes[2] > 0.85  # 56%, 78%, 93% here
    lams = [norm[f"lambda = {lam}"] for lam in (0.001, 0.01, 0.1)]
    assert lams[0] > lams[1] > lams[2]
    assert acc["lambda = 0.001"] > 0.9 and 0.75 < acc["lambda = 0.01"] < 0.92  # 94%, 84% here
