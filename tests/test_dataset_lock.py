"""The dataset's lock at the destination, by itself, against the local PostgreSQL and DuckDB files (the runs
that meet it are in tests/test_adversarial_runs.py)."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import dlt
import psycopg2
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed
from dlt.pipeline.pipeline import Pipeline

from uniware_simulator import UniwareSimulator
from uniware_source.pipeline_run import dataset_lock, load_fence, resumable
from uniware_source.pipeline_run.dataset_lock import DatasetLockLost, DuckdbFileLock, PostgresLock, dataset_key, lock_of
from uniware_source.pipeline_run.load_fence import FencedWriteRefused
from uniware_source.pipeline_run.lock import RunLocked, pipeline_lock
from uniware_source.pipeline_run.signals import Terminated

from .harness import Harness
from .postgres import POSTGRES
from .test_load_files import ORDERS_LOG


def postgres_pipeline(tmp_path: Path, name: str, dataset: str) -> Pipeline:
    return dlt.pipeline(pipeline_name=name, pipelines_dir=str(tmp_path / name), dataset_name=dataset,
                        destination=dlt.destinations.postgres(POSTGRES))


def setting(lock: PostgresLock, name: str) -> str:
    [(value,)] = lock.client.execute_sql(f"SHOW {name}")
    return str(value)


@pytest.mark.parametrize("new_server", [True, False])
def test_a_postgres_lock_is_one_sessions_named_kept_alive_and_given_up_with_it(
        tmp_path: Path, postgres_dataset: str, new_server: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two pipelines (another machine's, another name) on one dataset: one holds it; the other is told who.
    A server before PostgreSQL 14 has no idle_session_timeout: no statement may fail on the lock's session
    (dlt's client then resets it, which clears its name and would drop the lock)."""
    if not new_server:  # the server looks older than 14, and refuses the setting as PostgreSQL 13 does
        monkeypatch.setattr(dataset_lock, "IDLE_TIMEOUT_SINCE", 10**9)
        execute = PostgresLock._execute

        def before_14(lock: PostgresLock, sql: str, *args: object) -> object:
            if "idle_session_timeout" in sql and not sql.startswith("SHOW"):
                raise AssertionError('unrecognized configuration parameter "idle_session_timeout"')
            return execute(lock, sql, *args)
        monkeypatch.setattr(PostgresLock, "_execute", before_14)
    mine = lock_of(postgres_pipeline(tmp_path, "first", postgres_dataset))
    theirs = lock_of(postgres_pipeline(tmp_path, "second", postgres_dataset))
    assert isinstance(mine, PostgresLock) and isinstance(theirs, PostgresLock)
    try:
        assert mine.try_lock() and not theirs.try_lock()
        assert setting(mine, "application_name") == f"uniware-dlt pid {os.getpid()} on host {socket.gethostname()} " \
            "pipeline first"[:63]
        assert setting(mine, "idle_session_timeout") == "0"
        with socket.socket(fileno=os.dup(mine.client.native_connection.fileno())) as sock:
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == dataset_lock.KEEPALIVE_SECONDS
        said = theirs.holder()
        assert said.startswith(f"pid {os.getpid()} on host {socket.gethostname()} since "), said
        assert "(pipeline first; PostgreSQL session " in said, said
        mine.confirm()
        mine.close()
        assert theirs.try_lock()
        waiting = lock_of(postgres_pipeline(tmp_path, "third", postgres_dataset))
        assert isinstance(waiting, PostgresLock) and not waiting.try_lock()
        theirs.client.execute_sql("SELECT pg_terminate_backend(%s)", waiting.client.native_connection.get_backend_pid())
        with pytest.raises(DatasetLockLost, match=f"the connection that takes the lock of dataset '{postgres_dataset}' "
                                                  "of PostgreSQL ended .*loaded nothing"):
            waiting.try_lock()  # while it waits: said as the lock's, not as a driver's bare words
        waiting.close()
        with pytest.raises(DatasetLockLost, match=f"lost its lock of dataset '{postgres_dataset}' of PostgreSQL"):
            mine.confirm()
    finally:
        mine.close()
        theirs.close()


def test_a_second_pipeline_lock_on_the_dataset_waits_then_names_the_holder(
        tmp_path: Path, postgres_dataset: str) -> None:
    """pipeline_lock takes the dataset's lock after the pipeline's: another pipelines dir is refused at once,
    or after the time it was given to wait, naming the holder; the lock is free again once the block ends."""
    first = postgres_pipeline(tmp_path, "first", postgres_dataset)
    second = postgres_pipeline(tmp_path, "second", postgres_dataset)
    refused = f"dataset '{postgres_dataset}' of PostgreSQL is already being loaded by another run (pid {os.getpid()} "
    with pipeline_lock(first):
        with pytest.raises(RunLocked) as raised, pipeline_lock(second):
            pass
        assert refused in str(raised.value) and "--wait" in str(raised.value)
        with pytest.raises(RunLocked) as raised, pipeline_lock(second, wait=0.3):
            pass
        assert refused in str(raised.value) and "still, after waiting 0.3 s for it" in str(raised.value)
    with pipeline_lock(second) as waited:
        assert waited is False


