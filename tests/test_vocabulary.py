"""Every catalog report end to end with the real column ids: the real labels land as columns, with the
catalog's types, and as many rows as the simulator's truth; order status vs item status in the views."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Optional

import pytest
from dlt.common.normalizers.naming.snake_case import NamingConvention

from uniware_simulator import REPORTS, UniwareSimulator
from uniware_simulator.tenant import from_epoch
from uniware_source import ExportsFailed
from uniware_source.catalog import CATALOG, DECIMAL, INTEGER, TIMESTAMP, ExportSpec
from uniware_source.queries import query

from .harness import Harness

SQL_TYPES = {TIMESTAMP: "TIMESTAMP WITH TIME ZONE", DECIMAL: "DECIMAL(18,4)", INTEGER: "BIGINT"}
NAMING = NamingConvention()


@pytest.fixture
def harness(uniware_simulator: UniwareSimulator, tmp_path: Path) -> Harness:
    return Harness(uniware_simulator, tmp_path)


def column_types(harness: Harness, table: str) -> dict[str, str]:
    return dict(harness.sql("SELECT column_name, data_type FROM information_schema.columns "
                            "WHERE table_schema = ? AND table_name = ?", harness.dataset, table))


def truth_of_jobs(sim: UniwareSimulator, report: str, columns: Optional[Sequence[str]] = None) -> list[dict[str, Any]]:
    """What the simulator's jobs for `report` held, from each job's own query."""
    rows: list[dict[str, Any]] = []
    for job in sim.jobs.all():
        if job.report.name != report:
            continue
        q = job.query
        rows += sim.truth(report, facility=q.facility, date_filter=q.date_filter,
                          start=from_epoch(q.start) if q.start is not None else None,
                          end=from_epoch(q.end) if q.end is not None else None,
                          at=from_epoch(q.at), columns=columns or list(job.columns))
    return rows


def expected_rows(spec: ExportSpec, truth: list[dict[str, Any]]) -> int:
    if not spec.primary_key or spec.repeating_keys:
        return len(truth)
    return len({tuple(r[k] for k in spec.primary_key) for r in truth})


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_every_catalog_report_lands_with_its_real_labels_and_types(harness: Harness, name: str) -> None:
    spec = CATALOG[name]
    report = REPORTS[name]
    assert spec.columns and all(report.column(c) is not None for c in spec.columns), "catalog ids are real"
    if spec.date_filter is not None:
        assert spec.date_filter in report.date_filters
    harness.run(exports=[name], facilities=["BLR01", "DEL02"])
    types = column_types(harness, spec.table_name)
    labels = [report.column(c).label for c in spec.columns]  # type: ignore[union-attr]
    saved = harness.pipeline.state["sources"]["uniware"]["resources"][spec.table_name]["columns"]
    for label in labels:
        column = saved[label][0]  # the column the connector gave the label (kept in its state)
        assert column == NAMING.normalize_identifier(label) or "%" in label or "(" in label, (label, column)
        assert column in types, (label, sorted(types))
        assert types[column] == SQL_TYPES.get(spec.column_types.get(label, ""), "VARCHAR"), label
    truth = truth_of_jobs(harness.sim, name)
    assert harness.count(spec.table_name) == expected_rows(spec, truth) > 0


def test_sale_orders_real_columns_and_values(harness: Harness) -> None:
    harness.run(exports=["Sale Orders"], facilities=["BLR01"])
    types = column_types(harness, "sale_orders")
    assert types["sale_order_item_status"] == "VARCHAR" and types["sale_order_status"] == "VARCHAR"
    assert types["updated"] == "TIMESTAMP WITH TIME ZONE" and types["selling_price"] == "DECIMAL(18,4)"
    assert types["cod"] == "BIGINT" and types["on_hold"] == "VARCHAR"
    assert {"channel_shipping", "item_details", "facility", "facility_code", "shipping_provider",
            "tracking_number", "shipping_package_code", "shipping_address_city"} <= set(types)
    truth = {r["Sale Order Item Code"]: r for r in truth_of_jobs(harness.sim, "Sale Orders")}
    rows = harness.sql("SELECT sale_order_item_code, sale_order_status, sale_order_item_status, facility, "
                       "facility_code, tracking_number, shipping_package_code, selling_price, cgst, igst, updated "
                       "FROM {ds}.sale_orders")
    assert len(rows) == len(truth) > 1000
    for code, order_status, item_status, facility, facility_code, tracking, package, price, cgst, igst, updated \
            in rows:
        expected = truth[code]
        assert (order_status, item_status) == (expected["Sale Order Status"], expected["Sale Order Item Status"])
        assert (facility, facility_code) == ("Bengaluru Central Warehouse", "BLR01")
        assert tracking == expected["Tracking Number"] and package == expected["Shipping Package Code"]
        assert (price, cgst, igst) == (expected["Selling Price"], expected["CGST"], expected["IGST"])
        assert updated == expected["Updated"]


def test_order_status_and_item_status_cross_and_the_funnel_counts_items(harness: Harness) -> None:
    harness.run(exports=["Sale Orders", "Return Invoices"])
    crossed = harness.sql("SELECT sale_order_status, sale_order_item_status, COUNT(*) FROM {ds}.sale_orders "
                          "WHERE sale_order_status <> sale_order_item_status GROUP BY 1, 2")
    pairs = {(a, b) for a, b, _ in crossed}
    assert ("PROCESSING", "DISPATCHED") in pairs and ("COMPLETE", "CANCELLED") in pairs
    assert ("PROCESSING", "FULFILLABLE") in pairs and ("COMPLETE", "DELIVERED") in pairs
    items = dict(harness.sql("SELECT sale_order_item_status, COUNT(*) FROM {ds}.sale_orders GROUP BY 1"))
    funnel = {s: n for s, n, _ in harness.sql(query("order_item_status_funnel", "{ds}"))}
    assert funnel == items and "FULFILLABLE" in funnel and "COMPLETE" not in funnel
    orders = dict(harness.sql("SELECT sale_order_status, COUNT(DISTINCT sale_order_code) FROM {ds}.sale_orders "
                              "GROUP BY 1"))
    by_order = {s: (o, i, x) for s, o, i, x in harness.sql(query("order_status", "{ds}"))}
    assert {s: v[0] for s, v in by_order.items()} == orders and "COMPLETE" in by_order
    assert sum(v[1] for v in by_order.values()) == sum(items.values())
    assert by_order["COMPLETE"][2] > 0  # items of complete orders that are e.g. CANCELLED or RETURNED
    # returns are matched on the columns Return Invoices really has (Invoice Code + Item SKU Code): a row
    # per return invoice with its Quantity (two units of a line may come back on one or on two of them)
    rates = harness.sql(query("returns_rate", "{ds}"))
    returned = sum(r[2] for r in rates)
    matched = harness.sql(
        "SELECT SUM(LEAST(r.units, s.units)) FROM "
        "(SELECT invoice_code, item_sku_code, SUM(quantity) AS units FROM {ds}.return_invoices GROUP BY 1, 2) AS r "
        "JOIN (SELECT invoice_code, item_sku_code, COUNT(*) AS units FROM {ds}.sale_orders "
        "WHERE sale_order_item_status <> 'CANCELLED' GROUP BY 1, 2) AS s "
        "ON r.invoice_code = s.invoice_code AND r.item_sku_code = s.item_sku_code")[0][0]
    assert returned == matched > 0
    assert harness.sql("SELECT COUNT(*) FROM {ds}.return_invoices WHERE quantity > 1")[0][0] > 0


def _other_readings(spec: ExportSpec, text: str) -> str:
    """The file with each label that has other readings spelled as its first other reading."""
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    first, sep, rest = text[len(bom):].partition("\n")
    ending = "\r" if first.endswith("\r") else ""
    header = next(csv.reader([first.rstrip("\r")]))
    renamed = [spec.label_readings[label][0] if label in spec.label_readings else label for label in header]
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(renamed)
    return bom + out.getvalue() + ending + sep + rest


@pytest.mark.parametrize("name", sorted(n for n, s in CATALOG.items() if s.label_readings))
def test_a_reports_other_readings_land_in_the_same_columns_with_the_same_types(harness: Harness, name: str) -> None:
    """uniware-reports.md gives two readings of some labels; a tenant whose files use the other one
    gets the same table: same columns, types, key and window guard, whichever reading came first."""
    spec = CATALOG[name]
    harness.run(exports=[name], facilities=["BLR01"])
    before = column_types(harness, spec.table_name)
    harness.sim.jobs.edit_file = lambda job, text: _other_readings(spec, text)
    harness.sim.clock.advance(timedelta(days=1))
    report = harness.run(exports=[name], facilities=["BLR01", "DEL02"])
    assert column_types(harness, spec.table_name) == before  # no column of another spelling
    exported = [label for label in spec.label_readings if NAMING.normalize_identifier(label) in before]
    assert exported  # the file does carry labels with other readings
    for label in exported:
        assert before[NAMING.normalize_identifier(label)] == SQL_TYPES.get(spec.column_types.get(label, ""),
                                                                           "VARCHAR"), label
    assert not report.problems
    messages = [r["message"] or "" for r in harness.history() if r["status"] == "LOADED"]
    assert not any("window guard is off" in m for m in messages), messages
    latest = [j for j in harness.sim.jobs.all() if j.report.name == name][-2:]  # the second run's jobs
    assert harness.sql(f"SELECT COUNT(DISTINCT _uniware_job_code) FROM {{ds}}.{spec.table_name} "
                       f"WHERE _uniware_job_code IN ('{latest[0].code}', '{latest[1].code}')") == [(2,)]


def _relabelled(renames: dict[str, str]) -> Any:
    def edit(job: Any, text: str) -> str:
        bom = "\ufeff" if text.startswith("\ufeff") else ""
        first, sep, rest = text[len(bom):].partition("\n")
        ending = "\r" if first.endswith("\r") else ""
        header = [renames.get(label, label) for label in next(csv.reader([first.rstrip("\r")]))]
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow(header)
        return bom + out.getvalue() + ending + sep + rest
    return edit


def test_a_key_label_in_another_case_lands_in_the_keys_column(harness: Harness) -> None:
    """DT spells Reverse Pickup's key 'Item Sku Code', the catalog 'Item SKU Code': the same column, the
    key and merge work, no second column."""
    harness.sim.jobs.edit_file = _relabelled({"Item SKU Code": "Item Sku Code"})
    harness.run(exports=["Reverse Pickup"], facilities=["BLR01"])
    types = column_types(harness, "reverse_pickups")
    assert "item_sku_code" in types and "item_sku_code_2" not in types
    assert harness.sql("SELECT COUNT(*) FROM {ds}.reverse_pickups WHERE item_sku_code IS NULL") == [(0,)]
    truth = truth_of_jobs(harness.sim, "Reverse Pickup")
    assert harness.count("reverse_pickups") == expected_rows(CATALOG["Reverse Pickup"], truth) > 0


def test_a_configured_key_in_the_other_reading_still_works(harness: Harness) -> None:
    """A tenant that configured TW's labels as the key (what the key error used to ask for) keeps loading."""
    tw = {"Item SKU Code": "SKU Code", "Return Date": "Returned Date", "Quantity": "Qty",
          "Unit Price": "Transfer Price"}
    harness.sim.jobs.edit_file = _relabelled(tw)
    key = ["Invoice Code", "Return Invoice Code", "SKU Code"]
    harness.run(exports=[{"name": "Return Invoices", "primary_key": key}], facilities=["BLR01"])
    assert harness.count("return_invoices") > 0


