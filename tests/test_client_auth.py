"""Login, renewal and the lock-guarded refresher, against the in-process fake server."""

from __future__ import annotations

import logging

import anyio
import pytest

from planner_async import AuthenticationError, MemoryTokenStore, PlannerClient, Session
from planner_async.testing import FakePlanner, ManualClock

from support import ClientFactory, GatedTransport

pytestmark = [pytest.mark.anyio, pytest.mark.backends("asyncio", "trio")]


def visible_ids(fake: FakePlanner, count: int) -> list[int]:
    """The first ``count`` event ids that the account may see."""
    return fake.visible_ids("demo")[:count]


async def gather_gets(client_get: object, ids: list[int]) -> list[object]:
    """Run ``client_get(id)`` for every id concurrently; return the results in id order."""
    results: dict[int, object] = {}

    async def one(event_id: int) -> None:
        results[event_id] = await client_get(event_id)  # type: ignore[operator]

    async with anyio.create_task_group() as tg:
        for event_id in ids:
            tg.start_soon(one, event_id)
    return [results[i] for i in ids]


async def test_login_is_lazy_and_returns_a_session(fake: FakePlanner, make_client: ClientFactory):
    """No request goes out before the first call; authenticate() returns the session."""
    client = make_client()
    assert 0 == fake.stats.total_requests
    session = await client.authenticate()
    assert isinstance(session, Session)
    assert session.user_id is not None
    assert 1 == fake.stats.logins
    assert "token" not in repr(session).lower()


async def test_expired_token_200_concurrent_gets_renew_once(
    fake: FakePlanner, clock: ManualClock, make_client: ClientFactory
):
    """200 concurrent gets with a token the client knows expired cause exactly one renewal."""
    client = make_client()
    await client.authenticate()
    clock.advance(16 * 60)
    events = await gather_gets(client.events.get, visible_ids(fake, 200))
    assert 200 == len(events)
    assert 1 == fake.stats.renewals
    assert 1 == fake.stats.logins
    assert 0 == fake.stats.count("events.get", 401)  # no request sent with the old token


async def test_server_side_expiry_200_concurrent_401s_renew_once(
    fake: FakePlanner, make_client: ClientFactory
):
    """200 concurrent requests that all earn a 401 share one renewal and all succeed."""
    client = make_client()
    await client.authenticate()
    fake.expire_tokens()  # the client's clock still says the token is fine
    events = await gather_gets(client.events.get, visible_ids(fake, 200))
    assert 200 == len(events)
    assert 1 == fake.stats.renewals
    assert 1 == fake.stats.logins


async def test_dead_refresh_token_200_concurrent_gets_log_in_once(
    fake: FakePlanner, clock: ManualClock, make_client: ClientFactory
):
    """With the refresh token revoked, 200 concurrent gets cause exactly one new login."""
    client = make_client()
    await client.authenticate()
    fake.revoke_refresh_tokens()
    clock.advance(16 * 60)
    events = await gather_gets(client.events.get, visible_ids(fake, 200))
    assert 200 == len(events)
    assert 2 == fake.stats.logins
    assert 0 == fake.stats.renewals
    assert 1 == fake.stats.count("auth.renew", 401)


async def test_refresh_token_past_30_days_falls_back_to_login(
    fake: FakePlanner, clock: ManualClock, make_client: ClientFactory
):
    """A refresh token older than its lifetime is rejected and the client logs in again."""
    client = make_client()
    await client.authenticate()
    clock.advance(31 * 86_400)
    await client.events.get(visible_ids(fake, 1)[0])
    assert 2 == fake.stats.logins


async def test_rotated_refresh_token_replaces_the_old_one(
    fake: FakePlanner, clock: ManualClock, make_client: ClientFactory
):
    """Two renewals in a row succeed, so the rotated refresh token was kept."""
    client = make_client()
    event_id = visible_ids(fake, 1)[0]
    await client.events.get(event_id)
    for _ in range(2):
        clock.advance(15 * 60)
        await client.events.get(event_id)
    assert 2 == fake.stats.renewals
    assert 1 == fake.stats.logins
    assert 0 == fake.stats.count("auth.renew", 401)


async def test_proactive_renewal_does_not_stall_requests(
    fake: FakePlanner, clock: ManualClock, make_client: ClientFactory
):
    """While a proactive renewal hangs, requests go on with the still-valid token."""
    gated = GatedTransport(fake.transport(), "/api/v2/auth/renew")
    client = make_client(transport=gated, refresh_margin=60.0)
    ids = visible_ids(fake, 21)
    await client.authenticate()
    clock.advance(15 * 60 - 30)  # 30 s left: inside the 60 s margin
    async with anyio.create_task_group() as tg:
        tg.start_soon(client.events.get, ids[0])  # this one starts the renewal
        await gated.entered.wait()
        with anyio.fail_after(5):
            for event_id in ids[1:]:
                await client.events.get(event_id)  # not stalled by the hanging renewal
        assert 0 == fake.stats.renewals
        gated.gate.set()
    assert 1 == fake.stats.renewals
    assert 21 == fake.stats.count("events.get", 200)


