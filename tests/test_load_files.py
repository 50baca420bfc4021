"""Load files in the destination's own format (Parquet for DuckDB, CSV for PostgreSQL's COPY) and the
`deduplicated` merge hint, decided by a check of the key on the data: both paths of each."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from dlt.normalize.items_normalizers.arrow import ArrowItemsNormalizer

from uniware_simulator import NO_FILE, UniwareSimulator
from uniware_source import ExportsFailed
from uniware_source.catalog import CATALOG
from uniware_source.conversion import csv_to_parquet
from uniware_source.conversion.key_check import FileKeys, KeyStore
from uniware_source.conversion.load_files import COPY_PARTS, CSV, PARQUET, load_format_for
from uniware_source.pipeline_run.dlt_warnings import expected_warnings_dropped
from uniware_source.run_log import reset
from uniware_source.steps.collect import ExportCollection

from .harness import FAST_POLLING, SALE_ORDERS_FULL, Harness, facility_names_set
from .postgres import POSTGRES
from .test_warehouses import table_rows

REPO = Path(__file__).resolve().parent.parent

# one row per order: the order code repeats over the order's items inside one file, so dlt's merge
# must keep the newest `Updated` of each
ORDERS_BY_CODE = {**SALE_ORDERS_FULL, "name": "Sale Orders", "table_name": "orders_by_code",
                  "primary_key": ["Sale Order Code"], "dedup_sort": "Updated"}
# no natural key: merged on the job code (each job's rows replace an earlier load of the same job)
ORDERS_LOG = {**SALE_ORDERS_FULL, "table_name": "orders_log", "write_disposition": "append", "primary_key": []}


def test_package_keys_find_a_key_shared_by_two_files() -> None:
    store = KeyStore()

    def checked(keys: list[str], into: KeyStore = store) -> FileKeys:
        check = into.file(["a"])
        check.add(pa.table({"a": keys}))
        return check.result()

    first, second = checked(["x", "y"]), checked(["z"])
    assert store.add(first) and store.add(second)
    assert not store.add(checked(["y"]))  # "y" was in the first file
    assert not store.add(checked(["w"]))  # once repeated, the package stays "not unique"
    assert not KeyStore().add(FileKeys(False))  # a file whose key repeats
    small = KeyStore(max_keys=2)
    assert small.add(checked(["x"], small)) and not small.add(checked(["y", "z"], small))  # too many keys to keep
    assert store.add(FileKeys(None)) is False  # no answer is not "unique"
    store.close()


def test_key_check_finds_repeats_within_and_across_chunks() -> None:
    store = KeyStore()
    first = pa.table({"a": ["x", "y"], "b": [1, 1]})
    check = store.file(["a", "b"])
    check.add(first)
    check.add(pa.table({"a": ["x", "z"], "b": [2, 1]}))
    assert check.result().unique is True
    check = store.file(["a", "b"])
    check.add(first)
    check.add(pa.table({"a": ["z", "x"], "b": [1, 1]}))  # ("x", 1) again, in another chunk
    assert check.result().unique is False
    check = store.file(["a"])
    check.add(pa.table({"a": ["x", "x"]}))
    assert check.result().unique is False
    check = KeyStore(max_keys=10).file(["a"])  # too many keys to keep: not known to be unique
    check.add(pa.table({"a": [f"key{i}" for i in range(100)]}))
    assert check.result().unique is False
    assert store.file([]).result().unique is None
    store.close()


@pytest.mark.parametrize("versions", [False, True])
def test_key_hashes_stay_within_the_store_memory_limit(tmp_path: Path, versions: bool) -> None:
    """Hashes beyond DuckDB's memory limit of the store go to its temporary directory, not to memory:
    6M keys (48 MB of hashes), or 11M with a version column (176 MB), fill no more than the limit, and
    the answer is still exact."""
    store = KeyStore(directory=tmp_path)  # download_dir
    check = store.file(["a"], ["u"] if versions else None)
    stamp = pa.timestamp("us", tz="UTC")
    for start in range(0, 11_000_000 if versions else 6_000_000, 200_000):  # as many as a 10M-row file
        keys = pa.array(range(start, start + 200_000), pa.int64())
        check.add(pa.table({"a": keys, "u": pc.cast(pc.multiply(keys, 7_919), pa.int64()).cast(stamp)}))
    assert check.result().unique is True
    [(used,)] = store._db.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchall()
    assert used <= 32 << 20
    [spill] = tmp_path.iterdir()
    assert sum(f.stat().st_size for f in spill.rglob("*") if f.is_file()) > 16 << 20  # the rest is on disk there
    store.close()
    assert list(tmp_path.iterdir()) == []


def test_the_package_check_and_concurrent_file_checks_fit_the_store_memory() -> None:
    """Two files of 400k keys each (the package check over both), and two files of 1M keys checked on two
    threads at once: exact answers within the store's memory limit, no error."""
    def keys(start: int, count: int) -> pa.Table:
        return pa.table({"a": pa.array(range(start, start + count), pa.int64())})

    store = KeyStore()
    results: dict[int, FileKeys] = {}

    def check(number: int, start: int, count: int) -> None:
        file = store.file(["a"])
        for offset in range(0, count, 100_000):
            file.add(keys(start + offset, 100_000))
        results[number] = file.result()

    threads = [threading.Thread(target=check, args=(n, n * 1_000_000, 1_000_000)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.add(results[0]) and store.add(results[1])
    check(2, 1_999_000, 400_000)  # shares 1,000 keys with the second file
    assert results[2].unique is True and not store.add(results[2])
    store.close()
    store = KeyStore()
    check(3, 0, 400_000)
    check(4, 400_000, 400_000)
    assert store.add(results[3]) and store.add(results[4])
    store.close()


def test_load_format_follows_the_destination() -> None:
    assert load_format_for("dlt.destinations.duckdb", ["parquet", "csv"], None) == PARQUET
    assert load_format_for("dlt.destinations.postgres", ["insert_values", "csv", "parquet"], object()) == CSV
    assert load_format_for("dlt.destinations.postgres", ["insert_values", "csv", "parquet"], None) == PARQUET
    assert load_format_for("dlt.destinations.mssql", ["insert_values", "parquet"], object()) is None


def loaded_file_formats(harness: Harness, table: str) -> set[str]:
    pipeline = harness.pipeline
    formats: set[str] = set()
    for load_id in pipeline.list_completed_load_packages():
        info = pipeline.get_load_package_info(load_id)
        for job in info.jobs.get("completed_jobs", []):
            if job.job_file_info.table_name == table and job.job_file_info.file_format != "sql":
                formats.add(job.job_file_info.file_format)
    return formats


def last_load_path(harness: Harness, table: str) -> str:
    """"append" when the last package that loaded `table` copied its file straight into the table,
    "merge" when it went through the staging table and dlt's delete-insert (a `sql` follow-up job)."""
    pipeline = harness.pipeline
    for load_id in sorted(pipeline.list_completed_load_packages(), reverse=True):
        jobs = pipeline.get_load_package_info(load_id).jobs.get("completed_jobs", [])
        formats = {job.job_file_info.file_format for job in jobs if job.job_file_info.table_name == table}
        if formats:
            return "merge" if "sql" in formats else "append"
    raise AssertionError(f"no package loaded {table}")


def data_files(harness: Harness, table: str) -> int:
    """Load files of `table` in the last package that loaded it."""
    pipeline = harness.pipeline
    for load_id in sorted(pipeline.list_completed_load_packages(), reverse=True):
        jobs = pipeline.get_load_package_info(load_id).jobs.get("completed_jobs", [])
        files = [job for job in jobs
                 if job.job_file_info.table_name == table and job.job_file_info.file_format != "sql"]
        if files:
            return len(files)
    return 0


def deduplicated(harness: Harness, table: str) -> Any:
    return harness.pipeline.default_schema.tables[table].get("x-stage-data-deduplicated")


def newest_per_order(harness: Harness) -> dict[str, Any]:
    newest: dict[str, Any] = {}
    for code, updated in table_rows(harness, "sale_orders", ["sale_order_code", "updated"]):
        newest[code] = max(updated, newest.get(code, updated))
    return newest


def logged_rows_per_job(harness: Harness, sim: UniwareSimulator) -> int:
    """Checks that each job in orders_log holds exactly its file's rows; the number of jobs there."""
    file_rows = {job.code: job.file.rows for job in sim.jobs.all() if job.file is not None}
    counts = harness.query("SELECT _uniware_job_code, COUNT(*) FROM {ds}.orders_log GROUP BY 1")
    assert counts and all(count == file_rows[code] for code, count in counts), (counts, file_rows)
    return len(counts)


@pytest.mark.parametrize("destination", ["duckdb", "postgres"])
def test_fast_path_and_merge_path_both_land_right(uniware_simulator: UniwareSimulator, tmp_path: Path,
                                                  postgres_dataset: str, destination: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv_to_parquet, "CHUNK_ROWS", 200)  # several chunks: PostgreSQL gets several CSV files
    rewritten: list[str] = []  # tables whose Parquet file dlt's normalize rewrote instead of importing it
    rewrite = ArrowItemsNormalizer._write_with_dlt_columns

    def spied(self: ArrowItemsNormalizer, extracted_items_file: str, root_table_name: str, add_dlt_id: bool) -> Any:
        rewritten.append(root_table_name)
        return rewrite(self, extracted_items_file, root_table_name, add_dlt_id)

    monkeypatch.setattr(ArrowItemsNormalizer, "_write_with_dlt_columns", spied)
    sim = uniware_simulator
    pg = destination == "postgres"
    harness = Harness(sim, tmp_path, name=f"lf_{destination}",
                      destination=dlt.destinations.postgres(POSTGRES) if pg else None,
                      dataset=postgres_dataset if pg else "uniware")
    one_job: dict[str, Any] = {"facilities": ["BLR01"], "window_days": 60}
    harness.run(exports=[SALE_ORDERS_FULL, ORDERS_BY_CODE, ORDERS_LOG], **one_job)
    assert sim.requests.count("create") == 3  # one file per export: one file per package and table
    expected_format = CSV if pg else PARQUET
    for table in ("sale_orders", "orders_by_code", "orders_log"):
        assert loaded_file_formats(harness, table) == {expected_format}
        # one file per job; PostgreSQL gets parts to COPY at once where a key tells the parts' rows apart
        assert data_files(harness, table) == (COPY_PARTS if pg and table != "orders_log" else 1)
    # the converter's Arrow schema agrees with dlt's (names, order, nullability: the job code is NOT
    # NULL where it is the merge key), so every file is imported as it is
    assert rewritten == []

    # empty tables: the item key is unique in its file, so the file goes straight into the table
    assert last_load_path(harness, "sale_orders") == "append"
    # for that package only: between loads the schema says what the export does
    assert harness.pipeline.default_schema.tables["sale_orders"]["write_disposition"] == "merge"
    items = table_rows(harness, "sale_orders", ["sale_order_code", "sale_order_item_code"])
    assert len(items) == len(set(items)) > 10
    # the order code repeats in its file: merged, dlt deduplicates, the newest `Updated` of each order stays
    assert last_load_path(harness, "orders_by_code") == "merge"
    assert not deduplicated(harness, "orders_by_code")
    newest = newest_per_order(harness)
    orders = table_rows(harness, "orders_by_code", ["sale_order_code", "updated"])
    assert len(newest) < len(items)  # the order code does repeat
    assert dict(orders) == newest and len(orders) == len(newest)
    # no key (merged on the job code): into the empty table straight, every row of the file once
    assert last_load_path(harness, "orders_log") == "append"
    assert logged_rows_per_job(harness, sim) == 1

    # the tables hold rows now: merged; two files whose keys are unique in each and between them
    sim.clock.advance(timedelta(days=1))
    harness.run(exports=[SALE_ORDERS_FULL, ORDERS_LOG], facilities=["BLR01", "DEL02"], window_days=60)
    assert last_load_path(harness, "sale_orders") == last_load_path(harness, "orders_log") == "merge"
    assert deduplicated(harness, "sale_orders") is True
    items = table_rows(harness, "sale_orders", ["sale_order_code", "sale_order_item_code"])
    assert len(items) == len(set(items))
    assert logged_rows_per_job(harness, sim) == 3  # the first job and the two of this package, each once

    # a user empties a table by hand (state still says it was loaded): the next load checks again
    harness.query("DELETE FROM {ds}.sale_orders")
    sim.clock.advance(timedelta(days=1))
    harness.run(exports=[SALE_ORDERS_FULL], facilities=["BLR01"], window_days=60)
    assert last_load_path(harness, "sale_orders") == "append"
    items = table_rows(harness, "sale_orders", ["sale_order_code", "sale_order_item_code"])
    assert len(items) == len(set(items)) > 10


def _shared_key_row(text: str, copied: int, originals: list[str], blank_updated: bool = False) -> str:
    """The file plus one row whose key no file of the simulator has: a copy of data row `copied`
    (1 the first, -1 the last; its `Updated` with it, or none with `blank_updated`) under the key
    SO-SHARED / SOI-SHARED; the copied row's item code goes to `originals`."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
    header, row = rows[0], list(rows[copied])
    originals.append(row[header.index("Sale Order Item Code")])
    row[header.index("Sale Order Code")], row[header.index("Sale Order Item Code")] = "SO-SHARED", "SOI-SHARED"
    if blank_updated:
        row[header.index("Updated")] = ""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n" if "\r\n" in text[:4096] else "\n").writerow(row)
    return text + out.getvalue()


@pytest.mark.parametrize("destination", ["duckdb", "postgres"])
def test_a_key_shared_by_two_files_of_a_package_is_deduplicated_even_after_a_unique_file(
        uniware_simulator: UniwareSimulator, tmp_path: Path, postgres_dataset: str, destination: str) -> None:
    """Into a table that holds rows, one package brings two files each with unique keys, sharing one key:
    whichever file comes first declared its keys unique; the second must take that back, so the
    shared key lands once, with the newest `Updated` of the two."""
    sim = uniware_simulator
    pg = destination == "postgres"
    harness = Harness(sim, tmp_path, name=f"shared_{destination}",
                      destination=dlt.destinations.postgres(POSTGRES) if pg else None,
                      dataset=postgres_dataset if pg else "uniware")
    harness.run(exports=[SALE_ORDERS_FULL], facilities=["BLR01"], window_days=60)
    originals: list[str] = []
    sim.jobs.edit_file = lambda job, text: _shared_key_row(text, 1 if job.query.facility == "BLR01" else -1,
                                                           originals)
    sim.clock.advance(timedelta(days=1))
    harness.run(exports=[SALE_ORDERS_FULL], facilities=["BLR01", "DEL02"], window_days=60)
    assert len(originals) == 2
    copies = harness.query("SELECT updated FROM {ds}.sale_orders WHERE sale_order_item_code IN "
                           f"('{originals[0]}', '{originals[1]}')")
    assert len(copies) == 2 and copies[0][0] != copies[1][0]  # the two files' rows differ in `Updated`
    shared = harness.query("SELECT updated FROM {ds}.sale_orders WHERE sale_order_item_code = 'SOI-SHARED'")
    assert shared == [(max(copies)[0],)]
    assert deduplicated(harness, "sale_orders") is not True


@pytest.mark.parametrize("shared", ["dated", "blank in one", "same in both", "same, one file repeating it"])
def test_a_key_two_files_of_a_run_share_without_a_newest_is_said_not_called_the_newest(
        harness: Harness, shared: str) -> None:
    """Two files of one run share a key. With the same `Updated` in both, or none in one of them (dlt's
    newest-first pass sorts a blank one first on PostgreSQL and last on DuckDB), which row loads is not
    told: the later file's LOADED row and the log say so, also when a file repeats the key itself; two
    different dates say nothing (the newer loads)."""
    def edit(job: Any, text: str) -> str:
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
        header, row = rows[0], list(rows[1])
        row[header.index("Sale Order Code")], row[header.index("Sale Order Item Code")] = "SO-SHARED", "SOI-SHARED"
        at = header.index("Updated")
        if shared == "blank in one" and job.query.facility == "DEL02":
            row[at] = ""
        elif shared.startswith("same"):  # an hour into the window both jobs ask for, India time
            row[at] = (datetime.fromtimestamp(job.query.start, UTC) + timedelta(hours=6, minutes=30)).strftime(
                "%Y-%m-%d %H:%M:%S")
        copies = 2 if shared.endswith("repeating it") and job.query.facility == "BLR01" else 1
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([*rows, *[row] * copies])
        return out.getvalue()

    harness.sim.jobs.edit_file = edit
    harness.run(exports=[SALE_ORDERS_FULL], facilities=["BLR01", "DEL02"], window_days=1, lookback_days=0)
    said = [r["message"] for r in harness.history() if r["status"] == "LOADED"
            and "repeat keys of another job's file of this run" in (r["message"] or "")]
    assert len(said) == (shared != "dated"), said
    if said:
        assert re.search(r"[12] row\(s\) repeat keys of another job's file of this run with the same 'Updated' as "
                         r"the row there, or one of the two rows without one: which of them loads is not told", said[0])


def test_only_the_intended_dedup_sort_warning_is_dropped() -> None:
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    dlt_logger = logging.getLogger("dlt")
    handler = Keep()
    dlt_logger.addHandler(handler)
    try:
        with expected_warnings_dropped():
            dlt_logger.warning('The "dedup_sort" column hint for column "updated" in table "t" will be ignored.')
            dlt_logger.warning("Something else went wrong")
        dlt_logger.warning('The "dedup_sort" column hint for column "x" will be ignored.')  # outside a run
    finally:
        dlt_logger.removeHandler(handler)
    assert seen == ["Something else went wrong", 'The "dedup_sort" column hint for column "x" will be ignored.']


@pytest.mark.parametrize("destination", ["duckdb", "postgres"])
@pytest.mark.parametrize("export", [SALE_ORDERS_FULL, ORDERS_LOG], ids=["keyed", "keyless"])
@pytest.mark.parametrize("path", ["fast", "merge"])
def test_killed_after_a_copy_the_rows_land_once(uniware_simulator: UniwareSimulator, tmp_path: Path,
                                                postgres_dataset: str, destination: str,
                                                export: dict[str, Any], path: str) -> None:
    """A file COPYed (straight into its empty table on the fast path, into the staging table on the
    merge path), then SIGKILL before dlt recorded the job: the next run loads the package again, and
    none of its rows lands twice."""
    sim = uniware_simulator
    pg = destination == "postgres"
    table = export.get("table_name", "sale_orders")
    name, dataset = f"copykill_{destination}", postgres_dataset if pg else "uniware"

    def harness() -> Harness:
        return Harness(sim, tmp_path, name=name, dataset=dataset,
                       destination=dlt.destinations.postgres(POSTGRES) if pg else None)

    one_job: dict[str, Any] = {"facilities": ["BLR01"], "window_days": 60}
    if path == "merge":  # the table holds rows: the next package goes through staging
        harness().run(exports=[export], **one_job)
        sim.clock.advance(timedelta(days=1))
    settings = {"workdir": str(tmp_path), "name": name, "dataset": dataset, "postgres": POSTGRES if pg else "",
                "table": table, "now": sim.clock.now().isoformat(), "base_url": sim.base_url,
                "username": sim.config.username, "password": sim.config.password, "exports": [export],
                **one_job, **FAST_POLLING}
    child = subprocess.run([sys.executable, "-m", "tests.crash_after_copy", json.dumps(settings)],
                           env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=tmp_path, capture_output=True,
                           text=True, timeout=300)
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]
    killed_job = sim.jobs.all()[-1]
    assert killed_job.file is not None

    again = harness()
    assert again.pipeline.has_pending_data
    if path == "fast":
        assert again.query("SELECT COUNT(*) FROM {ds}." + table)[0][0] > 0  # the COPY committed before the kill
    again.run(exports=[export], **one_job)

    assert not again.pipeline.has_pending_data
    if export is ORDERS_LOG:
        assert logged_rows_per_job(again, sim) >= 1  # every job's rows exactly once
    else:
        items = table_rows(again, table, ["sale_order_code", "sale_order_item_code"])
        assert len(items) == len(set(items)) >= killed_job.file.rows
    statuses = again.query(f"SELECT status FROM {{ds}}.export_job_status WHERE job_code = '{killed_job.code}'")
    assert statuses.count(("LOADED",)) == 1


def _with_rows(text: str, keys: list[tuple[str, str]]) -> str:
    """The file plus copies of its first data row under each (Invoice No, SKU Code) of `keys`."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
    header, row = rows[0], rows[1]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n" if "\r\n" in text[:4096] else "\n")
    for invoice, sku in keys:
        row[header.index("Invoice No")], row[header.index("SKU Code")] = invoice, sku
        writer.writerow(row)
    return text + out.getvalue()


def test_repeating_keys_are_numbered_per_key_even_when_their_texts_join_alike(harness: Harness) -> None:
    """Invoice lines repeat their key and are numbered per key. Two keys whose parts joined with any
    separator read alike ("X|A", "B" and "X", "A|B") are two keys: a re-export listing them in the
    other order replaces each once, it does not add them again."""
    sim = harness.sim
    one, two = ("INV-X\x1fA", "B"), ("INV-X", "A\x1fB")
    edited: list[str] = []

    def once(keys: list[tuple[str, str]]) -> Callable[[Any, str], str]:
        def edit(job: Any, text: str) -> str:  # only the run's first file gets the rows
            edited.append(job.code)
            return _with_rows(text, keys) if len(edited) in (1, first_run_files + 1) else text
        return edit

    first_run_files = 0
    sim.jobs.edit_file = once([one, two])
    harness.run(exports=["Invoice"], facilities=["BLR01"])
    first_run_files = len(edited)
    sim.jobs.edit_file = once([two, one])
    sim.clock.advance(timedelta(hours=1))
    harness.run(exports=["Invoice"], facilities=["BLR01"], lookback_days=30)
    assert len(edited) > first_run_files  # the second run exported again
    landed = harness.sql("SELECT invoice_no, sku_code, _uniware_key_occurrence FROM {ds}.invoices "
                         "WHERE invoice_no LIKE 'INV-X%' ORDER BY 1, 2")
    assert landed == [("INV-X", "A\x1fB", 1), ("INV-X\x1fA", "B", 1)]


@pytest.fixture
def harness(uniware_simulator: UniwareSimulator, tmp_path: Path) -> Harness:
    return Harness(uniware_simulator, tmp_path)


def test_each_duckdb_load_opens_the_database_once_and_gives_the_destination_back(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """dlt opens the DuckDB file for every job, state sync and package step of a load, and closes it
    (a checkpoint) whenever the last of them returns its connection; the connector holds one
    connection of dlt's pool for each load, so dlt's loader never opens the file itself."""
    opened_by: list[str] = []
    real_connect = duckdb.connect

    def counting(*args: Any, **kwargs: Any) -> Any:
        if str(kwargs.get("database", args[0] if args else "")) == str(harness.database):
            frames = traceback.extract_stack()[:-1]
            names = {f.name for f in frames}
            opened_by.append("dlt loader" if any("/dlt/load/" in f.filename for f in frames)
                             else "connection_held" if "connection_held" in names else frames[-2].name)
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(duckdb, "connect", counting)
    destination = harness.pipeline.destination
    harness.run(exports=[SALE_ORDERS_FULL, ORDERS_LOG], facilities=["BLR01", "DEL02"], window_days=60)
    assert harness.pipeline.destination is destination
    assert "dlt loader" not in opened_by
    assert opened_by.count("connection_held") == 4  # pending packages, submit, collect, history + run row
    items = table_rows(harness, "sale_orders", ["sale_order_code", "sale_order_item_code"])
    assert len(items) == len(set(items)) > 10


def test_rows_that_repeat_a_key_in_one_file_are_counted_in_the_history_and_the_log(harness: Harness) -> None:
    """A key that repeats in a file keeps one row per key (the newest `Updated`); how many rows that
    dropped is said in the job's LOADED row and the log, never silently."""
    harness.run(exports=[ORDERS_BY_CODE], facilities=["BLR01"], window_days=60)
    [loaded] = [r for r in harness.history() if r["status"] == "LOADED"]
    orders = harness.count("orders_by_code")
    assert loaded["rows_in_file"] > orders > 0  # the order code does repeat
    assert loaded["message"].startswith(f"{loaded['rows_in_file'] - orders:,} row(s) repeat the key (Sale Order Code)")
    assert "with the same 'Updated' as that row" in loaded["message"]  # an order's items share its Updated
    harness.sim.clock.advance(timedelta(days=1))
    harness.run(exports=[SALE_ORDERS_FULL], facilities=["BLR01"], window_days=60)  # a unique key: nothing said
    assert not [r["message"] for r in harness.history() if r["status"] == "LOADED"][-1]


@pytest.mark.parametrize("copy_updated", ["older", "same", "blank", "blank first"])
def test_a_repeated_key_whose_newest_rows_tie_is_said_so_not_called_the_newest(harness: Harness,
                                                                               copy_updated: str) -> None:
    """A row repeated with another price: with an older `Updated` the newest loads and the history says
    one row per key is the newest; with the same `Updated`, or without one beside the dated row (which
    PostgreSQL sorts first and DuckDB last), nothing tells which is newest, and the history and the log
    say so instead of calling the loaded row the newest."""
    def edit(job: Any, text: str) -> str:
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
        header, first = rows[0], rows[1]
        copy = list(first)
        copy[header.index("Selling Price")] = "999.50"
        at = header.index("Updated")
        if copy_updated == "older":  # a second older, written as the file writes it
            shape = "%d-%m-%Y %H:%M:%S" if first[at][2] == "-" else "%Y-%m-%d %H:%M:%S"
            copy[at] = (datetime.strptime(first[at], shape) - timedelta(seconds=1)).strftime(shape)
        elif copy_updated.startswith("blank"):
            copy[at] = ""
        pair = [copy, first] if copy_updated == "blank first" else [first, copy]
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([header, *pair, *rows[2:]])
        return out.getvalue()

    harness.sim.jobs.edit_file = edit
    harness.run(exports=[SALE_ORDERS_FULL], facilities=["BLR01"])
    [loaded] = [r for r in harness.history() if r["status"] == "LOADED"]
    assert loaded["message"].startswith("1 row(s) repeat the key"), loaded["message"]
    tie = copy_updated != "older"
    told = "which one is not told by the file" in loaded["message"]
    assert told == tie and ("one row per key is loaded (the newest 'Updated')" in loaded["message"]) != tie
    if not tie:
        assert harness.sql("SELECT count(*) FROM {ds}.sale_orders WHERE selling_price = 999.50") == [(0,)]


def _facility_codes_set(text: str, code: str, every: int) -> str:
    """The file with `Facility Code` set to `code` on every `every`-th data row."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
    at = rows[0].index("Facility Code")
    for number, row in enumerate(rows[1:]):
        if number % every == 0:
            row[at] = code
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n" if "\r\n" in text[:4096] else "\n").writerows(rows)
    return out.getvalue()


def test_a_file_of_another_facility_is_refused_and_a_mixed_one_is_said(harness: Harness) -> None:
    """BLR01's job served a file whose rows are DEL02's (a facility of the run): nothing loaded,
    INVALID_FILE naming both, the cursor stays, DEL02's own job loads. Rows of several facilities in one
    file (an All Facility report), or values that are no facility code of the run, load and are said."""
    sim = harness.sim
    sim.jobs.edit_file = lambda job, text: _facility_codes_set(text, "del02 ", every=1) \
        if job.query.facility == "BLR01" else text
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=[SALE_ORDERS_FULL], facilities=["BLR01", "DEL02"], window_days=60)
    [problem] = raised.value.problems
    assert "holds no row of facility BLR01" in problem and "DEL02" in problem
    [blr01] = [j for j in sim.jobs.all() if j.query.facility == "BLR01"]
    assert harness.history(blr01.code)[-1]["status"] == "INVALID_FILE"
    assert harness.query("SELECT DISTINCT facility_code FROM {ds}.sale_orders") == [("DEL02",)]
    cursor = harness.cursors("sale_orders").get("BLR01")  # still where the window starts (60 days back)
    assert cursor is None or datetime.fromisoformat(cursor) <= sim.clock.now() - timedelta(days=59)
    for code, every in (("MUM03", 3), ("WH-7", 1)):  # mixed; or no facility code of the run at all
        sim.jobs.edit_file = lambda job, text, code=code, every=every: _facility_codes_set(text, code, every)
        sim.clock.advance(timedelta(hours=1))
        harness.run(exports=[SALE_ORDERS_FULL], facilities=["BLR01"], window_days=60)
        loaded = harness.history(sim.jobs.all()[-1].code)[-1]
        assert loaded["status"] == "LOADED", loaded
        assert f"carry another 'Facility Code' than BLR01 ({code})" in loaded["message"]


@pytest.mark.parametrize("facilities", [["BLR01"], None], ids=["configured", "all"])
def test_a_file_of_a_facility_the_run_does_not_export_is_refused_too(harness: Harness,
                                                                     facilities: list[str] | None) -> None:
    """The run exports BLR01 alone (or every enabled facility), and BLR01's job is served the file of
    another facility of the tenant (MUM03, which facility/search lists): it loaded under BLR01 with a
    warning only, as the check knew the run's facilities, not the tenant's."""
    harness.sim.jobs.edit_file = lambda job, text: _facility_codes_set(text, "MUM03", every=1) \
        if job.query.facility == "BLR01" else text
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=[SALE_ORDERS_FULL], facilities=facilities, window_days=60)
    problems = [p for p in raised.value.problems if "holds no row of facility BLR01" in p]
    assert len(problems) == 1 and "MUM03 (another facility's export)" in problems[0], raised.value.problems
    codes = {c for (c,) in harness.query("SELECT DISTINCT facility_code FROM {ds}.sale_orders")} \
        if harness.has_table("sale_orders") else set()
    assert "MUM03" not in codes or facilities is None  # with "all", MUM03's own job loads its rows
    assert not harness.query("SELECT 1 FROM {ds}.sale_orders WHERE _uniware_facility = 'BLR01'") \
        if harness.has_table("sale_orders") else True


def test_a_few_rows_of_a_code_nobody_lists_do_not_make_another_facilitys_file_this_ones(harness: Harness) -> None:
    """BLR01's job served DEL02's file with one row's code changed to BLR99, which facility/search does
    not list (a deleted facility, a typo): no row is BLR01's and the others are DEL02's, so it is still
    another facility's export, refused; it loaded with a warning when every row had to be another's."""
    harness.sim.jobs.edit_file = lambda job, text: _facility_codes_set(
        _facility_codes_set(text, "DEL02", every=1), "BLR99", every=10**9) if job.query.facility == "BLR01" else text
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=[SALE_ORDERS_FULL], facilities=["BLR01"], window_days=60)
    [problem] = raised.value.problems
    assert "holds no row of facility BLR01" in problem and "of them of the tenant's DEL02" in problem
    assert not harness.has_table("sale_orders") or not harness.query("SELECT 1 FROM {ds}.sale_orders")


@pytest.mark.parametrize("search", [500, 404], ids=["search-down", "no-search-ever"])
def test_the_tenants_other_facilities_are_known_when_facility_search_fails(harness: Harness, search: int) -> None:
    """facility/search fails (an outage, or a build without it: then from the first run on), so the run
    takes its configured codes as they are; an earlier run exported DEL02 (or facility/search listed it).
    BLR01's job then served DEL02's file is refused as another facility's export, as with the search
    up; it loaded under BLR01, exit 0, when the check knew only the run's own codes."""
    if search == 404:
        harness.sim.inject("facility", status=404, times=None)
    harness.run(exports=[SALE_ORDERS_FULL], facilities=["BLR01", "DEL02"], window_days=2)
    harness.sim.inject("facility", status=search, times=None)
    harness.sim.clock.advance(timedelta(days=1))
    harness.sim.jobs.edit_file = lambda job, text: _facility_codes_set(text, "DEL02", every=1)
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=[SALE_ORDERS_FULL], facilities=["BLR01"], window_days=2)
    assert raised.value.problems and all("holds no row of facility BLR01" in p and "DEL02 (another facility's export)"
                                         in p for p in raised.value.problems)
    assert not harness.query("SELECT 1 FROM {ds}.sale_orders WHERE _uniware_facility = 'BLR01' "
                             "AND facility_code = 'DEL02'")


@pytest.mark.parametrize("export", ["Inventory Snapshot", "Purchase Orders"],
                         ids=["snapshot", "windowed"])
def test_a_file_whose_display_names_are_another_facilitys_is_refused(harness: Harness, export: Any) -> None:
    """A report with the facility's display name and no code (Inventory Snapshot): BLR01's job served
    DEL02's file replaced BLR01's whole inventory with DEL02's rows, labelled BLR01, without a word. The
    names BLR01's loaded files carried tell: refused, the table as it was. A `reset` of the facility
    forgets the names (a facility renamed in Uniware), and the file then loads."""
    table = "inventory_snapshot" if export == "Inventory Snapshot" else "purchase_orders"
    harness.run(exports=[export], facilities=["BLR01"])
    before = harness.sql(f"SELECT * FROM {{ds}}.{table} ORDER BY ALL")
    assert before and {r[0] for r in harness.sql(f"SELECT DISTINCT facility FROM {{ds}}.{table}")} == \
        {"Bengaluru Central Warehouse"}
    harness.sim.jobs.edit_file = lambda job, text: facility_names_set(text, "Delhi NCR Fulfilment Hub, Gurugram")
    harness.sim.clock.advance(timedelta(days=1))
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=[export], facilities=["BLR01"])
    [problem] = raised.value.problems
    assert "carry the 'Facility' 'Delhi NCR Fulfilment Hub, Gurugram', which facility BLR01's earlier files " \
           "never did" in problem, problem
    assert "--facility BLR01` forgets its names, and also its cursor and planned windows" in problem
    assert harness.sql(f"SELECT * FROM {{ds}}.{table} ORDER BY ALL") == before
    lines, cleared = reset(harness.pipeline, [table], "BLR01")
    assert cleared, lines
    harness.sim.clock.advance(timedelta(hours=1))
    harness.run(exports=[export], facilities=["BLR01"])
    assert {r[0] for r in harness.sql(f"SELECT DISTINCT facility FROM {{ds}}.{table}")} >= \
        {"Delhi NCR Fulfilment Hub, Gurugram"}


def test_a_facilitys_first_file_with_another_facilitys_display_name_is_refused(harness: Harness) -> None:
    """BLR01 exported for the first time, its job served DEL02's snapshot: nothing of BLR01 to compare
    with, but the name is the one DEL02's files carry. Taken as BLR01's, it would also have made every
    correct BLR01 file look foreign from then on."""
    harness.run(exports=["Inventory Snapshot"], facilities=["DEL02"])
    harness.sim.jobs.edit_file = lambda job, text: facility_names_set(text, "Delhi NCR Fulfilment Hub, Gurugram") \
        if job.facility == "BLR01" else text
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=["Inventory Snapshot"], facilities=["BLR01"])
    [problem] = raised.value.problems
    assert "of facility DEL02's files, not a name of facility BLR01" in problem, problem
    assert 'shared_facility_names = ["Delhi NCR Fulfilment Hub, Gurugram"]' in problem, problem
    assert harness.sql("SELECT DISTINCT _uniware_facility FROM {ds}.inventory_snapshot") == [("DEL02",)]
    harness.sim.jobs.edit_file = None
    harness.sim.clock.advance(timedelta(hours=1))
    harness.run(exports=["Inventory Snapshot"], facilities=["BLR01"])  # its own file loads, and its name is kept
    assert sorted(harness.sql("SELECT DISTINCT _uniware_facility, facility FROM {ds}.inventory_snapshot")) == [
        ("BLR01", "Bengaluru Central Warehouse"), ("DEL02", "Delhi NCR Fulfilment Hub, Gurugram")]


