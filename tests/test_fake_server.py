"""Behaviour of the fake Forward Planner server (planner_async.testing)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import attrs
import httpx
import pytest

from planner_async.testing import FakePlanner, FakeStats, Faults, ManualClock, generate_events

pytestmark = [pytest.mark.anyio, pytest.mark.backends("asyncio", "trio")]

T0 = 1_790_000_000.0  # divisible by 10 and 60: fixed windows start here
AUTH = "/api/v2/auth"
RENEW = "/api/v2/auth/renew"
EVENTS = "/api/v2/events"


asyncio_only = pytest.mark.backends("asyncio")


def make_fake(**kwargs: Any) -> FakePlanner:
    """A small fake with a manual clock and no random restrictions unless asked."""
    kwargs.setdefault("events", 300)
    kwargs.setdefault("clock", ManualClock(T0))
    kwargs.setdefault("restricted_share", 0.0)
    return FakePlanner(**kwargs)


@asynccontextmanager
async def connect(fake: FakePlanner) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client wired to the fake in-process."""
    async with httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url) as client:
        yield client


async def login(client: httpx.AsyncClient, user: str = "demo", key: str = "demo-key") -> Any:
    """Log in and return the session payload."""
    response = await client.post(AUTH, json={"username": user, "password": key})
    assert response.status_code == 200
    return response.json()


def bearer(session: Mapping[str, Any]) -> dict[str, str]:
    """The Authorization header for a session."""
    return {"Authorization": f"Bearer {session['token']}"}


def event(event_id: int, start: str, end: str | None = None, **extra: Any) -> dict[str, Any]:
    """A minimal wire event."""
    fields: dict[str, Any] = {"id": event_id, "title": f"Event {event_id}", "startDate": start}
    if end is not None:
        fields["endDate"] = end
    fields.update(extra)
    return fields


