"""Load files in the destination's own format, written straight from the converter's typed chunks.

dlt imports a finished file as it is (`dlt.mark.with_file_import`), skipping its normalize step:
- destinations that take Parquet as it is (DuckDB, the filesystem...) get Parquet;
- PostgreSQL gets CSV for its COPY job (`PostgresCsvCopyJob`): header row of column names (COPY maps
  by name, so the order does not matter), `,` delimiter, UTF-8, every text value quoted (so an empty
  text is `""`, never mistaken for NULL), NULL as an empty unquoted field, timestamps in UTC with a
  `Z` (`2026-04-06 06:30:00Z`, with the microseconds where a value has them), decimals with their
  scale (`12.5000`), dates `YYYY-MM-DD`.
  The COPY job puts nullable columns in FORCE_NULL, which also turns a quoted `""` into NULL: the
  converter never leaves an empty text in a nullable column (blanks are NULL), only in key columns,
  which are NOT NULL;
- any other destination gets Arrow batches, which dlt normalizes itself.

The converter also checks whether a file's key is unique (key_check.py): dlt's merge may then skip
its newest-`Updated` deduplication of the staging data (`deduplicated`), which it must not when a
key repeats. The hint is decided per load package from the data, never assumed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from dlt.common.destination.configuration import CsvFormatConfiguration
from dlt.common.metrics import DataWriterMetrics
from dlt.extract.extractors import ImportFileMeta
from dlt.extract.items import DataItemWithMeta

PARQUET = "parquet"
CSV = "csv"
LOAD_FORMATS = (PARQUET, CSV)
# PostgreSQL loads a file with one COPY, one backend, one core: a job's rows go to this many CSV files,
# which dlt's loader COPYs at once (written on as many threads)
COPY_PARTS = 2


class ChunkWriter(Protocol):
    def write_table(self, table: pa.Table) -> None: ...

    def close(self) -> None: ...


# a column is dictionary-encoded in Parquet when its first chunk repeats values this much (distinct values
# below this share of the rows): codes and amounts that are all different are written plain, which saves a
# hash table insert per value (1M Sale Orders rows: 1.5 -> 1.1 s of CPU, same DuckDB insert, 8 % smaller)
DICTIONARY_MAX_DISTINCT_SHARE = 0.2


def dictionary_columns(chunk: pa.Table) -> list[str]:
    """The columns of `chunk` worth a Parquet dictionary (few distinct values)."""
    limit = DICTIONARY_MAX_DISTINCT_SHARE * chunk.num_rows
    return [name for name in chunk.column_names if pc.count_distinct(chunk.column(name)).as_py() < limit]


def open_writer(load_format: str, path: Path, schema: pa.Schema, dictionary: Optional[list[str]] = None) -> ChunkWriter:
    """A writer of typed chunks into a load file of `load_format`; `dictionary`: the columns Parquet
    dictionary-encodes (None: all)."""
    if load_format == PARQUET:
        parquet: ChunkWriter = pq.ParquetWriter(path, schema, compression="snappy",
                                                use_dictionary=True if dictionary is None else dictionary)
        return parquet
    if load_format == CSV:
        return _CopyCsvWriter(path, schema)
    raise ValueError(f"unknown load file format {load_format!r}")


class _CopyCsvWriter:
    """CSV for PostgreSQL's COPY. UTC timestamps are written as text first (`2026-04-06
    06:30:00.000000Z`): pyarrow's CSV writer formats a zoned timestamp through the time zone
    database value by value, ~1 s per million values and column (measured: 6 of 7 s for 1M Sale
    Orders rows), while a cast of the zone-less value to text is ~0.1 s."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self._timestamps = [i for i, f in enumerate(schema) if pa.types.is_timestamp(f.type)]
        text_schema = schema
        for i in self._timestamps:
            text_schema = text_schema.set(i, schema.field(i).with_type(pa.string()))
        options = pacsv.WriteOptions(include_header=True, delimiter=",", quoting_style="needed")
        self._writer = pacsv.CSVWriter(path, text_schema, write_options=options)

    def write_table(self, table: pa.Table) -> None:
        for i in self._timestamps:
            table = table.set_column(i, table.field(i).with_type(pa.string()), utc_text(table.column(i)))
        self._writer.write_table(table)

    def close(self) -> None:
        self._writer.close()


def utc_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A timestamp column as `YYYY-MM-DD HH:MM:SS.ffffffZ` text in UTC, or `YYYY-MM-DD HH:MM:SSZ` when
    no value of the chunk has a fraction of a second (nulls stay null). The shorter text is 7 bytes less
    for PostgreSQL's COPY to read per value (Uniware's timestamps are to the second)."""
    unit = column.type.unit
    naive = column.cast(pa.timestamp(unit))  # the same instants, read as UTC wall time
    try:
        naive = naive.cast(pa.timestamp("s"))  # a safe cast: refused when a value has a fraction
    except pa.ArrowInvalid:
        if unit != "us":
            naive = naive.cast(pa.timestamp("us"))
    return pc.binary_join_element_wise(naive.cast(pa.string()), pa.scalar("Z"), "")


def load_format_for(destination_type: str, supported: list[str], selector: Any) -> Optional[str]:
    """The file format the converter writes for a destination, or None for Arrow batches."""
    if PARQUET in supported and selector is None:
        return PARQUET
    if destination_type.endswith(".postgres") and CSV in supported:
        return CSV
    return None


def destination_appends_only() -> bool:
    """Whether the current pipeline's destination only adds files (the filesystem: a bucket), so no row
    loaded there is ever deleted or replaced."""
    import dlt

    try:
        return bool(dlt.current.pipeline().destination.destination_type.endswith("filesystem"))
    except Exception:  # no pipeline or no destination yet
        return False


def destination_load_format() -> Optional[str]:
    """`load_format_for` the current pipeline's destination; None (Arrow batches) without one."""
    import dlt

    try:
        destination = dlt.current.pipeline().destination
        capabilities = destination.capabilities()
    except Exception:  # no pipeline or no destination yet: Arrow batches work everywhere
        return None
    if destination.destination_type.endswith(".postgres") and destination_csv_format(destination) is not None:
        return None  # the COPY job would read our file with other settings
    return load_format_for(destination.destination_type, list(capabilities.supported_loader_file_formats),
                           capabilities.loader_file_format_selector)


def destination_csv_format(destination: Any) -> Optional[CsvFormatConfiguration]:
    """The `csv_format` the destination's COPY job reads its CSV files with, as dlt resolves it (the
    factory's argument, config.toml, or `DESTINATION__POSTGRES__CSV_FORMAT__...`); None when it is dlt's
    default (the converter's files) or the destination has none."""
    try:
        configured = getattr(destination.configuration(None, accept_partial=True), "csv_format", None)
    except Exception:  # settings dlt cannot resolve: its own load step says which
        return None
    return configured if isinstance(configured, CsvFormatConfiguration) and configured != CsvFormatConfiguration() \
        else None


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
