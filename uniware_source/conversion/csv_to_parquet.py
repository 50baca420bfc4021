"""One downloaded CSV to one typed Parquet file, streamed in Arrow batches at bounded memory.

Columns are mapped by header label, never by position. Every problem (a ragged row, bytes that are
not UTF-8, a value that fits no type, a missing key column) names the file, the row and the column;
with ``on_bad_rows = "skip"`` such rows are dropped and counted instead. Nothing is handed to dlt
until the whole file converted, so a bad file never lands half-loaded.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Optional, cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..catalog import RATE, TEXT, ExportSpec
from ..errors import CsvFormatError
from ..type_labels import fold_label
from .arrow_types import CONVERTERS, RATE_TYPE, UTC_MICROS, number_misfit
from .chunk_threads import BackgroundWriter, ParseFailed, read_ahead, regrouped
from .column_names import DLT_COLUMNS, ColumnNames
from .facility_guard import FACILITY_CODE_LABEL, FACILITY_NAME_LABEL, FacilityCodes
from .file_layout import FileLayout, find_label, plan_layout, read_header, tells_newest
from .header_rows import header_row
from .key_check import FileKeys, KeyCheck, KeyStore
from .load_files import PARQUET, dictionary_columns
from .row_checks import (
    BOM,
    NUL,
    RowProblems,
    first_ragged_row,
    invalid_utf8,
    joined_rows,
    line_breaks,
    positional_names,
    read_options,
    refuse_altered_value,
    value_bytes,
)
from .row_fingerprint import LineFingerprint
from .stray_quotes import Opener, QuoteWatch
from .window_guard import DateSpan

log = logging.getLogger(__name__)

# whole values that mean "no value": empty, `N/A`, `-`, `NULL` (uniware-api.md)
BLANKS = ["", "N/A", "-", "NULL"]
# `NA` is a blank AWB number (uniware-reports.md 12, VD) but tenant data in a custom field (RJ): blank in
# typed columns (no number or date reads it; a column loading as text because its table did is one too), in
# the AWB / tracking number columns and in key columns (an earlier version blanked it everywhere: a key's
# rows must merge as before), kept as written elsewhere
NA = "NA"
NA_BLANK_LABELS = frozenset(fold_label(label) for label in ("Tracking Number", "Tracking No", "AWB No", "AWB num"))
_BLANK_SET = pa.array([*BLANKS, NA])  # in a typed column, NA is a blank too


def _without_blanks_around(text: pa.Array) -> pa.Array:
    """A typed column's text without spaces around its values, and a value of spaces only (or a blank word
    between spaces: ` N/A `, ` NA `) empty: read again only for a chunk whose values did not all convert, so a clean
    file pays nothing (`' 100 '` reads as 100 either way; `'2026-11-26 10:00:00 '` and `' '` only so)."""
    trimmed = pc.utf8_trim_whitespace(text)
    return pc.if_else(pc.is_in(trimmed, value_set=_BLANK_SET), pa.scalar(None, pa.string()), trimmed)


BLOCK_SIZE = 1 << 20  # pyarrow parses 1 MB blocks ~3x faster than 16 MB ones (measured, 2 cores)
MAX_BLOCK_SIZE = 1 << 30  # a row (one big cell) larger than a block needs a larger block: up to 1 GB
CHUNK_ROWS = 16384  # parsed blocks are regrouped into chunks of this many rows for typing and row groups,
CHUNK_BYTES = 32 << 20  # or fewer when rows are wide, so one chunk stays near this size in memory
JOB_CODE = "_uniware_job_code"
FACILITY = "_uniware_facility"
WINDOW_START = "_uniware_window_start"
WINDOW_END = "_uniware_window_end"
EXPORTED_AT = "_uniware_exported_at"
KEY_OCCURRENCE = "_uniware_key_occurrence"
LINEAGE_COLUMNS = (JOB_CODE, FACILITY, WINDOW_START, WINDOW_END, EXPORTED_AT)
# names no header can take: a header called like one of these gets a suffixed column instead
RESERVED_COLUMNS = (*LINEAGE_COLUMNS, KEY_OCCURRENCE, *DLT_COLUMNS)


@dataclass(frozen=True)
class Lineage:
    job_code: str
    facility: Optional[str]
    window_start: Optional[datetime]
    window_end: Optional[datetime]
    exported_at: Optional[datetime] = None  # when the job was created: the moment its data describes
    window_column: Optional[str] = None  # the window guard's column when not the export's (another date filter)




@dataclass
class ConvertedFile:
    parquet: Optional[Path]  # the (first) load file (Parquet or CSV, see file_format); None without data rows
    rows: int
    skipped: int
    header: list[str]
    layout: FileLayout
    problems: list[str] = field(default_factory=list)
    schema: Optional[pa.Schema] = None
    window_span: Optional[tuple[datetime, datetime]] = None  # earliest and latest of the window guard's column
    window_no_dates: Optional[str] = None  # a value of that column, when it holds values but no date
    window_latest: Optional[datetime] = None  # the latest instant a row of that column stands for
    file_format: str = PARQUET
    keys: FileKeys = field(default_factory=lambda: FileKeys(None))  # whether the key repeats in the file
    facility_codes: Optional[FacilityCodes] = None  # the rows' Facility Code against the job's (facility_guard)
    facility_names: Optional[FacilityCodes] = None  # the rows' Facility (display name), where no code is
    parts: list[tuple[Path, int]] = field(default_factory=list)  # every load file and its rows (see `parts`)
    # decimal columns whose values rounding changed: label -> [values, first row, its text]
    rounded: dict[str, list[Any]] = field(default_factory=dict)
    # rows whose line began with a byte-order mark (files joined into one): [rows, first row]
    marked: list[int] = field(default_factory=lambda: [0, 0])



def rounded_message(label: str, kind: str, count: int, row: int, text: str) -> str:
    """What the LOADED message and the log say of a decimal column whose values rounding changed."""
    scale = RATE_TYPE.scale if kind == RATE else 4
    wider = (f"set column_types for this export to {{\"{label}\" = \"text\"}} to keep them as written"
             if kind == RATE else
             f"set column_types for this export to {{\"{label}\" = \"{RATE}\"}} (decimal(38, 12)) or \"text\" to "
             "keep them exact (in a new table_name if the column has loaded)")
    return (f"column '{label}': {count:,} value(s) have more than {scale} decimal places and were rounded to "
            f"{scale}, first at row {row} (header is row 1): {text!r}; {wider}")




def _with_final_line_break(source: Opener, block_size: int) -> Optional[Opener]:
    """The file with a line break after its last line, when it is smaller than a parse block and does
    not end in one (pyarrow takes a lone header without it for a row straddling blocks); else None."""
    with source() as handle:
        data = handle.read(block_size + 1)
    if len(data) > block_size or not data or data.endswith((b"\n", b"\r")):
        return None
    return lambda: io.BytesIO(data + b"\n")


def _ends_with_line_break(path: Path) -> bool:
    """Whether the file's last byte ends a line (every row a writer finished does)."""
    with open(path, "rb") as handle:
        handle.seek(0, io.SEEK_END)
        if handle.tell() == 0:
            return True
        handle.seek(-1, io.SEEK_END)
        return handle.read(1) in (b"\n", b"\r")


