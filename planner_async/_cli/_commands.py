"""The commands ``demo``, ``events`` and ``quota``, and the client they talk through."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, TextIO
from urllib.parse import urlsplit

import attrs
import httpx

from .._client import DEFAULT_BASE_URL, PlannerClient
from .._file_store import FileTokenStore
from .._version import USER_AGENT
from ._formats import make_writer
from ._listing import copy_events, first_page
from ._output import Console
from ._progress import Tally, is_terminal, run_with, terminal_width
from ._quota_view import quota_lines, quota_record, watch_quota
from ._usage import UsageError

__all__ = ["Run", "demo_command", "events_command", "open_client", "quota_command"]


@attrs.frozen
class Run:
    """One run of a command: its arguments, where its output goes, and stderr."""

    args: argparse.Namespace
    out: TextIO
    console: Console


def _host(url: str) -> str:
    return urlsplit(url).hostname or "localhost"


@asynccontextmanager
async def open_client(
    args: argparse.Namespace, *, event_hooks: Mapping[str, list[Any]] | None = None, **options: Any
) -> AsyncIterator[tuple[PlannerClient, str]]:
    """The client the command talks through, and the API's host name (for iCalendar UIDs).

    ``options`` are client options (hooks); ``event_hooks`` are httpx's, on the client's
    own httpx client. A client the settings do not allow (e.g. a bad ``PLANNER_BASE_URL``)
    is a :class:`UsageError`.
    """
    if args.demo:
        from ._demo import demo_client

        async with demo_client(faults=False, event_hooks=event_hooks, **options) as (c, fake):
            yield c, _host(fake.base_url)
        return
    session_file = getattr(args, "session_file", None)
    if session_file is not None:
        options["token_store"] = FileTokenStore(session_file)
    http = None
    if event_hooks is not None:
        http = httpx.AsyncClient(
            timeout=httpx.Timeout(30.0), headers={"User-Agent": USER_AGENT}, event_hooks=event_hooks
        )
        options["http_client"] = http
    try:
        client = PlannerClient.from_env(**options)
    except (TypeError, ValueError) as exc:  # the settings, checked by the client
        if http is not None:
            await http.aclose()
        raise UsageError(str(exc)) from None
    try:
        async with client:
            yield client, _host(os.environ.get("PLANNER_BASE_URL") or DEFAULT_BASE_URL)
    finally:
        if http is not None:
            await http.aclose()


async def events_command(run: Run) -> int:
    """``events``: every page of the listing, written in the chosen format."""
    args, out = run.args, run.out
    width = terminal_width(out) if is_terminal(out) else None
    tally = Tally()
    async with open_client(args, **tally.hooks()) as (client, host):
        writer = make_writer(args.format, out, width=width, uid_domain=host)
        # Events printed on the terminal are progress enough: no display over them.
        reporter = run.console.open_reporter(tally, quiet=args.quiet or width is not None)
        if reporter is not None:
            reporter.watch(lambda: client.rate_limit, client.forecast)
        await run_with(reporter, lambda: copy_events(client, args, writer, tally))
        note = writer.close()
    if note is not None:
        run.console.message(note)
    return 0


async def demo_command(run: Run) -> int:
    """``demo``: the client against the embedded fake, then its summary."""
    from ._demo import run_demo

    args = run.args
    reporter = run.console.open_reporter(Tally(), quiet=args.quiet)
    summary = await run_demo(events=args.events, seed=args.seed, gets=args.gets, reporter=reporter)
    run.out.write("\n".join(summary.lines()) + "\n")
    return 0


async def quota_command(run: Run) -> int:
    """``quota``: one small request, then the rate-limit snapshot (or ``--watch`` it)."""
    args = run.args
    async with open_client(args) as (client, _host_name):
        # One request: the server's X-Rate-Limit headers update the count.
        await first_page(client.events.list(page_size=1).pages())
        if args.watch:
            await watch_quota(client, run.out, interval=args.interval, frames=args.frames)
            return 0
        status = await client.fetch_rate_limit()
    if args.format == "json":
        run.out.write(json.dumps(quota_record(status)) + "\n")
    else:
        run.out.write("\n".join(quota_lines(status)) + "\n")
    return 0
