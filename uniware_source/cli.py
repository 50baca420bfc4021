"""Load Uniware exports into a warehouse (DuckDB by default).

    uniware-pipeline                                          # incremental run, settings from .dlt/ and env
    uniware-pipeline --start 2026-01-01 --end 2026-04-01      # a stateless backfill
    uniware-pipeline --mode submit                            # only create jobs (an orchestrator task)
    uniware-pipeline --mode collect                           # only wait for them and load
    python pipelines/uniware_pipeline.py --demo               # from a clone: simulator -> DuckDB -> SQL answers
    uniware-pipeline facilities | exports [--markdown] | plan | status   # look before you leap
    uniware-pipeline reset --export "Sale Orders" --facility BLR01       # clear a cursor and ledger on purpose

Exit codes: 0 all loaded; 1 some jobs did not load (the rest did, and their cursors stayed put);
2 a setting is wrong (a destination that refuses the first connection included); 3 the run could not
proceed (Uniware unreachable or refusing the credentials, a destination lost mid-run...); 4 another run of
the same pipeline is under way (see --wait); 130 interrupted (SIGINT); 143 terminated (SIGTERM).
In both of the last two, submitted jobs are kept and the next run resumes them.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Optional

from dlt.extract import DltResource
from dlt.pipeline.pipeline import Pipeline

from . import progress
from .clock import Clock
from .commands import COMMANDS, chosen_pipeline, run_command
from .errors import ConfigError, ExportsFailed
from .pipeline_run.duckdb_memory import DUCKDB_SETTINGS
from .pipeline_run.lock import RunLocked
from .pipeline_run.resumable import run_exports
from .pipeline_run.signals import Terminated, sigterm_interrupts
from .problems import EXIT_LOCKED, explain
from .queries import refresh_views
from .run_log import RunRecord, load_run_row, run_row_resource
from .run_report import RunReport
from .settings import configured_exports, export_names, facility_flags, select_exports
from .usage import UsageParser, parse_with

EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM


Runner = Callable[[argparse.Namespace, Optional[dict[str, Any]], Any], int]
Demo = Callable[[argparse.Namespace, Runner], int]


def parse_args(argv: Optional[Sequence[str]], *, with_demo: bool = False) -> argparse.Namespace:
    parser = UsageParser(prog="uniware-pipeline", description=__doc__,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    # only pipelines/uniware_pipeline.py, in a clone, has the simulator for a demo; elsewhere --demo says so
    parser.add_argument("--demo", action="store_true",
                        help="run against the simulator and print SQL answers" if with_demo
                        else "the demo runs from a clone of the repository: make demo")
    parser.add_argument("--destination", help="any dlt destination (default: the pipeline's own, else dlt's "
                        "DESTINATION_TYPE, else duckdb)")
    parser.add_argument("--dataset", help="dataset (schema) name (default: the pipeline's own, else dlt's "
                        "DATASET_NAME, else uniware)")
    parser.add_argument("--pipeline-name", default="uniware_pipeline",
                        help="dlt pipeline name; DuckDB writes <name>.duckdb (default: uniware_pipeline)")
    parser.add_argument("--pipelines-dir", help="where dlt keeps pipeline state (default: dlt's, ~/.dlt/pipelines, "
                        "or /var/dlt/pipelines as root; shared by every checkout)")
    parser.add_argument("--export", action="append", dest="exports", metavar="NAME",
                        help="report (or table) to load, repeatable or comma-separated; a configured export keeps "
                             "its settings; default: the configured exports")
    parser.add_argument("--facility", action="append", dest="facilities", metavar="CODE",
                        help="facility code (repeatable, or several separated by commas); default: configured, else "
                             "every enabled facility")
    parser.add_argument("--start", help="backfill from this date (India time); touches no cursor")
    parser.add_argument("--end", help="backfill up to this date (default: now)")
    parser.add_argument("--job-code", action="append", dest="job_codes", metavar="[EXPORT=]CODE",
                        help="load an existing job instead of creating any (repeatable)")
    parser.add_argument("--mode", choices=["run", "submit", "collect"], default="run",
                        help="run = submit then collect (default)")
    parser.add_argument("--loader-file-format", choices=["parquet", "jsonl", "csv", "insert_values"],
                        help="file format dlt loads with (e.g. parquet for --destination filesystem)")
    parser.add_argument("--wait", nargs="?", type=float, const=True, default=False, metavar="SECONDS",
                        help="when another run of this pipeline holds its lock, wait for it (at most SECONDS) "
                             "instead of exiting with code 4")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress lines, only warnings and the summary (dlt's warnings silenced too)")
    parser.add_argument("--log-format", choices=["text", "json"], default="text",
                        help="json: one JSON object per log line on stderr, for orchestrators")
    return parse_with(parser, argv)


DUCKDB_DEFAULTS = '{"preserve_insertion_order": false, "memory_limit": "128MB"}'


def configure_duckdb() -> None:
    """DuckDB merges ~35 % faster when it need not keep insertion order (a warehouse table has no
    order anyway), and a memory limit keeps the process flat whatever the export's size (DuckDB spills
    to disk beyond it); both measured by pipelines/benchmark.py. Setting the variable yourself wins."""
    os.environ.setdefault(DUCKDB_SETTINGS, DUCKDB_DEFAULTS)


ARROW_POOL_SETTING = "ARROW_DEFAULT_MEMORY_POOL"


def configure_arrow() -> None:
    """pyarrow's jemalloc pool instead of its default (mimalloc): the converter's chunks come and go,
    and jemalloc gives their memory back, where mimalloc keeps it (1M Sale Orders rows, the converter
    alone: peak RSS 382-414 -> 326-338 MB, system CPU 0.6 -> 0.25-0.4 s, the same user CPU; measured
    with pipelines/benchmark.py's file). Setting ARROW_DEFAULT_MEMORY_POOL yourself wins; a pyarrow
    built without jemalloc keeps its default."""
    if os.environ.get(ARROW_POOL_SETTING):
        return
    import pyarrow as pa

    with contextlib.suppress(NotImplementedError):
        pa.set_memory_pool(pa.jemalloc_memory_pool())


def configure_logging(quiet: bool, log_format: str = "text") -> None:
    progress.configure_logging(quiet, log_format)


def source_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Settings given on the command line; everything else comes from .dlt/*.toml and env vars."""
    overrides: dict[str, Any] = {}
    if args.exports:
        overrides["exports"] = select_exports(configured_exports(), args.exports)
    if args.facilities is not None:  # repeatable, and each may list several, separated by commas (as --export)
        overrides["facilities"] = facility_flags(args.facilities)
    if args.start or args.end:
        overrides["backfill_start"] = args.start
        overrides["backfill_end"] = args.end
    if args.job_codes:
        mapped: dict[str, list[str]] = {}
        plain: list[str] = []
        for item in args.job_codes:
            export, sep, code = item.rpartition("=")
            if sep:
                mapped.setdefault(export, []).append(code)
            else:
                plain.append(item)
        if plain and mapped:
            raise ConfigError("job_codes", "give every --job-code as EXPORT=CODE, or none of them")
        ran_under = overrides.get("facilities") or []
        if plain and len(ran_under) == 1:  # one export's codes (more: the setting says why not)
            names = export_names(overrides.get("exports") or configured_exports())
            mapped = {names[0]: plain} if len(names) == 1 else {}
        if mapped and len(ran_under) == 1 and ran_under[0].strip().lower() != "all":
            # `--facility F --job-code C`: the jobs ran under F (an export keyed per facility needs it)
            overrides["job_codes"] = {export: {ran_under[0]: codes} for export, codes in mapped.items()}
        else:
            overrides["job_codes"] = mapped or plain
    return overrides


def make_pipeline(args: argparse.Namespace, destination: Any = None) -> Pipeline:
    """The pipeline, with the destination and dataset given, else those of its loads (a run without
    --destination once moved a PostgreSQL pipeline to a DuckDB file), else duckdb and uniware; a run may
    name others (the pipeline then loads there, from the state it left there, else from start_date)."""
    return chosen_pipeline(args.pipeline_name, args.pipelines_dir, destination or args.destination, args.dataset)


def print_summary(report: RunReport, pipeline: Pipeline, seconds: float) -> None:
    progress.say("", logging.INFO)
    for line in report.summary_lines():
        print(line)
    print(f"\nloaded into {pipeline.destination.destination_name} dataset '{pipeline.dataset_name}' "
          f"in {seconds:.1f} s")



def run(args: argparse.Namespace, extra: Optional[dict[str, Any]] = None, destination: Any = None) -> int:
    """One pipeline run; returns the exit code. Its row goes to `uniware_runs`, however it ended."""
    started = time.monotonic()
    report = RunReport()
    record = RunRecord(uuid.uuid4().hex[:12], args.mode, datetime.now(UTC))
    return _run(args, extra, destination, report, record, started)


def close_record(record: RunRecord, report: RunReport, started: float,
                 error: Optional[BaseException]) -> dict[str, Any]:
    """The run's `uniware_runs` row, for a run that ends with `error` (None: it succeeded)."""
    if error is None:
        record.exit_code = 0
    elif isinstance(error, ExportsFailed):
        record.exit_code = 1
    else:
        record.exit_code, line = explain(error)
        record.error_lines.append(line)
    record.ended_at = datetime.now(UTC)
    return record.row(report, time.monotonic() - started)


def record_run(record: RunRecord, report: RunReport, started: float, error: Optional[BaseException]) -> None:
    """Load the `uniware_runs` row of a run that ended before its last package (which carries the
    row otherwise), still under the pipeline's lock. Not after an interrupt (the user wants out),
    and a row that cannot be loaded never changes the run's outcome."""
    if isinstance(error, KeyboardInterrupt) or record.pipeline is None:
        return
    if record.pipeline.has_pending_data:  # dlt would load the failed package as it is, not as a run does
        return  # (pipeline_run/recovery.py), and not this row; the next run finishes the package first
    row = close_record(record, report, started, error)
    try:
        load_run_row(record.pipeline, row)
    except Exception as failed:
        line = explain(failed)[1]
        if line not in record.error_lines:  # not the same destination problem twice
            progress.say(f"warning: the run's row was not loaded into uniware_runs: {line}", logging.WARNING)


def _run(args: argparse.Namespace, extra: Optional[dict[str, Any]], destination: Any, report: RunReport,
         record: RunRecord, started: float) -> int:
    try:
        with sigterm_interrupts():
            pipeline = record.pipeline = make_pipeline(args, destination)
            kwargs = {**source_overrides(args), **(extra or {})}
            live = sys.stderr.isatty() and not args.quiet and args.log_format == "text"

            def closing_rows(outcome: Optional[ExportsFailed]) -> list[DltResource]:
                """The run's row, loaded with the deferred history in the run's last package."""
                return [run_row_resource(close_record(record, report, started, outcome))]

            def finish(error: Optional[BaseException]) -> None:
                """Still under the pipeline's lock: a run waiting for it never meets these writes."""
                if error is not None and not isinstance(error, ExportsFailed):  # else the row has loaded
                    record_run(record, report, started, error)
                if error is None or isinstance(error, ExportsFailed):  # not after a setting or destination error
                    refresh_views(pipeline)

            with progress.live_view(report, live):
                run_exports(pipeline, mode=args.mode, report=report, loader_file_format=args.loader_file_format,
                            wait_for_lock=args.wait, run_id=record.run_id, on_finish=finish, closing_rows=closing_rows,
                            **kwargs)
    except Terminated:
        progress.say("\nterminated (SIGTERM): jobs already submitted are kept and the next run resumes them")
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        progress.say("\ninterrupted: jobs already submitted are kept and the next run resumes them")
        return EXIT_INTERRUPTED
    except RunLocked as error:
        progress.say(f"error: {error}")
        return EXIT_LOCKED
    except ExportsFailed as error:
        print_summary(report, pipeline, time.monotonic() - started)
        progress.say(f"\n{error}")
        return 1
    except Exception as error:  # a setting (exit 2), the tenant, the destination or dlt: one line, no secret
        code, line = explain(error)
        progress.say(line)
        return code
    print_summary(report, pipeline, time.monotonic() - started)
    return 0


def main(argv: Optional[Sequence[str]] = None, clock: Optional[Clock] = None, demo: Optional[Demo] = None) -> int:
    """The command line (console script `uniware-pipeline`); `clock` replaces the system clock (tests
    run it against simulated time); `demo` adds `--demo` (given by pipelines/uniware_pipeline.py)."""
    try:
        return _main(argv, clock, demo)
    finally:
        release_garbage()


def release_garbage() -> None:
    """Free the reference cycles a run leaves (dlt's configuration resolution keeps the tracebacks of
    the lookups it catches, and their frames hold the run's DuckDB connection) while the interpreter
    is whole: left to interpreter exit, whether the cyclic collector ran before is a matter of timing,
    and DuckDB's binding, torn down first, prints ~40 lines "nanobind: leaked ..." after the one line."""
    gc.collect()


# the options that take a value: a command name after one of them is its value, not the command
VALUED = ("--destination", "--dataset", "--pipeline-name", "--pipelines-dir", "--export", "--facility",
          "--log-format", "--start", "--end", "--job-code", "--mode", "--loader-file-format")


def command_first(arguments: list[str]) -> list[str]:
    """`--pipeline-name x status` as `status --pipeline-name x`: options may come before the command."""
    for position, argument in enumerate(arguments):
        if argument in COMMANDS and (position == 0 or arguments[position - 1] not in VALUED):
            return [argument, *arguments[:position], *arguments[position + 1:]]
    return arguments


def _main(argv: Optional[Sequence[str]], clock: Optional[Clock], demo: Optional[Demo]) -> int:
    arguments = command_first(list(sys.argv[1:] if argv is None else argv))
    if arguments and arguments[0] in COMMANDS and arguments[0] != "run":
        return run_command(arguments, clock)
    if arguments[:1] == ["run"]:
        arguments = arguments[1:]
    args = parse_args(arguments, with_demo=demo is not None)
    configure_logging(args.quiet, args.log_format)
    configure_duckdb()
    configure_arrow()
    if args.demo and demo is None:
        print("the demo needs the simulator, which is not installed with the connector: from a clone of the "
              "repository run `make demo`", file=sys.stderr)
        return 2
    if demo is not None and args.demo:
        return demo(args, run)
    return run(args, {"clock": clock} if clock is not None else None)


if __name__ == "__main__":
    sys.exit(main())

