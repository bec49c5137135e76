"""Clocks: the callables that the time-dependent parts read, injectable for tests."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["Clock", "wall_clock"]

Clock = Callable[[], float]
"""A callable returning seconds as a float."""


def wall_clock() -> float:
    """Seconds since the epoch: what JWT ``exp`` claims are measured in."""
    return time.time()
