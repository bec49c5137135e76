"""Hostile token stores (issue 16, items 6-7): a state in the session file or in Redis that
fails a login's checks, or is garbage, counts as unreadable: the client logs in again,
overwrites it and logs one warning; no bare builtin, no token in an exception or a log."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis_support import redis_client, unique_prefix

from planner_async import FileTokenStore, PlannerClient, RedisTokenStore, Session, TokenStore
from planner_async._redis._keys import token_key
from planner_async.testing import FakePlanner

pytestmark = [pytest.mark.anyio, pytest.mark.backends("asyncio")]

SECRET = "SeCrEt"
SESSION = Session(
    user_id=1, product_id=None, email=None, expires_at=datetime(2030, 1, 1, tzinfo=UTC)
).to_dict()
DEEP = b"[" * 100_000 + b"]" * 100_000


def _state(**changes: Any) -> dict[str, Any]:
    state = {
        "access": f"access-{SECRET}",
        "refresh": f"refresh-{SECRET}",
        "expiresAt": 4_000_000_000.0,
        "issuedAt": 1_700_000_000.0,
        "session": SESSION,
    }
    return {**state, **changes}


def _document(state: Any, generation: Any = 3) -> bytes:
    return json.dumps({"format": 1, "generation": generation, "state": state}).encode()


# What each bad case stores: (session file bytes, Redis (gen, data)).
CASES: dict[str, tuple[bytes, tuple[Any, bytes]]] = {
    name: (_document(state), (3, json.dumps(state).encode()))
    for name, state in {
        "non-ascii access": _state(access=f"tokén-{SECRET}"),
        "CR/LF access": _state(access=f"tok\r\nX-Evil: {SECRET}"),
        "NUL access": _state(access=f"tok\x00{SECRET}"),
        "100,000-character access": _state(access=SECRET * 20_000),
        "space in refresh": _state(refresh=f"re fresh-{SECRET}"),
        "infinite expiresAt": _state(expiresAt=float("inf")),
        "expiresAt a string": _state(expiresAt="soon"),
        "state a list": [SECRET],
    }.items()
}
CASES["generation abc"] = (_document(_state(), "abc"), ("abc", json.dumps(_state()).encode()))
CASES["nested 100,000 deep"] = (b'{"generation": 3, "state": ' + DEEP + b"}", (3, DEEP))


StoreMaker = Callable[[bytes, tuple[Any, bytes]], Any]


@asynccontextmanager
async def _file_store(tmp_path: Path, raw: bytes) -> AsyncIterator[TokenStore]:
    path = tmp_path / "session.json"
    path.write_bytes(raw)
    path.chmod(0o600)
    yield FileTokenStore(path)


@asynccontextmanager
async def _redis_store(gen: Any, data: bytes) -> AsyncIterator[TokenStore]:
    prefix = unique_prefix("badtok")
    async with redis_client(prefix=prefix) as redis:
        await redis.hset(token_key(prefix), mapping={"gen": gen, "data": data})
        yield RedisTokenStore(redis, prefix)


def _store(kind: str, case: str, tmp_path: Path) -> Any:
    raw, (gen, data) = CASES[case]
    return _file_store(tmp_path, raw) if kind == "file" else _redis_store(gen, data)


@pytest.mark.parametrize("kind", ["file", "redis"])
@pytest.mark.parametrize("case", sorted(CASES))
async def test_an_unusable_stored_state_means_a_fresh_login(
    kind: str, case: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The call succeeds after one login, the store is overwritten, one warning is logged."""
    caplog.set_level(logging.DEBUG, "planner_async")
    fake = FakePlanner(events=5, restricted_share=0)
    async with _store(kind, case, tmp_path) as store:
        client = PlannerClient(
            "demo",
            "demo-key",
            base_url=fake.base_url,
            http_client=httpx.AsyncClient(transport=fake.transport()),
            token_store=store,
        )
        async with client:
            await client.events.get(fake.visible_ids()[0])
            await client.events.get(fake.visible_ids()[1])
        stored = await store.load()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert 1 == fake.stats.logins
    assert stored.state is not None
    assert SECRET not in stored.state.access
    assert ["unusable"] == [w for r in warnings for w in ["unusable"] if w in r.getMessage()]
    assert 1 == len(warnings)
    assert SECRET not in caplog.text
    assert "tok" not in caplog.text.replace("token", "")


@pytest.mark.parametrize("kind", ["file", "redis"])
@pytest.mark.parametrize("case", sorted(CASES))
async def test_loading_an_unusable_state_raises_nothing(
    kind: str, case: str, tmp_path: Path
) -> None:
    """``load()`` of any bad state gives no state (and a generation to overwrite), never raises."""
    async with _store(kind, case, tmp_path) as store:
        loaded = await store.load()
    assert loaded.state is None
    assert loaded.generation >= 0


async def test_a_good_stored_state_is_adopted_without_a_login(tmp_path: Path) -> None:
    """The control: a stored state that passes the checks is used as it is."""
    fake = FakePlanner(events=5, restricted_share=0)
    path = tmp_path / "session.json"
    async with PlannerClient(
        "demo",
        "demo-key",
        base_url=fake.base_url,
        http_client=httpx.AsyncClient(transport=fake.transport()),
        token_store=FileTokenStore(path),
    ) as first:
        await first.events.get(fake.visible_ids()[0])
    async with PlannerClient(
        "demo",
        "demo-key",
        base_url=fake.base_url,
        http_client=httpx.AsyncClient(transport=fake.transport()),
        token_store=FileTokenStore(path),
    ) as second:
        await second.events.get(fake.visible_ids()[0])
    assert 1 == fake.stats.logins
