"""A process killed after extraction, before its load finished: the next run completes the pending
load package, and nothing is loaded twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import dlt
import pytest

from tests.simulator_fixtures import TEST_NOW
from uniware_simulator import UniwareSimulator
from uniware_source.discovery import status_lines

from .harness import FAST_POLLING, Harness
from .postgres import POSTGRES

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("kill_at", ["after_normalize", "normalize_commit"])
def test_killed_before_load_completes_on_the_next_run(uniware_simulator: UniwareSimulator, tmp_path: Path,
                                                      kill_at: str) -> None:
    """Killed once the package is normalized; or inside dlt's normalize, between moving the package to
    `normalized` and deleting its extracted copy (dlt would normalize the copy again and never get past
    renaming onto the package that is there: every later run failed)."""
    sim = uniware_simulator
    settings = {"workdir": str(tmp_path), "now": TEST_NOW.isoformat(), "base_url": sim.base_url,
                "username": sim.config.username, "password": sim.config.password, "kill_at": kill_at,
                "exports": ["Return Invoices"], "facilities": ["BLR01"], **FAST_POLLING}
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.run([sys.executable, "-m", "tests.crash_during_load", json.dumps(settings)], env=env,
                           cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert child.returncode == -signal.SIGKILL, child.stderr
    [first_job] = sim.jobs.all()
    assert first_job.file is not None

    harness = Harness(sim, tmp_path, name="crash")
    assert harness.pipeline.has_pending_data  # the normalized package waits
    extracted = harness.pipeline._get_normalize_storage().extracted_packages.list_packages()
    assert bool(extracted) == (kill_at == "normalize_commit")
    assert not harness.has_table("return_invoices")
    waiting = "has load package(s) of an interrupted run waiting: the next run loads them first"
    assert waiting in status_lines(harness.pipeline)[-1]  # `status` says so
    harness.run(exports=["Return Invoices"], facilities=["BLR01"])
    assert not any(waiting in line for line in status_lines(harness.pipeline))

    rows = harness.sql("SELECT invoice_code, return_invoice_code, item_sku_code, _uniware_job_code "
                       "FROM {ds}.return_invoices")
    assert len(rows) == len({r[:3] for r in rows})  # no duplicates
    assert sum(1 for r in rows if r[3] == first_job.code) > 0
    truth = sim.truth("Return Invoices", facility="BLR01", date_filter="addedOn",
                      start=TEST_NOW - timedelta(days=30), end=TEST_NOW)
    assert len(rows) == len([r for r in truth if r["Return Date"] < TEST_NOW])
    loaded = [r for r in harness.history(first_job.code) if r["status"] == "LOADED"]
    assert len(loaded) == 1
    # after_normalize: the submit package loaded, so the next run polls the job and then exports its lookback
    # window; normalize_commit stops in the submit package's normalize, before the dataset exists: the next run
    # loads that package first and polls the job it holds (dlt's sync once wiped it, and the job was made again)
    assert sim.requests.count("create") == (2 if kill_at == "after_normalize" else 1)
    assert not harness.pipeline.has_pending_data


def stop_after_extract(sim: UniwareSimulator, tmp_path: Path, name: str, dataset: str, postgres: str, nth: int,
                       stop: str, exports: list[str]) -> subprocess.CompletedProcess[str]:
    """A run (a child process) stopped by `stop` the moment dlt committed its `nth` extracted package."""
    settings = {"workdir": str(tmp_path), "name": name, "dataset": dataset, "postgres": postgres, "nth": nth,
                "signal": stop, "now": sim.clock.now().isoformat(), "base_url": sim.base_url,
                "username": sim.config.username, "password": sim.config.password, "exports": exports,
                "facilities": ["BLR01"], **FAST_POLLING}
    return subprocess.run([sys.executable, "-m", "tests.crash_after_extract", json.dumps(settings)],
                          env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("destination, stop, first_run", [
    ("duckdb", "SIGKILL", True), ("duckdb", "SIGTERM", False), ("postgres", "SIGKILL", False)])
def test_stopped_after_a_package_was_committed_before_its_schema_and_state(
        uniware_simulator: UniwareSimulator, tmp_path: Path, postgres_dataset: str, destination: str, stop: str,
        first_run: bool) -> None:
    """A run stopped the moment dlt committed its collect package, before dlt saved the pipeline's schema
    and state: the schema lacked the package's tables (dlt normalized against it and stopped on every
    later run), and the state was the one before (the package, once loaded, put the newer one in the
    destination, yet the next run went on from the older: it polled and loaded the jobs again, and their
    LOADED history rows were lost). The next run loads the package, takes the newer state, and every
    job's rows and LOADED row land once."""
    sim = uniware_simulator
    pg = destination == "postgres"
    name, dataset = f"extractstop_{destination}", postgres_dataset if pg else "uniware"
    exports = ["Sale Orders", "Return Invoices"]

    def harness() -> Harness:
        return Harness(sim, tmp_path, name=name, dataset=dataset,
                       destination=dlt.destinations.postgres(POSTGRES) if pg else None)

    if not first_run:
        harness().run(exports=exports, facilities=["BLR01"])
        sim.clock.advance(timedelta(hours=6))
    before = len(sim.jobs.all())
    child = stop_after_extract(sim, tmp_path, name, dataset, POSTGRES if pg else "", 2, stop, exports)
    assert child.returncode == -signal.SIGKILL if stop == "SIGKILL" else "Terminated" in child.stderr, \
        child.stderr[-3000:]
    stopped = sim.jobs.all()[before:]
    assert stopped and all(job.file is not None for job in stopped)

    def polls_of_stopped() -> int:
        codes = {job.code for job in stopped}
        return len(sim.requests.where("status", predicate=lambda r: (r.body or {}).get("jobCode") in codes))
    polls = polls_of_stopped()

    again = harness()
    assert again.pipeline.has_pending_data
    again.run(exports=exports, facilities=["BLR01"])
    assert not again.pipeline.has_pending_data
    assert polls_of_stopped() == polls  # the stopped run's jobs were not polled (nor loaded) again
    for job in stopped:
        statuses = [r[0] for r in again.query(f"SELECT status FROM {{ds}}.export_job_status WHERE job_code = "
                                               f"'{job.code}'")]
        assert statuses.count("LOADED") == 1, (job.code, statuses)
    for table, key in (("sale_orders", ["sale_order_code", "sale_order_item_code"]),
                       ("return_invoices", ["invoice_code", "return_invoice_code", "item_sku_code"])):
        rows = again.query(f"SELECT {', '.join(key)} FROM {{ds}}.{table}")
        assert rows and len(rows) == len(set(rows)), table


