"""A hostile Uniware or file host reuses what belongs to one window for another: the same file served for
two jobs, a job code given to two windows (a 100014 "already running" naming another window's job, or a
create answering with a code already in use). Never silently wrong: the second window is refused with a
clear reason, the first loads once, and a later run exports the refused window again."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Optional
from zoneinfo import ZoneInfo

import pytest

from uniware_simulator import UniwareSimulator
from uniware_source import ExportsFailed
from uniware_source.run_log import reset

from .harness import Harness

TWO_WINDOWS: dict[str, Any] = {"window_days": 1, "backfill_start": "2026-04-13T00:00:00+05:30",
                               "backfill_end": "2026-04-15T00:00:00+05:30"}
APPEND_LOG: dict[str, Any] = {"name": "Sale Orders", "table_name": "orders_log", "write_disposition": "append",
                              "primary_key": [], "lookback_days": 0}


@pytest.fixture
def harness(uniware_simulator: UniwareSimulator, tmp_path: Path) -> Harness:
    return Harness(uniware_simulator, tmp_path)


def _first_file_for_every_job(sim: UniwareSimulator, how: str = "as is") -> None:
    """The file host serves the first job's file for every job of that report: `as is`, or its rows in
    reverse order (`reordered`), or with CRLF line ends and a byte-order mark (`crlf`)."""
    first: dict[str, str] = {}

    def edit(job: Any, text: str) -> str:
        served = first.setdefault(job.report.name, text)
        if served is text or how == "as is":
            return served
        if how == "reordered":
            header, *rows = _records(served)
            return "".join([header, *reversed(rows)])
        return "\ufeff" + served.lstrip("\ufeff").replace("\n", "\r\n")
    sim.jobs.edit_file = edit


def _records(text: str) -> list[str]:
    """The CSV's records as written (a quoted value's line breaks kept inside its record)."""
    records, pending = [], ""
    for line in text.splitlines(keepends=True):
        pending += line
        if pending.count('"') % 2 == 0:
            records.append(pending if pending.endswith("\n") else pending + "\n")
            pending = ""
    return records + ([pending] if pending else [])


def _statuses(harness: Harness) -> dict[str, list[str]]:
    by_job: dict[str, list[str]] = {}
    for row in harness.history():
        by_job.setdefault(row["job_code"] or "", []).append(row["status"])
    return by_job


def _last(harness: Harness, status: str) -> list[Any]:
    """The simulator's jobs whose last history status is `status`."""
    statuses = _statuses(harness)
    return [job for job in harness.sim.jobs.all() if statuses.get(job.code, [""])[-1] == status]


def _rows_of(harness: Harness, table: str, job: Any) -> int:
    return int(harness.sql(f"SELECT COUNT(*) FROM {{ds}}.{table} WHERE _uniware_job_code = ?", job.code)[0][0])


def _assert_each_row_once(harness: Harness, table: str) -> None:
    """A merged table holds each key once; an appended one each job's file rows once."""
    if table == "sale_orders":
        keys = harness.sql("SELECT sale_order_code, sale_order_item_code FROM {ds}.sale_orders")
        assert len(keys) == len(set(keys)) > 0
        return
    for code, rows in harness.sql(f"SELECT _uniware_job_code, COUNT(*) FROM {{ds}}.{table} GROUP BY 1"):
        assert rows == _rows_in_file(harness, harness.sim.jobs.get(code)), code


def _rows_in_file(harness: Harness, job: Any) -> int:
    """The rows of the job's file, as its LOADED history row counts them (a quoted newline is no row)."""
    [rows] = [r["rows_in_file"] for r in harness.history(job.code) if r["status"] == "LOADED"]
    return int(rows)


@pytest.mark.parametrize("export, table", [("Sale Orders", "sale_orders"), (APPEND_LOG, "orders_log")],
                         ids=["merge", "append"])
@pytest.mark.parametrize("how, rounds", [("as is", None), ("reordered", None), ("crlf", None), ("reordered", 1)],
                         ids=["as-is", "reordered", "crlf-bom", "reordered-in-two-rounds"])
