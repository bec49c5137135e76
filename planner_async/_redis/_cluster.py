"""Redis Cluster: ``redis_url="redis+cluster://host:port"`` (any node of the cluster).

The stores work on a cluster unchanged because every key of one prefix and role sits
under the hash tag ``planner:{<prefix>}`` (see :mod:`._keys`), so every script call
touches one slot. Wake-ups: a ``PUBLISH`` on a cluster reaches every node, so a store
listens through a plain connection to one node (redis-py's asyncio ``RedisCluster`` has
no pub/sub before version 8).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from redis.asyncio import ConnectionPool
    from redis.asyncio.client import PubSub
    from redis.asyncio.cluster import RedisCluster

__all__ = ["CLUSTER_SCHEME", "connect_cluster", "is_cluster_url", "pubsub_for"]

CLUSTER_SCHEME: Final = "redis+cluster://"


def is_cluster_url(url: str) -> bool:
    """True for a ``redis+cluster://`` URL.

    >>> is_cluster_url("redis+cluster://10.0.0.1:7000"), is_cluster_url("redis://x")
    (True, False)
    """
    return url.startswith(CLUSTER_SCHEME)


def connect_cluster(url: str, **options: Any) -> RedisCluster:
    """A ``RedisCluster`` for a ``redis+cluster://`` URL (it connects on first use)."""
    from redis.asyncio.cluster import RedisCluster

    return RedisCluster.from_url("redis://" + url[len(CLUSTER_SCHEME) :], **options)


def pubsub_for(redis: Any) -> Any:
    """A pub/sub for ``redis``: its own, or on a cluster one node's (:class:`NodePubSub`)."""
    from redis.asyncio.cluster import RedisCluster

    return NodePubSub(redis) if isinstance(redis, RedisCluster) else redis.pubsub()


class NodePubSub:
    """Pub/sub on a cluster through one node (chosen at random when subscribing)."""

    __slots__ = ("_cluster", "_pool", "_pubsub")

    def __init__(self, cluster: RedisCluster) -> None:
        self._cluster = cluster
        self._pool: ConnectionPool | None = None
        self._pubsub: PubSub | None = None

    async def subscribe(self, *channels: str) -> None:
        """Connect to one node of the cluster and subscribe there."""
        from redis.asyncio import ConnectionPool, Redis

        await self._cluster.initialize()
        node = random.choice(self._cluster.get_nodes())
        self._pool = ConnectionPool(
            connection_class=node.connection_class, **node.connection_kwargs
        )
        self._pubsub = Redis(connection_pool=self._pool).pubsub()
        await self._pubsub.subscribe(*channels)

    async def get_message(self, **options: Any) -> Any:
        """The next message (see ``redis.asyncio.client.PubSub.get_message``)."""
        if self._pubsub is None:
            raise RuntimeError("subscribe first")
        return await self._pubsub.get_message(**options)

    async def aclose(self) -> None:
        """Close the node connection."""
        pubsub, pool, self._pubsub, self._pool = self._pubsub, self._pool, None, None
        try:
            if pubsub is not None:
                await pubsub.aclose()  # type: ignore[no-untyped-call]
        finally:
            if pool is not None:
                await pool.disconnect()
