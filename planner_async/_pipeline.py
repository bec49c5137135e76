"""The sender: every request goes permit → credentials → send once → read → decide.

One attempt reads as its steps: take a permit from the sender's limiter
(:meth:`Sender._take_permit`), attach what its :class:`Credentials` give, send once and
read the answer; then :meth:`Sender._decide` asks the pure :meth:`RetryPolicy.decide`
whether to try again. Login and renewal use a sender with :class:`NoCredentials` and the
auth endpoint's limiter; the API uses one with :class:`TokenCredentials` (the bearer token
and the 401 rule), wrapped by :class:`~planner_async._api.ApiCaller`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final, Literal, Protocol

import anyio
import httpx

from ._auth import TokenManager
from ._call import Call, Counts, Unset
from ._clock import wall_clock
from ._config import ClientConfig
from ._exceptions import APIResponseValidationError, PlannerError, error_from_response
from ._hooks import Hooks, PauseDetails, QuotaWaitDetails
from ._httpx import http_errors, timeout_tuple
from ._lanes import Lane
from ._limiter import Permit, QuotaLimiter
from ._otel import NO_CALL, Telemetry
from ._quota import RateHeaders
from ._retry import RetryDetails, parse_retry_after
from ._wire import decode_json, send_once, transport_error

__all__ = ["API_PREFIX", "Credentials", "NoCredentials", "Sender", "TokenCredentials"]

API_PREFIX: Final = "/api/v2"


class Credentials(Protocol):
    """What a sender attaches to a request, and what it does when that is refused."""

    label: Literal["api", "auth"]  # names the limiter in quota-wait hooks

    def token(self) -> Awaitable[str | None]:
        """The bearer token to send, or None (awaited); if this raises, nothing was sent."""

    async def refused(self, call: Call, response: httpx.Response, token: str | None) -> bool:
        """True when ``response`` means: renew the credentials and resend at once."""


class NoCredentials:
    """Login and renewal: no token, and a 401 is final."""

    label: Literal["api", "auth"] = "auth"

    async def token(self) -> str | None:
        return None

    async def refused(self, call: Call, response: httpx.Response, token: str | None) -> bool:
        return False


class TokenCredentials:
    """API calls: the bearer token of a :class:`TokenManager`, and the 401 rule."""

    __slots__ = ("tokens",)
    label: Literal["api", "auth"] = "api"

    def __init__(self, tokens: TokenManager) -> None:
        self.tokens = tokens

    def token(self) -> Awaitable[str | None]:
        """The manager's token (its own coroutine, not one more around it)."""
        return self.tokens.token()

    async def refused(self, call: Call, response: httpx.Response, token: str | None) -> bool:
        """The 401 rule: an API call answered 401 renews its token and is resent, once.

        The answer to that resend is final if it is a 401 too. Only after a retry in
        between (a 429, a 5xx, a drop) may a 401 for a newer token, revoked meanwhile,
        renew again: so renewals per call stay bounded by its retries.
        """
        if response.status_code != 401 or token is None:
            return False
        if call.renewed_for is not None and (
            token == call.renewed_for or call.attempt == call.renewed_at
        ):
            return False
        call.renewed_for, call.renewed_at = token, call.attempt
        await self.tokens.renew_rejected(token)
        return True


_TIMEOUT_KEYS: Final = ("connect", "read", "write", "pool")


def _timeout_extension(timeout: httpx.Timeout) -> dict[str, float | None]:
    """``timeout`` as the request extension httpx (or httpx2) hands its transport."""
    return dict(zip(_TIMEOUT_KEYS, timeout_tuple(timeout), strict=True))


_Sent = tuple[httpx.Response | None, PlannerError | None, str | None]
"""What one attempt brought back: a response, or the error that stood in for one; the token."""