def claims(token: str) -> Any:
    """The decoded payload of a JWT-shaped token."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


# -- auth ---------------------------------------------------------------------------------


async def test_login_returns_session() -> None:
    """A good login answers the published session shape with a JWT-shaped token."""
    fake = make_fake()
    async with connect(fake) as client:
        session = await login(client)
    assert {"userId", "productId", "email", "token", "refreshToken"} == set(session)
    assert session["email"] == "demo@example.com"
    payload = claims(session["token"])
    assert {"sub", "iat", "exp", "jti"} <= set(payload)
    assert payload["sub"] == "demo"
    assert payload["exp"] - payload["iat"] == 900
    assert fake.stats.logins == 1


async def test_tokens_are_unique() -> None:
    """Two logins at the same instant get different access tokens (unique jti)."""
    async with connect(make_fake()) as client:
        first, second = await login(client), await login(client)
    assert claims(first["token"])["jti"] != claims(second["token"])["jti"]


@pytest.mark.parametrize(
    "body", [{"username": "demo", "password": "nope"}, {"username": "who", "password": "x"}]
)
async def test_login_bad_credentials_is_401(body: dict[str, str]) -> None:
    """Wrong credentials get a 401 JSON error."""
    async with connect(make_fake()) as client:
        response = await client.post(AUTH, json=body)
    assert response.status_code == 401
    assert {"error", "message"} == set(response.json())


@pytest.mark.parametrize("path", [AUTH, RENEW])
@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b""])
async def test_auth_bad_body_is_400(path: str, content: bytes) -> None:
    """A body that is not a JSON object is a 400 on both auth endpoints."""
    async with connect(make_fake()) as client:
        response = await client.post(path, content=content)
    assert response.status_code == 400
    assert response.json()["error"] == "Bad Request"


async def test_renew_rotates_refresh_token() -> None:
    """Renewing hands out a new refresh token and kills the old one."""
    fake = make_fake()
    async with connect(fake) as client:
        session = await login(client)
        renewed = await client.post(RENEW, json={"refreshToken": session["refreshToken"]})
        again = await client.post(RENEW, json={"refreshToken": session["refreshToken"]})
        newest = await client.post(RENEW, json={"refreshToken": renewed.json()["refreshToken"]})
    assert renewed.status_code == 200
    assert session["refreshToken"] != renewed.json()["refreshToken"]
    assert session["token"] != renewed.json()["token"]
    assert again.status_code == 401
    assert newest.status_code == 200
    assert fake.stats.renewals == 2


async def test_renew_without_rotation_keeps_refresh_token() -> None:
    """With rotation off the same refresh token keeps working."""
    async with connect(make_fake(rotate_refresh_tokens=False)) as client:
        session = await login(client)
        for _ in range(2):
            response = await client.post(RENEW, json={"refreshToken": session["refreshToken"]})
            assert response.status_code == 200
            assert session["refreshToken"] == response.json()["refreshToken"]


async def test_revoked_refresh_token_is_401() -> None:
    """A revoked refresh token is refused, per user or for everyone."""
    fake = make_fake(users={"ann": "a", "bob": "b"})
    async with connect(fake) as client:
        ann, bob = await login(client, "ann", "a"), await login(client, "bob", "b")
        assert fake.revoke_refresh_tokens("ann") == 1
        refused = await client.post(RENEW, json={"refreshToken": ann["refreshToken"]})
        kept = await client.post(RENEW, json={"refreshToken": bob["refreshToken"]})
        fake.revoke_refresh_tokens()
        later = await client.post(RENEW, json={"refreshToken": kept.json()["refreshToken"]})
    assert (refused.status_code, kept.status_code, later.status_code) == (401, 200, 401)


async def test_expired_refresh_token_is_401() -> None:
    """Refresh tokens die after their lifetime (30 days by default)."""
    clock = ManualClock(T0)
    async with connect(make_fake(clock=clock)) as client:
        session = await login(client)
        clock.advance(30 * 86_400)
        response = await client.post(RENEW, json={"refreshToken": session["refreshToken"]})
    assert response.status_code == 401


async def test_access_token_expires_on_the_clock() -> None:
    """An access token works until its exp and is a 401 from then on."""
    clock = ManualClock(T0)
    async with connect(make_fake(clock=clock, access_token_ttl=60)) as client:
        session = await login(client)
        clock.advance(59)
        fresh = await client.get(EVENTS, headers=bearer(session))
        clock.advance(1)
        stale = await client.get(EVENTS, headers=bearer(session))
    assert fresh.status_code == 200
    assert stale.status_code == 401
    assert "expired" in stale.json()["message"]


async def test_expire_tokens_invalidates_access_tokens() -> None:
    """expire_tokens() turns every current access token into a 401, but renewal works."""
    fake = make_fake()
    async with connect(fake) as client:
        session = await login(client)
        fake.expire_tokens()
        refused = await client.get(EVENTS, headers=bearer(session))
        renewed = await client.post(RENEW, json={"refreshToken": session["refreshToken"]})
        accepted = await client.get(EVENTS, headers=bearer(renewed.json()))
    assert (refused.status_code, accepted.status_code) == (401, 200)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic ZGVtbzpkZW1vLWtleQ=="},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkZW1vIn0.forged"},
    ],
)
async def test_missing_or_bad_bearer_is_401(headers: dict[str, str]) -> None:
    """Missing, malformed and forged bearer tokens are 401 JSON errors."""
    async with connect(make_fake()) as client:
        response = await client.get(EVENTS, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "Unauthorised"


# -- events -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "word"),
    [
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-13-01"}, "to"),
        ({"from": "2026-05-02", "to": "2026-05-01"}, "after"),
        ({"updatedSince": "soon"}, "updatedSince"),
        ({"pageSize": "0"}, "pageSize"),
        ({"pageSize": "201"}, "pageSize"),
        ({"pageSize": "ten"}, "pageSize"),
        ({"page": "0"}, "page"),
        ({"page": "1.5"}, "page"),
        ({"sort": "title"}, "sort"),
    ],
)
async def test_bad_listing_parameters_are_400(params: dict[str, str], word: str) -> None:
    """Every bad parameter of the contract is a 400 whose message names the problem."""
    async with connect(make_fake()) as client:
        response = await client.get(EVENTS, params=params, headers=bearer(await login(client)))
    assert response.status_code == 400
    assert response.json()["error"] == "Bad Request"
    assert word in response.json()["message"]


async def test_paging_covers_every_event_once() -> None:
    """Pages partition the listing, totals add up and a page past the end is empty."""
    fake = make_fake(events=120)
    seen: list[int] = []
    async with connect(fake) as client:
        headers = bearer(await login(client))
        for page in (1, 2, 3):
            body = (
                await client.get(EVENTS, params={"page": page, "pageSize": 50}, headers=headers)
            ).json()
            assert (body["totalItems"], body["totalPages"], body["pageSize"]) == (120, 3, 50)
            seen += [item["id"] for item in body["items"]]
        beyond = await client.get(EVENTS, params={"page": 4, "pageSize": 50}, headers=headers)
        default = (await client.get(EVENTS, headers=headers)).json()
    assert sorted(e["id"] for e in fake.events) == sorted(seen)
    assert (beyond.status_code, beyond.json()["items"]) == (200, [])
    assert (default["page"], default["pageSize"]) == (1, 50)


SORT_EVENTS = [
    event(3, "2026-03-01T10:00:00Z", updatedAt="2026-01-03T00:00:00Z"),
    event(1, "2026-03-01T10:00:00Z", updatedAt="2026-01-01T00:00:00Z"),
    event(2, "2026-02-01", updatedAt="2026-01-02T00:00:00Z"),
    event(4, "2026-03-01T11:00:00+01:00", updatedAt="2026-01-02T00:00:00Z"),
]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        (None, [2, 1, 3, 4]),
        ("startDate", [2, 1, 3, 4]),
        ("-startDate", [1, 3, 4, 2]),
        ("updatedAt", [1, 2, 4, 3]),
        ("-updatedAt", [3, 2, 4, 1]),
    ],
)
async def test_sorts_are_total_with_ties_by_id(sort: str | None, expected: list[int]) -> None:
    """Each sort orders as asked, reading offsets, with ties broken by id."""
    params = {"sort": sort} if sort else {}
    async with connect(make_fake(events=SORT_EVENTS)) as client:
        body = (await client.get(EVENTS, params=params, headers=bearer(await login(client)))).json()
    assert expected == [item["id"] for item in body["items"]]


RANGE_EVENTS = [
    event(1, "2026-05-01", "2026-05-01", allDay=True),
    event(2, "2026-05-01T08:00:00Z", "2026-05-01T09:00:00Z"),
    event(3, "2026-05-02T08:00:00+02:00", "2026-05-02T09:00:00+02:00"),  # 06:00Z
    event(4, "2026-05-03T00:00:00Z"),  # no end: ends when it starts
]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"from": "2026-05-01T23:00:00Z"}, [1, 3, 4]),
        ({"from": "2026-05-01T09:00:00Z"}, [1, 2, 3, 4]),
        ({"from": "2026-05-01T09:00:01Z"}, [1, 3, 4]),
        ({"to": "2026-05-02T06:00:00Z"}, [1, 2, 3]),
        ({"to": "2026-05-02T05:59:59Z"}, [1, 2]),
        ({"to": "2026-05-01"}, [1, 2]),
        ({"from": "2026-05-02", "to": "2026-05-02"}, [3]),
        ({"from": "2026-05-02T08:00:00+02:00", "to": "2026-05-02T06:30:00"}, [3]),
        ({"from": "2026-05-03T00:00:00Z", "to": "2026-05-03T00:00:00Z"}, [4]),
    ],
)
async def test_from_and_to_semantics(params: dict[str, str], expected: list[int]) -> None:
    """from keeps events ending on/after it, to keeps events starting on/before it."""
    async with connect(make_fake(events=RANGE_EVENTS)) as client:
        body = (await client.get(EVENTS, params=params, headers=bearer(await login(client)))).json()
    assert expected == [item["id"] for item in body["items"]]


FILTER_EVENTS = [
    event(
        1,
        "2026-01-01",
        title="Budget statement",
        description="The autumn BUDGET",
        categories=["Politics", "Economy"],
        location={"country": "GB"},
        updatedAt="2026-01-10T00:00:00Z",
    ),
    event(
        2,
        "2026-01-02",
        title="Cup final",
        description=None,
        categories=["Sport"],
        location={"country": "FR"},
        createdAt="2026-01-05T00:00:00Z",
    ),
    event(
        3,
        "2026-01-03",
        title="Tech week",
        description="budget laptops",
        categories=None,
        location=None,
        updatedAt="2026-01-20T00:00:00+01:00",
    ),
]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "budget"}, [1, 3]),
        ({"q": "AUTUMN"}, [1]),
        ({"category": ["sport", "Economy"]}, [1, 2]),
        ({"category": "Politics"}, [1]),
        ({"country": "fr"}, [2]),
        ({"updatedSince": "2026-01-05T00:00:00Z"}, [1, 2, 3]),
        ({"updatedSince": "2026-01-10T00:00:01Z"}, [3]),
        ({"q": "budget", "country": "GB"}, [1]),
    ],
)
async def test_filters(params: dict[str, Any], expected: list[int]) -> None:
    """q, category (any of), country and updatedSince filter as documented."""
    async with connect(make_fake(events=FILTER_EVENTS)) as client:
        body = (await client.get(EVENTS, params=params, headers=bearer(await login(client)))).json()
    assert expected == [item["id"] for item in body["items"]]


async def test_get_event_ok_404_403() -> None:
    """One event is 200, an unknown id 404 and a restricted one 403 (and unlisted)."""
    fake = make_fake(events=SORT_EVENTS, restricted_ids=[4])
    async with connect(fake) as client:
        headers = bearer(await login(client))
        ok = await client.get(f"{EVENTS}/2", headers=headers)
        missing = await client.get(f"{EVENTS}/99", headers=headers)
        hidden = await client.get(f"{EVENTS}/4", headers=headers)
        listing = (await client.get(EVENTS, headers=headers)).json()
    assert (200, SORT_EVENTS[2]) == (ok.status_code, ok.json())
    assert (missing.status_code, missing.json()["error"]) == (404, "Not Found")
    assert (hidden.status_code, hidden.json()["error"]) == (403, "Forbidden")
    assert 4 not in [item["id"] for item in listing["items"]]


def test_default_restricted_share_is_seeded() -> None:
    """About 1% of events are restricted by default, the same ones for the same seed."""
    first, second = FakePlanner(events=2000, seed=5), FakePlanner(events=2000, seed=5)
    assert first.restricted_ids == second.restricted_ids
    assert 5 <= len(first.restricted_ids) <= 40


async def test_unknown_path_and_wrong_method() -> None:
    """Unknown paths are 404 and wrong methods 405, both as JSON errors."""
    async with connect(make_fake()) as client:
        unknown = await client.get("/api/v2/nothing")
        not_an_id = await client.get(f"{EVENTS}/abc")
        wrong = await client.delete(EVENTS)
        get_auth = await client.get(AUTH)
    assert (unknown.status_code, not_an_id.status_code) == (404, 404)
    assert (wrong.status_code, wrong.headers["allow"]) == (405, "GET")
    assert (get_auth.status_code, get_auth.json()["error"]) == (405, "Method Not Allowed")


async def test_event_with_unknown_fields_is_served_verbatim() -> None:
    """Events go out exactly as given, unknown fields and plain dates included."""
    quirky = next(
        e for e in generate_events(2000) if "embargoed" in e or "liveStream" in e or "priority" in e
    )
    fake = make_fake(events=[quirky])
    async with connect(fake) as client:
        response = await client.get(f"{EVENTS}/{quirky['id']}", headers=bearer(await login(client)))
    assert quirky == response.json()


# -- rate limits --------------------------------------------------------------------------


async def test_sliding_limit_429_headers_and_refusals_not_counted() -> None:
    """Over a sliding limit: 429 with Retry-After and rate headers; refusals don't count."""
    clock = ManualClock(T0)
    fake = make_fake(clock=clock, rate_limits=[(3, 10)])
    async with connect(fake) as client:
        headers = bearer(await login(client))
        remaining = []
        for _ in range(3):
            response = await client.get(EVENTS, headers=headers)
            remaining.append(response.headers["x-rate-limit-remaining"])
            clock.advance(1)
        refused = await client.get(EVENTS, headers=headers)  # at T0+3, stamps T0..T0+2
        clock.advance(6.5)
        still = await client.get(EVENTS, headers=headers)  # T0+9.5
        clock.advance(0.5)
        freed = await client.get(EVENTS, headers=headers)  # T0+10: the T0 stamp left
        after = await client.get(EVENTS, headers=headers)
    assert remaining == ["2", "1", "0"]
    assert refused.status_code == 429
    assert refused.json()["error"] == "Throttle Limit Reached"
    assert refused.headers["retry-after"] == "7"
    assert "Retry after 7 seconds" in refused.json()["message"]
    assert tuple(refused.headers[f"x-rate-limit-{h}"] for h in ("limit", "remaining", "reset")) == (
        "3",
        "0",
        "7",
    )
    assert (str(still.status_code), still.headers["retry-after"]) == ("429", "1")
    assert (freed.status_code, freed.headers["x-rate-limit-remaining"]) == (200, "0")
    assert after.status_code == 429
    assert fake.stats.rate_limited == 3
    assert fake.stats.max_window_usage[(3, 10.0)] == 3


