"""``overhead.py``'s table under one OpenTelemetry setting, with few rounds.

Run: ``.venv/bin/python benchmarks/otel_overhead.py MODE`` where MODE is

* ``absent``: OpenTelemetry cannot be imported (as if not installed);
* ``imported``: ``opentelemetry.trace`` imported, no tracer provider set;
* ``provider``: the SDK's tracer and meter providers set (spans recorded, not exported).

Each run takes about 15 seconds (4 sequential rounds of 500 calls, 1 concurrent round).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path


def setup(mode: str) -> None:
    """Make OpenTelemetry absent, merely imported, or configured with the SDK."""
    if mode == "absent":
        for name in ("opentelemetry", "opentelemetry.trace", "opentelemetry.metrics"):
            sys.modules[name] = None  # type: ignore[assignment]  # import fails
    elif mode == "imported":
        import opentelemetry.trace  # noqa: F401
    elif mode == "provider":
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider

        trace.set_tracer_provider(TracerProvider())
        metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    else:
        raise SystemExit(f"MODE must be absent, imported or provider, not {mode!r}")


def main() -> None:
    """Set OpenTelemetry up as asked, then print overhead.py's table."""
    mode = sys.argv[1] if len(sys.argv) > 1 else "absent"
    setup(mode)
    sys.path.insert(0, str(Path(__file__).parent))
    import overhead

    overhead.ROUNDS = {"sequential": 4, "100 tasks × 50": 1}
    print(f"OpenTelemetry: {mode} (table header's round counts: 4 sequential, 1 concurrent)")
    asyncio.run(overhead.main())


if __name__ == "__main__":
    main()
