"""Many tenants as Dagster partitions, in a real (small) Dagster deployment: each tenant's run in its
own process (run launcher) and its steps in their own processes (multiprocess executor), a bad
password or a FAILED job fails that tenant's run alone, every table equals its simulator's truth,
re-running loads nothing twice, and a Dagster backfill over days runs one run per tenant and range."""

from __future__ import annotations

import importlib
import json
import os
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dagster import AssetKey, DagsterEventType, DagsterRunStatus, build_schedule_context
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from tests.dagster_deployment import Deployment, deployment
from tests.tenant_env import FAST_POLLING, tenants_env
from uniware_simulator import FAIL
from uniware_simulator.multi import MultiTenantSimulator
from uniware_simulator.presets import TEST_NOW, fast_config
from uniware_source.tenants import load_tenants
from uniware_source.windows import IST

# a runnable file of pipelines/, not an installed package: imported by name (as Dagster does)
DAGSTER_TENANTS: Any = importlib.import_module("pipelines.dagster_tenants")

GOOD = [f"t{n}" for n in range(1, 9)]  # 8 tenants x 3 facilities that load
BAD = "t9"  # configured with a wrong password
FACILITIES = ["BLR01", "DEL02", "MUM03"]
EXPORTS = ["Sale Orders", "Return Invoices"]
DAYS = 2
TENANT_TAG = "uniware/tenant"
SUBMITTED, TABLES = AssetKey(["uniware", "jobs_submitted"]), AssetKey(["uniware", "tables"])
# steps in processes forked from a server that imported the code location (so dlt, pyarrow...) once
MULTIPROCESS: dict[str, Any] = {"execution": {"config": {"multiprocess": {"start_method": {"forkserver": {}}}}}}
IN_PROCESS: dict[str, Any] = {"execution": {"config": {"in_process": {}}}}


@pytest.fixture
def sims(tmp_path: Path) -> Iterator[MultiTenantSimulator]:
    config = fast_config(start=None, files_dir=tmp_path / "sim", orders_per_day=6, history_days=20,
                         empty_export_file=True, products=40)
    with MultiTenantSimulator([*GOOD, BAD], config) as running:  # real 'now', as the run processes have
        yield running


