"""The request pipeline: every call the client makes goes through :class:`Pipeline`.

One attempt reads as its steps: take a permit (:meth:`Pipeline._take_permit`), attach
the token, send once, read the answer; then :meth:`Pipeline._decide` asks the pure
:meth:`RetryPolicy.decide` whether to try again. Two entry points: :meth:`Pipeline.api`
for the API (bearer token, the account's quota, the 401 rule) and :meth:`Pipeline.auth`
for login and renewal (no token, the auth endpoint's own limit, no redirects followed).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar

import anyio
import attrs
import cattrs
import httpx

from ._checks import check_max_wait, check_seconds
from ._clock import wall_clock
from ._config import ClientConfig
from ._exceptions import (
    APIResponseValidationError,
    DeadlineExceededError,
    PlannerError,
    error_from_response,
)
from ._hooks import Hooks, PauseDetails, QuotaWaitDetails
from ._limiter import Permit, QuotaLimiter
from ._otel import NO_CALL, CallSpan, Telemetry
from ._quota import RateHeaders
from ._retry import RetryDetails, parse_retry_after
from ._serialization import describe_structure_error
from ._wire import NOT_SENT, decode_json, send_once, transport_error

if TYPE_CHECKING:
    from ._auth import TokenManager

__all__ = ["DEFAULT_OPTIONS", "CallOptions", "Pipeline", "call_options"]

T = TypeVar("T")
API_PREFIX: Final = "/api/v2"


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset()
"""``max_wait`` not given for this call: the client's setting applies."""


@attrs.frozen
class CallOptions:
    """Per-call settings that override the client's for one call.

    ``timeout``: httpx timeout per HTTP request; ``max_wait``: seconds to wait for quota;
    ``deadline``: seconds for the whole call, quota waits, token and retries included.
    """

    timeout: httpx.Timeout | None = None
    max_wait: float | _Unset | None = UNSET
    deadline: float | None = None


DEFAULT_OPTIONS: Final = CallOptions()


def call_options(
    *, timeout: float | None = None, max_wait: float | None = None, deadline: float | None = None
) -> CallOptions:
    """Check per-call options (``None`` = the client's setting) and bundle them."""
    if timeout is None and max_wait is None and deadline is None:
        return DEFAULT_OPTIONS
    return CallOptions(
        timeout=None if timeout is None else httpx.Timeout(check_seconds("timeout", timeout)),
        max_wait=UNSET if max_wait is None else check_max_wait(max_wait),
        deadline=None if deadline is None else check_seconds("deadline", deadline, positive=True),
    )


