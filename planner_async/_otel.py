"""OpenTelemetry: a span per client call, a child span per attempt, and a few metrics.

Nothing here imports OpenTelemetry. A :class:`Telemetry` (one per pipeline) looks whether
``opentelemetry.trace`` has been imported and a global tracer provider set, on its first
call and then at most once a second; until one is, every call gets the shared no-op span
(the cost: an attribute read and a clock reading, ~0.4 µs a call with its attempts). Once a
provider is seen it builds its tracer and instruments and keeps them.

With a provider, a call such as ``client.events.get(7)`` gives::

    planner events.get             INTERNAL  planner.operation, planner.lane, planner.retries,
    │                                        planner.quota_wait, http.response.status_code,
    │                                        planner.rate_limit.remaining, error.type
    └── GET /events/{id}           CLIENT    http.request.method, url.template, server.address,
                                             http.request.resend_count, planner.quota_wait,
                                             http.response.status_code, planner.rate_limit.*

Metrics (meter ``planner_async``): ``planner.requests`` (HTTP requests sent),
``planner.rate_limited`` (429 answers), ``planner.retries``, ``planner.quota.wait``
(seconds waited for a permit, a histogram) and ``planner.quota.used`` (the server's count
of used requests in its tightest window, a gauge). No attribute ever holds a secret: no
header, body or query value is recorded, and exception texts are redacted.
"""

from __future__ import annotations

import sys
import time
import traceback
from types import TracebackType
from typing import Any, Final

import httpx

from ._quota import RateHeaders
from ._redact import redact

__all__ = ["DEFAULT_LANE", "NO_CALL", "CallSpan", "Telemetry", "operation"]

DEFAULT_LANE: Final = "interactive"
"""The lane a call is recorded in (the only one until priority lanes exist)."""
_SCOPE: Final = "planner_async"
_LOOK_EVERY = 1.0  # seconds between two looks for a tracer provider while none is set

_OPERATIONS: Final = {
    ("GET", "events", False): ("events.list", "/events"),
    ("GET", "events", True): ("events.get", "/events/{id}"),
    ("POST", "auth", False): ("auth.login", "/auth"),
    ("POST", "auth", True): ("auth.renew", "/auth/renew"),
}


def operation(method: str, path: str) -> tuple[str, str]:
    """The operation name and URL template of an API path (no id or query kept).

    >>> operation("GET", "/events/1001")
    ('events.get', '/events/{id}')
    >>> operation("DELETE", "/things/9")
    ('DELETE /things', '/things')
    """
    parts = path.strip("/").split("/")
    known = _OPERATIONS.get((method, parts[0], len(parts) > 1))
    return known or (f"{method} /{parts[0]}", f"/{parts[0]}")


class _Instruments:
    """The tracer and metric instruments, built once per tracer provider."""

    def __init__(self, trace: Any, provider: Any) -> None:
        from opentelemetry import metrics

        self.trace = trace
        self.provider = provider
        from ._version import __version__  # read when tracing starts, not at import

        self.tracer = provider.get_tracer(_SCOPE, __version__)
        meter = metrics.get_meter(_SCOPE, __version__)
        self.requests = meter.create_counter("planner.requests", "{request}", "HTTP requests sent")
        self.rate_limited = meter.create_counter(
            "planner.rate_limited", "{response}", "429 answers received"
        )
        self.retries = meter.create_counter("planner.retries", "{retry}", "retries of a call")
        self.quota_wait = meter.create_histogram(
            "planner.quota.wait", "s", "seconds a request waited for a quota permit"
        )
        self.quota_used = meter.create_gauge(
            "planner.quota.used", "{request}", "requests used in the server's tightest window"
        )

    def error_status(self, description: str) -> Any:
        """An ERROR span status with ``description`` (a type name or a status code)."""
        return self.trace.Status(self.trace.StatusCode.ERROR, description)


_BUILT: list[_Instruments] = []  # the instruments of the last provider seen


def _instruments() -> _Instruments | None:
    """The instruments of the global tracer provider, or None while none is set."""
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return None
    provider = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider):
        return None
    if not _BUILT or _BUILT[0].provider is not provider:
        _BUILT[:] = [_Instruments(trace, provider)]
    return _BUILT[0]


class Telemetry:
    """Where a pipeline reports its calls: ``with telemetry.call(method, path) as span:``
    around a call, ``with span.attempt(number, waited) as attempt:`` around one send, and
    ``attempt.answered(response)`` once the answer is in.
    """

    __slots__ = ("_instruments", "_lane", "_next_look", "_server")

    def __init__(self, server: str, lane: str) -> None:
        self._server = server
        self._lane = lane
        self._instruments: _Instruments | None = None
        self._next_look = 0.0

    @classmethod
    def create(cls, base_url: str = "", *, lane: str = DEFAULT_LANE) -> Telemetry:
        """A telemetry for a client of ``base_url`` (its host names the server)."""
        return cls(httpx.URL(base_url).host if base_url else "", lane)

    def call(self, method: str, path: str) -> CallSpan:
        """The span of one client call (a no-op until a tracer provider is set)."""
        instruments = self._instruments
        if instruments is None:
            instruments = self._look()
            if instruments is None:
                return NO_CALL
        return _CallSpan(instruments, method, path, self._server, self._lane)

    def _look(self) -> _Instruments | None:
        """Look for a tracer provider, at most once a second while none is set."""
        now = time.monotonic()
        if now < self._next_look:
            return None
        self._next_look = now + _LOOK_EVERY
        self._instruments = found = _instruments()
        return found


class _NoAttempt:
    __slots__ = ()

    def __enter__(self) -> _NoAttempt:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def answered(self, response: httpx.Response) -> None:
        """Nothing to record."""