def test_columns_an_export_already_holds_keep_their_reading(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """Loads made before the catalog knew a reading keep landing in the columns they made."""
    from types import MappingProxyType

    from uniware_source import settings

    harness.sim.jobs.edit_file = _relabelled({"Stock In Transfer": "Pending Stock Transfer"})
    unaware = {**CATALOG, "Inventory Snapshot": replace(CATALOG["Inventory Snapshot"], label_readings={})}
    monkeypatch.setattr(settings, "CATALOG", MappingProxyType(unaware))
    harness.run(exports=["Inventory Snapshot"], facilities=["BLR01"])
    held = harness.sql("SELECT COUNT(pending_stock_transfer) FROM {ds}.inventory_snapshot")
    monkeypatch.undo()
    harness.sim.jobs.edit_file = _relabelled({"Stock In Transfer": "Pending Stock Transfer"})
    harness.sim.clock.advance(timedelta(days=1))
    harness.run(exports=["Inventory Snapshot"], facilities=["BLR01"])
    assert held[0][0] > 0
    assert harness.sql("SELECT COUNT(pending_stock_transfer) FROM {ds}.inventory_snapshot") == held
    assert "stock_in_transfer" not in column_types(harness, "inventory_snapshot")


# -- the field's two readings, and the files that lost or mistyped columns (external review) -------------

def _rows_edited(edit: Any) -> Any:
    """A file edit over parsed rows: `edit(header, rows)` returns the header and rows to serve."""
    def edit_file(job: Any, text: str) -> str:
        bom = "\ufeff" if text.startswith("\ufeff") else ""
        rows = list(csv.reader(io.StringIO(text[len(bom):], newline="")))
        header, body = edit(rows[0], rows[1:])
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerows([header, *body])
        return bom + out.getvalue()
    return edit_file


GRN_VALUES = ("Received with taxes", "Received without taxes", "Rejected with taxes", "Rejected without taxes")
GRN_COLUMNS = ["grnCode", "itemtypeSku", "grnDate", "facility", "purchaseOrderCode", "quantityReceived",
               "valueReceivedWithTax", "valueReceivedWithoutTax", "valueRejectedWithTax", "valueRejectedWithoutTax"]


@pytest.mark.parametrize("reading", ["DT", "Value of"])
def test_grn_amounts_land_as_decimals_in_either_reading(harness: Harness, reading: str) -> None:
    """uniware-reports.md 7: DT reads 'Item Sku Code' and 'Values of Goods ...'; X4 'Item SkuCode'; the
    connector once spelled them 'Value of Goods ...'. Each lands in the same key and amount columns."""
    if reading == "DT":
        renames = {"Item SkuCode": "Item Sku Code",
                   **{f"Value of Goods {v}": f"Values of Goods {v}" for v in GRN_VALUES}}
    else:
        renames = {f"Values of Goods {v}": f"Value of Goods {v}" for v in GRN_VALUES}
    harness.sim.jobs.edit_file = _relabelled(renames)
    report = harness.run(exports=[{"name": "GRN", "columns": GRN_COLUMNS}], facilities=["BLR01"])
    assert not report.problems
    types = column_types(harness, "grns")
    for value in GRN_VALUES:
        assert types[NAMING.normalize_identifier(f"Values of Goods {value}")] == "DECIMAL(18,4)", value
    assert not any(c.startswith("value_of_") for c in types), sorted(types)
    truth = truth_of_jobs(harness.sim, "GRN", GRN_COLUMNS)
    assert harness.count("grns") == expected_rows(CATALOG["GRN"], truth) > 0
    landed = sorted(harness.sql("SELECT grn_code || '/' || item_sku_code, values_of_goods_received_with_taxes "
                                "FROM {ds}.grns"))
    amounts = []  # a row per batch: a key may hold several
    for row in truth:
        label = next(k for k in row if k.endswith("Received with taxes"))
        amounts.append((f"{row['GRN Code']}/{row['Item SkuCode']}", row[label]))
    assert landed == sorted(amounts)


def test_a_file_with_two_spellings_of_a_label_keeps_both_columns(harness: Harness) -> None:
    """'Item SkuCode' and 'Item Sku Code' are one label to the key's matching; a file that carries both
    (here a second column so headed) keeps both: the key in its column, the other beside it."""
    def edit(header: list[str], rows: list[list[str]]) -> tuple[list[str], list[list[str]]]:
        sku = header.index("Item SkuCode")
        return [*header, "Item Sku Code"], [[*row, f"other-{row[sku]}"] for row in rows]

    harness.sim.jobs.edit_file = _rows_edited(edit)
    report = harness.run(exports=["GRN"], facilities=["BLR01"])
    assert not report.problems
    rows = harness.sql("SELECT item_sku_code, item_sku_code_2 FROM {ds}.grns")
    assert rows and all(other == f"other-{sku}" for sku, other in rows)


TW_REVERSE_PICKUP = {  # uniware-reports.md 3: DT's label -> TW's reading of the same id
    "Original Sale Order Code": "Sale Order Code", "Item Name": "Item Type Name", "Tracking No": "Tracking Number",
    "Channel Name": "Channel", "Bulk Return Id": "Import Reference Id", "QC Comment": "QC Comments",
    "Putaway Created By": "Created By", "Item SKU Code": "Item Type SKU", "Reverse Pickup No": "Reverse Pickup Code",
    "Reverse Pickup Last Updated": "Reverse Pickup Updated", "Sale Order Created": "Sale Order Created",
}
DT_REVERSE_PICKUP = {"Item SKU Code": "Item Sku Code", "Sale Order Created": "Sale Order Received"}
REVERSE_PICKUP_COLUMNS = [*CATALOG["Reverse Pickup"].columns, "importReferenceId", "qcComments", "createdBy",
                          "saleOrderCreated", "customerImageUrl"]


@pytest.mark.parametrize("first", ["DT", "TW"])
def test_reverse_pickup_in_dts_or_tws_labels_lands_in_the_same_columns(harness: Harness, first: str) -> None:
    readings = {"DT": DT_REVERSE_PICKUP, "TW": TW_REVERSE_PICKUP}
    export = {"name": "Reverse Pickup", "columns": REVERSE_PICKUP_COLUMNS}
    harness.sim.jobs.edit_file = _relabelled(readings[first])
    assert not harness.run(exports=[export], facilities=["BLR01"]).problems
    before = column_types(harness, "reverse_pickups")
    for column in ("original_sale_order_code", "item_name", "tracking_no", "channel_name", "bulk_return_id",
                   "qc_comment", "putaway_created_by", "item_sku_code", "reverse_pickup_no",
                   "reverse_pickup_last_updated", "sale_order_created", "customer_image_url"):
        assert column in before, (column, sorted(before))
    assert before["reverse_pickup_last_updated"] == before["sale_order_created"] == "TIMESTAMP WITH TIME ZONE"
    harness.sim.jobs.edit_file = _relabelled(readings["TW" if first == "DT" else "DT"])
    harness.sim.clock.advance(timedelta(days=1))
    assert not harness.run(exports=[export], facilities=["BLR01"]).problems
    assert column_types(harness, "reverse_pickups") == before
    [latest] = [j.code for j in harness.sim.jobs.all()][-1:]
    rows = harness.sql("SELECT COUNT(*), COUNT(original_sale_order_code), COUNT(item_name), COUNT(channel_name), "
                       "COUNT(tracking_no), COUNT(reverse_pickup_last_updated) FROM {ds}.reverse_pickups "
                       "WHERE _uniware_job_code = ?", latest)
    assert rows[0][0] > 0 and len(set(rows[0])) == 1, rows


def test_sale_orders_item_code_in_either_reading_loads_every_column(harness: Harness) -> None:
    """itemCode reads 'Item Code' (RV) or 'Item Details' (RJ), beside the unrequested 'Item Details': a
    file in RJ's reading (two 'Item Details') keeps both columns."""
    harness.sim.jobs.edit_file = _relabelled({"Item Code": "Item Details"})
    export = {"name": "Sale Orders", "columns": ["soicode", "saleOrderCode", "updated", "itemCode"]}
    assert not harness.run(exports=[export], facilities=["BLR01"]).problems
    types = column_types(harness, "sale_orders")
    assert {"item_details", "item_details_2", "channel_shipping"} <= set(types)


def test_courier_returns_keep_every_row_of_a_package(harness: Harness) -> None:
    """Courier Returns' key (Sale Order No + Shipping Package Code) can repeat: the field's key has a Sale
    Order Item the report's ids lack. Two rows of one package both land."""
    def edit(header: list[str], rows: list[list[str]]) -> tuple[list[str], list[list[str]]]:
        twin = list(rows[0])
        twin[header.index("RTO Reason")] = "second item of the package"
        return header, [rows[0], twin, *rows[1:]]

    harness.sim.jobs.edit_file = _rows_edited(edit)
    report = harness.run(exports=["Courier Returns"], facilities=["BLR01"])
    assert not report.problems
    truth = truth_of_jobs(harness.sim, "Courier Returns")
    jobs = [j for j in harness.sim.jobs.all() if j.report.name == "Courier Returns"]
    assert harness.count("courier_returns") == len(truth) + len(jobs) == report.exports["courier_returns"].rows
    order, package = harness.sql("SELECT sale_order_no, shipping_package_code FROM {ds}.courier_returns "
                                 "WHERE rto_reason = 'second item of the package' LIMIT 1")[0]
    both = harness.sql("SELECT COUNT(*) FROM {ds}.courier_returns WHERE sale_order_no = ? AND "
                       "shipping_package_code = ?", order, package)
    assert both == [(2,)]


def test_the_documented_blank_tokens_are_null_and_eway_bill_dates_are_timestamps(harness: Harness) -> None:
    """uniware-reports.md 12: `-`, `NA`, `N/A` are a blank AWB number (VD), as are empty and `NULL` anywhere
    (uniware-api.md), but `NA` is tenant data in a custom field (RJ): kept as written in text columns other
    than the AWB's, blank where no number or date reads it; 1: EWayBill Date and Valid Till are date-times."""
    def edit(header: list[str], rows: list[list[str]]) -> tuple[list[str], list[list[str]]]:
        tracking, delivery = header.index("Tracking Number"), header.index("Delivery Time")
        ewb, valid = header.index("EWayBill Date"), header.index("EWayBill Valid Till")
        customer = header.index("Shipping Address City")
        for number, row in enumerate(rows):
            if number % 2:
                row[tracking] = row[delivery] = row[customer] = "NA"
            row[ewb], row[valid] = "2026-04-01 10:30:00", "NA" if number % 3 else "05-04-2026 23:59"
        return header, rows

    harness.sim.jobs.edit_file = _rows_edited(edit)
    export = {"name": "Sale Orders", "columns": [*CATALOG["Sale Orders"].columns, "ewbNo", "ewbDate", "ewbValidTill"]}
    report = harness.run(exports=[export], facilities=["BLR01"])
    assert not report.problems
    types = column_types(harness, "sale_orders")
    assert types["e_way_bill_date"] == types["e_way_bill_valid_till"] == "TIMESTAMP WITH TIME ZONE"
    assert harness.sql("SELECT COUNT(*) FROM {ds}.sale_orders WHERE tracking_number = 'NA'") == [(0,)]
    [(named_na,)] = harness.sql("SELECT COUNT(*) FROM {ds}.sale_orders WHERE shipping_address_city = 'NA'")
    assert named_na > 50  # a place (or a custom field) that is `NA` loads as written, never NULL
    [(rows, tracking, dated, valid)] = harness.sql(
        "SELECT COUNT(*), COUNT(tracking_number), COUNT(e_way_bill_date), COUNT(e_way_bill_valid_till) "
        "FROM {ds}.sale_orders")
    assert rows > 100 and tracking < rows * 0.6 and dated == rows and 0 < valid < rows * 0.5


@pytest.mark.parametrize("name", ["Tally Return GST Report", "Tally Return GST Report 3.0"])
def test_tally_return_gst_report_loads_per_job_with_either_sku_label(harness: Harness, name: str) -> None:
    """uniware-reports.md 3 and 10: the return report takes the required `dateRange` filter; no key is known,
    so each job's rows land as they are (as Tally GST's); its SKU column reads 'Product SKU Code' or
    'Product SKU'. AN's tenants name it "Tally Return GST Report 3.0": the same report, sent by that name
    (the 3.0 name needed `columns` and then loaded as an untyped snapshot without its required filter)."""
    spec = CATALOG[name]
    assert spec.table_name == "tally_return_gst"
    assert spec.date_filter == "dateRange" and spec.write_disposition == CATALOG["Tally GST Report"].write_disposition
    assert not harness.run(exports=[name], facilities=["BLR01"]).problems
    creates = [r.body for r in harness.sim.requests.where("create") if r.body.get("exportJobTypeName") == name]
    assert creates and all([f["id"] for f in body["exportFilters"]] == ["dateRange"] for body in creates)
    truth = truth_of_jobs(harness.sim, name)
    assert harness.count(spec.table_name) == len(truth) > 0
    kinds = dict(harness.sql(f"SELECT return_type, COUNT(*) FROM {{ds}}.{spec.table_name} GROUP BY 1"))
    assert set(kinds) == {"COURIER RETURN", "CUSTOMER RETURN"}
    before = column_types(harness, spec.table_name)
    assert before["qty"] == "BIGINT" and before["date"] == "TIMESTAMP WITH TIME ZONE"
    harness.sim.jobs.edit_file = _relabelled({"Product SKU Code": "Product SKU"})
    harness.sim.clock.advance(timedelta(days=2))
    assert not harness.run(exports=[name], facilities=["BLR01"]).problems
    assert column_types(harness, spec.table_name) == before
    assert harness.sql(f"SELECT COUNT(*) FROM {{ds}}.{spec.table_name} WHERE product_sku_code IS NULL") == [(0,)]
    assert harness.count(spec.table_name) == len(truth_of_jobs(harness.sim, name)) > len(truth)


def test_a_column_keeps_the_type_it_loaded_with_when_the_catalog_types_it_later(harness: Harness) -> None:
    """A table loaded while a label was text (an earlier catalog, here set by configuration) goes on
    loading it as text once the catalog types it (GRN's amounts): no job refused on every run. A type the
    configuration asks for is a change the user makes: refused, naming the column."""
    label = "Values of Goods Received with taxes"
    harness.run(exports=[{"name": "GRN", "column_types": {label: "text"}}], facilities=["BLR01"])
    assert column_types(harness, "grns")["values_of_goods_received_with_taxes"] == "VARCHAR"
    harness.sim.clock.advance(timedelta(days=1))
    def na(header: list[str], rows: list[list[str]]) -> tuple[list[str], list[list[str]]]:
        at, key = header.index(label), header.index("GRN Code")
        for row in rows:
            row[at] = "NA"
        rows[0][key] = "NA"  # a key cell: blank, as earlier versions loaded it (""), so its rows merge as before
        return header, rows

    harness.sim.jobs.edit_file = _rows_edited(na)
    report = harness.run(exports=["GRN"], facilities=["BLR01"])  # the catalog's decimal
    assert not report.problems
    assert column_types(harness, "grns")["values_of_goods_received_with_taxes"] == "VARCHAR"
    assert report.exports["grns"].jobs_loaded == 1
    # the kept text column and the key: `NA` blank there as in every typed column, as the table loaded it
    second = harness.sim.jobs.all()[-1].code
    assert harness.sql("SELECT COUNT(*) FROM {ds}.grns WHERE _uniware_job_code = ? AND "
                       "(values_of_goods_received_with_taxes IS NOT NULL OR grn_code = 'NA')", second) == [(0,)]
    assert harness.sql("SELECT COUNT(*) FROM {ds}.grns WHERE grn_code = ''")[0][0] >= 1
    harness.sim.jobs.edit_file = None
    harness.sim.clock.advance(timedelta(days=1))
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=[{"name": "GRN", "column_types": {label: "decimal"}}], facilities=["BLR01"])
    assert "column types changed" in raised.value.problems[0] and "values_of_goods_received_with_taxes" in \
        raised.value.problems[0]
