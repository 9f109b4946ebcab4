"""Preprocessing as in the lecture: flatten, scale to [0, 1], standardize, one-hot.

Each function takes a NumPy array or a Tensor and returns the same kind. ``Standardize`` learns
its per-feature mean and standard deviation from the training split only (``fit``) and applies
them to every split, so no statistic of the validation or test data leaks into training.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.tensor import Tensor


def _unwrap(x: Any, name: str) -> tuple[np.ndarray, bool]:
    if isinstance(x, Tensor):
        return x.detach().numpy(), True
    if isinstance(x, np.ndarray):
        return x, False
    try:
        return np.asarray(x), False
    except Exception as e:  # e.g. ragged lists
        raise TypeError(f"{name}: expected an array or Tensor; got {type(x).__name__}") from e


def _wrap(a: np.ndarray, as_tensor: bool) -> Any:
    return Tensor._make(np.ascontiguousarray(a)) if as_tensor else a


def flatten(x: Any) -> Any:
    """Flatten every example into a vector: (N, d1, d2, ...) -> (N, d1 * d2 * ...).

    Args:
        x: array or Tensor of shape (N, ...), at least 1-D.

    Returns:
        The same kind, shape (N, D); a view when possible. A 1-D input becomes (N, 1).

    Example:
        >>> cr.data.transforms.flatten(np.zeros((5, 32, 32, 3))).shape   # CIFAR: 3072 numbers
        (5, 3072)
    """
    a, is_tensor = _unwrap(x, "flatten")
    if a.ndim == 0:
        raise ValueError("flatten: expected an array of shape (N, ...); got a 0-d value")
    return _wrap(a.reshape(a.shape[0], -1), is_tensor)


def scale01(x: Any, max_value: float | None = None) -> Any:
    """Scale values into [0, 1] by dividing by ``max_value``.

    Args:
        x: array or Tensor of any shape, values >= 0.
        max_value: the value that maps to 1: 255 for 8-bit images, 16 for the 8x8 digits.
            Default: the dtype's maximum for integer input (255 for uint8), else the data's
            maximum (1 if the data are all 0).

    Returns:
        The same kind and shape, float32 for integer input (floats keep their dtype).

    Example:
        >>> cr.data.transforms.scale01(np.array([0, 8, 16], np.uint8), max_value=16)
        array([0. , 0.5, 1. ], dtype=float32)
    """
    a, is_tensor = _unwrap(x, "scale01")
    if a.dtype.kind not in "biuf":
        raise TypeError(f"scale01: expected numbers; got dtype {a.dtype}")
    if max_value is None:
        if a.dtype.kind in "iu":
            max_value = float(np.iinfo(a.dtype).max)
        elif a.dtype.kind == "b":
            max_value = 1.0
        else:
            max_value = float(a.max()) if a.size else 1.0
            max_value = max_value if max_value > 0 else 1.0
    elif not max_value > 0:
        raise ValueError(f"scale01: max_value must be positive; got {max_value}")
    out = a.astype(a.dtype if a.dtype.kind == "f" else np.float32, copy=True)
    out /= max_value
    return _wrap(out, is_tensor)


class Standardize:
    """Subtract the per-feature mean and divide by the per-feature standard deviation.

    Fit on the training split only, then apply the same statistics to every split: the lecture's
    mean-image subtraction (``with_std=False``) and its full standardization. Features are all
    axes but the first: for images (N, H, W) the mean is a mean image of shape (H, W). A feature
    that is constant in the training data (std 0, e.g. an always-black border pixel) gets std 1,
    so it becomes 0 instead of a division by zero.

    Args:
        with_std: also divide by the standard deviation (default); False only centres.

    Example:
        >>> std = cr.data.transforms.Standardize().fit(x_train)   # statistics of train only
        >>> x_train, x_val = std(x_train), std(x_val)
        >>> state = std.state_dict()                              # {"mean": ..., "std": ...}
    """

    def __init__(self, with_std: bool = True) -> None:
        self.with_std = bool(with_std)
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    def fit(self, x_train: Any) -> Standardize:
        """Compute the mean and std of each feature over the examples (axis 0) of ``x_train``.

        Args:
            x_train: array or Tensor of shape (N, ...), N >= 1.

        Returns:
            ``self``, so ``Standardize().fit(x)(x)`` reads in one line.
        """
        a, _ = _unwrap(x_train, "Standardize.fit")
        if a.ndim < 1 or a.shape[0] == 0:
            raise ValueError(
                f"Standardize.fit: expected training data of shape (N, ...) with N >= 1; got "
                f"shape {a.shape}"
            )
        a64 = a.astype(np.float64, copy=False)
        self.mean = a64.mean(axis=0)
        std = a64.std(axis=0) if self.with_std else np.ones_like(self.mean)
        std[~(std > 1e-8)] = 1.0  # constant features: leave them centred, do not blow them up
        self.std = std
        return self

    def __call__(self, x: Any) -> Any:
        """Standardize ``x`` (shape (N, ...) matching the fitted features) with the stored stats.

        Returns the same kind as ``x``; float32 unless ``x`` is float64.
        """
        if self.mean is None or self.std is None:
            raise RuntimeError(
                "Standardize: call fit(x_train) (or load_state_dict) before applying it"
            )
        a, is_tensor = _unwrap(x, "Standardize")
        if a.shape[1:] != self.mean.shape:
            raise ValueError(
                f"Standardize: expected examples of shape {self.mean.shape} (as fitted); got "
                f"data of shape {a.shape}"
            )
        dtype = np.float64 if a.dtype == np.float64 else np.float32
        out = (a - self.mean.astype(dtype)) / self.std.astype(dtype)
        return _wrap(out.astype(dtype, copy=False), is_tensor)

    def fit_transform(self, x_train: Any) -> Any:
        """``fit(x_train)`` then return ``self(x_train)``."""
        return self.fit(x_train)(x_train)

    def state_dict(self) -> dict[str, np.ndarray]:
        """``{"mean": array, "std": array}`` (copies), e.g. to store next to the weights."""
        if self.mean is None or self.std is None:
            raise RuntimeError("Standardize.state_dict: call fit(x_train) first")
        return {"mean": self.mean.copy(), "std": self.std.copy()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore statistics saved by ``state_dict()`` (arrays or Tensors of equal shape)."""
        if not isinstance(state_dict, dict) or not {"mean", "std"} <= set(state_dict):
            raise ValueError(
                "Standardize.load_state_dict: expected a dict with 'mean' and 'std', as "
                f"state_dict() returns; got {type(state_dict).__name__} with keys "
                f"{sorted(state_dict) if isinstance(state_dict, dict) else None}"
            )
        mean = np.array(_unwrap(state_dict["mean"], "Standardize")[0], dtype=np.float64)
        std = np.array(_unwrap(state_dict["std"], "Standardize")[0], dtype=np.float64)
        if mean.shape != std.shape:
            raise ValueError(
                f"Standardize.load_state_dict: mean and std must have one shape; got "
                f"{mean.shape} and {std.shape}"
            )
        if np.any(~(std > 0)):
            raise ValueError("Standardize.load_state_dict: every std must be positive")
        self.mean, self.std = mean, std

    def __repr__(self) -> str:
        shape = None if self.mean is None else self.mean.shape
        return f"Standardize(with_std={self.with_std}, features={shape})"


