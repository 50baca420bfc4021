"""Phase 1, create: `export/job/create`, or taking over the identical job Uniware says is running.

A create whose answer was lost (reset, timeout, 5xx) is retried with the same body; if the first
attempt did create the job, Uniware answers error 100014 and names it, so no duplicate is left behind.
The job named is returned with whether an attempt of this call went unanswered: when none did, it is
not this call's job, and the submit step takes it only if it is one this pipeline made for the same
window (see steps/submit.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from ..errors import ApiError, ApiErrorDetail
from ..redact import redact
from ..statuses import Meaning, meaning_of
from .api_call import UniwareClient, error_details, errors_of, message_of, successful_of
from .sessions import unanswered_attempts

log = logging.getLogger(__name__)

CREATE_PATH = "/services/rest/v1/export/job/create"
DUPLICATE_JOB = 100014  # "a job for this request is already running", with its jobCode
JOB_CODE_MAX_CHARS = 200  # the seed page says only "string"; a code is an identifier, not a document


@dataclass(frozen=True)
class CreatedJob:
    job_code: str
    export_job_id: Optional[str]
    adopted: bool = False  # Uniware said an identical job was already running: we took it over
    unanswered: bool = False  # an attempt of this create went unanswered (so the job named may be its own)


def create_export_job(client: UniwareClient, body: Mapping[str, Any], facility: str, operation: str) -> CreatedJob:
    """Create a job for `facility` (its Facility header), or take over the identical running one."""
    retried_before = unanswered_attempts(CREATE_PATH)
    payload = client.post(operation, CREATE_PATH, body, facility=facility)
    job_code = _code(payload.get("jobCode"), operation)
    made = job_code is not None
    errors = error_details(payload)
    if successful_of(payload) is False or (not made and errors):  # also a build without `successful`
        running = _running_job_code(errors)
        if running is not None:
            log.info("%s: Uniware says job %s is already running for this request", operation, running)
            return CreatedJob(running, None, adopted=True,
                              unanswered=unanswered_attempts(CREATE_PATH) > retried_before)
        problem = message_of(payload) or "Uniware refused the export job"
        if any(error.code == DUPLICATE_JOB for error in errors):  # a build that does not name the running job
            whose = ("likely this run's own create whose answer was lost" if unanswered_attempts(CREATE_PATH) >
                     retried_before else "made by another run, a schedule or someone in Uniware's Exports page")
            problem += (" (Uniware says an identical job is already running but does not name it, so it cannot be "
                        f"taken over: {whose}. The window stays planned: run again once that job is done, as its "
                        "Exports page shows)")
        raise ApiError(operation, problem, errors=errors)
    if job_code is None:
        raise ApiError(operation, f"the answer carries no jobCode: {redact(payload)}")
    said = [*errors_of(payload), *error_details(payload, "warnings"), *error_details(payload, "warning")]
    message = "; ".join(str(text) for text in (message_of(payload), payload.get("description")) if text)
    ignored = filters_said_ignored(body, said, message)
    if ignored:  # its file would hold the rows the filter leaves out: nothing tells them apart after
        words = "; ".join([str(e) for e in said] + ([message] if message else []))
        raise ApiError(operation, f"Uniware made job {job_code} but said of its filter {', '.join(ignored)}: "
                       f"{words}. Its file would hold the rows that filter leaves out, so it is not loaded: check the "
                       "filter's id and values for this report (its Exports page shows them)", errors=said)
    if meaning_of(str(payload.get("status") or "").strip().upper()) == Meaning.FAILED:  # made, and said failed
        raise ApiError(operation, f"Uniware made job {job_code} but answered it {str(payload.get('status')).strip()}"
                       + (f": {message}" if message else ""), errors=said)
    if said:  # a job made anyway, said of nothing it asked for
        log.warning("%s: Uniware made job %s and said: %s", operation, job_code, "; ".join(str(e) for e in said))
    export_job_id = payload.get("exportJobId")
    return CreatedJob(job_code, str(export_job_id) if export_job_id is not None else None)


def _request_filters(body: Mapping[str, Any]) -> dict[str, bool]:
    """The ids of the request's filters, each with whether it is a date filter (`dateRange`)."""
    filters = body.get("exportFilters")
    return {str(f["id"]): "dateRange" in f for f in filters if isinstance(f, Mapping) and f.get("id")} \
        if isinstance(filters, list) else {}


