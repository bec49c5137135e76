"""The beds of the contract suites: the stores of one account, made and driven alike.

A :class:`QuotaBed` makes quota stores that all read one injected clock (``advance``
moves it); a :class:`TokenBed` makes handles on one token state and can leave a lease
behind as a holder that died would.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio

from planner_async import QuotaStore, RedisQuotaStore, TokenStore

START = 1_000_000.0


class QuotaBed:
    """Quota stores of one account on one injected clock; ``open`` makes a store."""

    def __init__(self, name: str, make: Callable[..., QuotaStore]) -> None:
        self.name = name
        self.now = START
        self._make = make
        self._stores: list[QuotaStore] = []

    @property
    def shared(self) -> bool:
        """True when two stores of this bed count one set of windows (another process)."""
        return self.name != "memory"

    def open(self, limits: Sequence[tuple[int, float]], **options: Any) -> QuotaStore:
        """A store of the bed's account with ``limits``."""
        store = self._make(limits, self, **options)
        self._stores.append(store)
        self._sync()
        return store

    def peer(self, store: QuotaStore, **options: Any) -> QuotaStore:
        """Another process's handle on ``store``'s windows (the same store when in memory)."""
        if not self.shared:
            return store
        return self.open(store.limits, **options)

    def advance(self, seconds: float) -> None:
        """Move every store's clock forward by ``seconds``."""
        self.now += seconds
        self._sync()

    def _sync(self) -> None:
        for store in self._stores:
            if isinstance(store, RedisQuotaStore):
                store._injected_now = self.now

    async def aclose(self) -> None:
        """Stop the pub/sub listeners the Redis stores started."""
        for store in self._stores:
            if isinstance(store, RedisQuotaStore):
                await store.aclose()


class TokenBed:
    """Handles on one token state; ``open`` is another process's (the same one in memory)."""

    def __init__(
        self,
        name: str,
        make: Callable[[], TokenStore],
        die: Callable[[TokenStore, float], Awaitable[None]],
    ) -> None:
        self.name = name
        self._make = make
        self._die = die
        self.first = make()

    def open(self) -> TokenStore:
        """Another handle on the state (another process for file and Redis)."""
        return self.first if self.name == "memory" else self._make()

    async def die_holding_the_lease(self, lease_for: float) -> None:
        """Take the lease for ``lease_for`` seconds the way a holder does, then die holding it."""
        await self._die(self.open(), lease_for)


async def cancelled_holder(store: TokenStore, lease_for: float) -> None:
    """In one process a holder dies by cancellation: it is cancelled inside the lease."""
    with anyio.CancelScope() as scope:
        async with store.lease(lease_for):
            scope.cancel()
            await anyio.sleep_forever()


_FLOCK_AND_WAIT = (
    "import fcntl, os, sys, time\n"
    "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)\n"
    "fcntl.flock(fd, fcntl.LOCK_EX)\n"
    "print('held', flush=True)\n"
    "time.sleep(60)\n"
)


async def killed_process(lock_path: str) -> None:
    """A process takes the file lock and is killed (SIGKILL) while holding it."""
    async with await anyio.open_process([sys.executable, "-c", _FLOCK_AND_WAIT, lock_path]) as p:
        assert p.stdout is not None
        assert b"held" in await p.stdout.receive()
        p.kill()
        await p.wait()
