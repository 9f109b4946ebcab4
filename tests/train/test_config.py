"""TrainConfig: every option checked before any work, presets, and options from files."""

from __future__ import annotations

import json
import math

import pytest

from chainrule.train import TrainConfig
from chainrule.train.config import DEFAULT_LR, OPTIMIZERS, POINT_DATASETS, PRESETS

# one row per invalid value: (option, value); the error must name the option and the value
INVALID = [
    ("dataset", "foo"),
    ("dataset", "SPIRAL"),
    ("model", "cnn"),
    ("loss", "hinge"),
    ("activation", "swish"),
    ("optimizer", "lbfgs"),
    ("schedule", "linear"),
    ("hidden", []),
    ("hidden", [0]),
    ("hidden", [100, -5]),
    ("hidden", [1.5]),
    ("hidden", "100"),
    ("lr", 0),
    ("lr", -1.0),
    ("lr", math.nan),
    ("lr", math.inf),
    ("lr", "0.1"),
    ("lr", True),
    ("reg", -1e-3),
    ("reg", math.nan),
    ("weight_decay", -0.1),
    ("momentum", -0.1),
    ("momentum", 1.0),
    ("momentum", 1.5),
    ("epochs", 0),
    ("epochs", -3),
    ("epochs", 2.5),
    ("epochs", "3"),
    ("epochs", True),
    ("batch_size", 0),
    ("batch_size", 32.0),
    ("val_fraction", 0),
    ("val_fraction", 1),
    ("val_fraction", 1.5),
    ("val_fraction", -0.1),
    ("warmup", -1),
    ("warmup", 1.5),
    ("early_stopping", 0),
    ("early_stopping", -2),
    ("clip_grad", 0),
    ("clip_grad", -1.0),
    ("seed", -1),
    ("seed", 1.5),
    ("dataset", ["digits"]),
    ("data_dir", ["data", "more"]),
    ("data_dir", 3),
    ("data_dir", ""),
    ("out", 7),
    ("download", "no"),
    ("download", "false"),
    ("download", 1),
]


@pytest.mark.parametrize(("option", "value"), INVALID, ids=[f"{o}={v!r}" for o, v in INVALID])
def test_an_invalid_value_is_an_error_naming_the_option_and_the_value(option, value):
    config = TrainConfig(**{option: value})
    with pytest.raises(ValueError) as info:
        config.validate()
    message = str(info.value)
    assert f"--{option.replace('_', '-')}" in message
    assert repr(value) in message


@pytest.mark.parametrize(("option", "value"), INVALID, ids=[f"{o}={v!r}" for o, v in INVALID])
def test_from_dict_then_validate_rejects_the_same_values(option, value):
    with pytest.raises(ValueError, match=f"--{option.replace('_', '-')}"):
        TrainConfig.from_dict({option: value}).validate()


def test_the_defaults_are_valid_and_validate_returns_the_config():
    config = TrainConfig()
    assert config.validate() is config
    assert (config.dataset, config.model, config.optimizer, config.epochs) == (
        "digits",
        "mlp",
        "adam",
        30,
    )
    assert config.hidden == [100]


@pytest.mark.parametrize(
    "options",
    [
        {"lr": None},
        {"lr": 1e-9},
        {"momentum": 0.0},
        {"momentum": 0.99},
        {"val_fraction": 0.5},
        {"reg": 0.0, "weight_decay": 0.0},
        {"warmup": 0, "early_stopping": None, "clip_grad": None},
        {"early_stopping": 1, "clip_grad": 0.5},
        {"hidden": [3, 4, 5]},
        {"epochs": 1, "batch_size": 1, "seed": 0},
        {"schedule": "plateau", "warmup": 0},
        {"schedule": "cosine", "warmup": 5},
    ],
)
def test_boundary_values_are_accepted(options):
    config = TrainConfig(**options).validate()
    for k, v in options.items():
        assert getattr(config, k) == v


def test_validate_normalises_the_dataset_name_and_a_single_width():
    config = TrainConfig(dataset="fashion_mnist", hidden=50).validate()
    assert config.dataset == "fashion-mnist"
    assert config.hidden == [50]


def test_warmup_with_the_plateau_schedule_is_rejected_by_validate():
    # make_scheduler refuses this combination, but only once fit has created the run folder;
    # "invalid option values: an error before any work starts" needs validate to catch it.
    with pytest.raises(ValueError, match="--warmup"):
        TrainConfig(schedule="plateau", warmup=2).validate()


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_resolved_lr_is_the_optimizers_default_unless_given(optimizer):
    assert TrainConfig(optimizer=optimizer).resolved_lr == DEFAULT_LR[optimizer]
    assert TrainConfig(optimizer=optimizer, lr=0.123).resolved_lr == 0.123


def test_to_dict_and_from_dict_round_trip():
    config = TrainConfig(dataset="spiral", hidden=[7, 8], lr=0.5, epochs=3, seed=4).validate()
    again = TrainConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config


def test_from_dict_rejects_unknown_keys_naming_them_and_the_source():
    with pytest.raises(ValueError) as info:
        TrainConfig.from_dict({"epochs": 3, "learning_rate": 0.1, "layers": 2}, "run.toml")
    message = str(info.value)
    assert "run.toml" in message
    assert "learning_rate" in message and "layers" in message
    assert "lr" in message  # the known options are listed


