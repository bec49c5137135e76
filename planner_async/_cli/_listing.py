"""Walking listings for the commands: the first page alone, or every event to a writer."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator

from .._client import PlannerClient
from .._models import EventPage
from ._formats import EventWriter
from ._progress import Tally
from ._usage import listing_arguments

__all__ = ["copy_events", "first_page"]


async def _close(pages: AsyncIterator[EventPage]) -> None:
    aclose = getattr(pages, "aclose", None)  # an async generator: close it now
    if aclose is not None:
        await aclose()


async def first_page(pages: AsyncIterator[EventPage]) -> EventPage | None:
    """The first page of ``pages`` (a listing's ``.pages()``), which is then closed."""
    try:
        async for page in pages:
            return page
        return None
    finally:
        await _close(pages)


async def copy_events(
    client: PlannerClient, args: argparse.Namespace, writer: EventWriter, tally: Tally
) -> None:
    """Page through the listing, writing each event and counting pages for the display."""
    listing = client.events.list(**listing_arguments(args))
    pages = listing.pages()
    previous: frozenset[int] = frozenset()
    try:
        async for page in pages:
            tally.pages += 1
            if tally.pages == 1 and page.total_items is not None:
                tally.total = min(page.total_items, args.limit or page.total_items)
            if _write_page(page, previous, writer, tally, args.limit):
                return
            previous = frozenset(event.id for event in page.items)
    finally:
        await _close(pages)


def _write_page(
    page: EventPage,
    previous: frozenset[int],
    writer: EventWriter,
    tally: Tally,
    limit: int | None,
) -> bool:
    """Write the page's events; True once ``limit`` events are written."""
    for event in page.items:
        # As iterating the listing does: skip an event seen on the previous page (it
        # moved across the page boundary between two requests).
        if event.id not in previous:
            writer.write(event)
            tally.events += 1
        if limit is not None and tally.events >= limit:
            return True
    return False
