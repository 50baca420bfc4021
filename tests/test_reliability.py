"""Faults at every phase end in exact data or one clear error: never loss, duplicates or a retry loop."""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any, Optional, cast

import pytest

from tests.simulator_fixtures import TEST_NOW, fast_config
from uniware_simulator import (
    CANCEL,
    DELAY,
    ERROR,
    EXPIRE_TOKENS,
    FAIL,
    HTML,
    HTTP_ERROR,
    MISADDRESSED,
    NO_FILE,
    RESET,
    STUCK,
    TRUNCATE,
    UNSEEN,
    UNSUCCESSFUL,
    WITH_ERRORS,
    WITH_MESSAGE,
    WITH_WARNINGS,
    JobTiming,
    UniwareSimulator,
)
from uniware_source import AuthError, ConfigError, ExportsFailed
from uniware_source.catalog import CATALOG
from uniware_source.jobs.workers import JobTicket, file_stem
from uniware_source.problems import explain

from .harness import Harness

RETURNS: list[Any] = ["Return Invoices"]


@pytest.fixture
def harness(uniware_simulator: UniwareSimulator, tmp_path: Path) -> Harness:
    return Harness(uniware_simulator, tmp_path)


def assert_loaded_once(harness: Harness, table: str = "return_invoices", jobs: Optional[int] = None) -> None:
    served = [j for j in harness.sim.jobs.all() if j.file is not None]
    if jobs is not None:
        assert len(harness.sim.jobs.all()) == jobs, "a job too many was left behind"
    assert harness.count(table) == sum(j.file.rows for j in served if j.file) > 0
    assert len({r["event_id"] for r in harness.history()}) == len(harness.history())


TRANSIENT = [
    pytest.param({"action": HTTP_ERROR, "status": 429, "retry_after": 1}, id="429"),
    pytest.param({"action": HTTP_ERROR, "status": 500}, id="500"),
    pytest.param({"action": HTTP_ERROR, "status": 502}, id="502"),
    pytest.param({"action": HTTP_ERROR, "status": 503}, id="503"),
    pytest.param({"action": RESET}, id="reset"),
    pytest.param({"action": DELAY, "seconds": 0.6}, id="read-timeout"),
]


@pytest.mark.parametrize("endpoint", ["token", "create", "status", "download"])
@pytest.mark.parametrize("fault", TRANSIENT)
def test_transient_fault_then_success_loads_exactly_once(harness: Harness, endpoint: str,
                                                         fault: dict[str, Any]) -> None:
    injected = harness.sim.inject(endpoint, times=1, **fault)
    report = harness.run(exports=RETURNS, facilities=["BLR01"], read_timeout_seconds=0.3)
    assert injected.fired == 1
    assert not report.problems
    if endpoint == "create" and fault["action"] == DELAY:
        # the first create is answered late: the retry may reach Uniware before it, and when the retry's
        # job has finished by then, Uniware makes the late one a job of its own (no duplicate to name).
        # That job is never taken: the connector loads the one job it was given, once
        [loaded] = {code for (code,) in harness.sql("SELECT DISTINCT _uniware_job_code FROM {ds}.return_invoices")}
        [job] = [j for j in harness.sim.jobs.all() if j.code == loaded]
        assert job.file is not None and harness.count("return_invoices") == job.file.rows > 0
        assert len(harness.sim.jobs.all()) <= 2
    else:
        assert_loaded_once(harness, jobs=1)
    assert harness.sim.requests.count(endpoint) >= 2  # the failed attempt and the retry


@pytest.mark.parametrize("fault", [
    pytest.param({"action": HTTP_ERROR, "status": 500}, id="500"),
    pytest.param({"action": HTTP_ERROR, "status": 502}, id="502"),
    pytest.param({"action": RESET}, id="reset"),
    pytest.param({"action": DELAY, "seconds": 0.6}, id="read-timeout"),
])
def test_create_whose_answer_was_lost_is_reconciled_not_duplicated(harness: Harness, fault: dict[str, Any]) -> None:
    harness.sim.inject("create", after_processing=True, times=1, **fault)
    harness.run(exports=RETURNS, facilities=["BLR01"], read_timeout_seconds=0.3)
    [job] = harness.sim.jobs.all()  # the retry did not create a second job
    assert harness.sim.requests.count("create") == 2
    created = harness.history(job.code)[0]
    assert created["status"] == "CREATED" and "already running" in created["message"]
    assert_loaded_once(harness, jobs=1)


