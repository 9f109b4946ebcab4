"""chainrule.viz.plots: every figure function, its numbers read back from the figure."""

import csv
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

import chainrule as cr  # noqa: E402
import chainrule.nn.functional as F  # noqa: E402
from chainrule import nn  # noqa: E402
from chainrule.viz import plots  # noqa: E402


def texts(fig):
    """Every piece of text in a figure: titles, labels, tick labels, annotations, legends."""
    found = [fig._suptitle.get_text()] if fig._suptitle is not None else []
    for ax in fig.axes:
        found += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        found += [t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels()]
        found += [t.get_text() for t in ax.texts]
        if ax.get_legend() is not None:
            found += [t.get_text() for t in ax.get_legend().get_texts()]
    return found


def x0_classifier():
    """Linear(2, 2) whose boundary is x0 = 0: class 0 on the left, class 1 on the right."""
    m = nn.Linear(2, 2)
    m.weight.data = cr.tensor([[-1.0, 0.0], [1.0, 0.0]])
    m.bias.data = cr.tensor([0.0, 0.0])
    return m


X2 = np.array([[-1.0, -1.0], [1.0, 1.0], [-0.5, 0.3], [0.7, -0.2]], dtype=np.float32)
Y2 = np.array([0, 1, 0, 1])


# ----- public surface -----
def test_viz_exports_the_plot_functions():
    import chainrule.viz as viz

    for name in plots.__all__:
        assert getattr(viz, name) is getattr(plots, name)


# ----- confusion matrix -----
def test_confusion_counts_hand_computed():
    y_true = [0, 0, 1, 1, 2, 2, 2]
    y_pred = [0, 1, 1, 1, 0, 2, 1]
    expected = np.array([[1, 1, 0], [0, 2, 0], [1, 1, 1]])
    counts = plots.confusion_counts(y_true, y_pred, 3)
    assert counts.dtype == np.int64
    np.testing.assert_array_equal(counts, expected)
    # Tensors work too, and a class never seen gets an empty row and column.
    counts4 = plots.confusion_counts(cr.tensor(y_true), cr.tensor(y_pred), 4)
    np.testing.assert_array_equal(counts4[:3, :3], expected)
    assert counts4[3].sum() == counts4[:, 3].sum() == 0


@pytest.mark.parametrize(
    "y_true, y_pred, num_classes, match",
    [
        ([0, 1, 2], [0, 1], 3, "3 true labels and 2 predicted"),
        ([0, 1, 3], [0, 1, 1], 3, r"labels in \[0, 3\); y_true holds 3"),
        ([0, 1], [[0.1, 0.9], [0.8, 0.2]], 2, r"shape \(2, 2\).*argmax"),
        ([0, -1], [0, 1], 2, ">= 0"),
        ([0.5, 1], [0, 1], 2, "integer class labels"),
        ([0, 1], [0, 1], 0, "positive integer"),
    ],
)
def test_confusion_counts_rejects_bad_labels(y_true, y_pred, num_classes, match):
    with pytest.raises(ValueError, match=match):
        plots.confusion_counts(y_true, y_pred, num_classes)


def test_confusion_matrix_annotates_the_counts_with_class_names():
    y_true = [0, 0, 1, 1, 2, 2, 2]
    y_pred = [0, 1, 1, 1, 0, 2, 1]
    fig = plots.confusion_matrix(y_true, y_pred, classes=["cat", "car", "frog"])
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2  # the matrix and its colour bar
    ax = fig.axes[0]
    assert ax.get_xlabel() == "predicted" and ax.get_ylabel() == "true"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "car", "frog"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cat", "car", "frog"]
    counts = plots.confusion_counts(y_true, y_pred, 3)
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t for t in ax.texts}
    assert len(cells) == 9
    for (i, j), t in cells.items():
        assert int(t.get_text()) == counts[i, j]
    np.testing.assert_array_equal(ax.images[0].get_array(), counts)
    assert ax.get_title() == "confusion matrix\naccuracy 57.1% on these 7 samples"  # 4 of 7
    fig = plots.confusion_matrix(y_true, y_pred, split="test")  # the split the labels are
    assert (
        fig.axes[0].get_title() == "confusion matrix, test split\ntest accuracy 57.14% on 7 samples"
    )


