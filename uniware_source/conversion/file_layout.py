"""How a file's header maps onto the table: which report it is, the labels as the settings spell them,
the columns' names, kinds and key columns."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Optional

from ..catalog import DATE, DECIMAL, INTEGER, RATE, TEXT, TIMESTAMP, ExportSpec
from ..errors import CsvFormatError
from ..type_labels import fold_label, other_report_of, requested_labels_absent, resolve_types
from .arrow_types import RATE_TYPE
from .column_names import ColumnNames
from .facility_guard import FACILITY_CODE_LABEL
from .stray_quotes import Opener


@dataclass
class FileLayout:
    """How a file's header maps onto the table: labels, normalized names and types."""

    labels: list[str]
    names: list[str]
    kinds: list[str]
    key_names: list[str]
    header: tuple[str, ...] = ()  # the file's own labels, as written (blanks trimmed)

    def name_of(self, label: str) -> str:
        return self.names[self.labels.index(label)]


def read_header(source: Opener, where: str) -> list[str]:
    """The header labels, BOM removed; [] for an empty file. Lines may end in LF, CRLF or CR alone (as
    pyarrow reads them), and a quoted label may span lines; bytes that are not UTF-8 after the header
    are the data's business, not the header's."""
    _refuse_packed(source, where, binary_only=True)  # a zip's first line may decode (its time fields vary)
    try:
        with source() as handle:
            text = io.TextIOWrapper(handle, encoding="utf-8-sig", errors="surrogateescape", newline="")
            header = next(csv.reader(text), [])
    except csv.Error as error:
        _refuse_packed(source, where)
        raise CsvFormatError(f"{where}: the header row cannot be read as CSV ({error})") from None
    for number, label in enumerate(header, start=1):
        bad = next((at for at, char in enumerate(label) if "\udc80" <= char <= "\udcff"), None)
        if bad is not None:  # a byte that is not UTF-8, kept as a surrogate by the decoding above
            _refuse_packed(source, where)
            raise CsvFormatError(f"{where}: the header is not UTF-8: its label {number} holds the byte "
                                 f"0x{ord(label[bad]) - 0xDC00:02x} after {label[:bad][-40:]!r}")
    return header


def _refuse_packed(source: Opener, where: str, binary_only: bool = False) -> None:
    """A header that cannot be read: said as a packed file where its first bytes are one's; `binary_only`:
    only by first bytes no text starts with (not bzip2's `BZh`)."""
    with source() as handle:
        start = handle.read(8)
    packed = next((what for magic, what in _PACKED if start.startswith(magic)
                   and not (binary_only and all(32 <= byte < 127 for byte in magic))), "")
    if packed:
        raise CsvFormatError(f"{where}: the file is {packed}, not CSV text (the file host served it so without a "
                             "Content-Encoding that says so); nothing loaded, the window is exported again next run")


# the first bytes of packed files a host may serve in place of the CSV
_PACKED = ((b"\x1f\x8b", "a gzip-compressed file"), (b"PK\x03\x04", "a zip archive (or an Excel workbook)"),
           (b"BZh", "a bzip2-compressed file"), (b"\x28\xb5\x2f\xfd", "a zstd-compressed file"))


# a loaded column's dlt data type as the kind the converter gives it (collect keeps loaded types)
LOADED_KINDS = {"text": TEXT, "timestamp": TIMESTAMP, "decimal": DECIMAL, "bigint": INTEGER, "date": DATE}


def loaded_kind(column: Mapping[str, Any]) -> Optional[str]:
    """The kind a column of the table was loaded as (its dlt schema entry): a decimal of the rates'
    scale is a rate."""
    kind = LOADED_KINDS.get(str(column.get("data_type")))
    return RATE if kind == DECIMAL and column.get("scale") == RATE_TYPE.scale else kind


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
      configured key), nor one of the catalog's this export's columns already hold (loads made before
      it was known); one the configuration gives (`label_readings`) is read so from then on.
    - Any other label equal but for case or spacing to one this export's columns hold (a tenant's
      `Shipping Provider` after `Shipping provider` loaded) takes the spelling that took the column first,
      so it lands in that column: a new column beside it would leave the old one empty in every row the
      file replaces (a respelling an earlier version, or a file with both spellings, gave a column of its
      own lands in the first column again). A reading's label is spelled so too.
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
                and (names is None or names.name_of(other) is None or fold_label(other) in spec.configured_readings)}
    # a label a configured reading of the file stands for takes no catalog reading beside it, whatever comes first
    configured = {readings[fold_label(label)] for label in labels
                  if fold_label(label) in spec.configured_readings and fold_label(label) in readings}
    readings = {other: label for other, label in readings.items()
                if other in spec.configured_readings or label not in configured}

    held: dict[str, str] = {}  # folded -> the first spelling this export's columns hold
    for known in (names.to_state() if names is not None else ()):
        held.setdefault(fold_label(known), known)

    def as_spelled(label: str) -> str:
        """A reading's label as this export spells it: the settings' spelling, else the first its columns hold."""
        folded = fold_label(label)
        return spelling.get(folded) or held.get(folded) or label

    def spelled(label: str) -> str:
        folded = fold_label(label)
        if label not in named and folded in spec.configured_readings and folded in readings:
            return as_spelled(readings[folded])  # the configuration says which label it is, whatever loaded before
        if folded not in folded_pinned and folded in held:
            return held[folded]  # the spelling that took the column first (an earlier version gave others their own)
        if label in named:
            return label
        reading = readings.get(folded)
        return spelling.get(folded) or (as_spelled(reading) if reading else label)

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
    given = [h.strip() for h in header]
    for pinned, role in roles.items():  # a column the load or a check relies on: which of two is meant?
        if labels.count(pinned) > 1:
            raise CsvFormatError(f"{label}: the header has '{pinned}' {labels.count(pinned)} times; it is {role}, "
                                 "so which of them is meant cannot be told")
        alike = [h for h in given if fold_label(h) == fold_label(pinned)]
        if pinned not in given and len(alike) > 1:  # no exact spelling to prefer: two columns could be it
            raise CsvFormatError(f"{label}: the header has {len(alike)} spellings of '{pinned}' "
                                 f"({', '.join(repr(h) for h in alike)}) and not that one; it is {role}, so which "
                                 "of them is meant cannot be told")
    columns = names.names_for(labels)
    kinds = [kind_of(lab, spec) for lab in labels]
    key_names = []
    for key in spec.primary_key:
        position = find_label(labels, key)
        if position < 0:
            raise CsvFormatError(
                f"{label}: key column '{key}' is not in the file's header {labels}; "
                f"set primary_key in the '{spec.name}' table of 'exports' (SOURCES__UNIWARE__EXPORTS) to labels of "
                "the file's header")
        key_names.append(columns[position])
    return FileLayout(labels, columns, kinds, key_names, tuple(given))
