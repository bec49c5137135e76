"""A faulty run in which the server echoes every secret everywhere finds none in the output.

The API key, every access token and every refresh token are echoed in every field of
error bodies (``error``, ``message``, extra fields), in HTML and plain-text pages, in bodies
that do not parse and in events that do not fit the model, each time also placed so that
one of the client's cuts (100, 200, 500, 2,000 characters) falls inside it. Everything a
user could see is then searched: every DEBUG log line, every exception's ``str``/``repr``
along its cause chain, every retry hook's details, and the client, session, stats and
quota reprs.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from planner_async import MemoryTokenStore, PlannerClient, PlannerError, RetryPolicy
from planner_async.testing import FakePlanner

from support import jwt

pytestmark = [pytest.mark.anyio, pytest.mark.backends("asyncio", "trio")]

CUTS = (100, 200, 500, 2000)


class EchoingServer:
    """Issues unique tokens and answers every API call with a fault that echoes secrets."""

    def __init__(self, api_key: str, *, misfits: bool) -> None:
        self.issued: dict[str, None] = {api_key: None}
        answers = [
            self.json_error(400),
            self.json_error(401),
            self.json_error(403),
            self.json_error(404),
            self.json_error(429, {"Retry-After": "0"}),
            self.json_error(500),
            self.page(502, "text/html"),
            self.page(503, "text/plain"),
            self.page(200, "application/json"),  # not JSON at all
            self.json_error(418),
        ]
        self.answers: Iterator[Callable[[httpx.Request], httpx.Response]] = itertools.cycle(
            [*answers, self.misfit] if misfits else answers
        )
        self.login_failures = 1

    def echo(self) -> str:
        """Every secret, once plainly and once across each cut."""
        parts = []
        for secret in self.issued:
            parts.append(f"echo {secret} and {secret!r}")
            parts.extend("x" * (cut - len(secret) // 2) + secret for cut in CUTS)
        return " | ".join(parts)

    def token(self) -> str:
        """A fresh JWT-shaped access token with a random id."""
        # an empty header: no "eyJ" prefix, so only the live-secret redaction can catch it
        return jwt(
            time.time() + 900,
            header={},
            signature=secrets.token_urlsafe(16),
            jti=secrets.token_hex(8),
        )

    def login(self, request: httpx.Request) -> httpx.Response:
        """Fail once (echoing the credentials sent), then issue new tokens."""
        self.issued[request.content.decode()] = None
        if self.login_failures:
            self.login_failures -= 1
            return httpx.Response(503, json={"error": self.echo(), "message": self.echo()})
        access, refresh = self.token(), f"rt-{secrets.token_urlsafe(24)}"
        self.issued.update(dict.fromkeys([access, refresh]))
        body = {"userId": 1, "email": "d@example.com", "token": access, "refreshToken": refresh}
        return httpx.Response(200, json=body)

    def json_error(
        self, status: int, headers: dict[str, str] | None = None
    ) -> Callable[[httpx.Request], httpx.Response]:
        """An error JSON with the secrets in every field."""

        def answer(request: httpx.Request) -> httpx.Response:
            echo = self.echo()
            body = {"error": echo, "message": echo, "detail": {"token": echo}}
            return httpx.Response(status, json=body, headers=headers)

        return answer

    def page(self, status: int, kind: str) -> Callable[[httpx.Request], httpx.Response]:
        """A body that is not the error JSON (HTML, text, broken JSON) with the secrets."""

        def answer(request: httpx.Request) -> httpx.Response:
            text = f"<html><body>{self.echo()}</body>" if "html" in kind else self.echo()
            return httpx.Response(status, text=text, headers={"content-type": kind})

        return answer

    def misfit(self, request: httpx.Request) -> httpx.Response:
        """A 200 event whose fields hold the secrets in the wrong types."""
        echo = self.echo()
        return httpx.Response(200, json={"id": echo, "title": {"t": echo}, "allDay": echo})

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.issued[request.headers.get("authorization", "").removeprefix("Bearer ")] = None
        path = request.url.path.removeprefix("/api/v2")
        if path in ("/auth", "/auth/renew"):
            return self.login(request)
        return next(self.answers)(request)


def exception_texts(error: BaseException) -> list[str]:
    """``str`` and ``repr`` of ``error`` and of everything in its cause/context chain."""
    texts, seen = [], set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts += [str(current), repr(current), str(getattr(current, "args", ""))]
        current = current.__cause__ or current.__context__
    return texts


def leaks(haystack: str, issued: dict[str, None]) -> list[str]:
    """Each secret (or its first or last 16 characters) found in ``haystack``, shortened."""
    found = []
    for secret in {s for s in issued if len(s) >= 16}:
        if any(piece in haystack for piece in (secret, secret[:16], secret[-16:])):
            found.append(secret[:6] + "…")
    return found


async def faulty_run(caplog: pytest.LogCaptureFixture, *, misfits: bool) -> None:
    """Forty calls against an echoing server; assert that nothing shown holds a secret."""
    caplog.set_level(logging.DEBUG)
    api_key = f"sk-{secrets.token_hex(16)}"
    server = EchoingServer(api_key, misfits=misfits)
    seen: list[str] = []
    http = httpx.AsyncClient(transport=httpx.MockTransport(server))
    policy = RetryPolicy(max_retries=1, wait_initial=0.0, wait_max=0.0)
    client = PlannerClient(
        "demo",
        api_key,
        base_url="https://planner.test",
        http_client=http,
        retry=policy,
        rate_limits=[],
        auth_rate_limits=[],
        on_retry=lambda details: seen.append(repr(details)),
    )
    errors = 0
    async with client, http:
        for event_id in range(1, 41):
            try:
                await client.events.get(event_id)
            except PlannerError as exc:
                errors += 1
                seen += exception_texts(exc)
        seen += [repr(client), repr(client.session), repr(client.stats)]
        seen += [repr(client.rate_limit)]
    seen += [caplog.text, *(record.getMessage() for record in caplog.records)]
    assert errors >= 35
    assert len(server.issued) >= 6
    assert [] == leaks("\n".join(seen), server.issued)


async def test_no_secret_reaches_logs_errors_or_reprs(caplog: pytest.LogCaptureFixture):
    """Across 40 faulty calls whose error bodies echo every secret, none is ever shown."""
    await faulty_run(caplog, misfits=False)


async def test_no_secret_reaches_the_cause_of_a_structure_error(caplog: pytest.LogCaptureFixture):
    """Events whose wrong-typed fields echo the secrets leak none, even in the cause chain."""
    await faulty_run(caplog, misfits=True)


# -- one client among 301: its redactor is never evicted ----------------------------------------


async def test_secrets_of_the_first_of_301_clients_never_show(caplog: pytest.LogCaptureFixture):
    """After 300 other accounts log in, the first client's key and tokens echoed by the
    server in an error body and in a logged retry appear in no error text and no log record."""
    caplog.set_level(logging.DEBUG)
    users = {f"user{i}": f"key{i}{secrets.token_hex(12)}" for i in range(301)}
    fake = FakePlanner(events=3, users=users, rate_limits=[], auth_rate_limits=[])
    store = MemoryTokenStore()
    package_log = logging.getLogger("planner_async")
    http = httpx.AsyncClient(transport=fake.transport())
    options: dict[str, Any] = {"base_url": fake.base_url, "http_client": http}
    first = PlannerClient(
        "user0",
        users["user0"],
        token_store=store,
        retry=RetryPolicy(max_retries=1, wait_initial=0.0, wait_max=0.0),
        on_retry=lambda d: package_log.warning("retrying after %s", d.caused_by.response.text),
        **options,
    )
    others = [PlannerClient(name, users[name], **options) for name in list(users)[1:]]
    async with http:
        try:
            for client in [first, *others]:
                await client.authenticate()
            state = (await store.load()).state
            assert state is not None
            assert state.refresh is not None
            shown = (users["user0"], state.access, state.refresh)
            echo = " ".join(f"x{secret}y {secret}" for secret in shown)
            fake.script("events.get", 503, times=1, body={"error": echo, "message": echo})
            fake.script("events.get", 500, times=1, body=f"<html>{echo}</html>")
            with pytest.raises(PlannerError) as info:
                await first.events.get(1)
        finally:
            for client in [first, *others]:
                await client.aclose()
    texts = [*exception_texts(info.value), caplog.text]
    texts += [record.getMessage() for record in caplog.records]
    assert any("retrying after" in record.getMessage() for record in caplog.records)
    assert [] == [s[:6] for s in shown if any(s in text for text in texts)]
