"""A process killed after extraction, before its load finished: the next run completes the pending
load package, and nothing is loaded twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from tests.simulator_fixtures import TEST_NOW
from uniware_simulator import UniwareSimulator

from .harness import FAST_POLLING, Harness

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("kill_at", ["after_normalize", "normalize_commit"])
def test_killed_before_load_completes_on_the_next_run(uniware_simulator: UniwareSimulator, tmp_path: Path,
                                                      kill_at: str) -> None:
    """Killed once the package is normalized; or inside dlt's normalize, between moving the package to
    `normalized` and deleting its extracted copy (dlt would normalize the copy again and never get past
    renaming onto the package that is there: every later run failed)."""
    sim = uniware_simulator
    settings = {"workdir": str(tmp_path), "now": TEST_NOW.isoformat(), "base_url": sim.base_url,
                "username": sim.config.username, "password": sim.config.password, "kill_at": kill_at,
                "exports": ["Return Invoices"], "facilities": ["BLR01"], **FAST_POLLING}
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.run([sys.executable, "-m", "tests.crash_during_load", json.dumps(settings)], env=env,
                           cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert child.returncode == -signal.SIGKILL, child.stderr
    [first_job] = sim.jobs.all()
    assert first_job.file is not None

    harness = Harness(sim, tmp_path, name="crash")
    assert harness.pipeline.has_pending_data  # the normalized package waits
    extracted = harness.pipeline._get_normalize_storage().extracted_packages.list_packages()
    assert bool(extracted) == (kill_at == "normalize_commit")
    assert not harness.has_table("return_invoices")
    harness.run(exports=["Return Invoices"], facilities=["BLR01"])

    rows = harness.sql("SELECT invoice_code, return_invoice_code, item_sku_code, _uniware_job_code "
                       "FROM {ds}.return_invoices")
    assert len(rows) == len({r[:3] for r in rows})  # no duplicates
    assert sum(1 for r in rows if r[3] == first_job.code) > 0
    truth = sim.truth("Return Invoices", facility="BLR01", date_filter="addedOn",
                      start=TEST_NOW - timedelta(days=30), end=TEST_NOW)
    assert len(rows) == len([r for r in truth if r["Return Date"] < TEST_NOW])
    loaded = [r for r in harness.history(first_job.code) if r["status"] == "LOADED"]
    assert len(loaded) == 1
    assert sim.requests.count("create") == 2  # the first job, then the next run's lookback window
    assert not harness.pipeline.has_pending_data