@pytest.mark.parametrize("destination", ["duckdb", "postgres"])
def test_a_first_run_stopped_before_its_first_package_loaded_keeps_its_job_codes(
        uniware_simulator: UniwareSimulator, tmp_path: Path, postgres_dataset: str, destination: str) -> None:
    """A new pipeline's first run killed right after dlt committed its submit package (the created jobs'
    codes), before anything loaded: the dataset is not at the destination yet, which dlt's sync takes
    for a dataset dropped there, and it wiped the pipeline's folder with the package. The next run now
    loads the package first and polls those jobs: none is created again, each job's rows land once."""
    sim = uniware_simulator
    pg = destination == "postgres"
    name, dataset = f"firststop_{destination}", postgres_dataset if pg else "uniware"
    exports = ["Sale Orders", "Return Invoices"]
    child = stop_after_extract(sim, tmp_path, name, dataset, POSTGRES if pg else "", 1, "SIGKILL", exports)
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]
    created = sim.requests.count("create")
    assert created > 0
    again = Harness(sim, tmp_path, name=name, dataset=dataset,
                    destination=dlt.destinations.postgres(POSTGRES) if pg else None)
    assert again.pipeline.has_pending_data
    again.run(exports=exports, facilities=["BLR01"])
    assert sim.requests.count("create") == created  # the stopped run's jobs were polled, not made again
    for job in sim.jobs.all():
        statuses = [r[0] for r in again.query(f"SELECT status FROM {{ds}}.export_job_status WHERE job_code = "
                                               f"'{job.code}'")]
        assert statuses.count("CREATED") == 1 and statuses.count("LOADED") == 1, (job.code, statuses)
    [(rows,)] = again.query("SELECT COUNT(*) FROM {ds}.sale_orders")
    assert rows == sum(j.file.rows for j in sim.jobs.all() if j.report.name == "Sale Orders" and j.file)


def test_a_schema_file_a_kill_left_half_written_is_removed(uniware_simulator: UniwareSimulator,
                                                          tmp_path: Path) -> None:
    """dlt writes a schema under a random 16-hex name and renames it; a SIGKILL in between left that file in
    the schemas folder, which dlt lists as a schema: every later run failed (InvalidSchemaName, exit 3)."""
    harness = Harness(uniware_simulator, tmp_path, name="halfwritten")
    harness.run(exports=["Return Invoices"], facilities=["BLR01"])
    folder = Path(harness.pipeline._schema_storage.config.schema_volume_path)
    (folder / "423721e012af18ae").write_bytes(b"")
    kept = folder / "notes.txt"  # not a name dlt writes: left alone
    kept.write_text("x")
    uniware_simulator.clock.advance(timedelta(hours=1))
    again = Harness(uniware_simulator, tmp_path, name="halfwritten")
    again.run(exports=["Return Invoices"], facilities=["BLR01"])
    assert not (folder / "423721e012af18ae").exists() and kept.exists()
    assert [r for r in again.history() if r["status"] == "LOADED"]


def test_a_dataset_dropped_while_a_package_waits_starts_the_pipeline_again(
        uniware_simulator: UniwareSimulator, tmp_path: Path) -> None:
    """The first-run recovery above skips dlt's wipe only for a pipeline that never loaded: a dataset the
    user dropped (to start over) while a later run's package waits still starts the pipeline again from
    `start_date`, not from the cursor that package carried (which would leave the days before it out)."""
    import duckdb

    sim = uniware_simulator
    harness = Harness(sim, tmp_path, name="dropped")
    harness.run(exports=["Return Invoices"], facilities=["BLR01"])
    first = harness.count("return_invoices")
    sim.clock.advance(timedelta(days=3))
    child = stop_after_extract(sim, tmp_path, "dropped", "uniware", "", 1, "SIGKILL", ["Return Invoices"])
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]
    with duckdb.connect(str(tmp_path / "dropped.duckdb")) as connection:
        connection.execute("DROP SCHEMA uniware CASCADE")
    again = Harness(sim, tmp_path, name="dropped")
    assert again.pipeline.has_pending_data
    again.run(exports=["Return Invoices"], facilities=["BLR01"])
    # from start_date (30 days before now) again, not only the three days the waiting package held
    now = sim.clock.now()
    truth = sim.truth("Return Invoices", facility="BLR01", date_filter="addedOn", start=now - timedelta(days=30),
                      end=now)
    assert again.count("return_invoices") == len([r for r in truth if r["Return Date"] < now]) > first // 2
