"""A hostile Uniware or file host must never make rows go missing, move or double silently.

Each case drives the real pipeline over HTTP against the simulator and checks what landed in DuckDB:
exact data, or a clear error naming job, file, row, column or setting, with the cursor left alone.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from uniware_simulator import CORRUPT, EMPTY_FILE, RESHAPED, SCRIPTED, ScriptedAnswer, UniwareSimulator
from uniware_source import ConfigError, ExportsFailed
from uniware_source.cli import DUCKDB_DEFAULTS
from uniware_source.pipeline_run.duckdb_memory import DUCKDB_SETTINGS

from .harness import Harness

RETURNS: list[Any] = ["Return Invoices"]
ONE = ["BLR01"]
STEADY_POLLS: dict[str, Any] = {"poll_initial_seconds": 0.05, "poll_max_seconds": 0.05,
                                "complete_without_file_grace_seconds": 0.2}


@pytest.fixture
def harness(uniware_simulator: UniwareSimulator, tmp_path: Path) -> Harness:
    return Harness(uniware_simulator, tmp_path)


def served_rows(harness: Harness) -> int:
    return sum(j.file.rows for j in harness.sim.jobs.all() if j.file is not None)


def statuses(harness: Harness) -> list[str]:
    return [r["status"] for r in harness.history()]


# -- 1. COMPLETE without a file: the grace counts continuous time only --------------------------

@pytest.mark.parametrize("script", [
    pytest.param((("COMPLETE", 2), ("IN_PROGRESS", 6), ("COMPLETE", 2)), id="complete-inprogress-complete"),
    pytest.param((("COMPLETE", 3), ("RUNNING", 4), ("SUCCESSFUL", 3), ("QUEUED", 3), ("COMPLETE", 1)),
                 id="flapping-many-times"),
    pytest.param((("IN_PROGRESS", 2), ("COMPLETE", 3), ("PROCESSING", 8), ("COMPLETE", 1)),
                 id="back-to-pending-for-long"),
])
def test_file_one_poll_away_after_complete_flapping_loads_the_rows(harness: Harness,
                                                                   script: tuple[tuple[str, int], ...]) -> None:
    harness.sim.inject_job_fate(SCRIPTED, script=script)
    report = harness.run(exports=RETURNS, facilities=ONE, **STEADY_POLLS)
    assert not report.problems
    assert "EMPTY" not in statuses(harness) and "LOADED" in statuses(harness)
    assert harness.count("return_invoices") == served_rows(harness) > 0
    assert harness.cursors("return_invoices")["BLR01"] == harness.clock.now().isoformat()


def test_complete_without_a_file_for_the_whole_grace_is_still_an_empty_export(harness: Harness) -> None:
    harness.sim.inject_job_fate(SCRIPTED, script=(("IN_PROGRESS", 2), ("COMPLETE", 10)))
    harness.run(exports=RETURNS, facilities=ONE, **STEADY_POLLS)
    assert statuses(harness)[-1] == "EMPTY"
    assert not harness.has_table("return_invoices") or harness.count("return_invoices") == 0



GONE = "/files/gone/Return%20Invoices.csv"  # a link that serves nothing: the job's file is not there


@pytest.mark.parametrize("script", [
    pytest.param((("COMPLETE", 2, ScriptedAnswer(link=GONE, errors=True, message="Export completed with errors")),
                  ("COMPLETE", 10)), id="file-with-errors-then-none"),
    pytest.param((("COMPLETE", 2, ScriptedAnswer(link=GONE, unsuccessful=True, message="partial export")),
                  ("COMPLETE", 10)), id="file-unsuccessful-then-none"),
    pytest.param((("IN_PROGRESS", 2, ScriptedAnswer(link=GONE)), ("COMPLETE", 10)), id="link-while-pending"),
    pytest.param((("COMPLETE", 2, ScriptedAnswer(message="Export failed: row limit exceeded")), ("COMPLETE", 10)),
                 id="failure-said-then-quiet"),
    pytest.param((("COMPLETE", 10, ScriptedAnswer(message="File is being generated, please check again shortly")),),
                 id="file-still-to-come"),
    pytest.param((("COMPLETE", 2, ScriptedAnswer(message="Export ready: http://files.example/r.csv?sig=s3cr3t")),
                  ("COMPLETE", 10)), id="link-in-message"),
    pytest.param((("COMPLETE", 2, ScriptedAnswer(fields=(("recordCount", 57), ("fileSize", 20480)))),
                  ("COMPLETE", 10)), id="rows-counted"),
])
def test_a_job_that_said_it_has_a_file_or_rows_is_never_taken_as_empty(
        harness: Harness, script: tuple[tuple[Any, ...], ...]) -> None:
    """Red team helper 149: done without a file past the grace was taken as an export with no rows (EMPTY,
    cursor past the window, exit 0) although the job had offered a file (refused for its errors, or while
    pending), said it failed, said its file was still to come, linked it in its message or counted its rows.
    Now the job fails (LOST, as a failure said without a file), the cursor stays, and the next run's job loads
    the window's rows."""
    harness.sim.inject_job_fate(SCRIPTED, script=script)
    with pytest.raises(ExportsFailed) as failed:
        harness.run(exports=RETURNS, facilities=ONE, **STEADY_POLLS)
    assert "not taken as an export with no rows" in str(failed.value) and "s3cr3t" not in str(failed.value)
    assert "EMPTY" not in statuses(harness) and statuses(harness)[-1] == "LOST", statuses(harness)
    assert "not taken as an export with no rows" in harness.history()[-1]["message"]
    assert harness.cursors("return_invoices").get("BLR01", "") < harness.clock.now().isoformat()  # not past it
    assert "s3cr3t" not in json.dumps(harness.history(), default=str)
    report = harness.run(exports=RETURNS, facilities=ONE, **STEADY_POLLS)
    assert not report.problems and statuses(harness)[-1] == "LOADED"
    loaded = [j.file.rows for j in harness.sim.jobs.all() if j.file is not None]
    assert harness.count("return_invoices") == loaded[-1] > 0
    assert harness.cursors("return_invoices")["BLR01"] == harness.clock.now().isoformat()


