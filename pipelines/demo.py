"""`make demo`: the simulator in-process, two pipeline runs into a local DuckDB file, SQL answers."""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Optional

import dlt
import duckdb

from uniware_simulator import JobTiming, SimulatorConfig, UniwareSimulator
from uniware_source.clock import SystemClock
from uniware_source.queries import query

DEMO_DIR = Path(".demo")
DEMO_DATABASE = DEMO_DIR / "uniware_demo.duckdb"
DEMO_EXPORTS: list[Any] = [
    {"name": "Sale Orders",
     "columns": ["soicode", "saleOrderCode", "displayorderCode", "displayOrderDateTime", "channel", "status",
                 "SoiStatus", "skuCode", "itemTypeName", "sellingPrice", "discount", "invoiceCode",
                 "shippingAddressName", "shippingAddressLine1", "shippingAddressCity", "shippingProvider",
                 "TrackingNumber", "created", "updated", "facility", "facilityCode"]},
    "Invoice",
    "Return Invoices",
    "Inventory Snapshot",
    "Item Master",
]
Runner = Callable[[argparse.Namespace, Optional[dict[str, Any]], Any], int]


class SimulatedNow(SystemClock):
    """Real waiting, but 'now' is the simulator's (which the demo moves a day ahead)."""

    def __init__(self, simulator: UniwareSimulator) -> None:
        self._simulator = simulator

    def now(self) -> datetime:
        return self._simulator.clock.now()


def print_table(title: str, sql: str, connection: duckdb.DuckDBPyConnection, limit: int = 12) -> None:
    cursor = connection.execute(f"{sql}\nLIMIT {limit}")
    names = [d[0] for d in cursor.description]
    rows = [["" if v is None else str(v) for v in row] for row in cursor.fetchall()]
    widths = [max(len(n), *(len(r[i]) for r in rows)) if rows else len(n) for i, n in enumerate(names)]
    print(f"\n{title}")
    print("  " + "  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)))
    for row in rows:
        print("  " + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def print_answers(dataset: str) -> None:
    with duckdb.connect(str(DEMO_DATABASE), read_only=True) as connection:
        tables = [t for (t,) in connection.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = ? ORDER BY 1", [dataset]).fetchall()
            if not t.startswith("_dlt")]
        counts = [(t, connection.execute(f"SELECT COUNT(*) FROM {dataset}.{t}").fetchall()[0][0]) for t in tables]
        print(f"\nTables in {DEMO_DATABASE}: " + ", ".join(f"{t} ({n:,} rows)" for t, n in counts))
        print_table("Orders and revenue per channel, last 3 India days",
                    f"SELECT order_day, channel, SUM(orders) AS orders, SUM(revenue) AS revenue FROM "
                    f"({query('sales_per_day', dataset)}) AS s GROUP BY 1, 2 "
                    f"ORDER BY 1 DESC, 4 DESC", connection, limit=18)
        print_table("Order-item status funnel (Sale Order Item Status)",
                    f"{query('order_item_status_funnel', dataset)} ORDER BY items DESC", connection)
        print_table("Orders per order status (Sale Order Status)",
                    f"{query('order_status', dataset)} ORDER BY orders DESC", connection)
        print_table("Export jobs from the status history (creation to rows loaded)",
                    f"{query('job_health', dataset)} ORDER BY export_name", connection)
        print_table("One job's status history",
                    f"SELECT seq, status, source, polls, observed_at, rows_in_file, file_host FROM "
                    f"{dataset}.export_job_status WHERE job_code = (SELECT MIN(job_code) FROM "
                    f"{dataset}.export_job_status WHERE export_name = 'Sale Orders') ORDER BY seq", connection)


def run_demo(args: argparse.Namespace, run: Runner) -> int:
    args.dataset = args.dataset or "uniware"  # a new pipeline each time (the folder is cleared): the run's default
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    DEMO_DIR.mkdir()
    config = SimulatorConfig(seed=7, live_clock=True, files_dir=DEMO_DIR / "simulator-files",
                             timing=JobTiming(seconds_per_status=(0.5, 1.0)))
    with UniwareSimulator(config) as sim:
        print(f"Uniware simulator: API {sim.base_url}, files {sim.file_base_url}, "
              f"facilities {', '.join(sim.tenant.enabled_facility_codes)}")
        args.pipelines_dir = str(DEMO_DIR / "pipelines")
        args.pipeline_name = "uniware_demo"
        destination = dlt.destinations.duckdb(str(DEMO_DATABASE))
        settings: dict[str, Any] = {
            "base_url": sim.base_url, "username": sim.config.username, "password": sim.config.password,
            "exports": DEMO_EXPORTS, "start_date": (sim.clock.now() - timedelta(days=14)).isoformat(),
            "facilities": sim.tenant.enabled_facility_codes,  # not a real tenant's, configured for the pipeline
            "poll_initial_seconds": 0.25, "poll_max_seconds": 1.0, "clock": SimulatedNow(sim),
        }
        print("\n== First run: 14 days of history ==")
        code = run(args, settings, destination)
        if code:
            return code
        sim.clock.advance(timedelta(days=1))
        print("\n== Second run, one simulated day later: only the new window (plus a 2-day lookback) ==")
        code = run(args, settings, destination)
        if code:
            return code
    print_answers(args.dataset)
    print(f"\nQuery it yourself: .venv/bin/python -c \"import duckdb; print(duckdb.connect('{DEMO_DATABASE}')"
          f".sql('select * from {args.dataset}.sale_orders limit 5'))\"")
    return 0
