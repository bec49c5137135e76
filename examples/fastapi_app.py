"""A small FastAPI app over planner-async: one client per app, JSON errors, model answers.

Against the real API (``pip install 'planner-async[fastapi]' uvicorn``)::

    PLANNER_USERNAME=me PLANNER_API_KEY=... uvicorn examples.fastapi_app:app

Against the in-process fake server, no credentials needed::

    PLANNER_FAKE=1 uvicorn examples.fastapi_app:app
    curl 'http://127.0.0.1:8000/events?category=Politics&limit=3'

The client is made when the app starts (not at import), in the server's event loop, and
closed when it stops.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated

import httpx
from fastapi import FastAPI, Query

from planner_async import Event, EventPage, PlannerClient
from planner_async.fastapi import ClientFactory, Planner, add_exception_handlers, planner_lifespan
from planner_async.testing import FakePlanner


@asynccontextmanager
async def fake_client() -> AsyncIterator[PlannerClient]:
    """A client wired in-process to a fresh fake server (for ``PLANNER_FAKE=1``)."""
    fake = FakePlanner(events=500)
    async with (
        httpx.AsyncClient(transport=fake.transport()) as http,
        PlannerClient("demo", "demo-key", base_url=fake.base_url, http_client=http) as client,
    ):
        yield client


def default_client() -> AbstractAsyncContextManager[PlannerClient]:
    """The fake when ``PLANNER_FAKE=1``, else ``PlannerClient.from_env``.

    ``max_wait=2`` makes a request that would wait longer for quota answer 503 at once.
    """
    if os.environ.get("PLANNER_FAKE") == "1":
        return fake_client()
    return PlannerClient.from_env(max_wait=2.0)


def create_app(factory: ClientFactory = default_client) -> FastAPI:
    """Build the app; ``factory`` makes its client at startup."""
    app = FastAPI(title="Events", lifespan=planner_lifespan(factory))
    add_exception_handlers(app)

    @app.get("/events/{event_id}")
    async def get_event(event_id: int, planner: Planner) -> Event:
        """One event, or 404/403 as the API says."""
        return await planner.events.get(event_id)

    @app.get("/events")
    async def list_events(
        planner: Planner,
        q: str | None = None,
        category: Annotated[list[str] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 20,
    ) -> list[Event]:
        """Up to ``limit`` events matching the text ``q`` and the categories."""
        found: list[Event] = []
        async for event in planner.events.list(query=q, categories=category, page_size=limit):
            found.append(event)
            if len(found) == limit:
                break
        return found

    @app.get("/first-page")
    async def first_page(
        planner: Planner, size: Annotated[int, Query(ge=1, le=200)] = 50
    ) -> EventPage:
        """The first page of all events, as the API sent it."""
        async for page in planner.events.list(page_size=size).pages():
            return page
        raise AssertionError("a listing always has a first page")  # pragma: no cover

    return app


app = create_app()
