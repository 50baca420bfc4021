"""Typing of CSV text columns with Arrow compute kernels.

Timestamps without an offset are India time (Uniware writes them so); one column can mix formats, so
each format is tried on what the previous ones left unparsed, and the result is stored as UTC to the
microsecond. A year-first value with its own offset (`Z`, `+05:30`, `+0530`) is read in that offset. Amounts become
decimal(18, 4), rates decimal(38, 12); a value with more decimals than that is rounded (half to even) and
the chunk says which (`Converted.rounded`), for the file's message. A value that fits no rule is
reported with its position, never silently nulled.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext
from typing import Optional

import pyarrow as pa
import pyarrow.compute as pc

from ..catalog import DATE, DECIMAL, INTEGER, RATE, TEXT, TIMESTAMP

IST_OFFSET_SECONDS = 19800
TIMESTAMP_FORMATS = (
    "%Y-%m-%d %H:%M:%S", "%d-%m-%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%Y-%m-%d %H:%M", "%d-%m-%Y %H:%M:%S",
    "%d/%m/%Y %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y",
    # the rest of what Arrow's ISO reader takes (see _parse_any): a value reads alike in any chunk
    "%Y-%m-%dT%H:%M", "%Y-%m-%d %H", "%Y-%m-%dT%H",
    # a 12-hour clock, as spreadsheets and some couriers write one
    "%d-%m-%Y %I:%M %p", "%d-%m-%Y %I:%M:%S %p", "%d/%m/%Y %I:%M %p", "%d/%m/%Y %I:%M:%S %p",
    "%Y-%m-%d %I:%M %p", "%Y-%m-%d %I:%M:%S %p",
)
# a year-first timestamp with its own offset; the space some writers put before it is dropped
_ZONED = r"^\s*\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?\s?(?:Z|[+-]\d{2}:?\d{2})\s*$"
_SPACED_ZONE = r"\s(Z|[+-]\d{2}:?\d{2})$"
NAIVE_MICROS = pa.timestamp("us")
DATE_FORMATS = ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y")
UTC_MICROS = pa.timestamp("us", tz="UTC")
DECIMAL_TYPE = pa.decimal128(18, 4)
RATE_TYPE = pa.decimal128(38, 12)
# the cast that rounds: wide enough for every value the target holds (a rate's through decimal128(38, 20)
# overflowed silently from 19 integer digits on)
_WIDE = {DECIMAL_TYPE: pa.decimal128(38, 12), RATE_TYPE: pa.decimal256(76, 40)}
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
YEARS = (1900, 2199)  # a date outside them is a misread (a two-digit year), not a Uniware date


def arrow_type(kind: str) -> pa.DataType:
    return {TEXT: pa.string(), TIMESTAMP: UTC_MICROS, DATE: pa.date32(), DECIMAL: DECIMAL_TYPE, RATE: RATE_TYPE,
            INTEGER: pa.int64()}[kind]


@dataclass(frozen=True)
class Converted:
    values: pa.Array
    bad: Optional[pa.Array]  # boolean mask of values that fit no rule, or None when all fit
    rounded: Optional[pa.Array] = None  # decimals: mask of values rounding changed, or None when none was


def _parse_any(text: pa.Array, formats: tuple[str, ...], iso: pa.DataType) -> pa.Array:
    """`text` parsed as `iso` (timestamp[us] or date32); null where no format reads it exactly.

    The values with their year first (`2026-...`) cast at once with Arrow's ISO reader (it refuses
    30 February, 24:00 and a 60th second); when one of them does not cast, they go by format with the
    rest, and those no format reads go by the ISO reader one by one (a fraction of a second). The
    others are tried format by format, each format on what the previous ones left unread, and
    a value a format reads counts only if writing it back gives the text again (zero-padded):
    `strptime` alone rolls 30 February over to 2 March, 10:30:60 to 10:31, and reads `28-11-26` as the
    year 26. A year outside YEARS is not read either. So a value reads the same whatever its chunk."""
    year_first = pc.fill_null(pc.equal(pc.utf8_slice_codeunits(text, 4, 5), "-"), False)
    given = len(text) - text.null_count
    iso_count = pc.sum(year_first).as_py() or 0
    if iso_count == given:
        whole = _iso_cast(text, iso)
        if whole is not None:
            return _plausible(whole)
    parsed = pa.nulls(len(text), iso)
    unread = pc.is_valid(text)
    if 0 < iso_count < given:
        read = _iso_cast(pc.filter(text, year_first), iso)
        if read is not None:
            parsed = pc.replace_with_mask(parsed, year_first, read)
            unread = pc.and_not(unread, year_first)
    for fmt in formats:
        if not pc.any(unread).as_py():
            break
        rest = pc.filter(text, unread)
        attempt = _exactly_read(rest, pc.strptime(rest, format=fmt, unit="s", error_is_null=True), fmt)
        parsed = pc.replace_with_mask(parsed, unread, attempt.cast(iso))
        unread = pc.and_(unread, pc.is_null(parsed))
    leftover = pc.and_(unread, year_first)  # what only the ISO reader reads (a fraction of a second)
    if pc.any(leftover).as_py():
        parsed = pc.replace_with_mask(parsed, leftover, _iso_read(pc.filter(text, leftover), iso))
    return _plausible(parsed)


def _iso_read(text: pa.Array, iso: pa.DataType) -> pa.Array:
    """`text` read by Arrow's ISO reader: at once, else value by value, except values with an offset
    (a naive `iso` reads none of them, and a column of them would go one by one for nothing)."""
    read = _iso_cast(text, iso)
    if read is not None:
        return read
    plain = pc.invert(pc.fill_null(pc.match_substring_regex(text, _ZONED), False))
    return pc.replace_with_mask(pa.nulls(len(text), iso), plain, _each_iso(pc.filter(text, plain), iso))


def _each_iso(text: pa.Array, iso: pa.DataType) -> pa.Array:
    """`text` read by Arrow's ISO reader value by value (after a cast of them all failed): null where one
    does not read."""
    each = (_iso_cast(pa.array([value], pa.string()), iso) for value in text.to_pylist())
    return pa.array([None if one is None else one[0].as_py() for one in each], iso)


def _iso_cast(text: pa.Array, iso: pa.DataType) -> Optional[pa.Array]:
    """`text` read by Arrow's ISO reader, or None when a value does not read."""
    try:
        return pc.cast(text, iso)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


