"""planner-async: the asyncio-native client for the Forward Planner API v2.

>>> from planner_async import PlannerClient
>>> async with PlannerClient.from_env() as client:          # doctest: +SKIP
...     async for event in client.events.list(query="budget"):
...         print(event.start, event.title)
"""

from ._auth import TokenState
from ._blocking import (
    BlockingBulkGet,
    BlockingEventIterator,
    BlockingEvents,
    BlockingEventSync,
    BlockingPlannerClient,
)
from ._bulk import BulkGet, GetResult
from ._client import (
    DEFAULT_AUTH_RATE_LIMITS,
    DEFAULT_BASE_URL,
    DEFAULT_RATE_LIMITS,
    ClientOptions,
    ClientStats,
    PlannerClient,
)
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
from ._portal import EventLoopBlockedError
from ._quota import RateHeaders
from ._redis import RedisQuotaStore, RedisTokenStore, default_prefix
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
    "SyncCheckpoint",
    "TokenDetails",
    "TokenState",
    "TokenStore",
    "WindowStatus",
    "__version__",
    "default_prefix",
]
