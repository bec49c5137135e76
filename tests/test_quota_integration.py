"""The quota guard end to end: the real client, a real loopback socket, the fake's windows."""

from __future__ import annotations

import anyio
import httpx
import pytest

from planner_async import PlannerClient
from planner_async.testing import FakePlanner, Faults

from support import NO_WAIT

pytestmark = pytest.mark.anyio

LIMITS = [(20, 0.5), (50, 1.5)]


@pytest.mark.parametrize("mode", ["sliding", "fixed"])
async def test_saturating_run_over_loopback_earns_no_429(mode: str):
    """120 concurrent gets against 20/0.5 s and 50/1.5 s windows: no 429, no window over."""
    fake = FakePlanner(
        events=200,
        seed=5,
        rate_limits=LIMITS,
        rate_limit_mode=mode,  # type: ignore[arg-type]
        window_phase=0.17,
        auth_rate_limits=[(10, 1.0)],
        restricted_share=0,
        faults=Faults(latency=0.01, latency_jitter=0.04, seed=5),
    )
    ids = [int(e["id"]) for e in fake.events][:120]
    async with (
        fake.serve() as base_url,
        PlannerClient(
            "demo", "demo-key", base_url=base_url, rate_limits=LIMITS, retry=NO_WAIT
        ) as client,
    ):
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for event_id in ids:
                    tg.start_soon(client.events.get, event_id)
    assert 0 == fake.stats.rate_limited
    assert 120 == fake.stats.count("events.get", 200)
    for (limit, period), used in fake.stats.max_window_usage.items():
        assert used <= limit, f"{used} requests in a {period} s sliding window (limit {limit})"
    for (limit, period), used in fake.stats.max_fixed_window_usage.items():
        assert used <= limit, f"{used} requests in a {period} s fixed window (limit {limit})"
    # Saturated: the tightest window was filled, not merely respected.
    assert 50 == fake.stats.max_window_usage[(50, 1.5)]


async def test_another_consumer_of_the_account_is_taken_into_account():
    """Quota spent by someone else is adopted from X-Rate-Limit-Remaining: still no 429."""
    fake = FakePlanner(events=50, seed=2, rate_limits=[(10, 1.0)], auth_rate_limits=[])
    http = httpx.AsyncClient(transport=fake.transport())
    other = PlannerClient("demo", "demo-key", base_url=fake.base_url, http_client=http)
    ours = PlannerClient(
        "demo", "demo-key", base_url=fake.base_url, http_client=http, rate_limits=[(10, 1.0)]
    )
    ids = fake.visible_ids("demo")
    await ours.events.get(ids[0])  # 1 used; the server says 9 remain
    for event_id in ids[1:7]:  # another consumer spends 6 behind our back
        await other.events.get(event_id)
    await ours.events.get(ids[0])  # the answer says 2 remain: adopted
    status = ours.rate_limit.windows[0]
    assert 2 == status.remaining
    with anyio.fail_after(10):
        for event_id in ids[:4]:
            await ours.events.get(event_id)
    assert 0 == fake.stats.rate_limited
    await http.aclose()
