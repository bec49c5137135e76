"""The fake Forward Planner API v2 as a plain ASGI application."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any
from urllib.parse import parse_qs

import anyio
import attrs
import httpx

from ._data import generate_events
from ._faults import FaultInjector, FaultKind, Faults
from ._query import EventIndex, QueryError, parse_query
from ._ratelimit import Decision, RateLimiter, RateLimitMode
from ._stats import FakeStats
from ._tokens import TokenAuthority

__all__ = ["ConnectionDropped", "FakePlanner"]

ENDPOINTS = ("auth", "auth.renew", "events.list", "events.get", "other")
_PREFIX = "/api/v2"
_REASONS = {
    400: "Bad Request",
    401: "Unauthorised",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Throttle Limit Reached",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_JSON = ("content-type", "application/json")
_HTML_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
    "<body><center><h1>502 Bad Gateway</h1></center>\n<hr><center>nginx</center>\n"
    "</body></html>\n"
)

Scope = Mapping[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]


class ConnectionDropped(Exception):
    """Raised by the app to say "close the connection without an answer"."""


@attrs.define
class _Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@attrs.define
class _Script:
    match: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    times: int


def _json_answer(status: int, payload: Any, headers: Sequence[tuple[str, str]] = ()) -> _Answer:
    return _Answer(status, [_JSON, *headers], json.dumps(payload).encode())


def _error(status: int, message: str, headers: Sequence[tuple[str, str]] = ()) -> _Answer:
    error = _REASONS.get(status, "Error")
    return _json_answer(status, {"error": error, "message": message}, headers)


def _user_ids(username: str) -> tuple[int, int]:
    digest = hashlib.sha256(username.encode()).digest()
    return 1000 + int.from_bytes(digest[:4], "big") % 9000, 1 + digest[4] % 99


class FakePlanner:
    """A stateful fake Forward Planner API v2 server; an ASGI app with test controls.

    Everything time-dependent (token expiry, rate-limit windows) reads ``clock``; only
    injected latency sleeps for real. Scripted answers (:meth:`script`) come first and
    skip authentication, rate limiting and faults; they are counted in :attr:`stats`.

    ``restricted_ids`` plus a seeded ``restricted_share`` of the events (about 1% by
    default; pass ``restricted_share=0`` for none) answer 403 and are left out of
    listings; :attr:`restricted_ids` tells which.

    A dropped connection is signalled by raising :class:`ConnectionDropped` from the
    ASGI call: :meth:`transport` turns it into ``httpx.RemoteProtocolError`` and
    :meth:`serve` into a closed socket; any other ASGI server would answer 500.

    >>> fake = FakePlanner(events=10, users={"ann": "secret"})
    >>> client = httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url)
    """

    def __init__(
        self,
        events: int | Iterable[Mapping[str, Any]] = 2000,
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
        if isinstance(events, int):
            events = generate_events(events, seed=seed)
        self.events: list[dict[str, Any]] = [dict(e) for e in events]
        self._by_id = {int(e["id"]): e for e in self.events}
        pick = random.Random(f"restricted-{seed}")
        self.restricted_ids: frozenset[int] = frozenset(restricted_ids) | {
            event_id for event_id in sorted(self._by_id) if pick.random() < restricted_share
        }
        self._index = EventIndex(e for e in self.events if e["id"] not in self.restricted_ids)
        self._users = dict(users if users is not None else {"demo": "demo-key"})
        self.clock = clock
        self.tokens = TokenAuthority(
            clock,
            access_ttl=access_token_ttl,
            refresh_ttl=refresh_token_ttl,
            rotate=rotate_refresh_tokens,
        )
        self.limiter = RateLimiter(rate_limits, mode=rate_limit_mode, phase=window_phase)
        self.auth_limiter = RateLimiter(auth_rate_limits, mode=rate_limit_mode, phase=window_phase)
        self.stats = FakeStats()
        self.stats.max_window_usage = self.limiter.max_sliding
        self.stats.max_fixed_window_usage = self.limiter.max_fixed
        self.stats.max_auth_window_usage = self.auth_limiter.max_sliding
        self._injector = FaultInjector(faults or Faults())
        self._scripts: list[_Script] = []

    base_url = "http://planner.test"
    """The base URL to use with :meth:`transport` (any host works)."""

    def __repr__(self) -> str:
        return (
            f"FakePlanner(events={len(self.events)}, users={sorted(self._users)!r}, "
            f"faults={self.faults!r})"
        )

    # -- controls ----------------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        """The faults in force; assigning new ones restarts their seeded sequence."""
        return self._injector.faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        self._injector = FaultInjector(faults)

    def expire_tokens(self) -> None:
        """Invalidate every access token issued so far (refresh tokens stay valid)."""
        self.tokens.expire_access_tokens()

    def revoke_refresh_tokens(self, username: str | None = None) -> int:
        """Revoke the refresh tokens of ``username`` (everyone's when None); return how many."""
        return self.tokens.revoke_refresh_tokens(username)

    def script(
        self,
        target: str,
        status: int,
        *,
        times: int = 1,
        headers: Mapping[str, str] | None = None,
        body: bytes | str | Mapping[str, Any] | list[Any] | None = None,
    ) -> None:
        """Queue a canned answer for the next ``times`` requests matching ``target``.

        ``target`` is an endpoint name (``"auth"``, ``"auth.renew"``, ``"events.list"``,
        ``"events.get"``, ``"other"``) or a path prefix starting with ``/``. Without a
        ``body``, an error status gets the standard ``{"error", "message"}`` payload and
        any other status an empty body. Scripts are used first-queued, first-served.

        >>> fake = FakePlanner(events=0)
        >>> fake.script("events.list", 429, headers={"Retry-After": "2"})
        """
        if target not in ENDPOINTS and not target.startswith("/"):
            raise ValueError(f"target must be one of {ENDPOINTS} or a path starting with '/'")
        if times < 1:
            raise ValueError("times must be at least 1")
        out_headers = [(k.lower(), v) for k, v in (headers or {}).items()]
        if body is None:
            if status >= 400:
                message = f"Scripted {status} answer."
                if status == 429:
                    message = "You have exceeded the rate limit. Retry after 60 seconds."
                answer = _error(status, message)
                data, default_type = answer.body, "application/json"
            else:
                data, default_type = b"", "application/json"
        elif isinstance(body, bytes):
            data, default_type = body, "application/octet-stream"
        elif isinstance(body, str):
            data, default_type = body.encode(), "text/plain; charset=utf-8"
        else:
            data, default_type = json.dumps(body).encode(), "application/json"
        if not any(k == "content-type" for k, _ in out_headers):
            out_headers.insert(0, ("content-type", default_type))
        self._scripts.append(_Script(target, status, out_headers, data, times))

    def transport(self) -> httpx.AsyncBaseTransport:
        """An httpx transport that calls this app in-process, turning drops into errors."""
        from ._transport import DroppingASGITransport

        return DroppingASGITransport(self)

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> AbstractAsyncContextManager[str]:
        """Serve this app with uvicorn on a real socket; the context yields the base URL.

        Needs ``pip install planner-async[server]`` and an asyncio event loop.

        >>> async def main() -> None:
        ...     async with FakePlanner().serve() as base_url:
        ...         ...
        """
        from ._serve import serve

        return serve(self, host=host, port=port)

    # -- ASGI --------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point (``http`` and ``lifespan`` scopes)."""
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        answer = await self._answer(scope, body)
        headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers]
        headers.append((b"content-length", str(len(answer.body)).encode()))
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body, "more_body": False})

    async def _answer(self, scope: Scope, body: bytes) -> _Answer:
        method: str = scope["method"]
        path: str = scope["path"]
        endpoint, allowed = self._route(path)
        self.stats.total_requests += 1

        script = self._take_script(endpoint, path)
        if script is not None:
            return self._count(endpoint, _Answer(script.status, list(script.headers), script.body))
        if allowed is None:
            return self._count(endpoint, _error(404, f"No endpoint at {path}."))
        if method != allowed:
            answer = _error(405, f"{method} is not allowed on {path}.", [("allow", allowed)])
            return self._count(endpoint, answer)

        now = self.clock()
        host = (scope.get("client") or ("unknown", 0))[0]
        if endpoint.startswith("auth"):
            answer = self._auth(endpoint, body, now, f"addr:{host}")
        else:
            answer = self._events(scope, endpoint, path, now, f"addr:{host}")

        if not self._injector.applies_to(endpoint):
            return self._count(endpoint, answer)
        outcome = self._injector.draw()
        if outcome.delay > 0:
            await anyio.sleep(outcome.delay)
        if outcome.kind is not FaultKind.NONE:
            self.stats.faults[outcome.kind.value] += 1
        if outcome.kind is FaultKind.DROP:
            self.stats.dropped += 1
            self.stats.requests[(endpoint, 0)] += 1
            raise ConnectionDropped(path)
        rate_headers = [(k, v) for k, v in answer.headers if k.lower().startswith("x-rate-limit")]
        if outcome.kind is FaultKind.ERROR:
            message = "The server failed to answer; please retry later."
            answer = _error(outcome.status, message, rate_headers)
        elif outcome.kind is FaultKind.HTML:
            page = _HTML_PAGE.encode()
            answer = _Answer(502, [("content-type", "text/html; charset=utf-8")], page)
        elif outcome.kind is FaultKind.TRUNCATE:
            answer = _Answer(answer.status, answer.headers, answer.body[: len(answer.body) // 2])
        return self._count(endpoint, answer)

    def _count(self, endpoint: str, answer: _Answer) -> _Answer:
        self.stats.requests[(endpoint, answer.status)] += 1
        if answer.status == 429:
            self.stats.rate_limited += 1
        return answer

    @staticmethod
    def _route(path: str) -> tuple[str, str | None]:
        """Return ``(endpoint name, allowed method)``; the method is None for no route."""
        if path == f"{_PREFIX}/auth":
            return "auth", "POST"
        if path == f"{_PREFIX}/auth/renew":
            return "auth.renew", "POST"
        if path == f"{_PREFIX}/events":
            return "events.list", "GET"
        head, _, tail = path.rpartition("/")
        if head == f"{_PREFIX}/events" and tail.isdigit() and tail.isascii():
            return "events.get", "GET"
        return "other", None

    def _take_script(self, endpoint: str, path: str) -> _Script | None:
        for script in self._scripts:
            if script.match == endpoint or (
                script.match.startswith("/") and path.startswith(script.match)
            ):
                script.times -= 1
                if script.times == 0:
                    self._scripts.remove(script)
                return script
        return None

    # -- auth --------------------------------------------------------------------------

    def _auth(self, endpoint: str, body: bytes, now: float, address: str) -> _Answer:
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            payload = None
        if not isinstance(payload, dict):
            payload = None
        key = address
        if payload is not None and endpoint == "auth":
            username = payload.get("username")
            key = f"user:{username}" if isinstance(username, str) else address
        elif payload is not None:
            token = payload.get("refreshToken")
            user = self.tokens.refresh_owner(token) if isinstance(token, str) else None
            key = f"user:{user}" if user is not None else address
        decision = self.auth_limiter.hit(key, now=now)
        limited = self._limited(decision)
        if limited is not None:
            return limited
        rate = self._rate_headers(self.auth_limiter, decision)
        if payload is None:
            return _error(400, "The request body must be a JSON object.", rate)
        if endpoint == "auth":
            return self._login(payload, rate)
        return self._renew(payload, rate)

    def _login(self, payload: Mapping[str, Any], rate: list[tuple[str, str]]) -> _Answer:
        username, password = payload.get("username"), payload.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            return _error(400, "Both 'username' and 'password' must be strings.", rate)
        expected = self._users.get(username)
        if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
            return _error(401, "Invalid username or password.", rate)
        access, refresh = self.tokens.issue(username)
        self.stats.logins += 1
        return _json_answer(200, self._session(username, access, refresh), rate)

    def _renew(self, payload: Mapping[str, Any], rate: list[tuple[str, str]]) -> _Answer:
        token = payload.get("refreshToken")
        if not isinstance(token, str):
            return _error(400, "'refreshToken' must be a string.", rate)
        renewed = self.tokens.renew(token)
        if renewed is None:
            return _error(401, "The refresh token is invalid, expired or revoked.", rate)
        self.stats.renewals += 1
        return _json_answer(200, self._session(*renewed), rate)

    @staticmethod
    def _session(username: str, access: str, refresh: str) -> dict[str, Any]:
        user_id, product_id = _user_ids(username)
        return {
            "userId": user_id,
            "productId": product_id,
            "email": f"{username}@example.com",
            "token": access,
            "refreshToken": refresh,
        }

    # -- events ------------------------------------------------------------------------

    def _events(self, scope: Scope, endpoint: str, path: str, now: float, address: str) -> _Answer:
        authorization = ""
        for name, value in scope.get("headers", ()):
            if name.lower() == b"authorization":
                authorization = value.decode("latin-1")
        scheme, _, token = authorization.strip().partition(" ")
        username: str | None = None
        problem: str | None = "Missing bearer token."
        if scheme.lower() == "bearer" and token.strip():
            username, problem = self.tokens.check(token.strip())
        decision = self.limiter.hit(f"user:{username}" if username else address, now=now)
        limited = self._limited(decision)
        if limited is not None:
            return limited
        rate = self._rate_headers(self.limiter, decision)
        if problem is not None:
            return _error(401, problem, [*rate, ("www-authenticate", "Bearer")])
        if endpoint == "events.get":
            event_id = int(path.rpartition("/")[2])
            if event_id not in self._by_id:
                return _error(404, f"Event {event_id} does not exist.", rate)
            if event_id in self.restricted_ids:
                return _error(403, f"You may not view event {event_id}.", rate)
            return _json_answer(200, self._by_id[event_id], rate)
        params = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        try:
            query = parse_query(params)
        except QueryError as exc:
            return _error(400, str(exc), rate)
        return _json_answer(200, self._index.page(query), rate)

    # -- rate limits -------------------------------------------------------------------

    @staticmethod
    def _rate_headers(limiter: RateLimiter, decision: Decision) -> list[tuple[str, str]]:
        return decision.headers() if limiter.limits else []

    def _limited(self, decision: Decision) -> _Answer | None:
        if decision.allowed:
            return None
        wait = decision.headers()[-1][1]
        message = f"You have exceeded the rate limit. Retry after {wait} seconds."
        return _error(429, message, decision.headers())
