"""Whether a natural key repeats: in one file (KeyCheck) and over the files of one load package (PackageKeys).

Keys are kept as 64-bit hashes (DuckDB's `hash` over the key columns, 8 bytes a row, ~0.1 s per
million rows) and checked at the end by one DuckDB `count(DISTINCT ...)` (~0.1 s per million, in a
64 MB memory limit: 1 s and +70 MB at 10M rows, where a sort in pyarrow took 4.4 s and +240 MB).
Two different keys with the same hash count as a
repeat, which only costs a fast path (dlt then deduplicates, as without the check); a repeat is never
missed. Up to `max_bytes` of hashes are kept, beyond that the answer is "not known to be unique", so
memory stays bounded for any file size.
"""

from __future__ import annotations

from typing import Optional

import duckdb
import pyarrow as pa

KEY_CHECK_MAX_BYTES = 96 << 20  # hashes of 12M keys
DISTINCT_MEMORY = "64MB"


def keys_unique(table: pa.Table, keys: list[str]) -> bool:
    """Whether no key value repeats in `table` (exactly: one hash group-by)."""
    if not keys or table.num_rows == 0:
        return True
    counts = table.select(keys).group_by(keys).aggregate([])
    return bool(counts.num_rows == table.num_rows)


def hashes_unique(hashes: pa.ChunkedArray) -> bool:
    """Whether no value repeats in the hashes."""
    if len(hashes) < 2:
        return True
    with duckdb.connect(config={"threads": 1, "memory_limit": DISTINCT_MEMORY}) as connection:
        counted = connection.from_arrow(pa.table({"h": hashes})).aggregate("count(*) = count(DISTINCT h)")
        [(unique,)] = counted.fetchall()
    return bool(unique)


class KeyCheck:
    """Whether the key stays unique over a file's chunks (`add` each, then `result`)."""

    def __init__(self, keys: list[str], max_bytes: int = KEY_CHECK_MAX_BYTES) -> None:
        self.keys = keys
        self.max_bytes = max_bytes
        self._parts: list[pa.Array] = []
        self._bytes = 0
        self._known = True  # False once there were too many keys to keep
        self._connection: Optional[duckdb.DuckDBPyConnection] = None
        self.hashes: Optional[pa.ChunkedArray] = None  # the file's key hashes, once `result` found them unique

    def add(self, table: pa.Table) -> None:
        if not self.keys or not self._known:
            return
        self._bytes += table.num_rows * 8
        if self._bytes > self.max_bytes:
            self._known = False
            self._parts = []
            return
        if self._connection is None:
            self._connection = duckdb.connect(config={"threads": 1})
        chunk = table.select(self.keys).rename_columns([f"k{i}" for i in range(len(self.keys))])
        columns = ", ".join(chunk.column_names)
        hashed = self._connection.from_arrow(chunk).project(f"hash({columns})").to_arrow_table().column(0)
        self._parts.extend(hashed.chunks)

    def result(self) -> Optional[bool]:
        """True or False for a file with a key, None without one."""
        if not self.keys:
            return None
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        unique = self._known
        if unique:
            hashes = pa.chunked_array(self._parts, pa.uint64())
            unique = hashes_unique(hashes)
            self.hashes = hashes if unique else None
        self._parts = []
        return unique


class PackageKeys:
    """Whether the key is unique over all files of one table in one load package so far: each file's
    key unique, and no key shared between files. Once False it stays False."""

    def __init__(self, max_bytes: int = KEY_CHECK_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._hashes: list[pa.ChunkedArray] = []
        self._bytes = 0
        self.unique = True

    def add(self, file_unique: Optional[bool], hashes: Optional[pa.ChunkedArray]) -> bool:
        """Add one file's result; whether the key is still unique over the package."""
        if not self.unique:
            return False
        if not file_unique or hashes is None or self._bytes + hashes.nbytes > self.max_bytes:
            self._forget()
            return False
        self._hashes.append(hashes)
        self._bytes += hashes.nbytes
        if len(self._hashes) > 1:
            merged = pa.chunked_array([chunk for hashes in self._hashes for chunk in hashes.chunks], pa.uint64())
            if not hashes_unique(merged):
                self._forget()
                return False
            self._hashes = [merged]
        return True

    def _forget(self) -> None:
        self.unique = False
        self._hashes = []
