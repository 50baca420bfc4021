"""DuckDB's memory limit, raised for a load that needs more (very wide tables).

DuckDB keeps a buffer of about 100 KB per column while it writes a row group, so a table of 10,000
columns needs about 1 GB whatever its row count, far above the small limit that keeps ordinary loads
flat. Before a load, the limit is raised for the widest table of the schema; a load that still runs
out of memory is run again with twice the limit (up to half the machine's memory). The configured
limit is restored afterwards.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Optional

import duckdb

log = logging.getLogger(__name__)

DUCKDB_SETTINGS = "DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG"
BYTES_PER_COLUMN = 256 << 10  # measured: a merge of 3,000 text columns needs more than 448 MB
MIN_LIMIT = 256 << 20
_UNITS = {"": 1, "b": 1, "kb": 1 << 10, "kib": 1 << 10, "mb": 1 << 20, "mib": 1 << 20, "gb": 1 << 30,
          "gib": 1 << 30, "tb": 1 << 40, "tib": 1 << 40}


def is_out_of_memory(error: BaseException) -> bool:
    """Whether DuckDB ran out of its memory limit somewhere in the chain of `error`."""
    seen: Optional[BaseException] = error
    for _ in range(10):
        if seen is None:
            return False
        if "Out of Memory Error" in str(seen) or type(seen).__name__ == "OutOfMemoryException":
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def parse_size(text: str) -> Optional[int]:
    match = re.fullmatch(r"\s*([\d.]+)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).lower() not in _UNITS:
        return None
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def widest_table(pipeline: Any) -> int:
    """Columns of the widest table in the pipeline's schemas."""
    widest = 0
    for schema in pipeline.schemas.values():
        for table in schema.data_tables():
            widest = max(widest, len(table.get("columns", {})))
    return widest


def needed_limit(columns: int, current: Optional[int]) -> int:
    """A limit for a table of `columns` columns: at least twice the current one."""
    return max(MIN_LIMIT, columns * BYTES_PER_COLUMN, 2 * (current or 0))


def retry_limit(columns: int, current: Optional[int]) -> Optional[int]:
    """The limit to load again with after running out of memory, at most half the machine's memory;
    None when the current limit is already there (DuckDB's own default is 80 % of it)."""
    most = max_limit()
    if current is not None and current >= most:
        return None
    return min(needed_limit(columns, current), most)


@contextmanager
def raised_limit(limit_bytes: int, connection: Any = None) -> Iterator[None]:
    """DuckDB's `memory_limit` set to `limit_bytes` (other global settings kept) while inside: on
    `connection`'s database when the load shares one (its credentials are resolved once per run and
    do not read the settings again), else in the settings dlt resolves for the load."""
    if connection is not None:
        before_limit = _setting(connection)
        connection.execute(f"SET GLOBAL memory_limit = '{limit_bytes >> 20}MB'")
        try:
            yield
        finally:
            _set_back(connection, before_limit)
        return
    before = os.environ.get(DUCKDB_SETTINGS)
    try:
        settings = json.loads(before) if before else {}
    except ValueError:
        settings = {}
    settings["memory_limit"] = f"{limit_bytes >> 20}MB"
    os.environ[DUCKDB_SETTINGS] = json.dumps(settings)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(DUCKDB_SETTINGS, None)
        else:
            os.environ[DUCKDB_SETTINGS] = before


def _set_back(connection: Any, limit: str) -> None:
    """The limit as it was; never an error of its own: DuckDB refuses to lower it while a query still
    holds more (a job dlt left running after an interrupt), and the error of the load, or its
    interrupt, must stay the one raised. The load's connection closes after it anyway (the next
    load gets the configured limit again)."""
    try:
        connection.execute("SET GLOBAL memory_limit = ?", [limit])
    except duckdb.Error as error:
        log.warning("DuckDB's memory_limit could not be set back to %s (%s); it applies until this load's "
                    "connection closes", limit, error)


def _setting(connection: Any) -> str:
    return str(connection.execute("SELECT current_setting('memory_limit')").fetchone()[0])


def max_limit() -> int:
    """Half of the machine's memory: the most a retried load may give DuckDB."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2)
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def current_limit(connection: Any = None) -> Optional[int]:
    """The memory limit in bytes: `connection`'s, else the configured one (None: not configured)."""
    if connection is not None:
        return parse_size(_setting(connection))
    try:
        settings = json.loads(os.environ.get(DUCKDB_SETTINGS) or "{}")
    except ValueError:
        return None
    value = settings.get("memory_limit") if isinstance(settings, dict) else None
    return parse_size(str(value)) if value else None
