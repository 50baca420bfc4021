"""Ready-made simulator configurations for tests and benchmarks."""

from __future__ import annotations

from datetime import UTC, datetime

from .jobs import JobTiming
from .server import SimulatorConfig

# A fixed simulated 'now' keeps every test's data identical from run to run.
TEST_NOW = datetime(2026, 4, 16, 6, 30, tzinfo=UTC)


def fast_config(**overrides: object) -> SimulatorConfig:
    """A fixed clock, jobs that finish in exactly three polls, files written when the job is created
    (so no poll races the file generation)."""
    defaults: dict[str, object] = {
        "start": TEST_NOW,
        "synchronous_exports": True,
        "timing": JobTiming(seconds_per_status=(0.0, 0.0), min_polls_per_status=1),
    }
    defaults.update(overrides)
    return SimulatorConfig(**defaults)  # type: ignore[arg-type]
