"""Bad CSV: a clear error naming file, row and column, or rows skipped and counted; never a half-loaded file."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import dlt
import pytest

from tests.simulator_fixtures import fast_config
from uniware_simulator import (
    BAD_VALUE,
    CORRUPT,
    INVALID_UTF8,
    NUL_BYTE,
    RAGGED,
    RENAMED_HEADER,
    RESHAPED,
    TRUNCATE,
    UniwareSimulator,
)
from uniware_source import ExportsFailed
from uniware_source.errors import ConfigError
from uniware_source.windows import IST

from .harness import Harness, rows_like_the_first
from .postgres import POSTGRES

SALE_ORDERS: list[Any] = [{"name": "Sale Orders",
                           "columns": ["soicode", "saleOrderCode", "channel", "status", "sellingPrice", "updated"]}]
ROW = "row 6 (header is row 1)"  # the simulator damages the 5th data row


@pytest.fixture
def harness(uniware_simulator: UniwareSimulator, tmp_path: Path) -> Harness:
    return Harness(uniware_simulator, tmp_path)


def corrupt_blr01(harness: Harness, corruption: str) -> None:
    harness.sim.inject_job_fate(CORRUPT, corruption=corruption, match=lambda report, facility: facility == "BLR01")


@pytest.mark.parametrize("corruption, words", [
    (RAGGED, [ROW, "has 9 fields, the header has 8", "on_bad_rows='skip'"]),
    (INVALID_UTF8, [ROW, "column 'Sale Order Item Code'", "bytes that are not UTF-8"]),
    (BAD_VALUE, [ROW, "column 'Selling Price'", "not a valid decimal", "'12,34.5x'",
                'column_types = {"Selling Price" = "text"} in the export']),
    (NUL_BYTE, [ROW, "column 'Channel Name'", "a NUL byte (0x00)"]),
])
def test_bad_rows_fail_the_job_with_file_row_and_column(harness: Harness, corruption: str, words: list[str]) -> None:
    corrupt_blr01(harness, corruption)
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=SALE_ORDERS, facilities=["BLR01", "DEL02"])
    [problem] = raised.value.problems
    bad_job = next(j for j in harness.sim.jobs.all() if j.facility == "BLR01")
    for part in ["Sale Orders", "facility BLR01", bad_job.code, "file Sale Orders_16042026120000.csv", *words]:
        assert part in problem
    assert harness.history(bad_job.code)[-1]["status"] == "PARSE_FAILED"
    # nothing of the bad file landed; the other facility loaded; the bad window is planned again
    assert harness.sql("SELECT COUNT(*) FROM {ds}.sale_orders WHERE _uniware_facility = 'BLR01'") == [(0,)]
    good = next(j for j in harness.sim.jobs.all() if j.facility == "DEL02")
    assert good.file is not None and harness.count("sale_orders") == good.file.rows
    assert [e["facility"] for e in harness.ledger_entries("sale_orders")] == ["BLR01"]


@pytest.mark.parametrize("corruption", [RAGGED, INVALID_UTF8, BAD_VALUE, NUL_BYTE])
def test_bad_rows_can_be_skipped_and_counted(harness: Harness, corruption: str,
                                             caplog: pytest.LogCaptureFixture) -> None:
    corrupt_blr01(harness, corruption)
    report = harness.run(exports=SALE_ORDERS, facilities=["BLR01"], on_bad_rows="skip")
    [job] = harness.sim.jobs.all()
    assert job.file is not None
    assert harness.count("sale_orders") == job.file.rows - 1
    assert report.exports["sale_orders"].rows_skipped == 1
    [loaded] = [r for r in harness.history(job.code) if r["status"] == "LOADED"]
    assert loaded["rows_skipped"] == 1 and loaded["rows_in_file"] == job.file.rows
    assert ROW in loaded["message"] and ROW in caplog.text


def test_header_change_fails_when_asked_to(harness: Harness) -> None:
    harness.run(exports=SALE_ORDERS, facilities=["BLR01"])
    loaded = harness.count("sale_orders")
    corrupt_blr01(harness, RENAMED_HEADER)
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=SALE_ORDERS, facilities=["BLR01"], on_header_change="fail")
    [problem] = raised.value.problems
    assert "columns changed since the last load: added ['Last Updated'], removed ['Updated']" in problem
    assert "on_header_change='fail'" in problem
    assert harness.count("sale_orders") == loaded


def test_a_label_the_file_has_more_often_than_before_is_said_with_its_rows(harness: Harness) -> None:
    """A requested column whose label is one the file already carried (Sale Orders' `itemCode` read as
    `Item Details`, beside the unrequested `Item Details`): the file does not tell which of its two is the
    column loaded before, so the LOADED row and the log say where each went; 'fail' refuses it."""
    harness.run(exports=SALE_ORDERS, facilities=["BLR01"])
    twice: list[str] = []

    def label_twice(job: Any, text: str) -> str:
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
        twice[:] = [rows[0][-1]]
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([[rows[0][-1], *rows[0]], *[["new", *r] for r in rows[1:]]])
        return out.getvalue()

    harness.sim.jobs.edit_file = label_twice
    harness.sim.clock.advance(timedelta(hours=1))
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=SALE_ORDERS, facilities=["BLR01"], on_header_change="fail")
    assert f"'{twice[0]}' 2 times, 1 before" in raised.value.problems[0]
    harness.sim.clock.advance(timedelta(hours=1))
    harness.run(exports=SALE_ORDERS, facilities=["BLR01"])
    [loaded] = [r for r in harness.history() if r["status"] == "LOADED" and r["message"]
                and "2 times" in r["message"]]
    assert f"'{twice[0]}' 2 times, 1 before: by their order in the file they go to" in loaded["message"]
    assert "may now hold another field than in the rows loaded before" in loaded["message"]


def test_a_refused_file_does_not_become_the_header_the_next_files_are_held_to(harness: Harness) -> None:
    """With on_header_change='fail', a first file with a column more that is refused for another reason
    (another facility's rows) loads nothing, so its labels are not "the last load's": the window's next
    file, with the usual labels, loads instead of failing on every run."""
    export = [{"name": "Sale Orders", "columns": [*SALE_ORDERS[0]["columns"], "facilityCode", "channel"]}]

    def odd_and_foreign(job: Any, text: str) -> str:
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
        at = rows[0].index("Facility Code")
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(
            [[*rows[0], "Extra"], *[[*r[:at], "DEL02", *r[at + 1:], "x"] for r in rows[1:]]])
        return out.getvalue()

    harness.sim.jobs.edit_file = odd_and_foreign
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=export, facilities=["BLR01"], on_header_change="fail")
    assert "DEL02" in raised.value.problems[0] and "columns changed" not in raised.value.problems[0]
    harness.sim.jobs.edit_file = None
    harness.sim.clock.advance(timedelta(hours=1))
    harness.run(exports=export, facilities=["BLR01"], on_header_change="fail")
    assert harness.count("sale_orders") > 0


def test_two_files_of_one_run_are_held_to_each_others_header(harness: Harness) -> None:
    """On a first run (no earlier load), two facilities' files with different labels: with
    on_header_change='fail' the file checked second is refused, not both loaded into two columns."""
    harness.sim.inject_job_fate(CORRUPT, corruption=RENAMED_HEADER, match=lambda report, facility: facility == "DEL02")
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=SALE_ORDERS, facilities=["BLR01", "DEL02"], on_header_change="fail")
    [problem] = raised.value.problems
    assert "the file's columns changed since the last load" in problem and "on_header_change='fail'" in problem


def test_a_file_refused_for_being_served_twice_does_not_become_the_header_of_later_runs(harness: Harness) -> None:
    """One file with a column more served for two facilities' jobs: both are refused (the same file for two
    jobs) and nothing loads, so with on_header_change='fail' the next runs' usual files load."""
    served: list[str] = []

    def same_file_with_extra(job: Any, text: str) -> str:
        if not served:
            rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
            out = io.StringIO()
            csv.writer(out, lineterminator="\n").writerows([[*rows[0], "Extra"], *[[*r, "x"] for r in rows[1:]]])
            served.append(out.getvalue())
        return served[0]

    harness.sim.jobs.edit_file = same_file_with_extra
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=SALE_ORDERS, facilities=["BLR01", "DEL02"], on_header_change="fail")
    assert all("the file host served the same file" in problem for problem in raised.value.problems)
    harness.sim.jobs.edit_file = None
    harness.sim.clock.advance(timedelta(hours=1))
    harness.run(exports=SALE_ORDERS, facilities=["BLR01", "DEL02"], on_header_change="fail")
    assert harness.count("sale_orders") > 0


