"""One downloaded CSV to one typed Parquet file, streamed in Arrow batches at bounded memory.

Columns are mapped by header label, never by position. Every problem (a ragged row, bytes that are
not UTF-8, a value that fits no type, a missing key column) names the file, the row and the column;
with ``on_bad_rows = "skip"`` such rows are dropped and counted instead. Nothing is handed to dlt
until the whole file converted, so a bad file never lands half-loaded.
"""

from __future__ import annotations

import csv
import io
import logging
import queue
import re
import threading
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, Optional, cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..catalog import DATE, DECIMAL, INTEGER, RATE, TEXT, TIMESTAMP, ExportSpec
from ..errors import CsvFormatError
from ..type_labels import fold_label, other_report_of, requested_labels_absent, resolve_types
from .arrow_types import CONVERTERS, RATE_TYPE, UTC_MICROS, number_misfit
from .column_names import DLT_COLUMNS, ColumnNames
from .facility_guard import FACILITY_CODE_LABEL, FACILITY_NAME_LABEL, FacilityCodes
from .key_check import FileKeys, KeyCheck, KeyStore
from .load_files import PARQUET, ChunkWriter, dictionary_columns, open_writer
from .stray_quotes import Opener, QuoteWatch, first_altered_value
from .window_guard import DateSpan

log = logging.getLogger(__name__)

# whole values that mean "no value": empty, `N/A`, `-`, `NULL` (uniware-api.md) and `NA` (uniware-reports.md 12)
BLANKS = ["", "N/A", "NA", "-", "NULL"]
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
class FileLayout:
    """How a file's header maps onto the table: labels, normalized names and types."""

    labels: list[str]
    names: list[str]
    kinds: list[str]
    key_names: list[str]

    def name_of(self, label: str) -> str:
        return self.names[self.labels.index(label)]


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
    file_format: str = PARQUET
    keys: FileKeys = field(default_factory=lambda: FileKeys(None))  # whether the key repeats in the file
    facility_codes: Optional[FacilityCodes] = None  # the rows' Facility Code against the job's (facility_guard)
    facility_names: Optional[FacilityCodes] = None  # the rows' Facility (display name), where no code is
    parts: list[tuple[Path, int]] = field(default_factory=list)  # every load file and its rows (see `parts`)
    # decimal columns whose values rounding changed: label -> [values, first row, its text]
    rounded: dict[str, list[Any]] = field(default_factory=dict)


def read_header(source: Opener, where: str) -> list[str]:
    """The header labels, BOM removed; [] for an empty file. Lines may end in LF, CRLF or CR alone (as
    pyarrow reads them), and a quoted label may span lines; bytes that are not UTF-8 after the header
    are the data's business, not the header's."""
    try:
        with source() as handle:
            text = io.TextIOWrapper(handle, encoding="utf-8-sig", errors="surrogateescape", newline="")
            header = next(csv.reader(text), [])
    except csv.Error as error:
        raise CsvFormatError(f"{where}: the header row cannot be read as CSV ({error})") from None
    for number, label in enumerate(header, start=1):
        bad = next((at for at, char in enumerate(label) if "\udc80" <= char <= "\udcff"), None)
        if bad is not None:  # a byte that is not UTF-8, kept as a surrogate by the decoding above
            raise CsvFormatError(f"{where}: the header is not UTF-8: its label {number} holds the byte "
                                 f"0x{ord(label[bad]) - 0xDC00:02x} after {label[:bad][-40:]!r}")
    return header


# a loaded column's dlt data type as the kind the converter gives it (collect keeps loaded types)
LOADED_KINDS = {"text": TEXT, "timestamp": TIMESTAMP, "decimal": DECIMAL, "bigint": INTEGER, "date": DATE}


def loaded_kind(column: Mapping[str, Any]) -> Optional[str]:
    """The kind a column of the table was loaded as (its dlt schema entry): a decimal of the rates'
    scale is a rate."""
    kind = LOADED_KINDS.get(str(column.get("data_type")))
    return RATE if kind == DECIMAL and column.get("scale") == RATE_TYPE.scale else kind


