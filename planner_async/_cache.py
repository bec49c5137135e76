"""The answer cache: ``events.get`` answers reused for ``cache_ttl`` seconds, per account.

A cache holds the *wire JSON* of events (the dict the API sent), never model objects, so
the in-memory cache and the Redis one (``_redis._cache.RedisAnswerCache``) behave the
same: a hit is structured again, which is cheap. One cache instance belongs to one
account (the client's registry keeps one per base URL and username); keys are plain
strings such as ``event:1001`` (:func:`event_key`) and never name the account, so two
accounts can only share answers by sharing an instance, which the registry never does.

The wiring is two pure functions the client calls, testable without a client:

- :func:`cached_get` answers from the cache, or fetches, structures and remembers;
- :func:`remember_page` remembers the events of a listing page. Sound because a page's
  ``items`` are full ``Event`` objects, the same shape ``GET /events/{id}`` answers
  (API.md, "Events"), and visibility is per account like the cache.

Errors (404, 403, ...) are never cached: an event created a second later must be found.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol, TypeVar

from cachetools import TLRUCache

from ._checks import check_int

__all__ = [
    "AnswerCache",
    "MemoryAnswerCache",
    "cached_get",
    "event_key",
    "remember_page",
]

T = TypeVar("T")

DEFAULT_MAXSIZE = 4096

# An entry is the JSON text (so a caller mutating what it got back never changes the
# cache, as with Redis) and its own time to live.
_Entry = tuple[str, float]


class AnswerCache(Protocol):
    """Where answers are kept: wire JSON objects under string keys, each with a TTL."""

    async def get(self, key: str) -> Any | None:
        """The value stored under ``key``, or ``None`` when absent, expired or unreadable."""
        ...

    async def put(self, key: str, value: Any, ttl: float) -> None:
        """Keep ``value`` (JSON-encodable) under ``key`` for ``ttl`` seconds; never raises."""
        ...

    async def put_many(self, values: Mapping[str, Any], ttl: float) -> None:
        """:meth:`put` for several keys at once (one round trip where it matters)."""
        ...

    async def aclose(self) -> None:
        """Release what the cache holds (connections it created)."""
        ...


def _expires_at(_key: str, entry: _Entry, now: float) -> float:
    return now + entry[1]


def _encode(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


class MemoryAnswerCache:
    """An in-process :class:`AnswerCache` (``cachetools.TLRUCache``: LRU, per-entry TTL).

    Safe to share between threads and event loops: every operation holds a
    ``threading.Lock`` for a few microseconds and never awaits inside it. ``maxsize``
    bounds the number of entries (least recently used go first); ``timer`` is the clock
    (monotonic seconds), injectable for tests.

    >>> cache = MemoryAnswerCache(maxsize=100)
    """

    __slots__ = ("_entries", "_lock")

    def __init__(
        self, maxsize: int = DEFAULT_MAXSIZE, *, timer: Callable[[], float] = time.monotonic
    ) -> None:
        check_int("maxsize", maxsize, low=1)
        self._lock = threading.Lock()
        self._entries: TLRUCache[str, _Entry] = TLRUCache(maxsize, _expires_at, timer)

    def __repr__(self) -> str:
        return f"MemoryAnswerCache(maxsize={self._entries.maxsize:g}, size={len(self)})"

    def __len__(self) -> int:
        """How many live entries the cache holds."""
        with self._lock:
            self._entries.expire()
            return len(self._entries)

    async def get(self, key: str) -> Any | None:
        """The value under ``key`` (a fresh copy), or ``None``."""
        with self._lock:
            entry = self._entries.get(key)
        return None if entry is None else json.loads(entry[0])

    async def put(self, key: str, value: Any, ttl: float) -> None:
        """Keep ``value`` for ``ttl`` seconds; a value JSON cannot encode is not kept."""
        await self.put_many({key: value}, ttl)

    async def put_many(self, values: Mapping[str, Any], ttl: float) -> None:
        """Keep each value for ``ttl`` seconds (skipping those JSON cannot encode)."""
        if not _usable_ttl(ttl):
            return
        encoded: list[tuple[str, _Entry]] = []
        for key, value in values.items():
            try:
                encoded.append((key, (_encode(value), float(ttl))))
            except (TypeError, ValueError, RecursionError):
                continue
        with self._lock:
            for key, entry in encoded:
                self._entries[key] = entry

    async def aclose(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._entries.clear()


def _usable_ttl(ttl: float | None) -> bool:
    return ttl is not None and not isinstance(ttl, bool) and math.isfinite(ttl) and ttl > 0


def event_key(event_id: int) -> str:
    """The cache key of one event's answer.

    >>> event_key(1001)
    'event:1001'
    """
    return f"event:{event_id}"


def _is_event_of(value: Any, event_id: int) -> bool:
    if not isinstance(value, dict):
        return False
    found = value.get("id")
    return isinstance(found, int) and not isinstance(found, bool) and found == event_id


async def cached_get(
    cache: AnswerCache | None,
    ttl: float | None,
    event_id: int,
    fetch: Callable[[], Awaitable[Any]],
    structure: Callable[[Any], T],
) -> T:
    """One event: from ``cache`` when it holds it, else ``structure(await fetch())``.

    ``fetch()`` sends the request and returns the wire JSON; ``structure`` builds the
    model and raises on a mismatch. An answer is remembered only once it structured
    (a malformed answer is not served again from the cache) and only when it is the
    event asked for. A cached value that no longer structures (written by another
    version into a shared Redis) counts as a miss. Without a cache or a usable ``ttl``
    this is just ``structure(await fetch())``; errors from ``fetch`` pass through and
    are never cached.
    """
    if cache is None or ttl is None or not _usable_ttl(ttl):
        return structure(await fetch())
    key = event_key(event_id)
    hit = await cache.get(key)
    if _is_event_of(hit, event_id):
        try:
            return structure(hit)
        except Exception:  # a stale shape in a shared cache: fetch afresh
            pass
    data = await fetch()
    model = structure(data)
    if _is_event_of(data, event_id):
        await cache.put(key, data, ttl)
    return model


async def remember_page(cache: AnswerCache | None, ttl: float | None, items: Iterable[Any]) -> int:
    """Remember the events of a listing page (its raw ``items``); how many were kept.

    Call it once the page has structured. Items without an integer ``id`` are skipped.
    """
    if cache is None or ttl is None or not _usable_ttl(ttl):
        return 0
    values: dict[str, Any] = {}
    for item in items:
        event_id = item.get("id") if isinstance(item, dict) else None
        if isinstance(event_id, int) and not isinstance(event_id, bool):
            values[event_key(event_id)] = item
    if values:
        await cache.put_many(values, ttl)
    return len(values)
