"""Incremental, resumable, exactly-once: cursors, lookback merges, failures, resume, backfill."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any, Optional

import pytest

from tests.simulator_fixtures import TEST_NOW
from uniware_simulator import FAIL, STUCK, UniwareSimulator
from uniware_source import ExportsFailed

from .harness import SALE_ORDERS_FULL, Harness

START = TEST_NOW - timedelta(days=10)


@pytest.fixture
def harness(uniware_simulator: UniwareSimulator, tmp_path: Path) -> Harness:
    return Harness(uniware_simulator, tmp_path)


def sale_order_rows(harness: Harness) -> dict[str, tuple[Any, ...]]:
    rows = harness.sql("SELECT sale_order_item_code, sale_order_item_status, updated, selling_price "
                       "FROM {ds}.sale_orders")
    keys = Counter(r[0] for r in rows)
    assert max(keys.values()) == 1, "duplicate keys"
    return {r[0]: r[1:] for r in rows}


def truth_rows(sim: UniwareSimulator, at_offset: timedelta = timedelta(0),
               facility: Optional[str] = None) -> dict[str, tuple[Any, ...]]:
    """Every item updated in [START, now) as the tenant has it at now + `at_offset`."""
    just_before = sim.clock.now() - timedelta(seconds=1)
    return {r["Sale Order Item Code"]: (r["Sale Order Item Status"], r["Updated"], r["Selling Price"])
            for r in sim.truth("Sale Orders", facility=facility, date_filter="updatedOn", start=START,
                               end=just_before, at=sim.clock.now() + at_offset)}


def assert_table_is_the_truth(harness: Harness, facility: Optional[str] = None) -> dict[str, tuple[Any, ...]]:
    """The table holds every item updated in [START, now) as the tenant has it now: no gap, no duplicate,
    nothing stale. Windows are half-open, so an item that changed exactly at `now` is not in this run's
    export; the table keeps the version an earlier run loaded, and the next run takes the change."""
    table = sale_order_rows(harness)
    current = truth_rows(harness.sim, facility=facility)
    assert {k: table.get(k) for k in current} == current
    boundary = set(table) - set(current)
    if boundary:
        earlier = truth_rows(harness.sim, at_offset=-timedelta(seconds=1), facility=facility)
        assert {k: table[k] for k in boundary} == {k: earlier[k] for k in boundary}
    return table


def assert_history_exactly_once(harness: Harness) -> None:
    rows = harness.history()
    ids = Counter(r["event_id"] for r in rows)
    assert max(ids.values()) == 1
    by_job: dict[str, list[int]] = {}
    for row in rows:
        if row["job_code"]:
            by_job.setdefault(row["job_code"], []).append(row["seq"])
    for job, seqs in by_job.items():
        assert sorted(seqs) == list(range(1, len(seqs) + 1)), job


def test_second_run_without_changes_adds_no_rows_and_only_needed_jobs(harness: Harness) -> None:
    harness.run(exports=[SALE_ORDERS_FULL], start_date=START.isoformat())
    first = sale_order_rows(harness)
    cursors = harness.cursors("sale_orders")
    assert set(cursors) == {"BLR01", "DEL02", "MUM03"}
    assert all(c == TEST_NOW.isoformat() for c in cursors.values())
    created = harness.sim.requests.count("create")
    assert created == 3  # one 10-day window per facility
    harness.run(exports=[SALE_ORDERS_FULL], start_date=START.isoformat())
    assert sale_order_rows(harness) == first
    second_run = harness.sim.requests.where("create")[created:]
    assert len(second_run) == 3  # the lookback window of each facility, nothing else
    for request in second_run:
        window = request.body["exportFilters"][0]["dateRange"]
        assert window["end"] - window["start"] == 2 * 86400 * 1000 - 1
    assert_history_exactly_once(harness)


def test_tenant_changes_merge_to_the_truth_without_duplicates_or_gaps(harness: Harness) -> None:
    harness.run(exports=[SALE_ORDERS_FULL], start_date=START.isoformat())
    assert_table_is_the_truth(harness)
    for days in (1, 3):
        before = sale_order_rows(harness)
        harness.sim.clock.advance(timedelta(days=days))
        harness.run(exports=[SALE_ORDERS_FULL], start_date=START.isoformat())
        after = assert_table_is_the_truth(harness)
        changed = [k for k in before if after[k][0] != before[k][0]]
        assert len(set(after) - set(before)) > 100 and len(changed) > 100  # new orders and status updates
    assert_history_exactly_once(harness)


def test_failed_job_keeps_the_cursor_and_the_next_run_loads_the_gap(harness: Harness) -> None:
    harness.run(exports=[SALE_ORDERS_FULL], start_date=START.isoformat())
    cursors = harness.cursors("sale_orders")
    harness.sim.clock.advance(timedelta(days=1))
    harness.sim.inject_job_fate(FAIL, message="Export queue hiccup", match=lambda report, facility: facility == "DEL02")
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=[SALE_ORDERS_FULL], start_date=START.isoformat())
    problem = raised.value.problems[0]
    failed_job = next(j for j in harness.sim.jobs.all() if j.terminal == "FAILED")
    for part in ("Sale Orders", "facility DEL02", "window 2026-04-14 12:00 to 2026-04-17 12:00 IST",
                 failed_job.code, "FAILED", "Export queue hiccup"):
        assert part in problem
    after = harness.cursors("sale_orders")
    assert after["DEL02"] == cursors["DEL02"]
    assert after["BLR01"] != cursors["BLR01"] and after["MUM03"] != cursors["MUM03"]  # the others loaded
    history = harness.history(failed_job.code)
    assert [r["status"] for r in history] == ["CREATED", "SCHEDULED", "FAILED"]
    assert history[-1]["message"] == "Export queue hiccup"
    # the queue recovers: the next run exports the gap of DEL02 and the table equals the truth
    harness.run(exports=[SALE_ORDERS_FULL], start_date=START.isoformat())
    assert harness.cursors("sale_orders")["DEL02"] == harness.sim.clock.now().isoformat()
    assert_table_is_the_truth(harness)
    assert_history_exactly_once(harness)


def test_a_window_that_still_waits_does_not_cost_the_next_run_its_lookback(harness: Harness) -> None:
    """By creation date (`addedOn`), only the lookback exports a row again when it changes: the run after
    a failed window looks back over the days before it, as it would had the window loaded."""
    sale_orders = {**SALE_ORDERS_FULL, "date_filter": "addedOn"}
    settings: dict[str, Any] = {"exports": [sale_orders], "facilities": ["DEL02"], "window_days": 1,
                                "lookback_days": 2, "start_date": (TEST_NOW - timedelta(days=3)).isoformat()}
    harness.run(**settings)
    t0 = harness.sim.clock.now()
    harness.sim.clock.advance(timedelta(days=1))
    creates = iter(range(1, 100))
    harness.sim.inject_job_fate(FAIL, match=lambda report, facility: next(creates) == 3)  # [t0, t0 + 1 day)
    with pytest.raises(ExportsFailed):
        harness.run(**settings)
    assert harness.cursors("sale_orders")["DEL02"] == t0.isoformat()
    made = harness.sim.requests.count("create")
    harness.sim.clock.advance(timedelta(days=1))
    harness.run(**settings)
    windows = sorted((r.body["exportFilters"][0]["dateRange"]["start"], r.body["exportFilters"][0]["dateRange"]["end"])
                     for r in harness.sim.requests.where("create")[made:])
    day_ms = 86400 * 1000
    t0_ms = int(t0.timestamp() * 1000)
    assert windows == [(t0_ms + k * day_ms, t0_ms + (k + 1) * day_ms - 1) for k in (-1, 0, 1)]
    # the orders made the day before t0 as the tenant has them now, changes of the last day included
    looked_back = {r["Sale Order Item Code"]: (r["Sale Order Item Status"], r["Updated"])
                   for r in harness.sim.truth("Sale Orders", facility="DEL02", date_filter="addedOn",
                                              start=t0 - timedelta(days=1), end=t0 - timedelta(seconds=1))}
    before = {r["Sale Order Item Code"]: r["Updated"]
              for r in harness.sim.truth("Sale Orders", facility="DEL02", date_filter="addedOn",
                                         start=t0 - timedelta(days=1), end=t0 - timedelta(seconds=1),
                                         at=harness.sim.clock.now() - timedelta(days=1))}
    assert sum(before[k] != v[1] for k, v in looked_back.items()) > 10  # they changed since the last run
    table = {r[0]: (r[1], r[2]) for r in harness.sql(
        "SELECT sale_order_item_code, sale_order_item_status, updated FROM {ds}.sale_orders")}
    assert {k: table.get(k) for k in looked_back} == looked_back
    assert_history_exactly_once(harness)


def test_the_lookback_never_reaches_before_start_date(harness: Harness) -> None:
    """`lookback_days` longer than the time since start_date: the run after a first run exported from before
    start_date (rows nobody asked for in the table; after a first run whose creates all failed, a 53-minute
    window before start_date; red team helper 106). The lookback stops where the facility's loads began."""
    start = TEST_NOW - timedelta(days=1)
    settings: dict[str, Any] = {"exports": [SALE_ORDERS_FULL], "facilities": ["DEL02"], "window_days": 1,
                                "lookback_days": 3, "start_date": start.isoformat()}
    harness.sim.inject_job_fate(FAIL, times=None)
    with pytest.raises(ExportsFailed):
        harness.run(**settings)
    harness.sim.clock.advance(timedelta(hours=1))
    with pytest.raises(ExportsFailed):
        harness.run(**settings)  # every window waits: only the lookback's days before them were new
    harness.sim.faults.clear()
    harness.sim.clock.advance(timedelta(hours=1))
    harness.run(**settings)
    harness.sim.clock.advance(timedelta(hours=5))
    harness.run(**settings)  # after loads: the cursor minus the lookback is before start_date too
    start_ms = int(start.timestamp() * 1000)
    starts = [r.body["exportFilters"][0]["dateRange"]["start"] for r in harness.sim.requests.where("create")]
    assert len(starts) > 4 and min(starts) == start_ms, [s - start_ms for s in starts]
    assert not harness.sql("SELECT 1 FROM {ds}.sale_orders WHERE updated < ?", start)


