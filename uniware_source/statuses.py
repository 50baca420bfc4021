"""Every status in one place, as data: Uniware's job statuses and what they mean, the outcome of
seeing a job through, the statuses of the `export_job_status` history, and the kinds of ledger entries.

Check `MEANING` against ../shared/uniware-api.md: a status not in it is pending (logged once).
"""

from __future__ import annotations

import re
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
}

# For the SQL views (queries.py): which history statuses start, land or trouble a job.
JOB_STARTED = (HistoryStatus.CREATED, HistoryStatus.ADOPTED)
JOB_LANDED = (HistoryStatus.LOADED, HistoryStatus.EMPTY)
JOB_PROBLEMS = (
    *sorted(FAILED_STATUSES),
    HistoryStatus.LOST, HistoryStatus.DOWNLOAD_FAILED, HistoryStatus.INVALID_FILE, HistoryStatus.PARSE_FAILED,
    HistoryStatus.OUT_OF_WINDOW, HistoryStatus.ABANDONED, HistoryStatus.TIMED_OUT, HistoryStatus.SUPERSEDED,
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


# words of a finished job's message (or warnings) that say its file was not made; they decide even beside
# words of having no rows ("failed: no data could be written"): a job with no rows to export says so with
# other words ("no records found"), or nothing. A failure taken for one costs a new job next run, an empty
# export taken for a failure moved the cursor past rows never loaded
_FAILED_WORDS = re.compile(
    r"(?i)\b(?:fail\w*|error\w*|exception|timed? ?out|timeout|exceed\w*|not (?:be )?(?:generated|created|written|"
    r"uploaded|completed|saved)|unable|could not|couldn't|cannot|can't|aborted|abort|crash\w*|cancel+ed|"
    r"cancel+ation|went wrong|unsuccessful\w*|disk full|no space|denied|interrupted|killed|terminated|"
    r"rejected|expired|invalid|truncat\w*|incomplete|cut short|partial(?:ly)? (?:written|exported|generated))\b")


# "with 0 errors", "no failures": words of the list that say there was none
_NONE_OF_THEM = re.compile(r"(?i)\b(?:0|no|zero|without(?: any)?)\s+(?:errors?|failures?|exceptions?)\b")


def says_failed(message: str) -> bool:
    """Whether a finished job's message says its file was not made, or not made whole."""
    return bool(_FAILED_WORDS.search(_NONE_OF_THEM.sub(" ", message)))


# words of a done answer's message *with* its file that say the file holds only part of the export: not
# loaded, as with `errors[]` (a file cut at a row limit loaded 10 rows of 305, exit 0). Only words of a cut,
# not of failing in general: a good file's message may speak of errors, failures or cancelled orders
# ("Errors: 0", "0 records failed", "includes cancelled orders"), and each such word refused it on every run.
_N = r"\d[\d,]*"
_CUT = r"(?:truncat\w*|partial\w*|incomplete|cut|clipped|trimmed|capped|limited|skipped|dropped|omitted|rejected|" \
       r"errors?|failures?|failed|aborted|interrupted|timed out)"
_CUT_WORDS = re.compile(
    r"(?i)\b(?:truncat\w*|incomplete|cut (?:short|off)|clipped|trimmed|halted|interrupted|aborted|timed out|"
    r"partial(?:ly)? (?:data|export\w*|files?|results?|reports?|rows?|records?|contents?|downloads?|generated|"
    r"written|exported|completed|downloaded|done)|(?:export\w*|files?|data|reports?|completed|done|finished) partially|"
    r"part of the (?:data|rows|records|export|report)|not (?:fully|completely|all) \w+|not complete\w*|"
    rf"(?:first|top) {_N} (?:\w+ )?(?:rows|records|lines|entries)|"
    rf"only {_N}(?: (?:of|out of) {_N})? (?:rows|records|lines|entries)|only (?:the )?(?:first|top|last)\b|"
    rf"(?:no more than|at most|max(?:imum)?(?: of)?) {_N} (?:rows|records)|{_N} (?:rows?|records?) (?:limit|max\w*)|"
    r"rows? cap|capped|limited to \d|limit\W{1,3}\d[\d,]* (?:rows|records)|exceed\w* (?:the |its |a )?(?:\w+ )?"
    r"(?:limit|max\w*)|(?:limit|max\w*)\b[^.;!?]{0,30}?\b(?:reached|exceeded|hit|applied)\b|"
    r"reached (?:the )?(?:max\w*|limit)|(?:export\w*|file|data|report) limited\W+\d|"
    rf"(?:stopped|aborted|ended|halted) (?:at|after) {_N} (?:rows|records|lines)|(?:stopped|aborted|ended) early|"
    r"(?:ran out|out of time)|"
    r"(?:rows?|records?|lines?|data) (?:\w+ ){0,3}(?:skipped|dropped|omitted|left out|not (?:exported|written|"
    r"included))|not (?:\w+ )?all (?:the )?(?:rows|records|data|lines)|could not (?:be )?(?:export|writ)\w*|"
    r"(?:failed|unable) to (?:export|write)|"
    r"(?:skipped|dropped|omitted) [1-9]|[1-9]\d* (?:\w+ )?(?:rows?|records?) (?:were |was )?(?:skipped|dropped|omitted|"
    r"failed|rejected)|"
    r"with (?:[1-9]\d* |some |several |many )?(?:errors?|failures?|failed (?:rows?|records?))\b"
    r"(?!\W*(?:0|none|nil|no)\b)|[1-9]\d* (?:errors?|failures?|failed (?:rows?|records?))|"
    r"(?:errors?|failures?|failed|skipped|dropped|omitted|rejected)(?: \w+)?\W{1,3}[1-9]|"
    r"(?:truncat\w*|partial|incomplete)\W{1,3}(?:true|yes|1)\b)")
# ... said not to have happened: "truncated: false", "Errors: 0", "Rows skipped: 0", "not reached", "no data was
# truncated", "0 rows skipped", "without truncation", in the same clause ("0 errors but truncated" is a cut)
_NOT_CUT = re.compile(
    rf"(?i)\b(?:\w+ )?{_CUT}(?: \w+)?\s*[:=]\s*(?:0|false|no|none|nil)\b|"
    r"\b(?:limit|max\w*)\b[^.;!?]{0,20}?\bnot (?:reached|exceeded|hit)\b[^.;!?]*|"
    r"\bnot (?:reached|exceeded|hit|applied|truncated|cut|capped|limited|skipped)\b|"
    r"\btruncat\w* (?:is |was )?(?:disabled|off)\b|"
    r"\b(?:no|not|never|nothing|without|none|zero|0)\b(?:[^\w.,;:!?]+(?!but\b|except\b|however\b|yet\b)\w+){0,4}?"
    rf"[^\w.,;:!?]+{_CUT}\b|\b({_N}) ?(?:of|out of|/) ?\1 (?:\w+ )?(?:rows|records|lines)")
_PART_OF = re.compile(rf"(?i)\b({_N}) ?(?:of|out of|/) ?({_N}) (?:\w+ )?(?:rows|records|lines)")


def says_cut_short(message: str) -> bool:
    """Whether a done answer's message, beside its file, says the file holds only part of the export."""
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", message).replace("_", " ")  # isTruncated, FILE_TRUNCATED
    text = _NOT_CUT.sub(" ", text)
    if _CUT_WORDS.search(text):
        return True
    return any(int(part.replace(",", "")) < int(whole.replace(",", "")) for part, whole in _PART_OF.findall(text))
