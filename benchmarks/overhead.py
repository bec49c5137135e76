"""Per-call overhead: ``client.events.get`` against raw httpx and against a hand-built stack.

Issue 8, benchmark 1 (target: the full client ≤ 1.10× raw ``httpx.AsyncClient.get`` +
``.json()``). Every variant talks to the same ``httpx.MockTransport`` answering a full
~1 KB event, so what differs is only the code between the caller and the transport:

* raw: ``await http.get(url)`` then ``response.json()``;
* ours: ``await client.events.get(id)`` with the token held and limits too high to block
  (quota, token, retry policy, error mapping, structuring into an ``Event``), with the
  client's defaults (identical concurrent reads coalesce) and, in the last columns, with
  ``coalesce=False`` (a view of the same client);
* stack: what a user would otherwise write: httpx + three nested aiolimiter limiters +
  a tenacity retry decorator + parsing into a slotted dataclass.

With and without ``X-Rate-Limit-*`` headers; sequential (500 calls a round) and concurrent
(100 tasks × 50 calls; each task asks for its own event id, so that the client's coalescing
of identical concurrent reads does not fold 100 calls into one: every call is a request).
Time is the process's CPU time (``time.process_time``: everything here is CPU, and other
processes on a shared machine do not count); rounds are interleaved and each variant keeps
its fastest round.

Run: ``.venv/bin/python benchmarks/overhead.py`` (about 80 seconds); with ``--socket``, the
sequential calls instead go over real sockets to a local server in another process.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import anyio
import httpx
from aiolimiter import AsyncLimiter
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_none

from planner_async import PlannerClient
from planner_async.testing import generate_events

BASE = "https://planner.bench"
EVENT_ID = 1001
CALLS = 500  # sequential calls a round
TASKS, PER_TASK = 100, 50
ROUNDS = {"sequential": 10, "100 tasks × 50": 2}  # rounds per shape
TARGET = 1.10
HIGH = [(1_000_000_000, 60.0), (1_000_000_000, 3600.0), (1_000_000_000, 86400.0)]
RATE = [
    ("X-Rate-Limit-Limit", "1000000000"),
    ("X-Rate-Limit-Remaining", "999999000"),
    ("X-Rate-Limit-Reset", "30"),
]


def event_body() -> bytes:
    """A full event (every field set) of about 1 KB."""
    event = next(e for e in generate_events(200, seed=2) if e.get("location") and e.get("tags"))
    event = {**event, "id": EVENT_ID}
    body = json.dumps(event).encode()
    pad = max(0, 1024 - len(body))
    event["description"] = (event.get("description") or "") + "x" * pad
    return json.dumps(event).encode()


def jwt() -> str:
    import base64

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part({'sub': 'bench', 'exp': time.time() + 86400})}.sig"


def login_body() -> bytes:
    """The answer to a login: a token valid for a day."""
    return json.dumps(
        {"userId": 1, "productId": 2, "email": "b@example.com", "token": jwt(), "refreshToken": "r"}
    ).encode()


def transport(body: bytes, rate_headers: bool) -> httpx.MockTransport:
    login = login_body()
    headers = [("Content-Type", "application/json"), *(RATE if rate_headers else [])]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/auth"):
            return httpx.Response(200, content=login, headers=headers)
        return httpx.Response(200, content=body, headers=headers)

    return httpx.MockTransport(handler)


@dataclasses.dataclass(slots=True, frozen=True)
class Location:
    venue: str | None
    city: str | None
    region: str | None
    country: str | None


@dataclasses.dataclass(slots=True, frozen=True)
class DataEvent:
    id: int
    title: str
    description: str | None
    start: datetime | None
    end: datetime | None
    status: str | None
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    location: Location | None
    updated_at: datetime | None


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


def parse(data: dict[str, Any]) -> DataEvent:
    loc = data.get("location")
    return DataEvent(
        id=data["id"],
        title=data["title"],
        description=data.get("description"),
        start=_when(data.get("startDate")),
        end=_when(data.get("endDate")),
        status=data.get("status"),
        categories=tuple(data.get("categories") or ()),
        tags=tuple(data.get("tags") or ()),
        location=Location(**loc) if loc else None,
        updated_at=_when(data.get("updatedAt")),
    )


Call = Callable[[int], Awaitable[Any]]  # takes the offset of the event id to fetch


def variants(
    body: bytes, rate_headers: bool, server: str | None = None
) -> tuple[dict[str, Call], list[Any]]:
    """The ways to get one event, each on its own httpx client over the same body.

    With ``server`` (a base URL), over real sockets to it instead of the mock transport.
    """

    def http_client() -> httpx.AsyncClient:
        if server is not None:
            return httpx.AsyncClient()
        return httpx.AsyncClient(transport=transport(body, rate_headers))

    base = server or BASE
    raw_http = http_client()
    url = f"{base}/api/v2/events/"

    async def raw(n: int = 0) -> Any:
        response = await raw_http.get(f"{url}{EVENT_ID + n}")
        return response.json()

    ours_http = http_client()
    client = PlannerClient(
        "bench", "bench-key", base_url=base, http_client=ours_http, rate_limits=HIGH
    )

    async def ours(n: int = 0) -> Any:
        return await client.events.get(EVENT_ID + n)

    uncoalesced = client.with_options(coalesce=False)  # the same client, reads not shared

    async def ours_alone(n: int = 0) -> Any:
        return await uncoalesced.events.get(EVENT_ID + n)

    stack_http = http_client()
    minute, hour, day = (AsyncLimiter(10**9, p) for p in (60, 3600, 86400))

    async def stack(n: int = 0) -> Any:
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(4),
            wait=wait_none(),
            retry=retry_if_exception_type(httpx.TransportError),
            reraise=True,
        ):
            with attempt:
                async with minute, hour, day:
                    response = await stack_http.get(
                        f"{url}{EVENT_ID + n}", headers={"Authorization": "Bearer t"}
                    )
                response.raise_for_status()
                return parse(response.json())
        raise AssertionError("unreachable")

    calls = {
        "raw httpx": raw,
        "planner_async": ours,
        "planner_async, coalesce=False": ours_alone,
        "httpx+aiolimiter+tenacity": stack,
    }
    return calls, [
        raw_http,
        ours_http,
        stack_http,
        client,
    ]


async def sequential(call: Call) -> float:
    """Seconds per call, one call after another."""
    start = time.process_time()
    for _ in range(CALLS):
        await call(0)
    return (time.process_time() - start) / CALLS


async def best_of(parts: dict[str, Any]) -> dict[str, float]:
    """Each part warmed up, then its best sequential round, rounds interleaved."""
    for part in parts.values():
        for _ in range(200):
            await part(0)
    best = dict.fromkeys(parts, float("inf"))
    for _ in range(ROUNDS["sequential"]):
        for name, part in parts.items():
            best[name] = min(best[name], await sequential(part))
    return best


async def concurrent(call: Call) -> float:
    async def worker(n: int) -> None:
        for _ in range(PER_TASK):
            await call(n)

    start = time.process_time()
    async with anyio.create_task_group() as group:
        for n in range(TASKS):
            group.start_soon(worker, n)
    return (time.process_time() - start) / (TASKS * PER_TASK)


async def scenario(
    rate_headers: bool, shape: Callable[[Call], Awaitable[float]], rounds: int
) -> dict[str, float]:
    calls, closers = variants(event_body(), rate_headers)
    for call in calls.values():  # warm up (and log in)
        for _ in range(200):
            await call(0)
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(rounds):
        for name, call in calls.items():
            best[name] = min(best[name], await shape(call))
    for closer in closers:
        await closer.aclose()
    return best


async def main() -> None:
    print(
        f"# Per-call overhead (Python {sys.version.split()[0]}, asyncio, CPU µs per call, "
        "best of 10 sequential rounds of 500 calls / 2 concurrent rounds of 5,000)\n"
    )
    print(
        "| headers | shape | raw µs/call | ours µs/call | stack µs/call | ours / raw "
        "| ours / stack | target | coalesce=False µs/call | its / raw |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---|---:|---:|")
    for rate_headers in (False, True):
        for label, shape in (("sequential", sequential), ("100 tasks × 50", concurrent)):
            best = await scenario(rate_headers, shape, ROUNDS[label])
            raw, ours, alone, stack = (best[k] * 1e6 for k in best)
            ratio = ours / raw
            verdict = "met" if ratio <= TARGET else "MISSED"
            print(
                f"| {'X-Rate-Limit-*' if rate_headers else 'none'} | {label} | {raw:.1f} | {ours:.1f} "
                f"| {stack:.1f} | {ratio:.2f}× | {ours / stack:.2f}× | ≤ {TARGET:.2f}× {verdict} "
                f"| {alone:.1f} | {alone / raw:.2f}× |"
            )


async def breakdown() -> None:
    """The parts of one call, each timed alone (sequential, no rate headers).

    Each row adds one layer to the row above it where it can (the differences are what
    a layer costs); private parts are reached through the client's resources.
    """
    from planner_async import _json
    from planner_async._call import DEFAULT_OPTIONS
    from planner_async._call import Call as ApiCall
    from planner_async._serialization import structure_event
    from planner_async._wire import send_once

    body = event_body()
    calls, closers = variants(body, False)
    http, client = closers[1], closers[3]
    url = f"{BASE}/api/v2/events/{EVENT_ID}"
    path = f"/events/{EVENT_ID}"
    limiter = client._res.limiter
    uncoalesced = client.with_options(coalesce=False)
    caller = uncoalesced._api
    data = json.loads(body)

    async def build(_: int = 0) -> Any:
        return http.build_request("GET", url)

    async def plain_send(_: int = 0) -> Any:
        return _json.loads((await http.send(http.build_request("GET", url))).content)

    async def wire(_: int = 0) -> Any:  # the I/O step: stream, cap, whole-answer deadline
        request = http.build_request("GET", url)
        return _json.loads((await send_once(http, request, deadline=30.0)).content)

    async def permit(_: int = 0) -> None:
        async with limiter.acquire(max_wait=None) as held:
            held.complete()

    async def token(_: int = 0) -> Any:
        return await client._res.tokens.token()

    async def structure(_: int = 0) -> Any:
        return structure_event(data)

    async def sender(_: int = 0) -> Any:
        return await caller.sender.send(ApiCall("GET", path, None, None, DEFAULT_OPTIONS))

    async def api(_: int = 0) -> Any:
        return await caller.api("GET", path)

    async def no_coalesce(n: int = 0) -> Any:
        return await uncoalesced.events.get(EVENT_ID + n)

    parts = {
        "raw httpx get + .json()": calls["raw httpx"],
        "http.build_request alone": build,
        "http.send + json (no stream)": plain_send,
        "_wire.send_once + json": wire,
        "quota permit (acquire + complete)": permit,
        "token()": token,
        "structure_event": structure,
        "Sender.send (permit, token, build, send, decide)": sender,
        "+ ApiCaller.api (life cycle; coalesce=False)": api,
        "+ events.get (checks, structure; coalesce=False)": no_coalesce,
        "full events.get (coalescing on, the default)": calls["planner_async"],
    }
    best = await best_of(parts)
    print("\n## Where the time goes (sequential, no rate headers, each part alone)\n")
    print("| part | CPU µs/call | vs raw |")
    print("|---|---:|---:|")
    raw = best["raw httpx get + .json()"]
    for name, seconds in best.items():
        print(f"| {name} | {seconds * 1e6:.1f} | {seconds / raw:.2f}× |")
    for closer in closers:
        await closer.aclose()


async def floor() -> None:
    """The layers of one call timed cumulatively, each row a whole call with one more layer.

    A part timed alone (see :func:`breakdown`) runs hot in the caches; inside a call it
    costs more, so this is the honest sum: what the client must do at least, then the rest.
    """
    from planner_async import _json
    from planner_async._call import DEFAULT_OPTIONS
    from planner_async._call import Call as ApiCall
    from planner_async._serialization import structure_event
    from planner_async._wire import send_once

    calls, closers = variants(event_body(), False)
    http, client = closers[1], closers[3]
    uncoalesced = client.with_options(coalesce=False)
    limiter, tokens = client._res.limiter, client._res.tokens
    url = f"{BASE}/api/v2/events/{EVENT_ID}"
    timeout = http.timeout.as_dict()

    async def io(token: str = "t") -> Any:  # what any client must do: a token, a capped read
        request = http.build_request("GET", url, extensions={"timeout": timeout})
        request.headers["Authorization"] = f"Bearer {token}"
        return _json.loads((await send_once(http, request, deadline=30.0)).content)

    async def permit(_: int = 0) -> Any:
        async with limiter.acquire(max_wait=None):
            return await io()

    async def token(_: int = 0) -> Any:
        async with limiter.acquire(max_wait=None):
            return await io(await tokens.token())

    async def structured(_: int = 0) -> Any:
        return structure_event(await token())

    async def sender(_: int = 0) -> Any:
        call = ApiCall("GET", f"/events/{EVENT_ID}", None, None, DEFAULT_OPTIONS)
        return structure_event(await uncoalesced._api.sender.send(call))

    async def plain(_: int = 0) -> Any:
        return await io()

    parts = {
        "raw httpx get + .json()": calls["raw httpx"],
        "the I/O: build (token header), send_once, json": plain,
        "+ quota permit": permit,
        "+ token()": token,
        "+ structure_event = the floor": structured,
        "Sender.send + structure (retry loop, telemetry, rate headers)": sender,
        "events.get, coalesce=False (life cycle, checks)": calls["planner_async, coalesce=False"],
        "events.get (default: coalescing flight)": calls["planner_async"],
    }
    best = await best_of(parts)
    print("\n## The floor (sequential, no rate headers, layers added one by one)\n")
    print("| layers, cumulative (each timed as a whole call) | CPU µs/call | vs raw | step |")
    print("|---|---:|---:|---:|")
    raw, previous = best["raw httpx get + .json()"], None
    for name, seconds in best.items():
        step = "" if previous is None else f"{(seconds - previous) * 1e6:+.1f}"
        print(f"| {name} | {seconds * 1e6:.1f} | {seconds / raw:.2f}× | {step} |")
        previous = seconds
    for closer in closers:
        await closer.aclose()


SERVER = """
import asyncio, sys
event, login = bytes.fromhex(sys.argv[1]), bytes.fromhex(sys.argv[2])
def answer(body):
    head = b"HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\nContent-Length: %d\\r\\n\\r\\n"
    return head % len(body) + body
