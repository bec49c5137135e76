"""Argument checks shared by the public constructors: typed errors that name the argument."""

from __future__ import annotations

import math

__all__ = ["check_max_wait", "check_seconds"]


def check_seconds(name: str, value: object, *, positive: bool = False) -> float:
    """Return ``value`` as float seconds, or raise TypeError/ValueError naming ``name``.

    Accepts a finite number ``>= 0`` (``> 0`` with ``positive``); ``bool`` is refused.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of seconds, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        kind = "positive" if positive else "non-negative"
        raise ValueError(f"{name} must be a {kind} finite number of seconds, got {value!r}")
    return float(value)


def check_max_wait(value: object) -> float | None:
    """``max_wait``: None or ``math.inf`` (wait as long as it takes), else seconds ``>= 0``."""
    if value is None or value == math.inf:
        return None
    return check_seconds("max_wait", value)
