"""What the quota reports: window snapshots, and the server's ``X-Rate-Limit-*`` word."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Self

import attrs

__all__ = ["LaneStatus", "RateHeaders", "RateLimitStatus", "WindowStatus"]


@attrs.frozen
class WindowStatus:
    """One window's state at the moment of the snapshot.

    ``next_free_in`` is the number of seconds until a slot frees: ``0.0`` when one is free
    now, ``None`` when every slot is held by a request still in flight (it frees
    ``period`` seconds after one of them completes).
    """

    limit: int
    period: float
    used: int
    remaining: int
    next_free_in: float | None


@attrs.frozen
class LaneStatus:
    """One priority lane at the moment of the snapshot.

    ``waiting``: this limiter's callers queued in the lane. ``reserved``: for
    ``"interactive"``, the slots of the shortest window that batch calls leave free right
    now (0 when no interactive traffic was seen recently, or the store does not say).
    """

    name: str
    waiting: int
    reserved: int = 0


@attrs.frozen
class RateLimitStatus:
    """A snapshot of the limiter: every window, the shared cool-down, the queue length and,
    from a limiter, its two lanes."""

    windows: tuple[WindowStatus, ...]
    paused_for: float
    waiting: int = 0
    lanes: tuple[LaneStatus, ...] = ()


_RATE_HEADERS = {
    b"x-rate-limit-limit": "limit",
    b"x-rate-limit-remaining": "remaining",
    b"x-rate-limit-reset": "reset",
}


def _header_number(raw: bytes) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


@attrs.frozen
class RateHeaders:
    """The server's ``X-Rate-Limit-*`` headers: its word on the window closest to its limit.

    ``limit`` names the window (its ``max_requests``), ``remaining`` what is left in it and
    ``reset`` the seconds until it frees a request. Unreadable or negative values are None.

    >>> RateHeaders.from_raw([(b"X-Rate-Limit-Remaining", b"7"), (b"X-Rate-Limit-Limit", b"500")])
    RateHeaders(limit=500, remaining=7, reset=None)
    """

    limit: int | None = None
    remaining: int | None = None
    reset: float | None = None

    @classmethod
    def from_raw(cls, raw: Iterable[tuple[bytes, bytes]]) -> Self | None:
        """Read the headers in one pass over raw ``(name, value)`` pairs; None if absent.

        Pure: pass ``response.headers.raw`` from httpx.
        """
        found: dict[str, float] = {}
        for name, value in raw:
            key = _RATE_HEADERS.get(name.lower())
            if key is not None:
                number = _header_number(value)
                if number is not None:
                    found[key] = number
        remaining = found.get("remaining")
        if remaining is None:
            return None
        limit = found.get("limit")
        return cls(
            limit=None if limit is None else int(limit),
            remaining=int(remaining),
            reset=found.get("reset"),
        )
