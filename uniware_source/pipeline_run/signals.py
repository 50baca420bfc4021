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
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Optional


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM."""

    def __init__(self) -> None:
        super().__init__("terminated (SIGTERM)")


def _raise_terminated(signum: int, frame: Optional[FrameType]) -> None:
    # once: a second SIGTERM must not break off the clean-up the first one started
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated()


def interrupt_for(code: int) -> KeyboardInterrupt:
    """The exception for a signal dlt intercepted (SignalReceivedException.signal_code)."""
    return Terminated() if code == signal.SIGTERM else KeyboardInterrupt()


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
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
