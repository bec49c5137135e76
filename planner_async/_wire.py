"""The I/O edge: send one request, read its body, and turn transport failures into our errors.

Nothing here retries, counts quota or knows about tokens; :mod:`._pipeline` does.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from ._exceptions import APIConnectionError, APIResponseValidationError, APITimeoutError

__all__ = ["NOT_SENT", "decode_json", "send_once", "transport_error"]

NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Transport failures that happen before a byte of the request left: nothing was sent."""


async def send_once(
    http: httpx.AsyncClient, request: httpx.Request, *, follow_redirects: bool = True
) -> httpx.Response:
    """Send ``request`` once and read its whole body. Transport errors propagate as httpx's.

    Auth calls pass ``follow_redirects=False`` so that credentials never follow a redirect.
    """
    return await http.send(request, follow_redirects=follow_redirects)


def decode_json(response: httpx.Response) -> Any:
    """The JSON body of a success ``response``; :class:`APIResponseValidationError` if none.

    Never raises a bare ``ValueError`` or ``RecursionError``, however the body is broken.
    """
    try:
        return json.loads(response.content)
    except (ValueError, RecursionError) as exc:
        raise APIResponseValidationError(
            f"{response.status_code} answer is not valid JSON ({len(response.content)} bytes)",
            response=response,
        ) from exc


def transport_error(exc: Exception, request: httpx.Request) -> APIConnectionError:
    """The public error for an httpx transport failure: names the host, keeps the cause.

    Never carries headers or bodies, so no credential can travel in it.
    """
    kind = type(exc).__name__
    host = request.url.host
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"request to {host} timed out ({kind})", request=request, cause=exc)
    return APIConnectionError(
        f"connection error talking to {host} ({kind}: {exc})", request=request, cause=exc
    )
