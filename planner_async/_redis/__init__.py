"""The Redis wing: the quota and token stores many workers of one account share.

redis-py is imported only when a Redis store is built or used (``redis_url`` set, or a
store made by hand), so ``import planner_async`` does not pay for it.
"""

from __future__ import annotations

from ._connect import connect, default_prefix
from ._quota import RedisQuotaStore
from ._setup import RedisStores, permit_lease
from ._tokens import RedisTokenStore

__all__ = [
    "RedisQuotaStore",
    "RedisStores",
    "RedisTokenStore",
    "connect",
    "default_prefix",
    "permit_lease",
]
