"""A header inside the file: two exports joined into one file, the second with its header.

A row whose values are column labels is no data: the file's own header again (in its column order or
another), or another export's header (another report's, a build's other labels). The rows after it may
be another export's, in other columns, so such a file is never loaded, whatever `on_bad_rows` says (a
typed column would fail on the labels only where one is typed, and `skip` would drop that row alone).

A row is a header row when at least half of its values are the file's own labels (and three, in a file of
four columns or more; two in a file of two or three; the one value of a one-column file), not all one
label, compared ignoring case and surrounding blanks: the header again, in any order, with a label or
two renamed; or, in a file of 8 columns or more, when three quarters of its values are labels the
catalog knows for any report (vocabulary.py). Data holds words that are labels (`Sales` in a `Voucher
Type` column beside a `Sales` column; `CREATED`, `COD`): a row whose label values are all one label is
data, and a file narrower than 8 columns counts its own labels only. Only rows whose first or second
value is a label (the file's own; in a wide file, any the catalog knows) are looked at further (a
lower-casing and a set lookup of two columns per chunk). Not told: in a narrow file, another export's
header that shares neither its first nor its second label with the file's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import NamedTuple, Optional

import pyarrow as pa
import pyarrow.compute as pc

from ..vocabulary import LABELS, READINGS
from .row_checks import BOM


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
    own, own_labels, any_labels = _label_sets(tuple(header))
    wide = count >= CATALOG_LABELS_FROM
    candidates = _is_label(_lowered(batch.column(0)), any_labels)
    if count > 1:
        candidates = pc.or_(candidates, _is_label(_lowered(batch.column(1)), any_labels))
    if not pc.any(candidates).as_py():
        return None
    positions = pc.indices_nonzero(candidates)
    values = [_lowered(column) for column in batch.filter(candidates).columns]
    mine, mixed = _labels_in_rows(values, own_labels)
    header_like = pc.greater_equal(mine, _enough(count))
    if count > 1:  # a one-column file's header is one label
        header_like = pc.and_(header_like, mixed)
    known = mine
    if wide:  # another report's header: most of its values are labels the catalog knows
        known, known_mixed = _labels_in_rows(values, any_labels)
        header_like = pc.or_(header_like, pc.and_(pc.greater_equal(pc.multiply(known, 4), 3 * count), known_mixed))
    if not pc.any(header_like).as_py():
        return None
    at = pc.index(header_like, True).as_py()
    row = [_bare(str(column[at].as_py() or "")) for column in values]
    return HeaderRow(positions[at].as_py(), max(mine[at].as_py(), known[at].as_py()), Counter(row) == Counter(own),
                     tuple(row) == own)


class _LabelSets(NamedTuple):
    own: tuple[str, ...]  # the file's labels, bare, in its column order
    own_labels: pa.Array  # ... as a set, each with and without a byte-order mark
    any_labels: pa.Array  # ... and, in a wide file, every label the catalog knows


@lru_cache(maxsize=16)
def _label_sets(header: tuple[str, ...]) -> _LabelSets:
    """The label sets a file's chunks are compared with, made once per header."""
    own = tuple(_bare(label) for label in header)
    own_labels = _with_marks(set(own))
    wide = len(header) >= CATALOG_LABELS_FROM
    return _LabelSets(own, own_labels, _with_marks(set(own) | known_labels()) if wide else own_labels)


def _enough(count: int) -> int:
    """Own labels a row of a file of `count` columns needs to be a header row."""
    if count == 1:
        return 1
    return max(3 if count >= 4 else 2, (count + 1) // 2)


CATALOG_LABELS_FROM = 8  # columns: a narrower file's rows count its own labels only


def _with_marks(labels: set[str]) -> pa.Array:
    """The labels, and each behind a byte-order mark (a joined file's line may keep one)."""
    return pa.array(sorted(labels | {BOM + label for label in labels}))


def _lowered(column: pa.Array) -> pa.Array:
    return pc.utf8_lower(pc.utf8_trim_whitespace(column))


def _is_label(values: pa.Array, labels: pa.Array) -> pa.Array:
    return pc.fill_null(pc.is_in(values, value_set=labels), False)


def _labels_in_rows(values: Sequence[pa.Array], labels: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Per row, how many of its values are `labels`, and whether they are not all one label (a value that
    is a label repeated over a row's columns, `Sales,Sales`, is data: a header names each column once)."""
    masks = [_is_label(column, labels) for column in values]
    total = pc.cast(masks[0], pa.int32())
    for mask in masks[1:]:
        total = pc.add(total, pc.cast(mask, pa.int32()))
    first = pc.coalesce(*[pc.if_else(mask, column, None) for mask, column in zip(masks, values, strict=True)])
    mixed = pa.array([False] * len(values[0]), pa.bool_())
    for mask, column in zip(masks, values, strict=True):
        mixed = pc.or_(mixed, pc.fill_null(pc.and_(mask, pc.not_equal(column, first)), False))
    return total, mixed