_FIELDS = {"%Y": "year", "%m": "month", "%d": "day", "%H": "hour", "%M": "minute", "%S": "second"}
# a 12-hour clock's hour cannot roll over (strptime refuses 13 there), so it is matched, not compared
_UNCOMPARED = {"%I": "\\d{1,2}", "%p": "[AaPp][Mm]"}


def _fields_pattern(fmt: str) -> str:
    """A regular expression of `fmt` that captures each field's digits under its name (`day`...)."""
    pattern = re.escape(fmt).replace(re.escape(" "), "\\s+")  # strptime takes any run of spaces or tabs there
    for code, name in _FIELDS.items():
        pattern = pattern.replace(re.escape(code), f"(?P<{name}>\\d{{1,4}})")
    for code, matched in _UNCOMPARED.items():
        pattern = pattern.replace(re.escape(code), matched)
    return f"^\\s*{pattern}\\s*$"


def _exactly_read(text: pa.Array, attempt: pa.Array, fmt: str) -> pa.Array:
    """`attempt` (`text` read with `fmt`) without the values `strptime` rolled over. Only a day 29-31
    the month lacks (read as 1-3 March, or the 1st after a month of 30 days; its text has 29, 30 or
    31) or a 60th second or minute (read into the next minute or hour; its text has ":6") rolls over,
    so only such values have their fields, as written, compared with what was read."""
    if attempt.null_count == len(attempt):
        return attempt  # the format read nothing
    day, month = pc.day(attempt), pc.month(attempt)
    after_30_days = pc.or_(pc.or_(pc.equal(month, 5), pc.equal(month, 7)),
                           pc.or_(pc.equal(month, 10), pc.equal(month, 12)))
    next_month = pc.fill_null(pc.or_(pc.and_(pc.equal(month, 3), pc.less_equal(day, 3)),
                                     pc.and_(pc.equal(day, 1), after_30_days)), False)
    maybe = pc.fill_null(pc.match_substring(text, ":6"), False)
    if pc.any(next_month).as_py():
        day_29_to_31 = pc.match_substring_regex(pc.filter(text, next_month), "29|30|31")
        maybe = pc.or_(maybe, pc.replace_with_mask(pc.xor(next_month, next_month), next_month, day_29_to_31))
    if not pc.any(maybe).as_py():
        return attempt
    written = pc.extract_regex(pc.filter(text, maybe), _fields_pattern(fmt))
    read = pc.filter(attempt, maybe)
    same: Optional[pa.Array] = None
    for name in dict.fromkeys(_FIELDS[code] for code in _FIELDS if code in fmt):
        equal = pc.equal(pc.cast(pc.struct_field(written, name), pa.int64()), getattr(pc, name)(read))
        same = equal if same is None else pc.and_(same, equal)
    assert same is not None
    rolled = pc.invert(pc.fill_null(same, False))
    mask = pc.replace_with_mask(pc.xor(maybe, maybe), maybe, rolled)
    return pc.if_else(mask, pa.scalar(None, attempt.type), attempt)


