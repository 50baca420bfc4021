"""Returns keep every row of their real grain (uniware-reports.md 1, 3), through the real pipeline.

The simulator's sale order items are units, as Uniware's are: two units of a SKU sold on one invoice line
can come back on two return invoices (two Return Invoices rows with one Invoice Code and Item SKU Code),
and a reverse pickup of both is two rows with one Reverse Pickup No and SKU, one per Sale Order Item
Code. Keys without Return Invoice Code / Sale Order Item Code kept one of each pair, silently.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from uniware_simulator import UniwareSimulator
from uniware_source.catalog import CATALOG
from uniware_source.queries import query

from .harness import Harness, invoice_line_as

ONE = ["BLR01"]
OLD_RETURN_INVOICES_KEY = ["Invoice Code", "Item SKU Code"]


@pytest.fixture
def harness(uniware_simulator: UniwareSimulator, tmp_path: Path) -> Harness:
    return Harness(uniware_simulator, tmp_path)


def served(harness: Harness, report: str) -> list[dict[str, str]]:
    """The rows of every file the simulator served for `report`, as written."""
    rows: list[dict[str, str]] = []
    for job in harness.sim.jobs.all():
        if job.report.name == report and job.file is not None:
            with open(job.file.path, encoding="utf-8-sig", newline="") as handle:
                rows.extend(csv.DictReader(handle))
    return rows


def return_lines(rows: list[dict[str, str]]) -> set[tuple[str, str, str, int]]:
    return {(r["Invoice Code"], r["Return Invoice Code"], r["Item SKU Code"], int(r["Quantity"])) for r in rows}


def landed_returns(harness: Harness) -> list[tuple[Any, ...]]:
    return harness.sql("SELECT invoice_code, return_invoice_code, item_sku_code, quantity FROM {ds}.return_invoices")


def split_lines(rows: list[dict[str, str]]) -> list[tuple[str, str]]:
    """(Invoice Code, Item SKU Code) of sold lines returned on more than one return invoice."""
    invoices: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in rows:
        invoices[(r["Invoice Code"], r["Item SKU Code"])].add(r["Return Invoice Code"])
    return [line for line, codes in invoices.items() if len(codes) > 1]


def test_a_line_returned_on_two_return_invoices_lands_twice_and_counts_both_units(harness: Harness) -> None:
    report = harness.run(exports=["Sale Orders", "Return Invoices"], facilities=ONE)
    assert not report.problems
    returns = served(harness, "Return Invoices")
    split = split_lines(returns)
    assert split, "the simulator served no sold line returned on two return invoices"
    landed = landed_returns(harness)
    assert len(landed) == len(returns) and set(landed) == return_lines(returns)

    # v_returns_rate from what Uniware served: units sold per channel, invoice and SKU (not cancelled), and
    # the units returned of each, at most the units sold
    sold: Counter[tuple[str, str, str]] = Counter(
        (r["Channel Name"], r["Invoice Code"], r["Item SKU Code"]) for r in served(harness, "Sale Orders")
        if r["Sale Order Item Status"] != "CANCELLED")
    returned: Counter[tuple[str, str]] = Counter()
    for r in returns:
        returned[(r["Invoice Code"], r["Item SKU Code"])] += int(r["Quantity"])
    expected: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for (channel, invoice, sku), units in sold.items():
        expected[channel][0] += units
        expected[channel][1] += min(returned[(invoice, sku)] if invoice else 0, units)
    rates = {channel: [items_sold, items_returned]
             for channel, items_sold, items_returned, _ in harness.sql(query("returns_rate", "{ds}"))}
    assert rates == dict(expected)
    # the two returns of a line both count, where both units sold are in the window
    counted = [line for line in split if sum(n for (_, i, s), n in sold.items() if (i, s) == line) >= 2]
    assert counted and all(returned[line] >= 2 for line in counted)


def test_a_multi_unit_reverse_pickup_keeps_a_row_per_sale_order_item(harness: Harness) -> None:
    report = harness.run(exports=["Reverse Pickup"], facilities=ONE)
    assert not report.problems
    pickups = served(harness, "Reverse Pickup")
    units = Counter((r["Reverse Pickup No"], r["Item SKU Code"]) for r in pickups)
    assert any(n > 1 for n in units.values()), "the simulator served no pickup of two units of a SKU"
    landed = harness.sql("SELECT reverse_pickup_no, sale_order_item_code, item_sku_code FROM {ds}.reverse_pickups")
    assert sorted(landed) == sorted((r["Reverse Pickup No"], r["Sale Order Item Code"], r["Item SKU Code"])
                                    for r in pickups)


def test_a_table_merged_on_the_old_key_takes_the_new_one_without_duplicates_or_losses(harness: Harness) -> None:
    """A table an earlier version merged on Invoice Code + Item SKU Code: the next load merges on the new key
    (dlt moves the key hint), re-exported rows replace their old copy, rows outside the new window stay, and
    a backfill over the old period brings back the second returns the old key dropped."""
    # as an earlier version loaded it: one row per old key (with a dedup_sort, a repeat still loads one row)
    old = {"name": "Return Invoices", "primary_key": OLD_RETURN_INVOICES_KEY, "dedup_sort": "Return Date"}
    start = harness.clock.now() - timedelta(days=30)  # the first run's window (window_days)
    assert not harness.run(exports=[old], facilities=ONE).problems
    first = served(harness, "Return Invoices")
    assert split_lines(first) and harness.count("return_invoices") < len(first)  # the old key's loss
    before = set(landed_returns(harness))

    harness.sim.clock.advance(timedelta(days=3))
    assert not harness.run(exports=["Return Invoices"], facilities=ONE).problems
    columns = harness.pipeline.default_schema.get_table("return_invoices")["columns"]
    assert sorted(n for n, c in columns.items() if c.get("primary_key")) == \
        ["_uniware_facility", "invoice_code", "item_sku_code", "return_invoice_code"]  # each facility numbers
    landed = landed_returns(harness)
    assert len(landed) == len(set(landed))  # no duplicate
    second = return_lines(served(harness, "Return Invoices")[len(first):])
    assert second <= set(landed)  # the new window's rows, every one
    assert set(landed) <= before | second  # nothing invented
    kept = {row for row in before if (row[0], row[2]) not in {(i, s) for i, _, s, _ in second}}
    assert kept <= set(landed)  # rows outside the new window stay

    assert not harness.run(exports=["Return Invoices"], facilities=ONE, backfill_start=start.isoformat()).problems
    landed = landed_returns(harness)
    assert len(landed) == len(set(landed))
    assert return_lines(first) <= set(landed)  # the backfill recovered what the old key dropped


def test_the_return_keys_name_the_return_and_the_unit() -> None:
    assert CATALOG["Return Invoices"].primary_key == ("Invoice Code", "Return Invoice Code", "Item SKU Code")
    assert CATALOG["Reverse Pickup"].primary_key == ("Reverse Pickup No", "Sale Order Item Code", "Item SKU Code")


def test_a_sku_received_in_two_batches_keeps_both_grn_rows(harness: Harness) -> None:
    """uniware-reports.md 7: GRN has Batch Code and Expiry Date, a row per batch. Keyed on GRN Code +
    Item SkuCode alone, the second batch's row was dropped (received 13 of 18 units, exit 0)."""
    harness.run(exports=[{"name": "GRN", "columns": [*CATALOG["GRN"].columns, "batchCode"]}], facilities=ONE)
    rows = served(harness, "GRN")
    batched = Counter((r["GRN Code"], r["Item SkuCode"]) for r in rows)
    assert any(n > 1 for n in batched.values()), "the simulator served no SKU received in two batches"
    landed = harness.sql("SELECT grn_code, item_sku_code, batch_code, quantity_received FROM {ds}.grns")
    assert sorted(landed) == sorted((r["GRN Code"], r["Item SkuCode"], r["Batch Code"], int(r["Quantity Received"]))
                                    for r in rows)


