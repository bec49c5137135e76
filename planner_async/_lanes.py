"""The two quota lanes and the reserve rule that puts interactive traffic first.

A ``"batch"`` request leaves each window's last :func:`reserve_of` slots free while
interactive traffic was seen within the lane memory (by default the shortest window's
period); a batch job alone gets the whole quota. Both stores keep this rule: the
in-memory :class:`~planner_async.QuotaCore` and the Redis script.
"""

from __future__ import annotations

import math
from typing import Final, Literal

__all__ = ["DEFAULT_INTERACTIVE_RESERVE", "LANES", "Lane", "check_lane", "reserve_of"]

Lane = Literal["interactive", "batch"]
"""A request's priority: ``"interactive"`` (a person waits) or ``"batch"`` (a job moves data)."""
LANES: Final = ("interactive", "batch")
DEFAULT_INTERACTIVE_RESERVE: Final = 0.2


def check_lane(lane: object) -> Lane:
    """``lane`` if it is ``"interactive"`` or ``"batch"``; TypeError/ValueError otherwise."""
    if not isinstance(lane, str):
        raise TypeError(f"lane must be 'interactive' or 'batch', got {type(lane).__name__}")
    if lane == "interactive":
        return "interactive"
    if lane == "batch":
        return "batch"
    raise ValueError(f"lane must be 'interactive' or 'batch', got {lane!r}")


def reserve_of(limit: int, share: float) -> int:
    """The slots of a ``limit`` window kept for interactive traffic: ``ceil(limit * share)``,
    but never all of them, so batch always moves."""
    # The tiny slack keeps float noise (0.7 * 10 = 7.000000000000001) from adding a slot.
    return max(0, min(math.ceil(limit * share - 1e-9), limit - 1))
