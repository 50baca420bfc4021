"""Child process for tests/test_recovery.py: loads a package into DuckDB and dies (SIGKILL) at a chosen
moment of dlt's load, leaving the package for the next run.

    python -m tests.recovery_child WORKDIR mixed|marker-parquet|marker-sql
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.parquet as pq
from dlt.common.storages.load_package import PackageStorage
from dlt.common.storages.load_storage import LoadStorage

from uniware_source.conversion.load_files import file_import

MERGE: Any = {"disposition": "merge", "strategy": "delete-insert"}
SCHEMA = pa.schema([("_uniware_job_code", pa.string()), ("x", pa.int64())])


def pipeline(workdir: str) -> dlt.Pipeline:
    return dlt.pipeline("recovery", pipelines_dir=f"{workdir}/pipelines", dataset_name="ds",
                        destination=dlt.destinations.duckdb(f"{workdir}/db.duckdb"))


def job_file(workdir: str, table: str, code: str, rows: int) -> Path:
    path = Path(workdir) / f"{table}_{code}.parquet"
    pq.write_table(pa.table({"_uniware_job_code": [code] * rows, "x": list(range(rows))}), path)
    return path


def export(workdir: str, table: str, jobs: list[tuple[str, int]], fast: bool = False) -> Any:
    """A keyless export table (merged on the job code) whose jobs are Parquet file imports; `fast`: the
    package goes straight into the table, as the connector's fast path does."""
    @dlt.resource(name=table, write_disposition=MERGE, merge_key="_uniware_job_code")
    def rows() -> Iterator[Any]:
        for code, count in jobs:
            yield file_import(job_file(workdir, table, code, count), "parquet", count, SCHEMA,
                              {"write_disposition": "append"} if fast else None)
    return rows


def mixed(workdir: str) -> None:
    """`b` goes through staging (one file done, its merge queued); `a` took the fast path and dies
    after its COPY committed, before dlt recorded it."""
    p = pipeline(workdir)
    p.run(export(workdir, "b", [("B0", 2)]))
    p.extract([export(workdir, "b", [("B1", 3), ("B2", 4)]), export(workdir, "a", [("A1", 5)], fast=True)])
    p.normalize()
    first_b: list[str] = []
    listed = LoadStorage.list_new_jobs

    def b_then_a(self: LoadStorage, load_id: str) -> list[str]:
        jobs = sorted(listed(self, load_id))
        b_files = [j for j in jobs if os.path.basename(j).startswith("b.") and j.endswith(".parquet")]
        if b_files and not first_b:
            first_b.append(os.path.basename(b_files[0]))
        return sorted(jobs, key=lambda j: (0 if os.path.basename(j) in first_b else
                                           1 if os.path.basename(j).startswith("a.") else 2, j))

    LoadStorage.list_new_jobs = b_then_a  # type: ignore[method-assign]
    recorded = PackageStorage.save_pending_transition

    def die_on_a(self: PackageStorage, load_id: str, file_name: str, *args: Any, **kwargs: Any) -> Any:
        if file_name.startswith("a."):
            os.kill(os.getpid(), signal.SIGKILL)
        return recorded(self, load_id, file_name, *args, **kwargs)

    PackageStorage.save_pending_transition = die_on_a  # type: ignore[method-assign]
    p.load()


def marker(workdir: str, extension: str) -> None:
    """A staged job (or its merge) finished and dlt wrote its completion marker; killed before dlt
    moved the file: dlt will not run it again."""
    p = pipeline(workdir)
    p.run(export(workdir, "orders", [("J0", 2)]))
    complete = PackageStorage.complete_job

    def die_when_recorded(self: PackageStorage, load_id: str, file_name: str) -> Any:
        if file_name.startswith("orders.") and file_name.endswith(extension):
            os.kill(os.getpid(), signal.SIGKILL)
        return complete(self, load_id, file_name)

    PackageStorage.complete_job = die_when_recorded  # type: ignore[method-assign]
    p.run(export(workdir, "orders", [("J1", 3)]))


if __name__ == "__main__":
    directory, case = sys.argv[1], sys.argv[2]
    if case == "mixed":
        mixed(directory)
    else:
        marker(directory, "." + case.removeprefix("marker-"))
    sys.exit("not killed")