def test_confusion_matrix_normalized_rows_sum_to_one():
    fig = plots.confusion_matrix([0, 0, 0, 1], [0, 0, 1, 1], normalize=True)
    values = np.asarray(fig.axes[0].images[0].get_array())
    np.testing.assert_allclose(values, [[2 / 3, 1 / 3], [0, 1]])
    assert "0.67" in texts(fig) and "1.00" in texts(fig)


def test_confusion_matrix_many_classes_not_annotated_and_bad_names():
    y = np.arange(25)
    assert len(plots.confusion_matrix(y, y).axes[0].texts) == 0
    with pytest.raises(ValueError, match=r"labels in \[0, 2\).*got label 2"):
        plots.confusion_matrix([0, 1, 2], [0, 1, 2], classes=["a", "b"])


# ----- templates -----
def panels(fig):
    """The image axes of a figure, without its colour bar."""
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]


def colorbars(fig):
    return [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]


def test_grayscale_templates_share_one_scale_read_on_a_colour_bar():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 64))
    fig = plots.templates(w, (8, 8), classes=["zero", "one", "two"])
    assert len(panels(fig)) == 3
    assert [ax.get_title() for ax in panels(fig)] == ["zero", "one", "two"]
    image = panels(fig)[1].images[0]
    np.testing.assert_allclose(image.get_array(), w[1].reshape(8, 8))  # in weight units
    m = np.abs(w).max()
    assert image.get_clim() == pytest.approx((-m, m))  # one scale, 0 in the middle
    assert all(ax.images[0].get_clim() == image.get_clim() for ax in panels(fig))
    (bar,) = colorbars(fig)
    assert bar.get_ylabel() == "weight"
    assert "one scale" in fig._suptitle.get_text()


def test_templates_of_a_linear_layer_in_colour_and_channels_first():
    lin = nn.Linear(3 * 4 * 5, 10)
    w = lin.weight.detach().numpy().astype(np.float64)
    fig = plots.templates(lin, (4, 5, 3))
    assert len(fig.axes) == 10 and not colorbars(fig)  # colour: each image its own range
    assert [ax.get_title() for ax in fig.axes] == [str(i) for i in range(10)]
    assert "own min..max" in fig._suptitle.get_text()
    image = np.asarray(fig.axes[2].images[0].get_array())
    assert image.shape == (4, 5, 3)
    hwc = w[2].reshape(4, 5, 3)
    np.testing.assert_allclose(image, (hwc - hwc.min()) / (hwc.max() - hwc.min()), rtol=1e-6)
    # The same row read as (3, 4, 5), channels first, is transposed to HWC for display.
    chw = w[2].reshape(3, 4, 5).transpose(1, 2, 0)
    image = np.asarray(plots.templates(lin.weight, (3, 4, 5)).axes[2].images[0].get_array())
    np.testing.assert_allclose(image, (chw - chw.min()) / (chw.max() - chw.min()), rtol=1e-6)


def test_templates_constant_row_is_mid_grey():
    image = panels(plots.templates(np.zeros((1, 4)), (2, 2)))[0].images[0]
    assert image.norm(image.get_array()).tolist() == [[0.5, 0.5], [0.5, 0.5]]


@pytest.mark.parametrize(
    "weight, shape, match",
    [
        (np.zeros((10, 3072)), (28, 28), r"784 values.*\(10, 3072\)"),
        (np.zeros(64), (8, 8), r"\(units, D\).*\(64,\)"),
        (np.zeros((2, 64)), (4, 4, 4), r"C 1 or 3 channels.*\(4, 4, 4\)"),
    ],
)
def test_templates_rejects_shapes_that_do_not_match(weight, shape, match):
    with pytest.raises(ValueError, match=match):
        plots.templates(weight, shape)


def test_templates_needs_enough_class_names():
    with pytest.raises(ValueError, match="at least 3 class names"):
        plots.templates(np.ones((3, 4)), (2, 2), classes=["a", "b"])