class Sender:
    """Sends calls through quota, credentials, retry and error handling (module docstring).

    Built from the client's resources; ``secrets`` returns what to redact; ``counts`` is
    shared by a client and its views.
    """

    __slots__ = (
        "_base_url",
        "_credentials",
        "_hooks",
        "_http",
        "_limiter",
        "_max_bytes",
        "_max_wait",
        "_priority",
        "_retry",
        "_secrets",
        "_sleep",
        "_telemetry",
        "_timeout",
        "_timeouts",
        "counts",
    )

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        limiter: QuotaLimiter,
        credentials: Credentials,
        config: ClientConfig,
        counts: Counts,
        secrets: Callable[[], tuple[str | None, ...]],
    ) -> None:
        self._http = http
        self._limiter = limiter
        self._credentials = credentials
        self._base_url = config.base_url + API_PREFIX
        self._max_bytes = config.max_response_bytes
        self._retry = config.policy
        self._max_wait = config.max_wait
        self._priority = config.priority
        self._hooks = config.hooks()
        self._timeout = config.timeout
        self._sleep = anyio.sleep if config.sleep is None else config.sleep
        self._secrets = secrets
        self._telemetry = Telemetry.create(config.base_url, lane=config.priority)
        self._timeouts: tuple[httpx.Timeout | None, dict[str, float | None]] = (None, {})
        self.counts = counts

    @property
    def limiter(self) -> QuotaLimiter:
        """The limiter this sender takes its permits from."""
        return self._limiter

    @property
    def priority(self) -> Lane:
        """The lane of this sender's calls when a call does not say."""
        return self._priority

    @property
    def hooks(self) -> Hooks:
        """Where this sender reports retries, quota waits, pauses and tokens."""
        return self._hooks

    async def ready(self) -> None:
        """Get the credentials' token now (no request of the API is sent)."""
        await self._credentials.token()

    async def send(self, call: Call) -> Any:
        """Run ``call`` to its JSON answer, retrying what the policy allows."""
        span = self._telemetry.call(call.method, call.path)
        if span is NO_CALL:  # no tracer provider: nothing to enter
            return await self._attempts(call)
        with span as call.span:
            return await self._attempts(call)

    async def _attempts(self, call: Call) -> Any:
        """One attempt after another until an answer, or an error the policy calls final."""
        while True:
            response, error, token = await self._attempt(call)
            if response is None:
                assert error is not None
                await self._decide(call, error, None, None)
                continue
            if response.is_success:  # never refused: the credentials' rule is about a 401
                try:
                    return decode_json(response)
                except APIResponseValidationError as exc:
                    await self._decide(call, exc, response, None)
                    continue
            if await self._credentials.refused(call, response, token):
                continue
            await self._read_error(call, response)

    async def _read_error(self, call: Call, response: httpx.Response) -> None:
        """Read an error answer, then wait to retry it or raise it."""
        retry_after = parse_retry_after(response.headers.get("retry-after"), now=wall_clock())
        error = error_from_response(response, retry_after=retry_after, secrets=self._secrets())
        await self._decide(call, error, response, retry_after)

    async def _attempt(self, call: Call) -> _Sent:
        """Take a permit, attach the credentials, send once: the answer or the error."""
        options = call.options
        max_wait = options.max_wait
        if isinstance(max_wait, Unset):
            max_wait = self._max_wait
        lane = options.priority or self._priority
        async with self._limiter.acquire(max_wait=max_wait, lane=lane) as permit:
            if permit.waited > 0:
                self._hooks.quota_wait(QuotaWaitDetails(permit.waited, self._credentials.label))
            try:
                token = await self._credentials.token()
            except BaseException:
                permit.discard()  # no token: nothing was sent
                raise
            return await self._send_once(call, permit, token)

    def _timeout_of(self, call: Call) -> tuple[httpx.Timeout, dict[str, float | None]]:
        """The call's timeout and its request extension (the client's own, kept once made)."""
        timeout = call.options.timeout or self._timeout or self._http.timeout
        made, extension = self._timeouts
        if timeout is not made:
            extension = _timeout_extension(timeout)
            if call.options.timeout is None:
                self._timeouts = (timeout, extension)
        return timeout, extension

    def _build(self, call: Call, token: str | None) -> tuple[httpx.Request, float | None]:
        """The request, and the seconds its whole answer may take (the read timeout)."""
        timeout, extension = self._timeout_of(call)
        request = self._http.build_request(
            call.method,
            self._base_url + call.path,
            params=call.params,
            json=call.json,
            extensions={"timeout": dict(extension)},  # read by httpx's and httpx2's transports
        )
        if token is not None:  # set on the built request: cheaper than merging headers
            request.headers["Authorization"] = f"Bearer {token}"
        return request, timeout.read

    async def _send_once(self, call: Call, permit: Permit, token: str | None) -> _Sent:
        try:
            request, deadline = self._build(call, token)
        except BaseException:
            permit.discard()  # it could not even be built: nothing was sent
            raise
        self.counts.requests += 1
        errors = http_errors()  # httpx's classes, and httpx2's when it is loaded
        try:
            with call.span.attempt(call.attempt, permit.waited) as attempt:
                response = await send_once(
                    self._http, request, max_bytes=self._max_bytes, deadline=deadline
                )
                attempt.answered(response)
        except APIResponseValidationError:
            permit.complete()  # answered, but larger than the cap: final, not worth a retry
            raise
        except errors.not_sent as exc:
            permit.discard()  # no connection, so nothing reached the server
            return None, transport_error(exc, request), token
        except errors.transport as exc:
            # It may have reached the server, and may yet be stamped there: the slot is
            # held for a grace period on top of the window.
            permit.abandon()
            return None, transport_error(exc, request), token
        except errors.decoding as exc:
            error = APIResponseValidationError(f"undecodable response ({type(exc).__name__})")
            return None, error, token
        permit.complete()
        if response.headers.get_list("x-rate-limit-remaining"):  # else nothing to adopt
            headers = RateHeaders.from_raw(response.headers.raw)
            if headers is not None:
                await self._limiter.observe(headers, since=permit.taken_at)
        return response, None, token

    async def _decide(
        self,
        call: Call,
        error: PlannerError,
        response: httpx.Response | None,
        retry_after: float | None,
    ) -> None:
        """Wait before the next attempt, or raise ``error`` when it is final."""
        status = response.status_code if response is not None else None
        if status == 429:
            self.counts.rate_limited += 1
        wait = self._retry.decide(error, call.attempt, retry_after=retry_after)
        paused = await self._pause_for(call, status, retry_after, wait)
        if wait is None:
            raise error
        call.attempt += 1
        self.counts.retries += 1
        self._hooks.retry(
            RetryDetails(call.method, call.path, call.attempt, wait, str(error), caused_by=error)
        )
        if not paused:
            await self._sleep(wait)
        # else: the wait is the limiter's shared cool-down, taken on the next acquire.

    async def _pause_for(
        self, call: Call, status: int | None, retry_after: float | None, wait: float | None
    ) -> bool:
        """Share the server's cool-down with every request of this client (the policy says
        how long); True when the retry's wait is that cool-down."""
        seconds = self._retry.cool_down(status, retry_after, wait, call.attempt)
        if seconds is None or status is None:
            return False  # none, or longer than allowed: fail fast, do not stall the client
        await self._limiter.pause(seconds)
        self._hooks.pause(PauseDetails(seconds, retry_after, status))
        return wait is not None
