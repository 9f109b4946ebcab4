"""What every figure function shares: the lazy matplotlib import, array conversion, saving."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ...autograd.tensor import Tensor
from ...serialization import atomic_write_bytes

if TYPE_CHECKING:
    from matplotlib.figure import Figure

INSTALL_HINT = 'pip install "chainrule[plot]"'


def new_figure(figsize: tuple[float, float]) -> Figure:
    """A matplotlib Figure made directly, outside pyplot: nothing is shown, no GUI is needed.

    matplotlib is imported here, on first use, so that ``import chainrule`` needs NumPy alone.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(f"the plots need matplotlib: {INSTALL_HINT}") from None
    return Figure(figsize=figsize, layout="constrained")


def to_numpy(obj: Any, fn: str, name: str) -> np.ndarray:
    """A Tensor (detached), NumPy array or nested list as a NumPy array; clear error otherwise."""
    if isinstance(obj, Tensor):
        return obj.detach().numpy()
    try:
        arr = np.asarray(obj)
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"{fn}: {name} must be a Tensor, NumPy array or list of numbers; "
            f"got {type(obj).__name__} ({e})"
        ) from None
    if arr.dtype == object:
        raise TypeError(
            f"{fn}: {name} must be a Tensor, NumPy array or (rectangular) list of numbers; "
            f"got {type(obj).__name__} that NumPy reads as objects"
        )
    return arr


def class_names(classes: Any, num_classes: int, fn: str) -> list[str]:
    """``classes`` as num_classes strings; "0", "1", ... when None."""
    if classes is None:
        return [str(i) for i in range(num_classes)]
    names = [str(c) for c in classes]
    if len(names) < num_classes:
        raise ValueError(
            f"{fn}: expected at least {num_classes} class names (one per class); "
            f"got {len(names)}: {names}"
        )
    return names


def save_figure(fig: Figure, path: str | os.PathLike, dpi: float = 150) -> Path:
    """Write a figure to ``path`` atomically, in the format its suffix names (.png, .svg, .pdf).

    The figure is rendered in memory, written to a temporary file in the same folder and renamed
    over ``path``, so a reader never sees half a file and a failed render leaves nothing behind.

    Args:
        fig: a matplotlib Figure, e.g. from ``learning_curves``.
        path: the file to write; its folder must exist.
        dpi: resolution of raster formats (PNG, JPEG).

    Returns:
        The path written, as a Path.

    Example:
        >>> save_figure(confusion_matrix(y, pred), "runs/digits/confusion.png")
        PosixPath('runs/digits/confusion.png')
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(f"save_figure needs matplotlib: {INSTALL_HINT}") from None
    if not isinstance(fig, Figure):
        raise TypeError(f"save_figure: expected a matplotlib Figure; got {type(fig).__name__}")
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    supported = fig.canvas.get_supported_filetypes()
    if fmt not in supported:
        raise ValueError(
            f"save_figure: cannot infer a format from {path.name!r}; expected a suffix among "
            f"{sorted('.' + s for s in supported)}"
        )
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"save_figure: folder {str(path.parent)!r} does not exist; create it first"
        )
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi)
    atomic_write_bytes(path, buf.getvalue())
    return path
