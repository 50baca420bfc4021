"""Never silently wrong when runs collide or are stopped from outside.

- Two runs of one pipeline at once: the second exits at once (code 4) naming the pid, host and start
  of the run that holds the pipeline's lock, or waits for it with --wait and then loads nothing twice.
- A job loaded twice by any path that bypasses the lock (two pipelines from the same state, the
  same job code given to another pipeline) lands once, on DuckDB and PostgreSQL, for append exports
  (replaced by job code) as for merge and snapshot exports (by key).
- SIGTERM behaves like Ctrl-C: exit 143, no file left in download_dir, the next run resumes the job.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any, Optional

import dlt
import psycopg2
import pytest

from tests.simulator_fixtures import TEST_NOW
from uniware_simulator import STUCK, UniwareSimulator
from uniware_source import ExportsFailed
from uniware_source.catalog import CATALOG

from .harness import Harness
from .postgres import POSTGRES

REPO = Path(__file__).resolve().parent.parent
# an export without a natural key, like Purchase Orders / GRN / Tally GST (which the simulator
# does not serve): appended, no lookback, so a job loaded twice would double its rows
ORDERS_LOG: dict[str, Any] = {"name": "Sale Orders", "table_name": "orders_log", "write_disposition": "append",
                              "primary_key": [], "lookback_days": 0}
WAIT = 120.0  # bound of every wait for a child process to reach a state


def child_env(sim: UniwareSimulator, download_dir: Path, exports: list[Any]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCES__UNIWARE__")}
    env.update({
        "PYTHONPATH": str(REPO),
        "SOURCES__UNIWARE__BASE_URL": sim.base_url,
        "SOURCES__UNIWARE__USERNAME": sim.config.username,
        "SOURCES__UNIWARE__PASSWORD": sim.config.password,
        "SOURCES__UNIWARE__EXPORTS": json.dumps(exports),
        "SOURCES__UNIWARE__FACILITIES": "BLR01",
        "SOURCES__UNIWARE__START_DATE": "2026-04-01",
        "SOURCES__UNIWARE__POLL_INITIAL_SECONDS": "0.02",
        "SOURCES__UNIWARE__POLL_MAX_SECONDS": "0.05",
        "SOURCES__UNIWARE__DOWNLOAD_DIR": str(download_dir),
    })
    return env


def start_run(sim: UniwareSimulator, workdir: Path, *args: str, exports: Optional[list[Any]] = None,
              name: str = "adversarial", env: Optional[dict[str, str]] = None,
              paused_at_load_of: str = "", paused_at_normalize_of: str = "",
              quiet: bool = True) -> subprocess.Popen[str]:
    """The pipeline script in a child process (state under `workdir`, DuckDB file in `workdir`, unless
    `env` gives the destination); paused before its first load (or normalize) of rows of table
    `paused_at_load_of` (`paused_at_normalize_of`) until a line is written to its stdin
    (tests/pipeline_process.py); `--quiet` unless told."""
    downloads = workdir / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    pause = {name: table for name, table in (("UNIWARE_TEST_PAUSE_AT_LOAD_OF", paused_at_load_of),
                                             ("UNIWARE_TEST_PAUSE_AT_NORMALIZE_OF", paused_at_normalize_of)) if table}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.pipeline_process", TEST_NOW.isoformat(), "--",
         "--pipelines-dir", str(workdir / "pipelines"), "--pipeline-name", name,
         *(["--quiet"] if quiet else []), *args],
        env={**child_env(sim, downloads, exports or [ORDERS_LOG]), **(env or {}), **pause}, cwd=workdir,
        stdin=subprocess.PIPE if pause else None, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


class StderrLines:
    """Reads a running child's stderr on a thread, so a test can wait (bounded) for one line."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert process.stderr is not None
        stream = process.stderr
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream: Iterable[str]) -> None:
        for line in stream:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float) -> bool:
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                return False
            self.seen.append(line)
            if text in line:
                return True

    def rest(self) -> str:
        self.thread.join(timeout=WAIT)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return "".join(self.seen)


def polled(sim: UniwareSimulator, times: int) -> bool:
    return sim.requests.wait_for(lambda requests: sum(r.endpoint == "status" for r in requests) >= times,
                                 timeout=WAIT)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_second_run_exits_at_once_or_waits_and_loads_nothing_twice(
        uniware_simulator: UniwareSimulator, tmp_path: Path, processes: list[subprocess.Popen[str]]) -> None:
    sim = uniware_simulator
    sim.inject_job_fate(STUCK)
    first = start_run(sim, tmp_path)
    processes.append(first)
    assert polled(sim, 3), "the first run never polled its job"

    second = start_run(sim, tmp_path)
    processes.append(second)
    _, stderr = second.communicate(timeout=WAIT)
    assert second.returncode == 4, stderr
    [message] = [line for line in stderr.splitlines() if line.strip()]
    assert f"pid {first.pid} on host {socket.gethostname()} since " in message
    assert "already running" in message and "--wait" in message
    assert sim.requests.count("create") == 1
    timed = start_run(sim, tmp_path, "--wait", "0.5")  # waits half a second, then says so
    processes.append(timed)
    _, stderr = timed.communicate(timeout=WAIT)
    assert timed.returncode == 4 and "still, after waiting 0.5 s for it" in stderr, stderr

    waiting = start_run(sim, tmp_path, "--wait")
    processes.append(waiting)
    waiting_stderr = StderrLines(waiting)
    assert waiting_stderr.wait_for(f"locked by another run (pid {first.pid} on host", WAIT), waiting_stderr.rest()
    assert waiting.poll() is None  # it waits for the lock rather than running

    sim.release_stuck_jobs()
    _, first_stderr = first.communicate(timeout=WAIT)
    assert first.returncode == 0, first_stderr
    waiting.wait(timeout=WAIT)
    assert waiting.returncode == 0, waiting_stderr.rest()

    [job] = sim.jobs.all()
    assert sim.requests.count("create") == 1
    assert sim.requests.count("download") == 1  # the waiting run saw the job loaded, not to collect
    assert job.file is not None
    harness = Harness(sim, tmp_path, name="adversarial")
    assert harness.count("orders_log") == job.file.rows > 0
    assert [r["status"] for r in harness.history(job.code)].count("LOADED") == 1


