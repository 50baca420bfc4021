"""Beyond one machine: PostgreSQL loads exactly what DuckDB loads; the views answer alike on both;
the filesystem destination writes Parquet a bucket reader can query."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import dlt
import duckdb

from uniware_simulator import UniwareSimulator
from uniware_source.queries import QUERIES, create_views

from .harness import SALE_ORDERS_FULL, Harness, invoice_line_as
from .postgres import POSTGRES

EXPORTS: list[Any] = [SALE_ORDERS_FULL, "Invoice", "Return Invoices", "Inventory Snapshot", "Item Master"]
DATA_TABLES = ("sale_orders", "invoices", "return_invoices", "inventory_snapshot", "item_master")
PER_JOB = {"_uniware_job_code", "_dlt_load_id", "_dlt_id"}  # differ between two pipelines by nature


def normalized(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, Decimal):
        return value.normalize()
    return value


def view_types(rows: list[tuple[Any, ...]]) -> dict[tuple[str, str], str]:
    """(view, column) -> the type's family as both databases name it (`DECIMAL(18,4)` and `numeric`)."""
    families = {"varchar": "text", "character varying": "text", "timestamp with time zone": "timestamptz"}
    found = {}
    for view, column, data_type in rows:
        kind = str(data_type).lower()
        found[(str(view), str(column))] = "numeric" if kind.startswith(("decimal", "numeric")) else \
            families.get(kind, kind)
    return found


def table_rows(harness: Harness, table: str, columns: list[str]) -> list[tuple[Any, ...]]:
    rows = harness.query(f"SELECT {', '.join(columns)} FROM {{ds}}.{table}")
    return sorted((tuple(normalized(v) for v in row) for row in rows), key=repr)


def test_postgres_holds_exactly_what_duckdb_holds(uniware_simulator: UniwareSimulator, tmp_path: Path,
                                                   postgres_dataset: str) -> None:
    sim = uniware_simulator
    duck = Harness(sim, tmp_path / "duckdb", name="wh_duck")
    pg = Harness(sim, tmp_path / "postgres", name="wh_pg", destination=dlt.destinations.postgres(POSTGRES),
                 dataset=postgres_dataset)
    for day in range(2):  # a second run merges new orders and status changes, replaces snapshots
        if day:
            sim.clock.advance(timedelta(days=1))
        for harness in (duck, pg):
            harness.run(exports=EXPORTS)

    duck_schema, pg_schema = duck.pipeline.default_schema, pg.pipeline.default_schema
    for table in (*DATA_TABLES, "export_job_status"):
        duck_columns = {n: (c.get("data_type"), c.get("precision"), c.get("scale"), c.get("primary_key"),
                            c.get("merge_key"), c.get("nullable"))
                        for n, c in duck_schema.tables[table]["columns"].items()}
        pg_columns = {n: (c.get("data_type"), c.get("precision"), c.get("scale"), c.get("primary_key"),
                          c.get("merge_key"), c.get("nullable"))
                      for n, c in pg_schema.tables[table]["columns"].items()}
        assert pg_columns == duck_columns, table
        assert pg_schema.tables[table].get("write_disposition") == duck_schema.tables[table].get("write_disposition")
        columns = sorted(set(duck_columns) - PER_JOB)
        duck_rows, pg_rows = table_rows(duck, table, columns) if table in DATA_TABLES else [], []
        if table in DATA_TABLES:
            pg_rows = table_rows(pg, table, columns)
            assert duck_rows and pg_rows == duck_rows, table
    # the history tells the same story (job codes and clocks differ, statuses do not)
    story = "SELECT export_name, facility, status, COUNT(*) FROM {ds}.export_job_status GROUP BY 1, 2, 3"
    assert sorted(pg.query(story)) == sorted(duck.query(story))
    # the snapshot was replaced per facility, not appended to
    assert duck.count("inventory_snapshot") == len(sim.truth("Inventory Snapshot"))

    assert sorted(create_views(pg.pipeline)) == sorted(create_views(duck.pipeline)) == sorted(
        f"v_{name}" for name in QUERIES)
    clock_free = {  # job codes, clocks and durations differ between the two pipelines by nature
        "job_runs": "export_name, facility, window_start, window_end, loaded, had_problem, observations, "
                    "rows_in_file",
        "job_health": "export_name, jobs, loaded, not_loaded, max_polls, rows_exported",
    }
    types = ("SELECT table_name, column_name, data_type FROM information_schema.columns "
             "WHERE table_schema = '{schema}' AND table_name LIKE 'v\\_%' ESCAPE '\\'")
    assert view_types(duck.query(types.format(schema=duck.dataset))) == \
        view_types(pg.query(types.format(schema=pg.dataset)))  # one type per column on both (helper 79, F5)
    for name in QUERIES:
        view_sql = f"SELECT {clock_free.get(name, '*')} FROM {{ds}}.v_{name}"
        duck_answer = sorted((tuple(normalized(v) for v in r) for r in duck.query(view_sql)), key=repr)
        pg_answer = sorted((tuple(normalized(v) for v in r) for r in pg.query(view_sql)), key=repr)
        assert duck_answer and pg_answer == duck_answer, name


