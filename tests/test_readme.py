"""Every Python block of README.md runs, against the fake server served on a loopback port.

How a block runs depends on what it is (see ``kind``):

- the first block, the quick start: verbatim, as a script in a fresh interpreter, with
  ``PLANNER_USERNAME``/``PLANNER_API_KEY``/``PLANNER_BASE_URL`` pointing at the fake;
- a block with top-level ``await``/``async for`` (a snippet meant to run inside the quick
  start's ``main()``): in an event loop, with ``client`` open and the names of
  :data:`STAND_INS` defined (``store``, ``upsert``, ``ids``, ...: the reader's own code);
- a block defining ``test_*`` functions: as a user's test module, through ``pytester``;
- a block defining a FastAPI ``app``: executed, then started with its lifespan and asked
  for an event, a missing event and the budget listing;
- a block bringing its own Redis client: run twice as a script, against the suite's own
  throwaway ``redis-server`` (see ``tests/redis_support.py``), with one Fernet key;
- any other block: executed as a module, with the environment set.

A block preceded by ``<!-- readme: skip (reason) -->`` is not run; none is today.
"""

from __future__ import annotations

import ast
import asyncio
import logging
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

import planner_async
from planner_async import PlannerClient
from planner_async.testing import FakePlanner

pytest_plugins = ("pytester",)

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"(?P<before>[^\n]*)\n```python\n(?P<code>.*?)\n```", re.DOTALL)
SKIP = re.compile(r"<!--\s*readme:\s*skip\b")
QUICK_START_EVENT = 101769


def readme_blocks() -> list[tuple[int, str, bool]]:
    """``(line, code, skipped)`` for every Python block of the README, in order."""
    text = README.read_text(encoding="utf-8")
    found = []
    for match in BLOCK.finditer(text):
        line = text.count("\n", 0, match.start("code")) + 1
        found.append((line, match.group("code"), bool(SKIP.search(match.group("before")))))
    return found


BLOCKS = readme_blocks()


def kind(index: int, code: str) -> str:
    """How block ``index`` runs: quickstart, fragment, pytest, sharing, fastapi, redis or
    program."""
    if index == 0:
        return "quickstart"
    try:
        compile(code, "README.md", "exec")
    except SyntaxError:
        return "fragment"  # top-level await / async for: runs inside main()
    tree = ast.parse(code)
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    if any(name.startswith("test_") for name in names):
        return "pytest"
    if 'priority="batch"' in code and "asyncio.run(main())" in code:
        return "sharing"
    if "FastAPI(" in code and "planner_lifespan" in code and "lifespan=" in code:
        return "fastapi"
    if "from redis.asyncio import Redis" in code:
        return "redis"
    return "program"


class ServedFake:
    """The default fake (2,000 events, seed 0) served by uvicorn in a thread of its own.

    Its login limit is off: every block logs in anew, more than 10 times a minute.
    """

    def __init__(self) -> None:
        self.fake = FakePlanner(auth_rate_limits=[])
        self.url = ""
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(),), daemon=True)

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with self.fake.serve() as url:
            self.url = url
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> ServedFake:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fake server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@pytest.fixture(scope="module")
def served() -> Iterator[ServedFake]:
    """One served fake for the module's blocks."""
    with ServedFake() as served:
        yield served


