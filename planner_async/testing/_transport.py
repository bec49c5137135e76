"""An in-process httpx transport over the fake app that turns drops into transport errors."""

from __future__ import annotations

import httpx

from ._http import ASGIApp, ConnectionDropped

__all__ = ["DroppingASGITransport"]


class DroppingASGITransport(httpx.AsyncBaseTransport):
    """``httpx.ASGITransport`` over a fake app (a :class:`FakePlanner`); drops are errors.

    A dropped connection surfaces as ``httpx.RemoteProtocolError`` ("Server disconnected
    without sending a response."), as httpx reports it over a real socket.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._inner = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` to the app in-process."""
        try:
            return await self._inner.handle_async_request(request)
        except ConnectionDropped:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from None

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self._inner.aclose()
