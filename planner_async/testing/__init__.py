"""A fake Forward Planner API v2 server for tests, demos and benchmarks.

In-process, over httpx (any anyio backend)::

    fake = FakePlanner(events=500, clock=ManualClock())
    http = httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url)

Over a real loopback socket (asyncio only; ``pip install planner-async[server]``)::

    async with fake.serve() as base_url:
        ...

The server implements the whole wire contract (tokens, rate limits with
``X-Rate-Limit-*`` headers, filters, paging, 400/401/403/404/405/429), injects seeded
faults (:class:`Faults`), answers scripted replies (:meth:`FakePlanner.script`) and counts
what it saw (:class:`FakeStats`).
"""

from __future__ import annotations

from ._app import FakePlanner
from ._clock import ManualClock
from ._data import generate_events
from ._faults import Faults
from ._stats import FakeStats

__all__ = ["FakePlanner", "FakeStats", "Faults", "ManualClock", "generate_events"]
