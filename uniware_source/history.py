"""The `export_job_status` table: every observed status change of every job, exactly once.

Each row has a deterministic `event_id` (job code and sequence number, or the table, window and create
attempt), and the table is merged insert-only on it: a row replayed after a crash or a resumed run
is never added twice.
"""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional, Protocol, cast

from dlt.common.schema.typing import TColumnSchema, TWriteDispositionDict

from .catalog import ExportSpec
from .errors import ApiErrorDetail
from .redact import redact
from .statuses import HistorySource, HistoryStatus

HISTORY_TABLE = "export_job_status"
DEFERRED_STATE = "history_deferred"  # LOADED rows waiting for the load of their data (see `defer`)



def _column(data_type: str, *, nullable: bool = True, primary_key: bool = False) -> TColumnSchema:
    column: dict[str, Any] = {"data_type": data_type, "nullable": nullable}
    if primary_key:
        column["primary_key"] = True
    return cast(TColumnSchema, column)


HISTORY_COLUMNS: dict[str, TColumnSchema] = {
    "event_id": _column("text", nullable=False, primary_key=True),
    "job_code": _column("text"),
    "seq": _column("bigint"),
    "export_name": _column("text"),
    "table_name": _column("text"),
    "facility": _column("text"),
    "window_kind": _column("text"),
    "window_start": _column("timestamp"),
    "window_end": _column("timestamp"),
    "status": _column("text"),
    "source": _column("text"),
    "message": _column("text"),
    "errors": _column("text"),
    "polls": _column("bigint"),
    "observed_at": _column("timestamp"),
    "file_host": _column("text"),
    "file_path": _column("text"),
    "file_bytes": _column("bigint"),
    "file_sha256": _column("text"),
    "rows_in_file": _column("bigint"),
    "rows_skipped": _column("bigint"),
    "run_id": _column("text"),
}
HISTORY_WRITE_DISPOSITION = cast(TWriteDispositionDict, {"disposition": "merge", "strategy": "insert-only"})


class JobEntry(Protocol):
    """What a history row reads of a ledger entry (ledger.Entry is one; the ledger imports this module)."""

    @property
    def key(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def facility(self) -> Optional[str]: ...
    @property
    def start(self) -> Optional[datetime]: ...
    @property
    def end(self) -> Optional[datetime]: ...
    @property
    def job_code(self) -> Optional[str]: ...
    @property
    def attempt(self) -> int: ...
    def next_seq(self) -> int: ...


@dataclass(frozen=True)
class JobContext:
    """What every history row of a job repeats."""

    export_name: str
    table_name: str
    facility: Optional[str]
    window_kind: str
    window_start: Optional[datetime]
    window_end: Optional[datetime]
    run_id: str


def job_event(
    spec: ExportSpec,
    entry: JobEntry,
    run_id: str,
    status: str,
    *,
    observed_at: datetime,
    source: HistorySource = HistorySource.CONNECTOR,
    **details: Any,
) -> dict[str, Any]:
    """The history row of one event of a ledger entry's job: the one builder of every history row.

    Its id is `<job code>:<seq>` (the entry's next sequence number); a refused create has no job, so
    its id is the table, the window's key and the create attempt (two exports' windows may line up).
    `details` are the optional columns of `history_row`."""
    context = JobContext(spec.name, spec.table_name, entry.facility, entry.kind, entry.start, entry.end, run_id)
    if status == HistoryStatus.CREATE_FAILED:  # called after the ledger counted the failed attempt
        event_id = f"{spec.table_name}|{entry.key}|create-failed|{entry.attempt - 1}"
        return history_row(context, event_id=event_id, job_code=None, seq=None, status=status, source=source,
                           observed_at=observed_at, **details)
    seq = entry.next_seq()
    return history_row(context, event_id=f"{entry.job_code}:{seq}", job_code=entry.job_code, seq=seq,
                       status=status, source=source, observed_at=observed_at, **details)


def history_row(
    context: JobContext,
    *,
    event_id: str,
    job_code: Optional[str],
    seq: Optional[int],
    status: str,
    source: str,
    observed_at: datetime,
    message: str = "",
    errors: tuple[ApiErrorDetail, ...] = (),
    polls: Optional[int] = None,
    file_host: Optional[str] = None,
    file_path: Optional[str] = None,
    file_bytes: Optional[int] = None,
    file_sha256: Optional[str] = None,
    rows_in_file: Optional[int] = None,
    rows_skipped: Optional[int] = None,
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "job_code": job_code,
        "seq": seq,
        "export_name": context.export_name,
        "table_name": context.table_name,
        "facility": context.facility,
        "window_kind": context.window_kind,
        "window_start": context.window_start,
        "window_end": context.window_end,
        "status": str(status),
        "source": str(source),
        "message": redact(message) if message else None,
        "errors": redact(json.dumps([e.__dict__ for e in errors], ensure_ascii=False, default=str)) if errors else None,
        "polls": polls,
        "observed_at": observed_at,
        "file_host": file_host,
        "file_path": redact(file_path) if file_path else None,  # a path parameter may be a session (;jsessionid=)
        "file_bytes": file_bytes,
        "file_sha256": file_sha256,
        "rows_in_file": rows_in_file,
        "rows_skipped": rows_skipped,
        "run_id": context.run_id,
    }


_TIMESTAMPS = tuple(name for name, column in HISTORY_COLUMNS.items() if column.get("data_type") == "timestamp")


def defer(state: MutableMapping[str, Any], row: dict[str, Any]) -> None:
    """Keep a LOADED row in the export's state instead of loading it with the job's rows.

    The destination loads the tables of one package independently: a history row in the same
    package as its rows could land while the rows fail. Deferred rows are loaded by the next
    extract, which the runner only starts after the package with the rows loaded."""
    stored = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
    state.setdefault(DEFERRED_STATE, []).append(stored)


def take_deferred(state: MutableMapping[str, Any]) -> list[dict[str, Any]]:
    """The deferred rows, removed from the state (they go into the package being extracted)."""
    rows = state.pop(DEFERRED_STATE, None) or []
    return [{k: (datetime.fromisoformat(v) if k in _TIMESTAMPS and isinstance(v, str) else v) for k, v in row.items()}
            for row in rows]
