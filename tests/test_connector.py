"""The connector end to end: real pipeline, simulator over loopback, DuckDB asserted."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.simulator_fixtures import TEST_NOW
from uniware_simulator import UniwareSimulator
from uniware_source import ConfigError

from .harness import SALE_ORDER_COLUMNS, SALE_ORDERS_FULL, Harness, facility_names_set
from .sim_client import PlainClient

ALL_REPORTS: list[Any] = [SALE_ORDERS_FULL, "Invoice", "Return Invoices", "Inventory Snapshot", "Item Master"]
TABLES = {"Sale Orders": "sale_orders", "Invoice": "invoices", "Return Invoices": "return_invoices",
          "Inventory Snapshot": "inventory_snapshot", "Item Master": "item_master"}


@pytest.fixture
def harness(uniware_simulator: UniwareSimulator, tmp_path: Path) -> Harness:
    return Harness(uniware_simulator, tmp_path)


def test_every_export_row_count_equals_the_csv_data_rows(harness: Harness) -> None:
    report = harness.run(exports=ALL_REPORTS)
    jobs = harness.sim.jobs.all()
    assert jobs and all(job.file is not None for job in jobs)
    for report_name, table in TABLES.items():
        served = sum(job.file.rows for job in jobs if job.report.name == report_name and job.file)
        assert served > 0, report_name
        assert harness.count(table) == served, report_name
        assert report.exports[table].rows == served
    # the same for the history: one LOADED row per job with the file's row count
    loaded = {r["job_code"]: r["rows_in_file"] for r in harness.history() if r["status"] == "LOADED"}
    assert loaded == {job.code: job.file.rows for job in jobs if job.file}
    assert not report.problems


def test_values_round_trip(harness: Harness) -> None:
    harness.run(exports=[SALE_ORDERS_FULL], facilities=["BLR01"])
    truth = {r["Sale Order Item Code"]: r for r in harness.sim.truth(
        "Sale Orders", facility="BLR01", date_filter="updatedOn", start=TEST_NOW - timedelta(days=30),
        end=TEST_NOW - timedelta(seconds=1))}
    rows = harness.sql("SELECT sale_order_item_code, item_type_name, shipping_address_name, "
                       "shipping_address_line_1, tracking_number, cancellation_reason, selling_price, created, "
                       "updated, order_date_as_dd_mm_yyyy_hh_mm_ss, channel_name, _uniware_facility "
                       "FROM {ds}.sale_orders")
    assert len(rows) == len(truth) > 1000
    special = {"newline": 0, "quote": 0, "comma": 0, "non_ascii": 0, "null": 0}
    for code, name, customer, address, tracking, reason, price, created, updated, order_date, channel, fac in rows:
        expected = truth[code]
        assert name == expected["Item Type Name"]
        assert customer == expected["Shipping Address Name"]
        assert address == expected["Shipping Address Line 1"]
        assert tracking == expected["Tracking Number"]
        assert reason == expected["Cancellation Reason"]
        assert price == expected["Selling Price"] and isinstance(price, Decimal)
        assert created == expected["Created"] and updated == expected["Updated"]
        assert order_date == expected["Order Date as dd/mm/yyyy hh:MM:ss"]
        assert channel == expected["Channel Name"] and fac == "BLR01"
        text = f"{name}{customer}{address}"
        special["newline"] += "\n" in text
        special["quote"] += '"' in text
        special["comma"] += "," in text
        special["non_ascii"] += any(ord(c) > 127 for c in text)
        special["null"] += tracking is None
    assert all(count > 0 for count in special.values()), special


def test_timestamps_are_india_time_stored_as_utc(harness: Harness) -> None:
    harness.run(exports=[{"name": "Sale Orders", "columns": ["soicode", "saleOrderCode", "created", "updated"]}],
                facilities=["DEL02"])
    code, created = harness.sql("SELECT sale_order_item_code, created FROM {ds}.sale_orders "
                                "ORDER BY sale_order_item_code LIMIT 1")[0]
    truth = next(r for r in harness.sim.truth("Sale Orders", facility="DEL02") if r["Sale Order Item Code"] == code)
    assert created == truth["Created"]
    assert created.utcoffset() == timedelta(0)


def test_status_history_holds_every_transition_of_every_job(harness: Harness) -> None:
    harness.run(exports=["Sale Orders", "Invoice"])
    jobs = harness.sim.jobs.all()
    assert len(jobs) == 6
    for job in jobs:
        rows = harness.history(job.code)
        assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))
        assert rows[0]["status"] == "CREATED" and rows[-1]["status"] == "LOADED"
        reported = [r["status"] for r in rows if r["source"] == "uniware"]
        assert reported == job.reported == ["SCHEDULED", "IN_PROGRESS", "COMPLETE"]
        assert {r["facility"] for r in rows} == {job.facility}
        loaded = rows[-1]
        assert loaded["file_host"] == harness.sim.file_base_url.split("//")[1]
        assert loaded["file_path"].startswith("/acme/") and "?" not in loaded["file_path"]
        assert loaded["file_bytes"] == job.file.bytes if job.file else False
        assert len(loaded["file_sha256"]) == 64
        assert loaded["polls"] == job.polls


def test_job_codes_mode_loads_an_existing_job_without_creating_any(harness: Harness) -> None:
    client = PlainClient(harness.sim)
    client.login()
    body = {"exportJobTypeName": "Sale Orders", "exportColums": SALE_ORDER_COLUMNS,
            "exportFilters": [{"id": "addedOn", "dateRange": {"textRange": "LAST_7_DAYS"}}], "frequency": "ONETIME"}
    job_code = client.create(body, facility="MUM03").json()["jobCode"]
    harness.run(exports=[SALE_ORDERS_FULL], job_codes={"Sale Orders": [job_code]})
    job = harness.sim.jobs.get(job_code)
    assert job is not None and job.file is not None
    assert harness.count("sale_orders") == job.file.rows > 0
    assert harness.sim.requests.count("create") == 1  # only ours
    assert next(r["status"] for r in harness.history(job_code)) == "ADOPTED"
    assert set(harness.sql("SELECT DISTINCT _uniware_job_code FROM {ds}.sale_orders")) == {(job_code,)}
    polls = harness.sim.requests.count("status")
    harness.run(exports=[SALE_ORDERS_FULL], job_codes={"Sale Orders": [job_code]})
    assert harness.sim.requests.count("status") == polls  # remembered as loaded: not collected again
    assert harness.sim.requests.count("create") == 1


def test_a_listed_job_a_window_already_waits_for_is_collected_once(harness: Harness) -> None:
    """The job of a window submitted earlier is also given in job_codes: one job, collected for its
    window, its rows once (two entries of one job would share its files and break every run)."""
    harness.run(mode="submit", exports=["Return Invoices"], facilities=["BLR01"])
    [job_code] = [e["job_code"] for e in harness.ledger_entries("return_invoices") if e.get("job_code")]
    harness.run(exports=["Return Invoices"], facilities=["BLR01"], job_codes={"Return Invoices": {"BLR01": [job_code]}})
    job = harness.sim.jobs.get(job_code)
    assert job is not None and job.file is not None
    assert harness.count("return_invoices") == job.file.rows > 0
    assert [r["status"] for r in harness.history(job_code)].count("LOADED") == 1
    assert harness.ledger_entries("return_invoices") == []
    assert harness.sim.requests.count("create") == 1


def test_tenant_specific_report_works_by_configuration_alone(harness: Harness) -> None:
    b2b = {
        "name": "B2B Sale Orders",
        "table_name": "b2b_orders",
        "columns": ["soicode", "saleOrderCode", "channel", "status", "sellingPrice", "updated"],
        "date_filter": "updatedOn",
        "primary_key": ["Sale Order Code", "Sale Order Item Code"],
        "dedup_sort": "Updated",
        "column_types": {"Selling Price": "decimal", "Updated": "timestamp"},
    }
    harness.run(exports=[b2b], facilities=["BLR01", "DEL02"])
    truth = [r for f in ("BLR01", "DEL02") for r in harness.sim.truth(
        "B2B Sale Orders", facility=f, date_filter="updatedOn", start=TEST_NOW - timedelta(days=30),
        end=TEST_NOW - timedelta(seconds=1))]
    rows = harness.sql("SELECT sale_order_item_code, channel_name, selling_price, updated FROM {ds}.b2b_orders")
    assert len(rows) == len(truth) > 10
    assert {r[1] for r in rows} == {"B2B_DIRECT"}
    by_code = {r["Sale Order Item Code"]: r for r in truth}
    assert all(by_code[c]["Selling Price"] == p and by_code[c]["Updated"] == u for c, _, p, u in rows)
    created = harness.sim.requests.where("create")[0].body
    assert created["exportJobTypeName"] == "B2B Sale Orders"
    assert created["exportFilters"][0]["id"] == "updatedOn"


def test_a_custom_exports_type_left_out_later_is_kept_and_said_as_the_configurations(
        harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """A report outside the catalog whose column_types no longer types a loaded column (a label changed or
    left out): the column keeps its type, and the warning names column_types, not a catalog it has none of."""
    b2b: dict[str, Any] = {"name": "B2B Sale Orders", "table_name": "b2b_orders", "date_filter": "updatedOn",
                           "columns": ["soicode", "saleOrderCode", "sellingPrice", "updated"],
                           "primary_key": ["Sale Order Code", "Sale Order Item Code"], "dedup_sort": "Updated",
                           "column_types": {"Selling Price": "decimal", "Updated": "timestamp"}}
    harness.run(exports=[b2b], facilities=["BLR01"])
    harness.sim.clock.advance(timedelta(hours=1))
    harness.run(exports=[{**b2b, "column_types": {"Updated": "timestamp"}}], facilities=["BLR01"])
    said = [r.getMessage() for r in caplog.records if "keep the type(s) they loaded with" in r.getMessage()]
    assert said and "Selling Price" in said[0] and "column_types no longer gives them that type" in said[0]
    assert "catalog" not in said[0]
    assert harness.sql("SELECT data_type FROM information_schema.columns WHERE table_schema = '{ds}' "
                       "AND table_name = 'b2b_orders' AND column_name = 'selling_price'")[0][0].startswith("DECIMAL")

def test_item_master_ignores_facility_one_job(harness: Harness) -> None:
    harness.run(exports=["Item Master"])
    assert harness.sim.requests.count("create") == 1
    assert harness.count("item_master") == len(harness.sim.truth("Item Master"))


def test_facilities_default_to_every_enabled_one(harness: Harness) -> None:
    harness.run(exports=["Return Invoices"])
    facilities = sorted(r.header("Facility") or "" for r in harness.sim.requests.where("create"))
    assert facilities == ["BLR01", "DEL02", "MUM03"]
    assert harness.sim.requests.count("facility") == 1


def test_a_jobs_status_is_asked_with_the_facility_it_was_made_for(harness: Harness) -> None:
    """The status call works without the Facility header, and sending it is harmless: it goes with every
    poll, so a tenant whose status call wanted it (helper 142: 403 until the deadline) is not polled in vain."""
    harness.run(exports=["Return Invoices"])
    made_for = {job.code: job.facility for job in harness.sim.jobs.all()}
    asked = {(r.body["jobCode"], r.header("Facility")) for r in harness.sim.requests.where("status")}
    assert len(made_for) == 3 and asked == set(made_for.items())


@pytest.mark.parametrize("settings, setting", [
    ({"username": None}, "username"),
    ({"exports": [{"name": "Sale Orders", "colums": ["x"]}]}, "exports"),
    ({"exports": [{"name": "My Custom Report"}]}, "exports"),
    ({"exports": ["Sale Orders", {"name": "B2B Sale Orders", "table_name": "sale_orders", "columns": ["x"]}]},
     "exports"),
    ({"window_days": 120}, "window_days"),
    ({"on_bad_rows": "ignore"}, "on_bad_rows"),
    ({"base_url": "ftp://x"}, "base_url"),
    ({"start_date": "yesterday"}, "start_date"),
    ({"job_codes": {"Nope": ["x"]}}, "job_codes"),
])
def test_bad_settings_are_named(harness: Harness, settings: dict[str, Any], setting: str) -> None:
    with pytest.raises(ConfigError) as raised:
        harness.run(**settings)
    assert raised.value.setting == setting
    assert f"SOURCES__UNIWARE__{setting.upper()}" in str(raised.value)
    assert harness.sim.requests.count("create") == 0


def test_plain_requests_still_work_beside_the_connector(harness: Harness) -> None:
    # the simulator serves other clients at the same time (a sanity check of the fixture)
    harness.run(exports=["Return Invoices"], facilities=["BLR01"])
    assert requests.get(harness.sim.base_url + "/nope", timeout=5).status_code == 404


def test_an_empty_snapshot_given_by_job_code_empties_what_it_replaces(harness: Harness) -> None:
    """An Item Master job made outside the connector and given in job_codes, whose file has no row: the
    table's rows go (made before it, or by another such job, of no known time), as for a snapshot the
    connector made; the history says so."""
    from uniware_source.catalog import CATALOG

    harness.run(exports=["Item Master"], facilities=["BLR01"])
    assert harness.count("item_master") > 0
    client = PlainClient(harness.sim)
    client.login()
    body = {"exportJobTypeName": "Item Master", "exportColums": list(CATALOG["Item Master"].columns),
            "exportFilters": [], "frequency": "ONETIME"}
    given = client.create(body, facility="BLR01").json()["jobCode"]  # with rows, and no known creation time
    harness.run(exports=["Item Master"], job_codes={"Item Master": [given]})
    assert harness.count("item_master") > 0 and harness.sql("SELECT COUNT(*) FROM {ds}.item_master "
                                                            "WHERE _uniware_exported_at IS NOT NULL") == [(0,)]
    harness.sim.clock.advance(timedelta(minutes=1))
    harness.sim.jobs.edit_file = lambda job, text: text[:text.index("\n") + 1]  # the header alone
    job_code = client.create(body, facility="BLR01").json()["jobCode"]
    harness.run(exports=["Item Master"], job_codes={"Item Master": [job_code]})
    assert harness.count("item_master") == 0
    assert "every row of the table deleted" in harness.history(job_code)[-1]["message"]


def test_an_export_without_date_filter_or_key_is_a_snapshot_never_a_copy_a_run(harness: Harness) -> None:
    """Without a date_filter every job exports the whole report; without a primary_key its rows were kept
    side by side by job code, so each run added a full copy (3 runs: 3 copies, exit 0). Such an export is
    now a snapshot: each job's file replaces its facility's rows."""
    tally = {"name": "Tally GST Report", "date_filter": ""}
    for _ in range(3):
        harness.run(exports=[tally], facilities=["BLR01", "DEL02"])
        harness.clock.advance(7200)
    jobs = harness.sim.jobs.all()
    assert len(jobs) == 6 and all(j.file is not None for j in jobs)
    latest = {j.facility: j for j in jobs}  # the last job of each facility
    by_facility = dict(harness.sql("SELECT _uniware_facility, COUNT(*) FROM {ds}.tally_gst GROUP BY 1"))
    assert by_facility == {f: j.file.rows for f, j in latest.items() if j.file is not None}
    assert {c for (c,) in harness.sql("SELECT DISTINCT _uniware_job_code FROM {ds}.tally_gst")} == \
        {j.code for j in latest.values()}


@pytest.mark.parametrize("disposition", ["append", "merge"])
def test_an_export_without_date_filter_or_key_refuses_a_disposition_that_would_copy(harness: Harness,
                                                                                   disposition: str) -> None:
    export = {"name": "Tally GST Report", "date_filter": "", "write_disposition": disposition}
    with pytest.raises(ConfigError, match="every run would add a full copy of it; use 'replace'"):
        harness.run(exports=[export], facilities=["BLR01"])
    assert harness.sim.requests.count("create") == 0


@pytest.mark.parametrize("disposition", ["replace", "merge"])
@pytest.mark.parametrize("destination", ["duckdb", "postgres"])
@pytest.mark.parametrize("key", ["sku", "display-name-shared"])
def test_a_facilitys_snapshot_never_replaces_another_facilitys_rows_whatever_its_key(
        uniware_simulator: UniwareSimulator, tmp_path: Path, postgres_dataset: str, destination: str,
        disposition: str, key: str) -> None:
    """Inventory Snapshot keyed on the SKU alone (a tenant's file without a Facility column), or on the
    catalog's display name `Facility` and the SKU for two facilities that Uniware shows under one name (a
    company's): dlt's delete-insert deletes by the primary key too, so the facility code is part of the
    key dlt merges on. Two facilities sharing SKUs, in one run and one at a time: each keeps exactly its
    own file's rows (one display name failed the second facility's job in one run, and made each
    facility's run delete the other's rows of its SKUs)."""
    import dlt

    from .postgres import POSTGRES

    pg = destination == "postgres"
    harness = Harness(uniware_simulator, tmp_path, name=f"snap_{destination}",
                      destination=dlt.destinations.postgres(POSTGRES) if pg else None,
                      dataset=postgres_dataset if pg else "uniware")
    by_sku: list[Any] = [{"name": "Inventory Snapshot", "primary_key": ["Item SkuCode"],
                          "write_disposition": disposition}]
    extra: dict[str, Any] = {}
    if key != "sku":
        by_sku = [{"name": "Inventory Snapshot", "write_disposition": disposition}]
        company = "Sartech Solutions Pvt Ltd"
        harness.sim.jobs.edit_file = lambda job, text: facility_names_set(text, company)
        extra = {"shared_facility_names": [company]}

    def landed() -> dict[str, list[tuple[Any, ...]]]:
        with harness.pipeline.sql_client() as client:
            rows = client.execute_sql(f"SELECT _uniware_facility, item_sku_code, inventory, _uniware_job_code FROM "
                                      f"{client.make_qualified_table_name('inventory_snapshot')}")
        found: dict[str, list[tuple[Any, ...]]] = {}
        for facility, sku, inventory, job in rows or []:
            found.setdefault(facility, []).append((sku, inventory, job))
        return {facility: sorted(rows) for facility, rows in found.items()}

    def served(facility: str) -> list[tuple[Any, ...]]:
        job = [j for j in harness.sim.jobs.all() if j.facility == facility][-1]
        assert job.file is not None
        text = job.file.path.read_text(encoding="utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text)))
        return sorted((r["Item SkuCode"], int(r["Inventory"]), job.code) for r in rows)

    harness.run(exports=by_sku, facilities=["BLR01", "DEL02"], **extra)
    shared = {sku for sku, _, _ in served("BLR01")} & {sku for sku, _, _ in served("DEL02")}
    assert shared  # the two facilities' files share SKUs: a key without the facility would cross
    assert landed() == {"BLR01": served("BLR01"), "DEL02": served("DEL02")}
    for facility in ("DEL02", "BLR01"):  # one facility at a time: the other keeps its rows
        harness.sim.clock.advance(timedelta(hours=1))
        harness.run(exports=by_sku, facilities=[facility], **extra)
        assert landed() == {"BLR01": served("BLR01"), "DEL02": served("DEL02")}


def test_a_job_code_of_a_snapshot_whose_key_cannot_tell_facilities_apart_is_a_setting_error(
        harness: Harness) -> None:
    """A job given by code has no known facility: for a per-facility snapshot keyed without the facility's
    column, its rows could replace no facility's, so the setting is refused before anything is asked."""
    for export in ({"name": "Inventory Snapshot", "primary_key": ["Item SkuCode"]}, "Inventory Snapshot"):
        # the catalog's key has the display name `Facility`, which two facilities may share
        for given in ({"Inventory Snapshot": ["EXP1"]}, ["EXP1"], "EXP1"):  # mapped, or a plain list for one export
            with pytest.raises(ConfigError, match=r"job_codes.*no facility code.*--facility"):
                harness.run(exports=[export], job_codes=given)
    assert harness.sim.requests.count("create") == 0 and harness.sim.requests.count("status") == 0


