"""Phase 2, poll: `export/job/status` and its answer (the status, the file link, Uniware's message).

What a status means (pending, done, failed) is data in statuses.py; the wait itself is jobs/poll.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional

from ..errors import AnotherJobsStatus, ApiError, ApiErrorDetail, ContradictoryStatus
from ..message_words import says_cut_short
from ..redact import SECRETS, redact
from ..statuses import Meaning, meaning_of
from .api_call import (
    UniwareClient,
    error_details,
    errors_of,
    message_of,
    raise_unsuccessful,
    successful_of,
    unreadable_success,
)

STATUS_PATH = "/services/rest/v1/export/job/status"


@dataclass(frozen=True)
class JobStatus:
    status: str  # upper case, as Uniware spells it
    file_url: Optional[str]  # `filePath`: absolute or relative (see file_link.py)
    message: str  # Uniware's message, then its `warnings` when it sent any
    errors: tuple[ApiErrorDetail, ...]
    warned: bool = False  # the answer carried `warnings`


def job_status(client: UniwareClient, job_code: str, *, facility: Optional[str] = None,
               load_with_errors: bool = False) -> JobStatus:
    """The job's status now, asked with the `Facility` header of the facility it was made for (the status
    call works without it, and sending it there is harmless; a tenant whose status call refused the job
    without it would be polled to the deadline); ApiError when the answer carries none. A done answer with
    `errors[]` is ContradictoryStatus (a file Uniware may have cut short, or no file for a failure) unless
    `load_with_errors`."""
    operation = f"status of export job {job_code}"
    payload = client.post(operation, STATUS_PATH, {"jobCode": job_code}, **({"facility": facility} if facility else {}))
    status = payload.get("status")
    if not isinstance(status, str) or not status:
        raise_unsuccessful(operation, payload)
        raise ApiError(operation, f"the answer carries no status: {redact(payload)}")
    status = status.strip().upper()
    file_url = payload.get("filePath")
    if isinstance(file_url, str):
        SECRETS.add_url(file_url)  # before anything quotes it: the message of this same answer may echo it
    _refuse_another_jobs(operation, job_code, status, payload)
    if meaning_of(status) == Meaning.DONE:
        _refuse_doubtful_done(operation, status, payload)
    warnings = "; ".join(str(w) for w in error_details(payload, "warnings"))
    message = str(payload.get("message") or "")
    answer = JobStatus(
        status=status,
        file_url=file_url if isinstance(file_url, str) and file_url.strip() else None,
        message="; ".join(t for t in (message, f"warnings: {warnings}" if warnings else "") if t),
        errors=tuple(errors_of(payload)),
        warned=bool(warnings),
    )
    if answer.file_url and not answer.errors and meaning_of(status) == Meaning.DONE and not load_with_errors \
            and says_cut_short(answer.message):  # its message or a warning (the seed page's `warnings[]`)
        raise ContradictoryStatus(operation, f"Uniware answered {status} with its file and the words "
                                  f"{answer.message!r}, "
                                  "which says the file holds only part of the export: it is not loaded; if such "
                                  "messages are harmless on this tenant, set on_complete_with_errors = \"load\"",
                                  refused=True)
    if answer.errors and meaning_of(status) == Meaning.DONE and not load_with_errors:
        said = f" ({answer.message})" if answer.message else ""  # the errors follow (ApiError says them)
        what = (f"with its file and errors{said}: the file is not loaded, as it may be cut short" if answer.file_url
                else f"without a file and with errors{said}: not taken as an export with no rows")
        raise ContradictoryStatus(operation, f"Uniware answered {status} {what}; if such errors are harmless on "
                                  "this tenant, set on_complete_with_errors = \"load\"", errors=answer.errors,
                                  refused=True)
    return answer


def _refuse_another_jobs(operation: str, job_code: str, status: str, payload: dict[str, Any]) -> None:
    """ContradictoryStatus for an answer whose `jobCode` names another job, whatever its status: it says
    nothing of this job (not its failure, not its progress). Polled again, given up if Uniware keeps at it."""
    echoed = payload.get("jobCode")
    if echoed in (None, "") or str(echoed).strip().casefold() == job_code.strip().casefold():
        return
    message = message_of(payload)
    said = f" ({message})" if message else ""
    raise AnotherJobsStatus(operation, f"Uniware answered {status} for another job ({redact(str(echoed))}){said}: "
                              f"not taken as the status of job {job_code}", refused=True)  # its errors are not ours


def _refuse_doubtful_done(operation: str, status: str, payload: dict[str, Any]) -> None:
    """ContradictoryStatus for a done answer whose file cannot be trusted to be this job's whole export:
    the answer says `successful: false` (or something that is neither true nor false), or has a `filePath`
    that is not a text (a list, an object: not taken as no file, an empty export).
    Such an answer is polled again and given up if Uniware keeps saying so."""
    message = message_of(payload)
    said = f" ({message})" if message else ""
    if successful_of(payload) is False:
        problem = "with successful=false"
    elif unreadable_success(payload):
        problem = f"with successful={redact(str(payload.get('successful')))!r}, neither true nor false"
    elif payload.get("filePath") is not None and not isinstance(payload.get("filePath"), str):
        problem = f"with a filePath that is not a link ({type(payload.get('filePath')).__name__})"
    elif not str(payload.get("filePath") or "").strip() and (where := _link_elsewhere(payload)):
        problem = (f"without a filePath but with a link under {where!r} (an answer of another shape): not "
                   "taken as an export with no rows")
    elif not str(payload.get("filePath") or "").strip() and (rows := _rows_said(payload)):
        problem = f"without a filePath but {rows}: not taken as an export with no rows"
    else:
        return
    raise ContradictoryStatus(operation, f"Uniware answered {status} {problem}{said}: its file is not loaded",
                              errors=errors_of(payload), refused=True)


# the fields of a status answer besides `filePath` (the seed page, export-job-status.txt; `jobCode` some builds
# echo, `error`/`warning` in the singular others send)
_OTHER_FIELDS = frozenset({"successful", "message", "errors", "warnings", "status", "jobcode", "error", "warning"})
# a field named with one of these words (or inside one) holds the export's file: `fileUrl`, `file_path`, `FILEPATH`
_FILE_WORDS = frozenset({"file", "download", "filepath", "fileurl", "filelink", "downloadurl", "downloadlink"})
_LINK_NAMES = frozenset({"url", "uri", "link", "href", "location", "path"})
_REPORT_WORDS = frozenset({"report", "export", "csv", "signed", "presigned"})  # with a link word: `reportUrl`
_FILE_ENDINGS = (".csv", ".tsv", ".csv.gz", ".gz", ".zip", ".xlsx", ".xls", ".txt")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")  # http, https, s3...
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")


def _link_elsewhere(payload: Any, where: str = "", named: bool = False, linked: bool = False) -> Optional[str]:
    """Where a done answer without `filePath` holds the export's file link under another name: a URL, an
    absolute path or a path ending like a file in a field named with the word file or download, or inside
    one (`fileUrl`, `FilePath`, `file`, `data.filePath`, `downloadInfo.href`); a URL in a field named just
    so (`url`, `link`, `href`, `location`...) or so with report or export (`reportUrl`); or a URL or absolute
    path ending like a file (`.csv`, `.zip`...) anywhere outside the documented fields. The field's name,
    never its value: a link is a credential. Other values (`fileSize: 0`, `fileType: "text/csv"`,
    `fileCreated: "01/02/2024"`, `helpUrl: "https://support..."`, `facilityLocation: "/WH-1"`, a `userProfile`)
    are no file link."""
    if isinstance(payload, str):
        return where if where and _is_file_link(payload, named, linked) else None
    if isinstance(payload, dict):
        for key, value in payload.items():
            name = str(key)
            if not where and (name == "filePath" or name.casefold() in _OTHER_FIELDS):
                continue
            words = {word.casefold() for word in _WORDS.findall(name)}
            found = _link_elsewhere(value, f"{where}.{name}" if where else name, named or bool(words & _FILE_WORDS),
                                    linked or (bool(words & _LINK_NAMES)
                                               and (len(words) == 1 or bool(words & _REPORT_WORDS))))
            if found:
                return found
    elif isinstance(payload, list):
        for index, value in enumerate(payload):
            found = _link_elsewhere(value, f"{where}[{index}]", named, linked)
            if found:
                return found
    return None


# words of a field's name that say it counts the export's rows or bytes (`recordCount`, `totalRows`, `fileSize`,
# `data.rows`); `size`/`count`/`total` alone or with a word of the file, not `pageSize` or `retryCount`
_ROW_WORDS = frozenset({"row", "rows", "record", "records", "line", "lines", "entries", "bytes"})
_AMOUNT_WORDS = frozenset({"size", "count", "total", "length"})
_OF_THE_FILE = frozenset({"file", "export", "report", "csv", "download", "data", "result", "results"})
_MESSAGE_FILE_ENDINGS = tuple(ending for ending in _FILE_ENDINGS if ending != ".txt")  # a message's `.txt`: help
_OF_A_FILE = re.compile(r"(?i)\b(?:download\w*|files?|ready|available at|csv)\b")
_A_LINK = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s\"'<>]+")


def _rows_said(payload: dict[str, Any]) -> Optional[str]:
    """What a done answer without a file says of rows it has (never a link itself): a link in its message,
    warnings or errors; or a field that counts rows or bytes (`recordCount: 57`, `fileSize: 20480`) above 0."""
    texts = [str(payload.get(name) or "") for name in ("message", "description")]
    texts += [str(detail) for name in ("errors", "warnings", "error", "warning")
              for detail in error_details(payload, name)]
    if any(_links_its_file(text) for text in texts):
        return "with a link to a file in its message"
    return _count_above_zero(payload, "")


def _links_its_file(text: str) -> bool:
    """Whether a message holds a link to the export's file: ending like one (`.csv`...), or said to be a
    file or download ("Export ready: <link>", "download <link>"); not a help page ("see https://help...")."""
    links = _A_LINK.findall(text)
    return any(link.split("?", 1)[0].split("#", 1)[0].casefold().endswith(_MESSAGE_FILE_ENDINGS) for link in links) \
        or (bool(links) and _OF_A_FILE.search(_A_LINK.sub(" ", text)) is not None)


def _count_above_zero(payload: Any, where: str) -> Optional[str]:
    if isinstance(payload, dict):
        for key, value in payload.items():
            name = str(key)
            if not where and (name == "filePath" or name.casefold() in _OTHER_FIELDS):
                continue
            found = _count_above_zero(value, f"{where}.{name}" if where else name)
            if found:
                return found
        return None
    if isinstance(payload, list):
        return next((found for index, value in enumerate(payload)
                     if (found := _count_above_zero(value, f"{where}[{index}]"))), None)
    words = {word.casefold() for word in _WORDS.findall(where.rsplit(".", 1)[-1].split("[", 1)[0])}
    counts = bool(words & _ROW_WORDS) or (bool(words & _AMOUNT_WORDS) and words <= _AMOUNT_WORDS | _OF_THE_FILE)
    if not counts or isinstance(payload, bool):
        return None
    number = payload if isinstance(payload, (int, float)) else \
        float(payload.strip().replace(",", "")) if isinstance(payload, str) \
        and re.fullmatch(r"\s*\d[\d,]*(?:\.\d+)?\s*", payload) else None
    return f"with {where} = {number:g}" if number is not None and number > 0 else None


def _is_file_link(value: str, file_named: bool, link_named: bool) -> bool:
    """Whether a text in a status answer is a file's link, by what the field's name says of it."""
    text = value.strip().casefold()
    url, absolute = bool(_SCHEME.match(text)), text.startswith("/") and bool(text.strip("/ "))
    file_like = text.split("?", 1)[0].split("#", 1)[0].endswith(_FILE_ENDINGS)
    if file_named and (url or absolute or ("/" in text and file_like)):
        return True
    if link_named and url:
        return True
    return (url or absolute) and file_like
