"""The fast request path keeps its promises over a real socket: deadlines and shared reads."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc
import attrs
import httpx
import pytest

from planner_async import APITimeoutError, PlannerClient
from planner_async.testing import FakePlanner

from support import NO_WAIT, event_json

pytestmark = pytest.mark.backends("asyncio", "trio")

_LOGIN = json.dumps(
    {"userId": 1, "productId": 2, "email": "d@example.com", "token": "t", "refreshToken": "r"}
).encode()


async def _answer(stream: anyio.abc.ByteStream, body: bytes, gap: float, chunk: int) -> None:
    """Read one request; answer it with ``body`` (declared length), ``chunk`` bytes a ``gap``."""
    request = b""
    while b"\r\n\r\n" not in request:
        request += await stream.receive()
    if request.startswith(b"POST"):
        length = int(request.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        while len(request.split(b"\r\n\r\n", 1)[1]) < length:
            request += await stream.receive()
        body, gap = _LOGIN, 0.0
    head = (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    if not gap:
        await stream.send(head.encode() + body)
        return
    await stream.send(head.encode())
    for start in range(0, len(body), chunk):
        await anyio.sleep(gap)
        await stream.send(body[start : start + chunk])


@asynccontextmanager
async def _server(body: bytes, gap: float, chunk: int = 1) -> AsyncIterator[str]:
    """A real HTTP/1.1 server on 127.0.0.1 whose event answers trickle every ``gap`` s."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)

    async def serve(stream: anyio.abc.ByteStream) -> None:
        async with stream:
            try:
                while True:
                    await _answer(stream, body, gap, chunk)
            except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
                pass

    async with anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, serve)
        yield f"http://127.0.0.1:{port}"
        tg.cancel_scope.cancel()


def _client(base_url: str, **kwargs: Any) -> PlannerClient:
    return PlannerClient(
        "demo",
        "key-123",
        base_url=base_url,
        retry=NO_WAIT,
        rate_limits=[],
        auth_rate_limits=[],
        **kwargs,
    )


async def test_a_body_trickling_over_a_socket_is_cut_off_at_the_timeout(anyio_backend: Any) -> None:
    """Over real TCP (httpcore's own cancel scopes inside the read), a body of declared
    length that trickles is cut off at the read timeout, not when it ends."""
    body = json.dumps(event_json(1)).encode()
    async with _server(body, gap=0.05) as url, _client(url, timeout=0.3, max_retries=0) as client:
        await client.authenticate()
        started = time.monotonic()
        with pytest.raises(APITimeoutError):
            await client.events.get(1)
        elapsed = time.monotonic() - started
    assert 0.25 <= elapsed <= 0.6


async def test_a_body_sent_at_once_over_a_socket_is_read_whole(anyio_backend: Any) -> None:
    """Over real TCP, an answer sent in one piece is read and structured (twice in a row)."""
    body = json.dumps(event_json(7)).encode()
    async with _server(body, gap=0.0) as url, _client(url, timeout=5) as client:
        assert 7 == (await client.events.get(7)).id
        assert 7 == (await client.events.get(7)).id


async def test_a_slow_body_within_the_timeout_is_read_whole(anyio_backend: Any) -> None:
    """A body that has to be waited for, but arrives in time, is read whole."""
    body = json.dumps(event_json(3)).encode()
    chunk = len(body) // 4 + 1
    async with _server(body, gap=0.01, chunk=chunk) as url, _client(url, timeout=5) as client:
        assert 3 == (await client.events.get(3)).id


# -- shared reads ---------------------------------------------------------------------------


def _fake(latency: float) -> FakePlanner:
    fake = FakePlanner(events=20, seed=3, rate_limits=[], auth_rate_limits=[])
    fake.faults = attrs.evolve(fake.faults, latency=latency)
    return fake


def _fake_client(fake: FakePlanner) -> PlannerClient:
    http = httpx.AsyncClient(transport=fake.transport())
    return PlannerClient(
        "demo", "demo-key", base_url=fake.base_url, http_client=http, rate_limits=[]
    )


@pytest.mark.backends("asyncio")
async def test_a_shared_read_is_called_off_when_every_caller_has_left(anyio_backend: Any) -> None:
    """Two identical gets that both give up leave no request running for nobody."""
    fake = _fake(latency=0.0)
    async with _fake_client(fake) as client:
        await client.authenticate()
        fake.faults = attrs.evolve(fake.faults, latency=0.3)
        event_id = fake.visible_ids()[0]

        async def impatient() -> None:
            with anyio.move_on_after(0.05):
                await client.events.get(event_id)

        async with anyio.create_task_group() as tg:
            tg.start_soon(impatient)
            tg.start_soon(impatient)
        await anyio.sleep(0.4)  # the request would have been answered by now
        assert 1 == client.stats.coalesced
    assert 0 == fake.stats.count("events.get", 200)


@pytest.mark.backends("asyncio")
async def test_sequential_reads_leave_no_task_behind(anyio_backend: Any) -> None:
    """Each get's shared flight ends with it: no task outlives the calls."""
    fake = _fake(latency=0.0)
    async with _fake_client(fake) as client:
        await client.authenticate()
        before = len(asyncio.all_tasks())
        for event_id in fake.visible_ids()[:5]:
            assert event_id == (await client.events.get(event_id)).id
        assert before == len(asyncio.all_tasks())
