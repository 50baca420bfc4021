"""Run the real pipeline against the simulator over loopback and look at what landed in DuckDB."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Optional

import dlt
import duckdb
from dlt.pipeline.pipeline import Pipeline

from uniware_simulator import UniwareSimulator
from uniware_source import ManualClock, RunReport, run_exports

FAST_POLLING: dict[str, Any] = {
    "poll_initial_seconds": 0.01,
    "poll_max_seconds": 0.05,
    "request_backoff_factor": 0.01,
    "request_max_retry_delay_seconds": 0.05,
    "complete_without_file_grace_seconds": 1.0,
    "job_timeout_seconds": 60.0,
    "read_timeout_seconds": 10.0,
}
SALE_ORDER_COLUMNS = ["soicode", "saleOrderCode", "displayorderCode", "displayOrderDateTime", "channel", "status",
                      "SoiStatus", "skuCode", "itemTypeName", "sellingPrice", "discount", "shippingAddressName",
                      "shippingAddressLine1", "shippingAddressCity", "TrackingNumber", "cancellationReason", "created",
                      "updated", "facility", "facilityCode", "invoiceCode"]
SALE_ORDERS_FULL = {"name": "Sale Orders", "columns": SALE_ORDER_COLUMNS}


class Harness:
    """One simulator, one DuckDB file, one pipeline (state in `workdir`)."""

    def __init__(self, sim: UniwareSimulator, workdir: Path, name: str = "uniware_test",
                 destination: Any = None, dataset: str = "uniware") -> None:
        self.sim = sim
        self.workdir = workdir
        self.database = workdir / f"{name}.duckdb"
        self.dataset = dataset
        self.clock = ManualClock(sim.clock.now)
        self.pipeline: Pipeline = dlt.pipeline(
            pipeline_name=name, pipelines_dir=str(workdir / "pipelines"), dataset_name=dataset,
            destination=destination or dlt.destinations.duckdb(str(self.database)),
        )

    def settings(self, **overrides: Any) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "base_url": self.sim.base_url, "username": self.sim.config.username,
            "password": self.sim.config.password, "download_dir": str(self.workdir), **FAST_POLLING,
        }
        settings.update(overrides)
        return settings

    def run(self, *, mode: str = "run", report: Optional[RunReport] = None, **overrides: Any) -> RunReport:
        return run_exports(self.pipeline, mode=mode, report=report, clock=self.clock, **self.settings(**overrides))

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.database), read_only=True) as connection:
            return connection.execute(query.format(ds=self.dataset), list(params)).fetchall()

    def count(self, table: str) -> int:
        return int(self.sql(f"SELECT COUNT(*) FROM {{ds}}.{table}")[0][0])

    def has_table(self, table: str) -> bool:
        if not self.database.exists():
            return False
        found = self.sql("SELECT COUNT(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?",
                         self.dataset, table)
        return bool(found[0][0])

    def history(self, job_code: Optional[str] = None) -> list[dict[str, Any]]:
        where = "WHERE job_code = ?" if job_code else ""
        with duckdb.connect(str(self.database), read_only=True) as connection:
            cursor = connection.execute(
                f"SELECT * FROM {self.dataset}.export_job_status {where} ORDER BY job_code, seq",
                [job_code] if job_code else [])
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def cursors(self, table: str) -> dict[str, str]:
        resources = self.pipeline.state.get("sources", {}).get("uniware", {}).get("resources", {})
        cursors: dict[str, str] = resources.get(table, {}).get("cursors", {})
        return dict(cursors)

    def ledger_entries(self, table: str) -> list[dict[str, Any]]:
        resources = self.pipeline.state.get("sources", {}).get("uniware", {}).get("resources", {})
        entries: list[dict[str, Any]] = resources.get(table, {}).get("entries", [])
        return list(entries)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Run SQL through dlt's client for the pipeline's destination (DuckDB or PostgreSQL);
        `{ds}` is the fully qualified dataset."""
        with self.pipeline.sql_client() as client:
            rows = client.execute_sql(sql.format(ds=client.fully_qualified_dataset_name()))
            return [tuple(row) for row in rows or []]


def facility_names_set(text: str, name: str) -> str:
    """The file with every row's `Facility` (the display name) set to `name`."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
    at = rows[0].index("Facility")
    for row in rows[1:]:
        row[at] = name
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def rows_like_the_first(text: str, rows: list[dict[str, str]], report: str = "") -> str:
    """A served file's text with `rows` instead of its rows: each the file's first row with these labels changed."""
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    records = list(csv.DictReader(io.StringIO(text[len(bom):], newline="")))
    assert records, f"{report}: the simulator served no row to start from"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(records[0]), lineterminator="\r\n")
    writer.writeheader()
    for changes in rows:
        writer.writerow({**records[0], **changes})
    return bom + out.getvalue()


def invoice_line_as(text: str, lines: list[tuple[int, str]]) -> str:
    """The file with its first data row's invoice line as `lines` (quantity, total) rows: one line may be
    written as two of one unit each, or as one of two, with the rest of the file as served."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
    header, first = rows[0], rows[1]
    line = [first[header.index("Invoice No")], first[header.index("SKU Code")]]
    kept = [r for r in rows[1:] if [r[header.index("Invoice No")], r[header.index("SKU Code")]] != line]
    written = []
    for quantity, total in lines:
        row = list(first)
        row[header.index("Quantity")], row[header.index("Invoice Total")] = str(quantity), total
        written.append(row)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *written, *kept])
    return out.getvalue()