def test_filesystem_destination_writes_parquet_a_bucket_reader_can_query(uniware_simulator: UniwareSimulator,
                                                                           tmp_path: Path) -> None:
    sim = uniware_simulator
    bucket = tmp_path / "bucket"
    harness = Harness(sim, tmp_path, name="wh_files",
                      destination=dlt.destinations.filesystem(bucket.as_uri()))
    for day in range(2):
        if day:
            sim.clock.advance(timedelta(days=1))
        handler = Remembered(logging.WARNING)
        seen = handler.seen
        logging.getLogger("dlt").addHandler(handler)  # on dlt's own logger: what its filters let through
        try:
            harness.run(exports=[SALE_ORDERS_FULL, "Inventory Snapshot"], loader_file_format="parquet")
        finally:
            logging.getLogger("dlt").removeHandler(handler)
        # a bucket is an append log by design: dlt's "Falling back to `append`" lines for every table and run
        # are not the user's news (red team helper 79, F9)
        assert not [m for m in seen if "Falling back to `append`" in m], seen
    files = sorted(p.relative_to(bucket).as_posix() for p in bucket.rglob("*.parquet"))
    assert any(f.startswith("uniware/sale_orders/") for f in files)
    assert any(f.startswith("uniware/export_job_status/") for f in files)
    served = sum(j.file.rows for j in sim.jobs.all() if j.file and j.report.name == "Sale Orders")
    with duckdb.connect() as db:
        orders = f"read_parquet('{bucket}/uniware/sale_orders/*.parquet', union_by_name = true)"
        assert db.execute(f"SELECT COUNT(*) FROM {orders}").fetchall() == [(served,)]  # an append log
        current = db.execute(f"""
            SELECT sale_order_item_code, sale_order_item_status, updated FROM (
                SELECT *, ROW_NUMBER() OVER (PARTITION BY sale_order_code, sale_order_item_code
                                             ORDER BY updated DESC, _uniware_exported_at DESC) AS newest
                FROM {orders}) WHERE newest = 1""").fetchall()
        stock = db.execute(latest_snapshot(bucket)).fetchall()
        statuses = db.execute(f"SELECT DISTINCT status FROM read_parquet('{bucket}/uniware/export_job_status/"
                              "*.parquet') ORDER BY 1").fetchall()
    start = sim.clock.now() - timedelta(days=31)  # the first window opened 30 days before the first run
    # windows are half-open: what changes exactly at `now` waits for the next run, so the files hold
    # the tenant as it was just before now
    just_before = sim.clock.now() - timedelta(seconds=1)
    truth = {(r["Sale Order Item Code"], r["Sale Order Item Status"], r["Updated"]) for r in sim.truth(
        "Sale Orders", date_filter="updatedOn", start=start, end=just_before, at=just_before)}
    assert {r for r in current if r[2] >= start + timedelta(days=1)} == {r for r in truth if r[2] >= start +
                                                                       timedelta(days=1)}
    assert len(stock) == len(sim.truth("Inventory Snapshot"))
    assert ("LOADED",) in statuses
    # a facility's snapshot comes back empty: nothing can be deleted from a bucket; the EMPTY row says so,
    # and the README's recipe takes it for the facility's newest snapshot (red team helper 79, F3)
    sim.jobs.edit_file = lambda job, text: text.splitlines(keepends=True)[0] if job.facility == "BLR01" else text
    sim.clock.advance(timedelta(days=1))
    harness.run(exports=["Inventory Snapshot"], loader_file_format="parquet")
    [empty] = [r for r in harness_history_files(bucket) if r[1] == "EMPTY"]
    assert "cannot be deleted on this destination" in empty[2], empty
    with duckdb.connect() as db:
        facilities = {row[0] for row in db.execute(latest_snapshot(bucket, "_uniware_facility")).fetchall()}
    assert facilities == {"DEL02", "MUM03"}


