"""Export jobs of the simulated tenant: their lifecycle and the files they produce.

A job walks its pending statuses (SCHEDULED, IN_PROGRESS by default); each status lasts a
configurable wall-clock duration (times `time_scale`) *and* is reported to at least
`min_polls_per_status` polls, so a client can be shown every transition without sleeping. The CSV
is generated on a background thread straight to disk; the job completes only once it is written.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional
from urllib.parse import quote

from .csv_render import CsvStyle, corrupt_csv, format_ist, write_csv
from .faults import (
    CANCEL,
    CORRUPT,
    ERROR,
    FAIL,
    MISADDRESSED,
    NO_FILE,
    SCRIPTED,
    STUCK,
    UNSEEN,
    UNSUCCESSFUL,
    WITH_ERRORS,
    WITH_MESSAGE,
    WITH_WARNINGS,
    JobFault,
    ScriptedAnswer,
)
from .reports import ExportQuery, Report
from .tenant import Tenant


@dataclass(frozen=True)
class JobTiming:
    pending_statuses: tuple[str, ...] = ("SCHEDULED", "IN_PROGRESS")
    seconds_per_status: tuple[float, ...] = (0.0, 0.0)
    min_polls_per_status: int = 1
    time_scale: float = 1.0
    completion_status: str = "COMPLETE"  # the docs say SUCCESSFUL; the field sees COMPLETE


@dataclass
class ExportFile:
    path: Path
    rows: int
    bytes: int
    url_path: str = ""  # /<tenant>/<24 hex>/<Report>_<ddmmyyyyHHMMSS>.csv
    expires_at: Optional[float] = None


@dataclass
class ExportJob:
    code: str
    export_job_id: str
    report: Report
    facility: str
    request_key: str
    query: ExportQuery
    columns: tuple[str, ...]
    fate: Optional[JobFault]
    created_at: float = field(default_factory=time.monotonic)
    phase: int = 0
    phase_started: float = field(default_factory=time.monotonic)
    polls_in_phase: int = 0
    polls: int = 0
    terminal: Optional[str] = None
    message: str = ""
    file: Optional[ExportFile] = None
    generation: Optional[Future[None]] = None
    released: bool = False
    completed_polls: int = 0
    reported: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.terminal is not None


@dataclass(frozen=True)
class StatusAnswer:
    status: str
    file_url_path: Optional[str]
    message: str
    unsuccessful: bool = False  # answered with `successful: false` (and `message` as its error)
    with_errors: bool = False  # answered with `successful: true` and `message` as an error in `errors[]`
    with_warnings: bool = False  # answered with `successful: true` and `message` as a warning in `warnings[]`
    no_file_path: str = "absent"  # without a file: no `filePath` field, `""` or `null` (faults.NO_FILE_PATHS)
    job_code: Optional[str] = None  # the `jobCode` the answer names, when it is another job's
    unknown: bool = False  # answered as a job code Uniware does not know
    fields: tuple[tuple[str, Any], ...] = ()  # more fields of the answer (a scripted step's)


class JobRegistry:
    """Creates jobs, walks their lifecycle on each poll, and owns their files."""

    def __init__(
        self,
        *,
        tenant: Tenant,
        tenant_name: str,
        files_dir: Path,
        timing: JobTiming,
        style: CsvStyle,
        extra_columns: bool,
        empty_export_file: bool,
        file_ttl_seconds: Optional[float],
        synchronous: bool = False,
        generator_threads: int = 2,
    ) -> None:
        self.tenant = tenant
        self.tenant_name = tenant_name
        self.files_dir = files_dir
        self.timing = timing
        self.style = style
        self.extra_columns = extra_columns
        self.empty_export_file = empty_export_file
        self.file_ttl_seconds = file_ttl_seconds
        self.synchronous = synchronous
        self.queue_outage = False
        self._jobs: dict[str, ExportJob] = {}
        self._files: dict[str, ExportFile] = {}
        self._cache: dict[str, ExportFile] = {}
        # a test's edit of a job's file (its text in, the text to serve out), after any corruption
        self.edit_file: Optional[Callable[[ExportJob, str], str]] = None
        # a test's job code for a new job (a hostile Uniware's: slashes, control characters, very long)
        self.code_of: Optional[Callable[[ExportJob], str]] = None
        self._lock = threading.RLock()
        self._pool = ThreadPoolExecutor(generator_threads, thread_name_prefix="sim-export")
        self._counter = 0
        self.peak_unfinished = 0  # most jobs ever pending at once (tests check concurrency caps)

    # -- creation -------------------------------------------------------------------------------

    def find_running_duplicate(self, request_key: str) -> Optional[ExportJob]:
        with self._lock:
            return next(
                (j for j in self._jobs.values() if j.request_key == request_key and not j.finished),
                None,
            )

    def create(
        self,
        report: Report,
        facility: str,
        query: ExportQuery,
        columns: tuple[str, ...],
        request_key: str,
        fate: Optional[JobFault],
    ) -> ExportJob:
        with self._lock:
            self._counter += 1
            code = f"EXP{self._counter:06d}{secrets.token_hex(3).upper()}"
            job = ExportJob(
                code=code,
                export_job_id=str(880000 + self._counter),
                report=report,
                facility=facility,
                request_key=request_key,
                query=query,
                columns=columns,
                fate=fate,
            )
            if self.code_of is not None:
                job.code = self.code_of(job)
            self._jobs[job.code] = job
            unfinished = sum(1 for j in self._jobs.values() if not j.finished)
            self.peak_unfinished = max(self.peak_unfinished, unfinished)
        if fate is None or fate.fate not in (FAIL, CANCEL, ERROR):
            if self.synchronous:
                done: Future[None] = Future()
                try:
                    self._generate(job)
                    done.set_result(None)
                except Exception as error:  # reported as the job's ERROR status
                    done.set_exception(error)
                job.generation = done
            else:
                job.generation = self._pool.submit(self._generate, job)
        return job

    def forget_all(self) -> None:
        """Uniware loses every job (a restart of its export service): their codes become unknown."""
        with self._lock:
            self._jobs.clear()

    def get(self, code: str) -> Optional[ExportJob]:
        with self._lock:
            return self._jobs.get(code)

    def all(self) -> list[ExportJob]:
        with self._lock:
            return list(self._jobs.values())

    def release_stuck(self) -> None:
        with self._lock:
            for job in self._jobs.values():
                job.released = True

    # -- the lifecycle --------------------------------------------------------------------------

    def poll(self, job: ExportJob) -> StatusAnswer:
        """Advance `job` as far as time and poll counts allow, and report where it is."""
        with self._lock:
            now = time.monotonic()
            job.polls += 1
            answer = self._advance(job, now)
            theirs = not answer.unknown and answer.job_code is None  # not another job's, nor "unknown"
            if theirs and (not job.reported or job.reported[-1] != answer.status):
                job.reported.append(answer.status)
            return answer

    def _advance(self, job: ExportJob, now: float) -> StatusAnswer:
        timing = self.timing
        if job.fate is not None and job.fate.fate == UNSEEN and (job.fate.polls is None or job.polls <= job.fate.polls):
            return StatusAnswer("", None, "", unknown=True)
        if job.fate is not None and job.fate.fate == MISADDRESSED \
                and (job.fate.polls is None or job.polls <= job.fate.polls):
            return StatusAnswer(job.fate.other_status, None, job.fate.message, job_code=f"{job.code}7")
        if job.fate is not None and job.fate.fate == SCRIPTED:
            polls = job.polls
            for status, count, *shape in job.fate.script:
                if polls <= count:
                    look = shape[0] if shape else ScriptedAnswer()
                    return StatusAnswer(status, look.link, look.message, unsuccessful=look.unsuccessful,
                                        with_errors=look.errors, fields=look.fields)
                polls -= count
            if job.terminal is None:  # the script is over: the file is ready at the next look
                job.phase = len(timing.pending_statuses) - 1
                job.polls_in_phase = max(job.polls_in_phase, timing.min_polls_per_status)
                job.phase_started = now - max(timing.seconds_per_status) * timing.time_scale
        if job.terminal is None and self.queue_outage:
            job.terminal, job.message = FAIL, "Export queue is unavailable, job aborted"
        while job.terminal is None:
            pending = timing.pending_statuses
            seconds = timing.seconds_per_status[min(job.phase, len(timing.seconds_per_status) - 1)]
            ripe = (now - job.phase_started >= seconds * timing.time_scale
                    and job.polls_in_phase >= timing.min_polls_per_status)
            stuck = job.fate is not None and job.fate.fate == STUCK and not job.released
            if not ripe or stuck:
                job.polls_in_phase += 1
                return StatusAnswer(pending[job.phase], None, "")
            if job.fate is not None and job.fate.fate in (FAIL, CANCEL, ERROR):
                job.terminal, job.message = job.fate.fate, job.fate.message
                break
            if job.phase + 1 < len(pending):
                job.phase += 1
                # the next status began when this one's time was up, not when someone looked
                job.phase_started = min(now, job.phase_started + seconds * timing.time_scale)
                job.polls_in_phase = 0
                continue
            generation = job.generation
            if generation is None or not generation.done():
                job.polls_in_phase += 1
                return StatusAnswer(pending[job.phase], None, "")
            error = generation.exception()
            if error is not None:
                job.terminal, job.message = ERROR, f"Report generation failed: {error}"
                break
            job.terminal = timing.completion_status
        if job.terminal != timing.completion_status:
            return StatusAnswer(job.terminal, None, job.message)
        job.completed_polls += 1
        if job.fate is not None and job.fate.fate == NO_FILE and job.completed_polls <= (job.fate.polls or 0):
            return StatusAnswer(job.terminal, None, job.fate.no_file_message, no_file_path=job.fate.no_file_path)
        if job.file is None or (job.file.rows == 0 and not self.empty_export_file):
            return StatusAnswer(job.terminal, None, "")
        if job.fate is not None and job.fate.fate == UNSUCCESSFUL \
                and (job.fate.polls is None or job.completed_polls <= job.fate.polls):
            return StatusAnswer(job.terminal, job.file.url_path, job.fate.message, unsuccessful=True)
        if job.fate is not None and job.fate.fate == WITH_ERRORS \
                and (job.fate.polls is None or job.completed_polls <= job.fate.polls):
            return StatusAnswer(job.terminal, job.file.url_path, job.fate.message, with_errors=True)
        if job.fate is not None and job.fate.fate == WITH_WARNINGS \
                and (job.fate.polls is None or job.completed_polls <= job.fate.polls):
            return StatusAnswer(job.terminal, job.file.url_path, "", with_warnings=True)
        if job.fate is not None and job.fate.fate == WITH_MESSAGE \
                and (job.fate.polls is None or job.completed_polls <= job.fate.polls):
            return StatusAnswer(job.terminal, job.file.url_path, job.fate.message)
        return StatusAnswer(job.terminal, job.file.url_path, "")

    # -- files ----------------------------------------------------------------------------------

    def _generate(self, job: ExportJob) -> None:
        columns = job.report.file_columns(job.columns, self.extra_columns)
        key = hashlib.sha256(json.dumps([
            job.report.name, [c.id for c in columns], job.query.facility, job.query.at,
            job.query.date_filter, job.query.start, job.query.end,
            sorted((k, list(v)) for k, v in job.query.selected.items()), sorted(job.query.text.items()),
            self.tenant.seed, self.tenant.orders_per_day, self.style.bom,
        ]).encode()).hexdigest()
        with self._lock:
            cached = self._cache.get(key)
        if cached is None or not cached.path.exists():
            folder = self.files_dir / "cache"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{key}.csv"
            partial = folder / f"{key}-{job.export_job_id}.partial"
            rows = write_csv(partial, columns, job.report.rows(self.tenant, job.query), self.style)
            partial.replace(path)
            cached = ExportFile(path=path, rows=rows, bytes=path.stat().st_size)
            with self._lock:
                self._cache[key] = cached
        if job.fate is not None and job.fate.fate == CORRUPT:
            damaged = self.files_dir / "cache" / f"{key}-{job.export_job_id}-{job.fate.corruption}.csv"
            corrupt_csv(cached.path, damaged, job.fate)
            cached = ExportFile(path=damaged, rows=cached.rows, bytes=damaged.stat().st_size)
        if self.edit_file is not None:
            edited = self.files_dir / "cache" / f"{key}-{job.export_job_id}-edited.csv"
            text = self.edit_file(job, cached.path.read_text(encoding="utf-8"))
            edited.write_text(text, encoding="utf-8")
            line_end = "\n" if "\n" in text or "\r" not in text else "\r"  # lines may end in CR alone
            cached = ExportFile(path=edited, rows=max(0, text.count(line_end) - 1), bytes=edited.stat().st_size)
        stamp = format_ist(self.tenant.clock.now_epoch(), "iso")
        stamp = stamp[8:10] + stamp[5:7] + stamp[0:4] + stamp[11:13] + stamp[14:16] + stamp[17:19]
        url_path = "/{}/{}/{}".format(
            quote(self.tenant_name), secrets.token_hex(12),
            quote(f"{job.report.name}_{stamp}.csv"),
        )
        expires = None if self.file_ttl_seconds is None else time.monotonic() + self.file_ttl_seconds
        exported = ExportFile(cached.path, cached.rows, cached.bytes, url_path, expires)
        with self._lock:
            job.file = exported
            self._files[url_path] = exported

    def file_for(self, url_path: str) -> Optional[ExportFile]:
        with self._lock:
            return self._files.get(url_path)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
