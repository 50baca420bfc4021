"""A pipeline process killed (SIGKILL) or interrupted (SIGINT) while its job is pending resumes that
job on the next run: no new job for the window, its rows loaded once, its history exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.simulator_fixtures import TEST_NOW
from uniware_simulator import STUCK, UniwareSimulator

from .harness import Harness

REPO = Path(__file__).resolve().parent.parent


def start_pipeline(sim: UniwareSimulator, workdir: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCES__UNIWARE__")}
    env.update({
        "PYTHONPATH": str(REPO),
        "SOURCES__UNIWARE__BASE_URL": sim.base_url,
        "SOURCES__UNIWARE__USERNAME": sim.config.username,
        "SOURCES__UNIWARE__PASSWORD": sim.config.password,
        "SOURCES__UNIWARE__EXPORTS": '["Sale Orders"]',
        "SOURCES__UNIWARE__FACILITIES": "BLR01",
        "SOURCES__UNIWARE__START_DATE": "2026-04-01",
        "SOURCES__UNIWARE__POLL_INITIAL_SECONDS": "0.02",
        "SOURCES__UNIWARE__POLL_MAX_SECONDS": "0.05",
    })
    return subprocess.Popen(
        [sys.executable, "-m", "tests.pipeline_process", TEST_NOW.isoformat(), "--",
         "--pipelines-dir", str(workdir / "pipelines"), "--pipeline-name", "resume", "--quiet"],
        env=env, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("stop_signal", [signal.SIGKILL, signal.SIGINT])
def test_interrupted_run_resumes_the_pending_job(uniware_simulator: UniwareSimulator, tmp_path: Path,
                                                 stop_signal: signal.Signals) -> None:
    sim = uniware_simulator
    sim.inject_job_fate(STUCK)
    process = start_pipeline(sim, tmp_path)
    try:
        polling = sim.requests.wait_for(lambda requests: sum(r.endpoint == "status" for r in requests) >= 3,
                                        timeout=120)
        assert polling, "the pipeline never polled its job"
        process.send_signal(stop_signal)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    if stop_signal == signal.SIGINT:
        assert process.returncode == 130 and "next run resumes them" in stderr
    else:
        assert process.returncode == -signal.SIGKILL
    [job] = sim.jobs.all()
    assert job.file is None or job.finished is False  # still pending when the process died

    harness = Harness(sim, tmp_path, name="resume")
    entries = harness.ledger_entries("sale_orders")
    assert [e["job_code"] for e in entries] == [job.code]  # the job code was committed before waiting

    sim.release_stuck_jobs()
    harness.run(exports=["Sale Orders"], facilities=["BLR01"], start_date="2026-04-01")
    assert sim.requests.count("create") == 1  # no new job for the window
    assert job.file is not None
    assert harness.count("sale_orders") == job.file.rows > 0
    history = harness.history(job.code)
    assert Counter(r["event_id"] for r in history).most_common(1)[0][1] == 1
    statuses = [r["status"] for r in history]
    assert statuses[0] == "CREATED" and statuses[-2:] == ["COMPLETE", "LOADED"]
    assert statuses.count("LOADED") == 1
    assert harness.cursors("sale_orders") == {"BLR01": TEST_NOW.isoformat()}