def test_header_change_evolves_by_default(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """A label no requested column carries (a build adds a column): a warning, and a new column."""
    harness.run(exports=SALE_ORDERS, facilities=["BLR01"])
    harness.sim.jobs.edit_file = lambda job, text: _with_column(text, "Extra", "x")
    harness.sim.clock.advance(timedelta(hours=1))
    harness.run(exports=SALE_ORDERS, facilities=["BLR01"])
    assert "added ['Extra']" in caplog.text
    columns = {c for (c,) in harness.sql("SELECT column_name FROM duckdb_columns() WHERE table_name = 'sale_orders'")}
    assert {"updated", "extra"} <= columns


def _with_column(text: str, label: str, value: str) -> str:
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([[*rows[0], label], *[[*r, value] for r in rows[1:]]])
    return out.getvalue()


def _relabelled(text: str, old: str, new: str) -> str:
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
    rows[0] = [new if label == old else label for label in rows[0]]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


@pytest.mark.parametrize("destination", ["duckdb", "postgres"])
@pytest.mark.parametrize("export, label, column_id, column", [
    ("Sale Orders", "Selling Price", "sellingPrice", "selling_price"),  # a merge on the key, a typed column
    ("Sale Orders", "Channel Name", "channel", "channel_name"),  # a text column the views read
    ("Inventory Snapshot", "Inventory", "inventory", "inventory"),  # a snapshot: the facility's rows replaced
])
def test_a_requested_column_the_file_labels_otherwise_is_refused_until_its_reading_is_given(
        uniware_simulator: UniwareSimulator, tmp_path: Path, postgres_dataset: str, destination: str,
        export: str, label: str, column_id: str, column: str) -> None:
    """A tenant's file labels a requested column otherwise (red team helper 122: Inventory Snapshot's `Inventory`
    as `Quantity`): its values went to a new text column, and every row the file replaced had the old column
    emptied (v_stock_on_hand said 0 units on hand, exit 0). Refused, naming the column, the file's unknown
    label and both ways out; given as a reading, the file's values land in the column, typed as before."""
    pg = destination == "postgres"
    harness = Harness(uniware_simulator, tmp_path, name=f"relabel_{destination}",
                      destination=dlt.destinations.postgres(POSTGRES) if pg else None,
                      dataset=postgres_dataset if pg else "uniware")
    table = "sale_orders" if export == "Sale Orders" else "inventory_snapshot"
    settings: dict[str, Any] = {"exports": [export], "facilities": ["BLR01"]}
    harness.run(**settings)
    count = f"SELECT COUNT(*), COUNT({column}) FROM {{ds}}.{table}"
    [(rows, valued)] = harness.query(count)
    assert rows > 0 and valued == rows
    cursors = harness.cursors(table)
    harness.sim.jobs.edit_file = lambda job, text: _relabelled(text, label, "Their Label")
    harness.sim.clock.advance(timedelta(hours=1))
    with pytest.raises(ExportsFailed) as raised:
        harness.run(**settings)
    [problem] = raised.value.problems
    for words in (f"the file lacks '{label}' (column id {column_id})", "'Their Label'",
                  f"the last file an earlier run loaded into table {table} for this facility had '{label}'",
                  f"label_readings = {{\"{label}\" = [\"Their Label\"]}}", f'exclude_columns = ["{column_id}"]',
                  "nothing loaded, the " + ("window is exported" if export == "Sale Orders" else "snapshot is taken")):
        assert words in problem, problem
    assert harness.query(count) == [(rows, valued)] and harness.cursors(table) == cursors
    refused = harness.sim.jobs.all()[-1].code
    assert harness.query(f"SELECT status FROM {{ds}}.export_job_status WHERE job_code = '{refused}' "
                         "ORDER BY seq DESC LIMIT 1") == [("PARSE_FAILED",)]

    given = [{"name": export, "label_readings": {label: ["Their Label"]}}]
    harness.run(**{**settings, "exports": given})
    newest = harness.sim.jobs.all()[-1]
    assert newest.file is not None and newest.file.rows > 0
    [(now_rows, now_valued)] = harness.query(count)
    assert now_rows >= rows and now_valued == now_rows  # every row has its value, the new file's included
    landed = harness.pipeline.default_schema.get_table_columns(table)
    assert column in landed and "their_label" not in landed


def test_missing_key_column_is_named(harness: Harness) -> None:
    """Columns that leave out a key column: refused before any job; a file that lacks it all the same
    (a header renamed by the tenant): the job fails naming the column."""
    export = {"name": "Sale Orders", "columns": ["soicode", "channel", "updated"]}  # no Sale Order Code
    with pytest.raises(ConfigError, match="'Sale Order Code' \\(column id saleOrderCode\\)"):
        harness.run(exports=[export], facilities=["BLR01"])
    assert harness.sim.requests.count("create") == 0
    harness.sim.inject_job_fate(CORRUPT, corruption=RESHAPED, renames={"Sale Order Code": "Order Reference"})
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=["Sale Orders"], facilities=["BLR01"])
    [problem] = raised.value.problems
    assert "key column 'Sale Order Code' is not in the file's header" in problem
    assert "set primary_key in the 'Sale Orders' table of 'exports' (SOURCES__UNIWARE__EXPORTS)" in problem


@pytest.mark.parametrize("corruption", [BAD_VALUE, RAGGED])
def test_a_failed_download_wins_over_a_bad_row_its_conversion_already_read(harness: Harness, corruption: str) -> None:
    """Files convert while they download: a bad row read before the download gave up is not the job's
    outcome; the download's failure is (the file was never complete), and the window is planned again."""
    corrupt_blr01(harness, corruption)
    harness.sim.inject("download", action=TRUNCATE, fraction=0.9, times=None)  # every attempt cut short
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=SALE_ORDERS, facilities=["BLR01"], download_max_attempts=3)
    [problem] = raised.value.problems
    [job] = harness.sim.jobs.all()
    assert "gave up after 3 attempts" in problem and "row" not in problem.split("last problem")[-1]
    assert harness.history(job.code)[-1]["status"] == "DOWNLOAD_FAILED"
    assert [e["facility"] for e in harness.ledger_entries("sale_orders")] == ["BLR01"]


def _blank_updated_in_row(text: str, data_row: int) -> str:
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
    rows[data_row][rows[0].index("Updated")] = ""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


@pytest.mark.parametrize("on_bad_rows", ["fail", "skip"])
def test_a_blank_in_a_typed_key_column_is_a_bad_row_of_that_job_alone(harness: Harness, on_bad_rows: str) -> None:
    """A key part typed as a timestamp (no text blank to stand for it) and empty: that row is bad, named
    by row and column, and the other facility's file loads either way."""
    export = {**SALE_ORDERS[0], "table_name": "orders_at", "primary_key": ["Sale Order Code", "Updated"],
              "dedup_sort": None, "repeating_keys": True}  # an order's items share the key: all kept
    harness.sim.jobs.edit_file = lambda job, text: (
        _blank_updated_in_row(text, 4) if job.query.facility == "BLR01" else text)
    if on_bad_rows == "fail":
        with pytest.raises(ExportsFailed) as failed:
            harness.run(exports=[export], facilities=["BLR01", "DEL02"], on_bad_rows=on_bad_rows)
        assert "row 5 (header is row 1), column 'Updated': empty, but it is part of the key" in str(failed.value)
        assert "BLR01" in str(failed.value) and "DEL02" not in str(failed.value)
        assert harness.sql("SELECT DISTINCT _uniware_facility FROM {ds}.orders_at") == [("DEL02",)]
    else:
        harness.run(exports=[export], facilities=["BLR01", "DEL02"], on_bad_rows=on_bad_rows)
        counts = dict(harness.sql("SELECT _uniware_facility, COUNT(*) FROM {ds}.orders_at GROUP BY 1"))
        assert set(counts) == {"BLR01", "DEL02"}
        [(skipped,)] = harness.sql("SELECT rows_skipped FROM {ds}.export_job_status "
                                   "WHERE status = 'LOADED' AND facility = 'BLR01'")
        assert skipped == 1


def test_a_type_given_to_a_column_the_table_already_has_is_a_clear_error_not_mixed_formats(
        harness: Harness) -> None:
    """`column_types` changed after loads (text before, timestamp asked for now): the job fails naming the
    column and the settings; the table keeps one format per column. (Without an entry, the catalog's type
    leaves a loaded column as it is: test_vocabulary.)"""
    as_text = {"name": "Return Invoices", "column_types": {"Return Date": "text"}}
    harness.run(exports=[as_text], facilities=["BLR01"])
    before = harness.sql("SELECT COUNT(*), COUNT(DISTINCT return_date) FROM {ds}.return_invoices")
    harness.sim.clock.advance(timedelta(days=1))
    as_timestamp = {"name": "Return Invoices", "column_types": {"Return Date": "timestamp"}}
    with pytest.raises(ExportsFailed) as failed:
        harness.run(exports=[as_timestamp], facilities=["BLR01"])
    message = str(failed.value)
    assert "'Return Date' (return_date) is text in the table, the file's values are timestamp" in message
    assert "column_types" in message and "table_name" in message
    assert harness.sql("SELECT COUNT(*), COUNT(DISTINCT return_date) FROM {ds}.return_invoices") == before
    assert harness.sql("SELECT COUNT(*) FROM {ds}.return_invoices WHERE return_date LIKE '%+00%'") == [(0,)]


