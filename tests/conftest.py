"""Shared fixtures: the simulator (tests/simulator_fixtures.py) and a PostgreSQL schema (tests/postgres.py)."""

import logging
import os
import signal
import sys
from collections.abc import Iterator

import pytest

from uniware_source.runtime import forget_tokens

pytest_plugins = ["tests.simulator_fixtures", "tests.postgres"]

# dlt's anonymous telemetry would try to reach the internet on every run of every test.
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")


class _CurrentStderr:
    """Writes to whatever sys.stderr is now (pytest swaps it per test for capsys)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


# A suite started in the background of a shell without job control inherits SIGINT ignored, and so
# would every pipeline process a test starts: the tests of Ctrl-C would then test nothing. SIGINT gets
# Python's own handler back, as an interactive start has it (and children then start with the default).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# dlt's logger keeps the handler it finds (or makes one on the sys.stderr of its first run): one that
# follows sys.stderr, so a test that runs first does not leave dlt writing to its closed capture
logging.getLogger("dlt").addHandler(logging.StreamHandler(_CurrentStderr()))


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
