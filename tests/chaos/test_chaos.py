"""Chaos: a full ingestion of 5,000 events over a real loopback socket while the fake misbehaves.

For each seed the fake (``FakePlanner.serve()``, uvicorn on 127.0.0.1) injects the chaos
mix of :meth:`Faults.chaos`: 5% JSON 5xx, 2% dropped connections, 1% HTML 502 pages,
1% truncated bodies and 1% latency spikes, one refresh-token revocation, two access-token
revocations (the first one after the refresh revocation, so that renewal fails and the
client logs in again; the second one renews) and a burst of five 429s. The client lists
every event with the default quotas (and the listing's default look-ahead). The seeds run
three at a time (one fake and one client each), once per module; the tests then check
each seed's figures:

- every event is delivered exactly once (no duplicate, none lost);
- no sliding window of the server's limits (and of its auth limits) was ever over;
- the client's counters match what the fake injected: one retry per damaged answer, each
  429 counted, every request seen by the server, two logins and one renewal.

One summary line per seed is printed at the end of the run (see ``conftest.py``).
"""

from __future__ import annotations

import time
from collections import Counter

import anyio
import attrs
import pytest

from planner_async import ClientStats, PlannerClient, RetryPolicy
from planner_async.testing import FakePlanner, Faults

pytestmark = pytest.mark.chaos

SEEDS = tuple(range(1, 11))
EVENTS = 5000
PAGE_SIZE = 50
PAGES = EVENTS // PAGE_SIZE
DAMAGING = frozenset({"error", "html", "truncate", "drop", "burst_429"})
KINDS = ("error", "drop", "html", "truncate", "spike", "burst_429", "revoke_access")
KINDS += ("revoke_refresh",)


@attrs.frozen
class SeedRun:
    """What one seed's ingestion delivered, what the fake saw and what the client counted."""

    seed: int
    faults: Faults
    expected: list[int]
    delivered: list[int]
    fake: FakePlanner
    stats: ClientStats
    seconds: float
    failure: BaseException | None
    reasons: Counter[str]

    @property
    def duplicates(self) -> int:
        """Events delivered more than once (each extra delivery counts)."""
        return len(self.delivered) - len(set(self.delivered))

    @property
    def lost(self) -> int:
        """Visible events never delivered."""
        return len(set(self.expected) - set(self.delivered))

    @property
    def damaged(self) -> int:
        """Answers on the events endpoints that a fault spoiled (a 401 is renewed instead)."""
        return sum(
            1
            for request in self.fake.requests
            if request.endpoint.startswith("events")
            and DAMAGING & set(request.faults)
            and request.status != 401
        )

    def over_limit(self) -> list[str]:
        """Each window of the server's limits that ever counted more than its limit."""
        usages = [*self.fake.stats.max_window_usage.items()]
        usages += [*self.fake.stats.max_auth_window_usage.items()]
        return [
            f"{used}/{limit} per {period:g}s" for (limit, period), used in usages if used > limit
        ]

    def line(self) -> str:
        """The seed's summary line for the CI log."""
        injected = self.fake.stats.faults
        figures = " ".join(f"{kind}={injected[kind]}" for kind in KINDS)
        worst = max(
            (used / limit for (limit, _), used in self.fake.stats.max_window_usage.items()),
            default=0.0,
        )
        outcome = "ok" if self.failure is None else f"FAILED ({type(self.failure).__name__})"
        return (
            f"seed {self.seed:2d}: {outcome}; events {len(self.expected)}, delivered "
            f"{len(self.delivered)}, duplicates {self.duplicates}, lost {self.lost}; "
            f"faults {sum(injected[k] for k in KINDS)} ({figures}); requests "
            f"{self.stats.requests}, retries {self.stats.retries} (damaged {self.damaged}), "
            f"429s {self.stats.rate_limited}, logins {self.stats.logins}, renewals "
            f"{self.stats.renewals}; windows over a limit {len(self.over_limit())} (busiest "
            f"{worst:.0%}); retried for {dict(sorted(self.reasons.items()))}; {self.seconds:.1f} s"
        )


def chaos_faults(seed: int) -> Faults:
    """The chaos mix for ``seed``, with revocations placed so that each one matters."""
    base = Faults.chaos(seed, requests=PAGES, spike_delay=0.1)
    refresh = 2 + base.revoke_refresh_at[0] % 30
    first = refresh + 1 + base.revoke_access_at[0] % 30
    second = first + 5 + seed % 30  # at most 96: within the listing's 100 pages
    return attrs.evolve(base, revoke_refresh_at=(refresh,), revoke_access_at=(first, second))


