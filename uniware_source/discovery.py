"""Look before you leap: the facilities a tenant has, the built-in exports, what the next run would
do (`plan`), and where the pipeline stands (`status`). Nothing here creates a job or writes state."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Optional

from dlt.pipeline.pipeline import Pipeline

from .catalog import CATALOG, ExportSpec
from .client.facility_search import search_facilities
from .ledger import ExportLedger, awaits_job, claim_tenant, is_active
from .run_log import RUNS_TABLE
from .runtime import SourceRuntime
from .steps.submit import plan
from .vocabulary import LABELS, SAME_REPORT

FAILURE_STATUSES = ("CREATE_FAILED", "FAILED", "CANCELLED", "ERROR", "LOST", "TIMED_OUT", "ABANDONED",
                    "DOWNLOAD_FAILED", "INVALID_FILE", "PARSE_FAILED")


def facility_lines(rt: SourceRuntime) -> list[str]:
    """facility/search as a table: code, status, created. Uniware's answer has no display name."""
    payload = search_facilities(rt.client)  # the raw parties
    parties = [p for p in payload.get("parties") or [] if isinstance(p, dict)]
    lines = [f"{'code':<16} {'status':<10} created (UTC)"]
    for party in sorted(parties, key=lambda p: str(p.get("facilityCode"))):
        created = party.get("created")
        when = datetime.fromtimestamp(created / 1000, UTC).strftime("%Y-%m-%d") if isinstance(created, int) else "-"
        lines.append(f"{party.get('facilityCode')!s:<16} {party.get('facilityStatus')!s:<10} {when}")
    lines.append("(facility/search gives codes only, no display names: use these codes in 'facilities'; "
                 "export files name the facility by display name in 'Facility', by code in 'Facility Code')")
    return lines


def _labels(name: str) -> dict[str, str]:
    """Column id -> header label, from the field's vocabulary (`vocabulary.py`)."""
    return dict(LABELS.get(name, {}))


def export_lines() -> list[str]:
    width = max(len(name) for name in CATALOG)
    lines = [f"{'report':<{width}} {'table':<20} {'date filter':<24} {'loaded as':<9} key"]
    for spec in CATALOG.values():
        lines.append(f"{spec.name:<{width}} {spec.table_name:<20} {spec.date_filter or '-':<24} "
                     f"{spec.write_disposition:<9} {' + '.join(spec.primary_key) or '-'}")
    lines.append("columns and types of each: `uniware-pipeline exports --markdown`")
    return lines


