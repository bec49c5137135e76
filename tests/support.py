"""Helpers shared by the test modules (imported as ``support``)."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import httpx
import respx

from planner_async import PlannerClient, RetryPolicy

#: Retry waits of zero: tests check that retries happen, not that they sleep.
NO_WAIT = RetryPolicy(wait_initial=0.0, wait_max=0.0)

ClientFactory = Callable[..., PlannerClient]


class GatedTransport(httpx.AsyncBaseTransport):
    """Holds requests to one path until the test opens the gate; others pass straight on."""

    def __init__(self, inner: httpx.AsyncBaseTransport, path: str) -> None:
        self.inner = inner
        self.path = path
        self.entered = anyio.Event()
        self.gate = anyio.Event()
        self.seen: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if request.url.path == self.path and not self.gate.is_set():
            self.entered.set()
            await self.gate.wait()
        return await self.inner.handle_async_request(request)


BASE = "https://planner.test"


def jwt(exp: float, sub: str = "demo") -> str:
    """A JWT-shaped token whose ``exp`` claim is ``exp`` (unsigned: the client never checks)."""
    import base64
    import json

    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part({'sub': sub, 'exp': exp})}.sig"


def mocked_api(**kwargs: object) -> tuple[respx.MockRouter, httpx.AsyncClient]:
    """A respx router with a working ``/auth`` route, and an httpx client that uses it."""
    import time

    router = respx.MockRouter(base_url=f"{BASE}/api/v2", assert_all_called=False)
    router.post("/auth", name="auth").mock(
        side_effect=lambda request: httpx.Response(
            200,
            json={
                "userId": 1,
                "productId": 2,
                "email": "demo@example.com",
                "token": jwt(time.time() + 900),
                "refreshToken": "refresh-1",
            },
        )
    )
    http = httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler))
    return router, http


def event_json(event_id: int, **fields: object) -> dict[str, object]:
    """A minimal wire event."""
    return {"id": event_id, "title": f"Event {event_id}", **fields}