def _plausible(parsed: pa.Array) -> pa.Array:
    """`parsed` without the values outside the years YEARS (null: bad values), such as the year 26."""
    years = pc.year(parsed)
    wrong = pc.or_(pc.less(years, YEARS[0]), pc.greater(years, YEARS[1]))
    if not pc.any(wrong).as_py():
        return parsed
    return pc.if_else(wrong, pa.scalar(None, parsed.type), parsed)


def _unparsed(text: pa.Array, parsed: pa.Array) -> Optional[pa.Array]:
    if parsed.null_count == text.null_count:
        return None
    return pc.and_(pc.is_valid(text), pc.is_null(parsed))


def to_timestamp(text: pa.Array) -> Converted:
    """Text to UTC timestamps (microseconds): India time, or the value's own offset where it has one
    (looked for only among the values no India-time format reads, so a chunk without any costs nothing)."""
    if _all_with_offset(text):  # a column written with offsets (a courier's UTC): read at once
        values = _with_offset(text)
        return Converted(values, _unparsed(text, values))
    parsed = _parse_any(text, TIMESTAMP_FORMATS, NAIVE_MICROS)
    values = pc.subtract(parsed.cast(pa.int64()), IST_OFFSET_SECONDS * 1_000_000).cast(UTC_MICROS)
    unread = _unparsed(text, parsed)
    if unread is not None:
        rest = pc.filter(text, unread)
        zoned = pc.fill_null(pc.match_substring_regex(rest, _ZONED), False)
        if pc.any(zoned).as_py():
            offset = pc.replace_with_mask(pa.nulls(len(rest), UTC_MICROS), zoned, _with_offset(pc.filter(rest, zoned)))
            values = pc.replace_with_mask(values, unread, offset)
    return Converted(values, _unparsed(text, values))


def _all_with_offset(text: pa.Array) -> bool:
    """Whether every value has an offset, in the shapes read one by one too (Arrow's cast alone also
    takes `+05`); the first value alone is looked at before the whole chunk is."""
    at = pc.index(pc.is_valid(text), True).as_py()  # the first value's position, -1 when all are null
    first = text[at].as_py() if at >= 0 else None
    return bool(first is not None and re.match(_ZONED, first)
                and pc.all(pc.match_substring_regex(text, _ZONED)).as_py())


def _with_offset(text: pa.Array) -> pa.Array:
    """Year-first values with their own offset, as UTC; null where one is not a real instant."""
    cleaned = pc.replace_substring_regex(pc.utf8_trim_whitespace(text), _SPACED_ZONE, r"\1")
    read = _iso_cast(cleaned, UTC_MICROS)
    return _plausible(_each_iso(cleaned, UTC_MICROS) if read is None else read)


def to_date(text: pa.Array) -> Converted:
    parsed = _parse_any(text, DATE_FORMATS, pa.date32())
    return Converted(parsed, _unparsed(text, parsed))


def _cast_each(text: pa.Array, convert: Callable[[str], object], target: pa.DataType) -> Converted:
    """Slow path, only after a vectorised cast failed: convert value by value to find the bad ones."""
    values: list[object] = []
    bad: list[bool] = []
    for item in text.to_pylist():
        if item is None:
            values.append(None)
            bad.append(False)
            continue
        try:
            values.append(convert(item))
            bad.append(False)
        except (InvalidOperation, ValueError, ArithmeticError):
            values.append(None)
            bad.append(True)
    return Converted(pa.array(values, target), pa.array(bad, pa.bool_()))


# a number as Uniware writes one: ASCII digits, thousands grouped in threes or the Indian way
# (1,00,000: a lead of one or two digits, then pairs), a sign, a point, an exponent (Java writes a large
# double as 1.2E7); not what Python's Decimal also takes (1_0, Arabic-Indic digits, 1,2,3, 123,45,678)
_NUMBER = re.compile(r"[+-]?(?:\d+|\d{1,2}(?:,\d{2})+,\d{3}|\d{1,3}(?:,\d{3})+)(?:\.\d*)?(?:[eE][+-]?\d+)?"
                     r"|[+-]?\.\d+", re.ASCII)