def rounded_message(label: str, kind: str, count: int, row: int, text: str) -> str:
    """What the LOADED message and the log say of a decimal column whose values rounding changed."""
    scale = RATE_TYPE.scale if kind == RATE else 4
    wider = (f"set column_types for this export to {{\"{label}\" = \"text\"}} to keep them as written"
             if kind == RATE else
             f"set column_types for this export to {{\"{label}\" = \"{RATE}\"}} (decimal(38, 12)) or \"text\" to "
             "keep them exact (in a new table_name if the column has loaded)")
    return (f"column '{label}': {count:,} value(s) have more than {scale} decimal places and were rounded to "
            f"{scale}, first at row {row} (header is row 1): {text!r}; {wider}")


def kind_of(label: str, spec: ExportSpec) -> str:
    """The configured type of a label: exact match first, then ignoring case and spaces."""
    if label in spec.column_types:
        return spec.column_types[label]
    folded = {fold_label(k): v for k, v in spec.column_types.items()}
    return folded.get(fold_label(label), TEXT)


def spec_labels(labels: list[str], spec: ExportSpec, names: Optional[ColumnNames] = None) -> list[str]:
    """The header's labels as the export's settings spell them.

    - A label equal but for case or spacing to one the settings name (key, newest-wins column, window
      column, typed columns) takes the settings' spelling, so it lands in that label's column (the
      key's and the newest-wins column's always; another only if no column holds it yet).
    - One of a label's other readings (`label_readings`: tenants' files spell some columns
      differently) stands for that label when the file does not carry the label itself, so either
      reading lands in the same columns. Not for a reading the settings name themselves (a
      configured key), nor one this export's columns already hold (loads made before it was known).
    - A file that carries two spellings of one label keeps both: the label itself (or the first
      other spelling, when the file lacks the label) takes the label's column, the others their own.
    """
    pinned = [*spec.primary_key, *([spec.dedup_sort] if spec.dedup_sort else [])]  # their columns are fixed
    named = [*pinned, *([spec.window_column] if spec.window_column else []),
             *spec.window_columns_by_filter.values(), *spec.column_types]
    spelling = {fold_label(k): k.strip() for k in reversed(named)}  # the first spelling wins
    folded_pinned = {fold_label(k) for k in pinned}
    present = {fold_label(label) for label in labels}
    readings = {fold_label(other): label for label, others in spec.label_readings.items() for other in others
                if fold_label(label) not in present and fold_label(other) not in spelling
                and (names is None or names.name_of(other) is None)}

    def spelled(label: str) -> str:
        folded = fold_label(label)
        if label in named or (names is not None and names.name_of(label) is not None
                              and folded not in folded_pinned):
            return label  # as named, or a label this export's columns already hold
        return spelling.get(folded) or readings.get(folded) or label

    exact = set(labels)
    claimed: dict[str, str] = {}  # a settings' spelling -> the file's label that took it
    result = []
    for label in labels:
        chosen = spelled(label)
        # kept as it is when the file has that label itself, or another spelling of it came first
        taken = chosen != label and (chosen in exact or claimed.setdefault(chosen, label) != label)
        result.append(label if taken else chosen)
    return result


def tells_newest(spec: ExportSpec, labels: Sequence[str]) -> bool:
    """Whether rows repeating a key can be loaded without losing one at random: each kept
    (`repeating_keys`), or the newest told by the `dedup_sort` column, which the file (`labels`) has."""
    return spec.repeating_keys or bool(spec.dedup_sort and find_label(labels, spec.dedup_sort) >= 0)


def find_label(labels: Sequence[str], wanted: str) -> int:
    """The position of `wanted` in `labels`: exactly, else ignoring case and spaces; -1 if absent."""
    wanted = wanted.strip()
    if wanted in labels:
        return labels.index(wanted)
    folded = [fold_label(label) for label in labels]
    return folded.index(fold_label(wanted)) if fold_label(wanted) in folded else -1


