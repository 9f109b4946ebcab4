"""Switches for gradient recording and anomaly detection.

``no_grad`` / ``enable_grad`` / ``set_grad_enabled`` work as context managers and decorators, as in
PyTorch. As in PyTorch, gradient recording is a switch of each thread: a thread starts with it on
(whatever the thread that started it set), and ``no_grad`` in one thread never stops another
thread's recording. Anomaly detection is one switch for the whole process, as PyTorch's.
``Function.apply`` reads each once per call.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _State(threading.local):
    """``grad_enabled``, this thread's own (``__init__`` runs once in each thread reading it)."""

    def __init__(self) -> None:
        self.grad_enabled = True


class _Anomaly:
    __slots__ = ("enabled",)

    def __init__(self) -> None:
        self.enabled = False


state = _State()
anomaly = _Anomaly()


def is_grad_enabled() -> bool:
    """Whether operations on tensors that require grad are being recorded."""
    return state.grad_enabled


def _in_mode(func: F, mode: bool) -> F:
    """``func`` wrapped to run with recording set to ``mode``; a generator function's body runs
    in that mode at each resumption, and its caller's mode in between, as PyTorch's."""
    if inspect.isgeneratorfunction(func):
        return _generator_in_mode(func, mode)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        prev = state.grad_enabled
        state.grad_enabled = mode
        try:
            return func(*args, **kwargs)
        finally:
            state.grad_enabled = prev

    return wrapper  # type: ignore[return-value]


def _generator_in_mode(func: F, mode: bool) -> F:
    def step(gen: Any, how: str, value: Any) -> Any:
        prev = state.grad_enabled
        state.grad_enabled = mode
        try:
            return getattr(gen, how)(value)
        finally:
            state.grad_enabled = prev

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        gen = func(*args, **kwargs)
        how, value = "send", None
        while True:
            try:
                out = step(gen, how, value)
            except StopIteration as stop:
                return stop.value
            try:
                how, value = "send", (yield out)
            except GeneratorExit:
                prev = state.grad_enabled
                state.grad_enabled = mode
                try:
                    gen.close()
                finally:
                    state.grad_enabled = prev
                raise
            except BaseException as e:  # thrown into this generator: into the wrapped one
                how, value = "throw", e

    return wrapper  # type: ignore[return-value]


class _GradModeContext:
    """A context manager that sets the recording switch and restores it on exit.

    Also a decorator: ``@cr.no_grad()`` and ``@cr.no_grad`` both wrap a function so that it runs in
    that mode.
    """

    _mode: bool

    def __new__(cls, func: Callable[..., Any] | None = None):
        self = super().__new__(cls)
        self._stack: list[bool] = []
        if func is not None:  # used bare, as @cr.no_grad
            return self(func)
        return self

    def __enter__(self) -> None:
        self._stack.append(state.grad_enabled)
        state.grad_enabled = self._mode

    def __exit__(self, *exc: object) -> None:
        state.grad_enabled = self._stack.pop()

    def __call__(self, func: F) -> F:
        return _in_mode(func, self._mode)


class no_grad(_GradModeContext):
    """Disable gradient recording: results of ops do not require grad and build no graph.

    In this thread only, as PyTorch's: other threads go on recording.

    Example:
        >>> with cr.no_grad():
        ...     y = w * 2      # y.requires_grad is False
    """

    _mode = False


class enable_grad(_GradModeContext):
    """Enable gradient recording, also inside a ``no_grad`` block."""

    _mode = True


class inference_mode(_GradModeContext):
    """PyTorch's ``inference_mode``, for evaluation code: here the same as ``no_grad`` (nothing
    is recorded; chainrule has no separate inference tensors). ``inference_mode(False)`` leaves
    recording as it is. A context manager and a decorator, bare or called.

    Example:
        >>> with cr.inference_mode():
        ...     predictions = model(x).argmax(dim=1)
    """

    def __new__(cls, mode: Any = True):
        if callable(mode):  # used bare, as @cr.inference_mode
            return super().__new__(cls, mode)
        self = super().__new__(cls)
        self._enabled = bool(mode)
        return self

    _mode = False
    _enabled = True

    def __init__(self, mode: Any = True) -> None:
        pass

    def __enter__(self) -> None:
        self._stack.append(state.grad_enabled)
        if self._enabled:
            state.grad_enabled = False

    def __call__(self, func: F) -> F:
        return _in_mode(func, False) if self._enabled else func


class set_grad_enabled:
    """Set gradient recording on or off; takes effect at once, and is undone on exit when used
    as a context manager.

    Args:
        mode: True to record, False not to.
    """

    def __init__(self, mode: bool) -> None:
        self._prev = state.grad_enabled
        self._mode = bool(mode)
        state.grad_enabled = self._mode

    def __enter__(self) -> None:
        state.grad_enabled = self._mode

    def __exit__(self, *exc: object) -> None:
        state.grad_enabled = self._prev

    def __call__(self, func: F) -> F:
        """As a decorator, the mode applies inside the function only, as in PyTorch."""
        state.grad_enabled = self._prev
        return _in_mode(func, self._mode)


def set_detect_anomaly(mode: bool) -> None:
    """Turn anomaly detection on or off.

    When on, every op records where it was created, and the first op whose forward result or whose
    backward gradient holds NaN or inf raises a ``RuntimeError`` naming the op and that place.
    It slows every op down; use it to find a fault, then turn it off.
    """
    anomaly.enabled = bool(mode)


def is_anomaly_enabled() -> bool:
    """Whether anomaly detection is on."""
    return anomaly.enabled


class detect_anomaly:
    """Context manager that turns anomaly detection on inside its block."""

    def __enter__(self) -> None:
        self._prev = anomaly.enabled
        anomaly.enabled = True

    def __exit__(self, *exc: object) -> None:
        anomaly.enabled = self._prev
