"""Whether a natural key repeats: in one file (KeyCheck) and over the files of one load package (KeyStore).

Keys are kept as 64-bit hashes (DuckDB's `hash` over the key columns) in an in-memory DuckDB
database of the package, within a small memory limit: beyond it DuckDB moves them to a temporary
directory, so memory stays flat for any file size (10M keys: +0 MB instead of the +175 MB the
hashes took as Arrow arrays). One `count(DISTINCT ...)` per file and one semi-join of the file with
the package answer; the store's connection does one thing at a time (its memory limit is shared).
Two different keys with the same hash count as a repeat (about one chance in 10^7 for a million keys):
for an export with a `dedup_sort` that only costs a fast path (dlt then deduplicates, as without the
check); for one without, a repeat fails the job (csv_to_parquet, collect), so such a collision would too,
with a message naming the key. A repeat is never missed. Beyond `max_keys` keys, or when DuckDB fails
(out of its memory, a closed store), the answer is "not known to be unique": the fast path is lost, and
a file's repeats (`FileKeys.repeats`) count as none, so the checks that fail a job are off for it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, cast

import duckdb
import pyarrow as pa

from ..scratch import scratch_dir

log = logging.getLogger(__name__)

KEY_CHECK_MAX_KEYS = 12_000_000
KEY_STORE_MEMORY = "32MB"  # DuckDB's memory limit for the hashes and the distinct counts


@dataclass(frozen=True)
class FileKeys:
    """What the key check found in one file: `unique` (None: the export has no key) and, when unique,
    the KeyStore table holding its hashes."""

    unique: Optional[bool]
    table: Optional[str] = None
    rows: int = 0
    repeats: int = 0  # rows whose key an earlier row of the file has (counted when the check could run)
    # rows that repeat both the key and the version (the dedup_sort value) of an earlier row, or that have
    # no version beside rows of their key that have one: which row is newest cannot be told (counted when
    # the key repeats)
    ties: int = 0
    # the file's keys whatever their order or the bytes around them: the count and the sum of their
    # hashes, and of the hashes of each key with its version (the dedup_sort column: `Updated`) when the
    # export has one (None: not known); two files with the same one hold the same rows
    fingerprint: Optional[str] = None
    versions: bool = False  # its table also holds each row's version (`v`), for `ties_between_files`


class KeyStore:
    """The key hashes of one table's files in one load package. Files are checked on the conversion
    threads (`file`), the package on dlt's thread (`add`); a file whose result is not added is
    `discard`ed. `close` (or garbage collection) removes the database and its temporary directory."""

    def __init__(self, max_keys: int = KEY_CHECK_MAX_KEYS, directory: Optional[Path] = None) -> None:
        self.max_keys = max_keys
        self._directory = str(scratch_dir("keys-", directory))  # None: the system's temp
        self._db = duckdb.connect(config={"memory_limit": KEY_STORE_MEMORY, "threads": 1,
                                          "temp_directory": self._directory, "preserve_insertion_order": False})
        self._lock = threading.Lock()  # one statement at a time: they share the memory limit
        self._finalizer = weakref.finalize(self, _close, self._db, self._directory, os.getpid())
        self._files = 0
        self._rows = 0  # hashes in the package table
        self._db.execute("CREATE TABLE package (h UBIGINT)")
        # the hashes and versions of the package's files with versions, for `ties_between_files`: the
        # first such file's own table, kept to the end of the package (a single file costs nothing
        # more), into which the later files' rows are copied
        self._versions: Optional[str] = None
        self._version_rows = 0
        self.unique = True  # over the files added so far; once False it stays False

    def file(self, keys: list[str], versions: Optional[list[str]] = None,
             same_rows: Optional[list[str]] = None) -> KeyCheck:
        """A check of one file's key columns `keys` ([]: the export has no key); `versions`: the columns
        that tell a key's versions apart (the dedup_sort column), hashed into the file's fingerprint;
        `same_rows`: the key columns the fingerprint is made of, where not all of `keys` (a column the
        connector adds, the same in every row of a file: the facility a job ran under, which would tell
        one file served for two facilities apart)."""
        if not keys:
            return KeyCheck(self, keys, "")
        with self._lock:
            table = f"file_{self._files}"
            self._files += 1
        return KeyCheck(self, keys, table, versions or [], same_rows)

    def execute(self, sql: str, *relation: pa.Table) -> list[tuple[object, ...]]:
        """Run one statement (over the Arrow table `relation[0]` as `chunk`, when given); raises duckdb.Error."""
        with self._lock:
            if relation:
                chunk = relation[0]  # noqa: F841 (read by DuckDB's replacement scan)
            return self._db.execute(sql).fetchall()

    def add(self, file: FileKeys) -> bool:
        """Add one file's result; whether the key is still unique over the package: each file's key
        unique, and no key shared between files."""
        try:
            if not (self.unique and file.unique) or self._rows + file.rows > self.max_keys:
                self.unique = False
            elif file.table:  # a file without rows adds nothing
                shared = self._shared(file.table)
                if not shared:
                    self.execute(f"INSERT INTO package SELECT h FROM {file.table}")
                    self._rows += file.rows
                self.unique = not shared
        except duckdb.Error as error:
            log.info("the key check over the package failed (%s): the package merges", error)
            self.unique = False
        if not self.unique:
            self._forget("DELETE FROM package")
        self.discard(file)
        return self.unique

    def ties_between_files(self, file: FileKeys) -> int:
        """Rows of `file` whose key a file of the package before it has with the same version (the same
        `Updated`), or where one of the two rows has no version and the other has one (dlt's newest-first
        pass sorts a blank one first on PostgreSQL and last on DuckDB): which of them loads is not told.
        Call once per file, before `add`; 0 when not known (no versions, more keys than the store keeps)."""
        if not (file.table and file.versions) or self._version_rows + file.rows > self.max_keys:
            return 0
        if self._versions is None:
            self._versions, self._version_rows = file.table, file.rows
            return 0
        blank = "(o.v = o.h) <> (f.v = f.h)"  # a blank version is stored as the key's own hash
        try:
            [(tied,)] = self.execute(
                f"SELECT count(*) FROM {file.table} f WHERE EXISTS "
                f"(SELECT 1 FROM {self._versions} o WHERE o.h = f.h AND (o.v = f.v OR {blank}))")
            self.execute(f"INSERT INTO {self._versions} SELECT h, v FROM {file.table}")
            self._version_rows += file.rows
            return tied if isinstance(tied, int) else 0
        except duckdb.Error as error:
            log.info("the version check between files failed (%s)", error)
            return 0

    def shares_keys(self, file: FileKeys) -> Optional[bool]:
        """Whether a key of `file` is a key of a file added before it (None: the store cannot tell, once
        it gave up on the package)."""
        if not self.unique:
            return None
        if not file.table:
            return False
        try:
            return self._shared(file.table)
        except duckdb.Error:
            return None

    def _shared(self, table: str) -> bool:
        """Whether a hash of the file table `table` is in the package; raises duckdb.Error."""
        [(shared,)] = self.execute(f"SELECT EXISTS (SELECT 1 FROM {table} SEMI JOIN package USING (h))")
        return bool(shared)

    def discard(self, file: FileKeys) -> None:
        """Drop a file's hashes (added to the package, or never to be), unless kept for the files after it."""
        if file.table and file.table != self._versions:
            self._forget(f"DROP TABLE IF EXISTS {file.table}")

    def _forget(self, sql: str) -> None:
        with contextlib.suppress(duckdb.Error):  # a closed store forgets everything anyway
            self.execute(sql)

    def close(self) -> None:
        with self._lock:
            self._finalizer()


