"""``--model convnet``: the LeNet-style family, its image preprocessing, augmented batches, its
figures, the model file's checks, and the issue's target on the embedded digits."""

from __future__ import annotations

import json

import numpy as np
import pytest

import chainrule as cr
from chainrule.train import RunFolder, TrainConfig, build_model, fit, load_model, predict_scores
from chainrule.train.batches import AugmentedLoader, train_loader
from chainrule.train.convnet import ConvNet, ImagePreprocess
from chainrule.train.model_file import read_model_file


def _spec(image_shape, **extra) -> dict:
    spec = {
        "model": "convnet",
        "in_features": int(np.prod(image_shape)),
        "hidden": [20],
        "num_classes": 10,
        "activation": "relu",
        "classes": [str(k) for k in range(10)],
        "image_shape": list(image_shape),
        "dataset": "x",
        "channels": [4, 8],
        "kernel_size": 5,
        "pool": "max",
    }
    spec.update(extra)
    return spec


@pytest.mark.parametrize(
    ("image_shape", "flat"),
    [((8, 8), 8 * 2 * 2), ((28, 28), 8 * 7 * 7), ((32, 32, 3), 8 * 8 * 8)],
    ids=["digits", "mnist", "cifar10"],
)
def test_the_convnet_is_sized_by_each_data_sets_images(image_shape, flat) -> None:
    net = build_model(_spec(image_shape))
    assert isinstance(net, ConvNet)
    c = 3 if len(image_shape) == 3 else 1
    x = cr.zeros(2, c, *image_shape[:2])
    assert net(x).shape == (2, 10)
    linear = [m for m in net.modules() if isinstance(m, cr.nn.Linear)][0]
    assert linear.in_features == flat
    assert list(net.state_dict())[:2] == ["0.weight", "0.bias"]  # PyTorch's Sequential keys


def test_pool_avg_and_activation() -> None:
    net = build_model(_spec((8, 8), pool="avg", activation="tanh"))
    names = [type(m).__name__ for m in net.children()]
    assert names.count("AvgPool2d") == 2 and "MaxPool2d" not in names and "Tanh" in names


def test_image_preprocess_standardizes_each_channel_and_keeps_the_shape() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((40, 6, 5, 3)).astype(np.float32) * np.array([1, 10, 100], np.float32)
    prep = ImagePreprocess.fit(x)
    out = prep(x)
    assert out.shape == (40, 3, 6, 5) and out.dtype == np.float32
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), 1, atol=1e-4)
    # one number per channel: a mirrored image is standardized as the original was
    np.testing.assert_allclose(prep(x[:, :, ::-1])[..., ::-1], out, atol=1e-6)
    again = ImagePreprocess.from_json(json.loads(json.dumps(prep.to_json())))
    np.testing.assert_array_equal(again(x), out)
    assert len(prep.to_json()["mean"]) == 6 * 5 * 3  # the model file's per-feature format
    with pytest.raises(ValueError, match="needs images"):
        ImagePreprocess.fit(np.zeros((5, 2), np.float32))


def test_augmented_batches_differ_each_epoch_and_repeat_with_the_seed() -> None:
    x = np.random.default_rng(0).standard_normal((20, 1, 8, 8)).astype(np.float32)
    y = np.arange(20)
    config = TrainConfig(model="convnet", augment=True, batch_size=8, seed=3).validate()
    loader = train_loader(config, x, y)
    assert isinstance(loader, AugmentedLoader)
    first = [b[0].numpy() for b in loader]
    second = [b[0].numpy() for b in loader]
    assert not np.array_equal(first[0], x[:8])  # shifted
    again = train_loader(config, x, y)
    np.testing.assert_array_equal(
        np.concatenate([b[0].numpy() for b in again]), np.concatenate(first)
    )
    again.load_state_dict({"epoch": 1})  # a resumed run sees epoch 1's own crops
    np.testing.assert_array_equal(
        np.concatenate([b[0].numpy() for b in again]), np.concatenate(second)
    )
    assert not np.array_equal(np.concatenate(first), np.concatenate(second))


def test_a_convnet_run_writes_its_figures_and_evaluates_and_resumes(tmp_path) -> None:
    options = dict(model="convnet", channels=[4], epochs=2, augment=True, seed=1)
    summary = fit(TrainConfig(**options), tmp_path / "run")
    names = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"filters.png", "feature_maps.png", "curves.png", "confusion.png"} <= names
    assert "templates.png" not in names
    model, prep, spec = load_model(tmp_path / "run")
    assert spec["kernel_size"] == 3 and spec["channels"] == [4] and spec["pool"] == "max"
    x = cr.data.datasets.digits().x_test
    assert prep(x).shape == (len(x), 1, 8, 8)
    acc = (predict_scores(model, prep(x)).argmax(1) == cr.data.datasets.digits().y_test).mean()
    assert acc == pytest.approx(summary["test_accuracy"])
    # a resumed augmented run equals the uninterrupted one
    fit(TrainConfig(**{**options, "epochs": 1}), tmp_path / "parts", figures=False)
    fit(TrainConfig(**options), tmp_path / "parts", resume=True, figures=False)
    a, b = RunFolder(tmp_path / "run").read_metrics(), RunFolder(tmp_path / "parts").read_metrics()
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in a] == [
        {k: v for k, v in r.items() if k != "seconds"} for r in b
    ]


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"channels": []}, "channels"),
        ({"kernel_size": 0}, "kernel_size"),
        ({"pool": "min"}, "pool"),
        ({"activation": "maxout"}, "activation"),
    ],
)
def test_the_model_file_checks_the_convnets_fields(tmp_path, change, match) -> None:
    fit(TrainConfig(model="convnet", channels=[2], epochs=1), tmp_path / "run", figures=False)
    from chainrule.serialization import load, save

    path = tmp_path / "run" / "model.safetensors"
    state, meta = load(path, with_metadata=True)
    described = json.loads(meta["chainrule.model"])
    described["spec"].update(change)
    save(state, tmp_path / "bad.safetensors", metadata={"chainrule.model": json.dumps(described)})
    with pytest.raises(ValueError, match=match):
        read_model_file(tmp_path / "bad.safetensors")


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"model": "convnet", "dataset": "spiral"}, "needs an image data set"),
        ({"model": "mlp", "augment": True}, "--augment"),
        ({"model": "convnet", "channels": [16, 0]}, "--channels"),
        ({"model": "convnet", "pool": "sum"}, "--pool"),
        ({"model": "convnet", "kernel_size": 0}, "--kernel-size"),
    ],
)
def test_bad_convnet_options_name_the_option(options, match) -> None:
    with pytest.raises(ValueError, match=match):
        TrainConfig(**options).validate()


def test_target_default_convnet_on_digits_reaches_98_5_percent(tmp_path) -> None:
    # (its time, the "in 60 s", is a benchmark's business: no test asserts wall time)
    summary = fit(TrainConfig.from_dict({"model": "convnet"}), tmp_path / "run", figures=False)
    assert summary["test_accuracy"] >= 0.985
