"""A ConvNet run's own figures: what its first layer learned, and what its layers see.

- ``filters.png``: the first convolution's filters as images, one per output channel (colour
  for RGB input, grey otherwise), each stretched to its own min..max as the lecture shows a
  linear classifier's templates: the edge and colour detectors that end-to-end training finds.
- ``feature_maps.png``: one test image and the feature maps it produces, one row per
  convolution and pooling layer, one small image per channel.

They sit beside the model family they draw (``convnet.py``), drawn with the figure helpers of
``chainrule.viz.plots``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import nn
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..viz.plots._common import new_figure, save_figure
from .convnet import feature_maps

#: feature maps per layer shown at most (the first ones)
MAX_MAPS = 16


def _stretch(a: np.ndarray) -> np.ndarray:
    """Each image (first axis) to [0, 1] by its own min and max; a constant one is mid-grey."""
    axes = tuple(range(1, a.ndim))
    lo, hi = a.min(axis=axes, keepdims=True), a.max(axis=axes, keepdims=True)
    span = np.where(hi > lo, hi - lo, 1.0)
    return np.where(hi > lo, (a - lo) / span, 0.5)


def filters_figure(weight: np.ndarray) -> Any:
    """The filters of a convolution, (O, C, kh, kw), as a grid of O small images.

    Args:
        weight: the first ``Conv2d``'s weight; C is 1 (grey) or 3 (drawn as RGB); any other
            channel count is drawn as the mean over the channels.

    Returns:
        A matplotlib Figure.
    """
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim != 4:
        raise ValueError(f"filters_figure: expected a weight (O, C, kh, kw); got shape {w.shape}")
    o, c = w.shape[:2]
    images = w.transpose(0, 2, 3, 1) if c == 3 else w.mean(axis=1)
    images = _stretch(images)
    cols = min(o, 8)
    rows = -(-o // cols)
    fig = new_figure((1.1 * cols, 1.1 * rows + 0.5))
    for k in range(rows * cols):
        ax = fig.add_subplot(rows, cols, k + 1)
        ax.set_axis_off()
        if k < o:
            ax.imshow(images[k], cmap=None if c == 3 else "gray", interpolation="nearest")
            ax.set_title(str(k), fontsize=7)
    fig.suptitle(f"first-layer filters ({o} of {c}x{w.shape[2]}x{w.shape[3]})", fontsize=9)
    return fig


def feature_maps_figure(image: np.ndarray, maps: list[tuple[str, np.ndarray]]) -> Any:
    """One input image (C, H, W) and its feature maps: a row per layer, a panel per channel.

    Args:
        image: the input as the network saw it (standardized), (C, H, W).
        maps: (layer name, (C', H', W')) per layer, as ``convnet.feature_maps`` gives them.

    Returns:
        A matplotlib Figure.
    """
    cols = max([min(m.shape[0], MAX_MAPS) for _, m in maps] + [1])
    rows = len(maps) + 1
    fig = new_figure((0.9 * cols + 1.2, 1.0 * rows + 0.4))
    ax = fig.add_subplot(rows, cols, 1)
    shown = _stretch(image.transpose(1, 2, 0)[None])[0] if image.shape[0] == 3 else image[0]
    ax.imshow(shown, cmap=None if image.shape[0] == 3 else "gray", interpolation="nearest")
    ax.set_title("input", fontsize=7)
    ax.set_axis_off()
    for k in range(1, cols):
        fig.add_subplot(rows, cols, k + 1).set_axis_off()
    for r, (name, m) in enumerate(maps, start=1):
        for k in range(cols):
            ax = fig.add_subplot(rows, cols, r * cols + k + 1)
            ax.set_axis_off()
            if k < min(m.shape[0], MAX_MAPS):
                ax.imshow(m[k], cmap="viridis", interpolation="nearest")
            if k == 0:
                ax.set_title(name, fontsize=7, loc="left")
    fig.suptitle("feature maps of one test image", fontsize=9)
    return fig


def convnet_figures(folder: Any, model: nn.Module, prep: Any, spec: dict, splits: Any) -> None:
    """Write ``filters.png`` and ``feature_maps.png`` of a finished ConvNet run into its folder
    (the ``figures`` hook of the ``convnet`` model family)."""
    conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    save_figure(filters_figure(conv.weight.detach().numpy()), folder.path / "filters.png")
    x = prep(splits.x_test[:1])
    with no_grad():
        maps = feature_maps(model, Tensor._make(x))
    save_figure(feature_maps_figure(x[0], maps), folder.path / "feature_maps.png")
