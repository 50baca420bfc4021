"""The resources of the source: one per configured export, each also writing `export_job_status`.

An export's resource runs the steps of the run's phase (steps/submit.py, steps/collect.py) over the
export's ledger; its table hints (merge keys, the history variant) come from the export's settings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Optional

import dlt
from dlt.extract.resource import DltResource

from .catalog import REPLACE, ExportSpec
from .conversion.csv_to_parquet import FACILITY, JOB_CODE, KEY_OCCURRENCE
from .history import HISTORY_COLUMNS, HISTORY_TABLE, HISTORY_WRITE_DISPOSITION, take_deferred
from .ledger import ExportLedger, Ledgers, claim_tenant
from .runtime import ALL, COLLECT, HISTORY, SUBMIT, SourceRuntime
from .steps.collect import ExportCollection
from .steps.submit import submit_export


def export_resources(rt: SourceRuntime, normalize: Callable[[str], str]) -> list[DltResource]:
    """A resource for every configured export."""
    tables = [spec.table_name for spec in rt.settings.exports]
    return [export_resource(spec, rt, normalize, tables) for spec in rt.settings.exports]


def set_aside_history(configured: list[str]) -> Iterator[dict[str, Any]]:
    """The LOADED history rows that wait in the state of an export no longer configured (a run stopped
    after its rows' package loaded and before the rows did, then the export left out): its rows are in
    the table (a run loads waiting packages first), so the rows load now, not when it is configured again."""
    for table, state in dlt.current.source_state().get("resources", {}).items():
        if table not in configured and isinstance(state, dict):
            yield from take_deferred(state)


def export_resource(spec: ExportSpec, rt: SourceRuntime, normalize: Callable[[str], str],
                    tables: list[str]) -> DltResource:
    """The resource of one export: its rows go to `spec.table_name`, its jobs' history to
    `export_job_status`."""
    keys = [normalize(k) for k in spec.primary_key]
    columns: dict[str, Any] = {}
    if spec.facility_in_key:  # before the occurrence: `keys[:-1]` below is the natural key
        keys.append(FACILITY)
        columns[FACILITY] = {"nullable": True}  # as the converter writes it (dlt would rewrite the file otherwise)
    if keys and spec.repeating_keys:
        keys.append(KEY_OCCURRENCE)
    if spec.dedup_sort and keys:
        columns[normalize(spec.dedup_sort)] = {"dedup_sort": "desc"}
    merge_key: Optional[str | list[str]] = None
    if spec.merges_on_job_code:
        # no natural key: a job's rows replace whatever an earlier load of the same job left (two
        # runs at once, a retried package, a job code given twice), so each job lands once
        keys, columns = [], {}
        merge_key = JOB_CODE
    elif spec.write_disposition == REPLACE:
        merge_key = FACILITY  # snapshot reports replace each facility's rows
        # a job given in job_codes has no known facility (dlt would otherwise declare the merge key NOT NULL
        # and fail the package in normalize)
        columns[FACILITY] = {"nullable": True}
    elif spec.repeating_keys and keys:
        # a key's rows are numbered within their file: a later file's rows of the key replace all of them
        # (an invoice re-exported with one line where it had two leaves no stale second line)
        merge_key = keys[:-1]
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
    if spec.table_name == tables[0]:  # one export takes those of exports set aside
        for row in set_aside_history(tables):
            yield dlt.mark.with_table_name(row, HISTORY_TABLE)
    if rt.phase == HISTORY:
        ledger.forget_empty_snapshots()  # their package loaded before this step, deleting what they replace
    source_state = dlt.current.source_state()
    claim_tenant(source_state, rt.settings.base_url, dlt.current.pipeline().pipeline_name)
    rt.begin_extract(Ledgers(source_state.get("resources", {})), tables)
    if rt.phase in (SUBMIT, ALL):
        for row in submit_export(spec, ledger, rt):
            yield dlt.mark.with_table_name(row, HISTORY_TABLE)
    if rt.phase in (COLLECT, ALL):
        yield from ExportCollection(spec, ledger, rt, normalize).run()

