"""The lecture's visual viewpoint: a linear classifier's weights, seen as images ("templates")."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ...autograd.tensor import Tensor
from ...nn.layers import Linear
from ...nn.module import Module
from ._common import class_names, new_figure, to_numpy

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def _image_layout(image_shape: Any, fn: str) -> tuple[tuple[int, ...], bool]:
    """Check ``image_shape``; return it and whether it is channels-first (C, H, W)."""
    try:
        shape = tuple(int(s) for s in image_shape)
    except TypeError:
        raise ValueError(
            f"{fn}: expected image_shape as (H, W), (H, W, C) or (C, H, W); got {image_shape!r}"
        ) from None
    ok = len(shape) == 2 or (len(shape) == 3 and (shape[-1] in (1, 3) or shape[0] in (1, 3)))
    if not ok or min(shape) < 1:
        raise ValueError(
            f"{fn}: expected image_shape (H, W) for grayscale, or (H, W, C) / (C, H, W) with C 1 "
            f"or 3 channels, e.g. (28, 28) or (32, 32, 3); got {shape}"
        )
    channels_first = len(shape) == 3 and shape[-1] not in (1, 3)
    return shape, channels_first


def _weight_matrix(weight: Any, fn: str, first_linear: bool) -> np.ndarray:
    """The (units, D) weight matrix of a Linear, an MLP (its first Linear), a Tensor or array."""
    if isinstance(weight, Module):
        if first_linear and not isinstance(weight, Linear):
            linear = next((m for m in weight.modules() if isinstance(m, Linear)), None)
            if linear is None:
                raise ValueError(f"{fn}: {type(weight).__name__} holds no Linear layer")
            weight = linear
        if not isinstance(getattr(weight, "weight", None), Tensor):
            raise ValueError(
                f"{fn}: expected a Linear layer (or an MLP); {type(weight).__name__} has no "
                "weight matrix"
            )
        weight = weight.weight
    w = to_numpy(weight, fn, "weight")
    if w.ndim != 2:
        raise ValueError(
            f"{fn}: expected a weight matrix of shape (units, D), one image per row (Linear "
            f"stores (out_features, in_features)); got shape {tuple(w.shape)}"
        )
    return w.astype(np.float64)


def _row_images(w: np.ndarray, image_shape: Any, fn: str, rescale: bool = True) -> np.ndarray:
    """Reshape each row to an image (HW or HWC) and, with ``rescale``, stretch it to [0, 1] by
    its own min/max."""
    shape, channels_first = _image_layout(image_shape, fn)
    d = math.prod(shape)
    if w.shape[1] != d:
        raise ValueError(
            f"{fn}: image_shape {shape} holds {d} values, so expected weight rows of {d} values; "
            f"got weight of shape {tuple(w.shape)} (rows of {w.shape[1]}). Linear stores "
            "(out_features, in_features): pass the layer that reads the pixels"
        )
    images = w.reshape(w.shape[0], *shape)
    if channels_first:
        images = images.transpose(0, 2, 3, 1)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if not rescale:
        return images
    # CS231n's display: each template stretched to the full range by its own min and max, so the
    # pattern shows whatever the weights' scale. A constant row has no pattern: mid-grey.
    axes = tuple(range(1, images.ndim))
    lo = images.min(axis=axes, keepdims=True)
    span = images.max(axis=axes, keepdims=True) - lo
    return np.divide(images - lo, span, out=np.full(images.shape, 0.5), where=span > 0)


def _show(ax: Axes, image: np.ndarray, title: str | None, scale: float | None = None) -> Any:
    """An image: grayscale in weight units on [-scale, scale], or colour already in [0, 1]."""
    if image.ndim == 2:
        shown = ax.imshow(image, cmap="gray", vmin=-scale, vmax=scale)
    else:
        shown = ax.imshow(image, vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize=9)
    return shown


def _panels(
    fig: Figure, w: np.ndarray, image_shape: Any, fn: str, nrows: int, ncols: int, titles: Any
) -> str:
    """Draw each row of ``w`` as an image in a grid; the note on how they are scaled.

    Grayscale images share one scale in weight units, symmetric about 0 (mid-grey is a zero
    weight), with a colour bar, so templates can be compared and read; colour images (RGB has
    no colour bar) are each stretched to [0, 1] by their own min and max, as CS231n shows them.
    """
    raw = _row_images(w, image_shape, fn, rescale=False)
    colour = raw.ndim == 4
    images = _row_images(w, image_shape, fn) if colour else raw
    scale = float(np.abs(raw).max()) or 1.0  # all zero: mid-grey on any scale
    axes, shown = [], None
    for i, image in enumerate(images):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        shown = _show(ax, image, None if titles is None else titles[i], scale)
        axes.append(ax)
    if colour:
        return "each image stretched to its own min..max"
    bar = fig.colorbar(shown, ax=axes, shrink=0.8, aspect=30, pad=0.02)
    bar.set_label("weight")
    return "one scale, mid-grey = 0"


def templates(
    weight: Any,
    image_shape: Sequence[int],
    classes: Sequence[Any] | None = None,
) -> Figure:
    """Show each row of a linear classifier's weight as an image: the template of its class.

    Class c's score is the dot product of its row w_c with the image, so w_c, reshaped to the
    image's shape, is the picture that class matches best (CIFAR-10's "car" is a red front view).

    Args:
        weight: a ``Linear`` layer, a Tensor or an array of shape (num_classes, D).
        image_shape: the shape each row was flattened from, D values in all: (8, 8) or (28, 28)
            grayscale, (32, 32, 3) colour (HWC), or (3, 32, 32) channels first.
        classes: one name per row, used as titles (default "0", "1", ...).

    Returns:
        A Figure with one axis per class (up to 10 per row). Grayscale templates share one
        scale in weight units (mid-grey is 0) with a colour bar; colour ones are each stretched
        to [0, 1] by their own min and max.

    Example:
        >>> fig = templates(nn.Linear(3072, 10), (32, 32, 3), classes=CIFAR10_CLASSES)
    """
    w = _weight_matrix(weight, "templates", first_linear=False)
    _row_images(w, image_shape, "templates")  # checks the shapes before anything is drawn
    names = class_names(classes, len(w), "templates")
    ncols = min(len(w), 10)
    nrows = math.ceil(len(w) / ncols)
    fig = new_figure((1.4 * ncols + 0.8, 1.6 * nrows + 0.5))
    note = _panels(fig, w, image_shape, "templates", nrows, ncols, names)
    fig.suptitle(f"class templates: the rows of W ({note})")
    return fig


def first_layer(weight: Any, image_shape: Sequence[int], max_units: int = 100) -> Figure:
    """Show the first layer of an MLP as a grid of images: 100 templates instead of 10.

    Each hidden unit of f = W2 max(0, W1 x) matches the image against one row of W1; the second
    layer then weighs these matches, so a class can use several templates (a car facing left
    and one facing right).

    Args:
        weight: an MLP (its first Linear is used), a ``Linear`` layer, a Tensor or an array of
            shape (hidden_units, D).
        image_shape: the shape each row was flattened from (see ``templates``).
        max_units: show at most this many units (the first ones).

    Returns:
        A Figure with one axis: the units' images tiled in one image, row by row, in a grid
        ceil(sqrt(units)) wide with a blank pixel between tiles (one image, so 100 units draw
        in a fraction of a second), scaled as ``templates`` scales them (grayscale: one scale
        with a colour bar).

    Example:
        >>> fig = first_layer(nn.MLP(3072, [100], 10), (32, 32, 3))
    """
    if not isinstance(max_units, int) or max_units < 1:
        raise ValueError(f"first_layer: max_units must be a positive integer; got {max_units!r}")
    w = _weight_matrix(weight, "first_layer", first_linear=True)
    _row_images(w, image_shape, "first_layer")  # checks the shapes before anything is drawn
    shown = w[:max_units]
    raw = _row_images(shown, image_shape, "first_layer", rescale=False)
    colour = raw.ndim == 4
    images = _row_images(shown, image_shape, "first_layer") if colour else raw
    ncols = math.ceil(math.sqrt(len(images)))
    nrows = math.ceil(len(images) / ncols)
    h, wd = images.shape[1:3]
    # one image of tiles, a blank pixel between them (NaN: drawn as the background)
    mosaic = np.full(((h + 1) * nrows - 1, (wd + 1) * ncols - 1, *images.shape[3:]), np.nan)
    for k, image in enumerate(images):
        r, c = divmod(k, ncols)
        mosaic[r * (h + 1) : r * (h + 1) + h, c * (wd + 1) : c * (wd + 1) + wd] = image
    fig = new_figure((0.55 * ncols + 1.6, 0.55 * nrows + 0.7))
    ax = fig.add_subplot()
    if colour:
        shown_image = ax.imshow(np.nan_to_num(mosaic, nan=1.0), vmin=0, vmax=1)
        note = "each image stretched to its own min..max"
    else:
        from matplotlib import colormaps

        scale = float(np.abs(raw).max()) or 1.0
        cmap = colormaps["gray"].with_extremes(bad="white")
        shown_image = ax.imshow(mosaic, cmap=cmap, vmin=-scale, vmax=scale)
        fig.colorbar(shown_image, ax=ax, shrink=0.8, aspect=30, pad=0.02).set_label("weight")
        note = "one scale, mid-grey = 0"
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_frame_on(False)
    fig.suptitle(f"first layer: {len(images)} of {w.shape[0]} units, the rows of W1 ({note})")
    return fig