@pytest.fixture
def configured(sims: MultiTenantSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MultiTenantSimulator:
    start = (sims[GOOD[0]].clock.now() - timedelta(days=DAYS)).isoformat()
    tables = {name: {"facilities": FACILITIES, "start_date": start} for name, _ in sims.items()}
    env = {
        **tenants_env(sims, tables, passwords={BAD: "not-the-password"}),
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
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    (tmp_path / "db").mkdir()
    return sims


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


def events(dagster: Deployment, run_id: str, kind: DagsterEventType) -> list[Any]:
    return [e for e in dagster.instance.all_logs(run_id, of_type=kind) if e.dagster_event]


def pids(dagster: Deployment, run_id: str, kind: DagsterEventType) -> set[int]:
    """The processes that logged the run's events of this kind."""
    return {e.dagster_event.pid for e in events(dagster, run_id, kind)}


@pytest.mark.slow
def test_tenants_load_as_partitions_in_parallel_processes_isolated_and_idempotent(configured: MultiTenantSimulator,
                                                                                    tmp_path: Path) -> None:
    sims = configured
    names = [*GOOD, BAD]
    assert [t.name for t in load_tenants()] == names
    start = sims[GOOD[0]].clock.now() - timedelta(days=DAYS)
    passwords = [sim.config.password for _, sim in sims.items()] + ["not-the-password"]
    with deployment(tmp_path / "dagster") as dagster:
        # the hourly schedule's tick: one run per tenant partition, tagged with the tenant
        runs = {n: dagster.submit("uniware_tenants", dagster.partition_tags("uniware_tenants", n), MULTIPROCESS)
                for n in names}
        dagster.dequeue()
        started = [n for n, r in runs.items() if dagster.run(r).status != DagsterRunStatus.QUEUED]
        assert len(started) == 8, started  # the deployment's max_concurrent_runs: 8 tenants launched at once
        dagster.wait_until(lambda: dagster.finished(*runs.values()), timeout=400, what="the tenants' runs")

        statuses = {n: dagster.run(r).status for n, r in runs.items()}
        assert statuses == {**{n: DagsterRunStatus.SUCCESS for n in GOOD}, BAD: DagsterRunStatus.FAILURE}
        failures = events(dagster, runs[BAD], DagsterEventType.STEP_FAILURE)
        assert [e.step_key for e in failures] == ["uniware__jobs_submitted"]  # its collect step never ran
        assert f"tenant '{BAD}'" in str(failures[0].dagster_event) and "AuthError" in str(failures[0].dagster_event)
        logs = "\n".join(str(e) for r in runs.values() for e in dagster.instance.all_logs(r))
        assert not [p for p in passwords if p in logs], "a password in Dagster's event log"
        # real processes: a run worker per tenant, and its steps in processes of their own
        run_pids = {n: pids(dagster, r, DagsterEventType.RUN_START) for n, r in runs.items()}
        step_pids = {n: pids(dagster, r, DagsterEventType.STEP_START) for n, r in runs.items()}
        assert len(set().union(*run_pids.values())) == len(names)
        assert all(step_pids[n] and not step_pids[n] & run_pids[n] for n in GOOD)

        rows = 0
        for tenant in GOOD:
            orders, returns, count = landed(tmp_path, tenant)
            assert (orders, returns) == truth(sims, tenant, start), tenant
            assert count > 0
            rows += count + sum(returns.values())
            assert len(sims[tenant].jobs.all()) == len(EXPORTS) * len(FACILITIES)
        assert not (tmp_path / "db" / f"uniware_pipeline_{BAD}.duckdb").exists() or not landed_tables(tmp_path, BAD)
        first_jobs = {t: {j.code for j in sims[t].jobs.all()} for t in GOOD}
        print(f"\ntenants: {len(GOOD)} x {len(FACILITIES)} facilities, {rows} rows")

        # the next tick, seconds later (each run in its own process, its steps in that process this time):
        # nothing loads twice, and no loaded window gets a new job
        again = {n: dagster.submit("uniware_tenants", dagster.partition_tags("uniware_tenants", n), IN_PROCESS)
                 for n in names}
        dagster.wait_until(lambda: dagster.finished(*again.values()), timeout=400, what="the second runs")
        assert {n for n, r in again.items() if dagster.run(r).status == DagsterRunStatus.SUCCESS} == set(GOOD)
        for tenant in GOOD:
            orders, returns, _ = landed(tmp_path, tenant)
            assert (orders, returns) == truth(sims, tenant, start), f"{tenant}: rows changed on a re-run"
            # the seconds since the first run are shorter than min_window_minutes: they wait for a later run
            assert {j.code for j in sims[tenant].jobs.all()} == first_jobs[tenant], tenant


def landed_tables(tmp_path: Path, tenant: str) -> list[Any]:
    with duckdb.connect(str(tmp_path / "db" / f"uniware_pipeline_{tenant}.duckdb"), read_only=True) as db:
        return db.execute("SELECT table_name FROM duckdb_tables() WHERE table_name IN ('sale_orders', "
                          "'return_invoices')").fetchall()


@pytest.mark.slow
def test_a_backfill_over_days_runs_once_per_tenant_and_range_and_a_failed_job_fails_its_tenant_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Dagster backfill over three India days of two tenants: a run per tenant, each handing its
    range to the connector (one job per facility for the range, not one per day), moving no cursor;
    the tenant whose job FAILED fails its run, the other loads."""
    names = ["acme", "globex"]
    config = fast_config(start=None, files_dir=tmp_path / "sim", orders_per_day=6, history_days=10,
                         empty_export_file=True, products=40)
    with MultiTenantSimulator(names, config) as sims:
        now = sims["acme"].clock.now().astimezone(IST)
        first, last = (now - timedelta(days=5)).date(), (now - timedelta(days=3)).date()
        for key, value in {**tenants_env(sims, {n: {"facilities": FACILITIES[:2]} for n in names}), **FAST_POLLING,
                           "SOURCES__UNIWARE__EXPORTS": '["Sale Orders"]', "SOURCES__UNIWARE__WINDOW_DAYS": "30",
                           "UNIWARE_DAGSTER__BACKFILL_FROM": str(now.date() - timedelta(days=9)),
                           "DLT_DATA_DIR": str(tmp_path / "dlt"), "DLT_LOCAL_DIR": str(tmp_path)}.items():
            monkeypatch.setenv(key, value)
        sims["globex"].inject_job_fate(FAIL, match=lambda report, facility: facility == "DEL02")
        days = [str(first + timedelta(days=n)) for n in range(3)]  # Dagster groups by tenant: fewer tenants than days
        keys = [str(DAGSTER_TENANTS.tenant_key(n, day)) for n in names for day in days]
        with deployment(tmp_path / "dagster") as dagster:
            backfill = dagster.backfill([AssetKey(["uniware", "backfill_submitted"]),
                                         AssetKey(["uniware", "backfill"])], keys)
            dagster.wait_until(lambda: dagster.backfill_done(backfill), timeout=300, what="the backfill")
            runs = {r.tags[TENANT_TAG]: r for r in dagster.backfill_runs(backfill)}
        assert sorted(runs) == names  # one run per tenant for the three days
        assert {n: (r.tags[ASSET_PARTITION_RANGE_START_TAG], r.tags[ASSET_PARTITION_RANGE_END_TAG])
                for n, r in runs.items()} == {n: (f"{first}|{n}", f"{last}|{n}") for n in names}
        assert (runs["acme"].status, runs["globex"].status) == (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE)
        begin = datetime.combine(first, datetime.min.time(), IST)
        end = begin + timedelta(days=3)
        for n in names:
            jobs = sims[n].jobs.all()
            assert len(jobs) == 2  # one per facility for the three days
            assert {(j.query.start, j.query.end) for j in jobs} == {(int(begin.timestamp()), int(end.timestamp()) - 1)}
        with duckdb.connect(str(tmp_path / "uniware_pipeline_acme.duckdb"), read_only=True) as db:
            count = db.execute("SELECT COUNT(*) FROM uniware_acme.sale_orders").fetchall()[0][0]
        truth_rows = sum(len(sims["acme"].truth("Sale Orders", date_filter="updatedOn", start=begin, end=end,
                                                facility=code)) for code in FACILITIES[:2])
        assert count == truth_rows > 0
        with duckdb.connect(str(tmp_path / "uniware_pipeline_globex.duckdb"), read_only=True) as db:
            facilities = db.execute("SELECT DISTINCT _uniware_facility FROM uniware_globex.sale_orders").fetchall()
        assert facilities == [("BLR01",)]  # globex's other facility loaded; its run failed on the FAILED job


def test_the_definitions_partition_by_tenant_and_by_tenant_and_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENANTS", json.dumps({"acme": {"tenant": "acme"}, "globex": {"tenant": "globex"}}))
    monkeypatch.setenv("UNIWARE_DAGSTER__BACKFILL_FROM", "2026-01-01")
    defs = DAGSTER_TENANTS.build_definitions()
    graph = defs.resolve_asset_graph()
    assert graph.get(TABLES).partitions_def.get_partition_keys() == ["acme", "globex"]
    backfill = graph.get(AssetKey(["uniware", "backfill"]))
    assert backfill.partitions_def.partition_dimension_names == ["day", "tenant"]
    assert backfill.backfill_policy.max_partitions_per_run == 30
    assert defs.resolve_job_def("uniware_tenants").get_tags_for_partition_key("globex", None)[TENANT_TAG] == "globex"
    schedule = defs.resolve_schedule_def("uniware_tenants_schedule")
    tick = schedule.evaluate_tick(build_schedule_context(
        scheduled_execution_time=datetime(2026, 1, 1, tzinfo=UTC), repository_def=defs.get_repository_def()))
    assert [(r.partition_key, r.tags[TENANT_TAG]) for r in tick.run_requests or []] == [("acme", "acme"),
                                                                                         ("globex", "globex")]


def test_a_backfill_run_over_several_tenants_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dagster makes runs of one day over several tenants when a backfill selects more tenants than
    days: such a run fails at once, with the advice, before any request to Uniware."""
    monkeypatch.setenv("TENANTS", json.dumps({"acme": {"base_url": "http://127.0.0.1:9"},
                                              "globex": {"base_url": "http://127.0.0.1:9"}}))
    monkeypatch.setenv("UNIWARE_DAGSTER__BACKFILL_FROM", "2026-01-01")
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path))
    job = DAGSTER_TENANTS.build_definitions().resolve_job_def("uniware_tenants_backfill")
    result = job.execute_in_process(raise_on_error=False, tags={
        ASSET_PARTITION_RANGE_START_TAG: "2026-01-02|acme", ASSET_PARTITION_RANGE_END_TAG: "2026-01-02|globex"})
    failures = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    assert [e.step_key for e in failures] == ["uniware__backfill_submitted"]
    assert "select at least as many days as tenants" in str(failures[0].step_failure_data.error)


