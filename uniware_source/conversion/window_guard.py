"""The window guard: notice a windowed export whose file holds rows far outside its date window.

Uniware has been seen silently ignoring a filter id it does not know (uniware-api.md): the job then
exports the report's whole history, and nothing else tells. Every windowed export knows which
column its date filter filters on (`ExportSpec.window_column`, a header label); while a file
converts, the earliest and latest value of that column are kept (one min/max per chunk), and a file
whose dates reach beyond the window by more than `WINDOW_SLACK` on either side is reported with the
filter id, the report and the dates the file holds. Rows without a date are ignored.

A file with dated rows none of which falls in its window is reported the same way when no slack
explains it, though another window's file passes the slack check (a file host serving each job the
file of the window before or after: the windows' own rows never load): every row before the minute
the window starts (the day before, for a column of dates), which nothing explains (a time without
seconds moves back less than a minute); or every row after the window's end with the earliest one
from before the job was made (less `MADE_MARGIN`): a row updated after Uniware's query shows a later
`Updated`, but never one from before the query.

`on_window_violation = "fail"` (the default) fails the job like a bad file: nothing is loaded, the
cursor stays, the window is exported again next run, and the run ends with exit 1 naming the filter.
`"warn"` loads the rows and puts the warning in the log and the job's LOADED history row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Optional, Union

import pyarrow as pa
import pyarrow.compute as pc

from ..catalog import CATALOG, DATE, TEXT, TIMESTAMP, ExportSpec
from ..windows import IST, shown_time
from .arrow_types import to_timestamp

log = logging.getLogger(__name__)

# Timestamps are India time without a zone; a row can be updated between Uniware's query and the
# file being written, and a `dd-mm-yyyy HH:MM` value drops its seconds. A day either side absorbs
# all of that (and a file written in another zone), while an ignored filter shows rows weeks or
# months away: the field's tenants export months of history.
WINDOW_SLACK = timedelta(days=1)

# the clocks of the connector and Uniware may differ: a row from this long before the job was made still
# counts as possibly updated after Uniware's query
MADE_MARGIN = timedelta(minutes=30)

FAIL = "fail"
WARN = "warn"

Moment = Union[datetime, date]


class DateSpan:
    """Earliest and latest date of one column over the chunks of a file (nulls ignored)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.low: Optional[datetime] = None
        self.high: Optional[datetime] = None
        self.undated: Optional[str] = None  # the first value that is no date, while none was one
        self.by_day = False  # dates without a time: a value stands for the whole India day

    def add(self, values: Union[pa.Array, pa.ChunkedArray], kind: str) -> None:
        given = values
        if kind == TEXT:  # a configured column left untyped: read its dates just for the guard
            chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
            values = pa.chunked_array([to_timestamp(c).values for c in chunks], type=pa.timestamp("us", tz="UTC"))
        elif kind not in (TIMESTAMP, DATE):
            values = pa.nulls(len(values), pa.timestamp("us", tz="UTC"))
        self.by_day = kind == DATE
        if self.undated is None and self.low is None and len(values) == values.null_count:
            self.undated = _first_value(given)
        if len(values) == values.null_count:
            return
        extremes = pc.min_max(values)
        low, high = _moment(extremes["min"].as_py()), _moment(extremes["max"].as_py())
        if low is None or high is None:
            return
        self.low = low if self.low is None else min(self.low, low)
        self.high = high if self.high is None else max(self.high, high)

    @property
    def span(self) -> Optional[tuple[datetime, datetime]]:
        if self.low is None or self.high is None:
            return None
        return self.low, self.high

    @property
    def latest(self) -> Optional[datetime]:
        """The latest instant a row's value stands for (the end of its day, for a column of dates)."""
        if self.high is None:
            return None
        return self.high + timedelta(days=1) - timedelta(microseconds=1) if self.by_day else self.high

    @property
    def no_dates(self) -> Optional[str]:
        """A value of the column when it holds values but not one date (a column that is no date at all:
        the guard could not tell an ignored filter), else None."""
        return self.undated if self.low is None else None