def _check_report(header: Sequence[str], spec: ExportSpec, label: str) -> None:
    """Refuse a file that is not the report's export: a header of fewer than half the columns the job
    requested (Uniware sends the requested columns, then others; a build may leave out an id it does not
    know, not most of them), or, for a catalog report, without most requested columns' known labels: a
    message or an error page served as the file, or another report's export. An export with a key fails
    on its missing key column anyway; one without a key would load it, or its header alone as an empty
    export, and move its cursor."""
    shown = [h.strip() for h in header[:4]] + (["..."] if len(header) > 4 else [])
    what = "an error page or a message served as the file, or another report's export"
    requested = len(set(spec.columns))
    if requested >= 2 and len(header) * 2 <= requested:
        raise CsvFormatError(f"{label}: the file's header has {len(header)} column(s) {shown}, and the job requested "
                             f"{requested}: this is not a '{spec.name}' export ({what}); nothing loaded, the window is "
                             "exported again next run")
    other = other_report_of(spec.name, header)
    if other is not None:
        raise CsvFormatError(f"{label}: the file's header holds every label of a '{other}' export, and labels "
                             f"'{spec.name}' has none of: this is not that report's export (another report's file "
                             "served for the job); nothing loaded, the window is exported again next run")
    absent, known = requested_labels_absent(spec.name, spec.columns, header)
    if known >= 2 and len(absent) * 2 > known:
        raise CsvFormatError(f"{label}: the file's header {shown} lacks {len(absent)} of the {known} labels the "
                             f"requested columns of '{spec.name}' carry ({', '.join(absent[:3])}"
                             f"{', ...' if len(absent) > 3 else ''}): this is not that report's export ({what}); "
                             "nothing loaded, the window is exported again next run")


def plan_layout(header: Sequence[str], spec: ExportSpec, names: ColumnNames, label: str,
                file_bytes: Optional[int] = None) -> FileLayout:
    """Column names (kept per export, see column_names), types and key columns of a file's header."""
    if not header or all(not h.strip() for h in header):
        if file_bytes == 0:
            raise CsvFormatError(f"{label}: the file is empty (0 bytes), without even a header row; a Uniware "
                                 "export always has one, so this is a broken file, not an empty export")
        raise CsvFormatError(f"{label}: the file has no header row")
    _check_report(header, spec, label)
    labels = spec_labels([h.strip() for h in header], spec, names)
    typed, wrong = resolve_types(spec.column_types, spec.configured_types, labels, "of the file", spec.name)
    if wrong:  # a typo would type nothing, silently: the job fails, nothing of the file loads
        raise CsvFormatError(f"{label}: setting 'exports' (SOURCES__UNIWARE__EXPORTS): column_types of export "
                             f"'{spec.name}' {wrong[0]}")
    spec = replace(spec, column_types=typed)
    roles = {FACILITY_CODE_LABEL: "the column the facility check reads"} if spec.facility_scoped else {}
    if spec.window_column:
        roles[spec.window_column] = "the column the window check reads"
    if spec.dedup_sort:
        roles[spec.dedup_sort] = "the column the newest row is told by"
    roles.update({key: "part of the export's key" for key in spec.primary_key})
    for pinned, role in roles.items():  # a column the load or a check relies on: which of two is meant?
        if labels.count(pinned) > 1:
            raise CsvFormatError(f"{label}: the header has '{pinned}' {labels.count(pinned)} times; it is {role}, "
                                 "so which of them is meant cannot be told")
    columns = names.names_for(labels)
    kinds = [kind_of(lab, spec) for lab in labels]
    key_names = []
    for key in spec.primary_key:
        position = find_label(labels, key)
        if position < 0:
            raise CsvFormatError(
                f"{label}: key column '{key}' is not in the file's header {labels}; "
                "set primary_key for this export to the file's header labels")
        key_names.append(columns[position])
    return FileLayout(labels, columns, kinds, key_names)


class Ragged(NamedTuple):
    """A row whose number of fields is not the header's."""

    number: Optional[int]  # 1-based with the header as row 1; None where a multi-threaded parse cannot tell
    expected: int
    actual: int
    text: str  # its first 80 characters
    lines: int  # lines of the file it spans
    joined: bool  # shaped like rows joined by a quote not closed or not escaped: never skipped


def _ragged(row: pacsv.InvalidRow) -> Ragged:
    return Ragged(row.number, row.expected_columns, row.actual_columns, row.text[:80],
                  1 + line_breaks(row.text), row_joins_rows(row.text, row.expected_columns))