def test_duckdb_tenants_given_one_database_file_are_refused_before_any_run(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """DESTINATION__DUCKDB__CREDENTIALS set once is every tenant's file, which one process at a time can write:
    two tenants run at once failed on its lock, the error saying to check the credentials (red team helper
    118). Refused naming the setting; one tenant on DuckDB, or none, is left alone."""
    from uniware_source.tenants import TenantConfigError

    monkeypatch.delenv("UNIWARE_DESTINATION", raising=False)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "shared.duckdb"))
    monkeypatch.setenv("TENANTS", json.dumps({"acme": {}, "globex": {}}))
    with pytest.raises(TenantConfigError, match=r"'acme', 'globex' would all write one DuckDB file .*"
                                                r"DESTINATION__DUCKDB__CREDENTIALS"):
        load_tenants()
    monkeypatch.setenv("TENANTS", json.dumps({"acme": {}, "globex": {"destination": "postgres"}}))
    assert [t.name for t in load_tenants()] == ["acme", "globex"]


@pytest.mark.parametrize(("tables", "said"), [
    ({"acme": {}, "acme_staging": {}},
     "tenants 'acme' and 'acme_staging' would load into one schema 'uniware_acme_staging' of postgres (the staging "
     "dataset (of 'uniware_acme') of 'acme', the dataset 'uniware_acme_staging' of 'acme_staging')"),
    ({"acme__eu": {}, "acme_eu": {}}, "tenants 'acme__eu' and 'acme_eu' would load into one schema 'uniware_acme_eu'"),
    ({"acme_": {}, "acmex": {}}, "tenants 'acme_' and 'acmex' would load into one schema 'uniware_acmex'"),
    ({"acme": {"dataset_name": "Shared"}, "globex": {"dataset_name": "shared"}},
     "tenants 'acme' and 'globex' would load into one schema 'shared'"),
    ({"acme": {"pipeline_name": "one"}, "globex": {"pipeline_name": "one"}},
     "tenants 'acme' and 'globex' have one pipeline_name 'one'"),
    ({"acme": {"destination": "dlt.destinations.postgres", "dataset_name": "shared"},
      "globex": {"dataset_name": "shared"}},
     "tenants 'acme' and 'globex' would load into one schema 'shared' of postgres"),
], ids=["a-staging-dataset", "double-underscore", "trailing-underscore", "one-dataset", "one-pipeline",
        "one-destination-spelt-two-ways"])
