"""The functional forms of the layers, activations and losses (PyTorch's ``F``).

``import chainrule.nn.functional as F``; every function here takes tensors and returns tensors,
with no state: the Modules in ``chainrule.nn`` hold the parameters and call these.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from .. import ops as _ops
from ..autograd.function import Function
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..backend import NUMPY, namespace
from ..creation import as_tensor, ones_like
from ..dtypes import float64
from ..ops import linear
from ..ops._registry import functional as _ops_in_functional
from ..ops.elementwise import values
from ..random import rand
from .losses import *  # noqa: F403  (cross_entropy, nll_loss, ... are part of F)
from .losses import __all__ as _losses_all

# the ops that are part of F (relu, softmax, linear, ...): those registered with functional=True
_OPS = _ops_in_functional()
globals().update(_OPS)

__all__ = [
    "adaptive_avg_pool2d",
    "batch_norm",
    "dropout",
    "dropout2d",
    "embedding",
    "layer_norm",
    "maxout",
    "normalize",
    "one_hot",
    "pad",
    *_OPS,
    *_losses_all,
]


def softmax(
    input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> Tensor:
    """Softmax along ``dim``, as PyTorch's ``F.softmax``: ``dtype`` converts the input first,
    and without ``dim`` the axis is PyTorch's old implicit choice (0 for 0-, 1- and 3-d input,
    else 1), with its deprecation warning; pass ``dim``. (``x.softmax()`` and ``cr.softmax``
    take the last axis.)"""
    return _ops.softmax(*_softmax_args("softmax", input, dim, _stacklevel, dtype))


def log_softmax(
    input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> Tensor:
    """log(softmax(x)) along ``dim``, computed stably, with ``softmax``'s arguments."""
    return _ops.log_softmax(*_softmax_args("log_softmax", input, dim, _stacklevel, dtype))


def _softmax_args(name: str, input: Tensor, dim: Any, stacklevel: int, dtype: Any) -> tuple:
    if dtype is not None:
        input = input.to(dtype)
    if dim is None:
        warnings.warn(
            f"Implicit dimension choice for {name} has been deprecated. Change the call to "
            "include dim=X as an argument.",
            UserWarning,
            stacklevel=stacklevel,
        )
        dim = 0 if input.ndim in (0, 1, 3) else 1
    return input, dim


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Inverted dropout: zero each value with probability ``p`` and scale the rest by 1/(1-p),
    so that nothing changes at evaluation time. A no-op when not ``training``. ``inplace`` is
    accepted as in PyTorch and computed out of place (the input keeps its values)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1]; got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0
    return input * _keep_mask(input, input.shape, p)


def _keep_mask(input: Tensor, shape: tuple, p: float) -> Tensor:
    """1/(1-p) where a uniform draw is >= p, else 0: a constant in input's dtype, on its device.

    The draw is float64, as it always was, so a seed keeps its masks on every device and dtype.
    """
    u = rand(shape, dtype=float64, device=input.device)._data
    xp = namespace(u)
    keep = xp.astype(u >= p, u.dtype) / (1.0 - p)  # True / (1 - p), exactly
    return Tensor._make(xp.astype(keep, input._data.dtype))