def test_the_same_file_for_two_windows_loads_neither_and_both_again(
        harness: Harness, export: Any, table: str, how: str, rounds: Optional[int]) -> None:
    """The first window's file served for both: the second window's job is refused, its own rows never
    replaced by the first's. The same rows in another order, or with other line ends, are the same file: an
    export without a key loaded them twice, for both windows, and the second window's own rows never (red
    team helper 87, F1). In one round both files are in hand, and none of the second's rows falls in its
    window (all before it): OUT_OF_WINDOW, and the first window, with its own file, loads (before the
    window guard read that, which window the file was for could not be told, and neither loaded). With one
    job at a time the windows load in two rounds: the first loads, the second is refused as the same file.
    Once the host serves each job its own file, the second window lands."""
    sim = harness.sim
    _first_file_for_every_job(sim, how)
    limit: dict[str, Any] = {"max_concurrent_jobs": rounds} if rounds else {}
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=[export], facilities=["BLR01"], **TWO_WINDOWS, **limit)
    [problem] = raised.value.problems
    assert len(_last(harness, "LOADED")) == 1
    if rounds:  # the first window loaded in the first round, with its own rows
        assert "the file host served the same file" in problem and len(_last(harness, "INVALID_FILE")) == 1
        return
    assert "no row of the file falls in its window" in problem and len(_last(harness, "OUT_OF_WINDOW")) == 1

    sim.jobs.edit_file = None  # the host mends: the refused window is exported again, with its own rows
    [refused] = _last(harness, "OUT_OF_WINDOW")
    report = harness.run(exports=[export], facilities=["BLR01"], **{
        **TWO_WINDOWS, "backfill_start": datetime.fromtimestamp(refused.query.start or 0, ZoneInfo("UTC")).isoformat()})
    assert not report.problems
    loaded = _last(harness, "LOADED")
    assert len(loaded) == 2 and {j.query.start for j in loaded} == {j.query.start for j in sim.jobs.all()[:2]}
    _assert_each_row_once(harness, table)


@pytest.mark.parametrize("export, table, how", [("Return Invoices", "return_invoices", "as is"),
                                                ("Return Invoices", "return_invoices", "reordered"),
                                                ("Tally GST Report", "tally_gst", "reordered")])
def test_the_same_file_for_two_facilities_without_a_facility_column_is_refused(
        harness: Harness, export: str, table: str, how: str) -> None:
    """Return Invoices and Tally GST carry no Facility Code: only the content tells that a facility got the
    other's file (a tenant that ignores the Facility header); Tally GST, without a key, loaded the rows for
    both facilities when they came in another order (red team helper 87, F1)."""
    _first_file_for_every_job(harness.sim, how)
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=[export], facilities=["BLR01", "DEL02"])
    assert len(raised.value.problems) == 2 and "the file host served the same file" in raised.value.problems[0]
    assert len(_last(harness, "INVALID_FILE")) == 2
    assert not harness.has_table(table) or harness.count(table) == 0


def test_one_snapshot_for_two_facilities_is_refused_as_a_snapshot(harness: Harness) -> None:
    """Inventory Snapshot without its Facility column, one file served for both facilities' jobs: refused, and
    said of snapshots (red team helper 122: "its own window's rows", and facility_scoped = false as the way
    out, which would let one facility's file replace the whole table)."""
    _first_file_for_every_job(harness.sim, "as is")
    export = {"name": "Inventory Snapshot", "exclude_columns": ["facility"], "primary_key": ["Item SkuCode"]}
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=[export], facilities=["BLR01", "DEL02"])
    for problem in raised.value.problems:
        assert "the file host served the same file" in problem and "window" not in problem, problem
        assert "the snapshot is taken again next run" in problem and "column id 'facility'" in problem
    assert len(raised.value.problems) == 2 and len(_last(harness, "INVALID_FILE")) == 2
    assert not harness.has_table("inventory_snapshot") or harness.count("inventory_snapshot") == 0


def test_empty_files_alike_are_not_a_reuse(harness: Harness) -> None:
    """Two windows without rows have the same file (the header): both load, nothing is refused."""
    sim = harness.sim

    def header_only(job: Any, text: str) -> str:
        return text.splitlines(keepends=True)[0]
    sim.jobs.edit_file = header_only
    report = harness.run(exports=["Sale Orders"], facilities=["BLR01"], **TWO_WINDOWS)
    assert not report.problems and report.exports["sale_orders"].jobs_loaded == 2


def test_a_job_code_named_for_a_second_window_is_not_taken_twice(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """Uniware answers the second window's create with 100014 naming the first window's job: the second
    window fails its create (named), the first job's rows land once, the history has one row per event,
    and the next run exports the second window with a job of its own."""
    sim = harness.sim
    original = sim.jobs.find_running_duplicate

    def any_running(request_key: str) -> Optional[Any]:
        jobs = sim.jobs.all()
        return jobs[0] if jobs else None
    monkeypatch.setattr(sim.jobs, "find_running_duplicate", any_running)
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=["Sale Orders"], facilities=["BLR01"], **TWO_WINDOWS)
    [problem] = raised.value.problems
    [job] = sim.jobs.all()
    assert f"identical job {job.code} is already running (100014)" in problem and "Not taken over" in problem, problem
    assert harness.count("sale_orders") == _rows_in_file(harness, job) > 0
    events = harness.sql("SELECT event_id FROM {ds}.export_job_status")
    assert len(events) == len(set(events))
    assert [r["status"] for r in harness.history() if r["job_code"] is None] == ["CREATE_FAILED"]

    monkeypatch.setattr(sim.jobs, "find_running_duplicate", original)
    report = harness.run(exports=["Sale Orders"], facilities=["BLR01"])
    assert not report.problems
    own = [j for j in sim.jobs.all()[1:] if j.query.start != job.query.start]
    assert own and all(_statuses(harness)[j.code][-1] == "LOADED" for j in own)
    _assert_each_row_once(harness, "sale_orders")


