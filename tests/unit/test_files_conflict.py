"""When one file (the same content, with rows) cannot be two jobs' file."""

from __future__ import annotations

from datetime import UTC, datetime

from uniware_source.ledger import files_conflict


def day(n: int) -> datetime:
    return datetime(2026, 4, n, tzinfo=UTC)


def test_another_facility_or_a_window_that_does_not_overlap_conflicts() -> None:
    blr_1_3, blr_2_4, blr_3_5 = ("BLR01", day(1), day(3)), ("BLR01", day(2), day(4)), ("BLR01", day(3), day(5))
    assert files_conflict(blr_1_3, ("DEL02", day(1), day(3)), facility_scoped=True)  # another facility
    assert not files_conflict(blr_1_3, ("DEL02", day(1), day(3)), facility_scoped=False)  # one job per tenant
    assert files_conflict(blr_1_3, blr_3_5, facility_scoped=True)  # windows that only touch: disjoint
    assert not files_conflict(blr_1_3, blr_2_4, facility_scoped=True)  # a lookback re-export of unchanged rows
    assert not files_conflict(("BLR01", None, None), ("BLR01", None, None), facility_scoped=True)  # snapshots
    assert not files_conflict((None, None, None), blr_1_3, facility_scoped=True)  # a job given in job_codes