def _first_value(values: Union[pa.Array, pa.ChunkedArray]) -> Optional[str]:
    """The first value that is not null or blank, as text."""
    text = pc.utf8_trim_whitespace(pc.cast(values, pa.string()))
    present = pc.and_(pc.is_valid(text), pc.invert(pc.is_in(text, pa.array(["", "NA"]))))  # NA: a blank too
    if not pc.any(present).as_py():
        return None
    return str(pc.filter(text, present)[0].as_py())


def _moment(value: Optional[Moment]) -> Optional[datetime]:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, time(0), IST)  # a date column: India days


@dataclass(frozen=True)
class Violation:
    message: str
    fail: bool


def check(spec: ExportSpec, window_start: Optional[datetime], window_end: Optional[datetime],
          span: Optional[tuple[datetime, datetime]], policy: str,
          no_dates: Optional[str] = None, latest: Optional[datetime] = None,
          made_at: Optional[datetime] = None) -> Optional[Violation]:
    """A Violation when the file's dates reach beyond [start - slack, end + slack], or all fall before the
    window (`latest`: the latest instant a row stands for; the span's end when not given), or all after it
    though the earliest is from before the job was made (`made_at`), or its window column holds values but
    no date (`no_dates`: one of them); None otherwise (also for snapshots, `job_codes` jobs, files without
    rows or values in the column, and exports without a column)."""
    if window_start is None or window_end is None or not spec.date_filter:
        return None
    if span is None and no_dates is not None:
        message = (f"the window check's column '{spec.window_column}' holds no date (no value reads as one in the "
                   f"formats known, e.g. {no_dates[:40]!r}), so whether Uniware applied filter id "
                   f"`{spec.date_filter}` cannot be told")
        return _violation(message, policy, "window_column", "Set the export's 'window_column' to the date column "
                          "that filter filters on (or to '' to turn the check off for the export, or "
                          "on_window_violation='warn' to load such files)")
    if span is None:
        return None
    low, high = span
    before = (latest or high) < window_start.replace(second=0, microsecond=0)
    after = low > window_end and made_at is not None and low < made_at - MADE_MARGIN
    within = low >= window_start - WINDOW_SLACK and high <= window_end + WINDOW_SLACK
    if within and not (before or after):
        return None
    if within:
        side = "before" if before else "after (from before the job was made, so not rows updated since)"
        message = (f"no row of the file falls in its window: its rows run from {shown_time(low)} to "
                   f"{shown_time(high)} ('{spec.window_column}'), all {side} the window asked for, "
                   f"{shown_time(window_start)} to {shown_time(window_end)} (another window's file, or filter id "
                   f"`{spec.date_filter}` not applied as asked)")
        return _violation(message, policy, "date_filter", "If the file host serves each job its own file, check "
                          "the export's 'date_filter' and 'window_column' (or set on_window_violation='warn' to "
                          "load such files)")
    message = (f"filter id `{spec.date_filter}` seems ignored by Uniware for report `{spec.name}`: the file holds "
               f"rows from {shown_time(low)} to {shown_time(high)} ('{spec.window_column}'), the window asked for is "
               f"{shown_time(window_start)} to {shown_time(window_end)} (a day of slack either side)")
    catalogs = CATALOG[spec.name].date_filter if spec.name in CATALOG else None  # a report of one filter: that one
    others = sorted((set(spec.window_columns_by_filter) | ({catalogs} if catalogs else set())) - {spec.date_filter})
    known = f" (the catalog also knows {', '.join(repr(f) for f in others)} for this report)" if others else ""
    return _violation(message, policy, "date_filter", f"Set the export's 'date_filter' to a filter id the report "
                      f"knows{known} (or its 'window_column' to the column that filter filters on, or "
                      "on_window_violation='warn' to load such files)")


def _violation(message: str, policy: str, setting: str, fix: str) -> Violation:
    """A finding as the policy has it: loaded with a warning naming the setting to check, or refused with `fix`."""
    if policy == WARN:
        return Violation(f"{message}; loaded anyway (on_window_violation='warn'). Check the export's '{setting}'",
                         fail=False)
    return Violation(f"{message}; nothing loaded, the window is exported again next run. {fix}", fail=True)
