"""Switchable, counted faults for the simulator.

A `Fault` disturbs HTTP exchanges on one endpoint (an error status, a dropped connection, a delay,
a truncated or HTML download). A `JobFault` decides the fate of export jobs created while it is
armed (FAILED, CANCELLED, ERROR, stuck pending, COMPLETE without a file for a while). Each fires
at most `times` times (None: until removed) and counts how often it fired.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Optional

ENDPOINTS = ("token", "create", "status", "facility", "download")

# Fault actions
HTTP_ERROR = "http_error"  # answer `status` (with Retry-After for 429)
RESET = "reset"  # drop the TCP connection with a reset, no response
DELAY = "delay"  # wait `seconds` before answering normally (read timeouts)
TRUNCATE = "truncate"  # download: announce the full length, send `fraction` of it, close
HTML = "html"  # download: a login page instead of the CSV
FAULT_ACTIONS = (HTTP_ERROR, RESET, DELAY, TRUNCATE, HTML)

# Job fates
FAIL = "FAILED"
CANCEL = "CANCELLED"
ERROR = "ERROR"
STUCK = "stuck"
NO_FILE = "complete_without_file"
JOB_FATES = (FAIL, CANCEL, ERROR, STUCK, NO_FILE)


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
    after_processing: bool = False
    times: Optional[int] = 1
    fired: int = 0

    def __post_init__(self) -> None:
        if self.endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {self.endpoint!r}; expected one of {ENDPOINTS}")
        if self.action not in FAULT_ACTIONS:
            raise ValueError(f"unknown fault action {self.action!r}; expected one of {FAULT_ACTIONS}")


@dataclass
class JobFault:
    """The fate of the next `times` export jobs created (optionally only those `match` accepts)."""

    fate: str
    message: str = "Export job failed while generating the report"
    times: Optional[int] = 1
    polls: int = 3  # for complete_without_file: how many polls say COMPLETE before the file
    match: Optional[Callable[[str, str], bool]] = None  # (report name, facility) -> bool
    fired: int = 0

    def __post_init__(self) -> None:
        if self.fate not in JOB_FATES:
            raise ValueError(f"unknown job fate {self.fate!r}; expected one of {JOB_FATES}")


@dataclass
class FaultPlan:
    """The armed faults of one simulator. Thread-safe."""

    faults: list[Fault] = field(default_factory=list)
    job_faults: list[JobFault] = field(default_factory=list)
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

    def take(self, endpoint: str, *, after_processing: bool) -> Optional[Fault]:
        """The first armed fault for this endpoint and moment, counted as fired."""
        with self._lock:
            for fault in self.faults:
                if fault.endpoint != endpoint or fault.after_processing != after_processing:
                    continue
                if fault.times is not None and fault.fired >= fault.times:
                    continue
                fault.fired += 1
                return fault
        return None

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
        return counts