def test_a_run_that_waits_for_the_lock_loads_where_it_was_told(
        uniware_simulator: UniwareSimulator, tmp_path: Path, processes: list[subprocess.Popen[str]]) -> None:
    """`--wait --dataset elsewhere` while a run of the pipeline held the lock: once it had the lock, it took
    the other run's state with its dataset and loaded there, exit 0, `elsewhere` never made (red team helper
    116). It loads into `elsewhere`, from start_date (a dataset new to the pipeline); the first dataset keeps
    exactly the first run's rows."""
    sim = uniware_simulator
    sim.inject_job_fate(STUCK)
    first = start_run(sim, tmp_path)
    processes.append(first)
    assert polled(sim, 3), "the first run never polled its job"
    waiting = start_run(sim, tmp_path, "--wait", "--dataset", "elsewhere")
    processes.append(waiting)
    waiting_stderr = StderrLines(waiting)
    assert waiting_stderr.wait_for("locked by another run", WAIT), waiting_stderr.rest()
    sim.release_stuck_jobs()
    _, first_stderr = first.communicate(timeout=WAIT)
    assert first.returncode == 0, first_stderr
    waiting.wait(timeout=WAIT)
    assert waiting.returncode == 0, waiting_stderr.rest()
    [mine, its] = sim.jobs.all()
    assert mine.file is not None and its.file is not None
    harness = Harness(sim, tmp_path, name="adversarial")
    assert harness.sql("SELECT _uniware_job_code, COUNT(*) FROM uniware.orders_log GROUP BY 1") == \
        [(mine.code, mine.file.rows)]
    assert harness.sql("SELECT _uniware_job_code, COUNT(*) FROM elsewhere.orders_log GROUP BY 1") == \
        [(its.code, its.file.rows)]


def two_machines(destination: str, tmp_path: Path, request: pytest.FixtureRequest) -> tuple[list[str], dict[str, str],
                                                                                             Any, str]:
    """(script arguments, environment, dlt destination, dataset) of one dataset that runs with separate
    pipelines dirs load into: a PostgreSQL schema, or one DuckDB file outside either pipelines dir."""
    if destination == "postgres":
        dataset = request.getfixturevalue("postgres_dataset")
        return (["--destination", "postgres", "--dataset", dataset],
                {"DESTINATION__POSTGRES__CREDENTIALS": POSTGRES}, dlt.destinations.postgres(POSTGRES), dataset)
    database = str(tmp_path / "shared" / "warehouse.duckdb")
    (tmp_path / "shared").mkdir()
    return ["--dataset", "uniware"], {"DESTINATION__DUCKDB__CREDENTIALS": database}, \
        dlt.destinations.duckdb(database), "uniware"


@pytest.mark.parametrize("destination", ["postgres", "duckdb"])
@pytest.mark.parametrize("second_name", ["adversarial", "another"])
def test_runs_that_share_no_pipelines_dir_load_one_dataset_one_at_a_time(
        uniware_simulator: UniwareSimulator, tmp_path: Path, processes: list[subprocess.Popen[str]],
        destination: str, second_name: str, request: pytest.FixtureRequest) -> None:
    """Two machines (or containers), each with its own pipelines dir, one dataset; the second run starts
    while the first polls. Under the same pipeline name it took the first's jobs from the state at the
    destination, both saw the table empty and appended every row: each row twice, both exit 0 (red team
    135). Under another name each would make its own job and append it. The dataset's lock at the
    destination now makes the second exit 4 naming the first; with --wait it runs after it, and loads
    nothing twice (another pipeline is then refused by the keyless export's overlap check, exit 1)."""
    sim = uniware_simulator
    sim.inject_job_fate(STUCK)
    arguments, env, target, dataset = two_machines(destination, tmp_path, request)
    first = start_run(sim, tmp_path / "a", *arguments, env=env)
    processes.append(first)
    assert polled(sim, 3), "the first run never polled its job"

    second = start_run(sim, tmp_path / "b", *arguments, env=env, name=second_name)
    processes.append(second)
    _, stderr = second.communicate(timeout=WAIT)
    assert second.returncode == 4, stderr
    [message] = [line for line in stderr.splitlines() if line.strip()]
    assert "is already being loaded by another run" in message and "--wait" in message, message
    assert f"pid {first.pid} on host {socket.gethostname()} since " in message, message
    assert sim.requests.count("create") == 1

    waiting = start_run(sim, tmp_path / "b", *arguments, "--wait", env=env, name=second_name)
    processes.append(waiting)
    waiting_stderr = StderrLines(waiting)
    assert waiting_stderr.wait_for(f"is locked by another run (pid {first.pid} on host", WAIT), waiting_stderr.rest()
    assert waiting.poll() is None
    sim.release_stuck_jobs()
    _, first_stderr = first.communicate(timeout=WAIT)
    assert first.returncode == 0, first_stderr
    waiting.wait(timeout=WAIT)
    if second_name == "adversarial":
        assert waiting.returncode == 0, waiting_stderr.rest()
    else:  # its own state, no cursor: after the first, its windows overlap the rows the first loaded
        said = waiting_stderr.rest()
        assert waiting.returncode == 1 and "cannot merge rows exported twice" in said, said

    files = {job.code: job.file.rows for job in sim.jobs.all() if job.file is not None}
    assert sum(files.values()) > 0
    reader = Harness(sim, tmp_path / "reader", name="reader", destination=target, dataset=dataset)
    loaded = reader.query("SELECT _uniware_job_code, COUNT(*) FROM {ds}.orders_log GROUP BY 1")
    assert sorted(loaded) == sorted((code, rows) for code, rows in files.items() if rows)
    statuses = reader.query("SELECT job_code, status, COUNT(*) FROM {ds}.export_job_status WHERE status = 'LOADED' "
                            "GROUP BY 1, 2")
    assert sorted(statuses) == sorted((code, "LOADED", 1) for code in files)
    if second_name == "adversarial":  # the waiting run took the first's state: its job was loaded, none to make
        assert sim.requests.count("create") == 1 and sim.requests.count("download") == 1