def test_a_snapshot_table_loaded_under_the_narrower_key_takes_the_facility_into_its_key(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """A table an earlier version loaded with the SKU alone as the key: the next load widens the key (dlt's
    schema takes the hint) and the other facility's file replaces none of the first facility's rows."""
    from uniware_source.catalog import ExportSpec

    by_sku: list[Any] = [{"name": "Inventory Snapshot", "primary_key": ["Item SkuCode"]}]
    with monkeypatch.context() as earlier:  # as the version before the facility joined such a key
        earlier.setattr(ExportSpec, "facility_in_key", property(lambda self: False))
        harness.run(exports=by_sku, facilities=["BLR01"])
    blr01 = harness.sql("SELECT COUNT(*) FROM {ds}.inventory_snapshot WHERE _uniware_facility = 'BLR01'")
    assert blr01[0][0] > 0
    columns = harness.pipeline.default_schema.tables["inventory_snapshot"]["columns"]
    assert not columns["_uniware_facility"].get("primary_key")
    harness.run(exports=by_sku, facilities=["DEL02"])
    assert harness.sql("SELECT COUNT(*) FROM {ds}.inventory_snapshot WHERE _uniware_facility = 'BLR01'") == blr01
    [job] = [j for j in harness.sim.jobs.all() if j.facility == "DEL02"]
    assert job.file is not None
    assert harness.sql("SELECT COUNT(*) FROM {ds}.inventory_snapshot WHERE _uniware_facility = 'DEL02'") == \
        [(job.file.rows,)]
    columns = harness.pipeline.default_schema.tables["inventory_snapshot"]["columns"]
    assert columns["_uniware_facility"].get("primary_key")
