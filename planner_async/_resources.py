"""A client's parts, made once from its checked config, and the life cycle they share.

:func:`build` makes the HTTP client, the limiters, the token manager and the stores in
one pass: the auth sender first (it needs no token), then the token manager over it, then
the API sender over the token manager, so nothing is patched in later. A client and all
its ``with_options`` views hold the same :class:`Resources`, hence the same
:class:`LifeCycle`: one event loop, one "closed".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import anyio.lowlevel
import httpx

from . import _backend
from ._api import ApiCaller, Flights
from ._auth import TokenManager
from ._cache import AnswerCache, MemoryAnswerCache
from ._call import DEFAULT_OPTIONS, Call, Counts
from ._clock import wall_clock
from ._config import ClientConfig
from ._exceptions import APIResponseValidationError
from ._limiter import QuotaLimiter
from ._pipeline import NoCredentials, Sender, TokenCredentials
from ._redact import Redactor
from ._shared import SHARED_POLL, AccountShare, share_for
from ._stores import QuotaStore, TokenStore

if TYPE_CHECKING:
    from ._redis import RedisStores

__all__ = ["LifeCycle", "Resources", "build"]


def _loop_identity() -> object:
    """The running event loop (asyncio) or trio token: what a client is bound to."""
    loop = _backend.running_loop()  # cheap, and None outside asyncio
    if loop is not None:
        return loop
    return anyio.lowlevel.current_token().native_token


class LifeCycle:
    """Open or closed, and the one event loop a client and its views run on."""

    __slots__ = ("closed", "loop")

    def __init__(self) -> None:
        self.closed = False
        self.loop: object | None = None

    def check(self) -> None:
        """Raise the client's clear error when it is closed or used on another loop."""
        if self.closed:
            raise RuntimeError("this PlannerClient is closed; create a new one")
        loop = _loop_identity()
        if self.loop is loop:
            return
        if self.loop is None:
            self.loop = loop
            return
        raise RuntimeError(
            "this PlannerClient was first used on another event loop; a client (and its "
            "connection pool) belongs to one loop: create one client per event loop"
        )


