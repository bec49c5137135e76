"""``main``: parse, check, run the command, and turn its failure into one line and an exit code."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Awaitable, Callable, Sequence
from typing import TextIO

import anyio

from .._exceptions import APIConnectionError, AuthenticationError, PlannerError, RateLimitError
from ._commands import Run, demo_command, events_command, quota_command
from ._doctor import doctor_command
from ._output import Console, output_file, verbose
from ._parser import build_parser
from ._usage import EXIT_USAGE, UsageError, check_args

__all__ = [
    "EXIT_API",
    "EXIT_AUTH",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_NETWORK",
    "EXIT_RATE_LIMIT",
    "EXIT_USAGE",
    "main",
]

EXIT_ERROR = 1
EXIT_AUTH = 3
EXIT_RATE_LIMIT = 4
EXIT_API = 5
EXIT_NETWORK = 6
EXIT_INTERRUPTED = 130

_COMMANDS: dict[str, Callable[[Run], Awaitable[int]]] = {
    "demo": demo_command,
    "doctor": doctor_command,
    "events": events_command,
    "quota": quota_command,
}


def _leaf(exc: BaseException) -> BaseException:
    """The one exception inside (nested) exception groups of a single failure."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _expected(exc: BaseException) -> tuple[int, str] | None:
    """The exit code and message of a failure the command line expects, else None."""
    if isinstance(exc, UsageError):
        return EXIT_USAGE, f"error: {exc}"
    if isinstance(exc, AuthenticationError):
        return EXIT_AUTH, f"login failed: {exc}"
    if isinstance(exc, RateLimitError):
        wait = f" (retry after {exc.retry_after:.0f} s)" if exc.retry_after is not None else ""
        return EXIT_RATE_LIMIT, f"rate limited{wait}: {exc}"
    if isinstance(exc, APIConnectionError):
        return EXIT_NETWORK, f"network failure: {exc}"
    if isinstance(exc, PlannerError):
        return EXIT_API, f"API error: {exc}"
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED, "interrupted"
    return None


def _failure(exc: BaseException, console: Console, *, show_traceback: bool) -> int:
    """Print one line for the failure and return its exit code; with ``-v`` an unexpected
    failure's traceback follows. Exits other than exceptions (SystemExit) go on."""
    if isinstance(exc, BrokenPipeError):  # e.g. `planner-async events | head`
        return 0
    known = _expected(exc)
    if known is not None:
        console.message(known[1])
        return known[0]
    if not isinstance(exc, Exception):
        raise exc
    hint = "" if show_traceback else " (run with -v for the traceback)"
    console.message(f"unexpected error: {type(exc).__name__}: {exc}{hint}")
    if show_traceback:
        traceback.print_exception(exc, file=console.err)
    return EXIT_ERROR


def main(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the command line; return the exit code.

    0 success; 1 an unexpected failure (``-v`` shows its traceback); 2 bad arguments or
    settings; 3 login rejected; 4 rate limited; 5 other API error; 6 network failure;
    130 interrupted. Every failure prints one line on stderr.
    """
    out = out if out is not None else sys.stdout
    console = Console(err if err is not None else sys.stderr)
    args = build_parser().parse_args(argv)
    try:
        check_args(args)
        with (
            verbose(console, args.verbose),
            output_file(getattr(args, "output", None), out) as stream,
        ):
            return anyio.run(_COMMANDS[args.command], Run(args, stream, console))
    except BaseException as exc:  # sorted out by _failure
        leaf = _leaf(exc)
        if isinstance(leaf, KeyboardInterrupt) and getattr(args, "watch", False):
            console.end_progress()
            return 0  # Ctrl-C is how `quota --watch` ends
        return _failure(leaf, console, show_traceback=args.verbose)