class _BlockTooSmall(Exception):
    """A row is larger than pyarrow's parse block: the file is read again with larger blocks."""


def part_path(path: Path, part: int) -> Path:
    """The load file of one part: `path` itself for the first, `name.1.csv`... for the others."""
    return path if part == 0 else path.with_name(f"{path.stem}.{part}{path.suffix}")


class CsvConverter:
    """Converts the CSV files of one export's jobs; `names` is shared by the export's worker threads.

    `parts` > 1 deals the chunks out to that many load files, each written on its own thread: dlt
    loads the files of a table in parallel (PostgreSQL: one COPY, one backend, each). A file of one
    chunk makes one load file."""

    def __init__(self, spec: ExportSpec, names: ColumnNames, *, on_bad_rows: str = "fail",
                 key_store: KeyStore, block_size: int = BLOCK_SIZE, load_format: str = PARQUET, parts: int = 1) -> None:
        self.key_store = key_store  # the key hashes of the package's files (see key_check.py)
        self.load_format = load_format  # of the file written: parquet, or csv for PostgreSQL's COPY
        self.parts = max(1, parts)
        self.spec = spec
        self.names = names
        self.skip_bad_rows = on_bad_rows == "skip"
        self.block_size = block_size

    def convert(self, csv_path: Path, parquet_path: Path, lineage: Lineage, label: str,
                source_name: Optional[str] = None, source: Optional[Opener] = None) -> ConvertedFile:
        """Convert `csv_path`, read through `source` when given (a download being followed, see
        jobs/follow.py); messages name the file as `source_name` (its name on the file host). Load
        files of a conversion that fails are removed."""
        try:
            return self._convert_file(csv_path, parquet_path, lineage, label, source_name,
                                      source or (lambda: open(csv_path, "rb")))
        except BaseException:
            self._remove_parts(parquet_path)
            raise

    def discard(self, converted: ConvertedFile) -> None:
        """Forget a converted file that will not load (or was handed to dlt, which keeps its own copy):
        its load files and its key hashes."""
        for path, _ in converted.parts:
            path.unlink(missing_ok=True)
        self.key_store.discard(converted.keys)

    def _remove_parts(self, parquet_path: Path) -> None:
        for part in range(self.parts):
            part_path(parquet_path, part).unlink(missing_ok=True)

    def _convert_file(self, csv_path: Path, parquet_path: Path, lineage: Lineage, label: str,
                      source_name: Optional[str], source: Opener) -> ConvertedFile:
        where = f"file {source_name or csv_path.name}"
        header = read_header(source, where)
        layout = plan_layout(header, self.spec, self.names, where, file_bytes=csv_path.stat().st_size)
        block_size = self.block_size
        while True:
            try:
                result = self._convert(source, parquet_path, lineage, header, layout, where, block_size)
                break
            except _BlockTooSmall:
                self._remove_parts(parquet_path)
                ended = _with_final_line_break(source, block_size)
                if ended is not None:  # a header-only file without a line break: pyarrow wants one
                    source = ended
                    continue
                if block_size >= MAX_BLOCK_SIZE:
                    raise CsvFormatError(f"{where}: a row is larger than {MAX_BLOCK_SIZE >> 20} MB; "
                                         "such a file cannot be parsed") from None
                block_size = min(block_size * 8, MAX_BLOCK_SIZE)
                log.info("%s: %s: a row is larger than the parse block; reading again with %d MB blocks",
                         label, where, block_size >> 20)
        if result.rows and not _ends_with_line_break(csv_path):
            result.problems.append(
                f"the file ends without a line break after its last row (row {result.rows + result.skipped + 1}, "
                "header is row 1): a file cut short ends so, and that row's last value may then be cut; the row "
                "loaded as written")
        for problem in result.problems:
            log.warning("%s: %s: %s", label, where, problem)
        return result

    def _convert(self, source: Opener, parquet_path: Path, lineage: Lineage, header: list[str], layout: FileLayout,
                 where: str, block_size: int) -> ConvertedFile:
        newest_at = find_label(layout.labels, self.spec.dedup_sort) if self.spec.dedup_sort else -1
        versions = [layout.names[newest_at]] if newest_at >= 0 else []  # the same keys, other versions: other rows
        key = [*layout.key_names, FACILITY] if self.spec.facility_in_key and layout.key_names else layout.key_names
        if self.spec.repeating_keys and key:  # as dlt's primary key (resources.py): the facility, the occurrence
            key = [*key, KEY_OCCURRENCE]
        key_check = self.key_store.file(key, versions, same_rows=[name for name in key if name != FACILITY])
        try:
            with source() as handle:
                # without a key, the rows tell files apart; with the facility in the key, the keys and the rows:
                # two facilities may hold the same codes (each numbers its own), but not the same lines
                by_lines = not key or FACILITY in key
                lines = LineFingerprint(handle) if by_lines else None
                watch = QuoteWatch(cast(BinaryIO, lines) if lines else handle)
                result = self._convert_from(cast(BinaryIO, watch), source, parquet_path, lineage, header, layout,
                                            where, block_size, key_check)
            if watch.suspect:
                refuse_altered_value(source, layout, where)
            if lines is not None and result.rows:
                keys = result.keys.fingerprint
                fingerprint = f"{keys}|{lines.value()}" if key else lines.value()
                result.keys = replace(result.keys, fingerprint=fingerprint if keys or not key else None)
            return result
        finally:
            key_check.close()  # the hashes stay only when the result handed them out

    def _convert_from(self, handle: BinaryIO, source: Opener, parquet_path: Path, lineage: Lineage,
                      header: list[str], layout: FileLayout, where: str, block_size: int,
                      key_check: KeyCheck) -> ConvertedFile:
        count = len(layout.labels)
        problems = RowProblems(self.skip_bad_rows)

        def parse_error(error: pa.ArrowInvalid) -> Exception:
            if "straddling" in str(error):
                return _BlockTooSmall()
            return self._parse_error(source, count, block_size, problems, where, error)

        try:  # the reader parses its first block right away
            reader = pacsv.open_csv(
                handle,
                read_options=read_options(count, block_size),
                parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=problems),
                convert_options=pacsv.ConvertOptions(
                    column_types={n: pa.string() for n in positional_names(count)}, null_values=BLANKS,
                    strings_can_be_null=True, quoted_strings_can_be_null=True, check_utf8=False),
            )
        except pa.ArrowInvalid as error:
            raise parse_error(error) from None
        label = lineage.window_column or self.spec.window_column  # the window guard's: its earliest and latest
        date_at = find_label(layout.labels, label) if label else -1
        dates = DateSpan(label) if label and date_at >= 0 else None
        if label and date_at < 0:
            result_note = (f"the window guard is off for this file: its column '{label}' is not in the header "
                           "(set window_column for this export to the label the file uses)")
        else:
            result_note = ""
        result = ConvertedFile(None, 0, 0, header, layout, file_format=self.load_format)
        code_at = find_label(layout.labels, FACILITY_CODE_LABEL) if self.spec.facility_scoped and lineage.facility \
            else -1
        if code_at >= 0 and lineage.facility and layout.kinds[code_at] == TEXT:
            result.facility_codes = FacilityCodes(lineage.facility)
        name_at = find_label(layout.labels, FACILITY_NAME_LABEL) if self.spec.facility_scoped and lineage.facility \
            and code_at < 0 else -1
        if name_at >= 0 and lineage.facility and layout.kinds[name_at] == TEXT:
            result.facility_names = FacilityCodes(lineage.facility)
        if result_note:
            log.warning("%s: %s", where, result_note)
            result.problems.append(result_note)
        occurrences: dict[str, int] = {}
        na_blank = self._na_blank(layout)
        writers: list[BackgroundWriter] = []
        part_rows: list[int] = []
        dictionary: Optional[list[str]] = None  # the Parquet columns worth a dictionary, from the first chunk
        data_rows = 0  # data rows parsed so far, to name rows in messages
        chunks = 0
        chunks_read = read_ahead(regrouped(reader, CHUNK_ROWS, CHUNK_BYTES))
        try:
            while True:
                try:
                    batch = next(chunks_read)
                except StopIteration:
                    break
                except ParseFailed as failed:  # explained here: a reader whose consumer stopped explains nothing
                    raise parse_error(failed.error) from None
                table = self._convert_batch(batch, layout, na_blank, lineage, occurrences, data_rows, where, result)
                data_rows += batch.num_rows
                if table.num_rows == 0:
                    continue
                if dates is not None:
                    dates.add(table.column(layout.names[date_at]), layout.kinds[date_at])
                if result.facility_codes is not None:
                    result.facility_codes.add(table.column(layout.names[code_at]))
                if result.facility_names is not None:
                    result.facility_names.add(table.column(layout.names[name_at]))
                if result.schema is None:
                    result.schema = table.schema
                    dictionary = dictionary_columns(table) if self.load_format == PARQUET else None
                part = chunks % self.parts
                chunks += 1
                if part == len(writers):
                    writers.append(BackgroundWriter(part_path(parquet_path, part), result.schema,
                                                            self.load_format, dictionary))
                    part_rows.append(0)
                writers[part].write(table.cast(result.schema))
                part_rows[part] += table.num_rows
                key_check.add(table)
                result.rows += table.num_rows
        finally:
            chunks_read.close()  # stops the reading thread
            errors = []
            for writer in writers:
                try:
                    writer.close()
                except BaseException as error:  # every writer is closed; the first error is raised
                    errors.append(error)
            pa.default_memory_pool().release_unused()  # hand the chunks' memory back before dlt loads
            if errors:
                raise errors[0]
        if problems.ragged:
            result.skipped += len(problems.ragged)
            first = problems.ragged[0]
            if first.number is None:
                first = first_ragged_row(source, count, block_size) or first
            result.problems.insert(0, f"{len(problems.ragged)} row(s) with the wrong number of fields skipped, "
                                      f"first at row {first.number} (header is row 1): {first.actual} fields, "
                                      f"expected {first.expected}")
        result.parquet = parquet_path if writers else None
        result.parts = [(part_path(parquet_path, part), rows) for part, rows in enumerate(part_rows)]
        result.window_span = dates.span if dates is not None else None
        result.window_no_dates = dates.no_dates if dates is not None else None
        result.window_latest = dates.latest if dates is not None else None
        result.keys = key_check.result()
        for rounded_label, (count, row, text) in result.rounded.items():
            result.problems.append(rounded_message(rounded_label, layout.kinds[layout.labels.index(rounded_label)],
                                                   count, row, text))
        if result.marked[0]:
            result.problems.append(
                f"{result.marked[0]:,} row(s) began with a byte-order mark (U+FEFF), first at row {result.marked[1]} "
                f"(header is row 1), as files joined into one would: dropped from their '{layout.labels[0]}'")
        key = ", ".join(self.spec.primary_key)
        repeats = f"{result.keys.repeats:,} row(s) repeat the key ({key}) of an earlier row"
        repeated = bool(result.keys.repeats and layout.key_names and not self.spec.repeating_keys)
        if repeated and not tells_newest(self.spec, layout.labels):
            # dlt's merge would keep any one row of each repeated key, silently: the others are lost
            if not self.spec.dedup_sort:
                raise CsvFormatError(
                    f"{where}: {repeats}, and no dedup_sort tells which to keep; if they are different records (a "
                    "row per batch, unit or line), set repeating_keys = true for this export (every row kept, "
                    "numbered) or widen its primary_key; if they are versions of one record, set dedup_sort to the "
                    "column that tells the newest")
            raise CsvFormatError(
                f"{where}: {repeats}, and the dedup_sort column '{self.spec.dedup_sort}' that tells the newest is not "
                f"in the file's header {layout.labels}; set dedup_sort for this export to the file's header label, "
                "or set repeating_keys = true (every row kept, numbered)")
        if repeated and result.keys.ties:
            # dlt keeps any one of them (each destination its own): said, with the ways out
            result.problems.append(
                f"{repeats} of the file, {result.keys.ties:,} of them with the same '{self.spec.dedup_sort}' as "
                f"that row (or none), or without a '{self.spec.dedup_sort}' beside a row of their key that has one: "
                "where that is the key's newest, one of those rows is loaded, which one is not told by the file (it "
                "may differ between destinations); if they are different records, widen primary_key or set "
                "repeating_keys for this export")
        elif repeated:
            result.problems.append(
                f"{repeats} of the file: one row per key is loaded (the newest '{self.spec.dedup_sort}'); if they are "
                "different records, widen primary_key or set repeating_keys for this export")
        return result

    def _parse_error(self, source: Opener, count: int, block_size: int, problems: RowProblems, where: str,
                     error: pa.ArrowInvalid) -> CsvFormatError:
        first = problems.fatal()
        if first is not None:
            if first.number is None:
                first = first_ragged_row(source, count, block_size, joined=first.joined) or first
            at = f"row {first.number} (header is row 1)" if first.number else "a row"
            if first.joined:
                return CsvFormatError(
                    f"{where}: {at} has {first.actual} fields, the header has {first.expected}, and it spans "
                    f"{first.lines:,} lines of the file (starts with {first.text!r}): a quote that is not closed "
                    "or not escaped seems to join rows, so such a row is never skipped; the file cannot be "
                    "read safely")
            marked = (" (it begins with a byte-order mark, as files joined into one would: the mark keeps its first "
                      "value's quote from opening a quoted field, so a separator or line break inside that value "
                      "splits it; the file host's file needs mending)" if str(first.text).startswith(BOM) else "")
            return CsvFormatError(f"{where}: {at} has {first.actual} fields, the header has {first.expected} "
                                  f"(starts with {first.text!r}){marked}; set on_bad_rows='skip' to drop such rows")
        return CsvFormatError(f"{where}: the CSV could not be parsed: {error}")

    def _na_blank(self, layout: FileLayout) -> frozenset[int]:
        """The columns whose `NA` is a blank (see NA): typed (or kept typed), key and AWB columns."""
        return frozenset(position for position, (label, name, kind)
                         in enumerate(zip(layout.labels, layout.names, layout.kinds, strict=True))
                         if kind != TEXT or name in layout.key_names
                         or fold_label(label) in NA_BLANK_LABELS | self.spec.types_kept)

    def _convert_batch(self, batch: pa.RecordBatch, layout: FileLayout, na_blank: frozenset[int], lineage: Lineage,
                       occurrences: dict[str, int], rows_before: int, where: str, result: ConvertedFile) -> pa.Table:
        columns: list[pa.Array] = list(batch.columns)
        reject: Optional[pa.Array] = None
        rounded: list[tuple[int, pa.Array, pa.Array]] = []  # (column, values rounding changed, their text)

        def flag(mask: pa.Array, what: str, column: int) -> None:
            nonlocal reject
            index = pc.index(mask, True).as_py()
            row = rows_before + index + 2
            value = batch.column(column)[index]
            shown = value.cast(pa.binary()).as_py() if what == "bytes that are not UTF-8" else value.as_py()
            misfit = number_misfit(layout.kinds[column], shown) if isinstance(shown, str) else ""
            if not misfit and what.startswith("not a valid"):  # no number or date at all: a tenant's own way
                misfit = (f"if this tenant writes the column so, column_types = {{\"{layout.labels[column]}\" = "
                          "\"text\"} in the export's table loads it as written")
            message = (f"row {row} (header is row 1), column '{layout.labels[column]}': {what}: {shown!r}"
                       + (f" ({misfit})" if misfit else ""))
            if not self.skip_bad_rows:
                raise CsvFormatError(f"{where}: {message}; set on_bad_rows='skip' to drop such rows")
            count = pc.sum(mask).as_py()
            result.problems.append(f"{count} row(s) dropped for {what} in '{layout.labels[column]}', first: {message}")
            reject = mask if reject is None else pc.or_(reject, mask)

        for position, column in enumerate(columns):
            try:
                column.validate(full=True)
            except pa.ArrowInvalid:
                invalid = invalid_utf8(column)
                flag(invalid, "bytes that are not UTF-8", position)
                valid = pc.if_else(invalid, pa.scalar(b""), column.cast(pa.binary())).cast(pa.string())  # no bad byte
                columns[position] = pc.if_else(invalid, pa.scalar(None, pa.string()), valid)  # left behind a null
            data = value_bytes(columns[position])
            if position == 0 and BOM.encode() in data:
                columns[0] = self._unmarked(columns[0], rows_before, result)
            if position in na_blank and NA.encode() in data:
                columns[position] = _na_as_blank(columns[position])
            if NUL.encode() in data:
                nul = pc.fill_null(pc.match_substring(columns[position], NUL), False)
                if pc.any(nul).as_py():
                    flag(nul, "a NUL byte (0x00), which no database text can hold", position)
            index = joined_rows(columns[position], len(columns), position, layout.names[position] in layout.key_names) \
                if b"\n" in data or b"\r" in data else None
            if index is not None:  # never skipped: the rows it swallowed would be lost without a word
                value = str(columns[position][index].as_py())
                raise CsvFormatError(
                    f"{where}: row {rows_before + index + 2} (header is row 1), column '{layout.labels[position]}' "
                    f"holds {1 + line_breaks(value):,} lines shaped like rows of the file (starts with "
                    f"{value[:60]!r}): a quote that is not escaped seems to join rows; the file cannot be read "
                    "safely")
        found = header_row(pa.RecordBatch.from_arrays(columns, names=batch.schema.names), layout.header)
        if found is not None:  # never skipped: the rows after it may be another export's, in other columns
            what = ("repeats the header" + ("" if found.in_order else " in another order")) if found.repeats else (
                f"is a header row, not data: {found.labels} of its {len(columns)} values are column labels (another "
                "export's header, or the header again with other labels)")
            raise CsvFormatError(
                f"{where}: row {rows_before + found.index + 2} (header is row 1) {what}: the file holds a header "
                "twice, as two exports joined into one file would, so the rows after it may not be this export's, "
                "or not in these columns; the file cannot be read safely")
        empty = _blank_rows(columns, range(len(columns)))
        if empty is not None:
            flag(empty, "a row without any value (a line of separators only)", 0)
        keys = [layout.names.index(key) for key in layout.key_names]
        key_blanks = [_blank_values(columns[k]) for k in keys]
        keyless = _all_of(key_blanks)
        if keyless is not None:
            if empty is not None:
                keyless = pc.and_(keyless, pc.invert(empty))
            if pc.any(keyless).as_py():
                flag(keyless, f"empty, as is every key column ({', '.join(layout.labels[k] for k in keys)}): a row "
                     "without a key would merge into any other such row", keys[0])
        footer = _footer_rows(columns, _any_of(key_blanks) if keys else None)
        if footer is not None and pc.any(footer).as_py():
            if reject is not None:
                footer = pc.and_(footer, pc.invert(reject))
            if pc.any(footer).as_py():
                index = pc.index(footer, True).as_py()
                shown = next(position for position, column in enumerate(columns)
                             if not _blank_values(column[index:index + 1])[0].as_py())
                lacks = (f"and part of its key ({', '.join(layout.labels[k] for k in keys)})" if keys else
                         "and the export has no key to tell it by")
                flag(footer, f"a value in at most {FOOTER_MAX_VALUES} of the file's {len(columns)} columns, {lacks}: "
                     "a footer, a total or a note, not a row of the report", shown)
        for position, kind in enumerate(layout.kinds):
            if kind == TEXT:
                continue
            converted = CONVERTERS[kind](columns[position])
            if converted.bad is not None and pc.any(converted.bad).as_py():  # blanks around values: read again
                columns[position] = _without_blanks_around(columns[position])
                converted = CONVERTERS[kind](columns[position])
            if converted.bad is not None and pc.any(converted.bad).as_py():
                flag(converted.bad, f"not a valid {kind}", position)
            if converted.rounded is not None:  # only chunks the exact cast refused
                rounded.append((position, converted.rounded, columns[position]))
            columns[position] = converted.values
            if layout.names[position] in layout.key_names and converted.values.null_count:
                blank = pc.is_null(converted.values)
                if converted.bad is not None:
                    blank = pc.and_(blank, pc.invert(pc.fill_null(converted.bad, False)))
                if pc.any(blank).as_py():
                    flag(blank, f"empty, but it is part of the key and typed {kind}", position)
        for position, blank in zip(keys, key_blanks, strict=True):  # a text key's blank (null too) is ""
            if layout.kinds[position] == TEXT and pc.any(blank).as_py():
                columns[position] = pc.if_else(blank, "", columns[position])
        for position, mask, text in rounded:  # counted for the rows that load, not those dropped
            if reject is not None:
                mask = pc.and_(mask, pc.invert(reject))
            if pc.any(mask).as_py():
                index = pc.index(mask, True).as_py()
                seen = result.rounded.setdefault(layout.labels[position],
                                                 [0, rows_before + index + 2, text[index].as_py()])
                seen[0] += pc.sum(mask).as_py()
        table = pa.Table.from_arrays(columns, names=layout.names)
        if reject is not None:
            result.skipped += pc.sum(reject).as_py()
            table = table.filter(pc.invert(reject))
        return self._add_lineage(table, layout, lineage, occurrences)

    @staticmethod
    def _unmarked(column: pa.Array, rows_before: int, result: ConvertedFile) -> pa.Array:
        """The first column without the byte-order marks its values begin with: a line of the file that
        starts with one (two files joined into one) would load it into the row's first value, a key's
        part for most reports, so the row would not merge with its own key. A quoted value after the mark
        is not read as quoted by the CSV reader (the quote does not open the field): its quotes are taken
        off as the reader would have (`""` inside is one quote). Counted for the LOADED row."""
        marked = pc.fill_null(pc.starts_with(column, BOM), False)
        count = pc.sum(marked).as_py() or 0
        if not count:
            return column
        if not result.marked[0]:
            result.marked[1] = rows_before + pc.index(marked, True).as_py() + 2
        result.marked[0] += count
        bare = pc.utf8_ltrim(column, characters=BOM)
        # nothing after the mark: an empty field, which the reader gives as null
        bare = pc.if_else(pc.and_(marked, pc.equal(bare, "")), pa.scalar(None, pa.string()), bare)
        quoted = pc.and_(marked, pc.fill_null(pc.and_(pc.match_substring_regex(bare, r'^".*"$'),
                                                      pc.greater_equal(pc.utf8_length(bare), 2)), False))
        if not pc.any(quoted).as_py():
            return bare
        inner = pc.replace_substring(pc.utf8_slice_codeunits(bare, 1, -1), '""', '"')
        return pc.if_else(quoted, inner, bare)

    def _add_lineage(self, table: pa.Table, layout: FileLayout, lineage: Lineage,
                     occurrences: dict[str, int]) -> pa.Table:
        rows = table.num_rows
        if self.spec.repeating_keys and layout.key_names:
            parts = [table.column(k).cast(pa.string()) for k in layout.key_names]
            # each part behind its length, so no two different keys join to the same text
            keys = pc.binary_join_element_wise(
                *[pc.binary_join_element_wise(pc.utf8_length(part).cast(pa.string()), part, ":") for part in parts],
                "").to_pylist()
            numbers = []
            for key in keys:
                occurrences[key] = occurrences.get(key, 0) + 1
                numbers.append(occurrences[key])
            table = table.append_column(pa.field(KEY_OCCURRENCE, pa.int32(), nullable=False),
                                        pa.array(numbers, pa.int32()))
        lineage_values = (
            (JOB_CODE, pa.string(), lineage.job_code),
            (FACILITY, pa.string(), lineage.facility),
            (WINDOW_START, UTC_MICROS, lineage.window_start),
            (WINDOW_END, UTC_MICROS, lineage.window_end),
            (EXPORTED_AT, UTC_MICROS, lineage.exported_at),
        )
        for name, kind, value in lineage_values:
            table = table.append_column(pa.field(name, kind), pa.repeat(pa.scalar(value, kind), rows))
        # key columns never hold nulls, and saying so keeps dlt's schema and Arrow's in agreement:
        # where they differ, dlt's normalize rewrites the whole Parquet file (~2.8 s at 1M rows of 40
        # columns) instead of importing it as it is. Not the facility: a job given in job_codes has
        # none, and its rows may join a table that windowed jobs filled, so the column stays nullable
        key_fields = set(layout.key_names) | ({KEY_OCCURRENCE} if KEY_OCCURRENCE in table.column_names else set())
        if self.spec.merges_on_job_code:
            key_fields.add(JOB_CODE)
        schema = pa.schema([f.with_nullable(False) if f.name in key_fields else f for f in table.schema])
        return table.cast(schema)


ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"  # characters that show nothing and are no whitespace either
_ZERO_WIDTH_BYTES = tuple(character.encode() for character in ZERO_WIDTH)


