"""FastAPI integration: one client per app, a dependency, error mapping, JSON models.

``pip install 'planner-async[fastapi]'``, then::

    from fastapi import FastAPI
    from planner_async import Event
    from planner_async.fastapi import Planner, add_exception_handlers, planner_lifespan

    app = FastAPI(lifespan=planner_lifespan())  # PlannerClient.from_env() at startup
    add_exception_handlers(app)


    @app.get("/events/{event_id}", responses=error_responses())
    async def event(event_id: int, planner: Planner) -> Event:
        return await planner.events.get(event_id)

The lifespan opens one :class:`~planner_async.PlannerClient` when the app starts (in the
server's event loop), keeps it on ``app.state.planner`` and closes it at shutdown, also
when startup fails half-way. Every request shares it: one login, one quota, one pool.

The models are named schemas in the OpenAPI (``Event``, ``EventPage``, ``Location``, ...),
and :func:`error_responses` lists the error answers (403, 404, 502, 503 with their
:class:`ErrorBody`) for a route's ``responses=``.

Importing this module also teaches FastAPI's ``jsonable_encoder`` the models (``Event``,
``EventPage``, ``Location``, ``Organiser``) so handlers without a response model can return
them; the JSON is their ``to_dict()`` form, the API's own camelCase shape.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any, Final

try:
    from fastapi import Depends
    from fastapi.encoders import ENCODERS_BY_TYPE
    from pydantic import BaseModel
    from starlette.applications import Starlette
    from starlette.requests import HTTPConnection, Request
    from starlette.responses import JSONResponse
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "planner_async.fastapi needs FastAPI: pip install 'planner-async[fastapi]'"
    ) from exc

from ._client import PlannerClient
from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    NotFoundError,
    PermissionDeniedError,
    PlannerError,
    RateLimitError,
)
from ._models import Event, EventPage, Location, Organiser

__all__ = [
    "STATE_ATTRIBUTE",
    "ClientFactory",
    "ErrorBody",
    "Planner",
    "add_exception_handlers",
    "error_response",
    "error_responses",
    "get_planner",
    "planner_lifespan",
]

log = logging.getLogger("planner_async.fastapi")

STATE_ATTRIBUTE: Final = "planner"
"""The ``app.state`` attribute that holds the app's client while the app runs."""

ClientFactory = Callable[[], AbstractAsyncContextManager[PlannerClient]]
"""Builds the app's client: a callable returning a :class:`PlannerClient` (itself an async
context manager) or any async context manager that yields one."""

AppLifespan = Callable[[Any], AbstractAsyncContextManager[Any]]


def planner_lifespan(
    factory: ClientFactory = PlannerClient.from_env,
    *,
    lifespan: AppLifespan | None = None,
) -> Callable[[Starlette], AbstractAsyncContextManager[Any]]:
    """A lifespan for ``FastAPI(lifespan=...)`` that owns the app's one :class:`PlannerClient`.

    At startup it calls ``factory()`` and enters the result (a ``PlannerClient``, or an
    async context manager yielding one, for a client that needs more resources of its
    own), stores the client on ``app.state.planner`` and then runs the app's own
    ``lifespan``, if given, passing on whatever state that lifespan yields. At shutdown,
    or when startup fails after the client was made, the client is closed.

    >>> app = FastAPI(lifespan=planner_lifespan())                      # doctest: +SKIP
    >>> app = FastAPI(lifespan=planner_lifespan(lambda: PlannerClient.from_env(max_wait=2),
    ...                                         lifespan=app_lifespan))  # doctest: +SKIP

    The result is itself a function of the app returning an async context manager, so it
    also nests inside a lifespan of your own: ``async with planner_lifespan()(app): ...``.
    """
    if not callable(factory):
        raise TypeError(f"factory must be callable, got {type(factory).__name__}")
    if lifespan is not None and not callable(lifespan):
        raise TypeError(f"lifespan must be callable or None, got {type(lifespan).__name__}")

    @asynccontextmanager
    async def run(app: Starlette) -> AsyncIterator[Any]:
        async with _client_on(app, factory):
            if lifespan is None:
                yield None
            else:
                async with lifespan(app) as state:
                    yield state

    return run


@asynccontextmanager
async def _client_on(app: Starlette, factory: ClientFactory) -> AsyncIterator[PlannerClient]:
    """Make the client, keep it on ``app.state`` while the body runs, then close it."""
    if getattr(app.state, STATE_ATTRIBUTE, None) is not None:
        raise RuntimeError(
            f"app.state.{STATE_ATTRIBUTE} is already set: is planner_lifespan() running "
            "twice for this app?"
        )
    async with factory() as client:
        if not isinstance(client, PlannerClient):
            raise TypeError(
                f"the planner_lifespan factory must give a PlannerClient, got "
                f"{type(client).__name__}"
            )
        setattr(app.state, STATE_ATTRIBUTE, client)
        try:
            yield client
        finally:
            delattr(app.state, STATE_ATTRIBUTE)


