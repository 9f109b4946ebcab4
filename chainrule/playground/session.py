"""One page's playground: its points, its network, its optimizer and its progress.

A ``Session`` trains a ``cr.nn.MLP`` with a ``cr.optim`` optimizer on one of the lecture's 2-D
point sets, and describes its state as a ``frame``: the decision regions on a grid, each hidden
unit's own region, every weight with its gradient, and the train and test loss and accuracy.
``explain`` traces one training example's loss and returns the same drawing as
``cr.viz.draw_graph`` with ``cr.viz.explain``'s steps.

Sessions are not thread-safe, and a session draws its initial weights from chainrule's one
random generator (under its own seed, then put back): the server runs every call of every session
on one engine thread (see ``server.py``).

Example:
    >>> s = Session()
    >>> s.train(100)
    100
    >>> f = s.frame()
    >>> f["step"], 0 <= f["test_acc"] <= 1
    (100, True)
"""

from __future__ import annotations

import base64
import functools
import logging
import math
import time
from typing import Any

import numpy as np

from .. import nn, optim
from ..autograd import no_grad
from ..autograd.functional import grad as autograd_grad
from ..creation import from_numpy
from ..data import datasets
from ..nn import functional as F
from ..random import get_rng_state, manual_seed, set_rng_state
from .config import (
    DATA_FIELDS,
    MODEL_FIELDS,
    Config,
    Limits,
    SettingError,
)

logger = logging.getLogger(__name__)

#: The decision-region grid is GRID x GRID cells; each hidden unit's image UNIT_GRID x UNIT_GRID.
GRID = 100
UNIT_GRID = 25


class TrainingStopped(RuntimeError):
    """Training paused by itself: the loss diverged, or the session's step limit was reached."""


