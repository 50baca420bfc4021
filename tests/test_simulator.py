"""The simulator itself: every endpoint, validation error and fault, over real HTTP."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests

from tests.simulator_fixtures import TEST_NOW, fast_config
from uniware_simulator import (
    BAD_VALUE,
    CANCEL,
    CORRUPT,
    DELAY,
    ERROR,
    EXPIRE_TOKENS,
    FAIL,
    HTML,
    INVALID_UTF8,
    NO_FILE,
    RAGGED,
    RENAMED_HEADER,
    RESET,
    STUCK,
    TRUNCATE,
    WITH_WARNINGS,
    CsvStyle,
    JobTiming,
    UniwareSimulator,
)
from uniware_simulator.__main__ import arm_unhappy_paths, config_from, parse_args
from uniware_simulator.csv_render import parse_ist
from uniware_simulator.reports import REPORTS

from .sim_client import FACILITIES, FACILITY_SEARCH, STATUS, PlainClient, sale_orders_body

WEEK_AGO_MS = int((TEST_NOW - timedelta(days=7)).timestamp() * 1000)
NOW_MS = int(TEST_NOW.timestamp() * 1000)


@pytest.fixture
def client(uniware_simulator: UniwareSimulator) -> PlainClient:
    plain = PlainClient(uniware_simulator)
    plain.login()
    return plain


def download_rows(url: str) -> tuple[list[str], list[list[str]], bytes]:
    answer = requests.get(url, timeout=10)
    answer.raise_for_status()
    text = answer.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return rows[0], rows[1:], answer.content


def error_of(answer: requests.Response) -> dict[str, Any]:
    body = answer.json()
    assert answer.status_code == 200 and body["successful"] is False, body
    error: dict[str, Any] = body["errors"][0]
    return error


# -- a full cycle ---------------------------------------------------------------------------------

def test_full_cycle_with_plain_requests(uniware_simulator: UniwareSimulator) -> None:
    sim = uniware_simulator
    client = PlainClient(sim)
    client.login()
    created = client.create(sale_orders_body(WEEK_AGO_MS, NOW_MS))
    assert created.status_code == 200 and created.json()["successful"] is True
    job_code = created.json()["jobCode"]
    assert created.json()["exportJobId"]
    seen = [client.status(job_code)["status"] for _ in range(3)]
    assert seen == ["SCHEDULED", "IN_PROGRESS", "COMPLETE"]
    status = client.status(job_code)
    assert status["filePath"].startswith(sim.file_base_url + "/acme/")
    assert status["filePath"].endswith(".csv") and "Sale%20Orders_" in status["filePath"]
    header, rows, raw = download_rows(status["filePath"])
    assert raw.startswith("\ufeff".encode())
    truth = sim.truth("Sale Orders", facility="BLR01", date_filter="updatedOn",
                      start=TEST_NOW - timedelta(days=7), end=TEST_NOW)
    assert len(rows) == len(truth) > 50
    assert {r["Sale Order Item Code"] for r in truth} == {r[header.index("Sale Order Item Code")] for r in rows}
    # no request to the file host carried the bearer token
    assert all(not r.has_authorization for r in sim.requests.where(server="files"))


# -- authentication -------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["GET", "POST"])
def test_password_grant_issues_bearer_token(uniware_simulator: UniwareSimulator, method: str) -> None:
    answer = PlainClient(uniware_simulator).password_grant(method=method)
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "bearer" and body["expires_in"] > 0
    assert body["access_token"] and body["refresh_token"]


def test_wrong_client_id_is_rejected(uniware_simulator: UniwareSimulator) -> None:
    answer = PlainClient(uniware_simulator).password_grant(client_id="someone-else")
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"


@pytest.mark.parametrize("status", [400, 500])
def test_bad_credentials_are_rejected(tmp_path: Any, status: int) -> None:
    with UniwareSimulator(fast_config(bad_credentials_status=status, files_dir=tmp_path)) as sim:
        answer = PlainClient(sim).password_grant(password="wrong")
        assert answer.status_code == status
        assert "Bad credentials" in answer.json()["error_description"]


def test_refresh_grant_and_revocation(uniware_simulator: UniwareSimulator) -> None:
    sim = uniware_simulator
    first = PlainClient(sim).password_grant().json()
    params = {"grant_type": "refresh_token", "client_id": "my-trusted-client",
              "refresh_token": first["refresh_token"]}
    refreshed = requests.get(sim.base_url + "/oauth/token", params=params, timeout=10)
    assert refreshed.status_code == 200
    assert refreshed.json()["access_token"] != first["access_token"]
    sim.expire_tokens(refresh_too=True)
    rejected = requests.get(sim.base_url + "/oauth/token", params=params, timeout=10)
    assert rejected.status_code == 400 and rejected.json()["error"] == "invalid_grant"


def test_expired_unknown_or_missing_token_gets_401(uniware_simulator: UniwareSimulator,
                                                   client: PlainClient) -> None:
    assert client.post(FACILITIES, {}).status_code == 200
    uniware_simulator.expire_tokens()
    expired = client.post(FACILITIES, {})
    assert expired.status_code == 401 and expired.json()["error"] == "invalid_token"
    client.token = "not-a-token"
    assert client.post(FACILITIES, {}).status_code == 401
    client.token = None
    assert client.post(FACILITIES, {}).status_code == 401


def test_token_ttl_expires_tokens(tmp_path: Any) -> None:
    with UniwareSimulator(fast_config(token_ttl_seconds=0.0, files_dir=tmp_path)) as sim:
        client = PlainClient(sim)
        client.login()
        assert client.post(FACILITIES, {}).status_code == 401


# -- facilities -----------------------------------------------------------------------------------

def test_facility_search(client: PlainClient) -> None:
    everything = client.post(FACILITIES, FACILITY_SEARCH).json()
    assert everything["successful"] is True and everything["warnings"] is None
    assert {p["facilityCode"]: p["facilityStatus"] for p in everything["parties"]} == {
        "BLR01": "ENABLED", "DEL02": "ENABLED", "MUM03": "ENABLED", "PNQ09": "DISABLED"}
    for party in everything["parties"]:  # the real shape: no display name, epoch-ms dates
        assert set(party) == {"facilityCode", "facilityStatus", "created", "updated"}
        assert isinstance(party["created"], int) and party["created"] > 10**12
        assert party["updated"] >= party["created"]
    enabled = client.post(FACILITIES, {**FACILITY_SEARCH, "facilityStatus": "ENABLED"}).json()
    assert [p["facilityCode"] for p in enabled["parties"]] == ["BLR01", "DEL02", "MUM03"]
    disabled = client.post(FACILITIES, {**FACILITY_SEARCH, "facilityStatus": "DISABLED"}).json()
    assert [p["facilityCode"] for p in disabled["parties"]] == ["PNQ09"]
    # the date range applies to the dateType's date
    created = {p["facilityCode"]: p["created"] for p in everything["parties"]}
    narrow = {**FACILITY_SEARCH, "fromDate": created["DEL02"], "toDate": created["DEL02"]}
    assert [p["facilityCode"] for p in client.post(FACILITIES, narrow).json()["parties"]] == ["DEL02"]


@pytest.mark.parametrize("missing", ["facilityStatus", "fromDate", "toDate", "dateType"])
def test_facility_search_needs_all_four_fields(client: PlainClient, missing: str) -> None:
    body = {k: v for k, v in FACILITY_SEARCH.items() if k != missing}
    error = error_of(client.post(FACILITIES, body))
    assert error["code"] == 1001 and error["fieldName"] == missing


# -- create: validation ---------------------------------------------------------------------------

@pytest.mark.parametrize("facility", [None, "Bengaluru Central Warehouse", "PNQ09", "NOPE"])
def test_create_needs_an_enabled_facility_code(client: PlainClient, facility: Any) -> None:
    answer = client.create(sale_orders_body(WEEK_AGO_MS, NOW_MS), facility=facility)
    assert answer.status_code == 403
    assert answer.json()["message"] == "Illegal Access, facility is required"


def test_create_rejects_the_exportColumns_spelling_and_unknown_keys(client: PlainClient) -> None:
    body = sale_orders_body(WEEK_AGO_MS, NOW_MS)
    body["exportColumns"] = body.pop("exportColums")
    answer = client.create(body)
    assert answer.status_code == 400 and "exportColumns" in answer.json()["message"]
    answer = client.create({**sale_orders_body(WEEK_AGO_MS, NOW_MS), "pageSize": 10})
    assert answer.status_code == 400 and "pageSize" in answer.json()["message"]


@pytest.mark.parametrize("change, code, field", [
    ({"exportColums": []}, 100002, "exportColums"),  # "exportColums can not be empty" (uniware-reports.md)
    ({"exportColums": None}, 1001, "exportColums"),
    ({"frequency": None}, 1001, "frequency"),
    ({"frequency": "RECURRENT"}, 120005, "frequency"),
    ({"frequency": "HOURLY"}, 120005, "frequency"),
    ({"exportJobTypeName": "Sale Orderz"}, 100001, "exportJobTypeName"),
    ({"exportColums": ["soicode", "nope"]}, 100002, "exportColums"),
    ({"exportFilters": [{"id": "madeUp", "text": "x"}]}, 100003, "exportFilters"),
    # B2B Sale Orders needs addedOn or updatedOn ("at least one required", AL)
    ({"exportJobTypeName": "B2B Sale Orders", "exportFilters": []}, 100003, "exportFilters"),
    ({"exportJobTypeName": "B2B Sale Orders", "exportFilters": [{"id": "channelFilter", "selectedValues": ["MYNTRA"]}]},
     100003, "exportFilters"),
    ({"exportColums": ["soicode", "itemName"]}, 100002, "exportColums"),
    ({"exportColums": ["soicode", "shippingCity"]}, 100002, "exportColums"),
    ({"exportColums": ["soicode", "trackingNumber"]}, 100002, "exportColums"),
    ({"exportColums": ["soicode", "shippingAddress"]}, 100002, "exportColums"),
    ({"exportFilters": [{"id": "updatedOn"}]}, 100004, "updatedOn"),
    ({"exportFilters": [{"id": "updatedOn", "dateRange": {"start": "yesterday", "end": 1}}]},
     100004, "updatedOn"),
    ({"exportFilters": [{"id": "updatedOn", "dateRange": {"start": NOW_MS, "end": WEEK_AGO_MS}}]},
     100004, "updatedOn"),
    ({"exportFilters": [{"id": "updatedOn",
                         "dateRange": {"start": NOW_MS - 93 * 86400000, "end": NOW_MS}}]},
     100004, "updatedOn"),
    ({"exportFilters": [{"id": "channelFilter", "selectedValues": ["EBAY"]}]}, 100005, "channelFilter"),
])
def test_create_validation_errors(client: PlainClient, change: dict[str, Any], code: int,
                                  field: str) -> None:
    body = {**sale_orders_body(WEEK_AGO_MS, NOW_MS), **change}
    body = {k: v for k, v in body.items() if v is not None}
    error = error_of(client.create(body))
    assert error["code"] == code and error["fieldName"] == field
    assert error["description"] and error["message"]


def test_sale_orders_needs_no_date_filter(client: PlainClient) -> None:
    """uniware-reports.md 10 says a date filter is required of B2B Sale Orders and Tally Return GST only."""
    answer = client.create({**sale_orders_body(WEEK_AGO_MS, NOW_MS), "exportFilters": []})
    assert answer.status_code == 200 and answer.json()["successful"] is True, answer.json()


def test_error_text_can_come_in_message_instead_of_description(tmp_path: Any) -> None:
    with UniwareSimulator(fast_config(error_text_field="message", files_dir=tmp_path)) as sim:
        client = PlainClient(sim)
        client.login()
        error = error_of(client.create({**sale_orders_body(WEEK_AGO_MS, NOW_MS),
                                        "exportJobTypeName": "Nope"}))
        assert error["description"] == "INVALID_EXPORT_JOB_TYPE_NAME"
        assert "Invalid export job type name" in error["message"]


def test_unknown_filter_can_be_silently_ignored(tmp_path: Any) -> None:
    with UniwareSimulator(fast_config(unknown_filter="ignore", files_dir=tmp_path)) as sim:
        client = PlainClient(sim)
        client.login()
        body = sale_orders_body(WEEK_AGO_MS, NOW_MS, filter_id="updatedAt")
        answer = client.create(body)
        assert answer.json()["successful"] is True
        status = client.wait(answer.json()["jobCode"])
        _, rows, _ = download_rows(status["filePath"])
        everything = sim.truth("Sale Orders", facility="BLR01")
        assert len(rows) == len(everything)  # the windowed export became a full dump
        empty = error_of(client.create(sale_orders_body(WEEK_AGO_MS, NOW_MS, filter_id="")))
        assert empty["code"] == 100003 and "exportFilters[0].id can not be empty" in empty["description"]


def test_duplicate_running_job_is_answered_with_100014(client: PlainClient) -> None:
    body = sale_orders_body(WEEK_AGO_MS, NOW_MS)
    first = client.create(body).json()["jobCode"]
    error = error_of(client.create(body))
    assert error["code"] == 100014 and error["errorParams"]["jobCode"] == first
    assert client.create(body, facility="DEL02").json()["successful"] is True
    client.wait(first)
    assert client.create(body).json()["successful"] is True  # finished jobs do not block


def test_create_needs_json_content_type(client: PlainClient) -> None:
    answer = requests.post(client.sim.base_url + "/services/rest/v1/export/job/create",
                           data="x=1", headers={**client.headers("BLR01"),
                                                "Content-Type": "application/x-www-form-urlencoded"},
                           timeout=10)
    assert answer.status_code == 415


# -- status: the lifecycle ------------------------------------------------------------------------

def test_unknown_job_code(client: PlainClient) -> None:
    error = error_of(client.post(STATUS, {"jobCode": "EXP-NOPE"}))
    assert error["code"] == 100006
    assert error_of(client.post(STATUS, {}))["code"] == 1001


def test_successful_instead_of_complete(tmp_path: Any) -> None:
    timing = JobTiming(seconds_per_status=(0, 0), completion_status="SUCCESSFUL")
    with UniwareSimulator(fast_config(timing=timing, files_dir=tmp_path)) as sim:
        client = PlainClient(sim)
        client.login()
        status = client.wait(client.create(sale_orders_body(WEEK_AGO_MS, NOW_MS)).json()["jobCode"])
        assert status["status"] == "SUCCESSFUL" and status["filePath"]


def test_custom_pending_statuses_and_min_polls(tmp_path: Any) -> None:
    timing = JobTiming(pending_statuses=("QUEUED", "RUNNING", "PROCESSING"),
                       seconds_per_status=(0, 0, 0), min_polls_per_status=2)
    with UniwareSimulator(fast_config(timing=timing, files_dir=tmp_path)) as sim:
        client = PlainClient(sim)
        client.login()
        code = client.create(sale_orders_body(WEEK_AGO_MS, NOW_MS)).json()["jobCode"]
        seen = [client.status(code)["status"] for _ in range(7)]
        assert seen == ["QUEUED", "QUEUED", "RUNNING", "RUNNING", "PROCESSING", "PROCESSING", "COMPLETE"]
        job = sim.jobs.get(code)
        assert job is not None and job.reported == ["QUEUED", "RUNNING", "PROCESSING", "COMPLETE"]


def test_status_durations_follow_the_speed_knob(tmp_path: Any) -> None:
    # an hour per status, scaled down to nothing: the knob tests use instead of sleeping
    timing = JobTiming(seconds_per_status=(3600, 3600), time_scale=0.0)
    with UniwareSimulator(fast_config(timing=timing, files_dir=tmp_path)) as sim:
        client = PlainClient(sim)
        client.login()
        assert client.wait(client.create(sale_orders_body(WEEK_AGO_MS, NOW_MS)).json()["jobCode"],
                           max_polls=4)["status"] == "COMPLETE"
    slow = JobTiming(seconds_per_status=(3600, 3600), time_scale=1.0)
    with UniwareSimulator(fast_config(timing=slow, files_dir=tmp_path / "slow")) as sim:
        client = PlainClient(sim)
        client.login()
        code = client.create(sale_orders_body(WEEK_AGO_MS, NOW_MS)).json()["jobCode"]
        assert {client.status(code)["status"] for _ in range(5)} == {"SCHEDULED"}


def test_complete_before_file_path(client: PlainClient) -> None:
    client.sim.inject_job_fate(NO_FILE, polls=2)
    code = client.create(sale_orders_body(WEEK_AGO_MS, NOW_MS)).json()["jobCode"]
    answers = [client.status(code) for _ in range(5)]
    assert [a["status"] for a in answers] == ["SCHEDULED", "IN_PROGRESS", "COMPLETE", "COMPLETE", "COMPLETE"]
    assert [bool(a.get("filePath")) for a in answers] == [False, False, False, False, True]


@pytest.mark.parametrize(("no_file_path", "given"), [("empty", ""), ("null", None)])
def test_complete_before_file_path_as_an_empty_or_null_field(client: PlainClient, no_file_path: str,
                                                            given: Any) -> None:
    client.sim.inject_job_fate(NO_FILE, polls=2, no_file_path=no_file_path)
    code = client.create(sale_orders_body(WEEK_AGO_MS, NOW_MS)).json()["jobCode"]
    answers = [client.status(code) for _ in range(5)]
    assert ["filePath" in a and a["filePath"] == given for a in answers[2:4]] == [True, True]
    assert answers[-1]["filePath"]


def test_complete_with_warnings_in_the_seed_pages_shape(client: PlainClient) -> None:
    client.sim.inject_job_fate(WITH_WARNINGS, message="Some columns were left out", polls=None)
    code = client.create(sale_orders_body(WEEK_AGO_MS, NOW_MS)).json()["jobCode"]
    answer = [client.status(code) for _ in range(3)][-1]
    assert answer["successful"] is True and answer["filePath"] and answer["errors"] == []
    assert answer["warnings"] == [{"code": 0, "message": "Some columns were left out",
                                   "description": "Some columns were left out"}]


def test_zero_row_export_has_no_file_path(client: PlainClient) -> None:
    far_past = NOW_MS - 400 * 86400000
    code = client.create(sale_orders_body(far_past, far_past + 86400000)).json()["jobCode"]
    answers = [client.status(code) for _ in range(5)]
    assert answers[-1]["status"] == "COMPLETE" and "filePath" not in answers[-1]


def test_zero_row_export_can_be_a_header_only_file(tmp_path: Any) -> None:
    with UniwareSimulator(fast_config(empty_export_file=True, files_dir=tmp_path)) as sim:
        client = PlainClient(sim)
        client.login()
        far_past = NOW_MS - 400 * 86400000
        status = client.wait(client.create(sale_orders_body(far_past, far_past + 86400000)).json()["jobCode"])
        header, rows, _ = download_rows(status["filePath"])
        assert header and rows == []


@pytest.mark.parametrize("fate", [FAIL, CANCEL, ERROR])
def test_job_fates(client: PlainClient, fate: str) -> None:
    fault = client.sim.inject_job_fate(fate, message="Report could not be generated")
    code = client.create(sale_orders_body(WEEK_AGO_MS, NOW_MS)).json()["jobCode"]
    status = client.wait(code)
    assert status["status"] == fate and status["message"] == "Report could not be generated"
    assert fault.fired == 1
    # the fate was for one job only
    assert client.wait(client.create(sale_orders_body(WEEK_AGO_MS, NOW_MS), "DEL02").json()["jobCode"])[
        "status"] == "COMPLETE"


def test_stuck_job_until_released(client: PlainClient) -> None:
    client.sim.inject_job_fate(STUCK)
    code = client.create(sale_orders_body(WEEK_AGO_MS, NOW_MS)).json()["jobCode"]
    assert {client.status(code)["status"] for _ in range(10)} == {"SCHEDULED"}
    client.sim.release_stuck_jobs()
    assert client.wait(code)["status"] == "COMPLETE"


def test_queue_outage_fails_every_job_while_it_lasts(client: PlainClient) -> None:
    codes = [client.create(sale_orders_body(WEEK_AGO_MS, NOW_MS), f).json()["jobCode"]
             for f in ("BLR01", "DEL02")]
    client.status(codes[0])
    client.sim.set_queue_outage(True)
    assert [client.wait(c)["status"] for c in codes] == ["FAILED", "FAILED"]
    client.sim.set_queue_outage(False)
    assert client.wait(client.create(sale_orders_body(WEEK_AGO_MS, NOW_MS)).json()["jobCode"])[
        "status"] == "COMPLETE"


# -- data: filters, evolution and CSV quirks ------------------------------------------------------

def test_date_filters_really_filter(uniware_simulator: UniwareSimulator, client: PlainClient) -> None:
    start, end = TEST_NOW - timedelta(days=3), TEST_NOW - timedelta(days=1)
    body = sale_orders_body(int(start.timestamp() * 1000), int(end.timestamp() * 1000),
                            columns=["soicode", "created", "updated"], filter_id="addedOn")
    status = client.wait(client.create(body).json()["jobCode"])
    header, rows, _ = download_rows(status["filePath"])
    created = [parse_ist(r[header.index("Created")]) for r in rows]
    assert rows and all(start <= c <= end for c in created if c)
    body = sale_orders_body(int(start.timestamp() * 1000), int(end.timestamp() * 1000),
                            columns=["soicode", "updated"])
    status = client.wait(client.create(body).json()["jobCode"])
    header, rows, _ = download_rows(status["filePath"])
    updated = [parse_ist(r[header.index("Updated")]) for r in rows]
    assert rows and all(start <= u <= end for u in updated if u)


def test_text_range_and_channel_filter(client: PlainClient) -> None:
    body = {"exportJobTypeName": "Sale Orders", "exportColums": ["soicode", "channel"],
            "exportFilters": [{"id": "addedOn", "dateRange": {"textRange": "LAST_7_DAYS"}},
                              {"id": "channelFilter", "selectedValues": ["MYNTRA"]}],
            "frequency": "ONETIME"}
    header, rows, _ = download_rows(client.wait(client.create(body).json()["jobCode"])["filePath"])
    assert rows and {r[header.index("Channel Name")] for r in rows} == {"MYNTRA"}


def test_tenant_evolves_new_orders_and_status_changes(uniware_simulator: UniwareSimulator) -> None:
    sim = uniware_simulator
    columns = ["soicode", "SoiStatus", "updated"]
    before = {r["Sale Order Item Code"]: r for r in sim.truth("Sale Orders", columns=columns)}
    sim.clock.advance(timedelta(days=2))
    after = {r["Sale Order Item Code"]: r for r in sim.truth("Sale Orders", columns=columns)}
    new = set(after) - set(before)
    changed = [k for k in before if after[k]["Sale Order Item Status"] != before[k]["Sale Order Item Status"]]
    assert len(new) > 300 and len(changed) > 300
    assert all(after[k]["Updated"] > before[k]["Updated"] for k in changed)


def test_csv_looks_like_the_field(uniware_simulator: UniwareSimulator, client: PlainClient) -> None:
    requested = ["updated", "soicode", "shippingAddressLine1", "sellingPrice", "shippingAddressName",
                 "TrackingNumber", "cancellationReason", "created", "displayOrderDateTime", "itemTypeName"]
    body = sale_orders_body(NOW_MS - 20 * 86400000, NOW_MS, columns=requested)
    header, rows, raw = download_rows(client.wait(client.create(body).json()["jobCode"])["filePath"])
    # display labels, in request order, then the unrequested columns
    assert header == ["Updated", "Sale Order Item Code", "Shipping Address Line 1", "Selling Price",
                      "Shipping Address Name", "Tracking Number", "Cancellation Reason", "Created",
                      "Order Date as dd/mm/yyyy hh:MM:ss", "Item Type Name", "Channel Shipping", "Item Details"]
    text = raw.decode("utf-8-sig")
    cells = [c for r in rows for c in r]
    assert {"", "N/A", "-", "NULL"} <= set(cells)
    assert any("\n" in c for c in cells) and any('"' in c for c in cells) and any("," in c for c in cells)
    assert any(ord(ch) > 127 for ch in text)
    created = [r[header.index("Created")] for r in rows]
    assert any(c[4] == "-" for c in created) and any(c[2] == "-" and len(c) == 16 for c in created)
    # the Order Date label looks like a format; its values are not dd/mm (field)
    order_dates = [r[header.index("Order Date as dd/mm/yyyy hh:MM:ss")] for r in rows]
    assert all("/" not in d and parse_ist(d) for d in order_dates)


def test_csv_content_matches_truth(uniware_simulator: UniwareSimulator, client: PlainClient) -> None:
    start = TEST_NOW - timedelta(days=5)
    body = sale_orders_body(int(start.timestamp() * 1000), NOW_MS)
    header, rows, _ = download_rows(client.wait(client.create(body).json()["jobCode"])["filePath"])
    truth = {r["Sale Order Item Code"]: r for r in uniware_simulator.truth(
        "Sale Orders", facility="BLR01", date_filter="updatedOn", start=start, end=TEST_NOW)}
    blanks = {"", "N/A", "-", "NULL"}
    for row in rows:
        record = dict(zip(header, row, strict=True))
        expected = truth[record["Sale Order Item Code"]]
        assert parse_ist(record["Updated"]) == expected["Updated"]
        assert Decimal(record["Selling Price"]) == expected["Selling Price"]
        assert (None if record["Tracking Number"] in blanks else record["Tracking Number"]) == \
            expected["Tracking Number"]
        assert record["Shipping Address Line 1"] == expected["Shipping Address Line 1"]


@pytest.mark.parametrize("report, columns, filter_id", [
    ("Invoice", ["invoiceCode", "invoiceDate", "skuCode", "quantity", "invoiceTotal"], "dateCreatedRange"),
    ("Return Invoices", ["invoiceCode", "skuCode", "returnedDate", "qty"], "addedOn"),
    ("Inventory Snapshot", ["facility", "itemtypeSku", "inventory", "updated"], None),
    ("Item Master", ["skuCode", "componentProductCode", "itemName", "MRP"], None),
    ("B2B Sale Orders", ["soicode", "channel"], "updatedOn"),
])
def test_every_report_type_exports(uniware_simulator: UniwareSimulator, client: PlainClient,
                                   report: str, columns: list[str], filter_id: Any) -> None:
    filters = []
    start = TEST_NOW - timedelta(days=30)
    if filter_id:
        filters = [{"id": filter_id, "dateRange": {"start": int(start.timestamp() * 1000), "end": NOW_MS}}]
    body = {"exportJobTypeName": report, "exportColums": columns, "exportFilters": filters,
            "frequency": "ONETIME"}
    header, rows, _ = download_rows(client.wait(client.create(body).json()["jobCode"])["filePath"])
    truth = uniware_simulator.truth(report, facility="BLR01", date_filter=filter_id,
                                    start=start if filter_id else None, end=TEST_NOW if filter_id else None)
    assert len(rows) == len(truth) > 0
    if report == "Invoice":  # an item of quantity 2 gives two identical lines
        keys = [(r[0], r[header.index("SKU Code")]) for r in rows]
        assert len(set(keys)) < len(keys)
    if report == "Item Master":
        assert len({r[0] for r in rows}) < len(rows)


# -- the file host --------------------------------------------------------------------------------

@pytest.fixture
def file_url(client: PlainClient) -> str:
    url: str = client.wait(client.create(sale_orders_body(WEEK_AGO_MS, NOW_MS)).json()["jobCode"])["filePath"]
    return url


def test_file_host_rejects_authorization(file_url: str) -> None:
    answer = requests.get(file_url, headers={"Authorization": "bearer abc"}, timeout=10)
    assert answer.status_code == 400 and b"InvalidArgument" in answer.content


def test_file_host_ranges(file_url: str) -> None:
    whole = requests.get(file_url, timeout=10).content
    part = requests.get(file_url, headers={"Range": "bytes=100-"}, timeout=10)
    assert part.status_code == 206 and part.content == whole[100:]
    assert part.headers["Content-Range"] == f"bytes 100-{len(whole) - 1}/{len(whole)}"
    tail = requests.get(file_url, headers={"Range": "bytes=-10"}, timeout=10)
    assert tail.content == whole[-10:]
    assert requests.get(file_url, headers={"Range": f"bytes={len(whole)}-"}, timeout=10).status_code == 416
    head = requests.head(file_url, timeout=10)
    assert int(head.headers["Content-Length"]) == len(whole) and head.headers["Accept-Ranges"] == "bytes"


def test_file_host_unknown_and_expired(tmp_path: Any) -> None:
    with UniwareSimulator(fast_config(file_ttl_seconds=0.0, files_dir=tmp_path)) as sim:
        client = PlainClient(sim)
        client.login()
        url = client.wait(client.create(sale_orders_body(WEEK_AGO_MS, NOW_MS)).json()["jobCode"])["filePath"]
        assert requests.get(url, timeout=10).status_code == 403
        assert requests.get(sim.file_base_url + "/acme/nope.csv", timeout=10).status_code == 404


# -- HTTP faults ----------------------------------------------------------------------------------

@pytest.mark.parametrize("endpoint", ["token", "create", "status", "facility"])
@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_http_error_faults(uniware_simulator: UniwareSimulator, endpoint: str, status: int) -> None:
    sim = uniware_simulator
    client = PlainClient(sim)
    client.login()
    code = client.create(sale_orders_body(WEEK_AGO_MS, NOW_MS)).json()["jobCode"]
    fault = sim.inject(endpoint, status=status, retry_after=3 if status == 429 else None, times=1)
    calls = {
        "token": lambda: client.password_grant(),
        "create": lambda: client.create(sale_orders_body(WEEK_AGO_MS, NOW_MS), "DEL02"),
        "status": lambda: client.post(STATUS, {"jobCode": code}),
        "facility": lambda: client.post(FACILITIES, {}),
    }
    failed = calls[endpoint]()
    assert failed.status_code == status
    if status == 429:
        assert failed.headers["Retry-After"] == "3"
    assert calls[endpoint]().status_code == 200
    assert fault.fired == 1 and sim.faults.fired()[f"{endpoint}:http_error:{status}"] == 1


def test_connection_reset_fault(uniware_simulator: UniwareSimulator, client: PlainClient) -> None:
    uniware_simulator.inject("facility", action=RESET)
    with pytest.raises(requests.ConnectionError):
        client.post(FACILITIES, {})
    assert client.post(FACILITIES, {}).status_code == 200


def test_delay_fault_causes_read_timeout(uniware_simulator: UniwareSimulator, client: PlainClient) -> None:
    uniware_simulator.inject("facility", action=DELAY, seconds=0.5)
    with pytest.raises(requests.ReadTimeout):
        client.post(FACILITIES, {}, timeout=0.1)


def test_create_fault_after_processing_still_creates_the_job(uniware_simulator: UniwareSimulator,
                                                             client: PlainClient) -> None:
    uniware_simulator.inject("create", status=502, after_processing=True)
    assert client.create(sale_orders_body(WEEK_AGO_MS, NOW_MS)).status_code == 502
    assert len(uniware_simulator.jobs.all()) == 1
    retried = error_of(client.create(sale_orders_body(WEEK_AGO_MS, NOW_MS)))
    assert retried["code"] == 100014
    assert retried["errorParams"]["jobCode"] == uniware_simulator.jobs.all()[0].code


def test_truncated_download(uniware_simulator: UniwareSimulator, file_url: str) -> None:
    whole = requests.get(file_url, timeout=10).content
    uniware_simulator.inject("download", action=TRUNCATE, fraction=0.5)
    answer = requests.get(file_url, stream=True, timeout=10)
    assert int(answer.headers["Content-Length"]) == len(whole)
    received = bytearray()
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        for chunk in answer.iter_content(8192):
            received.extend(chunk)
    assert 0 < len(received) < len(whole)
    resumed = requests.get(file_url, headers={"Range": f"bytes={len(received)}-"}, timeout=10)
    assert bytes(received) + resumed.content == whole


def test_html_login_page_instead_of_csv(uniware_simulator: UniwareSimulator, file_url: str) -> None:
    uniware_simulator.inject("download", action=HTML)
    answer = requests.get(file_url, timeout=10)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/html")
    assert answer.content.lstrip().lower().startswith(b"<!doctype html")


def test_download_http_error_fault(uniware_simulator: UniwareSimulator, file_url: str) -> None:
    uniware_simulator.inject("download", status=503, times=2)
    assert [requests.get(file_url, timeout=10).status_code for _ in range(3)] == [503, 503, 200]


# -- the request log ------------------------------------------------------------------------------

def test_request_log_masks_secrets(uniware_simulator: UniwareSimulator, client: PlainClient) -> None:
    sim = uniware_simulator
    PlainClient(sim).password_grant(method="POST")
    client.create(sale_orders_body(WEEK_AGO_MS, NOW_MS))
    token_requests = sim.requests.where("token")
    assert token_requests[0].query["password"] == "***"
    assert token_requests[1].body["password"] == "***"
    created = sim.requests.where("create")[0]
    assert created.header("Authorization") == "bearer ***"
    assert created.header("Facility") == "BLR01"
    assert created.body["exportJobTypeName"] == "Sale Orders"
    dump = repr(list(sim.requests))
    assert client.token and sim.config.password not in dump and client.token not in dump


def test_no_bom_and_no_extra_column_knobs(tmp_path: Any) -> None:
    config = fast_config(csv_style=CsvStyle(bom=False, mixed_timestamps=False), extra_columns=False,
                         files_dir=tmp_path)
    with UniwareSimulator(config) as sim:
        client = PlainClient(sim)
        client.login()
        body = sale_orders_body(WEEK_AGO_MS, NOW_MS, columns=["soicode", "created"])
        url = client.wait(client.create(body).json()["jobCode"])["filePath"]
        raw = requests.get(url, timeout=10).content
        assert not raw.startswith("\ufeff".encode())
        header, rows, _ = download_rows(url)
        assert header == ["Sale Order Item Code", "Created"]
        assert all(r[1][4] == "-" for r in rows)


def test_simulated_clock_is_fixed_in_tests(uniware_simulator: UniwareSimulator) -> None:
    assert uniware_simulator.clock.now() == TEST_NOW
    assert uniware_simulator.clock.advance(timedelta(hours=1)) == TEST_NOW + timedelta(hours=1)
    assert TEST_NOW.tzinfo is UTC and isinstance(TEST_NOW, datetime)


# -- knobs for the reliability tests ---------------------------------------------------------------

def test_expire_tokens_fault_answers_then_expires(uniware_simulator: UniwareSimulator, client: PlainClient) -> None:
    uniware_simulator.inject("facility", action=EXPIRE_TOKENS)
    assert client.post(FACILITIES, {}).status_code == 200
    assert client.post(FACILITIES, {}).status_code == 401


@pytest.mark.parametrize("corruption", [RAGGED, INVALID_UTF8, RENAMED_HEADER, BAD_VALUE])
def test_corrupt_job_files(uniware_simulator: UniwareSimulator, client: PlainClient, corruption: str) -> None:
    uniware_simulator.inject_job_fate(CORRUPT, corruption=corruption)
    damaged = requests.get(client.wait(client.create(sale_orders_body(WEEK_AGO_MS, NOW_MS)).json()["jobCode"])[
        "filePath"], timeout=10).content
    clean = requests.get(client.wait(client.create(sale_orders_body(WEEK_AGO_MS, NOW_MS), "BLR01").json()[
        "jobCode"])["filePath"], timeout=10).content
    assert damaged != clean
    if corruption == INVALID_UTF8:
        with pytest.raises(UnicodeDecodeError):
            damaged.decode("utf-8")
        return
    header = next(csv.reader(io.StringIO(damaged.decode("utf-8-sig"))))
    rows = list(csv.reader(io.StringIO(damaged.decode("utf-8-sig"))))[1:]
    if corruption == RENAMED_HEADER:
        assert "Last Updated" in header and "Updated" not in header
    elif corruption == RAGGED:
        assert len(rows[4]) == len(header) + 1
    else:
        assert rows[4][header.index("Selling Price")] == "12,34.5x"


def test_chaos_fires_seeded_transient_faults(uniware_simulator: UniwareSimulator, client: PlainClient) -> None:
    chaos = uniware_simulator.chaos(rate=0.5, seed=3)
    answers = []
    for _ in range(40):
        try:
            answers.append(client.post(FACILITIES, {}).status_code)
        except requests.ConnectionError:
            answers.append(-1)
    assert 5 < sum(a != 200 for a in answers) < 35
    assert sum(chaos.fired.values()) == sum(a != 200 for a in answers)
    assert all(a in (200, 429, 500, 502, 503, -1) for a in answers)
    assert "chaos:facility:429" in uniware_simulator.faults.fired() or any(
        k.startswith("chaos:facility") for k in uniware_simulator.faults.fired())


# -- the real vocabulary (../shared/uniware-reports.md) ----------------------------------------------

def _export(client: PlainClient, report: str, columns: list[str], filters: list[dict[str, Any]],
            facility: str = "BLR01") -> tuple[list[str], list[list[str]]]:
    body = {"exportJobTypeName": report, "exportColums": columns, "exportFilters": filters, "frequency": "ONETIME"}
    created = client.create(body, facility=facility).json()
    assert created["successful"] is True, created
    header, rows, _ = download_rows(client.wait(created["jobCode"])["filePath"])
    return header, rows


MONTH = [{"id": "updatedOn", "dateRange": {"start": NOW_MS - 30 * 86400000, "end": NOW_MS}}]


@pytest.mark.parametrize("report", sorted(REPORTS))
def test_every_report_accepts_its_real_ids_and_answers_labels_in_request_order(
        client: PlainClient, report: str) -> None:
    spec = REPORTS[report]
    ids = [c.id for c in reversed(spec.columns)]  # any order: the file follows the request
    filters = []
    if spec.date_filters and spec.name not in ("Inventory Snapshot", "Item Master"):
        filters = [{"id": spec.date_filters[0], "dateRange": {"textRange": "LAST_30_DAYS"}}]
    header, rows = _export(client, report, ids, filters)
    labels = [c.label for c in reversed(spec.columns)]
    extra = [c.label for c in spec.extra_columns if c.label not in labels]
    assert header == labels + extra
    assert rows and all(len(r) == len(header) for r in rows)


@pytest.mark.parametrize("report, real_ids", [
    ("Sale Orders", ["SoiStatus", "facilityCode", "TrackingNumber", "ShippingPackageCode", "shippingAddressCity",
                     "itemTypeName", "currency", "ajustmentInSellingPrice", "ajustmentInDiscount", "Cgsttin",
                     "paymentInstrc", "cgstrate", "igstrate", "vendorunitprice", "gsttin", "TCSAmount",
                     "ShippingPackageCreationDate", "displayorderCode", "saleOrderCustomFields_STORE__CODE"]),
    ("Invoice", ["Cod", "ajustmentInSellingPrice", "cgstrate", "costprice", "sellerSkuCode"]),
    ("Reverse Pickup", ["courierProvideName", "itemtypeSku", "itemtypeName"]),
    ("Purchase Orders", ["recieveQuantity", "itemtypeSku"]),
    ("Inventory Snapshot", ["itemtypeSku", "pendingStockTransfer", "MRP"]),
    ("Tally GST Report", ["cgstRate", "QTY", "Currency", "trackingNumber", "godDown"]),
])
def test_real_ids_with_their_typos_are_accepted(client: PlainClient, report: str, real_ids: list[str]) -> None:
    filters = [{"id": REPORTS[report].date_filters[0], "dateRange": {"textRange": "LAST_30_DAYS"}}]
    header, _ = _export(client, report, real_ids, [] if report == "Inventory Snapshot" else filters)
    expected = {"Cgsttin": "Customer GSTIN", "paymentInstrc": "Payment Instrument",
                "SoiStatus": "Sale Order Item Status",
                "recieveQuantity": "Recieved Quantity", "courierProvideName": "Courier Provider Name",
                "trackingNumber": "AWB num", "pendingStockTransfer": "Stock In Transfer"}
    for column_id, label in expected.items():
        if column_id in real_ids:
            assert header[real_ids.index(column_id)] == label


@pytest.mark.parametrize("report, invented", [
    ("Sale Orders", "itemName"), ("Sale Orders", "shippingCity"), ("Sale Orders", "shippingAddress"),
    ("Sale Orders", "trackingNumber"), ("Sale Orders", "shippingPackageCode"), ("Sale Orders", "soiStatus"),
    ("Sale Orders", "cgstRate"), ("Invoice", "cod"), ("Return Invoices", "saleOrderItemCode"),
    ("Tally GST Report", "igstA"), ("Item Master", "productCode"),
])
def test_invented_ids_are_rejected_with_the_documented_error(client: PlainClient, report: str,
                                                              invented: str) -> None:
    body = {"exportJobTypeName": report, "exportColums": [invented],
            "exportFilters": [{"id": REPORTS[report].date_filters[0], "dateRange": {"textRange": "TODAY"}}],
            "frequency": "ONETIME"}
    error = error_of(client.create(body))
    assert error["code"] == 100002 and error["message"] == "INVALID_EXPORT_JOB_COLUMN"
    assert invented in error["description"] and error["errorParams"] == {"column": invented}


def test_schedule_error_has_the_documented_name(client: PlainClient) -> None:
    error = error_of(client.create({**sale_orders_body(WEEK_AGO_MS, NOW_MS), "frequency": "HOURLY"}))
    assert error["code"] == 120005 and error["message"] == "INVALID_EXPORT_SCHEDULE_CONFIG"


def test_the_fields_answers_to_a_bad_frequency_and_an_unknown_facility_code(tmp_path: Any) -> None:
    """200204 for a bad frequency and 200001 for a facility code the tenant does not have, where asked (the
    field and the docs); a display name in the header is refused with 403 whatever is asked."""
    config = fast_config(files_dir=tmp_path, schedule_error=(200204, "INVALID_FREQUENCY"), unknown_facility="200001")
    with UniwareSimulator(config) as sim:
        client = PlainClient(sim)
        client.login()
        error = error_of(client.create({**sale_orders_body(WEEK_AGO_MS, NOW_MS), "frequency": "HOURLY"}))
        assert error["code"] == 200204 and error["fieldName"] == "frequency"
        error = error_of(client.create(sale_orders_body(WEEK_AGO_MS, NOW_MS), facility="NOPE"))
        assert error["code"] == 200001 and "NOPE" in error["description"]
        answer = client.create(sale_orders_body(WEEK_AGO_MS, NOW_MS), facility="Bengaluru Central Warehouse")
        assert answer.status_code == 403


@pytest.mark.parametrize("columns", ["soicode", {"soicode": 1}, ["soicode", 7]])
def test_export_columns_that_are_not_a_list_of_ids_do_not_deserialize(client: PlainClient, columns: Any) -> None:
    answer = client.create({**sale_orders_body(WEEK_AGO_MS, NOW_MS), "exportColums": columns})
    assert answer.status_code == 400 and "exportColums" in answer.json()["message"]


def test_sale_orders_item_status_differs_from_order_status(client: PlainClient) -> None:
    header, rows = _export(client, "Sale Orders", ["soicode", "status", "SoiStatus"], MONTH)
    assert header[:3] == ["Sale Order Item Code", "Sale Order Status", "Sale Order Item Status"]
    pairs = {(r[1], r[2]) for r in rows}
    assert {r[1] for r in rows} <= {"CREATED", "PROCESSING", "COMPLETE", "CANCELLED"}
    assert {"FULFILLABLE", "DISPATCHED", "DELIVERED", "CANCELLED"} <= {r[2] for r in rows}
    assert ("PROCESSING", "DISPATCHED") in pairs and ("COMPLETE", "CANCELLED") in pairs
    assert sum(a != b for a, b in pairs) >= 3


def test_unrequested_columns_are_appended(client: PlainClient) -> None:
    header, rows = _export(client, "Sale Orders", ["saleOrderCode", "soicode"], MONTH)
    assert header == ["Sale Order Code", "Sale Order Item Code", "Channel Shipping", "Item Details"]
    assert {r[2] for r in rows} <= {"true", "false", "", "N/A", "-", "NULL"}
    header, _ = _export(client, "Return Invoices", ["invoiceCode", "skuCode"],
                        [{"id": "addedOn", "dateRange": {"textRange": "LAST_30_DAYS"}}])
    assert header == ["Invoice Code", "Item SKU Code", "Facility", "Putaway Status"]


def test_facility_holds_the_display_name_and_facility_code_the_code(client: PlainClient) -> None:
    for code, name in (("BLR01", "Bengaluru Central Warehouse"), ("DEL02", "Delhi NCR Fulfilment Hub, Gurugram")):
        header, rows = _export(client, "Sale Orders", ["soicode", "facility", "facilityCode"], MONTH, facility=code)
        assert header[1:3] == ["Facility", "Facility Code"]
        assert {(r[1], r[2]) for r in rows} == {(name, code)}
    header, rows = _export(client, "Inventory Snapshot", ["facility", "itemtypeSku"], [], facility="MUM03")
    assert {r[0] for r in rows} == {"Mumbai Dark Store - Andheri"}


def test_value_formats_of_the_field(client: PlainClient) -> None:
    _, rows = _export(client, "Sale Orders", ["cod", "onhold", "actualWeight", "sellingPrice", "created"], MONTH)
    blanks = {"", "N/A", "-", "NULL"}
    assert {r[0] for r in rows} == {"0", "1"} and {r[1] for r in rows} == {"true", "false"}
    weights = [r[2] for r in rows if r[2] not in blanks]
    assert weights and all(w.endswith(".000") and w[:-4].isdigit() for w in weights)
    assert all(r[3].count(".") == 1 and "," not in r[3] for r in rows)
    assert all(parse_ist(r[4]) for r in rows)


@pytest.mark.parametrize("bounds", [
    pytest.param(("2026-04-09T06:30:00Z", "2026-04-16T06:30:00Z"), id="iso-z"),
    pytest.param(("2026-04-09T12:00:00+05:30", "2026-04-16T12:00:00+05:30"), id="iso-ist"),
    pytest.param(("2026-04-09T06:30:00.000Z", "2026-04-16T06:30:00.000Z"), id="iso-millis"),
    pytest.param((str(WEEK_AGO_MS), str(NOW_MS)), id="epoch-ms-text"),
])
def test_date_range_formats_of_the_field(uniware_simulator: UniwareSimulator, client: PlainClient,
                                        bounds: tuple[str, str]) -> None:
    body = sale_orders_body(WEEK_AGO_MS, NOW_MS)
    body["exportFilters"][0]["dateRange"] = {"start": bounds[0], "end": bounds[1]}
    created = client.create(body).json()
    assert created["successful"] is True, created
    job = uniware_simulator.jobs.get(created["jobCode"])
    assert job is not None and (job.query.start, job.query.end) == (WEEK_AGO_MS // 1000, NOW_MS // 1000)


def test_plain_dates_cover_whole_india_days(uniware_simulator: UniwareSimulator, client: PlainClient) -> None:
    _, rows = _export(client, "Sale Orders", ["soicode"],
                      [{"id": "addedOn", "dateRange": {"start": "2026-04-10", "end": "2026-04-12"}}])
    start = datetime(2026, 4, 9, 18, 30, tzinfo=UTC)  # 2026-04-10 00:00 IST
    truth = uniware_simulator.truth("Sale Orders", facility="BLR01", date_filter="addedOn", start=start,
                                    end=start + timedelta(days=3, seconds=-1), columns=["soicode"])
    assert len(rows) == len(truth) > 0


@pytest.mark.parametrize("text_range, days", [("LAST_60_DAYS", 60), ("LAST_90_DAYS", 90)])
def test_long_text_ranges_are_accepted(client: PlainClient, text_range: str, days: int) -> None:
    _, rows = _export(client, "Sale Orders", ["soicode", "created"],
                      [{"id": "addedOn", "dateRange": {"textRange": text_range}}])
    created = [parse_ist(r[1]) for r in rows]
    oldest = min(c for c in created if c)
    assert TEST_NOW - timedelta(days=days + 1) <= oldest < TEST_NOW - timedelta(days=days - 2)


def test_warnings_are_null(client: PlainClient) -> None:
    created = client.create(sale_orders_body(WEEK_AGO_MS, NOW_MS)).json()
    assert "warnings" in created and created["warnings"] is None
    status = client.status(created["jobCode"])
    assert "warnings" in status and status["warnings"] is None
    failed = client.create({**sale_orders_body(WEEK_AGO_MS, NOW_MS), "exportJobTypeName": "Nope"}).json()
    assert failed["warnings"] is None


def test_unknown_filter_switch_lets_sale_orders_export_everything(tmp_path: Any) -> None:
    with UniwareSimulator(fast_config(unknown_filter="ignore", files_dir=tmp_path)) as sim:
        client = PlainClient(sim)
        client.login()
        # the wrong id a tenant copy was once sent ("updatedAt"): ignored, so no window at all
        _, rows = _export(client, "Sale Orders", ["soicode"],
                          [{"id": "updatedAt", "dateRange": {"start": WEEK_AGO_MS, "end": NOW_MS}}])
        assert len(rows) == len(sim.truth("Sale Orders", facility="BLR01", columns=["soicode"]))
        # but no filter at all is still refused where one is required
        assert error_of(client.create({**sale_orders_body(WEEK_AGO_MS, NOW_MS), "exportFilters": [],
                                       "exportJobTypeName": "B2B Sale Orders"}))["code"] == 100003


def test_command_line_flags_for_the_unhappy_paths(tmp_path: Any) -> None:
    args = parse_args(["--fixed-clock", "--start", TEST_NOW.isoformat(), "--seconds-per-status", "0",
                       "--complete-without-file-polls", "2", "--fail-jobs", "CANCELLED", "--fail-rate", "0.5",
                       "--bad-credentials-status", "500", "--files-dir", str(tmp_path)])
    config = config_from(args)
    assert config.unknown_filter == "ignore"  # on by default on the command line
    assert config.bad_credentials_status == 500
    assert parse_args(["--unknown-filter", "reject"]).unknown_filter == "reject"
    with UniwareSimulator(replace(config, api_port=0, file_port=0, synchronous_exports=True)) as sim:
        arm_unhappy_paths(sim, args)
        client = PlainClient(sim)
        assert client.password_grant(password="wrong").status_code == 500
        client.login()
        finals = []
        for day in range(12):
            body = sale_orders_body(WEEK_AGO_MS - day * 86400000, NOW_MS - day * 86400000)
            code = client.create(body).json()["jobCode"]
            answers = [client.status(code) for _ in range(6)]
            finals.append(answers)
        cancelled = [a for a in finals if a[-1]["status"] == "CANCELLED"]
        completed = [a for a in finals if a[-1]["status"] == "COMPLETE"]
        assert cancelled and completed and len(cancelled) + len(completed) == 12
        for answers in completed:  # COMPLETE twice without filePath, then the file
            shown = [(a["status"], bool(a.get("filePath"))) for a in answers]
            assert shown[2:5] == [("COMPLETE", False), ("COMPLETE", False), ("COMPLETE", True)]


def test_command_line_pending_statuses_are_walked_in_order(tmp_path: Any) -> None:
    """The field's other statuses before completion (uniware-api.md), from the command line."""
    args = parse_args(["--fixed-clock", "--start", TEST_NOW.isoformat(), "--seconds-per-status", "0",
                       "--pending-statuses", "SCHEDULED,QUEUED,PROCESSING,RUNNING", "--files-dir", str(tmp_path)])
    config = config_from(args)
    with UniwareSimulator(replace(config, api_port=0, file_port=0, synchronous_exports=True)) as sim:
        client = PlainClient(sim)
        client.login()
        code = client.create(sale_orders_body(WEEK_AGO_MS, NOW_MS)).json()["jobCode"]
        seen = [client.status(code)["status"] for _ in range(6)]
    assert seen == ["SCHEDULED", "QUEUED", "PROCESSING", "RUNNING", "COMPLETE", "COMPLETE"]


def test_year_first_timestamps_without_seconds_are_rendered_and_read_back() -> None:
    """`yyyy-mm-dd HH:MM` (Sale Orders' Delivery Time is seen so) is one of the column's mixed formats."""
    from uniware_simulator.csv_render import CsvStyle, parse_ist, render_value
    from uniware_simulator.tenant import from_epoch

    epoch = int(TEST_NOW.timestamp()) // 60 * 60
    texts = {render_value("timestamp", epoch, row, 2, CsvStyle()) for row in range(16)}
    assert any(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", text) for text in texts)
    assert all(parse_ist(text) == from_epoch(epoch) for text in texts)