@pytest.mark.parametrize("refresh_too", [False, True], ids=["refresh-grant", "password-fallback"])
def test_token_expiry_while_polling_renews_and_carries_on(tmp_path: Path, refresh_too: bool) -> None:
    timing = JobTiming(seconds_per_status=(0, 0), min_polls_per_status=3)
    with UniwareSimulator(fast_config(timing=timing, files_dir=tmp_path / "sim")) as sim:
        harness = Harness(sim, tmp_path)
        sim.inject("status", action=EXPIRE_TOKENS, refresh_too=refresh_too)
        harness.run(exports=RETURNS, facilities=["DEL02"])
        grants = [r.query.get("grant_type") for r in sim.requests.where("token")]
        assert grants == (["password", "refresh_token", "password"] if refresh_too else ["password", "refresh_token"])
        statuses = [r for r in sim.requests.where("status")]
        assert len(statuses) >= 7  # kept polling after the 401
        assert_loaded_once(harness, jobs=1)


def test_truncated_download_is_resumed_with_a_range_request(harness: Harness) -> None:
    harness.sim.inject("download", action=TRUNCATE, fraction=0.4)
    harness.run(exports=RETURNS, facilities=["BLR01"])
    downloads = harness.sim.requests.where("download")
    assert len(downloads) == 2 and downloads[1].header("Range", ).startswith("bytes=")  # type: ignore[union-attr]
    [job] = harness.sim.jobs.all()
    assert job.file is not None
    [loaded] = [r for r in harness.history(job.code) if r["status"] == "LOADED"]
    assert loaded["file_sha256"] == hashlib.sha256(job.file.path.read_bytes()).hexdigest()
    assert loaded["file_bytes"] == job.file.bytes
    assert_loaded_once(harness, jobs=1)


@pytest.mark.parametrize("fate", [FAIL, CANCEL, ERROR])
def test_failed_jobs_are_reported_and_the_others_still_load(harness: Harness, fate: str) -> None:
    harness.sim.inject_job_fate(fate, message=f"Uniware says: job {fate.lower()}",
                                match=lambda report, facility: facility == "DEL02")
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=RETURNS, facilities=["BLR01", "DEL02"])
    failed = next(j for j in harness.sim.jobs.all() if j.facility == "DEL02")
    [problem] = raised.value.problems
    for part in ("Return Invoices", "facility DEL02", failed.code, f"Uniware reported {fate}",
                 f"Uniware says: job {fate.lower()}"):
        assert part in problem
    assert harness.history(failed.code)[-1]["status"] == fate
    assert harness.sql("SELECT COUNT(*) FROM {ds}.return_invoices WHERE _uniware_facility = 'DEL02'") == [(0,)]
    loaded = next(j for j in harness.sim.jobs.all() if j.facility == "BLR01")
    assert loaded.file is not None and harness.count("return_invoices") == loaded.file.rows


@pytest.mark.parametrize("code", [
    pytest.param(lambda code: code[:6] + "/" + code[6:], id="slash"),
    pytest.param(lambda code: "../../../" + code, id="dot-dot"),
    pytest.param(lambda code: code + "X" * 180, id="long"),
    pytest.param(lambda code: f"Job {code} · नया", id="spaces-and-non-ascii"),
])
def test_a_job_code_that_is_no_file_name_loads_once(harness: Harness, code: Any) -> None:
    """A job code is Uniware's text: scratch files are never named by it as a path (a slash, `..`, a name
    longer than the file system takes), so such a code loads like any other."""
    harness.sim.jobs.code_of = lambda job: code(job.code)
    harness.run(exports=RETURNS, facilities=["BLR01", "DEL02"])
    assert_loaded_once(harness, jobs=2)
    assert {r["job_code"] for r in harness.history() if r["status"] == "LOADED"} == {
        j.code for j in harness.sim.jobs.all()}
    for job in harness.sim.jobs.all():  # its scratch files' name: one plain path part, whatever the code
        stem = file_stem(JobTicket("return_invoices", "key", job.code, "label", cast(Any, None)))
        assert re.fullmatch(r"return_invoices\.[A-Za-z0-9_-]{1,64}", stem), stem


@pytest.mark.parametrize("code, words", [
    pytest.param(lambda code: code + "\x00x", "holds", id="nul"),
    pytest.param(lambda code: code + "\nX", "holds", id="newline"),
    pytest.param(lambda code: code + "X" * 300, "characters", id="too-long"),
])
def test_a_job_code_that_cannot_be_one_fails_that_export_by_name(harness: Harness, code: Any, words: str) -> None:
    """A create answered with a code no job has (control characters, hundreds of characters) is that
    export's refused create, said with the code's start; the other exports load, and the next run asks again."""
    harness.sim.jobs.code_of = lambda job: code(job.code) if job.report.name == "Sale Orders" else job.code
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=["Sale Orders", *RETURNS], facilities=["BLR01"])
    [problem] = raised.value.problems
    assert "Sale Orders" in problem and "is not a job code" in problem and "EXP" in problem
    assert [r["status"] for r in harness.history() if r["export_name"] == "Sale Orders"] == ["CREATE_FAILED"]
    returns = [j.file.rows for j in harness.sim.jobs.all() if j.report.name == "Return Invoices" and j.file]
    assert harness.count("return_invoices") == sum(returns) > 0
    harness.sim.jobs.code_of = None
    harness.run(exports=["Sale Orders", *RETURNS], facilities=["BLR01"])
    assert harness.count("sale_orders") > 0


