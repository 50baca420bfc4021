"""Quoted values that go on after their closing quote: `"Samsung 32" TV"`, written by a file host that does
not escape a quote inside a quoted value. pyarrow reads such a value without a word and drops the quotes
it took for closing ones (`Samsung 32 TV"`), so it would load altered.

While pyarrow reads the file, `QuoteWatch` looks at the raw bytes for an odd run of quotes between two
characters that are not separators (Python's re, or RE2 where quotes are dense); a well-formed file never
has one inside a quoted value, where quotes come in pairs. Such a run is also how a quote inside an
*unquoted* value looks (`32" TV`, which pyarrow reads as written), so a suspect file is read once more
with Python's strict CSV reader, which refuses a closing quote followed by anything but a separator:
`first_altered_value` says which row and column, or that nothing was altered. The mirror case, a quoted value
after spaces (`, "Sofia Pereira",`, as a writer separating by ", " makes), reads as an unquoted value holding
its spaces and quotes: the strict reading refuses it too, where pyarrow would load `' "Sofia Pereira"'`."""

from __future__ import annotations

import csv
import io
import re
import sys
from collections.abc import Callable, Iterator
from typing import BinaryIO, NamedTuple, Optional

import pyarrow as pa
import pyarrow.compute as pc

Opener = Callable[[], BinaryIO]  # opens the CSV's bytes from the start (the file, or a download as it arrives)

# an odd run of quotes between two characters that are not separators: by RE2 (Arrow's compute functions,
# a constant ~2 ms a MB) where quotes are dense, by Python's re where they are few (it jumps from quote
# to quote: ~0.35 us each); the two patterns find the same runs
# ; or an even run between text and a separator (`"TV 32"",`: taken for an escaped quote, the value runs on
# into the next fields and rows; in a well-formed file only an escaped quote right before a comma inside a
# value, rare, which the strict reading then clears)
SUSPECT = r'[^,\r\n"](?:"")*"[^,\r\n"]|[^,\r\n"](?:"")+[,\r\n]'
_SUSPECT = re.compile(rb'"(?:(?<=[^,\r\n"]")(?:"")*+(?=[^,\r\n"])|(?<=[^,\r\n"]")"(?:"")*+(?=[,\r\n]))')
DENSE = 360  # quotes in the first 64 KB of a read from which RE2 is the faster
SEAM = 64  # bytes either side of a read's end searched for a run the two reads share
_STRICT_MESSAGE = "expected after"  # Python's csv: "',' expected after '\"'"


class QuoteWatch(io.RawIOBase):
    """The bytes of `handle`, unchanged; `suspect` turns true once they hold an odd run of quotes
    between two characters that are not separators (see the module's docstring)."""

    def __init__(self, handle: BinaryIO) -> None:
        super().__init__()
        self._handle = handle
        self._tail = b""
        self.suspect = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:  # what pyarrow calls; `readinto` is not offered
        data = self._handle.read(size)
        self._watch(data)
        return data

    def _watch(self, data: bytes) -> None:
        if not data or self.suspect:
            return
        if _SUSPECT.search(self._tail + data[:SEAM]) or _holds_suspect(data):
            self.suspect = True
        self._tail = (self._tail + data[-SEAM:])[-SEAM:]

    def close(self) -> None:
        self._handle.close()
        super().close()


def _holds_suspect(data: bytes) -> bool:
    if data.count(b'"', 0, 1 << 16) < DENSE:
        return _SUSPECT.search(data) is not None
    # searched by RE2 as one binary value, without a copy
    offsets = pa.array([0, len(data)], pa.int64()).buffers()[1]
    values = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(data)])
    return bool(pc.match_substring_regex(values, SUSPECT)[0].as_py())


class AlteredValue(NamedTuple):
    """A quoted value that goes on after its closing quote (or, `spaced`, starts after spaces): its row (the
    header is row 1), its column's position and the value as the file writes it (-1 and the whole row where
    the field cannot be told)."""

    row: int
    column: int
    written: str
    spaced: bool = False