class _NoCall:
    __slots__ = ()

    def __enter__(self) -> _NoCall:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def attempt(self, number: int, waited: float) -> _NoAttempt:
        """The shared no-op attempt."""
        return NO_ATTEMPT


NO_CALL: Final = _NoCall()
NO_ATTEMPT: Final = _NoAttempt()


def _fail(instruments: _Instruments, span: Any, exc: BaseException) -> None:
    """Mark ``span`` failed by ``exc`` (redacted); a cancellation is noted, not an error."""
    if not isinstance(exc, Exception):
        span.set_attribute("planner.cancelled", True)
        return
    kind = type(exc).__qualname__
    span.set_attribute("error.type", kind)
    span.set_status(instruments.error_status(kind))
    span.record_exception(
        exc,
        {
            "exception.message": redact(str(exc)),
            "exception.stacktrace": redact("".join(traceback.format_exception(exc))),
        },
    )


class _CallSpan:
    """One client call: a span made current, so that its attempts are its children."""

    __slots__ = (
        "_attributes",
        "_instruments",
        "_manager",
        "_span",
        "method",
        "name",
        "remaining",
        "retries",
        "server",
        "status",
        "template",
        "waited",
    )

    def __init__(
        self, instruments: _Instruments, method: str, path: str, server: str, lane: str
    ) -> None:
        self._instruments = instruments
        self.method, self.server = method, server
        self.name, self.template = operation(method, path)
        self._attributes = {"planner.operation": self.name, "planner.lane": lane}
        self.retries = 0
        self.waited = 0.0
        self.status: int | None = None
        self.remaining: int | None = None
        self._span: Any = None
        self._manager: Any = None

    @property
    def attributes(self) -> dict[str, str]:
        """The attributes every metric point of this call carries."""
        return self._attributes

    @property
    def instruments(self) -> _Instruments:
        """The tracer and instruments in use."""
        return self._instruments

    def __enter__(self) -> _CallSpan:
        self._manager = self._instruments.tracer.start_as_current_span(
            f"planner {self.name}",
            kind=self._instruments.trace.SpanKind.INTERNAL,
            attributes=self._attributes,
            record_exception=False,
            set_status_on_exception=False,
        )
        self._span = self._manager.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        span = self._span
        span.set_attribute("planner.retries", self.retries)
        span.set_attribute("planner.quota_wait", self.waited)
        if self.status is not None:
            span.set_attribute("http.response.status_code", self.status)
        if self.remaining is not None:
            span.set_attribute("planner.rate_limit.remaining", self.remaining)
        if exc is not None:
            _fail(self._instruments, span, exc)
        self._manager.__exit__(exc_type, exc, tb)

    def attempt(self, number: int, waited: float) -> _AttemptSpan:
        """The span of attempt ``number`` (0 first), sent after ``waited`` s for a permit."""
        return _AttemptSpan(self, number, waited)


class _AttemptSpan:
    """One HTTP send of a call: a child span, and the request metrics."""

    __slots__ = ("_call", "_manager", "_number", "_span", "_status", "_waited")

    def __init__(self, call: _CallSpan, number: int, waited: float) -> None:
        self._call = call
        self._number = number
        self._waited = waited
        self._status: int | None = None
        self._span: Any = None
        self._manager: Any = None

    def __enter__(self) -> _AttemptSpan:
        call, instruments = self._call, self._call.instruments
        if self._number > call.retries:
            call.retries = self._number
            instruments.retries.add(1, call.attributes)
        call.waited += self._waited
        instruments.quota_wait.record(self._waited, call.attributes)
        attributes: dict[str, Any] = {
            "http.request.method": call.method,
            "url.template": call.template,
            "server.address": call.server,
            "planner.quota_wait": self._waited,
            **call.attributes,
        }
        if self._number:
            attributes["http.request.resend_count"] = self._number
        self._manager = instruments.tracer.start_as_current_span(
            f"{call.method} {call.template}",
            kind=instruments.trace.SpanKind.CLIENT,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        )
        self._span = self._manager.__enter__()
        return self

    def answered(self, response: httpx.Response) -> None:
        """Record the answer's status and the server's rate-limit reading (never a header
        value beyond those numbers)."""
        call, instruments, span = self._call, self._call.instruments, self._span
        status = call.status = self._status = response.status_code
        span.set_attribute("http.response.status_code", status)
        if status >= 400:
            span.set_attribute("error.type", str(status))
            span.set_status(instruments.error_status(str(status)))
        if status == 429:
            instruments.rate_limited.add(1, call.attributes)
        headers = RateHeaders.from_raw(response.headers.raw)
        if headers is None or headers.remaining is None:
            return
        call.remaining = remaining = headers.remaining
        span.set_attribute("planner.rate_limit.remaining", remaining)
        if headers.limit is not None:
            span.set_attribute("planner.rate_limit.limit", headers.limit)
            window: dict[str, str | int] = {**call.attributes}
            window["planner.rate_limit.limit"] = headers.limit
            instruments.quota_used.set(max(0, headers.limit - remaining), window)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        call = self._call
        outcome: dict[str, str | int] = {**call.attributes}
        if self._status is not None:
            outcome["http.response.status_code"] = self._status
        if exc is not None:
            _fail(call.instruments, self._span, exc)
            outcome["error.type"] = type(exc).__qualname__
        call.instruments.requests.add(1, outcome)
        self._manager.__exit__(exc_type, exc, tb)


CallSpan = _NoCall | _CallSpan
"""What :meth:`Telemetry.call` gives: the no-op span, or a recording one."""
