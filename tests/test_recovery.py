"""A package left by a killed load is loaded again with no row lost or twice, whatever moment of dlt's
load the kill hit (pipeline_run/recovery.py), on a real DuckDB with dlt's real loader."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from uniware_source.pipeline_run.recovery import merge_on_reload

from .recovery_child import export, pipeline

REPO = Path(__file__).resolve().parent.parent


def killed_child(workdir: Path, case: str) -> None:
    child = subprocess.run([sys.executable, "-m", "tests.recovery_child", str(workdir), case],
                           env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=workdir, capture_output=True,
                           text=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]


def rows_per_job(workdir: Path, table: str) -> list[Any]:
    with pipeline(str(workdir)).sql_client() as client:
        return list(map(tuple, client.execute_sql(
            f"SELECT _uniware_job_code, COUNT(*) FROM {table} GROUP BY 1 ORDER BY 1") or []))


def test_a_fast_path_table_beside_a_staged_one_keeps_the_staged_rows(tmp_path: Path) -> None:
    """The fast-path table gets its own fresh staging; the other table's staging, holding a finished
    file of the package and waiting for its merge, is left alone."""
    killed_child(tmp_path, "mixed")
    p = pipeline(str(tmp_path))
    assert p.has_pending_data
    merge_on_reload(p)
    p.load()
    assert rows_per_job(tmp_path, "a") == [("A1", 5)]
    assert rows_per_job(tmp_path, "b") == [("B0", 2), ("B1", 3), ("B2", 4)]


@pytest.mark.parametrize("case", ["marker-parquet", "marker-sql"])
def test_a_job_dlt_recorded_as_finished_keeps_its_rows(tmp_path: Path, case: str) -> None:
    """dlt does not run a job again once its completion marker is written: its rows stay (a data
    file in staging, or the merge that already ran)."""
    killed_child(tmp_path, case)
    p = pipeline(str(tmp_path))
    merge_on_reload(p)
    p.load()
    assert rows_per_job(tmp_path, "orders") == [("J0", 2), ("J1", 3)]


@pytest.mark.parametrize("staging_dataset", ["new", "made by an earlier load"])
def test_a_package_stopped_before_its_load_began_creates_every_staging_table_it_needs(
        tmp_path: Path, staging_dataset: str) -> None:
    """A package normalized, then stopped before its load began: `b` merges through a staging table never
    made, `a` took the fast path and is declared `merge` again. Its fresh staging must not record the
    package's schema in the staging dataset with `b`'s table missing: dlt would then take the staging
    dataset as up to date and fail on `b` on every run (a pipeline wedged)."""
    workdir = str(tmp_path)
    p = pipeline(workdir)
    if staging_dataset != "new":
        p.run(export(workdir, "c", [("C0", 1)]))  # through staging: the staging dataset and its version table
    p.extract([export(workdir, "b", [("B1", 3), ("B2", 4)]), export(workdir, "a", [("A1", 5)], fast=True)])
    p.normalize()
    merge_on_reload(p)
    p.load()
    assert rows_per_job(tmp_path, "a") == [("A1", 5)]
    assert rows_per_job(tmp_path, "b") == [("B1", 3), ("B2", 4)]
