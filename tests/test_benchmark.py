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
    cases = {(c["destination"], c["export"]): c for c in size["cases"]}
    assert set(cases) == {(d, e) for d in ("duckdb", "postgres") for e in ("merge", "append")}
    for case in cases.values():  # the same file, fully loaded by each
        assert case["native"]["rows"] == case["connector"]["rows"] == size["rows"] > 15000
        assert case["connector"]["peak_rss_mb"] > 0
    assert set(size["ratios"]) == {"duckdb_merge", "duckdb_append", "postgres_merge", "postgres_append"}
    assert size["duckdb_tuned"]["rows"] == size["rows"] and size["load_average"]
    assert results["concurrency"]["jobs"] == 2 and results["concurrency"]["wall_seconds"] > 0
    assert "| rows | CSV MB | destination | export |" in done.stdout and "PostgreSQL COPY" in done.stdout
    assert "| postgres | append |" in done.stdout and "Concurrency:" in done.stdout
