"""Property tests: a discrete-event simulation drives the sans-I/O core (no real async).

Random windows, arrivals, latencies and cancellations; the server stamps each request
uniformly between its send and its response (or, for a request abandoned in flight,
within ``abandon_grace`` after the client gave up). Checked: no window ever holds more
than its limit of stamps, and every admission happens at the earliest time that the slot
accounting allows, as computed by a naive reference model.
"""

# The house style writes the expected value first in asserts, which SIM300 calls Yoda.

from __future__ import annotations

import bisect
import heapq
import itertools
import math
import random
from collections import deque
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from planner_async import QuotaCore

INF = math.inf
GRACE = 1.0


@dataclass
class Request:
    arrival: float
    latency: float
    stamp_frac: float
    patience: float | None  # leaves the queue if still waiting after this long
    cancel_frac: float | None  # abandoned at send + cancel_frac * latency
    admitted: float | None = None
    left: bool = False
    end: float | None = None  # completion, or abandonment + GRACE (when the slot's hold starts)
    stamp: float | None = None


@dataclass
class Naive:
    """Reference accounting: every admitted request, in flight or with its hold start."""

    windows: list[tuple[int, float]]
    admitted: list[Request] = field(default_factory=list)

    def free_at(self, t: float) -> bool:
        for n, period in self.windows:
            used = sum(1 for r in self.admitted if r.end is None or r.end + period > t)
            if used >= n:
                return False
        return True

    def ready_at(self, now: float) -> float:
        candidates = sorted(
            {now}
            | {
                r.end + period
                for r in self.admitted
                if r.end is not None
                for _, period in self.windows
                if r.end + period > now
            }
        )
        for t in candidates:
            if self.free_at(t):
                return t
        return INF


def simulate(
    windows: list[tuple[int, float]], requests: list[Request]
) -> tuple[list[Request], Naive]:
    """Run the requests through the core with an event heap; check each wait against Naive."""
    core = QuotaCore(windows, abandon_grace=GRACE)
    naive = Naive(windows)
    seq = itertools.count()
    events: list[tuple[float, int, str, Request | None]] = []
    for request in requests:
        heapq.heappush(events, (request.arrival, next(seq), "arrive", request))
    queue: deque[Request] = deque()
    timer: float | None = None  # the head's wake-up time

    def pump(now: float) -> None:
        nonlocal timer
        while queue and queue[0].left:
            queue.popleft()
        while queue:
            head = queue[0]
            if core.try_take(now):
                assert naive.free_at(now)
                queue.popleft()
                head.admitted = now
                naive.admitted.append(head)
                if head.cancel_frac is None:
                    heapq.heappush(events, (now + head.latency, next(seq), "complete", head))
                else:
                    at = now + head.cancel_frac * head.latency
                    heapq.heappush(events, (at, next(seq), "abandon", head))
                while queue and queue[0].left:
                    queue.popleft()
                continue
            ready = core.ready_at(now)
            # (b) the core's answer is exactly the optimum of the slot accounting.
            assert naive.ready_at(now) == ready
            assert not naive.free_at(now)
            if ready != INF and timer != ready:
                timer = ready
                heapq.heappush(events, (ready, next(seq), "wake", None))
            return

    while events:
        now, _, kind, r = heapq.heappop(events)
        if kind == "arrive":
            assert r is not None
            queue.append(r)
            if r.patience is not None:
                heapq.heappush(events, (now + r.patience, next(seq), "leave", r))
        elif kind == "leave":
            assert r is not None
            if r.admitted is None:
                r.left = True
        elif kind == "complete":
            assert r is not None
            r.end = now
            r.stamp = r.admitted + r.stamp_frac * (now - r.admitted)  # type: ignore[operator]
            core.complete(now)
        elif kind == "abandon":
            assert r is not None
            r.end = now + GRACE
            r.stamp = r.admitted + r.stamp_frac * (now + GRACE - r.admitted)  # type: ignore[operator]
            core.abandon(now)
        elif kind == "wake":
            timer = None
        pump(now)
    return requests, naive


