"""The pipeline script as users run it: a subprocess configured by environment variables."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.simulator_fixtures import fast_config
from uniware_simulator import UniwareSimulator

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "pipelines" / "uniware_pipeline.py"


@pytest.fixture
def live_simulator(tmp_path: Path) -> Iterator[UniwareSimulator]:
    """A simulator whose 'now' is the real now, as a subprocess with the real clock needs."""
    with UniwareSimulator(fast_config(start=None, files_dir=tmp_path / "sim")) as sim:
        yield sim


def env_for(sim: UniwareSimulator, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCES__UNIWARE__")}
    env.update({
        "SOURCES__UNIWARE__BASE_URL": sim.base_url,
        "SOURCES__UNIWARE__USERNAME": sim.config.username,
        "SOURCES__UNIWARE__PASSWORD": sim.config.password,
        "SOURCES__UNIWARE__POLL_INITIAL_SECONDS": "0.01",
        "SOURCES__UNIWARE__POLL_MAX_SECONDS": "0.05",
        **extra,
    })
    return env


def run_script(args: list[str], env: dict[str, str], cwd: Path,
               timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def test_script_loads_with_environment_configuration(live_simulator: UniwareSimulator, tmp_path: Path) -> None:
    env = env_for(live_simulator, SOURCES__UNIWARE__EXPORTS='["Sale Orders", "Item Master"]',
                  SOURCES__UNIWARE__FACILITIES="BLR01,DEL02")
    done = run_script(["--pipelines-dir", str(tmp_path / "pl"), "--pipeline-name", "cli"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Sale Orders" in done.stdout and "Item Master" in done.stdout and "LOADED" in done.stdout
    assert "created job" in done.stderr and "COMPLETE" in done.stderr  # progress lines
    with duckdb.connect(str(tmp_path / "cli.duckdb"), read_only=True) as db:
        assert db.execute("SELECT COUNT(*) FROM uniware.sale_orders").fetchall()[0][0] > 100
        facilities = db.execute("SELECT DISTINCT _uniware_facility FROM uniware.sale_orders ORDER BY 1").fetchall()
        assert facilities == [("BLR01",), ("DEL02",)]
    assert live_simulator.config.password not in done.stdout + done.stderr


def test_script_flags_override_configuration(live_simulator: UniwareSimulator, tmp_path: Path) -> None:
    env = env_for(live_simulator, SOURCES__UNIWARE__EXPORTS='["Sale Orders"]')
    done = run_script(["--pipelines-dir", str(tmp_path / "pl"), "--export", "Return Invoices", "--facility",
                       "MUM03", "--quiet"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "created job" not in done.stderr
    assert {r.header("Facility") for r in live_simulator.requests.where("create")} == {"MUM03"}
    assert {r.body["exportJobTypeName"] for r in live_simulator.requests.where("create")} == {"Return Invoices"}


def test_export_flag_picks_the_configured_export_with_its_settings(live_simulator: UniwareSimulator,
                                                                   tmp_path: Path) -> None:
    """`--export NAME` picks an export; one that is configured keeps its settings (its date filter, its
    table), whether named by report or by table; one that is not gets the catalog's defaults."""
    configured = ('[{"name": "Sale Orders", "date_filter": "addedOn", "table_name": "orders_by_creation"}, '
                  '"Item Master"]')
    env = env_for(live_simulator, SOURCES__UNIWARE__EXPORTS=configured, SOURCES__UNIWARE__FACILITIES="BLR01")
    for picked in ("Sale Orders", "orders_by_creation"):
        before = len(live_simulator.requests.where("create"))
        done = run_script(["--pipelines-dir", str(tmp_path / "pl"), "--pipeline-name", "picked", "--export",
                           picked, "--quiet"], env, tmp_path)
        assert done.returncode == 0, done.stderr
        made = live_simulator.requests.where("create")[before:]
        assert made and {r.body["exportJobTypeName"] for r in made} == {"Sale Orders"}
        assert {f["id"] for r in made for f in r.body["exportFilters"]} == {"addedOn"}, picked
    with duckdb.connect(str(tmp_path / "picked.duckdb"), read_only=True) as db:
        tables = {t for (t,) in db.execute("SELECT table_name FROM information_schema.tables "
                                           "WHERE table_schema = 'uniware'").fetchall()}
    assert "orders_by_creation" in tables and "sale_orders" not in tables and "item_master" not in tables
    before = len(live_simulator.requests.where("create"))
    done = run_script(["--pipelines-dir", str(tmp_path / "pl"), "--pipeline-name", "other", "--export",
                       "Return Invoices", "--quiet"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    made = live_simulator.requests.where("create")[before:]
    assert {r.body["exportJobTypeName"] for r in made} == {"Return Invoices"}


def test_script_exit_code_2_names_the_bad_setting(live_simulator: UniwareSimulator, tmp_path: Path) -> None:
    env = env_for(live_simulator, SOURCES__UNIWARE__WINDOW_DAYS="200")
    done = run_script(["--pipelines-dir", str(tmp_path / "pl")], env, tmp_path)
    assert done.returncode == 2
    assert "window_days" in done.stderr and "SOURCES__UNIWARE__WINDOW_DAYS" in done.stderr


def test_a_toml_file_that_does_not_parse_is_a_setting_error_naming_it(live_simulator: UniwareSimulator,
                                                                       tmp_path: Path) -> None:
    """A table given twice in .dlt/config.toml (a second [sources.uniware] added for exports): exit 2,
    one line naming the file and the line, not dlt's bare exception."""
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "config.toml").write_text('[sources.uniware]\nfacilities = "BLR01"\n\n'
                                                   '[sources.uniware]\nexports = ["Sale Orders"]\n')
    for argv in (["--pipelines-dir", str(tmp_path / "pl")], ["plan", "--pipelines-dir", str(tmp_path / "pl")]):
        done = run_script(argv, env_for(live_simulator), tmp_path)
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and str(tmp_path / ".dlt" / "config.toml") in lines[0], lines
        assert 'Key "uniware" already exists' in lines[0] and "line 5" in lines[0]


def test_console_script_is_installed() -> None:
    console = Path(sys.executable).parent / "uniware-pipeline"
    assert console.exists(), "pip install -e . installs the console script"
    done = subprocess.run([str(console), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "--destination" in done.stdout


def test_demo_loads_and_answers(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCES__UNIWARE__")}
    env["SOURCES__UNIWARE__FACILITIES"] = "SAPL-WH2"  # the user's real tenant, configured: not the demo's
    done = run_script(["--demo"], env, tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    headings = ("Orders and revenue per channel", "Order-item status funnel", "Export jobs from the status history")
    for heading in headings:
        assert heading in done.stdout
    with duckdb.connect(str(tmp_path / ".demo" / "uniware_demo.duckdb"), read_only=True) as db:
        tables = {t for (t,) in db.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'uniware'")
                  .fetchall()}
        assert {"sale_orders", "invoices", "return_invoices", "inventory_snapshot", "item_master",
                "export_job_status"} <= tables
        assert db.execute("SELECT COUNT(DISTINCT run_id) FROM uniware.export_job_status").fetchall()[0][0] == 2


def test_first_run_mistakes_are_setting_errors_named_with_their_fix(live_simulator: UniwareSimulator,
                                                                    tmp_path: Path) -> None:
    """Exit 2 and one whole line naming the fix, before any job is made: the password put in config.toml
    (dlt refuses secrets there), a destination name misspelled, a DuckDB file named like its dataset
    (DuckDB's binder cannot tell `x.x` apart: every load would fail after the jobs were made), a
    facility's display name given for its code (the hint at the end of the line is not cut)."""
    env = env_for(live_simulator, SOURCES__UNIWARE__FACILITIES="BLR01")
    common = ["--pipelines-dir", str(tmp_path / "pl"), "--pipeline-name", "first"]
    (tmp_path / ".dlt").mkdir()
    password = live_simulator.config.password
    (tmp_path / ".dlt" / "config.toml").write_text(f'[sources.uniware]\npassword = "{password}"\n')
    secretless = {k: v for k, v in env.items() if k != "SOURCES__UNIWARE__PASSWORD"}
    cases = [
        (common, secretless, ["'sources.uniware.password' is a secret", ".dlt/secrets.toml",
                              "SOURCES__UNIWARE__PASSWORD"]),
        ([*common, "--destination", "postgre"], env, ["--destination 'postgre' is not a dlt destination",
                                                      "did you mean 'postgres'"]),
        (common, {**env, "DESTINATION_TYPE": "duckbd"}, ["--destination 'duckbd' is not a dlt destination",
                                                          "did you mean 'duckdb'", "DESTINATION_TYPE"]),
        ([*common, "--dataset", "first"], env, ["setting 'dataset'", "first.duckdb", "--dataset"]),
        ([*common[:2], "--pipeline-name", "my_data", "--dataset", "my-data"], env,  # dlt writes it my_data
         ["setting 'dataset'", "my_data.duckdb"]),
        ([*common, "--facility", "Bengaluru Central Warehouse"], env, ["a display name is not a code"]),
    ]
    for argv, case_env, said in cases:
        done = run_script(argv, case_env, tmp_path)
        lines = [line for line in done.stderr.strip().splitlines() if "|dlt|" not in line]
        assert done.returncode == 2 and len(lines) == 1, (argv, done.stderr)
        assert all(text in lines[0] for text in said), (argv, lines[0])
        assert "Traceback" not in done.stderr and live_simulator.config.password not in done.stderr + done.stdout
        (tmp_path / ".dlt" / "config.toml").unlink(missing_ok=True)  # the next cases have the password right
    assert live_simulator.requests.count("create") == 0
