"""A red-team newcomer's inputs (times in the future, a typo in column_types, a failed run's exit):
each a one-line error naming what the user gave, through the console script's `main` against the
simulator."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import dlt
import pytest

from tests.pipeline_process import FixedNow
from tests.simulator_fixtures import simulator_settings_in_env
from uniware_simulator import UniwareSimulator
from uniware_simulator.presets import TEST_NOW
from uniware_source.cli import main
from uniware_source.errors import ConfigError
from uniware_source.ledger import ExportLedger


@pytest.fixture
def env(sim: UniwareSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return simulator_settings_in_env(sim, tmp_path, monkeypatch)


@pytest.fixture
def cli(env: dict[str, str], tmp_path: Path) -> Any:
    def run(*args: str) -> int:
        return main(["--pipelines-dir", str(tmp_path / "pl"), "--pipeline-name", "rt", *args],
                    clock=FixedNow(TEST_NOW))
    return run


def creates(sim: UniwareSimulator) -> int:
    return len(sim.requests.where("create"))


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = [line for line in capsys.readouterr().err.strip().splitlines() if line.strip()]
    assert len(err) == 1, err
    return err[0]


def test_a_start_date_in_the_future_is_a_setting_error(cli: Any, sim: UniwareSimulator, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SOURCES__UNIWARE__START_DATE", (TEST_NOW + timedelta(days=200)).date().isoformat())
    assert cli("--facility", "BLR01") == 2
    line = one_line(capsys)
    assert "start_date" in line and "SOURCES__UNIWARE__START_DATE" in line and "future" in line, line
    assert creates(sim) == 0
    assert "uniware" not in dlt.attach("rt", pipelines_dir=str(tmp_path / "pl")).state.get("sources", {})  # no cursor
    monkeypatch.setenv("SOURCES__UNIWARE__START_DATE", (TEST_NOW - timedelta(days=3)).date().isoformat())
    assert cli("--facility", "BLR01") == 0  # fixed: the first run starts there, no reset needed
    assert creates(sim) == 1


def test_planning_never_stores_a_cursor_after_now() -> None:
    """Whatever first_start a caller gives (a clock that went back since start_date was checked)."""
    ledger = ExportLedger({})
    assert ledger.plan_incremental("BLR01", now=TEST_NOW, first_start=TEST_NOW + timedelta(days=30),
                                   lookback=timedelta(days=2), window=timedelta(days=30)) == []
    cursor = ledger.cursor("BLR01")
    assert cursor is not None and cursor <= TEST_NOW


@pytest.mark.parametrize(("args", "named", "not_named"), [
    (("--start", "2027-01-01"), "--start", "--end"),  # the start is after now: the end (now) is not to blame
    (("--start", "2026-04-01", "--end", "2027-03-01"), "--end", "--start"),  # windows wholly in the future
])
def test_a_backfill_reaching_into_the_future_names_the_flag_given(
        cli: Any, sim: UniwareSimulator, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], named: str,
        not_named: str) -> None:
    assert cli("--facility", "BLR01", *args) == 2
    line = one_line(capsys)
    assert named in line and not_named not in line and "now is 2026-04-16" in line, line
    assert creates(sim) == 0


def test_a_column_types_label_matching_no_column_is_refused_up_front(
        cli: Any, sim: UniwareSimulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SOURCES__UNIWARE__EXPORTS",
                       json.dumps([{"name": "Sale Orders", "column_types": {"Seling Price": "decimal"}}]))
    assert cli("--facility", "BLR01") == 2
    line = one_line(capsys)
    assert "SOURCES__UNIWARE__EXPORTS" in line and "column_types" in line and "'Seling Price'" in line, line
    assert "Sale Orders" in line and "did you mean 'Selling Price'" in line, line
    assert creates(sim) == 0


def test_column_types_takes_snake_case_names_like_primary_key(
        cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCES__UNIWARE__EXPORTS",
                       json.dumps([{"name": "Sale Orders", "column_types": {"selling_price": "integer",
                                                                              "total_price": "integer"}}]))
    monkeypatch.setenv("SOURCES__UNIWARE__ON_BAD_ROWS", "skip")
    assert cli("--facility", "BLR01") == 0
    columns = dlt.attach("rt", pipelines_dir=str(tmp_path / "pl")).default_schema.tables["sale_orders"]["columns"]
    assert columns["selling_price"]["data_type"] == "bigint", columns["selling_price"]


def test_primary_key_takes_snake_case_names_as_the_readme_says(
        cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCES__UNIWARE__EXPORTS", json.dumps([{
        "name": "Sale Orders", "table_name": "orders_by_name",
        "primary_key": ["SALE_ORDER_CODE", "sale_order_item_code"]}]))
    assert cli("--facility", "BLR01") == 0
    table = dlt.attach("rt", pipelines_dir=str(tmp_path / "pl")).default_schema.tables["orders_by_name"]
    assert {name for name, column in table["columns"].items() if column.get("primary_key")} == {
        "sale_order_code", "sale_order_item_code"}


def test_a_column_types_label_not_in_the_file_fails_the_job_when_labels_are_not_all_known(
        cli: Any, sim: UniwareSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Courier Returns' labels are only guessed: the label is checked against the file's header."""
    monkeypatch.setenv("SOURCES__UNIWARE__EXPORTS",
                       json.dumps([{"name": "Courier Returns", "column_types": {"Shiping Package Code": "text"}}]))
    assert cli("--facility", "BLR01") == 1
    err = capsys.readouterr().err
    assert "setting 'exports'" in err and "'Shiping Package Code'" in err and "did you mean" in err, err
    pipeline = dlt.attach("rt", pipelines_dir=str(tmp_path / "pl"))
    assert "courier_returns" not in pipeline.default_schema.data_table_names()  # nothing loaded
    state = pipeline.state["sources"]["uniware"]["resources"]["courier_returns"]
    assert state["cursors"]["BLR01"] == (TEST_NOW - timedelta(days=30)).astimezone(UTC).isoformat()  # kept


RUN_WITHOUT_AUTOMATIC_GC = ("import gc, sys; gc.disable(); from uniware_source.cli import main; "
                            "sys.exit(main())")


