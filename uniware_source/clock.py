"""Time as the connector sees it: injectable, so tests never sleep."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Optional, Protocol, Union


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware."""

    def monotonic(self) -> float:
        """Seconds for measuring durations and deadlines."""

    def sleep(self, seconds: float, stop: Optional[threading.Event] = None) -> bool:
        """Wait; returns False when `stop` was set before the time was up."""


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float, stop: Optional[threading.Event] = None) -> bool:
        if stop is None:
            time.sleep(max(0.0, seconds))
            return True
        return not stop.wait(max(0.0, seconds))


class ManualClock:
    """A clock whose waits return at once and move its time forward instead.

    `now` is fixed (and moved by sleeps) or follows a callable, such as a simulator's clock.
    """

    def __init__(self, now: Union[datetime, Callable[[], datetime], None] = None) -> None:
        self._source = now if callable(now) else None
        self._fixed = now if isinstance(now, datetime) else datetime.now(UTC)
        self._elapsed = 0.0
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        with self._lock:
            base = self._source() if self._source is not None else self._fixed
            return base + (timedelta(0) if self._source is not None else timedelta(seconds=self._elapsed))

    def monotonic(self) -> float:
        with self._lock:
            return self._elapsed

    def sleep(self, seconds: float, stop: Optional[threading.Event] = None) -> bool:
        if stop is not None and stop.is_set():
            return False
        with self._lock:
            # at least a microsecond: a wait for what is left of a deadline can be too small to move a float
            # clock (4.4e-16 s beside 4.06 s), and a loop waiting for that deadline would never reach it
            self._elapsed += max(1e-6, seconds) if seconds > 0 else 0.0
            self.sleeps.append(seconds)
        time.sleep(0)  # let other threads run, as a real wait would
        return True

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._elapsed += seconds