def test_first_layer_of_an_mlp_uses_its_first_linear():
    mlp = nn.MLP(16, [12], 3)
    fig = plots.first_layer(mlp, (4, 4), max_units=9)
    assert len(panels(fig)) == 1 and len(colorbars(fig)) == 1  # one tiled image, one scale
    assert "9 of 12 units" in fig._suptitle.get_text()
    weights = mlp[0].weight.detach().numpy().astype(np.float64)
    mosaic = np.asarray(panels(fig)[0].images[0].get_array())
    assert mosaic.shape == (3 * 5 - 1, 3 * 5 - 1)  # 3 x 3 tiles of 4 x 4, a pixel between
    np.testing.assert_allclose(mosaic[5:9, 5:9], weights[4].reshape(4, 4), rtol=1e-6)  # unit 4
    m = np.abs(weights[:9]).max()
    assert panels(fig)[0].images[0].get_clim() == pytest.approx((-m, m))
    mosaic = np.asarray(
        panels(plots.first_layer(mlp[0].weight, (4, 4))).pop().images[0].get_array()
    )
    assert mosaic.shape == (3 * 5 - 1, 4 * 5 - 1)  # 12 units: 4 wide, 3 rows
    with pytest.raises(ValueError, match="max_units"):
        plots.first_layer(mlp, (4, 4), max_units=0)


# ----- decision boundaries -----
def test_class_grid_splits_the_plane_at_x0():
    xx, yy, cls = plots.class_grid(x0_classifier(), X2, resolution=41)
    assert xx.shape == yy.shape == cls.shape == (41, 41)
    assert xx.min() < X2[:, 0].min() and xx.max() > X2[:, 0].max()  # the margin
    np.testing.assert_array_equal(cls[xx < 0], 0)
    np.testing.assert_array_equal(cls[xx > 0], 1)


def test_decision_boundary_regions_points_and_legend():
    model = x0_classifier()
    model.train()
    fig = plots.decision_boundary(
        model, cr.tensor(X2), Y2, classes=["left", "right"], resolution=50
    )
    assert model.training  # evaluated in eval mode, then put back
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    (regions,) = [c for c in ax.collections if hasattr(c, "allsegs")]
    np.testing.assert_allclose(regions.levels, [-0.5, 0.5, 1.5])
    left = np.concatenate(regions.allsegs[0])  # the polygons filled with class 0's colour
    right = np.concatenate(regions.allsegs[1])
    step = 2.4 / 49  # grid spacing: data extent 2 plus a 10% margin on each side
    assert left[:, 0].max() <= step and right[:, 0].min() >= -step
    assert left[:, 0].min() < -1 and right[:, 0].max() > 1
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["left", "right"]
    # the accuracy says what it is over; the axes name the plane's coordinates
    assert ax.get_title() == "decision boundary\naccuracy 100.0% on the 4 points shown"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x1", "x2")
    # A plain function works too, and sees a float32 Tensor of shape (M, 2).
    seen = []

    def fn(t):
        seen.append((t.dtype, t.shape[1], t.requires_grad))
        return cr.stack([-t[:, 0], t[:, 0]], dim=1)

    fig = plots.decision_boundary(fn, X2, Y2, resolution=10)
    assert seen[0] == (cr.float32, 2, False)
    assert "class 0" in texts(fig)


@pytest.mark.parametrize(
    "x, y, match",
    [
        (np.zeros((4, 3)), [0, 1, 0, 1], r"x of shape \(N, 2\).*got shape \(4, 3\)"),
        (np.zeros(4), [0, 1, 0, 1], r"x of shape \(N, 2\).*got shape \(4,\)"),
        (X2, [0, 1, 0], "y of length 4; got length 3"),
    ],
)
def test_decision_boundary_rejects_bad_input(x, y, match):
    with pytest.raises(ValueError, match=match):
        plots.decision_boundary(x0_classifier(), x, y)


