"""One run per dataset at a time, held at the destination: runs that share no `pipelines_dir` see each other.

The pipeline's file lock (lock.py) is local. Two runs of one pipeline on two machines or containers
(each its own `pipelines_dir`, one dataset) both took the state the first committed, collected the same
jobs, and both saw the target table empty: both appended every row (exit 0, each row twice), or
numbered one job's statuses differently and collided on the history's key in every later run.

- PostgreSQL: a session advisory lock (`pg_try_advisory_lock`) keyed on the dataset's schema name, on a
  connection of its own held for the run. The server drops it when that connection ends (the process
  killed; a machine gone, once TCP says so). The session's `application_name` names the pid and host.
  Each load first checks the lock is still held (`confirm_held`), and again after: a lost connection stops
  the run before it loads (its package waits for the next run, which merges it). Each of dlt's transactions
  on the dataset is fenced too (load_fence.py): it commits only while the run's lock session holds the lock,
  and a run taking the lock first ends the loads in flight of the run that lost it. The connection gets TCP
  keepalives, as it sits idle while the run polls.
- DuckDB: one process writes a file at a time anyway; an flock on `<database file>.lock` beside it
  (none for a file in the pipeline's own folder: the pipeline's lock covers that one).
- Other destinations: nothing here; runs on several machines need the orchestrator's one-at-a-time.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path
from typing import Any, Optional, Protocol, TextIO

from dlt.pipeline.pipeline import Pipeline

from ..errors import DestinationNotReached, UniwareError
from .load_fence import REFUSED, Fence, barrier, fenced, leave_unfenced

log = logging.getLogger(__name__)

APPLICATION = "uniware-dlt"
NAMESPACE = zlib.crc32(b"uniware-dlt run lock") & 0x7FFFFFFF  # the advisory lock's first key, ours alone
IDENTIFIER_BYTES = 63  # PostgreSQL keeps this much of an application_name
IDLE_TIMEOUT_SINCE = 140000  # idle_session_timeout came with PostgreSQL 14
LOST = ("it loads nothing more: another run may load now. What it extracted and did not load waits, and the next "
        "run loads it (merged); its transactions begun after the lock went were refused and rolled back")
KEEPALIVE_SECONDS = 60  # TCP keepalive on the idle lock connection: a NAT or load balancer keeps it open


class DatasetLock(Protocol):
    """A destination's lock of one dataset, taken by each run for its whole length."""

    subject: str  # "dataset 'x' of PostgreSQL": what is locked
    where: str  # how: which lock, for the message

    def try_lock(self) -> bool: ...

    def holder(self) -> str: ...

    def confirm(self) -> None: ...

    def close(self) -> None: ...


class DatasetLockLost(UniwareError):
    """The run no longer holds its dataset's lock: another run may load now, so this one loads no more."""


_held: ContextVar[Optional[DatasetLock]] = ContextVar("uniware_dataset_lock", default=None)


def lock_of(pipeline: Pipeline) -> Optional[DatasetLock]:
    """The dataset lock this pipeline's destination can hold, not yet taken; None where there is none."""
    destination = pipeline.destination
    if destination is None or not pipeline.dataset_name:
        return None
    kind = destination.destination_type
    if kind.endswith(".postgres"):
        return PostgresLock(pipeline)
    if kind.endswith(".duckdb"):
        return DuckdbFileLock.of(pipeline)
    return None


@contextmanager
def held(lock: DatasetLock) -> Iterator[None]:
    """`lock` (taken) is this context's: `confirm_held` checks it; closed when the block ends."""
    token = _held.set(lock)
    try:
        yield
    finally:
        _held.reset(token)
        lock.close()


def confirm_held() -> None:
    """Before rows load: raise DatasetLockLost when the run's dataset lock is gone (no lock: nothing to check)."""
    lock = _held.get()
    if lock is not None:
        lock.confirm()


def dataset_key(schema: str) -> int:
    """The advisory locks' second key for a dataset (its schema's name at the destination): run lock and fence."""
    return zlib.crc32(schema.encode()) & 0x7FFFFFFF


