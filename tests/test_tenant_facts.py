"""Facts of real tenants the connector must act on: an ignored filter id, facility codes checked
against facility/search, a relative filePath on the Uniware host itself."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.simulator_fixtures import TEST_NOW, fast_config
from uniware_simulator import HTML, HTTP_ERROR, REPORTS, UniwareSimulator
from uniware_source import ConfigError, ExportsFailed
from uniware_source.catalog import CATALOG
from uniware_source.client.file_link import resolve_file_link
from uniware_source.queries import create_views
from uniware_source.vocabulary import SAME_REPORT
from uniware_source.windows import IST

from .harness import Harness
from .sim_client import PlainClient
from .test_pipeline_script import env_for, run_script

RETURNS = ["Return Invoices"]
WRONG_FILTER = {"name": "Sale Orders", "date_filter": "updatedAt"}  # the field's mistake (RJ)


@pytest.fixture
def ignoring(tmp_path: Path) -> Iterator[Harness]:
    """A tenant that silently ignores an unknown filter id (the field; the simulator CLI's default)."""
    config = fast_config(unknown_filter="ignore", orders_per_day=60, history_days=75, files_dir=tmp_path / "sim")
    with UniwareSimulator(config) as sim:
        yield Harness(sim, tmp_path)


@pytest.fixture
def harness(uniware_simulator: UniwareSimulator, tmp_path: Path) -> Harness:
    return Harness(uniware_simulator, tmp_path)


def shown(moment: datetime) -> str:
    return f"{moment.astimezone(IST):%Y-%m-%d %H:%M} IST"


def whole_history_span(sim: UniwareSimulator, facility: str) -> tuple[str, str]:
    """The first and last `Updated` of an unwindowed Sale Orders export: what an ignored filter yields."""
    updated = [r["Updated"] for r in sim.truth("Sale Orders", facility=facility) if r["Updated"] is not None]
    return shown(min(updated)), shown(max(updated))


# -- 1. the window guard -------------------------------------------------------------------------

@pytest.mark.parametrize("given", [{"id": "categoryIds", "selectedValues": ["12"]},
                                   {"id": "skuSearch", "text": "KUR"}], ids=["select", "text"])
def test_a_filter_uniware_says_it_ignored_fails_the_create_naming_it(tmp_path: Path, given: dict[str, Any]) -> None:
    """Uniware made the job and said in errors[] that a filter choosing rows by value was ignored: every
    channel's rows loaded into the table of one channel's orders, exit 0 (the window check reads dates
    only). The create is refused (CREATE_FAILED naming the filter and Uniware's words), nothing loads."""
    config = fast_config(unknown_filter="say", orders_per_day=60, history_days=10, files_dir=tmp_path / "sim")
    with UniwareSimulator(config) as sim:
        harness = Harness(sim, tmp_path)
        export = {"name": "Sale Orders", "table_name": "amazon_orders", "filters": [given]}
        with pytest.raises(ExportsFailed) as raised:
            harness.run(exports=[export], facilities=["BLR01"])
        [problem] = raised.value.problems
        assert f"said of its filter {given['id']}" in problem and "is not applicable and was ignored" in problem
        assert sim.requests.count("download") == 0 and not harness.has_table("amazon_orders")
        [failed] = [r for r in harness.history() if r["status"] == "CREATE_FAILED"]
        assert given["id"] in failed["errors"]


def test_an_ignored_filter_id_fails_the_job_naming_filter_report_and_dates(ignoring: Harness) -> None:
    with pytest.raises(ExportsFailed) as raised:
        ignoring.run(exports=[WRONG_FILTER], facilities=["BLR01"])
    [create] = ignoring.sim.requests.where("create")
    assert [f["id"] for f in create.body["exportFilters"]] == ["updatedAt"]  # sent, and silently ignored
    low, high = whole_history_span(ignoring.sim, "BLR01")
    expected = (f"filter id `updatedAt` seems ignored by Uniware for report `Sale Orders`: the file holds rows "
                f"from {low} to {high}")
    [problem] = raised.value.problems
    assert expected in problem and "date_filter" in problem
    assert "the catalog also knows 'addedOn', 'updatedOn' for this report" in problem  # the ids to try
    [job] = ignoring.sim.jobs.all()
    last = ignoring.history(job.code)[-1]
    assert last["status"] == "OUT_OF_WINDOW" and expected in last["message"]
    assert not ignoring.has_table("sale_orders") or ignoring.count("sale_orders") == 0
    assert ignoring.cursors("sale_orders") == {"BLR01": (TEST_NOW - timedelta(days=30)).isoformat()}
    [entry] = ignoring.ledger_entries("sale_orders")
    assert not entry.get("done") and not entry.get("job_code")  # planned again: a new job next run
    create_views(ignoring.pipeline)
    assert ignoring.sql("SELECT loaded, had_problem FROM {ds}.v_job_runs WHERE job_code = ?", job.code) == [
        (False, True)]


def test_an_ignored_filter_of_a_report_of_one_filter_names_the_catalogs(ignoring: Harness) -> None:
    """Invoice asked by `addedOn` (Sale Orders' filter, which Invoice does not take): the refusal names the
    filter the catalog knows for the report, as it does for a report of two."""
    with pytest.raises(ExportsFailed) as raised:
        ignoring.run(exports=[{"name": "Invoice", "date_filter": "addedOn"}], facilities=["BLR01"])
    [problem] = raised.value.problems
    assert "filter id `addedOn` seems ignored by Uniware for report `Invoice`" in problem, problem
    assert "(the catalog also knows 'dateCreatedRange' for this report)" in problem, problem


def test_warn_loads_the_file_and_says_so_in_the_history(ignoring: Harness, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        report = ignoring.run(exports=[WRONG_FILTER], facilities=["BLR01"], on_window_violation="warn")
    assert not report.problems
    everything = ignoring.sim.truth("Sale Orders", facility="BLR01")
    assert ignoring.count("sale_orders") == len(everything)  # the whole history, as the file held it
    low, high = whole_history_span(ignoring.sim, "BLR01")
    expected = (f"filter id `updatedAt` seems ignored by Uniware for report `Sale Orders`: the file holds rows "
                f"from {low} to {high}")
    [job] = ignoring.sim.jobs.all()
    loaded = ignoring.history(job.code)[-1]
    assert loaded["status"] == "LOADED" and expected in loaded["message"]
    assert "on_window_violation='warn'" in loaded["message"]
    assert expected in caplog.text


# one name of each windowed report (the catalog also knows one under a second name some tenants give it)
WINDOWED = [name for name, spec in CATALOG.items() if spec.date_filter and name not in SAME_REPORT]


def test_every_windowed_catalog_export_names_a_column_its_file_holds() -> None:
    assert len(WINDOWED) == 10
    for name in WINDOWED:
        spec = CATALOG[name]
        labels = {c.label for c in REPORTS[name].columns if c.id in spec.columns}
        assert spec.window_column in labels, name
        for column in spec.window_columns_by_filter.values():
            assert column in labels, (name, column)


def test_right_filter_ids_never_trip_the_guard(ignoring: Harness) -> None:
    """Every windowed catalog export (and Sale Orders by `addedOn`), a first run and an incremental
    one with its lookback, on the tenant that would ignore a wrong id: nothing is refused."""
    exports: list[Any] = [*WINDOWED, {"name": "Sale Orders", "table_name": "orders_added", "date_filter": "addedOn"}]
    first = ignoring.run(exports=exports, facilities=["DEL02"], window_days=20)
    ignoring.sim.clock.advance(timedelta(days=2))
    second = ignoring.run(exports=exports, facilities=["DEL02"], window_days=20)
    assert not first.problems and not second.problems
    statuses = {r["status"] for r in ignoring.history()}
    assert "OUT_OF_WINDOW" not in statuses and "LOADED" in statuses
    assert all("seems ignored" not in (r["message"] or "") for r in ignoring.history())
    assert ignoring.count("sale_orders") > 0 and ignoring.count("orders_added") > 0


def test_a_tenant_whose_sale_orders_take_added_on_only_loads_them_by_added_on(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """uniware-reports.md 10: Sale Orders' filter is addedOn on most tenants, and on one (VD) the only one it
    takes; the catalog's updatedOn was refused (CREATE_FAILED, exit 1) on such a tenant out of the box. Now
    the job is made with addedOn, guarded on Created, with a warning and a history note saying what it costs;
    a job made so in a submit run is collected by a later run with the same guard."""
    config = fast_config(unknown_filter="reject", refused_date_filters=("updatedOn",), orders_per_day=60,
                         history_days=75, files_dir=tmp_path / "sim")
    start = (TEST_NOW - timedelta(days=45)).isoformat()
    with UniwareSimulator(config) as sim:
        harness = Harness(sim, tmp_path)
        with caplog.at_level(logging.WARNING):
            # windows well in the past: their orders changed (were delivered) days after their window
            harness.run(mode="submit", facilities=["BLR01", "DEL02"], window_days=10, start_date=start)
        for facility in ("BLR01", "DEL02"):  # refused once for each facility, then asked by addedOn at once
            sent = [[f["id"] for f in r.body["exportFilters"]] for r in sim.requests.where("create")
                    if r.header("Facility") == facility]
            assert sent[0] == ["updatedOn"] and sent[1:] == [["addedOn"]] * (len(sent) - 1), sent
        assert "refused the date filter 'updatedOn'" in caplog.text
        assert "made with the date filter 'addedOn'" in caplog.text
        report = harness.run(mode="collect", facilities=["BLR01", "DEL02"], window_days=10, start_date=start)
        assert not report.problems
        jobs = [j for j in sim.jobs.all() if j.file is not None]
        assert jobs and all(j.query.date_filter == "addedOn" for j in jobs)
        assert harness.count("sale_orders") == sum(j.file.rows for j in jobs if j.file is not None) > 0
        created = [r for r in harness.history() if r["status"] == "CREATED"]
        assert created and all("made with the date filter 'addedOn' (Created)" in r["message"] for r in created)
        statuses = [r["status"] for r in harness.history()]
        assert statuses.count("LOADED") == len(jobs) and not {"OUT_OF_WINDOW", "CREATE_FAILED"} & set(statuses)
        # a date filter the configuration chose is never swapped: refused, it stays refused
        with pytest.raises(ExportsFailed) as raised:
            harness.run(exports=[{"name": "Sale Orders", "table_name": "orders_upd", "date_filter": "updatedOn"}],
                        facilities=["BLR01"])
        assert "does not take the date filter 'updatedOn'" in raised.value.problems[0]


def test_the_other_date_filter_is_taken_only_for_the_facility_that_refused_and_never_blindly(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Red team (helper 61): one facility's refusal switched every facility of the export to addedOn, so a
    facility that takes updatedOn silently missed later changes of older orders; a second refusal was
    announced as a success; the ledger kept the filter only for the swapped jobs."""
    start = (TEST_NOW - timedelta(days=45)).isoformat()
    config = fast_config(unknown_filter="reject", refused_date_filters=("BLR01:updatedOn", "DEL02:updatedOn",
                                                                        "DEL02:addedOn"),
                         orders_per_day=60, history_days=75, files_dir=tmp_path / "sim")
    with UniwareSimulator(config) as sim:
        harness = Harness(sim, tmp_path)
        with caplog.at_level(logging.WARNING), pytest.raises(ExportsFailed) as raised:
            harness.run(mode="submit", facilities=["BLR01", "DEL02", "MUM03"], window_days=15, start_date=start)
        by_facility: dict[str, set[str]] = {}
        for request in sim.requests.where("create"):
            by_facility.setdefault(request.header("Facility") or "", set()).update(
                f["id"] for f in request.body["exportFilters"])
        assert by_facility == {"BLR01": {"updatedOn", "addedOn"}, "DEL02": {"updatedOn", "addedOn"},
                               "MUM03": {"updatedOn"}}, by_facility
        names = [r.body["reportName"] for r in sim.requests.where("create") if r.header("Facility") == "BLR01"]
        assert any(" by addedOn #" in n for n in names) and all(" by " not in n for n in names[:1])
        assert all(" by " not in r.body["reportName"] for r in sim.requests.where("create")
                   if r.header("Facility") == "MUM03")
        entries = {(e["facility"], e.get("date_filter")) for e in harness.ledger_entries("sale_orders")
                   if e.get("job_code")}
        assert entries == {("BLR01", "addedOn"), ("MUM03", "updatedOn")}, entries  # what was sent, every job
        problems = [p for p in raised.value.problems if "DEL02" in p]
        assert problems and all("takes neither date filter the catalog knows" in p for p in problems), problems
        warned = [r.getMessage() for r in caplog.records if "refused the date filter" in r.getMessage()]
        assert warned and all("BLR01" in w for w in warned), warned  # DEL02's second refusal is no success
        harness.run(mode="collect", facilities=["BLR01", "MUM03"], window_days=15, start_date=start)
        notes = {(r["facility"], "made with the date filter 'addedOn'" in (r["message"] or ""))
                 for r in harness.history() if r["status"] == "CREATED"}
        assert notes == {("BLR01", True), ("MUM03", False)}, notes


def test_a_refused_filter_is_asked_once_per_facility_and_run_across_rounds(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Review (helper 63): with max_concurrent_jobs holding windows back, each round of a run asked the
    refused updatedOn again. The simulator refuses it even where unknown ids are ignored (the CLI default)."""
    config = fast_config(unknown_filter="ignore", refused_date_filters=("updatedOn",), orders_per_day=30,
                         history_days=75, files_dir=tmp_path / "sim")
    with UniwareSimulator(config) as sim:
        harness = Harness(sim, tmp_path)
        with caplog.at_level(logging.WARNING):
            report = harness.run(facilities=["BLR01"], window_days=5, max_concurrent_jobs=1,
                                 start_date=(TEST_NOW - timedelta(days=20)).isoformat())
        assert not report.problems
        sent = [[f["id"] for f in r.body["exportFilters"]] for r in sim.requests.where("create")]
        assert len(sent) >= 4 and sent == [["updatedOn"]] + [["addedOn"]] * (len(sent) - 1), sent
        assert len([r for r in caplog.records if "refused the date filter" in r.getMessage()]) == 1
        assert all(j.query.date_filter == "addedOn" for j in sim.jobs.all())  # none unwindowed


def test_a_snapshot_and_a_job_made_with_the_exports_own_filter_carry_no_fallback_note(harness: Harness) -> None:
    """A snapshot has no date filter: its job was said to be "made with the date filter ..." (an empty one
    differed from none)."""
    harness.run(exports=["Inventory Snapshot", "Sale Orders"], facilities=["BLR01"])
    created = [r for r in harness.history() if r["status"] == "CREATED"]
    assert len(created) == 2 and all(not r["message"] for r in created), created
    assert all(" by " not in r.body["reportName"] for r in harness.sim.requests.where("create"))


# -- 2. facilities from the tenant ---------------------------------------------------------------

def test_all_takes_every_enabled_facility(harness: Harness) -> None:
    harness.run(exports=RETURNS, facilities="all")
    created = sorted(r.header("Facility") or "" for r in harness.sim.requests.where("create"))
    assert created == ["BLR01", "DEL02", "MUM03"]  # not PNQ09, which is DISABLED
    landed = harness.sql("SELECT DISTINCT _uniware_facility FROM {ds}.return_invoices ORDER BY 1")
    assert landed == [("BLR01",), ("DEL02",), ("MUM03",)]


def test_a_facility_search_that_names_the_code_field_code_is_read_too(tmp_path: Path) -> None:
    """uniware-reports.md: callers read `facilityCode`, one client also `code`. A tenant answering `code`
    got "lists no facility at all": with `all` the run stopped, a wrong configured code went unchecked."""
    with UniwareSimulator(fast_config(facility_code_field="code", files_dir=tmp_path / "sim")) as sim:
        harness = Harness(sim, tmp_path)
        harness.run(exports=RETURNS, facilities="all")
        assert sorted(r.header("Facility") or "" for r in sim.requests.where("create")) == ["BLR01", "DEL02", "MUM03"]
        with pytest.raises(ConfigError, match="PNQ09 is DISABLED"):
            harness.run(exports=RETURNS, facilities=["PNQ09"])


@pytest.mark.parametrize("facilities", [None, ["BLR01", "MUM03"]])
def test_a_listed_facility_the_api_user_may_not_use_is_said_so_not_taken_for_a_display_name(
        tmp_path: Path, facilities: list[str] | None) -> None:
    """facility/search lists MUM03 as enabled but the API user may not use it: its create gets HTTP 403
    "facility is required". The code is right, so the message says the user may lack access to it (and
    what to do), not that a display name was given; the other facilities load."""
    with UniwareSimulator(fast_config(user_facilities=("BLR01", "DEL02"), files_dir=tmp_path / "sim")) as sim:
        harness = Harness(sim, tmp_path)
        with pytest.raises(ExportsFailed) as raised:
            harness.run(exports=RETURNS, facilities=facilities)
        [problem] = raised.value.problems
        assert "MUM03" in problem and "HTTP 403" in problem and "display name" not in problem
        assert "lists MUM03 as an enabled facility" in problem and "may not use that facility" in problem
        assert ("'facilities' is not set" in problem) == (facilities is None)
        landed = harness.sql("SELECT DISTINCT _uniware_facility FROM {ds}.return_invoices ORDER BY 1")
        assert landed == [("BLR01",)] if facilities else [("BLR01",), ("DEL02",)]


@pytest.mark.parametrize(("code", "why"), [
    pytest.param("BLR99", "BLR99 is not a facility code of this tenant", id="unknown"),
    pytest.param("PNQ09", "PNQ09 is DISABLED", id="disabled"),
    pytest.param("Bengaluru Central Warehouse", "Bengaluru Central Warehouse is not a facility code", id="name"),
    pytest.param("blr01", "blr01 is not a facility code of this tenant (did you mean BLR01?)", id="case"),
])
def test_a_facility_the_tenant_does_not_enable_stops_the_run_before_any_create(harness: Harness, code: str,
                                                                                why: str) -> None:
    with pytest.raises(ConfigError) as raised:
        harness.run(exports=["Sale Orders", *RETURNS], facilities=["BLR01", code])
    message = str(raised.value)
    assert "setting 'facilities' (SOURCES__UNIWARE__FACILITIES)" in message and "--facility" in message
    assert why in message and "enabled facility codes are: BLR01, DEL02, MUM03." in message
    assert harness.sim.requests.count("create") == 0 and harness.sim.jobs.all() == []
    assert "\n" not in message


def test_facility_search_down_uses_the_configured_codes(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    harness.sim.inject("facility", action=HTTP_ERROR, status=404, times=None)
    with caplog.at_level(logging.WARNING):
        report = harness.run(exports=RETURNS, facilities=["MUM03"])
    assert not report.problems and "facility/search failed" in caplog.text and "MUM03" in caplog.text
    assert harness.sql("SELECT DISTINCT _uniware_facility FROM {ds}.return_invoices") == [("MUM03",)]


def test_job_codes_mode_creates_nothing_and_asks_for_no_facility(harness: Harness) -> None:
    client = PlainClient(harness.sim)
    client.login()
    body = {"exportJobTypeName": "Return Invoices", "exportColums": list(CATALOG["Return Invoices"].columns),
            "exportFilters": [], "frequency": "ONETIME"}
    code = client.create(body, facility="DEL02").json()["jobCode"]
    harness.sim.requests.clear()
    # Return Invoices keys on the facility too (each facility numbers its codes): the job's is said with it
    harness.run(exports=RETURNS, job_codes={"Return Invoices": {"DEL02": [code]}}, facilities=["BLR99"])
    # facility/search once, for the job's facility alone (the configured BLR99 is not asked about)
    assert harness.sim.requests.count("create") == 0 and harness.sim.requests.count("facility") == 1
    assert harness.count("return_invoices") == harness.sim.jobs.all()[0].file.rows  # type: ignore[union-attr]
    assert harness.sql("SELECT DISTINCT _uniware_facility FROM {ds}.return_invoices") == [("DEL02",)]


@pytest.fixture
def live(tmp_path: Path) -> Iterator[UniwareSimulator]:
    """Real now, as the script's real clock needs."""
    with UniwareSimulator(fast_config(start=None, files_dir=tmp_path / "sim")) as sim:
        yield sim


def test_the_script_exits_2_with_one_line_for_an_unknown_facility(live: UniwareSimulator, tmp_path: Path) -> None:
    env = env_for(live, SOURCES__UNIWARE__EXPORTS='["Return Invoices"]')
    done = run_script(["--pipelines-dir", str(tmp_path / "pl"), "--facility", "BLR99"], env, tmp_path)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    [line] = lines
    assert line.startswith("configuration error: setting 'facilities' (SOURCES__UNIWARE__FACILITIES)")
    assert "BLR99 is not a facility code" in line and "--facility" in line and "BLR01, DEL02, MUM03" in line
    assert live.requests.count("create") == 0 and live.requests.count("facility") == 1


# -- 3. a relative filePath ----------------------------------------------------------------------

@pytest.fixture
def relative(tmp_path: Path) -> Iterator[Harness]:
    with UniwareSimulator(fast_config(relative_file_path=True, files_dir=tmp_path / "sim")) as sim:
        yield Harness(sim, tmp_path)


def test_a_relative_file_path_is_fetched_from_the_uniware_host_with_the_token(relative: Harness) -> None:
    relative.run(exports=RETURNS, facilities=["MUM03"])
    [job] = relative.sim.jobs.all()
    assert job.file is not None and relative.count("return_invoices") == job.file.rows
    [download] = relative.sim.requests.where("download")
    assert download.server == "api" and download.path.startswith("/export/")
    assert (download.header("Authorization") or "").lower().startswith("bearer")
    assert relative.sim.requests.count(server="files") == 0
    loaded = relative.history(job.code)[-1]
    assert loaded["status"] == "LOADED" and loaded["file_path"].startswith("/export/")
    assert loaded["file_host"] == relative.sim.base_url.split("://", 1)[1]


def test_the_uniware_host_refuses_an_export_file_without_a_bearer(relative: Harness) -> None:
    client = PlainClient(relative.sim)
    client.login()
    body = {"exportJobTypeName": "Return Invoices", "exportColums": ["invoiceCode", "skuCode"],
            "exportFilters": [], "frequency": "ONETIME"}
    status = client.wait(client.create(body, facility="BLR01").json()["jobCode"])
    path = status["filePath"]
    assert path.startswith("/export/acme/")
    assert requests.get(relative.sim.base_url + path, timeout=10).status_code == 401
    answer = requests.get(relative.sim.base_url + path, headers=client.headers(), timeout=10)
    assert answer.status_code == 200 and answer.content.startswith(b"\xef\xbb\xbf")


def test_a_401_on_the_file_renews_the_token_once(relative: Harness) -> None:
    relative.sim.inject("download", action=HTTP_ERROR, status=401, times=1)
    report = relative.run(exports=RETURNS, facilities=["BLR01"])
    assert not report.problems
    downloads = relative.sim.requests.where("download")
    assert len(downloads) == 2 and all(d.has_authorization for d in downloads)
    assert [r.query.get("grant_type") for r in relative.sim.requests.where("token")] == ["password", "refresh_token"]
    [job] = relative.sim.jobs.all()
    assert job.file is not None and relative.count("return_invoices") == job.file.rows


def test_a_login_page_from_the_uniware_host_is_an_invalid_file(relative: Harness) -> None:
    relative.sim.inject("download", action=HTML)
    with pytest.raises(ExportsFailed) as raised:
        relative.run(exports=RETURNS, facilities=["BLR01"])
    assert "HTML page instead of the CSV" in raised.value.problems[0]
    [job] = relative.sim.jobs.all()
    assert relative.history(job.code)[-1]["status"] == "INVALID_FILE"


def test_an_object_store_link_still_gets_no_token(harness: Harness) -> None:
    harness.run(exports=RETURNS, facilities=["BLR01"])
    [download] = harness.sim.requests.where("download")
    assert download.server == "files" and not download.has_authorization


@pytest.mark.parametrize(("link", "url", "token"), [
    ("/export/acme/1/a.csv", "https://acme.unicommerce.com/export/acme/1/a.csv", True),
    ("export/acme/1/a.csv", "https://acme.unicommerce.com/export/acme/1/a.csv", True),
    ("https://ACME.unicommerce.com:443/x.csv", "https://ACME.unicommerce.com:443/x.csv", True),
    ("//acme.unicommerce.com/x.csv", "https://acme.unicommerce.com/x.csv", True),
    ("http://acme.unicommerce.com/x.csv", "http://acme.unicommerce.com/x.csv", False),
    ("https://acme.unicommerce.com:8443/x.csv", "https://acme.unicommerce.com:8443/x.csv", False),
    ("https://u:p@acme.unicommerce.com/x.csv", "https://u:p@acme.unicommerce.com/x.csv", False),
    ("https://unicommerce-export-in.s3.amazonaws.com/acme/x.csv?X-Amz-Signature=s",
     "https://unicommerce-export-in.s3.amazonaws.com/acme/x.csv?X-Amz-Signature=s", False),
    ("https://acme.unicommerce.com.evil.example/x.csv", "https://acme.unicommerce.com.evil.example/x.csv", False),
])
def test_which_file_links_get_the_token(link: str, url: str, token: bool) -> None:
    resolved = resolve_file_link(link, "https://acme.unicommerce.com")
    assert (resolved.url, resolved.with_token) == (url, token)


def test_a_key_column_id_the_tenant_names_otherwise_is_asked_for_not_left_out(tmp_path: Path) -> None:
    """GRN's column ids are assumed; a tenant whose build calls the GRN Code column `grnNumber` refuses
    `grnCode`. Left out, the export has no key: the job's message asks for the tenant's id instead of
    advising exclude_columns (which the settings then refused: "its key needs 'GRN Code'"), and the
    export's columns with the tenant's id load, keyed on the label its file carries."""
    own = ("GRN", "grnNumber", "grnCode")
    with UniwareSimulator(fast_config(tenant_column_ids=(own,), files_dir=tmp_path / "sim")) as sim:
        harness = Harness(sim, tmp_path)
        with pytest.raises(ExportsFailed) as raised:
            harness.run(exports=["GRN"], facilities=["BLR01"])
        [problem] = raised.value.problems
        assert "does not know the column id grnCode" in problem
        assert "which the export needs ('GRN Code' is part of the key)" in problem
        assert "the catalog assumed GRN's column ids" in problem and "exclude_columns" not in problem
        columns = ["grnNumber" if c == "grnCode" else c for c in CATALOG["GRN"].columns]
        assert not harness.run(exports=[{"name": "GRN", "columns": columns}], facilities=["BLR01"]).problems
        assert harness.sql("SELECT COUNT(*), COUNT(DISTINCT grn_code) FROM {ds}.grns")[0][0] > 0


def test_a_key_configured_in_its_other_reading_is_known_as_needed_when_its_id_is_refused(tmp_path: Path) -> None:
    """The key given in the label's other reading (Return Invoices' `SKU Code` for `Item SKU Code`): a
    tenant refusing `skuCode` is asked for its own id of the key column, not told to leave it out."""
    own = ("Return Invoices", "itemSkuCode", "skuCode")
    with UniwareSimulator(fast_config(tenant_column_ids=(own,), files_dir=tmp_path / "sim")) as sim:
        harness = Harness(sim, tmp_path)
        key = ["Invoice Code", "Return Invoice Code", "SKU Code"]
        with pytest.raises(ExportsFailed) as raised:
            harness.run(exports=[{"name": "Return Invoices", "primary_key": key}], facilities=["BLR01"])
        [problem] = raised.value.problems
        assert "does not know the column id skuCode" in problem
        assert "which the export needs ('SKU Code' is part of the key)" in problem and "exclude_columns" not in problem


def test_a_date_filter_uniware_says_it_ignored_is_never_a_window_without_rows(tmp_path: Path) -> None:
    """Red team helper 149: a create answered with a job and words that its date filter was not applied, then
    COMPLETE without a file, was an EMPTY window (the window check reads a file, and there was none). The
    create is now refused like one of a value filter (CREATE_FAILED naming the filter and the setting to
    change); that job is never polled or fetched, nothing loads, the cursor stays."""
    config = fast_config(unknown_filter="say", orders_per_day=60, history_days=10, files_dir=tmp_path / "sim")
    with UniwareSimulator(config) as sim:
        harness = Harness(sim, tmp_path)
        with pytest.raises(ExportsFailed) as raised:
            harness.run(exports=[WRONG_FILTER], facilities=["BLR01"])
        [problem] = raised.value.problems
        assert "said of its filter updatedAt" in problem and "set date_filter for this export" in problem
        assert sim.requests.count("status") == sim.requests.count("download") == 0
        assert not harness.has_table("sale_orders")
        assert [r["status"] for r in harness.history()] == ["CREATE_FAILED"]