def test_unknown_status_is_pending_until_the_deadline(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    timing = JobTiming(pending_statuses=("WAITING_FOR_SLOT",), seconds_per_status=(0,))
    with UniwareSimulator(fast_config(timing=timing, files_dir=tmp_path / "sim")) as sim:
        harness = Harness(sim, tmp_path)
        sim.inject_job_fate(STUCK)
        with caplog.at_level(logging.WARNING), pytest.raises(ExportsFailed) as raised:
            harness.run(exports=RETURNS, facilities=["BLR01"], job_timeout_seconds=20)
        assert "unknown status 'WAITING_FOR_SLOT', treated as still pending" in caplog.text
        assert caplog.text.count("unknown status") == 1  # said once, not on every poll
        assert "still WAITING_FOR_SLOT after 20 s" in raised.value.problems[0]
        [job] = sim.jobs.all()
        assert [r["status"] for r in harness.history(job.code)] == ["CREATED", "WAITING_FOR_SLOT", "TIMED_OUT"]


@pytest.mark.parametrize("destination", ["duckdb", "postgres"])
def test_refused_creates_of_exports_whose_windows_line_up_each_keep_their_row(
        uniware_simulator: UniwareSimulator, tmp_path: Path, postgres_dataset: str, destination: str) -> None:
    """Uniware refuses every create (its queue down) and two exports share start_date and window size: their
    CREATE_FAILED rows were one event id. PostgreSQL refused the package (`_dlt_id` unique), and every later
    run failed on it, exit 3, Uniware healthy again; DuckDB held two rows under one key (red team helper 106).
    Each export's refusal is its own row, and the next run loads."""
    import dlt

    from tests.postgres import POSTGRES

    pg = destination == "postgres"
    harness = Harness(uniware_simulator, tmp_path, name=f"cf_{destination}",
                      destination=dlt.destinations.postgres(POSTGRES) if pg else None,
                      dataset=postgres_dataset if pg else "uniware")
    exports = ["Sale Orders", "Shipping Package", "Return Invoices"]
    harness.sim.jobs.code_of = lambda job: job.code + "\x00x"
    for _ in range(2):
        with pytest.raises(ExportsFailed) as raised:
            harness.run(exports=exports, facilities=["BLR01"])
        assert len(raised.value.problems) == len(exports)
    refused = [row for row in harness.query("SELECT export_name, event_id FROM {ds}.export_job_status "
                                            "WHERE status = 'CREATE_FAILED'")]
    assert sorted(name for name, _ in refused) == sorted(exports * 2)  # each export's two refusals, of one window
    assert len({event_id for _, event_id in refused}) == len(refused)
    harness.sim.jobs.code_of = None
    assert not harness.run(exports=exports, facilities=["BLR01"]).problems
    [(loaded, rows, shipped)] = harness.query(
        "SELECT (SELECT COUNT(DISTINCT export_name) FROM {ds}.export_job_status WHERE status = 'LOADED'), "
        "(SELECT COUNT(*) FROM {ds}.sale_orders), (SELECT COUNT(*) FROM {ds}.shipping_packages)")
    assert loaded == len(exports) and rows > 0 and shipped > 0


@pytest.mark.parametrize("export, code, words", [
    ({"name": "Sale Orderz", "columns": ["soicode"]}, 100001, "Invalid export job type name: Sale Orderz"),
    ({"name": "Sale Orderz", "columns": ["soicode"]}, 100001,  # where the name comes from, and the closest one
     "The name is the report's exportJobTypeName on this tenant, which is not always the label its Exports page "
     "shows"),
    ({"name": "Sale Orderz", "columns": ["soicode"]}, 100001, "did you mean 'Sale Orders'?"),
    ({"name": "Sale Orders", "columns": ["soicode", "saleOrderCode", "updated", "bogus"]}, 100002,
     'The report does not know the column id(s) bogus: leave them out with exclude_columns (exports = '
     '[{name = "Sale Orders", exclude_columns = ["bogus"]}])'),
    # the connector's name of the job says "facility BLR01": the column id `facility` is not what Uniware refused
    ({"name": "Sale Orders", "columns": ["soicode", "saleOrderCode", "updated", "facility", "bogus"]}, 100002,
     'exclude_columns (exports = [{name = "Sale Orders", exclude_columns = ["bogus"]}])'),
    ({"name": "Sale Orders", "filters": [{"id": "bogusFilter", "text": "x"}]}, 100003,
     "Invalid export filter: bogusFilter"),
    ({"name": "Sale Orders", "date_filter": "createdOn"}, 100003,
     "does not take the date filter 'createdOn': set date_filter for this export"),
    ({"name": "Sale Orders", "date_filter": "createdOn"}, 100003,  # the way out's cost, said with it
     "a creation-date filter exports a row once: later changes to rows older than lookback_days, their 'Updated', "
     "are not loaded again"),
    ({"name": "Sale Orders", "filters": [{"id": "channelFilter", "selectedValues": []}]}, 100004,
     "needs selectedValues"),
    ({"name": "B2B Sale Orders", "columns": list(CATALOG["Sale Orders"].columns), "date_filter": "",
      "primary_key": ["Sale Order Item Code"]}, 100003,  # a report that needs a date filter, given none
     "The export has no date_filter; a report that needs one is refused so: set date_filter for this export"),
    ({"name": "Sale Orders", "filters": [{"id": "channelFilter", "selectedValues": ["EBAY"]}]}, 100005,
     "Invalid value EBAY"),
])
def test_refused_export_definitions_are_named_and_others_load(harness: Harness, export: dict[str, Any], code: int,
                                                              words: str) -> None:
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=[export, "Return Invoices"], facilities=["BLR01"])
    [problem] = raised.value.problems
    assert f"[{code}]" in problem and words in problem and export["name"] in problem and "facility BLR01" in problem
    [row] = [r for r in harness.history() if r["status"] == "CREATE_FAILED"]
    assert row["job_code"] is None and words in row["message"] and str(code) in row["errors"]
    assert_loaded_once(harness)
    # the refused window stays planned: the next run tries again, and fails as clearly
    with pytest.raises(ExportsFailed):
        harness.run(exports=[export, "Return Invoices"], facilities=["BLR01"])
    assert len([r for r in harness.history() if r["status"] == "CREATE_FAILED"]) == 2


