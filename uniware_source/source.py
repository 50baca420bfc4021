"""The dlt source: one resource per configured export, each job's status history in `export_job_status`.

Configuration comes the dlt way: arguments, `.dlt/config.toml` / `.dlt/secrets.toml` under
``[sources.uniware]``, or environment variables ``SOURCES__UNIWARE__<SETTING>``.
"""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Optional

import dlt
from dlt.extract.resource import DltResource

from .catalog import APPEND, REPLACE, ExportSpec
from .clock import Clock, SystemClock
from .conversion.csv_to_parquet import FACILITY, JOB_CODE, KEY_OCCURRENCE
from .conversion.load_files import destination_load_format
from .history import HISTORY_COLUMNS, HISTORY_TABLE, HISTORY_WRITE_DISPOSITION
from .ledger import ExportLedger, Ledgers
from .redact import install_log_redaction
from .run_report import RunReport
from .services import ALL, COLLECT, PHASES, SUBMIT, JobBudget, SourceRuntime
from .settings import SettingValues, build_settings, setting_fields, source_parameters
from .steps.collect import ExportCollection
from .steps.submit import abandon_expired, adopt_jobs, create_jobs, plan

log = logging.getLogger(__name__)


def _uniware_source(*args: Any, **kwargs: Any) -> list[DltResource]:
    """Uniware export jobs as dlt resources: one table per export plus `export_job_status`.

    `phase` is "submit" (plan windows, create jobs, commit their codes), "collect" (wait for the
    submitted jobs and load their rows), "all" (both in one extract) or "history" (only the LOADED
    history rows, which wait in state until the package with their rows has loaded). Run submit and collect as
    separate pipeline runs to survive interruptions without creating duplicate jobs; the pipeline
    script and `run_exports` (pipeline_run/resumable.py) do. Jobs that fail or time out are reported in
    `report` (a RunReport) and the history table, never raised, so the other exports still load.
    """
    arguments = _SIGNATURE.bind(*args, **kwargs)
    arguments.apply_defaults()
    given = arguments.arguments
    phase, run_id, clock, report = given["phase"], given["run_id"], given["clock"], given["report"]
    install_log_redaction()
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
    the_clock: Clock = clock or SystemClock()
    settings = build_settings(SettingValues(**{f.name: given[f.name] for f in setting_fields()}),
                              now=the_clock.now())
    runtime = SourceRuntime(
        settings=settings, clock=the_clock, phase=phase, run_id=run_id or uuid.uuid4().hex[:12],
        report=report if isinstance(report, RunReport) else RunReport(),
        budget=JobBudget(settings.max_concurrent_jobs),
    )
    runtime.report.runtime = runtime
    normalize = dlt.current.source_schema().naming.normalize_identifier
    tables = [spec.table_name for spec in settings.exports]
    return [export_resource(spec, runtime, normalize, tables) for spec in settings.exports]


# one parameter per setting (declared once, in settings.SettingValues), then the run's own
_SIGNATURE = inspect.Signature([
    *source_parameters(),
    inspect.Parameter("phase", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=str, default=ALL),
    inspect.Parameter("run_id", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Optional[str], default=None),
    inspect.Parameter("clock", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Optional[Any], default=None),
    inspect.Parameter("report", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Optional[Any], default=None),
], return_annotation=list[DltResource])
_uniware_source.__signature__ = _SIGNATURE  # type: ignore[attr-defined]
_uniware_source.__name__ = _uniware_source.__qualname__ = "uniware_source"
uniware_source = dlt.source(name="uniware", section="uniware", max_table_nesting=0)(_uniware_source)


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
    ledger = ExportLedger(dlt.current.resource_state(spec.table_name))
    for row in ledger.take_deferred_history():  # their rows loaded with an earlier package
        yield dlt.mark.with_table_name(row, HISTORY_TABLE)
    if rt.budget.running is None:
        # jobs already submitted by earlier runs, across all exports, count against the cap
        active = set(rt.settings.facilities) if rt.settings.facilities and not rt.settings.job_codes else None
        rt.budget.running = Ledgers(dlt.current.source_state().get("resources", {})).jobs_running(tables, active)
        rt.load_format = destination_load_format()
    if rt.phase in (SUBMIT, ALL):
        plan(spec, ledger, rt)
        for row in [*abandon_expired(spec, ledger, rt), *adopt_jobs(spec, ledger, rt), *create_jobs(spec, ledger, rt)]:
            yield dlt.mark.with_table_name(row, HISTORY_TABLE)
    if rt.phase in (COLLECT, ALL):
        yield from ExportCollection(spec, ledger, rt, normalize).run()

