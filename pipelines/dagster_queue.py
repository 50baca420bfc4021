"""Dagster's run queue, with every run of the Uniware tenants' assets tagged by its tenant.

`TenantQueuedRunCoordinator` is Dagster's `QueuedRunCoordinator` (same settings, same daemon) that,
before it queues a run of the tenants' assets, adds the tag `uniware/tenant` read from the run's
partition (`dagster/partition`, or the start of a backfill run's range of days). The run queue's
`tag_concurrency_limits` on that tag (`applyLimitPerUniqueValue`) then let one run per tenant in at
a time, whichever way the run was launched: the schedule, a partition launched in the UI, or a
partitioned backfill. Dagster alone cannot do it for backfill runs: a run over a range of days
carries only the range's start and end keys, and a job whose backfill policy covers ranges takes no
per-partition tags. Configured in `pipelines/dagster.yaml`; the daemon and the webserver import it
(this directory on their PYTHONPATH, or the project installed in their image).
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from typing import Optional

from dagster import AssetKey, DagsterRun
from dagster._core.run_coordinator import QueuedRunCoordinator, SubmitRunContext
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

TENANT_TAG = "uniware/tenant"
JOBS = frozenset({"uniware_tenants", "uniware_tenants_backfill"})
ASSET_PREFIX = "uniware"  # the tenants' assets: uniware/jobs_submitted, uniware/tables, uniware/backfill...


def tenant_of(partition_key: str) -> str:
    """The tenant of a partition key: the key itself, or the tenant of a `day|tenant` key (Dagster
    orders a key's dimensions by name)."""
    return partition_key.rsplit("|", 1)[-1]


def tenant_of_run(tags: Mapping[str, str]) -> Optional[str]:
    """The one tenant a run's partition tags name, or None (no partition, or a range over tenants)."""
    if PARTITION_NAME_TAG in tags:
        return tenant_of(tags[PARTITION_NAME_TAG])
    start, end = tags.get(ASSET_PARTITION_RANGE_START_TAG), tags.get(ASSET_PARTITION_RANGE_END_TAG)
    if start is not None and end is not None and tenant_of(start) == tenant_of(end):
        return tenant_of(start)
    return None


def is_tenants_run(run: DagsterRun) -> bool:
    keys: Set[AssetKey] = run.asset_selection or frozenset()
    return run.job_name in JOBS or any(key.path[0] == ASSET_PREFIX and len(key.path) == 2 for key in keys)


class TenantQueuedRunCoordinator(QueuedRunCoordinator):
    """A `QueuedRunCoordinator` that tags each run of the tenants' assets with `uniware/tenant`."""

    def submit_run(self, context: SubmitRunContext) -> DagsterRun:
        run = context.dagster_run
        tenant = tenant_of_run(run.tags) if is_tenants_run(run) else None
        if tenant is not None and run.tags.get(TENANT_TAG) != tenant:
            self._instance.add_run_tags(run.run_id, {TENANT_TAG: tenant})
            run = run.with_tags({**run.tags, TENANT_TAG: tenant})
        return super().submit_run(SubmitRunContext(run, context.workspace))