class Remembered(logging.Handler):
    """A handler that keeps the messages it is given."""

    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(record.getMessage())


def latest_snapshot(bucket: Path, columns: str = "s.*") -> str:
    """The README's recipe: each facility's newest inventory snapshot in a bucket (none after an EMPTY one)."""
    return f"""
        SELECT {columns} FROM read_parquet('{bucket}/uniware/inventory_snapshot/*.parquet', union_by_name = true) AS s
        JOIN (SELECT facility, arg_max(job_code, observed_at) AS job_code
              FROM read_parquet('{bucket}/uniware/export_job_status/*.parquet', union_by_name = true)
              WHERE table_name = 'inventory_snapshot' AND status IN ('LOADED', 'EMPTY')
              GROUP BY facility) AS newest ON s._uniware_job_code = newest.job_code"""


def harness_history_files(bucket: Path) -> list[tuple[str, str, str]]:
    with duckdb.connect() as db:
        rows = db.execute(f"SELECT job_code, status, message FROM read_parquet('{bucket}/uniware/export_job_status/"
                          "*.parquet', union_by_name = true) WHERE table_name = 'inventory_snapshot'").fetchall()
    return [(str(a), str(b), str(c)) for a, b, c in rows]


def readme_sql(starting: str) -> str:
    """The README's SQL statement that begins with the comment line `starting`."""
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    at = readme.index(starting)
    return readme[at:readme.index(";", at)]


def test_the_readme_reads_a_repeating_keys_lines_from_a_bucket_without_stale_rows(
        uniware_simulator: UniwareSimulator, tmp_path: Path) -> None:
    """A bucket appends every file: an invoice line written as two one-unit rows, then exported again as one
    row of two, is three rows there. The README's recipe reads every row of the newest job of each line, so
    the stale second row does not count (red team helper 119: no recipe for such tables)."""
    sim = uniware_simulator
    bucket = tmp_path / "bucket"
    harness = Harness(sim, tmp_path, name="wh_invoices", destination=dlt.destinations.filesystem(bucket.as_uri()))
    edits = [[(1, "100.00"), (1, "100.00")], [(2, "200.00")]]  # the window's job, then its re-export
    jobs: list[str] = []

    def edit(job: Any, text: str) -> str:
        if len(jobs) == len(edits):
            return text
        jobs.append(job.code)
        return invoice_line_as(text, edits[len(jobs) - 1])

    sim.jobs.edit_file = edit
    settings: dict[str, Any] = {"exports": ["Invoice"], "facilities": ["BLR01"], "window_days": 1,
                                "loader_file_format": "parquet"}
    harness.run(**settings)
    sim.clock.advance(timedelta(hours=12))
    harness.run(**settings, lookback_days=1)
    assert len(jobs) == 2
    recipe = readme_sql("-- invoice lines as they are now").replace("bucket/", f"{bucket}/")
    with duckdb.connect() as db:
        invoices = f"read_parquet('{bucket}/uniware/invoices/*.parquet', union_by_name = true)"
        [(line,)] = db.execute(f"SELECT invoice_no FROM {invoices} WHERE _uniware_job_code = ? "
                               "AND quantity = 2", [jobs[1]]).fetchall()
        assert db.execute(f"SELECT COUNT(*) FROM {invoices} WHERE invoice_no = ?", [line]).fetchall() == [(3,)]
        current = db.execute(f"SELECT quantity, invoice_total FROM ({recipe}) WHERE invoice_no = ?",
                             [line]).fetchall()
    assert [(q, float(t)) for q, t in current] == [(2, 200.0)], current