def lost_lock_said(failure: BaseException) -> None:
    """After a failed load: DatasetLockLost when the run's lock is gone, naming the load's own error too unless
    that was the fence refusing its writes (a crashed server ends the lock's session with the load's)."""
    try:
        confirm_held()
    except DatasetLockLost as lost:
        if REFUSED in str(failure):
            raise lost from None
        raise DatasetLockLost(f"{lost}. Its load had failed: {_first_line(failure)}") from None


def _keep_alive(connection: Any) -> None:
    """TCP keepalives every KEEPALIVE_SECONDS on the connection's socket (libpq's default waits two hours):
    the lock's connection sits idle while the run polls Uniware, and a NAT or load balancer that drops idle
    flows would end it. A Unix socket needs none."""
    try:
        with socket.socket(fileno=os.dup(connection.fileno())) as sock:
            if sock.family not in (socket.AF_INET, socket.AF_INET6):
                return
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            for option, value in (("TCP_KEEPIDLE", KEEPALIVE_SECONDS), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 6)):
                if hasattr(socket, option):
                    sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)
    except OSError as error:
        log.debug("no TCP keepalive on the lock connection: %s", error)


def try_flock(handle: TextIO) -> bool:
    """An exclusive flock on the open file, if no other open file holds it."""
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _first_line(error: BaseException) -> str:
    said = str(error).strip()
    return said.splitlines()[0] if said else type(error).__name__


def _label() -> str:
    return f"pid {os.getpid()} on host {socket.gethostname()}"


