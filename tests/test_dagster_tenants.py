"""Many tenants on Dagster's multiprocess executor: every tenant's steps in their own processes, a
bad password fails one tenant alone, every table equals its simulator's truth, re-running loads
nothing twice and creates no job for a loaded window."""

from __future__ import annotations

import importlib
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dagster import DagsterEventType, DagsterInstance, execute_job, instance_for_test, reconstructable

from uniware_simulator.multi import MultiTenantSimulator
from uniware_simulator.presets import fast_config
from uniware_source.tenants import load_tenants

# a runnable file of pipelines/, not an installed package: imported by name (as Dagster does)
DAGSTER_TENANTS: Any = importlib.import_module("pipelines.dagster_tenants")


GOOD = [f"t{n}" for n in range(1, 9)]  # 8 tenants x 3 facilities that load
BAD = "t9"  # configured with a wrong password
FACILITIES = ["BLR01", "DEL02", "MUM03"]
EXPORTS = ["Sale Orders", "Return Invoices"]
DAYS = 2
PRELOAD = ["dagster", "dlt", "duckdb", "pyarrow", "pipelines.dagster_tenants"]


@pytest.fixture
def sims(tmp_path: Path) -> Iterator[MultiTenantSimulator]:
    config = fast_config(start=None, files_dir=tmp_path / "sim", orders_per_day=6, history_days=20,
                         empty_export_file=True, products=40)
    with MultiTenantSimulator([*GOOD, BAD], config) as running:  # real 'now', as the step processes have
        yield running


