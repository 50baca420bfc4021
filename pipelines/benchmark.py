"""Benchmark: the connector end to end against the warehouse's own CSV reader, on the same simulator file.

    python pipelines/benchmark.py                       # 100k, 1M and 2M rows, then 5 concurrent jobs
    python pipelines/benchmark.py --rows 100000 --skip-concurrency
    python pipelines/benchmark.py --huge --destination duckdb    # adds 10M rows

For each size the simulator (its own process, fixed clock) serves one Sale Orders export of that
many rows (the catalog's 38 columns; the simulator adds 2 more, as Uniware does: 40 in the file).
A warm-up run lets it write the file; then, each in a fresh child process:
- DuckDB native: `CREATE TABLE ... AS SELECT * FROM read_csv(<the same file>)` into a new DuckDB file;
- PostgreSQL's own `COPY ... FROM STDIN (FORMAT CSV, HEADER)` of the same file into a new table of text
  columns (what psql's copy meta-command does);
- the connector, `uniware_pipeline.py` as users run it (token, create, poll, stream the download,
  convert, dlt load into a new DuckDB file or PostgreSQL schema), for two exports of that same file:
  "merge", Sale Orders with its natural key and types, and "append", the file as a report without a
  natural key whose 40 columns are all text (merged on the job code).
`--destination duckdb` or `postgres` measures one of the two. Times exclude interpreter start-up and
imports (reported separately as process wall time). Peak RSS is each child's own maximum resident
set. The load average is recorded with each size: timings on a busy machine are not comparable.
The concurrency case runs 5 jobs whose Uniware latency is L seconds each and compares the wall time
with L plus the time the same run takes at zero latency.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

from uniware_source.catalog import CATALOG
from uniware_source.vocabulary import LABELS

REPO = Path(__file__).resolve().parent.parent
DUCKDB_TUNING = '{"preserve_insertion_order": false, "memory_limit": "128MB"}'  # as uniware_pipeline.py sets
SIM_START = "2026-04-16T06:30:00+00:00"
WINDOW = ("2026-04-06T12:00:00+05:30", "2026-04-16T12:00:00+05:30")  # ten India days before SIM_START
USERNAME, PASSWORD = "api.user@acme.example", "s3cret-Pa55!"  # the simulator's defaults
MERGE, APPEND = "merge", "append"
# the catalog's Sale Orders (38 columns, keyed, typed), windowed on the creation date
SALE_ORDERS: dict[str, Any] = {"name": "Sale Orders", "date_filter": "addedOn"}
# the same file as a report without a natural key: every column text, merged on the job code
# (the typed labels of the columns it exports: a column_types label the file lacks is a setting error)
_FILE_LABELS = {LABELS["Sale Orders"][column] for column in CATALOG["Sale Orders"].columns}
SALE_ORDERS_LOG: dict[str, Any] = {
    **SALE_ORDERS, "table_name": "sale_orders_log", "write_disposition": "append", "primary_key": [],
    "column_types": {label: "text" for label in CATALOG["Sale Orders"].column_types if label in _FILE_LABELS}}
EXPORTS = {MERGE: (SALE_ORDERS, "sale_orders"), APPEND: (SALE_ORDERS_LOG, "sale_orders_log")}


@dataclass
class Measurement:
    seconds: float  # the work itself
    process_seconds: float  # the whole child process, start-up and imports included
    peak_rss_mb: float
    rows: int


@dataclass
class Case:
    """One connector run against the warehouse's own reader of the same file."""

    destination: str  # duckdb or postgres
    export: str  # merge or append
    native: Measurement  # DuckDB read_csv (its defaults) or PostgreSQL COPY
    connector: Measurement

    @property
    def ratio(self) -> float:
        return self.connector.seconds / self.native.seconds


