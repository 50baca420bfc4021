"""Dagster: the submit and collect steps as two tasks of one job, through dagster-dlt, hourly.

    pip install dagster-dlt==0.29.27         # (in requirements-dev.txt; not needed to run the connector)
    dagster dev -f pipelines/dagster_definitions.py

- `uniware/jobs_submitted` plans windows and creates the Uniware export jobs (their codes are
  committed to dlt state when it ends);
- `uniware/<table>` (one asset per export, made by `dagster_dlt.dlt_assets`) waits for those jobs
  and loads their rows; it fails after loading everything else when some job did not load.

Configuration is the connector's (`SOURCES__UNIWARE__*`, `.dlt/*.toml`) and dlt's for the
destination; `UNIWARE_DESTINATION` (default duckdb), `UNIWARE_DATASET` (default uniware) and
`UNIWARE_PIPELINE_NAME` (default uniware_pipeline) choose the pipeline. The code location needs the
connector's settings when it loads, because the assets are made from the configured exports.
"""

# no `from __future__ import annotations` here: Dagster inspects the `context` annotation at runtime
import os
from collections.abc import Iterator
from typing import Any

import dlt
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    AssetSpec,
    Definitions,
    MaterializeResult,
    ScheduleDefinition,
    asset,
    define_asset_job,
)
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData
from dlt.pipeline.pipeline import Pipeline

from uniware_source import ExportsFailed, RunReport, run_exports, uniware_source
from uniware_source.pipeline_run.dataset_lock import lost_lock_said
from uniware_source.pipeline_run.lock import pipeline_lock
from uniware_source.pipeline_run.resumable import finish_pending_loads, load_deferred_history
from uniware_source.queries import refresh_views

SUBMITTED = AssetKey(["uniware", "jobs_submitted"])


def uniware_pipeline() -> Pipeline:
    return dlt.pipeline(
        pipeline_name=os.environ.get("UNIWARE_PIPELINE_NAME", "uniware_pipeline"),
        destination=os.environ.get("UNIWARE_DESTINATION", "duckdb"),
        dataset_name=os.environ.get("UNIWARE_DATASET", "uniware"),
    )


@asset(key=SUBMITTED, group_name="uniware",
       description="Plan the export windows and create their Uniware jobs; the job codes are committed "
                   "before anything waits, so an interrupted collect resumes them.")
def uniware_jobs_submitted(context: AssetExecutionContext) -> MaterializeResult[Any]:
    report = RunReport()
    run_exports(uniware_pipeline(), mode="submit", report=report, run_id=context.run.run_id[:12])
    return MaterializeResult(metadata={
        "jobs_created": sum(t.jobs_created for t in report.exports.values()),
        "problems": "\n".join(report.problems) or "none",
    })


class UniwareTranslator(DagsterDltTranslator):
    """Export tables as `uniware/<table>`, downstream of the submit step."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> AssetSpec:
        spec = super().get_asset_spec(data)
        return spec.replace_attributes(key=AssetKey(["uniware", data.resource.name]), deps=[SUBMITTED])


@dlt_assets(dlt_source=uniware_source(phase="collect"), dlt_pipeline=uniware_pipeline(), name="uniware_collect",
            group_name="uniware", dagster_dlt_translator=UniwareTranslator())
def uniware_tables(context: AssetExecutionContext, dlt: DagsterDltResource) -> Iterator[Any]:
    """Wait for the submitted jobs and load their rows (a fresh source per run), under the pipeline's run
    lock: a run that overlaps (the next hourly tick while Uniware is slow) waits for it, instead of
    downloading the same jobs and breaking into dlt's package folders at the same time."""
    pipeline = uniware_pipeline()
    with pipeline_lock(pipeline, wait=True):
        finish_pending_loads(pipeline)  # dlt would otherwise load a crashed run's packages and stop there
        report = RunReport()
        source = uniware_source(phase="collect", run_id=context.run.run_id[:12], report=report)
        try:
            yield from dlt.run(context=context, dlt_source=source, dlt_pipeline=pipeline)
        except Exception as failure:
            lost_lock_said(failure)  # a load that failed as the dataset's lock went (its writes refused)
            raise
        # LOADED rows, after their data; through the pipeline as saved (dagster-dlt's run dropped and restored
        # the object it was given, whose schema then lacked the column types: the history step stored that)
        pipeline = uniware_pipeline()
        load_deferred_history(pipeline, run_id=context.run.run_id[:12], report=report)
        refresh_views(pipeline)  # the v_* views, as the pipeline script makes them
    if report.problems:  # everything else is loaded and materialized; now say what was not
        raise ExportsFailed(report.problems)


uniware_load = define_asset_job("uniware_load", selection=AssetSelection.groups("uniware"))

defs = Definitions(
    assets=[uniware_jobs_submitted, uniware_tables],
    jobs=[uniware_load],
    schedules=[ScheduleDefinition(job=uniware_load, cron_schedule="0 * * * *")],
    resources={"dlt": DagsterDltResource()},
)
