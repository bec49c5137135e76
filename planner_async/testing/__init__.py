"""A fake Forward Planner API v2 server for tests, demos and benchmarks.

In-process, over httpx (any anyio backend)::

    fake = FakePlanner(events=500, clock=ManualClock())
    http = httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url)

Over a real loopback socket (asyncio only; ``pip install planner-async[server]``)::

    async with fake.serve() as base_url:
        ...

The server implements the whole wire contract (tokens, rate limits with
``X-Rate-Limit-*`` headers, filters, paging, 400/401/403/404/405/429). Test controls:

- data: seed ``events=`` (a count, or wire dicts / models), change them mid-run with
  :meth:`FakePlanner.add_event`, :meth:`~FakePlanner.update_event` (``updatedAt`` moves
  forward on every change) and :meth:`~FakePlanner.delete_event`, act between listing
  pages with :meth:`~FakePlanner.on_page`, ask :meth:`~FakePlanner.visible_ids`;
- answers: :meth:`~FakePlanner.script` (canned or computed by a handler),
  :meth:`~FakePlanner.fail_next`; seeded :class:`Faults` (5xx, HTML 502 pages, cut
  bodies, dropped connections, latency and spikes, token revocations, 429 bursts);
- tokens: :meth:`~FakePlanner.expire_tokens`, :meth:`~FakePlanner.revoke_access_tokens`,
  :meth:`~FakePlanner.revoke_refresh_tokens`;
- what happened: :attr:`FakePlanner.stats` (:class:`FakeStats`) and
  :attr:`FakePlanner.requests` (:class:`FakeRequest`, never a secret);
- time: :class:`ManualClock` (``clock`` for the fake, ``sleep=clock.sleep`` for a client).

>>> fake = FakePlanner(events=[{"id": 1, "title": "Budget"}], clock=ManualClock())
>>> fake.fail_next(1, status=503, retry_after=2)
>>> fake.update_event(1, title="Budget day")["title"]
'Budget day'
"""

from __future__ import annotations

from ._app import FakePlanner
from ._clock import ManualClock
from ._data import generate_events
from ._faults import Faults
from ._http import FakeRequest, Reply
from ._ratelimit import RateDecision, RateLimiter
from ._stats import FakeStats
from ._tokens import TokenAuthority

__all__ = [
    "FakePlanner",
    "FakeRequest",
    "FakeStats",
    "Faults",
    "ManualClock",
    "RateDecision",
    "RateLimiter",
    "Reply",
    "TokenAuthority",
    "generate_events",
]