def _value_in_row(text: str, data_row: int, label: str, value: str) -> str:
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
    rows[data_row][rows[0].index(label)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


MISFIT = {"9223372036854775808": "(beyond a 64-bit integer: type the column 'decimal' or 'text' in column_types)",
          "1e30": "(beyond a 64-bit integer", "2.5": "(it has a fraction: type the column 'decimal'",
          "123456789012345.5": "(more than 14 digits before the point: type the column 'rate' (26 digits) or 'text'"}


@pytest.mark.parametrize("label, value, kind", [
    ("Created", "2026-02-30 10:00:00", "timestamp"),  # no 30 February (strptime alone: 2 March)
    ("Created", "31-04-2026 10:00", "timestamp"),  # no 31 April, in the other format Uniware writes
    ("Created", "2026-04-10 10:30:60", "timestamp"),  # no 60th second (10:31)
    ("Created", "2026-04-10 24:00:00", "timestamp"),
    ("Created", "10-04-26 10:00", "timestamp"),  # a two-digit year (the year 26)
    ("COD", "9223372036854775808", "integer"),  # beyond int64: named, not a crash of every export
    ("COD", "1e30", "integer"),
    ("COD", "2.5", "integer"),
    ("Selling Price", "123456789012345.5", "decimal"),  # 15 digits before the point: DECIMAL(18,4) holds 14
])
def test_an_impossible_value_is_a_bad_row_named_never_rolled_over(harness: Harness, label: str, value: str,
                                                                   kind: str) -> None:
    """A value that only looks like its type (a date that does not exist, a two-digit year, an integer
    beyond 64 bits) is a bad row of that job, named by file, row and column; the other facility loads,
    and with on_bad_rows='skip' the row is counted and the rest of the file loads."""
    export = {"name": "Sale Orders", "columns": [*SALE_ORDERS[0]["columns"], "created", "cod"]}
    harness.sim.jobs.edit_file = lambda job, text: (
        _value_in_row(text, 5, label, value) if job.query.facility == "BLR01" else text)
    with pytest.raises(ExportsFailed) as failed:
        harness.run(exports=[export], facilities=["BLR01", "DEL02"])
    [problem] = failed.value.problems
    assert f"{ROW}, column '{label}'" in problem and f"not a valid {kind}" in problem and repr(value) in problem
    if label != "Created":  # a number the type cannot hold: why, and the type that holds it
        assert MISFIT[value] in problem, problem
    assert harness.sql("SELECT DISTINCT _uniware_facility FROM {ds}.sale_orders") == [("DEL02",)]

    harness.sim.clock.advance(timedelta(hours=1))
    harness.run(exports=[export], facilities=["BLR01"], on_bad_rows="skip")  # the failed window and the next
    skipped = harness.sql("SELECT rows_skipped FROM {ds}.export_job_status WHERE status = 'LOADED' "
                          "AND facility = 'BLR01'")
    assert skipped == [(1,), (1,)]


# a timestamp as other writers put one (a spreadsheet, a courier's feed), and the instant it stands for
OTHER_TIMESTAMPS = [
    ("2026-04-10 13:17:29.25", datetime(2026, 4, 10, 7, 47, 29, 250000, tzinfo=UTC)),  # India time
    ("2026-04-10T07:47:29Z", datetime(2026, 4, 10, 7, 47, 29, tzinfo=UTC)),
    ("2026-04-10 13:17:29 +05:30", datetime(2026, 4, 10, 7, 47, 29, tzinfo=UTC)),
    ("2026-04-10T13:17:29.5+0530", datetime(2026, 4, 10, 7, 47, 29, 500000, tzinfo=UTC)),
    ("2026-04-10T02:17:29-05:30", datetime(2026, 4, 10, 7, 47, 29, tzinfo=UTC)),
    ("10-04-2026 01:17 PM", datetime(2026, 4, 10, 7, 47, tzinfo=UTC)),
    ("10/04/2026 12:05:09 am", datetime(2026, 4, 9, 18, 35, 9, tzinfo=UTC)),
    ("2026-04-10 12:30:00 PM", datetime(2026, 4, 10, 7, 0, tzinfo=UTC)),
]


@pytest.mark.parametrize("destination", ["duckdb", "postgres"])
def test_timestamps_with_a_fraction_an_offset_or_a_12_hour_clock_land_as_the_instant_written(
        uniware_simulator: UniwareSimulator, tmp_path: Path, postgres_dataset: str, destination: str) -> None:
    """A value with its own offset is read in that offset, not India time; a fraction of a second is kept;
    AM/PM is read; mixed in one column with Uniware's own formats, on both destinations alike."""
    pg = destination == "postgres"
    harness = Harness(uniware_simulator, tmp_path, name=f"ts_{destination}",
                      destination=dlt.destinations.postgres(POSTGRES) if pg else None,
                      dataset=postgres_dataset if pg else "uniware")
    written: dict[str, datetime] = {}

    def other_shapes(job: Any, text: str) -> str:
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
        created, item = rows[0].index("Created"), rows[0].index("Sale Order Item Code")
        for row, (value, instant) in zip(rows[1::2], OTHER_TIMESTAMPS, strict=False):
            row[created] = value
            written[row[item]] = instant
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        return out.getvalue()

    harness.sim.jobs.edit_file = other_shapes
    export = {"name": "Sale Orders", "columns": [*SALE_ORDERS[0]["columns"], "created", "soicode"]}
    harness.run(exports=[export], facilities=["BLR01"])
    assert len(written) == len(OTHER_TIMESTAMPS)
    landed = dict(harness.query("SELECT sale_order_item_code, created FROM {ds}.sale_orders"))
    assert {item: landed[item] for item in written} == written
    assert all(value is not None for value in landed.values())  # Uniware's own formats beside them still read


def _all_text_sale_orders() -> dict[str, Any]:
    """Sale Orders as a report without a key whose every column is text (nothing a label fails to type as)."""
    from uniware_source.catalog import CATALOG
    from uniware_source.vocabulary import LABELS

    exported = {LABELS["Sale Orders"][column] for column in CATALOG["Sale Orders"].columns}
    return {"name": "Sale Orders", "table_name": "sale_orders_text", "write_disposition": "append",
            "primary_key": [], "window_column": "",
            "column_types": {label: "text" for label in CATALOG["Sale Orders"].column_types if label in exported}}


@pytest.mark.parametrize("bom", ["", "\ufeff"], ids=["no-bom", "bom"])
@pytest.mark.parametrize("order", ["same", "reordered"])
@pytest.mark.parametrize("typed", [True, False], ids=["typed", "all-text"])
@pytest.mark.parametrize("bad_rows", ["fail", "skip"])
def test_a_header_repeated_inside_the_file_fails_the_job_naming_the_row(
        harness: Harness, bom: str, order: str, typed: bool, bad_rows: str) -> None:
    """Two exports joined into one file: the header again at row 5 (with the second file's BOM or without,
    in the file's column order or another). Only a typed column's failure told it before, and `skip` dropped
    that row alone: a file of text columns loaded the header as a row, exit 0, and with the second header in
    another order the rows after it landed in the wrong columns (red team helper 107). The job fails naming
    the row, whatever on_bad_rows says; nothing is loaded."""
    def joined(job: Any, text: str) -> str:
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
        header = rows[0] if order == "same" else [rows[0][1], rows[0][0], *rows[0][2:]]
        after = rows[4:] if order == "same" else [[row[1], row[0], *row[2:]] for row in rows[4:]]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerows(rows[:4])
        out.write(bom)
        writer.writerows([header, *after])
        return out.getvalue()

    export = {"name": "Sale Orders", "columns": [*SALE_ORDERS[0]["columns"], "created"]} if typed \
        else _all_text_sale_orders()
    harness.sim.jobs.edit_file = joined
    with pytest.raises(ExportsFailed) as failed:
        harness.run(exports=[export], facilities=["BLR01"], on_bad_rows=bad_rows)
    [problem] = failed.value.problems
    said = "repeats the header" + ("" if order == "same" else " in another order")
    assert f"row 5 (header is row 1) {said}: the file holds a header twice" in problem, problem
    table = "sale_orders" if typed else "sale_orders_text"
    assert not harness.has_table(table) or harness.count(table) == 0


@pytest.mark.parametrize("variant", ["capitals", "renamed-and-reordered", "first-label-renamed",
                                     "another-reports-header"])
@pytest.mark.parametrize("bad_rows", ["fail", "skip"])
def test_a_header_row_that_is_not_exactly_the_files_fails_the_job_too(harness: Harness, variant: str,
                                                                     bad_rows: str) -> None:
    """A second header that is not the file's own, exactly: in other capitals, with a label renamed by
    another build and two columns swapped, or another report's. Under `skip` the renamed one was dropped as
    a bad row and the rows after it loaded with two columns swapped, exit 0 (red team helper 108)."""
    from uniware_source.vocabulary import LABELS

    def joined(job: Any, text: str) -> str:
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
        header, after = rows[0], rows[4:]
        if variant == "capitals":
            header = [label.upper() for label in header]
        elif variant == "renamed-and-reordered":
            header = ["Channel" if label == "Channel Name" else label for label in header]
            header = [header[1], header[0], *header[2:]]
            after = [[row[1], row[0], *row[2:]] for row in after]
        elif variant == "first-label-renamed":  # only rows whose first value was a label were looked at
            header = ["Order Item Ref", *header[1:]]
        else:
            others = list(LABELS["Return Invoices"].values())
            header = (others * 3)[:len(header)]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerows([*rows[:4], header, *after])
        return out.getvalue()

    harness.sim.jobs.edit_file = joined
    with pytest.raises(ExportsFailed) as failed:
        harness.run(exports=[_all_text_sale_orders()], facilities=["BLR01"], on_bad_rows=bad_rows)
    [problem] = failed.value.problems
    said = "repeats the header" if variant == "capitals" else "is a header row, not data"
    assert f"row 5 (header is row 1) {said}" in problem, problem
    assert not harness.has_table("sale_orders_text") or harness.count("sale_orders_text") == 0


def test_a_short_files_values_that_are_labels_elsewhere_are_data(harness: Harness) -> None:
    """A file of six columns whose row holds words other reports use as labels (`Created`, `COD`, `Sales`):
    three of six values counted as labels, and the row failed the job as a header (red team helper 110);
    and a row whose values repeat one of the file's own labels (111). A narrow file's rows count its own
    labels only, and a row whose label values are all one label is data."""
    served: list[int] = []

    def worded(job: Any, text: str) -> str:
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
        served.append(len(rows) - 1)
        status, channel = rows[0].index("Sale Order Status"), rows[0].index("Channel Name")
        rows[3][0], rows[3][status], rows[3][channel] = "Created", "COD", "Sales"
        # one of the file's own labels as the value of three columns (`Sales` beside a `Sales` column, 110)
        rows[4][0] = rows[4][status] = rows[4][channel] = rows[0][channel]
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        return out.getvalue()

    harness.sim.jobs.edit_file = worded
    export = {"name": "Sale Orders", "table_name": "sale_orders_short", "write_disposition": "append",
              "primary_key": [], "window_column": "", "columns": ["soicode", "saleOrderCode", "status", "channel"]}
    assert not harness.run(exports=[export], facilities=["BLR01"]).problems
    assert harness.count("sale_orders_short") == sum(served) > 0


def test_a_row_whose_first_value_is_a_label_is_no_header_repeat(harness: Harness) -> None:
    """A value that happens to be a label (a first column holding `Sale Order Item Code` as text) is data:
    only a row whose every value is the header's is a repeat."""
    served: list[int] = []

    def labelled(job: Any, text: str) -> str:
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
        served.append(len(rows) - 1)
        rows[3][0] = rows[0][0]
        rows[4][:2] = rows[0][:2]
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        return out.getvalue()

    harness.sim.jobs.edit_file = labelled
    assert not harness.run(exports=[_all_text_sale_orders()], facilities=["BLR01"]).problems
    assert harness.count("sale_orders_text") == sum(served) > 0


@pytest.mark.parametrize("quoted", [False, True], ids=["plain", "every-field-quoted"])
def test_a_byte_order_mark_at_a_lines_start_is_not_part_of_the_key(harness: Harness, quoted: bool) -> None:
    """Lines that begin with a byte-order mark (files joined into one without a second header): the
    mark would go into the row's first value, the key, and the row would never merge with its own key
    (two rows of one item after the next run). It is dropped, and the LOADED row says so (red team
    helper 78, F2). A quoted first value after the mark is not read as quoted by the CSV reader: its
    quotes would have stayed in the key (red team helper 80, F1)."""
    def marked(job: Any, text: str) -> str:
        if quoted:
            rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
            out = io.StringIO()
            csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_ALL).writerows(rows)
            text = out.getvalue()
        lines = text.lstrip("\ufeff").splitlines(keepends=True)
        return "\ufeff" + "".join("\ufeff" + line if index in (3, 7, 8) else line for index, line in enumerate(lines))

    export = {"name": "Sale Orders", "columns": [*SALE_ORDERS[0]["columns"], "created"]}
    harness.sim.jobs.edit_file = marked
    harness.run(exports=[export], facilities=["BLR01"])
    keys = [row[0] for row in harness.sql("SELECT sale_order_item_code FROM {ds}.sale_orders")]
    assert keys and not any("\ufeff" in key or '"' in key for key in keys)
    [loaded] = [r for r in harness.history() if r["status"] == "LOADED"]
    assert "3 row(s) began with a byte-order mark (U+FEFF), first at row 4 (header is row 1)" in loaded["message"]
    harness.sim.jobs.edit_file = None
    harness.sim.clock.advance(timedelta(days=1))
    harness.run(exports=[export], facilities=["BLR01"])  # the lookback exports the same items again, unmarked
    merged = [row[0] for row in harness.sql("SELECT sale_order_item_code FROM {ds}.sale_orders")]
    assert len(merged) == len(set(merged)) and set(keys) <= set(merged)