def _close(db: duckdb.DuckDBPyConnection, directory: str, owner: int) -> None:
    if os.getpid() != owner:  # a forked child does not own the parent's store
        return
    try:
        with contextlib.suppress(duckdb.Error):
            db.close()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


class KeyCheck:
    """Whether the key stays unique over a file's chunks (`add` each, then `result`; `close` drops
    the hashes of a check that gave no result)."""

    def __init__(self, store: KeyStore, keys: list[str], table: str, versions: Optional[list[str]] = None,
                 same_rows: Optional[list[str]] = None) -> None:
        self._store = store
        self.keys = keys
        self._versions = versions or []
        # the fingerprint's own sums, where its columns are not the key's (`same_rows`): rows, keys, versions
        self._same_rows = same_rows if same_rows is not None and same_rows != keys else None
        self._sums = [0, 0]
        self._table = table
        self.max_keys = store.max_keys
        self._rows = 0
        self._known = bool(keys)  # False without a key, or once the keys cannot be kept
        self._created = False
        self._result: Optional[FileKeys] = None if keys else FileKeys(None)

    def add(self, chunk: pa.Table) -> None:
        if not self._known:
            return
        self._rows += chunk.num_rows
        try:
            if self._rows > self.max_keys:
                raise _TooMany()
            columns = self.keys + self._versions
            rows = chunk.select(columns).rename_columns([f"c{i}" for i in range(len(columns))])
            key_hash = f"hash({', '.join(rows.column_names[:len(self.keys)])})"
            kept = [f"{key_hash} AS h"]
            if self._versions:  # v: the hash of each key with its version, for the fingerprint and ties;
                # a row without a version (a blank `Updated`, which no destination orders alike) gets the
                # key's own hash there, so `v = h` tells it without a column more (memory at 11M keys)
                blank = " OR ".join(f"{name} IS NULL" for name in rows.column_names[len(self.keys):])
                kept.append(f"CASE WHEN {blank} THEN {key_hash} ELSE hash({', '.join(rows.column_names)}) END AS v")
            select = f"SELECT {', '.join(kept)} FROM chunk"
            if not self._created:  # typed by the first chunk: every chunk of a file has the same types
                self._store.execute(f"CREATE TABLE {self._table} AS {select} LIMIT 0", rows)
                self._created = True
            self._store.execute(f"INSERT INTO {self._table} {select}", rows)
            if self._same_rows is not None:
                self._add_sums(chunk)
        except (_TooMany, duckdb.Error) as error:
            if isinstance(error, duckdb.Error):
                log.info("the key check of a file failed (%s): its package merges", error)
            self._known = False
            self._drop()

    def _add_sums(self, chunk: pa.Table) -> None:
        """The fingerprint's sums of one chunk over `same_rows` (as `_repeats` sums `h` and `v`)."""
        assert self._same_rows is not None
        columns = self._same_rows + self._versions
        rows = chunk.select(columns).rename_columns([f"c{i}" for i in range(len(columns))])
        key_hash = f"hash({', '.join(rows.column_names[:len(self._same_rows)])})"
        version = "NULL"
        if self._versions:
            blank = " OR ".join(f"{name} IS NULL" for name in rows.column_names[len(self._same_rows):])
            version = f"sum(CASE WHEN {blank} THEN {key_hash} ELSE hash({', '.join(rows.column_names)}) END)"
        [(keys, versions)] = self._store.execute(f"SELECT sum({key_hash}), {version} FROM chunk", rows)
        self._sums[0] += int(cast(int, keys or 0))
        self._sums[1] += int(cast(int, versions or 0))

    def result(self) -> FileKeys:
        """The file's result (`unique` None without a key); the hashes stay in the store for
        `KeyStore.add` when the key is unique, or the file has versions."""
        if self._result is None:
            repeats, fingerprint = self._repeats() if self._known else (None, None)
            versions = bool(self._versions)
            if repeats == 0:
                self._result = FileKeys(True, self._table, self._rows, fingerprint=fingerprint, versions=versions) \
                    if self._created else FileKeys(True)
            elif repeats and versions:  # kept for the version check between files (`ties_between_files`)
                self._result = FileKeys(False, self._table, self._rows, repeats=repeats, fingerprint=fingerprint,
                                        ties=min(self._ties(), repeats), versions=True)
            else:
                self._drop()
                self._result = FileKeys(False, repeats=repeats or 0, fingerprint=fingerprint)
        return self._result

    def _ties(self) -> int:
        """Rows that repeat both the key and the version (the dedup_sort value, or its absence) of an
        earlier row: where that version is the key's newest, which row is newest cannot be told; and rows
        without a version whose key has rows with one: whether such a row is older or newer cannot be told
        either (PostgreSQL sorts it first, DuckDB last). Kept as hashes only (the versions themselves
        would not fit the store's memory at 10M rows)."""
        if not self._versions:
            return 0
        try:
            [(ties,)] = self._store.execute(
                f"SELECT count(*) - count(DISTINCT v) + count(*) FILTER (WHERE v = h AND h IN "
                f"(SELECT h FROM {self._table} WHERE v <> h)) FROM {self._table}")
            return ties if isinstance(ties, int) else 0
        except duckdb.Error as error:
            log.info("the tie check of a file failed (%s)", error)
            return 0

    def _repeats(self) -> tuple[Optional[int], Optional[str]]:
        """Rows whose key hash an earlier row has, and the keys' fingerprint (None: the check failed)."""
        if not self._created:
            return 0, None  # no rows
        try:
            [(repeats, count, total, versions)] = self._store.execute(
                f"SELECT count(*) - count(DISTINCT h), count(*), sum(h), "
                f"{'sum(v)' if self._versions else 'NULL'} FROM {self._table}")
            if not isinstance(repeats, int):
                return None, None
            if self._same_rows is not None:
                total, versions = self._sums
            return repeats, f"{count}:{total}" + (f":{versions}" if self._versions else "")
        except duckdb.Error as error:
            log.info("the key check of a file failed (%s): its package merges", error)
            return None, None

    def close(self) -> None:
        """Drop the hashes unless `result` handed them out."""
        if self._result is None:
            self._known = False
            self._drop()
            self._result = FileKeys(False)

    def _drop(self) -> None:
        if self._created:
            self._store.discard(FileKeys(False, self._table))
            self._created = False


class _TooMany(Exception):
    """More keys than the store keeps."""
