"""planner-async: the asyncio-native client for the Forward Planner API v2.

>>> from planner_async import PlannerClient
>>> async with PlannerClient.from_env() as client:          # doctest: +SKIP
...     async for event in client.events.list(query="budget"):
...         print(event.start, event.title)
"""

from ._client import (
    DEFAULT_AUTH_RATE_LIMITS,
    DEFAULT_BASE_URL,
    DEFAULT_RATE_LIMITS,
    ClientStats,
    Events,
    PlannerClient,
)
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
)
from ._hooks import PauseDetails, QuotaWaitDetails, TokenDetails
from ._limiter import Permit, QuotaCore, QuotaLimiter, RateLimitStatus, WindowStatus
from ._models import Event, EventPage, EventStatus, Location, Organiser, Session
from ._pagination import EventIterator
from ._retry import RetryDetails, RetryPolicy

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_AUTH_RATE_LIMITS",
    "DEFAULT_BASE_URL",
    "DEFAULT_RATE_LIMITS",
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientStats",
    "DeadlineExceededError",
    "Event",
    "EventIterator",
    "EventPage",
    "EventStatus",
    "Events",
    "Location",
    "NotFoundError",
    "Organiser",
    "PauseDetails",
    "PermissionDeniedError",
    "Permit",
    "PlannerClient",
    "PlannerError",
    "QuotaCore",
    "QuotaLimiter",
    "QuotaWaitDetails",
    "QuotaWaitError",
    "RateLimitError",
    "RateLimitStatus",
    "RetryDetails",
    "RetryPolicy",
    "ServerError",
    "Session",
    "TokenDetails",
    "WindowStatus",
    "__version__",
]
