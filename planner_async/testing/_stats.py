"""The counters a fake server keeps for tests and demos to read."""

from __future__ import annotations

from collections import Counter

__all__ = ["FakeStats"]


class FakeStats:
    """What the fake server has seen since it started (or since :meth:`reset`).

    - ``requests``: ``Counter`` of ``(endpoint, status)``; endpoints are ``"auth"``,
      ``"auth.renew"``, ``"events.list"``, ``"events.get"`` and ``"other"``; a dropped
      connection is counted with status ``0``.
    - ``total_requests``, ``logins``, ``renewals`` (successful ones), ``rate_limited``
      (429s served, scripted and burst ones included), ``dropped``, ``faults``
      (``Counter`` of the faults injected by :class:`Faults`, by kind: ``"drop"``,
      ``"error"`` (a JSON 5xx), ``"html"`` (an HTML 502), ``"truncate"``, ``"spike"``,
      ``"revoke_access"``, ``"revoke_refresh"``, ``"burst_429"``).
    - ``max_window_usage``: per account window ``(limit, period)``, the most requests one
      account ever had counted in any sliding window ``(t - period, t]``;
      ``max_fixed_window_usage``: the same for fixed windows (aligned at the server's
      ``window_phase``); ``max_auth_window_usage``: the sliding figure for the auth limits.
      Only requests that counted (not refused with a 429) are in these.

    >>> stats = FakeStats()
    >>> stats.total_requests
    0
    """

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, int]] = Counter()
        self.total_requests = 0
        self.logins = 0
        self.renewals = 0
        self.rate_limited = 0
        self.dropped = 0
        self.faults: Counter[str] = Counter()
        self.max_window_usage: dict[tuple[int, float], int] = {}
        self.max_fixed_window_usage: dict[tuple[int, float], int] = {}
        self.max_auth_window_usage: dict[tuple[int, float], int] = {}

    def count(self, endpoint: str, status: int) -> int:
        """How many answers of ``status`` (0: dropped) ``endpoint`` gave."""
        return self.requests[(endpoint, status)]

    def reset(self) -> None:
        """Zero every counter (the server's rate-limit windows themselves are kept)."""
        self.requests.clear()
        self.faults.clear()
        self.total_requests = self.logins = self.renewals = 0
        self.rate_limited = self.dropped = 0
        for usage in (
            self.max_window_usage,
            self.max_fixed_window_usage,
            self.max_auth_window_usage,
        ):
            for key in usage:
                usage[key] = 0

    def __repr__(self) -> str:
        return (
            f"FakeStats(total_requests={self.total_requests}, logins={self.logins}, "
            f"renewals={self.renewals}, rate_limited={self.rate_limited}, "
            f"dropped={self.dropped}, max_window_usage={self.max_window_usage!r})"
        )