def test_a_long_wait_says_every_minute_that_the_job_still_waits(harness: Harness) -> None:
    """Off a terminal a status change is one line; a job whose status does not change for minutes
    gets a line a minute (job code, status, time waited, polls), and no history row."""
    lines: list[logging.LogRecord] = []

    class Kept(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record)

    handler = Kept(logging.INFO)
    poll_log = logging.getLogger("uniware_source.jobs.poll")
    poll_log.addHandler(handler)
    level = poll_log.level
    poll_log.setLevel(logging.INFO)
    harness.sim.inject_job_fate(STUCK, match=lambda report, facility: facility == "MUM03")
    try:
        with pytest.raises(ExportsFailed):
            harness.run(exports=[SALE_ORDERS_FULL], start_date=START.isoformat(), job_timeout_seconds=250,
                        poll_initial_seconds=5, poll_max_seconds=20)
    finally:
        poll_log.removeHandler(handler)
        poll_log.setLevel(level)
    stuck = next(j for j in harness.sim.jobs.all() if j.facility == "MUM03")
    waiting = [r.getMessage() for r in lines if "still" in r.getMessage()]
    assert 3 <= len(waiting) <= 4, waiting  # 250 s: a line after each minute
    assert all(m.startswith(f"job {stuck.code}: still SCHEDULED after ") for m in waiting), waiting
    polls = [int(m.rsplit("(poll ", 1)[1].rstrip(")")) for m in waiting]
    assert polls == sorted(set(polls))
    assert waiting[-1].split(" after ")[1].startswith(("3 min", "4 min"))
    assert [r["status"] for r in harness.history(stuck.code)] == ["CREATED", "SCHEDULED", "TIMED_OUT"]


