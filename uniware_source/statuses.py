"""Every status in one place, as data: Uniware's job statuses and what they mean, the outcome of
seeing a job through, the statuses of the `export_job_status` history, and the kinds of ledger entries.

Check `MEANING` against ../shared/uniware-api.md: a status not in it is pending (logged once).
"""

from __future__ import annotations

from enum import StrEnum


class Meaning(StrEnum):
    """What a Uniware job status says about the job."""

    PENDING = "pending"
    DONE = "done"  # with a filePath: a file to load; without one: an empty export after a grace period
    FAILED = "failed"  # the job is dead: its window gets a new job next run


class UniwareStatus(StrEnum):
    """The statuses `export/job/status` answers (seen in the field or documented)."""

    CREATED = "CREATED"
    SCHEDULED = "SCHEDULED"
    QUEUED = "QUEUED"
    IN_PROGRESS = "IN_PROGRESS"
    PROCESSING = "PROCESSING"
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    COMPLETED = "COMPLETED"
    SUCCESSFUL = "SUCCESSFUL"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    CANCELED = "CANCELED"
    ERROR = "ERROR"


# Uniware status -> meaning. Anything else is pending (see `meaning_of`).
MEANING: dict[UniwareStatus, Meaning] = {
    UniwareStatus.CREATED: Meaning.PENDING,
    UniwareStatus.SCHEDULED: Meaning.PENDING,
    UniwareStatus.QUEUED: Meaning.PENDING,
    UniwareStatus.IN_PROGRESS: Meaning.PENDING,
    UniwareStatus.PROCESSING: Meaning.PENDING,
    UniwareStatus.RUNNING: Meaning.PENDING,
    UniwareStatus.COMPLETE: Meaning.DONE,
    UniwareStatus.COMPLETED: Meaning.DONE,
    UniwareStatus.SUCCESSFUL: Meaning.DONE,
    UniwareStatus.SUCCESS: Meaning.DONE,
    UniwareStatus.FAILED: Meaning.FAILED,
    UniwareStatus.CANCELLED: Meaning.FAILED,
    UniwareStatus.CANCELED: Meaning.FAILED,
    UniwareStatus.ERROR: Meaning.FAILED,
}


def meaning_of(status: str) -> Meaning:
    """What a status Uniware reported means; an unknown one is pending."""
    try:
        return MEANING[UniwareStatus(status)]
    except ValueError:
        return Meaning.PENDING


def is_known(status: str) -> bool:
    return status in MEANING


def statuses_meaning(meaning: Meaning) -> frozenset[str]:
    return frozenset(s.value for s, m in MEANING.items() if m == meaning)


DONE_STATUSES = statuses_meaning(Meaning.DONE)
FAILED_STATUSES = statuses_meaning(Meaning.FAILED)


class Outcome(StrEnum):
    """How seeing one job through (poll, download, convert) ended."""

    COMPLETED = "completed"  # a converted file to load
    EMPTY = "empty"  # done without a file: zero rows
    FAILED = "failed"  # Uniware reported a failed status, or forgot the job
    TIMED_OUT = "timed_out"  # still pending at job_timeout_seconds: kept for the next run
    STOPPED = "stopped"  # the run was interrupted
    DOWNLOAD_FAILED = "download_failed"
    INVALID_FILE = "invalid_file"  # HTML or another non-CSV body
    PARSE_FAILED = "parse_failed"
    OUT_OF_WINDOW = "out_of_window"  # the file holds rows far outside the job's window (ignored filter id)
    SUPERSEDED = "superseded"  # a job created after this one already loaded: this file is an older picture
    OVERLAPS = "overlaps"  # no natural key, and the table holds another job's rows of its window's days


class HistoryStatus(StrEnum):
    """The connector's own statuses in `export_job_status` (source `connector`); the strings are stored."""

    CREATED = "CREATED"  # a job was created (or an identical running one taken over)
    ADOPTED = "ADOPTED"  # an existing job given in job_codes
    CREATE_FAILED = "CREATE_FAILED"  # Uniware refused the create; the window stays planned
    LOADED = "LOADED"  # the job's rows landed
    EMPTY = "EMPTY"  # done without a file: zero rows, the cursor moves
    TIMED_OUT = "TIMED_OUT"  # still pending at job_timeout_seconds; polled again next run
    ABANDONED = "ABANDONED"  # unfinished after job_expiry_hours; its window gets a new job
    LOST = "LOST"  # Uniware no longer knows the job
    DOWNLOAD_FAILED = "DOWNLOAD_FAILED"
    INVALID_FILE = "INVALID_FILE"
    PARSE_FAILED = "PARSE_FAILED"
    OUT_OF_WINDOW = "OUT_OF_WINDOW"  # refused: rows far outside the window (on_window_violation="fail")
    SUPERSEDED = "SUPERSEDED"  # not loaded: a job created later already loaded newer rows; exported again
    OVERLAPS = "OVERLAPS"  # not loaded: without a natural key, another job's rows of its days are in the table


class HistorySource(StrEnum):
    """Who a history row's status comes from."""

    UNIWARE = "uniware"  # a status Uniware reported
    CONNECTOR = "connector"  # an event of the connector (a HistoryStatus)


# the history status an outcome without rows is recorded as (a failed job with a Uniware status has
# that status in the history already; one Uniware forgot is LOST)
OUTCOME_HISTORY: dict[Outcome, HistoryStatus] = {
    Outcome.EMPTY: HistoryStatus.EMPTY,
    Outcome.TIMED_OUT: HistoryStatus.TIMED_OUT,
    Outcome.FAILED: HistoryStatus.LOST,
    Outcome.DOWNLOAD_FAILED: HistoryStatus.DOWNLOAD_FAILED,
    Outcome.INVALID_FILE: HistoryStatus.INVALID_FILE,
    Outcome.PARSE_FAILED: HistoryStatus.PARSE_FAILED,
    Outcome.OUT_OF_WINDOW: HistoryStatus.OUT_OF_WINDOW,
    Outcome.SUPERSEDED: HistoryStatus.SUPERSEDED,
    Outcome.OVERLAPS: HistoryStatus.OVERLAPS,
}

# For the SQL views (queries.py): which history statuses start, land or trouble a job.
JOB_STARTED = (HistoryStatus.CREATED, HistoryStatus.ADOPTED)
JOB_LANDED = (HistoryStatus.LOADED, HistoryStatus.EMPTY)
JOB_PROBLEMS = (
    *sorted(FAILED_STATUSES),
    HistoryStatus.LOST, HistoryStatus.DOWNLOAD_FAILED, HistoryStatus.INVALID_FILE, HistoryStatus.PARSE_FAILED,
    HistoryStatus.OUT_OF_WINDOW, HistoryStatus.ABANDONED, HistoryStatus.TIMED_OUT, HistoryStatus.SUPERSEDED,
    HistoryStatus.OVERLAPS,
)


class EntryKind(StrEnum):
    """The kinds of ledger entries (also `window_kind` in the history)."""

    INCREMENTAL = "incremental"  # a window from the cursor; loading it moves the cursor
    BACKFILL = "backfill"  # a window of --start/--end; never touches a cursor
    SNAPSHOT = "snapshot"  # a report without a date filter: the facility's rows are replaced
    ADOPTED = "adopted"  # an existing job given in job_codes


def sql_list(statuses: tuple[str, ...] | frozenset[str]) -> str:
    """`'A', 'B'` for an SQL IN list."""
    return ", ".join(f"'{s}'" for s in statuses)
