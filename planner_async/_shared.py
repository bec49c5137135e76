"""What clients of one account in one process share: one quota, one token state, one cache.

Every :class:`PlannerClient` with the same base URL and username (and the same limits
and clock) joins one :class:`AccountShare`, so two clients of an account never spend its
quota twice nor log in twice. The registry holds each share weakly: it lives while one of
its clients is open. Explicit ``quota_store=``/``token_store=``/``redis_url=`` opt out
(those stores are shared by whoever passes them). The stores are thread-safe, so clients
on several threads or event loops share them too.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Hashable
from typing import Final

from ._cache import MemoryAnswerCache
from ._config import ClientConfig
from ._stores import MemoryQuotaStore, MemoryTokenStore

__all__ = ["SHARED_POLL", "AccountShare", "share_for"]

SHARED_POLL: Final = 0.02
"""Seconds between looks while waiting on requests in flight in other clients."""


class AccountShare:
    """One account's shared stores in this process (see the module docstring)."""

    __slots__ = ("__weakref__", "anchors", "auth_quota", "cache", "key", "quota", "tokens")

    def __init__(self, key: Hashable, config: ClientConfig) -> None:
        self.key = key
        self.anchors = (config.clock, config.sleep)  # keeps the ids in the key unique
        options = config.limiter_options()
        clock = options.get("clock")
        grace = config.abandon_grace
        self.quota = MemoryQuotaStore(
            config.rate_limits,
            clock=clock,
            abandon_grace=grace,
            interactive_reserve=config.interactive_reserve,
        )
        self.auth_quota = MemoryQuotaStore(
            config.auth_rate_limits, clock=clock, abandon_grace=grace, interactive_reserve=0.0
        )
        self.tokens = MemoryTokenStore()
        self.cache: MemoryAnswerCache | None = None  # made by the first client asking

    def __repr__(self) -> str:
        return f"AccountShare({self.key[1]!r})"  # type: ignore[index]


_lock: Final = threading.Lock()
_shares: Final[weakref.WeakValueDictionary[Hashable, AccountShare]] = weakref.WeakValueDictionary()


def _key(config: ClientConfig, username: str) -> Hashable:
    return (
        config.base_url,
        username,
        config.rate_limits,
        config.auth_rate_limits,
        config.abandon_grace,
        config.interactive_reserve,
        id(config.clock),
        id(config.sleep),
    )


def share_for(config: ClientConfig, username: str) -> AccountShare:
    """The share of ``username``'s account for a client built from ``config``."""
    key = _key(config, username)
    with _lock:
        share = _shares.get(key)
        if share is None:
            share = _shares[key] = AccountShare(key, config)
        return share


def live_shares() -> int:
    """How many accounts have a share alive (for tests)."""
    with _lock:
        return len(_shares)