def test_a_refused_column_id_is_left_out_with_exclude_columns(harness: Harness) -> None:
    """The fix the 100002 answer suggests works: `exclude_columns` drops the refused id from the catalog's
    columns (no need to restate the others), and a name that is not among them is a setting error."""
    with pytest.raises(ExportsFailed):
        harness.run(exports=[{"name": "Sale Orders", "columns": [*CATALOG["Sale Orders"].columns, "bogus"]}],
                    facilities=["BLR01"])
    harness.run(exports=[{"name": "Sale Orders", "columns": [*CATALOG["Sale Orders"].columns, "bogus"],
                          "exclude_columns": ["bogus", "facilityCode"]}], facilities=["BLR01"])
    [*_, sent] = harness.sim.requests.where("create")
    assert sent.body["exportColums"] == [c for c in CATALOG["Sale Orders"].columns if c != "facilityCode"]
    assert harness.count("sale_orders") > 0
    with pytest.raises(ConfigError, match=r"exclude_columns names \['nope'\]"):
        harness.run(exports=[{"name": "Sale Orders", "exclude_columns": ["nope"]}], facilities=["BLR01"])


@pytest.mark.parametrize("status", [400, 500])
def test_bad_credentials_fail_once_without_a_retry_loop(tmp_path: Path, status: int) -> None:
    with UniwareSimulator(fast_config(bad_credentials_status=status, files_dir=tmp_path / "sim")) as sim:
        harness = Harness(sim, tmp_path)
        with pytest.raises(AuthError) as raised:
            harness.run(exports=RETURNS, password="wrong-password")
        assert sim.requests.count("token") == 1
        message = str(raised.value)
        assert f"HTTP {status}" in message and sim.config.username in message and "Bad credentials" in message
        assert "not retried" in message and "wrong-password" not in message
        assert "SOURCES__UNIWARE__PASSWORD, else [sources.uniware] in .dlt/secrets.toml" in message  # where from
        # the one line a run ends with keeps why it stopped at one attempt (it was cut before, at 300 characters)
        assert "not retried, to avoid locking the account" in explain(raised.value)[1]
        assert sim.requests.count("create") == 0


def test_facility_display_name_gets_a_clear_403_and_others_load(harness: Harness) -> None:
    # facility/search down: the configured names go out as they are (with facility/search up, the run
    # stops before any create; tests/test_tenant_facts.py)
    harness.sim.inject("facility", status=404, times=None)
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=RETURNS, facilities=["BLR01", "Bengaluru Central Warehouse"])
    [problem] = raised.value.problems
    assert "facility Bengaluru Central Warehouse" in problem and "HTTP 403" in problem
    assert "Illegal Access, facility is required" in problem and "facility code" in problem
    assert_loaded_once(harness)


def test_html_instead_of_csv_is_refused_and_reexported_next_run(harness: Harness) -> None:
    harness.sim.inject("download", action=HTML)
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=RETURNS, facilities=["MUM03"])
    assert "HTML page instead of the CSV" in raised.value.problems[0]
    [job] = harness.sim.jobs.all()
    assert harness.history(job.code)[-1]["status"] == "INVALID_FILE"
    assert not harness.has_table("return_invoices") or harness.count("return_invoices") == 0
    harness.run(exports=RETURNS, facilities=["MUM03"])
    assert len(harness.sim.jobs.all()) == 2  # a new job for the same window
    served = harness.sim.jobs.all()[1].file
    assert served is not None and harness.count("return_invoices") == served.rows


