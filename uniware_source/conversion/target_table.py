"""The export's table as the destination itself has it (never assumed from state: a `reset`, a user
truncating or dropping the table, another pipeline writing the same dataset).

- Whether it holds no row: a merge into an empty table, of rows whose key does not repeat, is an
  append, the fast path that loads a file straight into the table (no staging copy, no delete-insert),
  chosen by this check and the key check (key_check.py).
- A key column an earlier version did not make (`add_missing_key_column`).
- Which rows an export without a key already holds for a facility's windows (`rows_in_windows`): such
  rows cannot merge again, so the submit step never exports their windows a second time.
- Whether the history table already holds a job code (`job_in_history`): a code Uniware hands out again
  for a new job would merge its rows over the earlier job's (an export without a key merges on it) and
  lose its history rows (keyed by the code and a number).
- The last number each job's history rows reached there (`history_seqs`): a run whose state is behind
  the table (another machine's run that stopped after its package's history rows committed, before its
  state did) numbers its jobs' next rows after them, not into them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Optional

import dlt
from dlt.common.destination.exceptions import SqlClientNotAvailable
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.pipeline.pipeline import Pipeline

from ..history import HISTORY_TABLE
from ..statuses import HistoryStatus
from ..windows import shown_time
from .csv_to_parquet import FACILITY, JOB_CODE, WINDOW_END, WINDOW_START

log = logging.getLogger(__name__)


@contextmanager
def _asked(table_name: str) -> Iterator[tuple[Any, str]]:
    """dlt's SQL client of the current pipeline's destination and the table's qualified name."""
    with dlt.current.pipeline().sql_client() as client:
        yield client, client.make_qualified_table_name(table_name)


def table_is_empty(table_name: str) -> bool:
    """True when the table is absent or has no row; False when it has rows or the destination cannot
    be asked (no SQL client: filesystem and the like; an error)."""
    try:
        with _asked(table_name) as (client, qualified):
            try:
                with client.execute_query(f"SELECT 1 FROM {qualified} LIMIT 1") as cursor:
                    return cursor.fetchone() is None
            except DatabaseUndefinedRelation:
                return True  # not created yet (or dropped): the first load
    except Exception as error:  # any doubt means the merge path, which is always right
        log.debug("cannot tell whether %s is empty (%s): merging", table_name, type(error).__name__)
        return False


@contextmanager
def _history_of(pipeline: Pipeline) -> Iterator[Optional[tuple[Any, str]]]:
    """dlt's SQL client of the pipeline's destination and `export_job_status`'s qualified name; None for a
    destination without SQL (a bucket: its files are only added, rows are not merged)."""
    destination = pipeline.destination
    if destination is None or destination.destination_type.endswith("filesystem"):
        yield None
        return
    try:
        sql_client = pipeline.sql_client()
    except SqlClientNotAvailable:
        yield None
        return
    with sql_client as client:
        yield client, client.make_qualified_table_name(HISTORY_TABLE)


def history_seqs(job_codes: Sequence[str]) -> dict[str, int]:
    """The highest `seq` of each job's rows in the destination's `export_job_status` (jobs without one are
    left out); empty when there is no such table or no SQL. Any other failure to ask is raised: numbered
    from state instead, rows could be dropped."""
    with _history_of(dlt.current.pipeline()) as asked:
        if not job_codes or asked is None:
            return {}
        client, qualified = asked
        code, seq = client.escape_column_name("job_code"), client.escape_column_name("seq")
        marks = ", ".join(["%s"] * len(job_codes))
        try:
            with client.execute_query(f"SELECT {code}, MAX({seq}) FROM {qualified} WHERE {code} IN ({marks}) "
                                      f"GROUP BY {code}", *job_codes) as cursor:
                return {str(job): int(last) for job, last in cursor.fetchall() if last is not None}
        except DatabaseUndefinedRelation:
            return {}


def loaded_by_other_loads(pipeline: Pipeline, job_codes: Sequence[str], load_id: str) -> set[str]:
    """Of `job_codes`, those whose LOADED history row at the destination came from another load than
    `load_id`; none when the destination has no such table or no SQL."""
    with _history_of(pipeline) as asked:
        if not job_codes or asked is None:
            return set()
        client, qualified = asked
        code, status = client.escape_column_name("job_code"), client.escape_column_name("status")
        marks = ", ".join(["%s"] * len(job_codes))
        try:
            with client.execute_query(f"SELECT DISTINCT {code} FROM {qualified} WHERE {status} = %s AND "
                                      f"{client.escape_column_name('_dlt_load_id')} <> %s AND {code} IN ({marks})",
                                      HistoryStatus.LOADED.value, load_id, *job_codes) as cursor:
                return {str(job) for (job,) in cursor.fetchall()}
        except DatabaseUndefinedRelation:
            return set()


