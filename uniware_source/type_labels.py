"""The labels `column_types` names, matched to a header's labels.

A configured label matches a header label exactly, else ignoring case and spaces (as `primary_key`
and the others do), else as that label's snake_case column name (`selling_price` for "Selling
Price"). A configured label that matches none is a mistake (a typo types nothing, silently): settings
refuse it up front when the report's labels are all known (settings.resolve_export), the converter
when the file arrives (plan_layout). Only labels the configuration gives: the catalog types optional
columns a file may lack.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import NamedTuple, Optional

from dlt.common.normalizers.naming.snake_case import NamingConvention

from .catalog import CATALOG
from .vocabulary import ASSUMED_IDS, GUESSED, LABELS, READINGS, UNREQUESTED

_naming = NamingConvention()


def fold_label(label: str) -> str:
    """A label ignoring case and spaces: "Item SKU Code", "Item Sku Code" and "Item SkuCode" are one."""
    return "".join(label.lower().split())


def matching_label(configured: str, labels: Sequence[str]) -> Optional[str]:
    """The label of `labels` that `configured` names (exactly, ignoring case and spaces, or by its
    snake_case name), else None."""
    wanted = configured.strip()
    if wanted in labels:
        return wanted
    folded = fold_label(wanted)
    return next((label for label in labels if fold_label(label) == folded), None) \
        or next((label for label in labels if str(_naming.normalize_identifier(label)) == wanted.lower()), None)


def did_you_mean(configured: str, labels: Sequence[str]) -> str:
    """"; did you mean 'Selling Price'?" for the closest label, else "": a label starting with the words given
    ('Order Date' -> 'Order Date as dd/mm/yyyy hh:MM:ss'), else one holding them all, else the nearest spelling."""
    wanted = configured.replace("_", " ")
    folded, words = fold_label(wanted), wanted.lower().split()
    holding = [label for label in labels if fold_label(label).startswith(folded)] or \
        [label for label in labels if words and all(word in label.lower().split() for word in words)]
    if folded and holding:
        return f"; did you mean '{min(holding, key=len)}'?"
    by_fold = {fold_label(label): label for label in labels}
    close = difflib.get_close_matches(folded, list(by_fold), n=1, cutoff=0.6)
    return f"; did you mean '{by_fold[close[0]]}'?" if close else ""


def resolve_types(column_types: Mapping[str, str], configured: frozenset[str], labels: Sequence[str],
                  where: str, report: str = "") -> tuple[dict[str, str], list[str]]:
    """`column_types` with each configured label that `labels` hold under another spelling (its
    snake_case name) given as that label, and what is wrong with the configured labels: those that
    match none of them ("not a column `where`"; a label of `report`'s column ids that the export does
    not request says so), and two spellings of one column given two types (as messages)."""
    resolved = dict(column_types)
    wrong = []
    named: dict[str, str] = {}  # label -> the configured key that named it
    for key in sorted(configured):
        label = matching_label(key, labels)
        if label is None:
            ids = [column for column, known in LABELS.get(report, {}).items()
                   if matching_label(key, [known]) is not None]
            if ids:
                wrong.append(f"names '{key}', the label of the report's column id {ids[0]}, which this export does "
                             f"not request, so it is not a column {where}; add '{ids[0]}' to its 'columns' (or "
                             "leave the type out)")
            else:
                wrong.append(f"names '{key}', which is not a column {where}{did_you_mean(key, labels)} (a header "
                             "label, or its snake_case column name)")
            continue
        other = named.setdefault(label, key)
        if other != key and column_types[other] != column_types[key]:
            wrong.append(f"names column '{label}' twice, as '{other}' ({column_types[other]}) and as '{key}' "
                         f"({column_types[key]})")
        elif fold_label(label) != fold_label(key):  # a snake_case name: typed under its label
            resolved[label] = resolved.pop(key)
    return resolved, wrong




def report_labels(report: str) -> list[str]:
    """Every header label the vocabulary and the catalog know for `report` (none for another report)."""
    spec, labels = CATALOG.get(report), LABELS.get(report, {})
    known = [*labels.values(), *(other for others in READINGS.get(report, {}).values() for other in others),
             *UNREQUESTED.get(report, ())]
    if spec is not None:
        known += [*spec.column_types, *spec.primary_key, *([spec.dedup_sort] if spec.dedup_sort else []),
                  *([spec.window_column] if spec.window_column else []), *spec.window_columns_by_filter.values(),
                  *(other for others in spec.label_readings.values() for other in others)]
    return list(dict.fromkeys(label.strip() for label in known))


def as_labels(names: Sequence[str], report: str) -> tuple[str, ...]:
    """Key names given as snake_case column names (`sale_order_code`), as the labels they name, where
    the report's labels are known (a built-in report); others as given."""
    labels = report_labels(report)
    return tuple(matching_label(name, labels) or name for name in names)