def test_an_item_master_with_a_row_per_facility_loads_one_row_per_product(harness: Harness) -> None:
    """uniware-reports.md 5: DT's Item Master carries a Facility column (DM's has none): a file with a row
    of a product per facility repeats the key; every row is kept (numbered), and the file still replaces
    the table: a product the next snapshot lacks goes."""
    def per_facility(text: str) -> str:
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([*rows, *rows[1:4]])
        return out.getvalue()

    harness.sim.jobs.edit_file = lambda job, text: per_facility(text)
    report = harness.run(exports=["Item Master"], facilities=ONE)
    assert not report.problems
    rows = served(harness, "Item Master")
    keys = {(r["Product Code"], r["Component Product Code"]) for r in rows}
    assert len(rows) == len(keys) + 3 and harness.count("item_master") == len(rows)
    gone = rows[-1]["Product Code"]  # repeated in the first file; the next snapshot lacks it

    def without_a_product(text: str) -> str:
        kept = [r for r in csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")) if gone not in r[:1]]
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([*kept, *kept[1:4]])
        return out.getvalue()

    harness.sim.jobs.edit_file = lambda job, text: without_a_product(text)
    harness.sim.clock.advance(timedelta(hours=1))
    assert not harness.run(exports=["Item Master"], facilities=ONE).problems
    assert harness.sql("SELECT COUNT(*) FROM {ds}.item_master WHERE product_code = '" + gone + "'") == [(0,)]


def test_a_line_exported_again_with_fewer_rows_leaves_no_stale_row(harness: Harness) -> None:
    """Invoice keeps every row of a key, numbered within its file. A lookback re-export that writes an
    invoice's two one-unit rows as one row of two replaces both rows: the second one does not stay
    behind (the quantity summed to 3 of 2 units, exit 0)."""
    edits = [[(1, "100.00"), (1, "100.00")], [(2, "200.00")]]  # the window's job, then its re-export
    first_line: list[str] = []

    def edit(job: Any, text: str) -> str:
        if len(first_line) == len(edits):
            return text  # the next window's job
        edited = invoice_line_as(text, edits[len(first_line)])
        header, row = list(csv.reader(io.StringIO(edited)))[:2]
        first_line.append(row[header.index("Invoice No")])
        return edited

    harness.sim.jobs.edit_file = edit
    harness.run(exports=["Invoice"], facilities=ONE, window_days=1)
    harness.sim.clock.advance(timedelta(hours=12))
    harness.run(exports=["Invoice"], facilities=ONE, window_days=1, lookback_days=1)
    assert len(first_line) == 2 and first_line[0] == first_line[1], "the second job did not export the invoice again"
    lines = harness.sql("SELECT quantity, invoice_total FROM {ds}.invoices WHERE invoice_no = ? "
                        "ORDER BY _uniware_key_occurrence", first_line[0])
    assert [(q, float(t)) for q, t in lines if q in (1, 2)] == [(2, 200.0)], lines


def test_two_facilities_invoices_of_one_code_are_two_invoices_each_replaced_by_its_own_facility(
        harness: Harness) -> None:
    """Each facility numbers its invoices, so two facilities' files may both hold INV/0001 (red team helper
    119: a later facility's invoice replaced the other's, exit 0; within one run, the second file's job failed).
    Both facilities' lines land, and a re-export of one facility's invoice replaces that facility's lines alone."""
    served_lines: dict[str, list[tuple[int, str]]] = {"BLR01": [(1, "100.00"), (1, "100.00")],
                                                      "DEL02": [(2, "200.00")]}
    invoice: dict[str, list[str]] = {}

    def edit(job: Any, text: str) -> str:
        if invoice.setdefault("window", [job.query.start])[0] != job.query.start and job.query.facility == "DEL02":
            return text  # DEL02's later windows as served
        edited = invoice_line_as(text, served_lines[job.query.facility])
        rows = list(csv.reader(io.StringIO(edited)))
        at = rows[0].index("Invoice No"), rows[0].index("SKU Code")
        line = invoice.setdefault("line", [rows[1][at[0]], rows[1][at[1]]])
        for row in rows[1:1 + len(served_lines[job.query.facility])]:
            row[at[0]], row[at[1]] = line
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        return out.getvalue()

    def lines() -> list[tuple[Any, ...]]:
        return sorted(harness.sql("SELECT _uniware_facility, quantity FROM {ds}.invoices WHERE invoice_no = ? AND "
                                  "sku_code = ?", *invoice["line"]))

    harness.sim.jobs.edit_file = edit
    settings: dict[str, Any] = {"exports": ["Invoice"], "facilities": ["BLR01", "DEL02"], "window_days": 2,
                                "lookback_days": 1}  # one window a facility a run
    assert not harness.run(**settings).problems
    assert lines() == [("BLR01", 1), ("BLR01", 1), ("DEL02", 2)]
    served_lines["BLR01"] = [(3, "300.00")]  # BLR01's invoice again (the lookback), now one line
    harness.sim.clock.advance(timedelta(hours=12))
    assert not harness.run(**settings).problems
    assert lines() == [("BLR01", 3), ("DEL02", 2)]