def _blank_values(column: pa.Array) -> pa.Array:
    """Which values of `column` are null, empty, or blanks only (spaces, tabs, any Unicode space, and characters
    that show nothing: a zero-width space)."""
    if not pa.types.is_string(column.type):
        return pc.is_null(column)
    blank = pc.or_(pc.fill_null(pc.equal(column, ""), True), pc.fill_null(pc.utf8_is_space(column), False))
    if any(character in value_bytes(column) for character in _ZERO_WIDTH_BYTES):
        shown = pc.utf8_trim_whitespace(pc.utf8_trim(pc.utf8_trim_whitespace(column), ZERO_WIDTH))
        blank = pc.or_(blank, pc.fill_null(pc.equal(shown, ""), False))
    return blank


def _all_of(masks: Sequence[pa.Array]) -> Optional[pa.Array]:
    """The rows true in every one of `masks`, or None when there is none (or no mask)."""
    both = masks[0] if masks else None
    for mask in masks[1:]:
        both = pc.and_(both, mask)
    return both if both is not None and pc.any(both).as_py() else None


def _any_of(masks: Sequence[pa.Array]) -> pa.Array:
    """The rows true in some one of `masks` (at least one mask)."""
    either = masks[0]
    for mask in masks[1:]:
        either = pc.or_(either, mask)
    return either


