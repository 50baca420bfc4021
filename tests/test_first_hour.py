"""A real user's first hour (issue 13), through the console script's `main` against the simulator."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import dlt
import pytest

from pipelines.uniware_pipeline import main
from tests.pipeline_process import FixedNow
from uniware_source.simulator import UniwareSimulator
from uniware_source.simulator.pytest_plugin import TEST_NOW, fast_config


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[UniwareSimulator]:
    with UniwareSimulator(fast_config(files_dir=tmp_path / "sim")) as simulator:
        yield simulator


@pytest.fixture
def cli(sim: UniwareSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """`cli(*args, now=...)` runs main in-process with the simulator's settings in the environment."""
    for name in [k for k in __import__("os").environ if k.startswith("SOURCES__UNIWARE__")]:
        monkeypatch.delenv(name)
    for key, value in {"BASE_URL": sim.base_url, "USERNAME": sim.config.username,
                       "PASSWORD": sim.config.password, "POLL_INITIAL_SECONDS": "0.01",
                       "POLL_MAX_SECONDS": "0.05", "REQUEST_BACKOFF_FACTOR": "0.01",
                       "DOWNLOAD_DIR": str(tmp_path)}.items():
        monkeypatch.setenv(f"SOURCES__UNIWARE__{key}", value)
    monkeypatch.chdir(tmp_path)

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
    assert cli("--facility", "BLR99") == 1  # a typo: Uniware answers 403
    assert set(creates(sim)) == {"BLR99"}
    capsys.readouterr()
    before = len(creates(sim))
    assert cli("--facility", "BLR01") == 0  # BLR99's window is set aside, not retried, no exit 1
    assert set(creates(sim)[before:]) == {"BLR01"}
    err = capsys.readouterr().err
    print(err)
    assert err.count("set aside") == 1 and "BLR99" in err
    state = ledger(tmp_path)
    assert any(e["facility"] == "BLR99" for e in state["entries"])  # kept: configuring it again resumes it
    assert "BLR99" in state["cursors"]


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