def _label_twice(text: str, label: str, spellings: tuple[str, str] = ("", "")) -> str:
    """The file with a second column headed `label`, whose values differ from the first's; with
    `spellings`, the first column headed by the first, the second by the second."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
    position = rows[0].index(label)
    header = [*rows[0], spellings[1] or label]
    header[position] = spellings[0] or label
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(
        [header, *([*row, f"X{row[position]}"] for row in rows[1:])])
    return out.getvalue()


@pytest.mark.parametrize("label, role", [("Sale Order Code", "part of the export's key"),
                                         ("Updated", "the column the newest row is told by"),
                                         ("Created", "the column the window check reads"),
                                         ("Facility Code", "the column the facility check reads")])
def test_a_key_label_twice_in_the_header_is_refused_not_guessed(harness: Harness, label: str, role: str) -> None:
    """Two columns headed like a key part, the newest-wins column or a column a check reads (the window
    column, Facility Code): which one is meant cannot be told, so the file is refused naming the label,
    not merged or checked on whichever comes first."""
    export = {"name": "Sale Orders", "date_filter": "addedOn",
              "columns": [*SALE_ORDERS[0]["columns"], "created", "facilityCode"]}
    harness.sim.jobs.edit_file = lambda job, text: _label_twice(text, label) if job.facility == "BLR01" else text
    with pytest.raises(ExportsFailed) as failed:
        harness.run(exports=[export], facilities=["BLR01", "DEL02"])
    [problem] = failed.value.problems
    assert f"the header has '{label}' 2 times; it is {role}" in problem and "facility BLR01" in problem
    assert harness.sql("SELECT DISTINCT _uniware_facility FROM {ds}.sale_orders") == [("DEL02",)]


@pytest.mark.parametrize("label, spellings", [("Sale Order Code", ("SALE ORDER CODE", "sale order code")),
                                              ("Sale Order Code", ("sale order code", "SALE ORDER CODE")),
                                              ("Updated", ("UPDATED", "updated ")),
                                              ("Created", ("CREATED", " created")),
                                              ("Facility Code", ("FacilityCode", "facility code"))])
def test_two_respellings_of_a_key_label_without_the_label_are_refused(
        harness: Harness, label: str, spellings: tuple[str, str]) -> None:
    """Neither of two columns is headed exactly like a key part, the newest-wins column or a column a check
    reads, but both are equal to it ignoring case and spaces: which one is meant cannot be told (the first
    was taken, whichever it was: another order keyed the rows on the other column), so the file is refused
    naming both spellings."""
    export = {"name": "Sale Orders", "date_filter": "addedOn",
              "columns": [*SALE_ORDERS[0]["columns"], "created", "facilityCode"]}
    harness.sim.jobs.edit_file = lambda job, text: (_label_twice(text, label, spellings) if job.facility == "BLR01"
                                                    else text)
    with pytest.raises(ExportsFailed) as failed:
        harness.run(exports=[export], facilities=["BLR01", "DEL02"])
    [problem] = failed.value.problems
    assert f"the header has 2 spellings of '{label}' ({spellings[0].strip()!r}, {spellings[1].strip()!r})" in problem
    assert "facility BLR01" in problem, problem
    assert harness.sql("SELECT DISTINCT _uniware_facility FROM {ds}.sale_orders") == [("DEL02",)]


def _column_as(text: str, label: str, value: str) -> str:
    """The file with every value of `label` replaced by `value`."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
    position = rows[0].index(label)
    for row in rows[1:]:
        row[position] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


@pytest.mark.parametrize("policy", ["fail", "warn"])
@pytest.mark.parametrize("value", ["pending", "12345", "AWB-99 / 2026", "07-Sep-2026 13:17"])
def test_a_window_column_that_holds_no_date_fails_the_job_not_the_check(
        harness: Harness, policy: str, value: str) -> None:
    """The window check's column (kept as text by the settings, which the guard reads dates from) holds
    values, none a date: the check could not tell an ignored date filter (the whole history) from a
    window's rows, and passed every file. Now the job fails naming the column and a value (or, with
    on_window_violation='warn', loads saying so); a column without any value still passes."""
    export = {"name": "Sale Orders", "date_filter": "addedOn", "window_column": "Created",
              "column_types": {"Created": "text"}, "columns": [*SALE_ORDERS[0]["columns"], "created"]}
    harness.sim.jobs.edit_file = lambda job, text: (_column_as(text, "Created", value) if job.facility == "BLR01"
                                                    else _column_as(text, "Created", ""))
    said = (f"the window check's column 'Created' holds no date (no value reads as one in the formats known, "
            f"e.g. {value!r})")
    if policy == "fail":
        with pytest.raises(ExportsFailed) as failed:
            harness.run(exports=[export], facilities=["BLR01", "DEL02"])
        [problem] = failed.value.problems
        assert said in problem and "facility BLR01" in problem and "'window_column'" in problem, problem
        assert harness.sql("SELECT DISTINCT _uniware_facility FROM {ds}.sale_orders") == [("DEL02",)]
        assert [r["status"] for r in harness.history() if said in (r["message"] or "")] == ["OUT_OF_WINDOW"]
    else:
        report = harness.run(exports=[export], facilities=["BLR01", "DEL02"], on_window_violation=policy)
        assert not report.problems
        assert sorted(harness.sql("SELECT DISTINCT _uniware_facility FROM {ds}.sale_orders")) == [("BLR01",),
                                                                                              ("DEL02",)]
        assert [r["status"] for r in harness.history() if said in (r["message"] or "")] == ["LOADED"]


def test_a_window_column_of_blanks_and_na_only_passes_the_check(harness: Harness) -> None:
    """`NA` is a blank (as N/A, -, NULL and empty are): a window column holding only blanks tells nothing, and
    the file loads as before (the rows have no date to check)."""
    export = {"name": "Sale Orders", "date_filter": "addedOn", "window_column": "Created",
              "column_types": {"Created": "text"}, "columns": [*SALE_ORDERS[0]["columns"], "created"]}
    harness.sim.jobs.edit_file = lambda job, text: _column_as(text, "Created", "NA")
    report = harness.run(exports=[export], facilities=["BLR01"])
    assert not report.problems and harness.count("sale_orders") > 0


