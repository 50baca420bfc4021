"""The field's vocabulary (uniware-reports.md) as the catalog, the label matching and the simulator read it."""

from __future__ import annotations

from dataclasses import replace

import pytest
from dlt.common.normalizers.naming.snake_case import NamingConvention

from uniware_simulator import REPORTS
from uniware_source.catalog import CATALOG, DECIMAL
from uniware_source.conversion.column_names import ColumnNames
from uniware_source.conversion.csv_to_parquet import BLANKS
from uniware_source.conversion.file_layout import plan_layout, spec_labels
from uniware_source.errors import CsvFormatError
from uniware_source.vocabulary import FROM_THE_ID, GUESSED, LABELS, READINGS, UNSEEN

NORMALIZE = NamingConvention().normalize_identifier


def names(fixed: tuple[str, ...] = ()) -> ColumnNames:
    return ColumnNames(None, normalize=NORMALIZE, reserved=(), fixed=fixed)


def test_blank_tokens_are_the_documented_ones() -> None:
    """uniware-api.md: empty, N/A, - and NULL; uniware-reports.md 12 adds NA (whole values, as written)."""
    assert sorted(BLANKS) == sorted(["", "N/A", "-", "NULL"])  # `NA`: blank only where it cannot be data


@pytest.mark.parametrize("spelling", ["Item Sku Code", "Item SKU Code", "item skucode", "Item  SkuCode"])
def test_a_key_label_matches_ignoring_case_and_spaces(spelling: str) -> None:
    spec = replace(CATALOG["GRN"], columns=())  # a few columns of it: no check of the requested ones
    layout = plan_layout(["GRN Code", spelling, "GRN Date"], spec, names(spec.primary_key), "GRN")
    assert layout.labels[1] == "Item SkuCode" and layout.key_names == ["grn_code", "item_sku_code"]


def test_a_file_with_two_spellings_of_a_label_keeps_both_apart() -> None:
    spec = replace(CATALOG["GRN"], columns=())  # a few columns of it: no check of the requested ones
    assert spec_labels(["Item SkuCode", "Item Sku Code"], spec) == ["Item SkuCode", "Item Sku Code"]
    assert spec_labels(["Item Sku Code", "ITEM SKU CODE"], spec) == ["Item SkuCode", "ITEM SKU CODE"]
    layout = plan_layout(["GRN Code", "Item Sku Code", "Item SkuCode"], spec, names(spec.primary_key), "GRN")
    assert layout.names == ["grn_code", "item_sku_code_2", "item_sku_code"]
    assert layout.key_names == ["grn_code", "item_sku_code"]


def test_grn_amounts_in_either_reading_are_decimals_in_one_column() -> None:
    spec = replace(CATALOG["GRN"], columns=())  # a few columns of it: no check of the requested ones
    for label in ("Values of Goods Received with taxes", "Value of Goods Received with taxes"):
        layout = plan_layout(["GRN Code", "Item SkuCode", label], spec, names(spec.primary_key), "GRN")
        assert layout.labels[2] == "Values of Goods Received with taxes" and layout.kinds[2] == DECIMAL


def test_unseen_labels_are_not_claimed() -> None:
    """An id whose label no source has seen ("—") has none in the vocabulary."""
    for report, ids in UNSEEN.items():
        assert not set(ids) & set(LABELS.get(report, {})), report
    assert "returnRemarks" in UNSEEN["Sale Orders"] and "soiTotalQty" in UNSEEN["B2B Sale Orders"]
    for report, ids in GUESSED.items():
        assert set(ids) <= set(LABELS[report]), report


def test_every_catalog_report_is_in_the_vocabulary_and_the_simulator_speaks_it() -> None:
    for name, spec in CATALOG.items():
        labels = LABELS[name]
        assert set(spec.columns) <= set(labels) | set(UNSEEN.get(name, ())), name
        report = REPORTS[name]
        for column, label in labels.items():
            served = report.column(column)
            assert served is not None, (name, column)
            # an id no source shows a label for (its label here a guess from the id) is served as the id
            unlabelled = column in GUESSED.get(name, ()) and column in FROM_THE_ID.get(name, ())
            assert (served.label == column) if unlabelled else \
                (served.label == label or served.label in READINGS.get(name, {}).get(column, ())), (name, column)


