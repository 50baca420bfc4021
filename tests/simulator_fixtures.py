"""pytest fixtures for the simulator (test code: the simulator itself imports no pytest).

Enabled by ``tests/conftest.py`` (``pytest_plugins = ["tests.simulator_fixtures"]``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from uniware_simulator.presets import TEST_NOW, fast_config
from uniware_simulator.server import UniwareSimulator

__all__ = ["TEST_NOW", "fast_config", "sim", "simulator_settings_in_env", "uniware_simulator"]


@pytest.fixture
def uniware_simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UniwareSimulator]:
    """A running simulator with test defaults; `.base_url` is what the connector points to."""
    with UniwareSimulator(fast_config(files_dir=tmp_path_factory.mktemp("sim-files"))) as sim:
        yield sim


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[UniwareSimulator]:
    """A simulator of the test's own, its files under the test's `tmp_path`."""
    with UniwareSimulator(fast_config(files_dir=tmp_path / "sim")) as simulator:
        yield simulator


def simulator_settings_in_env(sim: UniwareSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              cleared: tuple[str, ...] = ("SOURCES__UNIWARE__",)) -> dict[str, str]:
    """The simulator's address and credentials, fast polling and `tmp_path` as download dir in the environment
    as SOURCES__UNIWARE__... (variables starting with `cleared` removed first), run from `tmp_path`."""
    for name in [k for k in os.environ if k.startswith(cleared)]:
        monkeypatch.delenv(name)
    values = {"BASE_URL": sim.base_url, "USERNAME": sim.config.username, "PASSWORD": sim.config.password,
              "POLL_INITIAL_SECONDS": "0.01", "POLL_MAX_SECONDS": "0.05", "REQUEST_BACKOFF_FACTOR": "0.01",
              "DOWNLOAD_DIR": str(tmp_path)}
    for key, value in values.items():
        monkeypatch.setenv(f"SOURCES__UNIWARE__{key}", value)
    monkeypatch.chdir(tmp_path)
    return {f"SOURCES__UNIWARE__{k}": v for k, v in values.items()}
