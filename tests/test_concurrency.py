"""Jobs run together: created up front, polled side by side, files loaded while other jobs still wait."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

from uniware_simulator import STUCK, UniwareSimulator

from .harness import Harness


def test_files_load_while_other_jobs_still_wait(uniware_simulator: UniwareSimulator, tmp_path: Path) -> None:
    sim = uniware_simulator
    harness = Harness(sim, tmp_path)
    sim.inject_job_fate(STUCK, match=lambda report, facility: facility == "MUM03")

    def release_after_first_download() -> None:
        # MUM03's job may only finish once another job's file was fetched: the run can only end if
        # downloads happen while a job is still pending
        if sim.requests.wait_for(lambda requests: any(r.endpoint == "download" for r in requests), timeout=120):
            sim.release_stuck_jobs()

    helper = threading.Thread(target=release_after_first_download, daemon=True)
    helper.start()
    harness.run(exports=["Return Invoices", "Invoice"])
    helper.join(timeout=5)

    log = list(sim.requests)
    stuck = next(j for j in sim.jobs.all() if j.facility == "MUM03" and j.report.name == "Return Invoices")
    first_download = next(i for i, r in enumerate(log) if r.endpoint == "download")
    first_status = next(i for i, r in enumerate(log) if r.endpoint == "status")
    assert all(i < first_status for i, r in enumerate(log) if r.endpoint == "create")  # created up front
    assert any(r.endpoint == "status" and r.body["jobCode"] == stuck.code for r in log[first_download:])
    polled = [r.body["jobCode"] for r in log if r.endpoint == "status"]
    switches = sum(1 for a, b in itertools.pairwise(polled) if a != b)
    assert switches > len(set(polled))  # polls of different jobs interleave, not one job after another
    assert harness.count("return_invoices") > 0 and harness.count("invoices") > 0
