"""Runs the source the resumable way: finish pending loads, submit jobs, collect them, repeat.

Submit and collect are separate pipeline runs, so created job codes are committed to dlt state
(locally and in the destination) before anything waits on them. When `max_concurrent_jobs` holds
some windows back, further submit/collect rounds follow until every planned window had its job.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Optional

import duckdb
import pyarrow as pa
from dlt.common.exceptions import SignalReceivedException
from dlt.extract import DltResource
from dlt.pipeline.exceptions import PipelineStepFailed
from dlt.pipeline.pipeline import Pipeline

from ..clock import Clock
from ..errors import ExportsFailed, UniwareError
from ..history import HISTORY_TABLE
from ..ledger import Ledgers, unconfigured_exports, waiting_windows
from ..run_report import RunReport
from ..runtime import COLLECT, HISTORY, SUBMIT
from ..source import uniware_source
from . import duckdb_memory
from .dataset_lock import confirm_held, lost_lock_said
from .dlt_warnings import expected_warnings_dropped
from .duckdb_connection import check_names, connection_held, credentials_pinned, is_duckdb
from .load_fence import REFUSED
from .lock import WaitForLock, pipeline_lock
from .moved import dataset_exists, follow_a_move, yield_to_loaded_state
from .recovery import (
    adopt_package_schemas,
    declare_merge,
    drop_jobs_loaded_elsewhere,
    drop_normalized_extracts,
    merge_on_reload,
    remove_half_written_schemas,
)
from .shared_dataset import warn_other_pipelines
from .signals import Terminated, interrupt_for, interrupt_of_a_query, signals_deferred, sigterm_interrupts
from .snapshot_replace import delete_emptied_snapshots, snapshots_through_staging

log = logging.getLogger(__name__)

RUN = "run"
MODES = (RUN, SUBMIT, COLLECT)
MAX_ROUNDS = 10_000  # a safety stop only: each round makes or ends a job, and a run plans its windows once


def finish_pending_loads(pipeline: Pipeline) -> bool:
    """Restore state from the destination if needed, and load packages a crashed run left behind
    (dlt keeps them); True if there were any."""
    remove_half_written_schemas(pipeline)
    pending = pipeline.has_pending_data
    if pending:
        log.info("pipeline %s has load packages from an interrupted run; loading them first",
                 pipeline.pipeline_name)
        drop_normalized_extracts(pipeline)
        adopt_package_schemas(pipeline)
        switched = merge_on_reload(pipeline)
        drop_jobs_loaded_elsewhere(pipeline, switched)  # another run's later jobs came after them
        delete_emptied_snapshots(pipeline)  # again: the kill may have come before the package loaded
    with _surfaced():
        if pending:
            normalize_whole(pipeline)  # an extracted package: normalized here, where a signal waits for its commit
        if pending and pipeline.first_run and not dataset_exists(pipeline):
            # the packages of a first run stopped before any loaded: dlt's sync would take the missing dataset for
            # one dropped at the destination and wipe the pipeline's folder, packages and job codes with it (a
            # dataset dropped after loads, it should: the pipeline starts again). The state they carried wins.
            _with_room(pipeline, pipeline.load)
            yield_to_loaded_state(pipeline)
        else:
            _with_room(pipeline, pipeline.run)
        if pending:
            # the packages carried the state of the run that made them; stopped before saving it, that run
            # left an older state here, which dlt compared with the destination's before they loaded
            pipeline.sync_destination()
    return pending


@contextmanager
def pending_loads_finished(pipeline: Pipeline) -> Iterator[None]:
    """For bookkeeping outside a run (`reset`): the packages an interrupted run left are loaded first,
    the way a run loads them (recovery, a snapshot's deletion, the staged replace); inside, the
    destination keeps the run's settings. Without it, dlt would load them as they are, and not extract
    the bookkeeping while any waits. The caller holds the pipeline's lock."""
    with _signals_raise_at_once(pipeline), expected_warnings_dropped(), _run_destination(pipeline):
        finish_pending_loads(pipeline)
        yield


@contextmanager
def _run_destination(pipeline: Pipeline) -> Iterator[None]:
    """The destination as a run uses it: DuckDB's credentials resolved once, snapshots through staging."""
    with credentials_pinned(pipeline), snapshots_through_staging(pipeline):
        yield


def normalize_whole(pipeline: Pipeline) -> None:
    """`pipeline.normalize()`, not broken off by a signal: it commits the package by moving folders."""
    with signals_deferred():
        pipeline.normalize()


def _load(pipeline: Pipeline) -> None:
    """`pipeline.load()`, with DuckDB's memory limit raised first for a table too wide for it. The
    conversion's freed Arrow memory is given back to the system first: the load (DuckDB in this
    process) need not stack on what pyarrow's allocator keeps for reuse."""
    pa.default_memory_pool().release_unused()
    confirm_held()  # rows land only under the dataset's lock: lost, nothing loads
    delete_emptied_snapshots(pipeline)  # with the package that holds their history rows
    if not is_duckdb(pipeline):
        pipeline.load()
    else:
        _with_room(pipeline, pipeline.load,
                   needed=duckdb_memory.widest_table(pipeline) * duckdb_memory.BYTES_PER_COLUMN)
    confirm_held()  # lost as the load ended: said, never an exit 0


def _with_room(pipeline: Pipeline, run: Callable[[], Any], needed: int = 0) -> None:
    """`run()` on one DuckDB connection (see duckdb_connection), with the memory limit raised first
    to `needed` bytes if it is lower; when DuckDB still runs out of its memory limit while loading,
    the pending package is loaded again with twice the limit, up to half the machine's memory."""
    with connection_held(pipeline) as connection:
        current = duckdb_memory.current_limit(connection)
        if current is not None and needed > current:
            log.info("a table of %d columns: DuckDB gets memory_limit=%d MB for this load",
                     needed // duckdb_memory.BYTES_PER_COLUMN, needed >> 20)
            with duckdb_memory.raised_limit(needed, connection):
                _retried_for_room(pipeline, run, connection)
        else:
            _retried_for_room(pipeline, run, connection)


def _retried_for_room(pipeline: Pipeline, run: Callable[[], Any], connection: Any) -> None:
    try:
        run()
    except PipelineStepFailed as failed:
        if failed.step != "load" or not is_duckdb(pipeline) or not duckdb_memory.is_out_of_memory(failed):
            raise
        columns = duckdb_memory.widest_table(pipeline)
        limit = duckdb_memory.retry_limit(columns, duckdb_memory.current_limit(connection))
        if limit is None:
            raise
        while True:
            log.warning("DuckDB ran out of its memory limit loading a table of %d columns; loading again with "
                        "memory_limit=%d MB", columns, limit >> 20)
            try:
                with duckdb_memory.raised_limit(limit, connection):
                    pipeline.load()
                return
            except PipelineStepFailed as again:
                doubled = duckdb_memory.retry_limit(columns, limit)
                if not duckdb_memory.is_out_of_memory(again) or doubled is None:
                    raise
                limit = doubled


def _declared_merge(pipeline: Pipeline) -> None:
    """Export tables are declared `merge`; a package that took the fast path (steps/collect.py) made
    its table `append` for that package only. Said again in the pipeline's live schema before the next
    step's extract, which saves it with its package, so the schema shows what the export does between loads."""
    if pipeline.default_schema_name:
        declare_merge(pipeline.default_schema)


def _run_step(pipeline: Pipeline, source: Any, loader_file_format: Optional[str] = None) -> None:
    """Extract, normalize and load `source` (what `pipeline.run` does, with room made for wide
    tables before the load), surfacing an interrupt or the connector's own error as itself rather
    than wrapped in dlt's PipelineStepFailed."""
    _declared_merge(pipeline)
    if loader_file_format:
        # dlt gives the format to each resource's own table, not to its table variants (the history)
        for resource in source.resources.values():
            resource.apply_hints(table_name=HISTORY_TABLE, file_format=loader_file_format, create_table_variant=True)
    with _surfaced():
        pipeline.extract(source, loader_file_format=loader_file_format)  # type: ignore[arg-type]
        normalize_whole(pipeline)
        _load(pipeline)


@contextmanager
def _surfaced() -> Iterator[None]:
    """An interrupt or the connector's own error that dlt wrapped in PipelineStepFailed, raised as itself.
    An interrupt comes first: Ctrl-C during a load whose lock also went exits as interrupted."""
    try:
        yield
    except PipelineStepFailed as failed:
        interrupt = _interrupt_in(failed.exception)
        if interrupt is not None:
            raise interrupt from None
        if failed.step == "load" or REFUSED in str(failed):
            lost_lock_said(failed)  # a step that failed as the dataset's lock went (its statements refused)
        own = next((c for c in _causes(failed.exception) if isinstance(c, UniwareError)), None)
        if own is not None:
            raise own from None
        raise


def _causes(error: Optional[BaseException]) -> Iterator[BaseException]:
    """The error and what caused it, five deep (dlt wraps a resource's exception once more)."""
    for _ in range(5):
        if error is None:
            return
        yield error
        error = error.__cause__


def _interrupt_in(error: Optional[BaseException]) -> Optional[BaseException]:
    """The interrupt to raise for a signal found among the error's causes, if any."""
    for cause in _causes(error):
        if isinstance(cause, SignalReceivedException):
            return interrupt_for(cause.signal_code)
        if isinstance(cause, Terminated):
            return Terminated()
        if isinstance(cause, KeyboardInterrupt):
            return KeyboardInterrupt()
        if _interrupted_query(cause):
            return interrupt_of_a_query()
    return None


def _interrupted_query(error: Optional[BaseException]) -> bool:
    """DuckDB's error for a query a signal broke off (it turns the KeyboardInterrupt into its own)."""
    return isinstance(error, duckdb.InterruptException) or (
        isinstance(error, RuntimeError) and "Query interrupted" in str(error))


def _progress(report: RunReport) -> int:
    """Jobs created, loaded or failed so far in this run."""
    return sum(t.jobs_created + t.jobs_loaded for t in report.exports.values()) + len(report.problems)


def _waiting_windows(pipeline: Pipeline, run_id: str, report: RunReport) -> int:
    """Planned windows of configured exports and facilities that still need a job in this run."""
    resources = pipeline.state.get("sources", {}).get("uniware", {}).get("resources", {})
    for table in unconfigured_exports(resources, report.scope) if report.scope else ():
        report.once(f"unconfigured|{table}", "table %s has unfinished windows in state but its export is not "
                    "configured now: set aside, kept for when it is configured again", table)
    return waiting_windows(resources, report.scope, run_id)


@contextmanager
def _signals_raise_at_once(pipeline: Pipeline) -> Iterator[None]:
    """dlt intercepts SIGINT and SIGTERM during normalize and load and raises only at its next
    checkpoint; a signal that comes during a step's last load is forgotten when the step ends, and
    the run would go on. Off while the connector runs: an interrupt raises where it lands (a load
    package left half-loaded is finished by the next run, merges make that idempotent)."""
    config = pipeline.runtime_config
    intercept = config.intercept_signals
    config.intercept_signals = False
    try:
        with sigterm_interrupts():
            yield
    finally:
        config.intercept_signals = intercept


def _reload_state(pipeline: Pipeline) -> None:
    """After waiting for another run: take the state it committed, not what was read before; the dataset
    stays this run's (dlt's props would take the other run's: a run waiting to load into another dataset
    loaded into the one the other run had, exit 0), so a move is seen next (moved.py)."""
    dataset = pipeline.dataset_name
    pipeline._state_to_props(pipeline._get_state())
    pipeline._set_dataset_name(dataset)


def load_deferred_history(pipeline: Pipeline, *, run_id: Optional[str] = None, report: Optional[RunReport] = None,
                          clock: Optional[Clock] = None, loader_file_format: Optional[str] = None,
                          along: Sequence[DltResource] = (), **source_kwargs: Any) -> bool:
    """Load the LOADED history rows that wait in state for their rows' package to have loaded (call
    after a collect step run outside `run_exports`), and the resources `along` in the same package
    (one extract, normalize and load instead of two); True if there were history rows."""
    deferred = Ledgers.of_pipeline_state(pipeline.state).has_deferred_history()
    if not deferred and not along:
        return False
    source = uniware_source(phase=HISTORY, run_id=run_id, report=report, clock=clock, **source_kwargs)
    source.resources.add(*along)
    _run_step(pipeline, source, loader_file_format)
    return deferred


ClosingRows = Callable[[Optional[ExportsFailed]], Sequence[DltResource]]


def run_exports(pipeline: Pipeline, *, mode: str = RUN, report: Optional[RunReport] = None,
                clock: Optional[Clock] = None, run_id: Optional[str] = None,
                loader_file_format: Optional[str] = None, wait_for_lock: WaitForLock = False,
                on_finish: Optional[Callable[[Optional[BaseException]], None]] = None,
                closing_rows: Optional[ClosingRows] = None, **source_kwargs: Any) -> RunReport:
    """Load the configured exports through `pipeline`; raises ExportsFailed at the end when some job did
    not load (after everything else was loaded).

    `mode` "run" submits and collects; "submit" or "collect" does one step, for orchestrators that
    run them as separate tasks. `loader_file_format` goes to `pipeline.run` (e.g. "parquet" for a
    filesystem destination). Extra keyword arguments go to `uniware_source`.

    One run per pipeline at a time: another run holding the pipeline's lock raises RunLocked at once
    (naming its pid, host and start), unless `wait_for_lock` is True (wait) or a number of seconds.
    SIGTERM raises Terminated (a KeyboardInterrupt) while it runs, like Ctrl-C. `on_finish` is called
    with the error that ends the run (None: it succeeded) while the lock is still held.
    `closing_rows` is called once every step is done, with the outcome (None, or the ExportsFailed
    about to be raised); the resources it returns load in the run's last package, with the deferred
    history rows (the pipeline script's `uniware_runs` row). So `on_finish` gets None or ExportsFailed
    only after those resources loaded; any other error means they did not.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    check_names(pipeline)
    with _signals_raise_at_once(pipeline), expected_warnings_dropped(), \
            pipeline_lock(pipeline, wait_for_lock) as waited:
        if waited:
            _reload_state(pipeline)
        ended: Optional[BaseException] = None
        try:
            follow_a_move(pipeline)
            with _run_destination(pipeline):
                return _run_locked(pipeline, mode=mode, report=report or RunReport(), clock=clock,
                                   run_id=run_id or uuid.uuid4().hex[:12], loader_file_format=loader_file_format,
                                   closing_rows=closing_rows, **source_kwargs)
        except BaseException as error:
            ended = error
            raise
        finally:
            if on_finish is not None:
                on_finish(ended)


def _run_locked(pipeline: Pipeline, *, mode: str, report: RunReport, clock: Optional[Clock], run_id: str,
                loader_file_format: Optional[str], closing_rows: Optional[ClosingRows],
                **source_kwargs: Any) -> RunReport:
    finish_pending_loads(pipeline)
    warn_other_pipelines(pipeline, report)
    waiting = 0
    for round_number in range(1, MAX_ROUNDS + 1):
        progress_before = _progress(report)
        if mode in (RUN, SUBMIT):
            # a signal stops the creates (report.stop_requested) and the step commits the jobs made so far,
            # then it stops the run: the next run polls them instead of making them again
            with signals_deferred(on_first=lambda: setattr(report, "stop_requested", True)):
                _run_step(pipeline, uniware_source(phase=SUBMIT, run_id=run_id, report=report, clock=clock,
                                                   **source_kwargs), loader_file_format)
        if mode in (RUN, COLLECT):
            _run_step(pipeline, uniware_source(phase=COLLECT, run_id=run_id, report=report, clock=clock,
                                               **source_kwargs), loader_file_format)
        waiting = _waiting_windows(pipeline, run_id, report)
        if mode != RUN or not waiting:
            break
        if _progress(report) == progress_before:
            # no job made or finished: every slot is held by jobs still pending at Uniware
            log.warning("%d window(s) wait for a job slot that pending jobs still hold (max_concurrent_jobs)",
                        waiting)
            break
        log.info("round %d done; %d window(s) still wait for a job slot", round_number, waiting)
    if mode == RUN and waiting and (round_number == MAX_ROUNDS or not report.problems):
        # exit 0 says every window loaded: windows left without a job are no success (a job that kept its
        # slot, timed out, is the run's problem already)
        report.problem(f"{waiting} planned window(s) got no job in this run (every job slot stayed taken, or the "
                       f"run stopped after {MAX_ROUNDS} rounds): they wait in state, and the next run exports them")
    outcome = ExportsFailed(report.problems) if report.problems else None
    load_deferred_history(pipeline, run_id=run_id, report=report, clock=clock, loader_file_format=loader_file_format,
                          along=closing_rows(outcome) if closing_rows else (), **source_kwargs)
    if outcome is not None:
        raise outcome
    return report