def test_decision_boundary_rejects_scores_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"scores of shape \(4, C\).*got shape \(2, 2\)"):
        plots.decision_boundary(lambda t: cr.zeros(2, 2), X2, Y2, resolution=2)


def test_boundary_grid_titles_and_layout():
    models = {
        (h, lam): (x0_classifier(), acc)
        for h, acc in ((3, 0.5), (20, 1.0))
        for lam in (0.001, 0.01, 0.1)
    }
    with pytest.raises(ValueError, match="say which data they were measured on with split="):
        plots.boundary_grid(models, X2, Y2, resolution=10)
    fig = plots.boundary_grid(models, X2, Y2, resolution=10, split="validation")
    assert len(fig.axes) == 6
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == "hidden units = 3, lambda = 0.001\nvalidation accuracy 50.0%"
    assert titles[5] == "hidden units = 20, lambda = 0.1\nvalidation accuracy 100.0%"
    assert fig.axes[0].get_legend() is not None and fig.axes[1].get_legend() is None
    # the plane's coordinates named on the outer panels, few enough ticks not to collide
    assert [ax.get_xlabel() for ax in fig.axes] == ["", "", "", "x1", "x1", "x1"]
    assert [ax.get_ylabel() for ax in fig.axes] == ["x2", "", "", "x2", "", ""]
    assert all(len(ax.get_xticks()) <= 5 for ax in fig.axes)
    # the lecture's layout: any title per panel
    m = x0_classifier()
    fig = plots.boundary_grid(
        [[m, m], [m, m]], X2, Y2, rows=[0, 1], cols=[0, 1], resolution=10,
        titles=[["3 units", "20 units"], ["lambda 0.001", "lambda 0.01"]], suptitle="sizes",
    )  # fmt: skip
    assert [ax.get_title() for ax in fig.axes] == [
        "3 units", "20 units", "lambda 0.001", "lambda 0.01"
    ]  # fmt: skip
    assert fig._suptitle.get_text() == "sizes"

    # A 2-D list with its row and column values; a missing pair shows "no model".
    m = x0_classifier()
    fig = plots.boundary_grid([[m, m]], X2, Y2, rows=[6], cols=[0.1, 1], resolution=10)
    assert [ax.get_title() for ax in fig.axes] == [
        "hidden units = 6, lambda = 0.1",
        "hidden units = 6, lambda = 1",
    ]
    fig = plots.boundary_grid({(1, 1): m, (2, 2): m}, X2, Y2, row_label="h", resolution=10)
    assert len(fig.axes) == 4 and "no model" in texts(fig)
    with pytest.raises(ValueError, match="2 column values.*got 1 and 1"):
        plots.boundary_grid([[m, m]], X2, Y2, rows=[6], cols=[0.1])


# ----- activations -----
def test_activation_functions_derivatives_match_the_analytic_ones():
    fig = plots.activation_functions()
    assert len(fig.axes) == 12  # the lecture's six, Maxout among them
    names = ["sigmoid", "tanh", "relu", "leaky_relu", "maxout", "elu"]
    assert [ax.get_title().split(":")[0] for ax in fig.axes[::2]] == names
    assert all("'" in ax.get_title() for ax in fig.axes[1::2])
    x = np.linspace(-5, 5, 501)
    s = 1 / (1 + np.exp(-x))
    expected = {
        "sigmoid": (s, s * (1 - s)),
        "tanh": (np.tanh(x), 1 - np.tanh(x) ** 2),
        "relu": (np.maximum(x, 0), (x > 0).astype(float)),
        "leaky_relu": (np.maximum(0.1 * x, x), np.where(x > 0, 1.0, 0.1)),
        "maxout": (np.maximum(x, -0.5 * x - 1), np.where(x > -0.5 * x - 1, 1.0, -0.5)),
        "elu": (np.where(x > 0, x, np.expm1(x)), np.where(x > 0, 1.0, np.exp(x))),
    }
    for i, name in enumerate(names):
        f_line = fig.axes[2 * i].lines[0].get_xydata()
        d_line = fig.axes[2 * i + 1].lines[0].get_xydata()
        np.testing.assert_allclose(f_line[:, 0], x, atol=1e-12)
        np.testing.assert_allclose(f_line[:, 1], expected[name][0], atol=1e-9, err_msg=name)
        np.testing.assert_allclose(d_line[:, 1], expected[name][1], atol=1e-9, err_msg=name)