def held_by_other_jobs(table_name: str, facility: str, start: datetime, end: datetime,
                       other_than: Optional[str] = None) -> Optional[str]:
    """What the table holds of `facility`'s rows exported for windows overlapping [start, end) (of jobs other
    than `other_than`, when given), said for a message; None when nothing. A failure to ask is raised."""
    found = rows_in_windows(table_name, facility, start, end, other_than)
    if not found:
        return None
    rows, first, last = sum(n for _, _, n in found), found[0][0], max(end for _, end, _ in found)
    return (f"table {table_name} already holds {rows:,} rows{' of other jobs' if other_than else ''} exported for "
            f"windows from {shown_time(first)} to {shown_time(last)}")


def job_in_history(job_code: str) -> Optional[str]:
    """The export, facility and window of the latest history row of `job_code`, when the destination's
    `export_job_status` has one; None when it has none, has no such table, or has no SQL (a bucket:
    the export's state remembers its last files' jobs only)."""
    destination = dlt.current.pipeline().destination
    if destination is None or destination.destination_type.endswith("filesystem"):
        return None
    with _asked(HISTORY_TABLE) as (client, qualified):
        code, seq = client.escape_column_name("job_code"), client.escape_column_name("seq")
        try:
            with client.execute_query(f"SELECT export_name, facility, window_start, window_end, status FROM "
                                      f"{qualified} WHERE {code} = %s ORDER BY {seq} DESC LIMIT 1",
                                      job_code) as cursor:
                found = cursor.fetchone()
        except DatabaseUndefinedRelation:
            return None
    if not found:
        return None
    name, facility, start, end, status = found
    window = f" / window {start} to {end}" if start is not None else ""
    return f"{name} / facility {facility or '-'}{window} ({status})"


def rows_in_windows(table_name: str, facility: str, start: datetime, end: datetime,
                    other_than: Optional[str] = None) -> list[tuple[datetime, datetime, int]]:
    """The windows (start, end, rows) of `facility`'s rows exported for windows that overlap [start, end)
    (by jobs other than `other_than`, when given); none when there are none, no table yet, or the
    destination has no SQL (a bucket). Any other failure to ask is raised: the caller must not take it for
    "none"."""
    destination = dlt.current.pipeline().destination
    if destination is None or destination.destination_type.endswith("filesystem"):
        return []
    with _asked(table_name) as (client, qualified):
        begins, ends, where = (client.escape_column_name(c) for c in (WINDOW_START, WINDOW_END, FACILITY))
        code = client.escape_column_name(JOB_CODE)
        job = f" AND ({code} IS NULL OR {code} <> %s)" if other_than is not None else ""
        try:
            with client.execute_query(f"SELECT {begins}, {ends}, count(*) FROM {qualified} "
                                      f"WHERE {where} = %s AND {begins} < %s AND {ends} > %s{job} "
                                      f"GROUP BY {begins}, {ends} ORDER BY {begins}",
                                      facility, end, start, *([other_than] if other_than is not None else [])
                                      ) as cursor:
                found = cursor.fetchall()
        except DatabaseUndefinedRelation:
            return []
    return [(first, last, int(rows)) for first, last, rows in found or []]


def rows_without_facility(table_name: str) -> Optional[int]:
    """Rows of the table without `_uniware_facility` (a job given by code, loaded by an earlier version, had
    none); 0 when there is no table or the destination has no SQL (a bucket); None when it cannot be asked."""
    destination = dlt.current.pipeline().destination
    if destination is None or destination.destination_type.endswith("filesystem"):
        return 0
    try:
        with _asked(table_name) as (client, qualified):
            try:
                with client.execute_query(f"SELECT count(*) FROM {qualified} WHERE "
                                          f"{client.escape_column_name(FACILITY)} IS NULL") as cursor:
                    found = cursor.fetchone()
            except DatabaseUndefinedRelation:
                return 0
    except Exception as error:  # a warning's question: the run goes on
        log.debug("cannot count the rows of %s without a facility (%s)", table_name, type(error).__name__)
        return None
    return int(found[0]) if found and found[0] else 0


def add_missing_key_column(table_name: str, column: str) -> bool:
    """Adds the key column `column` (an integer, 1 in the rows already there) to a table that exists
    without it: an export whose key came to repeat after it loaded (Courier Returns numbers the rows of
    a package since it was found to repeat its key) would otherwise fail every load on the column dlt
    declares NOT NULL. True when it was added; False when the table is absent, has it, or cannot be asked."""
    try:
        with _asked(table_name) as (client, qualified):
            try:
                with client.execute_query(f"SELECT * FROM {qualified} LIMIT 0") as cursor:
                    present = [description[0] for description in cursor.description or ()]
            except DatabaseUndefinedRelation:
                return False  # no table yet: dlt makes it with the column
            if column in present:
                return False
            client.execute_sql(f"ALTER TABLE {qualified} ADD COLUMN {client.escape_column_name(column)} "
                               "INTEGER DEFAULT 1")
    except Exception as error:  # no SQL client (a bucket); any other doubt: the load says what is wrong
        log.debug("cannot add %s to %s (%s)", column, table_name, type(error).__name__)
        return False
    log.warning("table %s was loaded before its key numbered repeating rows: column %s added (1 in the rows "
                "that were there)", table_name, column)
    return True
