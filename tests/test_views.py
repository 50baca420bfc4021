"""The SQL views on data whose answers are known by hand: Sale Orders has a row per unit (two units of a
SKU are two rows of one invoice), Return Invoices a row per invoice and SKU with its quantity, and items
have their own status list, apart from their order's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from uniware_simulator import UniwareSimulator
from uniware_source.queries import query

from .harness import Harness, rows_like_the_first


@pytest.fixture
def harness(uniware_simulator: UniwareSimulator, tmp_path: Path) -> Harness:
    return Harness(uniware_simulator, tmp_path)


def _served(rows: list[dict[str, str]]) -> Any:
    """A file edit serving `rows`, each the job's first row with these labels changed."""
    return lambda job, text: rows_like_the_first(text, rows, job.report.name)


SOLD = [  # order SO-A, COMPLETE: two units of SKU-X and a cancelled SKU-Y on INV-A; SO-B: one SKU-X on INV-B
    {"Sale Order Code": "SO-A", "Sale Order Item Code": "SO-A-1", "Item SKU Code": "SKU-X", "Invoice Code": "INV-A",
     "Sale Order Status": "COMPLETE", "Sale Order Item Status": "DELIVERED", "Channel Name": "CH1"},
    {"Sale Order Code": "SO-A", "Sale Order Item Code": "SO-A-2", "Item SKU Code": "SKU-X", "Invoice Code": "INV-A",
     "Sale Order Status": "COMPLETE", "Sale Order Item Status": "DELIVERED", "Channel Name": "CH1"},
    {"Sale Order Code": "SO-A", "Sale Order Item Code": "SO-A-3", "Item SKU Code": "SKU-Y", "Invoice Code": "INV-A",
     "Sale Order Status": "COMPLETE", "Sale Order Item Status": "CANCELLED", "Channel Name": "CH1"},
    {"Sale Order Code": "SO-B", "Sale Order Item Code": "SO-B-1", "Item SKU Code": "SKU-X", "Invoice Code": "INV-B",
     "Sale Order Status": "COMPLETE", "Sale Order Item Status": "DELIVERED", "Channel Name": "CH2"},
]
RETURNED = [  # one of SO-A's two SKU-X units; SO-B's return says 5 units of the 1 sold
    {"Invoice Code": "INV-A", "Item SKU Code": "SKU-X", "Quantity": "1"},
    {"Invoice Code": "INV-B", "Item SKU Code": "SKU-X", "Quantity": "5"},
]


def test_views_count_units_and_cancelled_items_not_join_rows(harness: Harness) -> None:
    files = {"Sale Orders": _served(SOLD), "Return Invoices": _served(RETURNED)}
    harness.sim.jobs.edit_file = lambda job, text: files[job.report.name](job, text)
    report = harness.run(exports=["Sale Orders", "Return Invoices"], facilities=["BLR01"])
    assert not report.problems
    assert harness.count("sale_orders") == 4 and harness.count("return_invoices") == 2

    rates = {channel: (sold, returned, float(pct))
             for channel, sold, returned, pct in harness.sql(query("returns_rate", "{ds}"))}
    # CH1: 2 units sold (the cancelled one is not a sale), 1 returned; CH2: 1 sold, its return capped at 1
    assert rates == {"CH1": (2, 1, 50.0), "CH2": (1, 1, 100.0)}

    by_status = {status: (orders, items, cancelled)
                 for status, orders, items, cancelled in harness.sql(query("order_status", "{ds}"))}
    assert by_status == {"COMPLETE": (2, 4, 1)}