def test_activation_functions_subset_and_unknown_name():
    assert len(plots.activation_functions(["relu"]).axes) == 2
    with pytest.raises(ValueError, match="among.*'sigmoid'.*got \\['swish'\\]"):
        plots.activation_functions(["relu", "swish"])


# ----- training figures -----
HISTORY = [
    {"epoch": 1, "train_loss": 2.0, "val_loss": 2.1, "train_acc": 0.3, "val_acc": 0.25},
    {"epoch": 2, "train_loss": 1.0, "val_loss": None, "train_acc": 0.6, "val_acc": None},
    {"epoch": 3, "train_loss": 0.5, "val_loss": 0.9, "train_acc": 0.8, "val_acc": 0.7},
]


def check_curves(fig):
    assert len(fig.axes) == 2
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_title() == "loss" and acc_ax.get_title() == "accuracy"
    assert loss_ax.get_xlabel() == acc_ax.get_xlabel() == "epoch"
    assert [t.get_text() for t in loss_ax.get_legend().get_texts()] == ["train", "validation"]
    np.testing.assert_allclose(loss_ax.lines[0].get_xydata(), [[1, 2.0], [2, 1.0], [3, 0.5]])
    val = np.asarray(acc_ax.lines[1].get_ydata(), dtype=float)
    np.testing.assert_allclose(val, [0.25, np.nan, 0.7])  # a missing value is a gap


def test_learning_curves_from_a_list():
    check_curves(plots.learning_curves(HISTORY))