def _raw_in_rows(text: str, label: str, raw: dict[int, str]) -> str:
    """`text` with the value of `label` in the given data rows written raw, as a writer that does not
    escape quotes would (`{5: '"D-open'}`)."""
    for row in raw:
        text = _value_in_row(text, row, label, f"RAW{row}MARK")
    for row, value in raw.items():
        text = text.replace(f"RAW{row}MARK", value)
    return text


@pytest.mark.parametrize("on_bad_rows", ["fail", "skip"])
@pytest.mark.parametrize("raw", [{5: '"D-open', 6: 'D-close"'}, {5: '"D-open', 9: 'D-close"'}],
                         ids=["one-row-boundary", "four-rows-swallowed"])
def test_rows_joined_by_an_unescaped_quote_fail_the_job_never_load_as_one(
        harness: Harness, on_bad_rows: str, raw: dict[int, str]) -> None:
    """An opening quote a writer did not escape, closed by another rows later in the same column, makes
    one record of several with exactly the header's number of fields: the rows between were lost and
    the first took the last one's values, with exit 0. Now the job fails, naming the row and column,
    whatever on_bad_rows says (the swallowed rows cannot be told apart); the other facility loads."""
    export = {"name": "Sale Orders"}  # the catalog's 38 columns (40 in the file)
    harness.sim.jobs.edit_file = lambda job, text: (
        _raw_in_rows(text, "Channel Name", raw) if job.query.facility == "BLR01" else text)
    with pytest.raises(ExportsFailed) as failed:
        harness.run(exports=[export], facilities=["BLR01", "DEL02"], on_bad_rows=on_bad_rows)
    [problem] = failed.value.problems
    assert f"{ROW}, column 'Channel Name' holds" in problem and "lines shaped like rows of the file" in problem
    assert harness.sql("SELECT DISTINCT _uniware_facility FROM {ds}.sale_orders") == [("DEL02",)]
    bad_job = next(j for j in harness.sim.jobs.all() if j.facility == "BLR01")
    assert harness.history(bad_job.code)[-1]["status"] == "PARSE_FAILED"


def test_an_unterminated_quote_is_never_skipped_as_one_row(harness: Harness) -> None:
    """With on_bad_rows='skip', a quote opened and never closed swallowed the rest of the file into one
    ragged "row", reported as 1 row skipped (311 of 334 rows lost in the red team's run)."""
    harness.sim.jobs.edit_file = lambda job, text: (
        _raw_in_rows(text, "Channel Name", {5: '"D-open'}) if job.query.facility == "BLR01" else text)
    with pytest.raises(ExportsFailed) as failed:
        harness.run(exports=SALE_ORDERS, facilities=["BLR01", "DEL02"], on_bad_rows="skip")
    [problem] = failed.value.problems
    assert ROW in problem and "spans" in problem and "lines of the file" in problem, problem
    assert "never skipped" in problem
    assert harness.sql("SELECT DISTINCT _uniware_facility FROM {ds}.sale_orders") == [("DEL02",)]


def test_rows_joined_in_a_narrow_export_fail_the_job(harness: Harness) -> None:
    """SALE_ORDERS' 6 requested columns (8 in the file): two rows joined give a value of 7 commas."""
    harness.sim.jobs.edit_file = lambda job, text: _raw_in_rows(text, "Channel Name", {5: '"D-open', 6: 'D-close"'})
    with pytest.raises(ExportsFailed) as failed:
        harness.run(exports=SALE_ORDERS, facilities=["BLR01"])
    assert "lines shaped like rows of the file" in failed.value.problems[0]


@pytest.mark.parametrize("address", [
    'Flat 2, "Rose" Villa,\nMG Road, Indiranagar,\r\nBengaluru',
    "Flat 402, B Wing, Sunrise Apartments, Near Metro,\nPlot 12, Sector 5, Kharghar, Navi Mumbai, 410210",
    "Wheat flour, sugar, salt,\nedible oil, yeast, emulsifiers (E471, E472e),\nmilk solids, preservative (E282)",
])
@pytest.mark.parametrize("export", [SALE_ORDERS[0], {"name": "Sale Orders"}], ids=["narrow", "catalog"])
def test_a_quoted_value_over_several_lines_with_commas_still_loads(harness: Harness, address: str,
                                                                   export: dict[str, Any]) -> None:
    """An address or an ingredient list over lines, quoted and escaped as Uniware writes it, is one value:
    its lines are not shaped like the file's rows."""
    harness.sim.jobs.edit_file = lambda job, text: _value_in_row(text, 5, "Channel Name", address)
    harness.run(exports=[export], facilities=["BLR01"])
    assert address in {channel for (channel,) in harness.sql("SELECT channel_name FROM {ds}.sale_orders")}


def test_a_ragged_row_with_a_quoted_multi_line_value_is_skipped_like_any(harness: Harness) -> None:
    """A row with one field too many whose address spans two lines is one ragged row, not rows joined."""
    def ragged(text: str) -> str:
        text = _value_in_row(text, 5, "Channel Name", "Flat 2, MG Road,\nBengaluru")
        lines = text.split("\n")
        at = next(i for i, line in enumerate(lines) if line.startswith("Bengaluru"))
        lines[at] += ",extra"
        return "\n".join(lines)

    harness.sim.jobs.edit_file = lambda job, text: ragged(text)
    report = harness.run(exports=SALE_ORDERS, facilities=["BLR01"], on_bad_rows="skip")
    [job] = harness.sim.jobs.all()
    assert report.exports["sale_orders"].rows_skipped == 1
    assert job.file is not None and harness.count("sale_orders") == job.file.rows - 2  # the row spans 2 lines


@pytest.mark.parametrize("quoted_label", [False, True])
def test_a_file_whose_lines_end_in_cr_alone_loads_as_written(harness: Harness, quoted_label: bool) -> None:
    """pyarrow reads CR line ends; the header reader split lines on LF only, and a header with a quoted
    label then failed the job as "new-line character seen in unquoted field"."""
    def cr_only(text: str) -> str:
        text = text.replace("\r\n", "\n")
        if quoted_label:
            text = text.replace("Sale Order Item Code", '"Sale Order Item Code"', 1)
        return text.replace("\n", "\r")

    harness.sim.jobs.edit_file = lambda job, text: cr_only(text)
    harness.run(exports=SALE_ORDERS, facilities=["BLR01"])
    [job] = harness.sim.jobs.all()
    assert job.file is not None and harness.count("sale_orders") == job.file.rows > 0


def test_a_header_that_is_not_utf8_names_the_label_and_the_byte(harness: Harness) -> None:
    def latin1_header(job: Any, text: str) -> str:
        return text.replace("Channel Name", "Channel N\udce9me", 1)

    harness.sim.jobs.edit_file = latin1_header
    real_write = Path.write_text

    def write_text(path: Path, data: str, encoding: Any = None, errors: Any = None, newline: Any = None) -> int:
        return real_write(path, data, encoding=encoding, errors="surrogateescape", newline=newline)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Path, "write_text", write_text)
        with pytest.raises(ExportsFailed) as failed:
            harness.run(exports=SALE_ORDERS, facilities=["BLR01"])
    assert "the header is not UTF-8: its label 3 holds the byte 0xe9 after 'Channel N'" in failed.value.problems[0]


def test_a_header_only_file_without_a_final_line_break_is_an_empty_export(harness: Harness) -> None:
    """pyarrow took a lone header without its line break for a row larger than any block: the job
    failed "a row is larger than 1024 MB"; such a file holds no rows."""
    harness.sim.jobs.empty_export_file = True
    harness.sim.jobs.edit_file = lambda job, text: text.splitlines()[0]
    report = harness.run(exports=SALE_ORDERS, facilities=["BLR01"])
    assert not report.problems
    [job] = harness.sim.jobs.all()
    assert [r["rows_in_file"] for r in harness.history(job.code) if r["status"] == "LOADED"] == [0]


