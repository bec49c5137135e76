"""``import planner_async`` against ``import httpx``: wall time of fresh interpreters.

Issue 13 item 7 (target: planner_async ≤ 1.3× httpx). Each round starts one interpreter per
module, alternating, and times it from start to exit (``-c "import X"``); the medians of
the rounds are compared. ``python -X importtime -c "import planner_async"`` shows where the
time goes.

Run: ``.venv/bin/python benchmarks/import_time.py`` (about 10 seconds).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

ROUNDS = 15
TARGET = 1.3
MODULES = ["httpx", "planner_async", "planner_async.fastapi"]


def once(module: str) -> float:
    """Seconds for a fresh interpreter to import ``module`` and exit."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
    return time.perf_counter() - started


def main() -> None:
    """Print a Markdown table of medians, with the ratio against httpx."""
    once("planner_async")  # warm the bytecode caches
    times: dict[str, list[float]] = {module: [] for module in MODULES}
    times["(bare interpreter)"] = []
    for _ in range(ROUNDS):
        for module in MODULES:
            times[module].append(once(module))
        times["(bare interpreter)"].append(once("sys"))
    bare = statistics.median(times.pop("(bare interpreter)"))
    httpx = statistics.median(times["httpx"]) - bare
    print(
        f"## Import time (median of {ROUNDS} fresh interpreters, bare start {bare * 1e3:.0f} ms)\n"
    )
    print("| import | ms (minus bare start) | ÷ httpx |")
    print("|---|---:|---:|")
    for module, samples in times.items():
        ms = statistics.median(samples) - bare
        print(f"| `import {module}` | {ms * 1e3:.0f} | {ms / httpx:.2f}× |")
    ours = (statistics.median(times["planner_async"]) - bare) / httpx
    print(f"\nTarget ≤ {TARGET}× httpx: {ours:.2f}× — {'met' if ours <= TARGET else 'MISSED'}.")


if __name__ == "__main__":
    main()
