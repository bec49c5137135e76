"""Serving the fake app over a real loopback socket with uvicorn (asyncio only)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import anyio

from ._http import ASGIApp, ConnectionDropped, Receive, Scope, Send

__all__ = ["serve"]


def _import_uvicorn() -> Any:
    try:
        import uvicorn
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "FakePlanner.serve() needs uvicorn: pip install planner-async[server]"
        ) from exc
    return uvicorn


class _DroppingApp:
    """Wraps the fake so that a drop closes the socket with no HTTP answer at all.

    uvicorn answers 500 when an app fails before starting its response, so the wrapper
    closes the connection's transport itself (reached through the uvicorn ``send``
    callable's cycle) and waits until uvicorn has noticed the disconnect; uvicorn then
    sends nothing. Should that internal ever move, the fallback starts a response with a
    ``Content-Length`` it never fulfils, which uvicorn also ends by closing the socket.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except ConnectionDropped:
            if not await _close_socket(send):
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [(b"content-length", b"1024"), (b"connection", b"close")],
                    }
                )


async def _close_socket(send: Send) -> bool:
    """Close the connection under uvicorn's ``send``; True once uvicorn has noticed."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if cycle is None or transport is None or not hasattr(cycle, "disconnected"):
        return False
    transport.close()
    for _ in range(100):
        if cycle.disconnected:
            return True
        await anyio.sleep(0.001)
    return False


@contextlib.asynccontextmanager
async def serve(app: ASGIApp, *, host: str, port: int) -> AsyncIterator[str]:
    """Run ``app`` under uvicorn on ``host:port`` (0: any free port); yield the base URL."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        raise RuntimeError("FakePlanner.serve() runs uvicorn, which needs asyncio") from None
    uvicorn = _import_uvicorn()

    config = uvicorn.Config(
        _DroppingApp(app),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        http="h11",
        ws="none",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    # Leave the process's signal handlers alone (uvicorn >= 0.29 and older).
    server.capture_signals = contextlib.nullcontext
    server.install_signal_handlers = lambda: None
    failure: list[BaseException] = []

    async def run() -> None:
        try:
            await server.serve()
        except SystemExit as exc:  # uvicorn exits the process when it cannot bind
            failure.append(OSError(f"uvicorn could not start on {host}:{port} ({exc})"))

    async with anyio.create_task_group() as group:
        group.start_soon(run)
        while not server.started:
            if failure:
                raise failure[0]
            await anyio.sleep(0.005)
        try:
            bound = server.servers[0].sockets[0].getsockname()
            shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
            yield f"http://{shown}:{bound[1]}"
        finally:
            server.should_exit = True
