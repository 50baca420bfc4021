"""Decimals are exact, or the LOADED message and the log say which values were rounded.

A Currency Conversion Rate such as 0.01198765 (the simulator writes it for orders in USD or AED, with the
places a live rate has) loads exactly as a `rate` (decimal(38, 12)); typed as a `decimal` (4 places) it is
rounded, and the job's LOADED history row names the column, the count, the first row and value and the
setting that keeps it exact.
"""

from __future__ import annotations

import csv
import io
import logging
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from uniware_simulator import UniwareSimulator
from uniware_source.catalog import CATALOG, RATE
from uniware_source.conversion.arrow_types import to_decimal, to_rate

from .harness import Harness

ONE = ["BLR01"]
LABEL = "Currency Conversion Rate"
COLUMNS = [*CATALOG["Sale Orders"].columns, "currencyConversionRate"]


@pytest.fixture
def harness(uniware_simulator: UniwareSimulator, tmp_path: Path) -> Harness:
    return Harness(uniware_simulator, tmp_path)


def served(harness: Harness) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for job in harness.sim.jobs.all():
        if job.file is not None:
            with open(job.file.path, encoding="utf-8-sig", newline="") as handle:
                rows.extend(csv.DictReader(handle))
    return rows


def loaded_messages(harness: Harness) -> list[str]:
    return [row["message"] or "" for row in harness.history() if row["status"] == "LOADED"]


def test_a_conversion_rate_loads_exactly(harness: Harness) -> None:
    report = harness.run(exports=[{"name": "Sale Orders", "columns": COLUMNS}], facilities=ONE)
    assert not report.problems
    rows = served(harness)
    rates = {r["Sale Order Item Code"]: Decimal(r[LABEL]) for r in rows}
    assert Decimal("0.01198765") in rates.values()
    landed = dict(harness.sql("SELECT sale_order_item_code, currency_conversion_rate FROM {ds}.sale_orders"))
    assert landed == rates
    assert not any("rounded" in m for m in loaded_messages(harness))
    assert CATALOG["Tally GST Report"].column_types["conversion rate"] == RATE


def test_rounding_a_decimal_is_said_with_column_count_row_and_value(harness: Harness,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    export = {"name": "Sale Orders", "columns": COLUMNS, "column_types": {LABEL: "decimal"}}
    with caplog.at_level(logging.WARNING):
        report = harness.run(exports=[export], facilities=ONE)
    assert not report.problems
    rows = served(harness)
    long = [(number, r[LABEL]) for number, r in enumerate(rows, start=2) if len(r[LABEL].partition(".")[2]) > 4]
    assert long
    first_row, first_value = long[0]
    said = f"column '{LABEL}': {len(long):,} value(s) have more than 4 decimal places and were rounded to 4, " \
           f"first at row {first_row} (header is row 1): '{first_value}'"
    messages = loaded_messages(harness)
    assert any(said in m and '"rate"' in m for m in messages), messages
    assert said in caplog.text


def test_a_rounding_is_counted_only_for_rows_that_load(harness: Harness) -> None:
    """The first row with a long rate also has an untypable price; on_bad_rows='skip' drops it, so the
    rounding message counts and shows the rows that landed, from the second such row on."""
    def damaged(text: str) -> str:
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
        first = next(i for i, row in enumerate(rows[1:], start=1)
                     if len(row[rows[0].index(LABEL)].partition(".")[2]) > 4)
        rows[first][rows[0].index("Selling Price")] = "12,34.5x"
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        return out.getvalue()

    harness.sim.jobs.edit_file = lambda job, text: damaged(text)
    export = {"name": "Sale Orders", "columns": COLUMNS, "column_types": {LABEL: "decimal"}}
    report = harness.run(exports=[export], facilities=ONE, on_bad_rows="skip")
    assert report.exports["sale_orders"].rows_skipped == 1
    rows = served(harness)
    long = [(number, r[LABEL]) for number, r in enumerate(rows, start=2)
            if len(r[LABEL].partition(".")[2]) > 4 and r["Selling Price"] != "12,34.5x"]
    assert len(long) >= 1
    said = f"column '{LABEL}': {len(long):,} value(s) have more than 4 decimal places and were rounded to 4, " \
           f"first at row {long[0][0]} (header is row 1): '{long[0][1]}'"
    assert any(said in m for m in loaded_messages(harness)), (said, loaded_messages(harness))


def test_only_chunks_that_needed_rounding_are_marked() -> None:
    exact = to_decimal(pa.array(["1.5", "12.3456", None]))
    assert exact.rounded is None and exact.bad is None
    rounded = to_decimal(pa.array(["1.5", "0.01198765", None, "2.00000"]))
    assert rounded.rounded is not None and rounded.rounded.to_pylist() == [False, True, False, False]
    assert rounded.values.to_pylist()[1] == Decimal("0.0120")
    grouped = to_decimal(pa.array(["1,234.56789", "1,000.5"]))  # thousands separators: value by value
    assert grouped.rounded is not None and grouped.rounded.to_pylist() == [True, False]
    rate = to_rate(pa.array(["0.01198765", "33.33333333333333"]))
    assert rate.values.to_pylist()[0] == Decimal("0.01198765")
    assert rate.rounded is not None and rate.rounded.to_pylist() == [False, True]
