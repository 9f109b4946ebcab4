"""``--features`` for the flat models, and ``compare``: hand-crafted features against the
ConvNet, trained alike, with a table and a chart."""

from __future__ import annotations

import json

import numpy as np
import pytest

import chainrule as cr
from chainrule.train import TrainConfig, evaluate, fit, load_model
from chainrule.train.compare import compare, table

pytest.importorskip("skimage")


@pytest.fixture(autouse=True)
def _data_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "data"))


def test_a_linear_model_on_hog_and_colour_features(tmp_path) -> None:
    summary = fit(TrainConfig(model="linear", features="hog+color", epochs=3), tmp_path / "run")
    assert summary["test_accuracy"] > 0.8
    cached = sorted((tmp_path / "data" / "digits" / "features").glob("hog+color-*.npy"))
    assert len(cached) == 3  # train, validation and test, computed once
    model, prep, spec = load_model(tmp_path / "run")
    assert spec["features"] == "hog+color" and spec["in_features"] == 340
    assert spec["image_shape"] == [8, 8] and model.weight.shape == (10, 340)
    x = cr.data.datasets.digits().x_test
    assert prep(x).shape == (len(x), 340)  # raw images in, features out (predict's path)
    assert evaluate(tmp_path / "run")["test_accuracy"] == summary["test_accuracy"]
    names = {p.name for p in (tmp_path / "run").iterdir()}
    assert "templates.png" not in names  # its weights are no images
    again = fit(TrainConfig(model="linear", features="hog+color", epochs=3), tmp_path / "again")
    assert again["test_accuracy"] == summary["test_accuracy"]
    assert len(list(cached[0].parent.iterdir())) == 3  # read back, nothing new


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"model": "convnet", "features": "hog"}, "learns its own"),
        ({"model": "mlp", "dataset": "spiral", "features": "hog"}, "needs an image data set"),
        ({"features": "sift"}, "--features"),
    ],
)
def test_bad_feature_options(options, match) -> None:
    with pytest.raises(ValueError, match=match):
        TrainConfig(**options).validate()


def test_compare_trains_the_four_models_alike_and_writes_table_and_chart(tmp_path) -> None:
    rows = compare("digits", tmp_path / "cmp", {"epochs": 2, "seed": 3, "batch_size": 128})
    assert [r["folder"] for r in rows] == [
        "linear-pixels",
        "linear-hog+color",
        "mlp-pixels",
        "convnet",
    ]
    for r in rows:
        config = json.loads((tmp_path / "cmp" / r["folder"] / "config.json").read_text())
        assert config["options"]["seed"] == 3 and config["options"]["epochs"] == 2
        assert 0.3 < r["test_accuracy"] <= 1 and r["epochs"] == 2
        assert r["training_seconds"] > 0 and r["run_seconds"] >= r["training_seconds"]
    assert rows[0]["parameters"] == 64 * 10 + 10
    assert rows[1]["parameters"] == 340 * 10 + 10
    saved = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert saved["entrants"] == rows
    text = (tmp_path / "cmp" / "comparison.md").read_text()
    assert table(rows) in text and text.count("\n| ") == 5
    assert (tmp_path / "cmp" / "comparison.png").stat().st_size > 10_000
    assert (tmp_path / "cmp" / "convnet" / "filters.png").is_file()


def test_compare_command(tmp_path, capsys) -> None:
    from chainrule import cli

    out = tmp_path / "cmp"
    assert (
        cli.main(["compare", "--epochs", "1", "--batch-size", "256", "--out", str(out), "--quiet"])
        == 0
    )
    printed = capsys.readouterr().out
    assert "| softmax on HOG + colour features |" in printed and "| ConvNet" in printed
    assert (
        cli.main(["compare", "--epochs", "1", "--batch-size", "256", "--out", str(out)]) == 2
    )  # runs exist
    assert "--overwrite" in capsys.readouterr().err
    assert np.isfinite(
        json.loads((out / "comparison.json").read_text())["entrants"][3]["run_seconds"]
    )