def end_lock_session_of(run: subprocess.Popen[str]) -> None:
    """pg_terminate_backend of the run's lock session, waiting (bounded) until it is gone."""
    with closing(psycopg2.connect(POSTGRES)) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE application_name LIKE %s",
                       (f"uniware-dlt pid {run.pid} on host %",))
        assert cursor.fetchall() == [(True,)]


def test_a_run_that_lost_its_dataset_lock_loads_nothing_and_the_next_run_loads_it_once(
        uniware_simulator: UniwareSimulator, tmp_path: Path, processes: list[subprocess.Popen[str]],
        postgres_dataset: str) -> None:
    """The lock's connection ends mid-run (a server restart, an admin's pg_terminate_backend, a dropped
    network path): another run may take the dataset now, so this one stops before its rows load, naming
    the dataset (exit 3); the next run loads the job's rows once."""
    sim = uniware_simulator
    sim.inject_job_fate(STUCK)
    arguments = ["--destination", "postgres", "--dataset", postgres_dataset]
    env = {"DESTINATION__POSTGRES__CREDENTIALS": POSTGRES}
    run = start_run(sim, tmp_path, *arguments, env=env)
    processes.append(run)
    assert polled(sim, 3), "the run never polled its job"
    end_lock_session_of(run)
    sim.release_stuck_jobs()
    _, stderr = run.communicate(timeout=WAIT)
    assert run.returncode == 3, stderr
    assert f"lost its lock of dataset '{postgres_dataset}' of PostgreSQL" in stderr, stderr
    assert "it loads nothing more" in stderr
    harness = Harness(sim, tmp_path, name="adversarial", destination=dlt.destinations.postgres(POSTGRES),
                      dataset=postgres_dataset)
    assert not harness.query("SELECT table_name FROM information_schema.tables WHERE table_schema = "
                             f"'{postgres_dataset}' AND table_name = 'orders_log'")

    rerun = start_run(sim, tmp_path, *arguments, env=env)
    processes.append(rerun)
    _, stderr = rerun.communicate(timeout=WAIT)
    assert rerun.returncode == 0, stderr
    [job] = sim.jobs.all()
    assert job.file is not None and job.file.rows > 0
    assert harness.query("SELECT _uniware_job_code, COUNT(*) FROM {ds}.orders_log GROUP BY 1") == \
        [(job.code, job.file.rows)]
    assert harness.query("SELECT COUNT(*) FROM {ds}.export_job_status WHERE status = 'LOADED'") == [(1,)]


def test_a_run_paused_past_its_lock_check_loads_nothing_after_another_machine_took_the_dataset(
        uniware_simulator: UniwareSimulator, tmp_path: Path, processes: list[subprocess.Popen[str]],
        postgres_dataset: str, request: pytest.FixtureRequest) -> None:
    """Red team 138's case: a run is past its lock check, about to load a job's rows (taken by the fast path:
    the table was empty), when it pauses and its lock session ends; another machine's run takes the dataset
    and loads that job. Resumed, the first run's load was not fenced: it appended the job's rows again. Now
    its transactions are refused: it exits 3 naming the lost lock, the job's rows and LOADED row are there
    once, and the first machine's next run leaves them once."""
    sim = uniware_simulator
    sim.inject_job_fate(STUCK)
    arguments, env, target, dataset = two_machines("postgres", tmp_path, request)
    first = start_run(sim, tmp_path / "a", *arguments, env=env, paused_at_load_of="orders_log")
    processes.append(first)
    first_stderr = StderrLines(first)
    assert polled(sim, 3), "the first run never polled its job"
    sim.release_stuck_jobs()
    assert first_stderr.wait_for("paused before loading orders_log", WAIT), first_stderr.rest()
    end_lock_session_of(first)

    second = start_run(sim, tmp_path / "b", *arguments, env=env)
    processes.append(second)
    _, second_stderr = second.communicate(timeout=WAIT)
    assert second.returncode == 0, second_stderr
    assert first.stdin is not None
    first.stdin.write("resume\n")
    first.stdin.close()
    first.wait(timeout=WAIT)
    said = first_stderr.rest()
    assert first.returncode == 3, said
    assert f"lost its lock of dataset '{dataset}' of PostgreSQL" in said, said

    reader = Harness(sim, tmp_path / "reader", name="reader", destination=target, dataset=dataset)
    files = {job.code: job.file.rows for job in sim.jobs.all() if job.file is not None}
    assert len(files) == 1 and all(files.values())

    def loaded_once() -> None:
        assert dict(reader.query("SELECT _uniware_job_code, COUNT(*) FROM {ds}.orders_log GROUP BY 1")) == files
        assert dict(reader.query("SELECT job_code, COUNT(*) FROM {ds}.export_job_status WHERE status = 'LOADED' "
                                 "GROUP BY 1")) == dict.fromkeys(files, 1)

    loaded_once()
    rerun = start_run(sim, tmp_path / "a", *arguments, env=env)
    processes.append(rerun)
    _, stderr = rerun.communicate(timeout=WAIT)
    assert rerun.returncode == 0, stderr
    loaded_once()


