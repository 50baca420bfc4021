"""Statuses as data: the API-status meaning table (../shared/uniware-api.md) and the history strings."""

from __future__ import annotations

import pytest

from uniware_source.queries import query
from uniware_source.statuses import (
    JOB_PROBLEMS,
    OUTCOME_HISTORY,
    HistoryStatus,
    Meaning,
    Outcome,
    meaning_of,
)


@pytest.mark.parametrize(("status", "meaning"), [
    *[(s, Meaning.DONE) for s in ("COMPLETE", "SUCCESSFUL", "COMPLETED", "SUCCESS")],
    *[(s, Meaning.PENDING) for s in ("SCHEDULED", "QUEUED", "IN_PROGRESS", "PROCESSING", "RUNNING", "CREATED")],
    *[(s, Meaning.FAILED) for s in ("FAILED", "CANCELLED", "CANCELED", "ERROR")],
    ("SOMETHING_NEW", Meaning.PENDING),
])
def test_meaning_of_uniware_statuses(status: str, meaning: Meaning) -> None:
    assert meaning_of(status) == meaning


def test_history_statuses_are_the_stored_strings() -> None:
    assert [s.value for s in HistoryStatus] == [
        "CREATED", "ADOPTED", "CREATE_FAILED", "LOADED", "EMPTY", "TIMED_OUT", "ABANDONED", "LOST",
        "DOWNLOAD_FAILED", "INVALID_FILE", "PARSE_FAILED", "OUT_OF_WINDOW", "SUPERSEDED", "OVERLAPS"]
    assert set(OUTCOME_HISTORY) == set(Outcome) - {Outcome.COMPLETED, Outcome.STOPPED}


def test_the_job_views_take_their_status_lists_from_statuses() -> None:
    sql = query("job_runs", "uniware")
    assert "{" not in sql
    for status in JOB_PROBLEMS:
        assert f"'{status}'" in sql
