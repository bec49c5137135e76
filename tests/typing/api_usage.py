"""Typed usage of the public API: checked by ``mypy --strict``, never run by pytest."""

from __future__ import annotations

from datetime import UTC, date, datetime

import httpx

from planner_async import (
    APIStatusError,
    BlockingPlannerClient,
    ClientStats,
    Event,
    EventLoopBlockedError,
    EventPage,
    GetResult,
    MemoryQuotaStore,
    MemoryTokenStore,
    PlannerClient,
    QuotaLimiter,
    QuotaStore,
    RateLimitError,
    RateLimitStatus,
    RetryPolicy,
    Session,
    SyncCheckpoint,
    TokenStore,
)


async def usage() -> None:
    client = PlannerClient(
        "u",
        "k",
        base_url="https://api.forwardplanner.com",
        http_client=httpx.AsyncClient(),
        timeout=30.0,
        max_retries=3,
        refresh_margin=60.0,
        rate_limits=[(500, 60), (3000, 3600), (10000, 86400)],
        max_wait=None,
        retry=RetryPolicy(wait_max=10.0),
    )
    async with client:
        session: Session = await client.authenticate()
        event: Event = await client.events.get(98231)
        async for item in client.events.list(
            start=date(2026, 12, 1),
            end=date(2026, 12, 31),
            query="budget",
            categories=["Politics"],
            country="GB",
            updated_since=datetime(2026, 11, 1, tzinfo=UTC),
            sort="startDate",
            page_size=100,
        ):
            title: str = item.title
        async for page in client.events.list().pages():
            pages: EventPage = page
            total: int | None = page.total_pages
        status: RateLimitStatus = client.rate_limit
    try:
        await PlannerClient.from_env(max_wait=2.0).events.get(1)
    except RateLimitError as exc:
        wait: float | None = exc.retry_after
    except APIStatusError as exc:
        code: int = exc.status_code
    limiter = QuotaLimiter([(10, 1.0)])
    async with limiter.acquire(max_wait=1.0, lane="batch") as permit:
        permit.complete()
    await limiter.pause(1.0)
    eta: float = await limiter.forecast(3, lane="interactive")
    shared = PlannerClient(
        "u",
        "k",
        quota_store=MemoryQuotaStore([(500, 60.0)]),
        token_store=MemoryTokenStore(),
        on_quota_wait=lambda details: print(details.waited),
        on_token=lambda details: print(details.kind),
    )
    patient = shared.with_options(max_wait=300.0, timeout=httpx.Timeout(5.0))
    quick: Event = await patient.events.get(1, timeout=2.0, max_wait=0.0, deadline=10.0)
    jobs = PlannerClient("u", "k", priority="batch", coalesce=False, cache_ttl=5.0)
    later: float = await jobs.forecast(100, priority="batch")
    urgent: Event = await jobs.events.get(1, priority="interactive")
    del eta, later, urgent
    fresh: RateLimitStatus = await shared.fetch_rate_limit()
    store: QuotaStore = MemoryQuotaStore([(1, 1.0)])
    tokens: TokenStore = MemoryTokenStore()
    del session, event, title, pages, total, status, wait, code, quick, fresh, store, tokens


def blocking_usage() -> None:
    with BlockingPlannerClient("u", "k", timeout=30.0, max_wait=60.0) as client:
        session: Session = client.authenticate()
        event: Event = client.events.get(98231, timeout=5.0, deadline=30.0)
        for item in client.events.list(query="budget", start=date(2026, 12, 1), prefetch=2):
            title: str = item.title
        for page in client.events.list(page_size=100).pages(prefetch=0):
            pages: EventPage = page
        results = client.events.get_many([1, 2, 3], concurrency=4)
        count: int = len(results)
        for result in results:
            found: GetResult = result
        run = client.events.sync(None, lag=10.0)
        for changed in run:
            updated: datetime | None = changed.updated_at
            checkpoint: SyncCheckpoint | None = run.checkpoint
        status: RateLimitStatus = client.rate_limit
        stats: ClientStats = client.stats
        patient: BlockingPlannerClient = client.with_options(max_wait=300.0)
    try:
        BlockingPlannerClient.from_env(max_retries=2).events.get(1)
    except EventLoopBlockedError as exc:
        message: str = str(exc)
    del session, event, title, pages, count, found, updated, checkpoint, status, stats
    del patient, message
