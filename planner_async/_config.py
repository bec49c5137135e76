"""The client's settings: one typed list of keyword options, checked in one place.

:class:`ClientOptions` is what ``PlannerClient(...)``, ``PlannerClient.from_env(...)`` and
``client.with_options(...)`` accept (mypy checks the names and types); :class:`ClientConfig`
holds them with their defaults after checking.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, TypedDict, cast

import attrs
import httpx

from ._call import check_priority
from ._checks import check_int, check_max_wait, check_number, check_redis_url, check_seconds
from ._clock import Clock
from ._hooks import Hooks, PauseDetails, QuotaWaitDetails, TokenDetails
from ._httpx import AsyncHTTPClient, async_client_types
from ._lanes import DEFAULT_INTERACTIVE_RESERVE, Lane
from ._quota import validate_limits
from ._retry import RetryDetails, RetryPolicy
from ._stores import QuotaStore, TokenStore
from ._wire import DEFAULT_MAX_RESPONSE_BYTES

__all__ = [
    "CALL_OPTIONS",
    "DEFAULT_ABANDON_GRACE",
    "DEFAULT_AUTH_RATE_LIMITS",
    "DEFAULT_BASE_URL",
    "DEFAULT_RATE_LIMITS",
    "DEFAULT_REFRESH_MARGIN",
    "DEFAULT_TOKEN_LIFETIME",
    "ClientConfig",
    "ClientOptions",
]

DEFAULT_BASE_URL: Final = "https://api.forwardplanner.com"
DEFAULT_RATE_LIMITS: Final = ((500, 60.0), (3000, 3600.0), (10000, 86400.0))
DEFAULT_AUTH_RATE_LIMITS: Final = ((10, 60.0),)
DEFAULT_TIMEOUT: Final = 30.0
DEFAULT_REFRESH_MARGIN: Final = 60.0
DEFAULT_TOKEN_LIFETIME: Final = 15 * 60.0
DEFAULT_ABANDON_GRACE: Final = 10.0


class ClientOptions(TypedDict, total=False):
    """The keyword options of :class:`PlannerClient`, with their defaults.

    - ``base_url`` (``https://api.forwardplanner.com``): ``https://``, or ``http://`` to a
      loopback host; other plain-http hosts need ``allow_insecure_http=True``.
    - ``http_client`` (None): an ``httpx.AsyncClient`` (or ``httpx2.AsyncClient``) to share;
      never closed by us.
    - ``timeout`` (30 s, or the given ``http_client``'s own): seconds or an
      ``httpx.Timeout``, applied to every HTTP request.
    - ``max_retries`` (3) / ``retry`` (``RetryPolicy()``): how transient failures are retried.
    - ``max_wait`` (None: as long as it takes): seconds a call may wait for quota before
      :class:`QuotaWaitError`.
    - ``rate_limits`` (500/min, 3,000/h, 10,000/day) and ``auth_rate_limits`` (10/min):
      ``(max_requests, period_seconds)`` windows; ``[]`` for none.
    - ``refresh_margin`` (60 s): renew this long before the token expires.
    - ``token_lifetime`` (900 s): assumed when a token has no usable ``exp``.
    - ``clock`` (``time.time``): epoch seconds for token expiry; tests pass a ``ManualClock``.
    - ``sleep`` (``anyio.sleep``): what back-off waits with; tests pass ``clock.sleep``.
    - ``on_retry``, ``on_quota_wait``, ``on_pause``, ``on_token`` (None): hooks.
    - ``abandon_grace`` (10 s): how long a request given up in flight keeps its slot.
    - ``quota_store``, ``token_store`` (in memory): shared stores ("Extending").
    - ``allow_insecure_http`` (False).
    - ``redis_url`` (None): share the quota windows, the auth limit, the 429 cool-down and
      the token state with every client using the same Redis and ``redis_prefix``
      (default: a hash of ``base_url`` and username); needs ``planner-async[redis]`` and
      asyncio. ``redis_fallback_share`` (None: fail closed with
      :class:`StoreUnavailableError`): while Redis is unreachable, use this share of
      every window locally instead ("Many workers, one account" in the README).
    - ``max_response_bytes`` (16 MiB): a larger success body is refused while it streams
      (:class:`APIResponseValidationError`); redirects are never followed, and an answer
      must be complete within the read ``timeout`` of being sent.
    - ``priority`` (``"interactive"``): the quota lane of this client's calls;
      ``"batch"`` calls wait behind interactive ones and leave them
      ``interactive_reserve`` (0.2) of each window while interactive traffic is recent.
    - ``coalesce`` (True): concurrent identical reads share one request.
    - ``cache_ttl`` (None: off): seconds an event answer is reused, per account.
    """

    base_url: str
    http_client: httpx.AsyncClient | None  # or an httpx2.AsyncClient: see _httpx.AsyncHTTPClient
    timeout: float | httpx.Timeout | None
    max_retries: int | None
    retry: RetryPolicy | None
    max_wait: float | None
    rate_limits: Sequence[tuple[int, float]]
    auth_rate_limits: Sequence[tuple[int, float]]
    refresh_margin: float
    token_lifetime: float
    clock: Clock | None
    sleep: Callable[[float], Awaitable[object]] | None
    on_retry: Callable[[RetryDetails], object] | None
    on_quota_wait: Callable[[QuotaWaitDetails], object] | None
    on_pause: Callable[[PauseDetails], object] | None
    on_token: Callable[[TokenDetails], object] | None
    abandon_grace: float
    quota_store: QuotaStore | None
    token_store: TokenStore | None
    allow_insecure_http: bool
    redis_url: str | None
    redis_prefix: str | None
    redis_fallback_share: float | None
    max_response_bytes: int
    priority: Lane
    coalesce: bool
    cache_ttl: float | None
    interactive_reserve: float


CALL_OPTIONS: Final = frozenset(
    {"timeout", "max_retries", "retry", "max_wait", "sleep", "priority", "coalesce"}
    | {"on_retry", "on_quota_wait", "on_pause", "on_token"}
)
"""What ``with_options`` may change: a view shares the pool, the tokens and the quota."""


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: object, allow_insecure_http: bool) -> str:
    """An ``https://`` URL, or ``http://`` to a loopback host or with the explicit opt-in."""
    if not isinstance(base_url, str):
        raise TypeError(f"base_url must be a str, got {type(base_url).__name__}")
    url = httpx.URL(base_url)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
    if url.scheme == "http" and not allow_insecure_http and not _is_loopback(url.host):
        raise ValueError(
            f"base_url {base_url!r} is plain http: the API key would travel in clear. "
            "Use https://, or pass allow_insecure_http=True if you really mean it"
        )
    return base_url.rstrip("/")


def _timeout(value: float | httpx.Timeout | None) -> httpx.Timeout | None:
    if value is None or isinstance(value, httpx.Timeout):
        return value
    seconds = check_seconds("timeout", value, positive=True)
    return httpx.Timeout(seconds, connect=min(10.0, seconds))


def _positive_bytes(value: int) -> int:
    return check_int("max_response_bytes", value, low=1)


def _coalesce(value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"coalesce must be a bool, got {type(value).__name__}")
    return value


def _reserve(value: object) -> float:
    return check_number("interactive_reserve", value, low=0.0, high=1.0)


def _ttl(value: object) -> float | None:
    return None if value is None else check_seconds("cache_ttl", value, positive=True)


def check_redis_options(config: ClientConfig) -> None:
    """``redis_prefix`` and ``redis_fallback_share`` make sense, and only with ``redis_url``."""
    prefix, share = config.redis_prefix, config.redis_fallback_share
    if prefix is not None and (not isinstance(prefix, str) or not prefix):
        raise TypeError("redis_prefix must be a non-empty str")
    if share is not None and (isinstance(share, bool) or not isinstance(share, int | float)):
        raise TypeError(f"redis_fallback_share must be a number, got {type(share).__name__}")
    if share is not None and not 0 < share <= 1:
        raise ValueError(f"redis_fallback_share must be in (0, 1], got {share!r}")
    if config.redis_url is None and (prefix is not None or share is not None):
        raise TypeError("redis_prefix and redis_fallback_share need redis_url")
    if config.redis_url is not None and (config.quota_store, config.token_store) != (None, None):
        raise TypeError("give redis_url or quota_store/token_store, not both")


def _http_client(value: AsyncHTTPClient | None) -> httpx.AsyncClient | None:
    if value is not None and not isinstance(value, async_client_types()):
        raise TypeError(
            "http_client must be an httpx.AsyncClient or an httpx2.AsyncClient, "
            f"got {type(value).__name__}"
        )
    # httpx2's has the same API: the pipeline drives it as if it were httpx's.
    return cast("httpx.AsyncClient | None", value)


@attrs.frozen(kw_only=True)
class ClientConfig:
    """Every option of a client, checked, with its default (see :class:`ClientOptions`)."""

    base_url: str = DEFAULT_BASE_URL
    http_client: httpx.AsyncClient | None = attrs.field(default=None, converter=_http_client)
    timeout: httpx.Timeout | None = attrs.field(default=None, converter=_timeout)
    max_retries: int | None = None
    retry: RetryPolicy | None = None
    max_wait: float | None = attrs.field(default=None, converter=check_max_wait)
    rate_limits: Sequence[tuple[int, float]] = attrs.field(
        default=DEFAULT_RATE_LIMITS, converter=validate_limits
    )
    auth_rate_limits: Sequence[tuple[int, float]] = attrs.field(
        default=DEFAULT_AUTH_RATE_LIMITS, converter=validate_limits
    )
    refresh_margin: float = DEFAULT_REFRESH_MARGIN
    token_lifetime: float = DEFAULT_TOKEN_LIFETIME
    clock: Clock | None = None
    sleep: Callable[[float], Awaitable[object]] | None = None
    on_retry: Callable[[RetryDetails], object] | None = None
    on_quota_wait: Callable[[QuotaWaitDetails], object] | None = None
    on_pause: Callable[[PauseDetails], object] | None = None
    on_token: Callable[[TokenDetails], object] | None = None
    abandon_grace: float = DEFAULT_ABANDON_GRACE
    quota_store: QuotaStore | None = None
    token_store: TokenStore | None = None
    allow_insecure_http: bool = False
    redis_url: str | None = attrs.field(default=None, converter=check_redis_url)
    redis_prefix: str | None = None
    redis_fallback_share: float | None = None
    max_response_bytes: int = attrs.field(
        default=DEFAULT_MAX_RESPONSE_BYTES, converter=_positive_bytes
    )
    priority: Lane = attrs.field(default="interactive", converter=check_priority)
    coalesce: bool = attrs.field(default=True, converter=_coalesce)
    cache_ttl: float | None = attrs.field(default=None, converter=_ttl)
    interactive_reserve: float = attrs.field(
        default=DEFAULT_INTERACTIVE_RESERVE, converter=_reserve
    )

    def __attrs_post_init__(self) -> None:
        object.__setattr__(
            self, "base_url", check_base_url(self.base_url, self.allow_insecure_http)
        )
        check_seconds("refresh_margin", self.refresh_margin)
        check_seconds("token_lifetime", self.token_lifetime, positive=True)
        check_seconds("abandon_grace", self.abandon_grace)
        self.policy  # noqa: B018 - checks max_retries against the policy now
        if self.quota_store is not None and self.rate_limits != DEFAULT_RATE_LIMITS:
            raise TypeError("give rate_limits or quota_store, not both: the store has its limits")
        check_redis_options(self)

    @property
    def policy(self) -> RetryPolicy:
        """The retry policy: ``retry`` with ``max_retries`` applied."""
        policy = self.retry if self.retry is not None else RetryPolicy()
        if self.max_retries is not None:
            policy = attrs.evolve(policy, max_retries=self.max_retries)
        return policy

    @property
    def request_timeout(self) -> httpx.Timeout:
        """The timeout of the HTTP client we create (the given one, else 30 s)."""
        return self.timeout or httpx.Timeout(DEFAULT_TIMEOUT, connect=min(10.0, DEFAULT_TIMEOUT))

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        """Every keyword option, in the constructor's order."""
        return tuple(field.name for field in attrs.fields(cls))

    def limiter_options(self) -> dict[str, Any]:
        """Keywords for an in-memory :class:`QuotaLimiter`: ``abandon_grace``, and when
        ``sleep`` is given, ``clock`` and ``sleep`` too, so quota waits and 429 pauses run
        in the same (possibly virtual) time as the back-off.
        """
        options: dict[str, Any] = {"abandon_grace": self.abandon_grace}
        if self.sleep is not None:
            options["sleep"] = self.sleep
            options["clock"] = self.clock or time.monotonic
        return options

    def hooks(self) -> Hooks:
        """A :class:`Hooks` dispatcher for the ``on_*`` options."""
        return Hooks(
            on_retry=self.on_retry,
            on_quota_wait=self.on_quota_wait,
            on_pause=self.on_pause,
            on_token=self.on_token,
        )
