"""The ``planner-async`` command: demo, events, and its failures."""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import os
import re
import stat
import subprocess
import sys
import threading

import anyio
import pytest

from planner_async import __version__
from planner_async._cli import EXIT_AUTH, EXIT_RATE_LIMIT, EXIT_USAGE, build_parser, main
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
    assert "" == err  # stderr is not a terminal: no progress display


def test_events_demo_jsonl_prints_valid_json_lines():
    """``events --demo --format jsonl`` prints one JSON event per line on stdout."""
    code, out, err = run(["events", "--demo", "--format", "jsonl", "--country", "GB"])
    assert 0 == code
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows
    assert all("GB" == row["location"]["country"] for row in rows)
    assert all({"id", "title"} <= row.keys() for row in rows)
    assert "" == err


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


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]):
    """``--version`` prints the installed version and exits 0."""
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert 0 == exc.value.code
    assert f"planner-async {__version__}\n" == capsys.readouterr().out


def test_every_option_has_help_with_an_example():
    """Every option of every command has a help text with an ``e.g.``, and each command an
    epilog of examples."""
    parser = build_parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert {"demo", "doctor", "events", "quota"} == set(sub.choices)
    for name, command in sub.choices.items():
        assert "examples:" in (command.epilog or ""), name
        for action in command._actions:
            if action.dest == "help":
                continue
            assert "e.g." in (action.help or ""), (name, action.option_strings)


def test_quota_prints_the_rate_limit_snapshot():
    """``quota --demo`` sends one request and prints every window with its use."""
    code, out, _ = run(["quota", "--demo"])
    assert 0 == code
    lines = out.splitlines()
    assert lines[0].split() == ["window", "limit", "used", "left", "next", "free"]
    rows = [line.split()[:5] for line in lines[1:3]]
    assert [["1", "s", "40", "1", "39"], ["5", "s", "150", "1", "149"]] == rows
    assert lines[-1].startswith("paused for 0.00 s; 0 requests waiting")


def test_quota_json():
    """``quota --format json`` prints the same snapshot as JSON with camelCase keys."""
    code, out, _ = run(["quota", "--demo", "--format", "json"])
    assert 0 == code
    data = json.loads(out)
    assert [(40, 1.0, 1, 39), (150, 5.0, 1, 149)] == [
        (w["limit"], w["period"], w["used"], w["remaining"]) for w in data["windows"]
    ]
    assert {"windows", "pausedFor", "waiting"} == data.keys()


def test_output_file_gets_the_events_and_stdout_stays_empty(tmp_path):
    """``--output FILE`` writes the events to FILE, nothing to stdout, no temporary left."""
    target = tmp_path / "events.jsonl"
    code, out, _ = run(["events", "--demo", "--limit", "7", "--output", str(target)])
    assert 0 == code
    assert "" == out
    assert 7 == len(target.read_text(encoding="utf-8").splitlines())
    assert [target] == list(tmp_path.iterdir())


def test_output_to_a_device_writes_in_place_and_never_replaces_it(tmp_path):
    """``--output`` naming something that is not a regular file (here a FIFO) writes into it
    and leaves it in place (``--output /dev/null`` must never replace /dev/null)."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[str] = []

    def drain() -> None:
        with fifo.open(encoding="utf-8") as stream:
            received.append(stream.read())

    reader = threading.Thread(target=drain)
    reader.start()
    code, _, _ = run(["events", "--demo", "--limit", "3", "--output", str(fifo)])
    reader.join(timeout=10)
    assert 0 == code
    assert 3 == len(received[0].splitlines())
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert [fifo] == list(tmp_path.iterdir())


def test_failed_run_leaves_no_output_file(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """A command that fails does not leave a half-written FILE or a temporary behind."""
    monkeypatch.delenv("PLANNER_USERNAME", raising=False)
    monkeypatch.delenv("PLANNER_API_KEY", raising=False)
    code, _, _ = run(["events", "--output", str(tmp_path / "events.csv")])
    assert EXIT_USAGE == code
    assert [] == list(tmp_path.iterdir())


def test_verbose_logs_the_client_at_debug_without_secrets():
    """``-v`` sends the ``planner_async`` log to stderr; no key or token appears in it, and
    the logger is left as it was."""
    level = logging.getLogger("planner_async").level
    code, _, err = run(["demo", "--events", "300", "--gets", "30", "-v"])
    assert 0 == code
    lines = err.splitlines()
    assert any("DEBUG   planner_async: login took" in line for line in lines)
    assert all(" planner_async: " in line for line in lines)
    assert "demo-key" not in err
    assert "eyJ" not in err  # no JWT-shaped token
    assert level == logging.getLogger("planner_async").level
    assert not logging.getLogger("planner_async").handlers


class FakeTerminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_progress_is_drawn_on_a_terminal_and_off_with_quiet(tmp_path):
    """On a terminal stderr the progress display draws the counts; ``--quiet`` turns it off."""
    argv = ["events", "--demo", "--limit", "300", "--output", str(tmp_path / "events.jsonl")]
    err = FakeTerminal()
    assert 0 == main(argv, out=io.StringIO(), err=err)
    assert "300/300 events" in err.getvalue()
    err = FakeTerminal()
    assert 0 == main([*argv, "--quiet"], out=io.StringIO(), err=err)
    assert "" == err.getvalue()


def test_no_progress_over_events_printed_on_the_terminal():
    """When the events themselves go to the terminal, no progress line is drawn over them."""
    out, err = FakeTerminal(), FakeTerminal()
    assert 0 == main(["events", "--demo", "--limit", "5", "--format", "table"], out=out, err=err)
    assert "" == err.getvalue()
    assert 6 == len(out.getvalue().splitlines())


async def _bug(*args: object, **kwargs: object) -> None:
    raise ValueError("a library bug, not bad arguments")


def test_unexpected_error_is_one_line_exit_1(monkeypatch: pytest.MonkeyPatch):
    """A ValueError from inside the run (not an argument check) exits 1 with one line that
    points at -v; only UsageError exits 2."""
    monkeypatch.setattr("planner_async._cli._commands.copy_events", _bug)
    code, _, err = run(["events", "--demo"])
    assert 1 == code
    assert (
        "planner-async: unexpected error: ValueError: a library bug, not bad arguments "
        "(run with -v for the traceback)\n"
    ) == err


def test_unexpected_error_with_verbose_prints_the_traceback(monkeypatch: pytest.MonkeyPatch):
    """With ``-v`` the unexpected error's line is followed by its traceback."""
    monkeypatch.setattr("planner_async._cli._commands.copy_events", _bug)
    code, _, err = run(["events", "--demo", "-v"])
    assert 1 == code
    assert "planner-async: unexpected error: ValueError: a library bug" in err
    assert "Traceback (most recent call last)" in err
    assert 'in _bug\n    raise ValueError("a library bug' in err


def test_a_bad_base_url_is_a_usage_error(monkeypatch: pytest.MonkeyPatch):
    """Settings the client refuses (a plain-HTTP remote base URL) exit 2 before any request."""
    monkeypatch.setenv("PLANNER_USERNAME", "demo")
    monkeypatch.setenv("PLANNER_API_KEY", "demo-key")
    monkeypatch.setenv("PLANNER_BASE_URL", "http://planner.example/api/v2")
    code, _, err = run(["events"])
    assert EXIT_USAGE == code
    assert err.startswith("planner-async: error: ")
    assert 1 == len(err.strip().splitlines())
