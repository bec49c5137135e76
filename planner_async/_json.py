"""JSON decoding that fails with a ``ValueError``, never with ``RecursionError``.

One entry point, :func:`loads`, for every body the client decodes (answers, error bodies,
JWT payloads). It is ``json.loads`` with three guarantees added:

- nesting deeper than the interpreter can recurse (a body of 100,000 ``[``, or valid JSON
  a few thousand levels deep) raises :class:`JSONDepthError`, a ``ValueError``. The C
  decoder guards each array/object level with CPython's recursion check and unwinds
  cleanly, so catching its ``RecursionError`` costs nothing on the hot path (no pre-scan);
- bytes must be UTF-8 (the contract's encoding; a UTF-8 BOM is tolerated): anything else
  raises :class:`JSONEncodingError`, a ``ValueError``, instead of being guessed as UTF-16/32
  or let through with surrogates as ``json.loads(bytes)`` would;
- malformed JSON raises ``json.JSONDecodeError``, also a ``ValueError``.

So ``except ValueError`` catches every failure. The depth reached before
:class:`JSONDepthError` depends on the recursion limit and on how deep the caller's stack
already is (about 950 levels at the default limit of 1,000): far beyond any real answer.
On CPython 3.11, do not raise ``sys.setrecursionlimit`` into the tens of thousands in a
process that decodes untrusted JSON (the C stack, not the limit, would then give out);
3.12+ bounds C recursion separately.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["JSONDepthError", "JSONEncodingError", "loads"]

_decode = json.JSONDecoder().decode


class JSONDepthError(ValueError):
    """A JSON document nested too deeply to decode safely."""


class JSONEncodingError(ValueError):
    """A JSON body that is not valid UTF-8."""


def loads(body: bytes | bytearray | memoryview | str) -> Any:
    """Decode a JSON body (UTF-8 bytes or str); every failure is a ``ValueError``.

    >>> loads(b'{"id": 1}')
    {'id': 1}
    >>> loads(b"[" * 100_000)
    Traceback (most recent call last):
      ...
    planner_async._json.JSONDepthError: JSON nested too deeply to decode
    """
    if isinstance(body, str):
        text = body
    else:
        try:
            text = str(body, "utf-8")
        except UnicodeDecodeError as exc:
            raise JSONEncodingError(
                f"body is not valid UTF-8 (byte {exc.start}: {exc.reason})"
            ) from None
    if text[:1] == "\ufeff":
        text = text[1:]
    try:
        return _decode(text)
    except RecursionError:
        raise JSONDepthError("JSON nested too deeply to decode") from None
