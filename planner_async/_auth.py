"""Token state and the lock-guarded refresher.

:class:`TokenState` and :func:`token_expiry` are pure. :class:`TokenManager` holds one
``anyio.Lock`` so that at most one login or renewal is in flight per client, ever; the
state is replaced in one assignment after a successful answer, so a task cancelled at
any point leaves either the old state or the new one, never half of each.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import anyio
import attrs

from ._clock import Clock
from ._exceptions import APIResponseValidationError, APIStatusError, AuthenticationError
from ._models import Session
from ._serialization import structure_session

__all__ = ["DEFAULT_TOKEN_LIFETIME", "TokenManager", "TokenState", "token_expiry"]

log = logging.getLogger("planner_async")

DEFAULT_TOKEN_LIFETIME = 15 * 60.0
"""Access-token lifetime assumed when the token carries no ``exp`` claim."""


def _jwt_claims(token: str) -> Mapping[str, Any] | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return claims if isinstance(claims, dict) else None


def token_expiry(token: str, *, issued_at: float, default_lifetime: float) -> float:
    """When ``token`` expires, in epoch seconds: its JWT ``exp`` claim, else issue + lifetime.

    >>> token_expiry("not-a-jwt", issued_at=1000.0, default_lifetime=900.0)
    1900.0
    """
    claims = _jwt_claims(token)
    if claims is not None:
        exp = claims.get("exp")
        if isinstance(exp, int | float) and not isinstance(exp, bool):
            return float(exp)
    return issued_at + default_lifetime


@attrs.frozen(repr=False)
class TokenState:
    """One access token, the refresh token that came with it, and when the access expires."""

    access: str
    refresh: str | None
    expires_at: float
    session: Session

    def __repr__(self) -> str:
        return f"TokenState(access='***', refresh='***', expires_at={self.expires_at})"

    def usable(self, now: float) -> bool:
        """True while the access token has not expired."""
        return now < self.expires_at

    def fresh(self, now: float, margin: float) -> bool:
        """True while more than ``margin`` seconds of life remain."""
        return now < self.expires_at - margin


AuthCall = Callable[[], Awaitable[Mapping[str, Any]]]
RenewCall = Callable[[str], Awaitable[Mapping[str, Any]]]


class TokenManager:
    """Hands out access tokens, logging in or renewing under one lock when needed.

    ``login()`` and ``renew(refresh_token)`` perform the HTTP calls and return the
    answer's JSON; they raise :class:`AuthenticationError` when the server rejects them.
    """

    __slots__ = (
        "_clock",
        "_default_lifetime",
        "_failure",
        "_lock",
        "_login",
        "_margin",
        "_rejected",
        "_renew",
        "_state",
        "logins",
        "renewals",
    )

    def __init__(
        self,
        *,
        login: AuthCall,
        renew: RenewCall,
        clock: Clock,
        refresh_margin: float,
        default_lifetime: float = DEFAULT_TOKEN_LIFETIME,
    ) -> None:
        self._login = login
        self._renew = renew
        self._clock = clock
        self._margin = refresh_margin
        self._default_lifetime = default_lifetime
        self._state: TokenState | None = None
        self._rejected: str | None = None  # an access token the server answered 401 to
        self._failure: APIStatusError | None = None
        self._lock = anyio.Lock()
        self.logins = 0
        self.renewals = 0

    @property
    def session(self) -> Session | None:
        """The current session, or None before the first login."""
        return None if self._state is None else self._state.session

    @property
    def secrets(self) -> tuple[str | None, ...]:
        """The current tokens, for redaction."""
        if self._state is None:
            return ()
        return (self._state.access, self._state.refresh)

    def _valid(self, state: TokenState | None, now: float) -> bool:
        return state is not None and state.usable(now) and state.access != self._rejected

    def _raise_if_failed(self) -> None:
        if self._failure is not None:
            failure = self._failure
            raise AuthenticationError(
                f"login was rejected earlier ({failure.message}); not retrying: "
                "create a new client with valid credentials",
                status_code=failure.status_code,
                error=failure.error,
                response=failure.response,
            ) from failure

    async def token(self) -> str:
        """A token that the client does not know to be expired, refreshing if needed."""
        self._raise_if_failed()
        state, now = self._state, self._clock()
        if self._valid(state, now):
            assert state is not None
            if state.fresh(now, self._margin) or self._lock.locked():
                # Fresh, or a proactive renewal is already in flight: go on with this one.
                return state.access
        async with self._lock:
            self._raise_if_failed()
            state, now = self._state, self._clock()
            if self._valid(state, now) and state is not None and state.fresh(now, self._margin):
                return state.access
            return await self._refresh(state)

    async def replace(self, used: str) -> str:
        """After a 401 answered to ``used``: renew, unless another task already did."""
        self._raise_if_failed()
        self._rejected = used
        async with self._lock:
            self._raise_if_failed()
            state = self._state
            if state is not None and state.access != used and state.usable(self._clock()):
                return state.access
            return await self._refresh(state)

    async def ensure_session(self) -> Session:
        """Log in if the client has not yet; return the session."""
        await self.token()
        assert self._state is not None
        return self._state.session

    async def _refresh(self, state: TokenState | None) -> str:
        # Called with the lock held.
        if state is not None and state.refresh:
            issued = self._clock()
            try:
                data = await self._renew(state.refresh)
            except APIStatusError as exc:
                if exc.status_code >= 500 or exc.status_code == 429:
                    raise
                log.info("token renewal rejected (%s); logging in again", exc.status_code)
            else:
                self.renewals += 1
                return self._store(data, issued, previous_refresh=state.refresh)
        issued = self._clock()
        try:
            data = await self._login()
        except APIStatusError as exc:
            if exc.status_code in (401, 403):
                self._failure = exc
            raise
        self.logins += 1
        return self._store(data, issued, previous_refresh=None)

    def _store(self, data: Mapping[str, Any], issued: float, previous_refresh: str | None) -> str:
        access = data.get("token")
        if not isinstance(access, str) or not access:
            raise APIResponseValidationError("authentication answer carries no token")
        refresh = data.get("refreshToken")
        if not isinstance(refresh, str) or not refresh:
            refresh = previous_refresh  # not rotated: the old one stays good
        expires_at = token_expiry(access, issued_at=issued, default_lifetime=self._default_lifetime)
        session = structure_session(data, datetime.fromtimestamp(expires_at, UTC))
        self._state = TokenState(access, refresh, expires_at, session)
        if self._rejected == access:  # pragma: no cover - a server would not reissue
            self._rejected = None
        log.debug("new access token, expires in %.0f s", expires_at - self._clock())
        return access
