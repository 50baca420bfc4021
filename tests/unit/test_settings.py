"""Settings declared once: the source's signature, the README table and validation derive from SettingValues."""

from __future__ import annotations

import inspect
import os
import re
from dataclasses import MISSING, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from uniware_source import ConfigError, uniware_source
from uniware_source.settings import (
    EXPORT_KEYS,
    HttpPolicy,
    PollPolicy,
    Settings,
    SettingValues,
    build_settings,
    readme_rows,
    resolve_export,
    resolve_exports,
    setting_fields,
)

NOW = datetime(2026, 4, 16, tzinfo=UTC)
README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_source_signature_is_the_declaration() -> None:
    parameters = inspect.signature(uniware_source).parameters
    assert [f.name for f in setting_fields()] == list(parameters)[: len(setting_fields())]
    for f in setting_fields():
        if not f.metadata["secret"]:
            assert parameters[f.name].default == f.default, f.name


def test_the_readme_settings_table_matches_the_declaration() -> None:
    text = README.read_text()
    head = "| setting | env var | default | meaning |\n|---|---|---|---|\n"
    table = text[text.index(head) + len(head):].split("\n\n", 1)[0].splitlines()
    assert table == readme_rows()


def _values(**overrides: object) -> SettingValues:
    return SettingValues(**{"username": "u", "password": "p", "tenant": "acme", **overrides})  # type: ignore[arg-type]


def test_defaults_validate() -> None:
    settings = build_settings(_values(), now=NOW)
    assert settings.base_url == "https://acme.unicommerce.com"
    assert [s.name for s in settings.exports] == ["Sale Orders"]
    assert settings.max_concurrent_jobs == 10


def test_every_default_lives_in_the_declaration_and_the_policies_are_built_from_it() -> None:
    for built in (Settings, PollPolicy, HttpPolicy):
        assert [f.name for f in fields(built) if f.default is not MISSING or f.default_factory is not MISSING] == []
    defaults = build_settings(_values(), now=NOW)
    assert defaults.poll.initial_seconds == SettingValues.poll_initial_seconds
    assert defaults.http.download_stall_timeout_seconds == SettingValues.download_stall_timeout_seconds
    assert defaults.lookback == timedelta(days=SettingValues.lookback_days)
    given = build_settings(_values(poll_initial_seconds=5, job_timeout_seconds=9, read_timeout_seconds=7,
                                   download_max_bytes=1000), now=NOW)
    assert (given.poll.initial_seconds, given.poll.max_seconds, given.poll.timeout_seconds) == (5, 30, 9)
    assert given.http.timeout == (10, 7)
    assert given.http.download_max_bytes == 1000


