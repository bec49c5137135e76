"""Seeded fault injection: what goes wrong with an answer, decided per request."""

from __future__ import annotations

import enum
import random
from collections.abc import Iterable

import attrs

__all__ = ["FaultInjector", "FaultKind", "Faults", "Outcome"]

_EVENTS_ENDPOINTS = frozenset({"events.list", "events.get"})


def _rate(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be within 0..1, not {value!r}")


def _non_negative(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must not be negative, not {value!r}")


def _statuses(values: Iterable[int]) -> tuple[int, ...]:
    return tuple(values)


def _endpoints(values: Iterable[str]) -> frozenset[str]:
    return frozenset(values)


@attrs.frozen
class Faults:
    """What the fake network does wrong, and how often; the same ``seed`` repeats it exactly.

    Each rate is the share of answers (on ``endpoints``) that suffer that fault; the
    fault kinds exclude one another, so the rates must add up to at most 1.

    - ``latency`` + up to ``latency_jitter`` seconds of (real) delay before every answer;
    - ``error_rate``: a JSON error with a status drawn from ``error_statuses``;
    - ``html_rate``: a ``502`` HTML page, as from a proxy;
    - ``truncate_rate``: the real answer with its JSON body cut in half;
    - ``drop_rate``: the connection is closed with no HTTP answer at all.

    ``endpoints`` names the endpoints that suffer (``"events.list"`` and ``"events.get"``
    by default; add ``"auth"``/``"auth.renew"`` to hurt logins too). The server does the
    work before the answer is damaged: the request counts against the rate limits, and a
    renewal whose answer is lost has still rotated the refresh token.

    >>> Faults(error_rate=0.1, seed=7).error_rate
    0.1
    """

    latency: float = attrs.field(default=0.0, validator=_non_negative)
    latency_jitter: float = attrs.field(default=0.0, validator=_non_negative)
    error_rate: float = attrs.field(default=0.0, validator=_rate)
    error_statuses: tuple[int, ...] = attrs.field(default=(500, 502, 503, 504), converter=_statuses)
    drop_rate: float = attrs.field(default=0.0, validator=_rate)
    html_rate: float = attrs.field(default=0.0, validator=_rate)
    truncate_rate: float = attrs.field(default=0.0, validator=_rate)
    seed: int = 0
    endpoints: frozenset[str] = attrs.field(default=_EVENTS_ENDPOINTS, converter=_endpoints)

    def __attrs_post_init__(self) -> None:
        if self.drop_rate + self.error_rate + self.html_rate + self.truncate_rate > 1.0:
            raise ValueError("drop, error, html and truncate rates add up to more than 1")
        if self.error_rate and not self.error_statuses:
            raise ValueError("error_rate needs at least one status in error_statuses")


class FaultKind(enum.Enum):
    """The kinds of damage an answer can suffer."""

    NONE = "none"
    DROP = "drop"
    ERROR = "error"
    HTML = "html"
    TRUNCATE = "truncate"


@attrs.frozen
class Outcome:
    """The fault decided for one request: its kind, delay and (for errors) status."""

    kind: FaultKind
    delay: float
    status: int = 0


class FaultInjector:
    """Draws one :class:`Outcome` per request from a generator seeded by ``faults.seed``.

    Every request consumes the same number of draws, so the n-th request on a faulty
    endpoint always gets the same outcome for the same seed.
    """

    __slots__ = ("_rng", "faults")

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self._rng = random.Random(faults.seed)

    def applies_to(self, endpoint: str) -> bool:
        """Whether answers of ``endpoint`` may be damaged."""
        return endpoint in self.faults.endpoints

    def draw(self) -> Outcome:
        """Decide the next request's fault."""
        f = self.faults
        jitter, pick, status_draw = self._rng.random(), self._rng.random(), self._rng.random()
        delay = f.latency + jitter * f.latency_jitter
        thresholds: Iterable[tuple[float, FaultKind]] = (
            (f.drop_rate, FaultKind.DROP),
            (f.error_rate, FaultKind.ERROR),
            (f.html_rate, FaultKind.HTML),
            (f.truncate_rate, FaultKind.TRUNCATE),
        )
        edge = 0.0
        for rate, kind in thresholds:
            edge += rate
            if pick < edge:
                status = 0
                if kind is FaultKind.ERROR:
                    statuses = f.error_statuses
                    status = statuses[min(int(status_draw * len(statuses)), len(statuses) - 1)]
                return Outcome(kind, delay, status)
        return Outcome(FaultKind.NONE, delay)
