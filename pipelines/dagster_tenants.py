"""Dagster: many Uniware tenants, each isolated, in parallel, within each tenant's export queue.

    dagster dev -f pipelines/dagster_tenants.py      # tenants from [tenants.<name>] (uniware_source.tenants)

Per configured tenant `<t>` (see README, "Many tenants on Dagster"):

- `uniware/<t>/jobs_submitted` then `uniware/<t>/tables`: the submit and the collect step of the
  tenant's incremental load (cursors in the tenant's own dlt state), job `uniware_tenants`, hourly;
- `uniware/<t>/backfill_submitted` then `uniware/<t>/backfill`: the same steps for a date range,
  partitioned by India day (`DailyPartitionsDefinition` from `[uniware_dagster] backfill_from`); a
  Dagster backfill over days hands each run's time window to the connector as
  `backfill_start/backfill_end` (up to 30 days per run, so Uniware sees a few large jobs, not one per
  day); job `uniware_tenants_backfill`.

Every step of tenant `<t>` runs in pool `uniware_<t>`: with the instance's `concurrency.pools`
(e.g. `default_limit: 1` in dagster.yaml) at most that many steps of one tenant run at once across
every run and process of the deployment, so one tenant's export queue sees one submitter or
collector at a time while other tenants go on in parallel; the jobs a tenant has in flight are
bounded by its `max_concurrent_jobs`, counted from its dlt state (jobs submitted by earlier runs
included). A failing tenant (bad credentials, a FAILED job) fails its own steps only; the steps
of the other tenants materialize (the run reports failure, naming the tenant).
"""

# no `from __future__ import annotations`: Dagster inspects the `context` annotation at runtime
import os
import warnings
from collections.abc import Sequence
from datetime import UTC
from typing import Any, Optional

import dlt
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    BetaWarning,
    DailyPartitionsDefinition,
    Definitions,
    JobDefinition,
    MaterializeResult,
    ScheduleDefinition,
    asset,
    define_asset_job,
)

from uniware_source import RunReport
from uniware_source.tenants import Tenant, load_tenants, run_tenant

GROUP = "uniware_tenants"
BACKFILL_GROUP = "uniware_tenants_backfill"
TIMEZONE = "Asia/Kolkata"  # Uniware's days are India days
DAYS_PER_BACKFILL_RUN = 30


def pool_for(tenant: Tenant) -> str:
    return f"uniware_{tenant.name}"


def _metadata(report: RunReport) -> dict[str, Any]:
    tallies = report.exports.values()
    return {"jobs_created": sum(t.jobs_created for t in tallies), "jobs_loaded": sum(t.jobs_loaded for t in tallies),
            "rows": sum(t.rows for t in tallies), "problems": "\n".join(report.problems) or "none"}


def _run_id(context: AssetExecutionContext) -> str:
    return context.run.run_id[:12]


def tenant_assets(tenant: Tenant) -> list[AssetsDefinition]:
    """The submit and collect assets of one tenant's incremental load."""
    submitted_key = AssetKey(["uniware", tenant.name, "jobs_submitted"])
    pool, tags = pool_for(tenant), {"uniware/tenant": tenant.name}

    @asset(key=submitted_key, description=f"Tenant {tenant.name}: plan windows, create the Uniware export jobs "
                                          "and commit their codes", group_name=GROUP, pool=pool, op_tags=tags)
    def submitted(context: AssetExecutionContext) -> MaterializeResult[Any]:
        return MaterializeResult(metadata=_metadata(run_tenant(tenant, mode="submit", run_id=_run_id(context))))

    @asset(key=AssetKey(["uniware", tenant.name, "tables"]), deps=[submitted_key],
           description=f"Tenant {tenant.name}: wait for the submitted jobs and load their rows into dataset "
                       f"{tenant.dataset_name}", group_name=GROUP, pool=pool, op_tags=tags)
    def tables(context: AssetExecutionContext) -> MaterializeResult[Any]:
        return MaterializeResult(metadata=_metadata(run_tenant(tenant, mode="collect", run_id=_run_id(context))))

    return [submitted, tables]


def tenant_backfill_assets(tenant: Tenant, days: DailyPartitionsDefinition) -> list[AssetsDefinition]:
    """The submit and collect assets of one tenant's backfills, one partition per India day."""
    submitted_key = AssetKey(["uniware", tenant.name, "backfill_submitted"])
    pool, tags = pool_for(tenant), {"uniware/tenant": tenant.name}
    policy = BackfillPolicy.multi_run(DAYS_PER_BACKFILL_RUN)

    def run(context: AssetExecutionContext, mode: str) -> MaterializeResult[Any]:
        span = context.partition_time_window  # a range of days when a backfill run covers several
        report = run_tenant(tenant, mode=mode, run_id=_run_id(context),
                            backfill_start=span.start.astimezone(UTC).isoformat(),
                            backfill_end=span.end.astimezone(UTC).isoformat())
        return MaterializeResult(metadata=_metadata(report))

    @asset(key=submitted_key, description=f"Tenant {tenant.name}: create the export jobs of the partition's days",
           group_name=BACKFILL_GROUP, pool=pool, op_tags=tags, partitions_def=days, backfill_policy=policy)
    def backfill_submitted(context: AssetExecutionContext) -> MaterializeResult[Any]:
        return run(context, "submit")

    @asset(key=AssetKey(["uniware", tenant.name, "backfill"]), deps=[submitted_key],
           description=f"Tenant {tenant.name}: load the backfill jobs of the partition's days",
           group_name=BACKFILL_GROUP, pool=pool, op_tags=tags, partitions_def=days, backfill_policy=policy)
    def backfill(context: AssetExecutionContext) -> MaterializeResult[Any]:
        return run(context, "collect")

    return [backfill_submitted, backfill]


def backfill_partitions() -> Optional[DailyPartitionsDefinition]:
    """Days from `[uniware_dagster] backfill_from` (or UNIWARE_DAGSTER__BACKFILL_FROM); None: no backfill assets."""
    start: Optional[str] = dlt.config.get("uniware_dagster.backfill_from")
    return DailyPartitionsDefinition(start_date=str(start), timezone=TIMEZONE) if start else None


def build_definitions(tenants: Optional[Sequence[Tenant]] = None) -> Definitions:
    tenants = load_tenants() if tenants is None else tenants
    assets = [a for tenant in tenants for a in tenant_assets(tenant)]
    if not assets:  # no tenant configured: an empty code location, not an error at load
        return Definitions()
    jobs = [define_asset_job("uniware_tenants", selection=[k for a in assets for k in a.keys])]
    days = backfill_partitions()
    if days is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BetaWarning)  # backfill_policy
            backfills = [a for tenant in tenants for a in tenant_backfill_assets(tenant, days)]
        assets += backfills
        jobs.append(define_asset_job("uniware_tenants_backfill", selection=[k for a in backfills for k in a.keys]))
    return Definitions(assets=assets, jobs=jobs,
                       schedules=[ScheduleDefinition(job=jobs[0], cron_schedule=os.environ.get(
                           "UNIWARE_TENANTS_CRON", "0 * * * *"))])


def tenants_job() -> JobDefinition:
    """The incremental job of every configured tenant, reconstructable (`dagster.reconstructable`)
    for the multiprocess executor: each process builds it from the same configuration."""
    return build_definitions().resolve_job_def("uniware_tenants")


def tenants_backfill_job() -> JobDefinition:
    return build_definitions().resolve_job_def("uniware_tenants_backfill")


defs = build_definitions()
