"""Signals during a step that must not stop halfway wait for its end; an interrupted DuckDB query is
still the interrupt it was."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import duckdb
import pytest

from uniware_source.pipeline_run.resumable import _interrupted_query
from uniware_source.pipeline_run.signals import Terminated, signals_deferred, sigterm_interrupts


@pytest.fixture
def default_sigterm() -> Iterator[None]:
    """SIGTERM at its default, as in a fresh process (an earlier test may have installed a handler)."""
    original = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    signal.signal(signal.SIGTERM, original)


@pytest.mark.parametrize("number, interrupt", [(signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, Terminated)])
def test_a_signal_inside_a_deferred_block_is_raised_when_the_block_ends(
        number: int, interrupt: type[BaseException], default_sigterm: None) -> None:
    finished = []
    # any interrupt is caught here: one that escaped would end the whole test session
    with pytest.raises(KeyboardInterrupt) as raised, sigterm_interrupts(), signals_deferred():
        signal.raise_signal(number)
        finished.append("the block ran to its end")
    assert type(raised.value) is interrupt
    assert finished == ["the block ran to its end"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_block_without_a_signal_changes_nothing() -> None:
    with signals_deferred():
        pass
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_signal_the_process_ignores_stays_ignored_in_a_deferred_block() -> None:
    """A run started with SIGINT ignored (a background job of a non-interactive shell): the SIGINT was
    noted in the submit step, which stopped making jobs, and the run ended failed (red team helper 114)."""
    noticed: list[str] = []
    original = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with signals_deferred(on_first=lambda: noticed.append("stopping")):
            signal.raise_signal(signal.SIGINT)
        assert noticed == [] and signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, original)


def test_duckdb_breaking_off_a_query_for_a_signal_is_recognised() -> None:
    assert _interrupted_query(RuntimeError("Query interrupted"))
    assert _interrupted_query(duckdb.InterruptException("INTERRUPT Error: Interrupted!"))
    assert not _interrupted_query(RuntimeError("Catalog Error: Table does not exist"))
    assert not _interrupted_query(None)
