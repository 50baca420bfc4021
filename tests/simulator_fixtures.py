"""pytest fixtures for the simulator (test code: the simulator itself imports no pytest).

Enabled by ``tests/conftest.py`` (``pytest_plugins = ["tests.simulator_fixtures"]``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from uniware_simulator.jobs import JobTiming
from uniware_simulator.server import SimulatorConfig, UniwareSimulator

# A fixed simulated 'now' keeps every test's data identical from run to run.
TEST_NOW = datetime(2026, 4, 16, 6, 30, tzinfo=UTC)


def fast_config(**overrides: object) -> SimulatorConfig:
    """A simulator config for tests: fixed clock, jobs that finish in exactly three polls (their files
    are written when they are created, so no poll races the file generation)."""
    defaults: dict[str, object] = {
        "start": TEST_NOW,
        "synchronous_exports": True,
        "timing": JobTiming(seconds_per_status=(0.0, 0.0), min_polls_per_status=1),
    }
    defaults.update(overrides)
    return SimulatorConfig(**defaults)  # type: ignore[arg-type]


@pytest.fixture
def uniware_simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UniwareSimulator]:
    """A running simulator with test defaults; `.base_url` is what the connector points to."""
    with UniwareSimulator(fast_config(files_dir=tmp_path_factory.mktemp("sim-files"))) as sim:
        yield sim