@pytest.mark.parametrize(("overrides", "setting"), [
    ({"window_days": 93}, "window_days"),
    ({"on_bad_rows": "maybe"}, "on_bad_rows"),
    ({"password": None}, "password"),
    ({"tenant": None}, "tenant"),
    ({"poll_max_seconds": "x"}, "poll_max_seconds"),
    ({"poll_initial_seconds": 0}, "poll_initial_seconds"),  # polls as fast as Uniware answers, for the whole wait
    ({"poll_initial_seconds": "0.0"}, "poll_initial_seconds"),
    ({"facilities": ["BLR 01\n"]}, "facilities"),
    ({"backfill_end": "2026-01-01"}, "backfill_start"),
    # user:pass@ made requests send HTTP basic auth instead of the bearer token: every call 401
    ({"base_url": "https://api.user:S3cret-Pass@acme.unicommerce.com"}, "base_url"),
    ({"base_url": "https://acme.unicommerce.com/?tenant=acme"}, "base_url"),
])
def test_errors_name_the_setting_and_its_env_var(overrides: dict[str, object], setting: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build_settings(_values(**overrides), now=NOW)
    assert caught.value.setting == setting
    assert f"SOURCES__UNIWARE__{setting.upper()}" in str(caught.value)
    assert "S3cret-Pass" not in str(caught.value)


def test_export_entries_are_validated_in_one_place() -> None:
    assert "lookback_days" in EXPORT_KEYS
    with pytest.raises(ConfigError, match="unknown key"):
        resolve_export({"name": "Sale Orders", "colums": []}, 0)
    spec = resolve_export({"name": "B2B", "columns": ["a"], "table_name": "Big Orders"}, 0)
    assert spec.table_name == "big_orders"


@pytest.mark.parametrize("types, typed", [({}, False), ({"Updated": "text"}, False), ({"Updated": "timestamp"}, True),
                                          ({"updated": "timestamp"}, True), ({" updated ": "date"}, True),
                                          ({"Created": "timestamp"}, False)])
def test_a_dedup_sort_without_a_type_that_orders_it_is_a_setting_error(types: dict[str, str], typed: bool) -> None:
    """As text, `30-03-2026 10:00` sorts after `01-04-2026 10:00`: the older row of a key was kept and
    called the newest. A custom export's dedup_sort needs a type, given by label or column name."""
    entry = {"name": "B2B Sale Orders", "columns": ["code", "updated", "created"], "primary_key": ["Code"],
             "dedup_sort": "Updated", "date_filter": "updatedOn", "column_types": types}
    if typed:
        assert resolve_export(entry, 0).dedup_sort == "Updated"
    else:
        with pytest.raises(ConfigError, match="dedup_sort 'Updated' tells the newest of a key's rows, but has no type"):
            resolve_export(entry, 0)
    for report in ("Sale Orders", "Reverse Pickup", "Purchase Orders", "Shipping Package"):  # the catalog types its own
        assert resolve_export({"name": report}, 0).dedup_sort
    # another reading of a catalog label has the label's type
    assert resolve_export({"name": "Reverse Pickup", "dedup_sort": "Reverse Pickup Updated"}, 0).dedup_sort


def test_export_names_separated_by_commas_and_a_misspelt_name_gets_the_catalogs_spelling() -> None:
    assert [s.name for s in resolve_exports("Sale Orders, Invoice")] == ["Sale Orders", "Invoice"]
    assert [s.name for s in resolve_exports('["Sale Orders"]')] == ["Sale Orders"]
    with pytest.raises(ConfigError, match="did you mean 'Sale Orders'") as raised:
        resolve_exports("sale  ORDERS")
    assert "uniware-pipeline exports" in str(raised.value) and "SOURCES__UNIWARE__EXPORTS" in str(raised.value)
    with pytest.raises(ConfigError) as raised:
        resolve_exports("Sales Report")
    assert "did you mean" not in str(raised.value) and "uniware-pipeline exports" in str(raised.value)


def test_an_export_without_date_filter_or_key_is_a_snapshot_unless_its_filters_pick_a_slice() -> None:
    """Without a date_filter, a primary_key and static filters every job exports the whole report: a
    snapshot (replace). Static filters may pick another slice each run (`YESTERDAY`): the rows stay kept
    by job code, as before."""
    whole = resolve_export({"name": "Tally GST Report", "date_filter": ""}, 0)
    assert whole.write_disposition == "replace" and not whole.merges_on_job_code
    yesterday = [{"id": "addedOn", "dateRange": {"textRange": "YESTERDAY"}}]
    sliced = resolve_export({"name": "Tally GST Report", "date_filter": "", "filters": yesterday}, 0)
    assert sliced.merges_on_job_code and sliced.write_disposition == "append"


@pytest.mark.parametrize(("path", "misplaced"), [
    (["source", "uniware"], True), (["uniware"], True), (["Sources", "Uniware"], True),
    (["sources", "unicommerce"], True), (["uniware_pipeline", "source", "uniware"], True),
    # tables dlt reads, for this pipeline or another (a second tenant's own --pipeline-name)
    ([], False), (["sources"], False), (["sources", "uniware"], False), (["sources", "uniware", "uniware"], False),
    (["globex_pipeline", "sources", "uniware"], False), (["uniware_pipeline"], False),
    # another pipeline's own table, another source's, a destination's, the tenants
    (["uniware_dev"], False), (["sources", "sql_database"], False), (["destination", "postgres", "credentials"], False),
    (["tenants", "uniware_dev"], False), (["resources"], False),
])
def test_a_table_is_taken_for_a_misspelt_source_table_only_in_the_shapes_of_that_mistake(
        path: list[str], misplaced: bool) -> None:
    from uniware_source.setting_places import _misplaced, _read_here
    assert (not _read_here(path, "uniware_pipeline") and _misplaced(path, "uniware_pipeline")) is misplaced


@pytest.mark.parametrize(("name", "misplaced"), [
    ("SOURCE__UNIWARE__PASSWORD", True), ("SOURCES_UNIWARE_PASSWORD", True), ("UNIWARE__PASSWORD", True),
    ("SOURCES__UNICOMMERCE__PASSWORD", True), ("SOURCES__UNIWARE_PASSWORD", True),
    # a deployment's own variables, the tenants', the pipeline's own scope, dlt's right name
    ("UNIWARE_PASSWORD", False), ("TENANTS__UNIWARE__PASSWORD", False), ("UNIWARE_PIPELINE__PASSWORD", False),
    ("SOURCES__UNIWARE__PASSWORD", False), ("UNIWARE_DAGSTER__BACKFILL_FROM", False),
])
def test_an_environment_variable_is_taken_for_a_misspelt_one_only_in_dlts_shapes(
        name: str, misplaced: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from uniware_source.setting_places import _misplaced_env
    for other in [k for k in os.environ if "UNIWARE" in k.upper() or "UNICOMMERCE" in k.upper()]:
        monkeypatch.delenv(other)
    monkeypatch.setenv(name, "x")
    assert bool(_misplaced_env({"password"}, "uniware_pipeline")) is misplaced


@pytest.mark.parametrize("said, meant", [("false", False), (" No ", False), ("0", False), (0, False), (False, False),
                                         ("true", True), ("yes", True), (1, True), (True, True)])
def test_an_exports_yes_or_no_settings_read_texts_as_they_say(said: object, meant: bool) -> None:
    """`facility_scoped = "false"` from the environment's JSON was read as true (a non-empty text), so
    Item Master still ran one job per facility and failed them as one file served twice."""
    [spec] = resolve_exports([{"name": "Item Master", "facility_scoped": said, "repeating_keys": said}])
    assert (spec.facility_scoped, spec.repeating_keys) == (meant, meant)


@pytest.mark.parametrize("said", ["maybe", "", 2, [], None])
def test_an_exports_yes_or_no_setting_that_says_neither_is_a_setting_error(said: object) -> None:
    with pytest.raises(ConfigError, match=r"facility_scoped must be true or false"):
        resolve_exports([{"name": "Item Master", "facility_scoped": said}])


@pytest.mark.parametrize(("entry", "per_facility"), [
    ("Invoice", True), ("Return Invoices", True), ("Sale Orders", False), ("Reverse Pickup", False),
    ({"name": "Invoice", "codes_per_facility": "false"}, False),
    # a tenant's copy of Sale Orders keys on the tenant's order codes; another report's codes are taken as a facility's
    ({"name": "B2B Sale Orders", "columns": ["soicode"], "date_filter": "updatedOn",
      "primary_key": ["Sale Order Code", "sale order item code"]}, False),
    ({"name": "Tenant Invoices", "columns": ["invoiceCode"], "date_filter": "addedOn", "primary_key": ["Invoice Code"]},
     True),
    ({"name": "Tenant Invoices", "columns": ["invoiceCode"], "date_filter": "addedOn", "primary_key": ["Invoice Code"],
      "codes_per_facility": False}, False),
])
def test_whether_the_facility_joins_a_key_follows_whose_codes_they_are(entry: Any, per_facility: bool) -> None:
    """Each facility numbers its invoices (two may both give INV/0001): the facility joins such a key; the
    tenant's order and item codes never repeat across facilities, and an item may move between them."""
    [spec] = resolve_exports([entry])
    assert (spec.codes_per_facility, spec.facility_in_key) == (per_facility, per_facility)


def test_label_readings_name_a_label_of_the_report_and_its_other_labels() -> None:
    """`label_readings`: a tenant's file labels a column otherwise (Inventory as Quantity); the label is matched
    as `column_types` labels are, the readings join the catalog's and are read so even where loaded before."""
    spec = resolve_export({"name": "Inventory Snapshot", "label_readings": {"inventory": ["Quantity"]}}, 0)
    assert spec.label_readings["Inventory"] == ("Quantity",)
    assert spec.configured_readings == frozenset({"quantity"})
    assert spec.label_readings["Stock In Transfer"] == ("Pending Stock Transfer",)  # the catalog's kept
    one = resolve_export({"name": "Sale Orders", "label_readings": '{"Selling Price": "Item Price"}'}, 0)
    assert one.label_readings["Selling Price"] == ("Item Price",)
    custom = resolve_export({"name": "B2B", "columns": ["a"], "label_readings": {"Amount": ["Amt"]}}, 0)
    assert custom.label_readings == {"Amount": ("Amt",)}  # a report outside the catalog: taken as given
    for given, said in (({"Inventroy": ["Quantity"]}, "names 'Inventroy', which is no label of the report's file; "
                                                      "did you mean 'Inventory'?"),
                        ({"Inventory": []}, "label_readings['Inventory'] must be a list of non-empty header labels"),
                        ({"Inventory": ["INVENTORY"]}, "gives the label itself"),
                        ({"Inventory": ["Qty", "Quantity"], "Open Sale": ["quantity"]},
                         "gives 'quantity' to both 'Inventory' and 'Open Sale'"),
                        ({"inventory": ["Qty"], "OPEN SALE": ["qty "]}, "gives 'qty' to both 'Inventory' and "
                                                                          "'Open Sale'"),
                        (["Quantity"], "label_readings must map a header label")):
        with pytest.raises(ConfigError, match=re.escape(said)):
            resolve_export({"name": "Inventory Snapshot", "label_readings": given}, 0)


def test_label_readings_take_the_reports_spelling_of_a_label_and_a_readings_label() -> None:
    """A report some of whose ids' labels are unknown (Courier Returns) still spells a known label as the report
    does (`sale order no` put the key's values in a new column, and dlt refused the package for a NULL key: red
    team helper 123); another reading of a label (Return Invoices' `Qty`) stands for its label (`Quantity`)."""
    courier = resolve_export({"name": "Courier Returns", "label_readings": {"sale order no": ["Order No"]}}, 0)
    assert courier.label_readings["Sale Order No"] == ("Order No",)
    returns = resolve_export({"name": "Return Invoices", "label_readings": {"Qty": ["Units"]}}, 0)
    assert "Units" in returns.label_readings["Quantity"] and "Qty" not in returns.label_readings


@pytest.mark.parametrize("entry, said", [
    ({"name": "Inventory Snapshot", "label_readings": {"Inventory": ["Open Sale"]}}, "'Open Sale', which is a label "
     "of the report"),
    ({"name": "Courier Returns", "label_readings": {"Sale Order No": ["AWB No"]}}, "'AWB No', which is a label"),
    ({"name": "Reverse Pickup", "label_readings": {"Total Received Items": ["Received Items"]},
      "column_types": {"Received Items": "integer"}}, "'Received Items', which is named by another setting"),
])
def test_a_reading_that_is_another_columns_label_is_a_setting_error(entry: dict[str, Any], said: str) -> None:
    """A reading that another column of the report has, or another setting names, would take that column's
    values or lose its own (red team helper 124: `{"Inventory" = ["Open Sale"]}` emptied inventory)."""
    with pytest.raises(ConfigError, match=re.escape(said)):
        resolve_export(entry, 0)
