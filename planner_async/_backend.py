"""anyio's per-call backend look-up, done once per async library instead of on every call.

``anyio.current_time()`` and ``anyio.lowlevel.checkpoint_if_cancelled()`` each ask sniffio
which library runs the current task, then look its backend up: a few microseconds on a
path that runs once per request. :func:`current_time` and :func:`checkpoint_if_cancelled`
here read the same answer in the same order sniffio does (its thread-local name, then its
context variable, which trio sets in every task, even as a guest on an asyncio loop; then
a running asyncio loop) and keep each library's backend functions after the first look-up.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any, Final

import anyio
import anyio.lowlevel
import sniffio

try:
    from anyio._core._eventloop import get_async_backend
except ImportError:  # pragma: no cover - anyio moved its internals
    get_async_backend = None  # type: ignore[assignment]

__all__ = ["checkpoint_if_cancelled", "current_time", "library_name", "running_loop"]

_Pair = tuple[Callable[[], float], Callable[[], Awaitable[None]]]
_resolved: dict[str, _Pair] = {}
_thread_local: Final = sniffio.thread_local
_library_var: Final = sniffio.current_async_library_cvar
_modules: Final = sys.modules


def running_loop() -> Any:
    """The running asyncio loop, or None: without importing asyncio when nobody has (so
    ``import planner_async`` does not pay for it; no asyncio loop can run without it)."""
    asyncio = _modules.get("asyncio")
    return None if asyncio is None else asyncio._get_running_loop()


def library_name() -> str:
    """The async library running the current task (sniffio's answer, its own order)."""
    name = _thread_local.name or _library_var.get()
    if name is not None:
        return name
    if running_loop() is not None:
        return "asyncio"
    return sniffio.current_async_library()  # raises outside any event loop


def _resolve(library: str) -> _Pair:
    if get_async_backend is None:  # keep anyio's public (slower) functions
        pair: _Pair = (anyio.current_time, anyio.lowlevel.checkpoint_if_cancelled)
    else:
        backend = get_async_backend(library)
        pair = (backend.current_time, backend.checkpoint_if_cancelled)
    _resolved[library] = pair
    return pair


def current_time() -> float:
    """:func:`anyio.current_time`, with the backend looked up once per library.

    On plain asyncio (what anyio's asyncio backend does too) the running loop's clock.
    """
    name = _thread_local.name or _library_var.get()
    if name is None:
        loop = running_loop()
        if loop is not None:
            return float(loop.time())
        name = sniffio.current_async_library()  # raises outside any event loop
    pair = _resolved.get(name) or _resolve(name)
    return pair[0]()


def checkpoint_if_cancelled() -> Awaitable[None]:
    """:func:`anyio.lowlevel.checkpoint_if_cancelled`, with the backend looked up once."""
    library = library_name()
    pair = _resolved.get(library) or _resolve(library)
    return pair[1]()