@pytest.mark.parametrize("export", ["Inventory Snapshot", "Purchase Orders"], ids=["snapshot", "windowed"])
def test_two_facilities_of_one_display_name_load_once_the_name_is_listed_as_shared(harness: Harness,
                                                                                   export: str) -> None:
    """Two warehouses that Uniware shows under the company's name: DEL02 loaded first, then BLR01's first
    file carries only DEL02's name. Refused on every run with no way out before; the message names
    `shared_facility_names`, and with the name listed BLR01's rows load beside DEL02's. A name not listed
    still tells a foreign file."""
    table = "inventory_snapshot" if export == "Inventory Snapshot" else "purchase_orders"
    company = "Sartech Solutions Pvt Ltd"
    harness.sim.jobs.edit_file = lambda job, text: facility_names_set(text, company)
    harness.run(exports=[export], facilities=["DEL02"])
    del02 = harness.sql(f"SELECT * FROM {{ds}}.{table} WHERE _uniware_facility = 'DEL02' ORDER BY ALL")
    assert del02
    harness.sim.clock.advance(timedelta(hours=1))
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=[export], facilities=["BLR01"])
    [problem] = raised.value.problems
    assert f'shared_facility_names = ["{company}"]' in problem, problem
    assert not harness.sql(f"SELECT 1 FROM {{ds}}.{table} WHERE _uniware_facility = 'BLR01'")
    harness.sim.clock.advance(timedelta(hours=1))
    made = len(harness.sim.jobs.all())
    harness.run(exports=[export], facilities=["BLR01"], shared_facility_names=f'[" {company.upper()} "]')
    served = [row for job in harness.sim.jobs.all()[made:] if job.file is not None
              for row in csv.DictReader(io.StringIO(job.file.path.read_text(encoding="utf-8-sig")))]
    assert served and harness.sql(f"SELECT COUNT(*), MIN(facility), MAX(facility) FROM {{ds}}.{table} "
                                  "WHERE _uniware_facility = 'BLR01'") == [(len(served), company, company)]
    assert harness.sql(f"SELECT * FROM {{ds}}.{table} WHERE _uniware_facility = 'DEL02' ORDER BY ALL") == del02
    harness.sim.jobs.edit_file = lambda job, text: facility_names_set(text, "Mumbai West Hub")
    harness.sim.clock.advance(timedelta(hours=1))
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=[export], facilities=["BLR01"], shared_facility_names=[company])
    assert "'Mumbai West Hub', which facility BLR01's earlier files never did" in raised.value.problems[0]
    # a facility of a name of its own, served a file of the shared name: refused, setting or not (the setting
    # took its rows for its own: its snapshot replaced by another facility's, exit 0; red team helper 115)
    harness.sim.jobs.edit_file = None
    harness.sim.clock.advance(timedelta(hours=1))
    harness.run(exports=[export], facilities=["MUM03"], shared_facility_names=[company])
    mum03 = harness.sql(f"SELECT * FROM {{ds}}.{table} WHERE _uniware_facility = 'MUM03' ORDER BY ALL")
    assert mum03
    harness.sim.jobs.edit_file = lambda job, text: facility_names_set(text, company)
    harness.sim.clock.advance(timedelta(hours=1))
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=[export], facilities=["MUM03"], shared_facility_names=[company])
    assert f"carry the 'Facility' '{company}', which facility MUM03's earlier files never did" in \
        raised.value.problems[0], raised.value.problems
    assert harness.sql(f"SELECT * FROM {{ds}}.{table} WHERE _uniware_facility = 'MUM03' ORDER BY ALL") == mum03


