"""Token state and the single-flight refresher.

:class:`TokenState` is pure. :class:`TokenManager` hands out access tokens and runs at
most one login or renewal at a time per client (a *flight*); every task that needs the
outcome waits on the same flight and is woken with all the others at once. Across
processes, a shared :class:`TokenStore` adds a renewal lease and a generation number, so
that N workers make one login between them and one renewal per expiry.

The rules, in one place:

- A token is used until ``refresh_margin`` seconds before it expires; then one task
  renews while the others go on with the old, still valid token.
- A 401 answered to token ``T`` (:meth:`TokenManager.renew_rejected`) renews once, however
  many tasks saw it: whoever comes later finds a token other than ``T`` and resends.
- A dead refresh token (401/403 on renew) falls back to a login; a rejected login is kept
  and later calls fail fast.
- A flight runs to completion (shielded, bounded by its own timeout) even when the task
  that started it is cancelled, so impatient callers cannot abandon the shared login.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import anyio

from ._clock import Clock
from ._exceptions import APIStatusError, APITimeoutError, AuthenticationError
from ._hooks import Hooks, TokenDetails
from ._jwt import check_header_token, expiry_from_token
from ._models import Session
from ._serialization import structure_session
from ._stores import AuthCalls, MemoryTokenStore, StoredToken, TokenState, TokenStore

__all__ = ["DEFAULT_TOKEN_LIFETIME", "TokenManager", "TokenState", "token_expiry"]

log = logging.getLogger("planner_async")

DEFAULT_TOKEN_LIFETIME = 15 * 60.0
"""Access-token lifetime assumed when the token carries no usable ``exp`` claim."""


def token_expiry(token: str, *, issued_at: float, default_lifetime: float) -> float:
    """When ``token`` expires, in epoch seconds: its JWT ``exp`` claim, else issue + lifetime.

    >>> token_expiry("not-a-jwt", issued_at=1000.0, default_lifetime=900.0)
    1900.0
    """
    expiry, _ = expiry_from_token(
        token, issued_at=issued_at, default_lifetime=default_lifetime, now=issued_at
    )
    return expiry


class _Flight:
    """One login or renewal in progress, and the event that wakes everyone waiting on it."""

    __slots__ = ("done", "error")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.error: BaseException | None = None


class TokenManager:
    """Hands out access tokens, logging in or renewing in one shared flight when needed.

    ``calls`` performs the HTTP calls (see :class:`AuthCalls`); ``store`` holds the state
    (in memory by default; a shared store makes several clients one). ``flight_timeout``
    bounds one login or renewal, which runs to completion even if its caller gives up.
    """

    __slots__ = (
        "_calls",
        "_clock",
        "_default_lifetime",
        "_failure",
        "_flight",
        "_flight_timeout",
        "_hooks",
        "_margin",
        "_seen",
        "_store",
        "_warned",
        "logins",
        "renewals",
    )

    def __init__(
        self,
        calls: AuthCalls,
        *,
        clock: Clock,
        refresh_margin: float,
        default_lifetime: float = DEFAULT_TOKEN_LIFETIME,
        store: TokenStore | None = None,
        hooks: Hooks | None = None,
        flight_timeout: float = 60.0,
    ) -> None:
        self._calls = calls
        self._clock = clock
        self._margin = refresh_margin
        self._default_lifetime = default_lifetime
        self._store: TokenStore = MemoryTokenStore() if store is None else store
        self._hooks = Hooks() if hooks is None else hooks
        self._flight_timeout = flight_timeout
        self._seen = StoredToken(None, 0)  # the stored state as this client last read it
        self._flight: _Flight | None = None
        self._failure: APIStatusError | None = None
        self._warned = False
        self.logins = 0
        self.renewals = 0

    @property
    def store(self) -> TokenStore:
        """Where the token state lives."""
        return self._store

    @property
    def session(self) -> Session | None:
        """The current session, or None before the first login."""
        state = self._seen.state
        return None if state is None else state.session

    @property
    def secrets(self) -> tuple[str | None, ...]:
        """The current tokens, for redaction."""
        state = self._seen.state
        return () if state is None else (state.access, state.refresh)

    # -- handing out tokens ------------------------------------------------------------------

    async def token(self) -> str:
        """A token that the client does not know to be expired, refreshing if needed."""
        state, now = self._seen.state, self._clock()
        if (
            state is not None
            and state.usable(now)
            and (state.fresh(now, self._margin) or self._flight is not None)
        ):
            # Fresh, or a proactive renewal is already in flight: go on with this one.
            return state.access
        return await self._refreshed(rejected=None)

    async def renew_rejected(self, used: str) -> str:
        """The 401 rule: ``used`` was answered 401, so renew once and return the token to resend.

        Renews only if nobody has replaced ``used`` yet; every other task that saw the same
        401 gets the replacement from the same renewal.
        """
        state = self._seen.state
        if state is not None and state.access != used and state.usable(self._clock()):
            return state.access
        return await self._refreshed(rejected=used)

    async def ensure_session(self) -> Session:
        """Log in if the client has not yet; return the session."""
        await self.token()
        state = self._seen.state
        assert state is not None
        return state.session

    # -- the single flight -------------------------------------------------------------------

    async def _refreshed(self, *, rejected: str | None) -> str:
        """Join the flight in progress or start one; return a token other than ``rejected``."""
        while True:
            self._raise_if_failed()
            state = self._seen.state
            if self._good(state, rejected, fresh=True):
                assert state is not None
                return state.access
            flight = self._flight
            if flight is None:
                await self._fly(rejected)
            else:
                await flight.done.wait()
                if flight.error is not None:
                    raise flight.error
            state = self._seen.state
            if self._good(state, rejected, fresh=False):
                assert state is not None
                return state.access

    def _good(self, state: TokenState | None, rejected: str | None, *, fresh: bool) -> bool:
        if state is None or state.access == rejected:
            return False
        now = self._clock()
        return state.fresh(now, self._margin) if fresh else state.usable(now)

    async def _fly(self, rejected: str | None) -> None:
        """Run one flight to completion, shielded from the caller's cancellation."""
        flight = self._flight = _Flight()
        try:
            with anyio.CancelScope(shield=True):
                await self._bounded(rejected)
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            self._flight = None
            flight.done.set()

    async def _bounded(self, rejected: str | None) -> None:
        try:
            with anyio.fail_after(self._flight_timeout):
                await self._refresh_through_store(rejected)
        except TimeoutError as exc:
            raise APITimeoutError(
                f"login or token renewal took longer than {self._flight_timeout:g} s"
            ) from exc

    async def _refresh_through_store(self, rejected: str | None) -> None:
        """Adopt what another client stored, or renew under the store's lease and save."""
        if self._adopt(await self._store.load(), rejected):
            return
        async with self._store.lease(self._flight_timeout):
            stored = await self._store.load()
            if self._adopt(stored, rejected):
                return
            state = await self._renew_or_login(stored.state)
            saved = await self._store.save(state, expected=stored.generation)
            self._seen = saved if saved is not None else StoredToken(state, stored.generation)

    def _adopt(self, stored: StoredToken, rejected: str | None) -> bool:
        """Take ``stored`` as ours (the store is the truth); say if its token will do."""
        self._seen = stored
        return self._good(stored.state, rejected, fresh=True)

    async def _renew_or_login(self, state: TokenState | None) -> TokenState:
        # Called inside the flight, holding the lease.
        if state is not None and state.refresh:
            renewed = await self._try_renew(state.refresh)
            if renewed is not None:
                return renewed
        return await self._login()

    async def _try_renew(self, refresh: str) -> TokenState | None:
        started = self._clock()
        try:
            data = await self._calls.renew(refresh)
        except APIStatusError as exc:
            if exc.status_code >= 500 or exc.status_code == 429:
                raise
            log.info("token renewal rejected (%s); logging in again", exc.status_code)
            return None
        self.renewals += 1
        return self._new_state(data, started, "renewal", previous_refresh=refresh)

    async def _login(self) -> TokenState:
        started = self._clock()
        try:
            data = await self._calls.login()
        except APIStatusError as exc:
            if exc.status_code in (401, 403):
                self._failure = exc
            raise
        self.logins += 1
        return self._new_state(data, started, "login", previous_refresh=None)

    def _new_state(
        self, data: Mapping[str, Any], issued: float, kind: str, previous_refresh: str | None
    ) -> TokenState:
        access = check_header_token(data.get("token"), what="access token")
        refresh = data.get("refreshToken")
        if isinstance(refresh, str) and refresh:
            refresh = check_header_token(refresh, what="refresh token")
        else:
            refresh = previous_refresh  # not rotated: the old one stays good
        now = self._clock()
        expires_at, reason = expiry_from_token(
            access, issued_at=issued, default_lifetime=self._default_lifetime, now=now
        )
        if reason is not None and not self._warned:
            self._warned = True
            log.warning("%s; assuming %.0f s of life", reason, self._default_lifetime)
        session = structure_session(data, datetime.fromtimestamp(expires_at, UTC))
        self._hooks.token(
            TokenDetails("login" if kind == "login" else "renewal", now - issued, expires_at - now)
        )
        return TokenState(access, refresh, expires_at, session, issued_at=issued)

    def _raise_if_failed(self) -> None:
        failure = self._failure
        if failure is None:
            return
        raise AuthenticationError(
            f"login was rejected earlier ({failure.message}); not retrying: "
            "create a new client with valid credentials",
            status_code=failure.status_code,
            error=failure.error,
            response=failure.response,
        ) from failure
