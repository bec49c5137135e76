"""Text made safe for a terminal: no control characters from the data reach it."""

from __future__ import annotations

import re

__all__ = ["printable"]

_BREAKS = frozenset("\t\n\v\f\r\x1c\x1d\x1e\x85\u2028\u2029")
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def printable(text: str, *, lines: bool = False) -> str:
    """``text`` on one line: line breaks and tabs become spaces; other control characters
    (ESC, BEL, C1 codes, bidirectional overrides) are removed.

    >>> printable("Budget\\x1b]0;pwned\\x07 day\\r\\nnext")
    'Budget]0;pwned day  next'

    With ``lines``, ``\\n`` line breaks are kept (each line cleaned on its own).
    """
    if lines:
        return "\n".join(printable(line) for line in text.split("\n"))
    if text.isprintable():
        return text
    return _UNSAFE.sub(lambda m: " " if m.group() in _BREAKS else "", text)
