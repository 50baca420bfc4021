"""Wall time of the Dagster tenants job against the number of tenants (README, "Many tenants on Dagster").

    .venv/bin/python pipelines/tenants_benchmark.py --tenants 1 2 4 8 --orders-per-day 200

Each size: that many simulated tenants (3 facilities each, Sale Orders + Return Invoices over the
last `--days` days), one DuckDB file per tenant, and a small Dagster deployment as the tests have it
(the shipped pipelines/dagster.yaml, the code location in its own server process): one run of
`uniware_tenants` per tenant partition, queued, launched by the run queue daemon's passes, each run
in its own process and its steps in forked processes (forkserver). Wall time from the first run
queued to the last run finished; prints a Markdown table row.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
from dagster import DagsterRunStatus

from uniware_simulator.multi import MultiTenantSimulator
from uniware_simulator.presets import fast_config

# the code location and the deployment are imported by module name: the repository root must be importable
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.dagster_deployment import deployment

FACILITIES = ["BLR01", "DEL02", "MUM03"]
MULTIPROCESS: dict[str, Any] = {"execution": {"config": {"multiprocess": {"start_method": {"forkserver": {}}}}}}


def measure(tenants: int, days: int, orders_per_day: int, workdir: Path) -> tuple[int, float]:
    names = [f"b{n}" for n in range(1, tenants + 1)]
    config = fast_config(start=None, files_dir=workdir / "sim", orders_per_day=orders_per_day,
                         history_days=days + 20, empty_export_file=True)
    with MultiTenantSimulator(names, config) as sims:
        start = (sims[names[0]].clock.now() - timedelta(days=days)).isoformat()
        env = {"TENANTS": json.dumps({n: {"base_url": sims[n].base_url, "facilities": FACILITIES,
                                          "start_date": start} for n in names}),
               "SOURCES__UNIWARE__EXPORTS": json.dumps(["Sale Orders", "Return Invoices"]),
               "SOURCES__UNIWARE__WINDOW_DAYS": str(days + 1), "SOURCES__UNIWARE__POLL_INITIAL_SECONDS": "0.01",
               "SOURCES__UNIWARE__POLL_MAX_SECONDS": "0.05",
               "DLT_DATA_DIR": str(workdir / "dlt"), "DLT_LOCAL_DIR": str(workdir / "db")}
        for n in names:
            env[f"TENANTS__{n.upper()}__USERNAME"] = sims[n].config.username
            env[f"TENANTS__{n.upper()}__PASSWORD"] = sims[n].config.password
        os.environ.update(env)
        (workdir / "db").mkdir()
        with deployment(workdir / "dagster") as dagster:
            began = time.monotonic()
            runs = [dagster.submit("uniware_tenants", dagster.partition_tags("uniware_tenants", n), MULTIPROCESS)
                    for n in names]
            dagster.wait_until(lambda: dagster.finished(*runs), timeout=3600, what="the tenants' runs")
            seconds = time.monotonic() - began
            failed = [r for r in runs if dagster.run(r).status != DagsterRunStatus.SUCCESS]
        assert not failed, f"runs failed: {failed}"
        rows = 0
        for n in names:
            with duckdb.connect(str(workdir / "db" / f"uniware_pipeline_{n}.duckdb"), read_only=True) as db:
                tables = [t for (t,) in db.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = ? "
                                                   "AND table_name IN ('sale_orders', 'return_invoices')",
                                                   [f"uniware_{n}"]).fetchall()]
                rows += sum(int(db.execute(f"SELECT COUNT(*) FROM uniware_{n}.{t}").fetchall()[0][0]) for t in tables)
        return rows, seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--orders-per-day", type=int, default=200)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # a fresh process per size: the code server's environment is the one it started with
        with tempfile.TemporaryDirectory(prefix="uniware-tenants-bench-") as workdir:
            rows, seconds = measure(args.tenants[0], args.days, args.orders_per_day, Path(workdir))
        count = args.tenants[0]
        print(f"| {count} | {count * len(FACILITIES)} | {count * len(FACILITIES) * 2} | {rows:,} | {seconds:.1f} | "
              f"{seconds / count:.1f} |", flush=True)
        return
    print("| tenants | facilities | jobs | rows | wall s | s per tenant |")
    print("|---:|---:|---:|---:|---:|---:|", flush=True)
    for count in args.tenants:
        done = subprocess.run([sys.executable, __file__, "--one", "--tenants", str(count), "--days", str(args.days),
                               "--orders-per-day", str(args.orders_per_day)],
                              check=True, capture_output=True, text=True)
        print(*[line for line in done.stdout.splitlines() if line.startswith("| ")], sep="\n", flush=True)


if __name__ == "__main__":
    main()