def test_a_kept_job_that_finishes_after_a_newer_one_loaded_is_exported_again_not_loaded(harness: Harness) -> None:
    """A job kept past its deadline holds a picture of the rows from when it was asked for; a job asked
    for later loaded meanwhile. Merging the old file would put older versions of rows back (a merge on
    the key ignores `Updated` across loads): SUPERSEDED, nothing of it loaded, its window exported again."""
    sim = harness.sim
    sim.inject_job_fate(STUCK, times=1, match=lambda report, facility: facility == "BLR01")
    one: dict[str, Any] = {"exports": [SALE_ORDERS_FULL], "facilities": ["BLR01"], "start_date": START.isoformat()}
    with pytest.raises(ExportsFailed):
        harness.run(**one, job_timeout_seconds=30)
    [stale] = sim.jobs.all()
    sim.clock.advance(timedelta(days=1))
    with pytest.raises(ExportsFailed):  # the kept job is still stuck; the newer window's job loads
        harness.run(**one, job_timeout_seconds=30)
    newer = [j for j in sim.jobs.all() if j.code != stale.code]
    assert newer and all(harness.history(j.code)[-1]["status"] == "LOADED" for j in newer)
    sim.release_stuck_jobs()
    sim.jobs.edit_file = lambda job, text: text.replace(",DISPATCHED,", ",STALE,") if job.code == stale.code else text
    harness.run(**one)
    assert harness.history(stale.code)[-1]["status"] == "SUPERSEDED"
    assert harness.query("SELECT COUNT(*) FROM {ds}.sale_orders WHERE sale_order_status = 'STALE' "
                         "OR sale_order_item_status = 'STALE'") == [(0,)]
    sim.jobs.edit_file = None
    sim.clock.advance(timedelta(hours=1))
    harness.run(**one)  # the stale job's window, exported again, loads
    assert_table_is_the_truth(harness, facility="BLR01")



