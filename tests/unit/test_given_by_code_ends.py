"""What a refusal says of a job given by code: it has no window to export again."""

from __future__ import annotations

import pytest

from uniware_source.steps.collect import _given_by_code_ends

ENDS = "this job given by code is not polled again"


@pytest.mark.parametrize("reason", [
    "not a Sale Orders export; nothing loaded, the window is exported again next run",
    "another facility's export; nothing loaded, it is exported again next run. If BLR01 was renamed...",
    "they cannot both stand for it. This window is exported again with a new job",
    "rows carry the 'Facility Code' of DEL02 (another facility's export); nothing loaded, the window "
    "is exported again next run",
])
def test_the_window_said_to_be_exported_again_is_replaced(reason: str) -> None:
    said = _given_by_code_ends(reason)
    assert ENDS in said and "exported again" not in said


def test_a_reason_that_says_nothing_of_what_comes_gets_it_added() -> None:
    said = _given_by_code_ends("key column 'Sale Order Item Code' is not in the file's header")
    assert said.startswith("key column 'Sale Order Item Code' is not in the file's header; ") and ENDS in said
