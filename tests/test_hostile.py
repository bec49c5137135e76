"""One regression test per defect of the adversarial run (issue 10), against the public client.

Each test failed on the client as the run found it. Tests that wait for a fix in the client
core are marked ``xfail(strict=True)``: when the fix lands they pass, the strict marker
turns that into a failure, and the marker is removed.
"""

from __future__ import annotations

import json
import logging
import math
import pickle
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import anyio
import httpx
import pytest

from planner_async import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    NotFoundError,
    PlannerClient,
    PlannerError,
    QuotaWaitError,
    RateLimitError,
    ServerError,
)
from planner_async.testing import ManualClock

from support import NO_WAIT, event_json, jwt

pytestmark = [pytest.mark.anyio, pytest.mark.backends("asyncio", "trio")]

BASE = "https://planner.test"
API_KEY = "sk-live-0123456789abcdef"
Handler = Callable[[httpx.Request], Any]


def pending(fix: str) -> pytest.MarkDecorator:
    """Mark a regression test whose fix belongs to the client core and has not landed."""
    return pytest.mark.xfail(strict=True, reason=f"pending core fix: {fix}")


class Server:
    """A scripted API: ``/auth`` and ``/auth/renew`` work unless overridden; counts requests."""

    def __init__(self, events: Handler | None = None, *, token: Callable[[], str] | None = None):
        self.events = events or (lambda request: httpx.Response(200, json=event_json(1)))
        self.token = token or (lambda: jwt(time.time() + 900))
        self.auth: Handler | None = None
        self.renew: Handler | None = None
        self.seen: Counter[str] = Counter()
        self.hosts: list[str] = []

    def login_answer(self) -> httpx.Response:
        """A successful login or renewal answer with a fresh token."""
        body = {"userId": 1, "productId": 2, "email": "d@example.com", "token": self.token()}
        return httpx.Response(200, json={**body, "refreshToken": "refresh-token-1"})

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.hosts.append(request.url.host)
        path = request.url.path.removeprefix("/api/v2")
        self.seen[path if path.startswith("/auth") else "events"] += 1
        if path == "/auth":
            answer = self.auth(request) if self.auth else self.login_answer()
        elif path == "/auth/renew":
            answer = self.renew(request) if self.renew else self.login_answer()
        else:
            answer = self.events(request)
        if not isinstance(answer, httpx.Response):
            answer = await answer
        return answer


def make_client(server: Server, **kwargs: Any) -> PlannerClient:
    """A client on ``server`` through ``httpx.MockTransport`` (the http client is ours)."""
    follow = kwargs.pop("follow_redirects", False)
    http = httpx.AsyncClient(transport=httpx.MockTransport(server), follow_redirects=follow)
    kwargs.setdefault("retry", NO_WAIT)
    kwargs.setdefault("rate_limits", [])
    kwargs.setdefault("auth_rate_limits", [])
    return PlannerClient(
        kwargs.pop("username", "demo"),
        kwargs.pop("api_key", API_KEY),
        base_url=kwargs.pop("base_url", BASE),
        http_client=http,
        **kwargs,
    )


# -- 1. deep nesting ------------------------------------------------------------------------


async def test_1_deeply_nested_success_body_is_a_typed_error():
    """A 200 body of 100,000 '[' is an APIResponseValidationError, not a RecursionError."""
    server = Server(lambda request: httpx.Response(200, content=b"[" * 100_000))
    async with make_client(server, max_retries=0) as client:
        with pytest.raises(APIResponseValidationError):
            await client.events.get(1)


async def test_1_deeply_nested_error_body_is_a_typed_error():
    """A 500 whose body is valid JSON 3,000 levels deep is a ServerError with a short message."""
    body = ('{"a":' * 3000 + "1" + "}" * 3000).encode()
    server = Server(lambda request: httpx.Response(500, content=body))
    async with make_client(server, max_retries=0) as client:
        with pytest.raises(ServerError) as info:
            await client.events.get(1)
    assert len(str(info.value)) < 600


async def test_1_deeply_nested_jwt_payload_uses_the_default_lifetime():
    """A token whose claims nest 3,000 deep still logs in (no usable exp: default lifetime)."""
    token = jwt(payload=b"[" * 3000 + b"]" * 3000)
    server = Server(token=lambda: token)
    async with make_client(server) as client:
        session = await client.authenticate()
        assert session.expires_at is not None
        await client.events.get(1)


# -- 2. a token that cannot travel in a header ----------------------------------------------


