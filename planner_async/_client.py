"""``PlannerClient``: one shared ``httpx.AsyncClient`` with tokens, quotas and retries.

The client holds the settings and the life cycle (open, bound to one event loop, closed);
every call goes through its :class:`~planner_async._pipeline.Pipeline`, and the events
endpoints live in :mod:`._events`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Final, Self, Unpack

import anyio.lowlevel
import attrs
import httpx

from ._auth import TokenManager
from ._clock import Clock, wall_clock
from ._config import (
    CALL_OPTIONS,
    DEFAULT_ABANDON_GRACE,
    DEFAULT_AUTH_RATE_LIMITS,
    DEFAULT_BASE_URL,
    DEFAULT_RATE_LIMITS,
    DEFAULT_REFRESH_MARGIN,
    DEFAULT_TOKEN_LIFETIME,
    ClientConfig,
    ClientOptions,
)
from ._events import Events
from ._hooks import PauseDetails, QuotaWaitDetails, TokenDetails
from ._limiter import QuotaLimiter, RateLimitStatus
from ._models import Session
from ._pipeline import Pipeline
from ._redis import RedisStores, permit_lease
from ._retry import RetryDetails, RetryPolicy
from ._stores import QuotaStore, TokenStore
from ._version import USER_AGENT
from ._wire import DEFAULT_MAX_RESPONSE_BYTES

__all__ = [
    "DEFAULT_AUTH_RATE_LIMITS",
    "DEFAULT_BASE_URL",
    "DEFAULT_RATE_LIMITS",
    "ClientOptions",
    "ClientStats",
    "PlannerClient",
]


@attrs.frozen
class ClientStats:
    """Counters of what a client has done: a snapshot, from ``client.stats``."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    logins: int = 0
    renewals: int = 0


def _loop_identity() -> object:
    """The running event loop (asyncio) or trio token: what a client is bound to."""
    loop = asyncio._get_running_loop()  # cheap, and None outside asyncio
    if loop is not None:
        return loop
    return anyio.lowlevel.current_token().native_token


_ENV_OPTIONS: Final = (
    ("PLANNER_BASE_URL", "base_url"),
    ("PLANNER_REDIS_URL", "redis_url"),
    ("PLANNER_REDIS_PREFIX", "redis_prefix"),
)


def _redis_stores(config: ClientConfig, username: str) -> RedisStores | None:
    """The Redis stores ``redis_url`` asks for (a lazy pool: nothing connects yet)."""
    if config.redis_url is None:
        return None
    return RedisStores(
        config.redis_url,
        prefix=config.redis_prefix,
        base_url=config.base_url,
        username=username,
        rate_limits=config.rate_limits,
        auth_rate_limits=config.auth_rate_limits,
        lease=permit_lease(config.request_timeout, config.abandon_grace),
        abandon_grace=config.abandon_grace,
        fallback_share=config.redis_fallback_share,
    )


def _check_credentials(username: object, api_key: object) -> None:
    for name, value in (("username", username), ("api_key", api_key)):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a str, got {type(value).__name__}")
        if not value.strip():
            raise ValueError(f"{name} must not be empty")


class _AuthCalls:
    """The login and renewal calls (:class:`AuthCalls`), sent through the auth entry point."""

    __slots__ = ("_api_key", "_pipeline", "_username")

    def __init__(self, pipeline: Pipeline, username: str, api_key: str) -> None:
        self._pipeline = pipeline
        self._username = username
        self._api_key = api_key

    async def login(self) -> Mapping[str, Any]:
        payload = {"username": self._username, "password": self._api_key}
        return await self._pipeline.auth("/auth", payload)

    async def renew(self, refresh_token: str) -> Mapping[str, Any]:
        return await self._pipeline.auth("/auth/renew", {"refreshToken": refresh_token})


_NOT_OPTIONS: Final = frozenset({"self", "username", "api_key"})


