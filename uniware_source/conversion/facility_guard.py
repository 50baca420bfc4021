"""The facility guard: notice a facility's job whose file holds another facility's rows.

A job is created for one facility (the `Facility` header); a report that carries the facility's code
in its rows (Sale Orders' `Facility Code`) tells whether the file is that facility's. While a file
converts, the distinct codes of its rows are counted (case and surrounding spaces aside). Then:
- no row carries the job's own code and some carry the code of another facility of the tenant
  (facility/search lists it, or an earlier run knew it; whether this run exports it or not): the file
  is another facility's export (a file host that mixed up links; a few rows of a code nobody lists do
  not make it this facility's): the job fails like a bad file, nothing is loaded, the window is
  exported again next run;
- otherwise rows with other values (a report over several facilities, an "All Facility" copy, or a
  column that holds something else than codes on this tenant) load, and the log and the job's LOADED
  history row say how many.
Rows without a code, reports without the column and jobs without a facility are not checked.

A report without the code but with `Facility`, the facility's display name (Inventory Snapshot,
Purchase Orders...): the names of each facility's files that loaded are kept with the export's state
(`FACILITY_NAMES`); a file whose rows all carry names the facility's earlier files never did is
refused (another facility's export: for a snapshot it would replace the facility's rows). A facility
renamed in Uniware is refused the same way, until `reset` of that export and facility forgets the
names. A file with one of the known names among others loads (a report over several facilities). Two
facilities of a tenant may carry one display name (a company's name): the names the setting
`shared_facility_names` lists tell nothing and are left out of the comparison.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Optional, Union

import pyarrow as pa
import pyarrow.compute as pc

FACILITY_CODE_LABEL = "Facility Code"
FACILITY_NAME_LABEL = "Facility"  # the display name
SHOWN_CODES = 5
MAX_CODES = 1000  # distinct codes kept per file (a tenant has a few dozen facilities)


@dataclass
class FacilityCodes:
    """The distinct values of a file's facility column (`Facility Code`, or the display name `Facility`) and
    their rows, against the job's facility."""

    facility: str
    counts: dict[str, int] = field(default_factory=dict)  # upper-cased code -> rows (at most MAX_CODES)
    rows: int = 0  # rows that carry a code
    spelled: dict[str, str] = field(default_factory=dict)  # upper-cased code -> as the file first wrote it

    def add(self, values: Union[pa.Array, pa.ChunkedArray]) -> None:
        trimmed = pc.utf8_trim_whitespace(values.drop_null())
        codes = pc.utf8_upper(trimmed)
        if len(codes) == 0:
            return
        self.rows += len(codes)
        for item in pc.value_counts(codes).to_pylist():
            code = str(item["values"])
            if code in self.counts or len(self.counts) < MAX_CODES:
                if code not in self.counts:
                    at = pc.index(codes, code).as_py()
                    self.spelled[code] = str(trimmed[at].as_py())
                self.counts[code] = self.counts.get(code, 0) + int(item["counts"])

    def shown(self, codes: Iterable[str]) -> str:
        """`codes` as the file wrote them, quoted, the first few."""
        listed = sorted(codes)
        return ", ".join(repr(self.spelled.get(c, c)) for c in listed[:SHOWN_CODES]) \
            + (", ..." if len(listed) > SHOWN_CODES else "")

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
    if codes.matching == 0 and sum(codes.counts.values()) == codes.rows:
        tenant = {code.upper() for code in tenant_facilities()} - {codes.facility.upper()}
        theirs = [code for code in others if code in tenant]
        if theirs:
            of_them = "" if len(theirs) == len(others) else \
                f", {sum(codes.counts[c] for c in theirs):,} of them of the tenant's {', '.join(theirs[:SHOWN_CODES])}"
            return FacilityMismatch(
                f"the file holds no row of facility {codes.facility}: its {codes.rows:,} rows carry the "
                f"'{FACILITY_CODE_LABEL}' of {shown}{of_them} (another facility's export); nothing loaded, the window "
                "is exported again next run", fail=True)
    return FacilityMismatch(
        f"{codes.rows - codes.matching:,} of {codes.rows:,} rows carry another '{FACILITY_CODE_LABEL}' than "
        f"{codes.facility} ({shown}): loaded as they are (a report over several facilities?)", fail=False)


def check_names(names: Optional[FacilityCodes], known: Sequence[str], elsewhere: Mapping[str, Sequence[str]],
                reset_command: Callable[[str], str], shared: AbstractSet[str] = frozenset()
                ) -> Optional[FacilityMismatch]:
    """A failing FacilityMismatch when every row's `Facility` is a name the facility's earlier files
    (`known`) never carried; for a facility without earlier files, when every name is one that another
    facility's files carried (`elsewhere`: facility -> names), names in `shared` (case-folded: several
    facilities carry them) aside. `reset_command(facility)`: the command that forgets a facility's names."""
    if names is None or names.rows == 0 or sum(names.counts.values()) != names.rows:
        return None
    found = set(names.counts)
    if known:  # a shared name tells only for a facility whose own files carried it
        if {fold_name(n) for n in found} & {fold_name(k) for k in known}:
            return None
        return FacilityMismatch(
            f"the file's {names.rows:,} rows carry the '{FACILITY_NAME_LABEL}' {names.shown(found)}, which facility "
            f"{names.facility}'s earlier files never did ({', '.join(repr(k) for k in known)}): another facility's "
            f"export; nothing loaded, it is exported again next run. If {names.facility} was renamed in Uniware, "
            f"{reset_command(names.facility)} forgets its names, and also its cursor and planned windows (a snapshot "
            "has none; a windowed export is exported again from start_date)", fail=True)
    unshared = {n for n in found if fold_name(n) not in shared}
    owners = sorted(facility for facility, theirs in elsewhere.items() if facility != names.facility
                    and {fold_name(n) for n in unshared} <= {fold_name(name) for name in theirs})
    if not unshared or not owners:
        return None
    respelled = (f". The codes {owners[0]} and {names.facility} differ only in case: if Uniware now spells the "
                 f"code {names.facility}, {reset_command(owners[0])} forgets the old spelling's names (the rows "
                 "already loaded stay in the table under the old spelling)"
                 if owners[0].casefold() == names.facility.casefold() else "")
    return FacilityMismatch(
        f"the file's {names.rows:,} rows carry the '{FACILITY_NAME_LABEL}' {names.shown(unshared)} of facility "
        f"{owners[0]}'s files, not a name of facility {names.facility}: another facility's export; nothing loaded, "
        f"it is exported again next run{respelled}. If both facilities carry that display name in Uniware (a "
        f"company's name), the setting shared_facility_names lists it: shared_facility_names = "
        f"{json.dumps([names.spelled.get(n, n) for n in sorted(unshared)], ensure_ascii=False)} under "
        "[sources.uniware] (or SOURCES__UNIWARE__SHARED_FACILITY_NAMES, the same JSON list)", fail=True)


def fold_name(name: str) -> str:
    """A display name as names are compared: trimmed, case-folded (`Großhandel`, `GROSSHANDEL` and the
    upper case pyarrow writes, `GROẞHANDEL`, are one)."""
    return name.strip().casefold()


def names_of(names: Optional[FacilityCodes]) -> list[str]:
    """The display names of a file that loads, to keep (none when they are too many to be one facility's)."""
    if names is None or not names.counts or len(names.counts) > 2:
        return []
    return sorted(names.counts)
