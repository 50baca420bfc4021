"""One run per pipeline at a time: an OS file lock next to the pipeline's working directory (and one
run per dataset at the destination: dataset_lock.py).

Two processes collecting the same pipeline would poll, download and load the same jobs. The lock is
`fcntl.flock` on `<pipelines_dir>/<pipeline name>.lock`, which holds the pid, host and start time
of the run that has it. The OS drops a flock when its process ends, however it ends (SIGKILL
included), so a stale lock file never blocks a run. The file sits beside the working directory,
not in it: dlt may wipe the working directory (restoring state from the destination), and a lock
on a deleted file would let a third process lock a new one.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Optional, Union

from dlt.pipeline.pipeline import Pipeline

from ..errors import UniwareError
from .dataset_lock import held, lock_of, try_flock

log = logging.getLogger(__name__)

WaitForLock = Union[bool, float]
POLL_SECONDS = 0.2


class RunLocked(UniwareError):
    """Another run holds the pipeline's lock, or its dataset's at the destination."""

    def __init__(self, subject: str, holder: str, where: str, waited: Optional[float] = None) -> None:
        how = (f"still, after waiting {waited:g} s for it (--wait SECONDS, wait_for_lock in run_exports): wait "
               "longer, or until it ends (--wait alone, wait_for_lock=True)"
               if waited is not None else "wait for it with --wait (wait_for_lock=True in run_exports)")
        super().__init__(f"{subject} ({holder}; {where}); {how}")
        self.holder = holder


def lock_path(pipeline: Pipeline) -> Path:
    return Path(pipeline.pipelines_dir) / f"{pipeline.pipeline_name}.lock"


def describe_holder(path: Path) -> str:
    """'pid 123 on host h since <UTC time>' from a lock file, as far as it can be read."""
    try:
        info: Any = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict) or "pid" not in info:
        return "holder unknown"
    return f"pid {info.get('pid')} on host {info.get('host', '?')} since {info.get('since', '?')}"


def _taken(try_lock: Callable[[], bool], describe: Callable[[], str], what: str, busy: str, where: str,
           wait: WaitForLock, deadline: Optional[float]) -> bool:
    """Take the lock of `what` with `try_lock`, waiting as `wait` says (until `deadline`, a monotonic time,
    when a number); True if it had to wait. RunLocked says `what` `busy`, naming the holder (`describe`)."""
    if try_lock():
        return False
    if wait is False:
        raise RunLocked(f"{what} {busy}", describe(), where)
    log.warning("%s is locked by another run (%s); waiting for it", what, describe())
    while not try_lock():
        if deadline is not None and time.monotonic() >= deadline:
            raise RunLocked(f"{what} {busy}", describe(), where, waited=float(wait))
        time.sleep(POLL_SECONDS)
    return True


@contextmanager
def pipeline_lock(pipeline: Pipeline, wait: WaitForLock = False) -> Iterator[bool]:
    """Hold the pipeline's run lock, then its dataset's at the destination (dataset_lock), for the block;
    yields whether it had to wait for another run.

    `wait` False: raise RunLocked at once when another run holds either; True: wait as long as it takes;
    a number: wait at most that many seconds in all, then raise RunLocked. flock locks belong to an open
    file, so two threads of one process exclude each other too.
    """
    deadline = None if isinstance(wait, bool) else time.monotonic() + float(wait)
    with _pipeline_file_locked(pipeline, wait, deadline) as waited:
        dataset = lock_of(pipeline)
        if dataset is None:
            yield waited
            return
        with held(dataset):
            waited = _taken(dataset.try_lock, dataset.holder, dataset.subject, "is already being loaded by another run",
                            dataset.where, wait, deadline) or waited
            yield waited


@contextmanager
def _pipeline_file_locked(pipeline: Pipeline, wait: WaitForLock, deadline: Optional[float]) -> Iterator[bool]:
    path = lock_path(pipeline)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 (held across the yield)
    try:
        waited = _taken(lambda: try_flock(handle), lambda: describe_holder(path),
                        f"pipeline '{pipeline.pipeline_name}'", "is already running", f"lock {path}", wait, deadline)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "since": datetime.now(UTC).isoformat(timespec="seconds")}))
        handle.flush()
        try:
            yield waited
        finally:
            # leave the file (another process may already wait on it); empty it so no one reads a
            # finished run as the holder
            handle.seek(0)
            handle.truncate()
            handle.flush()
    finally:
        handle.close()  # closing releases the flock
