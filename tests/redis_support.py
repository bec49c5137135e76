"""Helpers for the tests that need a real Redis: a throwaway ``redis-server`` of their own.

By default the first test that needs Redis starts one ``redis-server`` for this pytest
process (a free loopback port, a temporary directory, no persistence:
``--save "" --appendonly no``), stopped when the process exits; no other server is ever
touched, and that one may be flushed freely. ``PLANNER_TEST_REDIS_URL`` points the tests
at a given server instead (they then use unique key prefixes, delete their keys at exit,
and skip the tests that flush, stop or restart a server). Without ``redis-server`` the
Redis tests skip, or fail with ``PLANNER_REQUIRE_REDIS=1`` (set by ``.ci/run``).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from redis.asyncio import Redis

ENV_URL = "PLANNER_TEST_REDIS_URL"
"""The environment variable naming a given Redis for the tests (else they start their own)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the server gets SIGTERM if the test process dies without cleaning up."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _pings(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout) as s:
            s.settimeout(timeout)
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A ``redis-server`` of the tests' own: loopback, free port, temp dir, no persistence."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="planner-test-redis-"))
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Start the server (on a new free port the first time) and wait until it answers."""
        for _ in range(5):
            port = self.port or _free_port()
            self._proc = subprocess.Popen(
                [
                    *("redis-server", "--port", str(port), "--bind", "127.0.0.1"),
                    *("--save", "", "--appendonly", "no", "--dir", str(self.dir)),
                    *("--logfile", str(self.dir / "redis.log"), "--daemonize", "no"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
            )
            deadline = time.monotonic() + 10.0
            while time.monotonic() < deadline and self._proc.poll() is None:
                if _pings(port):
                    self.port = port
                    return self
                time.sleep(0.02)
            self._kill()
        raise RuntimeError(f"redis-server did not start (see {self.dir / 'redis.log'})")

    def restart(self) -> None:
        """Kill the server and start it again on the same port, with no data."""
        self._kill()
        self.start()

    def pause(self) -> None:
        """SIGSTOP: connections are accepted by the kernel but nothing answers."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Stop the server and remove its directory."""
        self._kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGCONT)  # a paused server cannot act on SIGTERM
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


_shared: RedisServer | None = None
_failure: str | None = None
_prefixes: list[str] = []


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("PLANNER_REQUIRE_REDIS") == "1":
        pytest.fail(f"{reason} and PLANNER_REQUIRE_REDIS=1")
    pytest.skip(reason)


def _shared_server() -> RedisServer:
    """The process's throwaway server, started on first use and stopped at exit."""
    global _shared, _failure
    if _shared is None and _failure is None:
        if shutil.which("redis-server") is None:
            _failure = "redis-server is not installed"
        else:
            server = RedisServer()
            try:
                _shared = server.start()
            except (OSError, RuntimeError) as exc:
                server.stop()
                _failure = f"could not start redis-server: {exc}"
            else:
                atexit.register(server.stop)
    if _shared is None:
        _skip_or_fail(_failure or "no redis-server")
    assert _shared is not None
    return _shared


def redis_url() -> str:
    """The Redis URL of the tests: ``PLANNER_TEST_REDIS_URL`` or the throwaway server's.

    Skips the calling test when there is none (fails with ``PLANNER_REQUIRE_REDIS=1``).
    """
    given = os.environ.get(ENV_URL)
    if given:
        return given
    return _shared_server().url


def need_redis() -> None:
    """Skip the calling test when no Redis is available (fail with PLANNER_REQUIRE_REDIS=1)."""
    redis_url()


def own_server() -> RedisServer:
    """The throwaway server, for tests that flush or disturb it (skip with a given server)."""
    if os.environ.get(ENV_URL):
        pytest.skip(f"this test disturbs its server: not run against {ENV_URL}")
    return _shared_server()


@contextlib.contextmanager
def private_server() -> Iterator[RedisServer]:
    """A second throwaway server of the calling test alone (to stop, pause or restart)."""
    if shutil.which("redis-server") is None:
        _skip_or_fail("redis-server is not installed")
    server = RedisServer()
    try:
        yield server.start()
    finally:
        server.stop()


def unique_prefix(name: str) -> str:
    """A key prefix no other test (or run) uses; its keys are deleted at exit."""
    prefix = f"test:{name}:{uuid.uuid4().hex[:10]}"
    _prefixes.append(prefix)
    return prefix


def _delete_test_keys() -> None:
    """With a given server: delete every key holding a prefix these tests handed out."""
    given = os.environ.get(ENV_URL)
    if not given or not _prefixes:
        return
    import redis

    client = redis.Redis.from_url(given, socket_timeout=5.0)
    try:
        for prefix in _prefixes:
            keys = list(client.scan_iter(f"*{prefix}*", count=1000))
            if keys:
                client.delete(*keys)
    except redis.RedisError:
        pass
    finally:
        client.close()


atexit.register(_delete_test_keys)


@asynccontextmanager
async def redis_client(
    url: str | None = None, *, prefix: str | None = None
) -> AsyncIterator[Redis]:
    """A Redis client; on exit, the keys holding ``prefix`` are deleted and it is closed."""
    client = Redis.from_url(url or redis_url())
    try:
        yield client
    finally:
        if prefix is not None:
            keys = [k async for k in client.scan_iter(f"*{prefix}*")]
            if keys:
                await client.delete(*keys)
        await client.aclose()
