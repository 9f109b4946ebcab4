"""The playground's settings: every field checked, with a sentence that names what went wrong."""

import pytest

from chainrule.playground.config import DATASETS, PRESETS, Config, Limits, SettingError


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"lr": -1}, "lr must be a number > 0 and at most 10; got -1"),
        ({"lr": 0}, "lr must be a number > 0"),
        ({"lr": "fast"}, "lr must be a number; got 'fast'"),
        ({"lr": float("nan")}, "lr must be a finite number"),
        ({"l2": -0.1}, "l2 must be a number >= 0 and at most 10"),
        ({"hidden": [1_000_000]}, "each hidden layer must have from 1 to 32 units; got 1000000"),
        ({"hidden": [0]}, "from 1 to 32 units; got 0"),
        ({"hidden": [4] * 7}, "at most 6 layers; got 7"),
        ({"hidden": "16,16"}, "hidden must be a list of layer widths"),
        ({"points": 10**6}, "points must be a whole number from 8 to 2000; got 1000000"),
        ({"classes": 6}, "classes must be a whole number from 2 to 5"),
        ({"classes": True}, "classes must be a whole number"),
        ({"dataset": "mnist"}, "dataset must be one of spiral, circles, moons, xor, gaussians"),
        ({"activation": "swish"}, "activation must be one of"),
        ({"batch_size": 0}, "batch_size must be a whole number from 1 to 500"),
        ({"test_fraction": 0.95}, "test_fraction must be a number >= 0.1 and at most 0.9"),
        ({"speed": 3}, "unknown setting 'speed'"),
        ({"added": [[0, 0, 7]]}, "an added point's class must be a whole number from 0 to 4"),
        ({"added": [[0, 0, 2]], "classes": 2}, "an added point has class 2"),
        ({"added": [[99, 0, 0]]}, "within [-10, 10]"),
        ({"added": [[0, 0, 0]] * 501}, "at most 500 points may be added"),
        ({"classes": 5, "points": 16}, "points must be at least 20 for 5 classes"),
        ([1, 2], "settings must be an object"),
    ],
)
def test_bad_settings_are_refused_with_a_sentence(changes, words):
    with pytest.raises(SettingError) as e:
        Config().update(changes)
    assert words in str(e.value)


def test_error_names_the_field():
    with pytest.raises(SettingError) as e:
        Config().update({"lr": -1})
    assert e.value.field == "lr"


def test_update_returns_a_new_config_and_leaves_the_old_one():
    old = Config()
    new = old.update({"hidden": [6, 3.0], "l2": 0.1, "lr": 1})
    assert new.hidden == [6, 3] and new.l2 == 0.1 and new.lr == 1.0
    assert old.hidden == [16, 16] and old.l2 == 0.001


@pytest.mark.parametrize("dataset", DATASETS)
def test_every_set_takes_2_to_5_classes_and_no_other_count(dataset):
    for k in (2, 3, 4, 5):
        c = Config().update({"dataset": dataset, "classes": k})
        assert c.classes == c.num_classes == c.to_dict()["num_classes"] == k
    for k, found in ((1, "1"), (6, "6"), (0, "0"), (-2, "-2"), (2.5, "2.5"), ("3", "'3'")):
        with pytest.raises(SettingError) as e:
            Config().update({"dataset": dataset, "classes": k})
        assert str(e.value) == f"classes must be a whole number from 2 to 5; got {found}"
        assert e.value.field == "classes"
    with pytest.raises(SettingError, match="an added point has class 3, but .* has 3 classes"):
        Config().update({"dataset": dataset, "classes": 3, "added": [[0, 0, 3]]})


def test_limits_apply():
    small = Limits(max_units=8, max_layers=2)
    with pytest.raises(SettingError, match="from 1 to 8 units"):
        Config().update({"hidden": [9]}, small)
    with pytest.raises(ValueError, match="max_units must be a positive integer"):
        Limits(max_units=0)


def test_presets_are_valid_and_reproduce_the_lecture():
    for changes in PRESETS.values():
        Config().update(changes)
    hidden = sorted(c["hidden"][0] for c in PRESETS.values() if c["l2"] == 0.001)
    assert hidden == [3, 6, 20, 20]  # the third lambda preset shares 20 units and 0.001
    lambdas = sorted(c["l2"] for n, c in PRESETS.items() if n.startswith("lambda"))
    assert lambdas == [0.001, 0.01, 0.1]
    # every set takes a class count, so each figure names its own: three arms, two moons
    assert {n: (c["dataset"], c["classes"]) for n, c in PRESETS.items()} == {
        **{f"{h} hidden units": ("spiral", 3) for h in (3, 6, 20)},
        **{f"lambda = {lam}": ("moons", 2) for lam in (0.001, 0.01, 0.1)},
    }
