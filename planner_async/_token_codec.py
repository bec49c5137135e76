"""The token state's JSON form, shared by the stores that keep it outside the process.

:func:`state_to_json` / :func:`state_from_json` are what :class:`FileTokenStore` and
:class:`RedisTokenStore` write and read (the state holds the tokens: keep it secret).
A stored state passes the checks a login applies (:func:`header_token_problem`, a usable
``expiresAt``) or it is refused with a :class:`ValueError` whose text never shows a token;
the stores then count it as unreadable: the client logs in again and overwrites it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ._jwt import header_token_problem, usable_exp
from ._models import Session
from ._stores import TokenState

__all__ = ["parse_json", "state_from_json", "state_to_json"]


def state_to_json(state: TokenState) -> dict[str, Any]:
    """The token state as a JSON-ready dict (it holds the tokens: keep it secret)."""
    return {
        "access": state.access,
        "refresh": state.refresh,
        "expiresAt": state.expires_at,
        "issuedAt": state.issued_at,
        "session": state.session.to_dict(),
    }


def parse_json(raw: bytes) -> Any:
    """``raw`` as JSON; a :class:`ValueError` (naming no content) if it is not, or nests
    too deeply to parse."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise ValueError(f"not JSON ({type(exc).__name__})") from None


def state_from_json(data: object) -> TokenState:
    """Rebuild a :class:`TokenState` from :func:`state_to_json`; ValueError if unusable.

    Both tokens must be sendable in a header (as after a login) and ``expiresAt`` a date.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"the token state is a {type(data).__name__}, not an object")
    access, refresh = data.get("access"), data.get("refresh")
    _check_token("access token", access)
    if refresh is not None:  # None: the server never gave one
        _check_token("refresh token", refresh)
    expires_at = usable_exp(data.get("expiresAt"))
    if expires_at is None:
        raise ValueError("the stored expiresAt is not a usable date")
    try:
        session = Session.from_dict(data["session"])
    except (KeyError, TypeError, AttributeError, ValueError, RecursionError) as exc:
        raise ValueError(f"the stored session is malformed ({type(exc).__name__})") from None
    assert isinstance(access, str)
    assert refresh is None or isinstance(refresh, str)
    issued_at = usable_exp(data.get("issuedAt"))  # optional: None when unusable
    return TokenState(access, refresh, expires_at, session, issued_at=issued_at)


def _check_token(what: str, token: object) -> None:
    problem = header_token_problem(token)
    if problem is not None:
        raise ValueError(f"the stored {what} {problem}")
