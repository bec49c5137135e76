"""The package logger ``planner_async``: its redaction filter, and ``PLANNER_LOG``.

One filter, :data:`LOG_FILTER`, sits on the package logger from import on: every record
logged there has the secrets of every live client and every secret-shaped string masked
(message, arguments and a formatted traceback). A handler that also receives records of
child loggers (``planner_async.fastapi``) or of other code can add the same filter.

``PLANNER_LOG=debug`` (or ``info``) in the environment, read once when the package is
imported, turns the package's logging on to stderr with no code: one handler, redacted.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from typing import Final, TextIO

from ._redact import redact

__all__ = ["ENV_VARIABLE", "LOG_FILTER", "RedactingFilter", "configure_from_env", "log"]

ENV_VARIABLE: Final = "PLANNER_LOG"
_LEVELS: Final = {"debug": logging.DEBUG, "info": logging.INFO}
_FORMAT: Final = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

log = logging.getLogger("planner_async")


class RedactingFilter(logging.Filter):
    """Masks live clients' secrets, bearer tokens, JWTs and secret fields in a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record in place (its message, then its traceback); never drops it."""
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it to the handler to report
            return True
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


LOG_FILTER: Final = RedactingFilter()
"""The package's one redaction filter (on the ``planner_async`` logger)."""


class _EnvHandler(logging.StreamHandler[TextIO]):
    """The stderr handler that ``PLANNER_LOG`` adds (told apart so it is added once)."""


def _install(target: logging.Filterer) -> None:
    if not any(isinstance(f, RedactingFilter) for f in target.filters):
        target.addFilter(LOG_FILTER)


def configure_from_env(value: str | None = None) -> logging.Handler | None:
    """Apply ``PLANNER_LOG`` (``debug`` or ``info``): the package logger at that level with
    one redacted stderr handler. Returns the handler added, or None when off or already on.
    """
    value = (os.environ.get(ENV_VARIABLE, "") if value is None else value).strip().lower()
    if not value:
        return None
    level = _LEVELS.get(value)
    if level is None:
        warnings.warn(
            f"{ENV_VARIABLE}={value!r} is not one of {', '.join(_LEVELS)}; ignored", stacklevel=2
        )
        return None
    if any(isinstance(h, _EnvHandler) for h in log.handlers):
        return None
    handler = _EnvHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT))
    _install(handler)  # records of child loggers pass here too
    log.addHandler(handler)
    log.setLevel(level)
    return handler


_install(log)
configure_from_env()