def _number(item: str) -> Decimal:
    text = item.strip()
    if not _NUMBER.fullmatch(text):
        raise ValueError(item)
    return Decimal(text.replace(",", ""))


def _parse_decimal(item: str, target: pa.Decimal128Type = DECIMAL_TYPE) -> tuple[Decimal, bool]:
    """The value in `target`'s scale, and whether rounding changed it."""
    value = _number(item)
    if not value.is_finite():
        raise ValueError(item)
    with localcontext() as context:
        context.prec = 80  # a rate's 38 digits and more: too many is the test below, not the context's error
        quantized = value.quantize(Decimal(1).scaleb(-target.scale))
    if abs(quantized) >= Decimal(10) ** (target.precision - target.scale):
        raise ValueError(item)
    return quantized, quantized != value


def _decimals_each(text: pa.Array, target: pa.Decimal128Type) -> Converted:
    """Slow path of the decimals (thousands separators, or what no cast reads): value by value."""
    values: list[Optional[Decimal]] = []
    bad: list[bool] = []
    rounded: list[bool] = []
    for item in text.to_pylist():
        value, wrong, changed = None, False, False
        if item is not None:
            try:
                value, changed = _parse_decimal(item, target)
            except (InvalidOperation, ValueError, ArithmeticError):
                wrong = True
        values.append(value)
        bad.append(wrong)
        rounded.append(changed)
    return Converted(pa.array(values, target), pa.array(bad, pa.bool_()),
                     pa.array(rounded, pa.bool_()) if any(rounded) else None)


def _to_decimal(text: pa.Array, target: pa.Decimal128Type) -> Converted:
    """`text` as `target`, rounded half to even. Most chunks cast exactly as they are (no more decimals
    than the scale: Arrow refuses any loss), 2.4x faster than the wide cast and round that a chunk
    holding a longer fraction needs, which also marks the values rounding changed; thousands
    separators go value by value."""
    try:
        return Converted(pc.cast(text, target), None)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    try:
        wide = pc.cast(text, _WIDE[target])
        rounded = pc.round(wide, target.scale)
        values = rounded.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _decimals_each(text, target)
    changed = pc.fill_null(pc.not_equal(wide, rounded), False)
    return Converted(values, None, changed if pc.any(changed).as_py() else None)


def to_decimal(text: pa.Array) -> Converted:
    """Amounts as decimal(18, 4)."""
    return _to_decimal(text, DECIMAL_TYPE)


def to_rate(text: pa.Array) -> Converted:
    """Rates and percentages as decimal(38, 12)."""
    return _to_decimal(text, RATE_TYPE)


def _parse_integer(item: str) -> int:
    value = _number(item)
    if value != value.to_integral_value() or not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(item)
    return int(value)


def to_integer(text: pa.Array) -> Converted:
    """Whole numbers; Arrow's cast also reads hexadecimal (`0x1F` as 31), which goes value by value."""
    if not pc.any(pc.match_substring(text, "x", ignore_case=True)).as_py():
        try:
            return Converted(pc.cast(text, pa.int64()), None)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    return _cast_each(text, _parse_integer, pa.int64())


def number_misfit(kind: str, text: str) -> str:
    """Why a number Uniware wrote does not fit the column's type, and the type that holds it (for the
    bad row's message), or "" when `text` is no number at all."""
    try:
        value = _number(text)
    except ValueError:
        return ""
    if not value.is_finite():
        return ""
    if kind == INTEGER:
        if value != value.to_integral_value():
            return "it has a fraction: type the column 'decimal' in column_types"
        return "beyond a 64-bit integer: type the column 'decimal' or 'text' in column_types"
    if kind in (DECIMAL, RATE):
        target = DECIMAL_TYPE if kind == DECIMAL else RATE_TYPE
        digits = target.precision - target.scale
        instead = "'rate' (26 digits) or 'text'" if kind == DECIMAL else "'text'"
        return f"more than {digits} digits before the point: type the column {instead} in column_types"
    return ""


CONVERTERS: dict[str, Callable[[pa.Array], Converted]] = {
    TIMESTAMP: to_timestamp,
    DATE: to_date,
    DECIMAL: to_decimal,
    RATE: to_rate,
    INTEGER: to_integer,
}
