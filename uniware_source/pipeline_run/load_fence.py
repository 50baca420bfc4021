"""A fence for the dataset lock on PostgreSQL: a run's writes commit only while its lock session holds the lock.

Checking the lock before each load (dataset_lock.confirm_held) leaves a gap: a run stopped between that check
and its load (paused, swapped out, slow network), its lock session ended meanwhile, and another run took the
dataset and loaded: the first then loaded a package planned against the dataset as it was, appending a
fast-path file into a table now full, or replacing the other run's history rows (red team 138).

Here every transaction of dlt's PostgreSQL client on the run's dataset (its staging dataset too) first takes
a shared transaction lock on the fence key, then checks that the run's lock session (its backend pid and
start, taken when the run took the lock) still holds the dataset's lock; otherwise it rolls back and raises
FencedWriteRefused. A statement dlt sends outside a transaction is given one, so no write escapes the check.
A run that takes the dataset's lock ends the sessions of its role, in its database, still inside a fenced
transaction (a paused run's load in flight), and takes the fence key exclusively once: a barrier past which
no earlier holder's transaction commits. Sessions of another role are not ended: it waits for them.

dlt's load threads a run started and left running as it ended (a signal: dlt's pool gives them 2 s) keep
meeting that run's fence, whose holder has ended: their writes are refused, whatever run comes next.
Outside the fence: dlt's Parquet COPY through ADBC (a connection of its own; the connector gives PostgreSQL
CSV), and statements other code sends on the native connections.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Optional

from dlt.destinations.impl.postgres.sql_client import Psycopg2SqlClient

from ..errors import UniwareError

log = logging.getLogger(__name__)

FENCE = zlib.crc32(b"uniware-dlt load fence") & 0x7FFFFFFF  # the fence's first key, ours alone
SETTLE_SECONDS = 10.0  # how long a barrier waits for the sessions it ended to be gone
SETTLE_POLL_SECONDS = 0.05
REFUSED = "was refused and rolled back"  # in every FencedWriteRefused, whatever wraps it
SAME_DATABASE = "l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"


class FencedWriteRefused(UniwareError):
    """A write of a run that no longer holds its dataset's lock: rolled back."""


@dataclass(frozen=True)
class Fence:
    """What a transaction on the dataset checks: the run's lock (`namespace`, `key`) is held by the session
    `holder_pid` started at `holder_start` (a pid the server gave again to a later session does not pass)."""

    namespace: int
    key: int
    holder_pid: int
    holder_start: Any
    subject: str


Place = tuple[str, Any, str, str]  # host, port, database, schema
_fences: dict[Place, Fence] = {}
_unfenced: weakref.WeakSet[Any] = weakref.WeakSet()  # the lock sessions' own clients
# dlt load threads that outlived their run, with its fence and places
_kept: weakref.WeakKeyDictionary[threading.Thread, tuple[Fence, tuple[Place, ...]]] = weakref.WeakKeyDictionary()
_installed = threading.Lock()
_original: dict[str, Callable[..., Any]] = {}


def _place(client: Any, schema: str) -> Place:
    credentials = client.credentials
    return (str(credentials.host), credentials.port, str(client.database_name), schema)


def _fence_of(client: Any) -> Optional[Fence]:
    if (not _fences and not _kept) or client in _unfenced:
        return None
    try:
        place = _place(client, str(client.dataset_name))
    except AttributeError:
        return None
    fence, places = _kept.get(threading.current_thread(), (None, ()))
    if fence is not None and place in places:
        return fence  # a load thread of an ended run: the fence it started under, never a later run's
    return _fences.get(place)


def leave_unfenced(lock_client: Any) -> None:
    """A lock's own session is never fenced: none of its statements may fail."""
    _unfenced.add(lock_client)