async def ingest(seed: int) -> SeedRun:
    """List every event of a faulty fake served on loopback; record what happened."""
    faults = chaos_faults(seed)
    fake = FakePlanner(events=EVENTS, seed=seed, faults=faults, restricted_share=0.0)
    retry = RetryPolicy(max_retries=8, wait_initial=0.01, wait_max=0.1)
    reasons = Counter[str]()
    delivered: list[int] = []
    failure: BaseException | None = None
    start = time.monotonic()
    async with fake.serve() as base_url:
        client = PlannerClient(
            "demo",
            "demo-key",
            base_url=base_url,
            retry=retry,
            timeout=30,
            on_retry=lambda details: reasons.update([_reason(details.caused_by)]),
        )
        async with client:
            try:
                with anyio.fail_after(60):
                    async for event in client.events.list(page_size=PAGE_SIZE):
                        delivered.append(event.id)
            except Exception as exc:
                failure = exc
            stats = client.stats
    return SeedRun(
        seed=seed,
        faults=faults,
        expected=fake.visible_ids(),
        delivered=delivered,
        fake=fake,
        stats=stats,
        seconds=time.monotonic() - start,
        failure=failure,
        reasons=reasons,
    )


def _reason(error: BaseException | None) -> str:
    """A retry's cause in a word: the status, or the error's class."""
    status = getattr(error, "status_code", None)
    return str(status) if status is not None else type(error).__name__


@pytest.fixture(scope="module")
def runs(chaos_summary: list[str]) -> dict[int, SeedRun]:
    """Every seed's run, made once, concurrently, on asyncio (uvicorn needs it)."""
    results: dict[int, SeedRun] = {}

    async def main() -> None:
        slots = anyio.CapacityLimiter(3)  # the fake's CPU is the bottleneck: no point in more

        async def one(seed: int) -> None:
            async with slots:
                results[seed] = await ingest(seed)

        async with anyio.create_task_group() as group:
            for seed in SEEDS:
                group.start_soon(one, seed)

    anyio.run(main, backend="asyncio")
    chaos_summary.extend(results[seed].line() for seed in SEEDS)
    totals = Counter[str]()
    for run in results.values():
        totals.update(run.fake.stats.faults)
    delivered = sum(len(run.delivered) for run in results.values())
    chaos_summary.append(
        f"all {len(SEEDS)} seeds: faults injected {sum(totals[k] for k in KINDS)} "
        f"({', '.join(f'{k}={totals[k]}' for k in KINDS)}); events delivered {delivered}, "
        f"duplicates {sum(r.duplicates for r in results.values())}, lost "
        f"{sum(r.lost for r in results.values())}, windows over a limit "
        f"{sum(len(r.over_limit()) for r in results.values())}"
    )
    return results


@pytest.mark.parametrize("seed", SEEDS)
def test_every_event_is_delivered_exactly_once(runs: dict[int, SeedRun], seed: int):
    """All 5,000 events arrive, none twice, in spite of the faults."""
    run = runs[seed]
    if run.failure is not None:
        raise run.failure
    assert EVENTS == len(run.expected)
    assert (0, 0) == (run.duplicates, run.lost)
    assert sorted(run.expected) == sorted(run.delivered)


@pytest.mark.parametrize("seed", SEEDS)
def test_no_window_is_ever_over_a_limit(runs: dict[int, SeedRun], seed: int):
    """The server never counted more requests in a window than its limit (API and auth)."""
    assert [] == runs[seed].over_limit()


@pytest.mark.parametrize("seed", SEEDS)
def test_client_counters_match_the_faults_injected(runs: dict[int, SeedRun], seed: int):
    """One retry per damaged answer, each 429 seen, two logins and one renewal."""
    run = runs[seed]
    injected = run.fake.stats.faults
    assert (2, 1, 5) == (
        injected["revoke_access"],
        injected["revoke_refresh"],
        injected["burst_429"],
    )
    assert injected["error"] + injected["drop"] + injected["html"] + injected["truncate"] > 0
    assert run.damaged == run.stats.retries
    assert run.fake.stats.rate_limited == run.stats.rate_limited
    assert run.fake.stats.total_requests == run.stats.requests
    assert (2, 1) == (run.stats.logins, run.stats.renewals)
    assert (run.fake.stats.logins, run.fake.stats.renewals) == (2, 1)