# words saying a filter was not applied (read with `_` and camelCase as spaces: FILTER_NOT_APPLICABLE), and a
# filter named without its id ("1 filter was ignored"); Uniware's code for a filter it does not take
_IGNORED = re.compile(r"(?i)\b(?:ignored|ignoring|not applicable|inapplicable|not applied|not supported|unsupported|"
                      r"unknown|invalid|not valid|skipped|dropped|disregarded|discarded|omitted|removed|"
                      r"not (?:recogni[sz]ed|allowed|used|honou?red|available|found)|unrecogni[sz]ed|does not exist|"
                      r"no such|no effect)\b")
_A_FILTER = re.compile(r"(?i)\bfilters?\b")
_A_DATE_RANGE = re.compile(r"(?i)\bdate ?(?:range|filter)s?\b")  # the date filter, named by what it is
# words of rows: "rows outside the date range skipped" is the filter at work
_OF_ROWS = re.compile(r"(?i)\b(?:rows?|records?|lines?|entries|orders?|items?)\b")
_FILTER_REFUSED = 100003


def filters_said_ignored(body: Mapping[str, Any], said: Sequence[ApiErrorDetail], message: str) -> list[str]:
    """The request's filters Uniware's words (`said`: its errors and warnings; `message`) say it ignored (a
    value filter's rows, or the date filter's days: a job without a file would be taken as a window without
    rows, no file being there for the window check): each that a clause names (its id in any case,
    `exportFilters[i]` in a field name, "date range" for the date filter) together with words of not
    applying it, or under Uniware's code for a filter it does not take; every one of them when a clause
    says a filter was ignored naming none. A clause that names an id which is also a plain word (`status`,
    `name`) counts only where it speaks of a filter ("Unknown column status" is not one); words of another
    clause do not count ("Filter channelFilter applied; 3 invalid rows skipped")."""
    dated = _request_filters(body)
    filters = list(dated)
    if not filters:
        return []
    order = [str(f.get("id")) for f in body.get("exportFilters") or [] if isinstance(f, Mapping)]
    texts = [(f"{e} {e.params or ''}", e.field_name or "", e.code == _FILTER_REFUSED) for e in said]
    texts.append((message, "", False))
    found: list[str] = []
    for text, field_name, refused in texts:
        for clause in re.split(r"[.;!?\n]+(?:\s|$)", text):
            spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", clause).replace("_", " ")
            if not (refused or _IGNORED.search(spaced)):
                continue
            speaks = bool(_A_FILTER.search(spaced))
            named = [f for f in filters if (_mentions(clause, f) and (speaks or f.lower().endswith("filter")))
                     or _by_position(field_name, order) == f or _mentions(field_name, f)
                     or (dated[f] and bool(_A_DATE_RANGE.search(spaced)) and not _OF_ROWS.search(spaced))]
            if not named and speaks and not any(_mentions(clause, other) for other in order):
                named = filters  # "1 filter was ignored", "Filter 'Channel' ...": which one is not said
            found += [f for f in named if f not in found]
    return found


def _mentions(text: str, identifier: str) -> bool:
    """Whether `text` holds `identifier` as a word of its own, in any case (`filter_channelFilter` holds it)."""
    return re.search(rf"(?i)(?<![a-z0-9]){re.escape(identifier)}(?![a-z0-9])", text) is not None


def _by_position(field_name: str, order: Sequence[str]) -> Optional[str]:
    """The filter id a field name gives by its place in the request (`exportFilters[1]`)."""
    at = re.search(r"(?i)(?:exportFilters|filters)(?:\[(\d+)\]|\.(\d+))", field_name)
    if at is None:
        return None
    index = int(at.group(1) or at.group(2))
    return order[index] if index < len(order) else None


def _code(value: Any, operation: str = "create") -> Optional[str]:
    """A job code as the answer gives it: text, or a number some builds may send (`2`), as text. A code
    that cannot be one (control characters, longer than JOB_CODE_MAX_CHARS) is refused here, naming it:
    it would be sent back in every poll, kept in state and the history, and named in errors."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    code = str(value).strip()
    if len(code) > JOB_CODE_MAX_CHARS or any(not character.isprintable() for character in code):
        shown = redact(repr(code[:60]) + ("..." if len(code) > 60 else ""))
        raise ApiError(operation, f"the answer's jobCode {shown} ({len(code)} characters) is not a job code: "
                                  f"expected printable text of at most {JOB_CODE_MAX_CHARS} characters")
    return code or None


def _running_job_code(errors: list[ApiErrorDetail]) -> Optional[str]:
    for error in errors:
        if error.code == DUPLICATE_JOB and error.params:
            code = _code(error.params.get("jobCode"), "create (the job Uniware says is running)")
            if code is not None:
                return code
    return None