def test_a_job_that_offered_a_file_before_a_run_ended_is_not_taken_as_empty_by_the_next(harness: Harness) -> None:
    """What a run saw of a job is kept with it: a run that timed out after the job offered its file with errors
    left it to the next run, which saw only COMPLETE without a file and took the window as EMPTY (the cursor
    past rows never loaded, exit 0)."""
    harness.sim.inject_job_fate(SCRIPTED, script=(
        ("COMPLETE", 2, ScriptedAnswer(link=GONE, errors=True, message="Export completed with errors")),
        ("IN_PROGRESS", 40), ("COMPLETE", 10)))
    with pytest.raises(ExportsFailed, match="still IN_PROGRESS"):
        harness.run(exports=RETURNS, facilities=ONE, **STEADY_POLLS, job_timeout_seconds=1)
    assert statuses(harness)[-1] == "TIMED_OUT", statuses(harness)
    with pytest.raises(ExportsFailed, match="not taken as an export with no rows"):
        harness.run(exports=RETURNS, facilities=ONE, **STEADY_POLLS)
    assert "EMPTY" not in statuses(harness) and statuses(harness)[-1] == "LOST", statuses(harness)
    assert harness.cursors("return_invoices").get("BLR01", "") < harness.clock.now().isoformat()
    report = harness.run(exports=RETURNS, facilities=ONE, **STEADY_POLLS)
    assert not report.problems and statuses(harness)[-1] == "LOADED"
    assert harness.count("return_invoices") == [j.file.rows for j in harness.sim.jobs.all() if j.file is not None][-1]


# a keyed window the next run's lookback covers, unless a window of the facility waits for a job then
LOOKED_BACK = "the next run looks back 2 day(s) (lookback_days) over it; if it had rows"


