"""What the Redis stores share: the optional import, the asyncio check, errors, prefixes.

redis-py is an optional dependency (``pip install 'planner-async[redis]'``) and its
asyncio client runs on asyncio only: under trio every Redis operation raises
:class:`StoreUnavailableError` saying so, while the rest of the client keeps working.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Final, TypeVar

import anyio

from .._exceptions import StoreUnavailableError
from ._cluster import connect_cluster, is_cluster_url

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.cluster import RedisCluster

__all__ = ["OP_BOUND", "as_text", "connect", "default_prefix", "guarded", "require_asyncio"]

T = TypeVar("T")

SOCKET_TIMEOUT: Final = 2.0
"""The socket timeouts (connect and read) of a client made by :func:`connect`."""
OP_BOUND: Final = 2.5
"""The longest one store operation may take, whatever the Redis client's own timeouts and
retries: a Redis that accepts connections but never answers fails the operation with
:class:`StoreUnavailableError` after this long, instead of holding the call."""


@functools.cache
def _failures() -> tuple[type[BaseException], ...]:
    """What a Redis call can fail with (imported late: redis is optional and slow to import)."""
    try:
        from redis.exceptions import RedisClusterException, RedisError
    except ImportError:  # pragma: no cover - redis is optional
        return (OSError,)
    return (RedisError, RedisClusterException, OSError)  # the cluster's is no RedisError


def default_prefix(base_url: str, username: str) -> str:
    """The key prefix clients of one account share: a hash of base URL and username.

    Never derived from the API key. ``planner:`` plus 16 hex digits.

    >>> default_prefix("https://api.forwardplanner.com", "ann")[:8]
    'planner:'
    """
    digest = hashlib.sha256(f"{base_url.rstrip('/')}\0{username}".encode()).hexdigest()
    return f"planner:{digest[:16]}"


def require_asyncio(what: str = "Redis") -> None:
    """Raise :class:`StoreUnavailableError` unless running on asyncio (redis-py needs it)."""
    if asyncio._get_running_loop() is None:
        raise StoreUnavailableError(
            f"{what} mode needs asyncio: redis-py's asyncio client cannot run under trio. "
            "Run this client on asyncio, or leave redis_url unset under trio"
        )


def connect(url: str) -> Redis | RedisCluster:
    """A ``redis.asyncio.Redis`` for ``url``, or a ``RedisCluster`` for ``redis+cluster://``.

    Created lazily: no connection is opened yet.
    """
    try:
        from redis.asyncio import Redis
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("redis_url needs redis-py: pip install 'planner-async[redis]'") from exc
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialWithJitterBackoff
    from redis.exceptions import ConnectionError

    # Retry a dropped or refused connection (e.g. a Redis restart) twice, within 0.3 s;
    # every script is safe to resend: a lost admission reply only holds a slot until its
    # lease. A timeout is not retried (that would multiply it); the call then fails with
    # StoreUnavailableError, and guarded() bounds the whole operation anyway.
    options: dict[str, Any] = {
        "socket_connect_timeout": SOCKET_TIMEOUT,
        "socket_timeout": SOCKET_TIMEOUT,
        "retry": Retry(
            ExponentialWithJitterBackoff(cap=0.2, base=0.05), 2, supported_errors=(ConnectionError,)
        ),
        "retry_on_error": [ConnectionError],
    }
    if is_cluster_url(url):
        return connect_cluster(url, **options)
    client: Redis = Redis.from_url(url, **options)
    return client


async def guarded(call: Awaitable[T], what: str) -> T:
    """Await a Redis call within :data:`OP_BOUND` seconds, turning every Redis or socket
    failure, and running out of time, into :class:`StoreUnavailableError`.

    The message names the operation, never the URL (which may carry a password).
    """
    failures: tuple[type[BaseException], ...] = (*_failures(), TimeoutError)
    try:
        with anyio.fail_after(OP_BOUND):
            return await call
    except failures as exc:
        raise StoreUnavailableError(
            f"the Redis store is unavailable ({what}: {type(exc).__name__}); no request was sent"
        ) from exc


def as_text(value: Any) -> str:
    """A Redis reply item as ``str`` (replies are bytes unless decoding is on)."""
    return value.decode() if isinstance(value, bytes) else str(value)
