"""Shared fixtures: the simulator (tests/simulator_fixtures.py) and a PostgreSQL schema (tests/postgres.py)."""

import os
import signal
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


@pytest.fixture(autouse=True)
def signal_handlers_given_back() -> Iterator[None]:
    """A test that installs a SIGINT or SIGTERM handler (a run does, the signal tests do) leaves the
    process's handlers as it found them, so a later test is not interrupted by an earlier one's."""
    before = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    yield
    for number, handler in before.items():
        if signal.getsignal(number) is not handler and handler is not None:
            signal.signal(number, handler)