@pytest.mark.parametrize("destination", ["postgres", "duckdb"])
def test_a_job_without_a_key_is_not_loaded_over_days_another_pipeline_loaded_after_it_was_made(
        uniware_simulator: UniwareSimulator, tmp_path: Path, processes: list[subprocess.Popen[str]],
        destination: str, request: pytest.FixtureRequest) -> None:
    """Red team 143: a pipeline submits a job of an export without a key; a run of another pipeline name into
    the same dataset backfills days of that job's window (its planning saw an empty table); the first
    pipeline's collect then appended its job over them: those days' rows twice, exit 0. The collect now
    asks the table for other jobs' rows of the window's days first: OVERLAPS, nothing loaded, exit 1; the
    next run makes no job for the window while its days are held (CREATE_FAILED naming the ways out)."""
    sim = uniware_simulator
    arguments, env, target, dataset = two_machines(destination, tmp_path, request)

    def ran(workdir: str, *args: str, name: str = "adversarial") -> tuple[int, str]:
        run = start_run(sim, tmp_path / workdir, *arguments, *args, env=env, name=name)
        processes.append(run)
        _, stderr = run.communicate(timeout=WAIT)
        return run.returncode, stderr

    code, said = ran("a", "--mode", "submit")
    assert code == 0, said
    code, said = ran("b", "--start", "2026-04-10", "--end", "2026-04-14", name="another")
    assert code == 0, said
    reader = Harness(sim, tmp_path / "reader", name="reader", destination=target, dataset=dataset)
    rows_by_job = "SELECT _uniware_job_code, COUNT(*) FROM {ds}.orders_log GROUP BY 1"
    before = dict(reader.query(rows_by_job))
    first_job = next(job.code for job in sim.jobs.all() if job.code not in before)
    assert len(before) == 1 and all(before.values())

    code, said = ran("a", "--mode", "collect")
    assert code == 1, said
    assert f"job {first_job}" in said and "already holds" in said and "another pipeline name" in said, said
    assert dict(reader.query(rows_by_job)) == before
    statuses = [status for (status,) in reader.query(
        f"SELECT status FROM {{ds}}.export_job_status WHERE job_code = '{first_job}' ORDER BY seq")]
    assert statuses[-1] == "OVERLAPS" and "LOADED" not in statuses, statuses

    jobs = len(sim.jobs.all())
    code, said = ran("a")  # the window waits, and its days are held: no job is made for it (it would be refused)
    assert code == 1 and "no job made: table orders_log already holds" in said, said
    assert len(sim.jobs.all()) == jobs
    assert dict(reader.query(rows_by_job)) == before


ORDERS_KEYED: dict[str, Any] = {"name": "Sale Orders", "table_name": "orders_keyed", "lookback_days": 2}


# dlt's COPY reads, and its own writer writes, CSV files with another delimiter: the package's files are
# dlt's (gzipped, several jobs' rows in one), not the converter's
PIPED = {"DESTINATION__POSTGRES__CSV_FORMAT__DELIMITER": "|", "NORMALIZE__DATA_WRITER__DELIMITER": "|"}


@pytest.mark.parametrize(("destination", "stopped", "facilities", "csv_format"), [
    ("postgres", "refused", ["BLR01"], {}), ("postgres", "killed", ["BLR01"], {}), ("duckdb", "killed", ["BLR01"], {}),
    ("postgres", "refused", ["BLR01", "DEL02"], {}), ("duckdb", "killed", ["BLR01", "DEL02"], {}),
    ("postgres", "killed", ["BLR01", "DEL02"], PIPED)],
    ids=["postgres-refused", "postgres-killed", "duckdb-killed", "postgres-refused-2-facilities",
         "duckdb-killed-2-facilities", "postgres-killed-2-facilities-piped-csv"])