def export_reference(specs: Optional[list[ExportSpec]] = None) -> str:
    """The README's reference of every built-in report: columns with types, keys, date filter."""
    out: list[str] = []
    for spec in specs or list(CATALOG.values()):
        labels = _labels(spec.name)
        key = " + ".join(spec.primary_key) or "none"
        out.append(f"#### {spec.name}\n")
        if spec.name in SAME_REPORT:
            out.append(f"The same report as {SAME_REPORT[spec.name]} (its ids, labels, types, key and table "
                       f"`{spec.table_name}`), under the name some tenants give it.\n")
            continue
        date_filter = f"`{spec.date_filter}`" if spec.date_filter else "none"
        newest = f" (newest `{spec.dedup_sort}` wins)" if spec.dedup_sort else ""
        if spec.facility_in_key:
            key += " + `_uniware_facility` (the facility code the job ran under)"
        if spec.repeating_keys and spec.primary_key:
            newest = " + `_uniware_key_occurrence` (rows repeating the key are all kept, numbered)"
        scope = "" if spec.facility_scoped else "; one job, not per facility"
        out.append(f"Table `{spec.table_name}`; date filter {date_filter}; key {key}{newest}; "
                   f"loaded as {spec.write_disposition}{scope}.\n")
        out.append("| column id | header label | type |")
        out.append("|---|---|---|")
        for column in spec.columns:
            label = labels.get(column, "")
            out.append(f"| `{column}` | {label or '(label unknown)'} | {spec.column_types.get(label, 'text')} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _resources(pipeline: Pipeline) -> Mapping[str, Any]:
    resources: Mapping[str, Any] = pipeline.state.get("sources", {}).get("uniware", {}).get("resources", {})
    return resources


def plan_lines(pipeline: Pipeline, rt: SourceRuntime) -> list[str]:
    """What the next run would do, planned on a copy of the state: creates nothing, writes nothing."""
    claim_tenant(copy.deepcopy(dict(pipeline.state.get("sources", {}).get("uniware", {}))), rt.settings.base_url,
                 pipeline.pipeline_name)  # another tenant's state: the run would refuse, so does the plan
    lines = []
    creates = 0
    for spec in rt.settings.exports:
        state = copy.deepcopy(dict(_resources(pipeline).get(spec.table_name, {})))
        ledger = ExportLedger(state)
        plan(spec, ledger, rt)
        active = None if rt.settings.job_codes else frozenset(rt.facilities_for(spec, ledger))
        for entry in ledger.entries():
            if entry.done:
                continue
            if not is_active(entry, active):
                what = "set aside (facility not configured)"
            elif entry.job_code:
                what = f"poll job {entry.job_code}"
            else:
                what = "create a job"
                creates += 1
            lines.append(f"{entry.describe(spec.name)}: {what}")
    lines += [f"refused: {problem}" for problem in rt.report.problems]  # what the run would refuse, and why
    lines += _unknown_date_filters(rt.settings.exports)
    lines.append(f"{creates} job(s) to create (at most max_concurrent_jobs={rt.settings.max_concurrent_jobs} "
                 "at once); nothing was created")
    return lines + _pending_note(pipeline)


def _pending_note(pipeline: Pipeline) -> list[str]:
    """A line when load packages of an interrupted run wait: the next run loads them first, and what
    they carry (rows, jobs, cursors) is not yet in the destination, nor always in what is shown here."""
    if not pipeline.has_pending_data:
        return []
    return [f"{pipeline.pipeline_name} has load package(s) of an interrupted run waiting: the next run loads "
            "them first, with the jobs and cursors they carry (which this may not show yet)"]


def _unknown_date_filters(exports: Sequence[ExportSpec]) -> list[str]:
    """A note for each catalog report given a date filter id the catalog does not know for it: only
    Uniware can tell (a create refused with 100003 names it), which `plan` does not ask."""
    notes = []
    for spec in exports:
        entry = CATALOG.get(spec.name)
        known = {*entry.window_columns_by_filter, *([entry.date_filter] if entry.date_filter else [])} \
            if entry else set()
        if spec.date_filter and known and spec.date_filter not in known:
            notes.append(f"note: {spec.name}: date_filter '{spec.date_filter}' is not one the catalog knows for "
                         f"this report ({', '.join(sorted(known))}); Uniware refuses an id it does not take at "
                         "the first create (100003), or ignores it and exports the whole report (seen in the field)"
                         + (f": the window guard checks '{spec.window_column}' (OUT_OF_WINDOW, on_window_violation)"
                            if spec.window_column else ""))
    return notes


def status_lines(pipeline: Pipeline) -> list[str]:
    """Jobs in flight, cursors per export x facility, the last failures (state and destination)."""
    resources = _resources(pipeline)
    if not resources:
        return [f"pipeline '{pipeline.pipeline_name}' has no connector state here yet (no run, or another "
                "pipelines dir)", *_pending_note(pipeline)]
    lines = ["cursors (everything before is loaded):"]
    for table, state in sorted(resources.items()):
        for facility, cursor in sorted((state.get("cursors") or {}).items()):
            lines.append(f"  {table:<22} {facility:<12} {cursor}")
    lines.append("jobs in flight:")
    failures = []
    for table, state in sorted(resources.items()):
        for entry in state.get("entries", []):
            if entry.get("job_code") and not entry.get("done"):
                lines.append(f"  {table:<22} {entry.get('facility') or '-':<12} {entry['job_code']:<16} "
                             f"{entry.get('status') or 'CREATED'} (polls {entry.get('polls') or 0})")
            if entry.get("last_error"):
                failures.append(f"  {table}: {entry.get('facility') or '-'}: {entry['last_error']}")
    lines.append("last failures still waiting for a new job:")
    lines.extend(failures or ["  none"])
    lines.append("windows planned, waiting for a job (the next run that exports their facility makes them):")
    lines.extend(_waiting_lines(resources) or ["  none"])
    lines.extend(history_failures(pipeline))
    lines.extend(last_run(pipeline))
    return lines + _pending_note(pipeline)


def _waiting_lines(resources: Mapping[str, Any]) -> list[str]:
    """Per export and facility, the planned windows no job was made for yet, and the days they span."""
    waiting: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for table, state in sorted(resources.items()):
        for entry in state.get("entries", []):
            if awaits_job(entry):
                waiting.setdefault((table, entry.get("facility") or "-"), []).append(entry)
    lines = []
    for (table, facility), entries in waiting.items():
        starts = sorted(str(e["start"]) for e in entries if e.get("start"))
        ends = sorted(str(e["end"]) for e in entries if e.get("end"))
        span = f" from {starts[0]} to {ends[-1]}" if starts and ends else ""
        lines.append(f"  {table:<22} {facility:<12} {len(entries)} window(s){span}")
    return lines


def last_run(pipeline: Pipeline) -> list[str]:
    """The pipeline's last script run's outcome from the destination's uniware_runs table (its exit code and
    errors: what a run refused without a job, e.g. an export without a key whose windows overlap loaded rows).
    Another pipeline loading into the same dataset has rows there too; a row of a version that did not
    record the pipeline counts as this one's."""
    if pipeline.destination is None or not pipeline.default_schema_name \
            or RUNS_TABLE not in pipeline.default_schema.tables:
        return []
    try:
        with pipeline.sql_client() as client:
            table = client.make_qualified_table_name(RUNS_TABLE)
            columns = pipeline.default_schema.tables[RUNS_TABLE].get("columns", {})
            mine, values = ("", []) if "pipeline_name" not in columns else (
                f" WHERE {client.escape_column_name('pipeline_name')} = %s OR "
                f"{client.escape_column_name('pipeline_name')} IS NULL", [pipeline.pipeline_name])
            rows = client.execute_sql(f"SELECT started_at, exit_code, errors FROM {table}{mine} "
                                      "ORDER BY started_at DESC LIMIT 1", *values) or []
    except Exception as error:  # the destination may be down: status still shows the state
        return [f"({RUNS_TABLE} not read: {type(error).__name__})"]
    if not rows:
        return []
    started, code, errors = rows[0]
    return [f"last run ({RUNS_TABLE}): {started}, exit {code}", *(f"  {line}" for line in (errors or "").splitlines()
                                                                   if line.strip())]


def history_failures(pipeline: Pipeline, limit: int = 10) -> list[str]:
    """The last failures recorded in the destination's export_job_status, if it is reachable."""
    if pipeline.destination is None or not pipeline.default_schema_name \
            or "export_job_status" not in pipeline.default_schema.tables:
        return []
    statuses = ", ".join(f"'{s}'" for s in FAILURE_STATUSES)
    try:
        with pipeline.sql_client() as client:
            table = client.make_qualified_table_name("export_job_status")
            rows = client.execute_sql(
                f"SELECT observed_at, export_name, facility, job_code, status, message FROM {table} "
                f"WHERE status IN ({statuses}) ORDER BY observed_at DESC LIMIT {limit}") or []
    except Exception as error:  # the destination may be down or not SQL: status still shows the state
        return [f"(export_job_status not read: {type(error).__name__})"]
    lines = ["last failures in export_job_status:"]
    for observed, export, facility, job, status, message in rows:
        lines.append(f"  {observed} {export} {facility or '-'} {job or '-'} {status}: {(message or '')[:160]}")
    return lines if rows else [*lines, "  none"]