def assert_never_over(windows: list[tuple[int, float]], stamps: list[float], seed: int) -> None:
    """(a) sliding and fixed windows (several phases) never hold more than their limit."""
    stamps = sorted(stamps)
    rng = random.Random(seed)
    for n, period in windows:
        for i, s in enumerate(stamps):
            assert bisect.bisect_left(stamps, s + period) - i <= n  # [s, s + period)
        for phase in [0.0, *(rng.uniform(0, period) for _ in range(3))]:
            buckets: dict[int, int] = {}
            for s in stamps:
                b = math.floor((s - phase) / period)
                buckets[b] = buckets.get(b, 0) + 1
            assert max(buckets.values(), default=0) <= n


windows_st = st.lists(
    st.tuples(
        st.integers(1, 4),
        st.one_of(st.integers(1, 20).map(float), st.floats(0.5, 20.0)),
    ),
    min_size=1,
    max_size=3,
)
request_st = st.tuples(
    st.one_of(st.just(0.0), st.floats(0.0, 6.0)),  # gap since the previous arrival
    st.floats(0.01, 5.0),  # latency
    st.floats(0.0, 1.0),  # where in [send, response] the server stamps
    st.one_of(st.none(), st.floats(0.0, 30.0)),  # patience
    st.one_of(st.none(), st.floats(0.0, 1.0)),  # abandoned part-way through
)


def build(raw: list[tuple[float, float, float, float | None, float | None]]) -> list[Request]:
    t = 0.0
    out = []
    for gap, latency, frac, patience, cancel in raw:
        t += gap
        out.append(Request(t, latency, frac, patience, cancel))
    return out


@settings(max_examples=300, deadline=None)
@given(windows=windows_st, raw=st.lists(request_st, min_size=1, max_size=40), seed=st.integers())
def test_never_over_any_window_and_never_late(
    windows: list[tuple[int, float]],
    raw: list[tuple[float, float, float, float | None, float | None]],
    seed: int,
) -> None:
    """No window's limit is exceeded as the server stamps, and admissions are never late."""
    requests, _ = simulate(windows, build(raw))
    stamps = [r.stamp for r in requests if r.stamp is not None]
    assert len([r for r in requests if r.admitted is not None]) == len(stamps)
    assert_never_over(windows, stamps, seed)
    # Whoever never left was admitted: nothing stalls for good.
    assert [] == [r for r in requests if r.admitted is None and not r.left]


@settings(max_examples=200, deadline=None)
@given(windows=windows_st, raw=st.lists(request_st, min_size=1, max_size=40))
def test_admissions_are_fifo(
    windows: list[tuple[int, float]],
    raw: list[tuple[float, float, float, float | None, float | None]],
) -> None:
    """Admission order is arrival order: nobody overtakes a waiter that stayed."""
    requests, _ = simulate(windows, build(raw))
    admitted = [r for r in requests if r.admitted is not None]
    assert sorted(admitted, key=lambda r: (r.admitted, r.arrival)) == admitted
    times = [r.admitted for r in admitted]
    assert sorted(times) == times  # type: ignore[type-var]


@settings(max_examples=200, deadline=None)
@given(
    windows=windows_st,
    raw=st.lists(request_st, min_size=1, max_size=30),
    ahead=st.integers(0, 6),
)
def test_lower_bound_never_exceeds_the_true_wait(
    windows: list[tuple[int, float]],
    raw: list[tuple[float, float, float, float | None, float | None]],
    ahead: int,
) -> None:
    """``earliest_at`` is finite and never later than ``ready_at`` with others ahead."""
    core = QuotaCore(windows)
    now = 0.0
    in_flight = 0
    for gap, latency, _, _, cancel in raw:
        now += gap
        if core.try_take(now):
            in_flight += 1
        if in_flight and cancel is not None:
            core.complete(now + latency)
            now += latency
            in_flight -= 1
        ready = core.ready_at(now, ahead)
        earliest = core.earliest_at(now, ahead)
        assert earliest <= ready
        assert math.isfinite(earliest)
        assert now <= earliest