@pytest.mark.parametrize("file_name, listed", [("Müller Großhandel GmbH", "MÜLLER GROSSHANDEL GMBH"),
                                               ("ﬁne Goods", "FINE goods")], ids=["sharp-s", "ligature"])
def test_a_shared_name_is_listed_in_any_case_the_setting_gives_it(harness: Harness, file_name: str,
                                                                   listed: str) -> None:
    """The file's names were upper-cased by pyarrow (`GROẞ`) and the setting's by Python (`GROSS`): a name
    with `ß` could never be listed, not even as the refusal's own words gave it (red team helper 115)."""
    harness.sim.jobs.edit_file = lambda job, text: facility_names_set(text, file_name)
    harness.run(exports=["Inventory Snapshot"], facilities=["DEL02"])
    harness.sim.clock.advance(timedelta(hours=1))
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=["Inventory Snapshot"], facilities=["BLR01"])
    said = raised.value.problems[0]
    suggested = said[said.index("shared_facility_names = ") + len("shared_facility_names = "):].split(" under ")[0]
    assert json.loads(suggested) == [file_name]
    for given in (suggested, json.dumps([listed])):
        harness.sim.clock.advance(timedelta(hours=1))
        assert not harness.run(exports=["Inventory Snapshot"], facilities=["BLR01"],
                               shared_facility_names=given).problems


