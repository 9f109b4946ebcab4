"""Convolutional layers: a filter bank slid over images, and pooling; NCHW, as in PyTorch."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..autograd.tensor import Tensor
from ..creation import zeros
from ..ops.conv import conv_padding, sizes
from . import functional as F
from . import init
from .layers import _dtype, _place
from .module import Module, Parameter

IntOrPair = int | Sequence[int]


class _ConvNd(Module):
    """What ``Conv1d`` and ``Conv2d`` share: the checks, the filters and their initialisation,
    for ``dims`` spatial axes (``_functional`` is ``F.conv1d`` or ``F.conv2d``)."""

    dims = 2

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrPair,
        stride: IntOrPair = 1,
        padding: IntOrPair | str = 0,
        dilation: IntOrPair = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        op = type(self).__name__
        for name, v in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(v, int) or v <= 0:
                raise ValueError(f"{op}: {name} must be a positive integer; got {v!r}")
        if not isinstance(groups, int) or groups < 1:
            raise ValueError(f"{op}: groups must be a positive integer; got {groups!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{op}: in_channels ({in_channels}) and out_channels ({out_channels}) must both "
                f"be divisible by groups ({groups})"
            )
        if padding_mode != "zeros":
            raise ValueError(f"{op}: padding_mode {padding_mode!r} is not supported; use 'zeros'")
        dims = self.dims
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = sizes(kernel_size, "kernel_size", op, dims)
        self.stride = sizes(stride, "stride", op, dims)
        self.dilation = sizes(dilation, "dilation", op, dims)
        conv_padding(padding, self.kernel_size, self.stride, self.dilation, op)  # validate
        self.padding = (
            padding if isinstance(padding, str) else sizes(padding, "padding", op, dims, 0)
        )
        self.groups = groups
        self.padding_mode = padding_mode
        d = _dtype(dtype)
        self.weight = Parameter(
            zeros(out_channels, in_channels // groups, *self.kernel_size, dtype=d)
        )
        self.bias = Parameter(zeros(out_channels, dtype=d)) if bias else None
        self.reset_parameters()
        _place(self, device)

    def reset_parameters(self) -> None:
        """PyTorch's default: kaiming_uniform_(a=sqrt(5)) for the filters, i.e.
        U(+-1/sqrt(fan_in)), and the same bound for the bias."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            bound = 1 / math.sqrt(fan_in)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        conv = F.conv1d if self.dims == 1 else F.conv2d
        return conv(
            input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )

    def extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding not in ((0,) * self.dims, "valid"):
            s += f", padding={self.padding}"  # "same" unquoted, as PyTorch shows it
        if self.dilation != (1,) * self.dims:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv2d(_ConvNd):
    """A bank of ``out_channels`` learned filters of size (in_channels/groups, kh, kw), each
    slid over the image: one output channel (a feature map) per filter.

    Args:
        in_channels: channels of the input (1 for grey images, 3 for colour).
        out_channels: filters, and channels of the output.
        kernel_size: the filter's height and width, an int or a pair.
        stride: the step between windows, an int or a pair.
        padding: zeros around the image: an int, a pair, "valid" or "same".
        dilation: the spacing of a filter's taps, an int or a pair.
        groups: split the channels into this many independent convolutions.
        bias: learn a bias per output channel.
        padding_mode: "zeros", the only one supported.
        dtype: parameter dtype (default float32).

    Shapes: input (N, in_channels, H, W) -> output (N, out_channels, Ho, Wo), with
    Ho = floor((H + 2 padding - dilation (kh - 1) - 1) / stride) + 1. ``weight`` is
    (out_channels, in_channels/groups, kh, kw), initialised as PyTorch's: uniform in
    +-1/sqrt(fan_in), fan_in = in_channels/groups * kh * kw; ``bias`` likewise.

    Example:
        >>> cr.nn.Conv2d(3, 16, 5)(cr.randn(8, 3, 32, 32)).shape
        (8, 16, 28, 28)
    """

    dims = 2


