"""A header inside the file: two exports joined into one file, the second with its header.

A row whose values are column labels is no data: the file's own header again (in its column order or
another), or another export's header (another report's, a build's other labels). The rows after it may
be another export's, in other columns, so such a file is never loaded, whatever `on_bad_rows` says (a
typed column would fail on the labels only where one is typed, and `skip` would drop that row alone).

A row is a header row when at least half of its values (and two, in a file of two columns or more; the
one value of a one-column file) are the file's own labels, compared ignoring case and surrounding blanks
(the header again, in any order, with a label or two renamed); or, in a file of 8 columns or more, when
three quarters of its values are labels the catalog knows for any report (vocabulary.py): another
report's header. Words that are labels elsewhere (`CREATED`, `COD`, `Sales`) are frequent values, so a
short file's rows count its own labels only. Only rows whose first or second value is a label are looked
at whole (a lower-casing and a set lookup of two columns per chunk).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Optional

import pyarrow as pa
import pyarrow.compute as pc

from ..vocabulary import LABELS, READINGS

BOM = "\ufeff"


@dataclass(frozen=True)
class HeaderRow:
    index: int  # in the chunk
    labels: int  # of its values that are labels
    repeats: bool  # the file's own labels, every one
    in_order: bool  # ... in the file's column order


def _bare(text: str) -> str:
    return text.strip().lstrip(BOM).strip().lower()


@cache
def known_labels() -> frozenset[str]:
    """Every label the catalog knows a report's columns by, in any of their readings (bare, lower case)."""
    labels = {_bare(label) for by_id in LABELS.values() for label in by_id.values()}
    labels |= {_bare(label) for by_id in READINGS.values() for others in by_id.values() for label in others}
    return frozenset(labels)


def header_row(batch: pa.RecordBatch, header: Sequence[str]) -> Optional[HeaderRow]:
    """The first row of `batch` that is a header row (see the module's words), or None."""
    count = len(header)
    if batch.num_columns != count or not count:
        return None
    own = [_bare(label) for label in header]
    catalog = known_labels() if count >= CATALOG_LABELS_FROM else frozenset()
    own_labels = _with_marks(set(own))
    any_labels = _with_marks(set(own) | catalog)
    candidates = _is_label(batch.column(0), any_labels)
    if count > 1:
        candidates = pc.or_(candidates, _is_label(batch.column(1), any_labels))
    if not pc.any(candidates).as_py():
        return None
    positions = pc.indices_nonzero(candidates)
    rows = batch.filter(candidates)
    mine = _count(_is_label(column, own_labels) for column in rows.columns)
    known = _count(_is_label(column, any_labels) for column in rows.columns) if catalog else mine
    header_like = pc.greater_equal(mine, max(2, (count + 1) // 2) if count > 1 else 1)
    if catalog:
        header_like = pc.or_(header_like, pc.greater_equal(pc.multiply(known, 4), 3 * count))
    if not pc.any(header_like).as_py():
        return None
    at = pc.index(header_like, True).as_py()
    row = [_bare(str(column[at].as_py() or "")) for column in rows.columns]
    return HeaderRow(positions[at].as_py(), max(mine[at].as_py(), known[at].as_py()), Counter(row) == Counter(own),
                     row == own)


CATALOG_LABELS_FROM = 8  # columns: a narrower file's rows count its own labels only


def _with_marks(labels: set[str]) -> pa.Array:
    """The labels, and each behind a byte-order mark (a joined file's line may keep one)."""
    return pa.array(sorted(labels | {BOM + label for label in labels}))


def _count(masks: Iterable[pa.Array]) -> pa.Array:
    """Per row, how many of `masks` are true."""
    total: Optional[pa.Array] = None
    for mask in masks:
        as_int = pc.cast(mask, pa.int32())
        total = as_int if total is None else pc.add(total, as_int)
    return total if total is not None else pa.array([], pa.int32())


def _is_label(column: pa.Array, labels: pa.Array) -> pa.Array:
    return pc.fill_null(pc.is_in(pc.utf8_lower(pc.utf8_trim_whitespace(column)), value_set=labels), False)
