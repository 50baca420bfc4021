"""A status answer that keeps failing the same way is said once a minute, not on every poll."""

from __future__ import annotations

import logging
import re
import threading
from typing import Any, Optional

import pytest

from uniware_source.clock import ManualClock
from uniware_source.errors import ApiError
from uniware_source.jobs import poll
from uniware_source.settings import PollPolicy
from uniware_source.statuses import Outcome


def test_the_same_polling_failure_is_said_once_a_minute(monkeypatch: pytest.MonkeyPatch,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    answers = iter(["the answer carries no status: {'filePath': 'x'}"] * 100 + ["HTTP 502: bad gateway"] * 100)

    def failing(client: Any, job_code: str, load_with_errors: bool, facility: Optional[str] = None) -> Any:
        raise ApiError(f"status of export job {job_code}", next(answers))
    monkeypatch.setattr(poll, "job_status", failing)
    clock = ManualClock()
    policy = PollPolicy(initial_seconds=1, max_seconds=2, timeout_seconds=300, complete_grace_seconds=60,
                        multiplier=2, load_with_errors=False)
    with caplog.at_level(logging.WARNING):
        result = poll.wait_for_job(None, "JOB1", clock=clock, policy=policy, on_change=lambda _: None,  # type: ignore[arg-type]
                                   stop=threading.Event(), label="job JOB1")
    assert result.outcome == Outcome.TIMED_OUT and result.polls == 0
    said = [r.getMessage() for r in caplog.records if "polling failed" in r.getMessage()]
    no_status = [m for m in said if "carries no status" in m]
    bad_gateway = [m for m in said if "502" in m]
    # 100 failures over ~200 s: said at once and each minute after; a new failure is said at once
    assert 3 <= len(no_status) <= 5 and 1 <= len(bad_gateway) <= 3, said


def test_a_call_the_stop_cut_ends_the_wait_without_a_warning(monkeypatch: pytest.MonkeyPatch,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    """SIGTERM or Ctrl-C cuts the status call under way: the wait ends as stopped, and no line says polling
    failed and will be tried again (after an interrupt, it will not)."""
    stop = threading.Event()

    def cut(client: Any, job_code: str, load_with_errors: bool, facility: Optional[str] = None) -> Any:
        stop.set()
        raise ApiError(f"status of export job {job_code}", "Interrupted: stopped while waiting for the answer")
    monkeypatch.setattr(poll, "job_status", cut)
    policy = PollPolicy(initial_seconds=1, max_seconds=2, timeout_seconds=300, complete_grace_seconds=60,
                        multiplier=2, load_with_errors=False)
    with caplog.at_level(logging.WARNING):
        result = poll.wait_for_job(None, "JOB1", clock=ManualClock(), policy=policy,  # type: ignore[arg-type]
                                   on_change=lambda _: None, stop=stop, label="job JOB1")
    assert result.outcome == Outcome.STOPPED
    assert "polling failed" not in caplog.text

def test_a_done_status_with_errors_loads_its_file_and_says_the_errors(monkeypatch: pytest.MonkeyPatch,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    """`successful: true` with COMPLETE, a file and errors, with on_complete_with_errors = "load": the file
    loads, and the errors are said in the log, not only kept in the history's JSON."""
    from uniware_source.client.job_status import JobStatus
    from uniware_source.errors import ApiErrorDetail

    error = ApiErrorDetail.from_json({"code": 1, "description": "2 rows could not be exported", "message": "PARTIAL"})
    monkeypatch.setattr(poll, "job_status", lambda client, code, load_with_errors, facility=None: JobStatus(
        "COMPLETE", "https://files/x.csv", "", (error,)))
    policy = PollPolicy(initial_seconds=1, max_seconds=2, timeout_seconds=300, complete_grace_seconds=60,
                        multiplier=2, load_with_errors=True)
    with caplog.at_level(logging.WARNING):
        result = poll.wait_for_job(None, "JOB1", clock=ManualClock(), policy=policy,  # type: ignore[arg-type]
                                   on_change=lambda _: None, stop=threading.Event(), label="job JOB1")
    assert result.outcome == Outcome.COMPLETED and result.file_url == "https://files/x.csv"
    assert "COMPLETE with errors, its file is loaded" in caplog.text and "2 rows could not be exported" in caplog.text


ERROR_SHAPES = {"list": [{"code": 9, "description": "only 10 rows written", "message": "ROW_LIMIT"}],
                "object": {"code": 9, "description": "only 10 rows written", "message": "ROW_LIMIT"},
                "text": "only 10 rows written", "list of texts": ["only 10 rows written"]}


@pytest.mark.parametrize("shape", list(ERROR_SHAPES))
@pytest.mark.parametrize("file_path", ["https://files/x.csv", None])
def test_a_done_answer_with_errors_is_refused_with_or_without_its_file(file_path: Any, shape: str) -> None:
    """`successful: true`, COMPLETE and `errors` (a list, one object or a text: every shape counts):
    with a file it may be cut short, without one it is a failure, not an export with no rows; both are
    refusals (polled on, then given up) naming the setting that loads such answers. With the setting,
    the answer is read as it is."""
    from uniware_source.client.job_status import job_status
    from uniware_source.errors import ContradictoryStatus

    class Answers:
        def post(self, operation: str, path: str, body: Any) -> dict[str, Any]:
            return {"successful": True, "status": "COMPLETE", "message": "Export completed with errors",
                    "errors": ERROR_SHAPES[shape], **({"filePath": file_path} if file_path else {})}

    with pytest.raises(ContradictoryStatus) as refused:
        job_status(Answers(), "JOB1")  # type: ignore[arg-type]
    said = str(refused.value)
    assert refused.value.refused and "only 10 rows written" in said and 'on_complete_with_errors = "load"' in said
    assert ("may be cut short" if file_path else "not taken as an export with no rows") in said
    answer = job_status(Answers(), "JOB1", load_with_errors=True)  # type: ignore[arg-type]
    assert answer.status == "COMPLETE" and answer.file_url == file_path and answer.errors


def _scripted(monkeypatch: pytest.MonkeyPatch, answers: list[Any]) -> list[float]:
    """job_status answers `answers` in turn (a JobStatus, or an ApiError to raise); returns when each was asked."""
    from uniware_source.client.job_status import JobStatus

    asked: list[float] = []
    script = iter(answers)

    def answer(client: Any, job_code: str, load_with_errors: bool, facility: Optional[str] = None) -> JobStatus:
        asked.append(len(asked))
        item = next(script)
        if isinstance(item, ApiError):
            raise item
        return item  # type: ignore[no-any-return]
    monkeypatch.setattr(poll, "job_status", answer)
    return asked


@pytest.mark.parametrize("gap", ["outage", "refusal", "none"])
def test_done_without_a_file_is_empty_only_after_answers_in_a_row_over_the_grace(
        monkeypatch: pytest.MonkeyPatch, gap: str) -> None:
    """COMPLETE without a file, then polls that get no status for longer than the grace (503s, or
    `successful: false` without a status), then COMPLETE without a file again and then with it: the
    file loads. Time without a status is not time seen at done; and a grace needs GRACE_ANSWERS answers
    in a row, however long apart (`none`: two answers over the grace are not enough, a third is)."""
    from uniware_source.client.job_status import JobStatus

    done, with_file = JobStatus("COMPLETE", None, "", ()), JobStatus("COMPLETE", "https://files/x.csv", "", ())
    failure = {"outage": ApiError("status of export job JOB1", "HTTP 503: unavailable"),
               "refusal": ApiError("status of export job JOB1", "Export service busy", refused=True)}.get(gap)
    answers: list[Any] = [done] + ([failure] * 40 if failure else []) + [done, with_file]
    asked = _scripted(monkeypatch, answers)
    policy = PollPolicy(initial_seconds=5, max_seconds=5, timeout_seconds=3600, complete_grace_seconds=60,
                        multiplier=1, load_with_errors=False)
    if gap == "none":  # answers 200 s apart: the grace passes between the first two
        policy = PollPolicy(initial_seconds=200, max_seconds=200, timeout_seconds=3600, complete_grace_seconds=60,
                            multiplier=1, load_with_errors=False)
    result = poll.wait_for_job(None, "JOB1", clock=ManualClock(), policy=policy,  # type: ignore[arg-type]
                               on_change=lambda _: None, stop=threading.Event(), label="job JOB1")
    assert result.outcome == Outcome.COMPLETED and result.file_url == "https://files/x.csv", result
    assert len(asked) == len(answers)

    _scripted(monkeypatch, [done] * 20)  # answered done without a file every time: empty, at the third answer
    result = poll.wait_for_job(None, "JOB1", clock=ManualClock(), policy=policy,  # type: ignore[arg-type]
                               on_change=lambda _: None, stop=threading.Event(), label="job JOB1")
    assert result.outcome == Outcome.EMPTY and result.polls == (3 if gap == "none" else 13), result
    assert "answers in a row" in result.reason


@pytest.mark.parametrize("successful", [False, "false", " FALSE ", 0])
def test_successful_false_counts_however_it_is_spelled(successful: Any) -> None:
    """A done answer saying `successful: false` (a boolean, or text or a number from another build) is
    refused, never loaded; `warnings` are kept in the answer's message (and so in the history)."""
    from uniware_source.client.job_status import job_status
    from uniware_source.errors import ContradictoryStatus

    class Answers:
        def __init__(self, answer: dict[str, Any]) -> None:
            self.answer = answer

        def post(self, operation: str, path: str, body: Any) -> dict[str, Any]:
            return self.answer

    with pytest.raises(ContradictoryStatus):
        job_status(Answers({"successful": successful, "status": "COMPLETE", "filePath": "https://f/x.csv"}),  # type: ignore[arg-type]
                   "JOB1")
    warned = job_status(Answers({"successful": "true", "status": "COMPLETE", "filePath": "https://f/x.csv",  # type: ignore[arg-type]
                                 "message": "done", "warnings": {"message": "column Gift Wrap is deprecated"}}), "JOB1")
    assert warned.warned and warned.message == "done; warnings: column Gift Wrap is deprecated"
    with pytest.raises(ContradictoryStatus, match="capped at 10 rows"):  # a warning that the file is cut
        job_status(Answers({"successful": "true", "status": "COMPLETE", "filePath": "https://f/x.csv",  # type: ignore[arg-type]
                            "message": "done", "warnings": {"message": "export capped at 10 rows"}}), "JOB1")
    nothings: list[Any] = [None, [], "", " null ", "[]", {"fieldErrors": []}, [None, ""], False, 0, "false",
                           {"count": 0}]
    for nothing in nothings:
        plain = job_status(Answers({"successful": True, "status": "COMPLETE", "filePath": "https://f/x.csv",  # type: ignore[arg-type]
                                    "warnings": nothing, "errors": nothing}), "JOB1")
        assert not plain.warned and plain.message == "" and plain.errors == (), nothing
    for something in (True, 3, "3 rows failed", {"count": 2}):
        with pytest.raises(ContradictoryStatus):
            job_status(Answers({"successful": True, "status": "COMPLETE", "filePath": "https://f/x.csv",  # type: ignore[arg-type]
                                "errors": something}), "JOB1")


def test_a_done_answer_that_cannot_be_this_jobs_whole_export_is_refused() -> None:
    """A done answer naming another job, with `successful` false however spelled or neither true nor
    false, with a `filePath` that is not a link (a list, an object: not an empty export), or with a
    singular `error`, is refused (polled on, given up as LOST), never loaded or taken as no rows; the
    same answers in their plain spellings load."""
    from uniware_source.client.job_status import job_status
    from uniware_source.errors import ContradictoryStatus

    class Answers:
        def __init__(self, answer: dict[str, Any]) -> None:
            self.answer = answer

        def post(self, operation: str, path: str, body: Any) -> dict[str, Any]:
            return self.answer

    link = "https://files.example/x.csv"
    done: dict[str, Any] = {"status": "COMPLETE", "filePath": link, "successful": True}
    refused: list[tuple[dict[str, Any], str]] = [
        ({"jobCode": "EXP0002"}, "for another job"),
        *(({"successful": value}, "successful=false") for value in ("0", 0.0, "no", "N", " F ")),
        *(({"successful": odd}, "neither true nor false") for odd in ["maybe", 2, [], {"ok": 1}]),
        *(({"filePath": value}, "not a link") for value in ([link], {"url": link}, 7)),
        ({"error": "Export truncated"}, "errors"),
        ({"filePath": None, "jobCode": "EXP0002"}, "for another job"),
        # the link under another name (red team helper 87, F2: taken as an export with no rows, cursor moved)
        *(({"filePath": blank, **elsewhere}, f"link under '{where}'") for blank in (None, "", " ")
          for elsewhere, where in (({"fileUrl": link}, "fileUrl"), ({"FilePath": link}, "FilePath"),
                                   ({"data": {"filePath": link}}, "data.filePath"),
                                   ({"result": [{"href": link}]}, "result[0].href"),
                                   ({"downloadPath": "/exports/x.csv"}, "downloadPath"),
                                   ({"file": "/files/EXP0001.csv"}, "file"),  # red team helper 90
                                   ({"reportUrl": "s3://bucket/exports/x"}, "reportUrl"),
                                   ({"links": {"self": "https://api.example/jobs/EXP0001/export.csv"}}, "links.self"),
                                   # red team helper 91
                                   ({"fileUrl": "http://files.example/Sale Orders EXP0001.csv"}, "fileUrl"),
                                   ({"file": "files/EXP0001.csv"}, "file"),
                                   ({"url": "http://files.example/d/EXP0001"}, "url"),
                                   ({"data": {"link": "https://cdn.example/t/EXP0001?Expires=1&Signature=x"}},
                                    "data.link"),
                                   ({"location": "https://files.example/EXP0001.tsv"}, "location"),
                                   ({"signedUrl": "https://cdn.example/EXP0001?sig=1"}, "signedUrl"),
                                   ({"FILE_PATH": "/exports/EXP0001"}, "FILE_PATH"),
                                   ({"url": ["https://cdn.example/EXP0001?sig=1"]}, "url[0]"),
                                   ({"url": {"value": "https://cdn.example/EXP0001?sig=1"}}, "url.value"))),
    ]
    for change, said in refused:
        with pytest.raises(ContradictoryStatus, match=re.escape(said)) as caught:
            job_status(Answers({**done, **change}), "EXP0001")  # type: ignore[arg-type]
        assert "files.example" not in str(caught.value)  # the field is named, never the link
    empty = job_status(Answers({"status": "COMPLETE", "filePath": None, "successful": True, "message": "see "  # type: ignore[arg-type]
                                "https://help.example/exports", "errors": [], "warnings": [], "jobCode": "EXP0001"}),
                       "EXP0001")
    assert empty.file_url is None  # the documented fields alone: an export with no rows
    for extra in ({"fileSize": 0}, {"downloadable": False}, {"fileFormat": "CSV"}, {"userProfile": "admin"},
                  {"FILEPATH": "  "}, {"downloadPath": "/"}, {"data": {"fileName": "orders.csv", "rows": 0}},
                  {"helpUrl": "https://support.example/exports"}, {"facilityLocation": "/WH-1"},  # red team helper 90
                  {"description": "https://support.example/faq"},
                  {"exportConfig": {"helpUrl": "https://support.example/kb/export"}},  # red team helper 91
                  {"exportPath": "/Reports/Sale Orders"},
                  # review helper 92: values of fields named with `file`, or containing it, that are no link
                  {"fileType": "text/csv"}, {"fileName": "N/A"}, {"fileCreated": "01/02/2024"},
                  {"profile": {"tz": "Asia/Kolkata"}}, {"exportDownloadable": "N/A"},
                  {"remarks": "see https://support.example/a.txt"}, {"note": "http://[object Object]/a"}):
        answer = job_status(Answers({"status": "COMPLETE", "successful": True, **extra}), "EXP0001")  # type: ignore[arg-type]
        assert answer.file_url is None, extra  # no link among them: still an export with no rows (review helper 89)
    loaded: list[dict[str, Any]] = [{"jobCode": "EXP0001"}, {"jobCode": " exp0001 "}, {"jobCode": None},
                                    *({"successful": value} for value in ("yes", 1.0, "1", "T", None, "")),
                                    {"errors": " [ ] "}, {"error": None}]
    for change in loaded:
        answer = job_status(Answers({**done, **change}), "EXP0001")  # type: ignore[arg-type]
        assert answer.file_url == link and answer.errors == (), change
    pending = job_status(Answers({"status": "RUNNING", "filePath": [link]}), "EXP0001")  # type: ignore[arg-type]
    assert pending.file_url is None  # a pending answer's odd link is not used, nor refused


def test_an_answer_naming_another_job_is_never_this_jobs_status() -> None:
    """A status answer whose `jobCode` names another job says nothing of this one, whatever its status:
    a FAILED one was taken as this job's failure (red team 133, F2), a pending or unknown one would put
    another job's status in this job's history. Each is refused (polled on, given up as LOST); the
    same answers naming this job, however spaced or cased, or no job, are its status."""
    from uniware_source.client.job_status import job_status
    from uniware_source.errors import ContradictoryStatus

    class Answers:
        def __init__(self, answer: dict[str, Any]) -> None:
            self.answer = answer

        def post(self, operation: str, path: str, body: Any) -> dict[str, Any]:
            return self.answer

    statuses = ["FAILED", "CANCELLED", "ERROR", "failed", "IN_PROGRESS", "QUEUED", "ON_HOLD_FOR_REVIEW"]
    for status in statuses:
        for other in ("EXP0002", 2, " exp00011 "):
            with pytest.raises(ContradictoryStatus, match=r"for another job \(") as caught:
                job_status(Answers({"successful": True, "status": status, "jobCode": other,  # type: ignore[arg-type]
                                    "message": "Export job failed"}), "EXP0001")
            assert caught.value.refused and "EXP0001" in str(caught.value)
        with pytest.raises(ContradictoryStatus) as caught:  # the other job's errors are not this job's
            job_status(Answers({"successful": False, "status": status, "jobCode": "EXP0002",  # type: ignore[arg-type]
                                "errors": [{"code": 100006, "message": "INVALID_JOB_CODE"}]}), "EXP0001")
        assert not caught.value.codes
        for same in ("EXP0001", " exp0001 ", None, ""):
            answer = job_status(Answers({"successful": True, "status": status, "jobCode": same}), "EXP0001")  # type: ignore[arg-type]
            assert answer.status == status.upper()


UNKNOWN = "unknown"  # 100006, as Uniware says a job code it does not know
FAILED_CALL = "503"  # no answer about the job: an HTTP error after the retries


def _poll_through(monkeypatch: pytest.MonkeyPatch, answers: list[str], initial_seconds: float = 2
                  ) -> tuple[poll.PollResult, float]:
    """The wait over `answers` (repeated to the end), and the seconds it took on the test's clock."""
    from uniware_source.client.job_status import JobStatus
    from uniware_source.errors import ApiErrorDetail

    given = iter(answers * 1000)

    def answer(client: Any, job_code: str, load_with_errors: bool, facility: Optional[str] = None) -> Any:
        said = next(given)
        if said == UNKNOWN:
            raise ApiError(f"status of export job {job_code}", f"Invalid job code: {job_code}", refused=True,
                           errors=[ApiErrorDetail.from_json({"code": 100006, "message": "INVALID_JOB_CODE"})])
        if said == FAILED_CALL:
            raise ApiError(f"status of export job {job_code}", "service unavailable", http_status=503)
        return JobStatus(said, None, "", ())
    monkeypatch.setattr(poll, "job_status", answer)
    clock = ManualClock()
    policy = PollPolicy(initial_seconds=initial_seconds, max_seconds=10, timeout_seconds=1800,
                        complete_grace_seconds=60, multiplier=1.6, load_with_errors=False)
    result = poll.wait_for_job(None, "JOB1", clock=clock, policy=policy, on_change=lambda _: None,  # type: ignore[arg-type]
                               stop=threading.Event(), label="job JOB1")
    return result, clock.monotonic()


@pytest.mark.parametrize("answers", [[UNKNOWN], [UNKNOWN, FAILED_CALL], [FAILED_CALL, UNKNOWN, FAILED_CALL]])
@pytest.mark.parametrize("initial_seconds", [0.1, 2])
def test_a_job_uniware_keeps_not_knowing_is_given_up_after_three_answers_over_a_minute(
        monkeypatch: pytest.MonkeyPatch, answers: list[str], initial_seconds: float) -> None:
    """100006 once was LOST at once, leaving a job its status service did not see yet running (red team 133,
    F3); three in a row with little time between (polling every 0.1 s, or from 2 s) was the same after 5 s. Given up
    after 3 answers over a minute; failed calls between them neither count nor start over (alternating
    with a 503 was polled until job_timeout_seconds)."""
    result, took = _poll_through(monkeypatch, answers, initial_seconds)
    assert result.outcome == Outcome.FAILED and "no longer knows job JOB1" in result.reason, result
    assert 60 <= took < 120, took


@pytest.mark.parametrize("shape", ["errors", "error"])
def test_an_unknown_job_code_is_read_under_either_errors_field(shape: str) -> None:
    """A build's singular `error` holds 100006 as `errors` does: it was not read as an unknown job, which was
    then given up only after 10 minutes of refusals."""
    from uniware_source.client.job_status import job_status

    class Answers:
        def post(self, operation: str, path: str, body: Any) -> dict[str, Any]:
            error = {"code": 100006, "message": "INVALID_JOB_CODE", "description": "Invalid job code"}
            return {"successful": False, "message": "Invalid job code", shape: error}

    with pytest.raises(ApiError) as caught:
        job_status(Answers(), "EXP0001")  # type: ignore[arg-type]
    assert caught.value.refused and caught.value.codes == {100006}


@pytest.mark.parametrize("answers", [[UNKNOWN, UNKNOWN, "IN_PROGRESS"], [UNKNOWN, UNKNOWN, FAILED_CALL, "QUEUED"]])
def test_a_job_said_unknown_now_and_then_is_waited_for(monkeypatch: pytest.MonkeyPatch, answers: list[str]) -> None:
    """A status between the 100006 answers starts the count over: the job is waited for to its deadline."""
    result, took = _poll_through(monkeypatch, answers)
    assert result.outcome == Outcome.TIMED_OUT and took == 1800, (result, took)


def test_the_file_and_new_warnings_are_reported_even_after_a_failed_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    """Done without a file, a failed poll, then done with its file: the file's answer is still a status
    event (its history row, with the message and warnings it carries); warnings that first come on a
    later answer of the same status are one too."""
    from uniware_source.client.job_status import JobStatus

    for answers in (
        [JobStatus("COMPLETE", None, "", ()), ApiError("status of export job JOB1", "HTTP 503: unavailable"),
         JobStatus("COMPLETE", "https://files/x.csv", "done; warnings: export capped at 10 rows", (), warned=True)],
        [JobStatus("IN_PROGRESS", None, "", ()), JobStatus("IN_PROGRESS", None, "warnings: slow", (), warned=True),
         JobStatus("COMPLETE", "https://files/x.csv", "", ())],
    ):
        _scripted(monkeypatch, answers)
        observed: list[Any] = []
        policy = PollPolicy(initial_seconds=1, max_seconds=1, timeout_seconds=300, complete_grace_seconds=60,
                            multiplier=1, load_with_errors=False)
        result = poll.wait_for_job(None, "JOB1", clock=ManualClock(), policy=policy,  # type: ignore[arg-type]
                                   on_change=observed.append,
                                   stop=threading.Event(), label="job JOB1")
        assert result.outcome == Outcome.COMPLETED
        expected = [(a.status, a.file_url is not None, a.message) for a in answers if isinstance(a, JobStatus)]
        assert [(o.status, o.has_file, o.message) for o in observed] == expected


@pytest.mark.parametrize("expires_in", ["12h", 1e13, [43000], -5, 0, "nan", "inf", True, {"s": 1},
                                        pytest.param(10**400, id="an-int-beyond-floats"), 0.0001, 1])
def test_a_token_lifetime_that_is_not_a_number_of_seconds_is_an_hour_not_a_grant_per_call(
        expires_in: Any, caplog: pytest.LogCaptureFixture) -> None:
    """`expires_in` as text, a list, out of range or negative (and no refresh token): the run goes on
    with the token for an hour, said in a warning, instead of failing with a bare ValueError or asking
    for a new token (the password grant) on every call."""
    import json

    import requests

    from uniware_source.client.auth import TokenProvider

    class TokenHost:
        def __init__(self) -> None:
            self.calls = 0

        def get(self, url: str, **kwargs: Any) -> requests.Response:
            self.calls += 1
            response = requests.Response()
            response.status_code = 200
            response.headers["Content-Type"] = "application/json"
            response._content = json.dumps({"access_token": f"tok-{self.calls}", "token_type": "bearer",
                                            "expires_in": expires_in}).encode()
            return response

    host, clock = TokenHost(), ManualClock()
    provider = TokenProvider("https://acme.unicommerce.com", "u", "p", host, clock, (1, 1))  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING):
        tokens = {provider.bearer() for _ in range(5)}
    assert tokens == {"tok-1"} and host.calls == 1
    assert "expires_in" in caplog.text and "taken as 3600 s" in caplog.text


def test_what_uniware_says_with_a_job_it_made_is_a_warning_not_dropped(caplog: pytest.LogCaptureFixture) -> None:
    """A create answered `successful: true` with errors or warnings (a filter it ignored): the job is
    taken, and what Uniware said is in the log."""
    from uniware_source.client.create_job import create_export_job

    class Answers:
        def post(self, operation: str, path: str, body: Any, facility: str = "") -> dict[str, Any]:
            return {"successful": True, "jobCode": "EXP0005", "errors": [{"code": 100004,
                                                                          "description": "date range ignored"}]}

    with caplog.at_level(logging.WARNING):
        created = create_export_job(Answers(), {}, "BLR01", "create Sale Orders")  # type: ignore[arg-type]
    assert created.job_code == "EXP0005"
    assert "Uniware made job EXP0005 and said" in caplog.text and "date range ignored" in caplog.text


def test_a_facility_list_uniware_garbles_is_an_error_of_the_search_or_left_out_never_a_crash(
        caplog: pytest.LogCaptureFixture) -> None:
    """`parties` that are not a list are a failed facility/search (the run then uses the configured
    codes, or stops naming facility/search); a code that cannot travel in the Facility header (not
    Latin-1, spaces around it, a line break) is left out with a warning, the other facilities kept; a
    code listed twice as ENABLED and DISABLED counts as ENABLED, said."""
    from uniware_source.client.facility_search import facility_statuses

    class Search:
        def __init__(self, parties: Any) -> None:
            self.parties = parties

        def post(self, operation: str, path: str, body: Any, facility: str = "") -> dict[str, Any]:
            return {"successful": True, "parties": self.parties}

    for parties in (5, {"facilityCode": "BLR01"}, "BLR01", True):
        with pytest.raises(ApiError, match="parties are not a list"):
            facility_statuses(Search(parties))  # type: ignore[arg-type]
    assert facility_statuses(Search(None)) == {}  # type: ignore[arg-type]
    listed = [{"facilityCode": code, "facilityStatus": "ENABLED"} for code in ("BLR€1", " BLR01 ", "BLR\r\n01")]
    listed += [{"facilityCode": "DEL02", "facilityStatus": "ENABLED"},
               {"facilityCode": "MUM03", "facilityStatus": "ENABLED"},
               {"facilityCode": "MUM03", "facilityStatus": "DISABLED"}]
    with caplog.at_level(logging.WARNING):
        statuses = facility_statuses(Search(listed))  # type: ignore[arg-type]
    assert statuses == {"DEL02": "ENABLED", "MUM03": "ENABLED"}
    assert "'BLR€1', ' BLR01 ', 'BLR\\r\\n01'" in caplog.text and "cannot travel in the Facility header" in caplog.text
    assert "lists facility MUM03 twice, as ENABLED and as DISABLED: taken as ENABLED" in caplog.text


def test_a_create_answered_with_a_failed_status_is_refused() -> None:
    """Red team helper 149: a create answered with a job code and `status: FAILED` was taken as a job made."""
    from uniware_source.client.create_job import create_export_job

    class Answers:
        def post(self, operation: str, path: str, body: Any, facility: str = "") -> dict[str, Any]:
            return {"successful": True, "jobCode": "EXP0006", "status": "FAILED",
                    "message": "Export could not be scheduled: too many rows"}

    with pytest.raises(ApiError) as refused:
        create_export_job(Answers(), {}, "BLR01", "create Sale Orders")  # type: ignore[arg-type]
    assert "made job EXP0006 but answered it FAILED: Export could not be scheduled" in str(refused.value)


@pytest.mark.parametrize(("answer", "said"), [
    ({"message": "Export ready: https://files.example/x.csv?sig=abc"}, "with a link to a file in its message"),
    ({"warnings": [{"message": "download https://files.example/d/7"}]}, "with a link to a file in its message"),
    ({"recordCount": 57, "fileSize": 20480}, "with recordCount = 57"),
    ({"fileName": "x.csv", "totalRows": "4"}, "with totalRows = 4"),
    ({"data": {"rows": 4}}, "with data.rows = 4"),
    ({"fileSize": 0, "recordCount": 0, "pageSize": 100, "retryCount": 2, "exportJobId": 7}, None),
    ({"message": "No records found"}, None),
], ids=["link-in-message", "link-in-warning", "record-count", "total-rows-text", "nested-rows", "zero-and-other",
        "no-records"])
def test_done_without_a_file_that_counts_rows_or_links_them_is_refused(answer: dict[str, Any],
                                                                        said: Optional[str]) -> None:
    """Red team helper 149: COMPLETE without `filePath` but with a link in its message, or a count of rows or
    bytes above 0, was taken (after the grace) as an export with no rows. It is refused (polled on, given up),
    never quoting the link; a count of 0 and fields of other things are no rows."""
    from uniware_source.client.job_status import job_status
    from uniware_source.errors import ContradictoryStatus

    class Answers:
        def post(self, operation: str, path: str, body: Any) -> dict[str, Any]:
            return {"successful": True, "status": "COMPLETE", **answer}

    if said is None:
        assert job_status(Answers(), "JOB1").file_url is None  # type: ignore[arg-type]
        return
    with pytest.raises(ContradictoryStatus) as refused:
        job_status(Answers(), "JOB1")  # type: ignore[arg-type]
    assert said in str(refused.value) and "sig=abc" not in str(refused.value) and refused.value.refused


@pytest.mark.parametrize("first", ["link-while-pending", "refused-done", "failure-said", "file-to-come", "another-job"])
def test_a_job_that_said_it_has_a_file_is_never_taken_as_empty(monkeypatch: pytest.MonkeyPatch, first: str) -> None:
    """Red team helper 149: done without a file past the grace is taken as an export with no rows only if no
    answer before said otherwise (a link, a refused done answer, words of failure or of a file to come), even
    when answers in between were clean. Another job's answer says nothing of this one."""
    from uniware_source.client.job_status import JobStatus
    from uniware_source.errors import AnotherJobsStatus, ContradictoryStatus

    done = JobStatus("COMPLETE", None, "", ())
    opening: Any = {
        "link-while-pending": JobStatus("IN_PROGRESS", "https://files/x.csv", "", ()),
        "refused-done": ContradictoryStatus("status of export job JOB1", "COMPLETE with successful=false",
                                            refused=True),
        "failure-said": JobStatus("COMPLETE", None, "Export failed: row limit exceeded", ()),
        "file-to-come": JobStatus("COMPLETE", None, "File is being generated, please check again", ()),
        "another-job": AnotherJobsStatus("status of export job JOB1", "FAILED for another job", refused=True),
    }[first]
    _scripted(monkeypatch, [opening, JobStatus("IN_PROGRESS", None, "", ())] + [done] * 30)
    policy = PollPolicy(initial_seconds=5, max_seconds=5, timeout_seconds=3600, complete_grace_seconds=60,
                        multiplier=1, load_with_errors=False)
    result = poll.wait_for_job(None, "JOB1", clock=ManualClock(), policy=policy,  # type: ignore[arg-type]
                               on_change=lambda _: None, stop=threading.Event(), label="job JOB1")
    if first == "another-job":
        assert result.outcome == Outcome.EMPTY, result
        return
    assert result.outcome == Outcome.FAILED and "not taken as an export with no rows" in result.reason, result


def test_what_an_earlier_run_saw_of_a_job_keeps_it_from_being_taken_as_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    """A doubt kept with the job (`doubt_before`) fails it at the grace like one seen in this run; a doubt seen
    in this run is told once (`on_doubt`), to be kept for the next."""
    from uniware_source.client.job_status import JobStatus

    done = JobStatus("COMPLETE", None, "", ())
    policy = PollPolicy(initial_seconds=5, max_seconds=5, timeout_seconds=3600, complete_grace_seconds=60,
                        multiplier=1, load_with_errors=False)
    _scripted(monkeypatch, [done] * 30)
    result = poll.wait_for_job(None, "JOB1", clock=ManualClock(), policy=policy,  # type: ignore[arg-type]
                               on_change=lambda _: None, stop=threading.Event(), label="job JOB1",
                               doubt_before="poll 2 answered IN_PROGRESS with a file link")
    assert result.outcome == Outcome.FAILED
    assert "but earlier poll 2 answered IN_PROGRESS with a file link" in result.reason
    told: list[str] = []
    _scripted(monkeypatch, [JobStatus("IN_PROGRESS", "https://files/x.csv", "", ()),
                            JobStatus("COMPLETE", None, "Export failed", ())] + [done] * 30)
    result = poll.wait_for_job(None, "JOB1", clock=ManualClock(), policy=policy,  # type: ignore[arg-type]
                               on_change=lambda _: None, stop=threading.Event(), label="job JOB1",
                               on_doubt=told.append)
    assert result.outcome == Outcome.FAILED and told == ["poll 1 answered IN_PROGRESS with a file link"], told
