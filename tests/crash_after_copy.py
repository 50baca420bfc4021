"""Child process for the crash-after-COPY test: a run whose first data file is COPYed into its empty
table (the fast path), after which the process dies (SIGKILL) before dlt records that job as done.

    python -m tests.crash_after_copy '<json settings>'
"""

from __future__ import annotations

import json
import os
import signal
import sys
from datetime import datetime
from typing import Any

import dlt
from dlt.destinations.impl.duckdb.duck import DuckDbCopyJob
from dlt.destinations.impl.postgres.postgres import PostgresCsvCopyJob

from tests.pipeline_process import FixedNow
from uniware_source import run_exports


def die_after_copy(job_class: Any, table: str) -> None:
    """`job_class.run` COPYs (and commits) as usual, then the process is killed, for `table`'s files."""
    run = job_class.run

    def run_then_die(self: Any) -> None:
        run(self)
        if self._parsed_file_name.table_name == table:
            os.kill(os.getpid(), signal.SIGKILL)

    job_class.run = run_then_die


if __name__ == "__main__":
    settings = json.loads(sys.argv[1])
    workdir, name, dataset = settings.pop("workdir"), settings.pop("name"), settings.pop("dataset")
    postgres, table = settings.pop("postgres"), settings.pop("table")
    clock = FixedNow(datetime.fromisoformat(settings.pop("now")))
    destination = (dlt.destinations.postgres(postgres) if postgres
                   else dlt.destinations.duckdb(f"{workdir}/{name}.duckdb"))
    die_after_copy(PostgresCsvCopyJob if postgres else DuckDbCopyJob, table)
    pipeline = dlt.pipeline(name, pipelines_dir=f"{workdir}/pipelines", dataset_name=dataset, destination=destination)
    run_exports(pipeline, clock=clock, **settings)
    sys.exit("the load finished: the COPY job was never run")
