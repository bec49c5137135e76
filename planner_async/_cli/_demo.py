"""The demo job: the real client against an embedded fake server, with live progress.

Used by ``planner-async demo`` and by ``planner-async events --demo``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from datetime import date
from typing import Any

import anyio
import attrs
import httpx

from .._client import PlannerClient
from .._exceptions import NotFoundError, PermissionDeniedError
from .._retry import RetryPolicy
from ..testing import FakePlanner, Faults
from ._listing import first_page
from ._progress import Reporter, Tally, run_with

__all__ = ["DemoSummary", "demo_client", "run_demo"]

DEMO_USER = "demo"
DEMO_KEY = "demo-key"  # the embedded fake server's own credential, not a secret
DEMO_LIMITS = ((40, 1.0), (150, 5.0))
DEMO_AUTH_LIMITS = ((10, 1.0),)
_YEAR = (date(2026, 1, 1), date(2026, 12, 31))


@asynccontextmanager
async def demo_client(
    *,
    events: int = 3000,
    seed: int = 7,
    token_lifetime: float = 2.5,
    faults: bool = True,
    event_hooks: Mapping[str, list[Any]] | None = None,
    **options: Any,
) -> AsyncIterator[tuple[PlannerClient, FakePlanner]]:
    """A client wired to an in-process ``FakePlanner``: short tokens, tight quotas, faults.

    ``options`` are the client's (e.g. its ``on_*`` hooks); ``event_hooks`` go on its
    httpx client.
    """
    fake = FakePlanner(
        events=events,
        seed=seed,
        users={DEMO_USER: DEMO_KEY},
        access_token_ttl=token_lifetime,
        rate_limits=list(DEMO_LIMITS),
        auth_rate_limits=list(DEMO_AUTH_LIMITS),
        faults=Faults(
            latency=0.01,
            latency_jitter=0.03,
            error_rate=0.03 if faults else 0.0,
            drop_rate=0.01 if faults else 0.0,
            seed=seed,
        ),
    )
    if event_hooks is not None:
        options["http_client"] = httpx.AsyncClient(
            transport=fake.transport(), event_hooks=event_hooks
        )
    settings: dict[str, Any] = {
        "rate_limits": DEMO_LIMITS,
        "auth_rate_limits": DEMO_AUTH_LIMITS,
        "refresh_margin": 0.5,
        "retry": RetryPolicy(max_retries=5, wait_initial=0.05, wait_max=1.0),
    }
    async with fake.client(DEMO_USER, DEMO_KEY, **{**settings, **options}) as client:
        yield client, fake


@attrs.frozen
class DemoSummary:
    """What the demo did."""

    events: int
    pages: int
    gets: int
    requests: int
    logins: int
    renewals: int
    retries: int
    rate_limited: int
    server_429s: int
    busiest_windows: tuple[tuple[int, float, int], ...]
    elapsed: float

    def lines(self) -> list[str]:
        """The summary as printable lines."""
        rate = self.events / self.elapsed if self.elapsed > 0 else 0.0
        return [
            "planner-async demo: summary",
            f"  events listed   {self.events}",
            f"  pages           {self.pages}",
            f"  single gets     {self.gets}",
            f"  HTTP requests   {self.requests}",
            f"  logins          {self.logins}",
            f"  renewals        {self.renewals}",
            f"  retries         {self.retries}",
            f"  429s            {self.rate_limited} (server served {self.server_429s})",
            *(
                f"  {f'max in {period:g} s':<16}{used} requests (limit {limit})"
                for limit, period, used in self.busiest_windows
            ),
            f"  elapsed         {self.elapsed:.2f} s",
            f"  events/second   {rate:.0f}",
        ]


async def run_demo(
    *,
    events: int = 3000,
    seed: int = 7,
    concurrency: int = 12,
    gets: int = 100,
    reporter: Reporter | None = None,
) -> DemoSummary:
    """Page through every event, month by month in parallel, then fetch some one by one.

    ``reporter`` (see :mod:`planner_async._progress`) draws the live progress, fed by the
    client's hooks; None runs without a display.
    """
    started = time.perf_counter()
    tally = reporter.tally if reporter is not None else Tally()
    tally.gets_total = gets
    async with demo_client(events=events, seed=seed, **tally.hooks()) as (client, fake):
        if reporter is not None:
            reporter.watch(lambda: client.rate_limit, client.forecast)

        async def work() -> set[int]:
            seen = await _list_months(client, tally, anyio.CapacityLimiter(concurrency))
            await _get_some(client, tally, gets, anyio.CapacityLimiter(concurrency))
            return seen

        seen = await run_with(reporter, work)
        summary = _summary(client, fake, tally, len(seen), time.perf_counter() - started)
    return summary


async def _list_months(
    client: PlannerClient, tally: Tally, limit: anyio.CapacityLimiter
) -> set[int]:
    """List each month of 2026 in parallel; return the distinct event ids seen.

    Months overlap (an event spanning two is listed in both), so the display counts
    distinct events against the year's total: the bar ends on the summary's count.
    """
    seen: set[int] = set()
    year = await first_page(client.events.list(start=_YEAR[0], end=_YEAR[1], page_size=1).pages())
    tally.total = year.total_items if year is not None else None

    async def month(start: date, end: date) -> None:
        async with limit:
            async for page in client.events.list(start=start, end=end, page_size=50).pages():
                tally.pages += 1
                seen.update(event.id for event in page.items)
                tally.events = len(seen)

    async with anyio.create_task_group() as tg:
        for number in range(1, 13):
            tg.start_soon(month, date(2026, number, 1), _month_end(2026, number))
    tally.total = len(seen)  # the same count, even if the data moved meanwhile
    return seen


async def _get_some(
    client: PlannerClient, tally: Tally, gets: int, limit: anyio.CapacityLimiter
) -> None:
    """Fetch events 1..gets one by one; restricted and missing ones are part of the demo."""

    async def get(event_id: int) -> None:
        async with limit:
            with suppress(PermissionDeniedError, NotFoundError):
                await client.events.get(event_id)
            tally.gets += 1

    async with anyio.create_task_group() as tg:
        for event_id in range(1, gets + 1):
            tg.start_soon(get, event_id)


def _summary(
    client: PlannerClient, fake: FakePlanner, tally: Tally, distinct: int, elapsed: float
) -> DemoSummary:
    stats = client.stats
    return DemoSummary(
        events=distinct,
        pages=tally.pages,
        gets=tally.gets,
        requests=stats.requests,
        logins=stats.logins,
        renewals=stats.renewals,
        retries=stats.retries,
        rate_limited=stats.rate_limited,
        server_429s=fake.stats.rate_limited,
        busiest_windows=tuple(
            (limit, period, used)
            for (limit, period), used in sorted(fake.stats.max_window_usage.items())
        ),
        elapsed=elapsed,
    )


def _month_end(year: int, month: int) -> date:
    first_of_next = date(year + month // 12, month % 12 + 1, 1)
    return date.fromordinal(first_of_next.toordinal() - 1)