def test_a_failed_run_ends_without_nanobind_leak_lines(env: dict[str, str], sim: UniwareSimulator,
                                                        tmp_path: Path) -> None:
    """dlt's configuration lookups leave reference cycles whose frames hold the run's DuckDB
    connection; left to interpreter exit, DuckDB's binding printed ~40 "nanobind: leaked" lines after
    the one-line summary whenever the cyclic collector had not run. With automatic collection off,
    that is every time, so the test is not up to timing."""
    exports = json.dumps([{"name": "Sale Orders", "column_types": {"On Hold ": "integer"}}])
    for attempt in range(2):
        done = subprocess.run(
            [sys.executable, "-c", RUN_WITHOUT_AUTOMATIC_GC, "--pipelines-dir", str(tmp_path / "pl"),
             "--pipeline-name", "leak", "--facility", "BLR01", "--start", "2026-04-10", "--end", "2026-04-15"],
            env={**os.environ, **env, "SOURCES__UNIWARE__EXPORTS": exports}, capture_output=True, text=True,
            timeout=300, cwd=tmp_path)
        assert done.returncode == 1, done.stderr
        assert "not a valid integer" in done.stderr
        assert "nanobind" not in done.stderr, (attempt, done.stderr[-2000:])


def test_columns_that_leave_out_a_key_column_are_refused_before_any_job(
        cli: Any, sim: UniwareSimulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A `columns` list written for the old Return Invoices key (without returnInvoiceCode): every job
    would fail on its file after being made; said up front, naming the column id to add."""
    from uniware_source.catalog import CATALOG

    old_columns = [c for c in CATALOG["Return Invoices"].columns if c != "returnInvoiceCode"]
    monkeypatch.setenv("SOURCES__UNIWARE__EXPORTS", json.dumps([{"name": "Return Invoices", "columns": old_columns}]))
    assert cli("--facility", "BLR01") == 2
    err = one_line(capsys)
    assert "'Return Invoice Code' (column id returnInvoiceCode)" in err and creates(sim) == 0


def test_options_may_come_before_the_command_and_plan_previews_a_backfill(
        cli: Any, sim: UniwareSimulator, capsys: pytest.CaptureFixture[str]) -> None:
    """`--pipeline-name x plan` as `plan --pipeline-name x` (the fixture puts its options first); `plan
    --start/--end` lists the backfill's windows and creates nothing."""
    assert cli("plan", "--export", "Sale Orders", "--facility", "BLR01", "--start", "2026-04-01",
               "--end", "2026-04-10") == 0
    out = capsys.readouterr().out
    assert "window 2026-04-01" in out and "create a job" in out and creates(sim) == 0
    assert cli("--facility", "status", "facilities") == 0  # "status" is --facility's value, "facilities" the command
    assert "BLR01" in capsys.readouterr().out


def test_two_spellings_of_one_column_with_two_types_are_a_setting_error(
        cli: Any, sim: UniwareSimulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SOURCES__UNIWARE__EXPORTS", json.dumps([{
        "name": "Sale Orders", "column_types": {"selling_price": "decimal", "Selling Price": "rate"}}]))
    assert cli("--facility", "BLR01") == 2
    err = one_line(capsys)
    assert "names column 'Selling Price' twice" in err and "(decimal)" in err and "(rate)" in err
    assert creates(sim) == 0


@pytest.mark.parametrize(("entry", "named"), [
    ({"name": "Sale Orders", "exclude_columns": ["updated"], "date_filter": "addedOn"},
     "dedup_sort 'Updated' (column id updated)"),
    ({"name": "Purchase Orders", "columns": ["purchaseOrderCode", "itemtypeSku", "created", "quantity"]},
     "dedup_sort 'Updated' (column id updated)"),
    ({"name": "Sale Orders", "exclude_columns": ["created"], "date_filter": "addedOn"},
     "the window check reads 'Created' (column id created)"),
    ({"name": "Invoice", "exclude_columns": ["invoiceDate"]}, "the window check reads 'Invoice Created Date'"),
    # Reverse Pickup requests columns whose labels are guessed: its key's known ids are still checked
    ({"name": "Reverse Pickup", "exclude_columns": ["saleOrderItemCode"]},
     "its key needs 'Sale Order Item Code' (column id saleOrderItemCode)"),
    ({"name": "Invoices", "exclude_columns": ["invoiceDate"]}, "not in the built-in catalog, which `uniware-pipeline "
     "exports` lists; did you mean 'Invoice'?"),
])
def test_columns_that_leave_out_the_newest_wins_or_window_column_are_refused_before_any_job(
        cli: Any, sim: UniwareSimulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        entry: dict[str, Any], named: str) -> None:
    """Without its `dedup_sort` column a repeated key keeps any one of its rows (dlt only warns that
    the hint is ignored), not the newest; without its window column the window check is off."""
    monkeypatch.setenv("SOURCES__UNIWARE__EXPORTS", json.dumps([entry]))
    assert cli("--facility", "BLR01") == 2
    err = one_line(capsys)
    assert named in err and "SOURCES__UNIWARE__EXPORTS" in err and creates(sim) == 0, err


def test_turning_off_the_newest_wins_and_window_columns_lets_the_export_run(
        cli: Any, sim: UniwareSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCES__UNIWARE__EXPORTS", json.dumps([{
        "name": "Sale Orders", "exclude_columns": ["updated"], "dedup_sort": "", "window_column": ""}]))
    assert cli("--facility", "BLR01") == 0
    table = dlt.attach("rt", pipelines_dir=str(tmp_path / "pl")).default_schema.tables["sale_orders"]
    assert "updated" not in table["columns"] and creates(sim) == 1


