"""The cached anyio backend functions behave as anyio's own, on asyncio and trio."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

from planner_async import _backend

pytestmark = [pytest.mark.anyio, pytest.mark.backends("asyncio", "trio", "trio-virtual")]


async def test_current_time_is_anyios_clock():
    """The cached clock reads the running backend's clock (virtual under trio's MockClock)."""
    before = anyio.current_time()
    ours = _backend.current_time()
    after = anyio.current_time()
    assert before <= ours <= after
    await anyio.sleep(0.01)  # real time on asyncio and trio: the point is the clock moving
    assert _backend.current_time() > ours


async def test_checkpoint_if_cancelled_honours_a_pending_cancellation():
    """A cancelled scope makes the cached checkpoint raise; an open one lets it pass."""
    await _backend.checkpoint_if_cancelled()
    reached = False
    with anyio.CancelScope() as scope:
        scope.cancel()
        await _backend.checkpoint_if_cancelled()
        reached = True
    assert not reached
    assert scope.cancelled_caught


def test_outside_an_event_loop_it_raises_like_sniffio():
    """With no event loop running, the look-up fails as anyio's does."""
    with pytest.raises(Exception, match="async"):
        _backend.current_time()
