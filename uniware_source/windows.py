"""Date windows of incremental and backfill exports. Windows are half-open: [start, end)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from .errors import ConfigError

IST = timezone(timedelta(hours=5, minutes=30), "IST")


@dataclass(frozen=True, order=True)
class Window:
    start: datetime
    end: datetime

    def as_filter(self, filter_id: str) -> dict[str, object]:
        """The export filter for this window: epoch milliseconds, end inclusive as Uniware wants."""
        return {"id": filter_id, "dateRange": {"start": to_epoch_ms(self.start), "end": to_epoch_ms(self.end) - 1}}

    def label(self) -> str:
        return f"{self.start.astimezone(IST):%Y-%m-%d %H:%M} to {self.end.astimezone(IST):%Y-%m-%d %H:%M} IST"


def to_epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def cut_windows(start: datetime, end: datetime, size: timedelta, min_size: timedelta = timedelta(0),
                join_short: bool = False) -> list[Window]:
    """[start, end) cut into consecutive windows of at most `size`. A last window shorter than
    `min_size` is dropped (it waits for a later run), or with `join_short` joined to the window
    before it (a lone short window is kept: it is all there is)."""
    windows = []
    cursor = start
    while cursor < end:
        upper = min(cursor + size, end)
        windows.append(Window(cursor, upper))
        cursor = upper
    if windows and windows[-1].end - windows[-1].start < min_size:
        short = windows.pop()
        if join_short:
            windows.append(Window(windows.pop().start, short.end) if windows else short)
    return windows


def uncovered(span: Window, covering: Iterable[Window]) -> list[Window]:
    """The parts of `span` that none of `covering` overlaps, in order."""
    parts = []
    start = span.start
    for window in sorted(covering, key=lambda w: w.start):
        if window.start > start:
            parts.append(Window(start, min(window.start, span.end)))
        start = max(start, window.end)
        if start >= span.end:
            break
    if start < span.end:
        parts.append(Window(start, span.end))
    return [part for part in parts if part.start < part.end]


def parse_user_datetime(setting: str, text: str) -> datetime:
    """A date or datetime from configuration or the command line.

    Dates and naive datetimes are India time, like everything in Uniware; an explicit offset or Z
    is honoured. Returned in UTC.
    """
    value = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        value += "T00:00:00"
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(setting, f"expected a date (2026-04-01) or ISO datetime, got {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=IST)
    return moment.astimezone(UTC)


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


def to_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def shown_time(moment: datetime) -> str:
    """A moment as messages show it to a user: India time, like the dates they configure."""
    return f"{moment.astimezone(IST):%Y-%m-%d %H:%M} IST"