class _AuthCalls:
    """The login and renewal calls (:class:`AuthCalls`), sent through the auth sender."""

    __slots__ = ("_api_key", "_life", "_sender", "_username")

    def __init__(self, sender: Sender, life: LifeCycle, username: str, api_key: str) -> None:
        self._sender = sender
        self._life = life
        self._username = username
        self._api_key = api_key

    async def login(self) -> Mapping[str, Any]:
        return await self._post("/auth", {"username": self._username, "password": self._api_key})

    async def renew(self, refresh_token: str) -> Mapping[str, Any]:
        return await self._post("/auth/renew", {"refreshToken": refresh_token})

    async def _post(self, path: str, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        self._life.check()
        data = await self._sender.send(Call("POST", path, None, payload, DEFAULT_OPTIONS))
        if not isinstance(data, dict):
            raise APIResponseValidationError(f"expected a JSON object, got {type(data).__name__}")
        return data


class Resources:
    """Everything a client and its views share (see the module docstring)."""

    __slots__ = (
        "api_key",
        "cache",
        "config",
        "counts",
        "flights",
        "http",
        "life",
        "limiter",
        "owns_http",
        "redactor",
        "redis",
        "share",
        "tokens",
        "username",
    )

    def __init__(self, username: str, api_key: str, config: ClientConfig) -> None:
        self.username = username
        self.api_key = api_key
        self.config = config
        self.life = LifeCycle()
        self.counts = Counts()
        self.flights = Flights()
        self.owns_http = config.http_client is None
        self.http = config.http_client or make_http_client(config.request_timeout)
        self.redis: RedisStores | None = None
        self.share: AccountShare | None = None
        self.cache: AnswerCache | None = None
        self.limiter: QuotaLimiter
        self.tokens: TokenManager
        self.redactor = Redactor(self.secrets)  # masks this client's live secrets everywhere

    def secrets(self) -> tuple[str | None, ...]:
        """What to redact: the API key and the current tokens."""
        tokens = getattr(self, "tokens", None)
        return (self.api_key, *(() if tokens is None else tokens.secrets))

    def caller(self, config: ClientConfig) -> ApiCaller:
        """An API caller with ``config``'s call settings over these resources."""
        sender = Sender(
            http=self.http,
            limiter=self.limiter,
            credentials=TokenCredentials(self.tokens),
            config=config,
            counts=self.counts,
            secrets=self.secrets,
        )
        return ApiCaller(sender, self.life.check, self.flights if config.coalesce else None)

    async def aclose(self) -> None:
        """Close what the client made; an injected ``http_client`` is left open."""
        if self.life.closed:
            return
        self.life.closed = True
        self.redactor.close()
        self.share = None  # the account's share lives on while another client holds it
        if self.owns_http:
            await self.http.aclose()
        if self.redis is not None:
            await self.redis.aclose()


def make_http_client(timeout: httpx.Timeout) -> httpx.AsyncClient:
    """The HTTP client a PlannerClient makes for itself when none is given."""
    from ._version import USER_AGENT  # the metadata is read on first use, not at import

    return httpx.AsyncClient(
        timeout=timeout,
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        headers={"User-Agent": USER_AGENT},
    )


def _stores(res: Resources) -> tuple[QuotaStore, QuotaStore, TokenStore, float]:
    """The quota, auth-quota and token stores, and the limiters' poll interval."""
    config = res.config
    if config.redis_url is not None:
        from ._redis import RedisStores, permit_lease

        res.redis = RedisStores(
            config.redis_url,
            prefix=config.redis_prefix,
            base_url=config.base_url,
            username=res.username,
            rate_limits=config.rate_limits,
            auth_rate_limits=config.auth_rate_limits,
            lease=permit_lease(config.request_timeout, config.abandon_grace),
            abandon_grace=config.abandon_grace,
            fallback_share=config.redis_fallback_share,
            interactive_reserve=config.interactive_reserve,
        )
        return res.redis.quota, res.redis.auth_quota, res.redis.tokens, float("inf")
    share = res.share = share_for(config, res.username)
    quota = config.quota_store or share.quota
    tokens = config.token_store or share.tokens
    return quota, share.auth_quota, tokens, SHARED_POLL


def _cache(res: Resources) -> AnswerCache | None:
    """The account's answer cache when ``cache_ttl`` is set: in Redis with ``redis_url``,
    else one in memory per account in this process."""
    if res.config.cache_ttl is None:
        return None
    if res.redis is not None:
        from ._redis._cache import RedisAnswerCache

        return RedisAnswerCache(res.redis.redis, res.redis.prefix)
    share = res.share
    assert share is not None
    if share.cache is None:
        share.cache = MemoryAnswerCache()
    return share.cache


def build(username: str, api_key: str, config: ClientConfig) -> Resources:
    """Make a client's resources from its checked config (see the module docstring)."""
    res = Resources(username, api_key, config)
    quota, auth_quota, token_store, poll = _stores(res)
    timing = {k: v for k, v in config.limiter_options().items() if k == "sleep"}
    auth_sender = Sender(
        http=res.http,
        limiter=QuotaLimiter(store=auth_quota, poll=poll, **timing),
        credentials=NoCredentials(),
        config=config,
        counts=res.counts,
        secrets=res.secrets,
    )
    res.limiter = QuotaLimiter(store=quota, poll=poll, **timing)
    res.cache = _cache(res)
    res.tokens = TokenManager(
        _AuthCalls(auth_sender, res.life, username, api_key),
        clock=config.clock or wall_clock,
        refresh_margin=config.refresh_margin,
        default_lifetime=config.token_lifetime,
        store=token_store,
        hooks=auth_sender.hooks,
    )
    return res
