"""Helpers for the tests that need a real Redis: find it, skip (or fail) without it.

``REDIS_URL`` (default ``redis://127.0.0.1:6379/0``) names the server; with
``PLANNER_REQUIRE_REDIS=1`` (set by ``.ci/run``) a missing server fails the tests
instead of skipping them. Every test uses its own key prefix, so tests never collide.
"""

from __future__ import annotations

import functools
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlparse

import pytest
from redis.asyncio import Redis

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


@functools.cache
def _answers() -> bool:
    url = urlparse(REDIS_URL)
    try:
        with socket.create_connection((url.hostname or "127.0.0.1", url.port or 6379), 1.0) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def need_redis() -> None:
    """Skip the calling test when no Redis answers (fail with PLANNER_REQUIRE_REDIS=1)."""
    if _answers():
        return
    if os.environ.get("PLANNER_REQUIRE_REDIS") == "1":
        pytest.fail(f"no Redis answers at {REDIS_URL} and PLANNER_REQUIRE_REDIS=1")
    pytest.skip(f"no Redis answers at {REDIS_URL}")


def url_for_db(db: int) -> str:
    """``REDIS_URL`` with another database number."""
    url = urlparse(REDIS_URL)
    return url._replace(path=f"/{db}").geturl()


def unique_prefix(name: str) -> str:
    """A key prefix no other test (or run) uses."""
    return f"test:{name}:{uuid.uuid4().hex[:10]}"


@asynccontextmanager
async def redis_client(url: str = REDIS_URL, *, prefix: str | None = None) -> AsyncIterator[Redis]:
    """A Redis client; on exit, the keys under ``prefix`` are deleted and it is closed."""
    need_redis()
    client = Redis.from_url(url)
    try:
        yield client
    finally:
        if prefix is not None:
            keys = [k async for k in client.scan_iter(f"{prefix}*")]
            if keys:
                await client.delete(*keys)
        await client.aclose()
