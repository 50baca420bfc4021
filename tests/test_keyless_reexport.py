"""An export without a natural key merges on the job code: a window exported again by another job would
land twice. Whatever exports a window again (a lookback, a `reset`, a backfill over loaded days), its
rows land once or the run says why nothing was exported; through the console script's `main`."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.pipeline_process import FixedNow
from uniware_simulator import UniwareSimulator
from uniware_simulator.presets import TEST_NOW
from uniware_source.cli import main

ORDERS_LOG: dict[str, Any] = {"name": "Sale Orders", "table_name": "orders_log", "write_disposition": "append",
                              "primary_key": []}


@pytest.fixture
def sim(uniware_simulator: UniwareSimulator) -> UniwareSimulator:
    return uniware_simulator


@pytest.fixture
def cli(sim: UniwareSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """`cli(*args, now=...)`: main in-process, the keyless export of BLR01 from 2026-04-08, lookback 2 days."""
    for name in [k for k in os.environ if k.startswith("SOURCES__UNIWARE__")]:
        monkeypatch.delenv(name)
    for key, value in {"BASE_URL": sim.base_url, "USERNAME": sim.config.username,
                       "PASSWORD": sim.config.password, "POLL_INITIAL_SECONDS": "0.01",
                       "POLL_MAX_SECONDS": "0.05", "REQUEST_BACKOFF_FACTOR": "0.01", "DOWNLOAD_DIR": str(tmp_path),
                       "FACILITIES": "BLR01", "START_DATE": "2026-04-08", "LOOKBACK_DAYS": "2",
                       "EXPORTS": json.dumps([ORDERS_LOG])}.items():
        monkeypatch.setenv(f"SOURCES__UNIWARE__{key}", value)
    monkeypatch.chdir(tmp_path)

    def run(*args: str, now: datetime = TEST_NOW) -> int:
        common = ["--pipelines-dir", str(tmp_path / "pl"), "--pipeline-name", "kl"]
        return main([*args[:1], *common, *args[1:]] if args and not args[0].startswith("-") else [*common, *args],
                    clock=FixedNow(now))
    return run


def rows(tmp_path: Path) -> list[str]:
    """Every row's sale order item code, as often as it landed."""
    with duckdb.connect(str(tmp_path / "kl.duckdb"), read_only=True) as connection:
        return [r[0] for r in connection.execute("SELECT sale_order_item_code FROM uniware.orders_log").fetchall()]


