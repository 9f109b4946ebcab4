"""What preallocated output buffers buy: the hand-written NumPy step with and without ``out=``.

``python benchmarks/out_buffers.py`` (about a minute) times the floor of workloads (a), (b) and
(c), ``mlp_step.NumpyMLP`` (forward, softmax cross-entropy, backward and SGD into buffers made
once, with NumPy's ``out=`` and in-place operators), against the same arithmetic written with a
new array for every result (``Allocating``), in alternating rounds in one process, 2 threads.
Each round's ratio is the allocating step's median time over the buffered one's; the median of
the rounds' ratios is printed per workload. Issue 14 asks for "buffers allocated once, NumPy's
``out=`` arguments" in ``cr.compile``'s replay: this is the most that technique can gain on a
step whose operations stay the same.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import mlp_step  # noqa: E402
from _harness import limit_threads  # noqa: E402


class Allocating(mlp_step.NumpyMLP):
    """``NumpyMLP``'s step with a new array for every result: no ``out=``, nothing in place
    but the weights' update."""

    def forward(self) -> None:
        a, last, hs = self.x, len(self.W) - 1, []
        for i, (w, b) in enumerate(zip(self.W, self.b)):
            h = a @ w.T + b
            if i < last:
                h = np.maximum(h, 0)
            hs.append(h)
            a = h
        s = hs[-1] - hs[-1].max(axis=1, keepdims=True)
        picked = s[self.rows, self.y]
        e = np.exp(s)
        total = e.sum(axis=1, keepdims=True)
        self.loss = float(np.log(total).mean() - picked.mean())
        self.hs, self.p = hs, e / total

    def backward(self) -> None:
        g = self.p.copy()
        g[self.rows, self.y] -= 1
        g = g * (1 / len(self.y))
        self.gW, self.gb = [None] * len(self.W), [None] * len(self.W)
        for i in reversed(range(len(self.W))):
            a = self.x if i == 0 else self.hs[i - 1]
            self.gW[i], self.gb[i] = g.T @ a, g.sum(axis=0)
            if i > 0:
                g = (g @ self.W[i]) * (a > 0)

    def update(self) -> None:
        for w, b, dw, db in zip(self.W, self.b, self.gW, self.gb):
            w -= self.lr * dw
            b -= self.lr * db


def _median_time(step: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    limit_threads()
    for key, repeats in (("a", 60), ("b", 8), ("c", 1500)):
        p = mlp_step.make_problem(key)
        buffered, allocating = mlp_step.NumpyMLP(p), Allocating(p)
        buffered.step()
        allocating.step()
        assert buffered.loss == allocating.loss, "the two steps must compute the same loss"
        ratios, buffered_times = [], []
        for _ in range(9):
            buffered_times.append(_median_time(buffered.step, repeats))
            ratios.append(_median_time(allocating.step, repeats) / buffered_times[-1])
        print(
            f"({key}) a new array per result takes {statistics.median(ratios):.3f}x the buffered "
            f"step's time (rounds {min(ratios):.3f} - {max(ratios):.3f}; buffered step "
            f"{statistics.median(buffered_times) * 1e3:.3f} ms, the median of the rounds)"
        )


if __name__ == "__main__":
    main()
