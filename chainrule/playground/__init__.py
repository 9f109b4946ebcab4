"""The playground: train a small network in the browser and watch backpropagation happen.

``chainrule playground`` (or ``serve()``) starts a local web server; the page, shipped in
``static/``, draws the decision regions, the curves and the network while chainrule trains on the
server. ``config.py`` holds the settings and limits, ``session.py`` one page's training,
``server.py`` the ASGI app. The server needs the ``playground`` extra
(``pip install "chainrule[playground]"``: Starlette, uvicorn, websockets); the settings and the
sessions need NumPy alone.

Example:
    >>> from chainrule.playground import Session
    >>> s = Session(); s.update({"hidden": [8], "activation": "tanh"}); s.train(10)
    10
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable
from typing import Any

from .config import PRESETS, Config, Limits, SettingError
from .session import Session, TrainingStopped

__all__ = [
    "PRESETS",
    "Config",
    "Limits",
    "Session",
    "SettingError",
    "TrainingStopped",
    "create_app",
    "serve",
]

_MISSING = (
    "the playground's server needs Starlette, uvicorn and websockets: pip install \"chainrule"
    '[playground]"'
)


def create_app(*args: Any, **kwargs: Any) -> Any:
    """The playground's ASGI app; see ``chainrule.playground.server.create_app``."""
    try:
        from .server import create_app as make
    except ImportError as e:
        raise ModuleNotFoundError(f"{_MISSING} ({e})") from e
    return make(*args, **kwargs)


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (0: a free port the system picks).

    Raises:
        OSError: the address is taken or cannot be used; the message says which.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
    except OSError as e:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    return sock


def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    limits: Limits | None = None,
    on_ready: Callable[[str], None] | None = None,
    allow_any_host: bool = False,
) -> None:
    """Serve the playground until Ctrl-C (which raises KeyboardInterrupt once it has stopped).

    Args:
        host: the address to listen on; the default, loopback, keeps other machines out.
        port: the port; 0 picks a free one.
        limits: what one page may ask for.
        on_ready: called with the page's address once the server listens.
        allow_any_host: accept any Host header (for a server reached by another name than
            loopback's); by default only 127.0.0.1, localhost and ::1 are accepted.

    Example:
        >>> serve(port=8765, on_ready=print)   # http://127.0.0.1:8765/
    """
    try:
        import uvicorn
    except ImportError as e:
        raise ModuleNotFoundError(f"{_MISSING} ({e})") from e
    limits = limits or Limits()
    sock = bind(host, port)
    shown = f"[{host.strip('[]')}]" if ":" in host else host
    url = f"http://{shown}:{sock.getsockname()[1]}/"
    # called once uvicorn handles Ctrl-C itself; the socket listens already, so a browser
    # opened then waits in its backlog for the first request to be served
    app = create_app(
        limits,
        allowed_hosts=["*"] if allow_any_host else None,
        on_startup=(lambda: on_ready(url)) if on_ready is not None else None,
    )
    config = uvicorn.Config(
        app,
        log_level="warning",
        ws="auto",
        ws_max_size=16 * limits.max_message_bytes,  # past the limit: our message, not a cut
        timeout_graceful_shutdown=3,
    )
    server = uvicorn.Server(config)
    try:
        with _one_blas_thread():
            server.run(sockets=[sock])
    finally:
        sock.close()


def _one_blas_thread() -> Any:
    """One BLAS thread for the server's process: its matrix products are small (a 100 x 100 grid
    through 16 units), and OpenBLAS's second thread spin-waits, which made a frame 3x slower
    (25 ms against 7 ms) on a 2-core machine busy with anything else, such as the browser."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # an optional speed-up: without it, BLAS keeps its own setting
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