def test_job_past_the_deadline_is_kept_and_polled_again_next_run(harness: Harness) -> None:
    harness.sim.inject_job_fate(STUCK, match=lambda report, facility: facility == "MUM03")
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=[SALE_ORDERS_FULL], start_date=START.isoformat(), job_timeout_seconds=30)
    stuck = next(j for j in harness.sim.jobs.all() if j.facility == "MUM03")
    assert "facility MUM03" in raised.value.problems[0] and stuck.code in raised.value.problems[0]
    assert "still SCHEDULED after" in raised.value.problems[0]
    assert harness.cursors("sale_orders")["MUM03"] == START.isoformat()
    assert [r["status"] for r in harness.history(stuck.code)] == ["CREATED", "SCHEDULED", "TIMED_OUT"]
    assert harness.clock.sleeps and max(harness.clock.sleeps) <= 0.05  # backoff capped, waits injected
    harness.sim.release_stuck_jobs()
    harness.run(exports=[SALE_ORDERS_FULL], start_date=START.isoformat())
    mum03 = [r for r in harness.sim.requests.where("create") if r.header("Facility") == "MUM03"]
    assert len(mum03) == 1  # the same job was polled again, not created anew
    assert [r["status"] for r in harness.history(stuck.code)] == [
        "CREATED", "SCHEDULED", "TIMED_OUT", "IN_PROGRESS", "COMPLETE", "LOADED"]
    assert_table_is_the_truth(harness)
    assert_history_exactly_once(harness)


def test_job_expiry_abandons_a_job_and_exports_its_window_again(harness: Harness) -> None:
    harness.sim.inject_job_fate(STUCK, match=lambda report, facility: facility == "BLR01")
    with pytest.raises(ExportsFailed):
        harness.run(exports=[SALE_ORDERS_FULL], facilities=["BLR01"], start_date=START.isoformat(),
                    job_timeout_seconds=5)
    stuck = harness.sim.jobs.all()[0]
    harness.sim.clock.advance(timedelta(hours=30))
    harness.run(exports=[SALE_ORDERS_FULL], facilities=["BLR01"], start_date=START.isoformat())
    statuses = [r["status"] for r in harness.history(stuck.code)]
    assert statuses[-1] == "ABANDONED"
    assert harness.sim.requests.count("create") == 3  # the stuck job, its replacement, the new window
    assert_table_is_the_truth(harness, facility="BLR01")


def test_backfill_splits_into_windows_and_leaves_the_cursor_alone(harness: Harness) -> None:
    harness.run(exports=[SALE_ORDERS_FULL], facilities=["BLR01"], start_date=START.isoformat())
    cursors = harness.cursors("sale_orders")
    creates = harness.sim.requests.count("create")
    begin, end = TEST_NOW - timedelta(days=90), TEST_NOW - timedelta(days=5)
    harness.run(exports=[SALE_ORDERS_FULL], facilities=["BLR01"], backfill_start=begin.isoformat(),
                backfill_end=end.isoformat())
    backfill = harness.sim.requests.where("create")[creates:]
    ranges = sorted((r.body["exportFilters"][0]["dateRange"]["start"], r.body["exportFilters"][0]["dateRange"]["end"])
                    for r in backfill)
    assert len(ranges) == 3 and all(b - a <= 30 * 86400 * 1000 for a, b in ranges)
    assert ranges[0][0] == int(begin.timestamp() * 1000) and ranges[-1][1] == int(end.timestamp() * 1000) - 1
    assert all(ranges[i][1] + 1 == ranges[i + 1][0] for i in range(2))  # contiguous, no overlap
    assert harness.cursors("sale_orders") == cursors
    loaded = sale_order_rows(harness)
    truth = harness.sim.truth("Sale Orders", facility="BLR01", date_filter="updatedOn", start=begin,
                              end=end - timedelta(seconds=1))
    assert all(r["Sale Order Item Code"] in loaded for r in truth)
    assert {r["window_kind"] for r in harness.history() if r["status"] == "LOADED"} == {"incremental", "backfill"}


