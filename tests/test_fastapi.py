"""FastAPI integration: the example app under load, error mapping, lifespans, JSON models."""

from __future__ import annotations

import gc
import importlib.util
import re
import sys
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI, Request

from planner_async import (
    APIConnectionError,
    Event,
    EventPage,
    NotFoundError,
    PlannerClient,
    RateLimitError,
    ServerError,
)
from planner_async.fastapi import (
    ErrorBody,
    Planner,
    add_exception_handlers,
    error_response,
    error_responses,
    get_planner,
    planner_lifespan,
)
from planner_async.testing import FakePlanner, ManualClock

from support import NO_WAIT

pytestmark = pytest.mark.anyio

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fastapi_app.py"
RESTRICTED = 4242


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """The app runs on both backends: FastAPI and the client are anyio-based."""
    return str(request.param)


@pytest.fixture(scope="module")
def example() -> Iterator[ModuleType]:
    """The example module, imported from its file (``examples/`` is not a package)."""
    spec = importlib.util.spec_from_file_location("planner_fastapi_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


@pytest.fixture
def server() -> FakePlanner:
    """A fake with one event the account may not see and no rate limits in the way."""
    events = [
        {"id": 1000 + n, "title": f"Event {n}", "startDate": "2026-12-01"} for n in range(150)
    ]
    events.append({"id": RESTRICTED, "title": "Secret", "startDate": "2026-12-02"})
    return FakePlanner(
        events=events,
        clock=ManualClock(),
        rate_limits=[],
        auth_rate_limits=[],
        restricted_ids=[RESTRICTED],
        restricted_share=0,
    )


class Made:
    """A client factory over ``server`` that remembers what it made, to check the closing."""

    def __init__(self, server: FakePlanner, **options: Any) -> None:
        clock = server.clock
        assert isinstance(clock, ManualClock)
        self.server = server
        self.options = {"retry": NO_WAIT, "clock": clock, "sleep": clock.sleep, **options}
        self.clients: list[PlannerClient] = []
        self.http: list[httpx.AsyncClient] = []

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[PlannerClient]:
        async with httpx.AsyncClient(transport=self.server.transport()) as http:
            client = PlannerClient(
                "demo", "demo-key", base_url=self.server.base_url, http_client=http, **self.options
            )
            self.clients.append(client)
            self.http.append(http)
            async with client:
                yield client


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Start ``app`` (lifespan included) and give an HTTP client talking to it in-process."""
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as http:
            yield http


@contextmanager
def startup_fails(kind: type[BaseException], match: str) -> Iterator[None]:
    """Expect ``kind`` (alone, or alone in exception groups, as trio task groups raise it)."""
    with pytest.raises((kind, BaseExceptionGroup)) as info:
        yield
    error: BaseException = info.value
    while isinstance(error, BaseExceptionGroup):
        assert len(error.exceptions) == 1
        error = error.exceptions[0]
    assert isinstance(error, kind)
    assert re.search(match, str(error))


async def closed(client: PlannerClient) -> bool:
    """Whether ``client`` refuses work because it was closed."""
    try:
        await client.events.get(1000)
    except RuntimeError as exc:
        return "closed" in str(exc)
    return False


async def test_example_app_serves_100_concurrent_requests_with_one_login(
    example: ModuleType, server: FakePlanner
) -> None:
    """100 concurrent requests through the example app all succeed on one login and one client."""
    made = Made(server)
    app = example.create_app(made)
    answers: dict[int, httpx.Response] = {}

    async def fetch(http: httpx.AsyncClient, event_id: int) -> None:
        answers[event_id] = await http.get(f"/events/{event_id}")

    async with running(app) as http, anyio.create_task_group() as group:
        for n in range(100):
            group.start_soon(fetch, http, 1000 + n)

    assert sorted(answers) == list(range(1000, 1100))
    assert {r.status_code for r in answers.values()} == {200}
    assert answers[1042].json()["title"] == "Event 42"
    assert answers[1042].json()["startDate"] == "2026-12-01"
    assert server.stats.logins == 1
    assert len(made.clients) == 1
    assert made.clients[0].stats.logins == 1
    assert await closed(made.clients[0])
    assert made.http[0].is_closed


async def test_example_app_maps_404_403_and_503(example: ModuleType, server: FakePlanner) -> None:
    """Unknown, forbidden and rate-limited events answer 404, 403 and 503 with JSON bodies."""
    app = example.create_app(Made(server, max_retries=0))
    server.script("/api/v2/events/1007", 429, headers={"Retry-After": "7"})
    async with running(app) as http:
        missing = await http.get("/events/999999")
        forbidden = await http.get(f"/events/{RESTRICTED}")
        limited = await http.get("/events/1007")

    assert missing.status_code == 404
    assert missing.json() == {"error": "Not Found", "message": "Event 999999 does not exist."}
    assert forbidden.status_code == 403
    assert forbidden.json()["error"] == "Forbidden"
    assert limited.status_code == 503
    assert limited.headers["retry-after"] == "7"
    assert limited.json()["error"] == "Service Unavailable"


async def test_local_quota_refusal_answers_503_with_the_wait(
    example: ModuleType, server: FakePlanner
) -> None:
    """A call that may not wait for quota (``max_wait=0``) answers 503 and says when to retry."""
    app = example.create_app(Made(server, rate_limits=[(1, 30.0)], max_wait=0.0))
    async with running(app) as http:
        first = await http.get("/events/1001")
        second = await http.get("/events/1002")
    assert first.status_code == 200
    assert second.status_code == 503
    assert 1 <= int(second.headers["retry-after"]) <= 31


async def test_server_and_connection_failures_answer_502(
    example: ModuleType, server: FakePlanner
) -> None:
    """A 5xx that outlived the retries and a dropped connection both answer 502 without detail."""
    app = example.create_app(Made(server, max_retries=0))
    server.script("/api/v2/events/1003", 500, body={"error": "Boom", "message": "token=abc"})
    async with running(app) as http:
        failed = await http.get("/events/1003")
        server.script("/api/v2/events/1004", 502, body="<html>proxy</html>")
        proxy = await http.get("/events/1004")
    assert failed.status_code == proxy.status_code == 502
    assert failed.json() == {
        "error": "Bad Gateway",
        "message": "The Forward Planner API answered 500.",
    }
    assert "abc" not in failed.text
    assert "html" not in proxy.text


async def test_example_lists_events_and_returns_a_page(
    example: ModuleType, server: FakePlanner
) -> None:
    """Handlers returning a list of events and an ``EventPage`` answer their camelCase JSON."""
    app = example.create_app(Made(server))
    async with running(app) as http:
        listed = await http.get("/events", params={"limit": 3})
        page = await http.get("/first-page", params={"size": 10})
    assert listed.status_code == 200
    assert [e["id"] for e in listed.json()] == [1000, 1001, 1002]
    assert page.status_code == 200
    body = page.json()
    assert body["page"] == 1
    assert body["pageSize"] == 10
    assert len(body["items"]) == 10
    assert body["totalItems"] == 150


async def test_example_module_app_runs_on_the_fake(
    example: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``PLANNER_FAKE=1`` makes the module-level ``app`` serve the in-process fake."""
    monkeypatch.setenv("PLANNER_FAKE", "1")
    async with running(example.app) as http:
        first = (await http.get("/first-page", params={"size": 2})).json()["items"][0]
        one = await http.get(f"/events/{first['id']}")
        client = example.app.state.planner
    assert one.status_code == 200
    assert one.json()["id"] == first["id"]
    assert await closed(client)
    assert not hasattr(example.app.state, "planner")


async def test_missing_environment_fails_startup_clearly(
    example: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without credentials the default factory fails the app's startup, not its import."""
    for name in ("PLANNER_FAKE", "PLANNER_USERNAME", "PLANNER_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with startup_fails(ValueError, "PLANNER_USERNAME"):
        async with running(example.create_app()):
            pass


async def test_app_lifespan_composes_and_a_failed_startup_closes_the_client(
    server: FakePlanner,
) -> None:
    """The app's own lifespan runs inside, its state reaches requests, and its failure closes."""
    made = Made(server)
    seen: list[str] = []

    @asynccontextmanager
    async def app_lifespan(app: FastAPI) -> AsyncIterator[dict[str, str]]:
        seen.append("start" if isinstance(app.state.planner, PlannerClient) else "none")
        yield {"greeting": "hello"}
        seen.append("stop")

    app = FastAPI(lifespan=planner_lifespan(made, lifespan=app_lifespan))

    @app.get("/greet")
    async def greet(request: Request, planner: Planner) -> dict[str, Any]:
        return {"greeting": request.state.greeting, "user": planner.session is None}

    async with running(app) as http:
        answer = await http.get("/greet")
    assert answer.json() == {"greeting": "hello", "user": True}
    assert seen == ["start", "stop"]
    assert await closed(made.clients[0])

    @asynccontextmanager
    async def broken(app: FastAPI) -> AsyncIterator[None]:
        raise OSError("database unreachable")
        yield  # pragma: no cover

    failing = FastAPI(lifespan=planner_lifespan(made, lifespan=broken))
    with startup_fails(OSError, "database unreachable"):
        async with running(failing):
            pass
    assert len(made.clients) == 2
    assert await closed(made.clients[1])
    assert not hasattr(failing.state, "planner")


async def test_nested_inside_an_app_lifespan(server: FakePlanner) -> None:
    """``planner_lifespan(factory)(app)`` is an async context manager an app lifespan can enter."""
    made = Made(server)

    @asynccontextmanager
    async def app_lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with planner_lifespan(made)(app):
            yield

    app = FastAPI(lifespan=app_lifespan)

    @app.get("/who")
    async def who(planner: Planner) -> dict[str, Any]:
        session = await planner.authenticate()
        return {"email": session.email}

    async with running(app) as http:
        assert (await http.get("/who")).json() == {"email": "demo@example.com"}
    assert await closed(made.clients[0])


async def test_get_planner_without_the_lifespan_says_what_to_do() -> None:
    """A handler using ``Planner`` in an app without ``planner_lifespan`` fails with advice."""
    app = FastAPI()

    @app.get("/x")
    async def handler(planner: Planner) -> None:
        pass  # pragma: no cover

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as http:
        with pytest.raises(RuntimeError, match=r"lifespan=planner_lifespan\(\)"):
            await http.get("/x")


async def test_a_factory_giving_something_else_is_refused(server: FakePlanner) -> None:
    """A factory whose context yields no ``PlannerClient`` fails startup with a TypeError."""

    @asynccontextmanager
    async def wrong() -> AsyncIterator[Any]:
        yield httpx.AsyncClient()

    with startup_fails(TypeError, "must give a PlannerClient"):
        async with running(FastAPI(lifespan=planner_lifespan(wrong))):
            pass


def test_bad_arguments_fail_before_any_app_runs() -> None:
    """Non-callable factories and lifespans are refused at once."""
    with pytest.raises(TypeError, match="factory must be callable"):
        planner_lifespan("PlannerClient")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="lifespan must be callable"):
        planner_lifespan(lifespan=42)  # type: ignore[arg-type]


def test_error_response_mapping_and_retry_after_rounding() -> None:
    """Retry-After is whole seconds (at least 1); other errors map as documented."""
    cases = [
        (RateLimitError("slow", retry_after=0.2), 503, "1"),
        (RateLimitError("slow", retry_after=7.5), 503, "8"),
        (RateLimitError("slow"), 503, "1"),
    ]
    for error, status, retry_after in cases:
        response = error_response(error)
        assert response.status_code == status
        assert response.headers["retry-after"] == retry_after
    assert error_response(NotFoundError("gone", status_code=404)).status_code == 404
    bad = error_response(ServerError("Bearer eyJabc.def.ghi", status_code=503))
    assert bad.status_code == 502
    assert b"eyJ" not in bad.body
    refused = error_response(APIConnectionError("connection refused to 10.0.0.1"))
    assert refused.status_code == 502
    assert b"APIConnectionError" in refused.body
    assert b"10.0.0.1" not in refused.body


def test_get_planner_is_the_dependency_behind_planner() -> None:
    """``Planner`` is ``PlannerClient`` annotated with ``Depends(get_planner)``."""
    metadata = Planner.__metadata__  # type: ignore[attr-defined]
    assert Planner.__origin__ is PlannerClient  # type: ignore[attr-defined]
    assert metadata[0].dependency is get_planner


async def test_event_returned_without_response_model_is_encoded(server: FakePlanner) -> None:
    """A handler may return an ``Event`` with no response model: the JSON is its wire form."""
    app = FastAPI(lifespan=planner_lifespan(Made(server)))
    add_exception_handlers(app)

    @app.get("/raw/{event_id}", response_model=None)
    async def raw(event_id: int, planner: Planner) -> Any:
        return await planner.events.get(event_id)

    async with running(app) as http:
        answer = await http.get("/raw/1005")
    assert answer.status_code == 200
    assert answer.json()["id"] == 1005
    assert answer.json()["allDay"] is False


def test_no_unclosed_client_warnings_after_shutdown(example: ModuleType) -> None:
    """Running and stopping the fake-backed example leaves nothing for the garbage collector."""
    server = FakePlanner(events=20, clock=ManualClock(), rate_limits=[], auth_rate_limits=[])

    async def main() -> None:
        app = example.create_app(Made(server))
        async with running(app) as http:
            assert (await http.get("/first-page")).status_code == 200

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        anyio.run(main)
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_event_as_response_model_shows_its_fields_in_openapi() -> None:
    """``response_model=Event`` works and the OpenAPI schema lists the wire fields."""
    app = FastAPI()

    @app.get("/typed", response_model=Event)
    async def typed() -> Any:
        return Event(id=1, title="x")  # pragma: no cover

    schema = app.openapi()
    answer = schema["paths"]["/typed"]["get"]["responses"]["200"]["content"]["application/json"]
    body = answer["schema"]
    if "$ref" in body:
        body = schema["components"]["schemas"][body["$ref"].rpartition("/")[2]]
    assert {"id", "title", "startDate", "allDay", "location"} <= set(body["properties"])


async def test_response_model_event_answers_the_wire_json(server: FakePlanner) -> None:
    """A handler declared ``-> Event`` answers the event's ``to_dict()`` JSON."""
    app = FastAPI(lifespan=planner_lifespan(Made(server)))

    @app.get("/typed/{event_id}")
    async def typed(event_id: int, planner: Planner) -> Event:
        return await planner.events.get(event_id)

    async with running(app) as http:
        answer = await http.get("/typed/1009")
    expected = Event.from_dict(server.events[9]).to_dict()
    assert answer.status_code == 200
    assert answer.json() == expected


def test_openapi_names_the_event_and_page_schemas() -> None:
    """``-> Event`` and ``response_model=EventPage`` point at named components, items at Event."""
    app = FastAPI()

    @app.get("/one")
    async def one() -> Event:
        return Event(id=1, title="x")  # pragma: no cover

    @app.get("/page", response_model=EventPage)
    async def page() -> Any:
        return None  # pragma: no cover

    schema = app.openapi()
    ok = {path: schema["paths"][path]["get"]["responses"]["200"] for path in ("/one", "/page")}
    refs = {path: answer["content"]["application/json"]["schema"] for path, answer in ok.items()}
    assert {"$ref": "#/components/schemas/Event"} == refs["/one"]
    assert {"$ref": "#/components/schemas/EventPage"} == refs["/page"]
    components = schema["components"]["schemas"]
    assert {"$ref": "#/components/schemas/Event"} == components["EventPage"]["properties"]["items"][
        "items"
    ]
    assert ["id", "title"] == components["Event"]["required"]
    assert {"startDate", "allDay", "createdAt"} <= set(components["Event"]["properties"])


def test_error_responses_list_the_error_answers_with_their_body() -> None:
    """``responses=error_responses()`` documents 403/404/502/503, the body and Retry-After."""
    app = FastAPI()

    @app.get("/events/{event_id}", responses=error_responses())
    async def event(event_id: int) -> Event:
        return Event(id=event_id, title="x")  # pragma: no cover

    @app.get("/few", responses=error_responses(404, 503))
    async def few() -> Event:
        return Event(id=1, title="x")  # pragma: no cover

    schema = app.openapi()
    answers = schema["paths"]["/events/{event_id}"]["get"]["responses"]
    assert {"200", "403", "404", "422", "502", "503"} == set(answers)
    for status in ("403", "404", "502", "503"):
        body = answers[status]["content"]["application/json"]["schema"]
        assert {"$ref": "#/components/schemas/ErrorBody"} == body
    assert "Retry-After" in answers["503"]["headers"]
    assert ["error", "message"] == schema["components"]["schemas"]["ErrorBody"]["required"]
    assert {"200", "404", "503"} == set(schema["paths"]["/few"]["get"]["responses"])
    with pytest.raises(ValueError, match="418"):
        error_responses(418)


def test_every_error_answer_fits_the_documented_body() -> None:
    """What ``error_response`` sends for each mapped error validates as ``ErrorBody``."""
    errors = [
        RateLimitError("slow down", retry_after=2.5),
        NotFoundError("no such event", status_code=404),
        ServerError("boom", status_code=500),
        APIConnectionError("refused"),
    ]
    for exc in errors:
        answer = error_response(exc)
        assert answer.status_code in error_responses()
        ErrorBody.model_validate_json(answer.body)
