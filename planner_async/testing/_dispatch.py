"""The fake's front door: ASGI in, scripts first, then the route table, faults, counting.

The dispatcher knows nothing of what the endpoints do: it finds a request's route in
:data:`ROUTES`, calls that route's handler, damages the answer as the seeded
:class:`FaultInjector` decides, counts it in :class:`FakeStats` and records it.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from urllib.parse import parse_qs

import anyio
import attrs

from ._faults import FaultInjector, FaultKind, Faults, Plan
from ._http import (
    Answer,
    ConnectionDropped,
    FakeRequest,
    Handler,
    Incoming,
    Receive,
    Scope,
    Send,
    error,
    read_body,
    send_answer,
    serve_lifespan,
)
from ._routes import OTHER, ROUTES, route
from ._scripts import ScriptQueue
from ._stats import FakeStats
from ._tokens import TokenAuthority

__all__ = ["Dispatcher"]

_HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
    b"<body><center><h1>502 Bad Gateway</h1></center>\n<hr><center>nginx</center>\n"
    b"</body></html>\n"
)


def _bearer(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The bearer token of an ``Authorization`` header, or None."""
    authorization = ""
    for name, value in headers:
        if name.lower() == b"authorization":
            authorization = value.decode("latin-1")
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _damage(plan: Plan, answer: Answer) -> Answer:
    """``answer`` as the fault ``plan.kind`` leaves it (drops are handled apart)."""
    if plan.kind is FaultKind.ERROR:
        rate = [(k, v) for k, v in answer.headers if k.lower().startswith("x-rate-limit")]
        return error(plan.status, "The server failed to answer; please retry later.", rate)
    if plan.kind is FaultKind.HTML:
        return Answer(502, [("content-type", "text/html; charset=utf-8")], _HTML_PAGE)
    if plan.kind is FaultKind.TRUNCATE:
        return Answer(answer.status, answer.headers, answer.body[: len(answer.body) // 2])
    return answer


class Dispatcher:
    """An ASGI app that routes requests to ``handlers`` (one per route in the table).

    ``clock`` stamps requests; ``tokens`` is revoked by the revocation faults; the
    latest ``max_recorded`` requests are kept in :attr:`recorded`.
    """

    __slots__ = (
        "_handlers",
        "_numbers",
        "clock",
        "injector",
        "recorded",
        "scripts",
        "stats",
        "tokens",
    )

    def __init__(
        self,
        handlers: Mapping[str, Handler],
        *,
        clock: Callable[[], float],
        stats: FakeStats,
        tokens: TokenAuthority,
        faults: Faults,
        max_recorded: int = 100_000,
    ) -> None:
        missing = sorted({r.name for r in ROUTES} - set(handlers))
        if missing:
            raise ValueError(f"no handler for routes {missing}")
        self._handlers = dict(handlers)
        self.clock = clock
        self.stats = stats
        self.tokens = tokens
        self.injector = FaultInjector(faults)
        self.scripts = ScriptQueue()
        self.recorded: deque[FakeRequest] = deque(maxlen=max_recorded)
        self._numbers = itertools.count(1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point (``http`` and ``lifespan`` scopes)."""
        if scope["type"] == "lifespan":
            await serve_lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        if body is None:
            return
        answer = await self.answer(self._incoming(scope, body))
        await send_answer(send, answer)

    def _incoming(self, scope: Scope, body: bytes) -> Incoming:
        path: str = scope["path"]
        found = route(path)
        query = scope.get("query_string", b"").decode("latin-1")
        params = {k: tuple(v) for k, v in parse_qs(query, keep_blank_values=True).items()}
        token = _bearer(scope.get("headers", ()))
        self.stats.total_requests += 1
        request = FakeRequest(
            method=scope["method"],
            path=path,
            endpoint=found.name if found else OTHER,
            params=params,
            bearer=token is not None,
            number=next(self._numbers),
            at=self.clock(),
        )
        host = (scope.get("client") or ("unknown", 0))[0]
        return Incoming(request, body, token, f"addr:{host}", request.at)

    async def answer(self, incoming: Incoming) -> Answer:
        """Answer one request; raise :class:`ConnectionDropped` for a dropped connection."""
        request = incoming.request
        scripted = await self.scripts.take(request)
        if scripted is not None:
            return self._finish(request, scripted, scripted=True)
        found = route(request.path)
        if found is None:
            return self._finish(request, error(404, f"No endpoint at {request.path}."))
        if request.method != found.method:
            message = f"{request.method} is not allowed on {request.path}."
            return self._finish(request, error(405, message, [("allow", found.method)]))
        if not self.injector.applies_to(found.name):
            return self._finish(request, await self._handlers[found.name](incoming))
        return await self._answer_faulty(incoming)

    async def _answer_faulty(self, incoming: Incoming) -> Answer:
        request = incoming.request
        plan = self.injector.draw()
        self._revoke(plan)
        faults = [kind.value for kind in plan.before]
        if plan.throttled:
            return self._finish(request, self._burst_answer(), faults=faults)
        answer = await self._handlers[request.endpoint](incoming)
        if plan.delay > 0:
            await anyio.sleep(plan.delay)
        if plan.spike:
            faults.append(FaultKind.SPIKE.value)
        if plan.kind is not FaultKind.NONE:
            faults.append(plan.kind.value)
        if plan.kind is FaultKind.DROP:
            self._finish(request, None, faults=faults)
            raise ConnectionDropped(request.path)
        return self._finish(request, _damage(plan, answer), faults=faults)

    def _revoke(self, plan: Plan) -> None:
        if FaultKind.REVOKE_ACCESS in plan.before:
            self.tokens.revoke_access_tokens()
        if FaultKind.REVOKE_REFRESH in plan.before:
            self.tokens.revoke_refresh_tokens()

    def _burst_answer(self) -> Answer:
        wait = str(math.ceil(self.injector.faults.burst_retry_after))
        message = f"You have exceeded the rate limit. Retry after {wait} seconds."
        return error(429, message, [("retry-after", wait)])

    def _finish(
        self,
        request: FakeRequest,
        answer: Answer | None,
        *,
        scripted: bool = False,
        faults: Iterable[str] = (),
    ) -> Answer:
        """Count and record the answer (None: the connection is dropped); return it."""
        status = 0 if answer is None else answer.status
        kinds = tuple(faults)
        self.stats.requests[(request.endpoint, status)] += 1
        self.stats.faults.update(kinds)
        self.stats.dropped += answer is None
        self.stats.rate_limited += status == 429
        self.recorded.append(attrs.evolve(request, status=status, faults=kinds, scripted=scripted))
        return answer if answer is not None else Answer(0, [], b"")
