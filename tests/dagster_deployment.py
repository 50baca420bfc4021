"""A small real Dagster deployment for the tenants tests: an instance configured by the shipped
pipelines/dagster.yaml (the tenant-tagging run queue), the tenants code location served by its own
gRPC server process, runs submitted to the queue (by hand, as a schedule or the UI does, or by a
partitioned asset backfill) and launched by Dagster's own daemons' iterations (backfill, then
`QueuedRunCoordinatorDaemon`) through the default run launcher: each run in its own process."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml
from dagster import AssetKey, DagsterInstance, DagsterRun, DagsterRunStatus, instance_for_test
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.remote_representation.external_data import PartitionTagsSnap
from dagster._core.storage.dagster_run import RunsFilter
from dagster._core.test_utils import create_test_daemon_workspace_context
from dagster._core.utils import make_new_backfill_id
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import ModuleTarget
from dagster._daemon.backfill import execute_backfill_iteration
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_YAML = ROOT / "pipelines" / "dagster.yaml"
LOCATION = "uniware_tenants"
REPOSITORY = "__repository__"  # the name Dagster gives the repository of a `Definitions`
FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


@dataclass
class Deployment:
    instance: DagsterInstance
    workspace: WorkspaceProcessContext
    queue: QueuedRunCoordinatorDaemon

    def partition_tags(self, job_name: str, partition_key: str) -> Mapping[str, str]:
        """The tags Dagster gives a run of the job's partition (what the schedule and the UI use)."""
        location = self.workspace.create_request_context().get_code_location(LOCATION)
        snap = location.get_partition_tags_from_repo(location.get_repository(REPOSITORY).handle, job_name,
                                                     partition_key, self.instance)
        assert isinstance(snap, PartitionTagsSnap), snap
        return {key: str(value) for key, value in snap.tags.items()}

    def submit(self, job_name: str, tags: Mapping[str, str], run_config: Optional[Mapping[str, Any]] = None) -> str:
        """Create a run of the job in the code location and submit it to the run queue (QUEUED)."""
        workspace = self.workspace.create_request_context()
        location = workspace.get_code_location(LOCATION)
        job = location.get_repository(REPOSITORY).get_full_job(job_name)
        plan = location.get_execution_plan(job, dict(run_config or {}), step_keys_to_execute=None, known_state=None,
                                           instance=self.instance)
        run = self.instance.create_run(
            job_name=job_name, run_id=None, run_config=run_config or {}, resolved_op_selection=None,
            op_selection=None, step_keys_to_execute=None, status=DagsterRunStatus.NOT_STARTED, tags=dict(tags),
            root_run_id=None, parent_run_id=None, job_snapshot=job.job_snapshot,
            execution_plan_snapshot=plan.execution_plan_snapshot, parent_job_snapshot=job.parent_job_snapshot,
            remote_job_origin=job.get_remote_origin(), job_code_origin=job.get_python_origin(),
            asset_selection=None, asset_check_selection=None, asset_graph=workspace.asset_graph)
        self.instance.submit_run(run.run_id, workspace)
        return run.run_id

    def backfill(self, assets: Sequence[AssetKey], partitions: Sequence[str]) -> str:
        """Request a Dagster backfill of the assets' partitions (what the UI's "Materialize" of a
        selection of partitions does); the backfill daemon's passes submit its runs."""
        workspace = self.workspace.create_request_context()
        backfill = PartitionBackfill.from_asset_partitions(
            backfill_id=make_new_backfill_id(), asset_graph=workspace.asset_graph, partition_names=partitions,
            asset_selection=assets, backfill_timestamp=time.time(), tags={}, dynamic_partitions_store=self.instance,
            all_partitions=False, title=None, description=None, run_config=None)
        self.instance.add_backfill(backfill)
        return backfill.backfill_id

    def backfill_done(self, backfill_id: str) -> bool:
        backfill = self.instance.get_backfill(backfill_id)
        assert backfill is not None
        return backfill.status in {BulkActionStatus.COMPLETED_SUCCESS, BulkActionStatus.COMPLETED_FAILED,
                                   BulkActionStatus.FAILED}

    def backfill_runs(self, backfill_id: str) -> list[DagsterRun]:
        return list(self.instance.get_runs(filters=RunsFilter.for_backfill(backfill_id)))

    def dequeue(self) -> None:
        """One pass of Dagster's daemons: the backfill daemon submits runs of requested backfills, the
        run queue daemon launches what the limits let in."""
        list(execute_backfill_iteration(self.workspace, logging.getLogger("dagster.backfill")))
        list(self.queue.run_iteration(self.workspace))

    def run(self, run_id: str) -> DagsterRun:
        run = self.instance.get_run_by_id(run_id)
        assert run is not None
        return run

    def wait_until(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        """Pass the queue until `condition` holds; fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            self.dequeue()
            time.sleep(0.5)  # a poll interval, not a timing assumption

    def finished(self, *run_ids: str) -> bool:
        return all(self.run(run_id).status in FINISHED for run_id in run_ids)


@contextmanager
def deployment(home: Path) -> Iterator[Deployment]:
    """A Dagster instance in `home` with the shipped dagster.yaml, and the tenants code location.
    The code location reads its tenants from the environment when its server starts."""
    settings = yaml.safe_load(SHIPPED_YAML.read_text(encoding="utf-8"))
    home.mkdir(parents=True, exist_ok=True)
    target = ModuleTarget(module_name="pipelines.dagster_tenants", attribute="defs", working_directory=str(ROOT),
                          location_name=LOCATION)
    with instance_for_test(temp_dir=str(home), overrides=settings) as instance, \
            create_test_daemon_workspace_context(target, instance) as workspace:
        try:
            yield Deployment(instance, workspace, QueuedRunCoordinatorDaemon(interval_seconds=1))
        finally:  # no run process outlives the test: a test that failed early stops its runs
            for run in instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.STARTING, DagsterRunStatus.STARTED])):
                instance.run_launcher.terminate(run.run_id)
            instance.run_launcher.join(timeout=60)