def one_hot(y: Any, num_classes: int) -> Any:
    """Class labels as one-hot rows: y (N,) -> (N, num_classes), 1 at column y[i], else 0.

    Args:
        y: integer labels in [0, num_classes), shape (N,) (any shape S gives S + (C,)).
        num_classes: C, at least 1.

    Returns:
        The same kind, float32.

    Example:
        >>> cr.data.transforms.one_hot(np.array([2, 0]), 3)
        array([[0., 0., 1.],
               [1., 0., 0.]], dtype=float32)
    """
    a, is_tensor = _unwrap(y, "one_hot")
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise TypeError(f"one_hot: num_classes must be an integer; got {num_classes!r}")
    if num_classes < 1:
        raise ValueError(f"one_hot: num_classes must be at least 1; got {num_classes}")
    if a.size and a.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integers; got dtype {a.dtype}")
    if a.size and (a.min() < 0 or a.max() >= num_classes):
        raise ValueError(
            f"one_hot: labels must lie in [0, {num_classes}); got values from {a.min()} to "
            f"{a.max()}. Pass num_classes larger than the largest label"
        )
    out = np.zeros(a.shape + (int(num_classes),), dtype=np.float32)
    np.put_along_axis(out, a.astype(np.int64)[..., None], 1.0, axis=-1)
    return _wrap(out, is_tensor)
