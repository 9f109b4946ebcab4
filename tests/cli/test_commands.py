"""The `chainrule` command: train, evaluate, predict, info, sweep; their help and errors."""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import chainrule as cr
from chainrule import cli
from chainrule.train import RunFolder, load_model, loop, predict_scores

EPOCH_LINE = re.compile(r"^epoch\s+\d+\s+train loss", re.MULTILINE)
COMMANDS = ["train", "evaluate", "predict", "info", "sweep", "demo"]


def run_cli(argv: list[str]) -> int:
    """``cli.main(argv)``'s exit status, whether returned or raised by argparse."""
    try:
        return cli.main([str(a) for a in argv])
    except SystemExit as e:
        return e.code


def accuracy_in(text: str) -> float:
    match = re.search(r"accuracy (\d+\.\d\d)%", text)
    assert match, text
    return float(match.group(1)) / 100


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One 2-epoch digits run through the command, and what it printed."""
    out = tmp_path_factory.mktemp("cli") / "run"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = cli.main(["train", "--epochs", "2", "--out", str(out)])
    summary = json.loads((out / "summary.json").read_text())
    return SimpleNamespace(out=out, status=status, stdout=stdout.getvalue(), summary=summary)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """A default --out (runs/...) would land in the test's folder, never in the repository."""
    monkeypatch.chdir(tmp_path)


# ----- train -----
def test_train_prints_epochs_then_the_summary(trained):
    assert trained.status == 0
    out = trained.stdout
    assert out.startswith("chainrule train: training mlp on digits")
    assert len(EPOCH_LINE.findall(out)) == 2
    assert "test accuracy" in out
    assert accuracy_in(out) == pytest.approx(trained.summary["test_accuracy"], abs=5e-5)
    assert re.search(r"^\s*class\s+accuracy$", out, re.MULTILINE)
    for c in range(10):  # one row per class in the table and in the confusion matrix
        assert len(re.findall(rf"^\s+{c}\s+\d+\.\d\d%$", out, re.MULTILINE)) == 1
        assert len(re.findall(rf"^\s+{c}(\s+\d+){{10}}$", out, re.MULTILINE)) == 1
    assert "confusion matrix" in out
    assert str(trained.out) in out
    assert len(RunFolder(trained.out).read_metrics()) == 2


def test_train_quiet_prints_only_the_summary(tmp_path, capsys):
    assert run_cli(["train", "--epochs", "2", "--quiet", "--out", tmp_path / "q"]) == 0
    out = capsys.readouterr().out
    assert not EPOCH_LINE.search(out)
    assert "chainrule train:" not in out
    assert out.lstrip().startswith("test accuracy")
    assert "confusion matrix" in out


def test_train_from_a_toml_file_with_a_command_line_override(tmp_path, capsys):
    path = tmp_path / "run.toml"
    path.write_text('epochs = 1\nhidden = [16]\nlr = 0.01\nbatch-size = 64\noptimizer = "sgd"\n')
    out = tmp_path / "run"
    status = run_cli(["train", "--config", path, "--lr", "0.02", "--quiet", "--out", out])
    assert status == 0, capsys.readouterr().err
    options = json.loads((out / "config.json").read_text())["options"]
    assert options["lr"] == 0.02  # the command line wins
    assert (options["epochs"], options["hidden"], options["batch_size"]) == (1, [16], 64)
    assert options["optimizer"] == "sgd"


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("run.toml", "epochs = 1\nlearning_rate = 0.1\n", "learning_rate"),
        ("run.toml", "epochs = \n", "run.toml"),
        ("run.yaml", "epochs: 1\n", ".toml or .json"),
        ("missing.toml", None, "missing.toml"),
    ],
    ids=["unknown-key", "syntax", "suffix", "missing"],
)
def test_train_with_a_bad_config_file(tmp_path, capsys, name, text, expected):
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    assert run_cli(["train", "--config", path, "--out", tmp_path / "run"]) == 2
    err = capsys.readouterr().err
    assert "chainrule train: error:" in err and expected in err
    assert not (tmp_path / "run").exists()