@contextmanager
def fenced(lock_client: Any, fence: Fence) -> Iterator[None]:
    """While the block runs, this process's dlt transactions on the lock's dataset (and its staging dataset)
    commit only under `fence`; dlt's load threads started meanwhile and still running after it keep it."""
    _install()
    places = [_place(lock_client, str(lock_client.dataset_name)),
              _place(lock_client, str(lock_client.staging_dataset_name))]
    before = set(threading.enumerate())
    for place in places:
        _fences[place] = fence
    try:
        yield
    finally:
        running = [thread for thread in threading.enumerate()
                   if thread not in before and thread.name.startswith("dlt-pool-") and thread.is_alive()]
        for thread in running:  # its fence's holder ends with the run: their writes are refused
            _kept[thread] = (fence, tuple(places))
        for place in places:  # after: a thread outliving the run never finds no fence
            if _fences.get(place) is fence:
                del _fences[place]
        if running:
            log.warning("dlt load threads %s still run as this run ends: their writes to %s are refused",
                        ", ".join(thread.name for thread in running), fence.subject)


def _enter(client: Any, fence: Fence) -> None:
    """In the transaction just begun: wait out a barrier, then refuse unless the run still holds its lock."""
    try:
        with client.native_connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock_shared(%s, %s)", (FENCE, fence.key))
            cursor.execute("SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = "
                           "'advisory' AND l.granted AND l.objsubid = 2 AND l.classid = %s AND l.objid = %s "
                           "AND l.pid = %s AND a.backend_start = %s",
                           (fence.namespace, fence.key, fence.holder_pid, fence.holder_start))
            held = cursor.fetchone() is not None
    except Exception as error:  # as dlt's client says a failed statement (its retry rules read the type)
        raise client._make_database_exception(error) from error
    if not held:
        raise FencedWriteRefused(
            f"a write to {fence.subject} {REFUSED}: this run no longer holds the dataset's "
            "lock (its lock session ended), so another run may be loading it")


@contextmanager
def _begin_transaction(self: Any) -> Iterator[Any]:
    fence = _fence_of(self)
    with _original["begin_transaction"](self) as transaction:
        if fence is not None:
            _enter(self, fence)
        yield transaction


@contextmanager
def _execute_query(self: Any, query: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
    connection = self.native_connection
    if _fence_of(self) is None or connection is None or not connection.autocommit:
        with _original["execute_query"](self, query, *args, **kwargs) as cursor:
            yield cursor
        return
    with self.begin_transaction(), _original["execute_query"](self, query, *args, **kwargs) as cursor:
        yield cursor


def _install() -> None:
    """Wrap dlt's PostgreSQL client once: a client of no registered fence runs as it did."""
    with _installed:
        if _original:
            return
        _original["begin_transaction"] = Psycopg2SqlClient.begin_transaction
        _original["execute_query"] = Psycopg2SqlClient.execute_query
        Psycopg2SqlClient.begin_transaction = _begin_transaction  # type: ignore[method-assign]
        Psycopg2SqlClient.execute_query = _execute_query  # type: ignore[method-assign]


def barrier(execute: Callable[..., Any], key: int) -> list[int]:
    """On the session that has just taken the dataset's lock (`execute` runs a statement there, none of which
    may fail): end the sessions of this role in this database inside a fenced transaction, then take and drop
    the fence key exclusively. Returns the sessions still inside one when it could not (another role's)."""
    ended = execute(
        "SELECT l.pid, pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND l.classid = %s AND l.objid = %s "
        f"AND {SAME_DATABASE} AND l.pid <> pg_backend_pid() "
        "AND a.usesysid = (SELECT oid FROM pg_roles WHERE rolname = current_user)", FENCE, key) or []
    if ended:
        log.warning("ended PostgreSQL sessions %s: loads of a run that no longer held this dataset's lock",
                    ", ".join(str(pid) for pid, _ in ended))
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        [(taken,)] = execute("SELECT pg_try_advisory_lock(%s, %s)", FENCE, key)
        if taken:
            execute("SELECT pg_advisory_unlock(%s, %s)", FENCE, key)
            return []
        if time.monotonic() >= deadline:
            rows = execute("SELECT DISTINCT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted "
                           f"AND l.objsubid = 2 AND l.classid = %s AND l.objid = %s AND {SAME_DATABASE}",
                           FENCE, key) or []
            return sorted(int(pid) for (pid,) in rows)
        time.sleep(SETTLE_POLL_SECONDS)