def test_a_waiting_package_does_not_put_back_rows_older_than_another_machines_later_jobs(
        uniware_simulator: UniwareSimulator, tmp_path: Path, processes: list[subprocess.Popen[str]],
        destination: str, stopped: str, facilities: list[str], csv_format: dict[str, str],
        request: pytest.FixtureRequest) -> None:
    """Red team 143: a run refused at its load (it lost the dataset's lock), or killed there, keeps its
    package; meanwhile another machine's run loaded that package's job and then a later job of the same rows
    (its lookback). The first machine's next run loaded the waiting package as a merge: the older job's rows
    replaced the later job's, exit 0 (a snapshot's older stock, an order's older status). A job another load
    has loaded is now taken out of the package; the later job's rows stay. A job of the package the other
    run did not load (another facility's) still loads, once."""
    sim = uniware_simulator
    sim.inject_job_fate(STUCK)
    arguments, env, target, dataset = two_machines(destination, tmp_path, request)
    env.update(csv_format)
    each = [argument for facility in facilities for argument in ("--facility", facility)]
    first = stopped_at_load(sim, tmp_path / "a", [*arguments, *each], env, ORDERS_KEYED, stopped, processes)
    for _ in range(2):  # the first machine's job of BLR01, then a later job of the last days (the lookback)
        run_to_end(sim, tmp_path / "b", [*arguments, "--facility", "BLR01"], env, ORDERS_KEYED, processes)
    reader = Harness(sim, tmp_path / "reader", name="reader", destination=target, dataset=dataset)
    rows_by_job = "SELECT _uniware_job_code, COUNT(*) FROM {ds}.orders_keyed GROUP BY 1"
    before = dict(reader.query(rows_by_job))
    blr01 = [job.code for job in sim.jobs.all() if job.facility == "BLR01"]
    others = {job.code: job.file.rows for job in sim.jobs.all() if job.facility != "BLR01" and job.file}
    assert len(blr01) == 2 and set(before) == set(blr01) and all(before.values()), before  # the later job's rows
    assert len(others) == len(facilities) - 1

    first.end()
    # no job of orders_keyed in this run: its waiting package alone loads into it
    stderr = run_to_end(sim, tmp_path / "a", [*arguments, *each], env, ORDERS_LOG, processes)
    assert f"job(s) {blr01[0]} were loaded since by another run" in stderr, stderr
    assert dict(reader.query(rows_by_job)) == {**before, **others}
    [(rows, keys)] = reader.query("SELECT COUNT(*), COUNT(DISTINCT sale_order_item_code) FROM {ds}.orders_keyed")
    assert rows == keys == sum(before.values()) + sum(others.values())
    loaded = dict(reader.query("SELECT job_code, COUNT(*) FROM {ds}.export_job_status WHERE status = 'LOADED' "
                               "GROUP BY 1"))
    assert {job: loaded.get(job) for job in blr01} == dict.fromkeys(blr01, 1)
    if not others:
        return
    # the other facility's job: its rows are in, its LOADED row and cursor went with this machine's state, which
    # the other machine's newer state replaced; the next run with the facility collects it again and says LOADED
    run_to_end(sim, tmp_path / "a", [*arguments, *each], env, ORDERS_KEYED, processes)
    loaded = dict(reader.query("SELECT job_code, COUNT(*) FROM {ds}.export_job_status WHERE status = 'LOADED' "
                               "GROUP BY 1"))
    assert {job: loaded.get(job) for job in [*blr01, *others]} == dict.fromkeys([*blr01, *others], 1)
    assert set(others) <= set(dict(reader.query(rows_by_job)))
    [(rows, keys)] = reader.query("SELECT COUNT(*), COUNT(DISTINCT sale_order_item_code) FROM {ds}.orders_keyed")
    assert rows == keys == sum(before.values()) + sum(others.values())


@pytest.mark.parametrize(("destination", "stopped"), [("postgres", "refused"), ("duckdb", "killed"),
                                                   ("postgres", "extracted")])
def test_a_waiting_snapshot_another_machine_loaded_does_not_empty_its_table(
        uniware_simulator: UniwareSimulator, tmp_path: Path, processes: list[subprocess.Popen[str]],
        destination: str, stopped: str, request: pytest.FixtureRequest) -> None:
    """Review 146: the waiting package of a tenant snapshot (Item Master, which replaces its table) whose job
    another machine loaded, then a newer snapshot after it: the package's file went down to nothing, and the
    package replaced the table with nothing, exit 0. The table now keeps the newer snapshot; also when the
    package was only extracted (review 147: dlt's normalize takes the pipeline's schema, not the package's)."""
    sim = uniware_simulator
    sim.inject_job_fate(STUCK)
    arguments, env, target, dataset = two_machines(destination, tmp_path, request)
    first = stopped_at_load(sim, tmp_path / "a", arguments, env, "Item Master", stopped, processes)
    for _ in range(2):  # the first machine's snapshot job, then a newer snapshot
        run_to_end(sim, tmp_path / "b", arguments, env, "Item Master", processes)
    jobs = [job for job in sim.jobs.all() if job.file]
    assert len(jobs) == 2 and jobs[1].file is not None and jobs[1].file.rows > 0
    reader = Harness(sim, tmp_path / "reader", name="reader", destination=target, dataset=dataset)
    newer = [(jobs[1].code, jobs[1].file.rows)]
    rows_by_job = "SELECT _uniware_job_code, COUNT(*) FROM {ds}.item_master GROUP BY 1"
    assert reader.query(rows_by_job) == newer

    first.end()
    stderr = run_to_end(sim, tmp_path / "a", arguments, env, ORDERS_LOG, processes)
    assert f"job(s) {jobs[0].code} were loaded since by another run" in stderr, stderr
    assert reader.query(rows_by_job) == newer


