"""The token state's JSON form, shared by the stores that keep it outside the process.

:func:`state_to_json` / :func:`state_from_json` are what :class:`FileTokenStore` and
:class:`RedisTokenStore` write and read (the state holds the tokens: keep it secret).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._models import Session
from ._stores import TokenState

__all__ = ["state_from_json", "state_to_json"]


def state_to_json(state: TokenState) -> dict[str, Any]:
    """The token state as a JSON-ready dict (it holds the tokens: keep it secret)."""
    return {
        "access": state.access,
        "refresh": state.refresh,
        "expiresAt": state.expires_at,
        "issuedAt": state.issued_at,
        "session": state.session.to_dict(),
    }


def state_from_json(data: Mapping[str, Any]) -> TokenState:
    """Rebuild a :class:`TokenState` from :func:`state_to_json`; ValueError if malformed."""
    try:
        access, refresh, expires_at = data["access"], data["refresh"], data["expiresAt"]
        raw = data["session"]
        if not isinstance(access, str) or not (refresh is None or isinstance(refresh, str)):
            raise ValueError("tokens must be strings")
        if isinstance(expires_at, bool) or not isinstance(expires_at, int | float):
            raise ValueError("expiresAt must be a number")
        session = Session.from_dict(raw)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"malformed token state ({type(exc).__name__})") from None
    issued = data.get("issuedAt")
    issued_at = None
    if isinstance(issued, int | float) and not isinstance(issued, bool):
        issued_at = float(issued)
    return TokenState(access, refresh, float(expires_at), session, issued_at=issued_at)