async def test_fixed_limit_resets_at_window_boundary() -> None:
    """Fixed windows refuse until the aligned boundary (window_phase), then all frees."""
    clock = ManualClock(T0 + 5)
    fake = make_fake(clock=clock, rate_limits=[(3, 10)], rate_limit_mode="fixed", window_phase=2)
    async with connect(fake) as client:
        headers = bearer(await login(client))
        statuses = [(await client.get(EVENTS, headers=headers)).status_code for _ in range(4)]
        refused = await client.get(EVENTS, headers=headers)
        clock.set(T0 + 12)  # next window starts at T0+12
        burst = [(await client.get(EVENTS, headers=headers)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert (refused.headers["retry-after"], refused.headers["x-rate-limit-reset"]) == ("7", "7")
    assert burst == [200, 200, 200, 429]
    assert fake.stats.max_fixed_window_usage[(3, 10.0)] == 3
    assert fake.stats.max_window_usage[(3, 10.0)] == 6


async def test_headers_describe_the_window_closest_to_its_limit() -> None:
    """The X-Rate-Limit-* headers follow whichever window has the fewest requests left."""
    clock = ManualClock(T0)
    fake = make_fake(clock=clock, rate_limits=[(100, 60), (5, 3600)])
    async with connect(fake) as client:
        response = await client.get(EVENTS, headers=bearer(await login(client)))
    assert tuple(
        response.headers[f"x-rate-limit-{h}"] for h in ("limit", "remaining", "reset")
    ) == ("5", "4", "3600")


async def test_limits_are_per_account() -> None:
    """One account's exhausted window does not affect another's."""
    fake = make_fake(users={"ann": "a", "bob": "b"}, rate_limits=[(1, 60)])
    async with connect(fake) as client:
        ann, bob = bearer(await login(client, "ann", "a")), bearer(await login(client, "bob", "b"))
        codes = [(await client.get(EVENTS, headers=h)).status_code for h in (ann, ann, bob)]
    assert codes == [200, 429, 200]


async def test_auth_limit_is_per_username() -> None:
    """The auth endpoints have their own tighter limit, keyed by the body's username."""
    clock = ManualClock(T0)
    fake = make_fake(users={"ann": "a", "bob": "b"}, clock=clock, auth_rate_limits=[(2, 60)])
    async with connect(fake) as client:
        codes = [
            (await client.post(AUTH, json={"username": "ann", "password": p})).status_code
            for p in ("a", "wrong", "a")
        ]
        bob = await client.post(AUTH, json={"username": "bob", "password": "b"})
        clock.advance(60)
        later = await client.post(AUTH, json={"username": "ann", "password": "a"})
    assert codes == [200, 401, 429]
    assert (bob.status_code, later.status_code) == (200, 200)
    assert fake.stats.max_auth_window_usage[(2, 60.0)] == 2


# -- faults -------------------------------------------------------------------------------


async def outcomes(faults: Faults, n: int = 30) -> list[str]:
    """What n listing requests got under ``faults``: a status, "drop" or "cut"."""
    fake = make_fake(events=20, faults=faults)
    seen = []
    async with connect(fake) as client:
        headers = bearer(await login(client))
        for _ in range(n):
            try:
                response = await client.get(EVENTS, headers=headers)
            except httpx.TransportError:
                seen.append("drop")
                continue
            try:
                response.json()
            except ValueError:
                kind = "html" if "text/html" in response.headers["content-type"] else "cut"
                seen.append(f"{response.status_code}-{kind}")
                assert len(response.content) == int(response.headers["content-length"])
                continue
            seen.append(str(response.status_code))
    return seen


@pytest.mark.parametrize(
    ("faults", "kinds"),
    [
        (Faults(drop_rate=0.4, seed=1), {"200", "drop"}),
        (Faults(error_rate=0.5, error_statuses=(500, 503), seed=2), {"200", "500", "503"}),
        (Faults(html_rate=0.3, seed=3), {"200", "502-html"}),
        (Faults(truncate_rate=0.5, seed=4), {"200", "200-cut"}),
    ],
)
async def test_faults_are_deterministic_by_seed(faults: Faults, kinds: set[str]) -> None:
    """Each fault kind shows up, and the same seed repeats the exact same outcomes."""
    first = await outcomes(faults)
    assert kinds == set(first)
    assert first == await outcomes(faults)
    assert first != await outcomes(attrs.evolve(faults, seed=99))


async def test_faults_spare_auth_by_default_and_count_against_limits() -> None:
    """Faults hit the events endpoints only, and a damaged answer still counts."""
    fake = make_fake(faults=Faults(error_rate=1.0), rate_limits=[(2, 60)])
    async with connect(fake) as client:
        headers = bearer(await login(client))
        codes = [(await client.get(EVENTS, headers=headers)).status_code for _ in range(3)]
    assert fake.stats.logins == 1
    assert sum(fake.stats.faults.values()) == 3
    assert fake.stats.max_window_usage[(2, 60.0)] == 2
    assert all(code >= 500 for code in codes)


async def test_latency_delays_answers() -> None:
    """Latency (plus jitter) delays each faulty-path answer for real."""
    fake = make_fake(faults=Faults(latency=0.05, latency_jitter=0.02))
    async with connect(fake) as client:
        headers = bearer(await login(client))
        started = time.perf_counter()
        response = await client.get(EVENTS, headers=headers)
    assert response.status_code == 200
    assert 0.05 <= time.perf_counter() - started < 1.0


def test_faults_validate_rates() -> None:
    """Rates outside 0..1 or adding up to more than 1 are refused."""
    with pytest.raises(ValueError, match="error_rate"):
        Faults(error_rate=1.5)
    with pytest.raises(ValueError, match="add up"):
        Faults(drop_rate=0.6, html_rate=0.6)


# -- scripts and stats --------------------------------------------------------------------


async def test_scripted_answers_come_first_and_run_out() -> None:
    """Scripted answers bypass auth, are served in order, then normal service resumes."""
    fake = make_fake()
    when = "Wed, 21 Oct 2026 07:28:00 GMT"
    fake.script("events.list", 429, headers={"Retry-After": when})
    fake.script("/api/v2/events", 503, times=2)
    async with connect(fake) as client:
        throttled = await client.get(EVENTS)
        failing = [(await client.get(f"{EVENTS}/1")).status_code for _ in range(2)]
        normal = await client.get(EVENTS)
    assert (429, when) == (throttled.status_code, throttled.headers["retry-after"])
    assert throttled.json()["error"] == "Throttle Limit Reached"
    assert failing == [503, 503]
    assert normal.status_code == 401
    assert fake.stats.rate_limited == 1


async def test_scripted_body() -> None:
    """A scripted body is sent as given, JSON-encoded when it is a mapping."""
    fake = make_fake()
    fake.script("auth", 200, body={"token": "t", "refreshToken": "r", "extra": 1})
    fake.script("other", 502, body="<html>oops</html>", headers={"Content-Type": "text/html"})
    async with connect(fake) as client:
        session = await client.post(AUTH, json={})
        page = await client.get("/anything")
    assert session.json() == {"token": "t", "refreshToken": "r", "extra": 1}
    assert (page.headers["content-type"], page.text) == ("text/html", "<html>oops</html>")


async def test_stats_counters_and_reset() -> None:
    """Stats count requests by endpoint and status, logins and renewals, and reset to zero."""
    fake = make_fake(events=SORT_EVENTS, restricted_ids=[4])
    async with connect(fake) as client:
        session = await login(client)
        await client.post(RENEW, json={"refreshToken": session["refreshToken"]})
        await client.get(EVENTS, headers=bearer(session))
        await client.get(f"{EVENTS}/4", headers=bearer(session))
        await client.get("/nope")
    stats = fake.stats
    assert isinstance(stats, FakeStats)
    assert stats.total_requests == 5
    assert (stats.logins, stats.renewals) == (1, 1)
    assert [
        stats.count("auth", 200),
        stats.count("auth.renew", 200),
        stats.count("events.list", 200),
        stats.count("events.get", 403),
        stats.count("other", 404),
    ] == [1, 1, 1, 1, 1]
    assert stats.max_window_usage[(500, 60.0)] == 2
    stats.reset()
    assert (stats.total_requests, stats.logins, stats.max_window_usage[(500, 60.0)]) == (0, 0, 0)
    assert sum(stats.requests.values()) == 0


# -- generator, clock, secrets ------------------------------------------------------------


def test_generator_is_deterministic_and_realistic() -> None:
    """Same seed same events; unique ids, plain dates for all-day, offsets, quirks."""
    events = generate_events(2000, seed=3)
    assert events == generate_events(2000, seed=3)
    assert events != generate_events(2000, seed=4)
    assert len({e["id"] for e in events}) == 2000
    all_day = [e for e in events if e.get("allDay")]
    assert all(len(e["startDate"]) == 10 for e in all_day)
    timed = [e["startDate"] for e in events if not e.get("allDay")]
    assert any(s.endswith("Z") for s in timed)
    assert any(s[-6] in "+-" for s in timed)
    statuses = {e["status"] for e in events}
    assert {"confirmed", "provisional", "cancelled", "postponed", "rescheduled"} == statuses
    assert any("embargoed" in e for e in events)
    assert any("description" not in e or e["description"] is None for e in events)
    assert all(e["createdAt"] <= e["updatedAt"] for e in events)
    assert len({e["categories"][0] for e in events}) >= 8
    assert {"GB", "US", "FR", "DE"} <= {
        e["location"]["country"] for e in events if e.get("location")
    }


def test_manual_clock() -> None:
    """A ManualClock moves only when advanced or set."""
    clock = ManualClock(10.0)
    clock.advance(2.5)
    assert clock() == 12.5
    clock.set(1.0)
    assert clock() == 1.0
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)


async def test_secrets_stay_out_of_reprs() -> None:
    """Passwords and tokens never show in the fake's reprs."""
    fake = make_fake(users={"demo": "s3cret-key"})
    async with connect(fake) as client:
        session = await login(client, key="s3cret-key")
    shown = repr(fake) + repr(fake.tokens) + repr(fake.stats)
    assert "s3cret-key" not in shown
    assert session["token"] not in shown


# -- over a real socket -------------------------------------------------------------------


@asyncio_only
async def test_serve_answers_over_a_socket_and_drops_connections() -> None:
    """serve() answers a login over loopback; a drop is an httpx transport error."""
    fake = make_fake()
    async with fake.serve() as base_url, httpx.AsyncClient(base_url=base_url) as client:
        session = await login(client)
        fake.faults = Faults(drop_rate=1.0)
        with pytest.raises(httpx.TransportError):
            await client.get(EVENTS, headers=bearer(session))
        fake.faults = Faults()
        response = await client.get(EVENTS, headers=bearer(session))
    assert response.status_code == 200
    assert fake.stats.dropped == 1
    assert base_url.startswith("http://127.0.0.1:")


@pytest.mark.backends("trio")
async def test_serve_refuses_trio() -> None:
    """serve() says clearly that it needs asyncio."""
    with pytest.raises(RuntimeError, match="asyncio"):
        async with make_fake().serve():
            pass