class _RowProblems:
    """Collects rejected rows while pyarrow parses (the invalid-row callback). A ragged row that looks
    like several rows of the file in one (a quote left open, or lines shaped like rows) is never skipped:
    an unterminated quote makes one such "row" of the rest of the file."""

    def __init__(self, skip: bool) -> None:
        self.skip = skip
        self.ragged: list[Ragged] = []

    def __call__(self, row: pacsv.InvalidRow) -> str:
        ragged = _ragged(row)
        self.ragged.append(ragged)
        return "skip" if self.skip and not ragged.joined else "error"

    def fatal(self) -> Optional[Ragged]:
        """The ragged row that stops the parse: the first that joins rows, else the first."""
        return next((r for r in self.ragged if r.joined), self.ragged[0] if self.ragged else None)


def _positional(count: int) -> list[str]:
    """Names pyarrow reads the columns under: by position, so repeated or odd labels cannot clash."""
    return [f"c{i}" for i in range(count)]


def _read_options(count: int, block_size: int, use_threads: bool = True) -> pacsv.ReadOptions:
    # the header is skipped as a parsed row (a quoted label may hold a newline), not as a line
    return pacsv.ReadOptions(column_names=_positional(count), skip_rows_after_names=1, block_size=block_size,
                             use_threads=use_threads)


def _repeats_the_header(batch: pa.RecordBatch, index: int, labels: list[str]) -> bool:
    """Whether row `index` of `batch` holds the header's labels, column for column (blanks trimmed)."""
    if batch.num_columns != len(labels):
        return False
    try:
        values = [batch.column(i)[index].as_py() for i in range(batch.num_columns)]
    except (UnicodeDecodeError, pa.ArrowInvalid):  # a value that is not UTF-8 is no label
        return False
    def bare(text: str) -> str:
        return text.strip().lstrip("\ufeff").strip()

    return all(isinstance(v, str) and bare(v) == bare(label) for v, label in zip(values, labels, strict=True))


def _first_ragged_row(source: Opener, count: int, block_size: int, joined: bool = False) -> Optional[Ragged]:
    """Re-read single-threaded, which is when pyarrow knows row numbers (error path only); `joined`: the
    first that joins rows."""
    found: list[Ragged] = []

    def handler(row: pacsv.InvalidRow) -> str:
        ragged = _ragged(row)
        if ragged.joined or not joined:
            found.append(ragged)
        return "skip"

    names = _positional(count)
    with source() as handle:
        reader = pacsv.open_csv(handle, read_options=_read_options(count, block_size, use_threads=False),
                                parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=handler),
                                convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                                     check_utf8=False, include_columns=names[:1]))
        for _ in reader:
            if found:
                break
    return found[0] if found else None


def _invalid_utf8(column: pa.Array) -> pa.Array:
    flags = []
    for item in column.cast(pa.binary()).to_pylist():
        if item is None:
            flags.append(False)
            continue
        try:
            item.decode("utf-8")
            flags.append(False)
        except UnicodeDecodeError:
            flags.append(True)
    return pa.array(flags, pa.bool_())


NUL = "\x00"
LINE_BREAK = re.compile(r"\r\n|\n|\r")


# narrower files are not searched for joined rows: an address or a list over lines too easily has the shape;
# a value over two lines only (no whole row between) is searched from this width on
JOINED_ROWS_MIN_FIELDS = 5
JOINED_TWO_LINES_MIN_FIELDS = 8


def line_breaks(text: str) -> int:
    """How many line breaks `text` holds (LF, CRLF or CR alone), counted without splitting it."""
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def value_joins_rows(text: str, fields: int, position: int) -> bool:
    """Whether a value of column `position` has the shape of rows of the file joined by a quote that is
    not escaped, opened in one row and closed at the same column of a later one: `fields` - 1 - `position`
    commas before its first line break, a whole row (`fields` - 1 commas) on each line between, `position`
    commas after its last one. A quote left open up to the end of the file makes a value that ends in a
    line break, every line after the first a whole row. Values over two lines with no whole row need a
    wider file to be told from an address."""
    if fields < JOINED_ROWS_MIN_FIELDS or not line_breaks(text):
        return False
    lines = LINE_BREAK.split(text)
    to_the_end = lines[-1] == ""
    commas = [line.count(",") for line in (lines[:-1] if to_the_end else lines)]
    whole = commas[1:] if to_the_end else commas[1:-1]
    if len(commas) < 2 or commas[0] != fields - 1 - position or (not whole and fields < JOINED_TWO_LINES_MIN_FIELDS):
        return False
    return all(count == fields - 1 for count in whole) and (to_the_end or commas[-1] == position)


