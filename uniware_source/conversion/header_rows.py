"""A header inside the file: two exports joined into one file, the second with its header.

A row whose values are column labels is no data: the file's own header again (in its column order or
another), or another export's header (another report's, a build's other labels). The rows after it may
be another export's, in other columns, so such a file is never loaded, whatever `on_bad_rows` says (a
typed column would fail on the labels only where one is typed, and `skip` would drop that row alone).

A row is a header row when at least half of its values (and two, in a file of two columns or more; the
one value of a one-column file) are labels: the file's header's, or any the catalog knows a report by
(vocabulary.py), compared ignoring case and surrounding blanks. Only rows whose first value is such a
label are looked at whole (one lower-casing and one set lookup of the first column per chunk).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
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
    if batch.num_columns != len(header) or not header:
        return None
    own = [_bare(label) for label in header]
    bare_labels = known_labels() | set(own)
    labels = pa.array(sorted(bare_labels | {BOM + label for label in bare_labels}))  # a line's mark, if left
    first = pc.utf8_lower(pc.utf8_trim_whitespace(batch.column(0)))
    candidates = pc.fill_null(pc.is_in(first, value_set=labels), False)
    if not pc.any(candidates).as_py():
        return None
    positions = pc.indices_nonzero(candidates).to_pylist()
    rows = batch.filter(candidates)
    counted = pc.cast(candidates.filter(candidates), pa.int32())
    for column in rows.columns[1:]:
        bare = pc.utf8_lower(pc.utf8_trim_whitespace(column))
        counted = pc.add(counted, pc.cast(pc.fill_null(pc.is_in(bare, value_set=labels), False), pa.int32()))
    enough = max(2, (len(header) + 1) // 2) if len(header) > 1 else 1
    wanted = Counter(own)
    for at, count in enumerate(counted.to_pylist()):
        if count >= enough:
            row = [_bare(str(column[at].as_py() or "")) for column in rows.columns]
            return HeaderRow(positions[at], count, Counter(row) == wanted, row == own)
    return None