async def serve(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\\r\\n\\r\\n")
            length = 0
            for line in head.split(b"\\r\\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if length:
                await reader.readexactly(length)
            writer.write(answer(login if head.startswith(b"POST") else event))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()
asyncio.run(main())
"""


def over_sockets() -> None:
    """The same calls over real sockets to a local server in another process (its CPU is
    not counted): the loop waits on I/O as it would in production."""
    import subprocess

    body = event_body()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, body.hex(), login_body().hex()],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        asyncio.run(_socket_rounds(body, f"http://127.0.0.1:{port}"))
    finally:
        server.terminate()
        server.wait()


async def _socket_rounds(body: bytes, server: str) -> None:
    calls, closers = variants(body, False, server=server)
    for call in calls.values():  # warm up (and log in)
        for _ in range(200):
            await call(0)
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(ROUNDS["sequential"]):
        for name, call in calls.items():
            best[name] = min(best[name], await sequential(call))
    print("\n## Over a local socket (sequential, no rate headers; client CPU only)\n")
    print("| variant | CPU µs/call | vs raw |")
    print("|---|---:|---:|")
    for name, seconds in best.items():
        print(f"| {name} | {seconds * 1e6:.1f} | {seconds / best['raw httpx']:.2f}× |")
    for closer in closers:
        await closer.aclose()


if __name__ == "__main__":
    if "--socket" in sys.argv:
        over_sockets()
        sys.exit()
    asyncio.run(main())
    asyncio.run(breakdown())
    asyncio.run(floor())