async def test_2_non_ascii_token_is_refused_at_login():
    """A login answer with a non-ASCII token is an APIResponseValidationError at login."""
    server = Server(token=lambda: "tökén-with-ünïcode")
    async with make_client(server, max_retries=0) as client:
        with pytest.raises(APIResponseValidationError, match="HTTP header"):
            await client.authenticate()
        with pytest.raises(APIResponseValidationError):
            await client.events.get(1)
    assert 0 == server.seen["events"]


# -- 3. exp outside the datetime range ------------------------------------------------------


@pytest.mark.parametrize(
    "exp", [time.time() * 1000 + 900_000, 1e20, -1e20, math.inf, math.nan, 10**400]
)
async def test_3_exp_out_of_range_falls_back_to_the_default_lifetime(exp: object):
    """An exp in milliseconds, ±1e20, inf, NaN or a huge int gives a working client."""
    server = Server(token=lambda: jwt(exp))
    async with make_client(server) as client:
        before = time.time()
        session = await client.authenticate()
        assert session.expires_at is not None
        lifetime = session.expires_at.timestamp() - before
        assert 800 < lifetime < 1000
        assert 1 == (await client.events.get(1)).id


# -- 4. the error field ---------------------------------------------------------------------


async def test_4_api_key_in_the_error_field_is_redacted(caplog: pytest.LogCaptureFixture):
    """An API key echoed in ``error`` appears neither in str(exc) nor in the retry log."""
    body = {"error": f"bad key {API_KEY}", "message": f"key {API_KEY} refused"}
    server = Server(lambda request: httpx.Response(503, json=body))
    caplog.set_level(logging.DEBUG, logger="planner_async")
    async with make_client(server, max_retries=2) as client:
        with pytest.raises(ServerError) as info:
            await client.events.get(1)
    assert "bad key ***" == info.value.error
    assert API_KEY not in str(info.value) + repr(info.value)
    assert 2 == sum("retry" in r.getMessage() for r in caplog.records)
    assert API_KEY not in caplog.text


# -- 5. redaction before the cut, bounded messages, no mangling ------------------------------


async def test_5_secret_straddling_the_cut_leaks_no_prefix():
    """A key that crosses the snippet cut of a non-JSON body leaks none of its characters."""
    body = ("x " * 95 + API_KEY + " tail").encode()
    server = Server(lambda request: httpx.Response(400, content=body))
    async with make_client(server) as client:
        with pytest.raises(APIStatusError) as info:
            await client.events.get(1)
    assert API_KEY[:6] not in str(info.value)


async def test_5_huge_message_gives_a_bounded_exception_and_log(caplog: pytest.LogCaptureFixture):
    """A 5 MB message gives an exception string and retry log lines of about 500 characters."""
    body = json.dumps({"error": "Boom", "message": "m" * 5_000_000}).encode()
    server = Server(lambda request: httpx.Response(500, content=body))
    caplog.set_level(logging.INFO, logger="planner_async")
    async with make_client(server, max_retries=3) as client:
        with pytest.raises(ServerError) as info:
            await client.events.get(1)
    assert len(str(info.value)) < 1000
    assert len(caplog.text) < 4 * 1000


async def test_5_short_secret_does_not_mangle_words():
    """A one-character API key does not turn 'the' into 't***e' in messages."""
    message = "the event does not exist"
    server = Server(lambda request: httpx.Response(404, json={"error": "Nope", "message": message}))
    async with make_client(server, api_key="h") as client:
        with pytest.raises(NotFoundError) as info:
            await client.events.get(1)
    assert message == info.value.message


async def test_errors_survive_pickling():
    """Server errors pickle with their class, message, status, error and retry_after."""
    answers = iter(
        [
            httpx.Response(500, json={"error": "Boom", "message": "m"}),
            httpx.Response(
                429, json={"error": "Slow", "message": "m"}, headers={"Retry-After": "7"}
            ),
        ]
    )
    server = Server(lambda request: next(answers))
    errors: list[APIStatusError] = []
    async with make_client(server, max_retries=0) as client:
        for _ in range(2):
            with pytest.raises(APIStatusError) as info:
                await client.events.get(1)
            errors.append(info.value)
    copies = [pickle.loads(pickle.dumps(error)) for error in errors]
    assert [ServerError, RateLimitError] == [type(copy) for copy in copies]
    assert [(500, "Boom", "m"), (429, "Slow", "m")] == [
        (c.status_code, c.error, c.message) for c in copies
    ]
    assert 7.0 == copies[1].retry_after
    assert [str(e) for e in errors] == [str(c) for c in copies]