def _blank_rows(columns: Sequence[pa.Array], positions: Iterable[int]) -> Optional[pa.Array]:
    """The rows whose values in `positions` are all blank (see `_blank_values`), or None when there is none
    (looked at column by column only while some row is still blank in all so far)."""
    blank: Optional[pa.Array] = None
    for position in positions:
        empty = _blank_values(columns[position])
        blank = empty if blank is None else pc.and_(blank, empty)
        if not pc.any(blank).as_py():
            return None
    return blank


# a row of a file this wide with values in this few columns, and no whole key, is no row of the report
FOOTER_MIN_COLUMNS = 8
FOOTER_MAX_VALUES = 2


def _footer_rows(columns: Sequence[pa.Array], candidates: Optional[pa.Array]) -> Optional[pa.Array]:
    """The rows that hold a value in at most FOOTER_MAX_VALUES of the file's columns (but some value) and lack
    part of their key (`candidates`: the rows with a blank key part, None for an export without a key, where
    any row so sparse is one): a footer, a total or a note a file host added (`Grand Total,,,...,21.00`),
    which would load as a row and count in every sum. None when none is, or the file has fewer than
    FOOTER_MIN_COLUMNS columns (looked at column by column only while some row has so few values)."""
    if len(columns) < FOOTER_MIN_COLUMNS or (candidates is not None and not pc.any(candidates).as_py()):
        return None
    values: Optional[pa.Array] = None
    for column in columns:
        valued = pc.cast(pc.invert(_blank_values(column)), pa.int16())
        values = valued if values is None else pc.add(values, valued)
        sparse = pc.less_equal(values, FOOTER_MAX_VALUES)
        if candidates is not None:
            sparse = pc.and_(sparse, candidates)
        if not pc.any(sparse).as_py():
            return None
    return pc.and_(sparse, pc.greater(values, 0))


def _na_as_blank(column: pa.Array) -> pa.Array:
    """`column` with its `NA` values null."""
    na = pc.equal(column, NA)
    return pc.if_else(na, None, column) if pc.any(na).as_py() else column