def test_a_duckdb_file_outside_the_pipelines_folder_is_locked_beside_it(tmp_path: Path) -> None:
    shared = tmp_path / "shared" / "warehouse.duckdb"
    shared.parent.mkdir()

    def pipeline(name: str, database: Path) -> Pipeline:
        return dlt.pipeline(pipeline_name=name, pipelines_dir=str(tmp_path / name), dataset_name="uniware",
                            destination=dlt.destinations.duckdb(str(database)))

    mine, theirs = lock_of(pipeline("a", shared)), lock_of(pipeline("b", shared))
    assert isinstance(mine, DuckdbFileLock) and isinstance(theirs, DuckdbFileLock)
    assert mine.path == shared.with_name("warehouse.duckdb.lock")
    assert mine.try_lock() and not theirs.try_lock()
    assert theirs.holder().startswith(f"pid {os.getpid()} on host {socket.gethostname()} since ")
    theirs.close()  # refused: the holder's words stay
    assert mine.holder().startswith(f"pid {os.getpid()} ")
    mine.close()
    assert mine.holder() == "holder unknown"
    assert lock_of(pipeline("c", tmp_path / "missing" / "x.duckdb")) is None  # DuckDB says why itself
    own = pipeline("d", tmp_path / "elsewhere.duckdb")
    assert lock_of(pipeline("d", Path(own.working_dir) / "d.duckdb")) is None  # its pipeline lock covers it


def end_lock_sessions_of_this_process() -> None:
    """pg_terminate_backend of this process's lock sessions, waiting (bounded) until they are gone."""
    with closing(psycopg2.connect(POSTGRES)) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE application_name LIKE %s",
                       (f"uniware-dlt pid {os.getpid()} on host %",))
        assert cursor.fetchall() == [(True,)]


@pytest.mark.parametrize("lost_before", [2, 3], ids=["rows", "closing package"])
def test_a_lock_lost_past_its_check_refuses_the_loads_writes_and_the_next_run_loads_them_once(
        uniware_simulator: UniwareSimulator, tmp_path: Path, postgres_dataset: str, lost_before: int) -> None:
    """The lock's session ends after the run checked it and before its load (a process paused there, red team
    138): the load's transactions are fenced, so none commits (no rows, no LOADED row) and the run fails naming
    the lost lock; the next run loads the job once. Before the fence, the load went on beside whichever run
    had taken the dataset."""
    harness = Harness(uniware_simulator, tmp_path, destination=dlt.destinations.postgres(POSTGRES),
                      dataset=postgres_dataset)
    load = harness.pipeline.load
    loads: list[int] = []

    def lock_ended_before_a_load(*args: Any, **kwargs: Any) -> Any:
        loads.append(1)
        if len(loads) == lost_before:  # submit (1), collect with the rows (2), the closing LOADED rows (3)
            end_lock_sessions_of_this_process()
        return load(*args, **kwargs)

    harness.pipeline.load = lock_ended_before_a_load  # type: ignore[method-assign]
    with pytest.raises(DatasetLockLost, match=r"lost its lock of dataset .* refused and rolled back"):
        harness.run(exports=[ORDERS_LOG], facilities=["BLR01"])
    assert len(loads) == lost_before
    loaded = harness.query("SELECT COUNT(*) FROM {ds}.export_job_status WHERE status = 'LOADED'")
    assert loaded == [(0,)]
    if lost_before == 2:
        assert not harness.query("SELECT table_name FROM information_schema.tables WHERE table_schema = "
                                 f"'{postgres_dataset}' AND table_name = 'orders_log'")

    harness.pipeline.load = load  # type: ignore[method-assign]
    harness.run(exports=[ORDERS_LOG], facilities=["BLR01"])
    jobs = {job.code: job.file.rows for job in uniware_simulator.jobs.all() if job.file is not None}
    assert len(jobs) >= 1 and all(jobs.values())  # the job of the failed run, and the next window's
    assert dict(harness.query("SELECT _uniware_job_code, COUNT(*) FROM {ds}.orders_log GROUP BY 1")) == jobs
    assert dict(harness.query("SELECT job_code, COUNT(*) FROM {ds}.export_job_status WHERE status = 'LOADED' "
                              "GROUP BY 1")) == dict.fromkeys(jobs, 1)


