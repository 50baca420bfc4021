"""Two tenants into PostgreSQL through the Dagster tenants job, a run per tenant partition: a schema
per tenant, each equal to its own simulator's truth."""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from dagster import DagsterInstance

from tests.postgres import POSTGRES, drop_datasets, require_postgres
from tests.tenant_env import FAST_POLLING, tenants_env
from uniware_simulator.multi import MultiTenantSimulator
from uniware_simulator.presets import fast_config

# a runnable file of pipelines/, not an installed package: imported by name (as Dagster does)
DAGSTER_TENANTS: Any = importlib.import_module("pipelines.dagster_tenants")

FACILITIES = ["BLR01", "DEL02"]


@pytest.fixture
def tenant_names() -> Iterator[list[str]]:
    suffix = uuid.uuid4().hex[:8]
    names = [f"pga_{suffix}", f"pgb_{suffix}"]
    require_postgres()
    yield names
    drop_datasets([f"uniware_{name}" for name in names])


@pytest.mark.postgres
def test_each_tenant_gets_its_own_postgres_schema(tenant_names: list[str], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    config = fast_config(start=None, files_dir=tmp_path / "sim", orders_per_day=8, history_days=5,
                         empty_export_file=True, products=40)
    with MultiTenantSimulator(tenant_names, config) as sims:
        start = sims[tenant_names[0]].clock.now() - timedelta(days=2)
        tables = {n: {"facilities": FACILITIES, "start_date": start.isoformat(), "destination": "postgres"}
                  for n in tenant_names}
        for key, value in {**tenants_env(sims, tables), **FAST_POLLING,
                           "SOURCES__UNIWARE__EXPORTS": '["Sale Orders"]', "SOURCES__UNIWARE__WINDOW_DAYS": "3",
                           "DESTINATION__POSTGRES__CREDENTIALS": POSTGRES,
                           "DLT_DATA_DIR": str(tmp_path / "dlt")}.items():
            monkeypatch.setenv(key, value)
        job = DAGSTER_TENANTS.build_definitions().resolve_job_def("uniware_tenants")
        for n in tenant_names:
            assert job.execute_in_process(instance=DagsterInstance.ephemeral(), partition_key=n).success
        with psycopg2.connect(POSTGRES) as connection, connection.cursor() as cursor:
            for n in tenant_names:
                cursor.execute(f"SELECT sale_order_item_code, sale_order_item_status FROM uniware_{n}.sale_orders")
                landed = sorted(cursor.fetchall())
                sim = sims[n]
                truth = sorted((r["Sale Order Item Code"], r["Sale Order Item Status"])
                               for code in FACILITIES
                               for r in sim.truth("Sale Orders", date_filter="updatedOn", start=start,
                                                  end=sim.clock.now(), facility=code))
                assert landed == truth and landed, n
                cursor.execute("SELECT table_name FROM information_schema.views WHERE table_schema = %s",
                               (f"uniware_{n}",))
                assert "v_sales_per_day" in {row[0] for row in cursor.fetchall()}, n  # helper 79, F7
