"""One call's settings and state: the per-call options, and what its attempts have learnt."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import attrs
import httpx

from ._checks import check_max_wait, check_seconds
from ._lanes import LANES, Lane
from ._otel import NO_CALL, CallSpan

__all__ = ["DEFAULT_OPTIONS", "UNSET", "Call", "CallOptions", "Counts", "Unset", "call_options"]


class Unset:
    """The type of :data:`UNSET`."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset()
"""An option not given for this call: the client's setting applies."""


@attrs.frozen
class CallOptions:
    """Per-call settings that override the client's for one call.

    ``timeout``: httpx timeout per HTTP request; ``max_wait``: seconds to wait for quota;
    ``deadline``: seconds for the whole call, quota waits, token and retries included;
    ``priority``: the quota lane.
    """

    timeout: httpx.Timeout | None = None
    max_wait: float | Unset | None = UNSET
    deadline: float | None = None
    priority: Lane | None = None


DEFAULT_OPTIONS: Final = CallOptions()


def check_priority(priority: object) -> Lane:
    """``"interactive"`` or ``"batch"`` (ValueError otherwise)."""
    if priority == "interactive":
        return "interactive"
    if priority == "batch":
        return "batch"
    raise ValueError(f"priority must be one of {LANES}, got {priority!r}")


def call_options(
    *,
    timeout: float | None = None,
    max_wait: float | None = None,
    deadline: float | None = None,
    priority: Lane | None = None,
) -> CallOptions:
    """Check per-call options (``None`` = the client's setting) and bundle them."""
    if timeout is None and max_wait is None and deadline is None and priority is None:
        return DEFAULT_OPTIONS
    return CallOptions(
        timeout=None if timeout is None else httpx.Timeout(check_seconds("timeout", timeout)),
        max_wait=UNSET if max_wait is None else check_max_wait(max_wait),
        deadline=None if deadline is None else check_seconds("deadline", deadline, positive=True),
        priority=None if priority is None else check_priority(priority),
    )


@attrs.define(slots=True)
class Counts:
    """What a client (and its views) sent: requests, retries, 429s received."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0


@attrs.define(slots=True)
class Call:
    """One call in progress: what to send and what the attempts so far have learnt."""

    method: str
    path: str
    params: Mapping[str, Any] | None
    json: Any
    options: CallOptions
    attempt: int = 0
    renewed_for: str | None = None  # the token this call last renewed after a 401
    renewed_at: int = -1  # ... and the attempt it was on then
    span: CallSpan = NO_CALL  # OpenTelemetry: this call's span (a no-op without a provider)