def test_concurrency_cap_runs_rounds_until_every_window_loaded(harness: Harness) -> None:
    report = harness.run(exports=["Sale Orders", "Return Invoices"], max_concurrent_jobs=2, window_days=5,
                         start_date=START.isoformat())
    assert harness.sim.jobs.peak_unfinished <= 2
    assert report.exports["sale_orders"].jobs_loaded == 6 and report.exports["return_invoices"].jobs_loaded == 6
    assert all(c == TEST_NOW.isoformat() for c in harness.cursors("sale_orders").values())
    assert harness.ledger_entries("sale_orders") == []


def test_windows_a_run_leaves_without_a_job_are_no_success(harness: Harness,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that stops with planned windows still waiting for a job slot (here after 2 rounds of one job
    each, for 3 windows) exited 0, the last windows never exported (red team helper 83, F1: after 50 rounds,
    a first load of many windows at max_concurrent_jobs). Now it is a problem of the run, and the next run
    exports them."""
    from uniware_source.pipeline_run import resumable

    monkeypatch.setattr(resumable, "MAX_ROUNDS", 2)
    settings: dict[str, Any] = {"exports": ["Return Invoices"], "facilities": ["BLR01"], "max_concurrent_jobs": 1,
                                "window_days": 4, "start_date": (TEST_NOW - timedelta(days=12)).isoformat()}
    with pytest.raises(ExportsFailed) as raised:
        harness.run(**settings)
    [problem] = raised.value.problems
    assert "1 planned window(s) got no job in this run" in problem and "the next run exports them" in problem
    assert len(harness.sim.jobs.all()) == 2 and harness.cursors("return_invoices") != {"BLR01": TEST_NOW.isoformat()}
    monkeypatch.undo()
    assert not harness.run(**settings).problems
    assert len(harness.sim.jobs.all()) == 3
    assert harness.cursors("return_invoices") == {"BLR01": TEST_NOW.isoformat()}


def test_plain_dlt_run_of_the_source_works_too(harness: Harness) -> None:
    from uniware_source import uniware_source

    source = uniware_source(phase="all", clock=harness.clock, exports=["Return Invoices"], facilities=["BLR01"],
                            **{k: v for k, v in harness.settings().items() if k != "download_dir"})
    harness.pipeline.run(source)
    served = sum(j.file.rows for j in harness.sim.jobs.all() if j.file)
    assert harness.count("return_invoices") == served > 0
    # LOADED waits in state until the package with the rows has loaded: the next run carries it
    assert [r["status"] for r in harness.history()] == ["CREATED", "SCHEDULED", "IN_PROGRESS", "COMPLETE"]
    settings = {k: v for k, v in harness.settings().items() if k != "download_dir"}
    harness.pipeline.run(uniware_source(phase="history", clock=harness.clock, exports=["Return Invoices"],
                                        facilities=["BLR01"], **settings))
    assert [r["status"] for r in harness.history()] == ["CREATED", "SCHEDULED", "IN_PROGRESS", "COMPLETE", "LOADED"]


def test_stuck_jobs_filling_the_cap_do_not_make_the_run_wait_again_and_again(harness: Harness) -> None:
    harness.sim.inject_job_fate(STUCK, times=None)
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=["Return Invoices"], facilities=["BLR01"], max_concurrent_jobs=1, window_days=5,
                    start_date=START.isoformat(), job_timeout_seconds=10)
    [job] = harness.sim.jobs.all()  # the cap was full: no second job while the first is pending
    assert len(raised.value.problems) == 1 and job.code in raised.value.problems[0]
    assert [r["status"] for r in harness.history(job.code)] == ["CREATED", "SCHEDULED", "TIMED_OUT"]
    assert len([e for e in harness.ledger_entries("return_invoices") if not e["job_code"]]) == 1  # still planned


def test_a_resumed_run_fills_the_slots_its_finished_jobs_free(harness: Harness) -> None:
    harness.sim.inject_job_fate(STUCK, times=2)
    with pytest.raises(ExportsFailed):  # two windows' jobs stay pending, the third waits for a slot
        harness.run(exports=["Return Invoices"], facilities=["BLR01"], max_concurrent_jobs=2, window_days=4,
                    start_date=(TEST_NOW - timedelta(days=12)).isoformat(), job_timeout_seconds=10)
    assert len(harness.sim.jobs.all()) == 2
    harness.sim.release_stuck_jobs()
    harness.run(exports=["Return Invoices"], facilities=["BLR01"], max_concurrent_jobs=2, window_days=4,
                start_date=(TEST_NOW - timedelta(days=12)).isoformat())
    assert len(harness.sim.jobs.all()) == 3  # the two resumed jobs finished, then the third window ran
    assert harness.ledger_entries("return_invoices") == []
    assert harness.cursors("return_invoices") == {"BLR01": TEST_NOW.isoformat()}


def test_a_kept_tenant_snapshot_job_that_finishes_after_a_newer_one_under_another_facility_is_not_loaded(
        harness: Harness) -> None:
    """Item Master is one job for the tenant, run under one facility. A job kept past its deadline under
    BLR01, then a newer one under DEL02 (the facilities changed) that loaded: when the old job finishes,
    its older picture of the whole table must not replace the newer one (it did, exit 0)."""
    sim = harness.sim
    sim.inject_job_fate(STUCK, times=1, match=lambda report, facility: report == "Item Master")
    with pytest.raises(ExportsFailed):
        harness.run(exports=["Item Master"], facilities=["BLR01"], job_timeout_seconds=30)
    [stale] = sim.jobs.all()
    sim.clock.advance(timedelta(hours=1))
    harness.run(exports=["Item Master"], facilities=["DEL02"])  # the kept job is set aside; a new one loads
    newer = [j for j in sim.jobs.all() if j.code != stale.code]
    assert len(newer) == 1 and harness.history(newer[0].code)[-1]["status"] == "LOADED"
    picture = sorted(harness.sql("SELECT product_code, _uniware_job_code FROM {ds}.item_master"))
    sim.release_stuck_jobs()
    sim.clock.advance(timedelta(hours=1))
    harness.run(exports=["Item Master"], facilities=["DEL02", "BLR01"])  # the kept job's facility: it resumes
    assert harness.history(stale.code)[-1]["status"] == "SUPERSEDED"
    assert sorted(harness.sql("SELECT product_code, _uniware_job_code FROM {ds}.item_master")) == picture


def test_a_tenant_snapshot_job_abandoned_under_a_facility_listed_second_is_made_again_there(
        harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """Item Master's kept job under BLR01 expires while the facilities are listed DEL02 first: the window
    is exported again in that run under the same facility, nothing is set aside, and no line says a
    configured facility is not configured."""
    sim = harness.sim
    sim.inject_job_fate(STUCK, times=1, match=lambda report, facility: report == "Item Master")
    with pytest.raises(ExportsFailed):
        harness.run(exports=["Item Master"], facilities=["BLR01", "DEL02"], job_timeout_seconds=30)
    [stale] = sim.jobs.all()
    sim.clock.advance(timedelta(hours=30))  # past the job's expiry: abandoned, made again
    caplog.set_level(logging.INFO)
    harness.run(exports=["Item Master"], facilities=["DEL02", "BLR01"])
    assert "set aside" not in caplog.text
    newer = [j for j in sim.jobs.all() if j.code != stale.code]
    assert len(newer) == 1 and harness.history(newer[0].code)[-1]["status"] == "LOADED"
    assert newer[0].facility == "BLR01"  # where the window was: the run under DEL02 would set it aside


def test_jobs_of_facilities_disabled_since_hold_no_job_slot(harness: Harness) -> None:
    """Every enabled facility (`facilities` unset): jobs of DEL02 and MUM03, then both disabled in Uniware.
    Their jobs are set aside, but still counted against max_concurrent_jobs: BLR01 never got another job,
    and each run said its windows would be exported next run (red team helper 85, F3)."""
    import dataclasses

    sim = harness.sim
    harness.run(mode="submit", exports=["Sale Orders"], max_concurrent_jobs=3)
    assert sorted(j.facility for j in sim.jobs.all()) == ["BLR01", "DEL02", "MUM03"]
    sim.tenant.facilities = tuple(dataclasses.replace(f, enabled=f.code == "BLR01") for f in sim.tenant.facilities)
    sim.tenant._enabled = ("BLR01",)
    for _ in range(2):
        sim.clock.advance(timedelta(hours=6))
        assert not harness.run(exports=["Sale Orders"], max_concurrent_jobs=2).problems
    assert harness.cursors("sale_orders")["BLR01"] == sim.clock.now().isoformat()
    assert [j.facility for j in sim.jobs.all()].count("BLR01") >= 3
