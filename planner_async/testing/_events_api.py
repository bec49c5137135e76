"""The fake's events endpoints: ``GET /events`` (listing) and ``GET /events/{id}``."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ._http import (
    Answer,
    FakeRequest,
    Handler,
    Incoming,
    error,
    json_answer,
    rate_headers,
    throttled,
)
from ._query import QueryError, parse_query
from ._ratelimit import RateLimiter
from ._store import EventStore
from ._tokens import TokenAuthority

__all__ = ["EventEndpoints", "PageHook"]

PageHook = Callable[[FakeRequest, Mapping[str, Any]], Awaitable[None] | None]
"""Called after each listing page is computed and before it is sent."""


class EventEndpoints:
    """Bearer-token checks, the account's rate limits, and the two events endpoints."""

    __slots__ = ("limiter", "page_hooks", "store", "tokens")

    def __init__(self, store: EventStore, tokens: TokenAuthority, limiter: RateLimiter) -> None:
        self.store = store
        self.tokens = tokens
        self.limiter = limiter
        self.page_hooks: list[PageHook] = []

    def handlers(self) -> dict[str, Handler]:
        """The handler of each events route, by route name."""
        return {"events.list": self.list, "events.get": self.get}

    def _admit(self, incoming: Incoming) -> tuple[Answer | None, list[tuple[str, str]]]:
        """Check the token and count the request; return (a refusal or None, rate headers)."""
        username: str | None = None
        problem: str | None = "Missing bearer token."
        if incoming.token:
            username, problem = self.tokens.check(incoming.token)
        key = f"user:{username}" if username else incoming.address
        decision = self.limiter.hit(key, now=incoming.now)
        rate = rate_headers(self.limiter, decision)
        refused = throttled(decision)
        if refused is None and problem is not None:
            refused = error(401, problem, [*rate, ("www-authenticate", "Bearer")])
        return refused, rate

    async def get(self, incoming: Incoming) -> Answer:
        """``GET /events/{id}``: one event, 404 when unknown, 403 when restricted."""
        refused, rate = self._admit(incoming)
        if refused is not None:
            return refused
        event_id = int(incoming.request.path.rpartition("/")[2])
        event = self.store.get(event_id)
        if event is None:
            return error(404, f"Event {event_id} does not exist.", rate)
        if event_id in self.store.restricted_ids:
            return error(403, f"You may not view event {event_id}.", rate)
        return json_answer(200, event, rate)

    async def list(self, incoming: Incoming) -> Answer:
        """``GET /events``: one page of the filtered, sorted listing."""
        refused, rate = self._admit(incoming)
        if refused is not None:
            return refused
        params = {k: list(v) for k, v in incoming.request.params.items()}
        try:
            query = parse_query(params)
        except QueryError as exc:
            return error(400, str(exc), rate)
        body = self.store.page(query)
        answer = json_answer(200, body, rate)
        for hook in list(self.page_hooks):
            result = hook(incoming.request, body)
            if inspect.isawaitable(result):
                await result
        return answer