def test_a_newest_wins_column_missing_from_the_file_fails_the_job_naming_it(
        cli: Any, sim: UniwareSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Courier Returns' labels are only guessed, so the check waits for the file: a `dedup_sort` its
    header lacks fails the job when a key repeats (nothing loads, the cursor stays) instead of keeping
    any one row."""
    def repeated_first_row(text: str) -> str:
        lines = text.split("\n")
        return "\n".join([lines[0], lines[1], *lines[1:]])

    sim.jobs.edit_file = lambda job, text: repeated_first_row(text)
    monkeypatch.setenv("SOURCES__UNIWARE__EXPORTS", json.dumps([{
        "name": "Courier Returns", "repeating_keys": False, "dedup_sort": "Last Updated",
        "column_types": {"Last Updated": "timestamp"}}]))
    assert cli("--facility", "BLR01") == 1
    err = capsys.readouterr().err
    # a dedup_sort must be typed, so its type names the missing column first
    assert ("column_types of export 'Courier Returns' names 'Last Updated', which is not a column of the file"
            in err), err
    pipeline = dlt.attach("rt", pipelines_dir=str(tmp_path / "pl"))
    assert "courier_returns" not in pipeline.default_schema.data_table_names()


@pytest.mark.parametrize(("name", "value", "said"), [
    ("JOB_EXPIRY_HOURS", "1e300", "setting 'job_expiry_hours' (SOURCES__UNIWARE__JOB_EXPIRY_HOURS): must be at most"),
    ("MIN_WINDOW_MINUTES", "1e15", "setting 'min_window_minutes'"),
    ("LOOKBACK_DAYS", "inf", "setting 'lookback_days' (SOURCES__UNIWARE__LOOKBACK_DAYS): expected a finite number"),
    ("LOOKBACK_DAYS", "40000", "must be at most 36500"),
    ("EXPORTS", json.dumps([{"name": "Sale Orders", "lookback_days": -1}]),
     "exports[0] ('Sale Orders'): lookback_days: must be zero or more, got -1"),
    ("EXPORTS", json.dumps([{"name": "Sale Orders", "lookback_days": 1e12}]),
     "exports[0] ('Sale Orders'): lookback_days: must be at most 36500"),
    ("EXPORTS", json.dumps([{"name": "Sale Orders", "lookback_days": True}]),
     "exports[0] ('Sale Orders'): lookback_days: expected a number, got True"),
])
def test_a_number_setting_out_of_range_is_a_setting_error_naming_it(
        cli: Any, sim: UniwareSimulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        name: str, value: str, said: str) -> None:
    """Not an OverflowError of the calendar (exit 3) nor a NaN that no comparison refuses."""
    monkeypatch.setenv(f"SOURCES__UNIWARE__{name}", value)
    assert cli("--facility", "BLR01") == 2
    err = one_line(capsys)
    assert said in err and creates(sim) == 0, err


def test_replace_with_a_date_filter_is_a_setting_error(
        cli: Any, sim: UniwareSimulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Each window's file would replace all the facility's rows: the second run deleted the first's."""
    monkeypatch.setenv("SOURCES__UNIWARE__EXPORTS", json.dumps([{"name": "Sale Orders",
                                                                  "write_disposition": "replace"}]))
    assert cli("--facility", "BLR01") == 2
    err = one_line(capsys)
    assert "write_disposition 'replace'" in err and "date_filter 'updatedOn'" in err and creates(sim) == 0, err


def test_a_primary_key_given_to_a_report_without_one_merges_on_it(
        cli: Any, sim: UniwareSimulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Tally GST has no known key ("configure a primary_key to merge"): given one, it merges on it;
    an explicit 'append' beside a key is a contradiction, said."""
    from uniware_source.settings import resolve_export

    keyed = resolve_export({"name": "Tally GST Report", "primary_key": ["Invoice number", "Product SKU Code"]}, 0)
    assert keyed.write_disposition == "merge" and not keyed.merges_on_job_code
    assert keyed.lookback is None  # the source's lookback_days, as for any export with a key
    monkeypatch.setenv("SOURCES__UNIWARE__EXPORTS", json.dumps([{
        "name": "Tally GST Report", "write_disposition": "append", "primary_key": ["Invoice number"]}]))
    assert cli("--facility", "BLR01") == 2
    err = one_line(capsys)
    assert "'append' ignores primary_key" in err and "write_disposition = 'merge'" in err and creates(sim) == 0


def test_export_picks_a_catalog_report_by_table_name_or_any_case(
        cli: Any, sim: UniwareSimulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("plan", "--export", "invoices,sale orders", "--facility", "BLR01") == 0
    out = capsys.readouterr().out
    assert "Invoice" in out and "Sale Orders" in out and creates(sim) == 0


def test_a_label_the_field_never_showed_is_checked_against_the_file_not_refused_up_front(
        cli: Any, sim: UniwareSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reverse Pickup's putawayLastUpdated has no label in any source: "Putaway Updated" may be the
    tenant's, so jobs are made and the file decides."""
    monkeypatch.setenv("SOURCES__UNIWARE__EXPORTS", json.dumps([{
        "name": "Reverse Pickup", "column_types": {"Putaway Status": "text"}}]))
    assert cli("--facility", "BLR01") == 0 and creates(sim) == 1
    monkeypatch.setenv("SOURCES__UNIWARE__EXPORTS", json.dumps([{
        "name": "Reverse Pickup", "column_types": {"Putaway Updated": "timestamp"}}]))
    assert cli("--facility", "BLR01") == 1 and creates(sim) == 2  # the job made, its file refused


def test_a_setting_name_with_a_typo_in_the_environment_is_refused_naming_it(
        cli: Any, sim: UniwareSimulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """SOURCES__UNIWARE__FACILITY (for FACILITIES) was ignored: every facility was exported, exit 0."""
    monkeypatch.setenv("SOURCES__UNIWARE__FACILITY", "DEL02")
    assert cli() == 2
    err = one_line(capsys)
    assert "'facility'" in err and "environment variable SOURCES__UNIWARE__FACILITY" in err, err
    assert "did you mean 'facilities'?" in err and creates(sim) == 0


@pytest.mark.parametrize(("toml", "named"), [
    ('[sources.uniware]\nfacilites = ["DEL02"]\n', "'facilites'"),
    ('[sources.uniware]\nstart_dt = "2026-01-01"\n', "'start_dt'"),
    ('[[sources.uniware.export]]\nname = "Inventory Snapshot"\n', "did you mean 'exports'?"),
])
def test_a_setting_name_with_a_typo_in_config_toml_is_refused_naming_it(
        env: dict[str, str], sim: UniwareSimulator, tmp_path: Path, toml: str, named: str) -> None:
    (tmp_path / ".dlt").mkdir(exist_ok=True)
    (tmp_path / ".dlt" / "config.toml").write_text(toml)
    done = subprocess.run(
        [sys.executable, "-m", "uniware_source.cli", "--pipelines-dir", str(tmp_path / "pl")],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert named in done.stderr and "config.toml [sources.uniware]" in done.stderr, done.stderr
    assert creates(sim) == 0


def run_cli_in(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The console script in a fresh process whose working directory (and so .dlt/) is `tmp_path`."""
    return subprocess.run(
        [sys.executable, "-m", "uniware_source.cli", "--pipelines-dir", str(tmp_path / "pl"), *args],
        env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)


@pytest.mark.parametrize(("file", "toml", "named"), [
    ("config.toml", '[source.uniware]\nexports = ["Inventory Snapshot"]\n', "config.toml [source.uniware]"),
    ("config.toml", '[uniware]\nstart_date = "2026-01-01"\n', "config.toml [uniware]"),
    ("config.toml", '[sources.unicommerce]\nfacilities = ["DEL02"]\n', "config.toml [sources.unicommerce]"),
    ("config.toml", '[Sources.Uniware]\nwindow_days = 2\n', "config.toml [Sources.Uniware]"),
    ("secrets.toml", '[source.uniware]\npassword = "from-the-wrong-table"\n', "secrets.toml [source.uniware]"),
])
def test_a_setting_in_a_table_dlt_does_not_read_is_refused_naming_the_table(
        env: dict[str, str], sim: UniwareSimulator, tmp_path: Path, file: str, toml: str, named: str) -> None:
    """A newcomer's `[source.uniware]` or `[uniware]`: dlt ignored the table without a word and the run
    went on with the defaults (Sale Orders of the last 30 days instead of the configured report), or
    asked for a password that was given. The password case leaves it only in the wrong table."""
    (tmp_path / ".dlt").mkdir(exist_ok=True)
    (tmp_path / ".dlt" / file).write_text(toml)
    given = {k: v for k, v in {**os.environ, **env}.items() if not (file == "secrets.toml" and k.endswith("PASSWORD"))}
    done = run_cli_in(tmp_path, given)
    assert done.returncode == 2, done.stderr
    assert named in done.stderr and "put it under [sources.uniware]" in done.stderr, done.stderr
    assert "from-the-wrong-table" not in done.stderr + done.stdout and creates(sim) == 0


@pytest.mark.parametrize("name", ["SOURCE__UNIWARE__START_DATE", "SOURCES_UNIWARE_START_DATE",
                                  "UNIWARE__START_DATE", "SOURCES__UNICOMMERCE__START_DATE"])
def test_a_setting_in_an_environment_variable_dlt_does_not_read_is_refused_naming_the_right_one(
        cli: Any, sim: UniwareSimulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        name: str) -> None:
    monkeypatch.setenv(name, "2026-01-01")
    assert cli() == 2
    err = one_line(capsys)
    assert f"environment variable {name}, which dlt does not read: name it SOURCES__UNIWARE__START_DATE" in err, err
    assert creates(sim) == 0


def test_a_copy_of_a_setting_beside_the_one_dlt_reads_and_the_pipelines_own_table_pass(
        env: dict[str, str], sim: UniwareSimulator, tmp_path: Path) -> None:
    """A deployment that keeps UNIWARE_PASSWORD and maps it to SOURCES__UNIWARE__PASSWORD is no mistake;
    `[<pipeline name>]` is a table dlt reads (here it picks the report, so the run shows it was read)."""
    (tmp_path / ".dlt").mkdir(exist_ok=True)
    (tmp_path / ".dlt" / "config.toml").write_text('[rt]\nexports = ["Inventory Snapshot"]\nfacilities = ["BLR01"]\n')
    done = run_cli_in(tmp_path, {**os.environ, **env, "UNIWARE_PASSWORD": env["SOURCES__UNIWARE__PASSWORD"]},
                      "--pipeline-name", "rt")
    assert done.returncode == 0, done.stderr
    assert [job.report.name for job in sim.jobs.all()] == ["Inventory Snapshot"], done.stdout


def test_a_key_that_repeats_without_a_newest_wins_column_fails_the_job_naming_the_ways_out(
        cli: Any, sim: UniwareSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A key too narrow for the report's grain (orders keyed per order, not per item) with nothing that
    tells the newest: dlt kept any one row per key, the other items lost with exit 0. Now the job fails;
    repeating_keys, one of the ways out it names, keeps every row."""
    narrow = {"name": "Sale Orders", "table_name": "orders_narrow", "primary_key": ["Sale Order Code"],
              "dedup_sort": ""}
    monkeypatch.setenv("SOURCES__UNIWARE__EXPORTS", json.dumps([narrow]))
    assert cli("--facility", "BLR01") == 1
    err = capsys.readouterr().err
    assert "repeat the key (Sale Order Code)" in err and "no dedup_sort tells which to keep" in err, err
    assert "set repeating_keys = true" in err
    pipeline = dlt.attach("rt", pipelines_dir=str(tmp_path / "pl"))
    assert "orders_narrow" not in pipeline.default_schema.data_table_names()
    monkeypatch.setenv("SOURCES__UNIWARE__EXPORTS", json.dumps([{**narrow, "repeating_keys": True}]))
    assert cli("--facility", "BLR01") == 0
    [job] = [j for j in sim.jobs.all() if j.file is not None][-1:]
    with dlt.attach("rt", pipelines_dir=str(tmp_path / "pl")).sql_client() as client:
        counted = client.execute_sql("SELECT COUNT(*) FROM orders_narrow")
    assert counted and job.file is not None and counted[0][0] == job.file.rows


def test_a_type_for_a_column_the_export_does_not_request_names_the_id_to_add(
        cli: Any, sim: UniwareSimulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """"Cost Price" is a Sale Orders label whose id (costPrice) the catalog's columns leave out: the job
    said "did you mean 'Total Price'?"; it now names the column id to add."""
    monkeypatch.setenv("SOURCES__UNIWARE__EXPORTS", json.dumps([{"name": "Sale Orders",
                                                                  "column_types": {"Cost Price": "decimal"}}]))
    assert cli("--facility", "BLR01") == 1
    err = capsys.readouterr().err
    assert "the label of the report's column id costPrice, which this export does not request" in err, err
    assert "add 'costPrice' to its 'columns'" in err and "did you mean" not in err


def test_dlt_sections_under_the_source_are_not_taken_for_typos(
        cli: Any, sim: UniwareSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """dlt reads its own sections under sources.uniware (data_writer, extract, schema): they pass."""
    monkeypatch.setenv("SOURCES__UNIWARE__DATA_WRITER__BUFFER_MAX_ITEMS", "5000")
    monkeypatch.setenv("SOURCES__UNIWARE__EXTRACT__WORKERS", "2")
    assert cli("--facility", "BLR01") == 0 and creates(sim) == 1


@pytest.mark.parametrize("path", ["file import", "arrow"])
def test_a_snapshot_keyed_without_the_facility_keeps_each_facilitys_rows(
        cli: Any, sim: UniwareSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    """Inventory Snapshot keyed on the SKU alone: BLR01's and DEL02's files of one run share SKUs. dlt's
    merge once kept one row per SKU (315 rows reported, 213 in the table, exit 0); then the second file's
    job failed. Now the facility the job ran under is part of the key: both facilities' rows land whole.
    Also where the destination takes Arrow batches (no load file of its own format)."""
    if path == "arrow":
        monkeypatch.setattr("uniware_source.runtime.destination_load_format", lambda: None)
    monkeypatch.setenv("SOURCES__UNIWARE__EXPORTS", json.dumps([{"name": "Inventory Snapshot",
                                                                  "primary_key": ["Item SkuCode"]}]))
    assert cli("--facility", "BLR01,DEL02") == 0
    served = {j.facility: j.file.rows for j in sim.jobs.all() if j.file is not None}
    with dlt.attach("rt", pipelines_dir=str(tmp_path / "pl")).sql_client() as client:
        counted = client.execute_sql("SELECT _uniware_facility, COUNT(*) FROM inventory_snapshot GROUP BY 1")
    assert counted is not None and {facility: rows for facility, rows in counted} == served and len(served) == 2


@pytest.mark.parametrize("path", ["file import", "arrow"])
def test_a_key_shared_by_two_facilities_files_without_a_newest_wins_column_fails_one_job(
        cli: Any, sim: UniwareSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], path: str) -> None:
    """Return Invoices (no dedup_sort) keyed without the facility (`codes_per_facility = false`: the codes
    said to be the tenant's): BLR01's and DEL02's files of one run share a key (each unique in its file), and
    dlt's merge would keep either row (once: 315 rows reported, 213 in the table, exit 0). The second file's
    job fails, naming the ways out; the first facility's rows land whole. Also where the destination takes
    Arrow batches (no load file of its own format). (With the facility in the key, the catalog's default,
    both files are two facilities' records and land: tests/test_facility_numbering.py.)"""
    if path == "arrow":
        monkeypatch.setattr("uniware_source.runtime.destination_load_format", lambda: None)

    def one_key_in_both(job: Any, text: str) -> str:  # each file's first row gets the same key
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
        for label, value in (("Invoice Code", "INV-SHARED"), ("Return Invoice Code", "RI-SHARED"),
                             ("Item SKU Code", "SKU-SHARED")):
            rows[1][rows[0].index(label)] = value
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        return out.getvalue()

    sim.jobs.edit_file = one_key_in_both
    monkeypatch.setenv("SOURCES__UNIWARE__EXPORTS", json.dumps([{"name": "Return Invoices",
                                                                  "codes_per_facility": False}]))
    assert cli("--facility", "BLR01,DEL02") == 1
    err = capsys.readouterr().err
    shared = "repeat keys (Invoice Code, Return Invoice Code, Item SKU Code) of another job's file of this run"
    assert shared in err, err
    served = [j for j in sim.jobs.all() if j.file is not None]
    with dlt.attach("rt", pipelines_dir=str(tmp_path / "pl")).sql_client() as client:
        counted = client.execute_sql("SELECT _uniware_facility, COUNT(*) FROM return_invoices GROUP BY 1")
    assert counted is not None and len(counted) == 1 and len(served) == 2
    [(facility, rows)] = counted
    with dlt.attach("rt", pipelines_dir=str(tmp_path / "pl")).sql_client() as client:
        loaded = client.execute_sql("SELECT rows_in_file FROM export_job_status WHERE status = 'LOADED'")
    assert loaded == [(rows,)] and rows > 100 and facility in ("BLR01", "DEL02")  # the file whose job loaded, whole


def test_export_by_table_name_keeps_the_configured_settings() -> None:
    """`--export sale_orders` fell through to the catalog's Sale Orders, dropping the configured
    date_filter and columns (45 columns on updatedOn instead of the 5 configured on addedOn)."""
    from uniware_source.settings import select_exports

    configured = [{"name": "Sale Orders", "date_filter": "addedOn", "columns": ["soicode", "saleOrderCode"]},
                  {"name": "Invoice", "table_name": "bills"}]
    assert select_exports(configured, ["sale_orders"]) == [configured[0]]
    # one export named twice, by table and by report name, runs once (it was "'Invoice' and 'Invoice' both load
    # into table 'bills'; give one a different table_name", red team helper 114)
    assert select_exports(configured, ["bills", "INVOICE"]) == [configured[1]]
    assert select_exports(configured, ["return_invoices"]) == ["Return Invoices"]
    assert select_exports(None, ["Sale Orders", "sale_orders", "sale orders"]) == ["Sale Orders"]


@pytest.mark.parametrize("command", [[], ["plan"], ["reset"]], ids=["run", "plan", "reset"])
def test_an_export_name_two_configured_exports_share_is_refused_naming_their_tables(
        cli: Any, sim: UniwareSimulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        command: list[str]) -> None:
    """Sale Orders configured twice (all channels, and AMAZON_IN in a table of its own): `--export "Sale
    Orders"` ran, planned or reset the first alone, saying nothing (red team 103). It is a setting error
    naming both tables; a table name picks one."""
    from uniware_source.settings import select_exports

    exports = [{"name": "Sale Orders"}, {"name": "Sale Orders", "table_name": "amazon_orders",
                                          "filters": [{"id": "channelFilter", "selectedValues": ["AMAZON_IN"]}]}]
    monkeypatch.setenv("SOURCES__UNIWARE__EXPORTS", json.dumps(exports))
    if command == ["reset"]:  # a pipeline to reset
        assert cli("--export", "sale_orders", "--facility", "BLR01") == 0
    made = creates(sim)
    assert cli(*command, "--export", "Sale Orders", "--facility", "BLR01") == 2
    err = capsys.readouterr().err
    assert "names 2 configured exports of that report, loaded into tables 'sale_orders', 'amazon_orders'" in err, err
    assert creates(sim) == made
    assert select_exports(exports, ["amazon_orders"]) == [exports[1]]
    assert select_exports(exports, ["SALE_ORDERS"]) == [exports[0]]


def test_dedup_sort_and_window_column_take_snake_case_names_like_primary_key() -> None:
    from uniware_source.settings import resolve_export

    spec = resolve_export({"name": "Reverse Pickup", "dedup_sort": "reverse_pickup_last_updated",
                           "window_column": "reverse_pickup_created"}, 0)
    assert (spec.dedup_sort, spec.window_column) == ("Reverse Pickup Last Updated", "Reverse Pickup Created")
    assert resolve_export({"name": "Purchase Orders", "dedup_sort": "po_approved_date"}, 0).dedup_sort == \
        "PO Approved Date"


def test_plan_takes_facility_codes_separated_by_commas_like_a_run(
        cli: Any, sim: UniwareSimulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("plan", "--export", "Sale Orders", "--facility", "BLR01, DEL02") == 0
    out = capsys.readouterr().out
    assert "facility BLR01" in out and "facility DEL02" in out and creates(sim) == 0, out


def test_a_setting_in_a_lower_case_environment_variable_is_refused(
        cli: Any, sim: UniwareSimulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """dlt reads SOURCES__UNIWARE__FACILITIES, not sources__uniware__facilities: every facility ran."""
    monkeypatch.setenv("sources__uniware__facilities", "DEL02")
    assert cli() == 2
    err = one_line(capsys)
    assert "environment variable sources__uniware__facilities" in err and "SOURCES__UNIWARE__FACILITIES" in err, err
    assert creates(sim) == 0


@pytest.mark.parametrize("command", [["reset", "--export", "Sale Orders"], ["plan"], []])
def test_a_facility_flag_without_a_code_is_a_setting_error_not_every_facility(
        cli: Any, sim: UniwareSimulator, capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    """`reset --facility ""` cleared every facility's cursor (and with --delete-rows every row)."""
    assert cli(*command, "--facility", ",") == 2
    err = capsys.readouterr().err
    assert "--facility was given without a code" in err and creates(sim) == 0, err


@pytest.mark.parametrize("url, lacking", [("postgresql://loader@127.0.0.1:5432/test", "password"),
                                          ("postgresql://loader:pw-x@127.0.0.1:5432", "database")])
def test_a_connection_string_without_a_part_names_the_part_not_the_whole(
        cli: Any, sim: UniwareSimulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        url: str, lacking: str) -> None:
    """A PostgreSQL URL without its password (trust auth and .pgpass make that common) or database was
    said to be missing, though the user had set it (red team helper 79, F4): the part is named, with its
    own variable; no job is made."""
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", url)
    assert cli("--destination", "postgres", "--dataset", "rt_parts") == 2
    line = one_line(capsys)
    assert f"was read, but without its '{lacking}'" in line, line
    assert f"DESTINATION__POSTGRES__CREDENTIALS__{lacking.upper()}" in line and "pw-x" not in line
    assert creates(sim) == 0


@pytest.mark.parametrize("export, words", [
    pytest.param({"name": "Sale Orders", "date_filter": "updatedon"}, "did you mean 'updatedOn'?", id="date-filter"),
    pytest.param({"name": "Return Invoices", "date_filter": "ADDEDON"}, "did you mean 'addedOn'?", id="upper"),
    pytest.param({"name": "B2B Sale Orders", "columns": ["soicode", "updated"], "primary_key": ["Sale Order Item Code"],
                  "date_filter": "UpdatedOn"}, "did you mean 'updatedOn'?", id="outside-the-catalog"),
    pytest.param({"name": "Sale Orders", "filters": [{"id": "channelfilter", "selectedValues": ["AMAZON_IN"]}]},
                 "did you mean 'channelFilter'?", id="static-filter"),
    pytest.param({"name": "Sale Orders", "filters": [{"id": "channelFilter", "selectedValues": "AMAZON_IN"}]},
                 "selectedValues must be a list of texts or numbers, got 'AMAZON_IN' (e.g. selectedValues = "
                 "[\"AMAZON_IN\"])",
                 id="selected-values-a-text"),
    pytest.param({"name": "Sale Orders", "filters": [{"id": "channelFilter", "selectedValues": [["A"]]}]},
                 "selectedValues must be a list of texts or numbers", id="selected-values-lists"),
    pytest.param({"name": "Sale Orders", "date_filter": "updatedOn "}, "has blanks around it", id="blank-date-filter"),
    pytest.param({"name": "Sale Orders", "date_filter": "  "}, "is blank: name a filter id", id="blanks-only"),
    pytest.param({"name": "Sale Orders", "date_filter": "updated On"}, "did you mean 'updatedOn'?", id="blank-inside"),
    pytest.param({"name": "Sale Orders", "filters": [{"id": "", "text": "x"}]}, "is blank", id="empty-id"),
    pytest.param({"name": "Sale Orders", "filters": [{"id": " channelFilter", "selectedValues": ["AMAZON_IN"]}]},
                 "has blanks around it", id="blank-filter-id"),
    pytest.param({"name": "Sale Orders", "filters": [{"id": "channelFilter"}]}, "has no value: give one of",
                 id="no-value"),
    pytest.param({"name": "Sale Orders", "filters": [{"id": "channelFilter", "values": ["A"]}]},
                 "has unknown field(s) ['values']", id="unknown-field"),
    pytest.param({"name": "Item Master", "filters": [{"id": "enabledFilter", "checked": "yes"}]},
                 "checked must be a true or false, got 'yes'", id="checked-a-text"),
    pytest.param({"name": "Item Master", "filters": [{"id": "dateRange", "dateRange": {"from": 1}}]},
                 "dateRange must be a table of start/end or textRange", id="date-range-shape"),
])
def test_a_filter_uniware_would_ignore_or_refuse_is_a_setting_error_before_any_job(
        cli: Any, sim: UniwareSimulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        export: dict[str, Any], words: str) -> None:
    """A filter id in other capitals is one Uniware does not know: ignored, the whole report exported (a full
    dump on a real tenant, refused only after its download as out of window); a filter value of the wrong kind
    was refused only at the create, by Uniware's words. Both are said before any job, naming the export."""
    monkeypatch.setenv("SOURCES__UNIWARE__EXPORTS", json.dumps([export]))
    for command in (["plan"], []):
        assert cli("--facility", "BLR01", *command) == 2
        err = one_line(capsys)
        assert words in err and export["name"] in err and "SOURCES__UNIWARE__EXPORTS" in err, err
    assert creates(sim) == 0


@pytest.mark.parametrize("filters", [
    [{"id": "channelFilter", "selectedValues": ["AMAZON_IN", "FLIPKART"]}],
    [{"id": "channelFilter", "selectedValues": []}],  # Uniware's own verdict (100004), not the settings'
    [{"id": "customTenantFilter", "text": "x", "checked": True}],  # a tenant's own id: only Uniware knows it
    [{"id": "status", "selectedValue": "CREATED", "dateTime": 1774981800000}],
    [{"id": "categoryIds", "selectedValues": [12, 13]}],  # ids as numbers
    [{"id": "addedOn", "dateRange": {"textRange": "YESTERDAY"}}, {"id": "skuType", "dateRange": {"start": "2026-01-01",
                                                                                               "end": 1}}],
])
def test_filters_of_every_documented_shape_are_taken(filters: list[dict[str, Any]]) -> None:
    from uniware_source.settings import resolve_export

    assert list(resolve_export({"name": "Item Master", "filters": filters}, 0).filters) == filters


@pytest.mark.parametrize("name, meant", [
    ("Sale Orders Export", "Sale Orders"), ("Item Master Export", "Item Master"), ("GRN Export", "GRN"),
    ("Inventory Snapshot Export", "Inventory Snapshot"), ("tally gst", "Tally GST Report"),
    ("Shipping Packages", "Shipping Package"), ("Returns", "Return Invoices"),
])
def test_a_report_named_as_the_exports_page_shows_it_gets_the_catalogs_name(
        cli: Any, sim: UniwareSimulator, capsys: pytest.CaptureFixture[str], name: str, meant: str) -> None:
    """The Exports page adds " Export" to a report's name, and people shorten names: the newcomer was sent to
    give `columns` for a report outside the catalog, with no hint of the catalog's name."""
    assert cli("--facility", "BLR01", "--export", name, "plan") == 2
    err = one_line(capsys)
    assert f"did you mean '{meant}'?" in err and name in err, err
    assert creates(sim) == 0


@pytest.mark.parametrize("name", ["Sale Order All Facility", "Item Master Custom Copy"])
def test_a_tenants_own_copy_of_a_report_is_not_taken_for_the_catalogs(
        cli: Any, sim: UniwareSimulator, capsys: pytest.CaptureFixture[str], name: str) -> None:
    """Tenants make copies of reports under names that hold a catalog name's words (uniware-reports.md 10):
    such a name needs its columns, and is not one the user misspelt."""
    assert cli("--facility", "BLR01", "--export", name, "plan") == 2
    err = one_line(capsys)
    assert "needs 'columns'" in err and "did you mean" not in err, err


@pytest.mark.parametrize("name, copied", [("B2B Sale Orders", "Sale Orders"), ("Acme Sale Orders", "Sale Orders"),
                                          ("acme  invoice", "Invoice")])
def test_a_name_ending_in_a_catalog_name_is_said_to_be_a_copy_not_a_misspelling(
        cli: Any, sim: UniwareSimulator, capsys: pytest.CaptureFixture[str], name: str, copied: str) -> None:
    """"B2B Sale Orders" and "<tenant> Sale Orders" are reports of their own (uniware-reports.md 1): they were
    answered "did you mean 'Sale Orders'?", as if misspelt; now they are told what a copy needs."""
    assert cli("--facility", "BLR01", "--export", name, "plan") == 2
    err = one_line(capsys)
    assert "needs 'columns'" in err and "did you mean" not in err, err
    assert f"if it is the tenant's copy of '{copied}'" in err, err
    assert creates(sim) == 0


def test_a_misspelt_report_name_ending_in_another_is_a_misspelling_not_a_copy() -> None:
    """'Return Invoice' ends in 'Invoice' but is 'Return Invoices' misspelt: the spelling hint wins."""
    from uniware_source.catalog import did_you_mean_report

    assert did_you_mean_report("Return Invoice") == "; did you mean 'Return Invoices'?"
    assert "copy of 'Sale Orders'" in did_you_mean_report("B2B Sale Orders")


@pytest.mark.parametrize("report, column", [("Shipping Package", "TrackingNumber"), ("GRN", "VendorInvoiceNumber")])
def test_a_column_id_of_a_report_whose_ids_are_assumed_is_taken_in_any_capitals(report: str, column: str) -> None:
    """GRN's and Shipping Package's ids are the catalog's assumption (no source has shown them): a tenant's
    spelling in other capitals may be the right one, so it is sent, not refused."""
    from uniware_source.catalog import CATALOG
    from uniware_source.settings import resolve_export

    known = next(c for c in CATALOG[report].columns if c.casefold() == column.casefold())
    columns = [column if c == known else c for c in CATALOG[report].columns]
    assert column in resolve_export({"name": report, "columns": columns}, 0).columns


@pytest.mark.parametrize("with_file", [False, True])
def test_a_missing_password_names_the_secrets_file_dlt_reads_and_whether_it_is_there(
        cli: Any, sim: UniwareSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], with_file: bool) -> None:
    """dlt reads .dlt in the folder the command runs in: a newcomer who made .dlt/secrets.toml in the clone and
    ran from elsewhere was told to put the password in .dlt/secrets.toml, which they had done."""
    monkeypatch.delenv("SOURCES__UNIWARE__PASSWORD")
    if with_file:
        (tmp_path / ".dlt").mkdir()
        (tmp_path / ".dlt" / "secrets.toml").write_text('[sources.uniware]\nusername = "someone"\n')
    assert cli("--facility", "BLR01") == 2
    err = one_line(capsys)
    place = str((tmp_path / ".dlt" / "secrets.toml").resolve())
    assert "password" in err and place in err and ("not there" in err) is not with_file, err
    assert creates(sim) == 0


def test_a_filter_number_json_cannot_carry_is_refused() -> None:
    """NaN or infinity passed the shape check and failed only at the create, where requests refuses to send it."""
    from uniware_source.settings import resolve_export

    for number in (float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="selectedValues must be a list of texts or numbers"):
            resolve_export({"name": "Item Master", "filters": [{"id": "categoryIds", "selectedValues": [number]}]}, 0)


def test_a_refused_catalog_name_gets_no_report_that_only_shares_its_words() -> None:
    """Uniware refused the catalog's own 'Invoice': the tenant lacks it, 'Return Invoices' is no spelling of it;
    a shortened name Uniware refused still gets the catalog's full one."""
    from uniware_source.catalog import did_you_mean_report

    assert did_you_mean_report("Invoice", another=True) == ""
    assert did_you_mean_report("Tally GST", another=True) == "; did you mean 'Tally GST Report'?"


@pytest.mark.parametrize("export, words", [
    pytest.param({"name": "Sale Orders", "filters": [{"id": "channel", "selectedValues": ["AMAZON_IN"]}]},
                 "'channel' is a column id, not a filter id", id="column-id"),
    pytest.param({"name": "B2B Sale Orders", "columns": ["soicode", "updated"], "primary_key": ["Sale Order Item Code"],
                  "filters": [{"id": "channel", "selectedValues": ["AMAZON_IN"]}]}, "is a column id",
                 id="outside-the-catalog"),
    pytest.param({"name": "Sale Orders", "filters": [{"id": "chanelFilter", "selectedValues": ["AMAZON_IN"]}]},
                 "'chanelFilter' is not a filter id Uniware is known to take", id="near-miss"),
])
def test_a_column_id_or_a_near_miss_given_as_a_filter_id_is_a_setting_error(
        cli: Any, sim: UniwareSimulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        export: dict[str, Any], words: str) -> None:
    """`channel` (a column id) as a filter id: Uniware ignores an id it does not know, and every channel's rows
    loaded, exit 0. Said before any job, with the filter id meant."""
    monkeypatch.setenv("SOURCES__UNIWARE__EXPORTS", json.dumps([export]))
    for command in (["plan"], []):
        assert cli("--facility", "BLR01", *command) == 2
        err = one_line(capsys)
        assert words in err and "did you mean 'channelFilter'?" in err and "ignores" in err, err
        assert export["name"] in err and "SOURCES__UNIWARE__EXPORTS" in err, err
    assert creates(sim) == 0


@pytest.mark.parametrize("filter_id", ["dateUpdatedRange", "vendor", "soStatus", "facility"])
def test_a_filter_id_a_tenant_may_have_is_not_refused_as_a_typo(filter_id: str) -> None:
    """Near a known id but another word (`dateUpdatedRange` / `dateCreatedRange`), or a column id no known filter
    id is meant for: real tenants may take it, so it is sent (with the warning of an unknown id), not refused."""
    from uniware_source.settings import resolve_export

    spec = resolve_export({"name": "Sale Orders", "filters": [{"id": filter_id, "selectedValues": ["x"]}]}, 0)
    assert [f["id"] for f in spec.filters] == [filter_id]


def test_a_filter_id_no_report_is_known_to_take_is_sent_with_a_warning(
        cli: Any, sim: UniwareSimulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A tenant's own filter id is sent as given, but not silently: Uniware ignores an id it does not know."""
    from uniware_source.settings import warn_once

    warn_once.cache_clear()
    monkeypatch.setenv("SOURCES__UNIWARE__EXPORTS", json.dumps(
        [{"name": "Sale Orders", "filters": [{"id": "tenantRegionPick", "selectedValues": ["NORTH"]}]}]))
    assert cli("--facility", "BLR01", "plan") == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if "tenantRegionPick" in line]
    assert len(warned) == 1, warned
    assert "SOURCES__UNIWARE__EXPORTS" in warned[0] and "not a filter id Uniware is known to take" in warned[0]
    assert "every row of the window, unfiltered" in warned[0] and creates(sim) == 0
    warn_once.cache_clear()  # once per process: plan and the run are two processes in use
    cli("--facility", "BLR01")  # the simulator refuses the id (100003): what the run ends with is not the point
    warned = [line for line in capsys.readouterr().err.splitlines() if "tenantRegionPick" in line and "unfiltered"
              in line]
    assert len(warned) == 1, warned
    assert "tenantRegionPick" in [f["id"] for f in sim.requests.where("create")[0].body["exportFilters"]]


@pytest.mark.parametrize("label", ["Tracking Number", "Sale Order Status", "selling_price"])
def test_a_window_column_that_holds_no_dates_is_a_setting_error(
        cli: Any, sim: UniwareSimulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        label: str) -> None:
    """The window guard found no date in a text column and passed every file: an ignored date filter's whole
    history loaded, exit 0."""
    monkeypatch.setenv("SOURCES__UNIWARE__EXPORTS", json.dumps([{"name": "Sale Orders", "window_column": label}]))
    assert cli("--facility", "BLR01", "plan") == 2
    err = one_line(capsys)
    assert "window_column" in err and "Sale Orders" in err and "not a date" in err, err
    assert "'Updated'" in err and "'Created'" in err and creates(sim) == 0, err


def test_a_window_column_typed_as_a_date_by_the_configuration_is_taken() -> None:
    from uniware_source.settings import resolve_export

    spec = resolve_export({"name": "Sale Orders", "window_column": "Tracking Number",
                           "column_types": {"Tracking Number": "timestamp"}}, 0)
    assert spec.window_column == "Tracking Number"
    custom = {"name": "B2B Sale Orders", "columns": ["soicode", "updated"], "primary_key": ["Sale Order Item Code"],
              "date_filter": "updatedOn", "window_column": "Updated"}  # untyped, labels unknown: read as dates
    assert resolve_export(custom, 0).window_column == "Updated"
    with pytest.raises(ConfigError, match="window_column 'Updated' is a decimal column"):
        resolve_export({**custom, "column_types": {"Updated": "decimal"}}, 0)


@pytest.mark.parametrize("given, meant", [("trackingNumber", "TrackingNumber"), ("soiCode", "soicode"),
                                          ("DisplayOrderCode", "displayorderCode")])
def test_a_column_id_in_other_capitals_is_a_setting_error(
        cli: Any, sim: UniwareSimulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        given: str, meant: str) -> None:
    """Uniware matches ids exactly (some are oddly spelt): the job was refused with 100002, after plan passed."""
    monkeypatch.setenv("SOURCES__UNIWARE__EXPORTS", json.dumps(
        [{"name": "Sale Orders", "columns": ["soicode", "saleOrderCode", "updated", "created", given]}]))
    assert cli("--facility", "BLR01", "plan") == 2
    err = one_line(capsys)
    assert f"'{given}'" in err and f"did you mean '{meant}'?" in err and "columns" in err, err
    assert creates(sim) == 0


@pytest.mark.parametrize("entry, meant", [
    ({"primary_key": ["saleOrderCode", "soicode"]}, "primary_key 'soicode' is a column id"),
    ({"dedup_sort": "displayOrderDateTime"}, "dedup_sort 'displayOrderDateTime' is a column id"),
    ({"primary_key": ["Sale Order Code", "SOICODE"]}, "did you mean 'Sale Order Item Code'?"),
    ({"dedup_sort": "displayOrderDateTime"}, "did you mean 'Order Date as dd/mm/yyyy hh:MM:ss'?"),
    ({"window_column": "Updated On"}, "window_column 'Updated On' is not a header label of the report; did you "
                                      "mean 'Updated'?"),
])
def test_a_column_id_or_a_near_label_where_a_label_is_expected_says_the_label(
        cli: Any, sim: UniwareSimulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        entry: dict[str, Any], meant: str) -> None:
    """`primary_key = ["soicode"]` was told to add 'soicode' to its columns, which held it: these settings take
    header labels."""
    monkeypatch.setenv("SOURCES__UNIWARE__EXPORTS", json.dumps([{"name": "Sale Orders", **entry}]))
    assert cli("--facility", "BLR01", "plan") == 2
    err = one_line(capsys)
    assert meant in err and "columns do not export" not in err and creates(sim) == 0, err


def test_a_column_types_label_given_in_part_suggests_the_label_that_starts_so() -> None:
    """'Order Date' got "did you mean 'Return Date'?"; the label is 'Order Date as dd/mm/yyyy hh:MM:ss'."""
    from uniware_source.settings import resolve_export

    with pytest.raises(ConfigError, match=r"did you mean 'Order Date as dd/mm/yyyy hh:MM:ss'\?"):
        resolve_export({"name": "Sale Orders", "column_types": {"Order Date": "timestamp"}}, 0)
    with pytest.raises(ConfigError, match=r"did you mean 'Selling Price'\?"):  # a typo still gets the nearest
        resolve_export({"name": "Sale Orders", "column_types": {"Seling Price": "decimal"}}, 0)


@pytest.mark.parametrize("kept, named", [((), "username"), (("USERNAME",), "password")])
def test_the_example_secrets_copied_unchanged_are_a_setting_error_before_any_call(
        env: dict[str, str], sim: UniwareSimulator, tmp_path: Path, kept: tuple[str, ...], named: str) -> None:
    """The placeholders went to the tenant as a password grant, which counts towards the user's lockout."""
    example = Path(__file__).resolve().parents[1] / ".dlt" / "secrets.toml.example"
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "secrets.toml").write_text(example.read_text())
    given = {k: v for k, v in {**os.environ, **env}.items()
             if k not in ("SOURCES__UNIWARE__USERNAME", "SOURCES__UNIWARE__PASSWORD")
             or k.rsplit("__", 1)[1] in kept}
    done = run_cli_in(tmp_path, given, "--facility", "BLR01")
    assert done.returncode == 2, done.stderr
    assert f"setting '{named}'" in done.stderr and "placeholder" in done.stderr, done.stderr
    assert str((tmp_path / ".dlt" / "secrets.toml").resolve()) in done.stderr and len(sim.requests) == 0
