"""Hooks: what the client reports about retries, quota waits, 429 pauses and tokens.

The client builds one :class:`Hooks` from its constructor's ``on_*`` keywords. Each event
is logged on the ``planner_async`` logger (retries at INFO, the rest at DEBUG; never a
secret), then passed to the user's callable as a frozen details object. A user hook that
raises is logged at WARNING and ignored: it never breaks the request that emitted it.

>>> seen = []
>>> hooks = Hooks(on_quota_wait=seen.append)
>>> hooks.quota_wait(QuotaWaitDetails(waited=0.25, endpoint="api"))
>>> seen
[QuotaWaitDetails(waited=0.25, endpoint='api')]
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal, TypeVar

import attrs

from ._logging import log
from ._retry import RetryDetails

__all__ = ["Hooks", "PauseDetails", "QuotaWaitDetails", "TokenDetails"]

_D = TypeVar("_D")


@attrs.frozen
class QuotaWaitDetails:
    """A call waited for quota before it was sent.

    ``waited`` is in seconds (always > 0); ``endpoint`` is ``"api"`` for API calls and
    ``"auth"`` for login and renewal calls, which have their own limits.
    """

    waited: float
    endpoint: Literal["api", "auth"]


@attrs.frozen
class PauseDetails:
    """A 429 (or 503) answer paused every request of the client for ``seconds``.

    ``retry_after`` is the server's ``Retry-After`` in seconds, or None when it sent none
    (the pause is then one back-off step).
    """

    seconds: float
    retry_after: float | None
    status_code: int


@attrs.frozen
class TokenDetails:
    """The client obtained an access token.

    ``kind`` is ``"login"`` (with the credentials) or ``"renewal"`` (with the refresh
    token); ``duration`` is how long the call took in seconds; ``expires_in`` is the new
    token's lifetime in seconds, or None when unknown.
    """

    kind: Literal["login", "renewal"]
    duration: float
    expires_in: float | None


class Hooks:
    """Dispatches the client's events to the log and to the user's callables.

    Built by :class:`~planner_async.PlannerClient` from ``on_retry``, ``on_quota_wait``,
    ``on_pause`` and ``on_token``. Each method logs one line and calls the matching hook,
    if any; an exception raised by a hook is logged and swallowed.

    >>> Hooks(on_token=print).token(TokenDetails("login", 0.05, 3600.0))
    TokenDetails(kind='login', duration=0.05, expires_in=3600.0)
    """

    __slots__ = ("_on_pause", "_on_quota_wait", "_on_retry", "_on_token")

    def __init__(
        self,
        *,
        on_retry: Callable[[RetryDetails], object] | None = None,
        on_quota_wait: Callable[[QuotaWaitDetails], object] | None = None,
        on_pause: Callable[[PauseDetails], object] | None = None,
        on_token: Callable[[TokenDetails], object] | None = None,
    ) -> None:
        for name, hook in (
            ("on_retry", on_retry),
            ("on_quota_wait", on_quota_wait),
            ("on_pause", on_pause),
            ("on_token", on_token),
        ):
            if hook is not None and not callable(hook):
                raise TypeError(f"{name} must be callable or None, got {type(hook).__name__}")
        self._on_retry = on_retry
        self._on_quota_wait = on_quota_wait
        self._on_pause = on_pause
        self._on_token = on_token

    def __repr__(self) -> str:
        given = [
            name
            for name in ("on_retry", "on_quota_wait", "on_pause", "on_token")
            if getattr(self, "_" + name) is not None
        ]
        return f"Hooks({', '.join(given)})"

    def retry(self, details: RetryDetails) -> None:
        """Report a retry (logged at INFO)."""
        if log.isEnabledFor(logging.INFO):
            log.info(
                "retry %d of %s %s in %.2f s: %s",
                details.attempt,
                details.method,
                details.path,
                details.wait,
                details.reason,
            )
        _call(self._on_retry, details, "on_retry")

    def quota_wait(self, details: QuotaWaitDetails) -> None:
        """Report a wait for quota (logged at DEBUG)."""
        if log.isEnabledFor(logging.DEBUG):
            log.debug("waited %.3f s for %s quota", details.waited, details.endpoint)
        if self._on_quota_wait is not None:
            _call(self._on_quota_wait, details, "on_quota_wait")

    def pause(self, details: PauseDetails) -> None:
        """Report a pause of every request after a 429 or 503 (logged at DEBUG)."""
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "paused all requests for %.2f s after a %d (Retry-After: %s)",
                details.seconds,
                details.status_code,
                "none" if details.retry_after is None else f"{details.retry_after:g} s",
            )
        _call(self._on_pause, details, "on_pause")

    def token(self, details: TokenDetails) -> None:
        """Report a login or a renewal (logged at DEBUG; the token itself never is)."""
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s took %.3f s; token expires in %s",
                details.kind,
                details.duration,
                "an unknown time" if details.expires_in is None else f"{details.expires_in:.1f} s",
            )
        _call(self._on_token, details, "on_token")


def _call(hook: Callable[[_D], object] | None, details: _D, name: str) -> None:
    """Call ``hook(details)``; log and swallow whatever it raises."""
    if hook is None:
        return
    try:
        hook(details)
    except Exception:
        log.warning("%s hook %r raised; ignored", name, hook, exc_info=True)
