"""``planner-async doctor`` and ``planner-async quota --watch`` (issue 15, items 5 and 6)."""

from __future__ import annotations

import io
import re

import pytest

from planner_async import LaneStatus, RateLimitStatus, WindowStatus
from planner_async._cli import EXIT_AUTH, main
from planner_async._cli._quota_view import frame_lines
from planner_async.testing import FakePlanner

from support import run_cli, run_cli_served

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def checks(out: str) -> dict[str, tuple[str, str]]:
    """The doctor's lines: check name -> (state, detail)."""
    found = {}
    for line in out.splitlines():
        state, name, detail = line.split(maxsplit=2)
        found[name] = (state, detail)
    return found


@pytest.mark.anyio
async def test_doctor_with_a_good_key_passes_every_check(monkeypatch: pytest.MonkeyPatch):
    """Against a served fake with the right key: settings, login, clock and quota are ok,
    exit 0, and the key appears nowhere."""
    monkeypatch.delenv("PLANNER_REDIS_URL", raising=False)
    code, out, err = await run_cli_served(
        FakePlanner(events=5, users={"demo": "s3cret-key-123"}),
        ["doctor"],
        monkeypatch,
        api_key="s3cret-key-123",
    )
    assert 0 == code, out + err
    found = checks(out)
    assert ["settings", "login", "clock", "quota"] == list(found)
    assert {"ok"} == {state for state, _ in found.values()}
    assert found["settings"][1].startswith("user demo, key set, http://127.0.0.1:")
    assert re.fullmatch(
        r"\d+ s (ahead of|behind) the server's Date header \(limit 30 s\)", found["clock"][1]
    )
    assert "1 min: 1/500 used · 1 h: 1/3000 used · 1 d: 1/10000 used" == found["quota"][1]
    assert "s3cret-key-123" not in out + err


@pytest.mark.anyio
async def test_doctor_with_a_wrong_key_fails_naming_the_credentials(
    monkeypatch: pytest.MonkeyPatch,
):
    """A wrong key: the login line fails naming PLANNER_USERNAME / PLANNER_API_KEY, exit 3,
    and the wrong key is not printed."""
    monkeypatch.delenv("PLANNER_REDIS_URL", raising=False)
    code, out, err = await run_cli_served(
        FakePlanner(events=5), ["doctor"], monkeypatch, api_key="wrong-key-456"
    )
    assert EXIT_AUTH == code
    state, detail = checks(out)["login"]
    assert "FAIL" == state
    assert "refused (401): check PLANNER_USERNAME and PLANNER_API_KEY" == detail
    assert "wrong-key-456" not in out + err


def test_doctor_demo_runs_against_the_embedded_fake():
    """``doctor --demo`` passes against the embedded fake (which sends no Date header)."""
    code, out, _ = run_cli(["doctor", "--demo"])
    assert 0 == code
    found = checks(out)
    assert ("ok", "logged in") == found["login"]
    assert "no Date header" in found["clock"][1]


def test_doctor_reports_missing_settings(monkeypatch: pytest.MonkeyPatch):
    """Without the credentials, the settings line fails naming what is missing; exit 1."""
    monkeypatch.delenv("PLANNER_USERNAME", raising=False)
    monkeypatch.setenv("PLANNER_API_KEY", "k")
    code, out, _ = run_cli(["doctor"])
    assert 1 == code
    assert ("FAIL", "missing PLANNER_USERNAME;") == (
        checks(out)["settings"][0],
        checks(out)["settings"][1].split(" base")[0],
    )


def test_doctor_reports_settings_the_client_refuses(monkeypatch: pytest.MonkeyPatch):
    """A plain-HTTP remote base URL: a failed line of the doctor's own, exit 1."""
    monkeypatch.setenv("PLANNER_USERNAME", "demo")
    monkeypatch.setenv("PLANNER_API_KEY", "demo-key")
    monkeypatch.setenv("PLANNER_BASE_URL", "http://planner.example/api/v2")
    monkeypatch.delenv("PLANNER_REDIS_URL", raising=False)
    code, out, err = run_cli(["doctor"])
    assert (1, "") == (code, err)
    assert "FAIL" == checks(out)["client"][0]


