"""The pub/sub listener of a :class:`RedisQuotaStore`: hear releases and data loss anywhere.

One asyncio task per store, started on first use: it subscribes to the store's channel,
runs ``on_connect`` after every (re)connection (releases may have been missed meanwhile)
and ``on_message`` for every message. It reconnects with a backoff after an error, and
ends at once when cancelled (closing the store, or the event loop shutting down): a
cancellation is never mistaken for a connection error, and its connection is closed
within 0.2 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ._cluster import pubsub_for
from ._connect import as_text

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.cluster import RedisCluster

__all__ = ["Listener"]

log = logging.getLogger("planner_async")


class Listener:
    """Relay the messages of one channel to a store (see the module docstring)."""

    __slots__ = ("_channel", "_closing", "_on_connect", "_on_message", "_redis", "_task")

    def __init__(
        self,
        redis: Redis | RedisCluster,
        channel: str,
        on_connect: Callable[[], Awaitable[None]],
        on_message: Callable[[str], Awaitable[None]],
    ) -> None:
        self._redis = redis
        self._channel = channel
        self._on_connect = on_connect
        self._on_message = on_message
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def running(self) -> bool:
        """Whether the task runs (it may be subscribed, or about to be)."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start the task on the running loop, unless it runs already."""
        if self._task is None:
            self._closing = False
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def aclose(self) -> None:
        """Cancel the task and wait for it, at most 1 s; never raises its end."""
        task, self._task = self._task, None
        if task is not None:
            self._closing = True
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)

    async def _run(self) -> None:
        delay = 0.05
        while True:
            pubsub = pubsub_for(self._redis)  # on a cluster: one node's
            try:
                await pubsub.subscribe(self._channel)
                await self._on_connect()
                delay = 0.05
                await self._relay(pubsub)
            except Exception as exc:
                if self._closing or _cancelling():  # redis-py may turn a cancel into an error
                    return
                log.debug("quota listener: %s; reconnecting", type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
            finally:
                await _close_quietly(pubsub)

    async def _relay(self, pubsub: Any) -> None:
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
            if message is not None:
                await self._on_message(as_text(message.get("data")))


def _cancelling() -> bool:
    """Whether the current task is being cancelled (an error seen now is its echo)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def _close_quietly(pubsub: Any) -> None:
    """Close a pub/sub connection within 0.2 s; never raise, never eat a cancellation."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(0.2):
            await pubsub.aclose()
