"""Child process for the crash test: submit, extract and normalize the collect step, then die (SIGKILL)
before loading, leaving a normalized load package behind. With `"kill_at": "normalize_commit"`, it
dies inside dlt's normalize, after the package moved to `normalized` and before the extracted copy
was deleted: both are left behind.

    python -m tests.crash_during_load '<json settings>'
"""

from __future__ import annotations

import json
import os
import signal
import sys
from datetime import datetime

import dlt
from dlt.common.storages.load_storage import LoadStorage

from tests.pipeline_process import FixedNow
from uniware_source import run_exports, uniware_source

if __name__ == "__main__":
    settings = json.loads(sys.argv[1])
    workdir = settings.pop("workdir")
    if settings.pop("kill_at", None) == "normalize_commit":
        commit = LoadStorage.commit_new_load_package

        def commit_then_die(self: LoadStorage, load_id: str) -> None:
            commit(self, load_id)
            os.kill(os.getpid(), signal.SIGKILL)
        LoadStorage.commit_new_load_package = commit_then_die  # type: ignore[method-assign]
    clock = FixedNow(datetime.fromisoformat(settings.pop("now")))
    pipeline = dlt.pipeline("crash", pipelines_dir=f"{workdir}/pipelines", dataset_name="uniware",
                            destination=dlt.destinations.duckdb(f"{workdir}/crash.duckdb"))
    run_exports(pipeline, mode="submit", clock=clock, **settings)
    pipeline.extract(uniware_source(phase="collect", clock=clock, **settings))
    pipeline.normalize()
    os.kill(os.getpid(), signal.SIGKILL)
