"""The fake's one route table: every endpoint's name, method and path, stated once.

The dispatcher routes with it, :meth:`FakePlanner.script` checks endpoint names against
it, and :class:`Faults` takes its default set of damaged endpoints from it.
"""

from __future__ import annotations

import attrs

__all__ = ["API_PREFIX", "ENDPOINTS", "OTHER", "ROUTES", "Route", "route"]

API_PREFIX = "/api/v2"
OTHER = "other"
"""The endpoint name of every path that no route matches."""


@attrs.frozen
class Route:
    """One endpoint: ``name``, allowed ``method``, ``path`` (``{id}``: a decimal id).

    ``faulty`` says whether :class:`Faults` damage its answers by default.
    """

    name: str
    method: str
    path: str
    faulty: bool = False

    def matches(self, path: str) -> bool:
        """Whether ``path`` is this route's path."""
        head, marker, _ = self.path.partition("{id}")
        if not marker:
            return path == self.path
        prefix, _, tail = path.rpartition("/")
        return f"{prefix}/" == head and tail.isdigit() and tail.isascii()


ROUTES: tuple[Route, ...] = (
    Route("auth", "POST", f"{API_PREFIX}/auth"),
    Route("auth.renew", "POST", f"{API_PREFIX}/auth/renew"),
    Route("events.list", "GET", f"{API_PREFIX}/events", faulty=True),
    Route("events.get", "GET", f"{API_PREFIX}/events/{{id}}", faulty=True),
)

ENDPOINTS: tuple[str, ...] = (*(r.name for r in ROUTES), OTHER)
"""Every endpoint name, ``"other"`` (no route) included."""

FAULTY_BY_DEFAULT = frozenset(r.name for r in ROUTES if r.faulty)


def route(path: str) -> Route | None:
    """The route for ``path``, or None when no endpoint lives there."""
    for candidate in ROUTES:
        if candidate.matches(path):
            return candidate
    return None