def test_learning_curves_from_a_run_folder(tmp_path):
    with open(tmp_path / "metrics.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[*HISTORY[0], "lr"])
        writer.writeheader()
        for row in HISTORY:
            writer.writerow({**{k: "" if v is None else v for k, v in row.items()}, "lr": 0.1})
    check_curves(plots.learning_curves(tmp_path))
    check_curves(plots.learning_curves(str(tmp_path / "metrics.csv")))


def test_learning_curves_missing_metrics_and_errors(tmp_path):
    fig = plots.learning_curves([{"train_loss": 1.0}, {"train_loss": 0.5}])
    np.testing.assert_allclose(fig.axes[0].lines[0].get_xdata(), [1, 2])  # epochs from 1
    assert len(fig.axes[1].lines) == 0 and "no accuracy recorded" in texts(fig)
    with pytest.raises(FileNotFoundError, match="metrics.csv"):
        plots.learning_curves(tmp_path)
    with pytest.raises(ValueError, match="at least one epoch"):
        plots.learning_curves([])
    with pytest.raises(ValueError, match="no metric values"):
        plots.learning_curves([{"epoch": 1, "loss": 2.0}])
    (tmp_path / "metrics.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="no metric columns"):
        plots.learning_curves(tmp_path)


def test_mean_abs_grads_and_gradient_flow():
    cr.manual_seed(0)
    model = nn.MLP(2, [5, 5], 2, activation="sigmoid")
    with pytest.raises(ValueError, match="backward"):
        plots.mean_abs_grads(model)
    x, y = cr.randn(8, 2), cr.tensor([0, 1] * 4)
    history = []
    for _ in range(3):
        model.zero_grad()
        F.cross_entropy(model(x), y).backward()
        history.append(plots.mean_abs_grads(model))
    assert list(history[0]) == ["0.weight", "2.weight", "4.weight"]  # weights only
    expected = np.abs(model[2].weight.grad.numpy()).mean()
    assert history[-1]["2.weight"] == pytest.approx(expected)

    fig = plots.gradient_flow(history)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    # layers as the lecture counts them, 1 next to the input
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["layer 1", "layer 2", "layer 3"]
    np.testing.assert_allclose(ax.lines[1].get_ydata(), [h["2.weight"] for h in history])

    fig = plots.gradient_flow(history, layer_names=["4.weight", "0.weight"])
    assert [line.get_label() for line in fig.axes[0].lines] == ["layer 3", "layer 1"]
    with pytest.raises(ValueError, match=r"\['9.weight'\] are not in the history"):
        plots.gradient_flow(history, layer_names=["9.weight"])
    with pytest.raises(ValueError, match="non-empty list"):
        plots.gradient_flow([])


def test_gradient_flow_of_several_runs_shares_one_axis():
    sigmoid = [{"0.weight": 1e-4, "2.weight": 1e-2}, {"0.weight": 2e-4, "2.weight": 2e-2}]
    relu = [{"0.weight": 1e-2, "2.weight": 1e-2}, {"0.weight": 1e-2, "2.weight": 3e-2}]
    fig = plots.gradient_flow({"sigmoid": sigmoid, "relu": relu})
    left, right = fig.axes
    assert (left.get_title(), right.get_title()) == ("sigmoid", "relu")
    assert left.get_shared_y_axes().joined(left, right)  # one scale: the runs compare directly
    assert left.get_ylim() == right.get_ylim()
    np.testing.assert_allclose(right.lines[0].get_ydata(), [1e-2, 1e-2])
    with pytest.raises(ValueError, match="non-empty list"):
        plots.gradient_flow({"sigmoid": []})


# ----- saving -----
@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_save_figure_writes_atomically(tmp_path, suffix):
    fig = plots.confusion_matrix([0, 1, 1], [0, 1, 0])
    path = plots.save_figure(fig, tmp_path / f"cm{suffix}")
    data = path.read_bytes()
    assert len(data) > 1000
    if suffix == ".png":
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert b"<svg" in data[:2000]
    assert [p.name for p in tmp_path.iterdir()] == [f"cm{suffix}"]  # no temporary file left


def test_save_figure_errors(tmp_path):
    fig = plots.activation_functions(["relu"])
    with pytest.raises(ValueError, match="cannot infer a format.*'.png'"):
        plots.save_figure(fig, tmp_path / "figure.xyz")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        plots.save_figure(fig, tmp_path / "missing" / "figure.png")
    with pytest.raises(TypeError, match="matplotlib Figure"):
        plots.save_figure("not a figure", tmp_path / "figure.png")
    assert list(tmp_path.iterdir()) == []


def test_missing_matplotlib_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r'pip install "chainrule\[plot\]"'):
        plots.activation_functions(["relu"])


# ----- the network itself (issue 17, item 7) -----
def _circles(ax):
    from matplotlib.patches import Circle

    return [p for p in ax.patches if isinstance(p, Circle)]


def _columns(ax):
    """The circles' x positions -> how many circles stand there, left to right."""
    counts = {}
    for c in _circles(ax):
        counts[round(c.center[0], 6)] = counts.get(round(c.center[0], 6), 0) + 1
    return [counts[x] for x in sorted(counts)]


TWO_LAYER = '"2-layer Neural Net"\nor "1-hidden-layer Neural Net"'
THREE_LAYER = '"3-layer Neural Net"\nor "2-hidden-layer Neural Net"'


@pytest.mark.parametrize(
    "model, columns, title",
    [
        (nn.MLP(3, [4], 2), [3, 4, 2], TWO_LAYER),
        (nn.MLP(3, [4, 4], 1), [3, 4, 4, 1], THREE_LAYER),
        ([3, 4, 2], [3, 4, 2], TWO_LAYER),
    ],
)
def test_draw_network_draws_the_lectures_architecture_slides(model, columns, title):
    fig = cr.viz.draw_network(model)
    (ax,) = fig.axes
    assert _columns(ax) == columns
    lines = [line for line in ax.lines]  # fully connected: every pair of neighbours
    assert len(lines) == sum(a * b for a, b in zip(columns, columns[1:]))
    assert ax.get_title() == title
    words = " ".join(texts(fig))
    assert "input layer" in words and "output layer" in words


def test_draw_network_elides_wide_layers_and_names_activations():
    fig = cr.viz.draw_network(nn.MLP(3072, [100], 10), max_neurons=6)
    (ax,) = fig.axes
    assert _columns(ax) == [4, 4, 4]  # two circles, an ellipsis, two circles: centred
    assert sum(t.get_text() == "\u22ee" for t in ax.texts) == 3
    words = " ".join(texts(fig))
    assert "3072 inputs" in words and "100 neurons" in words and "10 outputs" in words
    assert "relu" in words
    maxout = cr.viz.draw_network(nn.MLP(2, [3], 2, activation="maxout"))
    assert "maxout (2 pieces)" in " ".join(texts(maxout))
    assert cr.viz.network_layers(nn.Linear(4, 3)) == ([4, 3], [""])
    for bad, error in [(nn.ReLU(), ValueError), ([3], ValueError), ("3-4", TypeError)]:
        with pytest.raises(error, match="draw_network"):
            cr.viz.draw_network(bad)


def test_draw_network_reads_a_sequential_and_skips_layers_that_keep_the_width():
    seq = nn.Sequential(
        nn.Flatten(), nn.Linear(64, 30), nn.BatchNorm1d(30), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(30, 20), nn.LayerNorm(20), nn.Tanh(), nn.Linear(20, 10),
    )  # fmt: skip
    assert cr.viz.network_layers(seq) == ([64, 30, 20, 10], ["relu", "tanh", ""])
    fig = cr.viz.draw_network(seq)
    assert _columns(fig.axes[0]) == [6, 6, 6, 6]  # each wider than 8: 3 circles, an ellipsis, 3
    assert fig.axes[0].get_title() == '"3-layer Neural Net"\nor "2-hidden-layer Neural Net"'


def test_draw_network_refuses_a_convnet_and_says_what_to_draw_instead():
    from chainrule.train.convnet import ConvNet

    net = ConvNet((8, 8), 10, channels=(4, 8), kernel_size=3, hidden=16)
    flatten = next(i for i, m in enumerate(net.children()) if isinstance(m, nn.Flatten))
    with pytest.raises(ValueError, match=r"Conv2d.*fully-connected.*") as info:
        cr.viz.draw_network(net)
    assert f"model[{flatten + 1}:]" in str(info.value)  # the drawable head, by its index
    head = cr.viz.network_layers(net[flatten + 1 :])
    assert head == ([8 * 2 * 2, 16, 10], ["relu", ""])
    pool_only = nn.Sequential(nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4, 2))
    with pytest.raises(ValueError, match="MaxPool2d, whose outputs are feature maps"):
        cr.viz.draw_network(pool_only)

    class Scale(nn.Module):  # weights of its own, but no in_features/out_features
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(cr.ones(4))

        def forward(self, x):
            return x * self.weight

    custom = nn.Sequential(nn.Linear(2, 4), Scale(), nn.Linear(4, 1))
    with pytest.raises(ValueError, match="has a Scale, a layer with weights that is neither"):
        cr.viz.draw_network(custom)


def test_boundary_grid_tick_labels_do_not_run_into_each_other():
    # the sweep's 3 x 3 grid on points spread wide, as the spiral or standardized data are
    rng = np.random.default_rng(0)
    x = rng.uniform(-0.9, 0.9, size=(60, 2))  # matplotlib's own choice: 11 ticks, 3 px apart
    y = (x[:, 0] > 0).astype(int)
    models = {(h, lam): (x0_classifier(), 0.5) for h in (3, 6, 20) for lam in (1e-4, 1e-3, 1e-2)}
    fig = plots.boundary_grid(models, x, y, resolution=10, split="validation")
    fig.draw_without_rendering()  # lays the figure out: the labels' extents as they are drawn
    for ax in fig.axes:
        boxes = [
            t.get_window_extent() for t in ax.get_xticklabels() if t.get_visible() and t.get_text()
        ]
        assert len(boxes) >= 2
        for left, right in zip(boxes, boxes[1:]):  # clear space between: half a label or more
            gap = right.x0 - left.x1
            assert gap > 0.5 * left.width, [t.get_text() for t in ax.get_xticklabels()]