def row_joins_rows(text: str, fields: int) -> bool:
    """Whether a ragged row's raw text is several rows of the file in one: a quote left open (an odd count
    of quotes over lines), or, in a file of `JOINED_ROWS_MIN_FIELDS` or more, two of its lines each holding
    a whole row's separators (a multi-line value of one row splits them between its lines). The text can
    be the rest of the file: counted, and its lines looked at only until two whole rows are found."""
    if not line_breaks(text):
        return False
    if text.count('"') % 2 == 1:
        return True
    if fields < JOINED_ROWS_MIN_FIELDS:
        return False
    whole = 0
    for match in re.finditer(r"[^\r\n]*", text):
        if match.group().count(",") >= fields - 1:
            whole += 1
            if whole == 2:
                return True
    return False


def _value_bytes(column: pa.Array) -> bytes:
    """A string column's value bytes (a copy of the buffer, searched with memchr before any row is)."""
    if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
        return b""
    values = column.buffers()[2]
    return values.to_pybytes() if values is not None else b""


def _joined_rows(column: pa.Array, fields: int, position: int) -> Optional[int]:
    """The first value of column `position` with the shape of rows joined by an unescaped quote (see
    `value_joins_rows`), or None. Only values with a line break are looked at, one by one."""
    breaks = pc.fill_null(pc.match_substring_regex(column, "[\r\n]"), False)
    if not pc.any(breaks).as_py():
        return None
    candidates = pc.indices_nonzero(breaks).to_pylist()
    texts = column.take(pa.array(candidates)).to_pylist()
    return next((index for index, text in zip(candidates, texts, strict=True)
                 if text is not None and value_joins_rows(text, fields, position)), None)


def _refuse_altered_value(source: Opener, layout: FileLayout, where: str) -> None:
    """Fail the file when a quoted value of it goes on after its closing quote (see stray_quotes.py)."""
    altered = first_altered_value(source)
    if altered is None:
        return
    column = f"column '{layout.labels[altered.column]}'" if 0 <= altered.column < len(layout.labels) \
        else "a field"
    read = pacsv.read_csv(io.BytesIO(altered.written.encode("utf-8", "surrogateescape") + b"\n"),
                          read_options=pacsv.ReadOptions(column_names=["value"]),
                          parse_options=pacsv.ParseOptions(newlines_in_values=True),
                          convert_options=pacsv.ConvertOptions(column_types={"value": pa.string()}))
    shown = read.column("value")[0].as_py() if read.num_rows == 1 else None
    raise CsvFormatError(
        f"{where}: row {altered.row} (header is row 1), {column}: the quoted value {altered.written[:80]!r} goes on "
        "after its closing quote (a quote inside it is not escaped as \"\"), so it would load altered"
        + (f" as {shown[:80]!r}" if shown is not None else "")
        + "; such a row is never skipped; the file cannot be read safely")