@pytest.mark.parametrize("crlf", [False, True])
def test_a_quote_left_open_in_the_last_column_fails_the_job(harness: Harness, crlf: bool) -> None:
    """The open field ends at the end of the file with the header's number of fields, so no row is
    ragged: the rows after it were one value of the last column, exit 0."""
    def opened(text: str) -> str:
        header = next(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
        text = _raw_in_rows(text, header[-1], {5: '"AMAZON 5'})
        return text.replace("\n", "\r\n") if crlf else text

    harness.sim.jobs.edit_file = lambda job, text: opened(text)
    with pytest.raises(ExportsFailed) as failed:
        harness.run(exports=SALE_ORDERS, facilities=["BLR01"])
    [problem] = failed.value.problems
    assert "lines shaped like rows of the file" in problem or "a quote that is not closed" in problem, problem
    assert harness.sql("SELECT COUNT(*) FROM {ds}.export_job_status WHERE status = 'LOADED'") == [(0,)]


@pytest.mark.parametrize("on_bad_rows", ["fail", "skip"])
@pytest.mark.parametrize("written, read_as", [
    ('"Samsung 32" TV"', 'Samsung 32 TV"'),  # an inch mark in a product name, not escaped
    ('"He said "hi" ok"', 'He said hi" ok"'),
    ('"Rose Villa" ', "Rose Villa "),  # a space after the closing quote
    ('"Flat 2, ""Rose"" Villa,\nMG Road 5" wide"', 'Flat 2, "Rose" Villa,\nMG Road 5 wide"'),  # over two lines
    ('"Steel ""Tiffin""" 3 Tier"', 'Steel "Tiffin" 3 Tier"'),  # a run of three quotes closes it
])
@pytest.mark.parametrize("export", [SALE_ORDERS[0], {"name": "Sale Orders"}], ids=["narrow", "catalog"])
def test_a_quoted_value_going_on_after_its_closing_quote_fails_the_job_never_loads_altered(
        harness: Harness, written: str, read_as: str, on_bad_rows: str, export: dict[str, Any]) -> None:
    """A writer that does not escape a quote inside a quoted value: pyarrow read the value without a word,
    dropping the quotes it took for closing ones, so the row loaded altered with exit 0. Now the job fails
    naming the row, the column and what it would have loaded; the other facility loads."""
    harness.sim.jobs.edit_file = lambda job, text: (
        _raw_in_rows(text, "Channel Name", {5: written}) if job.query.facility == "BLR01" else text)
    with pytest.raises(ExportsFailed) as failed:
        harness.run(exports=[export], facilities=["BLR01", "DEL02"], on_bad_rows=on_bad_rows)
    [problem] = failed.value.problems
    assert f"{ROW}, column 'Channel Name': the quoted value {written!r} goes on after its closing quote" in problem
    assert f"it would load altered as {read_as!r}" in problem, problem
    assert harness.sql("SELECT DISTINCT _uniware_facility FROM {ds}.sale_orders") == [("DEL02",)]
    bad_job = next(j for j in harness.sim.jobs.all() if j.facility == "BLR01")
    assert harness.history(bad_job.code)[-1]["status"] == "PARSE_FAILED"


@pytest.mark.parametrize("written", [' "Sofía Pereira"', '  "AMAZON"', '\t"AMAZON_IN"', ' ""', ' "Flat 2 ""A"""',
                                     ' "Flat 2\nMG Road"'])
@pytest.mark.parametrize("on_bad_rows", ["fail", "skip"])
def test_a_quoted_value_after_blanks_fails_the_job_never_loads_its_quotes(
        harness: Harness, written: str, on_bad_rows: str) -> None:
    """`, "Sofía Pereira",` (a writer separating by ", "): a value quoted after a blank reads as unquoted, so its
    blanks and quotes loaded as data (`' "Sofía Pereira"'`), LOADED, exit 0, where the mirror case (a blank after
    the closing quote) failed. Now the job fails naming the row and the column; the other facility loads."""
    harness.sim.jobs.edit_file = lambda job, text: (
        _raw_in_rows(text, "Channel Name", {5: written}) if job.query.facility == "BLR01" else text)
    with pytest.raises(ExportsFailed) as failed:
        harness.run(exports=SALE_ORDERS, facilities=["BLR01", "DEL02"], on_bad_rows=on_bad_rows)
    [problem] = failed.value.problems
    ragged = "\n" in written and on_bad_rows == "fail" and "fields, the header has" in problem  # its other line
    assert ragged or (f"{ROW}, column 'Channel Name': the value" in problem and "is quoted after blanks" in problem), \
        problem
    assert harness.sql("SELECT DISTINCT _uniware_facility FROM {ds}.sale_orders") == [("DEL02",)]
    bad_job = next(j for j in harness.sim.jobs.all() if j.facility == "BLR01")
    assert harness.history(bad_job.code)[-1]["status"] == "PARSE_FAILED"


@pytest.mark.parametrize("written, value", [
    ('Samsung 32" TV', 'Samsung 32" TV'),  # a quote inside a value that is not quoted is read as written
    ('5"x7" frame', '5"x7" frame'),
    ('5" x 7"', '5" x 7"'),  # ends with a quote, but is not quoted after blanks
    ('"Samsung 32"" TV"', 'Samsung 32" TV'),  # escaped as Uniware's writer does
    ('"""Classic"" Kurta, M"', '"Classic" Kurta, M'),
    ('"Flat 2,\nMG Road ""5"""', 'Flat 2,\nMG Road "5"'),
])
def test_quotes_inside_values_written_by_the_rules_load_exactly(harness: Harness, written: str, value: str) -> None:
    """The check above refuses only a closing quote followed by text: the quotes a well-formed file or an
    unquoted value holds load as they are, in every row that has them."""
    harness.sim.jobs.edit_file = lambda job, text: _raw_in_rows(text, "Channel Name", {3: written, 7: written})
    harness.run(exports=SALE_ORDERS, facilities=["BLR01"])
    [job] = harness.sim.jobs.all()
    channels = [c for (c,) in harness.sql("SELECT channel_name FROM {ds}.sale_orders")]
    assert job.file is not None and len(channels) == job.file.rows - 2 * written.count("\n")  # rows, not lines
    assert channels.count(value) == 2


@pytest.mark.parametrize("written, value", [('" ""Pereira, Sofia"""', ' "Pereira, Sofia"'),
                                            ('"\t""AMAZON"""', '\t"AMAZON"')])
def test_a_value_quoted_by_the_rules_that_starts_with_a_blank_and_a_quote_loads_in_a_suspect_file(
        harness: Harness, written: str, value: str) -> None:
    """The check for a value quoted after blanks looks at the text as written, not at the values read: this
    value (quoted, its blank and quotes inside) was refused, or crashed the run when it held a comma, once an
    unquoted inch mark elsewhere had the file read strictly."""
    harness.sim.jobs.edit_file = lambda job, text: _raw_in_rows(text, "Channel Name", {3: written, 7: 'Samsung 32" TV'})
    harness.run(exports=SALE_ORDERS, facilities=["BLR01"])
    channels = [c for (c,) in harness.sql("SELECT channel_name FROM {ds}.sale_orders")]
    assert channels.count(value) == 1 and channels.count('Samsung 32" TV') == 1


B2B_KEYLESS: dict[str, Any] = {"name": "B2B Sale Orders", "date_filter": "updatedOn",  # outside the catalog, no key
                               "columns": ["soicode", "saleOrderCode", "channel", "status", "updated"]}


@pytest.mark.parametrize("body", ["Request has expired\n", "Request has expired", "error,retry\nthrottled,1\n"])
@pytest.mark.parametrize("export", [{"name": "Tally GST Report"}, B2B_KEYLESS], ids=["catalog", "outside-catalog"])
def test_a_message_served_as_the_file_of_a_keyless_export_is_refused_not_loaded(
        tmp_path: Path, export: dict[str, Any], body: str) -> None:
    """A file host answering 200 with a short text instead of the CSV: an export without a key took its
    line for a header and loaded it as an empty export (or its lines as rows), LOADED, cursor moved, exit
    0, and the window was never exported again. A real file has every requested column."""
    with UniwareSimulator(fast_config(empty_export_file=True, files_dir=tmp_path / "sim")) as sim:
        _message_served_as_the_file(Harness(sim, tmp_path), export, body)


def _message_served_as_the_file(harness: Harness, export: dict[str, Any], body: str) -> None:
    harness.sim.jobs.edit_file = lambda job, text: body if job.query.facility == "BLR01" else text
    with pytest.raises(ExportsFailed) as failed:
        harness.run(exports=[export], facilities=["BLR01", "DEL02"])
    [problem] = failed.value.problems
    assert "and the job requested" in problem and f"this is not a '{export['name']}' export" in problem, problem
    table = "tally_gst" if export["name"].startswith("Tally") else "b2_b_sale_orders"
    assert harness.sql(f"SELECT DISTINCT _uniware_facility FROM {{ds}}.{table}") == [("DEL02",)]
    [bad] = [j for j in harness.sim.jobs.all() if j.facility == "BLR01"]
    assert harness.history(bad.code)[-1]["status"] == "PARSE_FAILED"
    harness.sim.jobs.edit_file = None  # the host mends: BLR01's window is exported again and loads
    harness.clock.advance(3600)
    harness.run(exports=[export], facilities=["BLR01"])
    [again] = [j for j in harness.sim.jobs.all() if j.facility == "BLR01" and j.code != bad.code]
    assert again.file is not None and again.query.start == bad.query.start
    assert harness.sql(f"SELECT COUNT(*) FROM {{ds}}.{table} WHERE _uniware_facility = 'BLR01'")[0][0] > 0


def test_another_reports_file_for_a_keyless_export_is_refused(harness: Harness) -> None:
    """Tally GST's job served a Sale Orders file (a host that mixed up links): every label but none of
    Tally's; it loaded as Tally's rows with new columns, exit 0."""
    orders: dict[str, str] = {}
    harness.run(exports=["Sale Orders"], facilities=["BLR01"])
    orders["text"] = next(iter(harness.sim.jobs.all())).file.path.read_text(encoding="utf-8")  # type: ignore[union-attr]
    harness.sim.jobs.edit_file = lambda job, text: orders["text"] if job.report.name.startswith("Tally") else text
    with pytest.raises(ExportsFailed) as failed:
        harness.run(exports=["Tally GST Report"], facilities=["BLR01"])
    [problem] = failed.value.problems
    assert "holds every label of a 'Sale Orders' export" in problem, problem
    assert not harness.has_table("tally_gst") or harness.count("tally_gst") == 0


def test_an_inch_mark_closing_a_quoted_value_fails_the_job_never_joins_rows(harness: Harness) -> None:
    """`"TV 32""`: the writer's closing quote after an unescaped inch mark reads as an escaped quote, so the
    value ran on into the next row, up to the opening quote of a well-formed value there (`"LED 40"`): a value
    over two lines of a 6-column file (an address has that shape too), so a row was lost with exit 0."""
    def edit(job: Any, text: str) -> str:
        text = _value_in_row(_value_in_row(text, 5, "Channel Name", "RAWA"), 6, "Channel Name", "RAWB")
        return text.replace("RAWA", '"TV 32""').replace("RAWB", '"LED 40"')
    harness.sim.jobs.edit_file = edit
    export = {"name": "Sale Orders", "columns": ["soicode", "saleOrderCode", "channel", "updated"]}  # 6 in the file
    with pytest.raises(ExportsFailed) as failed:
        harness.run(exports=[export], facilities=["BLR01"])
    [problem] = failed.value.problems
    assert f"{ROW}, column 'Channel Name': the quoted value '\"TV 32\"\"," in problem, problem
    assert not harness.has_table("sale_orders") or harness.count("sale_orders") == 0


def test_a_file_without_a_few_requested_columns_still_loads(harness: Harness) -> None:
    """A build that leaves out ids it does not know (uniware-reports.md: RV's `jsadji`, DM's Tally ids
    with no label): a file with most of the requested columns is the report's, and loads."""
    dropped = ("Cancellation Reason", "Return Date", "Delivery Time")

    def without(job: Any, text: str) -> str:
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
        keep = [i for i, label in enumerate(rows[0]) if label not in dropped]
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([[row[i] for i in keep] for row in rows])
        return out.getvalue()
    harness.sim.jobs.edit_file = without
    harness.run(exports=[{"name": "Sale Orders"}], facilities=["BLR01"])
    [job] = harness.sim.jobs.all()
    assert job.file is not None and harness.count("sale_orders") == len(harness.sql(
        "SELECT DISTINCT sale_order_item_code FROM {ds}.sale_orders")) > 0
    columns = {c for (c,) in harness.sql("SELECT column_name FROM information_schema.columns "
                                         "WHERE table_name = 'sale_orders'")}
    assert "cancellation_reason" not in columns and "sale_order_item_status" in columns


def test_a_sibling_reports_file_for_a_keyless_export_is_refused(harness: Harness) -> None:
    """Tally GST's job served Tally Return GST's file: the two differ by one column (`Payment Method`,
    `Return Type`), so the file has Tally GST's labels but one and as many columns, and its returns
    loaded as sales with exit 0. A file holding every label of another catalog report, and one this
    report never has, is that report's file."""
    harness.sim.jobs.edit_file = lambda job, text: text.replace("Payment Method", "Return Type", 1)
    with pytest.raises(ExportsFailed) as failed:
        harness.run(exports=["Tally GST Report"], facilities=["BLR01"])
    [problem] = failed.value.problems
    assert "holds every label of a 'Tally Return GST Report' export" in problem, problem
    assert not harness.has_table("tally_gst") or harness.count("tally_gst") == 0


@pytest.mark.parametrize("cut", [0, 3])
def test_a_file_ending_inside_its_last_row_says_so_in_the_history(harness: Harness, cut: int) -> None:
    """A file without a line break after its last row (written so, or cut short with a Content-Length
    that agrees) loads that row as written, and the job's LOADED row and the log say the file may have
    been cut there, naming the row; a file that ends its last line says nothing."""
    harness.sim.jobs.edit_file = lambda job, text: text.rstrip("\r\n")[:len(text.rstrip("\r\n")) - cut]
    harness.run(exports=SALE_ORDERS, facilities=["BLR01"])
    [loaded] = [r for r in harness.history() if r["status"] == "LOADED"]
    rows = loaded["rows_in_file"]
    assert f"the file ends without a line break after its last row (row {rows + 1}, header is row 1)" \
        in loaded["message"], loaded["message"]
    harness.sim.jobs.edit_file = None
    harness.sim.clock.advance(timedelta(hours=1))
    harness.run(exports=SALE_ORDERS, facilities=["BLR01"])
    assert not [r["message"] for r in harness.history() if r["status"] == "LOADED"][-1]


def test_a_byte_order_mark_before_a_quoted_value_holding_a_separator_is_named(harness: Harness) -> None:
    """The mark keeps the quote from opening the field, so a comma inside the value splits the row: the
    job fails naming the row and the mark as the cause, not only the count of fields (red team helper 81)."""
    def marked(job: Any, text: str) -> str:
        lines = text.lstrip("\ufeff").splitlines(keepends=True)
        first, rest = lines[3].split(",", 1)
        lines[3] = f'\ufeff"{first},X",{rest}'
        return "".join(lines)

    harness.sim.jobs.edit_file = marked
    with pytest.raises(ExportsFailed) as failed:
        harness.run(exports=[{"name": "Sale Orders", "columns": [*SALE_ORDERS[0]["columns"], "created"]}],
                    facilities=["BLR01"])
    [problem] = failed.value.problems
    assert "row 4 (header is row 1) has" in problem and "it begins with a byte-order mark" in problem, problem


def _with_line(text: str, make: Any, after: int = 4) -> str:
    """`text` with a line made from its header and first data row (`make(header, row)`) after the given data
    row."""
    lines = text.splitlines(keepends=True)
    records = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    header, row = next(records), next(records)
    rows, quoted = 0, False
    for index, line in enumerate(lines[1:], start=1):
        quoted ^= line.count('"') % 2 == 1  # a value's line break: the record goes on
        rows += not quoted
        if rows == after:
            lines.insert(index + 1, make(header, row))
            return "".join(lines)
    raise AssertionError("the file is too short")


def _separators_only(header: list[str], row: list[str]) -> str:
    return "," * (len(header) - 1) + "\n"


def _keys_made(blanks: dict[str, str]) -> Any:
    """A maker of the first data row again with its key columns' values replaced by `blanks`: every other
    value is valid, so only the key can make it a bad row."""
    def make(header: list[str], row: list[str]) -> str:
        out = io.StringIO()
        values = [blanks.get(label, value) for label, value in zip(header, row, strict=True)]
        csv.writer(out, lineterminator="\n").writerow(values)
        return out.getvalue()
    return make


def _footer(first: str, last: str = "") -> Any:
    """A maker of a footer a file host added: `first` in the first column, `last` in the last, nothing else."""
    def make(header: list[str], row: list[str]) -> str:
        return ",".join([first, *[""] * (len(header) - 2), last]) + "\n"
    return make


@pytest.mark.parametrize("on_bad_rows", ["fail", "skip"])
@pytest.mark.parametrize("export, line, words", [
    pytest.param({"name": "Sale Orders"}, _separators_only, "a row without any value", id="separators"),
    pytest.param({"name": "Tally GST Report"}, _separators_only, "a row without any value", id="keyless"),
    pytest.param({"name": "Sale Orders"}, _keys_made({"Sale Order Code": "", "Sale Order Item Code": ""}),
                 "as is every key column (Sale Order Code, Sale Order Item Code)", id="key-blank"),
    pytest.param({"name": "Sale Orders"}, _keys_made({"Sale Order Code": " ", "Sale Order Item Code": "\t  "}),
                 "as is every key column (Sale Order Code, Sale Order Item Code)", id="key-blanks-only"),
    pytest.param({"name": "Sale Orders"}, _keys_made({"Sale Order Code": "\u200b", "Sale Order Item Code": " \u200b"}),
                 "as is every key column (Sale Order Code, Sale Order Item Code)", id="key-zero-width"),
    pytest.param({"name": "Sale Orders"}, _footer("Grand Total", "21.00"), "a footer, a total or a note",
                 id="footer-total"),
    pytest.param({"name": "Sale Orders"}, _footer("Total Records: 2"), "a footer, a total or a note",
                 id="footer-count"),
    pytest.param({"name": "Tally GST Report"}, _footer("Grand Total", "21.00"), "a footer, a total or a note",
                 id="keyless-footer"),
])
def test_a_row_without_values_or_without_a_key_is_a_bad_row_not_data(
        harness: Harness, export: dict[str, Any], line: Any, words: str, on_bad_rows: str) -> None:
    """A line of separators only (a footer, a writer's blank record) loaded as a row of empty values, counted
    in LOADED, exit 0; a row whose key is empty in every key column merged into any other such row. Both are
    bad rows: the job fails naming the row, or with on_bad_rows='skip' the row is dropped and counted. A key
    of blanks only (spaces, a tab, a zero-width space) is no key either: two such rows merged into one. A
    footer a file host added (`Grand Total` and a sum, red team helper 126) loaded as a sale order whose price
    counted twice in every sum: a row with a value in two columns at most of a wide file, and no whole key
    (or an export without one), is a bad row too."""
    harness.sim.jobs.edit_file = lambda job, text: _with_line(text, line) if job.query.facility == "BLR01" else text
    if on_bad_rows == "fail":
        with pytest.raises(ExportsFailed) as failed:
            harness.run(exports=[export], facilities=["BLR01", "DEL02"])
        [problem] = failed.value.problems
        assert "row 6 (header is row 1)" in problem and words in problem, problem
        bad_job = next(j for j in harness.sim.jobs.all() if j.facility == "BLR01")
        assert harness.history(bad_job.code)[-1]["status"] == "PARSE_FAILED"
        return
    harness.run(exports=[export], facilities=["BLR01", "DEL02"], on_bad_rows="skip")
    loaded = {r["facility"]: r for r in harness.history() if r["status"] == "LOADED"}
    assert (loaded["BLR01"]["rows_skipped"], loaded["DEL02"]["rows_skipped"] or 0) == (1, 0)
    table = "sale_orders" if export["name"] == "Sale Orders" else "tally_gst"
    assert harness.count(table) == sum(r["rows_in_file"] - (r["rows_skipped"] or 0) for r in loaded.values())


def test_a_key_part_of_blanks_is_one_key_whatever_its_blanks(harness: Harness) -> None:
    """A key part of blanks alone (spaces, a tab, a zero-width space) loaded as written, so one item exported
    with `''` then `'  '` in its Sale Order Code was two keys and two rows (red team helper 126): a text key's
    blank is `""` whatever blank the file wrote, so every export of the item merges into one row."""
    blanks = ["  ", "", "\t", "\u200b", " \u200b\t"]
    served = iter(blanks)
    harness.sim.jobs.edit_file = lambda job, text: rows_like_the_first(
        text, [{"Sale Order Code": next(served), "Sale Order Item Code": "ITEM-BLANK-ORDER"}])
    for _ in blanks:
        harness.run(exports=SALE_ORDERS, facilities=["BLR01"])
        harness.sim.clock.advance(timedelta(days=1))
    assert harness.sql("SELECT sale_order_code, COUNT(*) FROM {ds}.sale_orders "
                       "WHERE sale_order_item_code = 'ITEM-BLANK-ORDER' GROUP BY 1") == [("", 1)]
    assert [r["status"] for r in harness.history() if r["status"] in ("LOADED", "PARSE_FAILED")] == ["LOADED"] * 5


def test_blanks_around_a_typed_value_are_not_part_of_it(harness: Harness) -> None:
    """`' 100 '` read as 100, but a trailing blank after a timestamp, or a cell of a blank alone in a number
    column, failed the whole job (red team helper 122): blanks around a typed value are no part of it, and a
    cell of blanks (or a blank word between them) is empty."""
    edited: dict[str, tuple[str, str]] = {}

    def blanks_around(job: Any, text: str) -> str:
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
        item, updated, price = (rows[0].index(label) for label in ("Sale Order Item Code", "Updated", "Selling Price"))
        for row, (column, value) in zip(rows[1:], [(updated, "{} "), (price, " "), (price, " N/A "),
                                                   (price, "\t120.50 "), (updated, "  {}\t")], strict=False):
            row[column] = value.format(row[column])
            edited[row[item]] = (rows[0][column], row[column])
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        return out.getvalue()

    harness.sim.jobs.edit_file = blanks_around
    harness.run(exports=SALE_ORDERS, facilities=["BLR01"])
    landed = {item: (updated, price) for item, updated, price in harness.sql(
        "SELECT sale_order_item_code, updated, selling_price FROM {ds}.sale_orders")}
    [job] = harness.sim.jobs.all()
    assert job.file is not None and len(landed) == job.file.rows and len(edited) == 5
    for item, (label, value) in edited.items():
        updated, price = landed[item]
        if label == "Selling Price":
            assert price == (Decimal("120.50") if value.strip() == "120.50" else None), (item, value, price)
        else:
            assert updated is not None and _india_time(value.strip()) == updated.astimezone(IST).replace(tzinfo=None)


def _india_time(text: str) -> datetime:
    """A timestamp as the simulator writes it (`2026-04-10 12:30:00`, or `10-04-2026 12:30`)."""
    for pattern in ("%Y-%m-%d %H:%M:%S", "%d-%m-%Y %H:%M"):
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            pass
    raise AssertionError(f"not a timestamp the simulator writes: {text!r}")


def test_a_quote_not_escaped_in_a_narrow_files_key_joining_rows_is_refused(harness: Harness) -> None:
    """A 4-column Inventory Snapshot (what v_stock_on_hand reads) whose key value opens a quote that a later row
    closes: 5 rows in, 3 loaded, one SKU keyed `SKU-B,3,0<CRLF>...SKU-D`, exit 0 (red team helper 122). Narrow
    files are not searched for joined rows (an address over lines has the shape), but a code never spans lines:
    a key column's value is, in a file of any width."""
    def joined(job: Any, text: str) -> str:
        header = text.lstrip("\ufeff").splitlines()[0]
        rows = ['Bengaluru Warehouse,SKU-A,10,1', 'Bengaluru Warehouse,"SKU-B,3,0', 'Bengaluru Warehouse,SKU-C,4,0',
                'Bengaluru Warehouse,SKU-D",5,0', 'Bengaluru Warehouse,SKU-E,6,0']
        return "\r\n".join([header, *rows]) + "\r\n"

    harness.sim.jobs.edit_file = joined
    export = {"name": "Inventory Snapshot", "columns": ["facility", "itemtypeSku", "inventory", "openSale"]}
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=[export], facilities=["BLR01"])
    [problem] = raised.value.problems
    assert "row 3 (header is row 1), column 'Item SkuCode' holds 3 lines shaped like rows" in problem, problem
    assert not harness.has_table("inventory_snapshot") or harness.count("inventory_snapshot") == 0

    # an address over lines in a narrow file's text column still loads as one value
    harness.sim.jobs.edit_file = lambda job, text: "\r\n".join([
        text.lstrip("\ufeff").splitlines()[0], '"Flat 3, Block A\r\nMain Road, Sector 5, Noida",SKU-A,10,1']) + "\r\n"
    harness.sim.clock.advance(timedelta(hours=1))
    harness.run(exports=[export], facilities=["BLR01"])
    assert harness.sql("SELECT item_sku_code, inventory FROM {ds}.inventory_snapshot") == [("SKU-A", 10)]


