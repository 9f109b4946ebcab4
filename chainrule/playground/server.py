"""The playground's web server: an ASGI app (Starlette) that serves the page and one WebSocket
per browser tab, each with its own ``Session``.

The protocol, JSON text messages on ``/ws``:

- page -> server: ``{"type": "config", "config": {field: value, ...}}`` (any subset of
  ``Config``'s fields), ``{"type": "preset", "name": ...}``, ``{"type": "start"}``,
  ``{"type": "pause"}``, ``{"type": "step", "n": 1}``, ``{"type": "reset"}``,
  ``{"type": "add_point", "x": ..., "y": ..., "label": ...}``, ``{"type": "explain",
  "index": null}``, and ``{"type": "ack", "n": k}`` after drawing k frames.
- server -> page: ``hello`` (limits, choices, presets), ``config`` (the settings in force),
  ``points`` (the data), ``frame`` (see ``Session.frame``), ``state`` (running or not),
  ``explain`` (see ``Session.explain``) and ``error`` (``message``: a sentence to show).

While a session runs, the server trains for ``frame_seconds`` and sends a frame, again and again;
it waits while the page has ``MAX_UNACKED`` frames not yet drawn, so a slow or hidden tab slows its
own training down instead of piling frames up. A malformed message or a setting out of range is
answered with an ``error`` and the server goes on serving.

Every session's chainrule work runs on one engine thread, one call at a time: a new session
draws its initial weights from chainrule's random generator, one for the whole process (as
PyTorch's default generator), seeded for that session and then restored, so two sessions must
never start at once; and two trainings at once would only share the same cores. Each call is
short (one frame's training, ``frame_seconds``), so tabs take turns.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from .config import (
    ACTIVATIONS,
    DATA_FIELDS,
    DATASETS,
    LOSSES,
    OPTIMIZERS,
    PRESETS,
    Config,
    Limits,
    SettingError,
)
from .session import Session, TrainingStopped

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
#: Frames sent but not yet drawn by the page before training waits for it.
MAX_UNACKED = 2
#: Training time between two frames, in seconds (the rest of a frame is drawing and sending).
FRAME_SECONDS = 0.025
#: Steps at most between two frames, whatever the speed.
MAX_STEPS_PER_FRAME = 2000
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
        "connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class HostCheck:
    """Refuse requests whose Host header names another host than ``allowed`` (400), so that a
    web site cannot reach the server through DNS rebinding. Reads IPv6 hosts ("[::1]:8000")
    too, which Starlette's TrustedHostMiddleware splits at the first colon."""

    def __init__(self, app: Any, allowed: list[str]) -> None:
        self.app = app
        self.allowed = {h.strip("[]").lower() for h in allowed}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket") and "*" not in self.allowed:
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            try:
                name = urlsplit("//" + host).hostname or ""
            except ValueError:
                name = ""
            if name.lower() not in self.allowed:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                response = PlainTextResponse(f"unknown host {host!r}", status_code=400)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class Engine:
    """One thread that runs all chainrule work of all sessions, one call at a time."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chainrule-engine")

    async def run(self, fn: Any, *args: Any) -> Any:
        """``fn(*args)`` on the engine thread; its result, or its exception raised here."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, partial(fn, *args))

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _finite(v: Any) -> Any:
    return v if not isinstance(v, float) or math.isfinite(v) else None


def _json(msg: dict[str, Any]) -> str:
    clean = {k: _finite(v) for k, v in msg.items()}
    return json.dumps(clean, allow_nan=False, separators=(",", ":"))


