"""httpx and httpx2: the HTTP clients ``http_client=`` accepts, and their exception classes.

httpx2 is a maintained fork of httpx with the same API but classes of its own (its
``TransportError`` is not httpx's). Where the client checks a client's type or catches a
transport failure, it asks :func:`http_errors` / :func:`async_client_types`, which hold the
classes of httpx and, once something has imported it, httpx2. httpx2 is never imported
here: an ``httpx2.AsyncClient`` can only exist after its module was imported, so looking
in ``sys.modules`` is enough, and a program that does not use httpx2 does not pay its
import time (~80 ms) even when it is installed.
"""

from __future__ import annotations

import functools
import sys
from types import ModuleType
from typing import TYPE_CHECKING, TypeAlias

import attrs
import httpx

if TYPE_CHECKING:
    import httpx2

    AsyncHTTPClient: TypeAlias = httpx.AsyncClient | httpx2.AsyncClient
else:
    AsyncHTTPClient: TypeAlias = httpx.AsyncClient

TimeoutTuple: TypeAlias = tuple[float | None, float | None, float | None, float | None]

__all__ = [
    "AsyncHTTPClient",
    "HTTPErrors",
    "TimeoutTuple",
    "async_client_types",
    "http_errors",
    "timeout_tuple",
]

_NOT_SENT_NAMES = (
    "ConnectError",
    "ConnectTimeout",
    "PoolTimeout",
    "UnsupportedProtocol",
    "LocalProtocolError",
)


@attrs.frozen
class HTTPErrors:
    """Exception classes of every HTTP library in use, by what they mean to the pipeline."""

    not_sent: tuple[type[Exception], ...]
    """Failures before the request could reach the server: the quota slot is given back."""
    transport: tuple[type[Exception], ...]
    timeout: tuple[type[Exception], ...]
    decoding: tuple[type[Exception], ...]


def _libraries() -> tuple[ModuleType, ...]:
    fork = sys.modules.get("httpx2")
    return (httpx,) if fork is None or fork is httpx else (httpx, fork)


@functools.cache
def _errors(libraries: tuple[ModuleType, ...]) -> HTTPErrors:
    def classes(*names: str) -> tuple[type[Exception], ...]:
        return tuple(getattr(lib, name) for name in names for lib in libraries)

    return HTTPErrors(
        not_sent=classes(*_NOT_SENT_NAMES),
        transport=classes("TransportError"),
        timeout=classes("TimeoutException"),
        decoding=classes("DecodingError"),
    )


def http_errors() -> HTTPErrors:
    """The exception classes of httpx, and of httpx2 when it is loaded."""
    return _errors(_libraries())


def async_client_types() -> tuple[type, ...]:
    """``httpx.AsyncClient``, and ``httpx2.AsyncClient`` when httpx2 is loaded."""
    return tuple(lib.AsyncClient for lib in _libraries())


def timeout_tuple(timeout: httpx.Timeout) -> TimeoutTuple:
    """``timeout`` as a (connect, read, write, pool) tuple, which either library accepts.

    Each library wants its own ``Timeout`` class (and ``USE_CLIENT_DEFAULT``); a 4-tuple
    means the same to both, so the pipeline passes one, the client's own when no other.
    """
    return (timeout.connect, timeout.read, timeout.write, timeout.pool)
