"""Child process for the crash-after-extract test: a run stopped (SIGKILL or SIGTERM) the moment dlt has
committed its `nth` extracted package, before dlt saves the pipeline's schema and state that go with it.

    python -m tests.crash_after_extract '<json settings>'
"""

from __future__ import annotations

import json
import os
import signal
import sys
from datetime import datetime
from typing import Any

import dlt
from dlt.extract.storage import ExtractStorage

from tests.pipeline_process import FixedNow
from uniware_source import run_exports

if __name__ == "__main__":
    settings = json.loads(sys.argv[1])
    workdir, name, dataset = settings.pop("workdir"), settings.pop("name"), settings.pop("dataset")
    postgres, nth, stop = settings.pop("postgres"), settings.pop("nth"), signal.Signals[settings.pop("signal")]
    clock = FixedNow(datetime.fromisoformat(settings.pop("now")))
    commit = ExtractStorage.commit_new_load_package
    commits: list[str] = []

    def commit_then_stop(self: ExtractStorage, load_id: str, schema: Any) -> None:
        commit(self, load_id, schema)
        commits.append(load_id)
        if len(commits) == nth:
            os.kill(os.getpid(), stop)

    ExtractStorage.commit_new_load_package = commit_then_stop  # type: ignore[method-assign]
    destination = (dlt.destinations.postgres(postgres) if postgres
                   else dlt.destinations.duckdb(f"{workdir}/{name}.duckdb"))
    pipeline = dlt.pipeline(name, pipelines_dir=f"{workdir}/pipelines", dataset_name=dataset, destination=destination)
    run_exports(pipeline, clock=clock, **settings)
    sys.exit("the run finished: it was never stopped")
