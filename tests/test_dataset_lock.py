"""The dataset's lock at the destination, by itself, against the local PostgreSQL and DuckDB files (the runs
that meet it are in tests/test_adversarial_runs.py)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import dlt
import psycopg2
import pytest
from dlt.pipeline.pipeline import Pipeline

from uniware_simulator import UniwareSimulator
from uniware_source.pipeline_run import dataset_lock
from uniware_source.pipeline_run.dataset_lock import DatasetLockLost, DuckdbFileLock, PostgresLock, lock_of
from uniware_source.pipeline_run.lock import RunLocked, pipeline_lock

from .harness import Harness
from .postgres import POSTGRES


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


def test_a_lock_lost_while_the_last_package_loads_is_said_not_an_exit_0(
        uniware_simulator: UniwareSimulator, tmp_path: Path, postgres_dataset: str) -> None:
    """The lock is checked before each load, not fenced into dlt's transactions: lost while the run's last
    package (its LOADED rows) loaded, the load went on and the run ended as a success (red team 138). Checked
    again after each load: the run fails naming the lost lock (the rows it loaded are in; README fault table)."""
    harness = Harness(uniware_simulator, tmp_path, destination=dlt.destinations.postgres(POSTGRES),
                      dataset=postgres_dataset)
    load = harness.pipeline.load
    loads: list[int] = []

    def lock_ended_on_the_third_load(*args: Any, **kwargs: Any) -> Any:
        loads.append(1)
        if len(loads) == 3:  # submit, collect, then the closing package with the LOADED rows
            with psycopg2.connect(POSTGRES) as connection, connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE %s",
                               (f"uniware-dlt pid {os.getpid()} on host %",))
                assert cursor.fetchall() == [(True,)]
        return load(*args, **kwargs)

    harness.pipeline.load = lock_ended_on_the_third_load  # type: ignore[method-assign]
    with pytest.raises(DatasetLockLost, match=r"lost its lock of dataset .* was not stopped"):
        harness.run(exports=["Return Invoices"], facilities=["BLR01"])
    assert len(loads) == 3
    assert harness.query("SELECT COUNT(*) FROM {ds}.export_job_status WHERE status = 'LOADED'") == [(1,)]
