"""The quota script's arguments that come from Python values: lanes and rate headers.

Lanes (issue 14, items 2 and 6; the in-memory store's rule): an interactive acquire
stamps "interactive seen now"; while that stamp is younger than ``lane_memory`` seconds,
a batch request is admitted only when every window keeps ``reserve`` slots free for
interactive traffic, ``reserve = min(ceil(limit * interactive_reserve), limit - 1)``. A
batch job alone gets the whole window.
"""

from __future__ import annotations

from typing import Any

from .._checks import check_number, check_seconds
from .._lanes import Lane, check_lane, reserve_of
from .._quota import RateHeaders

__all__ = ["Lane", "LaneArgs", "check_lane", "observe_args"]


class LaneArgs:
    """The script arguments of each lane for one store's windows."""

    __slots__ = ("memory", "reserves", "share")

    def __init__(
        self, limits: tuple[tuple[int, float], ...], share: float, memory: float | None
    ) -> None:
        self.share = check_number("interactive_reserve", share, low=0.0, high=1.0)
        if memory is None:  # the shortest window's period (any positive value with none)
            memory = min((period for _, period in limits), default=1.0)
        self.memory = check_seconds("lane_memory", memory, positive=True)
        self.reserves = tuple(reserve_of(limit, self.share) for limit, _ in limits)

    def args(self, lane: object) -> list[Any]:
        """``[lane, memory, reserve per window]`` for a call in ``lane`` (checked)."""
        return [check_lane(lane), self.memory, *self.reserves]


def observe_args(headers: RateHeaders) -> list[Any]:
    """``[limit or "", remaining, reset or ""]``: what the script's ``adopt`` reads."""

    def blank(value: float | None) -> Any:
        return "" if value is None else value

    return [blank(headers.limit), headers.remaining, blank(headers.reset)]