# -- 6. plain HTTP --------------------------------------------------------------------------


def test_6_plain_http_to_a_remote_host_is_refused():
    """http:// to a non-loopback host is a ValueError unless allow_insecure_http=True."""
    with pytest.raises(ValueError, match="https"):
        PlannerClient("demo", API_KEY, base_url="http://api.example.com")
    PlannerClient("demo", API_KEY, base_url="http://127.0.0.1:8000")
    PlannerClient("demo", API_KEY, base_url="http://[::1]:8000")
    PlannerClient("demo", API_KEY, base_url="http://localhost:8000")
    PlannerClient("demo", API_KEY, base_url="http://api.example.com", allow_insecure_http=True)


# -- 7, 8. redirects ------------------------------------------------------------------------


async def test_7_auth_redirect_does_not_send_the_key_elsewhere():
    """A 307 from /auth to another host is a typed error; that host never gets the key."""
    server = Server()
    server.auth = lambda request: (
        httpx.Response(307, headers={"Location": "https://evil.test/steal"})
        if request.url.host == "planner.test"
        else httpx.Response(200, json={"token": "stolen"})
    )
    async with make_client(server, follow_redirects=True, max_retries=0) as client:
        with pytest.raises(PlannerError):
            await client.authenticate()
    assert ["planner.test"] == server.hosts


async def test_8_redirect_loop_is_a_typed_error():
    """A redirect loop on an API call is a PlannerError, not httpx.TooManyRedirects."""
    server = Server(lambda request: httpx.Response(302, headers={"Location": str(request.url)}))
    async with make_client(server, follow_redirects=True, max_retries=0) as client:
        with pytest.raises(PlannerError):
            await client.events.get(1)
    assert server.seen["events"] <= 1


# -- 9, 10. quota headers -------------------------------------------------------------------


async def test_9_huge_retry_after_does_not_pause_the_client():
    """One 429 with Retry-After: 1e9 raises, and the next call still goes out at once."""
    answers = iter([httpx.Response(429, headers={"Retry-After": "1e9"})])
    server = Server(lambda request: next(answers, httpx.Response(200, json=event_json(1))))
    async with make_client(server, rate_limits=[(100, 60.0)]) as client:
        with pytest.raises(RateLimitError):
            await client.events.get(1)
        with anyio.fail_after(1):
            assert 1 == (await client.events.get(1)).id


async def test_10_rate_limit_reset_is_honoured():
    """After Remaining: 0, Reset: 0.1 the next call waits about 0.1 s, not the 60 s window."""
    headers = {
        "X-Rate-Limit-Limit": "500",
        "X-Rate-Limit-Remaining": "0",
        "X-Rate-Limit-Reset": "0.1",
    }
    answers = iter([httpx.Response(200, json=event_json(1), headers=headers)])
    server = Server(lambda request: next(answers, httpx.Response(200, json=event_json(2))))
    async with make_client(server, rate_limits=[(500, 60.0)]) as client:
        await client.events.get(1)
        with anyio.fail_after(1):
            assert 2 == (await client.events.get(2)).id


# -- 11, 12, 13. tokens ---------------------------------------------------------------------


async def test_11_token_expired_at_issue_is_not_renewed_on_every_call():
    """A token whose exp is already past when issued costs one login for five calls."""
    server = Server(token=lambda: jwt(time.time() - 100))
    async with make_client(server) as client:
        for _ in range(5):
            await client.events.get(1)
    assert (1, 0) == (server.seen["/auth"], server.seen["/auth/renew"])


async def test_12_concurrent_401s_make_one_renewal():
    """Fifty calls that all get 401 for the same token make exactly one renewal.

    A guard: this exact shape (all 401s held until the fiftieth arrives) did not reproduce
    the adversarial run's figure on the old client either.
    """
    tokens = iter(f"token-{n}" for n in range(1000))
    gate = anyio.Event()
    held = 0

    async def events(request: httpx.Request) -> httpx.Response:
        nonlocal held
        if request.headers["authorization"] == "Bearer token-0":
            held += 1
            if held == 50:
                gate.set()
            await gate.wait()
            return httpx.Response(401, json={"error": "Unauthorised", "message": "expired"})
        return httpx.Response(200, json=event_json(1))

    server = Server(events, token=lambda: next(tokens))
    async with make_client(server, coalesce=False) as client:  # fifty requests, not one
        with anyio.fail_after(5):
            async with anyio.create_task_group() as group:
                for _ in range(50):
                    group.start_soon(client.events.get, 1)
    assert (1, 1) == (server.seen["/auth"], server.seen["/auth/renew"])


