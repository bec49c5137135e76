"""JWT-shaped access tokens and rotating refresh tokens, all on an injected clock."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import math
import secrets
from collections.abc import Callable
from typing import Any

__all__ = ["TokenAuthority"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenAuthority:
    """Issues, checks, renews and revokes tokens; pure bookkeeping, no I/O.

    A :class:`FakePlanner` keeps one as :attr:`FakePlanner.tokens`; tests mostly use the
    fake's own controls (``expire_tokens()``, ``revoke_access_tokens()``,
    ``revoke_refresh_tokens()``) and read :meth:`claims` or :meth:`check` here.

    Access tokens are ``header.payload.signature`` (HS256) with ``sub``, ``iat``, ``exp``
    and a unique ``jti``. The server also remembers every live ``jti``, so that
    :meth:`expire_access_tokens` can kill them all before their ``exp``.
    """

    __slots__ = (
        "_access",
        "_clock",
        "_counter",
        "_refresh",
        "_secret",
        "access_ttl",
        "refresh_ttl",
        "rotate",
    )

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        access_ttl: float = 900.0,
        refresh_ttl: float = 30 * 86_400.0,
        rotate: bool = True,
    ) -> None:
        self._clock = clock
        self._secret = secrets.token_bytes(32)
        self._counter = itertools.count(1)
        self._access: dict[str, tuple[str, int]] = {}  # jti -> (username, exp)
        self._refresh: dict[str, tuple[str, float]] = {}  # token -> (username, expires at)
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self.rotate = rotate

    def __repr__(self) -> str:
        return f"TokenAuthority(live_access={len(self._access)}, live_refresh={len(self._refresh)})"

    def issue(self, username: str) -> tuple[str, str]:
        """Return a fresh ``(access_token, refresh_token)`` pair for ``username``."""
        refresh = secrets.token_urlsafe(32)
        self._refresh[refresh] = (username, self._clock() + self.refresh_ttl)
        return self.issue_access(username), refresh

    def issue_access(self, username: str) -> str:
        """Return a fresh signed access token for ``username``."""
        now = self._clock()
        self._prune(now)
        jti = f"{next(self._counter)}-{secrets.token_hex(6)}"
        exp = math.floor(now + self.access_ttl)
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        claims = {"sub": username, "iat": math.floor(now), "exp": exp, "jti": jti}
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        self._access[jti] = (username, exp)
        return f"{header}.{payload}.{self._sign(header, payload)}"

    def _sign(self, header: str, payload: str) -> str:
        mac = hmac.new(self._secret, f"{header}.{payload}".encode(), hashlib.sha256)
        return _b64(mac.digest())

    def _prune(self, now: float) -> None:
        self._access = {j: v for j, v in self._access.items() if v[1] > now}

    def claims(self, token: str) -> dict[str, Any] | None:
        """Return the claims of a token this server signed (expired or not), else None."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        header, payload, signature = parts
        if not hmac.compare_digest(self._sign(header, payload), signature):
            return None
        try:
            claims = json.loads(_unb64(payload))
        except ValueError:
            return None
        return claims if isinstance(claims, dict) else None

    def check(self, token: str) -> tuple[str | None, str | None]:
        """Return ``(username, None)`` for a live token, else ``(username or None, why)``.

        The username is given back even for an expired token, so that the request is
        still counted against that account's rate limits.
        """
        claims = self.claims(token)
        if claims is None:
            return None, "The access token is malformed or was not issued by this server."
        username = claims.get("sub")
        username = username if isinstance(username, str) else None
        exp = claims.get("exp")
        if not isinstance(exp, int) or self._clock() >= exp:
            return username, "The access token has expired."
        if claims.get("jti") not in self._access:
            return username, "The access token has been revoked."
        return username, None

    def renew(self, refresh_token: str) -> tuple[str, str, str] | None:
        """Return ``(username, access, refresh)`` for a live refresh token, else None.

        With rotation on, the old refresh token dies and a new one is handed out.
        """
        entry = self._refresh.get(refresh_token)
        if entry is None:
            return None
        username, expires_at = entry
        now = self._clock()
        if now >= expires_at:
            del self._refresh[refresh_token]
            return None
        if self.rotate:
            del self._refresh[refresh_token]
            refresh_token = secrets.token_urlsafe(32)
            self._refresh[refresh_token] = (username, now + self.refresh_ttl)
        return username, self.issue_access(username), refresh_token

    def refresh_owner(self, refresh_token: str) -> str | None:
        """Return the username a refresh token was issued to (live or not), else None."""
        entry = self._refresh.get(refresh_token)
        return entry[0] if entry is not None else None

    def expire_access_tokens(self) -> None:
        """Invalidate every access token issued so far."""
        self._access.clear()

    def revoke_access_tokens(self, username: str | None = None) -> int:
        """Revoke the live access tokens of ``username`` (all users when None); return how many."""
        doomed = [j for j, (user, _) in self._access.items() if username in (None, user)]
        for jti in doomed:
            del self._access[jti]
        return len(doomed)

    def revoke_refresh_tokens(self, username: str | None = None) -> int:
        """Revoke the refresh tokens of ``username`` (all users when None); return how many."""
        doomed = [t for t, (user, _) in self._refresh.items() if username in (None, user)]
        for token in doomed:
            del self._refresh[token]
        return len(doomed)
