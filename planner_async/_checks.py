"""Argument checks shared by the public constructors: typed errors that name the argument."""

from __future__ import annotations

import math

__all__ = ["check_int", "check_max_wait", "check_number", "check_redis_url", "check_seconds"]


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


def check_int(name: str, value: object, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` if it is an int within ``[low, high]``; TypeError/ValueError naming it.

    ``bool`` is refused (``True`` is not a count).

    >>> check_int("page_size", 50, low=1, high=200)
    50
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be {_range(low, high)}, got {value!r}")
    return value


def check_number(
    name: str, value: object, *, low: float | None = None, high: float | None = None
) -> float:
    """Return ``value`` as a finite float within ``[low, high]``; TypeError/ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if (
        not math.isfinite(value)
        or (low is not None and value < low)
        or (high is not None and value > high)
    ):
        raise ValueError(f"{name} must be a finite number {_range(low, high)}, got {value!r}")
    return float(value)


def _range(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"from {low} to {high}"
    if low is not None:
        return f"at least {low}"
    return f"at most {high}" if high is not None else "any value"


def check_redis_url(url: object) -> str | None:
    """``None``, or a ``redis://``, ``rediss://``, ``unix://`` or ``redis+cluster://`` URL."""
    if url is None:
        return None
    if not isinstance(url, str):
        raise TypeError(f"redis_url must be a str, got {type(url).__name__}")
    if not url.startswith(("redis://", "rediss://", "unix://", "redis+cluster://")):
        raise ValueError(
            "redis_url must start with redis://, rediss://, unix:// or redis+cluster://"
        )
    return url
