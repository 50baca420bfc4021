"""Dagster: many Uniware tenants as partitions, each isolated, in parallel, within each tenant's export queue.

    dagster dev -f pipelines/dagster_tenants.py      # tenants from [tenants.<name>] (uniware_source.tenants)

Two pairs of assets (see README, "Many tenants on Dagster"), the submit and the collect step of each
a separate asset:

- `uniware/jobs_submitted` then `uniware/tables`, partitioned by tenant (a `StaticPartitionsDefinition`
  of the configured tenant names): the tenant's incremental load, cursors in its own dlt state. Job
  `uniware_tenants`; its hourly schedule asks for one run per tenant.
- `uniware/backfill_submitted` then `uniware/backfill`, partitioned by tenant x India day (a
  `MultiPartitionsDefinition`; days from `[uniware_dagster] backfill_from`). A Dagster backfill over
  days and tenants launches one run per tenant and range of up to 30 days
  (`BackfillPolicy.multi_run(30)`; the backfill must select at least as many days as tenants), whose
  time window goes to the connector as `backfill_start/backfill_end`: Uniware sees one job per export
  and facility per range, not one per day. Job `uniware_tenants_backfill`.

A run is one tenant: a failing tenant (bad credentials, a FAILED job) fails its own run only.

Every run of these assets carries the tag `uniware/tenant` (from the job, or added when the run is
queued by `pipelines/dagster_queue.py`); the deployment's run queue (`pipelines/dagster.yaml`:
`tag_concurrency_limits` with `applyLimitPerUniqueValue`) lets one run per tenant in at a time, so
one tenant's export queue sees one submitter or collector at a time, across every run launcher,
machine and pod, while other tenants run in parallel. Behind it, the connector's pipeline lock
makes a second run of the tenant on the same machine wait for the first.
"""

# no `from __future__ import annotations`: Dagster inspects the `context` annotation at runtime
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
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
    MaterializeResult,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    PartitionedConfig,
    PartitionsDefinition,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    StaticPartitionsDefinition,
    asset,
    define_asset_job,
    schedule,
)
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from uniware_source import RunReport
from uniware_source.tenants import Tenant, check_apart, load_tenants, run_tenant

GROUP = "uniware_tenants"
TIMEZONE = "Asia/Kolkata"  # Uniware's days are India days
DAYS_PER_BACKFILL_RUN = 30
TENANT_TAG = "uniware/tenant"  # on every run; the run queue limits runs per unique value
TENANT, DAY = "tenant", "day"  # the backfill partitions' dimensions
INCREMENTAL_JOB, BACKFILL_JOB = "uniware_tenants", "uniware_tenants_backfill"
SUBMITTED, TABLES = AssetKey(["uniware", "jobs_submitted"]), AssetKey(["uniware", "tables"])
BACKFILL_SUBMITTED, BACKFILL = AssetKey(["uniware", "backfill_submitted"]), AssetKey(["uniware", "backfill"])


def _metadata(report: RunReport) -> dict[str, Any]:
    tallies = report.exports.values()
    return {"jobs_created": sum(t.jobs_created for t in tallies), "jobs_loaded": sum(t.jobs_loaded for t in tallies),
            "rows": sum(t.rows for t in tallies), "problems": "\n".join(report.problems) or "none"}


def _run_id(context: AssetExecutionContext) -> str:
    return context.run.run_id[:12]


def tenant_of(partition_key: str) -> str:
    """The tenant of a partition key: the key itself, or the tenant of a `day|tenant` key (Dagster
    orders a key's dimensions by name)."""
    return partition_key.rsplit("|", 1)[-1]


def _backfill_tenant(context: AssetExecutionContext) -> str:
    """The one tenant of a backfill run. Dagster cuts a backfill into runs along the dimension with
    fewer selected keys: runs per tenant (a range of days each) while the backfill selects at least
    as many days as tenants, runs per day (a range of tenants) otherwise, which is refused here."""
    span = context.partition_key_range
    tenants = {tenant_of(span.start), tenant_of(span.end)}
    if len(tenants) != 1:
        raise ValueError(f"this backfill run covers several tenants ({span.start} to {span.end}): Dagster groups a "
                         "backfill's runs by day when it selects more tenants than days; select at least as many "
                         "days as tenants, or backfill tenants one at a time")
    return tenants.pop()


def incremental_assets(tenants: Mapping[str, Tenant], partitions: PartitionsDefinition) -> list[AssetsDefinition]:
    """The submit and collect assets of the tenants' incremental loads, a partition per tenant."""

    @asset(key=SUBMITTED, group_name=GROUP, partitions_def=partitions,
           description="Plan the tenant's windows, create its Uniware export jobs and commit their codes")
    def jobs_submitted(context: AssetExecutionContext) -> MaterializeResult[Any]:
        tenant = tenants[context.partition_key]
        return MaterializeResult(metadata=_metadata(run_tenant(tenant, mode="submit", run_id=_run_id(context))))

    @asset(key=TABLES, deps=[SUBMITTED], group_name=GROUP, partitions_def=partitions,
           description="Wait for the tenant's submitted jobs and load their rows into its dataset (uniware_<tenant>)")
    def tables(context: AssetExecutionContext) -> MaterializeResult[Any]:
        tenant = tenants[context.partition_key]
        return MaterializeResult(metadata=_metadata(run_tenant(tenant, mode="collect", run_id=_run_id(context))))

    return [jobs_submitted, tables]


