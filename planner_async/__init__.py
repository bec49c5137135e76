"""planner-async: the asyncio-native client for the Forward Planner API v2.

>>> from planner_async import PlannerClient
>>> async with PlannerClient.from_env() as client:          # doctest: +SKIP
...     async for event in client.events.list(query="budget"):
...         print(event.start, event.title)

Every public name is re-exported here and shows ``__module__ == "planner_async"`` (as httpx
does), so tracebacks and reprs name ``planner_async.PlannerClient``, not a private module.
The blocking client, the Redis stores and ``__version__`` are imported on first use
(module ``__getattr__``), so ``import planner_async`` does not pay for the wings a
program does not use.
"""

from typing import TYPE_CHECKING, Any

from ._auth import TokenState
from ._bulk import BulkGet, GetResult
from ._client import (
    DEFAULT_AUTH_RATE_LIMITS,
    DEFAULT_BASE_URL,
    DEFAULT_RATE_LIMITS,
    ClientOptions,
    ClientStats,
    PlannerClient,
)
from ._codec import StructureError
from ._events import DEFAULT_PREFETCH, EventIterator, Events, PagingError
from ._exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    DeadlineExceededError,
    NotFoundError,
    PermissionDeniedError,
    PlannerError,
    QuotaWaitError,
    RateLimitError,
    ServerError,
    StoreUnavailableError,
)
from ._file_store import FileTokenStore
from ._hooks import PauseDetails, QuotaWaitDetails, TokenDetails
from ._limiter import Permit, QuotaCore, QuotaLimiter, RateLimitStatus, WindowStatus
from ._models import Event, EventPage, EventStatus, Location, Organiser, Session
from ._paging import EventWindow
from ._quota import RateHeaders
from ._quota_types import LaneStatus
from ._retry import RetryDetails, RetryPolicy
from ._stores import (
    Admission,
    AuthCalls,
    MemoryQuotaStore,
    MemoryTokenStore,
    Outcome,
    QuotaStore,
    StoredToken,
    TokenStore,
)
from ._sync import EventSync, SyncCheckpoint

if TYPE_CHECKING:
    from ._blocking import (
        BlockingBulkGet,
        BlockingEventIterator,
        BlockingEvents,
        BlockingEventSync,
        BlockingPlannerClient,
    )
    from ._portal import EventLoopBlockedError
    from ._redis import RedisQuotaStore, RedisTokenStore, default_prefix
    from ._version import __version__

__all__ = [
    "DEFAULT_AUTH_RATE_LIMITS",
    "DEFAULT_BASE_URL",
    "DEFAULT_PREFETCH",
    "DEFAULT_RATE_LIMITS",
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "Admission",
    "AuthCalls",
    "AuthenticationError",
    "BadRequestError",
    "BlockingBulkGet",
    "BlockingEventIterator",
    "BlockingEventSync",
    "BlockingEvents",
    "BlockingPlannerClient",
    "BulkGet",
    "ClientOptions",
    "ClientStats",
    "DeadlineExceededError",
    "Event",
    "EventIterator",
    "EventLoopBlockedError",
    "EventPage",
    "EventStatus",
    "EventSync",
    "EventWindow",
    "Events",
    "FileTokenStore",
    "GetResult",
    "LaneStatus",
    "Location",
    "MemoryQuotaStore",
    "MemoryTokenStore",
    "NotFoundError",
    "Organiser",
    "Outcome",
    "PagingError",
    "PauseDetails",
    "PermissionDeniedError",
    "Permit",
    "PlannerClient",
    "PlannerError",
    "QuotaCore",
    "QuotaLimiter",
    "QuotaStore",
    "QuotaWaitDetails",
    "QuotaWaitError",
    "RateHeaders",
    "RateLimitError",
    "RateLimitStatus",
    "RedisQuotaStore",
    "RedisTokenStore",
    "RetryDetails",
    "RetryPolicy",
    "ServerError",
    "Session",
    "StoreUnavailableError",
    "StoredToken",
    "StructureError",
    "SyncCheckpoint",
    "TokenDetails",
    "TokenState",
    "TokenStore",
    "WindowStatus",
    "__version__",
    "default_prefix",
]

# Imported on first access: name -> (private module, attribute). A module that moves (the
# Redis stores into ``planner_async._redis``) only changes its entry here.
_LAZY = {
    "BlockingBulkGet": ("._blocking", "BlockingBulkGet"),
    "BlockingEventIterator": ("._blocking", "BlockingEventIterator"),
    "BlockingEventSync": ("._blocking", "BlockingEventSync"),
    "BlockingEvents": ("._blocking", "BlockingEvents"),
    "BlockingPlannerClient": ("._blocking", "BlockingPlannerClient"),
    "EventLoopBlockedError": ("._portal", "EventLoopBlockedError"),
    "RedisQuotaStore": ("._redis", "RedisQuotaStore"),
    "RedisTokenStore": ("._redis", "RedisTokenStore"),
    "default_prefix": ("._redis", "default_prefix"),
    "__version__": ("._version", "__version__"),
}


def _public(obj: Any) -> Any:
    """``obj`` with ``__module__`` set to this package when it is a class or function of it."""
    defined_here = getattr(obj, "__module__", "").startswith(__name__ + ".")
    if defined_here and (isinstance(obj, type) or hasattr(obj, "__code__")):
        obj.__module__ = __name__
    return obj


def __getattr__(name: str) -> Any:
    """Import a lazily exported name on first use (then it is an ordinary attribute)."""
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    import importlib

    value = _public(getattr(importlib.import_module(module_name, __name__), attribute))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


for _name in __all__:
    if _name not in _LAZY:
        _public(globals()[_name])
del _name