def test_a_create_answering_with_a_code_in_use_is_not_taken_twice(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """A create that succeeds with the job code another facility's window already has: refused."""
    sim = harness.sim
    create = sim.jobs.create

    def same_job(*args: Any, **kwargs: Any) -> Any:
        jobs = sim.jobs.all()
        return jobs[0] if jobs else create(*args, **kwargs)
    monkeypatch.setattr(sim.jobs, "create", same_job)
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=["Sale Orders"], facilities=["BLR01", "DEL02"])
    [problem] = raised.value.problems
    assert "returned it as a new job" in problem and "facility DEL02" in problem, problem
    [job] = sim.jobs.all()
    assert harness.count("sale_orders") == _rows_in_file(harness, job)
    assert harness.sql("SELECT DISTINCT _uniware_facility FROM {ds}.sale_orders") == [("BLR01",)]
    events = harness.sql("SELECT event_id FROM {ds}.export_job_status")
    assert len(events) == len(set(events))


@pytest.mark.parametrize("export, table", [("Sale Orders", "sale_orders"), (APPEND_LOG, "orders_log")],
                         ids=["merge", "append"])
def test_a_job_code_handed_out_again_after_the_state_forgot_it_is_not_taken(
        harness: Harness, export: Any, table: str) -> None:
    """Uniware hands a new job the code of a job loaded before, one the export's state no longer remembers
    (a `reset`, or beyond its last 200 files): an export merged on the job code lost the earlier job's rows
    (another window's) to the new file, its history kept the earlier job's rows, and exit 0. The
    destination's history knows every job code: the create is refused naming the earlier job's window,
    nothing of either job moves."""
    harness.run(exports=[export], facilities=["BLR01"], window_days=1)
    [first] = harness.sim.jobs.all()
    before = harness.sql(f"SELECT * FROM {{ds}}.{table} ORDER BY ALL")
    history = harness.sql("SELECT event_id, status FROM {ds}.export_job_status ORDER BY ALL")
    assert before and _statuses(harness)[first.code][-1] == "LOADED"
    lines, cleared = reset(harness.pipeline, [table], "BLR01")
    assert cleared, lines
    harness.sim.jobs.code_of = lambda job: first.code
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=[export], facilities=["BLR01"], window_days=1, backfill_start="2026-04-10T00:00:00+05:30",
                    backfill_end="2026-04-11T00:00:00+05:30")
    assert raised.value.problems and all(f"job {first.code} is the job of" in p and "facility BLR01 / window" in p
                                         for p in raised.value.problems), raised.value.problems
    assert harness.sql(f"SELECT * FROM {{ds}}.{table} ORDER BY ALL") == before
    assert harness.sql("SELECT event_id, status FROM {ds}.export_job_status WHERE status <> 'CREATE_FAILED' "
                       "ORDER BY ALL") == history


AMAZON_ORDERS: dict[str, Any] = {"name": "Sale Orders", "table_name": "amazon_orders",
                                 "filters": [{"id": "channelFilter", "selectedValues": ["AMAZON_IN"]}]}


@pytest.mark.parametrize("first_mode", ["run", "submit"], ids=["same run", "job waiting from an earlier run"])
def test_a_job_code_of_another_export_of_the_same_window_is_not_taken(
        harness: Harness, monkeypatch: pytest.MonkeyPatch, first_mode: str) -> None:
    """Two exports of one report (the second filtered to a channel, in a table of its own) have windows
    alike: a create answering one with the other's job (the filters ignored) is refused, in the same run
    or while that job still waits from an earlier run, so no job's file lands in both tables; the next
    run exports the refused windows with jobs of their own, the filtered table holding its channel only."""
    sim = harness.sim
    create = sim.jobs.create

    def job_of_the_window(report: Any, facility: str, query: Any, *args: Any, **kwargs: Any) -> Any:
        for job in sim.jobs.all():
            if (job.report.name, job.facility, job.query.start, job.query.end) == \
                    (report.name, facility, query.start, query.end):
                return job
        return create(report, facility, query, *args, **kwargs)
    monkeypatch.setattr(sim.jobs, "create", job_of_the_window)
    both = ["Sale Orders", AMAZON_ORDERS]
    if first_mode == "submit":
        harness.run(mode="submit", exports=["Sale Orders"], facilities=["BLR01"], **TWO_WINDOWS)
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=both, facilities=["BLR01"], **TWO_WINDOWS)
    problems = raised.value.problems
    assert len(problems) == 2, problems
    assert all("returned it as a new job" in p and "Sale Orders (table " in p for p in problems), problems
    assert all(p.startswith("Sale Orders (table ") for p in problems), problems  # which of the two failed
    assert len(sim.jobs.all()) == 2
    for job in sim.jobs.all():
        tables = [t for t in ("sale_orders", "amazon_orders") if harness.has_table(t) and _rows_of(harness, t, job)]
        assert len(tables) == 1, (job.code, tables)

    monkeypatch.setattr(sim.jobs, "create", create)
    report = harness.run(exports=both, facilities=["BLR01"], **TWO_WINDOWS)
    assert not report.problems, report.problems
    assert harness.sql("SELECT DISTINCT channel_name FROM {ds}.amazon_orders") == [("AMAZON_IN",)]
    assert harness.count("sale_orders") > harness.count("amazon_orders") > 0
    _assert_each_row_once(harness, "sale_orders")