def test_a_window_exported_again_never_lands_twice_for_an_export_without_a_key(
        cli: Any, sim: UniwareSimulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli() == 0
    first = rows(tmp_path)
    assert len(first) > 100 and len(set(first)) == len(first)
    # the next day: lookback_days (2) is the source's, not for an export that cannot merge what it re-reads
    assert cli(now=TEST_NOW + timedelta(days=1)) == 0
    loaded = rows(tmp_path)
    assert len(loaded) > len(first) and len(set(loaded)) == len(loaded)

    # reset: everything from start_date again would land beside the rows kept; refused, named, nothing made
    assert cli("reset", "--export", "Sale Orders", now=TEST_NOW + timedelta(days=1)) == 0
    capsys.readouterr()
    creates = len(sim.requests.where("create"))
    assert cli(now=TEST_NOW + timedelta(days=1)) == 1
    err = capsys.readouterr().err
    assert "orders_log already holds" in err and "--delete-rows" in err and "BLR01" in err
    assert err.count("orders_log already holds") == 2  # said as it happens and in the run's summary, no more
    assert rows(tmp_path) == loaded and len(sim.requests.where("create")) == creates
    # a backfill over loaded days: the same
    assert cli("--start", "2026-04-10", "--end", "2026-04-12", now=TEST_NOW + timedelta(days=1)) == 1
    assert "orders_log already holds" in capsys.readouterr().err
    assert rows(tmp_path) == loaded and len(sim.requests.where("create")) == creates

    # reset --delete-rows: the rows go with the cursor, and the next run exports them again, once
    assert cli("reset", "--export", "Sale Orders", "--delete-rows", now=TEST_NOW + timedelta(days=1)) == 0
    assert f"orders_log: {len(loaded):,} row(s) deleted" in capsys.readouterr().out
    assert rows(tmp_path) == []
    assert cli(now=TEST_NOW + timedelta(days=1)) == 0
    again = rows(tmp_path)
    assert sorted(again) == sorted(loaded)
    # a backfill of days before start_date holds no loaded row: it loads
    assert cli("--start", "2026-04-05", "--end", "2026-04-08", now=TEST_NOW + timedelta(days=1)) == 0
    more = rows(tmp_path)
    assert len(more) > len(again) and len(set(more)) == len(more)


def test_lookback_days_on_an_export_without_a_key_is_a_setting_error(
        cli: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SOURCES__UNIWARE__EXPORTS", json.dumps([{**ORDERS_LOG, "lookback_days": 1}]))
    assert cli() == 2
    err = capsys.readouterr().err
    assert "lookback_days" in err and "primary_key" in err and "'Sale Orders'" in err


def test_windows_of_jobs_not_loaded_yet_are_not_exported_again(
        cli: Any, sim: UniwareSimulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Jobs submitted (the submit step alone, as an orchestrator runs it) and a backfill over their
    days before they are collected: the backfill is refused; the jobs then load, once."""
    assert cli("--mode", "submit") == 0
    creates = len(sim.requests.where("create"))
    capsys.readouterr()
    assert cli("--start", "2026-04-09", "--end", "2026-04-12") == 1
    assert "are not loaded yet" in capsys.readouterr().err
    assert len(sim.requests.where("create")) == creates
    assert cli("--mode", "collect") == 0
    loaded = rows(tmp_path)
    assert loaded and len(set(loaded)) == len(loaded)


def test_after_a_backfill_up_to_now_the_first_run_is_refused_and_a_later_start_date_goes_on(
        cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A backfill up to now, then the scheduled runs: their first window overlaps the backfill, so the
    run says to set start_date after it, and keeps no cursor; with start_date set, runs go on from there."""
    assert cli("--start", "2026-04-08") == 0
    backfilled = rows(tmp_path)
    assert cli(now=TEST_NOW + timedelta(hours=6)) == 1
    advice = re.search(r"set start_date = (\S+) ", capsys.readouterr().err)
    assert advice is not None
    monkeypatch.setenv("SOURCES__UNIWARE__START_DATE", advice.group(1))  # the advice, as given
    assert cli(now=TEST_NOW + timedelta(days=1)) == 0
    after = rows(tmp_path)
    assert len(after) > len(backfilled) and len(set(after)) == len(after)


def test_a_destination_that_cannot_say_what_it_holds_exports_nothing_for_the_facility(
        cli: Any, sim: UniwareSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert cli() == 0
    loaded = rows(tmp_path)
    assert cli("reset", "--export", "Sale Orders") == 0
    creates = len(sim.requests.where("create"))

    def unreachable(*args: Any) -> None:
        raise ConnectionError("the warehouse is restarting")
    monkeypatch.setattr("uniware_source.steps.submit.rows_in_windows", unreachable)
    capsys.readouterr()
    assert cli() == 1
    assert "cannot ask the destination" in capsys.readouterr().err
    assert rows(tmp_path) == loaded and len(sim.requests.where("create")) == creates


def test_a_job_given_by_code_loads_into_a_keyless_table_only_while_it_is_empty(
        cli: Any, sim: UniwareSimulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Its window is not known: loaded again over rows (its own, or another job's of the same days), the
    rows would land twice or lose the window the overlap check reads. Refused, named; nothing changes."""
    assert cli() == 0
    loaded = rows(tmp_path)
    first = sim.jobs.all()[0].code
    capsys.readouterr()
    assert cli("--job-code", f"Sale Orders={first}") == 1
    err = capsys.readouterr().err
    assert err.count("loads only into an empty table") == 2  # as it happens and in the run's summary
    assert rows(tmp_path) == loaded
    assert cli("reset", "--export", "Sale Orders", "--delete-rows") == 0
    assert cli("--job-code", f"Sale Orders={first}") == 0  # an empty table: the job's rows, once
    again = rows(tmp_path)
    assert again and len(set(again)) == len(again)


def test_a_backfill_past_the_cursor_then_the_advice_of_the_refusal_goes_on_without_a_gap(
        cli: Any, sim: UniwareSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Runs, then a backfill of later days up to now: the next scheduled run overlaps it; the refusal's
    advice (reset without deleting, the start_date it gives, a backfill of the days between) works."""
    first = TEST_NOW - timedelta(days=3)  # the simulator's orders end at TEST_NOW
    later, now = first + timedelta(days=1), TEST_NOW - timedelta(days=1)
    assert cli(now=first) == 0
    assert cli("--start", later.isoformat(), now=now) == 0
    assert cli(now=now + timedelta(hours=6)) == 1
    err = capsys.readouterr().err
    advice = re.search(r"set start_date = (\S+) ", err)
    assert advice is not None and "reset --export 'Sale Orders' --facility BLR01` (the rows stay)" in err
    assert cli("reset", "--export", "Sale Orders", "--facility", "BLR01", now=now + timedelta(hours=6)) == 0
    monkeypatch.setenv("SOURCES__UNIWARE__START_DATE", advice.group(1))
    assert cli(now=TEST_NOW) == 0
    assert cli("--start", first.isoformat(), "--end", later.isoformat(), now=TEST_NOW) == 0
    loaded = rows(tmp_path)
    truth = sim.truth("Sale Orders", facility="BLR01", date_filter="updatedOn",
                      start=datetime(2026, 4, 8, tzinfo=timezone(timedelta(hours=5, minutes=30))), end=TEST_NOW)
    assert sorted(loaded) == sorted(r["Sale Order Item Code"] for r in truth if r["Updated"] < TEST_NOW)  # no gap
    assert cli(now=TEST_NOW + timedelta(hours=1)) == 0  # the schedule goes on


def test_a_backfill_run_again_skips_the_windows_it_loaded_and_loads_the_rest(
        cli: Any, sim: UniwareSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A backfill stopped half way (a kill after some of its windows loaded) and run again was refused for
    the windows it had loaded, exit 1, with advice about cursors that a backfill does not have (red team helper
    117). The windows the table holds exactly are done; the rest load, once; a backfill over other days'
    windows is still refused."""
    monkeypatch.setenv("SOURCES__UNIWARE__WINDOW_DAYS", "1")
    now = TEST_NOW + timedelta(days=1)
    assert cli("--start", "2026-04-01", "--end", "2026-04-03", now=now) == 0  # two windows of a day
    first, creates = rows(tmp_path), len(sim.requests.where("create"))
    capsys.readouterr()
    assert cli("--start", "2026-04-01", "--end", "2026-04-03", now=now) == 0  # all loaded: nothing again
    assert len(sim.requests.where("create")) == creates and rows(tmp_path) == first
    assert cli("--start", "2026-04-01", "--end", "2026-04-05", now=now) == 0  # two more windows on the same grid
    assert len(sim.requests.where("create")) == creates + 2
    loaded = rows(tmp_path)
    truth = sim.truth("Sale Orders", facility="BLR01", date_filter="updatedOn",
                      start=datetime(2026, 4, 1, tzinfo=timezone(timedelta(hours=5, minutes=30))),
                      end=datetime(2026, 4, 5, tzinfo=timezone(timedelta(hours=5, minutes=30))))
    assert sorted(loaded) == sorted(r["Sale Order Item Code"] for r in truth)
    capsys.readouterr()
    assert cli("--start", "2026-04-02 12:00", "--end", "2026-04-04", now=now) == 1  # another grid over loaded days
    err = capsys.readouterr().err
    assert "orders_log already holds" in err and "windows the table holds exactly are skipped" in err
    assert "clear the cursor" not in err and rows(tmp_path) == loaded  # a backfill has no cursor to clear
