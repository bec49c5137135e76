"""``PLANNER_LOG=debug|info`` turns the package's logging on to stderr, redacted, with no code."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

KEY = "sk-planner-log-0123456789"
SCRIPT = f"""
import logging
import anyio
import httpx
from planner_async import PlannerClient, RetryPolicy
from planner_async.testing import FakePlanner

async def main():
    fake = FakePlanner(events=3, users={{"demo": "{KEY}"}}, rate_limits=[], auth_rate_limits=[],
                       restricted_share=0)
    fake.fail_next(1, status=503, endpoint="events.get")
    async with httpx.AsyncClient(transport=fake.transport()) as http:
        retry = RetryPolicy(wait_initial=0.0, wait_max=0.0)
        async with PlannerClient(
            "demo", "{KEY}", base_url=fake.base_url, http_client=http, retry=retry
        ) as client:
            await client.events.get(fake.events[0]["id"])
            logging.getLogger("planner_async").debug("the key was %s", "{KEY}")

anyio.run(main)
"""


def run(level: str | None) -> str:
    """Run one client call with a retry in a fresh interpreter; return its stderr."""
    env = {k: v for k, v in os.environ.items() if k != "PLANNER_LOG"}
    if level is not None:
        env["PLANNER_LOG"] = level
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60
    )
    assert 0 == done.returncode, done.stderr
    return done.stderr


def test_debug_logs_every_event_to_stderr_without_the_key():
    """``PLANNER_LOG=debug``: the login and the retry reach stderr; the key never does."""
    err = run("debug")
    assert "DEBUG   planner_async: login took" in err
    assert "INFO    planner_async: retry 1 of GET /events/" in err
    assert "the key was ***" in err
    assert KEY not in err


@pytest.mark.parametrize("level", ["info", "INFO "])
def test_info_logs_retries_only(level: str):
    """``PLANNER_LOG=info`` (any case, spaces trimmed) shows the retry but no DEBUG line."""
    err = run(level)
    assert "retry 1 of GET /events/" in err
    assert "DEBUG" not in err


def test_unset_means_silent():
    """Without ``PLANNER_LOG`` the package writes nothing to stderr."""
    assert "" == run(None)