class PlannerClient:
    """Async client for the Forward Planner API v2.

    >>> async with PlannerClient("me", "my-api-key") as client:   # doctest: +SKIP
    ...     async for event in client.events.list(query="budget"):
    ...         print(event.title)

    Logs in lazily, renews tokens before they expire, keeps under every quota window,
    and retries transient failures. Construction needs no running event loop; a client
    belongs to the first event loop that uses it.

    The keyword options and their defaults are listed in :class:`ClientOptions`
    (``timeout``, ``max_retries``, ``max_wait``, ``rate_limits``, hooks, stores, ...);
    mypy checks their names and types. :meth:`with_options` makes a view with other
    call settings that shares this client's pool, tokens and quota.
    """

    def __init__(
        self,
        username: str,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        http_client: httpx.AsyncClient | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        max_wait: float | None = None,
        rate_limits: Sequence[tuple[int, float]] = DEFAULT_RATE_LIMITS,
        auth_rate_limits: Sequence[tuple[int, float]] = DEFAULT_AUTH_RATE_LIMITS,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
        token_lifetime: float = DEFAULT_TOKEN_LIFETIME,
        clock: Clock | None = None,
        sleep: Callable[[float], Awaitable[object]] | None = None,
        on_retry: Callable[[RetryDetails], object] | None = None,
        on_quota_wait: Callable[[QuotaWaitDetails], object] | None = None,
        on_pause: Callable[[PauseDetails], object] | None = None,
        on_token: Callable[[TokenDetails], object] | None = None,
        abandon_grace: float = DEFAULT_ABANDON_GRACE,
        quota_store: QuotaStore | None = None,
        token_store: TokenStore | None = None,
        allow_insecure_http: bool = False,
        redis_url: str | None = None,
        redis_prefix: str | None = None,
        redis_fallback_share: float | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        _check_credentials(username, api_key)
        # Every keyword is a ClientOptions entry: hand them all to the one place that checks.
        options = {k: v for k, v in locals().items() if k not in _NOT_OPTIONS}
        self._setup(username, api_key, ClientConfig(**options))

    def _setup(self, username: str, api_key: str, config: ClientConfig) -> None:
        self._username = username
        self._api_key = api_key
        self._config = config
        self._owns_http = config.http_client is None
        self._http = config.http_client or self._make_http_client(config.request_timeout)
        self._loop: object | None = None
        self._closed = False
        self._redis = _redis_stores(config, username)
        quota_store = config.quota_store if self._redis is None else self._redis.quota
        limiter = (
            QuotaLimiter(config.rate_limits, **config.limiter_options())
            if quota_store is None
            else QuotaLimiter(store=quota_store)
        )
        auth_limiter = (
            QuotaLimiter(config.auth_rate_limits, **config.limiter_options())
            if self._redis is None
            else QuotaLimiter(store=self._redis.auth_quota)
        )
        self._pipeline = self._make_pipeline(config, limiter, auth_limiter)
        self._tokens = TokenManager(
            _AuthCalls(self._pipeline, username, api_key),
            clock=config.clock or wall_clock,
            refresh_margin=config.refresh_margin,
            default_lifetime=config.token_lifetime,
            store=config.token_store if self._redis is None else self._redis.tokens,
            hooks=self._pipeline.hooks,
        )
        self._pipeline.tokens = self._tokens
        self.events = Events(self._pipeline, config.clock or wall_clock)

    def _make_pipeline(
        self, config: ClientConfig, limiter: QuotaLimiter, auth_limiter: QuotaLimiter
    ) -> Pipeline:
        return Pipeline(
            http=self._http,
            limiter=limiter,
            auth_limiter=auth_limiter,
            config=config,
            secrets=self._secrets,
            check_usable=self._check_usable,
        )

    def with_options(self, **options: Unpack[ClientOptions]) -> Self:
        """A view of this client with other call settings, sharing its pool, tokens and quota.

        Takes ``timeout``, ``max_retries``, ``retry``, ``max_wait``, ``sleep`` and the
        ``on_*`` hooks. Closing the view closes nothing; close the original.

        >>> patient = client.with_options(max_wait=300, max_retries=8)   # doctest: +SKIP
        """
        other = set(options) - CALL_OPTIONS
        if other:
            raise TypeError(
                f"with_options() cannot change {sorted(other)}: a view shares the pool, "
                "tokens and quota of its client; create a new client instead"
            )
        view = object.__new__(type(self))
        view.__dict__.update(self.__dict__)
        view._config = config = attrs.evolve(self._config, **options)
        view._owns_http = False
        view._redis = None  # the original closes the Redis stores
        view._pipeline = self._pipeline.view(config, view._check_usable)
        view.events = Events(view._pipeline, config.clock or wall_clock)
        return view

    @classmethod
    def from_env(cls, **kwargs: Unpack[ClientOptions]) -> Self:
        """Build a client from ``PLANNER_USERNAME``, ``PLANNER_API_KEY``, ``PLANNER_BASE_URL``,
        ``PLANNER_REDIS_URL`` and ``PLANNER_REDIS_PREFIX``.

        Keyword arguments are the constructor's; an explicit ``base_url`` wins over the
        environment's.

        >>> client = PlannerClient.from_env(max_wait=30)   # doctest: +SKIP
        """
        missing = [
            name for name in ("PLANNER_USERNAME", "PLANNER_API_KEY") if not os.environ.get(name)
        ]
        if missing:
            raise ValueError(f"missing environment variable(s): {', '.join(missing)}")
        for variable, option in _ENV_OPTIONS:
            value = os.environ.get(variable)
            if value:
                kwargs.setdefault(option, value)  # type: ignore[misc]
        return cls(os.environ["PLANNER_USERNAME"], os.environ["PLANNER_API_KEY"], **kwargs)

    @staticmethod
    def _make_http_client(timeout: httpx.Timeout) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=timeout,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            headers={"User-Agent": USER_AGENT},
        )

    def __repr__(self) -> str:
        return f"PlannerClient(username={self._username!r}, base_url={self._config.base_url!r})"

    async def __aenter__(self) -> Self:
        self._check_usable()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client this client created; one passed in is left open."""
        if self._closed:
            return
        self._closed = True
        if self._owns_http:
            await self._http.aclose()
        if self._redis is not None:
            await self._redis.aclose()

    @property
    def rate_limit(self) -> RateLimitStatus:
        """A snapshot of the quota: per window its limit, use, remaining and next free slot.

        With a shared quota store, the last snapshot taken; ``await
        client.fetch_rate_limit()`` asks the store afresh.
        """
        return self._pipeline.limiter.status

    async def fetch_rate_limit(self) -> RateLimitStatus:
        """A fresh :attr:`rate_limit` snapshot (a round trip with a shared quota store)."""
        return await self._pipeline.limiter.snapshot()

    @property
    def session(self) -> Session | None:
        """The current session, or None before the first login."""
        return self._tokens.session

    @property
    def stats(self) -> ClientStats:
        """Counters: HTTP requests sent, retries, 429s received, logins, renewals."""
        counts = self._pipeline.counts
        return ClientStats(
            requests=counts.requests,
            retries=counts.retries,
            rate_limited=counts.rate_limited,
            logins=self._tokens.logins,
            renewals=self._tokens.renewals,
        )

    async def authenticate(self) -> Session:
        """Log in now (instead of lazily on the first call) and return the session."""
        self._check_usable()
        return await self._tokens.ensure_session()

    # -- plumbing ---------------------------------------------------------------------

    def _check_usable(self) -> None:
        if self._closed:
            raise RuntimeError("this PlannerClient is closed; create a new one")
        loop = _loop_identity()
        if self._loop is loop:
            return
        if self._loop is None:
            self._loop = loop
            return
        raise RuntimeError(
            "this PlannerClient was first used on another event loop; a client (and its "
            "connection pool) belongs to one loop: create one client per event loop"
        )

    def _secrets(self) -> tuple[str | None, ...]:
        return (self._api_key, *self._tokens.secrets)
