"""Layers with parameters, and the lecture's multi-layer perceptron in one line."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .. import dtypes
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..creation import ones, zeros
from ..ops.linalg import Linear as LinearOp
from . import functional as F
from . import init
from .activations import ACTIVATIONS
from .module import Module, Parameter, Sequential


def _dtype(dtype: Any) -> Any:
    return dtypes.to_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()


def _place(module: Module, device: Any) -> None:
    """A layer's ``device=`` argument, as PyTorch's layers take it: its parameters and buffers,
    made (and initialised) on the CPU, moved there."""
    if device is not None:
        module.to(device)


class Linear(Module):
    """y = x W^T + b: the linear classifier f(x, W) = Wx + b, applied to a batch of rows.

    Args:
        in_features: size of each input (3072 for a 32x32x3 image).
        out_features: size of each output (10 class scores).
        bias: learn b as well.
        dtype: parameter dtype (default float32).

    Shapes: input (..., in_features) -> output (..., out_features). ``weight`` is
    (out_features, in_features), initialised as PyTorch does: uniform in +-1/sqrt(in_features).

    Example:
        >>> cr.nn.Linear(3072, 10)(cr.randn(4, 3072)).shape
        (4, 10)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(v, int) or v <= 0:
                raise ValueError(f"Linear: {name} must be a positive integer; got {v!r}")
        self.in_features = in_features
        self.out_features = out_features
        d = _dtype(dtype)
        self.weight = Parameter(zeros(out_features, in_features, dtype=d))
        self.bias = Parameter(zeros(out_features, dtype=d)) if bias else None
        self.reset_parameters()
        _place(self, device)

    def reset_parameters(self) -> None:
        """PyTorch's default: kaiming_uniform_(a=sqrt(5)) for W, i.e. U(+-1/sqrt(fan_in)),
        and the same bound for b."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim == 0 or input.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear(in_features={self.in_features}): expected input with "
                f"{self.in_features} features in its last dimension; got input of shape "
                f"{tuple(input.shape)}"
            )
        # checked above and at construction: skip F.linear's own checks on this hot path
        return LinearOp.apply(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Flatten(Module):
    """Flatten dimensions start_dim..end_dim (by default all but the batch): an image of
    32x32x3 becomes 3072 numbers."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Zero each value with probability p in training (scaling the rest by 1/(1-p))."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1]; got {p}")
        self.p = p
        self.inplace = inplace  # accepted as in PyTorch; computed out of place (see activations)

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Dropout2d(Module):
    """Zero whole channels (feature maps) with probability p in training, scaling the rest by
    1/(1-p): neighbouring pixels are strongly correlated, so dropping single values of a feature
    map would regularise little.

    Shapes: (N, C, H, W) or (C, H, W), unchanged.

    Example:
        >>> cr.nn.Dropout2d(0.2)(cr.randn(8, 16, 28, 28)).shape
        (8, 16, 28, 28)
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout2d: p must be in [0, 1]; got {p}")
        self.p = p
        self.inplace = inplace  # accepted as in PyTorch; computed out of place (see activations)

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout2d(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class _BatchNorm(Module):
    """Batch normalisation per channel (dimension 1): BatchNorm1d and BatchNorm2d differ only in
    the input shapes they accept.

    Buffers ``running_mean``, ``running_var`` and ``num_batches_tracked`` as in PyTorch (their
    state-dict keys match). In training the running statistics move towards the batch's by
    ``momentum``; ``momentum=None`` makes them the plain average over all batches so far, as in
    PyTorch (batch k weighs 1/k).
    """

    #: the input dimensions accepted, and how they are named in errors
    ndims: tuple[int, ...] = ()
    shapes: str = ""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if not isinstance(num_features, int) or num_features <= 0:
            raise ValueError(f"{name}: num_features must be positive; got {num_features!r}")
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        d = _dtype(dtype)
        self.weight = Parameter(ones(num_features, dtype=d)) if affine else None
        # a scale without a shift with bias=False, as PyTorch's
        self.bias = Parameter(zeros(num_features, dtype=d)) if affine and bias else None
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=d))
            self.register_buffer("running_var", ones(num_features, dtype=d))
            self.register_buffer("num_batches_tracked", zeros((), dtype=dtypes.int64))
        else:
            self.running_mean = self.running_var = None
        _place(self, device)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in self.ndims or input.shape[1] != self.num_features:
            c = self.num_features
            raise ValueError(
                f"{type(self).__name__}({c}): expected input of shape "
                f"{self.shapes.format(C=c)}; got {tuple(input.shape)}"
            )
        use_batch = self.training or not self.track_running_stats
        momentum = self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked._data += 1
            if momentum is None:  # PyTorch's cumulative average: batch k weighs 1/k
                momentum = 1.0 / float(self.num_batches_tracked._data)
        return F.batch_norm(
            input,
            self.running_mean if not use_batch or self.training else None,
            self.running_var if not use_batch or self.training else None,
            self.weight,
            self.bias,
            use_batch,
            momentum,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over (N, C) or (N, C, L) inputs, per feature C.

    Example:
        >>> cr.nn.BatchNorm1d(100)(cr.randn(8, 100)).shape
        (8, 100)
    """

    ndims = (2, 3)
    shapes = "(N, {C}) or (N, {C}, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of images, per channel: each channel's values are normalised over
    the batch and all positions (N, H, W), then scaled and shifted by its weight and bias.

    Example:
        >>> cr.nn.BatchNorm2d(16)(cr.randn(8, 16, 28, 28)).shape
        (8, 16, 28, 28)
    """

    ndims = (4,)
    shapes = "(N, {C}, H, W)"


class LayerNorm(Module):
    """Layer normalisation over the last dimensions of each sample."""

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        shape = (
            (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        )
        self.normalized_shape = shape
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        d = _dtype(dtype)
        self.weight = Parameter(ones(shape, dtype=d)) if elementwise_affine else None
        self.bias = Parameter(zeros(shape, dtype=d)) if elementwise_affine and bias else None
        _place(self, device)

    def forward(self, input: Tensor) -> Tensor:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
            f", bias={self.bias is not None}"
        )


class GroupNorm(Module):
    """Group normalisation, as PyTorch's ``nn.GroupNorm``: each sample's channels split into
    ``num_groups`` groups, each normalised over its channels and positions (no running
    statistics: the same in training and evaluation), then scaled and shifted per channel.

    Example:
        >>> cr.nn.GroupNorm(4, 16)(cr.randn(8, 16, 5, 5)).shape
        (8, 16, 5, 5)
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if not isinstance(num_groups, int) or num_groups < 1 or num_channels % num_groups:
            raise ValueError(
                f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                f"({num_groups})"
            )
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        d = _dtype(dtype)
        self.weight = Parameter(ones(num_channels, dtype=d)) if affine else None
        self.bias = Parameter(zeros(num_channels, dtype=d)) if affine and bias else None
        _place(self, device)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim < 2 or input.shape[1] != self.num_channels:
            raise ValueError(
                f"GroupNorm({self.num_groups}, {self.num_channels}): expected input of shape "
                f"(N, {self.num_channels}, *); got {tuple(input.shape)}"
            )
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )


class Maxout(Module):
    """The lecture's Maxout unit: max over ``pieces`` affine maps, max(w1.x + b1, w2.x + b2).

    It generalises ReLU (one piece fixed at 0) and Leaky ReLU, at ``pieces`` times the
    parameters. ``weight`` is (out_features * pieces, in_features).
    """

    def __init__(
        self, in_features: int, out_features: int, pieces: int = 2, dtype: Any = None
    ) -> None:
        super().__init__()
        if not isinstance(pieces, int) or pieces < 1:
            raise ValueError(f"Maxout: pieces must be a positive integer; got {pieces!r}")
        self.in_features = in_features
        self.out_features = out_features
        self.pieces = pieces
        inner = Linear(in_features, out_features * pieces, dtype=dtype)
        self.weight = inner.weight
        self.bias = inner.bias

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim == 0 or input.shape[-1] != self.in_features:
            raise ValueError(
                f"Maxout(in_features={self.in_features}): expected input with "
                f"{self.in_features} features in its last dimension; got input of shape "
                f"{tuple(input.shape)}"
            )
        return F.maxout(input, self.weight, self.bias, self.pieces)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"pieces={self.pieces}"
        )


class MLP(Sequential):
    """A multi-layer perceptron: Linear, activation (and Dropout) per hidden layer, then Linear.

    ``MLP(3072, [100], 10)`` is the lecture's 2-layer net f = W2 max(0, W1 x); its state-dict
    keys ("0.weight", "0.bias", "2.weight", "2.bias") are those of the same ``nn.Sequential`` in
    PyTorch. With ``activation="maxout"`` each hidden layer is one Maxout unit layer.

    Args:
        in_features: input size.
        hidden_sizes: the width of each hidden layer, e.g. [100] or [100, 100].
        out_features: number of outputs (classes).
        activation: "relu", "leaky_relu" (slope 0.1, the lecture's), "sigmoid", "tanh", "elu",
            "maxout" or "identity".
        dropout: dropout probability after each hidden activation (0 for none).
    """

    def __init__(
        self,
        in_features: int,
        hidden_sizes: Sequence[int],
        out_features: int,
        activation: str = "relu",
        dropout: float = 0.0,
        dtype: Any = None,
    ) -> None:
        if isinstance(hidden_sizes, int):
            hidden_sizes = [hidden_sizes]
        if activation not in ACTIVATIONS and activation != "maxout":
            raise ValueError(
                f"MLP: unknown activation {activation!r}; expected one of "
                f"{sorted([*ACTIVATIONS, 'maxout'])}"
            )
        layers: list[Module] = []
        width = in_features
        for h in hidden_sizes:
            if activation == "maxout":
                layers.append(Maxout(width, h, dtype=dtype))
            else:
                layers += [Linear(width, h, dtype=dtype), ACTIVATIONS[activation]()]
            if dropout:
                layers.append(Dropout(dropout))
            width = h
        layers.append(Linear(width, out_features, dtype=dtype))
        super().__init__(*layers)


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size``: Flatten's inverse."""

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, input: Tensor) -> Tensor:
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Embedding(Module):
    """A table of ``num_embeddings`` learned vectors of ``embedding_dim`` values, looked up by
    index: (...) integers -> (..., embedding_dim); see ``F.embedding``. The weights start as
    PyTorch's, standard normal, with the ``padding_idx`` row zero (and it gets no gradient).

    Example:
        >>> cr.nn.Embedding(10, 3)(cr.tensor([[1, 2], [4, 9]])).shape
        (2, 2, 3)
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight: Tensor | None = None,
        _freeze: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        for name, v in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if not isinstance(v, int) or v <= 0:
                raise ValueError(f"Embedding: {name} must be a positive integer; got {v!r}")
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"Embedding: padding_idx must be within [{-num_embeddings}, "
                    f"{num_embeddings - 1}]; got {padding_idx}"
                )
            padding_idx %= num_embeddings
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx, self.max_norm, self.norm_type = padding_idx, max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is None:
            self.weight = Parameter(zeros(num_embeddings, embedding_dim, dtype=_dtype(dtype)))
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError(
                    f"Embedding: _weight must have shape {(num_embeddings, embedding_dim)}; got "
                    f"{tuple(_weight.shape)}"
                )
            self.weight = Parameter(_weight, requires_grad=not _freeze)
        _place(self, device)

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx] = 0.0

    @classmethod
    def from_pretrained(
        cls,
        embeddings: Tensor,
        freeze: bool = True,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
    ) -> Embedding:
        """An Embedding whose table is ``embeddings`` (2-d), frozen unless ``freeze=False``."""
        if embeddings.ndim != 2:
            raise ValueError(
                f"Embedding.from_pretrained: expected a 2-d table; got {tuple(embeddings.shape)}"
            )
        rows, dim = embeddings.shape
        return cls(
            rows,
            dim,
            padding_idx,
            max_norm,
            norm_type,
            scale_grad_by_freq,
            sparse,
            _weight=embeddings,
            _freeze=freeze,
        )

    def forward(self, input: Tensor) -> Tensor:
        return F.embedding(
            input,
            self.weight,
            self.padding_idx,
            self.max_norm,
            self.norm_type,
            self.scale_grad_by_freq,
            self.sparse,
        )

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        if self.sparse:
            s += ", sparse=True"
        return s