class PostgresLock:
    """A session advisory lock of the dataset's schema, on a connection of dlt's PostgreSQL client."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        try:  # the run's first contact with the destination: its credentials resolved and a connection opened
            self.client: Any = pipeline.sql_client()  # dlt's: its credentials, connection options and errors
            self.client.open_connection()
        except Exception as error:
            raise DestinationNotReached(pipeline, error) from error
        self.locked = False
        leave_unfenced(self.client)
        self.fence = ExitStack()  # once the lock is taken, the run's writes are fenced (load_fence)
        self.open_loads: list[int] = []  # an earlier holder's sessions still inside a load (barrier)
        self.dataset = str(self.client.dataset_name)  # as the schema is named at the destination
        self.key = (NAMESPACE, dataset_key(self.dataset))
        self.subject = f"dataset '{self.dataset}' of PostgreSQL"
        self.where = (f"advisory lock ({self.key[0]}, {self.key[1]}) of database "
                      f"'{getattr(self.client, 'database_name', '?')}', taken by every run")
        # no statement here may fail: dlt's client resets a connection whose statement failed (DISCARD ALL),
        # which would clear the name and, once taken, the lock
        if getattr(self.client.native_connection, "server_version", 0) >= IDLE_TIMEOUT_SINCE:
            # held while the run waits for Uniware: a server's idle timeout must not end it
            self._execute("SET idle_session_timeout = 0")
        self._execute("SET application_name = %s",
                      f"{APPLICATION} {_label()} pipeline {pipeline.pipeline_name}"[:IDENTIFIER_BYTES])
        _keep_alive(self.client.native_connection)
        [(self.pid, self.started)] = self._execute(
            "SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()")

    def _execute(self, sql: str, *args: Any) -> Any:
        return self.client.execute_sql(sql, *args)

    def try_lock(self) -> bool:
        self.open_loads = []
        try:
            [(taken,)] = self._execute("SELECT pg_try_advisory_lock(%s, %s)", *self.key)
            if taken:
                self.open_loads = barrier(self._execute, self.key[1])
                if self.open_loads:  # an earlier holder's loads, of another role: not ended here, waited for
                    self._execute("SELECT pg_advisory_unlock(%s, %s)", *self.key)
        except Exception as error:
            raise DatasetLockLost(f"the connection that takes the lock of {self.subject} ended ({_first_line(error)}); "
                                  "this run loaded nothing: run it again") from None
        if not taken or self.open_loads:
            return False
        self.locked = True
        self.fence.enter_context(fenced(self.client, Fence(*self.key, int(self.pid), self.started, self.subject)))
        return True

    def holder(self) -> str:
        """'pid 4711 on host h since <time> (pipeline x; PostgreSQL session 123 from 10.0.0.5)', as far as
        the server shows another role's session."""
        if self.open_loads:
            return (f"loads of a run that held it before are still open in PostgreSQL sessions "
                    f"{', '.join(map(str, self.open_loads))}, which this run does not end (another role's)")
        try:
            rows = self._execute(
                "SELECT a.application_name, a.backend_start, host(a.client_addr), l.pid, a.usename "
                "FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND l.classid = %s "
                "AND l.objid = %s AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                *self.key) or []
        except Exception as error:
            log.debug("could not read the holder of %s: %s", self.where, error)
            return "holder unknown"
        if not rows:
            return "its holder has just ended"
        name, since, address, backend, user = rows[0]
        name = str(name or "")
        if name.startswith(APPLICATION + " "):
            label, _, pipeline = name[len(APPLICATION) + 1:].partition(" pipeline ")
        else:
            label, pipeline = f"a session of user {user or '?'}", ""
        when = f" since {since.isoformat(timespec='seconds')}" if isinstance(since, datetime) else ""
        extra = [f"pipeline {pipeline}"] if pipeline else []
        extra.append(f"PostgreSQL session {backend}" + (f" from {address}" if address else ""))
        return f"{label}{when} ({'; '.join(extra)})"

    def confirm(self) -> None:
        try:
            rows = self._execute(
                "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND classid = %s "
                "AND objid = %s AND pid = pg_backend_pid()", *self.key)
        except Exception as error:
            raise DatasetLockLost(f"the run lost its lock of {self.subject} (its connection ended: {_first_line(error)}"
                                  f"); {LOST}") from None
        if not rows:
            raise DatasetLockLost(f"the run no longer holds its lock of {self.subject}; {LOST}")

    def close(self) -> None:
        self.fence.close()
        try:
            if self.locked:  # at once: the server ends a closed session (and drops its locks) a moment later
                self._execute("SELECT pg_advisory_unlock(%s, %s)", *self.key)
        except Exception as error:
            log.debug("unlocking %s: %s", self.subject, error)
        try:
            self.client.close_connection()  # the server drops the session's advisory locks with it
        except Exception as error:
            log.debug("closing the lock connection of %s: %s", self.subject, error)


class DuckdbFileLock:
    """An flock on `<database file>.lock`: runs of any pipeline writing that file, one at a time."""

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + ".lock")
        self.subject = f"DuckDB file {database}"
        self.where = f"lock {self.path}, taken by every run writing the file"
        self.handle: Optional[TextIO] = None
        self.locked = False

    @classmethod
    def of(cls, pipeline: Pipeline) -> Optional[DuckdbFileLock]:
        database = getattr(pipeline.destination_client().config.credentials, "database", None)
        if not isinstance(database, str) or database.startswith(":") or "://" in database:
            return None  # in memory, MotherDuck: no file here
        path = Path(database).resolve()
        if path.is_relative_to(Path(pipeline.working_dir).resolve()):
            return None  # the pipeline's own file (`:pipeline:`): its pipeline lock covers it
        if not path.parent.is_dir():
            return None  # no file can be there: DuckDB's first connection says so, naming the setting
        lock = cls(path)
        try:
            lock.handle = open(lock.path, "a+", encoding="utf-8")  # noqa: SIM115 (held until close)
        except OSError as error:  # a folder that cannot be written: DuckDB's own first connection says why
            log.warning("%s cannot be made (%s): runs with other pipelines dirs writing %s are not kept apart",
                        lock.path, error, path.name)
            return None
        return lock

    def try_lock(self) -> bool:
        if self.handle is None or not try_flock(self.handle):
            return False
        self.locked = True
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(f"{_label()} since {datetime.now().astimezone().isoformat(timespec='seconds')}")
        self.handle.flush()
        return True

    def holder(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8").strip() or "holder unknown"
        except OSError:
            return "holder unknown"

    def confirm(self) -> None:
        """An flock lasts as long as its process: nothing to check."""

    def close(self) -> None:
        if self.handle is not None:
            if self.locked:  # a finished run is no one's holder; a run refused leaves the holder's words
                self.handle.seek(0)
                self.handle.truncate()
            self.handle.close()  # closing releases the flock
            self.handle = None
