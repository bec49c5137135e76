"""``PlannerClient``: one shared ``httpx.AsyncClient`` with tokens, quotas and retries.

Every call goes the same way: take a quota permit, take a token, send, then read the
answer: a 401 renews once and tries again; a 429 pauses the whole client for its
``Retry-After``; 5xx, cut bodies and transport failures back off and try again.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from types import TracebackType
from typing import Any, Final, Self, TypeVar

import anyio
import anyio.lowlevel
import attrs
import cattrs
import httpx

from ._auth import DEFAULT_TOKEN_LIFETIME, TokenManager
from ._checks import check_seconds
from ._clock import Clock, wall_clock
from ._exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    PlannerError,
    error_from_response,
)
from ._limiter import QuotaLimiter, RateLimitStatus
from ._models import Event, EventPage, Session
from ._pagination import EventIterator
from ._params import Sort, check_event_id, list_params
from ._retry import RetryDetails, RetryPolicy, parse_retry_after
from ._serialization import describe_structure_error, structure_event, structure_page

__all__ = [
    "DEFAULT_AUTH_RATE_LIMITS",
    "DEFAULT_BASE_URL",
    "DEFAULT_RATE_LIMITS",
    "ClientStats",
    "Events",
    "PlannerClient",
]

log = logging.getLogger("planner_async")

DEFAULT_BASE_URL: Final = "https://api.forwardplanner.com"
DEFAULT_RATE_LIMITS: Final = ((500, 60.0), (3000, 3600.0), (10000, 86400.0))
DEFAULT_AUTH_RATE_LIMITS: Final = ((10, 60.0),)
_API_PREFIX: Final = "/api/v2"
_USER_AGENT: Final = "planner-async/0.1.0"

T = TypeVar("T")


class _NotGiven:
    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Final = _NotGiven()


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
    return anyio.lowlevel.current_token().native_token


def _header_number(headers: httpx.Headers, name: str) -> float | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


class Events:
    """The events endpoints: ``client.events.get(id)`` and ``client.events.list(...)``."""

    __slots__ = ("_client",)

    def __init__(self, client: PlannerClient) -> None:
        self._client = client

    async def get(self, event_id: int) -> Event:
        """Fetch one event by id.

        Raises :class:`NotFoundError` for an unknown id and :class:`PermissionDeniedError`
        for an event the account may not see.
        """
        event_id = check_event_id(event_id)
        data = await self._client._call("GET", f"/events/{event_id}")
        return _structured(structure_event, data)

    def list(
        self,
        *,
        start: date | datetime | None = None,
        end: date | datetime | None = None,
        query: str | None = None,
        categories: Sequence[str] | None = None,
        country: str | None = None,
        updated_since: datetime | None = None,
        sort: Sort = "startDate",
        page_size: int = 200,
    ) -> EventIterator:
        """Iterate over matching events, page by page; arguments are checked at once.

        ``start``/``end`` take dates or timezone-aware datetimes (events ending on or
        after ``start`` and starting on or before ``end``). ``page_size`` defaults to the
        contract's maximum, 200, to spend as few requests of the quota as possible.

        >>> async for event in client.events.list(start=date(2026, 12, 1),  # doctest: +SKIP
        ...                                       categories=["Politics"]):
        ...     print(event.title)
        """
        params = list_params(
            start=start,
            end=end,
            query=query,
            categories=categories,
            country=country,
            updated_since=updated_since,
            sort=sort,
            page_size=page_size,
        )
        return EventIterator(self._client._fetch_page, params, page_size)


class PlannerClient:
    """Async client for the Forward Planner API v2.

    >>> async with PlannerClient("me", "my-api-key") as client:   # doctest: +SKIP
    ...     async for event in client.events.list(query="budget"):
    ...         print(event.title)

    Logs in lazily, renews tokens before they expire, keeps under every quota window,
    and retries transient failures. Construction needs no running event loop; a client
    belongs to the first event loop that uses it.

    Settings beyond the obvious: ``http_client`` (shared, never closed by us),
    ``refresh_margin`` (renew this many seconds before expiry), ``rate_limits`` and
    ``auth_rate_limits`` (``(max_requests, period_seconds)`` windows; ``[]`` for none),
    ``max_wait`` (seconds a call may wait for quota before ``RateLimitError``), ``retry``
    (a :class:`RetryPolicy`; ``max_retries`` overrides its count), ``clock`` (epoch
    seconds for token expiry; tests pass a ``ManualClock``), ``token_lifetime`` (assumed
    when a token has no ``exp``), ``on_retry`` (called with a :class:`RetryDetails`
    before each retry).
    """

    def __init__(
        self,
        username: str,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        http_client: httpx.AsyncClient | None = None,
        timeout: float | httpx.Timeout = 30.0,
        max_retries: int | _NotGiven = NOT_GIVEN,
        refresh_margin: float = 60.0,
        rate_limits: Sequence[tuple[int, float]] = DEFAULT_RATE_LIMITS,
        max_wait: float | None = None,
        auth_rate_limits: Sequence[tuple[int, float]] = DEFAULT_AUTH_RATE_LIMITS,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        token_lifetime: float = DEFAULT_TOKEN_LIFETIME,
        on_retry: Callable[[RetryDetails], object] | None = None,
    ) -> None:
        for name, value in (("username", username), ("api_key", api_key)):
            if not isinstance(value, str):
                raise TypeError(f"{name} must be a str, got {type(value).__name__}")
            if not value.strip():
                raise ValueError(f"{name} must not be empty")
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            raise TypeError(
                f"http_client must be an httpx.AsyncClient, got {type(http_client).__name__}"
            )
        check_seconds("refresh_margin", refresh_margin)
        check_seconds("token_lifetime", token_lifetime, positive=True)
        if max_wait is not None:
            check_seconds("max_wait", max_wait)
        policy = retry if retry is not None else RetryPolicy()
        if not isinstance(max_retries, _NotGiven):
            policy = attrs.evolve(policy, max_retries=max_retries)
        if isinstance(timeout, httpx.Timeout):
            self._timeout = timeout
        else:
            check_seconds("timeout", timeout, positive=True)
            self._timeout = httpx.Timeout(timeout, connect=min(10.0, timeout))

        self._username = username
        self._api_key = api_key
        self._base_url = base_url.rstrip("/")
        self._retry = policy
        self._max_wait = max_wait
        self._on_retry = on_retry
        self._limiter = QuotaLimiter(rate_limits)
        self._auth_limiter = QuotaLimiter(auth_rate_limits)
        self._tokens = TokenManager(
            login=self._login,
            renew=self._renew,
            clock=clock if clock is not None else wall_clock,
            refresh_margin=refresh_margin,
            default_lifetime=token_lifetime,
        )
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else self._make_http_client()
        self._loop: object | None = None
        self._closed = False
        self._requests = 0
        self._retries = 0
        self._rate_limited = 0
        self.events = Events(self)

    @classmethod
    def from_env(cls, **kwargs: Any) -> Self:
        """Build a client from ``PLANNER_USERNAME``, ``PLANNER_API_KEY``, ``PLANNER_BASE_URL``.

        Keyword arguments are passed on to the constructor.
        """
        missing = [
            name for name in ("PLANNER_USERNAME", "PLANNER_API_KEY") if not os.environ.get(name)
        ]
        if missing:
            raise ValueError(f"missing environment variable(s): {', '.join(missing)}")
        base_url = os.environ.get("PLANNER_BASE_URL")
        if base_url:
            kwargs.setdefault("base_url", base_url)
        return cls(os.environ["PLANNER_USERNAME"], os.environ["PLANNER_API_KEY"], **kwargs)

    def _make_http_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=self._timeout,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            headers={"User-Agent": _USER_AGENT},
        )

    def __repr__(self) -> str:
        return f"PlannerClient(username={self._username!r}, base_url={self._base_url!r})"

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

    @property
    def rate_limit(self) -> RateLimitStatus:
        """A snapshot of the quota: per window its limit, use, remaining and next free slot."""
        return self._limiter.status

    @property
    def session(self) -> Session | None:
        """The current session, or None before the first login."""
        return self._tokens.session

    @property
    def stats(self) -> ClientStats:
        """Counters: HTTP requests sent, retries, 429s received, logins, renewals."""
        return ClientStats(
            requests=self._requests,
            retries=self._retries,
            rate_limited=self._rate_limited,
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
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError(
                "this PlannerClient was first used on another event loop; a client (and its "
                "connection pool) belongs to one loop: create one client per event loop"
            )

    async def _login(self) -> Mapping[str, Any]:
        payload = {"username": self._username, "password": self._api_key}
        return _json_object(await self._call("POST", "/auth", json=payload, authorize=False))

    async def _renew(self, refresh_token: str) -> Mapping[str, Any]:
        payload = {"refreshToken": refresh_token}
        return _json_object(await self._call("POST", "/auth/renew", json=payload, authorize=False))

    async def _fetch_page(self, params: Mapping[str, Any]) -> EventPage:
        data = await self._call("GET", "/events", params=params)
        return _structured(structure_page, data)

    def _secrets(self) -> tuple[str | None, ...]:
        return (self._api_key, *self._tokens.secrets)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        authorize: bool = True,
    ) -> Any:
        """Send one API call through quota, token, retry and error handling; return its JSON."""
        self._check_usable()
        limiter = self._limiter if authorize else self._auth_limiter
        url = f"{self._base_url}{_API_PREFIX}{path}"
        attempt = 0
        reauthorized = False
        while True:
            token: str | None = None
            response: httpx.Response | None = None
            error: PlannerError
            cooldown: float | None = None  # a 429's shared pause
            async with limiter.acquire(max_wait=self._max_wait) as permit:
                if authorize:
                    try:
                        token = await self._tokens.token()
                    except BaseException:
                        permit.discard()  # nothing was sent: give the slot back
                        raise
                headers = {"Authorization": f"Bearer {token}"} if token else None
                request = self._http.build_request(
                    method, url, params=params, json=json, headers=headers
                )
                self._requests += 1
                try:
                    response = await self._http.send(request)
                except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                    permit.discard()  # no connection, so nothing reached the server
                    error = _transport_error(exc, request)
                except httpx.TransportError as exc:
                    # It may have reached the server, and may yet be stamped there: the
                    # slot is held for a grace period on top of the window.
                    permit.abandon()
                    error = _transport_error(exc, request)
                except httpx.DecodingError as exc:
                    error = APIResponseValidationError(f"undecodable response ({exc})")

            if response is not None:
                self._observe_headers(limiter, response)
                status = response.status_code
                if status == 401 and authorize and not reauthorized:
                    reauthorized = True
                    assert token is not None
                    await self._tokens.replace(token)
                    continue
                if response.is_success:
                    try:
                        return response.json()
                    except ValueError:
                        error = APIResponseValidationError(
                            f"{status} answer is not valid JSON ({len(response.content)} bytes)",
                            response=response,
                        )
                else:
                    retry_after = parse_retry_after(
                        response.headers.get("retry-after"), now=wall_clock()
                    )
                    error = error_from_response(
                        response, retry_after=retry_after, secrets=self._secrets()
                    )
                    if status == 429:
                        # The server's word holds for every request of this client: pause
                        # them all, for Retry-After or, when it is missing, one backoff.
                        self._rate_limited += 1
                        cooldown = (
                            retry_after if retry_after is not None else self._retry.wait(attempt)
                        )
                        limiter.pause(cooldown)

            wait = self._retry_wait(error, attempt, cooldown)
            if wait is None:
                raise error
            attempt += 1
            self._retries += 1
            log.info("retry %d of %s %s in %.2f s: %s", attempt, method, path, wait, error)
            if self._on_retry is not None:
                self._on_retry(RetryDetails(method, path, attempt, wait, str(error)))
            if cooldown is None:
                await anyio.sleep(wait)
            # else: the wait is the limiter's shared cool-down, taken on the next acquire.

    def _retry_wait(
        self, error: PlannerError, attempt: int, cooldown: float | None
    ) -> float | None:
        """Seconds to wait before trying again, or None when ``error`` is final."""
        policy = self._retry
        if attempt >= policy.max_retries:
            return None
        if isinstance(error, APIStatusError):
            if isinstance(error, AuthenticationError) or not policy.should_retry_status(
                error.status_code
            ):
                return None
            if cooldown is not None:
                return cooldown if cooldown <= policy.max_retry_after else None
            return policy.wait(attempt)
        if isinstance(error, APIConnectionError | APIResponseValidationError):
            return policy.wait(attempt)
        return None

    @staticmethod
    def _observe_headers(limiter: QuotaLimiter, response: httpx.Response) -> None:
        headers = response.headers
        remaining = _header_number(headers, "x-rate-limit-remaining")
        if remaining is None:
            return
        limit = _header_number(headers, "x-rate-limit-limit")
        limiter.observe(
            limit=int(limit) if limit is not None else None,
            remaining=int(remaining),
            reset=_header_number(headers, "x-rate-limit-reset"),
        )


def _transport_error(exc: httpx.TransportError, request: httpx.Request) -> APIConnectionError:
    """The public error for an httpx transport failure (never carrying headers or bodies)."""
    kind = type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"request timed out ({kind})", request=request)
    return APIConnectionError(f"connection error ({kind})", request=request)


def _structured(structure: Callable[[Any], T], data: Any) -> T:
    """Structure wire JSON, turning a shape mismatch into APIResponseValidationError."""
    try:
        return structure(data)
    except (cattrs.BaseValidationError, TypeError, ValueError) as exc:
        raise APIResponseValidationError(
            f"answer does not fit the model: {describe_structure_error(exc)}"
        ) from exc


def _json_object(data: Any) -> Mapping[str, Any]:
    if not isinstance(data, dict):
        raise APIResponseValidationError(f"expected a JSON object, got {type(data).__name__}")
    return data
