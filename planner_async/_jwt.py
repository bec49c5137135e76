"""Reading what a token says about itself, and checking that it can travel in a header.

Pure and total: nothing here raises on any token a server may send, except
:func:`check_header_token`, whose job is to refuse (with
:class:`~planner_async.APIResponseValidationError`) a token that could never be sent.
The client never verifies signatures: it only reads the ``exp`` claim to know when to
renew, and falls back on "issued now + default lifetime" when that claim is unusable.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping
from typing import Any, Final

from ._exceptions import APIResponseValidationError

__all__ = [
    "MAX_EXP",
    "MAX_HEADER_TOKEN_CHARS",
    "check_header_token",
    "expiry_from_token",
    "header_token_problem",
    "jwt_claims",
    "usable_exp",
]

MAX_EXP: Final = 253_402_300_799.0
"""The last second of year 9999 in epoch seconds; a larger ``exp`` is not a date."""
MAX_HEADER_TOKEN_CHARS: Final = 16_384
"""The longest access token accepted: longer ones would not fit a server's header limit."""
_MAX_PAYLOAD_CHARS: Final = 65_536  # base64 text of a claims segment worth decoding


def jwt_claims(token: object) -> Mapping[str, Any] | None:
    """The claims of a JWT-shaped ``token`` (``header.payload.signature``), else None.

    Never raises: not a str, not three segments, bad base64, non-UTF-8, not JSON, nested
    too deeply, or not a JSON object all give None.

    >>> jwt_claims("eyJhbGciOiJub25lIn0.eyJleHAiOjEwMH0.sig")
    {'exp': 100}
    >>> jwt_claims("opaque-token") is None
    True
    """
    if not isinstance(token, str):
        return None
    parts = token.split(".")
    if len(parts) != 3 or len(parts[1]) > _MAX_PAYLOAD_CHARS:
        return None
    segment = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        raw = base64.urlsafe_b64decode(segment)
        claims = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeError, RecursionError):
        return None
    return claims if isinstance(claims, dict) else None


def usable_exp(value: object) -> float | None:
    """``value`` as epoch seconds when it is a real number that names a date, else None.

    Booleans, strings, NaN, infinities, numbers at or below zero and numbers past
    year 9999 (such as milliseconds given for seconds) are not usable.

    >>> usable_exp(1_700_000_000), usable_exp(1_700_000_000_000), usable_exp(True)
    (1700000000.0, None, None)
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, int) and not 0 < value <= MAX_EXP:
        return None  # also keeps float() away from ints too large to convert
    seconds = float(value)
    if not math.isfinite(seconds) or not 0.0 < seconds <= MAX_EXP:
        return None
    return seconds


def expiry_from_token(
    token: str, *, issued_at: float, default_lifetime: float, now: float
) -> tuple[float, str | None]:
    """When ``token`` expires (epoch seconds), and why the default was used if it was.

    Returns ``(exp, None)`` when the JWT ``exp`` claim is usable and still in the future;
    ``(issued_at + default_lifetime, None)`` for a token that carries no ``exp`` (an opaque
    token or a JWT without the claim: the ordinary case); and ``(issued_at +
    default_lifetime, reason)`` when an ``exp`` is present but cannot be used: the caller
    logs ``reason`` once. Never raises.

    >>> expiry_from_token("opaque", issued_at=1000.0, default_lifetime=900.0, now=1000.0)
    (1900.0, None)
    >>> expiry_from_token("eyJhbGciOiJub25lIn0.eyJleHAiOjEwMH0.sig",
    ...                   issued_at=1000.0, default_lifetime=900.0, now=1000.0)
    (1900.0, 'the token was already expired when issued (exp 100 <= now 1000)')
    """
    fallback = issued_at + default_lifetime
    claims = jwt_claims(token)
    if claims is None or "exp" not in claims:
        return fallback, None
    raw = claims["exp"]
    exp = usable_exp(raw)
    if exp is None:
        shown = type(raw).__name__ if isinstance(raw, str | list | dict) else repr(raw)
        return fallback, f"the token's exp claim is not a usable date ({shown[:40]})"
    if exp <= now:
        return (
            fallback,
            f"the token was already expired when issued (exp {exp:.0f} <= now {now:.0f})",
        )
    return exp, None


def check_header_token(token: object, *, what: str = "access token") -> str:
    """Return ``token`` if it can be sent as ``Authorization: Bearer <token>``.

    It must be a non-empty str of visible ASCII characters (no spaces, no control
    characters, nothing non-ASCII) and at most :data:`MAX_HEADER_TOKEN_CHARS` long;
    otherwise :class:`APIResponseValidationError` says why (without showing the token),
    at login time rather than as a ``UnicodeEncodeError`` on every later call.

    >>> check_header_token("abc.DEF-123_~+/=")
    'abc.DEF-123_~+/='
    """
    problem = header_token_problem(token)
    if problem is not None:
        raise APIResponseValidationError(f"the authentication answer's {what} {problem}")
    assert isinstance(token, str)
    return token


def header_token_problem(token: object) -> str | None:
    """Why ``token`` cannot be sent as ``Authorization: Bearer <token>``, or None if it can.

    The rule of :func:`check_header_token`, for a token from anywhere (a login, a store);
    the reason never shows the token.

    >>> header_token_problem("abc.DEF"), header_token_problem("")
    (None, 'is empty')
    """
    if not isinstance(token, str) or not token:
        return f"is {'empty' if isinstance(token, str) else type(token).__name__}"
    if len(token) > MAX_HEADER_TOKEN_CHARS:
        return (
            f"is {len(token)} characters long, more than "
            f"the {MAX_HEADER_TOKEN_CHARS} an HTTP header can carry"
        )
    if token.isascii() and token.isprintable() and " " not in token:
        return None  # the usual case, without a Python loop over the characters
    for index, char in enumerate(token):
        if not "!" <= char <= "~":
            return (
                f"cannot be sent in an HTTP header: character {index} is {_describe(char)} "
                "(only visible ASCII is allowed)"
            )
    return None  # pragma: no cover - the fast path accepts every such token


def _describe(char: str) -> str:
    code = ord(char)
    if char == " ":
        return "a space"
    if code < 0x20 or code == 0x7F:
        return f"a control character (U+{code:04X})"
    return f"non-ASCII (U+{code:04X})"