@contextmanager
def another_machine_holding(dataset: str) -> Iterator[Any]:
    """A session of another machine's run that has just taken the dataset's lock (and passed the barrier)."""
    with closing(psycopg2.connect(POSTGRES)) as connection:
        connection.autocommit = True

        def execute(sql: str, *args: Any) -> Any:
            with connection.cursor() as cursor:
                cursor.execute(sql, args)
                return cursor.fetchall() if cursor.description else None

        [(taken,)] = execute("SELECT pg_try_advisory_lock(%s, %s)", dataset_lock.NAMESPACE, dataset_key(dataset))
        assert taken
        assert load_fence.barrier(execute, dataset_key(dataset)) == []
        yield execute


def test_a_transaction_in_flight_when_the_lock_goes_is_ended_by_the_next_holder_and_none_after_commits(
        tmp_path: Path, postgres_dataset: str) -> None:
    """A run's write is inside its transaction when its lock session ends; another machine's run takes the
    dataset: the write in flight is ended (rolled back) before that run goes on, and every later write of the
    first run, in a transaction or not, is refused, while the other run writes."""
    pipeline = postgres_pipeline(tmp_path, "first", postgres_dataset)
    with pipeline_lock(pipeline), pipeline.sql_client() as client:
        client.execute_sql(f"CREATE SCHEMA {postgres_dataset}")
        client.execute_sql(f"CREATE TABLE {postgres_dataset}.rows (n int)")
        client.execute_sql(f"INSERT INTO {postgres_dataset}.rows VALUES (1)")
        in_flight = client.begin_transaction()
        in_flight.__enter__()
        client.execute_sql(f"INSERT INTO {postgres_dataset}.rows VALUES (2)")

        end_lock_sessions_of_this_process()  # the run's lock session ends (its process paused past a check)
        with another_machine_holding(postgres_dataset) as theirs:
            with pytest.raises(Exception, match=r"terminat|closed"):
                in_flight.__exit__(None, None, None)
            client.close_connection()  # as dlt's next job does: a connection of its own
            client.open_connection()
            with pytest.raises(FencedWriteRefused, match=f"dataset '{postgres_dataset}' of PostgreSQL was refused"):
                client.execute_sql(f"INSERT INTO {postgres_dataset}.rows VALUES (3)")
            with pytest.raises(FencedWriteRefused), client.begin_transaction():
                client.execute_sql(f"INSERT INTO {postgres_dataset}.rows VALUES (4)")
            with client.with_staging_dataset(), pytest.raises(FencedWriteRefused):
                client.execute_sql(f"CREATE SCHEMA {postgres_dataset}_staging")
            theirs(f"INSERT INTO {postgres_dataset}.rows VALUES (5)")
            assert theirs(f"SELECT n FROM {postgres_dataset}.rows ORDER BY n") == [(1,), (5,)]
    assert not load_fence._fences, "a run's end leaves no fence behind"


@contextmanager
def a_load_in_flight(dataset: str, *, role: str = "postgres", database: str = "test") -> Iterator[Any]:
    """A session inside a fenced transaction of `dataset` (a run's load), as `role` in `database`; yields
    (its connection, its backend pid)."""
    url = POSTGRES.replace("postgres:", f"{role}:", 1).replace("/test", f"/{database}")
    with closing(psycopg2.connect(url)) as connection:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            [(session,)] = cursor.fetchall()
            cursor.execute("SELECT pg_advisory_xact_lock_shared(%s, %s)", (load_fence.FENCE, dataset_key(dataset)))
        yield connection, session


OTHER_ROLE = "uniware_dlt_other_role"


@pytest.fixture
def other_role() -> Iterator[str]:
    with closing(psycopg2.connect(POSTGRES)) as admin, admin.cursor() as cursor:
        admin.autocommit = True
        cursor.execute(f"DO $$ BEGIN CREATE ROLE {OTHER_ROLE} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; "
                       "END $$")
        try:
            yield OTHER_ROLE
        finally:
            cursor.execute(f"DROP ROLE IF EXISTS {OTHER_ROLE}")


