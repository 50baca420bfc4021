"""Switchable, counted faults for the simulator.

A `Fault` disturbs HTTP exchanges on one endpoint (an error status, a dropped connection, a delay,
a truncated, HTML, endless, trickling, gzipped or hugely announced download). A `JobFault` decides
the fate of export jobs created while it is armed (FAILED, CANCELLED, ERROR, stuck pending, COMPLETE
without a file for a while). Each fires at most `times` times (None: until removed) and counts how
often it fired.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

ENDPOINTS = ("token", "create", "status", "facility", "download")

# Fault actions
HTTP_ERROR = "http_error"  # answer `status` (with Retry-After for 429)
RESET = "reset"  # drop the TCP connection with a reset, no response
DELAY = "delay"  # wait `seconds` before answering normally (read timeouts)
TRUNCATE = "truncate"  # download: announce the full length, send `fraction` of it, close
HTML = "html"  # download: a login page instead of the CSV
EXPIRE_TOKENS = "expire_tokens"  # answer normally, then every access token (and refresh token) stops working
ENDLESS = "endless"  # download: a chunked body (no Content-Length) that never ends
HUGE_LENGTH = "huge_length"  # download: announce `length` bytes, send the file, close
TRICKLE = "trickle"  # download: `chunk_bytes` bytes every `seconds` seconds, under the full Content-Length
GZIP = "gzip"  # download: the body gzipped (Content-Encoding: gzip) whatever the client asked for
GZIP_TRUNCATE = "gzip_truncate"  # download: GZIP, cut after `fraction` of the compressed bytes
FAULT_ACTIONS = (HTTP_ERROR, RESET, DELAY, TRUNCATE, HTML, EXPIRE_TOKENS, ENDLESS, HUGE_LENGTH, TRICKLE, GZIP,
                 GZIP_TRUNCATE)

# Job fates
FAIL = "FAILED"
CANCEL = "CANCELLED"
ERROR = "ERROR"
STUCK = "stuck"
NO_FILE = "complete_without_file"
CORRUPT = "corrupt"  # the job completes with a damaged CSV (see CORRUPTIONS)
SCRIPTED = "scripted"  # the job first answers `script` (status, polls) pairs without a file, then goes on
# the job completes with its file, but its status answers say `successful: false` with an error
# (`message`) for `polls` answers once complete (None: every one)
UNSUCCESSFUL = "unsuccessful_complete"
# the job completes with its file and `successful: true`, but its status answers carry an error (`message`)
# in `errors[]` for `polls` answers once complete (None: every one): a file that may be cut short
WITH_ERRORS = "complete_with_errors"
# the job completes with its file and `successful: true`, its status answers carrying `message` as a warning
# in `warnings[]` ({code, message, description}, as the seed page shows them) for `polls` answers once complete
WITH_WARNINGS = "complete_with_warnings"
WITH_MESSAGE = "complete_with_message"  # done, with its file, `successful: true`, and `message` for `polls` answers
# the job's first `polls` status answers (None: every one) are another job's: its `jobCode`, `other_status`
# and `message`; then the job goes on as usual
MISADDRESSED = "misaddressed"
# the job's first `polls` status answers (None: every one) say it is unknown (the tenant's unknown_job_error,
# 100006), as a status service that does not see a job just made yet; then the job goes on as usual
UNSEEN = "unseen"
JOB_FATES = (FAIL, CANCEL, ERROR, STUCK, NO_FILE, CORRUPT, SCRIPTED, UNSUCCESSFUL, WITH_ERRORS, WITH_WARNINGS,
             WITH_MESSAGE, MISADDRESSED, UNSEEN)
# how a complete_without_file answer leaves the link out: no `filePath` field, `""`, or `null`
NO_FILE_PATHS = ("absent", "empty", "null")

# How a CORRUPT job damages its file (in the 5th data row, or the header)
RAGGED = "ragged"  # a row with one field too many
INVALID_UTF8 = "invalid_utf8"  # a byte that is not UTF-8 inside a text field
RENAMED_HEADER = "renamed_header"  # the "Updated" column is called "Last Updated"
BAD_VALUE = "bad_value"  # a money value that is not a number
NUL_BYTE = "nul_byte"  # a NUL byte (0x00) inside a text field, which no database text can hold
# Hostile but valid files (they must load exactly):
RESHAPED = "reshaped"  # header labels renamed (`renames`), columns reversed, extra columns or a big cell added
EMPTY_FILE = "empty_file"  # a 0-byte file: not even a header
CORRUPTIONS = (RAGGED, INVALID_UTF8, RENAMED_HEADER, BAD_VALUE, NUL_BYTE, RESHAPED, EMPTY_FILE)


@dataclass
class Fault:
    """One HTTP-level disturbance on `endpoint`.

    With `after_processing`, the request is carried out first (a job really gets created) and only
    the answer is lost: the case a client must reconcile rather than blindly retry.
    """

    endpoint: str
    action: str = HTTP_ERROR
    status: int = 500
    retry_after: Optional[float] = None
    seconds: float = 0.0
    fraction: float = 0.5
    length: int = 50_000_000_000  # for huge_length
    chunk_bytes: int = 1  # for trickle
    after_processing: bool = False
    refresh_too: bool = False  # for expire_tokens
    message: Optional[str] = None  # for http_error: the body's message and error ({token}: the caller's token)
    times: Optional[int] = 1
    fired: int = 0

    def __post_init__(self) -> None:
        if self.action == EXPIRE_TOKENS:
            self.after_processing = True
        if self.endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {self.endpoint!r}; expected one of {ENDPOINTS}")
        if self.action not in FAULT_ACTIONS:
            raise ValueError(f"unknown fault action {self.action!r}; expected one of {FAULT_ACTIONS}")


@dataclass(frozen=True)
class ScriptedAnswer:
    """How a scripted step's answers look besides their status: `link` a filePath (a file host path that
    serves nothing), `message`, `errors` (the message as an error in `errors[]`), `unsuccessful`, and
    `fields` more fields of the answer (`recordCount`...)."""

    link: Optional[str] = None
    message: str = ""
    errors: bool = False
    unsuccessful: bool = False
    fields: tuple[tuple[str, Any], ...] = ()


@dataclass
class JobFault:
    """The fate of the next `times` export jobs created (optionally only those `match` accepts)."""

    fate: str
    message: str = "Export job failed while generating the report"
    times: Optional[int] = 1
    # complete_without_file: polls at COMPLETE before its file; unsuccessful_complete, complete_with_errors: above
    polls: Optional[int] = 3
    corruption: str = RAGGED  # for corrupt
    renames: Optional[dict[str, str]] = None  # for reshaped: header label -> new label
    reverse_columns: bool = False  # for reshaped: the columns in reverse order
    extra_columns: int = 0  # for reshaped: this many more columns ("Extra 1", ...) with values
    big_cell_bytes: int = 0  # for reshaped: a text cell of this size in data row 5
    # for scripted: (status, polls) steps, e.g. (("COMPLETE", 2), ("IN_PROGRESS", 5)); a step's third item shapes its
    # answers (ScriptedAnswer: a link that is not the file, errors, a message, more fields)
    script: tuple[tuple[Any, ...], ...] = ()
    no_file_message: str = ""  # for complete_without_file: the message its answers without a file carry
    no_file_path: str = "absent"  # for complete_without_file: how the answers leave the link out (NO_FILE_PATHS)
    other_status: str = FAIL  # for misaddressed: the status of the other job's answers
    match: Optional[Callable[[str, str], bool]] = None  # (report name, facility) -> bool
    fired: int = 0

    def __post_init__(self) -> None:
        if self.fate not in JOB_FATES:
            raise ValueError(f"unknown job fate {self.fate!r}; expected one of {JOB_FATES}")
        if self.no_file_path not in NO_FILE_PATHS:
            raise ValueError(f"unknown no_file_path {self.no_file_path!r}; expected one of {NO_FILE_PATHS}")
        if self.corruption not in CORRUPTIONS:
            raise ValueError(f"unknown corruption {self.corruption!r}; expected one of {CORRUPTIONS}")


@dataclass
class Chaos:
    """Random transient faults on a share (`rate`) of all requests, from a seeded generator.

    API calls get 429, 500, 502, 503 or a reset (create: sometimes after the job was made);
    downloads also get truncated bodies. No endpoint (no file, for downloads) gets more than
    `max_in_a_row` in a row, so clients with a few retries always get through, however many
    downloads run at once.
    """

    rate: float
    seed: int = 1
    max_in_a_row: int = 2
    fired: dict[str, int] = field(default_factory=dict)
    _in_a_row: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        import random

        self._random = random.Random(self.seed)

    def pick(self, endpoint: str, subject: Optional[str] = None) -> Optional[Fault]:
        row = subject or endpoint  # what `max_in_a_row` counts: the endpoint, or one file of it
        if self._in_a_row.get(row, 0) >= self.max_in_a_row or self._random.random() >= self.rate:
            self._in_a_row[row] = 0
            return None
        self._in_a_row[row] = self._in_a_row.get(row, 0) + 1
        kinds = ["429", "500", "502", "503", "reset"] + (["truncate"] if endpoint == "download" else [])
        if endpoint == "token":
            kinds.remove("500")  # a 500 there reads as bad credentials; real outages say 502/503
        kind = self._random.choice(kinds)
        after = endpoint == "create" and kind in ("500", "502", "reset") and self._random.random() < 0.5
        key = f"{endpoint}:{kind}" + (":after" if after else "")
        self.fired[key] = self.fired.get(key, 0) + 1
        if kind == "reset":
            return Fault(endpoint, RESET, after_processing=after, times=None)
        if kind == "truncate":
            return Fault(endpoint, TRUNCATE, fraction=self._random.random() * 0.9, times=None)
        return Fault(endpoint, HTTP_ERROR, status=int(kind), retry_after=1 if kind == "429" else None,
                     after_processing=after, times=None)


@dataclass
class FaultPlan:
    """The armed faults of one simulator. Thread-safe."""

    faults: list[Fault] = field(default_factory=list)
    job_faults: list[JobFault] = field(default_factory=list)
    chaos: Optional[Chaos] = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def add_job_fault(self, fault: JobFault) -> JobFault:
        with self._lock:
            self.job_faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()
            self.job_faults.clear()
            self.chaos = None

    def take(self, endpoint: str, subject: Optional[str] = None) -> Optional[Fault]:
        """The fault for this request (the first armed one, else maybe a chaos one), counted as fired.

        A fault with `after_processing` is applied after the request was carried out."""
        with self._lock:
            for fault in self.faults:
                if fault.endpoint != endpoint:
                    continue
                if fault.times is not None and fault.fired >= fault.times:
                    continue
                fault.fired += 1
                return fault
            return self.chaos.pick(endpoint, subject) if self.chaos is not None else None

    def take_job_fate(self, report: str, facility: str) -> Optional[JobFault]:
        with self._lock:
            for fault in self.job_faults:
                if fault.times is not None and fault.fired >= fault.times:
                    continue
                if fault.match is not None and not fault.match(report, facility):
                    continue
                fault.fired += 1
                return fault
        return None

    def fired(self) -> dict[str, int]:
        """How often each kind of fault fired, e.g. {"create:http_error:503": 2}."""
        counts: dict[str, int] = {}
        with self._lock:
            for fault in self.faults:
                key = f"{fault.endpoint}:{fault.action}" + (
                    f":{fault.status}" if fault.action == HTTP_ERROR else "")
                counts[key] = counts.get(key, 0) + fault.fired
            for job_fault in self.job_faults:
                key = f"job:{job_fault.fate}"
                counts[key] = counts.get(key, 0) + job_fault.fired
            if self.chaos is not None:
                for key, fired in self.chaos.fired.items():
                    counts[f"chaos:{key}"] = fired
        return counts
