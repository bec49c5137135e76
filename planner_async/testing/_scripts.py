"""Scripted answers: canned or computed replies that come before the real endpoints."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

from ._http import Answer, FakeRequest, Reply
from ._routes import ENDPOINTS

__all__ = ["ReplyLike", "ScriptHandler", "ScriptQueue", "as_reply"]

ReplyLike = Reply | int | tuple[Any, ...]
"""What a script handler returns: a :class:`Reply`, a status, ``(status, body[, headers])``."""

ScriptHandler = Callable[[FakeRequest], ReplyLike | Awaitable[ReplyLike | None] | None]
"""Gets the request, returns the answer to give (None: let the real endpoint answer)."""


def as_reply(value: ReplyLike) -> Reply:
    """Turn what a handler returned into a :class:`Reply`; TypeError when it cannot."""
    if isinstance(value, Reply):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Reply(value)
    if isinstance(value, tuple) and 1 <= len(value) <= 3 and isinstance(value[0], int):
        return Reply(*value)
    raise TypeError(f"a script handler must return a Reply, a status or a tuple, not {value!r}")


@attrs.define
class _Script:
    target: str
    reply: Reply | None
    handler: ScriptHandler | None
    times: int | None

    def matches(self, request: FakeRequest) -> bool:
        if self.target.startswith("/"):
            return request.path.startswith(self.target)
        return self.target == request.endpoint

    async def reply_for(self, request: FakeRequest) -> Reply | None:
        if self.handler is None:
            return self.reply
        result = self.handler(request)
        if inspect.isawaitable(result):
            result = await result
        return None if result is None else as_reply(result)


class ScriptQueue:
    """Scripts in the order they were queued; the first matching one answers."""

    __slots__ = ("_scripts",)

    def __init__(self) -> None:
        self._scripts: list[_Script] = []

    def __len__(self) -> int:
        return len(self._scripts)

    def add(self, target: str, what: Reply | ScriptHandler, *, times: int | None) -> None:
        """Queue ``what`` (a reply, or a handler) for ``times`` requests (None: no end)."""
        if target not in ENDPOINTS and not target.startswith("/"):
            raise ValueError(f"target must be one of {ENDPOINTS} or a path starting with '/'")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for no end)")
        if isinstance(what, Reply):
            self._scripts.append(_Script(target, what, None, times))
        elif callable(what):
            self._scripts.append(_Script(target, None, what, times))
        else:
            raise TypeError(f"a script needs a status, a Reply or a callable, not {what!r}")

    def clear(self) -> None:
        """Drop every queued script."""
        self._scripts.clear()

    async def take(self, request: FakeRequest) -> Answer | None:
        """The scripted answer for ``request``, or None when no script gives one."""
        for script in list(self._scripts):
            if not script.matches(request):
                continue
            reply = await script.reply_for(request)
            if reply is None:
                continue
            if script.times is not None:
                script.times -= 1
                if script.times <= 0 and script in self._scripts:
                    self._scripts.remove(script)
            return reply.answer()
        return None
