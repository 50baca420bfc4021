"""Load files in the destination's own format, written straight from the converter's typed chunks.

dlt imports a finished file as it is (`dlt.mark.with_file_import`), skipping its normalize step:
- destinations that take Parquet as it is (DuckDB, the filesystem...) get Parquet;
- PostgreSQL gets CSV for its COPY job (`PostgresCsvCopyJob`): header row of column names (COPY maps
  by name, so the order does not matter), `,` delimiter, UTF-8, every text value quoted (so an empty
  text is `""`, never mistaken for NULL), NULL as an empty unquoted field, timestamps in UTC with a
  `Z` (`2026-04-06 06:30:00.000000Z`), decimals with their scale (`12.5000`), dates `YYYY-MM-DD`.
  The COPY job puts nullable columns in FORCE_NULL, which also turns a quoted `""` into NULL: the
  converter never leaves an empty text in a nullable column (blanks are NULL), only in key columns,
  which are NOT NULL;
- any other destination gets Arrow batches, which dlt normalizes itself.

The converter also checks whether a file's key is unique (one hash group-by per file): dlt's merge
may then skip its newest-`Updated` deduplication of the staging data (`deduplicated`), which it
must not when a key repeats. The hint is decided per load package from the data, never assumed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Protocol

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from dlt.common.metrics import DataWriterMetrics
from dlt.extract.extractors import ImportFileMeta
from dlt.extract.items import DataItemWithMeta

PARQUET = "parquet"
CSV = "csv"
LOAD_FORMATS = (PARQUET, CSV)
KEY_CHECK_MAX_BYTES = 96 << 20  # keys of ~3M Sale Orders rows


class ChunkWriter(Protocol):
    def write_table(self, table: pa.Table) -> None: ...

    def close(self) -> None: ...


def open_writer(load_format: str, path: Path, schema: pa.Schema) -> ChunkWriter:
    """A writer of typed chunks into a load file of `load_format`."""
    if load_format == PARQUET:
        parquet: ChunkWriter = pq.ParquetWriter(path, schema, compression="snappy")
        return parquet
    if load_format == CSV:
        options = pacsv.WriteOptions(include_header=True, delimiter=",", quoting_style="needed")
        csv: ChunkWriter = pacsv.CSVWriter(path, schema, write_options=options)
        return csv
    raise ValueError(f"unknown load file format {load_format!r}")


def load_format_for(destination_type: str, supported: list[str], selector: Any) -> Optional[str]:
    """The file format the converter writes for a destination, or None for Arrow batches."""
    if PARQUET in supported and selector is None:
        return PARQUET
    if destination_type.endswith(".postgres") and CSV in supported:
        return CSV
    return None


def destination_load_format() -> Optional[str]:
    """`load_format_for` the current pipeline's destination; None (Arrow batches) without one."""
    import dlt

    try:
        destination = dlt.current.pipeline().destination
        capabilities = destination.capabilities()
    except Exception:  # no pipeline or no destination yet: Arrow batches work everywhere
        return None
    if destination.destination_type.endswith(".postgres") and _custom_csv_format():
        return None  # the COPY job would read our file with other settings
    return load_format_for(destination.destination_type, list(capabilities.supported_loader_file_formats),
                           capabilities.loader_file_format_selector)


def _custom_csv_format() -> bool:
    import dlt

    try:
        configured: Any = dlt.config.get("destination.postgres.csv_format")
    except Exception:
        return False
    return bool(configured)


def keys_unique(table: pa.Table, keys: list[str]) -> bool:
    """Whether no key value repeats in `table` (one hash group-by)."""
    if not keys or table.num_rows == 0:
        return True
    counts = table.select(keys).group_by(keys).aggregate([])
    return bool(counts.num_rows == table.num_rows)


class KeyCheck:
    """Whether the key stays unique over a file's chunks: a group-by per chunk, then one over all
    the file's keys at the end. Only key columns are kept (~30 bytes a row), up to `max_bytes`:
    beyond that the answer is "not known to be unique" (dlt then deduplicates, as without the check),
    so memory stays flat for any file size."""

    def __init__(self, keys: list[str], max_bytes: int = KEY_CHECK_MAX_BYTES) -> None:
        self.keys = keys
        self.max_bytes = max_bytes
        self._parts: list[pa.Table] = []
        self._bytes = 0
        self.unique = True

    def add(self, table: pa.Table) -> None:
        if not self.keys or not self.unique:
            return
        part = table.select(self.keys).combine_chunks()
        self._bytes += part.nbytes
        if self._bytes > self.max_bytes or not keys_unique(part, self.keys):
            self.unique = False
            self._parts = []
            return
        self._parts.append(part)

    def result(self) -> Optional[bool]:
        """True or False for a file with a key, None without one."""
        if not self.keys:
            return None
        if self.unique and len(self._parts) > 1:
            self.unique = keys_unique(pa.concat_tables(self._parts), self.keys)
        self._parts = []
        return self.unique


def file_import(path: Path, load_format: str, rows: int, schema: pa.Schema,
                hints: Optional[dict[str, Any]] = None) -> DataItemWithMeta:
    """`dlt.mark.with_file_import` with the columns from `schema` AND resource `hints` (dlt's own
    helper takes one or the other)."""
    metrics = DataWriterMetrics(str(path), rows, 0, 0, 0)
    return DataItemWithMeta(ImportFileMeta(str(path), metrics, load_format, hints or None, False),  # type: ignore[arg-type]
                            schema.empty_table())


DEDUPLICATED_HINT = "x-stage-data-deduplicated"


def forget_deduplicated(table_name: str) -> None:
    """Drop the `deduplicated` hint an earlier load left in the schema: dlt merges a False into a kept
    True as "no change", so each package's files must set it afresh (or leave it off)."""
    import dlt

    table = dlt.current.source_schema().tables.get(table_name)
    if table is not None:
        table.pop(DEDUPLICATED_HINT, None)  # type: ignore[misc]