def test_from_dict_of_nothing_is_the_default_config():
    assert TrainConfig.from_dict({}) == TrainConfig()


@pytest.mark.parametrize("dataset", POINT_DATASETS)
def test_presets_of_the_2d_sets(dataset):
    config = TrainConfig.from_dict({"dataset": dataset}).validate()
    assert config.epochs == 200 == PRESETS[dataset]["epochs"]
    assert config.lr == 0.01 == PRESETS[dataset]["lr"]
    assert config.resolved_lr == 0.01


def test_presets_apply_only_to_the_options_not_given():
    config = TrainConfig.from_dict({"dataset": "spiral", "epochs": 7})
    assert (config.epochs, config.lr) == (7, 0.01)
    config = TrainConfig.from_dict({"dataset": "moons", "lr": 0.5})
    assert (config.epochs, config.lr) == (200, 0.5)
    # another optimizer takes its own default rate, not the preset's
    config = TrainConfig.from_dict({"dataset": "spiral", "optimizer": "sgd"})
    assert config.epochs == 200
    assert config.resolved_lr == DEFAULT_LR["sgd"]


def test_no_presets_for_the_image_sets_nor_for_the_constructor():
    assert TrainConfig.from_dict({"dataset": "digits"}) == TrainConfig()
    direct = TrainConfig(dataset="spiral")
    assert (direct.epochs, direct.lr) == (30, None)


def test_from_file_toml(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(
        '# a run\ndataset = "spiral"\nhidden = [20, 10]\nbatch-size = 16\nreg = 1e-3\n',
        encoding="utf-8",
    )
    values = TrainConfig.from_file(path)
    assert values == {"dataset": "spiral", "hidden": [20, 10], "batch_size": 16, "reg": 1e-3}
    config = TrainConfig.from_dict(values, str(path)).validate()
    assert (config.hidden, config.batch_size, config.reg) == ([20, 10], 16, 1e-3)
    assert (config.epochs, config.lr) == (200, 0.01)  # the preset fills what the file omits


def test_from_file_json(tmp_path):
    path = tmp_path / "run.JSON"
    path.write_text(json.dumps({"model": "linear", "epochs": 4, "val-fraction": 0.2}))
    values = TrainConfig.from_file(path)
    assert values == {"model": "linear", "epochs": 4, "val_fraction": 0.2}
    config = TrainConfig.from_dict(values).validate()
    assert (config.model, config.epochs, config.val_fraction) == ("linear", 4, 0.2)


def test_from_file_missing(tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(FileNotFoundError, match="nope.toml"):
        TrainConfig.from_file(path)
    with pytest.raises(FileNotFoundError, match="--config"):
        TrainConfig.from_file(tmp_path)  # a folder is not a file


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("run.yaml", b"epochs: 3\n", "toml or .json"),
        ("run", b"epochs = 3\n", "no suffix"),
        ("run.toml", b"epochs = \n", "run.toml"),
        ("run.toml", b"epochs = 3\nepochs = 4\n", "run.toml"),
        ("run.json", b'{"epochs": 3', "run.json"),
        ("run.json", b"[1, 2, 3]", "table of options"),
        ("run.json", b'"digits"', "table of options"),
        ("run.toml", b'dataset = "\xff\xfe"\n', "run.toml"),
        ("run.toml", b"hidden = " + b"[" * 10_000 + b"]" * 10_000 + b"\n", "nested too deep"),
        ("run.toml", b"seed = " + b"{a = " * 10_000 + b"1" + b"}" * 10_000, "nested too deep"),
        ("run.json", b'{"hidden": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deep"),
    ],
    ids=[
        "yaml",
        "no-suffix",
        "toml-syntax",
        "toml-duplicate",
        "json-syntax",
        "json-list",
        "json-string",
        "not-utf8",
        "toml-10000-deep-list",
        "toml-10000-deep-table",
        "json-100000-deep",
    ],
)
def test_from_file_bad_files_are_value_errors_naming_the_file(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError) as info:
        TrainConfig.from_file(path)
    assert expected in str(info.value)
    assert "--config" in str(info.value)


def test_a_long_bad_value_is_shown_cut_short():
    with pytest.raises(ValueError) as info:
        TrainConfig(hidden=[[1] * 10_000]).validate()
    assert "--hidden" in str(info.value) and len(str(info.value)) < 200


def test_a_path_is_accepted_as_a_folder_name(tmp_path):
    config = TrainConfig(data_dir=tmp_path, out=tmp_path / "run").validate()
    assert config.data_dir == str(tmp_path) and config.out == str(tmp_path / "run")
    json.dumps(config.to_dict())  # still writable to config.json


def test_a_file_with_an_unknown_key_or_a_bad_value(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("epochs = 3\nlearning-rate = 0.1\n")
    with pytest.raises(ValueError, match="learning_rate"):
        TrainConfig.from_dict(TrainConfig.from_file(path), str(path))
    path.write_text("epochs = 0\n")
    with pytest.raises(ValueError, match="--epochs: .*got 0"):
        TrainConfig.from_dict(TrainConfig.from_file(path), str(path)).validate()
