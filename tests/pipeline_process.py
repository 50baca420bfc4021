"""Runs the pipeline script in a child process with the simulator's fixed 'now' (kill tests).

    python -m tests.pipeline_process <ISO now> -- <pipeline script arguments>

Settings come from SOURCES__UNIWARE__* environment variables, as for users. With
UNIWARE_TEST_PAUSE_AT_LOAD_OF=<table>, the first load of a package with rows of that table stops before
it begins (past the run's lock check) and says so on stderr, until a line comes on stdin: a process paused
there, for the test to act meanwhile. UNIWARE_TEST_PAUSE_AT_NORMALIZE_OF=<table> does the same before dlt
normalizes such a package.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from typing import Any

from dlt.common.storages.load_package import ParsedLoadJobFileName
from dlt.pipeline.pipeline import Pipeline

from uniware_source.cli import main
from uniware_source.clock import SystemClock


class FixedNow(SystemClock):
    """Real waiting, a fixed 'now' (the simulator's clock stands still in tests)."""

    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now


def pause_at_load_of(table: str) -> None:
    load = Pipeline.load
    paused: list[bool] = []

    def load_paused(pipeline: Pipeline, *args: Any, **kwargs: Any) -> Any:
        if not paused and any(job.job_file_info.table_name == table
                              for load_id in pipeline.list_normalized_load_packages()
                              for job in pipeline.get_load_package_info(load_id).jobs["new_jobs"]):
            paused.append(True)
            print(f"paused before loading {table}", file=sys.stderr, flush=True)
            sys.stdin.readline()
        return load(pipeline, *args, **kwargs)

    Pipeline.load = load_paused  # type: ignore[method-assign,assignment]


def pause_at_normalize_of(table: str) -> None:
    """As pause_at_load_of, before dlt normalizes a package holding files of `table` (it is extracted only)."""
    normalize = Pipeline.normalize
    paused: list[bool] = []

    def normalize_paused(pipeline: Pipeline, *args: Any, **kwargs: Any) -> Any:
        extracted = pipeline._get_normalize_storage().extracted_packages
        if not paused and any(ParsedLoadJobFileName.parse(os.path.basename(job)).table_name == table
                              for load_id in pipeline.list_extracted_load_packages()
                              for job in extracted.list_new_jobs(load_id)):
            paused.append(True)
            print(f"paused before normalizing {table}", file=sys.stderr, flush=True)
            sys.stdin.readline()
        return normalize(pipeline, *args, **kwargs)

    Pipeline.normalize = normalize_paused  # type: ignore[method-assign,assignment]


if __name__ == "__main__":
    if table := os.environ.get("UNIWARE_TEST_PAUSE_AT_LOAD_OF"):
        pause_at_load_of(table)
    if table := os.environ.get("UNIWARE_TEST_PAUSE_AT_NORMALIZE_OF"):
        pause_at_normalize_of(table)
    separator = sys.argv.index("--")
    sys.exit(main(sys.argv[separator + 1:], clock=FixedNow(datetime.fromisoformat(sys.argv[1]))))