@pytest.mark.backends("trio-virtual")  # the 0.3 s login and the give-ups run on virtual time
async def test_13_callers_giving_up_do_not_restart_the_login():
    """Ten callers that time out during a slow login leave one login for the patient caller."""

    async def slow_login(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(0.3)
        return server.login_answer()

    server = Server()
    server.auth = slow_login
    async with make_client(server) as client:
        start = anyio.current_time()
        for _ in range(10):
            with anyio.move_on_after(0.02):
                await client.events.get(1)
        with anyio.fail_after(1):
            await client.events.get(1)
        # the patient caller got the first login, done 0.3 s after it began
        assert pytest.approx(0.3, abs=1e-9) == anyio.current_time() - start
    assert 1 == server.seen["/auth"]


# -- 14. arguments that cannot be sent ------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"query": "budget \ud800"},
        {"categories": ["Politics", "\udfff"]},
        {"country": "G\ud800"},
        {"start": datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5)))},
        {"updated_since": datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5)))},
    ],
)
async def test_14_unsendable_arguments_are_refused_before_any_request(kwargs: dict[str, Any]):
    """Lone surrogates and datetimes outside UTC's range are a ValueError, no request sent."""
    server = Server()
    async with make_client(server) as client:
        with pytest.raises(ValueError, match=r"surrogate|outside"):
            client.events.list(**kwargs)
    assert 0 == sum(server.seen.values())


# -- 15. lenient structuring ----------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [{"id": 1001.9}, {"allDay": "false"}, {"categories": "Politics"}, {"title": ["a", "b"]}],
)
async def test_15_wrong_types_are_refused_not_converted(fields: dict[str, Any]):
    """A float id, a string boolean, a string list or a list title is a typed error."""
    body = {**event_json(1001), **fields}
    server = Server(lambda request: httpx.Response(200, json=body))
    async with make_client(server, max_retries=0) as client:
        with pytest.raises(APIResponseValidationError):
            await client.events.get(1001)


# -- 16. a server that ignores page ---------------------------------------------------------


async def test_16_server_ignoring_page_is_not_paged_forever():
    """A server that always answers page 1 stops the listing with a typed error."""
    items = [event_json(n) for n in range(1, 11)]
    count = 0

    def events(request: httpx.Request) -> httpx.Response:
        nonlocal count
        count += 1
        page = {"items": items if count < 100 else [], "page": 1, "pageSize": 10}
        return httpx.Response(200, json=page)

    async with make_client(Server(events)) as client:
        with pytest.raises(PlannerError):
            async for _ in client.events.list(page_size=10):
                pass
    assert count <= 3


# -- also seen ------------------------------------------------------------------------------


async def test_body_over_the_size_cap_is_a_typed_error():
    """A body larger than max_response_bytes is a typed error, read no further than the cap."""
    server = Server(lambda request: httpx.Response(200, content=b" " * 100_000 + b"{}"))
    async with make_client(server, max_response_bytes=10_000, max_retries=0) as client:
        with pytest.raises(APIResponseValidationError, match="bytes"):
            await client.events.get(1)


# Real time in the trickle tests: the client measures a call's whole-answer deadline on
# time.monotonic (planner_async._wire), so virtual time would never reach it.


async def _trickle() -> AsyncIterator[bytes]:
    yield b'{"id": 1, '
    while True:
        await anyio.sleep(0.05)  # real time (see above)
        yield b" "


async def test_trickling_body_is_cut_off():
    """A body that trickles forever ends in APITimeoutError after about the timeout."""
    server = Server(lambda request: httpx.Response(200, content=_trickle()))
    async with make_client(server, timeout=0.3, max_retries=0) as client:
        with anyio.fail_after(1.5), pytest.raises(APITimeoutError):
            await client.events.get(1)


async def _trickle_known_length() -> AsyncIterator[bytes]:
    for byte in b'{"id": 1, "title": "slow"}   ':  # 29 bytes, one every 50 ms
        await anyio.sleep(0.05)  # real time (see above)
        yield bytes([byte])


