"""Redis Cluster (issue 14 item 5): ``redis_url="redis+cluster://host:port"``.

The module starts its own 3-master cluster (three ``redis-server --cluster-enabled yes``
on free loopback ports, joined with ``redis-cli --cluster create``) and stops it at the
end. Without ``redis-server``/``redis-cli`` the tests skip (fail with
``PLANNER_REQUIRE_REDIS=1``).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from redis.asyncio.cluster import RedisCluster

from planner_async import (
    Outcome,
    PlannerClient,
    RateHeaders,
    RedisQuotaStore,
    RedisTokenStore,
    Session,
    StoreUnavailableError,
    TokenState,
)
from planner_async._redis import _cluster, connect
from planner_async.testing import FakePlanner

pytestmark = [pytest.mark.anyio, pytest.mark.backends("asyncio")]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the server gets SIGTERM if the test process dies without cleaning up."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ports(count: int) -> list[int]:
    """Free ports whose cluster bus ports (port + 10000) are free too."""
    found: list[int] = []
    while len(found) < count:
        port = random.randrange(20000, 30000)
        if port not in found and _free(port) and _free(port + 10000):
            found.append(port)
    return found


def _cli(*args: str, timeout: float = 30.0) -> str:
    done = subprocess.run(
        ["redis-cli", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    return done.stdout + done.stderr


class _Cluster:
    """Three masters on loopback, in a temporary directory, no persistence."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="planner-test-cluster-"))
        self.ports = _ports(3)
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> _Cluster:
        for port in self.ports:
            self.procs.append(self._server(port))
        for port in self.ports:
            self._wait(lambda p=port: "PONG" in _cli("-p", str(p), "ping", timeout=2), port)
        nodes = [f"127.0.0.1:{port}" for port in self.ports]
        out = _cli("--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes")
        if "All 16384 slots covered" not in out:
            raise RuntimeError(f"redis-cli --cluster create failed: {out[-500:]}")
        for port in self.ports:
            self._wait(lambda p=port: "cluster_state:ok" in _cli("-p", str(p), "cluster", "info"))
        return self

    def _server(self, port: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                *("redis-server", "--port", str(port), "--bind", "127.0.0.1"),
                *("--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf"),
                *("--dir", str(self.dir), "--save", "", "--appendonly", "no"),
                *("--logfile", str(self.dir / f"redis-{port}.log")),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )

    @staticmethod
    def _wait(ready: Any, port: int = 0, limit: float = 20.0) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if ready():
                return
            time.sleep(0.05)
        raise RuntimeError(f"the cluster did not get ready (port {port})")

    @property
    def url(self) -> str:
        """``redis+cluster://`` naming one node (the client finds the others)."""
        return f"redis+cluster://127.0.0.1:{self.ports[0]}"

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster() -> Iterator[_Cluster]:
    """A 3-master Redis Cluster of this module's own, stopped at the end."""
    missing = [tool for tool in ("redis-server", "redis-cli") if shutil.which(tool) is None]
    if missing:
        reason = f"{' and '.join(missing)} not installed"
        if os.environ.get("PLANNER_REQUIRE_REDIS") == "1":
            pytest.fail(f"{reason} and PLANNER_REQUIRE_REDIS=1")
        pytest.skip(reason)
    started = _Cluster()
    try:
        yield started.start()
    finally:
        started.stop()


@asynccontextmanager
async def _client(url: str) -> AsyncIterator[RedisCluster]:
    redis = connect(url)
    assert isinstance(redis, RedisCluster)
    try:
        yield redis
    finally:
        await redis.aclose()


SESSION = Session(
    user_id=7, product_id=3, email="a@b.c", expires_at=datetime(2030, 1, 1, tzinfo=UTC)
)
STATE = TokenState("access-token-one", "refresh-token-one", 2_000_000_000.0, SESSION)


async def test_the_url_makes_a_cluster_client(cluster: _Cluster) -> None:
    """``redis+cluster://`` gives a ``RedisCluster`` that finds all three masters."""
    async with _client(cluster.url) as redis:
        await redis.initialize()
        primaries = sorted(node.port for node in redis.get_primaries())
    assert sorted(cluster.ports) == primaries


