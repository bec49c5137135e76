"""``planner-async doctor``: the settings, the login, the clock, Redis and the quota, checked.

One line per check: ``ok``, ``warn`` (worth knowing, not a failure) or ``FAIL``. Exit code
0 when nothing failed, 3 when the server refused the credentials, 1 otherwise. The API key
is never printed, nor a password in a Redis URL.
"""

from __future__ import annotations

import importlib
import os
import time
from contextlib import suppress
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import attrs
import httpx

from .._client import DEFAULT_BASE_URL, PlannerClient
from .._exceptions import AuthenticationError, PlannerError
from .._quota import RateLimitStatus
from ._commands import Run, open_client
from ._listing import first_page
from ._quota_view import period_text
from ._text import printable
from ._usage import UsageError

__all__ = ["MAX_SKEW", "doctor_command"]

MAX_SKEW = 30.0
"""Seconds the local clock may be off the server's before the check fails."""


@attrs.define
class _Report:
    run: Run
    failed: int = 0  # the exit code so far

    def line(self, state: str, name: str, detail: str) -> None:
        self.run.out.write(f"{state:<4}  {name:<8}  {printable(detail)}\n")
        self.run.out.flush()
        if state == "FAIL" and not self.failed:
            self.failed = 1


def _safe_url(url: str) -> str:
    """``url`` without a password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    user = f"{parts.username}:***@" if parts.username else ":***@"
    netloc = user + host + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _settings(report: _Report) -> bool:
    """The settings line; False when the credentials are missing."""
    if report.run.args.demo:
        report.line("ok", "settings", "embedded fake server (--demo), user demo")
        return True
    user, key = os.getenv("PLANNER_USERNAME"), os.getenv("PLANNER_API_KEY")
    missing = [name for name, v in (("PLANNER_USERNAME", user), ("PLANNER_API_KEY", key)) if not v]
    base = os.getenv("PLANNER_BASE_URL") or f"{DEFAULT_BASE_URL} (default)"
    if missing:
        report.line("FAIL", "settings", f"missing {', '.join(missing)}; base URL {base}")
        return False
    redis = os.getenv("PLANNER_REDIS_URL")
    where = f"Redis {_safe_url(redis)}" if redis else "no Redis"
    report.line("ok", "settings", f"user {user}, key set, {base}, {where}")
    return True


def _prefix() -> str:
    explicit = os.getenv("PLANNER_REDIS_PREFIX")
    if explicit:
        return explicit
    try:  # the default depends on the account; the Redis module knows the rule
        rule = importlib.import_module("planner_async._redis").default_prefix
        base = os.getenv("PLANNER_BASE_URL") or DEFAULT_BASE_URL
        return str(rule(base, os.getenv("PLANNER_USERNAME", "")))
    except (ImportError, AttributeError, TypeError, ValueError):
        return "the default"


async def _redis(report: _Report) -> None:
    url = os.getenv("PLANNER_REDIS_URL")
    if report.run.args.demo or not url:
        return
    try:
        import redis.asyncio
    except ImportError:
        report.line("FAIL", "redis", "PLANNER_REDIS_URL is set: pip install 'planner-async[redis]'")
        return
    started = time.perf_counter()
    try:
        connection: Any = redis.asyncio.Redis.from_url(url, socket_timeout=5)
        try:
            await connection.ping()
        finally:
            await connection.aclose()
    except (redis.RedisError, OSError, ValueError) as exc:
        report.line("FAIL", "redis", f"{_safe_url(url)} unreachable: {type(exc).__name__}")
        return
    took = (time.perf_counter() - started) * 1000
    report.line("ok", "redis", f"{_safe_url(url)} answers ({took:.0f} ms), prefix {_prefix()}")


class _DateSeen:
    """An httpx response hook keeping the skew of the last ``Date`` header seen."""

    def __init__(self) -> None:
        self.skew: float | None = None

    async def __call__(self, response: httpx.Response) -> None:
        raw = response.headers.get("date")
        if raw:
            with suppress(TypeError, ValueError):
                self.skew = parsedate_to_datetime(raw).timestamp() - time.time()


def _clock(report: _Report, seen: _DateSeen) -> None:
    if seen.skew is None:
        report.line("ok", "clock", "not checked: the server sent no Date header")
        return
    skew = seen.skew
    side = "ahead of" if skew < 0 else "behind"
    state = "ok" if abs(skew) <= MAX_SKEW else "FAIL"
    detail = f"{abs(skew):.0f} s {side} the server's Date header (limit {MAX_SKEW:.0f} s)"
    report.line(state, "clock", detail)


def _quota(report: _Report, status: RateLimitStatus) -> None:
    """The windows' use, as ``planner-async quota`` counts it; warn when one is full."""
    used = " · ".join(f"{period_text(w.period)}: {w.used}/{w.limit} used" for w in status.windows)
    full = [w for w in status.windows if w.remaining == 0]
    state = "warn" if full or status.paused_for > 0 else "ok"
    paused = f"; paused {status.paused_for:.1f} s" if status.paused_for > 0 else ""
    report.line(state, "quota", (used or "no windows") + paused)


async def _login(report: _Report, client: PlannerClient) -> bool:
    try:
        await client.authenticate()
    except AuthenticationError as exc:
        detail = f"refused ({exc.status_code}): check PLANNER_USERNAME and PLANNER_API_KEY"
        report.line("FAIL", "login", detail)
        report.failed = 3
        return False
    except PlannerError as exc:
        report.line("FAIL", "login", f"{type(exc).__name__}: {exc}")
        return False
    report.line("ok", "login", "logged in")
    return True


async def doctor_command(run: Run) -> int:
    """``doctor``: each check on its own line; the exit code says whether all passed."""
    report = _Report(run)
    if not _settings(report):
        return report.failed
    await _redis(report)
    seen = _DateSeen()
    opened = open_client(run.args, event_hooks={"response": [seen]}, max_retries=1)
    try:
        async with opened as (client, _host):
            if await _login(report, client):
                await _events(report, client)
                _clock(report, seen)
                _quota(report, await client.fetch_rate_limit())
    except UsageError as exc:  # settings the client refuses, e.g. a plain-HTTP remote URL
        report.line("FAIL", "client", str(exc))
    return report.failed


async def _events(report: _Report, client: PlannerClient) -> None:
    """One page of one event: the server's own count of the quota comes with it."""
    try:
        await first_page(client.events.list(page_size=1).pages())
    except PlannerError as exc:
        report.line("FAIL", "events", f"{type(exc).__name__}: {exc}")