@pytest.mark.parametrize(("exports", "extra", "why"), [
    pytest.param(["Tally GST Report"], {}, "not export this window again (an export merged on its job code never "
                 "looks back)", id="keyless"),
    pytest.param(RETURNS, {"backfill_start": "2026-04-10", "backfill_end": "2026-04-11"},
                 "not export this window again (no incremental run of this facility looks back at a backfill window)",
                 id="backfill"),
    pytest.param(RETURNS, {"backfill_start": "2026-04-15", "backfill_end": "2026-04-16", "incremental_first": True},
                 LOOKED_BACK, id="backfill-the-next-run-looks-back-at"),
    pytest.param(RETURNS, {"lookback_days": 0}, "not export this window again (the next run looks back 0 day(s)",
                 id="no-lookback"),
    pytest.param(RETURNS, {"window_days": 2}, LOOKED_BACK, id="looked-back"),  # the last window (this one)
    pytest.param(RETURNS, {"window_days": 1, "start_date": "2026-04-10"},
                 "not export this window again (the next run looks back 2 day(s)", id="earlier-window-of-a-backlog"),
])
def test_an_empty_export_no_run_exports_again_says_how_to_load_its_window(
        harness: Harness, exports: list[Any], extra: dict[str, Any], why: str) -> None:
    """Done without a file past the grace is taken as no rows; a file Uniware links later is then loaded
    only by a run that exports the window again: where none will, the EMPTY row gives the backfill of
    that export, facility and window, which (run as given, beside another facility) loads its rows."""
    both = ["BLR01", "DEL02"]
    if extra.pop("incremental_first", False):
        harness.run(exports=exports, facilities=both, **STEADY_POLLS)
    # 5 answers over the 0.2 s grace (the clock is the test's): the job is taken as empty; its file comes with
    # the 7th answer, when the backfill below has taken the job over (Uniware's duplicate rule: still running)
    harness.sim.inject_job_fate(SCRIPTED, script=(("COMPLETE", 6),), match=lambda report, facility: facility == "BLR01")
    harness.run(exports=exports, facilities=both, **STEADY_POLLS, **extra)
    empty = [r for r in harness.history() if r["status"] == "EMPTY"]
    assert len(empty) == 1 and "taken as an export with no rows" in empty[0]["message"]
    assert why in empty[0]["message"], empty[0]["message"]
    command = r"`uniware-pipeline --export (\S+) --facility (\S+) --start '([^']+)' --end '([^']+)'` loads them"
    shown = re.search(command, empty[0]["message"])
    assert shown is not None, empty[0]["message"]
    table, facility, start_text, end_text = shown.groups()  # the table: two exports may share a report name
    assert facility == "BLR01" and table == ("tally_gst" if exports == ["Tally GST Report"] else "return_invoices")
    start, end = (datetime.fromisoformat(moment) for moment in (start_text, end_text))
    assert start.utcoffset() == timedelta(hours=5, minutes=30)
    assert (start, end) == (empty[0]["window_start"], empty[0]["window_end"])
    before = harness.count(table) if harness.has_table(table) else 0
    given = {**extra, "backfill_start": start_text, "backfill_end": end_text}
    report = harness.run(exports=exports, facilities=[facility], **STEADY_POLLS, **given)
    assert not report.problems  # the backfill given loads the window's rows
    loaded = [r for r in harness.history() if r["status"] == "LOADED" and r["window_start"] == start
              and r["window_end"] == end and r["facility"] == facility]
    assert len(loaded) == 1 and loaded[0]["rows_in_file"] is not None
    window = harness.sql(f"SELECT COUNT(*) FROM {{ds}}.{table} WHERE _uniware_window_start = ? "
                         "AND _uniware_facility = ?", start, facility)[0][0]
    assert window == loaded[0]["rows_in_file"]
    if table == "tally_gst":  # rows of a window no other job exported: added
        assert harness.count(table) == before + window
    else:  # merged on the key, over rows an earlier job of the same days loaded
        keys = [n for n, c in harness.pipeline.default_schema.tables[table]["columns"].items() if c.get("primary_key")]
        assert keys and harness.sql(f"SELECT COUNT(*) - COUNT(DISTINCT ({', '.join(keys)})) FROM {{ds}}.{table}") == \
            [(0,)]
        assert harness.count(table) >= max(before, window)


# -- 2. a label keeps its column forever --------------------------------------------------------

COLLIDING = {"Unit Price": "Tax %", "Quantity": "Tax (%)", "Customer Name": "कीमत"}


def job_rows(harness: Harness, job_index: int) -> list[tuple[Any, ...]]:
    """The values of the renamed Unit Price, Quantity and Customer Name of one job, by the saved mapping."""
    saved = harness.pipeline.state["sources"]["uniware"]["resources"]["return_invoices"]["columns"]
    columns = [saved[COLLIDING[label]][0] for label in ("Unit Price", "Quantity", "Customer Name")]
    job = harness.sim.jobs.all()[job_index]
    return harness.sql(f"SELECT {', '.join(columns)} FROM {{ds}}.return_invoices WHERE _uniware_job_code = ? "
                       "ORDER BY invoice_code, return_invoice_code, item_sku_code", job.code)


