"""Retry policy: which answers are worth another try, and how long to wait first.

Pure code: :meth:`RetryPolicy.wait` and :func:`parse_retry_after` take the attempt number,
a random draw and ``now`` as arguments, so tests call them directly.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import attrs

from ._checks import check_int, check_seconds
from ._exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    PlannerError,
)

__all__ = ["RETRYABLE_STATUSES", "RetryDetails", "RetryPolicy", "parse_retry_after"]

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
"""Statuses retried by default. 400, 401 (handled by renewal), 403 and 404 never are."""


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date.

    Returns None when the header is absent or unreadable; never a negative number.

    >>> parse_retry_after("120", now=0.0)
    120.0
    >>> parse_retry_after("Thu, 01 Jan 1970 00:01:00 GMT", now=30.0)
    30.0
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime  # an HTTP date: rare, and costly to import

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        return max(0.0, when.timestamp() - now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


@attrs.frozen
class RetryPolicy:
    """How the client retries transient failures.

    Capped exponential backoff with full jitter: attempt ``n`` (0-based) waits a random
    time in ``[0, min(wait_max, wait_initial * wait_exp_base**n)]``; a server's
    ``Retry-After`` replaces the backoff. ``max_retries=0`` disables retries. A
    ``Retry-After`` longer than ``max_retry_after`` is not waited out: the error is raised.

    >>> RetryPolicy(max_retries=5, wait_initial=0.5, wait_max=10.0)  # doctest: +ELLIPSIS
    RetryPolicy(max_retries=5, ...)
    """

    max_retries: int = attrs.field(default=3)
    wait_initial: float = 1.0
    wait_max: float = 30.0
    wait_exp_base: float = 2.0
    wait_jitter: bool = True
    max_retry_after: float = 300.0
    retry_statuses: frozenset[int] = RETRYABLE_STATUSES

    @max_retries.validator
    def _check_retries(self, _: object, value: int) -> None:
        check_int("max_retries", value, low=0)

    def __attrs_post_init__(self) -> None:
        for name in ("wait_initial", "wait_max", "max_retry_after"):
            check_seconds(name, getattr(self, name))
        if self.wait_exp_base < 1:
            raise ValueError(f"wait_exp_base must be >= 1, got {self.wait_exp_base!r}")

    def waits_out(self, seconds: float) -> bool:
        """Whether a server's ``Retry-After`` of ``seconds`` is waited out (the one cap)."""
        return math.isfinite(seconds) and seconds <= self.max_retry_after

    def cool_down(
        self, status: int | None, retry_after: float | None, wait: float | None, attempt: int
    ) -> float | None:
        """Seconds every request of the client pauses after this answer, or None.

        A 429 (or a 503 with ``Retry-After``) pauses them all for the server's word (or
        this policy's back-off), unless that is longer than the policy waits out.
        """
        if status != 429 and not (status == 503 and retry_after is not None):
            return None
        seconds = retry_after if retry_after is not None else wait
        if seconds is None:
            seconds = self.wait(attempt)
        return seconds if self.waits_out(seconds) else None

    def should_retry_status(self, status_code: int) -> bool:
        """True for statuses this policy retries."""
        return status_code in self.retry_statuses

    def wait(
        self,
        attempt: int,
        *,
        retry_after: float | None = None,
        rand: Callable[[], float] = random.random,
    ) -> float:
        """Seconds to wait before retry number ``attempt + 1`` (``attempt`` counts from 0)."""
        if retry_after is not None:
            return retry_after
        ceiling = min(self.wait_max, self.wait_initial * self.wait_exp_base**attempt)
        return ceiling * rand() if self.wait_jitter else ceiling

    def decide(
        self,
        error: PlannerError,
        attempt: int,
        *,
        retry_after: float | None = None,
        rand: Callable[[], float] = random.random,
    ) -> float | None:
        """Seconds to wait before trying again after ``error``, or None when it is final.

        The one retry decision, pure: ``attempt`` counts the retries already made. A
        server's ``retry_after`` (429, or 503 with ``Retry-After``) replaces the backoff,
        and one longer than ``max_retry_after`` is final. Rejected credentials (401 after
        renewal) and statuses outside ``retry_statuses`` are final; connection failures and
        unreadable success bodies back off.

        >>> from planner_async import ServerError
        >>> RetryPolicy(wait_jitter=False).decide(ServerError("x", status_code=502), 0)
        1.0
        """
        if attempt >= self.max_retries:
            return None
        if isinstance(error, APIStatusError):
            if isinstance(error, AuthenticationError) or not self.should_retry_status(
                error.status_code
            ):
                return None
            if retry_after is not None:
                return retry_after if self.waits_out(retry_after) else None
            return self.wait(attempt, rand=rand)
        if isinstance(error, APIConnectionError | APIResponseValidationError):
            return self.wait(attempt, rand=rand)
        return None


@attrs.frozen
class RetryDetails:
    """What a retry hook is told: which request, which try, why, and how long it waits.

    ``reason`` is the error's (redacted) message and ``caused_by`` the error itself.
    """

    method: str
    path: str
    attempt: int
    wait: float
    reason: str
    caused_by: BaseException | None = None
