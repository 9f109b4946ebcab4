"""The ``convnet`` model family: a LeNet-style ConvNet and the preprocessing that keeps images.

``chainrule train --model convnet`` trains, end to end, the features (the convolutions' filters)
and the classifier on top of them, where ``--model linear`` on hand-crafted features
(``--features``) learns the classifier only. The network, for ``--channels 16,32``:

    [conv k x k (padding k // 2) -> activation -> pool 2x2] per channel count
    -> flatten -> linear (--hidden) -> activation -> linear (classes)

sized per data set by its images: 8x8 digits become 16x4x4 then 32x2x2, MNIST's 28x28 become
32x7x7, CIFAR-10's 32x32x3 become 32x8x8. The default kernel is 3 on the 8x8 digits and 5
elsewhere.

The spec (stored with the weights) adds ``channels``, ``kernel_size`` and ``pool`` to the
fields every model has; ``image_shape`` is the data set's ((8, 8), (32, 32, 3)).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import nn
from ..autograd.tensor import Tensor
from ..data.images import image_layout, to_images
from ..data.transforms import Standardize

#: --pool: what shrinks each feature map by 2 after a convolution
POOLS = ("max", "avg")

_ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.1),
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
}


def default_kernel_size(image_shape: Any) -> int:
    """3 for images of at most 8x8 pixels (the digits), 5 for larger ones."""
    _, h, w = image_layout(image_shape)
    return 3 if min(h, w) <= 8 else 5


class ConvNet(nn.Sequential):
    """A LeNet-style ConvNet: conv, activation, pool per entry of ``channels``, then two linear
    layers.

    Args:
        image_shape: one image as the data set gives it: (H, W) or (H, W, C).
        num_classes: outputs.
        channels: output channels of each convolution, e.g. (16, 32).
        kernel_size: the filters' size (odd sizes keep H and W: padding is kernel_size // 2).
        hidden: width of the linear layer between the features and the classes.
        activation: "relu", "leaky_relu", "sigmoid", "tanh" or "elu".
        pool: "max" or "avg", each halving H and W (floor), while they are 2 or more.

    Shapes: input (N, C, H, W) -> scores (N, num_classes). The state-dict keys are those of
    the same ``nn.Sequential`` in PyTorch ("0.weight", "0.bias", "3.weight", ...).

    Example:
        >>> net = ConvNet((28, 28), 10, channels=(16, 32), kernel_size=5)
        >>> net(cr.zeros(2, 1, 28, 28)).shape
        (2, 10)
    """

    def __init__(
        self,
        image_shape: Any,
        num_classes: int,
        channels: Any = (16, 32),
        kernel_size: int = 5,
        hidden: int = 100,
        activation: str = "relu",
        pool: str = "max",
    ) -> None:
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"ConvNet: activation {activation!r} is not one of {', '.join(_ACTIVATIONS)}"
            )
        if pool not in POOLS:
            raise ValueError(f"ConvNet: pool {pool!r} is not one of {', '.join(POOLS)}")
        c, h, w = image_layout(image_shape)
        layers: list[nn.Module] = []
        for out in channels:
            layers += [
                nn.Conv2d(c, out, kernel_size, padding=kernel_size // 2),
                _ACTIVATIONS[activation](),
            ]
            pad = kernel_size // 2
            h, w = h + 2 * pad - kernel_size + 1, w + 2 * pad - kernel_size + 1
            if min(h, w) >= 2:
                layers.append(nn.MaxPool2d(2) if pool == "max" else nn.AvgPool2d(2))
                h, w = h // 2, w // 2
            c = out
        layers += [
            nn.Flatten(),
            nn.Linear(c * h * w, hidden),
            _ACTIVATIONS[activation](),
            nn.Linear(hidden, num_classes),
        ]
        super().__init__(*layers)

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> ConvNet:
        """The ConvNet a run's spec describes (``models.model_spec``)."""
        return cls(
            spec["image_shape"],
            spec["num_classes"],
            spec["channels"],
            spec["kernel_size"],
            spec["hidden"][0],
            spec["activation"],
            spec["pool"],
        )


class ImagePreprocess:
    """Images to N x C x H x W, standardized per channel with the training split's statistics.

    Each channel's mean and standard deviation over all training pixels (one number each, as
    torchvision's ``Normalize``): a shifted or mirrored image is standardized as the original
    was, so augmentation commutes with it. Stored as the model file's per-feature "mean" and
    "std" (each channel's number repeated over its pixels), the format every family shares.

    Example:
        >>> prep = ImagePreprocess.fit(splits.x_train)      # (N, 32, 32, 3) CIFAR-10 images
        >>> prep(splits.x_test).shape
        (10000, 3, 32, 32)
    """

    def __init__(self, standardize: Standardize) -> None:
        self.standardize = standardize

    @classmethod
    def fit(cls, x_train: np.ndarray) -> ImagePreprocess:
        if x_train.ndim not in (3, 4):
            raise ValueError(
                "the convnet model needs images, (N, H, W) or (N, H, W, C); got data of shape "
                f"{x_train.shape} (use --model linear or mlp for points)"
            )
        x = to_images(x_train)
        mean = x.mean(axis=(0, 2, 3), dtype=np.float64)
        std = x.std(axis=(0, 2, 3), dtype=np.float64)
        shape = x.shape[1:]
        standardize = Standardize()
        standardize.load_state_dict(
            {
                "mean": np.broadcast_to(mean[:, None, None], shape).reshape(-1),
                "std": np.broadcast_to(np.where(std > 0, std, 1.0)[:, None, None], shape).reshape(
                    -1
                ),
            }
        )
        return cls(standardize)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        images = to_images(x)
        flat = self.standardize(images.reshape(images.shape[0], -1))
        return np.ascontiguousarray(flat.reshape(images.shape), dtype=np.float32)

    def to_json(self) -> dict:
        return {k: v.tolist() for k, v in self.standardize.state_dict().items()}

    @classmethod
    def from_json(cls, d: dict) -> ImagePreprocess:
        standardize = Standardize()
        standardize.load_state_dict({k: np.asarray(d[k]) for k in ("mean", "std")})
        return cls(standardize)


def feature_maps(model: nn.Module, x: Tensor) -> list[tuple[str, np.ndarray]]:
    """The outputs of each convolution and pooling of ``model`` on ``x``: (name, (C, H, W)) of the
    first image, in order; what ``feature_maps.png`` shows."""
    out = []
    h = x
    for name, layer in model.named_children():
        h = layer(h)
        if isinstance(layer, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            out.append((f"{name}: {type(layer).__name__}", h.detach().numpy()[0]))
    return out