class _BackgroundParquetWriter:
    """Writes row groups (or CSV lines) on its own thread, so encoding one chunk overlaps parsing the next."""

    def __init__(self, path: Path, schema: pa.Schema, load_format: str = PARQUET,
                 dictionary: Optional[list[str]] = None) -> None:
        self._queue: queue.Queue[Optional[pa.Table]] = queue.Queue(maxsize=1)
        self._error: Optional[BaseException] = None
        self._writer: ChunkWriter = open_writer(load_format, path, schema, dictionary)
        self._thread = threading.Thread(target=self._run, name="uniware-parquet", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (table := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._writer.write_table(table)
                except BaseException as error:  # re-raised by write() or close()
                    self._error = error

    def write(self, table: pa.Table) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(table)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._writer.close()
        if self._error is not None:
            raise self._error


def _regrouped(reader: pacsv.CSVStreamingReader, rows: int, max_bytes: int) -> Generator[pa.RecordBatch, None, None]:
    """The reader's small batches, concatenated into batches of `rows` rows, or fewer once they hold
    `max_bytes` (wide files: thousands of columns make each row large). A parse error comes as
    _ParseFailed (told apart from errors of the chunk's consumer)."""
    pending: list[pa.RecordBatch] = []
    count = size = 0
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except pa.ArrowInvalid as error:
            raise _ParseFailed(error) from None
        pending.append(batch)
        count += batch.num_rows
        size += batch.nbytes
        if count >= rows or size >= max_bytes:
            yield pa.concat_batches(pending)
            pending, count, size = [], 0, 0
    if pending:
        yield pa.concat_batches(pending)


def read_ahead(batches: Generator[pa.RecordBatch, None, None]) -> Generator[pa.RecordBatch, None, None]:
    """`batches`, produced on a thread of their own one chunk ahead, so the next chunk parses while this
    one is typed (the converter's wall time on the 1M-row Sale Orders file 5.0 -> 3.6 s). When the
    consumer stops (an error, an interrupt), so does the producer, at its next chunk or when the file it
    reads is closed (a followed download wakes its waiting read then): never joined, it cannot hold the
    consumer up."""
    handoff: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1)
    stopped = threading.Event()

    def offer(kind: str, item: Any) -> bool:
        while not stopped.is_set():
            try:
                handoff.put((kind, item), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for batch in batches:
                if not offer("batch", batch):
                    return
            offer("end", None)
        except BaseException as error:  # raised again on the consumer's side
            offer("error", error)
        finally:
            batches.close()

    threading.Thread(target=produce, name="uniware-csv", daemon=True).start()
    try:
        while True:
            kind, item = handoff.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stopped.set()


class _ParseFailed(Exception):
    """pyarrow's parse error, from the reading thread: explained (see `_parse_error`) by the consumer."""

    def __init__(self, error: pa.ArrowInvalid) -> None:
        super().__init__(str(error))
        self.error = error


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
        key_check = self.key_store.file([*layout.key_names, KEY_OCCURRENCE]
                                        if self.spec.repeating_keys and layout.key_names else layout.key_names,
                                        versions)
        try:
            with source() as handle:
                watch = QuoteWatch(handle)
                result = self._convert_from(cast(BinaryIO, watch), source, parquet_path, lineage, header, layout,
                                            where, block_size, key_check)
            if watch.suspect:
                _refuse_altered_value(source, layout, where)
            return result
        finally:
            key_check.close()  # the hashes stay only when the result handed them out

    def _convert_from(self, handle: BinaryIO, source: Opener, parquet_path: Path, lineage: Lineage,
                      header: list[str], layout: FileLayout, where: str, block_size: int,
                      key_check: KeyCheck) -> ConvertedFile:
        count = len(layout.labels)
        problems = _RowProblems(self.skip_bad_rows)

        def parse_error(error: pa.ArrowInvalid) -> Exception:
            if "straddling" in str(error):
                return _BlockTooSmall()
            return self._parse_error(source, count, block_size, problems, where, error)

        try:  # the reader parses its first block right away
            reader = pacsv.open_csv(
                handle,
                read_options=_read_options(count, block_size),
                parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=problems),
                convert_options=pacsv.ConvertOptions(
                    column_types={n: pa.string() for n in _positional(count)}, null_values=BLANKS,
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
        writers: list[_BackgroundParquetWriter] = []
        part_rows: list[int] = []
        dictionary: Optional[list[str]] = None  # the Parquet columns worth a dictionary, from the first chunk
        data_rows = 0  # data rows parsed so far, to name rows in messages
        chunks = 0
        chunks_read = read_ahead(_regrouped(reader, CHUNK_ROWS, CHUNK_BYTES))
        try:
            while True:
                try:
                    batch = next(chunks_read)
                except StopIteration:
                    break
                except _ParseFailed as failed:  # explained here: a reader whose consumer stopped explains nothing
                    raise parse_error(failed.error) from None
                table = self._convert_batch(batch, layout, lineage, occurrences, data_rows, where, result)
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
                    writers.append(_BackgroundParquetWriter(part_path(parquet_path, part), result.schema,
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
                first = _first_ragged_row(source, count, block_size) or first
            result.problems.insert(0, f"{len(problems.ragged)} row(s) with the wrong number of fields skipped, "
                                      f"first at row {first.number} (header is row 1): {first.actual} fields, "
                                      f"expected {first.expected}")
        result.parquet = parquet_path if writers else None
        result.parts = [(part_path(parquet_path, part), rows) for part, rows in enumerate(part_rows)]
        result.window_span = dates.span if dates is not None else None
        result.keys = key_check.result()
        for rounded_label, (count, row, text) in result.rounded.items():
            result.problems.append(rounded_message(rounded_label, layout.kinds[layout.labels.index(rounded_label)],
                                                   count, row, text))
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

    def _parse_error(self, source: Opener, count: int, block_size: int, problems: _RowProblems, where: str,
                     error: pa.ArrowInvalid) -> CsvFormatError:
        first = problems.fatal()
        if first is not None:
            if first.number is None:
                first = _first_ragged_row(source, count, block_size, joined=first.joined) or first
            at = f"row {first.number} (header is row 1)" if first.number else "a row"
            if first.joined:
                return CsvFormatError(
                    f"{where}: {at} has {first.actual} fields, the header has {first.expected}, and it spans "
                    f"{first.lines:,} lines of the file (starts with {first.text!r}): a quote that is not closed "
                    "or not escaped seems to join rows, so such a row is never skipped; the file cannot be "
                    "read safely")
            return CsvFormatError(f"{where}: {at} has {first.actual} fields, the header has {first.expected} "
                                  f"(starts with {first.text!r}); set on_bad_rows='skip' to drop such rows")
        return CsvFormatError(f"{where}: the CSV could not be parsed: {error}")

    def _convert_batch(self, batch: pa.RecordBatch, layout: FileLayout, lineage: Lineage,
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
            message = (f"row {row} (header is row 1), column '{layout.labels[column]}': {what}: {shown!r}"
                       + (f" ({misfit})" if misfit else "")
                       + (" (the row repeats the header: the file holds its header twice, as two exports joined "
                          "into one file would)" if _repeats_the_header(batch, index, layout.labels) else ""))
            if not self.skip_bad_rows:
                raise CsvFormatError(f"{where}: {message}; set on_bad_rows='skip' to drop such rows")
            count = pc.sum(mask).as_py()
            result.problems.append(f"{count} row(s) dropped for {what} in '{layout.labels[column]}', first: {message}")
            reject = mask if reject is None else pc.or_(reject, mask)

        for position, column in enumerate(columns):
            try:
                column.validate(full=True)
            except pa.ArrowInvalid:
                invalid = _invalid_utf8(column)
                flag(invalid, "bytes that are not UTF-8", position)
                columns[position] = pc.if_else(invalid, None, column.cast(pa.binary())).cast(pa.string(), safe=False)
            data = _value_bytes(columns[position])
            if NUL.encode() in data:
                nul = pc.fill_null(pc.match_substring(columns[position], NUL), False)
                if pc.any(nul).as_py():
                    flag(nul, "a NUL byte (0x00), which no database text can hold", position)
            index = _joined_rows(columns[position], len(columns), position) \
                if b"\n" in data or b"\r" in data else None
            if index is not None:  # never skipped: the rows it swallowed would be lost without a word
                value = str(columns[position][index].as_py())
                raise CsvFormatError(
                    f"{where}: row {rows_before + index + 2} (header is row 1), column '{layout.labels[position]}' "
                    f"holds {1 + line_breaks(value):,} lines shaped like rows of the file (starts with "
                    f"{value[:60]!r}): a quote that is not escaped seems to join rows; the file cannot be read "
                    "safely")
        for position, kind in enumerate(layout.kinds):
            if kind == TEXT:
                continue
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
        for key in layout.key_names:
            position = layout.names.index(key)
            if layout.kinds[position] == TEXT:
                columns[position] = pc.fill_null(columns[position], "")
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
