"""Redaction: every text a user may see passes through here before it is shown.

Two kinds of masks, both ``***``:

* **known secrets**: each :class:`PlannerClient` has a :class:`Redactor` that reads its live
  secrets (API key, current access and refresh tokens) through a callable the client gives
  it. Live redactors sit in a process registry that holds them weakly: a closed client's
  redactor leaves it at once (:meth:`Redactor.close`), a dropped one when it is collected.
  :func:`redact` masks the secrets of every live redactor; there is no eviction limit.
* **shapes**: bearer/basic credentials, JWT-shaped strings and secret-named fields
  (``"token": ...``, ``password=...``), whoever they belong to.

A known secret shorter than :data:`MIN_SECRET_CHARS` is never searched for (it cannot be
told from text); one shorter than eight characters only matches as a whole token.
"""

from __future__ import annotations

import functools
import re
import threading
import weakref
from collections.abc import Callable, Iterable

__all__ = [
    "MIN_SECRET_CHARS",
    "Redactor",
    "clean_text",
    "live_redactors",
    "redact",
]

MIN_SECRET_CHARS = 4
"""Known secrets shorter than this are not searched for: they cannot be told from text."""
_ANYWHERE_SECRET_CHARS = 8  # shorter known secrets only match as whole tokens
_REDACT_SCAN_CHARS = 1 << 20  # text beyond this is never shown, so never scanned
_MASK = "***"

_BEARER = re.compile(r"(?i)\b((?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]+")
# JWT-shaped ("eyJ" is base64 for '{"'), also when cut short to one or two segments.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*){0,2}")
_FIELD = re.compile(
    r"""(?ix)
    (?P<key>["']?(?:access[_-]?token|refresh[_-]?token|id[_-]?token|token|password|passwd
        |api[_-]?key|client[_-]?secret|secret)["']?\s*[:=]\s*)
    (?:(?P<q>["'])(?:\\.|(?!(?P=q)).)*(?P=q)?|[^\s,;}&"']+)
    """
)
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")
_TOKEN_CHAR = "A-Za-z0-9"

_Known = tuple[str, "re.Pattern[str] | None"]  # a secret, and its whole-token pattern if short


def _field_mask(match: re.Match[str]) -> str:
    quote = match.group("q") or ""
    return f"{match.group('key')}{quote}{_MASK}{quote}"


@functools.lru_cache(maxsize=1024)
def _whole_token(secret: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![{_TOKEN_CHAR}]){re.escape(secret)}(?![{_TOKEN_CHAR}])")


def _prepare(secrets: Iterable[object]) -> tuple[_Known, ...]:
    """The usable secrets, longest first (so a secret inside another never leaves a part)."""
    usable = {s for s in secrets if isinstance(s, str) and len(s) >= MIN_SECRET_CHARS}
    ordered = sorted(usable, key=len, reverse=True)
    return tuple((s, _whole_token(s) if len(s) < _ANYWHERE_SECRET_CHARS else None) for s in ordered)


def _mask_known(text: str, known: Iterable[_Known]) -> str:
    for secret, whole_token in known:
        if secret in text:
            text = (
                text.replace(secret, _MASK) if whole_token is None else whole_token.sub(_MASK, text)
            )
    return text


def _mask_shapes(text: str) -> str:
    text = _BEARER.sub(lambda m: m.group(1) + _MASK, text)
    text = _JWT.sub(_MASK, text)
    return _FIELD.sub(_field_mask, text)