def test_tenants_whose_rows_would_meet_are_refused_before_any_run(
        monkeypatch: pytest.MonkeyPatch, tables: dict[str, Any], said: str) -> None:
    """Tenants `acme` and `acme_staging`: dlt merges `acme`'s rows through `uniware_acme_staging`, the other
    tenant's dataset, whose tables it replaced, every run exit 0; `acme__eu` and `acme_eu` (dlt normalizes
    both to `uniware_acme_eu`) shared tables (red team helper 106). The definitions do not load, naming both
    tenants; on other destinations the same datasets are apart."""
    from uniware_source.tenants import TenantConfigError

    monkeypatch.setenv("UNIWARE_DESTINATION", "postgres")
    monkeypatch.setenv("TENANTS", json.dumps(tables))
    with pytest.raises(TenantConfigError) as refused:
        DAGSTER_TENANTS.build_definitions()
    assert said in str(refused.value), str(refused.value)
    with pytest.raises(TenantConfigError):
        load_tenants()
    if "pipeline_name" not in json.dumps(tables):  # on another destination each: apart
        first = next(iter(tables))
        apart = {name: {**table, "destination": "duckdb"} if name == first else table for name, table in tables.items()}
        monkeypatch.setenv("TENANTS", json.dumps(apart))
        assert [t.name for t in load_tenants()] == sorted(tables)


def test_a_tenant_error_names_the_tenant_and_never_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    from uniware_source.tenants import TenantConfigError, parse_tenant

    with pytest.raises(TenantConfigError, match="tenant 'acme': unknown setting"):
        parse_tenant("acme", {"facility": "BLR01"})
    # `[[tenants.acme]]` (a list of tables) printed the tenant's password in the error (red team helper 118)
    for mistaken in ([{"username": "u@acme", "password": "AcmeSECRETpw-777"}], "password=AcmeSECRETpw-777"):
        with pytest.raises(TenantConfigError, match=r"expected a table of settings .*\[tenants.acme\]") as raised:
            parse_tenant("acme", mistaken)
        assert "AcmeSECRETpw-777" not in str(raised.value)
    monkeypatch.delenv("TENANTS__ACME__PASSWORD", raising=False)
    monkeypatch.setenv("TENANTS__ACME__USERNAME", "u@acme")
    monkeypatch.setenv("TENANTS__GLOBEX__PASSWORD", "globex-secret-1")
    with pytest.raises(TenantConfigError, match="TENANTS__ACME__PASSWORD") as raised:
        parse_tenant("acme", {}).secrets()
    assert "globex-secret-1" not in str(raised.value)
    assert os.environ["TENANTS__GLOBEX__PASSWORD"]  # resolved for globex only when globex runs
    # a setting the tenant lacks: said as the tenant's, not only as the source's (red team helper 79, F1)
    from uniware_source.errors import ConfigError
    from uniware_source.tenants import TenantFailed

    failed = TenantFailed("acme", ConfigError("tenant", "set 'tenant' or 'base_url'"))
    assert "(for this tenant alone: tenant in [tenants.acme] of .dlt/config.toml, or in its table of the TENANTS " \
           "value" in str(failed)


