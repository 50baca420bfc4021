"""Rows the CSV parser cannot take as they are: ragged rows, values shaped like rows joined by a quote
left open, bytes that are not UTF-8, a quoted value that goes on after its closing quote. Each is found
with its row number for the message that fails (or skips) it."""

from __future__ import annotations

import io
import re
from typing import NamedTuple, Optional

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..errors import CsvFormatError
from .file_layout import FileLayout
from .stray_quotes import Opener, first_altered_value

BOM = "\ufeff"  # a byte-order mark: at the file's start it is read away; at a line's start it is not


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


class RowProblems:
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


def positional_names(count: int) -> list[str]:
    """Names pyarrow reads the columns under: by position, so repeated or odd labels cannot clash."""
    return [f"c{i}" for i in range(count)]


def read_options(count: int, block_size: int, use_threads: bool = True) -> pacsv.ReadOptions:
    # the header is skipped as a parsed row (a quoted label may hold a newline), not as a line
    return pacsv.ReadOptions(column_names=positional_names(count), skip_rows_after_names=1, block_size=block_size,
                             use_threads=use_threads)


def first_ragged_row(source: Opener, count: int, block_size: int, joined: bool = False) -> Optional[Ragged]:
    """Re-read single-threaded, which is when pyarrow knows row numbers (error path only); `joined`: the
    first that joins rows."""
    found: list[Ragged] = []

    def handler(row: pacsv.InvalidRow) -> str:
        ragged = _ragged(row)
        if ragged.joined or not joined:
            found.append(ragged)
        return "skip"

    names = positional_names(count)
    with source() as handle:
        reader = pacsv.open_csv(handle, read_options=read_options(count, block_size, use_threads=False),
                                parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=handler),
                                convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                                     check_utf8=False, include_columns=names[:1]))
        for _ in reader:
            if found:
                break
    return found[0] if found else None


def invalid_utf8(column: pa.Array) -> pa.Array:
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


def value_joins_rows(text: str, fields: int, position: int, any_width: bool = False) -> bool:
    """Whether a value of column `position` has the shape of rows of the file joined by a quote that is
    not escaped, opened in one row and closed at the same column of a later one: `fields` - 1 - `position`
    commas before its first line break, a whole row (`fields` - 1 commas) on each line between, `position`
    commas after its last one. A quote left open up to the end of the file makes a value that ends in a
    line break, every line after the first a whole row. Values over two lines with no whole row need a
    wider file to be told from an address; `any_width`: a key column's value, which no address is (a code
    never spans lines), is looked at in a file of any width."""
    if (fields < JOINED_ROWS_MIN_FIELDS and not any_width) or not line_breaks(text):
        return False
    lines = LINE_BREAK.split(text)
    to_the_end = lines[-1] == ""
    commas = [line.count(",") for line in (lines[:-1] if to_the_end else lines)]
    whole = commas[1:] if to_the_end else commas[1:-1]
    if len(commas) < 2 or commas[0] != fields - 1 - position or \
            (not whole and fields < JOINED_TWO_LINES_MIN_FIELDS and not any_width):
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


def value_bytes(column: pa.Array) -> bytes:
    """A string column's value bytes (a copy of the buffer, searched with memchr before any row is)."""
    if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
        return b""
    values = column.buffers()[2]
    return values.to_pybytes() if values is not None else b""


def joined_rows(column: pa.Array, fields: int, position: int, any_width: bool = False) -> Optional[int]:
    """The first value of column `position` with the shape of rows joined by an unescaped quote (see
    `value_joins_rows`), or None. Only values with a line break are looked at, one by one."""
    breaks = pc.fill_null(pc.match_substring_regex(column, "[\r\n]"), False)
    if not pc.any(breaks).as_py():
        return None
    candidates = pc.indices_nonzero(breaks).to_pylist()
    texts = column.take(pa.array(candidates)).to_pylist()
    return next((index for index, text in zip(candidates, texts, strict=True)
                 if text is not None and value_joins_rows(text, fields, position, any_width)), None)


def refuse_altered_value(source: Opener, layout: FileLayout, where: str) -> None:
    """Fail the file when a quoted value of it goes on after its closing quote (see stray_quotes.py)."""
    altered = first_altered_value(source)
    if altered is None:
        return
    column = f"column '{layout.labels[altered.column]}'" if 0 <= altered.column < len(layout.labels) \
        else "a field"
    if altered.spaced:
        raise CsvFormatError(
            f"{where}: row {altered.row} (header is row 1), {column}: the value {altered.written[:80]!r} is quoted "
            "after blanks (a separator followed by spaces), so it would load with its blanks and quotes as written; "
            "such a row is never skipped; the file cannot be read safely")
    try:
        read = pacsv.read_csv(io.BytesIO(altered.written.encode("utf-8", "surrogateescape") + b"\n"),
                              read_options=pacsv.ReadOptions(column_names=["value"]),
                              parse_options=pacsv.ParseOptions(newlines_in_values=True),
                              convert_options=pacsv.ConvertOptions(column_types={"value": pa.string()}))
        shown = read.column("value")[0].as_py() if read.num_rows == 1 else None
    except pa.ArrowInvalid:  # the value as pyarrow would read it cannot be shown alone: said without it
        shown = None
    raise CsvFormatError(
        f"{where}: row {altered.row} (header is row 1), {column}: the quoted value {altered.written[:80]!r} goes on "
        "after its closing quote (a quote inside it is not escaped as \"\"), so it would load altered"
        + (f" as {shown[:80]!r}" if shown is not None else "")
        + "; such a row is never skipped; the file cannot be read safely")
