"""Helpers shared by the test modules (imported as ``support``)."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable, Mapping

import anyio
import httpx
import pytest
import respx

from planner_async import PlannerClient, RetryPolicy
from planner_async._cli import main
from planner_async.testing import FakePlanner

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


_NO_EXP = object()


def jwt(
    exp: object = _NO_EXP,
    sub: str = "demo",
    *,
    payload: bytes | None = None,
    header: Mapping[str, object] | None = None,
    signature: str = "sig",
    **claims: object,
) -> str:
    """The tests' one JWT builder: ``header.payload.signature``, unsigned (the client never
    checks a signature).

    The claims are ``sub``, ``exp`` (any JSON value, even a non-standard one; left out when
    not given) and ``claims``; ``payload`` replaces the whole claims segment with raw bytes
    (for malformed ones). The header defaults to ``{"alg": "none"}``.
    """
    if payload is None:
        body: dict[str, object] = {"sub": sub, **claims}
        if exp is not _NO_EXP:
            body["exp"] = exp
        payload = json.dumps(body).encode()
    head = json.dumps({"alg": "none"} if header is None else dict(header)).encode()
    return f"{_b64(head)}.{_b64(payload)}.{signature}"


def _b64(data: bytes) -> str:
    """Unpadded base64url, as in a JWT."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


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


def run_cli(argv: list[str], err: io.StringIO | None = None) -> tuple[int, str, str]:
    """Run ``planner-async argv`` in-process; return (exit code, stdout, stderr)."""
    out, errors = io.StringIO(), err if err is not None else io.StringIO()
    code = main(argv, out=out, err=errors)
    return code, out.getvalue(), errors.getvalue()


async def run_cli_served(
    fake: FakePlanner, argv: list[str], monkeypatch: pytest.MonkeyPatch, api_key: str = "demo-key"
) -> tuple[int, str, str]:
    """Serve ``fake`` on loopback and run ``planner-async argv`` (in a thread) against it,
    with the credentials in the environment."""
    async with fake.serve() as base_url:
        monkeypatch.setenv("PLANNER_USERNAME", "demo")
        monkeypatch.setenv("PLANNER_API_KEY", api_key)
        monkeypatch.setenv("PLANNER_BASE_URL", base_url)
        return await anyio.to_thread.run_sync(run_cli, argv)