def backfill_assets(tenants: Mapping[str, Tenant], partitions: MultiPartitionsDefinition) -> list[AssetsDefinition]:
    """The submit and collect assets of backfills, a partition per tenant and India day; a run covers
    one tenant and a range of days."""
    policy = BackfillPolicy.multi_run(DAYS_PER_BACKFILL_RUN)

    def run(context: AssetExecutionContext, mode: str) -> MaterializeResult[Any]:
        tenant = tenants[_backfill_tenant(context)]
        span = context.partition_time_window  # the run's days, from the first one's start to the last one's end
        report = run_tenant(tenant, mode=mode, run_id=_run_id(context),
                            backfill_start=span.start.astimezone(UTC).isoformat(),
                            backfill_end=span.end.astimezone(UTC).isoformat())
        return MaterializeResult(metadata=_metadata(report))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BetaWarning)  # backfill_policy

        @asset(key=BACKFILL_SUBMITTED, group_name=GROUP, partitions_def=partitions, backfill_policy=policy,
               description="Create the export jobs of the tenant's days (no cursor moves)")
        def backfill_submitted(context: AssetExecutionContext) -> MaterializeResult[Any]:
            return run(context, "submit")

        @asset(key=BACKFILL, deps=[BACKFILL_SUBMITTED], group_name=GROUP, partitions_def=partitions,
               backfill_policy=policy, description="Load the backfill jobs of the tenant's days")
        def backfill(context: AssetExecutionContext) -> MaterializeResult[Any]:
            return run(context, "collect")

    return [backfill_submitted, backfill]


def tenant_tags(partition_key: str) -> dict[str, str]:
    return {TENANT_TAG: tenant_of(partition_key)}


def incremental_job(partitions: StaticPartitionsDefinition) -> UnresolvedAssetJobDefinition:
    """The tenants' incremental job: a run per tenant, tagged with it (by Dagster itself when launched
    for a partition; the run queue's coordinator tags the runs the asset graph launches)."""
    config: PartitionedConfig[Any] = PartitionedConfig(
        partitions_def=partitions, run_config_for_partition_key_fn=lambda _: {}, tags_for_partition_key_fn=tenant_tags)
    return define_asset_job(INCREMENTAL_JOB, selection=[SUBMITTED, TABLES], config=config)


def backfill_job() -> UnresolvedAssetJobDefinition:
    """The backfill job: a run per tenant and range of days. Dagster takes no per-partition tags for
    jobs whose runs cover ranges: the run queue's coordinator (pipelines/dagster_queue.py) tags them."""
    return define_asset_job(BACKFILL_JOB, selection=[BACKFILL_SUBMITTED, BACKFILL])


def backfill_days() -> Optional[DailyPartitionsDefinition]:
    """Days from `[uniware_dagster] backfill_from` (or UNIWARE_DAGSTER__BACKFILL_FROM); None: no backfill assets."""
    start: Optional[str] = dlt.config.get("uniware_dagster.backfill_from")
    return DailyPartitionsDefinition(start_date=str(start), timezone=TIMEZONE) if start else None


def hourly_schedule(job: UnresolvedAssetJobDefinition, names: Sequence[str]) -> ScheduleDefinition:
    @schedule(job=job, cron_schedule=os.environ.get("UNIWARE_TENANTS_CRON", "0 * * * *"),
              name=f"{INCREMENTAL_JOB}_schedule")
    def every_tenant(context: ScheduleEvaluationContext) -> Iterator[RunRequest]:
        """One run per tenant: a partition each, tagged with the tenant."""
        tick = context.scheduled_execution_time.isoformat() if context.scheduled_execution_time else ""
        for name in names:
            yield RunRequest(run_key=f"{name}@{tick}", partition_key=name)

    return every_tenant


def build_definitions(tenants: Optional[Sequence[Tenant]] = None) -> Definitions:
    if tenants is None:
        tenants = load_tenants()  # checked apart as they load
    else:
        check_apart(tenants)
    if not tenants:  # no tenant configured: an empty code location, not an error at load
        return Definitions()
    by_name = {tenant.name: tenant for tenant in tenants}
    names = StaticPartitionsDefinition(list(by_name))
    incremental = incremental_job(names)
    assets, jobs = incremental_assets(by_name, names), [incremental]
    days = backfill_days()
    if days is not None:
        tenant_days = MultiPartitionsDefinition({TENANT: names, DAY: days})
        assets += backfill_assets(by_name, tenant_days)
        jobs.append(backfill_job())
    return Definitions(assets=assets, jobs=jobs, schedules=[hourly_schedule(incremental, list(by_name))])


def tenant_key(tenant: str, day: str) -> MultiPartitionKey:
    """The backfill partition of a tenant's India day (`YYYY-MM-DD`)."""
    return MultiPartitionKey({TENANT: tenant, DAY: day})


defs = build_definitions()