class StoppedAtLoad:
    """A run stopped before its first load of an export's rows: killed, or refused (its lock session ended:
    it waits there until `end`, then finds the lock lost and exits 3), or killed before dlt normalized them
    (`extracted`)."""

    def __init__(self, process: subprocess.Popen[str], stopped: str) -> None:
        self.process, self.stopped, self.stderr = process, stopped, StderrLines(process)

    def end(self) -> None:
        if self.stopped == "refused":
            assert self.process.stdin is not None
            self.process.stdin.write("resume\n")
            self.process.stdin.close()
            self.process.wait(timeout=WAIT)
            assert self.process.returncode == 3, self.stderr.rest()


def stopped_at_load(sim: UniwareSimulator, workdir: Path, arguments: list[str], env: dict[str, str], export: Any,
                    stopped: str, processes: list[subprocess.Popen[str]]) -> StoppedAtLoad:
    """A run of `export` whose job completes, stopped (`killed`, `refused` or `extracted`) before its rows load."""
    table = export["table_name"] if isinstance(export, dict) else CATALOG[export].table_name
    extracted = stopped == "extracted"
    first = StoppedAtLoad(start_run(sim, workdir, *arguments, env=env, exports=[export],
                                    paused_at_load_of="" if extracted else table,
                                    paused_at_normalize_of=table if extracted else ""), stopped)
    processes.append(first.process)
    assert polled(sim, 3), "the first run never polled its job"
    sim.release_stuck_jobs()
    said = f"paused before normalizing {table}" if extracted else f"paused before loading {table}"
    assert first.stderr.wait_for(said, WAIT), first.stderr.rest()
    if stopped in ("killed", "extracted"):
        first.process.kill()
        first.process.wait(timeout=WAIT)
    else:
        end_lock_session_of(first.process)
    return first


def run_to_end(sim: UniwareSimulator, workdir: Path, arguments: list[str], env: dict[str, str], export: Any,
               processes: list[subprocess.Popen[str]]) -> str:
    """A run of `export` that exits 0; what it said."""
    run = start_run(sim, workdir, *arguments, env=env, exports=[export], quiet=False)
    processes.append(run)
    _, said = run.communicate(timeout=WAIT)
    assert run.returncode == 0, said
    return said


def rows_of_another_machine(harness: Harness, job_code: str, statuses: list[str]) -> int:
    """History rows of `job_code` that another machine's run committed without its state (after the job's
    last row); returns the last number they took."""
    with harness.pipeline.sql_client() as client:
        table = client.make_qualified_table_name("export_job_status")
        with client.execute_query(f"SELECT * FROM {table} WHERE job_code = %s ORDER BY seq DESC", job_code) as cursor:
            names = [column[0] for column in cursor.description]
            last = dict(zip(names, cursor.fetchall()[0], strict=True))
        for seq, status in enumerate(statuses, start=int(last["seq"]) + 1):
            row = {**last, "event_id": f"{job_code}:{seq}", "seq": seq, "status": status,
                   "_dlt_id": f"other-machine-{seq}"}
            client.execute_sql(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(row))})",
                               *row.values())
    return int(last["seq"]) + len(statuses)


def job_history(harness: Harness, job_code: str) -> list[tuple[Any, ...]]:
    return harness.query(f"SELECT seq, status FROM {{ds}}.export_job_status WHERE job_code = '{job_code}' ORDER BY seq")


def shared_warehouse(destination: str, tmp_path: Path, request: pytest.FixtureRequest) -> tuple[Any, str]:
    if destination == "postgres":
        return dlt.destinations.postgres(POSTGRES), request.getfixturevalue("postgres_dataset")
    return dlt.destinations.duckdb(str(tmp_path / "shared.duckdb")), "uniware"


@pytest.mark.parametrize("destination", ["duckdb", "postgres"])
def test_a_run_whose_state_is_behind_the_history_numbers_its_rows_after_it(
        uniware_simulator: UniwareSimulator, tmp_path: Path, destination: str, request: pytest.FixtureRequest) -> None:
    """Another machine's run stopped (killed, or its lock lost) after its package's history rows committed and
    before its state did: the history holds rows of a job numbered past the state this run restores. This
    run numbered its own rows of the job from its state, into those numbers: the insert-only merge dropped
    them, LOADED included, and the job looked never loaded (red team 140: 5 of 6). Now numbered after them."""
    target, dataset = shared_warehouse(destination, tmp_path, request)
    harness = Harness(uniware_simulator, tmp_path, destination=target, dataset=dataset)
    harness.run(mode="submit", exports=[ORDERS_LOG], facilities=["BLR01"])
    [job_code] = [e["job_code"] for e in harness.ledger_entries("orders_log") if e.get("job_code")]
    theirs = rows_of_another_machine(harness, job_code, ["SCHEDULED", "IN_PROGRESS", "COMPLETE"])

    harness.run(mode="collect", exports=[ORDERS_LOG], facilities=["BLR01"])
    rows = job_history(harness, job_code)
    assert [seq for seq, _ in rows] == list(range(1, len(rows) + 1)), rows
    assert {"COMPLETE", "LOADED"} <= {status for seq, status in rows if seq > theirs}, rows
    assert rows[-1][1] == "LOADED", rows