def test_a_snapshot_is_one_load_file_and_a_keyed_merge_two_for_postgres() -> None:
    """PostgreSQL COPYs a keyed export's job as two files at once; a snapshot (merge key: the facility)
    and an export with repeating_keys (merge key: the natural key, whose numbered rows two parts would
    share) stay one file: reloaded as a merge after a crash, a second part would delete a finished
    part's rows."""
    for spec in CATALOG.values():
        collection = object.__new__(ExportCollection)
        collection.spec = spec
        expected = COPY_PARTS if spec.primary_key and spec.write_disposition == "merge" and not spec.repeating_keys \
            else 1
        assert collection._parts(CSV) == expected, spec.name
        assert collection._parts(PARQUET) == 1


def test_copy_csv_timestamps_read_back_the_same_instants_with_or_without_fractions(tmp_path: Path) -> None:
    """The PostgreSQL CSV writes a chunk's timestamps to the second when none has a fraction, with
    microseconds otherwise; COPY reads every instant back as it was, NULL as NULL, in both forms."""
    import psycopg2

    from uniware_source.conversion.load_files import open_writer

    utc = pa.timestamp("us", tz="UTC")
    whole = [datetime(2026, 4, 6, 6, 30), None, datetime(1999, 12, 31, 23, 59, 59)]
    fractions = [datetime(2026, 4, 6, 6, 30, 0, 5), datetime(2026, 4, 6, 6, 30, 1, 500000), None]
    schema = pa.schema([pa.field("at", utc), pa.field("label", pa.string())])
    path = tmp_path / "stamps.csv"
    writer = open_writer(CSV, path, schema)
    for values in (whole, fractions):
        writer.write_table(pa.table({"at": pa.array(values, utc), "label": ["x"] * len(values)}, schema=schema))
    writer.close()
    text = path.read_text()
    assert "2026-04-06 06:30:00Z" in text and "2026-04-06 06:30:00.000005Z" in text, text
    with psycopg2.connect(POSTGRES) as connection, connection.cursor() as cursor:
        cursor.execute("SET TimeZone = 'Asia/Kolkata'")  # the text says UTC, whatever the session's zone
        cursor.execute("CREATE TEMPORARY TABLE stamps (at timestamptz, label text)")
        with path.open() as file:
            cursor.copy_expert("COPY stamps FROM STDIN WITH (FORMAT CSV, HEADER)", file)
        cursor.execute("SELECT at FROM stamps")
        landed = [row[0] for row in cursor.fetchall()]
    expected = [None if v is None else v.replace(tzinfo=UTC) for v in whole + fractions]
    assert landed == expected