async def test_401_mid_run_renews_once_and_retries(fake: FakePlanner, make_client: ClientFactory):
    """One 401 on a request: one renewal, then the same request succeeds."""
    client = make_client()
    event_id = visible_ids(fake, 1)[0]
    await client.authenticate()
    fake.script("events.get", 401)
    event = await client.events.get(event_id)
    assert event_id == event.id
    assert 1 == fake.stats.renewals


async def test_second_401_raises(fake: FakePlanner, make_client: ClientFactory):
    """A 401 after the renewal raises AuthenticationError instead of looping."""
    client = make_client()
    await client.authenticate()
    fake.script("events.get", 401, times=2)
    with pytest.raises(AuthenticationError) as info:
        await client.events.get(visible_ids(fake, 1)[0])
    assert 401 == info.value.status_code
    assert 1 == fake.stats.renewals


async def test_wrong_credentials_fail_fast(fake: FakePlanner, make_client: ClientFactory):
    """Bad credentials: one /auth call, then later calls fail without touching /auth."""
    client = make_client(api_key="wrong-key")
    with pytest.raises(AuthenticationError):
        await client.events.get(1)
    assert 1 == fake.stats.count("auth", 401)
    with pytest.raises(AuthenticationError):
        await client.events.get(1)
    with pytest.raises(AuthenticationError):
        await client.authenticate()
    assert 1 == fake.stats.total_requests


async def cancel_the_caller_mid_flight(
    client: PlannerClient, gated: GatedTransport, event_id: int
) -> None:
    """Start ``events.get``, cancel it while its auth call is held, then let the call through."""
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.events.get, event_id)
            await gated.entered.wait()
            tg.cancel_scope.cancel()  # the getter gives up; the shielded flight goes on
            assert not gated.gate.is_set()  # the auth call is still held as it is cancelled
            gated.gate.set()  # an event, not a sleep: the cancel came first, now let it through


async def test_cancelled_login_still_finishes_for_the_others(
    fake: FakePlanner, make_client: ClientFactory
):
    """A caller cancelled mid-login does not abandon it: the login finishes, and is reused."""
    gated = GatedTransport(fake.transport(), "/api/v2/auth")
    client = make_client(transport=gated)
    event_id = visible_ids(fake, 1)[0]
    await cancel_the_caller_mid_flight(client, gated, event_id)
    assert client.session is not None  # the login completed although its caller left
    with anyio.fail_after(5):
        event = await client.events.get(event_id)
    assert event_id == event.id
    assert 1 == fake.stats.logins


async def test_cancelled_renewal_still_finishes_for_the_others(
    fake: FakePlanner, clock: ManualClock, make_client: ClientFactory
):
    """A caller cancelled mid-renewal does not abandon it: one renewal, then reused."""
    gated = GatedTransport(fake.transport(), "/api/v2/auth/renew")
    client = make_client(transport=gated)
    event_id = visible_ids(fake, 1)[0]
    await client.authenticate()
    clock.advance(16 * 60)
    await cancel_the_caller_mid_flight(client, gated, event_id)
    with anyio.fail_after(5):
        event = await client.events.get(event_id)
    assert event_id == event.id
    assert (1, 1) == (fake.stats.logins, fake.stats.renewals)


async def test_secrets_stay_out_of_reprs_errors_and_logs(
    fake: FakePlanner, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
):
    """The API key and tokens appear in no repr, error message or log line."""
    caplog.set_level(logging.DEBUG)
    client = make_client(api_key="wrong-key")
    with pytest.raises(AuthenticationError) as info:
        await client.authenticate()
    store = MemoryTokenStore()
    good = make_client(token_store=store)
    await good.authenticate()
    await good.events.get(visible_ids(fake, 1)[0])
    state = (await store.load()).state
    assert state is not None
    secrets = ["wrong-key", "demo-key", state.access, str(state.refresh)]
    texts = [repr(client), repr(good), str(info.value), repr(info.value), repr(state), caplog.text]
    for secret in secrets:
        for text in texts:
            assert secret not in text


async def test_cancelled_request_leaks_no_permit_and_counts(
    fake: FakePlanner, make_client: ClientFactory
):
    """A request cancelled in flight frees its in-flight hold but still counts against quota."""
    event_path = f"/api/v2/events/{visible_ids(fake, 1)[0]}"
    gated = GatedTransport(fake.transport(), event_path)
    client = make_client(transport=gated, rate_limits=[(5, 60.0)])
    await client.authenticate()
    async with anyio.create_task_group() as tg:
        tg.start_soon(client.events.get, visible_ids(fake, 1)[0])
        await gated.entered.wait()
        tg.cancel_scope.cancel()
    window = client.rate_limit.windows[0]
    assert 1 == window.used  # it may have reached the server: it counts
    assert window.next_free_in is not None  # held by an expiry, not stuck "in flight"
    gated.gate.set()
    with anyio.fail_after(5):
        await client.events.get(visible_ids(fake, 2)[1])
    assert 2 == client.rate_limit.windows[0].used
