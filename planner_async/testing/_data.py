"""A seeded generator of realistic wire events, and the date parsing the server shares.

Events are plain ``dict`` objects exactly as they travel on the wire, so that a client
meets the same untidiness it would meet in production: all-day events with plain dates,
timed events in ``Z`` and with offsets, null or missing optional fields, an unknown
status now and then, and the odd field the contract does not know yet.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

__all__ = ["generate_events", "parse_instant"]

_PLAIN_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DAY = 86_400.0


def parse_instant(text: str, *, end_of_day: bool = False) -> float:
    """Return epoch seconds for an ISO 8601 date or date-time; raise ``ValueError`` if bad.

    A plain date is midnight UTC, or the last millisecond of that day with ``end_of_day``.
    A naive date-time is taken as UTC. A space where an offset's ``+`` belongs (an
    unencoded ``+`` in a query string) is read as ``+``.

    >>> parse_instant("1970-01-02")
    86400.0
    """
    text = text.strip()
    if _PLAIN_DATE.match(text):
        midnight = datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC).timestamp()
        return midnight + _DAY - 0.001 if end_of_day else midnight
    if "T" not in text and " " not in text[:11]:
        raise ValueError(f"not an ISO 8601 date or date-time: {text!r}")
    if " " in text[11:]:
        head, _, tail = text.rpartition(" ")
        text = f"{head}+{tail}"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


# venue -> (city, region, country, timezone, standard offset hours, summer offset hours)
_PLACES: dict[str, tuple[str, str | None, str, str, int, int]] = {
    "House of Commons": ("London", "Greater London", "GB", "Europe/London", 0, 1),
    "ExCeL London": ("London", "Greater London", "GB", "Europe/London", 0, 1),
    "Wembley Stadium": ("London", "Greater London", "GB", "Europe/London", 0, 1),
    "Twickenham Stadium": ("London", "Greater London", "GB", "Europe/London", 0, 1),
    "Royal Albert Hall": ("London", "Greater London", "GB", "Europe/London", 0, 1),
    "Royal Society": ("London", "Greater London", "GB", "Europe/London", 0, 1),
    "Bank of England": ("London", "Greater London", "GB", "Europe/London", 0, 1),
    "Buckingham Palace": ("London", "Greater London", "GB", "Europe/London", 0, 1),
    "Manchester Central": ("Manchester", "Greater Manchester", "GB", "Europe/London", 0, 1),
    "Edinburgh International Conference Centre": (
        "Edinburgh",
        "Scotland",
        "GB",
        "Europe/London",
        0,
        1,
    ),
    "Palace of Holyroodhouse": ("Edinburgh", "Scotland", "GB", "Europe/London", 0, 1),
    "Principality Stadium": ("Cardiff", "Wales", "GB", "Europe/London", 0, 1),
    "Convention Centre Dublin": ("Dublin", "Leinster", "IE", "Europe/Dublin", 0, 1),
    "Croke Park": ("Dublin", "Leinster", "IE", "Europe/Dublin", 0, 1),
    "Berlaymont": ("Brussels", "Brussels-Capital", "BE", "Europe/Brussels", 1, 2),
    "Messe Berlin": ("Berlin", "Berlin", "DE", "Europe/Berlin", 1, 2),
    "European Central Bank": ("Frankfurt", "Hesse", "DE", "Europe/Berlin", 1, 2),
    "Palais des Congrès": ("Paris", "Île-de-France", "FR", "Europe/Paris", 1, 2),
    "Stade de France": ("Paris", "Île-de-France", "FR", "Europe/Paris", 1, 2),
    "Palais des Nations": ("Geneva", "Geneva", "CH", "Europe/Zurich", 1, 2),
    "IFEMA": ("Madrid", "Community of Madrid", "ES", "Europe/Madrid", 1, 2),
    "RAI Amsterdam": ("Amsterdam", "North Holland", "NL", "Europe/Amsterdam", 1, 2),
    "Fiera Milano": ("Milan", "Lombardy", "IT", "Europe/Rome", 1, 2),
    "United States Capitol": (
        "Washington",
        "District of Columbia",
        "US",
        "America/New_York",
        -5,
        -4,
    ),
    "Eccles Building": ("Washington", "District of Columbia", "US", "America/New_York", -5, -4),
    "Javits Center": ("New York", "New York", "US", "America/New_York", -5, -4),
    "McCormick Place": ("Chicago", "Illinois", "US", "America/Chicago", -6, -5),
    "Moscone Center": ("San Francisco", "California", "US", "America/Los_Angeles", -8, -7),
    "Online": ("", None, "GB", "Europe/London", 0, 1),
}

# category -> the venues its events take place in (a rugby fixture is not held in
# the House of Commons).
_VENUES: dict[str, tuple[str, ...]] = {
    "Politics": (
        "House of Commons",
        "Berlaymont",
        "United States Capitol",
        "Manchester Central",
        "Edinburgh International Conference Centre",
        "Convention Centre Dublin",
    ),
    "Economy": ("Bank of England", "European Central Bank", "Eccles Building", "Online"),
    "Sport": (
        "Wembley Stadium",
        "Twickenham Stadium",
        "Principality Stadium",
        "Croke Park",
        "Stade de France",
    ),
    "Culture": ("Royal Albert Hall", "Palais des Congrès", "RAI Amsterdam", "Online"),
    "Science": (
        "Royal Society",
        "ExCeL London",
        "Edinburgh International Conference Centre",
        "Online",
    ),
    "Health": ("Palais des Nations", "ExCeL London", "Manchester Central", "Online"),
    "Business": (
        "ExCeL London",
        "Messe Berlin",
        "IFEMA",
        "Fiera Milano",
        "Javits Center",
        "McCormick Place",
    ),
    "Technology": ("Moscone Center", "Javits Center", "RAI Amsterdam", "IFEMA", "Online"),
    "Environment": ("Palais des Nations", "Berlaymont", "Convention Centre Dublin", "Online"),
    "Royals": ("Buckingham Palace", "Palace of Holyroodhouse", "Principality Stadium"),
}

# category -> (title templates, organisers); {city} and {topic} are filled in.
_CATEGORIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Politics": (
        (
            "Parliamentary debate on {topic}",
            "Select committee hearing: {topic}",
            "Party conference in {city}",
            "Ministerial statement on {topic}",
        ),
        ("HM Government", "European Commission", "US Congress", "Electoral Commission"),
    ),
    "Economy": (
        (
            "Interest rate decision",
            "Inflation figures published",
            "Budget statement",
            "Quarterly GDP estimate",
            "Labour market statistics",
        ),
        (
            "Bank of England",
            "HM Treasury",
            "European Central Bank",
            "Federal Reserve",
            "Office for National Statistics",
        ),
    ),
    "Sport": (
        (
            "Cup final in {city}",
            "International friendly: {city}",
            "Marathon in {city}",
            "Six Nations fixture",
            "Grand Prix qualifying",
        ),
        ("The FA", "World Rugby", "London Marathon Events", "UEFA"),
    ),
    "Culture": (
        (
            "Film festival opens in {city}",
            "Book awards ceremony",
            "Gallery opening: {topic}",
            "Music festival in {city}",
        ),
        ("British Film Institute", "Arts Council England", "Booker Foundation"),
    ),
    "Science": (
        (
            "Launch window for {topic} mission",
            "Annual science festival in {city}",
            "Research results on {topic}",
        ),
        ("European Space Agency", "Royal Society", "NASA", "UK Research and Innovation"),
    ),
    "Health": (
        ("Health summit on {topic}", "NHS waiting-time figures", "Vaccine advisory meeting"),
        ("NHS England", "World Health Organization", "Department of Health"),
    ),
    "Business": (
        (
            "Annual results: {topic} sector",
            "Shareholder meeting in {city}",
            "Trade fair in {city}",
            "Retail sales figures",
        ),
        ("London Stock Exchange", "Confederation of British Industry", "Messe Berlin GmbH"),
    ),
    "Technology": (
        (
            "Developer conference in {city}",
            "Product launch: {topic}",
            "AI safety summit",
            "Tech week in {city}",
        ),
        ("Tech Nation", "Web Summit", "Ofcom"),
    ),
    "Environment": (
        ("Climate talks on {topic}", "Air quality report published", "Environment bill reading"),
        ("UN Climate Change", "Environment Agency", "European Environment Agency"),
    ),
    "Royals": (
        ("Royal visit to {city}", "Trooping the Colour", "State banquet"),
        ("The Royal Household",),
    ),
}
_TOPICS = (
    "housing",
    "energy prices",
    "immigration",
    "rail strikes",
    "digital markets",
    "online safety",
    "defence spending",
    "water quality",
    "childcare",
    "tariffs",
    "artificial intelligence",
    "lunar exploration",
    "antibiotic resistance",
    "net zero",
)
_STATUSES = ("confirmed", "provisional", "cancelled", "postponed", "rescheduled")
_STATUS_WEIGHTS = (70, 14, 6, 6, 4)
_EXTRA_FIELDS: tuple[tuple[str, Any], ...] = (
    ("embargoed", True),
    ("liveStream", {"url": "https://stream.example.org/live"}),
    ("priority", 2),
)


def _iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso_offset(moment: datetime, hours: int) -> str:
    return moment.astimezone(timezone(timedelta(hours=hours))).isoformat(timespec="seconds")


def _maybe(rng: random.Random, value: Any, *, missing: float, null: float) -> Any:
    """Return ``value``, or ``None``, or the sentinel ``...`` meaning "leave the field out"."""
    draw = rng.random()
    if draw < missing:
        return ...
    if draw < missing + null:
        return None
    return value


def _schedule(
    rng: random.Random, day: date, offset: int, country: str
) -> tuple[bool, str, str, datetime]:
    """Draw ``(all_day, startDate, endDate, start instant)`` for an event on ``day``."""
    if rng.random() < 0.3:
        last = day + timedelta(days=rng.choice((0, 0, 0, 1, 2, 3)))
        return True, day.isoformat(), last.isoformat(), datetime.combine(day, time(), tzinfo=UTC)
    local = datetime.combine(day, time(rng.randrange(7, 21), rng.choice((0, 15, 30, 45))))
    begins = local.replace(tzinfo=timezone(timedelta(hours=offset)))
    ends = begins + timedelta(minutes=rng.choice((30, 45, 60, 90, 120, 180, 240)))
    if country == "GB" or rng.random() < 0.3:
        return False, _iso_z(begins), _iso_z(ends), begins
    return False, _iso_offset(begins, offset), _iso_offset(ends, offset), begins


def _without_missing(fields: dict[str, Any]) -> dict[str, Any]:
    """Drop the fields (and nested fields) that ``_maybe`` left out (``...``)."""
    cleaned: dict[str, Any] = {}
    for key, value in fields.items():
        if value is ...:
            continue
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if v is not ...}
        cleaned[key] = value
    return cleaned


def _organiser(rng: random.Random, organisers: tuple[str, ...]) -> Any:
    """Draw an ``organiser`` object (or None, or ``...`` for "left out")."""
    organiser = {
        "name": rng.choice(organisers),
        "url": _maybe(rng, "https://example.org", missing=0.3, null=0.1),
    }
    return _maybe(rng, organiser, missing=0.1, null=0.05)


_PAST_SPREAD = 30 * 86_400  # seconds over which versions from the future are spread back


def _not_after(event: dict[str, Any], now: float | None) -> dict[str, Any]:
    """``event`` with neither ``createdAt`` nor ``updatedAt`` after ``now``: a version
    stamped later moves back to between one minute and 30 days before ``now`` (spread by
    id, with no draw from the seeded generator, so every other field stays as seeded)."""
    if now is None or parse_instant(event["updatedAt"]) <= now:
        return event
    back = 60 + (event["id"] * 7919) % _PAST_SPREAD
    updated = _iso_z(datetime.fromtimestamp(now - back, UTC))
    return {**event, "updatedAt": updated, "createdAt": min(event["createdAt"], updated)}


def _event(rng: random.Random, event_id: int, start: date, days: int) -> dict[str, Any]:
    category = rng.choice(sorted(_CATEGORIES))
    titles, organisers = _CATEGORIES[category]
    venue = rng.choice(_VENUES[category])
    city, region, country, tz_name, std, summer = _PLACES[venue]
    topic = rng.choice(_TOPICS)
    title = rng.choice(titles).format(city=city or "London", topic=topic)
    day = start + timedelta(days=rng.randrange(days))
    offset = summer if 4 <= day.month <= 10 else std
    all_day, start_text, end_text, begins = _schedule(rng, day, offset, country)
    created = begins - timedelta(days=rng.randrange(1, 120), seconds=rng.randrange(86_400))
    updated = created + timedelta(seconds=rng.randrange(0, 60 * 86_400))
    tags = sorted(
        {topic.replace(" ", "-"), category.lower(), (city or "online").lower().replace(" ", "-")}
    )
    fields: dict[str, Any] = {
        "id": event_id,
        "title": title,
        "description": _maybe(
            rng,
            f"{title}. Organised by {rng.choice(organisers)}"
            + (f" at {venue}, {city}." if city else " online."),
            missing=0.03,
            null=0.05,
        ),
        "startDate": start_text,
        "endDate": _maybe(rng, end_text, missing=0.02, null=0.03),
        "allDay": all_day,
        "timezone": _maybe(rng, tz_name, missing=0.05, null=0.02),
        "status": rng.choices(_STATUSES, _STATUS_WEIGHTS)[0],
        "categories": [category]
        + ([rng.choice(sorted(set(_CATEGORIES) - {category}))] if rng.random() < 0.25 else []),
        "tags": _maybe(rng, tags, missing=0.05, null=0.02),
        "location": _maybe(
            rng,
            {"venue": venue, "city": city or None, "region": region, "country": country},
            missing=0.02,
            null=0.02,
        ),
        "organiser": _organiser(rng, organisers),
        "url": _maybe(rng, f"https://example.org/events/{event_id}", missing=0.05, null=0.05),
        "createdAt": _iso_z(created),
        "updatedAt": _iso_z(updated),
    }
    if rng.random() < 0.04:
        name, value = rng.choice(_EXTRA_FIELDS)
        fields[name] = value
    return _without_missing(fields)


def generate_events(
    count: int,
    seed: int = 0,
    start: date = date(2026, 1, 1),
    days: int = 365,
    *,
    now: float | None = None,
) -> list[dict[str, Any]]:
    """Return ``count`` realistic wire events starting within ``days`` days of ``start``.

    The same arguments always give the same events. Ids are unique and ascending;
    ``createdAt <= updatedAt`` always holds. With ``now`` (epoch seconds, what a fake's
    clock says), no ``createdAt`` or ``updatedAt`` lies after it.

    >>> events = generate_events(3, seed=1)
    >>> len({e["id"] for e in events})
    3
    """
    if count < 0 or days < 1:
        raise ValueError("count must be >= 0 and days >= 1")
    rng = random.Random(seed)
    ids = sorted(rng.sample(range(100_000, 100_000 + max(count, 1) * 10), count))
    return [_not_after(_event(rng, event_id, start, days), now) for event_id in ids]
