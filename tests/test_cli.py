"""The `chainrule` command: the demo prints the lecture neuron's gradients; help and bad input."""

import math
import re
import subprocess
import sys

import pytest

from chainrule import cli

# the lecture's neuron at w0 = 2, x0 = -1, w1 = -3, x1 = -2, w2 = -3: f = sigmoid(1)
S = 1.0 / (1.0 + math.exp(-1.0))
DS = S * (1.0 - S)
EXPECTED = {"w0": -DS, "x0": 2 * DS, "w1": -2 * DS, "x1": -3 * DS, "w2": DS}


def check_neuron_output(out: str) -> None:
    assert f"{S:.4f}" in out  # 0.7311
    for name, value in EXPECTED.items():
        match = re.search(rf"d\w*/d{name}\s*=\s*(-?\d+\.\d+)", out)
        assert match, f"no gradient for {name} in:\n{out}"
        assert float(match.group(1)) == pytest.approx(value, abs=1e-4), name
    for text in ("-0.1966", "0.3932", "-0.3932", "-0.5898"):
        assert text in out


def test_demo_prints_the_neurons_gradients(capsys):
    status = cli.main(["demo", "--steps", "50"])
    assert status == 0
    out = capsys.readouterr().out
    check_neuron_output(out)
    losses = [float(v) for v in re.findall(r"loss\s+(\d+\.\d+)", out)]
    assert len(losses) >= 2
    assert losses[-1] < losses[0]  # training makes progress


def test_demo_is_reproducible_with_a_seed(capsys):
    cli.main(["demo", "--steps", "10", "--seed", "3"])
    first = capsys.readouterr().out
    cli.main(["demo", "--steps", "10", "--seed", "3"])
    second = capsys.readouterr().out

    def losses(text):
        return re.findall(r"loss\s+(\d+\.\d+)", text)

    assert losses(first) and losses(first) == losses(second)


def test_demo_as_a_module_in_a_subprocess():
    result = subprocess.run(
        [sys.executable, "-m", "chainrule.cli", "demo", "--steps", "20"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    check_neuron_output(result.stdout)


@pytest.mark.parametrize("argv", [["--help"], ["demo", "--help"]], ids=["main", "demo"])
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "usage" in out.lower()
    assert "demo" in out
    if argv[0] == "demo":
        assert "--steps" in out


def test_no_command_prints_help_and_fails(capsys):
    status = cli.main([])
    assert status != 0
    assert "demo" in capsys.readouterr().out


@pytest.mark.parametrize("steps", ["0", "-3"])
def test_invalid_steps_is_a_clear_error_exit(steps, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["demo", "--steps", steps])
    code = info.value.code
    assert code not in (0, None)
    message = (str(code) if isinstance(code, str) else "") + capsys.readouterr().err
    assert "--steps" in message
    assert steps in message


def test_non_integer_steps_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["demo", "--steps", "many"])
    assert info.value.code == 2
    assert "--steps" in capsys.readouterr().err


def test_invalid_steps_in_a_subprocess():
    result = subprocess.run(
        [sys.executable, "-m", "chainrule.cli", "demo", "--steps", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "--steps" in result.stderr
    assert "Traceback" not in result.stderr