def get_planner(connection: HTTPConnection) -> PlannerClient:
    """The FastAPI dependency giving the app's :class:`PlannerClient`.

    Use it through :data:`Planner` (``planner: Planner`` in a handler's parameters) or as
    ``Depends(get_planner)``. Raises ``RuntimeError`` when the app was not started with
    :func:`planner_lifespan`.
    """
    client = getattr(connection.app.state, STATE_ATTRIBUTE, None)
    if not isinstance(client, PlannerClient):
        raise RuntimeError(
            "this app has no PlannerClient: create it with "
            "FastAPI(lifespan=planner_lifespan()) (and serve it with lifespan events on)"
        )
    return client


Planner = Annotated[PlannerClient, Depends(get_planner)]
"""A handler parameter annotated ``Planner`` receives the app's client."""


def error_response(exc: PlannerError) -> JSONResponse:
    """The answer :func:`add_exception_handlers` gives for ``exc`` (no secrets in it).

    ``RateLimitError`` → 503 with ``Retry-After`` (whole seconds, at least 1),
    ``NotFoundError`` → 404, ``PermissionDeniedError`` → 403, any other API or connection
    error → 502. The body is ``{"error": <reason>, "message": <text>}``.
    """
    if isinstance(exc, RateLimitError):
        wait = max(1, math.ceil(exc.retry_after)) if exc.retry_after is not None else 1
        message = f"The Forward Planner API's rate limit is reached; retry after {wait} s."
        return _json(503, "Service Unavailable", message, {"Retry-After": str(wait)})
    if isinstance(exc, NotFoundError):
        return _json(404, "Not Found", exc.message or "Not found.")
    if isinstance(exc, PermissionDeniedError):
        return _json(403, "Forbidden", exc.message or "Forbidden.")
    if isinstance(exc, APIStatusError):
        message = f"The Forward Planner API answered {exc.status_code}."
    elif isinstance(exc, APIConnectionError):
        message = f"Could not reach the Forward Planner API ({type(exc).__name__})."
    else:
        message = f"The Forward Planner API failed ({type(exc).__name__})."
    return _json(502, "Bad Gateway", message)


class ErrorBody(BaseModel):
    """The JSON body of every error answer :func:`add_exception_handlers` gives."""

    error: str
    """The HTTP reason: ``"Not Found"``, ``"Forbidden"``, ``"Service Unavailable"``, ..."""
    message: str
    """What happened, in a sentence (never a secret)."""


_ERROR_ANSWERS: Final[dict[int, str]] = {
    403: "The Forward Planner API refused access to this resource.",
    404: "The Forward Planner API does not know this resource.",
    502: "The Forward Planner API failed or could not be reached.",
    503: "The Forward Planner API's rate limit is reached; see Retry-After.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route that lets the client's errors through.

    >>> @app.get("/events/{event_id}", responses=error_responses())   # doctest: +SKIP
    ... async def event(event_id: int, planner: Planner) -> Event: ...

    With no argument: 403, 404, 502 and 503 (with its ``Retry-After`` header), each with
    the :class:`ErrorBody` schema, as :func:`add_exception_handlers` answers them. Pass
    some of those statuses to list only them (``error_responses(404, 503)``).
    """
    unknown = sorted(set(statuses) - set(_ERROR_ANSWERS))
    if unknown:
        raise ValueError(
            f"no error answer for status {unknown}: choose from {list(_ERROR_ANSWERS)}"
        )
    answers: dict[int | str, dict[str, Any]] = {}
    for status in statuses or tuple(_ERROR_ANSWERS):
        answers[status] = {"model": ErrorBody, "description": _ERROR_ANSWERS[status]}
    if 503 in answers:
        seconds = {"schema": {"type": "integer", "minimum": 1}}
        answers[503]["headers"] = {"Retry-After": {"description": "Seconds to wait.", **seconds}}
    return answers


def _json(
    status: int, error: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status_code=status, headers=headers)


async def _handle(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, PlannerError):  # pragma: no cover - only registered for these
        raise exc
    response = error_response(exc)
    if response.status_code == 502:
        log.warning("%s %s answered 502: %s", request.method, request.url.path, exc)
    return response


def add_exception_handlers(app: Starlette) -> None:
    """Answer the client's errors as JSON: 503 (+ ``Retry-After``), 404, 403 or 502.

    See :func:`error_response` for the mapping. Bad arguments (``TypeError``,
    ``ValueError``) stay programming errors (500). 502s are logged at WARNING on the
    ``planner_async.fastapi`` logger.
    """
    for exc_class in (RateLimitError, NotFoundError, PermissionDeniedError, PlannerError):
        app.add_exception_handler(exc_class, _handle)


def _to_json(obj: Event | EventPage | Location | Organiser) -> dict[str, Any]:
    return obj.to_dict()


for _model in (Event, EventPage, Location, Organiser):
    ENCODERS_BY_TYPE.setdefault(_model, _to_json)
