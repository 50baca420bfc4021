"""Each tenant's queue across real concurrent runs: the shipped dagster.yaml's run queue, driven by
Dagster's own queue daemon, holds a second run of a tenant while its first runs, and lets another
tenant's run go at the same time. Every run is a separate process started by the run launcher."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterRunStatus
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

from tests.dagster_deployment import Deployment, deployment
from tests.tenant_env import FAST_POLLING, tenants_env
from uniware_simulator.faults import STUCK
from uniware_simulator.multi import MultiTenantSimulator
from uniware_simulator.presets import fast_config
from uniware_source.windows import IST

NAMES = ["acme", "globex"]
TENANT_TAG = "uniware/tenant"


@pytest.fixture
def sims(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MultiTenantSimulator]:
    config = fast_config(start=None, files_dir=tmp_path / "sim", orders_per_day=6, history_days=10,
                         empty_export_file=True, products=20)
    with MultiTenantSimulator(NAMES, config) as running:  # real 'now', as the run processes have
        start = (running["acme"].clock.now() - timedelta(days=1)).isoformat()
        today = running["acme"].clock.now().astimezone(IST).date()
        for key, value in {**tenants_env(running, {n: {"facilities": ["BLR01"], "start_date": start} for n in NAMES}),
                           **FAST_POLLING,
                           "SOURCES__UNIWARE__EXPORTS": '["Sale Orders"]', "SOURCES__UNIWARE__WINDOW_DAYS": "3",
                           "SOURCES__UNIWARE__JOB_TIMEOUT_SECONDS": "600",  # acme's held job is waited for
                           "UNIWARE_DAGSTER__BACKFILL_FROM": str(today - timedelta(days=9)),
                           "DLT_DATA_DIR": str(tmp_path / "dlt"), "DLT_LOCAL_DIR": str(tmp_path)}.items():
            monkeypatch.setenv(key, value)
        yield running


def in_flight(dagster: Deployment, run_id: str) -> bool:
    return dagster.run(run_id).status in {DagsterRunStatus.STARTING, DagsterRunStatus.STARTED}


@pytest.mark.slow
def test_a_tenants_second_run_waits_for_its_first_while_another_tenant_runs(sims: MultiTenantSimulator,
                                                                             tmp_path: Path) -> None:
    acme, globex = sims["acme"], sims["globex"]
    acme.inject_job_fate(STUCK, times=1)  # acme's first run holds: its job stays pending until released
    today = acme.clock.now().astimezone(IST).date()
    first_day, last_day = today - timedelta(days=5), today - timedelta(days=4)
    with deployment(tmp_path / "dagster") as dagster:
        # acme's hourly run (the job's own partition tags), then a backfill run of acme over two days and a
        # run of globex launched from the asset graph: partition tags only, the queue's coordinator adds the tenant
        acme_hourly = dagster.submit("uniware_tenants", dagster.partition_tags("uniware_tenants", "acme"))
        acme_backfill = dagster.submit("uniware_tenants_backfill", {
            ASSET_PARTITION_RANGE_START_TAG: f"{first_day}|acme", ASSET_PARTITION_RANGE_END_TAG: f"{last_day}|acme"})
        globex_hourly = dagster.submit("uniware_tenants", {PARTITION_NAME_TAG: "globex"})
        assert [dagster.run(r).tags.get(TENANT_TAG) for r in (acme_hourly, acme_backfill, globex_hourly)] == [
            "acme", "acme", "globex"]
        assert {dagster.run(r).status for r in (acme_hourly, acme_backfill, globex_hourly)} == {DagsterRunStatus.QUEUED}

        dagster.dequeue()
        assert dagster.run(acme_backfill).status == DagsterRunStatus.QUEUED  # acme's first run holds its slot
        assert dagster.run(acme_hourly).status != DagsterRunStatus.QUEUED
        assert dagster.run(globex_hourly).status != DagsterRunStatus.QUEUED  # another tenant: launched at once

        assert acme.requests.wait_for(lambda seen: any(r.endpoint == "status" for r in seen), timeout=120), \
            "acme's first run never polled its job"
        dagster.wait_until(lambda: dagster.finished(globex_hourly), timeout=180, what="globex's run")
        assert dagster.run(globex_hourly).status == DagsterRunStatus.SUCCESS  # globex loaded while acme's run...
        assert in_flight(dagster, acme_hourly)  # ...was still running (its job held by Uniware)...
        assert dagster.run(acme_backfill).status == DagsterRunStatus.QUEUED  # ...and acme's second run waited

        acme.release_stuck_jobs()
        dagster.wait_until(lambda: dagster.finished(acme_hourly, acme_backfill), timeout=180, what="acme's runs")
        assert dagster.run(acme_hourly).status == DagsterRunStatus.SUCCESS
        assert dagster.run(acme_backfill).status == DagsterRunStatus.SUCCESS

    # acme's backfill created its job only after its first run had downloaded its file
    endpoints = [r.endpoint for r in acme.requests]
    creates = [i for i, e in enumerate(endpoints) if e == "create"]
    assert len(creates) == 2 and "download" in endpoints[creates[0]:creates[1]]
    begin = datetime.combine(first_day, datetime.min.time(), IST)
    with duckdb.connect(str(tmp_path / "uniware_pipeline_acme.duckdb"), read_only=True) as db:
        landed = {r for (r,) in db.execute("SELECT sale_order_item_code FROM uniware_acme.sale_orders").fetchall()}
    backfilled = {r["Sale Order Item Code"] for r in acme.truth("Sale Orders", date_filter="updatedOn", start=begin,
                                                               end=begin + timedelta(days=2), facility="BLR01")}
    assert backfilled and backfilled <= landed
    with duckdb.connect(str(tmp_path / "uniware_pipeline_globex.duckdb"), read_only=True) as db:
        assert db.execute("SELECT COUNT(*) FROM uniware_globex.sale_orders").fetchall()[0][0] > 0
    assert globex.requests.count("create") == 1


def test_the_coordinator_reads_one_tenant_from_a_runs_partition_tags() -> None:
    tenant_of_run = importlib.import_module("pipelines.dagster_queue").tenant_of_run  # a file of pipelines/, by name

    assert tenant_of_run({PARTITION_NAME_TAG: "acme"}) == "acme"  # a tenant partition
    assert tenant_of_run({PARTITION_NAME_TAG: "2026-01-02|acme"}) == "acme"  # a tenant x day partition
    assert tenant_of_run({ASSET_PARTITION_RANGE_START_TAG: "2026-01-02|acme",
                          ASSET_PARTITION_RANGE_END_TAG: "2026-01-31|acme"}) == "acme"  # a range of days
    assert tenant_of_run({ASSET_PARTITION_RANGE_START_TAG: "2026-01-02|acme",
                          ASSET_PARTITION_RANGE_END_TAG: "2026-01-02|globex"}) is None  # several tenants: no tag
    assert tenant_of_run({}) is None
