"""The submit and collect steps as tasks of Dagster (through dagster-dlt), materialized against the simulator."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance, materialize
from dagster_dlt import DagsterDltResource

from tests.simulator_fixtures import fast_config
from uniware_simulator import FAIL, UniwareSimulator


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[UniwareSimulator]:
    with UniwareSimulator(fast_config(start=None, files_dir=tmp_path / "sim")) as sim:  # real 'now', as Dagster has
        yield sim


@pytest.fixture
def definitions(simulator: UniwareSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    for name, value in {
        "SOURCES__UNIWARE__BASE_URL": simulator.base_url,
        "SOURCES__UNIWARE__USERNAME": simulator.config.username,
        "SOURCES__UNIWARE__PASSWORD": simulator.config.password,
        "SOURCES__UNIWARE__EXPORTS": '["Sale Orders", "Return Invoices"]',
        "SOURCES__UNIWARE__FACILITIES": "BLR01,DEL02",
        "SOURCES__UNIWARE__POLL_INITIAL_SECONDS": "0.01",
        "SOURCES__UNIWARE__POLL_MAX_SECONDS": "0.05",
        "UNIWARE_PIPELINE_NAME": "dagster_test",
        "DLT_DATA_DIR": str(tmp_path / "dlt"),
        "DESTINATION__DUCKDB__CREDENTIALS": str(tmp_path / "dagster.duckdb"),
    }.items():
        monkeypatch.setenv(name, value)
    sys.modules.pop("pipelines.dagster_definitions", None)  # the assets are made from the configuration
    return importlib.import_module("pipelines.dagster_definitions")


def run(definitions: ModuleType) -> bool:
    result = materialize([definitions.uniware_jobs_submitted, definitions.uniware_tables],
                         resources={"dlt": DagsterDltResource()}, instance=DagsterInstance.ephemeral(),
                         raise_on_error=False)
    return bool(result.success)


def test_definitions_load_with_a_schedule(definitions: ModuleType) -> None:
    defs = definitions.defs
    keys = {key for assets in defs.assets for key in assets.keys}
    assert keys == {AssetKey(["uniware", "jobs_submitted"]), AssetKey(["uniware", "sale_orders"]),
                    AssetKey(["uniware", "return_invoices"])}
    assert defs.get_schedule_def("uniware_load_schedule").cron_schedule == "0 * * * *"


def test_materializing_submit_then_collect_loads_the_tables(definitions: ModuleType, simulator: UniwareSimulator,
                                                            tmp_path: Path) -> None:
    assert run(definitions)
    served = {name: sum(j.file.rows for j in simulator.jobs.all() if j.file and j.report.name == name)
              for name in ("Sale Orders", "Return Invoices")}
    with duckdb.connect(str(tmp_path / "dagster.duckdb"), read_only=True) as db:
        assert db.execute("SELECT COUNT(*) FROM uniware.sale_orders").fetchall() == [(served["Sale Orders"],)]
        assert db.execute("SELECT COUNT(*) FROM uniware.return_invoices").fetchall() == [(served["Return Invoices"],)]
        statuses = db.execute("SELECT status, COUNT(*) FROM uniware.export_job_status GROUP BY 1").fetchall()
        views = {name for (name,) in db.execute(
            "SELECT view_name FROM duckdb_views() WHERE schema_name = 'uniware'").fetchall()}
        [(stored,)] = db.execute("SELECT schema FROM uniware._dlt_version ORDER BY inserted_at DESC LIMIT 1").fetchall()
    # the schema the last step stored keeps the column types (the history step once stored the restored
    # object's, without them: a later run's converter reads the loaded types from it)
    columns = json.loads(stored)["tables"]["sale_orders"]["columns"].values()
    assert columns and all("data_type" in column for column in columns)
    assert dict(statuses)["LOADED"] == 4 and dict(statuses)["CREATED"] == 4
    assert {"v_sales_per_day", "v_returns_rate", "v_job_health"} <= views  # as the script makes them (helper 79, F7)
    # the submit task created the jobs, the collect task only polled and downloaded
    assert simulator.requests.count("create") == 4


def test_a_failed_job_fails_the_run_after_the_rest_loaded(definitions: ModuleType, simulator: UniwareSimulator,
                                                          tmp_path: Path) -> None:
    simulator.inject_job_fate(FAIL, match=lambda report, facility: report == "Return Invoices" and facility == "DEL02")
    assert not run(definitions)
    with duckdb.connect(str(tmp_path / "dagster.duckdb"), read_only=True) as db:
        assert db.execute("SELECT COUNT(*) FROM uniware.sale_orders").fetchall()[0][0] > 0
        loaded = db.execute("SELECT DISTINCT _uniware_facility FROM uniware.return_invoices").fetchall()
    assert loaded == [("BLR01",)]


def test_a_collect_overlapping_another_run_waits_for_the_pipelines_lock(definitions: ModuleType,
                                                                        simulator: UniwareSimulator,
                                                                        tmp_path: Path) -> None:
    """The collect task held no lock: an overlapping run (the next hourly tick while Uniware is slow)
    downloaded the same jobs at once and broke into dlt's package folders (FileNotFoundError; red team
    helper 106). It waits for the run that holds the pipeline's lock, and then loads every job once."""
    import logging
    import threading

    from uniware_source.pipeline_run.lock import pipeline_lock

    submitted = materialize([definitions.uniware_jobs_submitted], resources={"dlt": DagsterDltResource()},
                            instance=DagsterInstance.ephemeral(), raise_on_error=False)
    assert submitted.success
    waiting = threading.Event()

    class Waiting(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "waiting for it" in record.getMessage():
                waiting.set()
    handler = Waiting()
    logging.getLogger("uniware_source.pipeline_run.lock").addHandler(handler)
    outcome: list[bool] = []

    def collect() -> None:
        result = materialize([definitions.uniware_tables], resources={"dlt": DagsterDltResource()},
                             instance=DagsterInstance.ephemeral(), raise_on_error=False,
                             selection=[AssetKey(["uniware", "sale_orders"]), AssetKey(["uniware", "return_invoices"])])
        outcome.append(bool(result.success))
    try:
        with pipeline_lock(definitions.uniware_pipeline()):
            polled = simulator.requests.count("status")
            collector = threading.Thread(target=collect)
            collector.start()
            assert waiting.wait(timeout=120), "the collect did not wait for the lock"
            assert simulator.requests.count("status") == polled  # nothing collected while the other run holds it
        collector.join(timeout=300)
    finally:
        logging.getLogger("uniware_source.pipeline_run.lock").removeHandler(handler)
    assert outcome == [True]
    with duckdb.connect(str(tmp_path / "dagster.duckdb"), read_only=True) as db:
        [(loaded,)] = db.execute("SELECT COUNT(*) FROM uniware.export_job_status WHERE status = 'LOADED'").fetchall()
        [(rows,)] = db.execute("SELECT COUNT(*) FROM uniware.sale_orders").fetchall()
    assert loaded == 4 and rows == sum(j.file.rows for j in simulator.jobs.all()
                                       if j.file and j.report.name == "Sale Orders")