@pytest.fixture
def configured(sims: MultiTenantSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MultiTenantSimulator:
    start = (sims[GOOD[0]].clock.now() - timedelta(days=DAYS)).isoformat()
    tables = {name: {"base_url": sim.base_url, "facilities": FACILITIES, "start_date": start}
              for name, sim in sims.items()}
    env = {
        "TENANTS": json.dumps(tables),
        # defaults shared by every tenant: [sources.uniware]
        "SOURCES__UNIWARE__EXPORTS": json.dumps(EXPORTS),
        "SOURCES__UNIWARE__WINDOW_DAYS": str(DAYS + 1),
        "SOURCES__UNIWARE__LOOKBACK_DAYS": "0",
        "SOURCES__UNIWARE__MAX_CONCURRENT_JOBS": "6",
        "SOURCES__UNIWARE__POLL_INITIAL_SECONDS": "0.01",
        "SOURCES__UNIWARE__POLL_MAX_SECONDS": "0.05",
        "SOURCES__UNIWARE__COMPLETE_WITHOUT_FILE_GRACE_SECONDS": "0.5",
        "DLT_DATA_DIR": str(tmp_path / "dlt"),  # pipelines' state
        "DLT_LOCAL_DIR": str(tmp_path / "db"),  # one DuckDB file per tenant: uniware_pipeline_<t>.duckdb
    }
    for name, sim in sims.items():
        env[f"TENANTS__{name.upper()}__USERNAME"] = sim.config.username
        env[f"TENANTS__{name.upper()}__PASSWORD"] = sim.config.password if name != BAD else "not-the-password"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    (tmp_path / "db").mkdir()
    return sims


def materialize_all(instance: DagsterInstance) -> Any:
    return execute_job(reconstructable(DAGSTER_TENANTS.tenants_job), instance=instance, raise_on_error=False,
                       run_config={"execution": {"config": {"multiprocess": {
                           "max_concurrent": 4,
                           # step processes fork from a server that imported Dagster, dlt and the code once
                           "start_method": {"forkserver": {"preload_modules": PRELOAD}}}}}})


def landed(tmp_path: Path, tenant: str) -> tuple[set[tuple[Any, ...]], Counter[tuple[Any, ...]], int]:
    with duckdb.connect(str(tmp_path / "db" / f"uniware_pipeline_{tenant}.duckdb"), read_only=True) as db:
        schema = f"uniware_{tenant}"
        orders = db.execute(f"SELECT sale_order_item_code, sale_order_item_status, updated "
                            f"FROM {schema}.sale_orders").fetchall()
        has_returns = db.execute("SELECT COUNT(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?",
                                 [schema, "return_invoices"]).fetchall() == [(1,)]
        returns = db.execute(f"SELECT invoice_code, item_sku_code FROM {schema}.return_invoices").fetchall() \
            if has_returns else []  # dlt makes no table before a row
    assert len(orders) == len(set(orders))
    return set(orders), Counter(returns), len(orders)


def truth(sims: MultiTenantSimulator, tenant: str, start: Any) -> tuple[set[tuple[Any, ...]], Counter[Any]]:
    sim = sims[tenant]
    orders = {(r["Sale Order Item Code"], r["Sale Order Item Status"], r["Updated"])
              for r in sim.truth("Sale Orders", date_filter="updatedOn", start=start, end=sim.clock.now())}
    returns = Counter((r["Invoice Code"], r["Item SKU Code"])
                      for r in sim.truth("Return Invoices", date_filter="addedOn", start=start, end=sim.clock.now()))
    return orders, returns


@pytest.mark.slow
def test_tenants_load_in_parallel_processes_isolated_and_idempotent(configured: MultiTenantSimulator,
                                                                     tmp_path: Path) -> None:
    sims = configured
    assert [t.name for t in load_tenants()] == [*GOOD, BAD]
    start = sims[GOOD[0]].clock.now() - timedelta(days=DAYS)
    passwords = [sim.config.password for _, sim in sims.items()] + ["not-the-password"]
    (tmp_path / "dagster").mkdir()
    with instance_for_test(temp_dir=str(tmp_path / "dagster"),
                           overrides={"concurrency": {"pools": {"default_limit": 1}}}) as instance:
        began = time.monotonic()
        first = materialize_all(instance)
        seconds = time.monotonic() - began
        assert not first.success  # the bad tenant fails the run...
        events = instance.all_logs(first.run_id)
        failed = steps(events, DagsterEventType.STEP_FAILURE)
        assert failed == {f"uniware__{BAD}__jobs_submitted"}  # ...alone: its collect step never ran
        done = steps(events, DagsterEventType.STEP_SUCCESS)
        assert done == {f"uniware__{t}__{step}" for t in GOOD for step in ("jobs_submitted", "tables")}
        failure = next(e for e in events if e.step_key in failed and e.dagster_event
                       and e.dagster_event.event_type == DagsterEventType.STEP_FAILURE)
        assert f"tenant '{BAD}'" in str(failure.dagster_event) and "AuthError" in str(failure.dagster_event)
        logs = "\n".join(str(e) for e in events)
        assert not [p for p in passwords if p in logs], "a password in Dagster's event log"
        # really parallel: the steps ran in several processes, and steps of different tenants overlapped
        starts = [e for e in events if e.dagster_event and e.dagster_event.event_type == DagsterEventType.STEP_START]
        assert len({e.dagster_event.pid for e in starts if e.dagster_event}) >= 4
        # each tenant's steps held its own pool
        assert {f"uniware_{t}" for t in [*GOOD, BAD]} <= set(instance.event_log_storage.get_concurrency_keys())

        rows = 0
        for tenant in GOOD:
            orders, returns, count = landed(tmp_path, tenant)
            expected_orders, expected_returns = truth(sims, tenant, start)
            assert orders == expected_orders and returns == expected_returns, tenant
            assert count > 0
            rows += count + sum(returns.values())
            assert len(sims[tenant].jobs.all()) == len(EXPORTS) * len(FACILITIES)
        assert not (tmp_path / "db" / f"uniware_pipeline_{BAD}.duckdb").exists() or not landed_tables(tmp_path, BAD)
        first_jobs = {t: {j.code: (j.report.name, j.facility, j.query.end) for j in sims[t].jobs.all()} for t in GOOD}
        print(f"\ntenants: {len(GOOD)} x {len(FACILITIES)} facilities, {rows} rows, {seconds:.1f} s wall")

        again = materialize_all(instance)
        assert not again.success
        for tenant in GOOD:
            orders, returns, _ = landed(tmp_path, tenant)
            assert (orders, returns) == truth(sims, tenant, start), f"{tenant}: rows changed on a re-run"
            loaded_until = {(name, facility): end for name, facility, end in first_jobs[tenant].values()}
            new = [j for j in sims[tenant].jobs.all() if j.code not in first_jobs[tenant]]
            # seconds later: no loaded window is exported again, and the seconds since the first run are
            # shorter than min_window_minutes, so they wait for a later run
            assert new == [], tenant
            assert all(until is not None for until in loaded_until.values()), tenant


def steps(events: Any, kind: DagsterEventType) -> set[Any]:
    return {e.step_key for e in events if e.dagster_event and e.dagster_event.event_type == kind}


def landed_tables(tmp_path: Path, tenant: str) -> list[Any]:
    with duckdb.connect(str(tmp_path / "db" / f"uniware_pipeline_{tenant}.duckdb"), read_only=True) as db:
        return db.execute("SELECT table_name FROM duckdb_tables() WHERE table_name IN ('sale_orders', "
                          "'return_invoices')").fetchall()


def test_a_tenant_error_names_the_tenant_and_never_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    from uniware_source.tenants import TenantConfigError, parse_tenant

    with pytest.raises(TenantConfigError, match="tenant 'acme': unknown setting"):
        parse_tenant("acme", {"facility": "BLR01"})
    monkeypatch.delenv("TENANTS__ACME__PASSWORD", raising=False)
    monkeypatch.setenv("TENANTS__ACME__USERNAME", "u@acme")
    monkeypatch.setenv("TENANTS__GLOBEX__PASSWORD", "globex-secret-1")
    with pytest.raises(TenantConfigError, match="TENANTS__ACME__PASSWORD") as raised:
        parse_tenant("acme", {}).secrets()
    assert "globex-secret-1" not in str(raised.value)
    assert os.environ["TENANTS__GLOBEX__PASSWORD"]  # resolved for globex only when globex runs


def test_a_partitioned_backfill_exports_the_range_of_days(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A backfill run over days hands its time window to the connector (one job per export and
    facility for the range, not one per day) and moves no cursor."""
    from dagster import DagsterInstance
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    from uniware_source.windows import IST

    names = ["acme", "globex"]
    config = fast_config(start=None, files_dir=tmp_path / "sim", orders_per_day=6, history_days=10,
                         empty_export_file=True, products=40)
    with MultiTenantSimulator(names, config) as sims:
        now = sims["acme"].clock.now().astimezone(IST)
        first, last = (now - timedelta(days=4)).date(), (now - timedelta(days=3)).date()
        monkeypatch.setenv("TENANTS", json.dumps({n: {"base_url": sims[n].base_url, "facilities": FACILITIES[:2]}
                                                  for n in names}))
        for n in names:
            monkeypatch.setenv(f"TENANTS__{n.upper()}__USERNAME", sims[n].config.username)
            monkeypatch.setenv(f"TENANTS__{n.upper()}__PASSWORD", sims[n].config.password)
        for key, value in {"SOURCES__UNIWARE__EXPORTS": '["Sale Orders"]', "SOURCES__UNIWARE__WINDOW_DAYS": "30",
                           "SOURCES__UNIWARE__POLL_INITIAL_SECONDS": "0.01",
                           "SOURCES__UNIWARE__POLL_MAX_SECONDS": "0.05",
                           "UNIWARE_DAGSTER__BACKFILL_FROM": str(now.date() - timedelta(days=9)),
                           "DLT_DATA_DIR": str(tmp_path / "dlt"), "DLT_LOCAL_DIR": str(tmp_path)}.items():
            monkeypatch.setenv(key, value)
        job = DAGSTER_TENANTS.build_definitions().resolve_job_def("uniware_tenants_backfill")
        result = job.execute_in_process(instance=DagsterInstance.ephemeral(), tags={
            ASSET_PARTITION_RANGE_START_TAG: str(first), ASSET_PARTITION_RANGE_END_TAG: str(last)})
        assert result.success
        begin = datetime.combine(first, datetime.min.time(), IST)
        end = begin + timedelta(days=2)
        for n in names:
            jobs = sims[n].jobs.all()
            assert len(jobs) == 2  # one per facility for the two days
            assert {(j.query.start, j.query.end) for j in jobs} == {(int(begin.timestamp()), int(end.timestamp()) - 1)}
            with duckdb.connect(str(tmp_path / f"uniware_pipeline_{n}.duckdb"), read_only=True) as db:
                count = db.execute(f"SELECT COUNT(*) FROM uniware_{n}.sale_orders").fetchall()[0][0]
            truth_rows = sum(len(sims[n].truth("Sale Orders", date_filter="updatedOn", start=begin, end=end,
                                               facility=code)) for code in FACILITIES[:2])
            assert count == truth_rows > 0


def test_a_tenants_pool_holds_its_steps_while_another_run_holds_the_slot(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-tenant limit lives in the Dagster instance, not in a process: while a slot of pool
    uniware_acme is held by another run's step, acme's steps wait and globex's go on."""
    import threading


    names = ["acme", "globex"]
    config = fast_config(start=None, files_dir=tmp_path / "sim", orders_per_day=4, history_days=3,
                         empty_export_file=True, products=20)
    with MultiTenantSimulator(names, config) as sims:
        start = (sims["acme"].clock.now() - timedelta(days=1)).isoformat()
        monkeypatch.setenv("TENANTS", json.dumps({n: {"base_url": sims[n].base_url, "facilities": ["BLR01"],
                                                      "start_date": start} for n in names}))
        for n in names:
            monkeypatch.setenv(f"TENANTS__{n.upper()}__USERNAME", sims[n].config.username)
            monkeypatch.setenv(f"TENANTS__{n.upper()}__PASSWORD", sims[n].config.password)
        for key, value in {"SOURCES__UNIWARE__EXPORTS": '["Sale Orders"]', "SOURCES__UNIWARE__WINDOW_DAYS": "3",
                           "SOURCES__UNIWARE__POLL_INITIAL_SECONDS": "0.01",
                           "SOURCES__UNIWARE__POLL_MAX_SECONDS": "0.05",
                           "DLT_DATA_DIR": str(tmp_path / "dlt"), "DLT_LOCAL_DIR": str(tmp_path)}.items():
            monkeypatch.setenv(key, value)
        (tmp_path / "dagster").mkdir()
        with instance_for_test(temp_dir=str(tmp_path / "dagster"),
                               overrides={"concurrency": {"pools": {"default_limit": 1}}}) as instance:
            storage = instance.event_log_storage
            storage.set_concurrency_slots("uniware_acme", 1)
            storage.claim_concurrency_slot("uniware_acme", "another-run", "another-step")  # e.g. a backfill of acme
            results: list[Any] = []
            job = DAGSTER_TENANTS.build_definitions().resolve_job_def("uniware_tenants")
            runner = threading.Thread(target=lambda: results.append(job.execute_in_process(instance=instance)))
            runner.start()
            try:
                assert sims["globex"].requests.wait_for(lambda seen: any(r.endpoint == "create" for r in seen),
                                                        timeout=60), "globex waited too"
                time.sleep(2)
                assert sims["acme"].requests.count("token") == 0, "acme ran while its pool's slot was held"
            finally:
                storage.free_concurrency_slot_for_step("another-run", "another-step")
                runner.join(timeout=120)
            assert results and results[0].success
            assert sims["acme"].requests.count("create") == 1
            logs = instance.all_logs(results[0].run_id)
            assert {(e.step_key, e.message) for e in logs if "blocked" in (e.message or "")} == {
                ("uniware__acme__jobs_submitted", "Step blocked by limit for pool uniware_acme")}