@pytest.fixture
def env(served: ServedFake, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment ``PlannerClient.from_env()`` needs to reach the served fake."""
    values = {
        "PLANNER_USERNAME": "demo",
        "PLANNER_API_KEY": "demo-key",
        "PLANNER_BASE_URL": served.url,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    for name in ("PLANNER_REDIS_URL", "PLANNER_REDIS_PREFIX", "PLANNER_FAKE"):
        monkeypatch.delenv(name, raising=False)
    return values


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Blocks may configure logging; put the package logger and the root back afterwards."""
    package, root = logging.getLogger("planner_async"), logging.getLogger()
    levels, handlers = (package.level, root.level), list(root.handlers)
    yield
    package.setLevel(levels[0])
    root.setLevel(levels[1])
    root.handlers[:] = handlers


def stand_ins(served: ServedFake) -> dict[str, Any]:
    """Names the snippets use for the reader's own code and imports."""
    ids = [*served.fake.visible_ids()[:5], 1]

    async def store(event: object) -> None:
        assert isinstance(event, planner_async.Event)

    return {
        **{name: getattr(planner_async, name) for name in planner_async.__all__},
        "date": date,
        "datetime": datetime,
        "timedelta": timedelta,
        "UTC": UTC,
        "ids": ids,
        "log": logging.getLogger("readme"),
        "store": store,
        "upsert": store,
        "load_checkpoint": lambda: None,
        "save_checkpoint": lambda text: None,
    }


STAND_INS = ("store", "upsert", "ids", "log", "load_checkpoint", "save_checkpoint")


def test_the_readme_has_the_blocks_it_promises() -> None:
    """The quick start comes first and every kind of block is there to be run."""
    kinds = [kind(i, code) for i, (_, code, _) in enumerate(BLOCKS)]
    assert kinds[0] == "quickstart"
    assert {"fragment", "pytest", "sharing", "fastapi", "redis", "program"} <= set(kinds)
    assert "asyncio.run(main())" in BLOCKS[0][1]
    assert not any(skipped for _, _, skipped in BLOCKS)


def test_quick_start_runs_verbatim_as_a_script(env: dict[str, str], tmp_path: Path) -> None:
    """The quick start, saved as a file and run by a fresh interpreter, prints the fake's data."""
    done = _run_script(BLOCKS[0][1], tmp_path / "quickstart.py", env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any("Budget statement" in line and "London" in line for line in lines[:-3])
    assert re.search(r"^page 1 of \d+: \d+ events$", done.stdout, re.MULTILINE)


def _run_script(code: str, script: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``code`` saved as ``script`` and run by a fresh interpreter with ``env``."""
    script.write_text(code + "\n", encoding="utf-8")
    return subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**_base_environment(), **env},
        check=False,
    )


def _base_environment() -> dict[str, str]:
    import os

    keep = ("PATH", "HOME", "LANG", "SYSTEMROOT", "TMPDIR")
    return {name: os.environ[name] for name in keep if name in os.environ}


def _params(wanted: str) -> list[Any]:
    return [
        pytest.param(code, id=f"line-{line}")
        for i, (line, code, skipped) in enumerate(BLOCKS)
        if kind(i, code) == wanted and not skipped
    ]


@pytest.mark.parametrize("code", _params("program"))
def test_program_block_runs(code: str, env: dict[str, str]) -> None:
    """A self-contained block runs as a module."""
    exec(compile(code, "README.md", "exec"), {"__name__": "readme_block"})


def test_sync_block_prints_the_fakes_data(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The "Synchronous code" block, run with no event loop, prints events and one login."""
    [code] = [code for _, code, _ in BLOCKS if "BlockingPlannerClient.from_env()" in code]
    assert "program" == kind(1, code)
    exec(compile(code, "README.md", "exec"), {"__name__": "readme_block"})
    out = capsys.readouterr().out
    assert "8 titles, 1 login" in out
    assert re.search(rf"^{QUICK_START_EVENT} .+$", out, re.MULTILINE)
    assert re.search(r"^1 NotFoundError$", out, re.MULTILINE)
    assert any("Budget" in line for line in out.splitlines()[1:])


@pytest.mark.parametrize("code", _params("fragment"))
def test_fragment_block_runs_inside_main(
    code: str, env: dict[str, str], served: ServedFake
) -> None:
    """A snippet runs in an event loop with ``client`` open, as if inside the quick start."""
    compiled = compile(code, "README.md", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)

    async def main() -> None:
        async with PlannerClient.from_env() as client:
            namespace = {"__name__": "readme_block", "client": client, **stand_ins(served)}
            result = eval(compiled, namespace)
            if result is not None:
                await result

    asyncio.run(main())


@pytest.mark.parametrize("code", _params("fastapi"))
def test_fastapi_block_serves_the_fake(code: str, env: dict[str, str]) -> None:
    """The FastAPI block's app starts, answers an event, a 404 and a listing, and stops."""
    namespace: dict[str, Any] = {"__name__": "readme_block"}
    exec(compile(code, "README.md", "exec"), namespace)
    app = namespace["app"]

    async def main() -> list[httpx.Response]:
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
                paths = [f"/events/{QUICK_START_EVENT}", "/events/1", "/budget"]
                return [await http.get(path) for path in paths]

    found, missing, budget = asyncio.run(main())
    assert found.status_code == 200
    assert found.json()["id"] == QUICK_START_EVENT
    assert missing.status_code == 404
    assert missing.json()["error"] == "Not Found"
    assert budget.status_code == 200
    assert budget.json()
    assert all("budget" in str(event).lower() for event in budget.json())


@pytest.mark.parametrize("code", _params("pytest"))
def test_pytest_block_passes_through_the_plugin(code: str, pytester: pytest.Pytester) -> None:
    """A testing block is a user's test module: it passes, run by pytest with the plugin."""
    pytester.makeini(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
        "addopts = --strict-markers -p no:cacheprovider\n"
    )
    pytester.makepyfile(test_readme_block=code)
    result = pytester.runpytest_inprocess("-q")
    tests = len(re.findall(r"^(?:async )?def test_", code, re.MULTILINE))
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= tests  # anyio runs each on every backend
    assert set(outcomes) <= {"passed", "warnings"}


@pytest.mark.parametrize("code", _params("redis"))
def test_redis_block_runs_twice_and_closes_what_it_opens(
    code: str, env: dict[str, str], served: ServedFake, tmp_path: Path
) -> None:
    """The bring-your-own-Redis block, run twice with one key: both runs print the event,
    the second reuses the stored session, and neither warns of anything left unclosed."""
    from cryptography.fernet import Fernet
    from redis_support import own_server

    script = tmp_path / "redis_block.py"
    script.write_text(code + "\n", encoding="utf-8")
    run_env = {
        **_base_environment(),
        **env,
        "REDIS_URL": own_server().url,
        "PLANNER_TOKEN_KEY": Fernet.generate_key().decode(),
        "PYTHONDEVMODE": "1",  # ResourceWarnings shown, asyncio debug checks on
    }
    runs, logins = [], []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, str(script)],
            capture_output=True,
            text=True,
            timeout=60,
            env=run_env,
            check=False,
        )
        runs.append(done)
        logins.append(served.fake.stats.logins)
        assert done.returncode == 0, done.stderr
    assert [r.stdout for r in runs] == [runs[0].stdout] * 2
    assert runs[0].stdout.strip()
    assert logins[0] == logins[1]  # the second run adopted the stored, decrypted session
    assert "Warning" not in runs[0].stderr + runs[1].stderr
    assert "unclosed" not in (runs[0].stderr + runs[1].stderr).lower()


@pytest.mark.parametrize("code", _params("sharing"))
def test_sharing_block_runs_as_a_script(code: str, env: dict[str, str], tmp_path: Path) -> None:
    """The "Sharing one account" block: the app answers while the job ingests, one login."""
    done = _run_script(code, tmp_path / "sharing.py", env)
    assert done.returncode == 0, done.stderr
    assert "visitor: [200, 200, 404]" in done.stdout
    assert re.search(r"^job: \d{3,} events$", done.stdout, re.MULTILINE)
    assert "logins between them: 1" in done.stdout