def truth_of(harness: Harness, job_index: int) -> list[tuple[Any, ...]]:
    query = harness.sim.jobs.all()[job_index].query
    rows = harness.sim.truth("Return Invoices", facility="BLR01", date_filter="addedOn",
                             start=datetime.fromtimestamp(query.start or 0, UTC),
                             end=datetime.fromtimestamp(query.end or 0, UTC), at=datetime.fromtimestamp(query.at, UTC))
    rows.sort(key=lambda r: (r["Invoice Code"], r["Return Invoice Code"], r["Item SKU Code"]))
    return [tuple(None if v is None else str(v) for v in (r["Unit Price"], r["Quantity"], r["Customer Name"]))
            for r in rows]


@pytest.mark.parametrize("on_header_change", ["evolve", "fail"])
def test_colliding_labels_keep_their_columns_whatever_the_order(harness: Harness, on_header_change: str) -> None:
    settings: dict[str, Any] = {"exports": RETURNS, "facilities": ONE, "on_header_change": on_header_change}
    harness.sim.inject_job_fate(CORRUPT, corruption=RESHAPED, renames=COLLIDING)
    harness.run(**settings)
    harness.sim.clock.advance(timedelta(days=3))
    harness.sim.inject_job_fate(CORRUPT, corruption=RESHAPED, renames=COLLIDING, reverse_columns=True)
    report = harness.run(**settings)
    assert not report.problems  # same labels in another order: not a header change
    names = [r[0] for r in harness.sql("SELECT column_name FROM duckdb_columns() WHERE schema_name = '{ds}' "
                                       "AND table_name = 'return_invoices'")]
    assert {"tax_pct", "tax_pct_2", "kimt"} <= set(names)
    first, second = job_rows(harness, 0), job_rows(harness, 1)
    assert first and set(first) <= set(truth_of(harness, 0))  # the lookback re-loaded some of its keys
    assert second and second == truth_of(harness, 1)


def test_a_new_colliding_label_gets_a_new_column_and_never_takes_an_old_one(harness: Harness) -> None:
    # Display Order Code never lands (a requested column the table holds, missing later, is refused)
    harness.sim.inject_job_fate(CORRUPT, corruption=RESHAPED, renames={**COLLIDING, "Display Order Code": "Ref"})
    harness.run(exports=RETURNS, facilities=ONE)
    harness.sim.clock.advance(timedelta(days=3))
    # a new label that collapses to the same identifier arrives first in the file
    inserted = {**COLLIDING, "Display Order Code": "TAX %"}
    harness.sim.inject_job_fate(CORRUPT, corruption=RESHAPED, renames=inserted, reverse_columns=True)
    harness.run(exports=RETURNS, facilities=ONE)
    landed = job_rows(harness, 1)
    assert landed == truth_of(harness, 1)
    new_column = harness.sql("SELECT COUNT(*) FROM {ds}.return_invoices WHERE tax_pct_3 IS NOT NULL")[0][0]
    assert new_column == len(landed)


def test_header_change_fail_compares_exact_labels_not_collapsed_names(harness: Harness) -> None:
    harness.sim.inject_job_fate(CORRUPT, corruption=RESHAPED, renames=COLLIDING)
    harness.run(exports=RETURNS, facilities=ONE, on_header_change="fail")
    harness.sim.clock.advance(timedelta(days=3))
    harness.sim.inject_job_fate(CORRUPT, corruption=RESHAPED, renames={**COLLIDING, "Unit Price": "TAX %"})
    cursor = harness.cursors("return_invoices")
    respelled = "respelled 'Tax %' as 'TAX %' \\(case or spacing only; same column tax_pct"
    with pytest.raises(ExportsFailed, match=respelled):
        harness.run(exports=RETURNS, facilities=ONE, on_header_change="fail")
    assert harness.cursors("return_invoices") == cursor
    assert statuses(harness)[-1] == "PARSE_FAILED"