@dataclass
class SizeResult:
    rows: int
    file_mb: float
    load_average: str  # `uptime`'s 1/5/15-minute load averages when the size was measured
    cases: list[Case]
    duckdb_tuned: Optional[Measurement] = None  # read_csv with the settings the connector's DuckDB gets

    def case(self, destination: str, export: str) -> Optional[Case]:
        return next((c for c in self.cases if c.destination == destination and c.export == export), None)


def run_child(command: Sequence[str], env: Optional[dict[str, str]] = None,
              cwd: Optional[Path] = None) -> tuple[str, float, float]:
    """Run a child process; (stdout, wall seconds, peak RSS in MB of that child)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(list(command), env=env, cwd=cwd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(process.pid, 0)  # reaped here, so its own peak RSS is known
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            raise RuntimeError(f"{command[:3]} failed ({process.returncode}):\n{err.read()[-3000:]}")
        return out.read(), wall, usage.ru_maxrss / 1024


def start_simulator(workdir: Path, orders_per_day: int, seconds_per_status: float) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "uniware_simulator", "--port", "0", "--file-port", "0",
         "--orders-per-day", str(orders_per_day), "--history-days", "12", "--seconds-per-status",
         str(seconds_per_status), "--min-polls-per-status", "0", "--start", SIM_START, "--fixed-clock",
         "--files-dir", str(workdir / "simulator")],
        stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert process.stdout is not None
    base_url = ""
    for line in process.stdout:
        if "API (base_url):" in line:
            base_url = line.split()[-1]
        if line.startswith("Ctrl-C"):
            break
    if not base_url:
        raise RuntimeError("the simulator did not start")
    return process, base_url


def connector_env(base_url: str, export: dict[str, Any] = SALE_ORDERS, **extra: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCES__UNIWARE__")}
    env.update({
        "PYTHONPATH": str(REPO),
        "SOURCES__UNIWARE__BASE_URL": base_url,
        "SOURCES__UNIWARE__USERNAME": USERNAME,
        "SOURCES__UNIWARE__PASSWORD": PASSWORD,
        "SOURCES__UNIWARE__EXPORTS": json.dumps([export]),
        "SOURCES__UNIWARE__FACILITIES": "BLR01",
    })
    env.update({f"SOURCES__UNIWARE__{k.upper()}": str(v) for k, v in extra.items()})
    return env


def run_connector(workdir: Path, name: str, env: dict[str, str], window: tuple[str, str],
                  postgres: Optional[str] = None, table: str = "sale_orders") -> Measurement:
    for stale in workdir.glob(f"{name}.duckdb*"):
        stale.unlink()
    shutil.rmtree(workdir / "pipelines" / name, ignore_errors=True)
    extra: list[str] = []
    if postgres:
        env = {**env, "DESTINATION__POSTGRES__CREDENTIALS": postgres}
        extra = ["--destination", "postgres", "--dataset", f"{name}_data"]
        drop_schemas(postgres, f"{name}_data")
    try:
        out, wall, peak = run_child(
            [sys.executable, str(REPO / "pipelines" / "uniware_pipeline.py"), "--quiet", "--pipeline-name", name,
             "--pipelines-dir", str(workdir / "pipelines"), "--start", window[0], "--end", window[1], *extra],
            env=env, cwd=workdir)
    finally:
        if postgres:
            drop_schemas(postgres, f"{name}_data")
    seconds = float(re.search(r"in ([0-9.]+) s", out).group(1))  # type: ignore[union-attr]
    rows = int(re.search(table + r"\s+\d+\s+\d+\s+([0-9,]+)", out).group(1).replace(",", ""))  # type: ignore[union-attr]
    return Measurement(seconds, wall, peak, rows)


def run_native(csv: Path, database: Path, tuned: bool) -> Measurement:
    for stale in database.parent.glob(database.name + "*"):
        stale.unlink()
    out, wall, peak = run_child([sys.executable, __file__, "--child-native", str(csv), str(database),
                                 "tuned" if tuned else "defaults"])
    result = json.loads(out)
    return Measurement(result["seconds"], wall, peak, result["rows"])


def drop_schemas(postgres: str, dataset: str) -> None:
    import psycopg2

    with psycopg2.connect(postgres) as connection, connection.cursor() as cursor:
        for schema in (dataset, f"{dataset}_staging"):
            cursor.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    connection.close()


def run_postgres_native(csv: Path, postgres: str) -> Measurement:
    out, wall, peak = run_child([sys.executable, __file__, "--child-postgres", str(csv), postgres])
    result = json.loads(out)
    return Measurement(result["seconds"], wall, peak, result["rows"])


def postgres_child(csv: str, postgres: str) -> None:
    """PostgreSQL's own CSV reader (COPY FROM STDIN, as psql's \\copy) into a new table of text columns."""
    import csv as csv_module

    import psycopg2

    with open(csv, encoding="utf-8-sig", newline="") as handle:
        count = len(next(csv_module.reader(handle)))
    schema = "bench_native_copy"
    drop_schemas(postgres, schema)
    started = time.perf_counter()
    connection = psycopg2.connect(postgres)
    with connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {schema}")
        cursor.execute(f"CREATE TABLE {schema}.sale_orders ({', '.join(f'c{i} text' for i in range(count))})")
        with open(csv, "rb") as data:
            cursor.copy_expert(f"COPY {schema}.sale_orders FROM STDIN WITH (FORMAT CSV, HEADER true)", data,
                               size=1 << 20)
        cursor.execute(f"SELECT COUNT(*) FROM {schema}.sale_orders")
        rows = cursor.fetchone()[0]
    connection.close()
    seconds = time.perf_counter() - started
    drop_schemas(postgres, schema)
    print(json.dumps({"seconds": seconds, "rows": rows}))


def native_child(csv: str, database: str, settings: str) -> None:
    """DuckDB's own reader into a table of a new database file, with DuckDB's defaults or "tuned" with
    the settings the pipeline script gives the connector's DuckDB."""
    import duckdb

    started = time.perf_counter()
    connection = duckdb.connect(database)
    if settings == "tuned":
        for name, value in json.loads(DUCKDB_TUNING).items():
            connection.execute(f"SET {name} = '{value}'")
    connection.execute(f"CREATE TABLE sale_orders AS SELECT * FROM read_csv('{csv}', header = true)")
    rows = connection.execute("SELECT COUNT(*) FROM sale_orders").fetchall()[0][0]
    connection.close()
    print(json.dumps({"seconds": time.perf_counter() - started, "rows": rows}))


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def fastest(runs: list[Measurement]) -> Measurement:
    return min(runs, key=lambda m: m.seconds)


