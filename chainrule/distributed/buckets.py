"""Flat buckets: many arrays summed over the ranks in a few Allreduce calls, not one each.

A small MLP has a handful of parameters, a deep network hundreds; each Allreduce costs a
network latency (alpha) before its first byte moves, so the gradients are packed into a few
contiguous buffers ("buckets", as in PyTorch's DistributedDataParallel) and each bucket is summed
in one call. A bucket holds one dtype and at most ``bucket_bytes`` (a long array gets a bucket of
its own); they are made once, in the parameters' order, and reused every step.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: PyTorch DDP's default bucket size: large enough that a bucket's latency is small against its
#: transfer time, small enough to bound the extra memory (one copy of the gradients).
BUCKET_BYTES = 25 * 2**20


class Buckets:
    """Flat buffers laid out for arrays of the given shapes and dtypes.

    Args:
        shapes: the arrays' shapes, in order.
        dtypes: their dtypes.
        bucket_bytes: the most bytes in one bucket (an array larger than that has its own).

    Attributes:
        buffers: the flat buffers, one per bucket.
        slots: for each array, ``(bucket, start, stop)``: where it lies in its bucket.

    Example:
        >>> b = Buckets([(2, 3), (3,)], [np.float32, np.float32])
        >>> len(b.buffers), b.buffers[0].shape, b.slots
        (1, (9,), [(0, 0, 6), (0, 6, 9)])
    """

    def __init__(
        self,
        shapes: Sequence[tuple[int, ...]],
        dtypes: Sequence[np.dtype],
        bucket_bytes: int = BUCKET_BYTES,
    ) -> None:
        if len(shapes) != len(dtypes):
            raise ValueError(f"Buckets: {len(shapes)} shapes but {len(dtypes)} dtypes")
        if bucket_bytes < 1:
            raise ValueError(f"Buckets: bucket_bytes must be positive; got {bucket_bytes}")
        self.shapes = [tuple(s) for s in shapes]
        self.slots: list[tuple[int, int, int]] = []
        sizes: list[int] = []
        kinds: list[np.dtype] = []
        open_bucket: dict[np.dtype, int] = {}  # the bucket each dtype is filling
        for shape, dtype in zip(self.shapes, dtypes):
            dtype = np.dtype(dtype)
            n = int(np.prod(shape, dtype=np.int64))
            b = open_bucket.get(dtype)
            if b is None or (sizes[b] + n) * dtype.itemsize > bucket_bytes and sizes[b] > 0:
                b = open_bucket[dtype] = len(sizes)
                sizes.append(0)
                kinds.append(dtype)
            self.slots.append((b, sizes[b], sizes[b] + n))
            sizes[b] += n
        self.buffers = [np.empty(n, dtype) for n, dtype in zip(sizes, kinds)]

    def pack(self, arrays: Sequence[np.ndarray | None], scale: float = 1.0) -> None:
        """Copy ``scale * array`` of each array into its place (zeros for None)."""
        for a, (b, start, stop) in zip(arrays, self.slots):
            out = self.buffers[b][start:stop]
            if a is None:
                out.fill(0)
            else:
                np.multiply(a.reshape(-1), scale, out=out, casting="same_kind")

    def unpack(self, scale: float = 1.0) -> list[np.ndarray]:
        """New arrays, ``scale *`` each array's part of the buffers, in their shapes."""
        out = []
        for shape, (b, start, stop) in zip(self.shapes, self.slots):
            part = self.buffers[b][start:stop]
            out.append(np.multiply(part, scale, dtype=part.dtype).reshape(shape))
        return out
