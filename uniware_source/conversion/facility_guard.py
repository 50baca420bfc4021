"""The facility guard: notice a facility's job whose file holds another facility's rows.

A job is created for one facility (the `Facility` header); a report that carries the facility's code
in its rows (Sale Orders' `Facility Code`) tells whether the file is that facility's. While a file
converts, the distinct codes of its rows are counted (case and surrounding spaces aside). Then:
- every row carries the code of another facility of the tenant (facility/search lists it, whether
  this run exports it or not), none the job's own: the file is another facility's export (a file
  host that mixed up links): the job fails like a bad file, nothing is loaded, the window is
  exported again next run;
- otherwise rows with other values (a report over several facilities, an "All Facility" copy, or a
  column that holds something else than codes on this tenant) load, and the log and the job's LOADED
  history row say how many.
Rows without a code, reports without the column and jobs without a facility are not checked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Optional, Union

import pyarrow as pa
import pyarrow.compute as pc

FACILITY_CODE_LABEL = "Facility Code"
SHOWN_CODES = 5
MAX_CODES = 1000  # distinct codes kept per file (a tenant has a few dozen facilities)


@dataclass
class FacilityCodes:
    """The distinct `Facility Code` values of a file and their rows, against the job's facility."""

    facility: str
    counts: dict[str, int] = field(default_factory=dict)  # upper-cased code -> rows (at most MAX_CODES)
    rows: int = 0  # rows that carry a code

    def add(self, values: Union[pa.Array, pa.ChunkedArray]) -> None:
        codes = pc.utf8_upper(pc.utf8_trim_whitespace(values.drop_null()))
        if len(codes) == 0:
            return
        self.rows += len(codes)
        for item in pc.value_counts(codes).to_pylist():
            code = str(item["values"])
            if code in self.counts or len(self.counts) < MAX_CODES:
                self.counts[code] = self.counts.get(code, 0) + int(item["counts"])

    @property
    def matching(self) -> int:
        return self.counts.get(self.facility.upper(), 0)


@dataclass(frozen=True)
class FacilityMismatch:
    message: str
    fail: bool


def check(codes: Optional[FacilityCodes], tenant_facilities: Callable[[], Sequence[str]]
          ) -> Optional[FacilityMismatch]:
    """A FacilityMismatch when rows carry other values than the job's facility code; it fails the job
    when they are all codes of other facilities of the tenant (`tenant_facilities`, asked only then)."""
    if codes is None or codes.rows == 0 or codes.matching == codes.rows:
        return None
    others = sorted(code for code in codes.counts if code != codes.facility.upper())
    shown = ", ".join(others[:SHOWN_CODES]) + (", ..." if len(others) > SHOWN_CODES else "")
    if codes.matching == 0 and sum(codes.counts.values()) == codes.rows \
            and set(others) <= {code.upper() for code in tenant_facilities()} - {codes.facility.upper()}:
        return FacilityMismatch(
            f"the file holds no row of facility {codes.facility}: its {codes.rows:,} rows carry the "
            f"'{FACILITY_CODE_LABEL}' of {shown} (another facility's export); nothing loaded, the window is "
            "exported again next run", fail=True)
    return FacilityMismatch(
        f"{codes.rows - codes.matching:,} of {codes.rows:,} rows carry another '{FACILITY_CODE_LABEL}' than "
        f"{codes.facility} ({shown}): loaded as they are (a report over several facilities?)", fail=False)
