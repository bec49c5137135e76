"""``BlockingPlannerClient``: the client for synchronous code (scripts, Django, Celery).

One background thread runs an event loop (anyio's blocking portal, :mod:`._portal`) that
owns one :class:`PlannerClient`. Every call, from any thread, runs there as a task while
the calling thread waits; so all the threads of a process share one login, one quota and
one connection pool. Each method mirrors the async one's signature (checked by mypy):
what differs is only that it blocks and returns plain iterators.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Self, TypeVar, Unpack

from ._bulk import BulkGet, GetResult
from ._client import ClientOptions, ClientStats, PlannerClient
from ._events import EventIterator, Events
from ._limiter import RateLimitStatus
from ._models import Event, EventPage, Session
from ._portal import PortalIterator, Runner, refuse_in_event_loop
from ._sync import EventSync, SyncCheckpoint

if TYPE_CHECKING:
    from datetime import datetime

__all__ = [
    "BlockingBulkGet",
    "BlockingEventIterator",
    "BlockingEventSync",
    "BlockingEvents",
    "BlockingPlannerClient",
]

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S")


def _arguments_of(
    source: Callable[Concatenate[Any, P], object],
) -> Callable[[Callable[Concatenate[S, ...], R]], Callable[Concatenate[S, P], R]]:
    """Give a blocking method the parameters of the async ``source`` (for mypy and IDEs)."""

    def apply(method: Callable[Concatenate[S, ...], R]) -> Callable[Concatenate[S, P], R]:
        method.__wrapped__ = source  # type: ignore[attr-defined]  # inspect.signature shows them
        return method

    return apply


class BlockingEventIterator(PortalIterator[Event]):
    """What ``client.events.list(...)`` returns: a plain iterator of events, or ``.pages()``.

    Arguments were checked when it was made; no request is sent before the first
    ``next()``. Pages are fetched ahead as in :class:`EventIterator`.

    >>> for event in client.events.list(query="budget"):   # doctest: +SKIP
    ...     print(event.title)
    """

    __slots__ = ("_keep", "_listing")

    def __init__(self, events: BlockingEvents, listing: EventIterator) -> None:
        runner, self._keep = events._runner, events  # the client stays open while iterated
        super().__init__(runner, "events.list()", listing.__aiter__)
        self._listing = listing

    def pages(self, prefetch: int | None = None) -> PortalIterator[EventPage]:
        """Iterate each :class:`EventPage` in order (see :meth:`EventIterator.pages`)."""
        return PortalIterator(self._runner, "events.list().pages()", lambda: self._pages(prefetch))

    def _pages(self, prefetch: int | None) -> Any:
        return self._listing.pages(prefetch)

    def __repr__(self) -> str:
        return f"Blocking{self._listing!r}"


class BlockingBulkGet(PortalIterator[GetResult]):
    """What ``client.events.get_many(ids)`` returns: a plain iterator of :class:`GetResult`.

    One result per distinct id, in the order of the ids (see :class:`BulkGet`).
    """

    __slots__ = ("_bulk", "_keep")

    def __init__(self, events: BlockingEvents, bulk: BulkGet) -> None:
        runner, self._keep = events._runner, events  # the client stays open while iterated
        super().__init__(runner, "events.get_many()", bulk.__aiter__)
        self._bulk = bulk

    def __len__(self) -> int:
        """How many results the iteration delivers (distinct ids)."""
        return len(self._bulk)

    def __repr__(self) -> str:
        return f"Blocking{self._bulk!r}"


class BlockingEventSync(PortalIterator[Event]):
    """What ``client.events.sync(checkpoint)`` returns: iterate it for the changed events,
    and store :attr:`checkpoint` after handling each (see :class:`EventSync`).
    """

    __slots__ = ("_keep", "_run")

    def __init__(self, events: BlockingEvents, run: EventSync) -> None:
        runner, self._keep = events._runner, events  # the client stays open while iterated
        super().__init__(runner, "events.sync()", run.__aiter__)
        self._run = run

    @property
    def checkpoint(self) -> SyncCheckpoint | None:
        """What to store: it covers every event delivered so far (None before any)."""
        return self._run.checkpoint

    @property
    def until(self) -> datetime:
        """The upper bound of this run: later changes are left to the next run."""
        return self._run.until

    def __repr__(self) -> str:
        return f"Blocking{self._run!r}"


class BlockingEvents:
    """The events endpoints of :class:`BlockingPlannerClient`: ``get``, ``list``,
    ``get_many`` and ``sync``, with the arguments of :class:`Events`' methods.
    """

    __slots__ = ("_client", "_events", "_runner")

    def __init__(self, client: BlockingPlannerClient, events: Events) -> None:
        self._client = client  # kept alive (and so open) while its listings are iterated
        self._runner = client._runner
        self._events = events

    @_arguments_of(Events.get)
    def get(self, *args: Any, **kwargs: Any) -> Event:
        """Fetch one event by id (see :meth:`Events.get`)."""
        return self._runner.call("events.get()", lambda: self._events.get(*args, **kwargs))

    @_arguments_of(Events.list)
    def list(self, *args: Any, **kwargs: Any) -> BlockingEventIterator:
        """Iterate matching events, page by page; arguments are checked at once."""
        refuse_in_event_loop("events.list()")
        return BlockingEventIterator(self, self._events.list(*args, **kwargs))

    @_arguments_of(Events.get_many)
    def get_many(self, *args: Any, **kwargs: Any) -> BlockingBulkGet:
        """Fetch many events by id, ``concurrency`` at a time (see :meth:`Events.get_many`)."""
        refuse_in_event_loop("events.get_many()")
        return BlockingBulkGet(self, self._events.get_many(*args, **kwargs))

    @_arguments_of(Events.sync)
    def sync(self, *args: Any, **kwargs: Any) -> BlockingEventSync:
        """Every event created or changed since ``checkpoint`` (see :meth:`Events.sync`)."""
        refuse_in_event_loop("events.sync()")
        return BlockingEventSync(self, self._events.sync(*args, **kwargs))


class BlockingPlannerClient:
    """The client for synchronous code: scripts, Django views, Celery tasks, notebooks.

    >>> with BlockingPlannerClient.from_env() as client:     # doctest: +SKIP
    ...     for event in client.events.list(query="budget"):
    ...         print(event.title)

    Takes the options of :class:`PlannerClient` (:class:`ClientOptions`). A background
    thread runs the event loop that owns the async client; calls from any number of
    threads share its login, quota and connection pool. Calling it inside a running
    event loop raises :class:`EventLoopBlockedError` (use :class:`PlannerClient` there).
    Hooks (``on_retry``, ...) run on the background thread. :meth:`close` (or leaving
    ``with``) cancels the calls still running and stops the thread within seconds.
    """

    __slots__ = ("__weakref__", "_client", "_parent", "_runner", "events")

    def __init__(self, username: str, api_key: str, **options: Unpack[ClientOptions]) -> None:
        self._start(PlannerClient(username, api_key, **options))

    def _start(self, client: PlannerClient) -> None:
        self._client = client
        self._runner = runner = Runner()
        self._parent: BlockingPlannerClient | None = None
        self.events = BlockingEvents(self, client.events)
        # Dropped without close(): stop the thread anyway (a view keeps its parent alive).
        weakref.finalize(self, runner.close_in_background, client.aclose).atexit = False

    @classmethod
    def from_env(cls, **options: Unpack[ClientOptions]) -> Self:
        """Build a client from the environment, as :meth:`PlannerClient.from_env` does.

        >>> client = BlockingPlannerClient.from_env(max_wait=30)   # doctest: +SKIP
        """
        blocking = cls.__new__(cls)
        blocking._start(PlannerClient.from_env(**options))
        return blocking

    def with_options(self, **options: Unpack[ClientOptions]) -> Self:
        """A view with other call settings, sharing this client's thread, pool, tokens and
        quota (see :meth:`PlannerClient.with_options`). Closing the view closes nothing.
        """
        view = type(self).__new__(type(self))
        view._client = self._client.with_options(**options)
        view._runner = self._runner
        view._parent = self
        view.events = BlockingEvents(view, view._client.events)
        return view

    def __repr__(self) -> str:
        return f"Blocking{self._client!r}"

    def __enter__(self) -> Self:
        if self._runner.closed:
            raise RuntimeError("this BlockingPlannerClient is closed; create a new one")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Cancel the calls still running, close the connections, stop the thread.

        Idempotent and bounded (a few seconds at most); a view's does nothing.
        """
        if self._parent is None:
            self._runner.close(self._client.aclose)

    def authenticate(self) -> Session:
        """Log in now (instead of lazily on the first call) and return the session."""
        return self._runner.call("authenticate()", self._client.authenticate)

    @property
    def rate_limit(self) -> RateLimitStatus:
        """A snapshot of the quota (see :attr:`PlannerClient.rate_limit`)."""
        return self._runner.read("rate_limit", lambda: self._client.rate_limit)

    def fetch_rate_limit(self) -> RateLimitStatus:
        """A fresh :attr:`rate_limit` snapshot (a round trip with a shared quota store)."""
        return self._runner.call("fetch_rate_limit()", self._client.fetch_rate_limit)

    @property
    def stats(self) -> ClientStats:
        """Counters: HTTP requests sent, retries, 429s received, logins, renewals."""
        return self._runner.read("stats", lambda: self._client.stats)

    @property
    def session(self) -> Session | None:
        """The current session, or None before the first login."""
        return self._runner.read("session", lambda: self._client.session)