def known_labels(report: str, columns: Sequence[str]) -> Optional[list[str]]:
    """Every header label a file of the catalog report `report` exporting `columns` can carry, when
    all are known: each column id has a label seen on live tenants (none unseen or only guessed). The
    report's other labels (columns files carry unasked), their other readings and the catalog's own
    labels count too. None when not all are known (a column id outside the vocabulary)."""
    spec, labels = CATALOG.get(report), LABELS.get(report)
    if spec is None or labels is None or not columns:
        return None
    guessed = set(GUESSED.get(report, ()))
    if any(column not in labels or column in guessed for column in columns):
        return None
    return report_labels(report)


def missing_labels(report: str, columns: Sequence[str], wanted: Sequence[str]) -> list[str]:
    """The `wanted` labels (the key, the newest-wins column, the window column) no requested column of
    the catalog report `report` carries, each with the column id that carries it when known:
    `"'Return Invoice Code' (column id returnInvoiceCode)"`. A label is missing when the column id
    that carries it is known and not requested, or when every requested column's label is known and
    none is it (else the file says). Every job of such an export would fail on its file, after the job
    was made."""
    spec, labels = CATALOG.get(report), LABELS.get(report)
    if spec is None or labels is None:
        return []
    guessed = set(GUESSED.get(report, ()))
    readings = READINGS.get(report, {})
    all_known = not any(c not in labels or c in guessed for c in columns)
    # a report whose ids the catalog assumed: a requested id it does not know may be the tenant's for the label
    by_id = all_known or report not in ASSUMED_IDS
    carried = {spelling for c in columns if c in labels for spelling in _spellings(c, labels, readings)}
    carried |= {fold_label(label) for label in UNREQUESTED.get(report, ())}  # every file carries them
    missing = []
    for label in wanted:
        spellings = {fold_label(spelling) for spelling in [label, *spec.label_readings.get(label, ())]}
        if spellings & carried:
            continue
        ids = [column for column in labels
               if column not in guessed and _spellings(column, labels, readings) & spellings]
        if (ids and by_id) or all_known:
            missing.append(f"'{label}'" + (f" (column id {ids[0]})" if ids else ""))
    return missing


def column_spellings(report: str, column: str) -> set[str]:
    """The folded labels the catalog report `report`'s column id `column` is read with (empty: unknown)."""
    labels = LABELS.get(report, {})
    return _spellings(column, labels, READINGS.get(report, {})) if column in labels else set()


def _spellings(column: str, labels: Mapping[str, str], readings: Mapping[str, Sequence[str]]) -> set[str]:
    """The folded spellings of the column id `column`'s label: its label and its other readings."""
    return {fold_label(labels[column]), *(fold_label(other) for other in readings.get(column, ()))}


def requested_labels_absent(report: str, columns: Sequence[str], header: Sequence[str]) -> tuple[list[str], int]:
    """The requested columns of the catalog report `report` whose label (any reading) a file's `header`
    lacks, as `"'Label' (column id x)"`, and how many requested columns have a known label (guessed and
    unknown ids are not counted): a file missing most of them is not this report's file."""
    labels = LABELS.get(report, {})
    guessed = set(GUESSED.get(report, ()))
    known = [c for c in dict.fromkeys(columns) if c in labels and c not in guessed]
    absent = [f"'{a.label}' (column id {a.column})" for a in requested_columns_absent(report, columns, header)]
    return absent, len(known)


class AbsentColumn(NamedTuple):
    """A requested column a file lacks: its id, its label, and every folded spelling it was looked for in."""

    column: str
    label: str
    spellings: frozenset[str]


def requested_columns_absent(report: str, columns: Sequence[str], header: Sequence[str],
                             more_readings: Mapping[str, Sequence[str]] = MappingProxyType({})
                             ) -> list[AbsentColumn]:
    """Each requested column of the catalog report `report` whose label, in any reading (the vocabulary's, and
    `more_readings`: label -> other labels), a file's `header` lacks. Ids without a label seen on live tenants
    (unknown, or only guessed) are not counted."""
    labels = LABELS.get(report)
    if labels is None:
        return []
    guessed = set(GUESSED.get(report, ()))
    readings = READINGS.get(report, {})
    found = {fold_label(label) for label in header}
    absent = []
    for column in dict.fromkeys(columns):
        if column not in labels or column in guessed:
            continue
        spellings = _spellings(column, labels, readings) | {fold_label(other) for other in
                                                            more_readings.get(labels[column], ())}
        if not spellings & found:
            absent.append(AbsentColumn(column, labels[column], frozenset(spellings)))
    return absent


def other_report_of(report: str, header: Sequence[str]) -> Optional[str]:
    """The other catalog report whose file `header` is: it holds every label of that report's catalog
    columns (all known, none guessed) and one of them `report` knows no label of (Tally GST's job given
    Tally Return GST's file, which differs by `Return Type` alone). None when no such report."""
    if report not in CATALOG:
        return None
    found = {fold_label(label) for label in header}
    mine = {fold_label(label) for label in report_labels(report)}
    for other, spec in CATALOG.items():
        labels, guessed = LABELS.get(other), set(GUESSED.get(other, ()))
        if other == report or labels is None or any(c not in labels or c in guessed for c in spec.columns):
            continue
        theirs = {fold_label(labels[c]) for c in spec.columns}
        if theirs <= found and theirs - mine:
            return other
    return None
