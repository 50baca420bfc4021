"""Child process for the crash test: submit, extract and normalize the collect step, then die (SIGKILL)
before loading, leaving a normalized load package behind.

    python -m tests.crash_during_load '<json settings>'
"""

from __future__ import annotations

import json
import os
import signal
import sys
from datetime import datetime

import dlt

from tests.pipeline_process import FixedNow
from uniware_source import run_exports, uniware_source

if __name__ == "__main__":
    settings = json.loads(sys.argv[1])
    workdir = settings.pop("workdir")
    clock = FixedNow(datetime.fromisoformat(settings.pop("now")))
    pipeline = dlt.pipeline("crash", pipelines_dir=f"{workdir}/pipelines", dataset_name="uniware",
                            destination=dlt.destinations.duckdb(f"{workdir}/crash.duckdb"))
    run_exports(pipeline, mode="submit", clock=clock, **settings)
    pipeline.extract(uniware_source(phase="collect", clock=clock, **settings))
    pipeline.normalize()
    os.kill(os.getpid(), signal.SIGKILL)
