"""Per-key request windows, sliding or fixed, in pure arithmetic on a given ``now``.

A request is stamped when it arrives; a request over any limit is refused and not
stamped. Both interpretations of every window are tracked whichever one is enforced, so
that tests can read the heaviest use seen under either (``max_sliding``/``max_fixed``).
Memory is bounded: each key keeps, per window, at most the stamps still inside it.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import Literal

import attrs

__all__ = ["RateDecision", "RateLimitMode", "RateLimiter"]

RateLimitMode = Literal["sliding", "fixed"]


@attrs.frozen
class RateDecision:
    """What the limiter says about one request.

    ``allowed`` false means a 429 with ``retry_after`` seconds. ``limit``, ``remaining``
    and ``reset`` describe the window closest to its limit (for the rate headers).
    """

    allowed: bool
    retry_after: float
    limit: int
    remaining: int
    reset: float

    def headers(self) -> list[tuple[str, str]]:
        """The ``X-Rate-Limit-*`` headers (and ``Retry-After`` when refused)."""
        out = [
            ("X-Rate-Limit-Limit", str(self.limit)),
            ("X-Rate-Limit-Remaining", str(self.remaining)),
            ("X-Rate-Limit-Reset", str(max(0, math.ceil(self.reset)))),
        ]
        if not self.allowed:
            out.append(("Retry-After", str(max(1, math.ceil(self.retry_after)))))
        return out


class _Window:
    """One ``(limit, period)`` window for one key: its sliding stamps and fixed counter."""

    __slots__ = ("fixed_count", "fixed_index", "stamps")

    def __init__(self) -> None:
        self.stamps: deque[float] = deque()
        self.fixed_index = -1
        self.fixed_count = 0


class RateLimiter:
    """Counts requests per key against several ``(limit, period_seconds)`` windows.

    >>> limiter = RateLimiter([(2, 60)])
    >>> [limiter.hit("ann", now=0.0).allowed for _ in range(3)]
    [True, True, False]
    """

    __slots__ = ("_keys", "limits", "max_fixed", "max_sliding", "mode", "phase")

    def __init__(
        self,
        limits: Sequence[tuple[int, float]],
        *,
        mode: RateLimitMode = "sliding",
        phase: float = 0.0,
    ) -> None:
        if mode not in ("sliding", "fixed"):
            raise ValueError(f"rate-limit mode must be 'sliding' or 'fixed', not {mode!r}")
        if any(limit < 1 or period <= 0 for limit, period in limits):
            raise ValueError("every rate limit needs limit >= 1 and period > 0")
        self.limits = tuple((int(limit), float(period)) for limit, period in limits)
        self.mode: RateLimitMode = mode
        self.phase = float(phase)
        self._keys: dict[str, list[_Window]] = {}
        self.max_sliding: dict[tuple[int, float], int] = dict.fromkeys(self.limits, 0)
        self.max_fixed: dict[tuple[int, float], int] = dict.fromkeys(self.limits, 0)

    def reset_maxima(self) -> None:
        """Forget the heaviest use seen so far (the live windows are kept)."""
        for lp in self.limits:
            self.max_sliding[lp] = 0
            self.max_fixed[lp] = 0

    def _refresh(self, window: _Window, period: float, now: float) -> None:
        stamps = window.stamps
        while stamps and stamps[0] <= now - period:
            stamps.popleft()
        index = math.floor((now - self.phase) / period)
        if index != window.fixed_index:
            window.fixed_index = index
            window.fixed_count = 0

    def _usage(self, window: _Window, limit: int, period: float, now: float) -> tuple[int, float]:
        """Return ``(used, seconds until a request frees)`` in the enforced interpretation."""
        if self.mode == "sliding":
            used = len(window.stamps)
            return used, (window.stamps[0] + period - now) if used else 0.0
        used = window.fixed_count
        end = (window.fixed_index + 1) * period + self.phase
        return used, (end - now) if used else 0.0

    def hit(self, key: str, *, now: float) -> RateDecision:
        """Stamp a request of ``key`` arriving at ``now`` unless it is over a limit."""
        windows = self._keys.get(key)
        if windows is None:
            windows = self._keys[key] = [_Window() for _ in self.limits]
        usage: list[tuple[int, int, float]] = []
        retry_after = 0.0
        for window, (limit, period) in zip(windows, self.limits, strict=True):
            self._refresh(window, period, now)
            used, frees_in = self._usage(window, limit, period, now)
            if used >= limit:
                retry_after = max(retry_after, frees_in)
            usage.append((limit, used, frees_in))
        allowed = retry_after <= 0.0 and all(used < limit for limit, used, _ in usage)
        if allowed:
            usage = []
            for window, lp in zip(windows, self.limits, strict=True):
                window.stamps.append(now)
                window.fixed_count += 1
                self.max_sliding[lp] = max(self.max_sliding[lp], len(window.stamps))
                self.max_fixed[lp] = max(self.max_fixed[lp], window.fixed_count)
                used, frees_in = self._usage(window, *lp, now)
                usage.append((lp[0], used, frees_in))
        if not usage:
            return RateDecision(allowed=True, retry_after=0.0, limit=0, remaining=0, reset=0.0)
        # The window closest to its limit: fewest remaining, then the longest wait.
        limit, used, frees_in = min(usage, key=lambda u: (u[0] - u[1], -u[2]))
        return RateDecision(
            allowed=allowed,
            retry_after=retry_after if not allowed else 0.0,
            limit=limit,
            remaining=max(0, limit - used),
            reset=frees_in,
        )
