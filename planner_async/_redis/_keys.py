"""Where the Redis stores keep their keys: ``planner:{<prefix>}:<role>:...``.

Every key of a prefix sits under ``planner:{<prefix>}:`` followed by a fixed role:
``quota:`` (the API's windows), ``auth:`` (the login endpoint's window) or ``tokens``
(the token state and its renewal lease). A prefix may not contain ``{`` or ``}``, so the
prefix is everything between the first ``{`` and the last ``}``: no prefix can reach
another prefix's keys, and no role another role's. The braces are a Redis Cluster hash
tag: every key of one prefix hashes to the same slot, as a Lua script over them needs.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ROLES",
    "check_prefix",
    "check_role",
    "lease_key",
    "namespace",
    "quota_channel",
    "quota_keys",
    "token_key",
]

ROLES: Final = ("quota", "auth")
"""The roles a :class:`RedisQuotaStore` can play: the API's windows or the login's."""

_MAX_PREFIX: Final = 512


def check_prefix(prefix: object) -> str:
    """``prefix`` if it can name a namespace: a non-empty str without braces, not too long."""
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a str, got {type(prefix).__name__}")
    if not prefix or len(prefix) > _MAX_PREFIX:
        raise ValueError(f"prefix must be 1 to {_MAX_PREFIX} characters long")
    if "{" in prefix or "}" in prefix:
        raise ValueError("prefix must not contain '{' or '}' (they delimit it in every key)")
    return prefix


def check_role(role: object) -> str:
    """``role`` if it is one of :data:`ROLES`."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(map(repr, ROLES))}, got {role!r}")
    assert isinstance(role, str)
    return role


def namespace(prefix: str) -> str:
    """``planner:{<prefix>}``: what every key of ``prefix`` starts with.

    >>> namespace("ann")
    'planner:{ann}'
    """
    return f"planner:{{{prefix}}}"


def quota_keys(prefix: str, role: str, limits: tuple[tuple[int, float], ...]) -> list[str]:
    """The quota script's keys: pause, seq, epoch, waiting, then done and fly per window.

    >>> quota_keys("ann", "auth", ((10, 60.0),))[-1]
    'planner:{ann}:auth:10/60:fly'
    """
    base = f"{namespace(prefix)}:{role}"
    keys = [f"{base}:{name}" for name in ("pause", "seq", "epoch", "waiting")]
    for limit, period in limits:
        keys += [f"{base}:{limit}/{period:g}:done", f"{base}:{limit}/{period:g}:fly"]
    return keys


def quota_channel(prefix: str, role: str) -> str:
    """The pub/sub channel on which releases and data loss are announced."""
    return f"{namespace(prefix)}:{role}:freed"


def token_key(prefix: str) -> str:
    """The token state's hash ``{gen, data}``."""
    return f"{namespace(prefix)}:tokens"


def lease_key(prefix: str) -> str:
    """The token renewal lease."""
    return f"{namespace(prefix)}:tokens:lease"
