"""The chaos suite's summary: one line per seed at the end of the pytest run (the CI log)."""

from __future__ import annotations

import pytest

SUMMARY_KEY = pytest.StashKey[list[str]]()


def _lines(config: pytest.Config) -> list[str]:
    if SUMMARY_KEY not in config.stash:
        config.stash[SUMMARY_KEY] = []
    return config.stash[SUMMARY_KEY]


@pytest.fixture(scope="session")
def chaos_summary(pytestconfig: pytest.Config) -> list[str]:
    """Lines appended here are printed under "chaos summary" when the run ends."""
    return _lines(pytestconfig)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print one line per chaos seed, so every CI log shows the figures."""
    lines = _lines(terminalreporter.config)
    if lines:
        terminalreporter.section("chaos summary")
        for line in lines:
            terminalreporter.write_line(line)