def _without_last_rows(dropped: int, served: list[list[str]]) -> Callable[[Any, str], str]:
    """A file edit that drops the file's last `dropped` data rows (products gone from the master); the
    rows served go to `served`."""
    def edit(job: Any, text: str) -> str:
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
        served[:] = rows[:-dropped]
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n" if "\r\n" in text[:4096] else "\n").writerows(rows[:-dropped])
        return ("\ufeff" if text.startswith("\ufeff") else "") + out.getvalue()
    return edit


def _snapshot_keys(served: list[list[str]]) -> set[tuple[str, str]]:
    """(Product Code, Component Product Code) of the served rows, a blank component as the key holds it."""
    header = served[0]
    code, component = header.index("Product Code"), header.index("Component Product Code")
    return {(row[code], "" if row[component].strip() in csv_to_parquet.BLANKS else row[component])
            for row in served[1:]}


def _item_master_rows(harness: Harness) -> list[tuple[Any, ...]]:
    return table_rows(harness, "item_master", ["product_code", "component_product_code", "_uniware_facility"])


@pytest.mark.parametrize("destination", ["duckdb", "postgres"])
def test_a_snapshot_of_the_tenant_replaces_the_whole_table(uniware_simulator: UniwareSimulator, tmp_path: Path,
                                                           postgres_dataset: str, destination: str) -> None:
    """Item Master is one job for the tenant, run under the first configured facility: a later snapshot
    taken under another facility (the list changed order, a facility was disabled) replaces the whole
    table, so the products it no longer has go, and no earlier facility's copy stays. A snapshot is one
    load file even on PostgreSQL (reloaded after a crash as a merge on the facility, a second part would
    delete a finished first part's rows)."""
    sim = uniware_simulator
    pg = destination == "postgres"
    harness = Harness(sim, tmp_path, name=f"snap_{destination}",
                      destination=dlt.destinations.postgres(POSTGRES) if pg else None,
                      dataset=postgres_dataset if pg else "uniware")
    harness.run(exports=["Item Master"], facilities=["BLR01", "DEL02"])
    first = _item_master_rows(harness)
    assert first and {facility for *_, facility in first} == {"BLR01"}

    served: list[list[str]] = []
    sim.jobs.edit_file = _without_last_rows(3, served)
    sim.clock.advance(timedelta(days=1))
    report = harness.run(exports=["Item Master"], facilities=["DEL02"])
    assert not report.problems
    second = _item_master_rows(harness)
    keys = _snapshot_keys(served)
    assert len(keys) == len(served) - 1 > 10  # the served snapshot, one row per key
    assert {(code, component) for code, component, _ in second} == keys and len(second) == len(keys)
    assert {facility for *_, facility in second} == {"DEL02"}
    assert harness.pipeline.default_schema.tables["item_master"]["write_disposition"] == "merge"  # between loads
    assert data_files(harness, "item_master") == 1