@pytest.mark.parametrize("destination", ["duckdb", "postgres"])
def test_a_job_abandoned_by_a_run_whose_state_is_behind_the_history_says_so(
        uniware_simulator: UniwareSimulator, tmp_path: Path, destination: str, request: pytest.FixtureRequest) -> None:
    """The same for the submit step: a job stuck past job_expiry_hours, its history ahead of this run's state;
    the ABANDONED row was numbered into the other run's and dropped: the job looked still running."""
    target, dataset = shared_warehouse(destination, tmp_path, request)
    harness = Harness(uniware_simulator, tmp_path, destination=target, dataset=dataset)
    uniware_simulator.inject_job_fate(STUCK)
    with pytest.raises(ExportsFailed):
        harness.run(exports=[ORDERS_LOG], facilities=["BLR01"], job_timeout_seconds=5)
    [stuck] = uniware_simulator.jobs.all()
    theirs = rows_of_another_machine(harness, stuck.code, ["IN_PROGRESS", "SCHEDULED", "IN_PROGRESS"])
    uniware_simulator.clock.advance(timedelta(hours=30))
    harness.run(exports=[ORDERS_LOG], facilities=["BLR01"], job_timeout_seconds=5)  # a new job for the window
    rows = job_history(harness, stuck.code)
    assert [seq for seq, _ in rows] == list(range(1, len(rows) + 1)), rows
    assert rows[-1] == (theirs + 1, "ABANDONED"), rows


@pytest.mark.parametrize("destination", ["duckdb", "postgres"])
def test_a_job_loaded_twice_lands_once(uniware_simulator: UniwareSimulator, tmp_path: Path,
                                      destination: str, request: pytest.FixtureRequest) -> None:
    """Bypass the lock: a second pipeline from a copy of the first one's state collects the same jobs,
    then a third pipeline is given the same job codes; all load into one dataset."""
    sim = uniware_simulator
    # a snapshot of the tenant: a per-facility one (Inventory Snapshot) cannot be given by code (its key
    # holds the facility code its job ran under, which a job given by code has not)
    exports: list[Any] = [ORDERS_LOG, "Invoice", "Item Master"]
    if destination == "postgres":
        dataset = request.getfixturevalue("postgres_dataset")
        def target() -> Any:
            return dlt.destinations.postgres(POSTGRES)
    else:
        dataset = "uniware"
        def target() -> Any:
            return dlt.destinations.duckdb(str(tmp_path / "shared.duckdb"))

    def harness(name: str, folder: str) -> Harness:
        made = Harness(sim, tmp_path / folder, name=name, destination=target(), dataset=dataset)
        made.pipeline.config.restore_from_destination = False  # as if it read its state before the load
        return made

    first = harness("twice", "one")
    settings: dict[str, Any] = {"exports": exports, "facilities": ["BLR01"], "start_date": "2026-04-10"}
    first.run(mode="submit", **settings)
    shutil.copytree(tmp_path / "one" / "pipelines", tmp_path / "two" / "pipelines")
    second = harness("twice", "two")
    first.run(mode="collect", **settings)
    second.run(mode="collect", **settings)
    assert len(sim.jobs.all()) == 3 and sim.requests.count("download") == 6  # each job loaded twice

    codes = {job.report.name: job.code for job in sim.jobs.all()}
    third = harness("adopts", "three")
    # given by code: the keyed exports' jobs load again, once; the keyless one's is refused while its
    # table has rows (its window is not known: see test_keyless_reexport.py)
    with pytest.raises(ExportsFailed, match="loads only into an empty table"):
        # Invoice keys on the facility too (each facility numbers its invoices): its job is given with it
        third.run(exports=exports, job_codes={name: {"BLR01": [code]} if name == "Invoice" else [code]
                                              for name, code in codes.items()})
    assert sim.requests.count("create") == 3 and sim.requests.count("download") == 8

    rows = {job.report.name: job.file.rows for job in sim.jobs.all() if job.file is not None}
    assert len(rows) == 3 and min(rows.values()) > 0
    for report, table in (("Sale Orders", "orders_log"), ("Invoice", "invoices"),
                          ("Item Master", "item_master")):
        [(count, jobs)] = first.query(f"SELECT COUNT(*), COUNT(DISTINCT _uniware_job_code) FROM {{ds}}.{table}")
        assert (count, jobs) == (rows[report], 1), table
    [(occurrences,)] = first.query("SELECT MAX(_uniware_key_occurrence) FROM {ds}.invoices")
    assert occurrences > 1  # repeating invoice keys were kept, numbered, and still landed once
    # the append export is merged on the job code alone
    columns = first.pipeline.default_schema.tables["orders_log"]["columns"]
    assert [n for n, c in columns.items() if c.get("merge_key")] == ["_uniware_job_code"]
    assert not [n for n, c in columns.items() if c.get("primary_key")]


@pytest.mark.parametrize("stage", ["pending", "downloading"])
def test_sigterm_stops_like_ctrl_c_and_the_next_run_resumes(
        uniware_simulator: UniwareSimulator, tmp_path: Path, processes: list[subprocess.Popen[str]],
        stage: str) -> None:
    sim = uniware_simulator
    if stage == "pending":
        sim.inject_job_fate(STUCK)
    else:  # the file host answers slowly: the run is stopped with its download under way
        sim.inject("download", "delay", seconds=3.0, times=1)
    process = start_run(sim, tmp_path)
    processes.append(process)
    if stage == "pending":
        assert polled(sim, 3), "the pipeline never polled its job"
    else:
        assert sim.requests.wait_for(lambda requests: any(r.endpoint == "download" for r in requests),
                                     timeout=WAIT), "the pipeline never downloaded"
    downloads = tmp_path / "downloads"
    assert any(downloads.iterdir())  # the collector's work directory
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=WAIT)
    assert process.returncode == 143, stderr
    assert "terminated (SIGTERM)" in stderr and "next run resumes them" in stderr
    assert list(downloads.iterdir()) == []

    [job] = sim.jobs.all()
    harness = Harness(sim, tmp_path, name="adversarial")
    assert [e["job_code"] for e in harness.ledger_entries("orders_log")] == [job.code]
    assert not harness.has_table("orders_log")

    sim.release_stuck_jobs()
    harness.run(exports=[ORDERS_LOG], facilities=["BLR01"], start_date="2026-04-01", download_dir=str(downloads))
    assert sim.requests.count("create") == 1  # the same job, polled again
    assert job.file is not None
    assert harness.count("orders_log") == job.file.rows > 0
    assert [r["status"] for r in harness.history(job.code)].count("LOADED") == 1
    assert list(downloads.iterdir()) == []