class Connection:
    """One tab: its WebSocket, its Session, and the task that trains while it runs."""

    def __init__(self, ws: WebSocket, engine: Engine, limits: Limits, frame_seconds: float) -> None:
        self.ws = ws
        self.engine = engine
        self.limits = limits
        self.frame_seconds = frame_seconds
        self.session: Session | None = None
        self._send_lock = asyncio.Lock()
        self._unacked = 0
        self._acked = asyncio.Event()
        self._trainer: asyncio.Task | None = None

    # ----- sending -----
    async def send(self, *msgs: dict[str, Any]) -> None:
        async with self._send_lock:
            for msg in msgs:
                if msg.get("type") == "frame":
                    self._unacked += 1
                await self.ws.send_text(_json(msg))

    async def error(self, message: str, field: str | None = None) -> None:
        await self.send({"type": "error", "message": message, "field": field})

    def _state(self) -> dict[str, Any]:
        s = self.session
        return {"type": "state", "running": s.running, "step": s.step}

    def _config(self) -> dict[str, Any]:
        return {"type": "config", "config": self.session.config.to_dict()}

    # ----- the conversation -----
    async def serve(self) -> None:
        self.session = await self.engine.run(Session, None, self.limits)
        hello = {
            "type": "hello",
            "limits": self.limits.to_dict(),
            "defaults": Config().to_dict(),
            "choices": {
                "dataset": list(DATASETS),
                "activation": list(ACTIVATIONS),
                "loss": list(LOSSES),
                "optimizer": list(OPTIMIZERS),
            },
            "presets": PRESETS,
        }
        first = await self.engine.run(lambda: [self.session.points(), self.session.frame()])
        await self.send(hello, self._config(), *first, self._state())
        try:
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None:
                    await self.error("messages must be JSON text, not binary data")
                    continue
                await self.handle(text)
        finally:
            self.session.running = False
            if self._trainer is not None:
                self._trainer.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._trainer

    async def handle(self, text: str) -> None:
        """Answer one message from the page; every failure becomes an ``error`` message."""
        if len(text.encode("utf-8")) > self.limits.max_message_bytes:
            await self.error(
                f"message too long: {len(text):,} characters; the limit is "
                f"{self.limits.max_message_bytes:,} bytes"
            )
            return
        try:
            msg = json.loads(text)
        except ValueError as e:
            await self.error(f"could not read the message: it is not JSON ({e})")
            return
        kind = msg.get("type") if isinstance(msg, dict) else None
        handler = getattr(self, f"_on_{kind}", None) if isinstance(kind, str) else None
        if handler is None:
            await self.error(
                f'unknown message type {kind!r}; expected an object with "type" one of '
                "config, preset, start, pause, step, reset, add_point, explain, ack"
            )
            return
        try:
            await handler(msg)
        except SettingError as e:
            await self.error(str(e), e.field)
            await self.send(self._config())  # the page shows the settings still in force
        except TrainingStopped as e:
            await self.error(str(e))
            await self.send(self._state())
        except WebSocketDisconnect:  # the tab went away while we answered: nothing to log
            raise
        except Exception as e:  # the server keeps serving whatever one message did
            logger.exception("playground: message %r failed", kind)
            await self.error(f"internal error on {kind!r}: {type(e).__name__}: {e}")

    async def _apply(self, changes: Any) -> None:
        def work() -> list[dict[str, Any]]:
            changed = self.session.update(changes)
            out = [self._config()]
            if changed & DATA_FIELDS:
                out.append(self.session.points())
            out.append(self.session.frame())
            return out

        await self.send(*(await self.engine.run(work)))

    async def _on_config(self, msg: dict[str, Any]) -> None:
        await self._apply(msg.get("config"))

    async def _on_preset(self, msg: dict[str, Any]) -> None:
        name = msg.get("name")
        if not isinstance(name, str) or name not in PRESETS:
            raise SettingError(f"unknown preset {name!r}; expected one of {', '.join(PRESETS)}")
        await self._apply(PRESETS[name])

    async def _on_add_point(self, msg: dict[str, Any]) -> None:
        point = [msg.get("x"), msg.get("y"), msg.get("label")]
        await self._apply({"added": [*self.session.config.added, point]})

    async def _on_start(self, msg: dict[str, Any]) -> None:
        self.session.running = True
        await self.send(self._state())
        if self._trainer is None or self._trainer.done():
            self._trainer = asyncio.create_task(self._train())

    async def _on_pause(self, msg: dict[str, Any]) -> None:
        self.session.running = False
        await self.send(self._state())

    async def _on_step(self, msg: dict[str, Any]) -> None:
        n = msg.get("n", 1)
        top = self.limits.max_step_request
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= top:
            raise SettingError(f"step takes n, a whole number from 1 to {top}; got {n!r}", "n")
        self.session.running = False

        def work() -> dict[str, Any]:
            self.session.train(n)
            return self.session.frame()

        await self.send(self._state(), await self.engine.run(work))

    async def _on_reset(self, msg: dict[str, Any]) -> None:
        def work() -> dict[str, Any]:
            self.session.reset()
            return self.session.frame()

        await self.send(await self.engine.run(work), self._state())

    async def _on_explain(self, msg: dict[str, Any]) -> None:
        await self.send(await self.engine.run(self.session.explain, msg.get("index")))

    async def _on_ack(self, msg: dict[str, Any]) -> None:
        n = msg.get("n", 1)
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise SettingError(f"ack takes n, a whole number >= 0; got {n!r}", "n")
        self._unacked = max(0, self._unacked - n)
        self._acked.set()

    async def _train(self) -> None:
        """While the session runs: train for frame_seconds, send a frame, and again."""

        def work() -> dict[str, Any]:
            self.session.train_for(self.frame_seconds, MAX_STEPS_PER_FRAME)
            return self.session.frame()

        try:
            while self.session.running:
                while self._unacked >= MAX_UNACKED and self.session.running:
                    self._acked.clear()
                    await self._acked.wait()
                if not self.session.running:
                    break
                await self.send(await self.engine.run(work))
        except TrainingStopped as e:
            await self.error(str(e))
            await self.send(await self.engine.run(self.session.frame), self._state())
        except (WebSocketDisconnect, RuntimeError):  # the tab went away mid-send
            self.session.running = False
        except Exception as e:
            logger.exception("playground: training failed")
            self.session.running = False
            await self.error(f"internal error while training: {type(e).__name__}: {e}")
            await self.send(self._state())