def _header_only(job: Any, text: str) -> str:
    return text[:text.index("\n") + 1]


@pytest.mark.parametrize("destination", ["duckdb", "postgres"])
@pytest.mark.parametrize("empty", ["header_only", "no_file"])
def test_an_empty_snapshot_replaces_what_it_stands_for(uniware_simulator: UniwareSimulator, tmp_path: Path,
                                                       postgres_dataset: str, destination: str, empty: str) -> None:
    """A snapshot without any row, as a header-only file or as COMPLETE without a file (Uniware's zero-row
    export), replaces like any snapshot: that facility's inventory rows go (the other facility's stay),
    and an empty Item Master empties the table; the history says so."""
    sim = uniware_simulator
    pg = destination == "postgres"
    harness = Harness(sim, tmp_path, name=f"snapempty_{destination}",
                      destination=dlt.destinations.postgres(POSTGRES) if pg else None,
                      dataset=postgres_dataset if pg else "uniware")
    exports = ["Inventory Snapshot", "Item Master"]
    harness.run(exports=exports, facilities=["BLR01", "DEL02"])
    before = dict(harness.query("SELECT _uniware_facility, COUNT(*) FROM {ds}.inventory_snapshot GROUP BY 1"))
    assert before.get("BLR01") and before.get("DEL02") and harness.query("SELECT COUNT(*) FROM {ds}.item_master")[0][0]

    def emptied(report: Any, facility: str) -> bool:
        return facility == "BLR01"  # Item Master runs under BLR01, the first facility
    if empty == "header_only":
        sim.jobs.edit_file = lambda job, text: _header_only(job, text) if emptied(None, job.facility) else text
    else:
        sim.inject_job_fate(NO_FILE, polls=10**6, times=None, match=emptied)
    sim.clock.advance(timedelta(days=1))
    harness.run(exports=exports, facilities=["BLR01", "DEL02"])
    after = dict(harness.query("SELECT _uniware_facility, COUNT(*) FROM {ds}.inventory_snapshot GROUP BY 1"))
    [served] = [j for j in sim.jobs.all()[-3:] if j.facility == "DEL02"]
    assert served.file is not None
    rows = list(csv.DictReader(io.StringIO(served.file.path.read_text(encoding="utf-8-sig"))))
    assert after == {"DEL02": len({(row["Facility"], row["Item SkuCode"]) for row in rows})}  # one row a key
    assert harness.query("SELECT COUNT(*) FROM {ds}.item_master") == [(0,)]
    notes = [message for (message,) in harness.query(
        "SELECT message FROM {ds}.export_job_status WHERE facility = 'BLR01' AND status IN ('LOADED', 'EMPTY')")]
    assert any(n and "facility BLR01's rows deleted" in n for n in notes)
    assert any(n and "every row of the table deleted" in n for n in notes)