def test_blank_cells_count_as_files_mean_them(harness: Harness) -> None:
    """Files leave cells blank (NULL in the table): an item whose status is blank is sold, not cancelled,
    in the sales and the returns rate; a blank stock count is none, so available is on hand minus reserved."""
    blank = [  # SO-C: a unit of SKU-Z with a blank status, returned; SO-D: one with `-` for a status
        {"Sale Order Code": "SO-C", "Sale Order Item Code": "SO-C-1", "Item SKU Code": "SKU-Z", "Invoice Code": "INV-C",
         "Sale Order Status": "COMPLETE", "Sale Order Item Status": "", "Channel Name": "CH1"},
        {"Sale Order Code": "SO-D", "Sale Order Item Code": "SO-D-1", "Item SKU Code": "SKU-Z", "Invoice Code": "INV-D",
         "Sale Order Status": "COMPLETE", "Sale Order Item Status": "-", "Channel Name": "CH1"},
    ]
    stock = [  # on hand 10 + 5 + blank, reserved blank + 5 + 2: available 8, B and C out of stock
        {"Item SkuCode": "A", "Inventory": "10", "Open Sale": "-"},
        {"Item SkuCode": "B", "Inventory": "5", "Open Sale": "5"},
        {"Item SkuCode": "C", "Inventory": "", "Open Sale": "2"},
    ]
    returned = {"Invoice Code": "INV-C", "Item SKU Code": "SKU-Z", "Quantity": "1"}
    files = {"Sale Orders": _served([*SOLD, *blank]), "Return Invoices": _served([*RETURNED, returned]),
             "Inventory Snapshot": _served(stock)}
    harness.sim.jobs.edit_file = lambda job, text: files[job.report.name](job, text)
    report = harness.run(exports=["Sale Orders", "Return Invoices", "Inventory Snapshot"], facilities=["BLR01"])
    assert not report.problems
    assert harness.sql("SELECT COUNT(*) FROM {ds}.sale_orders WHERE sale_order_item_status IS NULL") == [(2,)]
    rates = {channel: (sold, returned) for channel, sold, returned, _ in harness.sql(query("returns_rate", "{ds}"))}
    assert rates == {"CH1": (4, 2), "CH2": (1, 1)}  # SO-A's two units and SO-C's and SO-D's; SO-C's came back
    [(items,)] = harness.sql(f"SELECT SUM(items) FROM ({query('sales_per_day', '{ds}')}) AS days")
    assert items == 5  # every item but the cancelled one
    [(skus, on_hand, reserved, available, out)] = [row[2:] for row in harness.sql(query("stock_on_hand", "{ds}"))]
    assert (skus, on_hand, reserved, available, out) == (3, 15, 7, 8, 2)


def test_the_views_take_a_rows_own_facility_code(harness: Harness) -> None:
    """A report over several facilities (a tenant's "All Facility" copy) run for BLR01: its rows of DEL02 were
    shown and matched as BLR01's, the job's facility (red team helper 122). A row's own `Facility Code` counts
    where it has one; the job's facility where it has none, or the job's code in another case."""
    from uniware_source.queries import create_views

    sold = [{**SOLD[0], "Facility Code": "blr01 "}, {**SOLD[1], "Facility Code": ""}, SOLD[2],
            {**SOLD[3], "Facility Code": "DEL02", "Facility": "Delhi Hub"}]
    files = {"Sale Orders": _served(sold), "Return Invoices": _served(RETURNED)}
    harness.sim.jobs.edit_file = lambda job, text: files[job.report.name](job, text)
    harness.run(exports=["Sale Orders", "Return Invoices"], facilities=["BLR01"])
    assert {"v_sales_per_day", "v_returns_rate"} <= set(create_views(harness.pipeline))
    by_code = {(code, channel): items for _, channel, _, code, _, items, _ in
               harness.sql("SELECT * FROM {ds}.v_sales_per_day")}
    assert by_code == {("BLR01", "CH1"): 2, ("DEL02", "CH2"): 1}
    rates = {channel: (sold, back) for channel, sold, back, _ in harness.sql("SELECT * FROM {ds}.v_returns_rate")}
    assert rates == {"CH1": (2, 1), "CH2": (1, 1)}  # INV-B's return, received at BLR01, matches DEL02's sale