def test_train_hidden_100_100_gives_two_hidden_layers(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli(["train", "--hidden", "100,100", "--epochs", "1", "--quiet", "--out", out]) == 0
    options = json.loads((out / "config.json").read_text())["options"]
    assert options["hidden"] == [100, 100]
    _, _, spec = load_model(out)
    assert spec["hidden"] == [100, 100]
    weights = [k for k in cr.load(out / "model.safetensors") if k.endswith("weight")]
    assert len(weights) == 3  # 64-100-100-10
    capsys.readouterr()
    assert run_cli(["info", out]) == 0
    assert "MLP 64-100-100-10" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--lr", "-1"], "--lr"),
        (["--lr", "0"], "--lr"),
        (["--epochs", "0"], "--epochs"),
        (["--hidden", "0"], "--hidden"),
        (["--hidden", "100,abc"], "--hidden"),
        (["--dataset", "foo"], "--dataset"),
        (["--batch-size", "0"], "--batch-size"),
        (["--val-fraction", "1"], "--val-fraction"),
        (["--momentum", "1.5"], "--momentum"),
        (["--early-stopping", "0"], "--early-stopping"),
        (["--epochs", "two"], "--epochs"),
        (["--schedule", "plateau", "--warmup", "1"], "--warmup"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else v,
)
def test_invalid_values_exit_2_naming_the_option_before_any_folder(tmp_path, capsys, args, option):
    out = tmp_path / "run"
    assert run_cli(["train", *args, "--out", out]) == 2
    err = capsys.readouterr().err
    assert option in err
    assert "error" in err
    assert not out.exists()
    assert not (tmp_path / "runs").exists()


def test_an_existing_out_is_refused_without_overwrite(trained, capsys):
    before = (trained.out / "metrics.csv").read_bytes()
    assert run_cli(["train", "--epochs", "1", "--out", trained.out]) == 2
    err = capsys.readouterr().err
    assert "--resume" in err and "--overwrite" in err
    assert (trained.out / "metrics.csv").read_bytes() == before


def test_overwrite_replaces_a_run(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli(["train", "--epochs", "2", "--quiet", "--out", out]) == 0
    assert run_cli(["train", "--epochs", "1", "--quiet", "--overwrite", "--out", out]) == 0
    assert len(RunFolder(out).read_metrics()) == 1


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]], ids=["plain", "overwrite"])
def test_a_folder_that_is_no_run_is_refused_and_never_deleted(tmp_path, capsys, overwrite):
    proj = tmp_path / "proj"
    (proj / "src").mkdir(parents=True)
    (proj / "README.md").write_text("x")
    assert run_cli(["train", "--epochs", "1", *overwrite, "--out", proj]) == 2
    err = capsys.readouterr().err
    assert "not a chainrule run folder" in err and "--overwrite" not in err
    assert (proj / "README.md").read_text() == "x" and (proj / "src").is_dir()


def test_resume_of_a_folder_with_a_foreign_config_json_is_a_clean_error(tmp_path, capsys):
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "config.json").write_text("{}")
    (tmp_path / "f" / ".mine.tmp").write_text("x")
    assert run_cli(["train", "--resume", tmp_path / "f"]) == 2
    assert "is not a chainrule run folder" in capsys.readouterr().err
    assert (tmp_path / "f" / ".mine.tmp").exists()


