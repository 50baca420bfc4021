"""The README's benchmark script runs (a small smoke run; timings are reported, never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_benchmark_script_smoke_run(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "pipelines" / "benchmark.py"), "--rows", "20000", "--repeat", "1",
         "--latency", "2", "--jobs", "2", "--workdir", str(tmp_path / "bench")],
        capture_output=True, text=True, timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "bench" / "results.json").read_text())
    [size] = results["sizes"]
    assert size["native"]["rows"] == size["connector"]["rows"] > 15000  # the same file, fully loaded
    assert size["connector"]["peak_rss_mb"] > 0 and size["ratio"] > 0
    assert size["pg_native"]["rows"] == size["pg_connector"]["rows"] == size["connector"]["rows"]
    assert size["ratio_postgres"] > 0 and "PostgreSQL COPY s" in done.stdout
    assert results["concurrency"]["jobs"] == 2 and results["concurrency"]["wall_seconds"] > 0
    assert "| rows |" in done.stdout and "Concurrency:" in done.stdout