def _stop_before_the_collect_load(monkeypatch: pytest.MonkeyPatch) -> Callable[[Any], None]:
    """The next run stops (KeyboardInterrupt) after the collect step made its package, before its load
    (the submit step's load goes on); the real load, to put back."""
    from uniware_source.pipeline_run import resumable

    load = resumable._load
    calls: list[int] = []

    def stopped_before_the_collect_load(pipeline: Any) -> None:
        calls.append(1)
        if len(calls) == 2:  # the submit step's load, then the collect step's: stopped before it
            raise KeyboardInterrupt
        load(pipeline)
    monkeypatch.setattr(resumable, "_load", stopped_before_the_collect_load)
    return load


def test_an_empty_snapshot_deletes_with_its_package_not_before(harness: Harness,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Stopped after the package of an empty snapshot was made, before it loaded: the facility's rows
    are all still there (the history has no row of that job either); the next run deletes them as it
    finishes that package, and leaves the other facility's rows and a later snapshot's rows alone."""
    from uniware_source.pipeline_run import resumable

    exports = ["Inventory Snapshot"]
    harness.run(exports=exports, facilities=["BLR01", "DEL02"])
    before = dict(harness.sql("SELECT _uniware_facility, COUNT(*) FROM {ds}.inventory_snapshot GROUP BY 1"))
    harness.sim.jobs.edit_file = lambda job, text: _header_only(job, text) if job.facility == "BLR01" else text
    harness.sim.clock.advance(timedelta(days=1))
    load = _stop_before_the_collect_load(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        harness.run(exports=exports, facilities=["BLR01"])
    monkeypatch.setattr(resumable, "_load", load)
    assert dict(harness.sql("SELECT _uniware_facility, COUNT(*) FROM {ds}.inventory_snapshot GROUP BY 1")) == before
    emptied = harness.sim.jobs.all()[-1]
    assert harness.history(emptied.code)[-1]["status"] != "LOADED"

    resumable.finish_pending_loads(harness.pipeline)
    after = dict(harness.sql("SELECT _uniware_facility, COUNT(*) FROM {ds}.inventory_snapshot GROUP BY 1"))
    assert after == {"DEL02": before["DEL02"]}
    assert "facility BLR01's rows deleted" in harness.history(emptied.code)[-1]["message"]
    harness.run(exports=exports, facilities=["DEL02"], mode="submit")  # nothing new: the record stays
    state = harness.pipeline.state["sources"]["uniware"]["resources"]["inventory_snapshot"]
    assert state.get("empty_snapshots")  # until a history step or a collect of the export forgets it
    harness.sim.jobs.edit_file = None
    harness.sim.clock.advance(timedelta(days=1))
    harness.run(exports=exports, facilities=["BLR01"])  # a snapshot with rows again: loaded, and kept
    assert not harness.pipeline.state["sources"]["uniware"]["resources"]["inventory_snapshot"].get("empty_snapshots")
    again = dict(harness.sql("SELECT _uniware_facility, COUNT(*) FROM {ds}.inventory_snapshot GROUP BY 1"))
    assert again["BLR01"] > 0 and again["DEL02"] == before["DEL02"]
    resumable.finish_pending_loads(harness.pipeline)  # nothing pending: the old deletion is not done again
    assert dict(harness.sql("SELECT _uniware_facility, COUNT(*) FROM {ds}.inventory_snapshot GROUP BY 1")) == again


@pytest.mark.parametrize("destination", ["duckdb", "postgres"])
def test_a_snapshot_whose_copy_fails_leaves_the_earlier_snapshot(
        uniware_simulator: UniwareSimulator, tmp_path: Path, postgres_dataset: str, destination: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A new snapshot's COPY fails at the destination: the table keeps the earlier snapshot whole (it
    is replaced in one transaction once the new rows are all staged, never emptied first), and the
    next run replaces it with the new one."""
    from dlt.destinations.impl.duckdb.duck import DuckDbCopyJob
    from dlt.destinations.impl.postgres.postgres import PostgresCsvCopyJob

    sim = uniware_simulator
    pg = destination == "postgres"
    harness = Harness(sim, tmp_path, name=f"snapfail_{destination}",
                      destination=dlt.destinations.postgres(POSTGRES) if pg else None,
                      dataset=postgres_dataset if pg else "uniware")
    harness.run(exports=["Item Master"], facilities=["BLR01"])
    first = sorted(_item_master_rows(harness))
    assert first
    job_class: Any = PostgresCsvCopyJob if pg else DuckDbCopyJob
    copy = job_class.run

    def failing(self: Any) -> None:
        if self._parsed_file_name.table_name == "item_master":
            raise RuntimeError("simulated COPY failure")
        copy(self)
    monkeypatch.setattr(job_class, "run", failing)
    served: list[list[str]] = []
    sim.jobs.edit_file = _without_last_rows(2, served)
    sim.clock.advance(timedelta(days=1))
    with pytest.raises(Exception, match="simulated COPY failure"):
        harness.run(exports=["Item Master"], facilities=["DEL02"])
    assert sorted(_item_master_rows(harness)) == first

    monkeypatch.setattr(job_class, "run", copy)
    harness.run(exports=["Item Master"], facilities=["DEL02"])
    rows = _item_master_rows(harness)
    assert {(code, component) for code, component, _ in rows} == _snapshot_keys(served)
    assert len(rows) == len(served) - 1 and {facility for *_, facility in rows} == {"DEL02"}


@pytest.mark.parametrize("destination", ["duckdb", "postgres"])
def test_killed_after_a_snapshot_copy_the_table_holds_the_snapshot_once(
        uniware_simulator: UniwareSimulator, tmp_path: Path, postgres_dataset: str, destination: str) -> None:
    """The package that replaces a tenant snapshot is killed after its COPY into the staging table
    committed: the next run (a collect: no new snapshot job to hide what that package left) deletes
    the started COPY's rows from staging, COPYs the file again and replaces the table, which holds the
    new snapshot once, without the rows the earlier snapshot had."""
    sim = uniware_simulator
    pg = destination == "postgres"
    name, dataset = f"snapkill_{destination}", postgres_dataset if pg else "uniware"

    def harness() -> Harness:
        return Harness(sim, tmp_path, name=name, dataset=dataset,
                       destination=dlt.destinations.postgres(POSTGRES) if pg else None)

    harness().run(exports=["Item Master"], facilities=["BLR01"])
    served: list[list[str]] = []
    sim.jobs.edit_file = _without_last_rows(2, served)
    sim.clock.advance(timedelta(days=1))
    settings = {"workdir": str(tmp_path), "name": name, "dataset": dataset, "postgres": POSTGRES if pg else "",
                "table": "item_master", "now": sim.clock.now().isoformat(), "base_url": sim.base_url,
                "username": sim.config.username, "password": sim.config.password, "exports": ["Item Master"],
                "facilities": ["DEL02"], **FAST_POLLING}
    child = subprocess.run([sys.executable, "-m", "tests.crash_after_copy", json.dumps(settings)],
                           env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=tmp_path, capture_output=True,
                           text=True, timeout=300)
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]
    again = harness()
    assert again.pipeline.has_pending_data
    assert {facility for *_, facility in _item_master_rows(again)} == {"BLR01"}  # untouched until the package ends
    again.run(mode="collect", exports=["Item Master"], facilities=["DEL02"])
    assert not again.pipeline.has_pending_data
    rows = _item_master_rows(again)
    keys = _snapshot_keys(served)
    assert len(rows) == len(set(rows)) == len(keys) == len(served) - 1
    assert {(code, component) for code, component, _ in rows} == keys
    assert {facility for *_, facility in rows} == {"DEL02"}