def test_what_a_killed_run_left_in_download_dir_is_removed_by_the_next_run(
        uniware_simulator: UniwareSimulator, tmp_path: Path, processes: list[subprocess.Popen[str]]) -> None:
    """SIGKILL runs no clean-up: the next run on this host removes the scratch directories of owners
    that are gone, and leaves alone those of a live process and those it did not make."""
    sim = uniware_simulator
    sim.inject_job_fate(STUCK)
    killed = start_run(sim, tmp_path)
    processes.append(killed)
    assert polled(sim, 2), "the run never polled its job"
    killed.kill()
    killed.wait()
    downloads = tmp_path / "downloads"
    left = sorted(p.name for p in downloads.iterdir())
    assert any(name.startswith("uniware-keys-") for name in left) and len(left) >= 2, left
    namespace = os.readlink("/proc/self/ns/pid")
    owners = {"uniware-of-a-live-run": (socket.gethostname(), os.getppid(), namespace),
              # a pid of another pid namespace (a container with this host's name) says nothing here
              "uniware-of-another-namespace": (socket.gethostname(), killed.pid, "pid:[1]")}
    for name, (host, pid, space) in owners.items():
        (downloads / name).mkdir()
        (downloads / name / ".owner").write_text(f"{host}\n{pid}\n{space}\n")
    (downloads / "uniware-without-owner").mkdir()
    Harness(sim, tmp_path / "next").run(exports=[ORDERS_LOG], facilities=["BLR01"], download_dir=str(downloads))
    assert sorted(p.name for p in downloads.iterdir()) == [
        "uniware-of-a-live-run", "uniware-of-another-namespace", "uniware-without-owner"]


def test_history_rows_of_an_export_left_out_after_a_stopped_run_still_load(
        uniware_simulator: UniwareSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run stopped after its rows' package loaded and before the LOADED history rows did (they wait in
    the export's state), then the export left out of the configuration: its rows are in the table, and its
    LOADED rows load with the next run, not only once it is configured again."""
    from uniware_source.pipeline_run import resumable

    harness = Harness(uniware_simulator, tmp_path)
    with monkeypatch.context() as stopped:  # as if killed before the history step
        stopped.setattr(resumable, "load_deferred_history", lambda *args, **kwargs: False)
        harness.run(exports=["Return Invoices", "Tally GST Report"], facilities=["BLR01"])
    tally = [j.code for j in uniware_simulator.jobs.all() if j.report.name == "Tally GST Report"]
    assert tally and harness.count("tally_gst") > 0
    assert not [r for r in harness.history() if r["status"] == "LOADED"]
    uniware_simulator.clock.advance(timedelta(hours=1))
    harness.run(exports=["Return Invoices"], facilities=["BLR01"])
    for code in tally:
        assert [r["status"] for r in harness.history(code)].count("LOADED") == 1, code
    assert not deferred_history_waits(harness)


def deferred_history_waits(harness: Harness) -> bool:
    from uniware_source.ledger import Ledgers

    return Ledgers.of_pipeline_state(harness.pipeline.state).has_deferred_history()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_jobs_are_created_commits_the_jobs_made_so_far(
        uniware_simulator: UniwareSimulator, tmp_path: Path, processes: list[subprocess.Popen[str]],
        stop: signal.Signals) -> None:
    """Ctrl-C or SIGTERM while the submit step creates jobs (the first create slow to answer): no more
    jobs are made, the one made is committed, then the run stops (130/143). The next run polls it and
    creates only the other facility's: before, the step's codes were lost and the next run asked again."""
    sim = uniware_simulator
    sim.inject("create", "delay", seconds=2.0, times=1)
    process = start_run(sim, tmp_path, "--facility", "BLR01", "--facility", "DEL02")
    processes.append(process)
    assert sim.requests.wait_for(lambda requests: any(r.endpoint == "create" for r in requests), timeout=WAIT)
    process.send_signal(stop)
    _, stderr = process.communicate(timeout=WAIT)
    assert process.returncode == (130 if stop == signal.SIGINT else 143), stderr
    assert "next run resumes them" in stderr
    [made] = sim.jobs.all()
    harness = Harness(sim, tmp_path, name="adversarial")
    assert [e["job_code"] for e in harness.ledger_entries("orders_log") if e["job_code"]] == [made.code]
    harness.run(exports=[ORDERS_LOG], facilities=["BLR01", "DEL02"], start_date="2026-04-01",
                download_dir=str(tmp_path / "downloads"))
    assert sim.requests.count("create") == 2 and len(sim.jobs.all()) == 2  # only DEL02's made now
    for job in sim.jobs.all():
        statuses = [r["status"] for r in harness.history(job.code)]
        assert statuses.count("CREATED") == 1 and statuses.count("LOADED") == 1, (job.code, statuses)
