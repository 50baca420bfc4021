"""Signals during a step that must not stop halfway wait for its end; an interrupted DuckDB query is
still the interrupt it was."""

from __future__ import annotations

import signal

import duckdb
import pytest

from uniware_source.pipeline_run.resumable import _interrupted_query
from uniware_source.pipeline_run.signals import Terminated, signals_deferred, sigterm_interrupts


@pytest.mark.parametrize("number, interrupt", [(signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, Terminated)])
def test_a_signal_inside_a_deferred_block_is_raised_when_the_block_ends(number: int,
                                                                        interrupt: type[BaseException]) -> None:
    finished = []
    with sigterm_interrupts(), pytest.raises(interrupt), signals_deferred():
        signal.raise_signal(number)
        finished.append("the block ran to its end")
    assert finished == ["the block ran to its end"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_block_without_a_signal_changes_nothing() -> None:
    with signals_deferred():
        pass
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_duckdb_breaking_off_a_query_for_a_signal_is_recognised() -> None:
    assert _interrupted_query(RuntimeError("Query interrupted"))
    assert _interrupted_query(duckdb.InterruptException("INTERRUPT Error: Interrupted!"))
    assert not _interrupted_query(RuntimeError("Catalog Error: Table does not exist"))
    assert not _interrupted_query(None)
