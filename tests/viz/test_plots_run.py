"""The figures a training run writes into its folder, read back as matplotlib objects: every
accuracy names its split, the plane's axes are x1 and x2, weights read on a colour bar."""

import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from chainrule.train import TrainConfig, fit  # noqa: E402
from chainrule.viz import plots  # noqa: E402


@pytest.fixture
def drawn(monkeypatch):
    """Every figure save_figure writes during the test, by file name."""
    figures = {}
    real = plots.save_figure

    def keep(fig, path, *args, **kwargs):
        figures[path.name] = fig
        return real(fig, path, *args, **kwargs)

    monkeypatch.setattr(plots, "save_figure", keep)
    return figures


def colorbars(fig):
    return [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]


def test_a_2d_run_s_boundary_names_its_split_and_the_plane_s_axes(tmp_path, drawn):
    config = TrainConfig.from_dict({"dataset": "spiral", "epochs": 3})
    summary = fit(config, tmp_path / "run")
    assert (tmp_path / "run" / "boundary.png").is_file()
    (ax,) = drawn["boundary.png"].axes
    title = ax.get_title()
    # the number the run reports, over the split it is measured on, not all the points shown
    assert f"test accuracy {summary['test_accuracy']:.2%}" in title, title
    assert f"on the {summary['test_samples']} test points" in title, title
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x1", "x2")
    (cm,) = [a for a in drawn["confusion.png"].axes if a.get_label() != "<colorbar>"]
    assert "test" in cm.get_title()  # the confusion matrix's accuracy too
    curves = drawn["curves.png"]
    labels = [t.get_text() for a in curves.axes if a.get_legend() for t in a.get_legend().texts]
    assert any("train" in t for t in labels) and any("val" in t for t in labels), labels


def test_an_mlp_run_on_images_writes_its_first_layer_as_images_on_a_colour_bar(tmp_path, drawn):
    config = TrainConfig.from_dict({"dataset": "digits", "model": "mlp", "epochs": 1})
    fit(config, tmp_path / "run")
    assert (tmp_path / "run" / "first_layer.png").is_file()
    fig = drawn["first_layer.png"]
    (bar,) = colorbars(fig)
    assert bar.get_ylabel() == "weight"
    assert "first layer" in fig._suptitle.get_text()
    (tiles,) = [a for a in fig.axes if a.get_label() != "<colorbar>"]
    assert tiles.images[0].get_array().shape[0] > 8  # several 8x8 units tiled, not one


def test_a_linear_run_on_images_writes_its_templates_on_a_colour_bar(tmp_path, drawn):
    config = TrainConfig.from_dict({"dataset": "digits", "model": "linear", "epochs": 1})
    fit(config, tmp_path / "run")
    fig = drawn["templates.png"]
    (bar,) = colorbars(fig)
    assert bar.get_ylabel() == "weight"
    titles = [a.get_title() for a in fig.axes if a.get_label() != "<colorbar>"]
    assert titles == [str(d) for d in range(10)]