_BLANKS_THEN_QUOTE = re.compile(r'(?:^|,)[ \t]+"')


def _spaced_field(record: str) -> Optional[tuple[int, str]]:
    """(column, the field as written) of the first field of `record` (one row's raw text) that is a value quoted
    after blanks (`,  "text",`: the quote closes before the separator or the line's end, or runs past the line):
    read as unquoted, its blanks and quotes would load. By the raw text, not the values read: a value quoted by
    the rules may hold a blank then quotes; an unquoted value may hold quotes (`, "Best" seller`), as written."""
    if not _BLANKS_THEN_QUOTE.search(record):
        return None
    column, position, end = 0, 0, len(record)
    while position < end:
        if record[position] == '"':  # a quoted field: to its closing quote (`""` inside is one quote)
            position = _closing_quote(record, position + 1) + 1
        else:
            start = position
            while position < end and record[position] in " \t":
                position += 1
            if position > start and record[position:position + 1] == '"':
                closing = _closing_quote(record, position + 1)
                after = closing + 1
                while after < end and record[after] in " \t":
                    after += 1
                if closing >= end or record[after:after + 1] in ("", ",", "\r", "\n") \
                        or "\n" in record[position:closing] or "\r" in record[position:closing]:
                    return column, record[start:_field_end(record, position + 1)]
        while position < end and record[position] not in ",\r\n":  # the rest of the field
            position += 1
        if record[position:position + 1] != ",":
            return None
        column, position = column + 1, position + 1
    return None


def _closing_quote(record: str, position: int) -> int:
    """Where the quoted text from `position` closes (`""` is a quote inside), or len(record) when it does not."""
    end = len(record)
    while position < end and not (record[position] == '"' and record[position + 1:position + 2] != '"'):
        position += 2 if record[position] == '"' else 1
    return position


class _Lines:
    """The file's lines, keeping those of the record being read (the record that fails is then known)."""

    def __init__(self, text: io.TextIOBase) -> None:
        self._text = text
        self.record: list[str] = []

    def __iter__(self) -> Iterator[str]:
        for line in self._text:
            self.record.append(line)
            yield line


def first_altered_value(source: Opener) -> Optional[AlteredValue]:
    """The first value of the file that goes on after its closing quote, by Python's strict CSV reader."""
    csv.field_size_limit(sys.maxsize)  # process-wide, and never set back: other threads may be reading
    with source() as handle:
        text = io.TextIOWrapper(handle, encoding="utf-8-sig", errors="surrogateescape", newline="")
        lines = _Lines(text)
        reader = csv.reader(lines, strict=True)
        row = 0
        while True:
            lines.record = []
            try:
                next(reader)
                spaced = _spaced_field("".join(lines.record))
                if spaced is not None:
                    return AlteredValue(row + 1, *spaced, spaced=True)
            except StopIteration:
                return None
            except csv.Error as error:
                if _STRICT_MESSAGE in str(error):
                    record = "".join(lines.record)
                    return _locate(row + 1, record) or AlteredValue(row + 1, -1, record.strip())
                # another problem (pyarrow's own checks speak for it): the reader goes on at the next line
            row += 1


def _locate(row: int, record: str) -> Optional[AlteredValue]:
    """Which field of `record` (the raw text of one row) is a quoted value going on after its quote."""
    column = 0
    start = 0
    quoted = False
    position = 0
    while position < len(record):
        char = record[position]
        if quoted:
            if char == '"':
                if record[position + 1:position + 2] == '"':
                    position += 2
                    continue
                following = record[position + 1:position + 2]
                if following not in ("", ",", "\r", "\n"):
                    end = _field_end(record, position + 1)
                    return AlteredValue(row, column, record[start:end])
                quoted = False
        elif char == ",":
            column += 1
            start = position + 1
        elif char == '"' and position == start:
            quoted = True
        position += 1
    return None


def _field_end(record: str, position: int) -> int:
    """Where pyarrow ends a value that went on unquoted from `position`: the next separator."""
    for index in range(position, len(record)):
        if record[index] in ",\r\n":
            return index
    return len(record)