def measure_size(rows: int, workdir: Path, repeat: int, duckdb: bool = True,
                 postgres: Optional[str] = None) -> SizeResult:
    # BLR01 gets a third of the orders, 1.5 items each: ten days of orders_per_day = rows / 5
    simulator, base_url = start_simulator(workdir, orders_per_day=max(1, rows // 5), seconds_per_status=0)
    try:
        polling: dict[str, Any] = {"poll_initial_seconds": 0.05, "poll_max_seconds": 0.5}
        print(f"[{rows:,} rows] warm-up: the simulator writes the export...", file=sys.stderr, flush=True)
        run_connector(workdir, "warmup", connector_env(base_url, **polling), WINDOW)
        csv = max((workdir / "simulator" / "cache").glob("*.csv"), key=lambda p: p.stat().st_size)
        averages = [load_average()]
        runs: dict[tuple[str, str], list[Measurement]] = {}
        natives: dict[str, list[Measurement]] = {}
        tuned: list[Measurement] = []
        destinations = [d for d, wanted in (("duckdb", duckdb), ("postgres", bool(postgres))) if wanted]
        for attempt in range(1, repeat + 1):
            for destination in destinations:
                print(f"[{rows:,} rows] run {attempt}: {destination} native, then the connector (merge, append)",
                      file=sys.stderr, flush=True)
                if destination == "duckdb":
                    natives.setdefault(destination, []).append(run_native(csv, workdir / "native.duckdb", False))
                    tuned.append(run_native(csv, workdir / "native.duckdb", tuned=True))
                else:
                    assert postgres
                    natives.setdefault(destination, []).append(run_postgres_native(csv, postgres))
                for export, (spec, table) in EXPORTS.items():
                    name = f"bench_{destination}_{export}_{rows}"
                    env = connector_env(base_url, spec, **polling)
                    target = postgres if destination == "postgres" else None
                    measured = run_connector(workdir, name, env, WINDOW, target, table)
                    runs.setdefault((destination, export), []).append(measured)
            averages.append(load_average())
        cases = [Case(destination, export, fastest(natives[destination]), fastest(measured))
                 for (destination, export), measured in runs.items()]
        counts = {m.rows for case in cases for m in (case.native, case.connector)}
        if len(counts) != 1:
            found = [(c.destination, c.export, c.native.rows, c.connector.rows) for c in cases]
            raise RuntimeError(f"row counts differ: {found}")
        return SizeResult(rows=counts.pop(), file_mb=csv.stat().st_size / 1e6,
                          load_average=" / ".join(averages), cases=cases,
                          duckdb_tuned=fastest(tuned) if tuned else None)
    finally:
        simulator.terminate()
        simulator.wait()
        shutil.rmtree(workdir / "simulator", ignore_errors=True)


def measure_concurrency(workdir: Path, latency: float, jobs: int) -> dict[str, float]:
    """`jobs` windows of one facility, each job taking `latency` seconds at Uniware."""
    window_days = 2
    start = "2026-04-06T12:00:00+05:30"
    end = f"2026-04-{6 + window_days * jobs:02d}T12:00:00+05:30"
    results: dict[str, float] = {"jobs": jobs, "latency_seconds": latency}
    for label, seconds_per_status in (("zero_latency_seconds", 0.0), ("wall_seconds", latency / 2)):
        simulator, base_url = start_simulator(workdir, orders_per_day=3000, seconds_per_status=seconds_per_status)
        try:
            env = connector_env(base_url, window_days=window_days)  # default polling: 2 s, x1.6, 30 s cap
            measured = run_connector(workdir, f"concurrency_{label}", env, (start, end))
            results[label] = measured.seconds
        finally:
            simulator.terminate()
            simulator.wait()
            shutil.rmtree(workdir / "simulator", ignore_errors=True)
    results["target_seconds"] = 1.3 * latency + results["zero_latency_seconds"]
    return results


def machine() -> str:
    import dlt
    import duckdb
    import pyarrow

    memory = ""
    if Path("/proc/meminfo").exists():
        kilobytes = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kilobytes / 1024 / 1024:.0f} GiB RAM"
    return (f"{platform.machine()}, {os.cpu_count()} cores{memory}, Python {platform.python_version()}, "
            f"dlt {dlt.__version__}, duckdb {duckdb.__version__}, pyarrow {pyarrow.__version__}")


NATIVE = {"duckdb": "DuckDB read_csv", "postgres": "PostgreSQL COPY"}


def report(sizes: list[SizeResult], concurrency: Optional[dict[str, float]]) -> str:
    """Markdown for the README: one table, a row per size, destination and export."""
    lines = [f"Machine: {machine()}", "",
             "| rows | CSV MB | destination | export | native | native s | connector s | ratio | connector rows/s "
             "| native peak RSS MB | connector peak RSS MB |",
             "|---:|---:|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for size in sizes:
        for case in sorted(size.cases, key=lambda c: (c.destination, c.export != MERGE)):
            lines.append(f"| {size.rows:,} | {size.file_mb:.0f} | {case.destination} | {case.export} | "
                         f"{NATIVE[case.destination]} | {case.native.seconds:.2f} | {case.connector.seconds:.2f} | "
                         f"{case.ratio:.2f} | {size.rows / case.connector.seconds:,.0f} | "
                         f"{case.native.peak_rss_mb:.0f} | {case.connector.peak_rss_mb:.0f} |")
    lines.append("")
    lines.append("Load average (1/5/15 min) before the size and after each repeat: " + "; ".join(
        f"{s.rows:,} rows: {s.load_average}" for s in sizes))
    tuned = [s for s in sizes if s.duckdb_tuned is not None]
    if tuned:
        lines.append("DuckDB read_csv with the settings the connector's DuckDB gets (preserve_insertion_order=false, "
                     "memory_limit=128MB): " + ", ".join(f"{s.rows:,} rows {s.duckdb_tuned.seconds:.2f} s"
                                                           for s in tuned if s.duckdb_tuned is not None))
    lines.append("Process wall times (start-up and imports included), connector merge: " + ", ".join(
        f"{s.rows:,} rows {c.destination} {c.connector.process_seconds:.1f} s"
        for s in sizes for c in s.cases if c.export == MERGE))
    if concurrency:
        lines += ["", f"Concurrency: {concurrency['jobs']:.0f} jobs of {concurrency['latency_seconds']:.0f} s "
                      f"latency each: {concurrency['wall_seconds']:.1f} s wall; the same run at zero latency "
                      f"{concurrency['zero_latency_seconds']:.1f} s; target 1.3 L + that = "
                      f"{concurrency['target_seconds']:.1f} s (one job after another would take "
                      f"{concurrency['jobs'] * concurrency['latency_seconds']:.0f} s)."]
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="100000,1000000,2000000", help="comma-separated export sizes")
    parser.add_argument("--repeat", type=int, default=2, help="runs per size; the fastest counts (default 2)")
    parser.add_argument("--latency", type=float, default=10.0, help="per-job latency of the concurrency case")
    parser.add_argument("--jobs", type=int, default=5, help="jobs in the concurrency case")
    parser.add_argument("--huge", action="store_true", help="add 10,000,000 rows to --rows")
    parser.add_argument("--destination", choices=["both", "duckdb", "postgres"], default="both",
                        help="DuckDB, PostgreSQL or both (default)")
    parser.add_argument("--postgres", default="postgresql://postgres:x@127.0.0.1:5432/test",
                        help="PostgreSQL URL (default: the test database on 127.0.0.1:5432)")
    parser.add_argument("--skip-concurrency", action="store_true")
    parser.add_argument("--workdir", default=".bench", help="scratch directory (default .bench)")
    parser.add_argument("--child-native", nargs=3, metavar=("CSV", "DATABASE", "SETTINGS"), help=argparse.SUPPRESS)
    parser.add_argument("--child-postgres", nargs=2, metavar=("CSV", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_native:
        native_child(*args.child_native)
        return 0
    if args.child_postgres:
        postgres_child(*args.child_postgres)
        return 0
    workdir = Path(args.workdir).resolve()
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    counts = [int(r) for r in args.rows.split(",") if r.strip()] + ([10_000_000] if args.huge else [])
    postgres = args.postgres if args.destination in ("both", "postgres") else None
    sizes = [measure_size(n, workdir, args.repeat, duckdb=args.destination in ("both", "duckdb"), postgres=postgres)
             for n in counts]
    concurrency = None if args.skip_concurrency else measure_concurrency(workdir, args.latency, args.jobs)
    text = report(sizes, concurrency)
    print(text)
    (workdir / "results.md").write_text(text + "\n")
    (workdir / "results.json").write_text(json.dumps(
        {"machine": machine(),
         "sizes": [{**asdict(s), "ratios": {f"{c.destination}_{c.export}": c.ratio for c in s.cases}} for s in sizes],
         "concurrency": concurrency}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
