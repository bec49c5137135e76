"""A hand-driven clock for the fake server's token expiry and rate-limit windows."""

from __future__ import annotations

import anyio.lowlevel

__all__ = ["ManualClock"]


class ManualClock:
    """A clock that only moves when told to: call it for epoch seconds.

    Give a client ``clock=clock`` and ``sleep=clock.sleep``, and its back-off and quota
    waits move this clock instead of taking real time.

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

    async def sleep(self, seconds: float) -> None:
        """Advance the clock by ``seconds`` (negative counts as 0), then yield once.

        >>> import anyio
        >>> clock = ManualClock(start=0.0)
        >>> anyio.run(clock.sleep, 2.5)
        >>> clock()
        2.5
        """
        self._now += max(0.0, float(seconds))
        await anyio.lowlevel.checkpoint()

    def set(self, t: float) -> None:
        """Jump to the epoch time ``t`` (any direction)."""
        self._now = float(t)

    def __repr__(self) -> str:
        return f"ManualClock(now={self._now!r})"
