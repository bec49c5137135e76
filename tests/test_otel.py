"""OpenTelemetry: spans per call and per attempt, metrics, no secrets, nothing without a provider.

The SDK's in-memory span exporter and metric reader are installed as the global providers
for one test (and taken out after it), as OpenTelemetry's own test utilities do.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import attrs
import httpx
import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import trace
from opentelemetry.metrics import _internal as metrics_globals
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from planner_async import MemoryTokenStore, NotFoundError, PlannerClient, RetryPolicy, ServerError
from planner_async import _otel as otel_module
from planner_async._otel import NO_CALL, Telemetry, operation
from planner_async.testing import FakePlanner

pytestmark = [pytest.mark.anyio, pytest.mark.backends("asyncio", "trio")]

KEY = "sk-otel-0123456789abcdef"


@attrs.define
class Otel:
    """The in-memory exporter and reader behind the global providers of one test."""

    spans: InMemorySpanExporter
    reader: InMemoryMetricReader

    def finished(self) -> list[ReadableSpan]:
        """Every span ended so far, in the order they ended."""
        return list(self.spans.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        """The ended spans called ``name``."""
        return [span for span in self.finished() if span.name == name]

    def metric(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        """``(attributes, value)`` of each point of metric ``name`` (sum, gauge or count)."""
        data = self.reader.get_metrics_data()
        points = []
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        for point in metric.data.data_points:
                            value = getattr(point, "value", getattr(point, "count", None))
                            points.append((dict(point.attributes or {}), value))
        return points

    def total(self, name: str) -> Any:
        """The sum of a counter's points."""
        return sum(value for _, value in self.metric(name))


@pytest.fixture
def otel(monkeypatch: pytest.MonkeyPatch) -> Iterator[Otel]:
    """Global tracer and meter providers backed by in-memory exporters, for one test."""
    spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    meter_provider = MeterProvider(metric_readers=[reader])
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", tracer_provider)
    monkeypatch.setattr(metrics_globals, "_METER_PROVIDER", meter_provider)
    yield Otel(spans, reader)
    tracer_provider.shutdown()
    meter_provider.shutdown()


@pytest.fixture
def rate_fake() -> FakePlanner:
    """A fake with one generous window, so that every answer carries rate-limit headers."""
    return FakePlanner(
        events=30,
        users={"demo": KEY},
        rate_limits=[(1000, 60)],
        auth_rate_limits=[],
        restricted_share=0,
    )


@pytest.fixture
async def client(rate_fake: FakePlanner) -> AsyncIterator[PlannerClient]:
    """A client of ``rate_fake`` whose retries do not wait."""
    async with (
        httpx.AsyncClient(transport=rate_fake.transport()) as http,
        PlannerClient(
            "demo",
            KEY,
            base_url=rate_fake.base_url,
            http_client=http,
            retry=RetryPolicy(max_retries=2, wait_initial=0.0, wait_max=0.0),
            token_store=MemoryTokenStore(),
        ) as made,
    ):
        yield made


def first_id(fake: FakePlanner) -> int:
    """The id of an event every account sees."""
    return int(fake.events[0]["id"])


# -- without a provider ---------------------------------------------------------------------


def test_without_a_provider_every_call_gets_the_shared_no_op():
    """No tracer provider set: a call's span is the shared no-op object, nothing is built."""
    telemetry = Telemetry.create("https://planner.test")
    assert NO_CALL is telemetry.call("GET", "/events/1")
    with NO_CALL as span, span.attempt(0, 0.0) as attempt:
        attempt.answered(httpx.Response(200))


