"""What a run did, per export: jobs, rows, time, final statuses, and the problems to report."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

from .facilities import Facilities
from .redact import redact

progress_log = logging.getLogger("uniware_source.progress")


@dataclass
class JobLine:
    """One job as a person follows it: what it exports, where it is, how far it got."""

    label: str  # export / facility / window
    status: str
    started: float = field(default_factory=time.monotonic)
    polls: int = 0
    bytes: int = 0
    rows: int = 0


@dataclass
class ExportTally:
    export_name: str
    table_name: str
    jobs_created: int = 0
    jobs_loaded: int = 0
    rows: int = 0
    rows_skipped: int = 0
    bytes: int = 0
    seconds: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)


class RunReport:
    """Filled in by the source while it runs; read by the pipeline script for its summary."""

    def __init__(self) -> None:
        self.exports: dict[str, ExportTally] = {}
        self.problems: list[str] = []
        # table -> facilities this run works on (None: all); filled by the source (runtime.active_facilities)
        self.scope: dict[str, Optional[frozenset[str]]] = {}
        self._said: set[str] = set()
        self.facilities_found: Optional[Facilities] = None  # facility/search, asked once per run
        self.runtime: Optional[object] = None  # the last source's SourceRuntime (discovery commands read it)
        self.jobs: dict[str, JobLine] = {}  # job code -> its line, for the live view (progress.py)
        self._job_owners: dict[str, tuple[tuple[str, str], str]] = {}  # the window each job code of this run is for
        self._lock = threading.Lock()
        # a signal came while jobs are created: no more are, and those made are committed before it stops the run
        self.stop_requested = False

    def claim_job(self, job_code: str, owner: tuple[str, str], described: str) -> Optional[str]:
        """Records that `job_code` is `owner`'s ((table, window entry key), `described` in messages); the
        other owner's description when this run already gave it to another window."""
        with self._lock:
            known, text = self._job_owners.setdefault(job_code, (owner, described))
        return text if known != owner else None

    def tally(self, export_name: str, table_name: str) -> ExportTally:
        with self._lock:
            return self.exports.setdefault(table_name, ExportTally(export_name, table_name))

    def problem(self, message: str) -> None:
        message = redact(message)  # kept for the run's error, the uniware_runs row and the log
        with self._lock:
            self.problems.append(message)
        progress_log.error("%s", message)

    def progress(self, message: str, *args: object) -> None:
        progress_log.info(message, *args)

    def job_event(self, job_code: str, label: str, status: str, *, polls: Optional[int] = None,
                  rows: Optional[int] = None, size: Optional[int] = None, note: str = "") -> None:
        """A job changed: logged as one line without repeating its context, which the job's first
        line (usually 'created job ...') gave."""
        with self._lock:
            line = self.jobs.get(job_code)
            first = line is None
            if line is None:
                line = self.jobs[job_code] = JobLine(label, status)
            line.status = status
            line.polls = polls if polls is not None else line.polls
            line.rows = rows if rows is not None else line.rows
            line.bytes = size if size is not None else line.bytes
        if status == "CREATED":
            progress_log.info("created job %s: %s%s", job_code, label, f" ({note})" if note else "",
                              extra={"job_code": job_code, "status": status})
            return
        context = f" ({label})" if first else ""
        details = [f"poll {line.polls}"] if polls is not None and rows is None else []
        if rows is not None:
            details.append(f"{rows:,} rows, {line.bytes / 1e6:.1f} MB")
        if note:
            details.append(note)
        progress_log.info("job %s%s: %s%s", job_code, context, status, f" ({'; '.join(details)})" if details else "",
                          extra={"job_code": job_code, "status": status, "polls": line.polls, "rows": line.rows})

    def once(self, key: str, message: str, *args: object) -> None:
        """A warning said once per run (the run has several steps), however often it is met."""
        with self._lock:
            if key in self._said:
                return
            self._said.add(key)
        progress_log.warning(message, *args)

    def summary_lines(self) -> list[str]:
        lines = [f"{'export':<22} {'table':<22} {'jobs':>5} {'loaded':>6} {'rows':>10} {'MB':>8} {'seconds':>8}  "
                 "final statuses"]
        for tally in self.exports.values():
            statuses = ", ".join(f"{k} x{v}" if v > 1 else k for k, v in sorted(tally.statuses.items())) or "-"
            lines.append(f"{tally.export_name:<22} {tally.table_name:<22} {tally.jobs_created:>5} "
                         f"{tally.jobs_loaded:>6} {tally.rows:>10,} {tally.bytes / 1e6:>8.1f} "
                         f"{tally.seconds:>8.1f}  {statuses}")
        return lines
