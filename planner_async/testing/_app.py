"""FakePlanner: the fake server's public face, assembled from its parts.

The parts: :class:`Dispatcher` (ASGI, scripts, route table, faults, counting),
:class:`AuthEndpoints` and :class:`EventEndpoints` (what each route does) over an
:class:`EventStore`, a :class:`TokenAuthority` and two :class:`RateLimiter`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

import httpx

from ._auth_api import AuthEndpoints
from ._data import generate_events
from ._dispatch import Dispatcher
from ._events_api import EventEndpoints, PageHook
from ._faults import FaultInjector, Faults
from ._http import Body, FakeRequest, Receive, Reply, Scope, Send
from ._ratelimit import RateLimiter, RateLimitMode
from ._routes import ENDPOINTS
from ._scripts import ScriptHandler
from ._serve import serve
from ._stats import FakeStats
from ._store import EventStore, wire_event
from ._tokens import TokenAuthority
from ._transport import DroppingASGITransport

if TYPE_CHECKING:
    from .._client import PlannerClient

__all__ = ["FakePlanner"]


class FakePlanner:
    """A stateful fake Forward Planner API v2 server; an ASGI app with test controls.

    Everything time-dependent (token expiry, rate-limit windows, ``updatedAt`` stamps)
    reads ``clock``; only injected latency sleeps. Scripted answers (:meth:`script`,
    :meth:`fail_next`) come first and skip authentication, rate limiting and faults;
    they are counted in :attr:`stats` and :attr:`requests`.

    ``events`` is a count of generated events, or the events themselves (wire-shaped
    mappings, or models with ``to_dict()`` such as :class:`planner_async.Event`).
    Generated events are never stamped after ``clock``'s now at construction, so a sync
    sees every one of them, like a listing.
    ``restricted_ids`` plus a seeded ``restricted_share`` of the events (about 1% by
    default; pass ``restricted_share=0`` for none) answer 403 and are left out of
    listings; :meth:`visible_ids` tells which ids an account sees.

    A dropped connection is signalled by raising ``ConnectionDropped`` from the ASGI
    call: :meth:`transport` turns it into ``httpx.RemoteProtocolError`` and :meth:`serve`
    into a closed socket; any other ASGI server would answer 500.

    >>> fake = FakePlanner(events=10, users={"ann": "secret"})
    >>> client = httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url)
    """

    def __init__(
        self,
        events: int | Iterable[Any] = 2000,
        *,
        seed: int = 0,
        users: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        access_token_ttl: float = 900.0,
        refresh_token_ttl: float = 30 * 86_400.0,
        rotate_refresh_tokens: bool = True,
        rate_limits: Sequence[tuple[int, float]] = ((500, 60), (3000, 3600), (10000, 86400)),
        rate_limit_mode: RateLimitMode = "sliding",
        window_phase: float = 0.0,
        auth_rate_limits: Sequence[tuple[int, float]] = ((10, 60),),
        faults: Faults | None = None,
        restricted_ids: Iterable[int] = (),
        restricted_share: float = 0.01,
    ) -> None:
        self.clock = clock
        self._store = EventStore(
            generate_events(events, seed=seed, now=clock()) if isinstance(events, int) else events,
            clock=clock,
            seed=seed,
            restricted_ids=restricted_ids,
            restricted_share=restricted_share,
        )
        self._tokens = TokenAuthority(
            clock,
            access_ttl=access_token_ttl,
            refresh_ttl=refresh_token_ttl,
            rotate=rotate_refresh_tokens,
        )
        self._limiter = RateLimiter(rate_limits, mode=rate_limit_mode, phase=window_phase)
        self._auth_limiter = RateLimiter(auth_rate_limits, mode=rate_limit_mode, phase=window_phase)
        self.stats = FakeStats()
        self.stats.max_window_usage = self._limiter.max_sliding
        self.stats.max_fixed_window_usage = self._limiter.max_fixed
        self.stats.max_auth_window_usage = self._auth_limiter.max_sliding
        users = dict(users if users is not None else {"demo": "demo-key"})
        self._auth = AuthEndpoints(users, self._tokens, self._auth_limiter, self.stats)
        self._events = EventEndpoints(self._store, self._tokens, self._limiter)
        self._dispatch = Dispatcher(
            {**self._auth.handlers(), **self._events.handlers()},
            clock=clock,
            stats=self.stats,
            tokens=self._tokens,
            faults=faults or Faults(),
        )

    base_url = "https://planner.test"
    """The base URL to use with :meth:`transport` (any host and scheme work in-process;
    ``https`` so that a client that refuses plain HTTP to other hosts accepts it)."""

    def __repr__(self) -> str:
        return (
            f"FakePlanner(events={len(self.events)}, users={sorted(self._auth.users)!r}, "
            f"faults={self.faults!r})"
        )

    # -- parts -------------------------------------------------------------------------

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event, as wire dicts (restricted ones included); change them through
        :meth:`add_event`, :meth:`update_event` and :meth:`delete_event`."""
        return self._store.events

    @property
    def restricted_ids(self) -> frozenset[int]:
        """The ids that answer 403 and are left out of listings."""
        return self._store.restricted_ids

    @property
    def tokens(self) -> TokenAuthority:
        """The :class:`TokenAuthority` that issues and checks this fake's tokens."""
        return self._tokens

    @property
    def limiter(self) -> RateLimiter:
        """The per-account :class:`RateLimiter` of the events endpoints."""
        return self._limiter

    @property
    def auth_limiter(self) -> RateLimiter:
        """The per-username :class:`RateLimiter` of ``/auth`` and ``/auth/renew``."""
        return self._auth_limiter

    @property
    def faults(self) -> Faults:
        """The faults in force; assigning new ones restarts their seeded sequence."""
        return self._dispatch.injector.faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        self._dispatch.injector = FaultInjector(faults)

    @property
    def requests(self) -> list[FakeRequest]:
        """The requests received so far (the latest 100,000), oldest first.

        Each is a :class:`FakeRequest`: method, path, query params, endpoint, whether a
        bearer token came, the status answered; never a token, key or body.

        >>> fake = FakePlanner(events=0)
        >>> fake.requests
        []
        """
        return list(self._dispatch.recorded)

    def clear_requests(self) -> None:
        """Forget the requests recorded so far (:attr:`stats` is kept)."""
        self._dispatch.recorded.clear()

    # -- tokens ------------------------------------------------------------------------

    def expire_tokens(self) -> None:
        """Invalidate every access token issued so far (refresh tokens stay valid)."""
        self._tokens.revoke_access_tokens()

    def revoke_access_tokens(self, username: str | None = None) -> int:
        """Revoke the live access tokens of ``username`` (everyone's when None); return how many.

        The next call with such a token gets a 401; the refresh tokens stay valid.
        """
        return self._tokens.revoke_access_tokens(username)

    def revoke_refresh_tokens(self, username: str | None = None) -> int:
        """Revoke the refresh tokens of ``username`` (everyone's when None); return how many."""
        return self._tokens.revoke_refresh_tokens(username)

    # -- scripts -----------------------------------------------------------------------

    def script(
        self,
        target: str,
        status: int | ScriptHandler,
        *,
        times: int | None = 1,
        headers: Mapping[str, str] | None = None,
        body: Body = None,
    ) -> None:
        """Queue an answer for the next ``times`` requests matching ``target``.

        ``target`` is an endpoint name (``"auth"``, ``"auth.renew"``, ``"events.list"``,
        ``"events.get"``, ``"other"``) or a path prefix starting with ``/``. ``status``
        is a status code (with ``headers`` and ``body`` as for :class:`Reply`), or a
        handler: it gets the :class:`FakeRequest` and returns a :class:`Reply`, a status
        or ``(status, body[, headers])``, or None to let the real endpoint answer (a
        None does not use up ``times``). Handlers may be ``async``. ``times=None``
        keeps the script until :meth:`clear_scripts`. The first matching script answers.

        >>> fake = FakePlanner(events=0)
        >>> fake.script("events.list", 429, headers={"Retry-After": "2"})
        >>> fake.script("events.get", lambda r: 503 if r.number % 2 else None, times=None)
        """
        if callable(status):
            if headers is not None or body is not None:
                raise TypeError("headers and body come from the handler's reply")
            self._dispatch.scripts.add(target, status, times=times)
            return
        self._dispatch.scripts.add(target, Reply(status, body, headers), times=times)

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 503,
        retry_after: float | None = None,
        endpoint: str | None = None,
    ) -> None:
        """Answer the next ``count`` requests (on ``endpoint``, else any) with ``status``.

        ``retry_after`` adds a ``Retry-After`` header (seconds). The answers are the
        contract's JSON errors and skip the real endpoint entirely.

        >>> fake = FakePlanner(events=0)
        >>> fake.fail_next(2, status=429, retry_after=1, endpoint="events.list")
        """
        if status < 400:
            raise ValueError(f"status must be an error status (>= 400), not {status}")
        if endpoint is not None and endpoint not in ENDPOINTS:
            raise ValueError(f"endpoint must be one of {ENDPOINTS}, not {endpoint!r}")
        headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
        self.script(endpoint or "/", status, times=count, headers=headers)

    def clear_scripts(self) -> None:
        """Drop every queued script (and every pending :meth:`fail_next`)."""
        self._dispatch.scripts.clear()

    # -- events ------------------------------------------------------------------------

    def visible_ids(self, username: str = "demo", *, sort: str = "startDate") -> list[int]:
        """The event ids ``username`` can see, in the listing's order for ``sort``.

        >>> fake = FakePlanner(events=[{"id": 2, "title": "b"}, {"id": 1, "title": "a"}])
        >>> fake.visible_ids()
        [1, 2]
        """
        if username not in self._auth.users:
            raise ValueError(f"no account {username!r} on this fake")
        return self._store.visible_ids(sort)

    def event(self, event_id: int) -> dict[str, Any] | None:
        """A copy of event ``event_id`` as the wire shows it (restricted or not), or None."""
        event = self._store.get(event_id)
        return None if event is None else dict(event)

    def add_event(
        self, event: Any = None, /, *, restricted: bool = False, **fields: Any
    ) -> dict[str, Any]:
        """Add an event (a wire mapping or a model, and/or wire ``fields``); return it.

        A missing ``id`` is the highest id + 1; ``updatedAt`` (and a missing
        ``createdAt``) is the clock's now. ``restricted=True`` makes it answer 403.

        >>> FakePlanner(events=0).add_event(id=7, title="Budget")["id"]
        7
        """
        data: dict[str, Any] = {}
        if event is not None:
            data.update(wire_event(event, need_id=False))
        data.update(fields)
        return self._store.add(data, restricted=restricted)

    def update_event(self, event_id: int, /, **fields: Any) -> dict[str, Any]:
        """Change wire ``fields`` of an event (``title=...``); return the new version.

        ``updatedAt`` becomes the clock's now, or 1 ms after its previous value when the
        clock has not moved past it, so every change is a new ``(id, updatedAt)``
        version. Pass ``updatedAt`` to stamp a later time of your own choosing.
        Generated events are stamped no later than the clock's now when the fake was made,
        so a change made later is the newest version whatever the clock says.

        >>> fake = FakePlanner(events=[{"id": 1, "title": "a"}])
        >>> fake.update_event(1, title="b")["title"]
        'b'
        """
        return self._store.update(event_id, fields)

    def delete_event(self, event_id: int, /) -> dict[str, Any]:
        """Remove an event (it then answers 404 and leaves listings); return what it was."""
        return self._store.delete(event_id)

    def on_page(self, hook: PageHook) -> PageHook:
        """Call ``hook(request, page)`` after each listing page is computed, before it goes.

        ``page`` is the JSON body about to be sent; the hook (plain or ``async``) may
        change events, and the next page sees the change. Usable as a decorator.

        >>> fake = FakePlanner(events=5)
        >>> @fake.on_page
        ... def bump(request, page):
        ...     fake.update_event(page["items"][0]["id"], title="changed")
        """
        self._events.page_hooks.append(hook)
        return hook

    def remove_page_hook(self, hook: PageHook) -> None:
        """Stop calling ``hook`` (ValueError when it is not installed)."""
        if hook not in self._events.page_hooks:
            raise ValueError("that page hook is not installed")
        self._events.page_hooks.remove(hook)

    # -- serving -----------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point (``http`` and ``lifespan`` scopes)."""
        await self._dispatch(scope, receive, send)

    def transport(self) -> httpx.AsyncBaseTransport:
        """An httpx transport that calls this app in-process, turning drops into errors."""
        return DroppingASGITransport(self)

    def client(
        self,
        username: str | None = None,
        api_key: str | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        **options: Any,
    ) -> PlannerClient:
        """A :class:`~planner_async.PlannerClient` wired to this fake in-process.

        It logs in as ``username`` with ``api_key`` (default: the fake's first user);
        ``transport`` replaces :meth:`transport` (e.g. one wrapping it), and the other
        keywords are the client's own options, passed through. Unless ``http_client=`` is
        given, the client talks through an httpx client over the in-process transport,
        which holds no socket: closing the :class:`PlannerClient` is all the cleanup.

        >>> client = FakePlanner(events=10).client(max_retries=0)
        """
        from .._client import PlannerClient

        if username is None:
            if not self._auth.users:
                raise ValueError("this FakePlanner has no users: give username and api_key")
            username, default_key = next(iter(self._auth.users.items()))
            api_key = default_key if api_key is None else api_key
        if api_key is None:
            api_key = self._auth.users.get(username, "")
        if options.get("http_client") is None:
            options["http_client"] = httpx.AsyncClient(transport=transport or self.transport())
        options.setdefault("base_url", self.base_url)
        return PlannerClient(username, api_key, **options)

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> AbstractAsyncContextManager[str]:
        """Serve this app with uvicorn on a real socket; the context yields the base URL.

        Needs ``pip install planner-async[server]`` and an asyncio event loop.

        >>> async def main() -> None:
        ...     async with FakePlanner().serve() as base_url:
        ...         ...
        """
        return serve(self, host=host, port=port)
