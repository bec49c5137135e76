"""``RedisTokenStore``: one token state for every client of an account, in Redis.

The state is a hash ``planner:{<prefix>}:tokens`` = ``{gen, data}`` with a TTL; saves are
a compare-and-set on ``gen`` (Lua), so a renewal that someone else overtook is not
written. The renewal lease is ``SET planner:{<prefix>}:tokens:lease <random> NX PX <ms>``,
released (or extended) only while it still holds our random value. ``data`` is the JSON
of :func:`state_to_json`, encrypted with Fernet when a key is given.

Whoever can read that Redis can read the tokens, unless ``encryption_key`` is set.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio

from .._checks import check_seconds
from .._exceptions import StoreUnavailableError
from .._stores import MemoryTokenStore, StoredToken, TokenState
from .._token_codec import parse_json, state_from_json, state_to_json
from ._connect import guarded, require_asyncio
from ._keys import check_prefix, lease_key, token_key
from ._lua import TOKEN_CAS_LUA, TOKEN_CLEAR_LUA, UNLOCK_LUA

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.cluster import RedisCluster

__all__ = ["RedisTokenStore"]

log = logging.getLogger("planner_async")

_REFRESH_TTL = 30 * 86_400.0


def _generation(raw: object) -> int | None:
    """The stored generation: 0 when absent, None when not a plain decimal count."""
    if raw is None:
        return 0
    text = raw.decode("ascii", "replace") if isinstance(raw, bytes) else str(raw)
    if text.isascii() and text.isdigit() and len(text) <= 15:
        return int(text)
    return None


def _fernet(key: str | bytes | None) -> Any:
    if key is None:
        return None
    try:
        from cryptography.fernet import Fernet
    except ImportError as exc:
        raise ImportError(
            "encryption_key needs the cryptography package: pip install cryptography"
        ) from exc
    try:
        return Fernet(key)
    except (ValueError, TypeError) as exc:
        raise ValueError(
            "encryption_key must be a Fernet key (32 url-safe base64-encoded bytes, "
            "e.g. from cryptography.fernet.Fernet.generate_key())"
        ) from exc


class RedisTokenStore:
    """A :class:`TokenStore` in Redis: N workers make one login and one renewal per expiry.

    ``ttl`` (30 days, the refresh token's life) bounds how long the state is kept.
    ``encryption_key`` (a Fernet key; needs ``cryptography``) encrypts the state at
    rest; without it, whoever can read this Redis can read the tokens. With ``fallback``,
    an unreachable Redis makes this process keep its tokens in memory meanwhile (each
    process then logs in on its own) instead of raising :class:`StoreUnavailableError`.

    >>> from redis.asyncio import Redis                       # doctest: +SKIP
    >>> tokens = RedisTokenStore(Redis(), "planner:ann", encryption_key=key)
    >>> client = PlannerClient("ann", api_key, token_store=tokens)
    """

    def __init__(
        self,
        redis: Redis | RedisCluster,
        prefix: str,
        *,
        ttl: float = _REFRESH_TTL,
        encryption_key: str | bytes | None = None,
        poll: float = 0.05,
        fallback: bool = False,
    ) -> None:
        self._prefix = check_prefix(prefix)
        self._ttl_ms = int(check_seconds("ttl", ttl, positive=True) * 1000)
        self._poll = check_seconds("poll", poll, positive=True)
        self._fernet = _fernet(encryption_key)
        self._redis = redis
        self._key = token_key(prefix)
        self._lease_key = lease_key(prefix)
        self._cas = redis.register_script(TOKEN_CAS_LUA)
        self._clear = redis.register_script(TOKEN_CLEAR_LUA)
        self._unlock = redis.register_script(UNLOCK_LUA)
        self._local = MemoryTokenStore() if fallback else None
        self._outage_until = -1.0
        self._warned: int | None = None  # the hash of the last unusable state warned of

    def __repr__(self) -> str:
        encrypted = ", encrypted" if self._fernet is not None else ""
        return f"RedisTokenStore(prefix={self._prefix!r}{encrypted})"

    async def load(self) -> StoredToken:
        """The stored state and generation (``StoredToken(None, 0)`` when none)."""
        require_asyncio()
        if self._local is not None and self._in_outage():
            return await self._local.load()
        try:
            return await self._load()
        except StoreUnavailableError as exc:
            return await self._outage(exc).load()

    async def _load(self) -> StoredToken:
        gen, data = await guarded(self._redis.hmget(self._key, ["gen", "data"]), "token load")
        generation = _generation(gen)
        if data is None and generation is not None:
            return StoredToken(None, generation)
        raw = data if isinstance(data, bytes) else str(data).encode()
        try:
            if generation is None:
                raise ValueError("bad generation")
            return StoredToken(self._decode(raw), generation)
        except ValueError as exc:
            self._unreadable(exc, (gen, raw))
            return StoredToken(None, generation or 0)

    def _unreadable(self, exc: ValueError, seen: object) -> None:
        """Log once per bad content that the stored state is unusable."""
        if hash(seen) != self._warned:
            self._warned = hash(seen)
            log.warning(
                "the Redis token state is unusable (%s); logging in afresh and overwriting it", exc
            )

    async def save(self, state: TokenState, *, expected: int) -> StoredToken | None:
        """Store ``state`` if the generation is still ``expected`` (compare-and-set)."""
        require_asyncio()
        if self._local is not None and self._in_outage():
            return await self._local.save(state, expected=expected)
        try:
            return await self._save(state, expected)
        except StoreUnavailableError as exc:
            return await self._outage(exc).save(state, expected=expected)

    async def _save(self, state: TokenState, expected: int) -> StoredToken | None:
        data = self._encode(state)
        reply = await guarded(
            self._cas(keys=[self._key], args=[expected, data, self._ttl_ms]), "token save"
        )
        generation = int(reply)
        return None if generation < 0 else StoredToken(state, generation)

    async def clear(self, *, expected: int) -> None:
        """Forget the state if the generation is still ``expected``."""
        require_asyncio()
        if self._local is not None:
            await self._local.clear(expected=expected)
        try:
            await guarded(self._clear(keys=[self._key], args=[expected, self._ttl_ms]), "clear")
        except StoreUnavailableError:
            if self._local is None:
                raise

    def lease(self, timeout: float) -> AbstractAsyncContextManager[None]:
        """Hold the renewal lease for at most ``timeout`` seconds (``SET NX PX``).

        Waits (polling every ``poll`` seconds) while another worker holds it; a holder
        that died blocks the others until its ``timeout`` runs out.
        """
        return self._hold(check_seconds("timeout", timeout, positive=True))

    async def extend(self, token: str, seconds: float) -> bool:
        """Extend a lease held under ``token`` to ``seconds`` from now, if still ours."""
        ms = int(check_seconds("seconds", seconds, positive=True) * 1000)
        reply = await guarded(self._unlock(keys=[self._lease_key], args=[token, ms]), "lease")
        return bool(reply)

    @asynccontextmanager
    async def _hold(self, limit: float) -> AsyncIterator[None]:
        require_asyncio()
        token = secrets.token_hex(16)
        try:
            if self._local is not None and self._in_outage():
                raise StoreUnavailableError("Redis is unreachable")
            await self._take(token, limit)
        except StoreUnavailableError as exc:
            async with self._outage(exc).lease(limit):
                yield
            return
        try:
            yield
        finally:
            with anyio.CancelScope(shield=True):
                await self._give_back(token)

    async def _take(self, token: str, limit: float) -> None:
        ms = max(1, int(limit * 1000))
        while True:
            taken = self._redis.set(self._lease_key, token, nx=True, px=ms)
            if await guarded(taken, "lease"):
                return
            await anyio.sleep(self._poll)

    async def _give_back(self, token: str) -> None:
        """Release the lease if still ours; if Redis is gone, its TTL releases it."""
        try:
            await guarded(self._unlock(keys=[self._lease_key], args=[token, "release"]), "lease")
        except StoreUnavailableError:
            log.warning("could not release the token lease; it expires by itself")

    def _in_outage(self) -> bool:
        return asyncio.get_running_loop().time() < self._outage_until

    def _outage(self, exc: StoreUnavailableError) -> MemoryTokenStore:
        """Note that Redis is unreachable and return the local store (no fallback: raise)."""
        local = self._local
        if local is None:
            raise exc
        if not self._in_outage():
            log.warning("the Redis token store is unreachable; keeping tokens in memory for 5 s")
        self._outage_until = asyncio.get_running_loop().time() + 5.0
        return local

    def _encode(self, state: TokenState) -> bytes:
        data = json.dumps(state_to_json(state), separators=(",", ":")).encode()
        return data if self._fernet is None else bytes(self._fernet.encrypt(data))

    def _decode(self, data: bytes) -> TokenState:
        """The state in ``data``; ValueError (naming no content) if it is unusable."""
        if self._fernet is not None:
            from cryptography.fernet import InvalidToken

            try:
                data = self._fernet.decrypt(data)
            except InvalidToken:
                raise StoreUnavailableError(
                    "the stored token state cannot be decrypted with this encryption_key: every "
                    f"client of prefix {self._prefix!r} needs the same key. To start afresh "
                    f"with a new one, delete the Redis key {self._key!r} (the next call logs in)"
                ) from None
        return state_from_json(parse_json(data))