def dropout2d(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> Tensor:
    """Channel dropout: zero each whole channel (C of (N, C, H, W), or of (C, H, W)) with
    probability ``p`` and scale the rest by 1/(1-p), as PyTorch's ``F.dropout2d``. A no-op when
    not ``training``."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout2d: p must be in [0, 1]; got {p}")
    if input.ndim not in (3, 4):
        raise ValueError(
            "dropout2d: expected input of shape (N, C, H, W) or (C, H, W); got "
            f"{tuple(input.shape)}"
        )
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0
    return input * _keep_mask(input, input.shape[:-2] + (1, 1), p)


def _batch_axes(input: Tensor, num_features: int) -> tuple[int, ...]:
    if input.ndim < 2 or input.shape[1] != num_features:
        raise ValueError(
            f"batch_norm: expected input of shape (N, {num_features}), (N, {num_features}, L) or "
            f"(N, {num_features}, H, W); got {tuple(input.shape)}"
        )
    return (0, *range(2, input.ndim))


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each feature (dimension 1) over the batch, then scale and shift.

    In training the batch's mean and (biased) variance are used and the running statistics move
    towards them by ``momentum`` (the variance unbiased, as in PyTorch); in evaluation the running
    statistics are used.
    """
    num_features = input.shape[1] if input.ndim > 1 else -1
    axes = _batch_axes(input, num_features)
    shape = (1, num_features) + (1,) * (input.ndim - 2)
    if training:
        n = input.numel() // num_features
        if n <= 1:
            raise ValueError(
                f"batch_norm: expected more than 1 value per feature in training; got input of "
                f"shape {tuple(input.shape)}"
            )
        mean = input.mean(axes, keepdim=True)
        var = input.var(axes, correction=0, keepdim=True)
        if running_mean is not None and running_var is not None:
            xp = namespace(mean._data)
            batch_mean = xp.reshape(mean._data, (-1,))
            batch_var = xp.reshape(var._data, (-1,)) * (n / (n - 1))
            running_mean._data *= 1 - momentum
            running_mean._data += momentum * batch_mean
            running_var._data *= 1 - momentum
            running_var._data += momentum * batch_var
            running_mean._version += 1
            running_var._version += 1
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: evaluation needs running_mean and running_var")
        mean = running_mean.reshape(shape)
        var = running_var.reshape(shape)
    out = (input - mean) / (var + eps).sqrt()
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def layer_norm(
    input: Tensor,
    normalized_shape: Sequence[int] | int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise over the last dimensions (``normalized_shape``) of each sample, then scale and
    shift elementwise."""
    norm = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(input.shape[-len(norm) :]) != norm:
        raise ValueError(
            f"layer_norm: expected input whose last dimensions are {norm}; got shape "
            f"{tuple(input.shape)}"
        )
    axes = tuple(range(input.ndim - len(norm), input.ndim))
    mean = input.mean(axes, keepdim=True)
    var = input.var(axes, correction=0, keepdim=True)
    out = (input - mean) / (var + eps).sqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each sample's channels in ``num_groups`` groups (each group's values over its
    channels and all positions), then scale and shift per channel, as PyTorch's
    ``F.group_norm``: input (N, C, *), weight and bias (C,). One group is layer norm over
    (C, *); C groups is instance norm. Built from differentiable ops (second order too)."""
    if input.ndim < 2:
        raise ValueError(f"group_norm: expected input of shape (N, C, *); got {input.shape}")
    n, c = input.shape[:2]
    if not isinstance(num_groups, int) or num_groups < 1 or c % num_groups:
        raise ValueError(
            f"group_norm: num_groups must be a positive int dividing the {c} channels; got "
            f"{num_groups!r}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise ValueError(f"group_norm: {name} must have shape ({c},); got {tuple(t.shape)}")
    groups = input.reshape(n, num_groups, -1)
    mean = groups.mean(-1, keepdim=True)
    var = groups.var(-1, correction=0, keepdim=True)
    out = ((groups - mean) / (var + eps).sqrt()).reshape(input.shape)
    along = (c,) + (1,) * (input.ndim - 2)  # per channel, broadcast over the positions
    if weight is not None:
        out = out * weight.reshape(along)
    if bias is not None:
        out = out + bias.reshape(along)
    return out


def maxout(input: Tensor, weight: Tensor, bias: Tensor | None, pieces: int) -> Tensor:
    """max over ``pieces`` affine maps: max_k (W_k x + b_k), the lecture's Maxout unit.

    ``weight`` is (out_features * pieces, in_features); rows k*pieces .. k*pieces + pieces - 1
    belong to output unit k.
    """
    z = linear(input, weight, bias)
    out_features = z.shape[-1] // pieces
    return z.reshape(*z.shape[:-1], out_features, pieces).amax(-1)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """Class indices (int) -> one-hot rows (int64), as PyTorch's ``F.one_hot``; on the indices'
    device."""
    t = as_tensor(tensor)
    if not namespace(t._data).isdtype(t._data.dtype, "integral"):
        raise TypeError(f"one_hot: expected integer class indices; got dtype {t._data.dtype}")
    if not t._data.size and num_classes < 0:
        raise ValueError("one_hot: cannot infer the number of classes from no indices; pass it")
    # the range is read into Python by ops (cr.compile sees the read: such a step runs eagerly)
    low, high = (int(t.min()), int(t.max())) if t._data.size else (0, -1)
    n = high + 1 if num_classes < 0 else num_classes
    if low < 0 or high >= n:
        raise ValueError(
            f"one_hot: class indices must be in [0, {n}); found values in [{low}, {high}]"
        )
    return values(_one_hot, t, n)


def _one_hot(idx: Any, n: int) -> Any:
    xp = namespace(idx)
    classes = xp.arange(n, dtype=idx.dtype, device=idx.device)
    return xp.astype(xp.expand_dims(idx, axis=-1) == classes, xp.int64)


def normalize(
    input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out: None = None
) -> Tensor:
    """``input`` divided by its p-norm along ``dim`` (at least ``eps``), as PyTorch's
    ``F.normalize``: each row (for dim 1) becomes a unit vector."""
    if out is not None:
        raise TypeError("normalize: out= is not supported; use the returned tensor")
    return input / _ops.clamp(_ops.norm(input, p, dim, keepdim=True), min=eps)


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None):
    """Pad ``input`` as PyTorch's ``F.pad``: ``pad`` holds (left, right) amounts for the last
    dimension, then (top, bottom) for the one before, and so on; a negative amount crops.

    ``mode``: "constant" (``value``, default 0, around the input), "reflect" (the input
    mirrored without repeating its edge), "replicate" (the edge repeated) or "circular" (the
    input wrapped around). The other modes take values of the input, by indexing: each padded
    place's gradient goes back to the value it copied (adding up where one is copied twice).
    """
    amounts = [int(v) for v in pad]
    if len(amounts) % 2 or len(amounts) // 2 > input.ndim:
        raise ValueError(
            f"pad: expected an even number of amounts, two per padded dimension (at most "
            f"{input.ndim}); got {len(amounts)}"
        )
    k = len(amounts) // 2
    pairs = [(0, 0)] * (input.ndim - k) + [
        (amounts[2 * i], amounts[2 * i + 1]) for i in range(k - 1, -1, -1)
    ]
    if mode == "constant":
        return _ops.shape.pad_constant(input, tuple(pairs), 0.0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise ValueError(
            f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular'; got {mode!r}"
        )
    if value is not None and value != 0:
        raise ValueError(f"pad: value is for mode 'constant' only; got value={value} for {mode!r}")
    out = input
    for axis, (before, after) in enumerate(pairs):
        if before or after:
            out = out[
                (slice(None),) * axis + (_source_positions(out.shape[axis], before, after, mode),)
            ]
    return out


def _source_positions(n: int, before: int, after: int, mode: str) -> Any:
    """Where each place of an axis of length n padded by (before, after) takes its value."""
    at = NUMPY.arange(-before, n + after)  # a constant index: the values come by indexing
    if mode == "replicate":
        return NUMPY.clip(at, 0, n - 1)
    if mode == "circular":
        if max(before, after) > n:
            raise ValueError(f"pad: circular padding of {max(before, after)} exceeds the size {n}")
        return at % n
    if max(before, after) >= n:
        raise ValueError(
            f"pad: reflect padding of {max(before, after)} must be less than the size {n}"
        )
    period = 2 * (n - 1)
    at = NUMPY.abs(at) % period if period else NUMPY.zeros_like(at)
    return NUMPY.where(at >= n, period - at, at)


def embedding(
    input: Tensor,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """The rows of ``weight`` at the indices in ``input``: out has input's shape plus one axis
    of weight's width, as PyTorch's ``F.embedding``. The gradient of each row is the sum over
    the places that looked it up (none for ``padding_idx``, each divided by the row's count in
    the batch with ``scale_grad_by_freq``); ``max_norm`` first rescales, in place, every looked-up
    row whose ``norm_type``-norm exceeds it."""
    if sparse:
        raise ValueError("embedding: sparse gradients are not supported; use sparse=False")
    if not isinstance(input, Tensor) or input.dtype.kind not in "iu":
        got = input.dtype if isinstance(input, Tensor) else type(input).__name__
        raise RuntimeError(f"embedding: expected an integer index tensor; got {got}")
    rows = weight.shape[0]
    if padding_idx is not None:
        padding_idx = padding_idx + rows if padding_idx < 0 else padding_idx
    if max_norm is not None:
        _renorm_rows(input, weight, max_norm, norm_type)
    out = weight[input]
    if padding_idx is None and not scale_grad_by_freq:
        return out
    share = ones_like(input, dtype=weight.dtype)  # each place's share of its gradient
    if padding_idx is not None:
        share = share * (input != padding_idx)
    if scale_grad_by_freq:
        share = share / values(_lookups, input)
    return _ScaledGrad.apply(out, share.unsqueeze(-1))


class _ScaledGrad(Function):
    """``x`` itself, whose gradient is the upstream times ``share`` (embedding's padding and
    frequency scaling): the values pass exactly as they are (inf, NaN and -0.0 too, which
    arithmetic such as x + 0 * (...) would change), only the gradient is scaled."""

    symbol = "scale_grad"
    local_grad = "share"
    on_arrays = True

    @staticmethod
    def forward(ctx, x, share):
        ctx.save_for_backward(share)
        return x

    @staticmethod
    def backward(ctx, grad):
        (share,) = ctx.saved_tensors
        return grad * share, None


def _lookups(index: Any) -> Any:
    """How many times each place's index occurs in the whole index array."""
    xp = namespace(index)
    found, counts = xp.unique_counts(xp.reshape(index, (-1,)))
    return counts[xp.searchsorted(found, index)]


def _renorm_rows(input: Tensor, weight: Tensor, max_norm: float, norm_type: float) -> None:
    """Scale, in place, each row of ``weight`` that ``input`` looks up and whose norm exceeds
    ``max_norm`` down to it (PyTorch's ``embedding_renorm_``)."""
    with no_grad():
        idx = Tensor(namespace(input._data).unique_values(input._data))
        rows = weight[idx]
        norms = rows.norm(norm_type, dim=1, keepdim=True)
        scale = _ops.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        weight[idx] = rows * scale


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """The mean of each of ``output_size`` bins of the last two dimensions, as PyTorch's
    ``F.adaptive_avg_pool2d``: bin i of n over a side of h spans [floor(i h / n), ceil((i + 1)
    h / n)), so bins may overlap when n does not divide h; a None in ``output_size`` keeps that
    side. Where n divides h (and likewise for the width) it is ``avg_pool2d``."""
    if input.ndim not in (3, 4):
        raise ValueError(
            f"adaptive_avg_pool2d: expected input of shape (N, C, H, W) or (C, H, W); got "
            f"{tuple(input.shape)}"
        )
    h, w = input.shape[-2:]
    size = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    oh, ow = (h if size[0] is None else size[0]), (w if size[1] is None else size[1])
    if min(oh, ow) < 1:
        raise ValueError(f"adaptive_avg_pool2d: output_size must be positive; got {output_size}")
    if h % oh == 0 and w % ow == 0:
        return _ops.avg_pool2d(input, (h // oh, w // ow))

    def bins(n: int, k: int) -> list[tuple[int, int]]:
        return [((i * n) // k, -((-(i + 1) * n) // k)) for i in range(k)]

    rows = [
        _ops.stack([input[..., r0:r1, c0:c1].mean(dim=(-2, -1)) for c0, c1 in bins(w, ow)], -1)
        for r0, r1 in bins(h, oh)
    ]
    return _ops.stack(rows, -2)