def test_a_csv_the_file_host_calls_text_html_is_read(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """The body decides, not the label: a bucket that serves the CSV as text/html still gives the CSV,
    read with a warning; a login page (with or without a doctype) is still refused, whatever its label."""
    config = fast_config(files_dir=tmp_path_factory.mktemp("sim-files"), file_content_type="text/html; charset=UTF-8")
    with UniwareSimulator(config) as sim:
        harness = Harness(sim, tmp_path)
        with caplog.at_level(logging.WARNING):
            harness.run(exports=RETURNS, facilities=["MUM03"])
        assert_loaded_once(harness, jobs=1)
        assert "calls the CSV text/html" in caplog.text
        sim.inject("download", action=HTML)
        sim.clock.advance(timedelta(hours=1))
        with pytest.raises(ExportsFailed, match="HTML page instead of the CSV"):
            harness.run(exports=RETURNS, facilities=["MUM03"])


def test_empty_export_is_a_warning_and_moves_the_cursor(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    far = TEST_NOW - timedelta(days=400)
    with caplog.at_level(logging.WARNING):
        report = harness.run(exports=RETURNS, facilities=["BLR01"], backfill_start=far.isoformat(),
                             backfill_end=(far + timedelta(days=5)).isoformat())
    assert not report.problems and report.exports["return_invoices"].statuses["EMPTY"] == 1
    assert "without a file" in caplog.text and "taken as an export with no rows" in caplog.text
    [job] = harness.sim.jobs.all()
    assert [r["status"] for r in harness.history(job.code)][-2:] == ["COMPLETE", "EMPTY"]
    assert harness.ledger_entries("return_invoices") == []


@pytest.mark.parametrize("no_file_path", ["absent", "empty", "null"])
def test_a_link_left_out_as_an_empty_or_null_file_path_is_waited_for_as_a_missing_one(
        harness: Harness, no_file_path: str) -> None:
    """COMPLETE before its link (uniware-api.md), the link left out as no `filePath` field, `""` or `null`:
    the job is polled until the link comes, and its rows load once; past the grace each is taken as an
    export without rows alike."""
    harness.sim.inject_job_fate(NO_FILE, polls=2, no_file_path=no_file_path)
    report = harness.run(exports=RETURNS, facilities=["BLR01"])
    assert report.exports["return_invoices"].statuses["LOADED"] == 1
    assert_loaded_once(harness)
    harness.sim.clock.advance(timedelta(days=1))
    harness.sim.inject_job_fate(NO_FILE, polls=10**6, no_file_path=no_file_path)
    report = harness.run(exports=RETURNS, facilities=["BLR01"])
    assert report.exports["return_invoices"].statuses["EMPTY"] == 1


def test_a_finished_job_with_warnings_loads_and_keeps_them_in_the_history(harness: Harness) -> None:
    """A status answer with `warnings` (the seed page's {code, message, description}) beside its file: the
    rows load once, and the history keeps what Uniware warned."""
    warned = "Some optional columns were not exported for this facility"
    harness.sim.inject_job_fate(WITH_WARNINGS, message=warned, polls=None)
    report = harness.run(exports=RETURNS, facilities=["BLR01"])
    assert report.exports["return_invoices"].statuses["LOADED"] == 1
    assert_loaded_once(harness)
    assert any(warned in (row["message"] or "") for row in harness.history()), harness.history()


@pytest.mark.parametrize(("message", "failed"), [
    ("Export failed: file generation timed out", True),
    ("File not generated: row limit exceeded", True),
    ("Error while uploading the report", True),
    ("Export failed: no data could be written, disk full", True),  # failing words decide beside "no data"
    ("Something went wrong while generating the report", True),
    ("Export job cancelled", True),
    ("No records found for the selected filters", False),
    ("", False),
])
def test_a_finished_job_without_a_file_that_says_it_failed_is_failed_not_empty(
        harness: Harness, message: str, failed: bool) -> None:
    """COMPLETE, successful, no file link, and a message saying the file was not made: it was taken as an
    export with no rows, the window done, exit 0 (red team 103). It fails the job now (the window is
    exported again next run); a job without rows (saying so, or nothing) is still EMPTY."""
    harness.sim.inject_job_fate(NO_FILE, polls=10**6, no_file_message=message)
    if not failed:
        report = harness.run(exports=RETURNS, facilities=["BLR01"])
        assert report.exports["return_invoices"].statuses["EMPTY"] == 1
        return
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=RETURNS, facilities=["BLR01"])
    [problem] = raised.value.problems
    assert "without a file, saying: " + message in problem
    [job] = harness.sim.jobs.all()
    assert harness.history(job.code)[-1]["status"] == "LOST"  # as a done answer saying it failed (README)
    assert harness.ledger_entries("return_invoices"), "the window waits to be exported again"


@pytest.mark.parametrize("status", ["COMPLETE", "SUCCESSFUL"])
def test_done_with_successful_false_is_never_loaded(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path,
                                                     status: str) -> None:
    """A status answer that says done, with its filePath, and `successful: false` with an error at once
    (a business failure is HTTP 200 with `successful: false`): the file is not trusted. Said on every
    answer, the job is given up naming the contradiction and Uniware's error, nothing of it loads, its
    window stays uncovered, and the next run loads it by a new job."""
    timing = JobTiming(seconds_per_status=(0.0, 0.0), min_polls_per_status=1, completion_status=status)
    config = fast_config(files_dir=tmp_path_factory.mktemp("sim-files"), timing=timing)
    with UniwareSimulator(config) as sim:
        harness = Harness(sim, tmp_path)
        sim.inject_job_fate(UNSUCCESSFUL, polls=None, message="Report generation failed midway")
        with pytest.raises(ExportsFailed, match="with answers not taken as its status") as failed:
            harness.run(exports=RETURNS, facilities=["BLR01"])
        assert "Report generation failed midway" in str(failed.value)
        [job] = sim.jobs.all()
        assert sim.requests.count("download") == 0
        assert not harness.has_table("return_invoices") or harness.count("return_invoices") == 0
        assert [r["status"] for r in harness.history(job.code)][-1] == "LOST"
        stayed = harness.cursors("return_invoices").get("BLR01")  # the window's start at most
        harness.run(exports=RETURNS, facilities=["BLR01"])  # a new job for the window, answered as it should be
        [_, again] = sim.jobs.all()
        assert again.file is not None and harness.count("return_invoices") == again.file.rows > 0
        assert stayed is None or harness.cursors("return_invoices")["BLR01"] > stayed
        assert harness.sql("SELECT COUNT(*) FROM {ds}.return_invoices WHERE _uniware_job_code = ?", job.code) == [(0,)]


@pytest.mark.parametrize("field", ["fileUrl", "data.filePath", "FilePath"])
@pytest.mark.parametrize("export, table", [(RETURNS, "return_invoices"), (["Tally GST Report"], "tally_gst")])
def test_a_done_answer_with_its_link_under_another_name_is_not_an_empty_export(
        tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, field: str, export: list[str], table: str) -> None:
    """A build that answers the link as `fileUrl`, `FilePath` or `data.filePath`: there was no `filePath`, so
    every job was taken as an export with no rows, the cursor moved past its window, exit 0 (an export without
    a key never exports such a window again; red team helper 87, F2). Refused instead, and the window stays."""
    config = fast_config(files_dir=tmp_path_factory.mktemp("sim-files"), file_path_field=field)
    with UniwareSimulator(config) as sim:
        harness = Harness(sim, tmp_path)
        with pytest.raises(ExportsFailed, match=f"with a link under '{field}'"):
            harness.run(exports=export, facilities=["BLR01"])
        [job] = sim.jobs.all()
        assert harness.history(job.code)[-1]["status"] == "LOST"
        cursor = harness.cursors(table).get("BLR01")  # where the facility began at most: the window not passed
        assert cursor is None or datetime.fromisoformat(cursor) < TEST_NOW - timedelta(days=7)
        assert not harness.has_table(table) or harness.count(table) == 0
        assert "EMPTY" not in [r["status"] for r in harness.history(job.code)]


def test_done_with_successful_false_for_a_while_loads_once_uniware_says_it_succeeded(harness: Harness) -> None:
    """The contradiction said for a few answers only (a glitch): the job is polled on and its file loads
    once Uniware answers `successful: true`, exactly once."""
    harness.sim.inject_job_fate(UNSUCCESSFUL, polls=2, message="temporarily unavailable")
    report = harness.run(exports=RETURNS, facilities=["BLR01"])
    assert not report.problems
    assert_loaded_once(harness, jobs=1)
    assert harness.sim.requests.count("download") == 1


@pytest.mark.parametrize("other", ["FAILED", "CANCELLED", "IN_PROGRESS", "SUCCESSFUL"])
def test_another_jobs_answers_now_and_then_are_polled_past(harness: Harness, other: str) -> None:
    """Status answers that name another job (`jobCode`): a FAILED one was taken as this job's failure,
    with the other job's message in its history (red team 133, F2). Said a few times, they are polled
    past and the job's own file loads once, none of their statuses or words in its history."""
    said = "Export job failed: report REPORT_X timed out"
    harness.sim.inject_job_fate(MISADDRESSED, polls=2, other_status=other, message=said)
    report = harness.run(exports=RETURNS, facilities=["BLR01"])
    assert not report.problems
    assert_loaded_once(harness, jobs=1)
    [job] = harness.sim.jobs.all()
    history = harness.history(job.code)
    statuses = [r["status"] for r in history]
    assert statuses[-2:] == ["COMPLETE", "LOADED"] and (other == "IN_PROGRESS" or other not in statuses), statuses
    assert not any(said in str(r["message"]) for r in history)


@pytest.mark.parametrize("other", ["FAILED", "ERROR", "IN_PROGRESS", "COMPLETE"])
def test_another_jobs_answers_every_time_lose_the_job_not_fail_it(harness: Harness, other: str) -> None:
    """Every status answer names another job: the job is LOST naming that job (never FAILED with the
    other job's words, nor loaded from its file), nothing loads, and the next run loads the window."""
    said = "Export job failed: report REPORT_X timed out"
    harness.sim.inject_job_fate(MISADDRESSED, polls=None, other_status=other, message=said)
    with pytest.raises(ExportsFailed, match=r"for another job \(") as failed:
        harness.run(exports=RETURNS, facilities=["BLR01"])
    [problem] = failed.value.problems
    [lost] = harness.sim.jobs.all()
    history = harness.history(lost.code)
    assert history[-1]["status"] == "LOST" and other not in [r["status"] for r in history], history
    assert f"answered {other} for another job ({lost.code}7) ({said})" in history[-1]["message"]
    assert f"{lost.code}7" in problem and harness.sim.requests.count("download") == 0
    assert not harness.has_table("return_invoices") or harness.count("return_invoices") == 0
    harness.run(exports=RETURNS, facilities=["BLR01"])  # a new job for the window, answered as its own
    [_, again] = harness.sim.jobs.all()
    assert again.file is not None and harness.count("return_invoices") == again.file.rows > 0
    assert harness.sql("SELECT COUNT(*) FROM {ds}.return_invoices WHERE _uniware_job_code = ?", lost.code) == [(0,)]


@pytest.mark.parametrize("fate, cut", [
    (WITH_ERRORS, "Export truncated: only the first 10 rows were written"),
    (WITH_MESSAGE, "Export truncated: only the first 10 rows were written (row limit exceeded)"),
    (WITH_MESSAGE, "Report partially written, please retry"),
    (WITH_MESSAGE, "Could not write all rows"),
    (WITH_WARNINGS, "Row limit reached: only the first 10 rows were exported"),
], ids=["in-errors", "message-truncated", "message-partial", "message-could-not", "in-warnings"])
def test_done_with_errors_is_not_loaded_unless_the_setting_says_so(harness: Harness, fate: str, cut: str) -> None:
    """COMPLETE with its file and `successful: true`, but an error in `errors[]`, or a `message` or a warning
    that says so (a file Uniware may have cut short; the message alone loaded 10 rows of 305, exit 0): said on
    every answer, the job is given up naming it and the setting, nothing of it loads and the cursor stays;
    a glitch that clears loads the file once; `on_complete_with_errors = "load"` loads such a file, with
    the words in the history."""
    harness.sim.inject_job_fate(fate, polls=None, message=cut)
    with pytest.raises(ExportsFailed, match="with answers not taken as its status") as failed:
        harness.run(exports=RETURNS, facilities=["BLR01"])
    [problem] = failed.value.problems
    assert cut in problem and 'on_complete_with_errors = "load"' in problem
    [job] = harness.sim.jobs.all()
    assert harness.sim.requests.count("download") == 0
    assert not harness.has_table("return_invoices") or harness.count("return_invoices") == 0
    assert harness.history(job.code)[-1]["status"] == "LOST"
    stayed = harness.cursors("return_invoices").get("BLR01")  # the window's start at most
    harness.sim.inject_job_fate(fate, polls=1, message="a passing error")  # said once, then not
    harness.run(exports=RETURNS, facilities=["BLR01"])
    [_, again] = harness.sim.jobs.all()
    assert again.file is not None and harness.count("return_invoices") == again.file.rows > 0
    assert stayed is None or harness.cursors("return_invoices")["BLR01"] > stayed
    assert harness.sim.requests.count("download") == 1
    harness.sim.inject_job_fate(fate, polls=None, message=cut)
    harness.run(exports=RETURNS, facilities=["BLR01"], on_complete_with_errors="load")
    [*_, loaded] = harness.sim.jobs.all()
    [complete] = [r for r in harness.history(loaded.code) if r["status"] == "COMPLETE"]
    assert cut in f"{complete['errors']} {complete['message']}"
    assert harness.history(loaded.code)[-1]["status"] == "LOADED"


@pytest.mark.parametrize("said", ["Export completed with 0 errors", "Job completed successfully, no failures",
                                  "Your report is ready"])
def test_done_with_a_message_that_says_all_went_well_loads(harness: Harness, said: str) -> None:
    """A done answer's chatty message that names errors only to say there were none loads its file."""
    harness.sim.inject_job_fate(WITH_MESSAGE, polls=None, message=said)
    assert not harness.run(exports=RETURNS, facilities=["BLR01"]).problems
    assert_loaded_once(harness, jobs=1)


@pytest.mark.parametrize("error", [(100006, "INVALID_JOB_CODE"), (100010, "JOB_NOT_FOUND")])
def test_a_job_uniware_no_longer_knows_is_given_up_whatever_its_error_code(
        tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, error: tuple[int, str]) -> None:
    """The docs give no code for a job Uniware does not know (after a restart of its export service):
    a status answered `successful: false` again and again ends the job as LOST and its window is
    exported again, instead of being polled until job_timeout_seconds on every run."""
    config = fast_config(files_dir=tmp_path_factory.mktemp("sim-files"), unknown_job_error=error)
    with UniwareSimulator(config) as sim:
        harness = Harness(sim, tmp_path)
        harness.run(mode="submit", exports=["Return Invoices"], facilities=["BLR01"])
        [lost] = [j.code for j in sim.jobs.all()]
        sim.jobs.forget_all()
        with pytest.raises(ExportsFailed, match=f"Uniware no longer knows job {lost}"):
            harness.run(mode="collect", exports=["Return Invoices"], facilities=["BLR01"])
        polls = sim.requests.count("status")
        # 100006: 3 answers in a row over 30 s (half of job_timeout_seconds, 60 s here); another code once
        # refusals lasted as long; not until the deadline (the test's clock moves with each wait)
        assert polls > 3
        assert [r["status"] for r in harness.history(lost)][-1] == "LOST"
        harness.run(exports=["Return Invoices"], facilities=["BLR01"])  # the window, by a new job
        assert harness.count("return_invoices") > 0


@pytest.mark.parametrize("unseen", [1, 3])
def test_a_job_just_made_that_uniware_does_not_see_yet_is_waited_for(
        tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, unseen: int) -> None:
    """The first status answers of a job just made say its code is unknown, then it is there: one 100006
    gave it up as LOST at once, leaving it running at Uniware (the next create of its window refused with
    100014 until it ended; red team 133, F3), and three at once after 5 s. It is polled on and its file
    loads once, its history without LOST."""
    config = fast_config(files_dir=tmp_path_factory.mktemp("sim-files"), unknown_job_error=(100006, "INVALID_JOB_CODE"))
    with UniwareSimulator(config) as sim:
        harness = Harness(sim, tmp_path)
        sim.inject_job_fate(UNSEEN, polls=unseen)
        assert not harness.run(exports=RETURNS, facilities=["BLR01"]).problems
        assert_loaded_once(harness, jobs=1)
        [job] = sim.jobs.all()
        statuses = [r["status"] for r in harness.history(job.code)]
        assert "LOST" not in statuses and statuses[-1] == "LOADED", statuses


def test_a_window_longer_than_the_tenant_takes_is_refused_naming_window_days(tmp_path: Path) -> None:
    with UniwareSimulator(fast_config(max_window_days=7, files_dir=tmp_path / "sim")) as sim:
        harness = Harness(sim, tmp_path)
        with pytest.raises(ExportsFailed) as raised:
            harness.run(exports=RETURNS, facilities=["BLR01"], window_days=30)
        [problem] = raised.value.problems
        assert "[100004]" in problem and "cannot exceed 7 days" in problem
        assert "lower window_days (SOURCES__UNIWARE__WINDOW_DAYS)" in problem
        assert not sim.jobs.all()
        # the way out works: the refused 30-day window, planned by the first run, is cut into 7-day ones
        harness.run(exports=RETURNS, facilities=["BLR01"], window_days=7)
        jobs = sim.jobs.all()
        assert len(jobs) == 5 and all(j.query.end - j.query.start <= 7 * 86400 for j in jobs)  # type: ignore[operator]
        starts = sorted(int(j.query.start or 0) for j in jobs)
        ends = sorted(int(j.query.end or 0) for j in jobs)
        assert all(e + 1 >= s for e, s in zip(ends, starts[1:], strict=False))  # contiguous, no gap
        assert [r["status"] for r in harness.history() if r["status"] == "LOADED"] == ["LOADED"] * 5


def test_a_backfill_refused_for_its_range_plans_again_on_a_lowered_window(tmp_path: Path) -> None:
    """The backfill's windows never made into a job are dropped once window_days is lowered, and the
    backfill plans its range on its own new grid: no window twice, none missing."""
    backfill: dict[str, Any] = {"backfill_start": "2026-03-01T00:00:00+05:30",
                                "backfill_end": "2026-04-01T00:00:00+05:30"}
    with UniwareSimulator(fast_config(max_window_days=7, files_dir=tmp_path / "sim")) as sim:
        harness = Harness(sim, tmp_path)
        with pytest.raises(ExportsFailed):
            harness.run(exports=RETURNS, facilities=["BLR01"], window_days=20, **backfill)
        harness.run(exports=RETURNS, facilities=["BLR01"], window_days=7, **backfill)
        spans = sorted((int(j.query.start or 0), int(j.query.end or 0)) for j in sim.jobs.all())
        assert len(spans) == 5 and all(end - start <= 7 * 86400 for start, end in spans)
        assert all(later[0] == earlier[1] + 1 or later[0] == earlier[1] for earlier, later in pairwise(spans))
