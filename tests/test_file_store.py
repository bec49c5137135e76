"""FileTokenStore: 0600 files written atomically, corrupt files, the lock, CLI-style reuse."""

from __future__ import annotations

import logging
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import anyio
import httpx
import pytest

from planner_async import (
    FileTokenStore,
    PlannerClient,
    Session,
    StoreUnavailableError,
    TokenState,
)
from planner_async.testing import FakePlanner

pytestmark = [pytest.mark.anyio, pytest.mark.backends("asyncio", "trio")]

SESSION = Session(
    user_id=1, product_id=None, email=None, expires_at=datetime(2030, 1, 1, tzinfo=UTC)
)
STATE = TokenState("access-abcdefgh", "refresh-abcdefgh", 2_000_000_000.0, SESSION)


async def test_saves_are_private_atomic_and_compare_and_set(tmp_path: Path) -> None:
    """The file is 0600 in a 0700 directory, leaves no temp files, and refuses stale saves."""
    path = tmp_path / "private" / "session.json"
    store = FileTokenStore(path)
    first = await store.save(STATE, expected=0)
    stale = await store.save(STATE, expected=0)
    loaded = await store.load()
    await store.clear(expected=1)
    cleared = await store.load()
    assert first is not None
    assert stale is None
    assert loaded.state == STATE
    assert loaded.generation == 1
    assert (cleared.state, cleared.generation) == (None, 2)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert sorted(p.name for p in path.parent.iterdir()) == ["session.json"]


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"[]", b'{"generation": -1, "state": null}', b'{"generation": 2, "state": {}}'],
)
async def test_corrupt_files_count_as_empty_with_a_warning(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """A corrupt file is ignored (logged without its content) and the next save fixes it."""
    path = tmp_path / "session.json"
    path.write_bytes(content)
    path.chmod(0o600)
    store = FileTokenStore(path)
    with caplog.at_level(logging.WARNING, logger="planner_async"):
        stored = await store.load()
    assert (stored.state, stored.generation) == (None, 0)
    assert "corrupt" in caplog.text
    assert await store.save(STATE, expected=0) is not None
    assert (await store.load()).state == STATE


async def test_unreadable_and_loose_files_are_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A path that cannot be read is empty; a file others can read is used but warned about."""
    blocked = tmp_path / "dir-not-file"
    blocked.mkdir()
    loose = tmp_path / "loose.json"
    await FileTokenStore(loose).save(STATE, expected=0)
    loose.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="planner_async"):
        assert (await FileTokenStore(blocked).load()).state is None
        assert (await FileTokenStore(loose).load()).state == STATE
    assert "unreadable" in caplog.text
    assert "other users" in caplog.text
    assert "access-abcdefgh" not in caplog.text


@pytest.mark.backends("trio-virtual")  # the lock is polled on anyio's clock: virtual here
async def test_the_lease_excludes_and_times_out(tmp_path: Path, anyio_backend: object) -> None:
    """A second holder waits for the lock; one that cannot get it in time gets a clear error."""
    store = FileTokenStore(tmp_path / "s.json", poll=0.01)
    order: list[str] = []
    a_in = anyio.Event()

    async def hold(name: str) -> None:
        async with store.lease(5.0):
            order.append(f"{name}+")
            a_in.set()
            await anyio.sleep(0.05)
            order.append(f"{name}-")

    async with anyio.create_task_group() as group:
        group.start_soon(hold, "a")
        await a_in.wait()
        group.start_soon(hold, "b")
    async with store.lease(1.0):
        start = anyio.current_time()
        with pytest.raises(StoreUnavailableError, match="lease"):
            async with store.lease(0.05):
                pass
        assert pytest.approx(0.05, abs=1e-9) == anyio.current_time() - start  # at its timeout
    assert order == ["a+", "a-", "b+", "b-"]


async def test_a_second_run_reuses_the_session(tmp_path: Path) -> None:
    """Two clients one after the other (two CLI runs) share one login through the file."""
    fake = FakePlanner(events=10, restricted_share=0)
    store = FileTokenStore(tmp_path / "session.json")
    for _ in range(2):
        http = httpx.AsyncClient(transport=fake.transport())
        async with PlannerClient(
            "demo", "demo-key", base_url=fake.base_url, http_client=http, token_store=store
        ) as client:
            await client.events.get(fake.visible_ids()[0])
        await http.aclose()
    assert fake.stats.logins == 1
    assert fake.stats.count("events.get", 200) == 2
    assert os.stat(store.path).st_size > 0
