"""Many events by id: ``client.events.get_many(ids)`` and its :class:`GetResult`.

The ids are fetched ``concurrency`` at a time by a task group that lives inside one step
of the iteration (never across a ``yield``), so leaving the loop early or cancelling it
leaves nothing running.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Final

import anyio
import attrs
import httpx

from ._checks import check_int
from ._exceptions import (
    APIResponseValidationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    PlannerError,
)
from ._models import Event
from ._params import check_event_id

__all__ = ["MAX_CONCURRENCY", "BulkGet", "GetResult", "check_concurrency", "check_ids"]

MAX_CONCURRENCY: Final = 64
"""The largest ``concurrency`` accepted by ``get_many`` (the default pool holds 100)."""

PER_ID_ERRORS: Final = (
    NotFoundError,
    PermissionDeniedError,
    BadRequestError,
    APIResponseValidationError,
)
"""Failures that may belong to one id (see :func:`owns`): reported in its
:class:`GetResult` when the id's own request earned them, raised otherwise."""


@attrs.frozen
class GetResult:
    """One id's outcome in ``events.get_many``: the event, or the error for that id.

    >>> result = GetResult(id=7, event=None, error=None)
    >>> result.ok
    False
    """

    id: int
    event: Event | None
    error: PlannerError | None = attrs.field(default=None, repr=lambda e: type(e).__name__)

    @property
    def ok(self) -> bool:
        """True when the event was fetched."""
        return self.event is not None


def check_ids(ids: object) -> tuple[int, ...]:
    """The distinct event ids of ``ids`` in first-occurrence order; each must be valid."""
    if isinstance(ids, str | bytes) or not isinstance(ids, Iterable):
        raise TypeError(f"ids must be an iterable of int, got {type(ids).__name__}")
    return tuple(dict.fromkeys(check_event_id(event_id) for event_id in ids))


def check_concurrency(concurrency: object) -> int:
    """``concurrency`` must be an int from 1 to :data:`MAX_CONCURRENCY`."""
    return check_int("concurrency", concurrency, low=1, high=MAX_CONCURRENCY)


def _request_of(error: PlannerError) -> httpx.Request | None:
    """The request whose answer ``error`` reports, when it carries one."""
    response = getattr(error, "response", None)
    if not isinstance(response, httpx.Response):
        return None
    try:
        return response.request
    except RuntimeError:  # a response built without its request
        return None


def owns(error: PlannerError, event_id: int) -> bool:
    """Whether ``error`` belongs to ``event_id`` alone: the answer to its own request.

    A login's or a renewal's failure (a 403 or an HTML page from ``/auth``, a token that
    cannot be sent) happens before the id's request and hits every id: it is not the
    id's. An answer without its request is the id's only when it is the event's own JSON
    failing the model (chained from the structuring error).
    """
    if not isinstance(error, PER_ID_ERRORS):
        return False
    request = _request_of(error)
    if request is not None:
        return request.url.path.rstrip("/").endswith(f"/events/{event_id}")
    return isinstance(error, APIResponseValidationError) and error.__cause__ is not None


class _Batch:
    """One round of gets; a failure that is not the id's own cancels the round."""

    __slots__ = ("failure", "get", "results")

    def __init__(self, get: Callable[[int], Awaitable[Event]]) -> None:
        self.get = get
        self.results: dict[int, GetResult] = {}
        self.failure: Exception | None = None

    async def run(self, ids: tuple[int, ...]) -> None:
        async with anyio.create_task_group() as group:
            for event_id in ids:
                group.start_soon(self._one, event_id, group.cancel_scope)
        if self.failure is not None:
            raise self.failure

    async def _one(self, event_id: int, scope: anyio.CancelScope) -> None:
        try:
            event = await self.get(event_id)
        except Exception as exc:
            if isinstance(exc, PlannerError) and owns(exc, event_id):
                self.results[event_id] = GetResult(event_id, None, exc)
                return
            if self.failure is None:  # the login's or the account's: raised once
                self.failure = exc
            scope.cancel()
        else:
            self.results[event_id] = GetResult(event_id, event, None)


class BulkGet:
    """What ``client.events.get_many(ids)`` returns: an async iterator of :class:`GetResult`.

    Results come in the order of the ids (first occurrence), one per distinct id. Each
    step fetches the next ``concurrency`` ids at the same time and then yields their
    results in order; nothing runs between steps.
    """

    __slots__ = ("_concurrency", "_get", "_ids", "_prepare")

    def __init__(
        self,
        get: Callable[[int], Awaitable[Event]],
        ids: tuple[int, ...],
        concurrency: int,
        prepare: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self._get = get
        self._ids = ids
        self._concurrency = concurrency
        self._prepare = prepare  # before each step: a token, so a failed login is raised once

    def __repr__(self) -> str:
        return f"BulkGet(ids={len(self._ids)}, concurrency={self._concurrency})"

    def __len__(self) -> int:
        """How many results the iteration delivers (distinct ids)."""
        return len(self._ids)

    async def _results(self) -> AsyncIterator[GetResult]:
        size = self._concurrency
        for first in range(0, len(self._ids), size):
            chunk = self._ids[first : first + size]
            if self._prepare is not None:
                await self._prepare()
            batch = _Batch(self._get)
            await batch.run(chunk)
            for event_id in chunk:
                yield batch.results.pop(event_id)

    def __aiter__(self) -> AsyncIterator[GetResult]:
        return self._results()
