"""A whole day (and the next) of saturated demand on virtual time, through the sans-I/O core.

20,000 requests are queued at t=0 against the real Forward Planner limits (500/minute,
3,000/hour, 10,000/day) with 50–300 ms latency. The server stamps each request uniformly
between its send and its response, and counts them in sliding or fixed windows. The run
must draw no 429, admit the first 500 at once, 3,000 within five minutes and a few round
trips, and all 10,000 of the day within the fourth hour: the earliest schedule the
guarantee allows, not a paced one.
"""

# The house style writes the expected value first in asserts, which SIM300 calls Yoda.

from __future__ import annotations

import heapq
import math
import random
from collections import deque

import pytest

from planner_async import QuotaCore

LIMITS = [(500, 60.0), (3000, 3600.0), (10_000, 86_400.0)]
DAY = 86_400.0
RTT = 0.3  # the slowest round trip


def run_saturated(
    n_requests: int, *, seed: int = 1, latency: tuple[float, float] = (0.05, RTT)
) -> tuple[list[float], list[float]]:
    """Queue ``n_requests`` at t=0; return admission times and server stamps."""
    rng = random.Random(seed)
    core = QuotaCore(LIMITS)
    completions: list[float] = []  # heap of completion times of requests in flight
    admitted: list[float] = []
    stamps: list[float] = []
    now = 0.0
    while len(admitted) < n_requests:
        while core.try_take(now):
            lat = rng.uniform(*latency)
            admitted.append(now)
            stamps.append(now + rng.random() * lat)
            heapq.heappush(completions, now + lat)
            if len(admitted) == n_requests:
                break
        else:
            ready = core.ready_at(now)
            # The next event: a known expiry, or else a completion that makes one known.
            if completions and completions[0] <= ready:
                now = heapq.heappop(completions)
                core.complete(now)
            else:
                assert ready != math.inf
                now = ready
    return admitted, stamps


def server_rejections(stamps: list[float], *, phase: float | None) -> int:
    """429s a server would answer: sliding windows (``phase=None``) or fixed ones."""
    rejected = 0
    if phase is None:
        accepted: list[deque[float]] = [deque() for _ in LIMITS]
        for s in sorted(stamps):
            for dq, (_, period) in zip(accepted, LIMITS, strict=True):
                while dq and dq[0] <= s - period:
                    dq.popleft()
            if any(len(dq) >= n for dq, (n, _) in zip(accepted, LIMITS, strict=True)):
                rejected += 1
                continue
            for dq in accepted:
                dq.append(s)
        return rejected
    counts: list[dict[int, int]] = [{} for _ in LIMITS]
    for s in sorted(stamps):
        keys = [math.floor((s - phase) / period) for _, period in LIMITS]
        if any(c.get(k, 0) >= n for c, k, (n, _) in zip(counts, keys, LIMITS, strict=True)):
            rejected += 1
            continue
        for c, k in zip(counts, keys, strict=True):
            c[k] = c.get(k, 0) + 1
    return rejected


@pytest.fixture(scope="module")
def day_run() -> tuple[list[float], list[float]]:
    return run_saturated(20_000)


@pytest.mark.parametrize("phase", [None, 0.0, 1234.5], ids=["sliding", "fixed-0", "fixed-1234.5"])
def test_no_request_is_rejected(
    day_run: tuple[list[float], list[float]], phase: float | None
) -> None:
    """Neither a sliding-window server nor a fixed-window one at any phase answers a 429."""
    _, stamps = day_run
    assert 0 == server_rejections(stamps, phase=phase)


def test_first_500_go_at_once(day_run: tuple[list[float], list[float]]) -> None:
    """The first 500 requests are admitted at t=0 and the 501st only after a minute."""
    admitted, _ = day_run
    assert [0.0] * 500 == admitted[:500]
    assert 60.0 < admitted[500] <= 60.0 + RTT


def test_3000_within_five_minutes_and_a_few_round_trips(
    day_run: tuple[list[float], list[float]],
) -> None:
    """Six minute-batches of 500 make 3,000 by 300 s plus one round trip per batch."""
    admitted, _ = day_run
    assert 300.0 < admitted[2999] <= 300.0 + 5 * RTT
    assert 3600.0 < admitted[3000]


def test_the_whole_day_quota_is_used_inside_the_day(
    day_run: tuple[list[float], list[float]],
) -> None:
    """All 10,000 go by 3 h + 1 min (plus round trips), and the 10,001st only after the day."""
    admitted, _ = day_run
    assert 10_000 == sum(1 for t in admitted if t < DAY)
    assert 3 * 3600.0 + 60.0 < admitted[9999] <= 3 * 3600.0 + 60.0 + 20 * RTT
    assert DAY < admitted[10_000] <= DAY + 10.0


def test_nothing_is_paced(day_run: tuple[list[float], list[float]]) -> None:
    """Admissions come in bursts as slots free: batch b of 500 spans at most b round trips."""
    admitted, _ = day_run
    for batch in range(6):
        chunk = admitted[batch * 500 : (batch + 1) * 500]
        assert chunk[-1] - chunk[0] <= batch * RTT + 1e-9