class Conv1d(_ConvNd):
    """``Conv2d`` for sequences: ``out_channels`` learned filters of size (in_channels/groups,
    k), slid along the sequence, with the same arguments, one int each.

    Shapes: input (N, in_channels, L) -> output (N, out_channels, Lo), with
    Lo = floor((L + 2 padding - dilation (k - 1) - 1) / stride) + 1. ``weight`` is
    (out_channels, in_channels/groups, k), initialised as PyTorch's (fan_in = in_channels/groups
    * k); ``kernel_size``, ``stride``, ``padding`` and ``dilation`` are 1-tuples, as PyTorch's.

    Example:
        >>> cr.nn.Conv1d(4, 8, 3, padding=1)(cr.randn(2, 4, 10)).shape
        (2, 8, 10)
    """

    dims = 1


class MaxPool2d(Module):
    """The largest value of each window: (N, C, H, W) -> (N, C, Ho, Wo), as ``F.max_pool2d``.

    Its arguments are PyTorch's ``nn.MaxPool2d``'s: kernel_size, stride (by default the
    window), padding, dilation, return_indices, ceil_mode.

    Example:
        >>> cr.nn.MaxPool2d(2)(cr.randn(8, 16, 28, 28)).shape
        (8, 16, 14, 14)
    """

    _functional = staticmethod(F.max_pool2d)

    def __init__(
        self,
        kernel_size: IntOrPair,
        stride: IntOrPair | None = None,
        padding: IntOrPair = 0,
        dilation: IntOrPair = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input: Tensor) -> Any:
        return self._functional(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
            self.return_indices,
        )

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class AvgPool2d(Module):
    """The mean of each window: (N, C, H, W) -> (N, C, Ho, Wo), as ``F.avg_pool2d``.

    Its arguments are PyTorch's ``nn.AvgPool2d``'s: kernel_size, stride (by default the
    window), padding, ceil_mode, count_include_pad, divisor_override.

    Example:
        >>> cr.nn.AvgPool2d(2)(cr.randn(8, 16, 28, 28)).shape
        (8, 16, 14, 14)
    """

    def __init__(
        self,
        kernel_size: IntOrPair,
        stride: IntOrPair | None = None,
        padding: IntOrPair = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool1d(MaxPool2d):
    """The largest value of each window of a sequence: (N, C, L) -> (N, C, Lo), as
    ``F.max_pool1d``; the arguments of ``nn.MaxPool1d``, one int each.

    Example:
        >>> cr.nn.MaxPool1d(2)(cr.randn(8, 16, 28)).shape
        (8, 16, 14)
    """

    _functional = staticmethod(F.max_pool1d)


class AvgPool1d(AvgPool2d):
    """The mean of each window of a sequence: (N, C, L) -> (N, C, Lo), as ``F.avg_pool1d``;
    the arguments of ``nn.AvgPool1d`` (kernel_size, stride, padding, ceil_mode,
    count_include_pad), one int each, kept as 1-tuples as PyTorch keeps them.

    Example:
        >>> cr.nn.AvgPool1d(2)(cr.randn(8, 16, 28)).shape
        (8, 16, 14)
    """

    def __init__(
        self,
        kernel_size: IntOrPair,
        stride: IntOrPair | None = None,
        padding: IntOrPair = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        op = "AvgPool1d"
        kernel = sizes(kernel_size, "kernel_size", op, 1)
        stride = kernel if stride is None else sizes(stride, "stride", op, 1)
        padding = sizes(padding, "padding", op, 1, 0)
        super().__init__(kernel, stride, padding, ceil_mode, count_include_pad)

    def forward(self, input: Tensor) -> Tensor:
        args = (self.kernel_size, self.stride, self.padding, self.ceil_mode)
        return F.avg_pool1d(input, *args, self.count_include_pad)


class AdaptiveAvgPool2d(Module):
    """The mean of each of ``output_size`` bins of the image, whatever its size: (N, C, H, W)
    -> (N, C, *output_size); see ``F.adaptive_avg_pool2d``. ``AdaptiveAvgPool2d(1)`` is the
    global average pooling before a classifier.

    Example:
        >>> cr.nn.AdaptiveAvgPool2d((1, 1))(cr.randn(8, 16, 7, 5)).shape
        (8, 16, 1, 1)
    """

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
