"""Uniware's words on a finished job: a done answer's message that says its file is cut, one without a file
that says the file was never made."""

from __future__ import annotations

import pytest

from uniware_source.message_words import says_cut_short, says_failed

GOOD_MESSAGES = [
    "Export completed successfully", "Completed with 0 errors", "no failures", "Job completed. Errors: 0",
    "Error count: 0", "0 records failed", "Failed rows: 0", "Success (0 failed)", "Completed. Errors: none",
    "Completed without any error", "Export complete: 305 rows, 0 failed", "0 invalid rows skipped", "No rows failed",
    "Exported 305 rows (0 rows skipped due to errors)", "Link expires in 24 hours", "Report includes cancelled orders",
    "Includes CANCELLED and RETURNED items", "Error-free export", "Export completed; failedCount=0",
    "Completed (errors: 0)", "Sale orders including failed payments exported", "Completed. Not truncated.",
    "Complete, nothing was truncated", "Export completed. Partial shipments included",
    "Completed successfully; no data was truncated", "The export did not fail", "Completed with errors: 0", "",
    # red team helper 116: said as keys and values, or not at all
    "Export completed. Rows skipped: 0", "Export completed; truncated=false", "isTruncated=false", "Partial: false",
    "Completed. 305 of 305 rows exported", "Row limit not reached", "Limit not reached (305 of 10000 rows)",
    "Report limited to facility BLR01", "Includes partial shipments and partial refunds", "Export done, failures=0",
    "Export completed in 12 s (limit 30 s)", "None of the rows were skipped", "Report truncation disabled",
    "Export ended at 23:59", "Errors: 0; Skipped: 0; Truncated: no", "Exported 305 rows; 0 skipped; 0 truncated",
    "Export completed without truncation",
]
CUT_MESSAGES = [
    "Export truncated: only the first 10 rows were written", "Only the first 10000 rows were exported",
    "Row limit reached: 10000 rows exported", "Export capped at 10000 rows", "Export limited to 10000 rows",
    "Showing first 10000 rows", "Result set too large; only 10000 rows written", "Max rows (10000) reached",
    "File contains partial data", "Partial export", "Some rows were skipped", "Export stopped at 10000 rows",
    "Export incomplete", "Data clipped to 10000 rows", "Export completed with errors", "Completed with 3 errors",
    "Export completed partially", "partially exported", "Export was cut off after 10000 rows",
    "Report too big, exported first 10,000 records", "More rows available; download limit hit", "exceeds limit",
    "only 10 of 305 rows written", "Limit: 10000 rows", "export halted", "Export stopped early",
    "Export completed with 0 errors but truncated", "Completed with no errors. File truncated at 10000 rows",
    "no errors; partial file", "Export completed with 2 failures", "Completed without errors except 2 failed rows",
    # red team helper 116
    "Rows skipped: 12", "Skipped 12 rows", "truncated=true", "isTruncated: true", "Partial: true",
    "Exported 10 of 305 rows", "10/305 rows exported", "Reached the maximum of 10000 rows",
    "Output trimmed to 10000 rows",
    "Warnings: 0, Errors: 3", "Completed. Skipped: 0. Truncated: yes", "Errors: 0. Skipped: 12",
    "Rows beyond 10000 were omitted", "No more than 10000 rows are exported", "Export timed out; partial file written",
    "Some records could not be exported", "Export aborted after 10000 rows", "FILE_TRUNCATED",
    "Without errors, but partial", "Completed; file is partial.", "Export finished (partial)",
    # red team helper 120
    "Job failed after writing 10000 rows", "Export failed", "rows beyond 65,536 were not included", "Some rows failed",
    "Export completed, but 3 records were not exported due to errors", "1 failed", "10000 rows exported (max allowed)",
]


@pytest.mark.parametrize("message", GOOD_MESSAGES)
def test_a_good_files_message_does_not_say_it_was_cut(message: str) -> None:
    """Words of errors, failures or cancelled orders in a done answer's message beside its file refused
    the file on every run (`Errors: 0`, red team helper 115): only words of a cut count there."""
    assert not says_cut_short(message)


@pytest.mark.parametrize("message", CUT_MESSAGES)
def test_a_cut_files_message_says_so_in_many_words(message: str) -> None:
    """A file cut at a row limit loaded its 10 rows of 305, exit 0, when its message said so in words
    other than `truncated` (red team helper 115)."""
    assert says_cut_short(message)


@pytest.mark.parametrize(("message", "failed"), [
    ("Export failed: could not write file", True), ("File could not be generated", True), ("Job timed out", True),
    ("Disk full", True), ("Export cancelled by user", True), ("Export truncated", True),
    ("No records found", False), ("", False), ("Completed with 0 errors", False), ("no failures", False),
    ("Export done: nothing to export", False), ("No records found. Errors: 0", False),
    ("Completed; failedCount=0", False), ("Export done, 0 rows, 0 errors, 0 rows skipped", False),
    ("Export failed: no data could be written, disk full", True), ("File not generated: row limit exceeded", True),
    ("Errors: 0. Export failed: timeout", True), ("Nothing exported due to errors", True),
    ("Out of memory", True), ("the export did not complete", True), ("Export stopped", True), ("FILE_NOT_FOUND", True),
    ("file missing", True),
    ("No rows were written: the export timed out", True),
])
def test_a_done_answer_without_a_file_says_whether_the_file_was_never_made(message: str, failed: bool) -> None:
    """Without a file, words of a failure make the job failed (a new job next run) instead of an empty export
    whose cursor would move past rows never loaded."""
    assert says_failed(message) is failed
