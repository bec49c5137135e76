"""``PlannerClient``: one shared ``httpx.AsyncClient`` with tokens, quotas and retries.

The client is a face over its :class:`~planner_async._resources.Resources` (made once by
:func:`~planner_async._resources.build`, shared with every view); every call goes
through its :class:`~planner_async._api.ApiCaller`, and the events endpoints live in
:mod:`._events`.
"""

from __future__ import annotations

import inspect
import os
from types import TracebackType
from typing import Final, Self, Unpack

import attrs

from ._call import Counts, check_priority
from ._checks import check_int
from ._clock import wall_clock
from ._config import (
    CALL_OPTIONS,
    DEFAULT_AUTH_RATE_LIMITS,
    DEFAULT_BASE_URL,
    DEFAULT_RATE_LIMITS,
    ClientConfig,
    ClientOptions,
)
from ._events import Events
from ._lanes import Lane
from ._limiter import RateLimitStatus
from ._models import Session
from ._resources import Resources, build

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
    coalesced: int = 0


_ENV_OPTIONS: Final = (
    ("PLANNER_BASE_URL", "base_url"),
    ("PLANNER_REDIS_URL", "redis_url"),
    ("PLANNER_REDIS_PREFIX", "redis_prefix"),
)


def _check_credentials(username: object, api_key: object) -> None:
    for name, value in (("username", username), ("api_key", api_key)):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a str, got {type(value).__name__}")
        if not value.strip():
            raise ValueError(f"{name} must not be empty")


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

    def __init__(self, username: str, api_key: str, **options: Unpack[ClientOptions]) -> None:
        _check_credentials(username, api_key)
        self._attach(build(username, api_key, ClientConfig(**options)), None)

    def _attach(self, res: Resources, config: ClientConfig | None) -> None:
        """Hold ``res`` (shared with every view) with ``config``'s call settings."""
        self._res = res
        self._config = config or res.config
        self._view = config is not None
        self._api = res.caller(self._config)
        self.events = Events(
            self._api,
            self._config.clock or wall_clock,
            cache=res.cache,
            cache_ttl=self._config.cache_ttl,
        )

    def with_options(self, **options: Unpack[ClientOptions]) -> Self:
        """A view of this client with other call settings, sharing its pool, tokens and quota.

        Takes ``timeout``, ``max_retries``, ``retry``, ``max_wait``, ``sleep``, ``priority``,
        ``coalesce`` and the ``on_*`` hooks. The view shares the client's life cycle: it
        is closed when the client is, and bound to the same event loop. Closing the view
        closes nothing; close the original.

        >>> patient = client.with_options(max_wait=300, max_retries=8)   # doctest: +SKIP
        >>> jobs = client.with_options(priority="batch")   # doctest: +SKIP
        """
        other = set(options) - CALL_OPTIONS
        if other:
            raise TypeError(
                f"with_options() cannot change {sorted(other)}: a view shares the pool, "
                "tokens and quota of its client; create a new client instead"
            )
        view = object.__new__(type(self))
        view._attach(self._res, attrs.evolve(self._config, **options))
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

    def __repr__(self) -> str:
        return f"PlannerClient(username={self._res.username!r}, base_url={self._config.base_url!r})"

    async def __aenter__(self) -> Self:
        self._res.life.check()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client this client created (one passed in is left open) and its
        Redis stores; idempotent. A view's ``aclose`` closes nothing."""
        if not self._view:
            await self._res.aclose()

    @property
    def rate_limit(self) -> RateLimitStatus:
        """A snapshot of the quota: per window its limit, use, remaining and next free slot.

        With a shared quota store, the last snapshot taken; ``await
        client.fetch_rate_limit()`` asks the store afresh.
        """
        return self._res.limiter.status

    async def fetch_rate_limit(self) -> RateLimitStatus:
        """A fresh :attr:`rate_limit` snapshot (a round trip with a shared quota store)."""
        return await self._res.limiter.snapshot()

    async def forecast(self, n: int = 1, *, priority: Lane | None = None) -> float:
        """Seconds until ``n`` more requests of this client's lane could be sent.

        ``0.0`` when they could go now; ``math.inf`` while it depends on requests still
        in flight. Nothing is reserved: use it for ETAs and schedulers.

        >>> eta = await client.forecast(200, priority="batch")   # doctest: +SKIP
        """
        n = check_int("n", n, low=1)
        lane = self._config.priority if priority is None else check_priority(priority)
        return await self._res.limiter.forecast(n, lane=lane)

    @property
    def session(self) -> Session | None:
        """The current session, or None before the first login."""
        return self._res.tokens.session

    @property
    def stats(self) -> ClientStats:
        """Counters: HTTP requests sent, retries, 429s received, logins, renewals, and
        requests saved by coalescing."""
        counts: Counts = self._res.counts
        return ClientStats(
            requests=counts.requests,
            retries=counts.retries,
            rate_limited=counts.rate_limited,
            logins=self._res.tokens.logins,
            renewals=self._res.tokens.renewals,
            coalesced=self._res.flights.saved,
        )

    async def authenticate(self) -> Session:
        """Log in now (instead of lazily on the first call) and return the session."""
        self._res.life.check()
        return await self._res.tokens.ensure_session()


def _constructor_signature() -> inspect.Signature:
    """``PlannerClient(username, api_key, *, <every option with its default>)`` for help()."""
    keyword = inspect.Parameter.KEYWORD_ONLY
    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [
        inspect.Parameter("self", positional),
        inspect.Parameter("username", positional, annotation="str"),
        inspect.Parameter("api_key", positional, annotation="str"),
    ]
    hints = ClientOptions.__annotations__
    for field in attrs.fields(ClientConfig):
        params.append(
            inspect.Parameter(
                field.name, keyword, default=field.default, annotation=hints[field.name]
            )
        )
    return inspect.Signature(params, return_annotation="None")


PlannerClient.__init__.__signature__ = _constructor_signature()  # type: ignore[attr-defined]