def test_a_file_loaded_for_a_facility_in_an_earlier_run_is_refused_for_another(harness: Harness) -> None:
    """Run by run: BLR01's file (remembered with the rows, in state) served later for DEL02 is refused;
    the same file again for BLR01's same window (a re-export of rows that did not change) loads. Without
    its Facility Code column (the facility guard would refuse it first), as most reports are."""
    sim = harness.sim
    orders = [{"name": "Sale Orders", "exclude_columns": ["facilityCode"]}]
    _first_file_for_every_job(sim)
    one_window = {**TWO_WINDOWS, "backfill_end": "2026-04-14T00:00:00+05:30"}
    harness.run(exports=orders, facilities=["BLR01"], **one_window)
    [first] = _last(harness, "LOADED")
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=orders, facilities=["DEL02"], **one_window)
    [problem] = raised.value.problems
    assert f"as for job {first.code} of facility BLR01" in problem, problem
    assert harness.sql("SELECT DISTINCT _uniware_facility FROM {ds}.sale_orders") == [("BLR01",)]

    assert "reset --export \"Sale Orders\" --facility" in problem  # the way out when the earlier load was wrong

    sim.clock.advance(timedelta(hours=6))
    report = harness.run(exports=orders, facilities=["BLR01"], **one_window)
    assert not report.problems and report.exports["sale_orders"].jobs_loaded == 1

    # a reset of BLR01 forgets its loads, their file hashes too: the same file is no longer refused for DEL02
    lines, cleared = reset(harness.pipeline, ["sale_orders"], "BLR01")
    assert cleared, lines
    report = harness.run(exports=orders, facilities=["DEL02"], **one_window)
    assert report.exports["sale_orders"].jobs_loaded == 1


@pytest.mark.parametrize("how", ["reordered", "crlf"])
def test_a_keyless_file_loaded_by_an_earlier_run_served_reordered_for_the_next_window_is_refused(
        harness: Harness, how: str) -> None:
    """Daily runs of an export without a key: the next day's job served yesterday's rows in another order
    (or with other line ends) loaded them twice and the day's own rows never, exit 0 (review helper 89):
    refused across runs too, the day exported again once the host serves its own file."""
    sim = harness.sim
    _first_file_for_every_job(sim, how)
    day: dict[str, Any] = {"window_days": 1, "backfill_start": "2026-04-13T00:00:00+05:30",
                           "backfill_end": "2026-04-14T00:00:00+05:30"}
    harness.run(exports=[APPEND_LOG], facilities=["BLR01"], **day)
    [first] = _last(harness, "LOADED")
    loaded = harness.count("orders_log")
    next_day = {**day, "backfill_start": "2026-04-14T00:00:00+05:30", "backfill_end": "2026-04-15T00:00:00+05:30"}
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=[APPEND_LOG], facilities=["BLR01"], **next_day)
    [problem] = raised.value.problems
    assert f"as for job {first.code} of facility BLR01" in problem and "by an earlier run" in problem, problem
    assert harness.count("orders_log") == loaded
    sim.jobs.edit_file = None
    report = harness.run(exports=[APPEND_LOG], facilities=["BLR01"], **next_day)
    assert not report.problems and harness.count("orders_log") > loaded
    _assert_each_row_once(harness, "orders_log")


