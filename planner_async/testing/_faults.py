"""Seeded fault injection: what goes wrong with an answer, decided per request."""

from __future__ import annotations

import enum
import random
from collections.abc import Iterable
from typing import Any

import attrs

from ._routes import ENDPOINTS, FAULTY_BY_DEFAULT

__all__ = ["FaultInjector", "FaultKind", "Faults", "Plan"]


def _rate(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be within 0..1, not {value!r}")


def _non_negative(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must not be negative, not {value!r}")


def _positions(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    numbers = value if isinstance(value, tuple) else (value,)
    if any(n is not None and n < 1 for n in numbers):
        raise ValueError(f"{attribute.name} counts requests from 1, not {value!r}")


def _statuses(values: Iterable[int]) -> tuple[int, ...]:
    return tuple(values)


def _counts(values: int | Iterable[int]) -> tuple[int, ...]:
    return (values,) if isinstance(values, int) else tuple(sorted(values))


def _endpoints(values: Iterable[str]) -> frozenset[str]:
    names = frozenset(values)
    unknown = sorted(names - set(ENDPOINTS))
    if unknown:
        raise ValueError(f"unknown endpoints {unknown}; use some of {ENDPOINTS}")
    return names


@attrs.frozen
class Faults:
    """What the fake network does wrong, and how often; the same ``seed`` repeats it exactly.

    Each rate is the share of answers (on ``endpoints``) that suffer that fault; these
    four kinds exclude one another, so their rates must add up to at most 1:

    - ``error_rate``: a JSON error with a status drawn from ``error_statuses``;
    - ``html_rate``: a ``502`` HTML page (``text/html``), as from a proxy;
    - ``truncate_rate``: the real answer (status 200) with its JSON body cut in half;
    - ``drop_rate``: the connection is closed with no HTTP answer at all.

    On top of those, every answer waits ``latency`` + up to ``latency_jitter`` seconds
    (real time, or virtual time under trio's ``MockClock`` in-process), and a share
    ``spike_rate`` of the answers wait ``spike_delay`` seconds more (a latency spike).

    Events at given request counts (the n-th request on ``endpoints``, from 1):

    - ``revoke_access_at``: every access token is revoked just before that request;
    - ``revoke_refresh_at``: every refresh token is revoked just before that request;
    - ``burst_at``: that request and the next ``burst_length - 1`` are answered 429 with
      ``Retry-After: burst_retry_after`` without doing any work (not counted against the
      rate limits, as a throttling proxy would).

    ``endpoints`` names the endpoints that suffer (``"events.list"`` and ``"events.get"``
    by default; add ``"auth"``/``"auth.renew"`` to hurt logins too). Apart from the
    burst, the server does the work before the answer is damaged: the request counts
    against the rate limits, and a renewal whose answer is lost has still rotated the
    refresh token. :attr:`FakeStats.faults` counts each fault injected, by kind.

    >>> Faults(error_rate=0.1, seed=7).error_rate
    0.1
    >>> Faults(burst_at=20, burst_length=5, revoke_access_at=[50]).revoke_access_at
    (50,)
    """

    latency: float = attrs.field(default=0.0, validator=_non_negative)
    latency_jitter: float = attrs.field(default=0.0, validator=_non_negative)
    error_rate: float = attrs.field(default=0.0, validator=_rate)
    error_statuses: tuple[int, ...] = attrs.field(default=(500, 502, 503, 504), converter=_statuses)
    drop_rate: float = attrs.field(default=0.0, validator=_rate)
    html_rate: float = attrs.field(default=0.0, validator=_rate)
    truncate_rate: float = attrs.field(default=0.0, validator=_rate)
    seed: int = 0
    endpoints: frozenset[str] = attrs.field(default=FAULTY_BY_DEFAULT, converter=_endpoints)
    spike_rate: float = attrs.field(default=0.0, validator=_rate, kw_only=True)
    spike_delay: float = attrs.field(default=1.0, validator=_non_negative, kw_only=True)
    revoke_access_at: tuple[int, ...] = attrs.field(
        default=(), converter=_counts, validator=_positions, kw_only=True
    )
    revoke_refresh_at: tuple[int, ...] = attrs.field(
        default=(), converter=_counts, validator=_positions, kw_only=True
    )
    burst_at: int | None = attrs.field(default=None, validator=_positions, kw_only=True)
    burst_length: int = attrs.field(default=5, validator=_positions, kw_only=True)
    burst_retry_after: float = attrs.field(default=1.0, validator=_non_negative, kw_only=True)

    def __attrs_post_init__(self) -> None:
        if self.drop_rate + self.error_rate + self.html_rate + self.truncate_rate > 1.0:
            raise ValueError("drop, error, html and truncate rates add up to more than 1")
        if self.error_rate and not self.error_statuses:
            raise ValueError("error_rate needs at least one status in error_statuses")

    @classmethod
    def chaos(cls, seed: int, *, requests: int = 500, spike_delay: float = 0.2) -> Faults:
        """The chaos mix: 5% 5xx, 2% drops, 1% HTML 502s, 1% cut bodies, 1% spikes.

        One access-token revocation, one refresh-token revocation and a burst of five
        429s fall at request counts drawn from ``seed`` within the first ``requests``
        requests, so the same seed repeats the same run.

        >>> Faults.chaos(3) == Faults.chaos(3)
        True
        """
        if requests < 10:
            raise ValueError("requests must be at least 10")
        rng = random.Random(f"chaos-{seed}")
        return cls(
            error_rate=0.05,
            drop_rate=0.02,
            html_rate=0.01,
            truncate_rate=0.01,
            seed=seed,
            spike_rate=0.01,
            spike_delay=spike_delay,
            revoke_access_at=(rng.randint(2, requests),),
            revoke_refresh_at=(rng.randint(2, requests),),
            burst_at=rng.randint(2, requests),
            burst_length=5,
            burst_retry_after=1.0,
        )


class FaultKind(enum.Enum):
    """The kinds of fault the fake injects; ``value`` is the key in ``FakeStats.faults``."""

    NONE = "none"
    DROP = "drop"
    ERROR = "error"
    HTML = "html"
    TRUNCATE = "truncate"
    SPIKE = "spike"
    REVOKE_ACCESS = "revoke_access"
    REVOKE_REFRESH = "revoke_refresh"
    BURST_429 = "burst_429"


@attrs.frozen
class Plan:
    """The faults decided for one request.

    ``kind`` damages the answer (``status`` for errors); ``delay`` is waited before it
    (``spike`` says a spike is part of it); ``before`` lists what happens before the
    request is served (revocations, or a 429 of the burst).
    """

    kind: FaultKind
    delay: float
    status: int = 0
    spike: bool = False
    before: tuple[FaultKind, ...] = ()

    @property
    def throttled(self) -> bool:
        """Whether the request falls in the burst of 429s."""
        return FaultKind.BURST_429 in self.before


_EXCLUSIVE = (FaultKind.DROP, FaultKind.ERROR, FaultKind.HTML, FaultKind.TRUNCATE)


class FaultInjector:
    """Draws one :class:`Plan` per request from generators seeded by ``faults.seed``.

    Every request consumes the same number of draws, so the n-th request on a faulty
    endpoint always gets the same plan for the same seed.
    """

    __slots__ = ("_rng", "_seen", "_spikes", "faults")

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self._rng = random.Random(faults.seed)
        self._spikes = random.Random(f"{faults.seed}-spikes")
        self._seen = 0

    def applies_to(self, endpoint: str) -> bool:
        """Whether answers of ``endpoint`` may be damaged."""
        return endpoint in self.faults.endpoints

    def draw(self) -> Plan:
        """Decide the next request's faults."""
        f = self.faults
        self._seen += 1
        jitter, pick, status_draw = self._rng.random(), self._rng.random(), self._rng.random()
        spike = self._spikes.random() < f.spike_rate
        delay = f.latency + jitter * f.latency_jitter + (f.spike_delay if spike else 0.0)
        rates = (f.drop_rate, f.error_rate, f.html_rate, f.truncate_rate)
        kind, edge = FaultKind.NONE, 0.0
        for rate, candidate in zip(rates, _EXCLUSIVE, strict=True):
            edge += rate
            if pick < edge:
                kind = candidate
                break
        status = 0
        if kind is FaultKind.ERROR:
            statuses = f.error_statuses
            status = statuses[min(int(status_draw * len(statuses)), len(statuses) - 1)]
        return Plan(kind, delay, status, spike, self._before(self._seen))

    def _before(self, number: int) -> tuple[FaultKind, ...]:
        f = self.faults
        out: list[FaultKind] = []
        if number in f.revoke_access_at:
            out.append(FaultKind.REVOKE_ACCESS)
        if number in f.revoke_refresh_at:
            out.append(FaultKind.REVOKE_REFRESH)
        if f.burst_at is not None and f.burst_at <= number < f.burst_at + f.burst_length:
            out.append(FaultKind.BURST_429)
        return tuple(out)
