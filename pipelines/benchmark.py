"""Benchmark: the connector end to end against DuckDB's own CSV reader, on the same simulator file.

    python pipelines/benchmark.py                       # 100k, 1M and 2M rows, then 5 concurrent jobs
    python pipelines/benchmark.py --rows 100000 --skip-concurrency

For each size the simulator (its own process, fixed clock) serves one Sale Orders export of that
many rows. A warm-up run lets it write the file; then, each in a fresh child process:
- DuckDB native: `CREATE TABLE ... AS SELECT * FROM read_csv(<the same file>)` into a new DuckDB file;
- the connector: `uniware_pipeline.py` as users run it (token, create, poll, stream the download,
  convert, dlt merge-load into a new DuckDB file).
Times exclude interpreter start-up and imports (reported separately as process wall time). Peak RSS
is each child's own maximum resident set. The concurrency case runs 5 jobs whose Uniware latency is
L seconds each and compares the wall time with L plus the time the same run takes at zero latency.
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

REPO = Path(__file__).resolve().parent.parent
DUCKDB_TUNING = '{"preserve_insertion_order": false, "memory_limit": "128MB"}'  # as uniware_pipeline.py sets
SIM_START = "2026-04-16T06:30:00+00:00"
WINDOW = ("2026-04-06T12:00:00+05:30", "2026-04-16T12:00:00+05:30")  # ten India days before SIM_START
USERNAME, PASSWORD = "api.user@acme.example", "s3cret-Pa55!"  # the simulator's defaults
SALE_ORDERS = {
    "name": "Sale Orders",
    "columns": ["soicode", "saleOrderCode", "displayorderCode", "displayOrderDateTime", "channel", "SoiStatus",
                "skuCode", "itemTypeName", "sellingPrice", "discount", "shippingAddressName", "shippingAddressLine1",
                "shippingAddressCity", "TrackingNumber", "cancellationReason", "created", "updated", "facility"],
    "date_filter": "addedOn",
}


@dataclass
class Measurement:
    seconds: float  # the work itself
    process_seconds: float  # the whole child process, start-up and imports included
    peak_rss_mb: float
    rows: int


@dataclass
class SizeResult:
    rows: int
    file_mb: float
    native: Measurement  # DuckDB with its default settings
    native_tuned: Measurement  # DuckDB with the settings the connector's DuckDB gets
    connector: Measurement

    @property
    def ratio(self) -> float:
        return self.connector.seconds / self.native.seconds

    @property
    def ratio_tuned(self) -> float:
        return self.connector.seconds / self.native_tuned.seconds


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


def connector_env(base_url: str, **extra: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCES__UNIWARE__")}
    env.update({
        "PYTHONPATH": str(REPO),
        "SOURCES__UNIWARE__BASE_URL": base_url,
        "SOURCES__UNIWARE__USERNAME": USERNAME,
        "SOURCES__UNIWARE__PASSWORD": PASSWORD,
        "SOURCES__UNIWARE__EXPORTS": json.dumps([SALE_ORDERS]),
        "SOURCES__UNIWARE__FACILITIES": "BLR01",
    })
    env.update({f"SOURCES__UNIWARE__{k.upper()}": str(v) for k, v in extra.items()})
    return env


def run_connector(workdir: Path, name: str, env: dict[str, str], window: tuple[str, str]) -> Measurement:
    for stale in workdir.glob(f"{name}.duckdb*"):
        stale.unlink()
    shutil.rmtree(workdir / "pipelines" / name, ignore_errors=True)
    out, wall, peak = run_child(
        [sys.executable, str(REPO / "pipelines" / "uniware_pipeline.py"), "--quiet", "--pipeline-name", name,
         "--pipelines-dir", str(workdir / "pipelines"), "--start", window[0], "--end", window[1]],
        env=env, cwd=workdir)
    seconds = float(re.search(r"in ([0-9.]+) s", out).group(1))  # type: ignore[union-attr]
    rows = int(re.search(r"sale_orders\s+\d+\s+\d+\s+([0-9,]+)", out).group(1).replace(",", ""))  # type: ignore[union-attr]
    return Measurement(seconds, wall, peak, rows)


def run_native(csv: Path, database: Path, tuned: bool) -> Measurement:
    for stale in database.parent.glob(database.name + "*"):
        stale.unlink()
    out, wall, peak = run_child([sys.executable, __file__, "--child-native", str(csv), str(database),
                                 "tuned" if tuned else "defaults"])
    result = json.loads(out)
    return Measurement(result["seconds"], wall, peak, result["rows"])


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


def measure_size(rows: int, workdir: Path, repeat: int) -> SizeResult:
    # BLR01 gets a third of the orders, 1.5 items each: ten days of orders_per_day = rows / 5
    simulator, base_url = start_simulator(workdir, orders_per_day=max(1, rows // 5), seconds_per_status=0)
    try:
        env = connector_env(base_url, poll_initial_seconds=0.05, poll_max_seconds=0.5)
        print(f"[{rows:,} rows] warm-up: the simulator writes the export...", file=sys.stderr, flush=True)
        run_connector(workdir, "warmup", env, WINDOW)
        csv = max((workdir / "simulator" / "cache").glob("*.csv"), key=lambda p: p.stat().st_size)
        natives, tuned, connectors = [], [], []
        for attempt in range(1, repeat + 1):
            print(f"[{rows:,} rows] run {attempt}: DuckDB native, then the connector", file=sys.stderr, flush=True)
            natives.append(run_native(csv, workdir / "native.duckdb", tuned=False))
            tuned.append(run_native(csv, workdir / "native.duckdb", tuned=True))
            connectors.append(run_connector(workdir, f"bench_{rows}", env, WINDOW))
        best = [min(runs, key=lambda m: m.seconds) for runs in (natives, tuned, connectors)]
        if best[0].rows != best[2].rows:
            raise RuntimeError(f"row counts differ: DuckDB {best[0].rows}, connector {best[2].rows}")
        return SizeResult(rows=best[2].rows, file_mb=csv.stat().st_size / 1e6, native=best[0], native_tuned=best[1],
                          connector=best[2])
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


def report(sizes: list[SizeResult], concurrency: Optional[dict[str, float]]) -> str:
    lines = [f"Machine: {machine()}"]
    if sizes:
        lines += ["",
             "| rows | CSV MB | DuckDB read_csv s (defaults) | DuckDB read_csv s (tuned) | connector s | "
             "ratio (defaults) | ratio (tuned) | connector rows/s | DuckDB peak RSS MB | connector peak RSS MB |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for size in sizes:
        lines.append(f"| {size.rows:,} | {size.file_mb:.0f} | {size.native.seconds:.2f} | "
                     f"{size.native_tuned.seconds:.2f} | {size.connector.seconds:.2f} | {size.ratio:.2f} | "
                     f"{size.ratio_tuned:.2f} | {size.rows / size.connector.seconds:,.0f} | "
                     f"{size.native.peak_rss_mb:.0f} | {size.connector.peak_rss_mb:.0f} |")
    if sizes:
        lines.append("")
        lines.append("Process wall times (start-up and imports included): " + ", ".join(
            f"{s.rows:,} rows: DuckDB {s.native.process_seconds:.1f} s, connector {s.connector.process_seconds:.1f} s"
            for s in sizes))
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
    parser.add_argument("--skip-concurrency", action="store_true")
    parser.add_argument("--workdir", default=".bench", help="scratch directory (default .bench)")
    parser.add_argument("--child-native", nargs=3, metavar=("CSV", "DATABASE", "SETTINGS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_native:
        native_child(*args.child_native)
        return 0
    workdir = Path(args.workdir).resolve()
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    sizes = [measure_size(int(r), workdir, args.repeat) for r in args.rows.split(",") if r.strip()]
    concurrency = None if args.skip_concurrency else measure_concurrency(workdir, args.latency, args.jobs)
    text = report(sizes, concurrency)
    print(text)
    (workdir / "results.md").write_text(text + "\n")
    (workdir / "results.json").write_text(json.dumps(
        {"sizes": [{**asdict(s), "ratio": s.ratio, "ratio_tuned": s.ratio_tuned} for s in sizes],
         "concurrency": concurrency}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