async def test_trickling_body_of_declared_length_is_cut_off_at_the_timeout():
    """A body with Content-Length that trickles is cut off at the timeout too (was 1.17 s)."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"Content-Length": "29"}, content=_trickle_known_length()
        )

    server = Server(answer)
    async with make_client(server, timeout=0.3, max_retries=0) as client:
        started = time.monotonic()
        with pytest.raises(APITimeoutError):
            await client.events.get(1)
        elapsed = time.monotonic() - started
    assert 0.25 <= elapsed <= 0.6


async def test_retry_after_on_503_is_honoured():
    """A 503 with Retry-After: 0.2 waits that long before the retry (backoff alone is 0)."""
    answers = iter([httpx.Response(503, headers={"Retry-After": "0.2"})])
    server = Server(lambda request: next(answers, httpx.Response(200, json=event_json(1))))
    clock = ManualClock(start=0.0)
    async with make_client(server, clock=clock, sleep=clock.sleep) as client:
        await client.events.get(1)
    assert 0.2 == clock()  # the wait happened, on the manual clock
    assert 2 == server.seen["events"]


async def test_slot_given_back_when_nothing_was_sent():
    """A request that failed before any byte left gives its slot back at once."""
    answers = iter([httpx.LocalProtocolError("could not write the request")])

    def events(request: httpx.Request) -> httpx.Response:
        failure = next(answers, None)
        if failure is not None:
            raise failure
        return httpx.Response(200, json=event_json(1))

    client = make_client(Server(events), rate_limits=[(1, 60.0)], max_wait=0.5, max_retries=0)
    async with client:
        with pytest.raises(APIConnectionError):
            await client.events.get(1)
        assert 1 == (await client.events.get(1)).id


async def test_abandon_grace_is_configurable():
    """With abandon_grace=0, a slot abandoned by a dropped answer frees with its window."""
    answers = iter([httpx.ReadError("connection reset")])

    def events(request: httpx.Request) -> httpx.Response:
        failure = next(answers, None)
        if failure is not None:
            raise failure
        return httpx.Response(200, json=event_json(1))

    client = make_client(Server(events), rate_limits=[(1, 0.1)], abandon_grace=0.0, max_retries=0)
    async with client:
        with pytest.raises(APIConnectionError):
            await client.events.get(1)
        with anyio.fail_after(1):
            assert 1 == (await client.events.get(1)).id


async def test_local_quota_refusal_is_distinguishable():
    """A max_wait refusal is a QuotaWaitError with sent=False; nothing reached the server."""
    server = Server()
    async with make_client(server, rate_limits=[(1, 60.0)], max_wait=0.0) as client:
        await client.events.get(1)
        with pytest.raises(RateLimitError) as info:
            await client.events.get(1)
    assert isinstance(info.value, QuotaWaitError)
    assert info.value.sent is False
    assert 1 == server.seen["events"]


async def test_token_revoked_again_after_a_retry_is_renewed_again():
    """A call renewed once, then 429'd, then 401'd for the new token renews again (chaos)."""
    tokens = iter(f"token-{n}" for n in range(10))
    script = iter(["401", "429", "401", "200"])

    def events(request: httpx.Request) -> httpx.Response:
        step = next(script)
        if step == "429":
            return httpx.Response(429, headers={"Retry-After": "0"})
        if step == "401":
            return httpx.Response(401, json={"error": "Unauthorised", "message": "revoked"})
        return httpx.Response(200, json=event_json(1))

    server = Server(events, token=lambda: next(tokens))
    async with make_client(server) as client:
        assert 1 == (await client.events.get(1)).id
    assert (1, 2) == (server.seen["/auth"], server.seen["/auth/renew"])


async def test_oversized_error_body_is_cut_not_refused():
    """An error body over max_response_bytes still gives its status error, from a prefix."""
    body = json.dumps({"error": "Down", "message": "m" * 50_000}).encode()
    server = Server(lambda request: httpx.Response(503, content=body))
    async with make_client(server, max_response_bytes=1_000, max_retries=0) as client:
        with pytest.raises(ServerError, match="unexpected body"):
            await client.events.get(1)


async def test_transport_error_names_the_host_and_keeps_its_cause():
    """A reset connection is an APIConnectionError naming the host, httpx's error as cause."""

    def events(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("connection reset by peer")

    async with make_client(Server(events), max_retries=0) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.events.get(1)
    assert "planner.test" == info.value.host
    assert "planner.test" in str(info.value)
    assert isinstance(info.value.__cause__, httpx.ReadError)
