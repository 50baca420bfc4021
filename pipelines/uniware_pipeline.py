"""Load Uniware exports into a warehouse: the runnable pipeline of a clone (`make demo` runs it with --demo).

    python pipelines/uniware_pipeline.py                      # incremental run, settings from .dlt/ and env
    python pipelines/uniware_pipeline.py --start 2026-01-01 --end 2026-04-01   # a stateless backfill
    python pipelines/uniware_pipeline.py --mode submit        # only create jobs (an orchestrator task)
    python pipelines/uniware_pipeline.py --demo               # simulator -> DuckDB -> SQL answers

The same command line as the `uniware-pipeline` console script (`uniware_source.cli`), plus `--demo`,
which needs the simulator (`tests/simulator`, installed by the Makefile).
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional

from uniware_source.cli import Runner, main


def run_demo(args: argparse.Namespace, run: Runner) -> int:
    from demo import run_demo as demo  # pipelines/demo.py, beside this file; only the demo needs the simulator

    return demo(args, run)


def cli(argv: Optional[list[str]] = None) -> int:
    return main(argv, demo=run_demo)


if __name__ == "__main__":
    sys.exit(cli())