def test_a_tenants_settings_in_config_toml_and_credentials_in_secrets_toml_make_one_tenant(
        tmp_path: Path) -> None:
    """The README's layout: `[tenants.<name>]` settings in .dlt/config.toml, the same table's username and
    password in .dlt/secrets.toml. dlt's lookup of `tenants` took the whole table from secrets.toml, so
    the tenant's facilities, destination and dataset were dropped (every facility loaded into a DuckDB
    file, exit 0), and the trace kept every tenant's password (red team helper 79, F1, F2)."""
    import subprocess
    import sys

    from tests.postgres import POSTGRES, drop_datasets, require_postgres

    require_postgres()
    with MultiTenantSimulator(["acme", "globex"], fast_config(files_dir=tmp_path / "sim")) as sims:
        dlt_dir = tmp_path / ".dlt"
        dlt_dir.mkdir()
        (dlt_dir / "config.toml").write_text(
            '[sources.uniware]\nexports = ["Return Invoices"]\n'
            + "".join(f'[tenants.{name}]\nbase_url = "{sim.base_url}"\nfacilities = ["BLR01"]\n'
                      f'destination = "postgres"\ndataset_name = "cfg_layout_{name}"\n' for name, sim in sims.items()))
        (dlt_dir / "secrets.toml").write_text(
            f'[destination.postgres]\ncredentials = "{POSTGRES}"\n'
            + "".join(f'[tenants.{name}]\nusername = "{sim.config.username}"\npassword = "{sim.config.password}"\n'
                      for name, sim in sims.items()))
        script = ("from datetime import datetime\n"
                  "from tests.pipeline_process import FixedNow\n"
                  "from uniware_source.tenants import load_tenants, run_tenant\n"
                  "for tenant in load_tenants():\n"
                  f"    run_tenant(tenant, mode='run', pipelines_dir={str(tmp_path / 'pl')!r}, "
                  f"clock=FixedNow(datetime.fromisoformat({TEST_NOW.isoformat()!r})), "
                  "poll_initial_seconds=0.01, poll_max_seconds=0.05)\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TENANTS", "SOURCES__", "DESTINATION__"))}
        env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
        try:
            done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True,
                                  text=True, timeout=300)
            assert done.returncode == 0, done.stderr[-3000:]
            import psycopg2

            with psycopg2.connect(POSTGRES) as connection, connection.cursor() as cursor:
                for name in sims:
                    cursor.execute(f"SELECT DISTINCT _uniware_facility FROM cfg_layout_{name}.return_invoices")
                    assert cursor.fetchall() == [("BLR01",)]
            assert not list(tmp_path.glob("*.duckdb"))
            for path in (tmp_path / "pl").rglob("*"):
                if path.is_file():
                    data = path.read_bytes()
                    assert all(sim.config.password.encode() not in data for sim in sims.simulators.values()), path
        finally:
            drop_datasets([f"cfg_layout_{name}" for name in sims])


def test_a_tenants_destination_that_is_down_is_said_with_the_setting_to_check(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tenant's PostgreSQL that refuses connections failed its Dagster step with dlt's words alone (red team
    helper 118); the pipeline script names the credentials setting: the tenant's error says the same."""
    from uniware_source.tenants import TenantFailed, parse_tenant, run_tenant

    for key, value in {"TENANTS__ACME__USERNAME": "u@acme", "TENANTS__ACME__PASSWORD": "AcmeSECRETpw-777",
                       "DESTINATION__POSTGRES__CREDENTIALS": "postgresql://loader:PgSECRET-555@127.0.0.1:1/test",
                       "DLT_DATA_DIR": str(tmp_path / "dlt")}.items():
        monkeypatch.setenv(key, value)
    tenant = parse_tenant("acme", {"base_url": "http://127.0.0.1:1", "destination": "postgres",
                                   "facilities": ["BLR01"]})
    with pytest.raises(TenantFailed) as failed:
        run_tenant(tenant, mode="run", pipelines_dir=str(tmp_path / "pipelines"))
    said = str(failed.value)
    assert said.startswith("tenant 'acme': ") and "DESTINATION__POSTGRES__CREDENTIALS" in said, said
    assert "check its host and port" in said and "\n" not in said
    assert "PgSECRET-555" not in said and "AcmeSECRETpw-777" not in said