def _quiet(method):
    """Run ``method`` without NumPy's overflow and invalid-value warnings: a diverging network
    is caught by the finite-loss check and told to the page, not written to the server's log."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return method(*args, **kwargs)

    return wrapper


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.asarray(a, dtype=np.uint8).tobytes()).decode("ascii")


def _round(a: np.ndarray, digits: int = 5) -> list:
    """Floats for JSON, rounded to ``digits`` significant digits (NaN and inf become None).

    Vectorised: n / 10^k is the double nearest the decimal, whose repr is short.
    """
    a = np.asarray(a, dtype=np.float64)
    finite = np.isfinite(a)
    safe = np.where(finite & (a != 0), np.abs(a), 1.0)
    k = (digits - 1 - np.floor(np.log10(safe))).clip(-300, 300)
    up = k >= 0
    p = 10.0 ** np.abs(k)
    r = np.where(up, np.round(a * p) / p, np.round(a / p) * p)
    if finite.all():
        return r.tolist()
    return np.where(finite, r, None).tolist()


class Session:
    """The state of one page: data, network, optimizer, steps taken.

    Args:
        config: the starting settings (default ``Config()``).
        limits: what this session may ask for (default ``Limits()``).

    Attributes:
        config: the settings in force.
        step: training steps taken since the network was built.
        running: whether the page asked training to run (the server reads it).
    """

    def __init__(self, config: Config | None = None, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.config = config or Config()
        self.running = False
        self.data_version = 0  # bumped whenever the points change, so the page can tell
        self.model_version = 0  # bumped whenever the network is rebuilt (curves start over)
        self._build_data()
        self._build_model()

    # ----- settings -----
    def update(self, changes: Any) -> set[str]:
        """Apply the page's changes: data changes regenerate the points and the network, model
        changes the network; added points, and training changes (loss, l2, lr, batch size,
        optimizer), keep the weights and go on.

        Returns:
            The names of the fields whose value changed.

        Raises:
            SettingError: a change the playground cannot take; nothing is changed then.
        """
        new = self.config.update(changes, self.limits)
        old = self.config
        changed = {k for k in vars(new) if getattr(new, k) != getattr(old, k)}
        self.config = new
        if changed & DATA_FIELDS:
            self._build_data()
        if changed & (DATA_FIELDS | MODEL_FIELDS) - {"added"}:
            self._build_model()
        else:
            if "added" in changed:  # the same network trains on, on the new points
                self._order = np.empty(0, dtype=np.int64)
                self._pos = 0
            if "optimizer" in changed:
                self._build_optimizer()
            if "lr" in changed:
                for group in self.optimizer.param_groups:
                    group["lr"] = new.lr
        return changed

    def add_point(self, x: Any, y: Any, label: Any) -> None:
        """Add a training point at (x, y) of class ``label``; the network goes on training."""
        self.update({"added": [*self.config.added, [x, y, label]]})

    def reset(self) -> None:
        """New initial weights (from the seed), step 0, a fresh optimizer; the points stay."""
        self._build_model()

    # ----- building -----
    def _build_data(self) -> None:
        c = self.config
        self.data_version += 1
        kwargs: dict[str, Any] = {
            "n_samples": c.points,
            "noise": c.noise,
            "seed": c.seed,
            "val_fraction": 0.0,
            "test_fraction": c.test_fraction,
            "n_classes": c.num_classes,
        }
        s = datasets.load(c.dataset, **kwargs)
        xs = np.concatenate([s.x_train, s.x_test])
        lo, hi = xs.min(0), xs.max(0)
        centre = (lo + hi) / 2
        half = float(max(hi - lo)) / 2 * 1.15 + 0.05
        # the drawing's square: x from left to right, y from bottom to top
        self.domain = [float(centre[0] - half), float(centre[0] + half)]
        self.domain += [float(centre[1] - half), float(centre[1] + half)]
        added = np.asarray(c.added, dtype=np.float32).reshape(-1, 3)
        self.x_train = np.concatenate([s.x_train, added[:, :2]]).astype(np.float32)
        self.y_train = np.concatenate([s.y_train, added[:, 2].astype(np.int64)])
        self.x_test, self.y_test = s.x_test.astype(np.float32), s.y_test
        self.n_generated_train = len(s.x_train)
        x0, x1, y0, y1 = self.domain
        gx = np.linspace(x0, x1, GRID, dtype=np.float32)
        gy = np.linspace(y1, y0, GRID, dtype=np.float32)  # row 0 is the top of the picture
        xx, yy = np.meshgrid(gx, gy)
        self._grid = from_numpy(np.stack([xx.ravel(), yy.ravel()], axis=1))
        off = GRID // UNIT_GRID // 2
        self._unit_rows = np.arange(off, GRID, GRID // UNIT_GRID)[:UNIT_GRID]

    def _build_model(self) -> None:
        c = self.config
        saved = get_rng_state()  # initialise from the session's seed, leave the global one be
        try:
            manual_seed(c.seed)
            self.model = nn.MLP(2, c.hidden, c.num_classes, activation=c.activation)
        finally:
            set_rng_state(saved)
        self.model_version += 1
        self.layers = [m for m in self.model if isinstance(m, (nn.Linear, nn.Maxout))]
        self.weights = [m.weight for m in self.layers]  # what R(W) sums over: no biases
        self.step = 0
        self._batch_rng = np.random.default_rng([c.seed, 1])
        self._order = np.empty(0, dtype=np.int64)
        self._pos = 0
        self._build_optimizer()

    def _build_optimizer(self) -> None:
        c = self.config
        params = list(self.model.parameters())
        if c.optimizer == "sgd":
            self.optimizer = optim.SGD(params, lr=c.lr)
        elif c.optimizer == "momentum":
            self.optimizer = optim.SGD(params, lr=c.lr, momentum=0.9)
        elif c.optimizer == "adam":
            self.optimizer = optim.Adam(params, lr=c.lr)
        elif c.optimizer == "rmsprop":
            self.optimizer = optim.RMSprop(params, lr=c.lr)
        else:
            self.optimizer = optim.Adagrad(params, lr=c.lr)

    # ----- training -----
    def _data_loss(self, scores: Any, y: Any) -> Any:
        if self.config.loss == "svm":
            return F.multi_margin_loss(scores, y)
        return F.cross_entropy(scores, y)

    def _total(self, data_loss: Any) -> Any:
        """data loss + lambda R(W), R the sum of the squared weights (biases excluded)."""
        lam = self.config.l2
        return data_loss + lam * nn.l2_penalty(self.weights) if lam else data_loss

    def _next_batch(self) -> np.ndarray:
        n, size = len(self.y_train), min(self.config.batch_size, len(self.y_train))
        if self._pos + size > len(self._order):  # a new epoch: a new order
            self._order = self._batch_rng.permutation(n)
            self._pos = 0
        idx = self._order[self._pos : self._pos + size]
        self._pos += size
        return idx

    @_quiet
    def train(self, steps: int) -> int:
        """Take up to ``steps`` steps of the optimizer on minibatches; returns the steps taken.

        Raises:
            TrainingStopped: the loss became NaN or infinite (the step that did so is undone
                by no one: reset), or the session reached ``limits.max_steps``.
        """
        done = 0
        for _ in range(steps):
            self._one_step()
            done += 1
        return done

    @_quiet
    def train_for(self, seconds: float, max_steps: int) -> int:
        """Train for about ``seconds`` (at least one step, at most ``max_steps``)."""
        deadline = time.perf_counter() + seconds
        done = 0
        while done < max_steps:
            self._one_step()
            done += 1
            if time.perf_counter() >= deadline:
                break
        return done

    def _one_step(self) -> None:
        if self.step >= self.limits.max_steps:
            self.running = False
            raise TrainingStopped(
                f"this session reached its limit of {self.limits.max_steps:,} steps and paused; "
                "press reset to train again"
            )
        idx = self._next_batch()
        x, y = from_numpy(self.x_train[idx]), from_numpy(self.y_train[idx])
        loss = self._total(self._data_loss(self.model(x), y))
        self.optimizer.zero_grad()
        loss.backward()
        value = loss.item()
        if not math.isfinite(value):
            self.running = False
            raise TrainingStopped(
                f"the loss became {value} at step {self.step + 1} and training paused: the "
                "learning rate is probably too high; lower it and press reset"
            )
        self.optimizer.step()
        self.step += 1

    # ----- what the page draws -----
    def _forward(self, x: Any) -> tuple[list[Any], Any]:
        """The scores, with each hidden layer's output (after its activation) on the way."""
        hidden = []
        h = x
        modules = list(self.model)
        for m in modules[:-1]:
            h = m(h)
            if not isinstance(m, nn.Linear):  # an activation, or a Maxout layer
                hidden.append(h)
        return hidden, modules[-1](h)

    @_quiet
    def frame(self) -> dict[str, Any]:
        """The session's state as the page draws it (plain JSON values).

        Returns:
            A dict: ``step``, ``epoch``, ``train_loss``/``test_loss`` (data loss, mean over the
            split), ``train_acc``/``test_acc``, ``total_loss`` (training data loss + lambda
            R(W)); ``grid``: the decision regions (``cls`` the winning class and ``conf`` its
            softmax probability rescaled to 0-255, GRID x GRID bytes in base64, row 0 at the
            top); ``units``: per hidden layer, each unit's output on a UNIT_GRID x UNIT_GRID
            grid as bytes (128 = 0, scaled by the unit's largest magnitude ``scale``);
            ``layers``: per layer, ``w`` (out, in, pieces) and ``b`` (out, pieces) with their
            gradients ``dw``, ``db`` of the full-batch training loss, and for hidden layers
            ``da``: the loss's gradient with respect to each unit's output, summed over the
            training points.
        """
        c = self.config
        x, y = from_numpy(self.x_train), from_numpy(self.y_train)
        hidden, scores = self._forward(x)
        data_loss = self._data_loss(scores, y)
        total = self._total(data_loss)
        params = [p for m in self.layers for p in (m.weight, m.bias)]
        grads = autograd_grad(total, params + hidden)
        dparams, dhidden = grads[: len(params)], grads[len(params) :]
        train_acc = float((scores.detach().numpy().argmax(1) == self.y_train).mean())
        with no_grad():
            test_scores = self.model(from_numpy(self.x_test))
            test_loss = float(self._data_loss(test_scores, from_numpy(self.y_test)).item())
            test_acc = float((test_scores.numpy().argmax(1) == self.y_test).mean())
            grid_hidden, grid_scores = self._forward(self._grid)
        s = grid_scores.numpy()
        # the winner's softmax probability is 1 / sum(exp(s - max s)): no need for all of them
        top = 1.0 / np.exp(s - s.max(1, keepdims=True)).sum(1)
        k = c.num_classes
        conf = (top - 1 / k) / (1 - 1 / k)
        if not np.isfinite(conf).all():  # a diverged network
            conf = np.nan_to_num(conf)
        layers = []
        for i, m in enumerate(self.layers):
            pieces = getattr(m, "pieces", 1)
            out, fan_in = m.weight.shape[0] // pieces, m.weight.shape[1]
            # (out, in, pieces): w[j][i] lists the pieces of the weight from input i to unit j
            w = m.weight.detach().numpy().reshape(out, pieces, fan_in).transpose(0, 2, 1)
            dw = dparams[2 * i].numpy().reshape(out, pieces, fan_in).transpose(0, 2, 1)
            entry = {
                "w": _round(w),
                "dw": _round(dw),
                "b": _round(m.bias.detach().numpy().reshape(out, pieces)),
                "db": _round(dparams[2 * i + 1].numpy().reshape(out, pieces)),
            }
            if i < len(hidden):
                entry["da"] = _round(dhidden[i].numpy().sum(0))
            layers.append(entry)
        units = []
        rows = self._unit_rows
        for a in grid_hidden:
            a = a.numpy().reshape(GRID, GRID, -1)[np.ix_(rows, rows)]  # (UNIT_GRID, UNIT_GRID, h)
            a = a.astype(np.float64).transpose(2, 0, 1)  # one image per unit
            if not np.isfinite(a).all():  # a diverged network
                a = np.nan_to_num(a, posinf=1e300, neginf=-1e300)
            scale = np.abs(a).max(axis=(1, 2))
            q = np.round(a / np.where(scale > 0, scale, 1)[:, None, None] * 127 + 128)
            q = np.ascontiguousarray(q.clip(0, 255).astype(np.uint8))
            units.append({"scale": _round(scale), "images": [_b64(image) for image in q]})
        return {
            "type": "frame",
            "data_version": self.data_version,
            "model_version": self.model_version,
            "step": self.step,
            "epoch": round(self.step * min(c.batch_size, len(self.y_train)) / len(self.y_train), 3),
            "running": self.running,
            "train_loss": float(data_loss.item()),
            "test_loss": test_loss,
            "total_loss": float(total.item()),
            "train_acc": train_acc,
            "test_acc": test_acc,
            "grid": {
                "size": GRID,
                "cls": _b64(s.argmax(1)),
                "conf": _b64(np.round(conf * 255)),
            },
            "unit_grid": UNIT_GRID,
            "units": units,
            "layers": layers,
        }

    def points(self) -> dict[str, Any]:
        """The points and the drawing's square, for the page (sent when the data change)."""
        return {
            "type": "points",
            "data_version": self.data_version,
            "domain": self.domain,
            "train": _round(self.x_train, 4),
            "train_labels": self.y_train.tolist(),
            "added_from": self.n_generated_train,
            "test": _round(self.x_test, 4),
            "test_labels": self.y_test.tolist(),
            "classes": self.config.num_classes,
        }

    # ----- one example, explained -----
    @_quiet
    def explain(self, index: Any = None) -> dict[str, Any]:
        """Trace one training example's loss: the graph with values and gradients, explained.

        The graph is that of ``data loss + lambda R(W)`` for the example at ``index`` of the
        training set (default: the next example training would use), drawn as
        ``cr.viz.draw_graph(loss, module=model)`` draws it, one box per layer. The weights
        are not changed.

        Returns:
            A dict: ``index``, ``x``, ``label``, ``loss``, ``svg`` (None without Graphviz),
            ``dot`` (the DOT text), ``text`` (``str(cr.viz.explain(...))``), ``note``.

        Raises:
            SettingError: ``index`` is not a training example's index.
        """
        from .. import viz  # a layer above the engine; imported when asked
        from ..viz.graph import GraphvizNotFoundError

        n = len(self.y_train)
        if index is None:
            if self._pos >= len(self._order):
                self._order = self._batch_rng.permutation(n)
                self._pos = 0
            index = int(self._order[self._pos])
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n:
            raise SettingError(
                f"explain needs the index of a training point, 0 to {n - 1}; got {index!r}",
                "index",
            )
        x = from_numpy(self.x_train[index : index + 1])
        x.name = "x"
        y = from_numpy(self.y_train[index : index + 1])
        loss = self._total(self._data_loss(self.model(x), y))
        graph = viz.trace(loss, module=self.model)
        dot = viz.draw_graph(graph, format="dot")
        svg, note = None, ""
        try:
            svg = viz.draw_graph(graph, format="svg")
            svg = svg[svg.find("<svg") :]
        except (GraphvizNotFoundError, ModuleNotFoundError) as e:
            note = f"{e} (the DOT text is shown instead)"
        what = "cross-entropy" if self.config.loss == "cross_entropy" else "multiclass SVM"
        lam = self.config.l2
        return {
            "type": "explain",
            "index": index,
            "x": _round(self.x_train[index], 4),
            "label": int(self.y_train[index]),
            "loss": float(loss.item()),
            "formula": f"L = {what} loss of one example"
            + (f" + {lam:g} * sum(W^2)" if lam else ""),
            "svg": svg,
            "dot": dot,
            "text": str(viz.explain(graph)),
            "note": note,
        }
