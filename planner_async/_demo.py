"""The demo job: the real client against an embedded fake server, with a live progress line.

Used by ``planner-async demo`` and by ``planner-async events --demo``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import date
from typing import TextIO

import anyio
import attrs
import httpx

from ._client import PlannerClient
from ._exceptions import NotFoundError, PermissionDeniedError
from ._retry import RetryPolicy
from .testing import FakePlanner, Faults

__all__ = ["DemoSummary", "demo_client", "run_demo"]

DEMO_USER = "demo"
DEMO_KEY = "demo-key"  # the embedded fake server's own credential, not a secret
DEMO_LIMITS = ((40, 1.0), (150, 5.0))
DEMO_AUTH_LIMITS = ((10, 1.0),)


@asynccontextmanager
async def demo_client(
    *,
    events: int = 3000,
    seed: int = 7,
    token_lifetime: float = 2.5,
    faults: bool = True,
) -> AsyncIterator[tuple[PlannerClient, FakePlanner]]:
    """A client wired to an in-process ``FakePlanner``: short tokens, tight quotas, faults."""
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
    http = httpx.AsyncClient(transport=fake.transport())
    client = PlannerClient(
        DEMO_USER,
        DEMO_KEY,
        base_url=fake.base_url,
        http_client=http,
        rate_limits=DEMO_LIMITS,
        auth_rate_limits=DEMO_AUTH_LIMITS,
        refresh_margin=0.5,
        retry=RetryPolicy(max_retries=5, wait_initial=0.05, wait_max=1.0),
    )
    try:
        async with client:
            yield client, fake
    finally:
        await http.aclose()


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
    progress: TextIO | None = sys.stderr,
) -> DemoSummary:
    """Page through every event, month by month in parallel, then fetch some one by one."""
    started = time.perf_counter()
    counts = {"events": 0, "pages": 0, "gets": 0}
    async with demo_client(events=events, seed=seed) as (client, fake):
        live = progress is not None and progress.isatty()
        last_shown = [0.0]

        def show(final: bool = False) -> None:
            # A live line on a terminal, at most ten times a second; elsewhere only the last.
            now = time.perf_counter()
            if progress is None or (not final and (not live or now - last_shown[0] < 0.1)):
                return
            last_shown[0] = now
            stats = client.stats
            line = (
                f"\r{counts['events']:>6} events  {counts['pages']:>4} pages  "
                f"{counts['gets']:>4} gets  {stats.requests:>5} requests  "
                f"{stats.renewals:>3} renewals  {stats.retries:>3} retries  "
                f"{time.perf_counter() - started:6.1f} s"
            )
            progress.write((line if live else line.lstrip("\r")) + ("\n" if final else ""))
            progress.flush()

        months = [(date(2026, m, 1), _month_end(2026, m)) for m in range(1, 13)]
        limit = anyio.CapacityLimiter(concurrency)
        seen: set[int] = set()

        async def month(start: date, end: date) -> None:
            async with limit:
                async for page in client.events.list(start=start, end=end, page_size=50).pages():
                    counts["pages"] += 1
                    seen.update(event.id for event in page.items)  # months overlap at edges
                    counts["events"] = len(seen)
                    show()

        async def get(event_id: int) -> None:
            async with limit:
                # A restricted or missing event is part of the demo.
                with suppress(PermissionDeniedError, NotFoundError):
                    await client.events.get(event_id)
                counts["gets"] += 1
                show()

        async with anyio.create_task_group() as tg:
            for start, end in months:
                tg.start_soon(month, start, end)
        async with anyio.create_task_group() as tg:
            for event_id in range(1, gets + 1):
                tg.start_soon(get, event_id)
        show(final=True)
        stats = client.stats
        return DemoSummary(
            events=counts["events"],
            pages=counts["pages"],
            gets=counts["gets"],
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
            elapsed=time.perf_counter() - started,
        )


def _month_end(year: int, month: int) -> date:
    first_of_next = date(year + month // 12, month % 12 + 1, 1)
    return date.fromordinal(first_of_next.toordinal() - 1)
