"""Render report rows into CSV the way Uniware's files look in the field.

Quirks reproduced: an optional UTF-8 BOM; blanks written as empty, ``N/A``, ``-`` or ``NULL``;
India-time timestamps without offset whose format changes within one column; quoted commas,
quotes and newlines; non-ASCII text. Rows are written one at a time, so memory stays flat.
"""

from __future__ import annotations

import csv
import functools
import io
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Optional

from .faults import JobFault
from .reports import BOOLEAN, FACTOR, FLAG, GRAMS, INTEGER, MONEY, RATE, TIMESTAMP, Column
from .tenant import DAY, IST_OFFSET_SECONDS, from_epoch, money

DEFAULT_BLANKS: tuple[str, ...] = ("", "N/A", "-", "NULL")


@dataclass(frozen=True)
class CsvStyle:
    bom: bool = True
    blanks: tuple[str, ...] = DEFAULT_BLANKS
    mixed_timestamps: bool = True


@functools.lru_cache(maxsize=4096)
def _day_parts(day: int) -> tuple[str, str, str]:
    parts = time.gmtime(day * DAY)
    return f"{parts.tm_year:04d}", f"{parts.tm_mon:02d}", f"{parts.tm_mday:02d}"


def format_ist(epoch: int, style: str) -> str:
    """Epoch seconds as India time: "iso" yyyy-mm-dd HH:MM:SS, "iso_minutes" yyyy-mm-dd HH:MM (Sale Orders'
    `Delivery Time` is seen so, uniware-reports.md 12), "dmy" dd-mm-yyyy HH:MM, "slash" dd/mm/yyyy HH:MM:SS."""
    day, seconds = divmod(epoch + IST_OFFSET_SECONDS, DAY)
    year, month, mday = _day_parts(day)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if style == "iso":
        return f"{year}-{month}-{mday} {hours:02d}:{minutes:02d}:{secs:02d}"
    if style == "iso_minutes":
        return f"{year}-{month}-{mday} {hours:02d}:{minutes:02d}"
    if style == "dmy":
        return f"{mday}-{month}-{year} {hours:02d}:{minutes:02d}"
    return f"{mday}/{month}/{year} {hours:02d}:{minutes:02d}:{secs:02d}"


def render_value(kind: str, value: Any, row_number: int, column_number: int, style: CsvStyle) -> str:
    """One cell as text. The choice of blank token and timestamp format is deterministic."""
    if value is None:
        return style.blanks[(row_number * 7 + column_number) % len(style.blanks)]
    if kind == TIMESTAMP:
        turn = (row_number * 5 + column_number) % 8 if style.mixed_timestamps else 0
        return format_ist(value, "dmy" if turn in (3, 7) else "iso_minutes" if turn == 5 else "iso")
    if kind in (MONEY, RATE):
        return f"{value // 100}.{value % 100:02d}"
    if kind == GRAMS:
        return f"{value}.000"
    if kind == FACTOR:
        return format(value, "f")
    if kind == FLAG:
        return "1" if value else "0"
    if kind == BOOLEAN:
        return "true" if value else "false"
    return str(value)


def python_value(kind: str, value: Any) -> Any:
    """The typed value a faithful loader should end up with (timestamps as UTC datetimes)."""
    if value is None:
        return None
    if kind == TIMESTAMP:
        return from_epoch(value)
    if kind == MONEY:
        return money(value)
    if kind == RATE:
        return Decimal(value).scaleb(-2)
    if kind in (GRAMS, FACTOR):
        return Decimal(value)
    if kind in (INTEGER, FLAG):
        return int(value)
    if kind == BOOLEAN:
        return "true" if value else "false"
    return value


def write_csv(
    path: Path,
    columns: Sequence[Column],
    rows: Iterable[Any],
    style: CsvStyle,
) -> int:
    """Stream `rows` into `path` as a Uniware-style CSV; returns the number of data rows."""
    count = 0
    with open(path, "w", newline="", encoding="utf-8", buffering=1 << 20) as handle:
        if style.bom:
            handle.write("\ufeff")
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([c.label for c in columns])
        plan = [(c.source, c.kind, n) for n, c in enumerate(columns)]
        for count, row in enumerate(rows, start=1):
            writer.writerow([render_value(kind, getattr(row, source) if source else None, count, n, style)
                             for source, kind, n in plan])
    return count


NUL_MARK = "\ue000"  # stands for the NUL byte until the row is encoded


def corrupt_csv(source: Path, target: Path, fault: JobFault, row: int = 5) -> None:
    """Copy a rendered CSV, damaged or reshaped the way `fault.corruption` says (see
    faults.CORRUPTIONS), in data row `row` (1-based) or in the header."""
    from .faults import BAD_VALUE, EMPTY_FILE, INVALID_UTF8, NUL_BYTE, RAGGED, RENAMED_HEADER, RESHAPED

    corruption = fault.corruption
    if corruption == EMPTY_FILE:
        target.write_bytes(b"")
        return
    with open(source, encoding="utf-8", newline="") as reader_file, open(target, "wb") as out:
        if reader_file.read(1) == "\ufeff":
            out.write("\ufeff".encode())
        else:
            reader_file.seek(0)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        header: list[str] = []
        for index, record in enumerate(csv.reader(reader_file)):
            if index == 0:
                header = record
                if corruption == RENAMED_HEADER:
                    record = ["Last Updated" if label == "Updated" else label for label in record]
            if corruption == RESHAPED:
                record = _reshape(record, index, row, fault)
            if index == row and corruption == RAGGED:
                record = [*record, "EXTRA"]
            if index == row and corruption == BAD_VALUE:
                money = next(i for i, label in enumerate(header) if label in ("Selling Price", "Total", "MRP"))
                record[money] = "12,34.5x"
            if index == row and corruption == NUL_BYTE:
                text = next((i for i, label in enumerate(header) if label in ("Channel Name", "Channel")), 0)
                record[text] = record[text][:2] + NUL_MARK + record[text][2:]
            writer.writerow(record)
            data = buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
            if index == row and corruption == INVALID_UTF8:
                data = b"\xff" + data[1:]
            data = data.replace(NUL_MARK.encode(), b"\x00")
            out.write(data)


def _reshape(record: list[str], index: int, row: int, fault: JobFault) -> list[str]:
    if index == 0:
        record = [(fault.renames or {}).get(label, label) for label in record]
        record += [f"Extra {n}" for n in range(1, fault.extra_columns + 1)]
    else:
        record = record + [f"x{index}.{n}" for n in range(1, fault.extra_columns + 1)]
        if index == row and fault.big_cell_bytes:
            record[0] = "B" * fault.big_cell_bytes
    return record[::-1] if fault.reverse_columns else record


def truth_rows(columns: Sequence[Column], rows: Iterable[Any]) -> list[dict[str, Any]]:
    """Rows keyed by header label with typed values, for comparing with what a loader stored."""
    return [{c.label: python_value(c.kind, c.value(row)) for c in columns} for row in rows]


def parse_ist(text: str) -> Optional[datetime]:
    """Inverse of format_ist for any of its styles (used by the simulator's own tests)."""
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%d-%m-%Y %H:%M", "%d/%m/%Y %H:%M:%S"):
        try:
            naive = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return from_epoch(_naive_epoch(naive) - IST_OFFSET_SECONDS)
    return None


def _naive_epoch(naive: datetime) -> int:
    return (naive - datetime(1970, 1, 1)).days * DAY + naive.hour * 3600 + naive.minute * 60 + naive.second