def test_the_catalogs_readings_are_the_vocabularys() -> None:
    """Every other reading the catalog accepts is one uniware-reports.md gives (or an earlier spelling)."""
    for name, spec in CATALOG.items():
        by_label = {LABELS[name][column]: others for column, others in READINGS.get(name, {}).items()}
        for label, others in spec.label_readings.items():
            assert set(others) <= set(by_label.get(label, ())), (name, label)
    assert READINGS["Sale Orders"]["itemCode"] == ("Item Details",) and LABELS["Sale Orders"]["itemCode"] == "Item Code"


def test_tally_return_gst_report_is_loaded_like_tally_gst() -> None:
    tally, returns = CATALOG["Tally GST Report"], CATALOG["Tally Return GST Report"]
    assert returns.date_filter == "dateRange" and REPORTS[returns.name].date_required
    assert (returns.primary_key, returns.write_disposition, returns.lookback) == \
        (tally.primary_key, tally.write_disposition, tally.lookback)
    assert returns.label_readings["Product SKU Code"] == ("Product SKU",)
    assert len(LABELS[returns.name]) + len(UNSEEN[returns.name]) == len(REPORTS[returns.name].columns) == 59


def test_a_header_without_most_requested_labels_is_not_the_reports_file() -> None:
    """Tally GST's job given a file with 16 of Sale Orders' labels (not a whole Sale Orders file, so not
    named as one): it lacks most of Tally's labels, so it is refused, naming them."""
    tally = CATALOG["Tally GST Report"]
    header = list(LABELS["Sale Orders"].values())[:16]
    with pytest.raises(CsvFormatError, match=r"lacks 1[0-9] of the 14 labels the requested columns of 'Tally GST"):
        plan_layout(header, tally, names(tally.primary_key), "file x.csv")
    own = [LABELS["Tally GST Report"][c] for c in tally.columns]
    assert plan_layout(own[:9] + ["Something New"] * 2, tally, names(()), "x").labels[:9] == own[:9]


@pytest.mark.parametrize(("entry", "label"), [
    ({"name": "Sale Orders", "column_types": {"Channel Shipping": "text"}}, "Channel Shipping"),
    ({"name": "Invoice", "column_types": {"Facility": "text"}}, "Facility"),
    ({"name": "Return Invoices", "column_types": {"Putaway Status": "text", "Facility": "text"}}, "Putaway Status"),
    ({"name": "Item Master", "primary_key": ["Product Code", "Facility"]}, "Facility"),
    ({"name": "Invoice", "primary_key": ["Invoice No", "SKU Code", "Facility"]}, "Facility"),
])
def test_labels_files_carry_unasked_can_be_named_in_settings(entry: dict[str, object], label: str) -> None:
    """uniware-reports.md 1, 3, 5: Sale Orders files end with `Channel Shipping`, DT's Invoice, Return Invoices
    and Item Master files carry `Facility` (Return Invoices `Putaway Status` too), none of them requested by a
    column id: naming one in column_types or primary_key was refused as a typo, or told to add a column id
    that does not exist."""
    from uniware_source.settings import resolve_export

    spec = resolve_export(entry, 0)
    assert label in [*spec.column_types, *spec.primary_key]


def test_a_label_no_file_of_the_report_carries_is_still_refused() -> None:
    from uniware_source import ConfigError
    from uniware_source.settings import resolve_export

    with pytest.raises(ConfigError, match="Channel Shiping"):
        resolve_export({"name": "Sale Orders", "column_types": {"Channel Shiping": "text"}}, 0)


@pytest.mark.parametrize("report", ["Sale Orders", "Invoice"])
def test_adjustments_are_decimals_in_every_report_that_has_them(report: str) -> None:
    """uniware-reports.md 1 and 2: `Adjustment In Selling Price` / `In Discount` are decimals in Sale Orders
    and Invoice; Invoice loaded them as text."""
    for label in ("Adjustment In Selling Price", "Adjustment In Discount"):
        assert CATALOG[report].column_types[label] == DECIMAL


@pytest.mark.parametrize("report", sorted(name for name in UNSEEN if name in REPORTS))
def test_the_simulator_serves_an_id_whose_label_no_source_showed_under_the_id_itself(report: str) -> None:
    """uniware-reports.md marks such ids "—": the simulator named them in made-up English ("Return Remarks",
    "Fragile", "PO Tolerance"), so tests exercised labels no tenant was seen to send."""
    served = {c.id: c.label for c in (*REPORTS[report].columns, *REPORTS[report].extra_columns)}
    unseen = [column for column in UNSEEN[report] if column in served]
    assert unseen and {column: served[column] for column in unseen} == {column: column for column in unseen}