@pytest.mark.parametrize("destination", ["duckdb", "postgres"])
def test_a_table_loaded_before_its_key_numbered_repeats_gets_the_column(
        uniware_simulator: UniwareSimulator, tmp_path: Path, postgres_dataset: str, destination: str) -> None:
    """Courier Returns keeps every row of a package since its key was found to repeat (numbered in
    `_uniware_key_occurrence`); a table an earlier version loaded without that column gets it (1 in its
    rows) instead of failing every load on the NOT NULL key column."""
    sim = uniware_simulator
    pg = destination == "postgres"
    harness = Harness(sim, tmp_path, name=f"occ_{destination}",
                      destination=dlt.destinations.postgres(POSTGRES) if pg else None,
                      dataset=postgres_dataset if pg else "uniware")
    harness.run(exports=[{"name": "Courier Returns", "repeating_keys": False}], facilities=["BLR01"])
    before = harness.query("SELECT COUNT(*) FROM {ds}.courier_returns")[0][0]
    assert before > 0
    own = f"table_schema = '{harness.dataset}' AND table_name = 'courier_returns'"  # not another dataset's table
    columns = {c for (c,) in harness.query(f"SELECT column_name FROM information_schema.columns WHERE {own}")}
    assert columns and "_uniware_key_occurrence" not in columns

    report = harness.run(exports=["Courier Returns"], facilities=["DEL02"])  # a facility with its own history
    assert not report.problems and not harness.pipeline.has_pending_data
    rows = table_rows(harness, "courier_returns", ["sale_order_no", "shipping_package_code", "_uniware_key_occurrence"])
    assert len(rows) == len(set(rows)) > before and all(occurrence is not None for *_, occurrence in rows)
    served = sim.jobs.all()[-1]
    assert served.file is not None
    newest = harness.query("SELECT COUNT(*) FROM {ds}.courier_returns WHERE _uniware_job_code = "
                           f"'{served.code}'")[0][0]
    assert newest == served.file.rows > 0  # every row of the new file, repeats of a key included


def test_a_snapshot_package_interrupted_before_its_load_still_replaces(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stopped after the package was made but before dlt started to load it (nothing emptied yet): the
    next run loads it as the replace it is, not as a merge that would keep the earlier snapshot's
    products the new one no longer has."""
    from uniware_source.pipeline_run import resumable

    harness.run(exports=["Item Master"], facilities=["BLR01"])
    first = _item_master_rows(harness)
    served: list[list[str]] = []
    harness.sim.jobs.edit_file = _without_last_rows(3, served)
    harness.sim.clock.advance(timedelta(days=1))
    load = _stop_before_the_collect_load(monkeypatch)
    with pytest.raises(KeyboardInterrupt):  # run under another facility: a merge on it would keep BLR01's rows
        harness.run(exports=["Item Master"], facilities=["DEL02"])
    monkeypatch.setattr(resumable, "_load", load)
    assert harness.pipeline.has_pending_data and len(_item_master_rows(harness)) == len(first)

    resumable.finish_pending_loads(harness.pipeline)
    assert not harness.pipeline.has_pending_data
    rows = _item_master_rows(harness)
    assert {(code, component) for code, component, _ in rows} == _snapshot_keys(served)
    assert len(rows) == len(first) - 3 and {facility for *_, facility in rows} == {"DEL02"}
