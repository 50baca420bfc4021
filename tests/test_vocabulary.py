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
    # returns are matched on the columns Return Invoices really has (Invoice Code + Item SKU Code)
    rates = harness.sql(query("returns_rate", "{ds}"))
    returned = sum(r[2] for r in rates)
    matched = harness.sql("SELECT COUNT(*) FROM {ds}.return_invoices AS r JOIN {ds}.sale_orders AS s "
                          "ON r.invoice_code = s.invoice_code AND r.item_sku_code = s.item_sku_code")[0][0]
    assert returned == matched > 0


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
    harness.run(exports=[{"name": "Return Invoices", "primary_key": ["Invoice Code", "SKU Code"]}],
                facilities=["BLR01"])
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
