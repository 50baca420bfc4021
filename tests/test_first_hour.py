"""A real user's first hour (issue 13), through the console script's `main` against the simulator."""

from __future__ import annotations

import re
import shlex
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dlt
import pytest

from tests.pipeline_process import FixedNow
from tests.simulator_fixtures import simulator_settings_in_env
from uniware_simulator import UniwareSimulator
from uniware_simulator.presets import TEST_NOW
from uniware_source.cli import main
from uniware_source.pipeline_run.lock import pipeline_lock


@pytest.fixture
def cli(sim: UniwareSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """`cli(*args, now=...)` runs main in-process with the simulator's settings in the environment."""
    simulator_settings_in_env(sim, tmp_path, monkeypatch)

    def run(*args: str, now: datetime = TEST_NOW) -> int:
        common = ["--pipelines-dir", str(tmp_path / "pl"), "--pipeline-name", "fh"]
        return main([*args[:1], *common, *args[1:]] if args and not args[0].startswith("-") else [*common, *args],
                    clock=FixedNow(now))
    return run


def ledger(tmp_path: Path, table: str = "sale_orders") -> dict[str, Any]:
    pipeline = dlt.attach("fh", pipelines_dir=str(tmp_path / "pl"))
    state: dict[str, Any] = pipeline.state["sources"]["uniware"]["resources"][table]
    return state


def creates(sim: UniwareSimulator) -> list[str]:
    return [r.header("Facility") or "" for r in sim.requests.where("create")]


def test_state_follows_configuration(cli: Any, sim: UniwareSimulator, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("--facility", "BLR99") == 2  # a typo is refused before any job, naming the valid codes
    assert creates(sim) == [] and "BLR01" in capsys.readouterr().err
    sim.inject_job_fate("FAILED", times=None, match=lambda report, facility: facility == "DEL02")
    assert cli("--facility", "DEL02") == 1  # its window stays planned in state
    assert set(creates(sim)) == {"DEL02"}
    capsys.readouterr()
    before = len(creates(sim))
    assert cli("--facility", "BLR01") == 0  # DEL02's window is set aside, not retried, no exit 1
    assert set(creates(sim)[before:]) == {"BLR01"}
    err = capsys.readouterr().err
    assert err.count("set aside") == 1 and "DEL02" in err, err
    state = ledger(tmp_path)
    assert any(e["facility"] == "DEL02" for e in state["entries"])  # kept: configuring it again resumes it
    assert "DEL02" in state["cursors"]


def test_no_tiny_windows(cli: Any, sim: UniwareSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCES__UNIWARE__LOOKBACK_DAYS", "0")
    assert cli("--facility", "BLR01") == 0
    cursor = ledger(tmp_path)["cursors"]["BLR01"]
    before = len(creates(sim))
    # 14 seconds later: no job for a 14-second window; the time waits for a later run
    assert cli("--facility", "BLR01", now=TEST_NOW.replace(second=14)) == 0
    assert len(creates(sim)) == before
    assert ledger(tmp_path)["cursors"]["BLR01"] == cursor
    # two hours later the window is long enough
    assert cli("--facility", "BLR01", now=TEST_NOW.replace(hour=TEST_NOW.hour + 2)) == 0
    window = [r.body for r in sim.requests.where("create")][-1]["exportFilters"][-1]["dateRange"]
    assert window["end"] + 1 - window["start"] == 2 * 3600_000


def test_backfill_joins_its_short_last_piece(cli: Any, sim: UniwareSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCES__UNIWARE__WINDOW_DAYS", "1")
    assert cli("--facility", "BLR01", "--start", "2026-04-10", "--end", "2026-04-12T00:20") == 0
    windows = [r.body["exportFilters"][-1]["dateRange"] for r in sim.requests.where("create")]
    assert len(windows) == 2  # window_days=1 would give three, the 20 minutes join the last day


def test_a_pipeline_holding_one_tenants_cursors_refuses_another_tenant(
        cli: Any, sim: UniwareSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Pointing the same pipeline at another tenant would continue the first tenant's cursors (two
    days of lookback instead of the new tenant's history) into the same tables: refused, exit 2."""
    assert cli("--facility", "BLR01") == 0
    other_host = sim.base_url.replace("127.0.0.1", "localhost")  # same server, another address: another tenant
    monkeypatch.setenv("SOURCES__UNIWARE__BASE_URL", other_host)
    capsys.readouterr()
    before = len(creates(sim))
    for command in (("--facility", "BLR01"), ("plan", "--facility", "BLR01")):
        assert cli(*command) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "SOURCES__UNIWARE__BASE_URL" in err[0] and "--pipeline-name" in err[0], err
        assert "127.0.0.1" in err[0] and "localhost" in err[0]
    assert len(creates(sim)) == before  # nothing was made for the other tenant
    assert cli("reset", "--export", "Sale Orders") == 0  # moving the pipeline on purpose: clear, then run
    assert cli("--facility", "BLR01") == 0
    assert ledger(tmp_path)["cursors"]["BLR01"]
    assert dlt.attach("fh", pipelines_dir=str(tmp_path / "pl")).state["sources"]["uniware"]["tenant"].startswith(
        "localhost:")


def test_reset_on_a_bucket_says_its_files_stay(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """A bucket keeps every file: after `reset`, the windows the next run exports again landed beside them and
    an export without a key read its rows twice, exit 0, nothing said (red team helper 119). `reset` says so."""
    monkeypatch.setenv("DESTINATION__FILESYSTEM__BUCKET_URL", (tmp_path / "bucket").as_uri())
    run = ["--destination", "filesystem", "--loader-file-format", "parquet", "--export", "Tally GST Report",
           "--facility", "BLR01"]
    assert cli(*run) == 0
    capsys.readouterr()
    assert cli("reset", "--export", "Tally GST Report", "--destination", "filesystem") == 0
    out = capsys.readouterr().out
    assert "warning: the bucket keeps the files loaded for tally_gst" in out and "newest job of each facility" in out
    # --delete-rows cannot reach a bucket's files: refused before any cursor is cleared (it failed after)
    assert cli(*run) == 0
    cursors = ledger(tmp_path, "tally_gst")["cursors"]
    assert cursors and cli("reset", "--export", "Tally GST Report", "--destination", "filesystem", "--delete-rows") == 2
    assert "--delete-rows cannot delete from a bucket" in capsys.readouterr().err
    assert ledger(tmp_path, "tally_gst")["cursors"] == cursors


def test_reset_clears_one_facility_the_dlt_way(cli: Any, sim: UniwareSimulator, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    sim.inject_job_fate("FAILED", times=1, match=lambda report, facility: facility == "DEL02")
    assert cli("--facility", "DEL02") == 1
    assert cli("--facility", "BLR01") == 0
    capsys.readouterr()
    with pipeline_lock(dlt.attach("fh", pipelines_dir=str(tmp_path / "pl"))):  # a run is going on: it would
        assert cli("reset", "--export", "Sale Orders", "--facility", "DEL02") == 4  # commit its state over it
    assert "is already running" in capsys.readouterr().err and "DEL02" in ledger(tmp_path)["cursors"]
    assert cli("reset", "--export", "Sale Orders", "--facility", "blr01") == 2  # codes are case-sensitive
    assert "did you mean BLR01?" in capsys.readouterr().err
    assert cli("reset", "--export", "Sale Orders", "--facility", "DEL02") == 0
    out = capsys.readouterr().out
    assert "sale_orders: 1 ledger entry" in out and "DEL02" in out
    state = ledger(tmp_path)
    assert all(e["facility"] != "DEL02" for e in state["entries"]) and "DEL02" not in state["cursors"]
    assert "BLR01" in state["cursors"]  # the other facility is untouched
    # committed the dlt way: the destination's state copy agrees, and the table keeps its merge hints
    pipeline = dlt.attach("fh", pipelines_dir=str(tmp_path / "pl"))
    assert pipeline.default_schema.tables["sale_orders"]["write_disposition"] == "merge"
    with pipeline.sql_client() as client:
        version = (client.execute_sql("SELECT MAX(version) FROM _dlt_pipeline_state") or [[None]])[0][0]
    assert version == pipeline.state["_state_version"]
    # configuring DEL02 again starts it afresh (a new job, first-run window)
    before = len(creates(sim))
    assert cli("--facility", "DEL02") == 0
    assert creates(sim)[before:] == ["DEL02"]
    assert cli("reset") == 2  # refuses to clear everything without saying what
    assert cli("reset", "--export", "Sale Orders", "--facility", "MUM03") == 2  # nothing of MUM03 to clear
    err = capsys.readouterr().err
    assert "nothing was cleared" in err and "did you mean" not in err
    assert cli("reset", "--export", "Sale Order", "--facility", "DEL02") == 2  # a misspelt export: the name in state
    assert "'sale_order' is not in state: did you mean 'sale_orders'?" in capsys.readouterr().err
    assert "DEL02" in ledger(tmp_path)["cursors"]
    for command in ("reset", "status"):  # a misspelt pipeline name: said, and no pipeline made for it
        assert cli(command, "--export", "Sale Orders", "--pipeline-name", "typo") == 2
        assert "no pipeline 'typo' under" in capsys.readouterr().err
    assert not (tmp_path / "pl" / "typo").exists() and not (tmp_path / "typo.duckdb").exists()


def test_discovery_commands(cli: Any, sim: UniwareSimulator, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("facilities") == 0
    out = capsys.readouterr().out
    assert "BLR01" in out and "ENABLED" in out and "no display names" in out
    assert cli("exports") == 0
    out = capsys.readouterr().out
    assert "Sale Orders" in out and "updatedOn" in out and "sale_orders" in out
    assert cli("plan", "--facility", "BLR01", "--export", "Sale Orders", "--export", "Item Master") == 0
    out = capsys.readouterr().out
    assert "Sale Orders / facility BLR01 / window" in out and "create a job" in out
    assert "2 job(s) to create" in out and not sim.requests.where("create")  # nothing created
    assert "note:" not in out
    with pytest.MonkeyPatch.context() as patch:  # a date filter id the catalog does not know: plan says so
        patch.setenv("SOURCES__UNIWARE__EXPORTS", '[{"name": "Sale Orders", "date_filter": "createdOn"}]')
        assert cli("plan", "--facility", "BLR01") == 0
    out = capsys.readouterr().out
    assert ("note: Sale Orders: date_filter 'createdOn' is not one the catalog knows for this report "
            "(addedOn, updatedOn)") in out and "the window guard checks 'Updated'" in out
    with pytest.MonkeyPatch.context() as patch:  # any catalog report: its own filter is the one it knows
        patch.setenv("SOURCES__UNIWARE__EXPORTS", '[{"name": "Return Invoices", "date_filter": "returnDate"}]')
        assert cli("plan", "--facility", "BLR01") == 0
    out = capsys.readouterr().out
    assert "note: Return Invoices: date_filter 'returnDate' is not one the catalog knows for this report " \
           "(addedOn)" in out and "ignores it and exports the whole report" in out
    assert not sim.requests.where("create")
    sim.inject_job_fate("FAILED", times=None, match=lambda report, facility: facility == "DEL02")
    assert cli("--facility", "BLR01", "--facility", "DEL02") == 1
    capsys.readouterr()
    assert cli("status") == 0
    out = capsys.readouterr().out
    assert "BLR01" in out and "DEL02" in out and "FAILED" in out  # cursors, state and history failures
    # the window the failed job leaves waits for a job; the last run's exit code and errors (red team helper 83, F4)
    assert "windows planned, waiting for a job (the next run that exports their facility makes them):" in out
    waiting = out.split("windows planned, waiting for a job")[1].splitlines()[1]
    assert "sale_orders" in waiting and "DEL02" in waiting and "1 window(s) from" in waiting, out
    last = out.split("last run (uniware_runs): ")[1].splitlines()
    assert ", exit 1" in last[0] and "DEL02" in last[1] and "FAILED" in last[1], out
    assert cli("plan", "--facility", "BLR01") == 0  # DEL02's window is set aside, not planned for a job
    out = capsys.readouterr().out
    assert "facility DEL02 / window 2026-03-17 12:00 to 2026-04-16 12:00 IST: set aside" in out
    assert "1 job(s) to create" in out  # BLR01's lookback window
    assert len(sim.requests.where("create")) == 2


def test_runs_table_has_one_row_per_script_run(cli: Any, sim: UniwareSimulator, tmp_path: Path) -> None:
    assert cli("--facility", "BLR01") == 0
    sim.inject_job_fate("FAILED", times=None, match=lambda report, facility: facility == "DEL02")
    assert cli("--facility", "DEL02") == 1
    pipeline = dlt.attach("fh", pipelines_dir=str(tmp_path / "pl"))
    with pipeline.sql_client() as client:
        rows = client.execute_sql("SELECT exit_code, jobs_loaded, jobs_failed, rows, errors, run_id "
                                  "FROM uniware_runs ORDER BY started_at") or []
        job_runs = {r[0] for r in client.execute_sql("SELECT DISTINCT run_id FROM export_job_status") or []}
        # the first run's row came in its last package, with its LOADED history row
        together = client.execute_sql("SELECT h.status FROM uniware_runs AS r JOIN export_job_status AS h "
                                      "ON h._dlt_load_id = r._dlt_load_id AND h.run_id = r.run_id") or []
    assert [(r[0], r[2]) for r in rows] == [(0, 0), (1, 1)]
    assert [r[0] for r in together] == ["LOADED"]
    assert rows[0][1] == 1 and rows[0][3] > 0 and rows[0][4] is None
    assert "DEL02" in rows[1][4]
    assert {r[5] for r in rows} == job_runs  # the same run ids as the job history


def test_config_errors_are_one_line_with_exit_2(cli: Any, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SOURCES__UNIWARE__WINDOW_DAYS", "abc")
    assert cli("--facility", "BLR01") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "window_days" in err[0] and "SOURCES__UNIWARE__WINDOW_DAYS" in err[0], err
    monkeypatch.delenv("SOURCES__UNIWARE__WINDOW_DAYS")
    for name in [k for k in __import__("os").environ if k.startswith("DESTINATION__")]:
        monkeypatch.delenv(name)
    assert cli("--facility", "BLR01", "--destination", "postgres", "--pipeline-name", "pg") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) <= 2 and "DESTINATION__POSTGRES__CREDENTIALS" in err[0], err
    assert cli("--facility", "BLR01", "--destination", "filesystem", "--pipeline-name", "fs") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) <= 2 and "BUCKET_URL" in err[0], err


@pytest.mark.parametrize("path", ["/services/rest/v1", "/services/rest/v1/", "/oauth/token", "/Services"])
def test_a_base_url_with_the_apis_path_is_a_setting_error_not_an_unreachable_tenant(
        cli: Any, sim: UniwareSimulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        path: str) -> None:
    """The base URL copied with the API's path: every call went to <path>/services/..., a 404 on the token
    endpoint, exit 3 (the class a scheduler retries). It is a wrong setting: exit 2 naming the address to give."""
    monkeypatch.setenv("SOURCES__UNIWARE__BASE_URL", sim.base_url + path)
    assert cli("--facility", "BLR01") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "base_url" in err[0] and f"give the tenant's address without it, {sim.base_url} " in err[0]
    assert not sim.requests.where("token")


def test_a_download_dir_that_cannot_be_used_is_a_setting_error(
        cli: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A download_dir that does not exist yet is made; one that cannot be (a file is in the way, a
    directory this user cannot write) is exit 2 naming the setting, before any job."""
    made = tmp_path / "new" / "downloads"
    monkeypatch.setenv("SOURCES__UNIWARE__DOWNLOAD_DIR", str(made))
    assert cli("--facility", "BLR01", "--pipeline-name", "made") == 0
    assert made.is_dir()
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for where in (blocker, blocker / "below"):
        monkeypatch.setenv("SOURCES__UNIWARE__DOWNLOAD_DIR", str(where))
        assert cli("--facility", "BLR01", "--pipeline-name", "blocked") == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert "download_dir" in err[-1] and "SOURCES__UNIWARE__DOWNLOAD_DIR" in err[-1], err
        assert str(blocker) in err[-1], err


def test_a_destination_that_cannot_be_opened_says_why(cli: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """dlt's PipelineStepFailed names the step on its first line and the reason further down: the
    one line is the reason. A destination that cannot be opened at the run's first contact is a setting
    error naming its setting (tests/test_destination_mistakes.py has each kind)."""
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "missing" / "x.duckdb"))
    assert cli("--facility", "BLR01", "--pipeline-name", "nodir") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert any("DESTINATION__DUCKDB__CREDENTIALS" in line and "missing/x.duckdb" in line and "No such file" in line
               for line in err), err
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", "postgresql://loader:pw-s3cret@127.0.0.1:9/test")
    assert cli("--facility", "BLR01", "--destination", "postgres", "--pipeline-name", "pgdown") == 3  # down a while?
    said = capsys.readouterr().err
    assert "port 9 failed: Connection refused" in said and "pw-s3cret" not in said, said
    assert "DESTINATION__POSTGRES__CREDENTIALS" in said, said


def test_a_setting_error_on_a_pipeline_that_has_loaded_is_still_one_line(
        cli: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The views are refreshed after a run that loaded (or partly), not after a setting or destination
    error: that would print dlt's whole configuration dump before the one line."""
    assert cli("--facility", "BLR01") == 0
    for name in [k for k in __import__("os").environ if k.startswith("DESTINATION__")]:
        monkeypatch.delenv(name)
    capsys.readouterr()
    assert cli("--facility", "BLR01", "--destination", "postgres") == 2
    err = [line for line in capsys.readouterr().err.strip().splitlines() if line.strip()]
    ours = [line for line in err if "|dlt|" not in line]  # dlt's own warning that the destination changed may come
    assert len(ours) == 1 and "DESTINATION__POSTGRES__CREDENTIALS" in ours[0] and len(err) <= 2, err


def test_unreachable_tenant_fails_fast_naming_the_host(cli: Any, sim: UniwareSimulator,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    import time

    monkeypatch.setenv("SOURCES__UNIWARE__BASE_URL", "http://no-such-tenant.invalid")
    monkeypatch.setenv("SOURCES__UNIWARE__REQUEST_BACKOFF_FACTOR", "1")
    started = time.monotonic()
    assert cli("--facility", "BLR01") == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert time.monotonic() - started < 5  # not retried like a 503
    assert any("cannot reach no-such-tenant.invalid" in line and "DNS" in line for line in err), err
    assert not any("retrying" in line for line in err)
    assert all(len(line) < 400 for line in err)
    monkeypatch.setenv("SOURCES__UNIWARE__BASE_URL", "http://127.0.0.1:9")  # nothing listens: refused
    assert cli("--facility", "BLR01") == 3
    assert "cannot reach 127.0.0.1:9: connection refused" in capsys.readouterr().err
    monkeypatch.setenv("SOURCES__UNIWARE__BASE_URL", sim.base_url.replace("http://", "https://"))  # plain HTTP there
    started = time.monotonic()
    assert cli("--facility", "BLR01") == 3
    said = capsys.readouterr().err
    assert time.monotonic() - started < 5 and "retrying" not in said, said  # no retry mends it
    assert "over https: it does not speak TLS there (http, not https?)" in said, said
    monkeypatch.setenv("SOURCES__UNIWARE__BASE_URL", sim.base_url + "/uniware")  # a path too many (the API's own
    assert cli("--facility", "BLR01") == 3  # is a setting error: the test above)
    said = capsys.readouterr().err
    assert "no Uniware token endpoint at" in said and "without a path" in said and "password" not in said, said


def test_retries_are_announced_and_log_format_json(cli: Any, sim: UniwareSimulator,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import json

    sim.inject("create", "http_error", status=503, times=1)
    assert cli("--facility", "BLR01", "--log-format", "json") == 0
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    # host and path of the call, as the README shows: "127.0.0.1:port/services/... HTTP 503: retrying in"
    assert any("/services/rest/v1/export/job/create HTTP 503: retrying in" in r["message"]
               and "attempt 2/5" in r["message"] for r in lines), lines
    jobs = [r for r in lines if r.get("job_code")]
    assert jobs and {"CREATED", "LOADED"} <= {r["status"] for r in jobs}
    # one line per state change, the context only on the job's first line
    assert sum("Sale Orders / facility BLR01" in r["message"] for r in jobs) == 1


def test_log_format_json_ends_in_json_too(cli: Any, sim: UniwareSimulator,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Every line the connector writes on stderr with --log-format json is a JSON object, the lines a run
    ends with included: the failed jobs (exit 1) and a setting error (exit 2)."""
    import json

    sim.inject_job_fate("FAILED", times=1, message="Export job failed (simulated)")
    assert cli("--facility", "BLR01", "--log-format", "json") == 1
    assert cli("--facility", "NOPE99", "--log-format", "json") == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip() and "|dlt|" not in line]
    said = [json.loads(line) for line in err]  # fails on any line that is not JSON
    assert any("export job(s) did not load" in r["message"] and r["level"] == "ERROR" for r in said), said
    assert any("NOPE99" in r["message"] and r["message"].startswith("configuration error") for r in said), said
    assert cli("reset", "--log-format", "json") == 2  # a command's error too (reset without what to clear)
    [line] = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert json.loads(line)["message"].startswith("configuration error: reset needs --export")
    # a mistake on the command line itself, of a run or of a command, written either way
    for args in (("--log-format", "json", "--mode", "bad"), ("status", "--log-format=json", "--nope")):
        with pytest.raises(SystemExit) as exited:
            cli(*args)
        assert exited.value.code == 2
        [line] = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        said = json.loads(line)
        assert said["level"] == "ERROR" and ("'bad'" in said["message"] or "--nope" in said["message"]), said
    with pytest.raises(SystemExit):
        cli("--mode", "bad")  # without json: argparse's own usage and error lines
    assert capsys.readouterr().err.startswith("usage: uniware-pipeline")


def test_quiet_is_quiet(cli: Any, capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    assert cli("--facility", "BLR01", "--quiet") == 0
    logging.getLogger("dlt").warning("a dlt warning after the pipeline set its log level")
    captured = capsys.readouterr()
    assert captured.err.strip() == "" and "sale_orders" in captured.out


def test_live_view_on_a_terminal(cli: Any, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    from rich.console import Console

    from uniware_source.progress import job_table
    from uniware_source.run_report import RunReport

    report = RunReport()
    report.job_event("EXP1", "Sale Orders / facility BLR01", "CREATED")
    report.job_event("EXP1", "Sale Orders / facility BLR01", "LOADED", polls=3, rows=4233, size=1_800_000)
    console = Console(record=True, width=120)
    console.print(job_table(report))
    text = console.export_text()
    assert "EXP1" in text and "Sale Orders / facility BLR01" in text and "LOADED" in text and "4,233" in text
    capsys.readouterr()
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert cli("--facility", "BLR01") == 0
    captured = capsys.readouterr()
    assert "sale_orders" in captured.out  # the summary replaces the view
    assert "job EXP" not in captured.err  # job lines are in the view, not printed one by one


def test_demo_flag_of_the_installed_console_script_says_in_one_line_how_to_run_the_demo(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--demo"]) == 2  # the installed CLI has no simulator: it says where the demo is
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "make demo" in error


def test_reset_after_an_interrupted_run_loads_its_package_first(cli: Any, sim: UniwareSimulator, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A run stopped after its collect package was made, before it loaded, then `reset`: the package
    loads first, the way a run loads it, and the reset is then done (dlt alone would load the package
    as it is and extract nothing, so nothing was cleared and the command said so)."""
    from datetime import timedelta

    from uniware_source.pipeline_run import resumable

    assert cli("--export", "Return Invoices", "--facility", "BLR01") == 0
    load = resumable._load
    calls: list[int] = []

    def stopped_before_the_collect_load(pipeline: Any) -> None:
        calls.append(1)
        if len(calls) == 2:  # the submit step's load, then the collect step's
            raise KeyboardInterrupt
        load(pipeline)
    monkeypatch.setattr(resumable, "_load", stopped_before_the_collect_load)
    assert cli("--export", "Return Invoices", "--facility", "BLR01", now=TEST_NOW + timedelta(days=1)) != 0
    monkeypatch.setattr(resumable, "_load", load)
    pipeline = dlt.attach("fh", pipelines_dir=str(tmp_path / "pl"))
    assert pipeline.has_pending_data
    capsys.readouterr()

    assert cli("reset", "--export", "Return Invoices", "--facility", "BLR01") == 0
    assert "cleared for facility BLR01" in capsys.readouterr().out
    pipeline = dlt.attach("fh", pipelines_dir=str(tmp_path / "pl"))
    assert not pipeline.has_pending_data
    with pipeline.sql_client() as client:
        [(rows, keys)] = client.execute_sql(
            "SELECT COUNT(*), COUNT(DISTINCT invoice_code || '/' || return_invoice_code || '/' || item_sku_code) "
            "FROM return_invoices") or []
        interrupted = sim.jobs.all()[-1].code
        [(landed,)] = client.execute_sql("SELECT COUNT(*) FROM return_invoices WHERE _uniware_job_code = %s",
                                         interrupted) or []
        loaded = [code for (code,) in client.execute_sql("SELECT job_code FROM export_job_status "
                                                         "WHERE status = 'LOADED'") or []]
    assert rows == keys > 0 and landed > 0  # the interrupted run's rows, once
    assert sorted(loaded) == sorted(job.code for job in sim.jobs.all())  # and their LOADED rows, with the reset
    assert not ledger(tmp_path, "return_invoices").get("cursors")


def test_a_run_whose_load_fails_leaves_its_package_for_the_next_run(cli: Any, sim: UniwareSimulator, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The destination fails a COPY once: the run fails, and its package is not loaded behind its back by
    the `uniware_runs` row's own load (dlt would load it as it is, without the recovery a run gives it,
    and not that row); the next run loads it, every job once."""
    from dlt.destinations.impl.duckdb import duck

    from uniware_source import cli as script

    copy = duck.DuckDbCopyJob.run
    down = [True]  # the destination refuses the export's COPY until the run has failed, then is back

    def failing(self: Any) -> None:
        if "return_invoices" in self._file_path and down[0]:
            raise RuntimeError("simulated destination failure")
        copy(self)
    record_run = script.record_run

    def back_up_then_record(*args: Any) -> None:
        down[0] = False
        record_run(*args)
    monkeypatch.setattr(duck.DuckDbCopyJob, "run", failing)
    monkeypatch.setattr(script, "record_run", back_up_then_record)
    assert cli("--export", "Return Invoices", "--facility", "BLR01") != 0
    assert not down[0] and dlt.attach("fh", pipelines_dir=str(tmp_path / "pl")).has_pending_data
    assert cli("--export", "Return Invoices", "--facility", "BLR01") == 0
    pipeline = dlt.attach("fh", pipelines_dir=str(tmp_path / "pl"))
    with pipeline.sql_client() as client:
        [(rows, keys)] = client.execute_sql(
            "SELECT COUNT(*), COUNT(DISTINCT invoice_code || '/' || return_invoice_code || '/' || item_sku_code) "
            "FROM return_invoices") or []
        loaded = [code for (code,) in client.execute_sql("SELECT job_code FROM export_job_status "
                                                         "WHERE status = 'LOADED'") or []]
    assert rows == keys > 0 and sorted(loaded) == sorted(job.code for job in sim.jobs.all())


def interrupted_run(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run of Return Invoices whose load the destination (DuckDB) fails: its package waits for the next run."""
    from dlt.destinations.impl.duckdb import duck

    copy = duck.DuckDbCopyJob.run
    down = [True]

    def failing(self: Any) -> None:
        if "return_invoices" in self._file_path and down[0]:
            raise RuntimeError("simulated destination failure")
        copy(self)
    monkeypatch.setattr(duck.DuckDbCopyJob, "run", failing)
    assert cli("--export", "Return Invoices", "--facility", "BLR01") != 0
    down[0] = False


def test_a_run_elsewhere_while_an_interrupted_runs_packages_wait_is_refused(
        cli: Any, sim: UniwareSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_dataset: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A run that names another destination or dataset while packages of an interrupted run wait: dlt
    would load them there (their rows, job codes and history) while the pipeline's state says they loaded
    where it loads; each run after switching back failed (red team helper 103). Refused, exit 2, nothing
    made or loaded; the run without the switch loads the packages where they belong."""
    import psycopg2

    from tests.postgres import POSTGRES

    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", POSTGRES)
    interrupted_run(cli, monkeypatch)
    made = len(creates(sim))
    capsys.readouterr()
    monkeypatch.setenv("DESTINATION__OTHER__DESTINATION_TYPE", "duckdb")  # a named destination of the same type
    monkeypatch.setenv("DESTINATION__OTHER__CREDENTIALS", str(tmp_path / "other.duckdb"))
    for switch in (["--destination", "postgres", "--dataset", postgres_dataset], ["--dataset", "elsewhere"],
                   ["--dataset", "x.uniware"], ["--destination", "other"]):
        assert cli("--export", "Return Invoices", "--facility", "BLR01", *switch) == 2
        err = capsys.readouterr().err
        assert "another; its interrupted run left load packages waiting to load there" in err, err
    # the same switch through dlt's configuration rather than a flag (red team helper 108)
    for variable, value in (("DESTINATION_TYPE", "postgres"), ("DATASET_NAME", "elsewhere"),
                            ("PIPELINES__FH__DATASET_NAME", "elsewhere")):
        monkeypatch.setenv(variable, value)
        assert cli("--export", "Return Invoices", "--facility", "BLR01") == 2
        err = capsys.readouterr().err
        assert "the configuration" in err and "its interrupted run left load packages waiting" in err, err
        monkeypatch.delenv(variable)
    assert len(creates(sim)) == made
    with psycopg2.connect(POSTGRES) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (postgres_dataset,))
        assert cursor.fetchone() is None
    assert cli("--export", "Return Invoices", "--facility", "BLR01") == 0
    pipeline = dlt.attach("fh", pipelines_dir=str(tmp_path / "pl"))
    assert not pipeline.has_pending_data
    # where it loaded before the refused runs: they left the pipeline's saved place as it was
    assert (pipeline.destination.destination_type, pipeline.dataset_name) == ("dlt.destinations.duckdb", "uniware")
    with pipeline.sql_client() as client:
        [(loaded,)] = client.execute_sql("SELECT COUNT(*) FROM export_job_status WHERE status = 'LOADED'") or []
    assert loaded == len(sim.jobs.all()) > 0


@pytest.mark.parametrize("configured", ["from_config", "fh_dataset"])  # the second is dlt's own default's name
def test_a_new_pipeline_loads_where_dlts_configuration_says_and_stays_there(
        cli: Any, sim: UniwareSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, configured: str) -> None:
    """`DATASET_NAME` (dlt's configuration, not a flag) for every run: the first run loaded into `uniware`
    (the connector's default won over it) and the next into the configured dataset, the rows in both; with
    the first run interrupted, every later run with the same settings was refused as a switch (red team
    helper 110). The first run takes dlt's configuration; the same settings are never a switch."""
    monkeypatch.setenv("DATASET_NAME", configured)
    interrupted_run(cli, monkeypatch)
    assert cli("--export", "Return Invoices", "--facility", "BLR01") == 0
    assert cli("--export", "Return Invoices", "--facility", "BLR01") == 0
    pipeline = dlt.attach("fh", pipelines_dir=str(tmp_path / "pl"))
    assert pipeline.dataset_name == configured and not pipeline.has_pending_data
    with pipeline.sql_client() as client:
        schemas = {name for (name,) in client.execute_sql("SELECT schema_name FROM information_schema.schemata") or []}
        [(rows, keys)] = client.execute_sql(
            "SELECT COUNT(*), COUNT(DISTINCT invoice_code || '/' || return_invoice_code || '/' || item_sku_code) "
            f"FROM {configured}.return_invoices") or []
        loaded = [code for (code,) in client.execute_sql(f"SELECT job_code FROM {configured}.export_job_status "
                                                         "WHERE status = 'LOADED'") or []]
    assert "uniware" not in schemas
    assert rows == keys > 0 and sorted(loaded) == sorted(job.code for job in sim.jobs.all())


def test_status_reads_the_pipelines_own_destination_and_dataset(cli: Any, sim: UniwareSimulator,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 postgres_dataset: str, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """`status` without --destination and --dataset reads the history where the pipeline loaded it (here
    a PostgreSQL schema of its own), not a `uniware` dataset of DuckDB (red team helper 79, F6)."""
    from tests.postgres import POSTGRES

    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", POSTGRES)
    sim.inject_job_fate("FAILED", times=None, match=lambda report, facility: facility == "DEL02")
    assert cli("--facility", "BLR01,DEL02", "--destination", "postgres", "--dataset", postgres_dataset) == 1
    capsys.readouterr()
    assert cli("status") == 0
    out = capsys.readouterr().out
    assert "last failures in export_job_status:" in out and "not read" not in out, out
    assert "DEL02" in out.split("last failures in export_job_status:")[1]
    # another dataset named by mistake: refused, and the pipeline stays where it loads (dlt would have
    # switched it: the next `status` found no state, a `reset` cleared nothing; red team helper 80, F5)
    assert cli("status", "--dataset", "uniware") == 2
    assert f"loads into postgres dataset '{postgres_dataset}'; --dataset uniware names another" in \
        capsys.readouterr().err
    assert cli("status", "--dataset", postgres_dataset, "--destination", "postgres") == 0
    assert cli("status") == 0 and "DEL02" in capsys.readouterr().out.split("last failures in export_job_status:")[1]
    # a run without --destination and --dataset loads where the pipeline loads, not into a DuckDB file
    # (it moved the pipeline there, exit 0: red team helper 81, F2)
    assert cli("--facility", "BLR01") == 0
    assert f"loaded into postgres dataset '{postgres_dataset}'" in capsys.readouterr().out
    assert not list(tmp_path.glob("*.duckdb"))


def test_a_start_date_moved_earlier_says_how_to_load_the_days_before(
        cli: Any, sim: UniwareSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Once a facility has a cursor, runs go on from it: a start_date moved earlier changes nothing. The
    run says so, with the backfill that loads the days between, and that command loads exactly them."""
    monkeypatch.setenv("SOURCES__UNIWARE__START_DATE", "2026-04-12")
    assert cli("--export", "sale_orders", "--facility", "BLR01") == 0
    began = datetime(2026, 4, 11, 18, 30, tzinfo=UTC)  # 2026-04-12 in India
    monkeypatch.setenv("SOURCES__UNIWARE__START_DATE", "2026-04-06")
    capsys.readouterr()
    before = len(sim.requests.where("create"))
    assert cli("--export", "sale_orders", "--facility", "BLR01") == 0
    windows = [r.body["exportFilters"][-1]["dateRange"] for r in sim.requests.where("create")[before:]]
    assert windows and min(w["start"] for w in windows) >= began.timestamp() * 1000  # nothing before
    err = capsys.readouterr().err
    commands = re.findall(r"start_date .*? is before .*?`uniware-pipeline (--export [^`]*)`", err)
    assert len(commands) == 1, err
    assert cli("--export", "sale_orders", "--facility", "BLR01") == 0  # said once a run, every run
    assert len(re.findall(r"start_date .*? is before", capsys.readouterr().err)) == 1
    start = datetime(2026, 4, 5, 18, 30, tzinfo=UTC)

    def keys(since: datetime) -> tuple[list[str], set[str]]:
        """The table's keys, and the tenant's of the items updated since `since`."""
        truth = {r["Sale Order Item Code"] for r in sim.truth("Sale Orders", facility="BLR01",
                                                               date_filter="updatedOn", start=since,
                                                               end=TEST_NOW - timedelta(seconds=1))}
        with dlt.attach("fh", pipelines_dir=str(tmp_path / "pl")).sql_client() as client:
            return [r[0] for r in client.execute_sql("SELECT sale_order_item_code FROM sale_orders") or []], truth

    table, truth = keys(began)  # what the runs loaded: from the first start_date
    assert set(table) == truth and set(table) < keys(start)[1]  # the days between had rows, not loaded
    assert cli(*shlex.split(commands[0])) == 0
    table, truth = keys(start)
    assert len(table) == len(set(table)) and set(table) == truth
    capsys.readouterr()
    assert cli("--export", "sale_orders", "--facility", "BLR01") == 0  # the days are loaded: nothing more to say
    assert "is before" not in capsys.readouterr().err
    assert ledger(tmp_path)["cursors"]["BLR01"] == TEST_NOW.isoformat()  # a backfill moves no cursor
    # a reset starts the facility again from start_date: nothing to say then
    assert cli("reset", "--export", "Sale Orders", "--facility", "BLR01") == 0
    capsys.readouterr()
    assert cli("--export", "sale_orders", "--facility", "BLR01") == 0
    assert "is before" not in capsys.readouterr().err


def test_the_catalog_table_of_a_report_configured_into_another_table_is_refused(
        cli: Any, sim: UniwareSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Sale Orders configured into `orders`: `--export sale_orders` (the catalog's table) planned a second
    copy of the report from start_date into a new table, exit 0 (red team helper 83, F5). It is refused,
    naming the table the configuration loads it into; that name and the report's name run it."""
    monkeypatch.setenv("SOURCES__UNIWARE__EXPORTS", '[{"name": "Sale Orders", "table_name": "orders"}]')
    for command in (("--export", "sale_orders"), ("plan", "--export", "sale_orders")):
        assert cli(*command, "--facility", "BLR01") == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "'orders'" in err[0] and "--export 'orders'" in err[0], err
    assert sim.requests.where("create") == []
    assert cli("--export", "orders", "--facility", "BLR01") == 0
    assert cli("--export", "Sale Orders", "--facility", "BLR01") == 0
    tables = {r.body["exportJobTypeName"] for r in sim.requests.where("create")}
    assert tables == {"Sale Orders"}
    with dlt.attach("fh", pipelines_dir=str(tmp_path / "pl")).sql_client() as client:
        names = {r[0] for r in client.execute_sql("SELECT table_name FROM information_schema.tables") or []}
    assert "orders" in names and "sale_orders" not in names
    # the report loaded into the catalog's table before: reset takes that table's name, which state holds
    monkeypatch.delenv("SOURCES__UNIWARE__EXPORTS")
    assert cli("--export", "sale_orders", "--facility", "BLR01") == 0
    monkeypatch.setenv("SOURCES__UNIWARE__EXPORTS", '[{"name": "Sale Orders", "table_name": "orders"}]')
    capsys.readouterr()
    assert cli("reset", "--export", "SALE_ORDERS", "--facility", "BLR01") == 0  # in any case, as state holds it
    assert "sale_orders:" in capsys.readouterr().out
    assert "BLR01" in ledger(tmp_path, "orders")["cursors"]  # the configured table's state is untouched


def test_a_second_pipeline_loading_into_the_same_dataset_is_said(
        cli: Any, sim: UniwareSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Two pipeline names for one tenant into one dataset (a renamed pipeline, a second checkout): each
    checks files against its own loads only, so one could put older rows back (red team helper 83, F3).
    A run says which other pipelines load into its dataset; a pipeline alone in its dataset says nothing."""
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "shared.duckdb"))
    assert cli("--export", "Sale Orders", "--facility", "BLR01") == 0
    assert "also holds the state" not in capsys.readouterr().err
    assert cli("--export", "Sale Orders", "--facility", "BLR01", "--pipeline-name", "renamed") == 0
    err = capsys.readouterr().err
    assert "dataset uniware also holds the state of pipeline(s) fh" in err and "--dataset" in err, err
    # each pipeline's status shows its own last run from the shared uniware_runs, not the other's
    sim.clock.advance(timedelta(days=1))
    sim.inject_job_fate("FAILED", times=None)
    assert cli("--export", "Sale Orders", "--facility", "BLR01", "--pipeline-name", "renamed") == 1
    capsys.readouterr()
    assert cli("status") == 0
    assert ", exit 0" in capsys.readouterr().out.split("last run (uniware_runs): ")[1].splitlines()[0]
    assert cli("status", "--pipeline-name", "renamed") == 0
    assert ", exit 1" in capsys.readouterr().out.split("last run (uniware_runs): ")[1].splitlines()[0]


def test_status_shows_only_the_exports_and_facilities_asked_for(cli: Any, sim: UniwareSimulator,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """`status --export NAME --facility CODE` printed every cursor, job and failure, exit 0 (red team): the
    README says the subcommands take them. Only their lines now; a name or code state has nothing of is
    exit 2, naming what state has (as `reset` and `plan` refuse an unknown export)."""
    sim.inject_job_fate("FAILED", times=None, match=lambda report, facility: facility == "DEL02")
    assert cli("--facility", "BLR01,DEL02", "--export", "Sale Orders,Invoice") == 1
    capsys.readouterr()
    assert cli("status") == 0  # everything, as before
    whole = capsys.readouterr().out.split("last run (uniware_runs)")[0]
    assert all(f"{table:<22} {code}" in whole for table in ("invoices", "sale_orders") for code in ("BLR01", "DEL02"))
    assert cli("status", "--export", "Sale Orders", "--facility", "BLR01") == 0
    out = capsys.readouterr().out
    shown = out.split("last run (uniware_runs)")[0]  # the last run's line is the whole run's
    assert shown.startswith("(only export(s) sale_orders and facility BLR01)")
    assert f"{'sale_orders':<22} BLR01" in shown, out
    assert "invoices" not in shown and "DEL02" not in shown and "FAILED" not in shown, out
    assert "last failures in export_job_status:\n  none" in shown, out
    assert cli("status", "--facility", "DEL02") == 0  # its failures, of both exports, in state and in history
    out = capsys.readouterr().out
    shown = out.split("last run (uniware_runs)")[0]
    assert "BLR01" not in shown and "invoices: DEL02: " in shown and "sale_orders: DEL02: " in shown, out
    history = shown.split("last failures in export_job_status:\n")[1].splitlines()
    assert history and all("DEL02" in line and "FAILED" in line for line in history), out
    assert all(any(f" {name} DEL02 " in line for line in history) for name in ("Sale Orders", "Invoice")), out
    assert cli("status", "--export", "Invoice", "--facility", "DEL02") == 0
    shown = capsys.readouterr().out.split("last run (uniware_runs)")[0]
    assert "sale_orders" not in shown and "Sale Orders" not in shown and "invoices: DEL02: " in shown, shown
    for asked, said in ((["--export", "Bogus"], "'Bogus' is no export of this pipeline"),
                        (["--export", "sale_order"], "did you mean 'sale_orders'?"),
                        (["--export", "Return Invoices"], "(table return_invoices) has no cursor or job in the state"),
                        (["--facility", "MUM03"], "'MUM03' has no cursor or job in the state of any export"),
                        (["--export", "Invoice", "--facility", "blr01"], "did you mean 'BLR01'?")):
        assert cli("status", *asked) == 2, asked
        out, err = capsys.readouterr()
        assert out == "" and err.startswith("configuration error: ") and said in err, (asked, err)
        assert "state has invoices, sale_orders" in err or "facilities there: BLR01, DEL02" in err, err


def test_a_pipeline_moved_between_places_goes_on_from_each_places_own_state(
        cli: Any, sim: UniwareSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pipeline loads into dataset xa, then xb (a dataset another pipeline loads too), then xa again, then
    xb again. Each move went on from the local cursors of the place it came from: moved back, xb never got
    the days between its two loads; moved first into xb, it got only the days after xa's cursor (red team
    helper 114; exit 0 every time). Each place now goes on from the state it holds for the pipeline, or from
    start_date when it holds none: both datasets hold every order their last run could see."""
    import duckdb

    database = tmp_path / "places.duckdb"
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(database))
    monkeypatch.setenv("SOURCES__UNIWARE__START_DATE", (TEST_NOW - timedelta(days=12)).isoformat())
    orders = ("--export", "Sale Orders", "--facility", "BLR01")
    assert cli("--pipeline-name", "other", "--dataset", "xb", "--export", "Return Invoices", "--facility",
               "BLR01") == 0
    passed = timedelta(0)
    for days, dataset in ((0, "xa"), (5, "xb"), (5, "xa"), (10, "xb")):
        sim.clock.advance(timedelta(days=days))
        passed += timedelta(days=days)
        assert cli(*orders, "--dataset", dataset, now=TEST_NOW + passed) == 0

    def keys(dataset: str) -> set[tuple[str, str]]:
        with duckdb.connect(str(database), read_only=True) as connection:
            rows = connection.execute(f"SELECT sale_order_code, sale_order_item_code FROM {dataset}.sale_orders")
            return {(str(code), str(item)) for code, item in rows.fetchall()}
    earlier, later = keys("xa"), keys("xb")
    assert earlier and not earlier - later, sorted(earlier - later)[:5]
    assert len(later) > len(earlier)


@pytest.mark.parametrize("moves", ["database", "dataset"])
def test_a_pipeline_moved_from_python_goes_on_from_each_places_own_state(
        sim: UniwareSimulator, tmp_path: Path, moves: str) -> None:
    """The same moves made from Python (`run_exports` with a pipeline of another destination or dataset),
    and between two DuckDB files of one dataset name (another database, which the destination's type and
    name do not tell apart): each went on from the other place's cursors (red team helper 115)."""
    import duckdb

    from tests.harness import FAST_POLLING
    from uniware_source import ManualClock, run_exports

    settings: dict[str, Any] = {
        "base_url": sim.base_url, "username": sim.config.username, "password": sim.config.password,
        "download_dir": str(tmp_path), "exports": ["Sale Orders"], "facilities": ["BLR01"],
        "start_date": (TEST_NOW - timedelta(days=12)).isoformat(), **FAST_POLLING}
    places = {"database": (("a.duckdb", "orders"), ("b.duckdb", "orders")),
              "dataset": (("a.duckdb", "xa"), ("a.duckdb", "xb"))}[moves]
    for days, (database, dataset) in zip((0, 5, 5, 10), (*places, *places), strict=True):
        sim.clock.advance(timedelta(days=days))
        pipeline = dlt.pipeline("api", pipelines_dir=str(tmp_path / "pl"), dataset_name=dataset,
                                destination=dlt.destinations.duckdb(str(tmp_path / database)))
        assert not run_exports(pipeline, clock=ManualClock(sim.clock.now), **settings).problems

    def keys(database: str, dataset: str) -> set[str]:
        with duckdb.connect(str(tmp_path / database), read_only=True) as connection:
            rows = connection.execute(f"SELECT sale_order_item_code FROM {dataset}.sale_orders")
            return {str(item) for (item,) in rows.fetchall()}

    def seen(days: int) -> set[str]:
        """The items updated from start_date to the last run at a place (whatever they were updated to since)."""
        return {r["Sale Order Item Code"] for r in sim.truth("Sale Orders", facility="BLR01", date_filter="updatedOn",
                                                              start=TEST_NOW - timedelta(days=12),
                                                              end=TEST_NOW + timedelta(days=days, hours=-1))}
    # moved back to a place new to it the run before, it went on from there (red team helper 117: a gap)
    earlier, later = keys(*places[0]), keys(*places[1])
    assert not seen(10) - earlier, sorted(seen(10) - earlier)[:5]  # the first place's last run: day 10
    assert not seen(20) - later, sorted(seen(20) - later)[:5]
    assert len(later) > len(earlier)
