"""The progress display's ETA waits for the quota the pages left need (client.forecast)."""

from __future__ import annotations

import pytest

from planner_async import RateLimitStatus
from planner_async._cli._progress import Reporter, Snapshot, Tally, render_line

pytestmark = [pytest.mark.anyio]


class _Blank:
    """A display that keeps the last snapshot."""

    def __init__(self) -> None:
        self.last: Snapshot | None = None

    def show(self, snap: Snapshot) -> None:
        self.last = snap

    def print_above(self, text: str) -> None:
        pass

    def close(self, snap: Snapshot) -> None:
        self.last = snap


def test_the_eta_is_the_later_of_rate_and_quota() -> None:
    """600 of 3,000 events at 300/s is 8 s by rate; a quota forecast of 40 s wins."""
    by_rate = Snapshot(12, 600, 3000, 0, None, 0, 2.0, 38, None)
    assert "ETA 8s" in render_line(by_rate, 200)
    by_quota = Snapshot(12, 600, 3000, 0, None, 0, 2.0, 38, None, quota_eta=40.0)
    assert "ETA 40s" in render_line(by_quota, 200)


async def test_the_reporter_asks_the_forecast_for_the_pages_left() -> None:
    """With 12 pages of 50 done and 3,000 events, the forecast is asked for 48 pages."""
    asked: list[int] = []

    async def forecast(n: int) -> float:
        asked.append(n)
        return 30.0

    tally = Tally()
    tally.pages, tally.events, tally.total = 12, 600, 3000
    reporter = Reporter(_Blank(), tally)  # type: ignore[arg-type]
    reporter.watch(lambda: RateLimitStatus(windows=(), paused_for=0.0), forecast)
    await reporter._refresh_forecast()
    assert [48] == asked
    assert 30.0 == reporter.snapshot().quota_eta
