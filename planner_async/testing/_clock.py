"""A hand-driven clock for the fake server's token expiry and rate-limit windows."""

from __future__ import annotations

__all__ = ["ManualClock"]


class ManualClock:
    """A clock that only moves when told to: call it for epoch seconds.

    >>> clock = ManualClock(start=100.0)
    >>> clock.advance(5)
    >>> clock()
    105.0
    """

    __slots__ = ("_now",)

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self._now = float(start)

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` (must not be negative)."""
        if seconds < 0:
            raise ValueError("a ManualClock does not go backwards; use set() for that")
        self._now += seconds

    def set(self, t: float) -> None:
        """Jump to the epoch time ``t`` (any direction)."""
        self._now = float(t)

    def __repr__(self) -> str:
        return f"ManualClock(now={self._now!r})"