@pytest.mark.skipif(sys.platform != "linux", reason="Linux paths")
@pytest.mark.parametrize("out", ["/dev/null/x", "/sys/x"])
def test_an_out_that_cannot_be_made_is_a_one_line_error_in_a_subprocess(out):
    result = subprocess.run(
        [sys.executable, "-m", "chainrule", "train", "--quiet", "--epochs", "1", "--out", out],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chainrule train: error: --out: cannot make")


def test_resume_with_more_epochs_continues_the_run(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli(["train", "--epochs", "1", "--quiet", "--out", out]) == 0
    first = RunFolder(out).read_metrics()
    capsys.readouterr()
    assert run_cli(["train", "--resume", out, "--epochs", "3"]) == 0
    text = capsys.readouterr().out
    assert f"resuming {out}" in text
    assert [int(m) for m in re.findall(r"^epoch\s+(\d+)", text, re.MULTILINE)] == [2, 3]
    rows = RunFolder(out).read_metrics()
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert rows[0] == first[0]  # the first epoch is kept, not retrained
    assert "test accuracy" in text


def test_resume_errors(tmp_path, trained, capsys):
    assert run_cli(["train", "--resume", trained.out, "--out", tmp_path / "other"]) == 2
    assert "drop --out" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert run_cli(["train", "--resume", tmp_path / "empty"]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_ctrl_c_exits_130_with_the_resume_command(tmp_path, capsys, monkeypatch):
    original = loop.train_epoch

    def patched(t, epoch, *rest):
        if epoch == 2:
            raise KeyboardInterrupt
        return original(t, epoch, *rest)

    monkeypatch.setattr(loop, "train_epoch", patched)
    out = tmp_path / "run"
    assert run_cli(["train", "--epochs", "3", "--out", out]) == 130
    err = capsys.readouterr().err
    assert f"chainrule train --resume {out}" in err
    assert len(RunFolder(out).read_metrics()) == 1


def test_ctrl_c_in_any_command_exits_130_without_a_traceback(trained, capsys, monkeypatch):
    import chainrule.train

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(chainrule.train, "evaluate", interrupted)
    assert run_cli(["evaluate", trained.out]) == 130
    assert capsys.readouterr().err == "chainrule evaluate: interrupted\n"


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_diverging_run_exits_2_suggesting_a_smaller_lr(tmp_path, capsys):
    assert run_cli(["train", "--optimizer", "sgd", "--lr", "1e6", "--out", tmp_path / "r"]) == 2
    err = capsys.readouterr().err
    assert "epoch 1, batch" in err and "smaller --lr" in err


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_diverging_adam_run_exits_2_too(tmp_path, capsys):
    assert run_cli(["train", "--lr", "1e6", "--quiet", "--out", tmp_path / "r"]) == 2
    err = capsys.readouterr().err
    assert "training diverged" in err and "epoch 1, batch" in err and "smaller --lr" in err


def test_train_in_a_subprocess(tmp_path):
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "chainrule", "train", "--epochs", "2", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert len(EPOCH_LINE.findall(result.stdout)) == 2
    assert "test accuracy" in result.stdout
    assert (out / "summary.json").is_file()
    bad = subprocess.run(
        [sys.executable, "-m", "chainrule", "train", "--lr", "-1", "--out", str(out) + "2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2
    assert "--lr" in bad.stderr
    assert not Path(str(out) + "2").exists()


# ----- evaluate, info -----
def test_evaluate_prints_the_accuracy_and_table(trained, capsys):
    assert run_cli(["evaluate", trained.out]) == 0
    out = capsys.readouterr().out
    assert "test split" in out
    assert accuracy_in(out) == pytest.approx(trained.summary["test_accuracy"], abs=5e-5)
    assert "confusion matrix" in out and re.search(r"class\s+accuracy", out)
    assert run_cli(["evaluate", trained.out, "--split", "val"]) == 0
    out = capsys.readouterr().out
    assert "val split" in out
    assert "val accuracy" in out and "test accuracy" not in out  # the split it was asked for
    assert accuracy_in(out) == pytest.approx(trained.summary["best_val_accuracy"], abs=5e-5)


def test_evaluate_and_info_of_a_folder_that_is_no_run(tmp_path, capsys):
    for command in ("evaluate", "info"):
        assert run_cli([command, tmp_path]) == 2
        assert "not a run folder" in capsys.readouterr().err


def test_info_prints_the_options_and_the_test_accuracy(trained, capsys):
    assert run_cli(["info", trained.out]) == 0
    out = capsys.readouterr().out
    assert "digits" in out and "1293 train" in out and "359 test" in out
    assert "MLP 64-100-10 (relu)" in out and "softmax loss" in out
    assert "adam lr 0.001" in out and "batch 32" in out and "seed 0" in out
    assert "2 of 2 done" in out
    assert accuracy_in(out) == pytest.approx(trained.summary["test_accuracy"], abs=5e-5)
    assert "numpy" in out


# ----- predict -----
@pytest.fixture(scope="module")
def digit_samples():
    return cr.data.datasets.digits().x_test[:3]  # float32 in [0, 1], shape (3, 8, 8)


def predicted(run, x: np.ndarray) -> list[tuple[str, float]]:
    """The class and top probability the run's model gives each sample."""
    model, prep, spec = load_model(run)
    scores = predict_scores(model, prep(x)).astype(np.float64)
    p = np.exp(scores - scores.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    return [(spec["classes"][k], float(p[i, k])) for i, k in enumerate(p.argmax(1))]


def parse_predictions(text: str) -> dict[str, tuple[str, list[tuple[str, float]]]]:
    result = {}
    for line in text.strip().splitlines():
        name, rest = line.split(": ", 1)
        cls, top = re.fullmatch(r"(\S+)\s+\((.*)\)", rest).groups()
        pairs = [(c, float(p)) for c, p in (t.split() for t in top.split(", "))]
        result[name] = (cls, pairs)
    return result


def test_predict_png_and_npy(trained, digit_samples, tmp_path, capsys):
    from PIL import Image

    pixels = (digit_samples * 255).round().astype(np.uint8)
    Image.fromarray(pixels[0], "L").save(tmp_path / "pil.png")  # 8-bit grey
    import matplotlib.image as mpimg

    mpimg.imsave(tmp_path / "mpl.png", pixels[1], cmap="gray", vmin=0, vmax=255)  # RGBA
    np.save(tmp_path / "one.npy", digit_samples[2])
    np.save(tmp_path / "batch.npy", digit_samples)
    files = [tmp_path / n for n in ("pil.png", "mpl.png", "one.npy", "batch.npy")]
    assert run_cli(["predict", trained.out, *files]) == 0
    got = parse_predictions(capsys.readouterr().out)
    names = [str(f) for f in files[:3]] + [f"{files[3]}[{i}]" for i in range(3)]
    assert list(got) == names
    expected = predicted(trained.out, pixels / 255.0)[:2] + predicted(trained.out, digit_samples)
    expected = [expected[0], expected[1], expected[4], *expected[2:5]]
    for name, (cls, prob) in zip(names, expected):
        got_cls, top = got[name]
        assert got_cls == cls == top[0][0], name
        assert top[0][1] == pytest.approx(prob, abs=2e-3), name
        assert len(top) == 3
        assert [p for _, p in top] == sorted((p for _, p in top), reverse=True)
        assert sum(p for _, p in top) <= 1.0 + 2e-3


def test_predict_top_1(trained, digit_samples, tmp_path, capsys):
    np.save(tmp_path / "one.npy", digit_samples[0])
    assert run_cli(["predict", trained.out, tmp_path / "one.npy", "--top", "1"]) == 0
    (_, top) = parse_predictions(capsys.readouterr().out)[str(tmp_path / "one.npy")]
    assert len(top) == 1
    assert run_cli(["predict", trained.out, tmp_path / "one.npy", "--top", "0"]) == 2
    assert "--top" in capsys.readouterr().err


def _write_bad(path: Path) -> None:
    from PIL import Image

    if path.name == "nine.png":
        Image.fromarray(np.zeros((9, 9), np.uint8), "L").save(path)
    elif path.name == "nine.npy":
        np.save(path, np.zeros((9, 9), np.float32))
    elif path.name == "notes.txt":
        path.write_text("not an image")
    elif path.name == "pickled.npy":
        np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    elif path.name == "fake.png":
        path.write_text("this is no PNG")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("nine.png", "shape (8, 8)"),
        ("nine.npy", "found shape (9, 9)"),
        ("notes.txt", ".png, .jpg, .jpeg or .npy"),
        ("pickled.npy", "object"),
        ("fake.png", "expected a png or jpeg image"),
        ("missing.png", "no such file"),
    ],
)
def test_predict_refuses_a_file_it_cannot_use(trained, tmp_path, capsys, name, expected):
    path = tmp_path / name
    _write_bad(path)
    assert run_cli(["predict", trained.out, path]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("chainrule predict: error:")
    assert name in captured.err and expected in captured.err.lower()
    assert captured.out == ""


def test_predict_with_a_folder_that_is_no_run(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((8, 8)))
    assert run_cli(["predict", tmp_path, tmp_path / "x.npy"]) == 2
    assert "not a run folder" in capsys.readouterr().err


# ----- sweep -----
def test_sweep_prints_a_table_and_the_best_run_and_draws_the_boundaries(tmp_path, capsys):
    out = tmp_path / "sweep"
    argv = ["sweep", "--dataset", "spiral", "--hidden", "3,20", "--reg", "0.001,0.1"]
    argv += ["--epochs", "5", "--workers", "2", "--out", out]
    assert run_cli(argv) == 0
    text = capsys.readouterr().out
    assert re.search(r"hidden\s+reg\s+val acc", text)
    rows = re.findall(r"^\s+(3|20)\s+(0\.001|0\.1)\s+\d+\.\d\d%$", text, re.MULTILINE)
    assert sorted(rows) == sorted([("3", "0.001"), ("3", "0.1"), ("20", "0.001"), ("20", "0.1")])
    assert "best on validation" in text
    result = json.loads((out / "sweep.json").read_text())
    assert len(result["runs"]) == 4
    best = result["best"]
    assert best["val_acc"] == max(r["val_acc"] for r in result["runs"])
    assert f"run folder: {best['out']}" in text
    png = out / "boundaries.png"
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sweep_errors_exit_2(tmp_path, capsys):
    assert run_cli(["sweep", "--reg", "0.1,-1", "--epochs", "1", "--out", tmp_path / "s"]) == 2
    assert "--reg" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()
    assert run_cli(["sweep", "--epochs", "1", "--out", tmp_path / "s"]) == 2
    assert "at least one" in capsys.readouterr().err
    assert run_cli(["sweep", "--hidden", "3,x", "--out", tmp_path / "s"]) == 2
    assert "--hidden" in capsys.readouterr().err


# ----- help -----
@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_every_command_shows_examples(command, capsys):
    assert run_cli([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: chainrule {command}")
    assert "examples:" in out
    assert f"chainrule {command}" in out.split("examples:", 1)[1]


@pytest.mark.parametrize("command", [*COMMANDS, "graph"])
def test_help_shows_plain_text_not_docstring_markup(command, capsys):
    assert run_cli([command, "--help"]) == 0
    assert "``" not in capsys.readouterr().out


def test_the_data_sets_are_listed_once_and_both_fashion_spellings_work(capsys):
    assert run_cli(["train", "--help"]) == 0
    out = capsys.readouterr().out
    assert "fashion-mnist" in out and "fashion_mnist," not in out and "fashion_mnist}" not in out
    for name in ("fashion_mnist", "fashion-mnist"):
        args = cli.build_parser().parse_args(["train", "--dataset", name])
        assert args.dataset == "fashion-mnist"


@pytest.mark.parametrize("command", ["train", "evaluate", "info"])
def test_the_examples_name_folders_that_train_makes(command, capsys):
    """A run folder in an example is a default one (runs/DATASET-MODEL-STAMP) or one that
    train's examples make with --out."""
    assert run_cli(["train", "--help"]) == 0
    made = set(re.findall(r"--out (runs/\S+)", capsys.readouterr().out))
    assert run_cli([command, "--help"]) == 0
    examples = capsys.readouterr().out.split("examples:", 1)[1]
    for folder in re.findall(r"chainrule \w+ .*?(runs/\S+)", examples):
        assert folder in made or re.fullmatch(r"runs/[a-z0-9-]+-\d{8}-\d{6}", folder), folder


def test_no_command_prints_help_and_exits_2(capsys):
    assert run_cli([]) == 2
    out = capsys.readouterr().out
    assert out.startswith("usage: chainrule")
    for command in COMMANDS:
        assert command in out


def test_train_a_convnet_with_its_options_then_info_and_predict(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--model", "convnet", "--channels", "4,8", "--kernel-size", "5"]
    argv += ["--pool", "avg", "--augment", "--epochs", "1", "--quiet", "--out", out]
    assert run_cli(argv) == 0
    _, _, spec = load_model(out)
    assert (spec["channels"], spec["kernel_size"], spec["pool"]) == ([4, 8], 5, "avg")
    assert (out / "filters.png").is_file() and (out / "feature_maps.png").is_file()
    capsys.readouterr()
    assert run_cli(["info", out]) == 0
    assert "ConvNet 8x8 -> conv 5x5 4-8 (avg pool) -> 100 -> 10" in capsys.readouterr().out
    sample = Path(cr.__file__).parent / "data" / "datasets" / "samples" / "digit-3.png"
    assert run_cli(["predict", out, sample]) == 0
    assert "digit-3.png" in capsys.readouterr().out
    assert run_cli(["train", "--model", "convnet", "--channels", "16,x", "--out", out]) == 2