def test_a_requested_column_a_first_file_lacks_loads_and_says_so(harness: Harness) -> None:
    """No earlier file had the column: nothing to lose, so the rows load, and the log and the LOADED row say which
    requested column the file lacks and the label it has instead; a column read under its other reading (TW's
    `Pending Stock Transfer`) is no lack, and one the last file had only in that reading is refused when missing."""
    harness.sim.jobs.edit_file = lambda job, text: _relabelled(
        _relabelled(text, "Inventory", "Quantity"), "Stock In Transfer", "Pending Stock Transfer")
    harness.run(exports=["Inventory Snapshot"], facilities=["BLR01"])
    [job] = harness.sim.jobs.all()
    [loaded] = [r["message"] or "" for r in harness.history(job.code) if r["status"] == "LOADED"]
    assert "the file lacks 'Inventory' (column id inventory)" in loaded and "'Quantity'" in loaded, loaded
    assert "Stock In Transfer" not in loaded
    assert harness.sql("SELECT COUNT(*) FROM {ds}.inventory_snapshot WHERE stock_in_transfer IS NOT NULL")[0][0] > 0

    harness.sim.jobs.edit_file = lambda job, text: _relabelled(
        _relabelled(text, "Inventory", "Quantity"), "Stock In Transfer", "In Transit")
    harness.sim.clock.advance(timedelta(hours=1))
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=["Inventory Snapshot"], facilities=["BLR01"])
    [problem] = raised.value.problems
    assert "'Stock In Transfer' (column id pendingStockTransfer)" in problem and "'In Transit'" in problem
    assert "had 'Stock In Transfer'," in problem and "had 'Inventory'" not in problem  # Inventory never loaded