def test_doctor_reports_an_unreachable_redis_without_its_password(
    monkeypatch: pytest.MonkeyPatch,
):
    """PLANNER_REDIS_URL naming a closed port: the redis line fails, the password is masked."""
    monkeypatch.setenv("PLANNER_USERNAME", "demo")
    monkeypatch.setenv("PLANNER_API_KEY", "demo-key")
    monkeypatch.setenv("PLANNER_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("PLANNER_REDIS_URL", "redis://user:hunter2@127.0.0.1:9/0")
    code, out, err = run_cli(["doctor"])
    assert 1 == code
    state, detail = checks(out)["redis"]
    assert "FAIL" == state
    assert detail.startswith("redis://user:***@127.0.0.1:9/0 unreachable")
    assert "hunter2" not in out + err


def test_quota_watch_draws_frames_against_the_fake():
    """``quota --watch --frames 2`` against the fake prints two frames of every window."""
    code, out, _ = run_cli(["quota", "--demo", "--watch", "--frames", "2", "--interval", "0.01"])
    assert 0 == code
    frames = out.split("\n\n")
    assert 2 == len(frames)
    for frame in frames:
        head, *rows, lanes = frame.strip().splitlines()
        assert head.startswith("quota at ")
        assert lanes.strip().startswith("waiting: 0 interactive, 0 batch")
        assert ["1/40", "1/150"] == [row.split()[3] for row in rows]
        assert all("next free now" in row for row in rows)


class FakeTerminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_quota_watch_draws_a_rich_table_on_a_terminal():
    """On a terminal the view is a rich table of 80 columns with used/limit per window."""
    out = FakeTerminal()
    assert 0 == main(["quota", "--demo", "--watch", "--frames", "1"], out=out, err=io.StringIO())
    text = ANSI.sub("", out.getvalue())
    assert "used/limit" in text
    assert "1/40" in text
    assert "1/150" in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_quota_watch_ends_on_ctrl_c_with_exit_0(monkeypatch: pytest.MonkeyPatch):
    """Ctrl-C is how ``--watch`` ends: exit 0, no "interrupted" line."""

    async def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("planner_async._cli._commands.watch_quota", interrupted)
    code, _, err = run_cli(["quota", "--demo", "--watch"])
    assert (0, "") == (code, err)


def test_watch_frame_fits_80_columns_and_shows_lanes_when_present():
    """A plain frame fits the width, shows a bar per window and one line per lane."""
    windows = (
        WindowStatus(40, 1.0, 30, 10, 0.0),
        WindowStatus(150, 5.0, 150, 0, 1.25),
        WindowStatus(10000, 86400.0, 10000, 0, None),
    )
    lanes = (LaneStatus("interactive", 1, 8), LaneStatus("batch", 2))
    lines = frame_lines(RateLimitStatus(windows, 0.0, 3, lanes), 80)
    assert all(len(line) <= 80 for line in lines)
    assert lines[1].endswith("30/40    10 left · next free now")
    assert lines[2].endswith("150/150     0 left · next free in 1.25 s")
    assert lines[3].endswith(
        "1 d [################] 10000/10000     0 left · next free when one completes"
    )
    assert ["  waiting: 1 interactive, 2 batch (8 kept)"] == lines[4:]


@pytest.mark.anyio
async def test_doctor_checks_redis_and_names_its_prefix(monkeypatch: pytest.MonkeyPatch):
    """With PLANNER_REDIS_URL and a prefix set, the redis line says it answers and names the
    prefix; every check passes."""
    from redis_support import redis_url, unique_prefix

    url = redis_url()
    prefix = unique_prefix("doctor")
    monkeypatch.setenv("PLANNER_REDIS_URL", url)
    monkeypatch.setenv("PLANNER_REDIS_PREFIX", prefix)
    code, out, err = await run_cli_served(FakePlanner(events=5), ["doctor"], monkeypatch)
    assert 0 == code, out + err
    state, detail = checks(out)["redis"]
    assert "ok" == state
    assert detail.startswith(f"{url} answers (")
    assert detail.endswith(f"prefix {prefix}")
