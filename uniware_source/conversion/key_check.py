"""Whether a natural key repeats: in one file (KeyCheck) and over the files of one load package (KeyStore).

Keys are kept as 64-bit hashes (DuckDB's `hash` over the key columns) in an in-memory DuckDB
database of the package, within a small memory limit: beyond it DuckDB moves them to a temporary
directory, so memory stays flat for any file size (10M keys: +0 MB instead of the +175 MB the
hashes took as Arrow arrays). One `count(DISTINCT ...)` per file and one over the package answer.
Two different keys with the same hash count as a repeat, which only costs a fast path (dlt then
deduplicates, as without the check); a repeat is never missed. Beyond `max_keys` keys the answer
is "not known to be unique", which bounds disk and time too.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import weakref
from dataclasses import dataclass
from typing import Optional

import duckdb
import pyarrow as pa

KEY_CHECK_MAX_KEYS = 12_000_000
KEY_STORE_MEMORY = "32MB"  # DuckDB's memory limit for the hashes and the distinct counts


def keys_unique(table: pa.Table, keys: list[str]) -> bool:
    """Whether no key value repeats in `table` (exactly: one hash group-by)."""
    if not keys or table.num_rows == 0:
        return True
    counts = table.select(keys).group_by(keys).aggregate([])
    return bool(counts.num_rows == table.num_rows)


@dataclass(frozen=True)
class FileKeys:
    """What the key check found in one file: `unique` (None: the export has no key) and, when unique,
    the KeyStore table holding its hashes."""

    unique: Optional[bool]
    table: Optional[str] = None
    rows: int = 0


class KeyStore:
    """The key hashes of one table's files in one load package. Files are checked on the conversion
    threads (`file`), the package on dlt's thread (`add`). `close` (or garbage collection) removes
    the database and its temporary directory."""

    def __init__(self, max_keys: int = KEY_CHECK_MAX_KEYS) -> None:
        self.max_keys = max_keys
        self._directory = tempfile.mkdtemp(prefix="uniware-keys-")
        self._db = duckdb.connect(config={"memory_limit": KEY_STORE_MEMORY, "threads": 1,
                                          "temp_directory": self._directory, "preserve_insertion_order": False})
        self._finalizer = weakref.finalize(self, _close, self._db, self._directory)
        self._lock = threading.Lock()
        self._files = 0
        self._rows = 0  # hashes in the package table
        self._db.execute("CREATE TABLE package (h UBIGINT)")
        self.unique = True  # over the files added so far; once False it stays False

    def file(self, keys: list[str]) -> KeyCheck:
        """A check of one file's key columns `keys` ([]: the export has no key)."""
        if not keys:
            return KeyCheck(self, keys, None, "")
        with self._lock:
            table = f"file_{self._files}"
            self._files += 1
            self._db.execute(f"CREATE TABLE {table} (h UBIGINT)")
            cursor = self._db.cursor()
        return KeyCheck(self, keys, cursor, table)

    def add(self, file: FileKeys) -> bool:
        """Add one file's result; whether the key is still unique over the package: each file's key
        unique, and no key shared between files."""
        with self._lock:
            if self.unique and file.unique and file.table and self._rows + file.rows <= self.max_keys:
                [(unique,)] = self._db.execute(
                    f"SELECT count(*) = count(DISTINCT h) FROM "
                    f"(SELECT h FROM package UNION ALL SELECT h FROM {file.table})").fetchall()
                if unique:
                    self._db.execute(f"INSERT INTO package SELECT h FROM {file.table}")
                    self._rows += file.rows
                self.unique = bool(unique)
            else:
                self.unique = False
            if not self.unique:
                self._db.execute("DELETE FROM package")
            if file.table:
                self._db.execute(f"DROP TABLE IF EXISTS {file.table}")
            return self.unique

    def close(self) -> None:
        self._finalizer()


def _close(db: duckdb.DuckDBPyConnection, directory: str) -> None:
    db.close()
    shutil.rmtree(directory, ignore_errors=True)


class KeyCheck:
    """Whether the key stays unique over a file's chunks (`add` each, then `result`)."""

    def __init__(self, store: KeyStore, keys: list[str], cursor: Optional[duckdb.DuckDBPyConnection],
                 table: str) -> None:
        self._store = store  # kept open while the check runs
        self.keys = keys
        self._cursor = cursor
        self._table = table
        self.max_keys = store.max_keys
        self._rows = 0
        self._known = True  # False once there were too many keys to keep
        self._result: Optional[FileKeys] = None if cursor is not None else FileKeys(None)

    def add(self, chunk: pa.Table) -> None:
        if self._cursor is None or not self._known:
            return
        self._rows += chunk.num_rows
        if self._rows > self.max_keys:
            self._known = False
            self._cursor.execute(f"DELETE FROM {self._table}")
            return
        keys = chunk.select(self.keys).rename_columns([f"k{i}" for i in range(len(self.keys))])
        self._cursor.from_arrow(keys).project(f"hash({', '.join(keys.column_names)})").insert_into(self._table)

    def result(self) -> FileKeys:
        """The file's result (`unique` None without a key); the hashes stay in the store for `KeyStore.add`
        only when the key is unique."""
        if self._result is not None or self._cursor is None:
            return self._result or FileKeys(False)
        try:
            unique = self._known
            if unique:
                [(unique,)] = self._cursor.execute(
                    f"SELECT count(*) = count(DISTINCT h) FROM {self._table}").fetchall()
            if not unique:
                self._cursor.execute(f"DROP TABLE IF EXISTS {self._table}")
                self._result = FileKeys(False)
            else:
                self._result = FileKeys(True, self._table, self._rows)
            return self._result
        finally:
            self.close()

    def close(self) -> None:
        if self._cursor is not None:
            self._cursor.close()
            self._cursor = None
