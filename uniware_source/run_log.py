"""Pipeline-level records written the dlt way: the `uniware_runs` table and `reset` (and its `--delete-rows`).

Both run a tiny source named `uniware` (the connector's own source name, so its schema and state
are the connector's) through `pipeline.run`: the state change of `reset` is committed like any
other, locally and in the destination's state table, and the run row is merged on `run_id`.

`uniware_runs` has one row per script run; `export_job_status` has one row per observed job event
(its `run_id` is the same id); dlt's trace (`dlt pipeline <name> trace`) only shows the last of the
several dlt runs a script run makes (pending loads, submit, collect, more rounds, then the deferred
history with this row in one package).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Optional

import dlt
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.extract import DltResource
from dlt.pipeline.pipeline import Pipeline

from .conversion.csv_to_parquet import FACILITY
from .history import HISTORY_COLUMNS, HISTORY_TABLE, HISTORY_WRITE_DISPOSITION, take_deferred
from .ledger import BACKFILLED, EMPTY_SNAPSHOTS, FACILITY_NAMES, LOADED_FILES, STARTS
from .run_report import RunReport

RUNS_TABLE = "uniware_runs"
RUNS_COLUMNS: dict[str, Any] = {
    "run_id": {"data_type": "text", "nullable": False},
    "pipeline_name": {"data_type": "text"},
    "mode": {"data_type": "text"},
    "started_at": {"data_type": "timestamp"},
    "ended_at": {"data_type": "timestamp"},
    "exit_code": {"data_type": "bigint"},
    "jobs_created": {"data_type": "bigint"},
    "jobs_loaded": {"data_type": "bigint"},
    "jobs_failed": {"data_type": "bigint"},
    "outcomes": {"data_type": "text"},
    "rows": {"data_type": "bigint"},
    "bytes": {"data_type": "bigint"},
    "seconds": {"data_type": "double"},
    "errors": {"data_type": "text"},
}


@dataclass
class RunRecord:
    run_id: str
    mode: str
    started_at: datetime
    ended_at: Optional[datetime] = None
    exit_code: Optional[int] = None
    error_lines: list[str] = field(default_factory=list)
    pipeline: Optional[Pipeline] = None

    def row(self, report: RunReport, seconds: float) -> dict[str, Any]:
        outcomes: dict[str, int] = {}
        for tally in report.exports.values():
            for status, count in tally.statuses.items():
                outcomes[status] = outcomes.get(status, 0) + count
        return {
            "run_id": self.run_id, "pipeline_name": self.pipeline.pipeline_name if self.pipeline else None,
            "mode": self.mode, "started_at": self.started_at, "ended_at": self.ended_at,
            "exit_code": self.exit_code,
            "jobs_created": sum(t.jobs_created for t in report.exports.values()),
            "jobs_loaded": sum(t.jobs_loaded for t in report.exports.values()),
            "jobs_failed": len(report.problems),
            "outcomes": json.dumps(outcomes, sort_keys=True),
            "rows": sum(t.rows for t in report.exports.values()),
            "bytes": sum(t.bytes for t in report.exports.values()),
            "seconds": round(seconds, 3),
            "errors": "\n".join([*report.problems, *self.error_lines]) or None,
        }


def run_row_resource(row: dict[str, Any]) -> DltResource:
    """The script run's row, merged into `uniware_runs` on `run_id` (loaded with the run's last
    package when the run got that far, see `run_exports`' `closing_rows`)."""
    return dlt.resource([row], name=RUNS_TABLE, write_disposition="merge", primary_key="run_id",
                        columns=RUNS_COLUMNS)


@dlt.source(name="uniware", section="uniware_bookkeeping", max_table_nesting=0)
def _runs_source(row: dict[str, Any]) -> Any:
    return run_row_resource(row)


def load_run_row(pipeline: Pipeline, row: dict[str, Any]) -> None:
    """Merge the script run's row into `uniware_runs` on its own (a run that ended early)."""
    pipeline.run(_runs_source(row))


