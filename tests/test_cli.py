"""The ``planner-async`` command: demo, events, and its failures."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys

import anyio
import pytest

from planner_async._cli import EXIT_AUTH, EXIT_RATE_LIMIT, EXIT_USAGE, main
from planner_async.testing import FakePlanner


def run(argv: list[str]) -> tuple[int, str, str]:
    """Run the command in-process; return (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_demo_exits_0_with_its_summary():
    """``demo`` runs against the embedded fake and prints the summary."""
    code, out, err = run(["demo", "--events", "400", "--gets", "20"])
    assert 0 == code
    assert "planner-async demo: summary" in out
    lines = dict(re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in out.splitlines()[1:])
    assert int(lines["events listed"]) > 350
    assert int(lines["HTTP requests"]) > 0
    assert "20" == lines["single gets"]
    assert "0 (server served 0)" == lines["429s"]
    assert "Traceback" not in err


def test_events_demo_jsonl_prints_valid_json_lines():
    """``events --demo --format jsonl`` prints one JSON event per line on stdout."""
    code, out, err = run(["events", "--demo", "--format", "jsonl", "--country", "GB"])
    assert 0 == code
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows
    assert all("GB" == row["location"]["country"] for row in rows)
    assert all({"id", "title"} <= row.keys() for row in rows)
    assert f"{len(rows)} events" in err


def test_events_demo_csv_has_a_header_and_rows():
    """``events --demo --format csv --limit 5`` prints a header and five rows."""
    code, out, _ = run(["events", "--demo", "--format", "csv", "--limit", "5", "--quiet"])
    assert 0 == code
    rows = list(csv.reader(io.StringIO(out)))
    assert "id" == rows[0][0]
    assert 6 == len(rows)


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["events", "--from", "yesterday"], "not an ISO 8601"),
        (["events", "--from", "2026-12-01T10:00:00"], "timezone"),
        (["events", "--format", "xml"], "invalid choice"),
        (["events", "--demo", "--page-size", "500"], "page_size"),
        (["events", "--demo", "--from", "2026-12-02", "--to", "2026-12-01"], "after"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv, words, capsys: pytest.CaptureFixture[str]):
    """Bad arguments exit 2 with a one-line message and no traceback."""
    try:
        code, _, err = run(argv)
    except SystemExit as exc:  # argparse's own errors
        code, err = int(exc.code or 0), capsys.readouterr().err
    assert EXIT_USAGE == code
    assert words in err
    assert 1 == len(err.strip().splitlines())


def test_missing_credentials_exit_2(monkeypatch: pytest.MonkeyPatch):
    """Without credentials in the environment, ``events`` says which are missing."""
    monkeypatch.delenv("PLANNER_USERNAME", raising=False)
    monkeypatch.delenv("PLANNER_API_KEY", raising=False)
    code, _, err = run(["events"])
    assert EXIT_USAGE == code
    assert "PLANNER_USERNAME" in err


async def run_events_over_socket(
    fake: FakePlanner, api_key: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, str]:
    """Serve ``fake`` on loopback and run ``events`` against it with credentials from the env."""
    async with fake.serve() as base_url:
        monkeypatch.setenv("PLANNER_USERNAME", "demo")
        monkeypatch.setenv("PLANNER_API_KEY", api_key)
        monkeypatch.setenv("PLANNER_BASE_URL", base_url)
        return await anyio.to_thread.run_sync(run, ["events"])


@pytest.mark.anyio
async def test_failed_login_exits_3_without_traceback(monkeypatch: pytest.MonkeyPatch):
    """Wrong credentials against a real socket give exit code 3 and one line."""
    code, _, err = await run_events_over_socket(FakePlanner(events=10), "not-the-key", monkeypatch)
    assert EXIT_AUTH == code
    assert err.startswith("planner-async: login failed")
    assert "not-the-key" not in err
    assert 1 == len(err.strip().splitlines())


@pytest.mark.anyio
async def test_rate_limited_exits_4_without_traceback(monkeypatch: pytest.MonkeyPatch):
    """A 429 asking for a longer wait than the client will sit out gives exit code 4."""
    fake = FakePlanner(events=10)
    fake.script("events.list", 429, headers={"Retry-After": "3600"})
    code, _, err = await run_events_over_socket(fake, "demo-key", monkeypatch)
    assert EXIT_RATE_LIMIT == code
    assert err.startswith("planner-async: rate limited (retry after 3600 s)")
    assert 1 == len(err.strip().splitlines())


def test_python_dash_m_runs_the_cli():
    """``python -m planner_async --help`` works."""
    done = subprocess.run(
        [sys.executable, "-m", "planner_async", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert 0 == done.returncode
    assert "demo" in done.stdout
