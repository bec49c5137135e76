"""The checks of what the user typed: each raises :class:`UsageError` (exit code 2), before
any request is sent."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from .._params import list_params
from ._formats import check_format

__all__ = [
    "EXIT_USAGE",
    "UsageError",
    "check_args",
    "check_credentials",
    "check_output",
    "check_session_file",
]

EXIT_USAGE = 2


class UsageError(Exception):
    """The command line asks for something that cannot be done: exit code 2, one line."""


def listing_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The ``events.list`` keywords the command line gives."""
    return {
        "start": args.start,
        "end": args.end,
        "query": args.query,
        "categories": args.categories,
        "country": args.country,
        "updated_since": args.updated_since,
        "sort": args.sort,
        "page_size": args.page_size,
    }


def check_args(args: argparse.Namespace) -> None:
    """Raise :class:`UsageError` for arguments that cannot work, before any request."""
    if args.command == "demo" and (args.events < 1 or args.gets < 0):
        raise UsageError("--events must be at least 1 and --gets at least 0")
    if args.command == "events":
        _check_events(args)
    if args.command == "quota" and not (args.interval > 0 and (args.frames or 1) >= 1):
        raise UsageError("--interval must be above 0 and --frames at least 1")
    if getattr(args, "output", None) is not None:
        check_output(args.output)
    if getattr(args, "session_file", None) is not None:
        check_session_file(args.session_file)
    if not getattr(args, "demo", True) and args.command != "doctor":
        check_credentials()  # doctor reports missing settings as one of its checks


def _check_events(args: argparse.Namespace) -> None:
    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be at least 1")
    try:
        check_format(args.format)  # e.g. ics without icalendar
        list_params(**listing_arguments(args))
    except (TypeError, ValueError) as exc:  # the library's own check of these arguments
        raise UsageError(str(exc)) from None


def check_credentials() -> None:
    """Both credentials are in the environment (``--demo`` needs none)."""
    missing = [name for name in ("PLANNER_USERNAME", "PLANNER_API_KEY") if not os.getenv(name)]
    if missing:
        raise UsageError(f"missing environment variable(s): {', '.join(missing)}")


def check_output(path: Path) -> None:
    """``--output`` names a writable file in an existing folder, or a device/FIFO."""
    if path.is_dir():
        raise UsageError(f"--output {path} is a directory")
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageError(f"--output {path} is not writable")
    if path.exists() and not path.is_file():
        return  # /dev/null, a FIFO: written in place
    folder = path.parent
    if not folder.is_dir():
        raise UsageError(f"--output {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"--output {path}: the folder {folder} is not writable")


def check_session_file(path: Path) -> None:
    """``--session-file`` names a file that can be read and written (its folders are made)."""
    for candidate in (path, path.with_name(path.name + ".lock")):
        if candidate.is_dir():
            raise UsageError(f"--session-file {path}: {candidate} is a directory")
        if candidate.exists() and not os.access(candidate, os.R_OK | os.W_OK):
            raise UsageError(f"--session-file {path}: {candidate} is not readable and writable")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise UsageError(f"--session-file {path}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"--session-file {path}: the folder {folder} is not writable")