def reset_ledger(state: dict[str, Any], facility: Optional[str]) -> tuple[int, list[str]]:
    """Clear one export's cursors and ledger entries (of one facility, or all); (entries removed,
    cursors removed). The column names map stays: it belongs to the table."""
    entries = state.get("entries") or []
    keep = [e for e in entries if facility is not None and e.get("facility") != facility]
    removed = len(entries) - len(keep)
    state["entries"] = keep
    cursors = state.get("cursors") or {}
    gone = [f for f in cursors if facility is None or f == facility]
    for name in gone:
        del cursors[name]
        (state.get(STARTS) or {}).pop(name, None)
        (state.get(BACKFILLED) or {}).pop(name, None)
    state.pop("planned_run", None)
    state.pop(EMPTY_SNAPSHOTS, None)  # their packages loaded (reset finishes pending ones first)
    # the hashes of the files loaded (ledger.file_loaded_elsewhere): a file refused for being one of these
    # loads after a reset, for when the earlier load was the wrong one
    names = state.get(FACILITY_NAMES) or {}  # a facility renamed in Uniware: its new name is taken again
    for code in [c for c in names if facility is None or c == facility]:
        del names[code]
    files = state.get(LOADED_FILES) or []
    kept_files = [f for f in files if facility is not None and f[1] != facility]
    if len(kept_files) != len(files):
        state[LOADED_FILES] = kept_files
    return removed + len(files) - len(kept_files), gone


def reset(pipeline: Pipeline, tables: list[str], facility: Optional[str]) -> tuple[list[str], bool]:
    """Clear cursors and ledgers on purpose, committed the dlt way (a pipeline run that changes the
    source state), so the destination's state copy agrees. Returns what was done, one line each, and
    whether anything was cleared."""
    said: list[str] = []
    cleared: list[bool] = []

    @dlt.source(name="uniware", section="uniware_bookkeeping", max_table_nesting=0)
    def reset_source() -> Any:
        def edit() -> Iterator[dict[str, Any]]:
            resources = dlt.current.source_state().setdefault("resources", {})
            for table in tables:
                state = resources.get(table)
                if not state:
                    said.append(f"{table}: nothing in state")
                    continue
                removed, cursors = reset_ledger(state, facility)
                cleared.append(bool(removed or cursors))
                said.append(f"{table}: {removed} ledger entr{'y' if removed == 1 else 'ies'} and the cursor(s) of "
                            f"{', '.join(cursors) or 'no facility'} cleared"
                            + (f" for facility {facility}" if facility else ""))
            yield from ()

        def waiting_history() -> Iterator[dict[str, Any]]:
            """The LOADED rows that waited in state for their rows' package (loaded first, see
            commands.py): they load with the reset, as they would with a run's last package."""
            for state in dlt.current.source_state().setdefault("resources", {}).values():
                yield from take_deferred(state)
        return [dlt.resource(edit, name="uniware_reset", write_disposition="append"),
                dlt.resource(waiting_history, name=HISTORY_TABLE, write_disposition=HISTORY_WRITE_DISPOSITION,
                             primary_key="event_id", columns=HISTORY_COLUMNS)]

    pipeline.run(reset_source())
    return said, any(cleared)


def delete_rows(pipeline: Pipeline, tables: list[str], facility: Optional[str]) -> tuple[list[str], int]:
    """`reset --delete-rows`: the tables' rows (of `facility`, or all) deleted, after their cursors were
    cleared (killed in between, the rows stay and an export without a key refuses to export them again,
    so the command is simply run again). What was deleted, one line per table, and the rows in all."""
    said, total = [], 0
    with pipeline.sql_client() as client:
        for table in tables:
            qualified = client.make_qualified_table_name(table)
            where, values = "", []
            if facility is not None:
                where, values = f" WHERE {client.escape_column_name(FACILITY)} = %s", [facility]
            try:
                [[rows]] = client.execute_sql(f"SELECT count(*) FROM {qualified}{where}", *values) or [[0]]
                client.execute_sql(f"DELETE FROM {qualified}{where}", *values)
            except DatabaseUndefinedRelation:
                said.append(f"{table}: no table, no row deleted")
                continue
            said.append(f"{table}: {rows:,} row(s) deleted" + (f" of facility {facility}" if facility else ""))
            total += rows
    return said, total
