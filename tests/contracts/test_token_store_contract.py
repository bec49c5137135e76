"""The ``TokenStore`` contract, run over every implementation (see ``conftest.py``).

What every store promises its :class:`TokenManager`: saves are a compare-and-set on the
generation, which grows by exactly one with every save and clear; a stale clear is
ignored; the renewal lease admits one holder at a time, is given back on cancellation,
and a holder that died keeps it at most its timeout.
"""

from __future__ import annotations

from datetime import UTC, datetime

import anyio
import pytest
from beds import TokenBed

from planner_async import Session, StoredToken, TokenState, TokenStore

pytestmark = [pytest.mark.anyio, pytest.mark.backends("asyncio", "trio")]

SESSION = Session(
    user_id=7, product_id=3, email="a@b.c", expires_at=datetime(2030, 1, 1, tzinfo=UTC)
)
FIRST = TokenState("access-token-one", "refresh-token-one", 2_000_000_000.0, SESSION)
SECOND = TokenState(
    "access-token-two", "refresh-token-two", 2_000_000_900.0, SESSION, issued_at=1.9e9
)


async def test_is_a_token_store_and_starts_empty(token_bed: TokenBed) -> None:
    """A fresh store satisfies the protocol and holds nothing at generation 0."""
    store = token_bed.first
    assert isinstance(store, TokenStore)
    assert StoredToken(None, 0) == await store.load()


async def test_save_is_a_compare_and_set_on_the_generation(token_bed: TokenBed) -> None:
    """A save from a stale generation is refused and changes nothing; a current one wins."""
    one, other = token_bed.first, token_bed.open()
    saved = await one.save(FIRST, expected=0)
    stale = await other.save(SECOND, expected=0)
    kept = await other.load()
    renewed = await other.save(SECOND, expected=1)
    seen = await one.load()
    assert StoredToken(FIRST, 1) == saved
    assert stale is None
    assert StoredToken(FIRST, 1) == kept
    assert StoredToken(SECOND, 2) == renewed
    assert StoredToken(SECOND, 2) == seen


async def test_concurrent_saves_from_one_generation_let_exactly_one_win(
    token_bed: TokenBed,
) -> None:
    """Eight handles saving from generation 0 at once: one succeeds, the store has its state."""
    results: list[StoredToken | None] = []
    states = [
        TokenState(f"access-{i}", f"refresh-{i}", 2_000_000_000.0 + i, SESSION) for i in range(8)
    ]

    async def save(state: TokenState) -> None:
        results.append(await token_bed.open().save(state, expected=0))

    async with anyio.create_task_group() as group:
        for state in states:
            group.start_soon(save, state)
    winners = [r for r in results if r is not None]
    assert 1 == len(winners)
    assert winners[0] == await token_bed.first.load()


async def test_the_generation_grows_by_one_with_every_save_and_clear(token_bed: TokenBed) -> None:
    """Save, save, clear, save: generations 1, 2, 3, 4 as every handle sees them."""
    store = token_bed.first
    generations = []
    for step in ("save", "save", "clear", "save"):
        expected = (await store.load()).generation
        if step == "save":
            await store.save(FIRST, expected=expected)
        else:
            await store.clear(expected=expected)
        generations.append((await token_bed.open().load()).generation)
    assert [1, 2, 3, 4] == generations


async def test_clear_forgets_only_at_the_expected_generation(token_bed: TokenBed) -> None:
    """A clear from a stale generation is ignored; from the current one it forgets the state."""
    store = token_bed.first
    await store.save(FIRST, expected=0)
    await store.save(SECOND, expected=1)
    await token_bed.open().clear(expected=1)
    kept = await store.load()
    await token_bed.open().clear(expected=2)
    cleared = await store.load()
    assert StoredToken(SECOND, 2) == kept
    assert StoredToken(None, 3) == cleared


async def test_the_lease_admits_one_holder_at_a_time(token_bed: TokenBed) -> None:
    """A second holder (another process where shared) enters only after the first left."""
    order: list[str] = []
    entered = anyio.Event()

    async def hold(store: TokenStore, name: str) -> None:
        async with store.lease(5.0):
            order.append(f"{name}+")
            entered.set()
            await anyio.sleep(0.05)  # the others poll: real time is what they wait on
            order.append(f"{name}-")

    async with anyio.create_task_group() as group:
        group.start_soon(hold, token_bed.first, "a")
        await entered.wait()
        group.start_soon(hold, token_bed.open(), "b")
    assert ["a+", "a-", "b+", "b-"] == order


async def test_a_cancelled_holder_gives_the_lease_back(token_bed: TokenBed) -> None:
    """Cancelling a holder inside the lease lets the next one in at once."""
    entered = anyio.Event()

    async def hold_forever() -> None:
        async with token_bed.first.lease(30.0):
            entered.set()
            await anyio.sleep_forever()

    async with anyio.create_task_group() as group:
        group.start_soon(hold_forever)
        await entered.wait()
        group.cancel_scope.cancel()
    with anyio.fail_after(2.0):
        async with token_bed.open().lease(30.0):
            pass


async def test_a_dead_holder_keeps_the_lease_at_most_its_timeout(token_bed: TokenBed) -> None:
    """A holder that died inside a 0.3 s lease blocks the next one for at most about 0.3 s."""
    await token_bed.die_holding_the_lease(0.3)
    start = anyio.current_time()
    with anyio.fail_after(2.0):
        async with token_bed.open().lease(5.0):
            waited = anyio.current_time() - start
    assert waited < 1.0
