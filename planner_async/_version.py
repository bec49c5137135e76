"""The package version, read once from the installed distribution's metadata."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["USER_AGENT", "__version__"]

try:
    __version__: str = version("planner-async")
except PackageNotFoundError:  # pragma: no cover - running from a source tree never installed
    __version__ = "0+unknown"

USER_AGENT = f"planner-async/{__version__}"
"""The ``User-Agent`` header of the HTTP client that :class:`PlannerClient` creates."""