async def test_every_store_runs_its_scripts_within_one_slot(cluster: _Cluster) -> None:
    """Quota (with lanes and forecast) and token stores work; each account's keys share a slot."""
    async with _client(cluster.url) as redis:
        quota = RedisQuotaStore(redis, "acct-a", [(5, 60.0), (50, 3600.0)], recovery=0.0)
        auth = RedisQuotaStore(redis, "acct-a", [(2, 60.0)], role="auth", recovery=0.0)
        tokens = RedisTokenStore(redis, "acct-a", poll=0.01)
        other = RedisQuotaStore(redis, "acct-b", [(5, 60.0)], recovery=0.0)
        slot = (await quota.acquire()).slot
        await quota.observe(RateHeaders(limit=5, remaining=2, reset=None))
        await quota.release(slot, Outcome.COMPLETE)  # adopts the headers: 3 used
        batch = await quota.acquire(lane="batch")  # interactive seen: the reserve (1) stays
        wait = await quota.forecast(2)
        await auth.pause(1.0)
        await other.acquire()
        saved = await tokens.save(STATE, expected=0)
        async with tokens.lease(5.0):
            loaded = await tokens.load()
        status = await quota.status()
        slots = {
            prefix: {redis.keyslot(key) async for key in _keys(redis, f"{{{prefix}}}")}
            for prefix in ("acct-a", "acct-b")
        }
        await quota.aclose()
    assert batch.slot is not None
    assert 60.0 - 1 < wait <= 60.0
    assert saved is not None
    assert STATE == loaded.state
    assert 4 == status.windows[0].used
    assert 1 == len(slots["acct-a"])
    assert 1 == len(slots["acct-b"])


async def _keys(redis: RedisCluster, tag: str) -> AsyncIterator[bytes]:
    async for key in redis.scan_iter(match=f"planner:{tag}:*"):  # every primary
        yield key


class _OtherNode:
    """Stands in for ``random`` in the cluster module: picks a node not holding ``slot``."""

    def __init__(self, redis: RedisCluster, key: str) -> None:
        self.holder = redis.get_node_from_key(key)

    def choice(self, nodes: list[Any]) -> Any:
        return next(node for node in nodes if node.name != self.holder.name)


async def test_a_release_on_one_node_wakes_a_listener_on_another(
    cluster: _Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pub/sub wake-up crosses nodes: the listener sits on a node not holding the keys."""
    events = [anyio.Event()]
    async with _client(cluster.url) as redis, _client(cluster.url) as elsewhere:
        await redis.initialize()
        monkeypatch.setattr(_cluster, "random", _OtherNode(redis, "planner:{wake}:quota:seq"))
        waiting = RedisQuotaStore(redis, "wake", [(1, 60.0)], recovery=0.0)
        waiting.subscribe(lambda: events[-1].set())
        holder = RedisQuotaStore(elsewhere, "wake", [(1, 60.0)], recovery=0.0)
        slot = (await holder.acquire()).slot
        refused = await waiting.acquire()  # starts the listener; marks someone waiting
        with anyio.fail_after(5):
            await events[-1].wait()  # the listener wakes once when it has connected
        events.append(anyio.Event())
        await holder.release(slot, Outcome.DISCARD)
        with anyio.fail_after(5):
            await events[-1].wait()
        admitted = await waiting.acquire()
        await waiting.aclose()
        await holder.aclose()
    assert refused.slot is None
    assert admitted.slot is not None


async def test_two_clients_on_a_cluster_share_one_login_and_the_quota(cluster: _Cluster) -> None:
    """Two clients of one account through the cluster: one login, no 429, windows respected."""
    limits = [(10, 1.0)]
    fake = FakePlanner(events=50, rate_limits=limits, restricted_share=0)
    http = httpx.AsyncClient(transport=fake.transport())
    ids = fake.visible_ids()[:30]
    clients = [
        PlannerClient(
            "demo",
            "demo-key",
            base_url=fake.base_url,
            http_client=http,
            rate_limits=limits,
            redis_url=cluster.url,
        )
        for _ in range(2)
    ]

    async def fetch(client: PlannerClient, part: list[int]) -> None:
        for event_id in part:
            await client.events.get(event_id)

    async with clients[0], clients[1], anyio.create_task_group() as group:
        for i, client in enumerate(clients):
            for j in range(3):
                group.start_soon(fetch, client, ids[i * 15 + j * 5 : i * 15 + j * 5 + 5])
    await http.aclose()
    assert 1 == fake.stats.logins
    assert 0 == fake.stats.rate_limited
    assert 30 == fake.stats.count("events.get", 200)
    assert fake.stats.max_window_usage[(10, 1.0)] <= 10


async def test_an_unreachable_cluster_fails_closed() -> None:
    """No node answers: a typed error at the first call, nothing sent, the URL not shown."""
    fake = FakePlanner(events=5, restricted_share=0)
    http = httpx.AsyncClient(transport=fake.transport())
    client = PlannerClient(
        "demo",
        "demo-key",
        base_url=fake.base_url,
        http_client=http,
        redis_url="redis+cluster://:pw-secret@127.0.0.1:1",
    )
    async with client:
        with pytest.raises(StoreUnavailableError) as info:
            await client.events.get(fake.visible_ids()[0])
    await http.aclose()
    assert 0 == fake.stats.total_requests
    assert "pw-secret" not in str(info.value)
    assert "127.0.0.1:1" not in str(info.value)
