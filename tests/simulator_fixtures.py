"""pytest fixtures for the simulator (test code: the simulator itself imports no pytest).

Enabled by ``tests/conftest.py`` (``pytest_plugins = ["tests.simulator_fixtures"]``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from uniware_simulator.presets import TEST_NOW, fast_config
from uniware_simulator.server import UniwareSimulator

__all__ = ["TEST_NOW", "fast_config", "uniware_simulator"]

@pytest.fixture
def uniware_simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UniwareSimulator]:
    """A running simulator with test defaults; `.base_url` is what the connector points to."""
    with UniwareSimulator(fast_config(files_dir=tmp_path_factory.mktemp("sim-files"))) as sim:
        yield sim
