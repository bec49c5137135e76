"""The fake's auth endpoints: ``POST /auth`` (login) and ``POST /auth/renew``."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from ._http import Answer, Handler, Incoming, error, json_answer, rate_headers, throttled
from ._ratelimit import RateLimiter
from ._stats import FakeStats
from ._tokens import TokenAuthority

__all__ = ["AuthEndpoints"]

Headers = list[tuple[str, str]]


def _user_ids(username: str) -> tuple[int, int]:
    digest = hashlib.sha256(username.encode()).digest()
    return 1000 + int.from_bytes(digest[:4], "big") % 9000, 1 + digest[4] % 99


def _session(username: str, access: str, refresh: str) -> dict[str, Any]:
    user_id, product_id = _user_ids(username)
    return {
        "userId": user_id,
        "productId": product_id,
        "email": f"{username}@example.com",
        "token": access,
        "refreshToken": refresh,
    }


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return payload if isinstance(payload, dict) else None


class AuthEndpoints:
    """Logins and renewals, counted per username against the auth rate limits."""

    __slots__ = ("limiter", "stats", "tokens", "users")

    def __init__(
        self,
        users: Mapping[str, str],
        tokens: TokenAuthority,
        limiter: RateLimiter,
        stats: FakeStats,
    ) -> None:
        self.users = dict(users)
        self.tokens = tokens
        self.limiter = limiter
        self.stats = stats

    def handlers(self) -> dict[str, Handler]:
        """The handler of each auth route, by route name."""
        return {"auth": self.login, "auth.renew": self.renew}

    def _account(self, payload: Mapping[str, Any] | None, endpoint: str, address: str) -> str:
        """The rate-limit key: the username the request is for, else the address."""
        if payload is None:
            return address
        if endpoint == "auth":
            username = payload.get("username")
            return f"user:{username}" if isinstance(username, str) else address
        token = payload.get("refreshToken")
        user = self.tokens.refresh_owner(token) if isinstance(token, str) else None
        return f"user:{user}" if user is not None else address

    def _admit(self, incoming: Incoming) -> tuple[Answer | None, dict[str, Any] | None, Headers]:
        """Count the request; return (a refusal or None, the JSON payload, rate headers)."""
        payload = _json_object(incoming.body)
        key = self._account(payload, incoming.request.endpoint, incoming.address)
        decision = self.limiter.hit(key, now=incoming.now)
        rate = rate_headers(self.limiter, decision)
        refused = throttled(decision)
        if refused is None and payload is None:
            refused = error(400, "The request body must be a JSON object.", rate)
        return refused, payload, rate

    async def login(self, incoming: Incoming) -> Answer:
        """``POST /auth``: check the credentials, issue a token pair."""
        refused, payload, rate = self._admit(incoming)
        if refused is not None or payload is None:
            return refused or error(400, "The request body must be a JSON object.", rate)
        username, password = payload.get("username"), payload.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            return error(400, "Both 'username' and 'password' must be strings.", rate)
        expected = self.users.get(username)
        if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
            return error(401, "Invalid username or password.", rate)
        access, refresh = self.tokens.issue(username)
        self.stats.logins += 1
        return json_answer(200, _session(username, access, refresh), rate)

    async def renew(self, incoming: Incoming) -> Answer:
        """``POST /auth/renew``: trade a live refresh token for a new access token."""
        refused, payload, rate = self._admit(incoming)
        if refused is not None or payload is None:
            return refused or error(400, "The request body must be a JSON object.", rate)
        token = payload.get("refreshToken")
        if not isinstance(token, str):
            return error(400, "'refreshToken' must be a string.", rate)
        renewed = self.tokens.renew(token)
        if renewed is None:
            return error(401, "The refresh token is invalid, expired or revoked.", rate)
        self.stats.renewals += 1
        return json_answer(200, _session(*renewed), rate)
