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
from typing import TYPE_CHECKING, Any, TypeVar

from .._exceptions import StoreUnavailableError

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["as_text", "connect", "default_prefix", "guarded", "require_asyncio"]

T = TypeVar("T")


@functools.cache
def _failures() -> tuple[type[BaseException], ...]:
    """What a Redis call can fail with (imported late: redis is optional and slow to import)."""
    try:
        from redis.exceptions import RedisError
    except ImportError:  # pragma: no cover - redis is optional
        return (OSError,)
    return (RedisError, OSError)


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


def connect(url: str) -> Redis:
    """A ``redis.asyncio.Redis`` for ``url`` (created lazily: no connection is opened yet)."""
    try:
        from redis.asyncio import Redis
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("redis_url needs redis-py: pip install 'planner-async[redis]'") from exc
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialWithJitterBackoff
    from redis.exceptions import ConnectionError, TimeoutError

    # Retry a dropped connection (e.g. a Redis restart) a few times, about 1.5 s in all;
    # every script is safe to resend: a lost admission reply only holds a slot until its
    # lease. Then the call fails with StoreUnavailableError.
    client: Redis = Redis.from_url(
        url,
        socket_connect_timeout=5.0,
        socket_timeout=10.0,
        retry=Retry(ExponentialWithJitterBackoff(cap=0.5, base=0.05), 4),
        retry_on_error=[ConnectionError, TimeoutError],
    )
    return client


async def guarded(call: Awaitable[T], what: str) -> T:
    """Await a Redis call, turning every Redis or socket failure into StoreUnavailableError.

    The message names the operation, never the URL (which may carry a password).
    """
    try:
        return await call
    except _failures() as exc:
        raise StoreUnavailableError(
            f"the Redis store is unavailable ({what}: {type(exc).__name__}); no request was sent"
        ) from exc


def as_text(value: Any) -> str:
    """A Redis reply item as ``str`` (replies are bytes unless decoding is on)."""
    return value.decode() if isinstance(value, bytes) else str(value)