def test_a_barrier_waits_for_loads_it_may_not_end_and_names_them(
        tmp_path: Path, postgres_dataset: str, other_role: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An earlier holder's load under another role, still in its transaction: the next run does not end it, so
    it does not take the dataset while it is open, and says which session holds it; taken once it ends."""
    monkeypatch.setattr(load_fence, "SETTLE_SECONDS", 0.0)
    with a_load_in_flight(postgres_dataset, role=other_role) as (connection, session):
        lock = lock_of(postgres_pipeline(tmp_path, "next", postgres_dataset))
        assert isinstance(lock, PostgresLock)
        try:
            assert not lock.try_lock()
            assert f"still open in PostgreSQL sessions {session}, which this run does not end" in lock.holder()
            with pytest.raises(RunLocked, match=f"sessions {session}"), pipeline_lock(lock.pipeline):
                pass
            connection.rollback()
            assert lock.try_lock()
            assert "still open" not in lock.holder()
        finally:
            lock.close()


def test_a_barrier_leaves_loads_of_another_database_alone(tmp_path: Path, postgres_dataset: str) -> None:
    """Advisory locks are per database, pg_locks shows the cluster's: a run taking dataset `x` of one database
    (staging) does not end a load of the dataset of that name in another (production) on the same server."""
    with a_load_in_flight(postgres_dataset, database="postgres") as (connection, _):
        with pipeline_lock(postgres_pipeline(tmp_path, "staging", postgres_dataset)):
            pass
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            assert cursor.fetchall() == [(1,)]


def test_dlt_load_threads_still_running_as_a_run_ends_keep_meeting_its_fence(
        tmp_path: Path, postgres_dataset: str) -> None:
    """A signal during a load: dlt's pool gives its threads 2 s, then the run ends and lets its lock go while
    a load thread may still begin a transaction. That thread keeps its run's fence, whose holder has ended,
    even once the next run in this process holds the dataset: its writes are refused, the next run's are not."""
    pipeline = postgres_pipeline(tmp_path, "stopped", postgres_dataset)
    go = threading.Event()
    outcome: list[str] = []

    def late_load() -> None:
        go.wait()
        with pipeline.sql_client() as client:
            try:
                client.execute_sql(f"CREATE SCHEMA {postgres_dataset}")
                outcome.append("written")
            except FencedWriteRefused:
                outcome.append("refused")

    with pipeline_lock(pipeline):
        thread = threading.Thread(target=late_load, name=f"dlt-pool-{threading.get_ident()}-0")
        thread.start()
    following = postgres_pipeline(tmp_path, "next", postgres_dataset)
    with pipeline_lock(following):
        go.set()
        thread.join()
        with following.sql_client() as client:
            client.execute_sql(f"CREATE TABLE IF NOT EXISTS {postgres_dataset}_staging_probe (n int)")
            client.execute_sql(f"DROP TABLE {postgres_dataset}_staging_probe")
    assert outcome == ["refused"]
    with closing(psycopg2.connect(POSTGRES)) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (postgres_dataset,))
        assert cursor.fetchall() == []


@pytest.mark.parametrize("failure", ["server crashed", f"a write {load_fence.REFUSED}"])
def test_a_failed_load_whose_lock_is_gone_says_the_lock_and_the_loads_own_error(
        tmp_path: Path, postgres_dataset: str, failure: str) -> None:
    """A load that failed when the lock was gone: the lost lock is said, and the load's own error with it
    (a crashed server ends the lock's session with the load's), unless that error was the fence's refusal."""
    pipeline = postgres_pipeline(tmp_path, "failed", postgres_dataset)
    with pipeline_lock(pipeline):
        dataset_lock.lost_lock_said(RuntimeError(failure))  # held: nothing to say
        end_lock_sessions_of_this_process()
        with pytest.raises(DatasetLockLost) as lost:
            dataset_lock.lost_lock_said(RuntimeError(failure))
    assert f"lost its lock of dataset '{postgres_dataset}'" in str(lost.value)
    assert ("Its load had failed: server crashed" in str(lost.value)) == (failure == "server crashed")


@pytest.mark.parametrize("cause", ["interrupt", "terminate", "refused"])
def test_a_load_interrupted_as_its_lock_went_is_said_as_interrupted_and_a_refused_one_as_the_lost_lock(
        tmp_path: Path, postgres_dataset: str, cause: str) -> None:
    """A load that failed while the lock was gone: Ctrl-C or SIGTERM among its causes is raised as such (exit 130
    or 143), ahead of the lost lock; a load the fence refused is said as the lost lock."""
    pipeline = postgres_pipeline(tmp_path, "surfaced", postgres_dataset)
    error: BaseException = {"interrupt": KeyboardInterrupt(), "terminate": Terminated(),
                            "refused": FencedWriteRefused(f"a write {load_fence.REFUSED}")}[cause]
    wrapped = RuntimeError("load job failed")
    wrapped.__cause__ = error
    expected = {"interrupt": KeyboardInterrupt, "terminate": Terminated, "refused": DatasetLockLost}[cause]
    with pipeline_lock(pipeline):
        end_lock_sessions_of_this_process()
        with pytest.raises(expected) as raised, resumable._surfaced():
            raise PipelineStepFailed(pipeline, "load", "1", wrapped)
    assert type(raised.value) is expected
    assert ("lost its lock" in str(raised.value)) == (cause == "refused")
