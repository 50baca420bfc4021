"""The views' percentages round half up in whole numbers, the same on DuckDB as on PostgreSQL (DuckDB divides
in floating point: `ROUND(100.0 * 201 / 20000, 2)` gave 1.00 there and 1.01 on PostgreSQL, red team helper 119)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import duckdb
import pytest

from uniware_source.queries import percent


@pytest.mark.parametrize(("part", "whole", "places"), [
    (201, 20000, 2), (23, 4000, 2), (3, 2000, 1), (1, 3, 2), (2, 3, 1), (0, 7, 2), (7, 7, 2), (1, 8, 1),
    (123_456_789, 987_654_321, 2), (999_999_999_999, 1_000_000_000_000, 2),
])
def test_a_percentage_rounds_half_up_exactly(part: int, whole: int, places: int) -> None:
    exact = (Decimal(100 * part) / Decimal(whole)).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
    [(got,)] = duckdb.connect().execute(f"SELECT {percent(str(part), str(whole), places)}").fetchall()
    assert got == exact


def test_a_percentage_of_nothing_is_null() -> None:
    assert duckdb.connect().execute(f"SELECT {percent('1', '0', 2)}").fetchall() == [(None,)]