def test_a_label_respelled_by_case_or_spacing_lands_in_the_column_it_had(
        harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """A build writes `customer  NAME` for `Customer Name`: as a new label it went to a new column, and the old
    one was empty in every row the file replaced (red team helper 122: Sale Orders' `Shipping provider` split
    when a tenant wrote `Shipping Provider`). Any label equal but for case or spacing to one the export's
    columns hold lands in that column, and the warning says so."""
    harness.run(exports=RETURNS, facilities=ONE)
    harness.sim.clock.advance(timedelta(days=3))
    respelled = {"Customer Name": "customer  NAME", "Quantity": "QUANTITY"}
    harness.sim.inject_job_fate(CORRUPT, corruption=RESHAPED, renames=respelled)
    with caplog.at_level("WARNING"):
        harness.run(exports=RETURNS, facilities=ONE)
    assert "'Customer Name' as 'customer  NAME' (case or spacing only; same column customer_name)" in caplog.text
    assert "'Quantity' as 'QUANTITY' (case or spacing only; same column quantity)" in caplog.text  # typed
    second = harness.sim.jobs.all()[1].code
    [(rows, names, quantity)] = harness.sql(
        "SELECT COUNT(*), COUNT(customer_name), COUNT(quantity) FROM {ds}.return_invoices "
        "WHERE _uniware_job_code = ?", second)
    assert rows > 0 and (names, quantity) == (rows, rows)
    assert harness.sql("SELECT COUNT(*) FROM {ds}.return_invoices WHERE customer_name IS NULL") == [(0,)]
    columns = {c for (c,) in harness.sql("SELECT column_name FROM information_schema.columns WHERE "
                                          "table_schema = '{ds}' AND table_name = 'return_invoices'")}
    assert "customer_name" in columns and "customer_name_2" not in columns
    assert "its values go to column" not in caplog.text  # what the warning says of a respelling split off


def test_a_respelling_that_got_a_column_of_its_own_lands_in_the_first_column_again(harness: Harness) -> None:
    """A respelling an earlier version gave a column of its own (`customer  NAME` in customer_name_2), or one a
    file carrying both spellings gave one: a later file with that spelling alone lands in the column the label
    took first, which earlier rows and the v_* views read (red team helper 123: `Shipping provider`, then a file
    with both, then `Shipping Provider` alone went on to shipping_provider_2 and emptied shipping_provider)."""
    two = ["BLR01", "DEL02"]
    harness.run(exports=RETURNS, facilities=two)
    with harness.pipeline.managed_state() as state:  # as the earlier version left it
        state["sources"]["uniware"]["resources"]["return_invoices"]["columns"]["customer  NAME"] = ["customer_name_2"]
    harness.sim.clock.advance(timedelta(days=3))
    harness.sim.inject_job_fate(CORRUPT, corruption=RESHAPED, renames={"Customer Name": "customer  NAME"}, times=2)
    harness.run(exports=RETURNS, facilities=two)
    later = [job.code for job in harness.sim.jobs.all()[2:]]
    assert len(later) == 2
    for code in later:
        [(rows, first)] = harness.sql("SELECT COUNT(*), COUNT(customer_name) FROM {ds}.return_invoices "
                                      "WHERE _uniware_job_code = ?", code)
        assert rows > 0 and first == rows, code
    columns = {c for (c,) in harness.sql("SELECT column_name FROM information_schema.columns WHERE "
                                          "table_schema = '{ds}' AND table_name = 'return_invoices'")}
    assert "customer_name_2" not in columns


def test_one_file_with_both_spellings_keeps_them_apart_and_the_next_lands_in_the_first(harness: Harness) -> None:
    """Sale Orders: `Shipping provider`, then a file with `Shipping Provider` beside it (each its own column),
    then `Shipping Provider` alone: in shipping_provider, where the label first landed (red team helper 123)."""
    def both(job: Any, text: str) -> str:
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
        at = rows[0].index("Shipping provider")
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(
            [[*rows[0], "Shipping Provider"], *[[*r, r[at] + " (2)"] for r in rows[1:]]])
        return out.getvalue()

    valued: list[int] = []

    def second_only(job: Any, text: str) -> str:
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
        at = rows[0].index("Shipping provider")
        valued.append(sum(1 for r in rows[1:] if r[at] not in ("", "N/A", "-", "NULL")))
        return text.replace("Shipping provider", "Shipping Provider", 1)

    settings: dict[str, Any] = {"exports": ["Sale Orders"], "facilities": ONE}
    harness.run(**settings)
    for edit in (both, second_only):
        harness.sim.jobs.edit_file = edit
        harness.sim.clock.advance(timedelta(hours=2))
        harness.run(**settings)
    last = harness.sim.jobs.all()[-1].code
    [(first, second)] = harness.sql("SELECT COUNT(shipping_provider), COUNT(shipping_provider_2) FROM "
                                    "{ds}.sale_orders WHERE _uniware_job_code = ?", last)
    assert valued and first == valued[-1] > 0 and second == 0


def test_a_column_the_views_read_keeps_its_label_in_any_case(harness: Harness) -> None:
    """A build writes `Sale Order Item STATUS`: as a new label it went to a new column, the views' column
    was NULL for the file's rows, and v_sales_per_day counted its cancelled items as sold (red team helper
    85, F5). The labels the views read are named by the catalog, so any case or spacing keeps their column."""
    from uniware_source.queries import query

    harness.run(exports=["Sale Orders"], facilities=ONE)
    harness.sim.clock.advance(timedelta(days=3))
    respelled = {"Sale Order Item Status": "Sale Order Item STATUS", "Channel Name": "channel  name"}
    harness.sim.inject_job_fate(CORRUPT, corruption=RESHAPED, renames=respelled)
    harness.run(exports=["Sale Orders"], facilities=ONE)
    columns = {c for (c,) in harness.sql("SELECT column_name FROM information_schema.columns "
                                          "WHERE table_name = 'sale_orders'")}
    assert "sale_order_item_status_2" not in columns and "channel_name_2" not in columns
    second = harness.sim.jobs.all()[-1].code
    assert harness.sql("SELECT COUNT(*) FROM {ds}.sale_orders WHERE _uniware_job_code = ? AND "
                       "(sale_order_item_status IS NULL OR channel_name IS NULL)", second) == [(0,)]
    cancelled = harness.sql("SELECT COUNT(*) FROM {ds}.sale_orders WHERE sale_order_item_status = 'CANCELLED'")[0][0]
    [(items,)] = harness.sql(f"SELECT SUM(items) FROM ({query('sales_per_day', '{ds}')}) AS days")
    assert cancelled > 0 and items == harness.count("sale_orders") - cancelled


def test_the_column_mapping_is_kept_in_state(harness: Harness) -> None:
    harness.sim.inject_job_fate(CORRUPT, corruption=RESHAPED, renames=COLLIDING)
    harness.run(exports=RETURNS, facilities=ONE)
    state = harness.pipeline.state["sources"]["uniware"]["resources"]["return_invoices"]
    assert sorted([*state["columns"]["Tax %"], *state["columns"]["Tax (%)"]]) == ["tax_pct", "tax_pct_2"]
    assert state["columns"]["कीमत"] == ["kimt"]


# -- 8. wide files and big cells load, under the memory limit the script sets ------------------

@pytest.mark.parametrize("extra", [3000, pytest.param(10000, marks=pytest.mark.huge)])
def test_wide_files_load_under_the_script_duckdb_settings(harness: Harness, monkeypatch: pytest.MonkeyPatch,
                                                          extra: int) -> None:
    monkeypatch.setenv(DUCKDB_SETTINGS, DUCKDB_DEFAULTS)
    harness.sim.inject_job_fate(CORRUPT, corruption=RESHAPED, extra_columns=extra)
    report = harness.run(exports=RETURNS, facilities=ONE)
    assert not report.problems
    rows = served_rows(harness)
    assert harness.count("return_invoices") == rows > 0
    assert harness.sql(f"SELECT COUNT(*) FROM {{ds}}.return_invoices WHERE extra_{extra} LIKE 'x%'")[0][0] == rows
    assert statuses(harness)[-1] == "LOADED"


def test_a_cell_of_several_megabytes_loads(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DUCKDB_SETTINGS, DUCKDB_DEFAULTS)
    harness.sim.inject_job_fate(CORRUPT, corruption=RESHAPED, big_cell_bytes=3 << 20)
    report = harness.run(exports=RETURNS, facilities=ONE)
    assert not report.problems
    assert harness.count("return_invoices") == served_rows(harness)
    longest = harness.sql("SELECT MAX(LENGTH(display_order_code)) FROM {ds}.return_invoices")[0][0]
    assert longest == 3 << 20


def test_loaded_shows_only_after_the_rows_are_in_the_destination(harness: Harness,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A load that fails at the destination leaves no LOADED status behind for its rows."""
    from dlt.destinations.impl.duckdb import duck

    original = duck.DuckDbCopyJob.run

    def failing(self: Any) -> None:
        if "return_invoices" in self._file_path:
            raise RuntimeError("simulated destination failure")
        original(self)

    monkeypatch.setattr(duck.DuckDbCopyJob, "run", failing)
    with pytest.raises(Exception, match="simulated destination failure"):
        harness.run(exports=RETURNS, facilities=ONE)
    assert "LOADED" not in statuses(harness)
    monkeypatch.setattr(duck.DuckDbCopyJob, "run", original)
    [first] = harness.sim.jobs.all()
    harness.run(exports=RETURNS, facilities=ONE)  # the pending package loads, then the history follows
    loaded = sorted(r["job_code"] for r in harness.history() if r["status"] == "LOADED")
    assert loaded == sorted(j.code for j in harness.sim.jobs.all())  # each job once, the first one included
    landed = harness.sql("SELECT COUNT(*) FROM {ds}.return_invoices WHERE _uniware_job_code = ?", first.code)[0][0]
    assert first.file is not None and 0 < landed <= first.file.rows  # the lookback job re-keyed some


# -- 9. facility codes that cannot travel in an HTTP header --------------------------------------

@pytest.mark.parametrize("code", ["BLR\r\nX-Injected: 1", "गोदाम", "BLR 01\t", "DEL\x00"])
def test_a_facility_code_that_cannot_be_a_header_is_a_setting_error(harness: Harness, code: str) -> None:
    with pytest.raises(ConfigError, match="facilities") as raised:
        harness.run(exports=RETURNS, facilities=["BLR01", code])
    assert "SOURCES__UNIWARE__FACILITIES" in str(raised.value)
    assert harness.sim.requests.count("create") == 0


# -- 10. smaller hostile shapes -----------------------------------------------------------------

def test_a_header_label_with_a_quoted_newline_loads(harness: Harness) -> None:
    harness.sim.inject_job_fate(CORRUPT, corruption=RESHAPED, renames={"Customer Name": "Customer\nName"})
    report = harness.run(exports=RETURNS, facilities=ONE)
    assert not report.problems
    assert harness.count("return_invoices") == served_rows(harness) > 0
    assert harness.sql("SELECT COUNT(*) FROM {ds}.return_invoices WHERE customer_name IS NOT NULL")[0][0] > 0


def test_headers_named_like_dlt_columns_do_not_overwrite_them(harness: Harness) -> None:
    harness.sim.inject_job_fate(CORRUPT, corruption=RESHAPED,
                                renames={"Customer Name": "_dlt_id", "Display Order Code": "_dlt_load_id"})
    harness.run(exports=RETURNS, facilities=ONE)
    rows = harness.count("return_invoices")
    assert rows == served_rows(harness)
    columns = {r[0] for r in harness.sql("SELECT column_name FROM duckdb_columns() WHERE schema_name = '{ds}' "
                                         "AND table_name = 'return_invoices'")}
    assert {"_dlt_id_2", "_dlt_load_id_2"} <= columns  # the file's columns, renamed
    reasons = harness.sql("SELECT COUNT(*) FROM {ds}.return_invoices WHERE _dlt_id_2 IS NOT NULL")[0][0]
    assert reasons == rows
    if "_dlt_load_id" in columns:  # dlt's own column, if the destination path adds it, holds load ids
        assert harness.sql("SELECT COUNT(DISTINCT _dlt_load_id) FROM {ds}.return_invoices")[0][0] == 1


def test_a_zero_byte_file_fails_the_job_clearly_and_keeps_the_cursor(harness: Harness) -> None:
    harness.sim.inject_job_fate(CORRUPT, corruption=EMPTY_FILE)
    with pytest.raises(ExportsFailed, match=r"empty \(0 bytes\)"):
        harness.run(exports=RETURNS, facilities=ONE)
    assert statuses(harness)[-1] == "PARSE_FAILED"
    assert harness.cursors("return_invoices")["BLR01"] != harness.clock.now().isoformat()
    harness.run(exports=RETURNS, facilities=ONE)  # the next run exports the window again
    assert harness.count("return_invoices") == harness.sim.jobs.all()[-1].file.rows  # type: ignore[union-attr]


def test_history_errors_column_is_json(harness: Harness) -> None:
    harness.sim.inject_job_fate(CORRUPT, corruption=EMPTY_FILE)
    with pytest.raises(ExportsFailed):
        harness.run(exports=RETURNS, facilities=ONE)
    for row in harness.history():
        if row["errors"]:
            json.loads(row["errors"])