class Redactor:
    """Masks one client's live secrets, read afresh through ``secrets()`` on every use.

    Created by the client; it joins the process registry at once and leaves it on
    :meth:`close` (the client's ``aclose``) or when it is garbage-collected.

    >>> r = Redactor(lambda: ("sk-0123456789",))
    >>> r.redact("key sk-0123456789, Bearer abc")
    'key ***, Bearer ***'
    >>> r.close()
    """

    __slots__ = ("__weakref__", "_known", "_last", "_read")

    def __init__(self, secrets: Callable[[], Iterable[str | None]]) -> None:
        self._read = secrets
        self._last: tuple[str | None, ...] = ()
        self._known: tuple[_Known, ...] = ()
        _REGISTRY.add(self)

    def __repr__(self) -> str:
        return f"Redactor(live={self.live})"

    @property
    def live(self) -> bool:
        """True until :meth:`close`: its secrets are masked in every log record."""
        return _REGISTRY.holds(self)

    def secrets(self) -> tuple[str | None, ...]:
        """The client's current secrets (never shown; for building error texts)."""
        try:
            return tuple(self._read())
        except Exception:  # a client still being built, or torn down: nothing new to add
            return self._last

    def known(self) -> tuple[_Known, ...]:
        """The current secrets, prepared for masking (recomputed only when they change)."""
        current = self.secrets()
        if current != self._last:
            self._last, self._known = current, _prepare(current)
        return self._known

    def redact(self, text: str) -> str:
        """``text`` with this client's secrets and every secret-shaped string masked."""
        return _mask_shapes(_mask_known(text, self.known()))

    def close(self) -> None:
        """Leave the registry: the client is closed and its secrets are no longer masked."""
        _REGISTRY.discard(self)


class _Registry:
    """The live redactors, weakly held. Readers take a snapshot without a lock; writers
    replace it under one (a weakref callback may run inside a write: a dead reference left
    behind by it is skipped by readers and dropped by the next write)."""

    __slots__ = ("_lock", "_refs")

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._refs: tuple[weakref.ref[Redactor], ...] = ()

    def add(self, redactor: Redactor) -> None:
        ref = weakref.ref(redactor, self._drop)
        with self._lock:
            self._refs = (*(r for r in self._refs if r() is not None), ref)

    def discard(self, redactor: Redactor) -> None:
        with self._lock:
            self._refs = tuple(r for r in self._refs if r() not in (None, redactor))

    def _drop(self, dead: weakref.ref[Redactor]) -> None:
        with self._lock:
            self._refs = tuple(r for r in self._refs if r is not dead and r() is not None)

    def holds(self, redactor: Redactor) -> bool:
        return any(r() is redactor for r in self._refs)

    def live(self) -> list[Redactor]:
        return [r for r in (ref() for ref in self._refs) if r is not None]


_REGISTRY = _Registry()


def live_redactors() -> list[Redactor]:
    """The redactors of the clients alive and not closed in this process."""
    return _REGISTRY.live()


def _every_known(given: tuple[str | None, ...]) -> tuple[_Known, ...]:
    """``given`` plus the secrets of every live redactor, prepared and longest first."""
    redactors = _REGISTRY.live()
    if not redactors:
        return _prepare(given) if given else ()
    merged: list[str | None] = list(given)
    for redactor in redactors:
        merged.extend(s for s, _ in redactor.known())
    return _prepare(merged)


def redact(text: str, *secrets: str | None) -> str:
    """Return ``text`` with known secrets, bearer tokens, JWTs and secret fields masked.

    Known secrets are ``secrets`` plus those of every live :class:`Redactor`.

    >>> redact('{"token": "abc"}')
    '{"token": "***"}'
    >>> redact("the key is demo-key", "demo-key", "h")
    'the key is ***'
    """
    return _mask_shapes(_mask_known(text, _every_known(secrets)))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def clean_text(text: str, *secrets: str | None, limit: int) -> str:
    """Redact ``text``, make it printable on one line, then cut it to ``limit`` characters.

    The order matters: redaction first, so a secret straddling the cut leaks no prefix.
    Control characters and lone surrogates become U+FFFD.

    >>> clean_text("Bearer abc.def " + "x" * 600, limit=20)
    'Bearer *** xxxxxxxxx…'
    """
    text = redact(text[:_REDACT_SCAN_CHARS], *secrets)
    text = " ".join(_UNPRINTABLE.sub("\ufffd", text).split())
    return _cut(text, limit)