def test_a_reading_of_a_key_label_in_another_case_lands_in_the_key(harness: Harness) -> None:
    """Courier Returns (some of its ids' labels unknown) given `{"sale order no" = ["Order No"]}` for a file that
    labels its key `Order No`: the values went to a new column, dlt refused the package for a NULL key, and every
    later run failed at exit 3 (red team helper 123). The reading stands for the key's own column."""
    harness.sim.jobs.edit_file = lambda job, text: _relabelled(text, "Sale Order No", "Order No")
    export = {"name": "Courier Returns", "label_readings": {"sale order no": ["Order No"]}}
    harness.run(exports=[export], facilities=["BLR01"])
    [job] = harness.sim.jobs.all()
    assert job.file is not None and job.file.rows > 0
    assert harness.sql("SELECT COUNT(*), COUNT(sale_order_no) FROM {ds}.courier_returns") == \
        [(job.file.rows, job.file.rows)]
    assert "order_no" not in harness.pipeline.default_schema.get_table_columns("courier_returns")
    harness.sim.jobs.edit_file = None
    harness.sim.clock.advance(timedelta(hours=1))
    assert not harness.run(exports=["Courier Returns"], facilities=["BLR01"]).problems


def test_a_column_loaded_through_a_reading_is_not_emptied_when_the_reading_is_lost(harness: Harness) -> None:
    """`Inventory` loaded, then the tenant's `Quantity` through `{"Inventory" = ["Quantity"]}`; the same file
    without the setting (a deployment's SOURCES__UNIWARE__EXPORTS replacing the TOML's exports) loaded with a
    warning and emptied `inventory` in every replaced row (red team helper 124): the check reads the labels the
    facility's last file stood for, so it is refused. Another facility's last file does not decide it."""
    settings: dict[str, Any] = {"exports": ["Inventory Snapshot"], "facilities": ["BLR01", "DEL02"]}
    harness.run(**settings)
    harness.sim.jobs.edit_file = lambda job, text: _relabelled(text, "Inventory", "Quantity")
    read = [{"name": "Inventory Snapshot", "label_readings": {"Inventory": ["Quantity"]}}]
    harness.sim.clock.advance(timedelta(hours=1))
    harness.run(**{**settings, "exports": read})
    count = "SELECT COUNT(*), COUNT(inventory) FROM {ds}.inventory_snapshot"
    [(rows, valued)] = harness.sql(count)
    assert rows > 0 and valued == rows
    harness.sim.clock.advance(timedelta(hours=1))
    with pytest.raises(ExportsFailed) as raised:
        harness.run(**settings)
    assert len(raised.value.problems) == 2
    for problem in raised.value.problems:
        assert "the file lacks 'Inventory' (column id inventory)" in problem and "for this facility had" in problem
    assert harness.sql(count) == [(rows, valued)]