async def test_a_provider_set_after_the_client_is_used_from_then_on(
    client: PlannerClient, rate_fake: FakePlanner, monkeypatch: pytest.MonkeyPatch
):
    """Calls before a provider is set record nothing; a call after it (once the client has
    looked again, at most a second later) is traced."""
    monkeypatch.setattr(otel_module, "_LOOK_EVERY", 0.0)
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    await client.events.get(first_id(rate_fake))
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", provider)
    await client.events.get(first_id(rate_fake))
    names = [span.name for span in spans.get_finished_spans()]
    assert ["GET /events/{id}", "planner events.get"] == names


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/events", ("events.list", "/events")),
        ("GET", "/events/1001", ("events.get", "/events/{id}")),
        ("POST", "/auth", ("auth.login", "/auth")),
        ("POST", "/auth/renew", ("auth.renew", "/auth/renew")),
        ("PUT", "/things/3", ("PUT /things", "/things")),
    ],
)
def test_operation_names_keep_no_id(method: str, path: str, expected: tuple[str, str]):
    """Span names come from the route, never from an id or a query."""
    assert expected == operation(method, path)


# -- spans ----------------------------------------------------------------------------------


async def test_a_call_is_a_span_with_one_child_per_attempt(
    otel: Otel, client: PlannerClient, rate_fake: FakePlanner
):
    """``events.get`` gives ``planner events.get`` with the login and the HTTP send inside."""
    await client.events.get(first_id(rate_fake))
    (call,) = otel.named("planner events.get")
    (send,) = otel.named("GET /events/{id}")
    (login,) = otel.named("planner auth.login")
    assert call.context is not None
    assert (call.context.span_id, call.context.span_id) == (
        send.parent.span_id if send.parent else None,
        login.parent.span_id if login.parent else None,
    )
    assert {
        "planner.operation": "events.get",
        "planner.lane": "interactive",
        "planner.retries": 0,
        "http.response.status_code": 200,
    }.items() <= dict(call.attributes or {}).items()
    assert (trace.SpanKind.INTERNAL, trace.SpanKind.CLIENT) == (call.kind, send.kind)


async def test_attempt_spans_carry_status_rate_limit_and_server(
    otel: Otel, client: PlannerClient, rate_fake: FakePlanner
):
    """An attempt records method, route, host, status and the server's remaining count."""
    await client.authenticate()
    await client.events.get(first_id(rate_fake))
    (send,) = otel.named("GET /events/{id}")
    attributes = dict(send.attributes or {})
    assert {
        "http.request.method": "GET",
        "url.template": "/events/{id}",
        "server.address": "planner.test",
        "http.response.status_code": 200,
        "planner.rate_limit.limit": 1000,
    }.items() <= attributes.items()
    assert 0 <= attributes["planner.rate_limit.remaining"] < 1000


async def test_retries_show_as_attempts_and_on_the_call(
    otel: Otel, client: PlannerClient, rate_fake: FakePlanner
):
    """A 503 then a 200: two attempt spans (the first an error), retries=1 on the call."""
    await client.authenticate()
    rate_fake.fail_next(1, status=503, endpoint="events.get")
    await client.events.get(first_id(rate_fake))
    first, second = otel.named("GET /events/{id}")
    (call,) = otel.named("planner events.get")
    assert (StatusCode.ERROR, "503", 503) == (
        first.status.status_code,
        (first.attributes or {})["error.type"],
        (first.attributes or {})["http.response.status_code"],
    )
    assert (1, StatusCode.UNSET) == (
        (second.attributes or {})["http.request.resend_count"],
        second.status.status_code,
    )
    assert 1 == (call.attributes or {})["planner.retries"]


async def test_a_failed_call_has_error_status_and_a_redacted_exception(
    otel: Otel, client: PlannerClient, rate_fake: FakePlanner
):
    """A final 404 marks the call span ERROR with the error type; no secret in its event."""
    rate_fake.script("events.get", 404, body={"error": "Missing", "message": f"key {KEY}"})
    with pytest.raises(NotFoundError):
        await client.events.get(first_id(rate_fake))
    (call,) = otel.named("planner events.get")
    (event,) = call.events
    assert (StatusCode.ERROR, "NotFoundError", "exception") == (
        call.status.status_code,
        (call.attributes or {})["error.type"],
        event.name,
    )
    assert KEY not in str((event.attributes or {}).get("exception.message"))


