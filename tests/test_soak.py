"""Soak: 200 jobs through the simulator with 10 % random transient faults; every row lands exactly once."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from tests.simulator_fixtures import TEST_NOW, fast_config
from uniware_simulator import UniwareSimulator

from .harness import SALE_ORDERS_FULL, Harness

DAYS = 44
WINDOW_DAYS = 2


@pytest.mark.slow
def test_soak_200_jobs_with_ten_percent_transient_faults(tmp_path: Path) -> None:
    start = TEST_NOW - timedelta(days=DAYS)
    with UniwareSimulator(fast_config(files_dir=tmp_path / "sim")) as sim:
        harness = Harness(sim, tmp_path)
        chaos = sim.chaos(rate=0.10, seed=20261128)
        began = time.monotonic()
        report = harness.run(exports=[SALE_ORDERS_FULL, "Invoice", "Return Invoices", "Inventory Snapshot"],
                             start_date=start.isoformat(), window_days=WINDOW_DAYS, max_concurrent_jobs=25)
        seconds = time.monotonic() - began
        sim.faults.clear()

        jobs = sim.jobs.all()
        windows = 3 * 3 * (DAYS // WINDOW_DAYS) + 3  # three windowed exports x three facilities, + snapshots
        assert len(jobs) == windows >= 200, "a job too many: a retried create was not reconciled"
        assert not report.problems

        end = TEST_NOW - timedelta(seconds=1)
        orders = harness.sql("SELECT sale_order_item_code, sale_order_item_status, updated FROM {ds}.sale_orders")
        truth = {(r["Sale Order Item Code"], r["Sale Order Item Status"], r["Updated"])
                 for r in sim.truth("Sale Orders", date_filter="updatedOn", start=start, end=end)}
        assert len(orders) == len(set(orders)) and set(orders) == truth

        invoices = Counter(harness.sql("SELECT invoice_no, sku_code FROM {ds}.invoices"))
        expected = Counter((r["Invoice No"], r["SKU Code"])
                           for r in sim.truth("Invoice", date_filter="dateCreatedRange", start=start, end=end))
        assert invoices == expected  # repeated invoice lines kept, none doubled

        returns = harness.sql("SELECT invoice_code, item_sku_code FROM {ds}.return_invoices")
        assert sorted(returns) == sorted((r["Invoice Code"], r["Item SKU Code"]) for r in sim.truth(
            "Return Invoices", date_filter="addedOn", start=start, end=end))
        assert harness.count("inventory_snapshot") == len(sim.truth("Inventory Snapshot"))

        history = harness.history()
        assert len({r["event_id"] for r in history}) == len(history)
        assert Counter(r["status"] for r in history)["LOADED"] == windows

        fired = sum(chaos.fired.values())
        requests = len(sim.requests)
        print(f"\nsoak: {windows} jobs, {len(orders) + sum(invoices.values()) + len(returns):,} rows, "
              f"{requests} requests, {fired} faults ({100 * fired / requests:.1f} %) in {seconds:.0f} s: "
              + ", ".join(f"{k} {v}" for k, v in sorted(chaos.fired.items())))
        assert fired > 0.05 * requests
