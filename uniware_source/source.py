"""The dlt source: one resource per configured export, each job's status history in `export_job_status`.

Configuration comes the dlt way: arguments, `.dlt/config.toml` / `.dlt/secrets.toml` under
``[sources.uniware]``, or environment variables ``SOURCES__UNIWARE__<SETTING>``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Optional

import dlt
from dlt.extract.resource import DltResource

from .catalog import APPEND, REPLACE, ExportSpec
from .clock import Clock, SystemClock
from .collect import ExportCollection
from .csv_convert import FACILITY, JOB_CODE, KEY_OCCURRENCE
from .history import HISTORY_COLUMNS, HISTORY_TABLE, HISTORY_WRITE_DISPOSITION, take_deferred
from .ledger import ExportLedger
from .redact import install_log_redaction
from .report import RunReport
from .runtime import ALL, COLLECT, PHASES, SUBMIT, JobBudget, SourceRuntime
from .settings import DEFAULT_DOWNLOAD_MAX_BYTES, build_settings
from .submit import abandon_expired, adopt_jobs, create_jobs, plan

log = logging.getLogger(__name__)


@dlt.source(name="uniware", section="uniware", max_table_nesting=0)
def uniware_source(
    username: Optional[str] = dlt.secrets.value,
    password: Optional[str] = dlt.secrets.value,
    tenant: Optional[str] = None,
    base_url: Optional[str] = None,
    facilities: Optional[Any] = None,
    exports: Optional[Any] = None,
    job_codes: Optional[Any] = None,
    start_date: Optional[str] = None,
    lookback_days: float = 2.0,
    window_days: float = 30.0,
    min_window_minutes: float = 60.0,
    max_concurrent_jobs: int = 10,
    poll_initial_seconds: float = 2.0,
    poll_max_seconds: float = 30.0,
    job_timeout_seconds: float = 1800.0,
    complete_without_file_grace_seconds: float = 60.0,
    job_expiry_hours: float = 24.0,
    connect_timeout_seconds: float = 10.0,
    read_timeout_seconds: float = 120.0,
    request_max_attempts: int = 5,
    request_backoff_factor: float = 1.0,
    request_max_retry_delay_seconds: float = 60.0,
    download_max_attempts: int = 5,
    download_max_bytes: int = DEFAULT_DOWNLOAD_MAX_BYTES,
    download_timeout_seconds: float = 3600.0,
    download_stall_timeout_seconds: float = 120.0,
    download_dir: Optional[str] = None,
    on_bad_rows: str = "fail",
    on_header_change: str = "evolve",
    backfill_start: Optional[str] = None,
    backfill_end: Optional[str] = None,
    phase: str = ALL,
    run_id: Optional[str] = None,
    clock: Optional[Any] = None,
    report: Optional[Any] = None,
) -> list[DltResource]:
    """Uniware export jobs as dlt resources: one table per export plus `export_job_status`.

    `phase` is "submit" (plan windows, create jobs, commit their codes), "collect" (wait for the
    submitted jobs and load their rows), "all" (both in one extract) or "history" (only the LOADED
    history rows, which wait in state until the package with their rows has loaded). Run submit and collect as
    separate pipeline runs to survive interruptions without creating duplicate jobs; the pipeline
    script and `uniware_source.runner.run_exports` do. Jobs that fail or time out are reported in
    `report` (a RunReport) and the history table, never raised, so the other exports still load.
    """
    install_log_redaction()
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
    the_clock: Clock = clock or SystemClock()
    settings = build_settings(
        now=the_clock.now(), username=username, password=password, tenant=tenant, base_url=base_url,
        facilities=facilities, exports=exports, job_codes=job_codes, start_date=start_date,
        lookback_days=lookback_days, window_days=window_days, max_concurrent_jobs=max_concurrent_jobs,
        min_window_minutes=min_window_minutes, poll_initial_seconds=poll_initial_seconds,
        poll_max_seconds=poll_max_seconds,
        job_timeout_seconds=job_timeout_seconds,
        complete_without_file_grace_seconds=complete_without_file_grace_seconds,
        job_expiry_hours=job_expiry_hours, connect_timeout_seconds=connect_timeout_seconds,
        read_timeout_seconds=read_timeout_seconds, request_max_attempts=request_max_attempts,
        request_backoff_factor=request_backoff_factor,
        request_max_retry_delay_seconds=request_max_retry_delay_seconds,
        download_max_attempts=download_max_attempts, download_max_bytes=download_max_bytes,
        download_timeout_seconds=download_timeout_seconds,
        download_stall_timeout_seconds=download_stall_timeout_seconds, download_dir=download_dir,
        on_bad_rows=on_bad_rows,
        on_header_change=on_header_change, backfill_start=backfill_start, backfill_end=backfill_end,
    )
    runtime = SourceRuntime(
        settings=settings, clock=the_clock, phase=phase, run_id=run_id or uuid.uuid4().hex[:12],
        report=report if isinstance(report, RunReport) else RunReport(),
        budget=JobBudget(settings.max_concurrent_jobs),
    )
    runtime.report.runtime = runtime
    normalize = dlt.current.source_schema().naming.normalize_identifier
    tables = [spec.table_name for spec in settings.exports]
    return [export_resource(spec, runtime, normalize, tables) for spec in settings.exports]


def export_resource(spec: ExportSpec, rt: SourceRuntime, normalize: Callable[[str], str],
                    tables: list[str]) -> DltResource:
    """The resource of one export: its rows go to `spec.table_name`, its jobs' history to
    `export_job_status`."""
    keys = [normalize(k) for k in spec.primary_key]
    if keys and spec.repeating_keys:
        keys.append(KEY_OCCURRENCE)
    columns: dict[str, Any] = {}
    if spec.dedup_sort and keys:
        columns[normalize(spec.dedup_sort)] = {"dedup_sort": "desc"}
    merge_key: Optional[str] = None
    if spec.write_disposition == APPEND or (not keys and spec.write_disposition != REPLACE):
        # no natural key: a job's rows replace whatever an earlier load of the same job left (two
        # runs at once, a retried package, a job code given twice), so each job lands once
        keys, columns = [], {}
        merge_key = JOB_CODE
    elif spec.write_disposition == REPLACE:
        merge_key = FACILITY  # snapshot reports replace each facility's rows
        # a job given in job_codes has no known facility: its rows merge on the natural key alone
        # (dlt would otherwise declare the merge key NOT NULL and fail the package in normalize)
        columns[FACILITY] = {"nullable": True}
    hints: dict[str, Any] = {"write_disposition": {"disposition": "merge", "strategy": "delete-insert"}}
    if keys:
        hints["primary_key"] = keys
    if merge_key:
        hints["merge_key"] = merge_key
    if columns:
        hints["columns"] = columns
    resource: DltResource = dlt.resource(_export_rows(spec, rt, normalize, tables), name=spec.table_name)
    # the history variant first: a variant starts from the hints the resource has when it is made
    resource.apply_hints(table_name=HISTORY_TABLE, write_disposition=HISTORY_WRITE_DISPOSITION,
                         primary_key="event_id", columns=HISTORY_COLUMNS, create_table_variant=True)
    resource.apply_hints(**hints)
    return resource


def _export_rows(spec: ExportSpec, rt: SourceRuntime, normalize: Callable[[str], str],
                 tables: list[str]) -> Iterator[Any]:
    state = dlt.current.resource_state(spec.table_name)
    for row in take_deferred(state):  # their rows loaded with an earlier package
        yield dlt.mark.with_table_name(row, HISTORY_TABLE)
    ledger = ExportLedger(state)
    if rt.budget.running is None:
        rt.budget.running = _running_jobs(tables, rt)
        rt.parquet_import = _destination_takes_parquet()
    if rt.phase in (SUBMIT, ALL):
        plan(spec, ledger, state, rt)
        for row in [*abandon_expired(spec, ledger, rt), *adopt_jobs(spec, ledger, rt), *create_jobs(spec, ledger, rt)]:
            yield dlt.mark.with_table_name(row, HISTORY_TABLE)
    if rt.phase in (COLLECT, ALL):
        yield from ExportCollection(spec, ledger, state, rt, normalize).run()


def _running_jobs(tables: list[str], rt: SourceRuntime) -> int:
    """Jobs already submitted by earlier runs, across all exports (they count against the cap);
    jobs of facilities set aside (not configured now) do not."""
    resources = dlt.current.source_state().get("resources", {})
    active: Optional[set[str]] = None
    if rt.settings.facilities and not rt.settings.job_codes:
        active = set(rt.settings.facilities)
    return sum(1 for table in tables for entry in resources.get(table, {}).get("entries", [])
               if entry.get("job_code") and not entry.get("done")
               and (active is None or entry.get("facility") is None or entry["facility"] in active))


def _destination_takes_parquet() -> bool:
    """Whether finished files can be handed to dlt as parquet as they are (else as Arrow batches)."""
    try:
        capabilities = dlt.current.pipeline().destination.capabilities()
    except Exception:  # no pipeline or no destination yet: Arrow batches work everywhere
        return False
    return "parquet" in capabilities.supported_loader_file_formats and \
        capabilities.loader_file_format_selector is None