async def test_each_page_of_a_listing_is_a_span(
    otel: Otel, client: PlannerClient, rate_fake: FakePlanner
):
    """Reading three pages gives three ``planner events.list`` spans."""
    seen = [event async for event in client.events.list(page_size=10)]
    assert 30 == len(seen)
    assert 3 <= len(otel.named("planner events.list"))


async def test_no_span_or_metric_holds_a_secret(
    otel: Otel, client: PlannerClient, rate_fake: FakePlanner
):
    """Key and tokens echoed in error bodies appear in no span attribute, event or metric."""
    rate_fake.script("events.get", 500, times=3, body={"message": f"echo {KEY} Bearer x"})
    with pytest.raises(ServerError):
        await client.events.get(first_id(rate_fake))
    texts = [repr(otel.reader.get_metrics_data())]
    for span in otel.finished():
        texts += [span.name, repr(dict(span.attributes or {}))]
        texts += [repr(dict(event.attributes or {})) for event in span.events]
    assert len(texts) > 5
    assert [] == [t for t in texts if KEY in t or "Bearer x" in t or "eyJ" in t]


# -- metrics --------------------------------------------------------------------------------


async def test_metrics_count_requests_429s_retries_and_quota_used(
    otel: Otel, client: PlannerClient, rate_fake: FakePlanner
):
    """A 429 then a 200: two requests, one 429, one retry; the quota-used gauge is set."""
    await client.authenticate()
    rate_fake.fail_next(1, status=429, retry_after=0, endpoint="events.get")
    await client.events.get(first_id(rate_fake))
    assert (3, 1, 1) == (
        otel.total("planner.requests"),
        otel.total("planner.rate_limited"),
        otel.total("planner.retries"),
    )
    ((attributes, used),) = otel.metric("planner.quota.used")
    assert (1000, "interactive") == (
        attributes["planner.rate_limit.limit"],
        attributes["planner.lane"],
    )
    assert 1 <= used < 1000


def test_quota_wait_is_on_the_attempt_the_call_and_the_histogram(otel: Otel):
    """A permit waited for 0.5 s shows on the attempt, sums on the call, counts in metrics."""
    telemetry = Telemetry.create("https://planner.test")
    with telemetry.call("GET", "/events") as call:
        for number, waited in ((0, 0.5), (1, 0.25)):
            with call.attempt(number, waited) as attempt:
                attempt.answered(httpx.Response(200))
    (listing,) = otel.named("planner events.list")
    first, second = otel.named("GET /events")
    assert (0.5, 0.25, 0.75) == (
        (first.attributes or {})["planner.quota_wait"],
        (second.attributes or {})["planner.quota_wait"],
        (listing.attributes or {})["planner.quota_wait"],
    )
    assert [({"planner.operation": "events.list", "planner.lane": "interactive"}, 2)] == (
        otel.metric("planner.quota.wait")
    )


def test_a_transport_failure_marks_the_attempt_and_a_cancel_is_no_error(otel: Otel):
    """An exception inside an attempt sets ``error.type``; a cancellation only notes itself."""

    class Cancelled(BaseException):
        """Stands in for a backend's cancellation (not an Exception)."""

    def cancelled_after_a_failed_send() -> None:
        with Telemetry.create("https://planner.test").call("GET", "/events/1") as call:
            try:
                with call.attempt(0, 0.0):
                    raise httpx.ConnectError("refused")
            except httpx.ConnectError:
                pass
            raise Cancelled

    with pytest.raises(Cancelled):
        cancelled_after_a_failed_send()
    (send,) = otel.named("GET /events/{id}")
    (span,) = otel.named("planner events.get")
    assert ("ConnectError", StatusCode.ERROR) == (
        (send.attributes or {})["error.type"],
        send.status.status_code,
    )
    assert (True, StatusCode.UNSET) == (
        (span.attributes or {})["planner.cancelled"],
        span.status.status_code,
    )
    assert [
        (
            {
                "planner.operation": "events.get",
                "planner.lane": "interactive",
                "error.type": "ConnectError",
            },
            1,
        )
    ] == otel.metric("planner.requests")
