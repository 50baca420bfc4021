"""SIGTERM (what orchestrators and container runtimes send) stops a run the way Ctrl-C does.

Python turns SIGINT into KeyboardInterrupt; SIGTERM kills the process outright, so no `finally`
runs: partial downloads stay on disk and nothing says why. While a run is under way, SIGTERM
raises `Terminated` (a KeyboardInterrupt) in the main thread instead, so the same clean-up runs:
the collector stops its workers and deletes its files, dlt keeps what was committed, the next
run resumes the same jobs. The pipeline script exits 143 for it (130 for SIGINT).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Optional


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM."""

    def __init__(self) -> None:
        super().__init__("terminated (SIGTERM)")


_received: list[int] = []  # SIGTERMs this process turned into Terminated


def _raise_terminated(signum: int, frame: Optional[FrameType]) -> None:
    # once: a second SIGTERM must not break off the clean-up the first one started
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _received.append(signum)
    raise Terminated()


def interrupt_for(code: int) -> KeyboardInterrupt:
    """The exception for a signal dlt intercepted (SignalReceivedException.signal_code)."""
    return Terminated() if code == signal.SIGTERM else KeyboardInterrupt()


def interrupt_of_a_query() -> KeyboardInterrupt:
    """The interrupt a query broke off with (DuckDB turns the signal into its own error)."""
    return Terminated() if signal.SIGTERM in _received else KeyboardInterrupt()


@contextmanager
def signals_deferred(on_first: Optional[Callable[[], None]] = None) -> Iterator[None]:
    """While the block runs, SIGINT and SIGTERM are noted, not acted on (`on_first` is called at the
    first); the first is delivered again when the block ends. For steps that must not stop halfway:
    dlt's normalize commits a package by moving and deleting folders, and a package left half-moved
    fails every later run; the submit step commits the job codes it made."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    noted: list[int] = []

    def note(signum: int, frame: Optional[FrameType]) -> None:
        if not noted and on_first is not None:
            on_first()
        noted.append(signum)

    # a signal the process ignores (SIGINT of a job a non-interactive shell started in the background) stays
    # ignored: noted, it stopped the submit step halfway and ended the run as failed
    previous = {number: handler for number in (signal.SIGINT, signal.SIGTERM)
                if (handler := signal.getsignal(number)) is not signal.SIG_IGN}
    for number in previous:
        signal.signal(number, note)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if noted:
            signal.raise_signal(noted[0])  # as if it came now: KeyboardInterrupt, Terminated, or ignored


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """While the block runs, SIGTERM raises Terminated in the main thread; the previous handler
    comes back afterwards. Left alone off the main thread (signals cannot be handled there) and when
    the application has its own SIGTERM handler (it decides what SIGTERM means)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_DFL:  # ours already (nested), ignored, or the application's own
        yield
        return
    _received.clear()  # a SIGTERM of an earlier run in this process says nothing of this one
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