@attrs.define(slots=True)
class Counts:
    """What a pipeline (and its views) sent: requests, retries, 429s received."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0


@attrs.define(slots=True)
class _Call:
    """One call in progress: what to send and what the attempts so far have learnt."""

    method: str
    path: str
    params: Mapping[str, Any] | None
    json: Any
    api: bool
    options: CallOptions
    attempt: int = 0
    renewed_for: str | None = None  # the token this call last renewed after a 401
    renewed_at: int = -1  # ... and the attempt it was on then
    span: CallSpan = NO_CALL  # OpenTelemetry: this call's span (a no-op without a provider)


@attrs.define(slots=True)
class _Sent:
    """What one attempt brought back: a response, or the error that stood in for one."""

    response: httpx.Response | None
    error: PlannerError | None
    token: str | None


class Pipeline:
    """Sends calls through quota, token, retry and error handling; see the module docstring.

    Built and owned by :class:`PlannerClient`; ``check_usable`` is the client's closed /
    event-loop check, ``secrets`` returns what to redact.
    """

    __slots__ = (
        "_auth_limiter",
        "_base_url",
        "_check_usable",
        "_config",
        "_hooks",
        "_http",
        "_limiter",
        "_max_bytes",
        "_max_wait",
        "_retry",
        "_secrets",
        "_sleep",
        "_telemetry",
        "_timeout",
        "counts",
        "tokens",
    )

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        limiter: QuotaLimiter,
        auth_limiter: QuotaLimiter,
        config: ClientConfig,
        secrets: Callable[[], tuple[str | None, ...]],
        check_usable: Callable[[], None],
    ) -> None:
        self._http = http
        self._limiter = limiter
        self._auth_limiter = auth_limiter
        self._config = config
        self._base_url = config.base_url + API_PREFIX
        self._max_bytes = config.max_response_bytes
        self._retry = config.policy
        self._max_wait = config.max_wait
        self._hooks = config.hooks()
        self._timeout = config.timeout
        self._sleep = anyio.sleep if config.sleep is None else config.sleep
        self._secrets = secrets
        self._check_usable = check_usable
        self._telemetry = Telemetry.create(config.base_url)
        self.tokens: TokenManager | None = None  # set by the client right after
        self.counts = Counts()

    @property
    def limiter(self) -> QuotaLimiter:
        """The account's quota limiter (the auth endpoint has its own)."""
        return self._limiter

    @property
    def hooks(self) -> Hooks:
        """Where this pipeline reports retries, quota waits, pauses and tokens."""
        return self._hooks

    def view(self, config: ClientConfig, check_usable: Callable[[], None]) -> Pipeline:
        """A pipeline with ``config``'s call settings sharing this one's pool, quota, tokens
        and counters (for ``with_options``)."""
        view = Pipeline(
            http=self._http,
            limiter=self._limiter,
            auth_limiter=self._auth_limiter,
            config=config,
            secrets=self._secrets,
            check_usable=check_usable,
        )
        view.tokens = self.tokens
        view.counts = self.counts
        return view

    # -- entry points ------------------------------------------------------------------------

    async def api(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        options: CallOptions = DEFAULT_OPTIONS,
    ) -> Any:
        """Send one API call (bearer token, account quota, the 401 rule); return its JSON."""
        self._check_usable()
        call = _Call(method, path, params, None, True, options)
        if options.deadline is None:
            return await self._run(call)
        with anyio.move_on_after(options.deadline):
            return await self._run(call)
        raise DeadlineExceededError(
            f"{method} {path} did not finish within its deadline of {options.deadline:g} s",
            deadline=options.deadline,
        )

    async def auth(self, path: str, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        """Send one auth call (no token, the auth limit, no redirects); return its object."""
        self._check_usable()
        data = await self._run(_Call("POST", path, None, payload, False, DEFAULT_OPTIONS))
        if not isinstance(data, dict):
            raise APIResponseValidationError(f"expected a JSON object, got {type(data).__name__}")
        return data

    @staticmethod
    def structured(structure: Callable[[Any], T], data: Any) -> T:
        """Structure wire JSON, turning a shape mismatch into APIResponseValidationError."""
        try:
            return structure(data)
        except (cattrs.BaseValidationError, TypeError, ValueError, RecursionError) as exc:
            raise APIResponseValidationError(
                f"answer does not fit the model: {describe_structure_error(exc)}"
            ) from exc

    # -- the loop ----------------------------------------------------------------------------

    async def _run(self, call: _Call) -> Any:
        with self._telemetry.call(call.method, call.path) as call.span:
            return await self._attempts(call)

    async def _attempts(self, call: _Call) -> Any:
        while True:
            sent = await self._take_permit(call)
            response = sent.response
            if response is not None and self._must_renew(call, response, sent.token):
                assert self.tokens is not None
                assert sent.token is not None
                await self.tokens.renew_rejected(sent.token)
                continue
            if response is None:
                assert sent.error is not None
                await self._decide(call, sent.error, None, None)
                continue
            if response.is_success:
                try:
                    return decode_json(response)
                except APIResponseValidationError as exc:
                    await self._decide(call, exc, response, None)
                    continue
            await self._read_error(call, response)

    async def _read_error(self, call: _Call, response: httpx.Response) -> None:
        """Read an error answer, then wait to retry it or raise it."""
        retry_after = parse_retry_after(response.headers.get("retry-after"), now=wall_clock())
        error = error_from_response(response, retry_after=retry_after, secrets=self._secrets())
        await self._decide(call, error, response, retry_after)

    def _must_renew(self, call: _Call, response: httpx.Response, token: str | None) -> bool:
        """The 401 rule: an API call answered 401 renews its token and is resent, once.

        The answer to that resend is final if it is a 401 too. Only after a retry in
        between (a 429, a 5xx, a drop) may a 401 for a newer token, revoked meanwhile,
        renew again: so renewals per call stay bounded by its retries.
        """
        if response.status_code != 401 or not call.api or token is None:
            return False
        if call.renewed_for is not None and (
            token == call.renewed_for or call.attempt == call.renewed_at
        ):
            return False
        call.renewed_for, call.renewed_at = token, call.attempt
        return True

    # -- one attempt, step by step -----------------------------------------------------------

    async def _take_permit(self, call: _Call) -> _Sent:
        limiter = self._limiter if call.api else self._auth_limiter
        max_wait = call.options.max_wait
        if isinstance(max_wait, _Unset):
            max_wait = self._max_wait
        async with limiter.acquire(max_wait=max_wait) as permit:
            if permit.waited > 0:
                self._hooks.quota_wait(
                    QuotaWaitDetails(permit.waited, "api" if call.api else "auth")
                )
            token = await self._attach_token(call, permit)
            return await self._send_once(call, permit, token, limiter)

    async def _attach_token(self, call: _Call, permit: Permit) -> str | None:
        """The bearer token for an API call; if getting it fails, nothing was sent."""
        if not call.api:
            return None
        assert self.tokens is not None
        try:
            return await self.tokens.token()
        except BaseException:
            permit.discard()
            raise

    def _timeout_of(self, call: _Call) -> httpx.Timeout | None:
        return call.options.timeout or self._timeout

    def _deadline(self, call: _Call) -> float | None:
        """Seconds the whole answer may take once sent: the read timeout, counted once."""
        timeout = self._timeout_of(call) or self._http.timeout
        return timeout.read

    def _build(self, call: _Call, token: str | None) -> httpx.Request:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else None
        timeout = self._timeout_of(call)
        return self._http.build_request(
            call.method,
            self._base_url + call.path,
            params=call.params,
            json=call.json,
            headers=headers,
            timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
        )

    async def _send_once(
        self, call: _Call, permit: Permit, token: str | None, limiter: QuotaLimiter
    ) -> _Sent:
        try:
            request = self._build(call, token)
        except BaseException:
            permit.discard()  # it could not even be built: nothing was sent
            raise
        self.counts.requests += 1
        try:
            with call.span.attempt(call.attempt, permit.waited) as attempt:
                response = await send_once(
                    self._http, request, max_bytes=self._max_bytes, deadline=self._deadline(call)
                )
                attempt.answered(response)
        except APIResponseValidationError:
            permit.complete()  # answered, but larger than the cap: final, not worth a retry
            raise
        except NOT_SENT as exc:
            permit.discard()  # no connection, so nothing reached the server
            return _Sent(None, transport_error(exc, request), token)
        except httpx.TransportError as exc:
            # It may have reached the server, and may yet be stamped there: the slot is
            # held for a grace period on top of the window.
            permit.abandon()
            return _Sent(None, transport_error(exc, request), token)
        except httpx.DecodingError as exc:
            error = APIResponseValidationError(f"undecodable response ({type(exc).__name__})")
            return _Sent(None, error, token)
        permit.complete()
        headers = RateHeaders.from_raw(response.headers.raw)
        if headers is not None:
            await limiter.report_headers(headers)
        return _Sent(response, None, token)

    async def _decide(
        self,
        call: _Call,
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
        self, call: _Call, status: int | None, retry_after: float | None, wait: float | None
    ) -> bool:
        """The server's word holds for every request of this client: a 429 (or a 503 with
        ``Retry-After``) pauses them all, unless the pause is longer than the policy allows.
        """
        if status != 429 and not (status == 503 and retry_after is not None):
            return False
        seconds = retry_after if retry_after is not None else wait
        if seconds is None:
            seconds = self._retry.wait(call.attempt)
        if not math.isfinite(seconds) or seconds > self._retry.max_retry_after:
            return False  # fail fast instead of stalling the whole client
        limiter = self._limiter if call.api else self._auth_limiter
        await limiter.report_pause(seconds)
        self._hooks.pause(PauseDetails(seconds, retry_after, status))
        return wait is not None
