"""Shared fixtures: the simulator (tests/simulator_fixtures.py) and a PostgreSQL schema (tests/postgres.py)."""

import os
from collections.abc import Iterator

import pytest

from uniware_source.runtime import forget_tokens

pytest_plugins = ["tests.simulator_fixtures", "tests.postgres"]

# dlt's anonymous telemetry would try to reach the internet on every run of every test.
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")


@pytest.fixture(autouse=True)
def fresh_sign_in() -> Iterator[None]:
    """Each test signs in to its own simulator: a token cached for an earlier simulator that had the
    same port would cost a 401 and an extra request the test did not expect."""
    forget_tokens()
    yield
    forget_tokens()