def test_a_job_loaded_in_an_earlier_run_named_for_another_window_is_not_taken(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 100014 naming a job whose file loaded in an earlier run (for another facility): refused by the
    memory of loaded files, not loaded a second time under the other facility; one history row per event."""
    sim = harness.sim
    harness.run(exports=["Return Invoices"], facilities=["BLR01"])
    [first] = sim.jobs.all()
    monkeypatch.setattr(sim.jobs, "find_running_duplicate", lambda request_key: first)
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=["Return Invoices"], facilities=["DEL02"])
    [problem] = raised.value.problems
    assert f"identical job {first.code} is already running (100014)" in problem, problem
    assert harness.sql("SELECT DISTINCT _uniware_facility FROM {ds}.return_invoices") == [("BLR01",)]
    events = harness.sql("SELECT event_id FROM {ds}.export_job_status")
    assert len(events) == len(set(events))


@pytest.mark.parametrize("retried", [False, True], ids=["first-create", "after-a-lost-answer"])
def test_a_running_job_this_create_did_not_make_is_not_taken_over(
        harness: Harness, monkeypatch: pytest.MonkeyPatch, retried: bool) -> None:
    """Uniware answers a create with 100014 naming a job some other client made (here one day of the
    window's ten, done): taken over, its file would load as the window's and the cursor pass the other
    nine days (12 of 74 rows lost with exit 0, red team helper 78, F1). Only a create one of whose attempts
    went unanswered takes over the job it is named (its own, most likely; the window guard still checks
    its rows); otherwise the create fails naming the job, nothing of it loads, the cursor stays, and the
    next run exports the window with a job of its own."""
    from tests.sim_client import PlainClient, sale_orders_body

    sim = harness.sim
    client = PlainClient(sim)
    client.login()
    day_ms = 86400 * 1000
    end_ms = int(sim.clock.now().timestamp() * 1000)
    foreign = client.create(sale_orders_body(end_ms - day_ms, end_ms - 1), facility="BLR01").json()["jobCode"]
    assert client.wait(foreign)["status"] == "COMPLETE"
    [other] = sim.jobs.all()
    monkeypatch.setattr(sim.jobs, "find_running_duplicate", lambda request_key: other)
    if retried:  # the first attempt's answer is lost after Uniware acted on it: the retry is told 100014
        from uniware_simulator import HTTP_ERROR
        sim.inject("create", action=HTTP_ERROR, status=502, times=1)
        with pytest.raises(ExportsFailed) as raised:
            harness.run(exports=["Sale Orders"], facilities=["BLR01"])
        [created] = [r for r in harness.history(foreign) if r["status"] == "CREATED"]
        assert "took it over" in created["message"]  # the job it was named: taken over, as before
        [problem] = raised.value.problems  # and here its file, of other columns, is refused by its header
        assert "this is not a 'Sale Orders' export" in problem
        return
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=["Sale Orders"], facilities=["BLR01"])
    [problem] = raised.value.problems
    assert f"identical job {foreign} is already running (100014)" in problem and "Not taken over" in problem
    assert not harness.has_table("sale_orders") or harness.count("sale_orders") == 0
    assert "BLR01" not in harness.cursors("sale_orders") or harness.cursors("sale_orders")["BLR01"] != \
        sim.clock.now().isoformat()
    monkeypatch.undo()
    harness.run(exports=["Sale Orders"], facilities=["BLR01"])
    [own] = {code for (code,) in harness.sql("SELECT DISTINCT _uniware_job_code FROM {ds}.sale_orders")}
    assert own != foreign and other.file is not None
    assert harness.count("sale_orders") == _rows_in_file(harness, next(j for j in sim.jobs.all() if j.code == own)) \
        > other.file.rows


def _varied(text: str, how: str) -> str:
    """The same rows with other bytes: line ends, a BOM, or the rows in another order."""
    if how == "bom":
        return "\ufeff" + text.lstrip("\ufeff")
    header, *rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n" if how == "crlf" else "\n")
    writer.writerows([header, *(rows if how == "crlf" else reversed(rows))])
    return out.getvalue()


@pytest.mark.parametrize("how", ["crlf", "bom", "reorder"])
def test_the_same_rows_with_other_bytes_for_two_facilities_are_refused(harness: Harness, how: str) -> None:
    """The host serves one facility's rows to another with a byte changed around them: the same keys make
    them the same file, so neither loads (a report without Facility Code gives no other sign)."""
    first: dict[str, str] = {}

    def edit(job: Any, text: str) -> str:
        kept = first.setdefault(job.report.name, text)
        return text if kept is text else _varied(kept, how)
    harness.sim.jobs.edit_file = edit
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=["Return Invoices"], facilities=["BLR01", "DEL02"])
    assert len(raised.value.problems) == 2, raised.value.problems
    assert all("the same rows" in p for p in raised.value.problems)
    assert not harness.has_table("return_invoices") or harness.count("return_invoices") == 0


@pytest.mark.parametrize("export, scope", [
    ("Return Invoices", {"facilities": ["BLR01", "DEL02"]}),
    ("Sale Orders", {"facilities": ["BLR01"], **TWO_WINDOWS})], ids=["two-facilities", "two-windows"])
def test_the_same_rows_in_a_later_round_of_the_run_are_refused(harness: Harness, export: str,
                                                              scope: dict[str, Any]) -> None:
    """With `max_concurrent_jobs = 1` each job is its own round (its own package): the second job, served
    the first one's rows in another order, was compared by its bytes only and loaded, its own rows lost
    with exit 0 (red team helper 84, F3). The keys of the files loaded earlier in the run count too: the
    second is refused naming the first, which loaded; the next run exports it again."""
    first: dict[str, str] = {}

    def edit(job: Any, text: str) -> str:
        kept = first.setdefault(job.report.name, text)
        return text if kept is text else _varied(kept, "reorder")
    harness.sim.jobs.edit_file = edit
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=[export], max_concurrent_jobs=1, **scope)
    [problem] = raised.value.problems
    assert "the same rows" in problem and "loaded earlier in this run" in problem, problem
    [loaded] = _last(harness, "LOADED")
    [refused] = _last(harness, "INVALID_FILE")
    assert loaded.code in problem and refused.code != loaded.code
    table = "return_invoices" if export == "Return Invoices" else "sale_orders"
    assert {c for (c,) in harness.sql(f"SELECT DISTINCT _uniware_job_code FROM {{ds}}.{table}")} == {loaded.code}

    harness.sim.jobs.edit_file = None  # the host mends: the refused job's window or facility lands
    report = harness.run(exports=[export], max_concurrent_jobs=1, **scope)
    assert not report.problems
    assert (refused.facility, refused.query.start) in {(j.facility, j.query.start) for j in _last(harness, "LOADED")}


@pytest.mark.parametrize("updated_again", [True, False], ids=["updated-in-each-window", "the-same-rows"])
def test_orders_updated_in_two_windows_are_two_files_not_the_same_one(harness: Harness, updated_again: bool) -> None:
    """A low-volume facility: the same three order lines, updated again in the second window, make two
    files with the same keys. Both were refused as "the same file" on every run (a merchant stuck in
    the first hour); the keys' `Updated` now tells the files apart and the newest version lands. The same
    rows with the same `Updated` in both are still one file served twice."""
    kept: dict[str, list[list[str]]] = {}
    stamps: dict[str, str] = {}

    def edit(job: Any, text: str) -> str:
        rows = kept.setdefault("rows", list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))[:4])
        at = rows[0].index("Updated")
        # the same rows: alike in both files, one in the first window and two in the second (each window
        # holds some of them, the rest within its day of slack: which window the file is for cannot be told)
        first = int(datetime.fromisoformat(TWO_WINDOWS["backfill_start"]).timestamp())
        starts = [int(job.query.start or 0)] * 3 if updated_again else [first, first + 86400, first + 86400]
        moments = [datetime.fromtimestamp(start + 6 * 3600, ZoneInfo("Asia/Kolkata")).strftime("%Y-%m-%d %H:%M:%S")
                   for start in starts]
        stamps[job.code] = max(moments)
        out = io.StringIO()
        stamped = ([*r[:at], moment, *r[at + 1:]] for r, moment in zip(rows[1:], moments, strict=True))
        csv.writer(out, lineterminator="\n").writerows([rows[0], *stamped])
        return out.getvalue()
    harness.sim.jobs.edit_file = edit
    if not updated_again:
        with pytest.raises(ExportsFailed) as raised:
            harness.run(exports=["Sale Orders"], facilities=["BLR01"], **TWO_WINDOWS)
        assert len(raised.value.problems) == 2 and all("the same rows" in p for p in raised.value.problems)
        return
    harness.run(exports=["Sale Orders"], facilities=["BLR01"], **TWO_WINDOWS)
    assert len(_last(harness, "LOADED")) == 2
    newest = max(stamps.values())
    assert [str(u) for (u,) in harness.sql("SELECT DISTINCT strftime(updated AT TIME ZONE 'Asia/Kolkata', "
                                            "'%Y-%m-%d %H:%M:%S') FROM {ds}.sale_orders")] == [newest]
    assert harness.count("sale_orders") == 3


def test_an_abandoned_job_uniware_names_again_is_not_taken_over(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stuck job abandoned after job_expiry_hours, which a duplicate rule that ignores the job's name
    names again (100014) when its window is asked for anew: taken over as a job of this export (my first
    version), its old file loaded after newer windows and put stale rows back with exit 0 (red team
    helper 81, F1). Only a job of the window taken as empty is taken over as itself; this one is refused,
    and never loads."""
    import json

    from uniware_simulator import STUCK

    sim = harness.sim

    def unnamed(key: str) -> str:
        facility, body = json.loads(key)
        return json.dumps([facility, {k: v for k, v in body.items() if k != "reportName"}], sort_keys=True)
    monkeypatch.setattr(sim.jobs, "find_running_duplicate", lambda key: next(
        (j for j in sim.jobs.all() if unnamed(j.request_key) == unnamed(key) and not j.finished), None))
    first = iter(range(1, 100))
    sim.inject_job_fate(STUCK, times=1, match=lambda report, facility: next(first) == 1)
    settings: dict[str, Any] = {"exports": ["Sale Orders"], "facilities": ["BLR01"], "window_days": 1,
                                "lookback_days": 0, "start_date": "2026-04-13T12:00:00+05:30",
                                "job_timeout_seconds": 1, "job_expiry_hours": 2}
    with pytest.raises(ExportsFailed):
        harness.run(**settings)  # the first window's job is stuck: kept, the others load
    [stuck] = [j for j in sim.jobs.all() if j.terminal is None and not j.finished][:1]
    sim.clock.advance(timedelta(hours=8))
    with pytest.raises(ExportsFailed) as raised:
        harness.run(**settings)  # abandoned, its window asked for again: Uniware names the stuck job
    assert any(f"identical job {stuck.code} is already running (100014)" in p and "Not taken over" in p
               for p in raised.value.problems), raised.value.problems
    assert "ABANDONED" in _statuses(harness)[stuck.code] and "LOADED" not in _statuses(harness)[stuck.code]


def test_a_job_given_by_code_older_than_rows_loaded_since_is_said_and_mended(harness: Harness) -> None:
    """A Sale Orders job made on Uniware (its UI, a scheduled export), then days of incremental loads, then
    the job given by code: its file put the older versions of the orders changed since back, exit 0, and
    nothing said so (red team helper 83, F2). Uniware does not say when a job was made, and whether the
    table held newer versions is not asked of it, so a job of past days (most jobs given by code) still
    loads (refusing it never loaded one, red team helper 85, F1); its LOADED row and the log say its rows
    may be older than those loaded before, with the backfill that brings the newest back."""
    from tests.sim_client import PlainClient, sale_orders_body
    from uniware_source.catalog import CATALOG

    sim = harness.sim
    client = PlainClient(sim)
    client.login()
    now_ms = int(sim.clock.now().timestamp() * 1000)
    made_at = sim.clock.now()
    body = sale_orders_body(now_ms - 10 * 86400 * 1000, now_ms - 1, columns=list(CATALOG["Sale Orders"].columns))
    old = client.create(body, facility="BLR01").json()["jobCode"]
    assert client.wait(old)["status"] == "COMPLETE"
    sim.clock.advance(timedelta(days=2))  # orders change on the tenant; the daily runs load them
    settings: dict[str, Any] = {"exports": ["Sale Orders"], "facilities": ["BLR01"],
                                "start_date": (made_at - timedelta(days=10)).isoformat()}
    harness.run(**settings)
    rows = "SELECT sale_order_item_code, sale_order_item_status, updated FROM {ds}.sale_orders ORDER BY 1"
    newest = harness.sql(rows)
    assert harness.sql("SELECT COUNT(*) FROM {ds}.sale_orders WHERE updated > ?", made_at)[0][0] > 0
    assert not harness.run(**settings, job_codes={"Sale Orders": [old]}).problems
    [loaded] = [r["message"] for r in harness.history(old) if r["status"] == "LOADED"]
    assert "Uniware does not say when a job given by code was made" in loaded and "--start/--end" in loaded
    assert harness.sql(rows) != newest  # the older versions are back, as said
    harness.run(**settings, backfill_start=(made_at - timedelta(days=10)).isoformat(),
                backfill_end=sim.clock.now().isoformat())
    assert harness.sql(rows) == newest


def test_jobs_given_by_code_alone_are_compared_by_their_newest_rows(harness: Harness) -> None:
    """A pipeline that loads only jobs given by code (Uniware's scheduled exports): a newer one, then an
    older one. A job given by code recorded no time, so the older one's rows went back in unsaid (red team
    helper 85, F2); its newest row now stands for when it was made, for the jobs given after it."""
    from tests.sim_client import PlainClient, sale_orders_body
    from uniware_source.catalog import CATALOG

    sim = harness.sim
    client = PlainClient(sim)
    client.login()

    def made_now() -> str:
        now_ms = int(sim.clock.now().timestamp() * 1000)
        body = sale_orders_body(now_ms - 10 * 86400 * 1000, now_ms - 1, columns=list(CATALOG["Sale Orders"].columns))
        code = str(client.create(body, facility="BLR01").json()["jobCode"])
        assert client.wait(code)["status"] == "COMPLETE"
        return code

    old = made_now()
    sim.clock.advance(timedelta(days=2))
    new = made_now()
    for code in (new, old):
        assert not harness.run(exports=["Sale Orders"], job_codes={"Sale Orders": [code]}).problems
    [newer] = [r["message"] or "" for r in harness.history(new) if r["status"] == "LOADED"]
    [older] = [r["message"] or "" for r in harness.history(old) if r["status"] == "LOADED"]
    assert "Uniware does not say" not in newer and "Uniware does not say when a job given by code was made" in older


def test_a_refused_job_given_by_code_says_it_is_not_polled_again(harness: Harness) -> None:
    """A job given by code has no window: its refused file (here one without the export's key) said "the window
    is exported again next run", though no run polls it again (red team helper 121). It says what does."""
    from tests.sim_client import PlainClient, sale_orders_body
    from uniware_source.catalog import CATALOG

    client = PlainClient(harness.sim)
    client.login()
    now_ms = int(harness.sim.clock.now().timestamp() * 1000)
    columns = [c for c in CATALOG["Sale Orders"].columns if c != "soicode"]  # Sale Order Item Code, the key
    body = sale_orders_body(now_ms - 3 * 86400 * 1000, now_ms - 1, columns=columns)
    code = str(client.create(body).json()["jobCode"])
    assert client.wait(code)["status"] == "COMPLETE"
    settings: dict[str, Any] = {"exports": ["Sale Orders"], "facilities": ["BLR01"],
                                "job_codes": {"Sale Orders": [code]}}
    with pytest.raises(ExportsFailed) as failed:
        harness.run(**settings)
    problem = str(failed.value)
    last = harness.history(code)[-1]
    assert last["status"] == "PARSE_FAILED"
    refused = str(last["message"])
    for said in (problem, refused):
        assert "Sale Order Item Code" in said and "exported again" not in said
        assert "this job given by code is not polled again" in said and "--start/--end" in said
    seen = len(harness.history(code))
    assert not harness.run(**settings).problems  # as said: not polled, nothing refused again
    assert len(harness.history(code)) == seen
    assert not harness.has_table("sale_orders") or harness.sql("SELECT COUNT(*) FROM {ds}.sale_orders") == [(0,)]


@pytest.mark.parametrize("shift", [-1, 1], ids=["day-before", "day-after"])
@pytest.mark.parametrize("export", ["Sale Orders", APPEND_LOG], ids=["merge", "append"])
def test_each_window_served_the_file_of_the_window_before_loads_none(
        uniware_simulator: UniwareSimulator, tmp_path: Path, export: Any, shift: int) -> None:
    """A backfill of three one-day windows whose file host serves each job the file of the day before (or
    after; all files differ, and every row is within the day of slack): exit 0 loaded a day outside the
    backfill and lost one of its own. No row of such a file falls in its window: all before it, or all
    after it though from before the job was made (rows updated after Uniware's query would be later):
    each job is OUT_OF_WINDOW, nothing loads, and the windows load their own rows once the host mends."""
    sim = uniware_simulator
    days: dict[str, Any] = {"window_days": 1, "exports": [export], "facilities": ["BLR01"]}
    earlier = Harness(sim, tmp_path / "earlier")  # another pipeline, to get the files of the days before
    earlier.run(**days, backfill_start="2026-04-11T00:00:00+05:30", backfill_end="2026-04-14T00:00:00+05:30")
    by_start = {job.query.start or 0: job.file.path.read_text(encoding="utf-8") for job in sim.jobs.all() if job.file}
    assert len(by_start) == 3
    sim.jobs.edit_file = lambda job, text: by_start.get((job.query.start or 0) + shift * 86400, text)  # epoch s
    harness = Harness(sim, tmp_path / "shifted")
    first, last = (12, 15) if shift < 0 else (10, 13)
    backfill: dict[str, Any] = {"backfill_start": f"2026-04-{first}T00:00:00+05:30",
                                "backfill_end": f"2026-04-{last}T00:00:00+05:30"}
    with pytest.raises(ExportsFailed) as raised:
        harness.run(**days, **backfill)
    assert len(raised.value.problems) == 3, raised.value.problems
    side = "all before the window" if shift < 0 else "all after (from before the job was made"
    assert all("no row of the file falls in its window" in p and side in p
               for p in raised.value.problems), raised.value.problems
    table = "orders_log" if isinstance(export, dict) else "sale_orders"
    assert not harness.has_table(table) or harness.count(table) == 0
    sim.jobs.edit_file = None  # the host mends: each window gets its own rows
    harness.run(**days, **backfill)
    assert harness.count(table) > 0


def test_a_job_given_by_code_whose_file_lacks_a_loaded_column_is_refused(harness: Harness) -> None:
    """A job given by code has no facility of its own (Sale Orders): the check for a requested column the file
    lacks read that facility's labels, found none, and loaded the file, emptying `tracking_number` in the rows
    it replaced (red team helper 125). A job without a facility is held to what any earlier file had."""
    from tests.sim_client import PlainClient, sale_orders_body
    from uniware_source.catalog import CATALOG

    settings: dict[str, Any] = {"exports": ["Sale Orders"], "facilities": ["BLR01"]}
    harness.run(**settings)
    count = "SELECT COUNT(*), COUNT(tracking_number) FROM {ds}.sale_orders"
    before = harness.sql(count)
    client = PlainClient(harness.sim)
    client.login()
    now_ms = int(harness.sim.clock.now().timestamp() * 1000)
    columns = [c for c in CATALOG["Sale Orders"].columns if c != "TrackingNumber"]
    body = sale_orders_body(now_ms - 3 * 86400 * 1000, now_ms - 1, columns=columns)
    code = str(client.create(body).json()["jobCode"])
    assert client.wait(code)["status"] == "COMPLETE"
    with pytest.raises(ExportsFailed) as raised:
        harness.run(**settings, job_codes={"Sale Orders": [code]})
    [problem] = raised.value.problems
    assert "the file lacks 'Tracking Number' (column id TrackingNumber)" in problem
    assert "had 'Tracking Number'" in problem and "for this facility" not in problem
    assert harness.sql(count) == before