def create_app(
    limits: Limits | None = None,
    *,
    allowed_hosts: list[str] | None = None,
    frame_seconds: float = FRAME_SECONDS,
    on_startup: Callable[[], None] | None = None,
) -> Starlette:
    """The playground as an ASGI app: the page at ``/``, its files at ``/static``, ``/ws``.

    Args:
        limits: what one page may ask for (default ``Limits()``).
        allowed_hosts: the Host names requests may carry (default: loopback names only, which
            keeps other web sites from reaching the server through DNS rebinding); ``["*"]``
            for any.
        frame_seconds: training time between two frames.
        on_startup: called once the server has started (and handles Ctrl-C itself).

    Returns:
        A Starlette app; serve it with uvicorn (``serve`` does).

    Example:
        >>> from starlette.testclient import TestClient
        >>> TestClient(create_app(allowed_hosts=["testserver"])).get("/").status_code
        200
    """
    limits = limits or Limits()
    engine = Engine()
    open_sessions = [0]

    async def index(request: Request) -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=_SECURITY_HEADERS)

    async def info(request: Request) -> JSONResponse:
        return JSONResponse(
            {"sessions": open_sessions[0], "limits": limits.to_dict()}, headers=_SECURITY_HEADERS
        )

    async def websocket(ws: WebSocket) -> None:
        origin = ws.headers.get("origin")
        if origin is not None and urlsplit(origin).netloc != ws.headers.get("host"):
            await ws.close(code=1008, reason="cross-origin connections are refused")
            return
        await ws.accept()
        if open_sessions[0] >= limits.max_sessions:
            await ws.send_text(
                _json(
                    {
                        "type": "error",
                        "message": f"the server already serves {limits.max_sessions} pages, "
                        "its limit; close another playground tab and reload this one",
                    }
                )
            )
            await ws.close(code=1013)
            return
        open_sessions[0] += 1
        try:
            await Connection(ws, engine, limits, frame_seconds).serve()
        except WebSocketDisconnect:
            pass
        finally:
            open_sessions[0] -= 1

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        if on_startup is not None:
            on_startup()
        yield
        engine.close()

    hosts = allowed_hosts if allowed_hosts is not None else LOOPBACK_HOSTS
    return Starlette(
        routes=[
            Route("/", index),
            Route("/info", info),
            WebSocketRoute("/ws", websocket),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=[Middleware(HostCheck, allowed=hosts)],
        lifespan=lifespan,
    )
