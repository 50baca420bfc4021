"""Waiting for an export job: capped exponential backoff, a deadline, every status change reported.

What a status means is `statuses.MEANING`. Done with a file: a file to load. Done without one is
polled for a grace period (the file link can come late), then taken as an empty export; the grace
counts only continuous time at done without a file and starts again whenever the status leaves it.
A job that at any poll said it has a file or rows (a link, even with a pending status; a done answer
refused for errors, `successful: false`, words of a cut, a count of rows; a done message of failure or
of a file still to come) is never taken as empty: done without a file after that fails it, and its
window is exported again.
A poll that got no status (an outage, a refusal) breaks that continuity: nothing is known of the job
meanwhile, so the grace starts again; and at least GRACE_ANSWERS answers in a row must say done
without a file. Failed statuses end the job. Anything else is pending until the deadline; statuses
nobody has seen before are logged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from ..client.api_call import UniwareClient
from ..client.job_status import JobStatus, job_status
from ..clock import Clock
from ..errors import AnotherJobsStatus, ApiError, ApiErrorDetail, ContradictoryStatus
from ..message_words import says_cut_short, says_failed, says_not_ready
from ..settings import PollPolicy
from ..statuses import Meaning, Outcome, is_known, meaning_of

log = logging.getLogger(__name__)

INVALID_JOB_CODE = 100006
# `successful: false` to every status call for this long (at least 3 answers; at most half the job's
# timeout): Uniware will not report the job (an unknown job code, whatever its build calls the error),
# so it is given up, not waited for until job_timeout_seconds on every run. A refusal that passes
# (a busy export service) resets the count.
REFUSALS_TO_GIVE_UP = 3
REFUSED_FOR_SECONDS = 600.0
# 100006 (invalid job code) this many answers in a row, for this long (at most half the job's timeout):
# one alone may be a job just made that its status service does not see yet, and giving it up orphans it
# (the next create of the window is then refused with 100014 until it ends). A failed call (no answer,
# an HTTP error) neither counts nor starts over; a status or another refusal starts over.
UNKNOWN_TO_GIVE_UP = 3
UNKNOWN_FOR_SECONDS = 60.0
# done without a file must be answered this many times in a row (no failed poll between), over the
# grace period, before the job is taken as an export with no rows
GRACE_ANSWERS = 3
# while a job's status does not change, a line says it is still waiting this often (a long wait at
# Uniware is otherwise silent off a terminal, where the live view does not run)
STILL_WAITING_EVERY_SECONDS = 60.0


@dataclass(frozen=True)
class Observation:
    """A status as Uniware reported it, when it changed."""

    status: str
    message: str
    errors: tuple[ApiErrorDetail, ...]
    has_file: bool
    polls: int
    observed_at: datetime


@dataclass(frozen=True)
class PollResult:
    outcome: Outcome  # completed | empty | failed | timed_out | stopped
    status: Optional[str]
    file_url: Optional[str]
    reason: str
    polls: int


def wait_for_job(
    client: UniwareClient,
    job_code: str,
    *,
    clock: Clock,
    policy: PollPolicy,
    on_change: Callable[[Observation], None],
    stop: threading.Event,
    label: str,
    polls_before: int = 0,
    last_status: Optional[str] = None,
    facility: Optional[str] = None,
    doubt_before: Optional[str] = None,
    on_doubt: Callable[[str], None] = lambda _: None,
) -> PollResult:
    """Poll `job_code` (made for `facility`) until it ends, the deadline passes or `stop` is set.
    `doubt_before`: what an earlier run saw that says the job has a file or rows; `on_doubt` is told
    when this run first sees such an answer (kept with the job, for the next run)."""
    started = clock.monotonic()
    delay = policy.initial_seconds
    polls = polls_before
    complete_since: Optional[float] = None  # the first of the answers in a row done without a file
    complete_answers = 0  # how many in a row
    seen_without_file = False  # done without a file was reported: the same status with its file is news
    said_message = ""  # the message of the last status reported
    doubt = doubt_before  # the first answer that said the job has a file or rows (never forgotten)
    last_problem = ""
    warned_unknown: set[str] = set()
    refusals = 0
    unknown = 0  # 100006 answers in a row
    refused_since = unknown_since = 0.0
    refusal_limit = min(REFUSED_FOR_SECONDS, policy.timeout_seconds / 2)
    unknown_limit = min(UNKNOWN_FOR_SECONDS, policy.timeout_seconds / 2)
    said_at = started
    problem_said_at = started
    while True:
        if stop.is_set():
            return PollResult(Outcome.STOPPED, last_status, None, "the run was interrupted", polls)
        try:
            status = job_status(client, job_code, facility=facility, load_with_errors=policy.load_with_errors)
        except ApiError as error:
            if stop.is_set():  # the call the stop cut: no failure to keep trying after (nor to say as one)
                return PollResult(Outcome.STOPPED, last_status, None, "the run was interrupted", polls)
            complete_since, complete_answers = None, 0  # the job's status meanwhile is unknown
            if doubt is None and isinstance(error, ContradictoryStatus) and not isinstance(error, AnotherJobsStatus):
                doubt = f"an answer was refused ({error})"
                on_doubt(doubt)
            said_unknown = INVALID_JOB_CODE in error.codes
            if error.refused or said_unknown:  # Uniware's answer; a failed call says nothing of the job
                refusals = refusals + 1 if error.refused else 0
                unknown = unknown + 1 if said_unknown else 0
                refused_since = clock.monotonic() if refusals == 1 else refused_since
                unknown_since = clock.monotonic() if unknown == 1 else unknown_since
            given_up = refusals >= REFUSALS_TO_GIVE_UP and clock.monotonic() - refused_since >= refusal_limit
            if given_up and isinstance(error, ContradictoryStatus):
                return PollResult(Outcome.FAILED, last_status, None,
                                  f"Uniware kept answering job {job_code} with answers not taken as its status "
                                  f"({refusals} answers over {_duration(clock.monotonic() - refused_since)}): "
                                  f"{error}", polls)
            if given_up or (unknown >= UNKNOWN_TO_GIVE_UP and clock.monotonic() - unknown_since >= unknown_limit):
                return PollResult(Outcome.FAILED, last_status, None,
                                  f"Uniware no longer knows job {job_code}: {error}", polls)
            if str(error) != last_problem or clock.monotonic() - problem_said_at >= STILL_WAITING_EVERY_SECONDS:
                problem_said_at = clock.monotonic()  # the same failure again is said once a minute, not per poll
                log.warning("%s: polling failed, will keep trying until the deadline: %s", label, error)
            last_problem = str(error)
        else:
            refusals = unknown = 0
            polls += 1
            has_file = status.file_url is not None
            if status.status != last_status or (has_file and seen_without_file) \
                    or (status.warned and status.message != said_message):
                if status.warned:
                    log.warning("%s: Uniware answered %s and warned: %s", label, status.status, status.message)
                on_change(Observation(status.status, status.message, status.errors, has_file, polls, clock.now()))
                said_at, said_message = clock.monotonic(), status.message
                if has_file:
                    complete_since, seen_without_file = None, False
            elif clock.monotonic() - said_at >= STILL_WAITING_EVERY_SECONDS:
                said_at = clock.monotonic()
                log.info("job %s: still %s after %s (poll %d)", job_code, status.status,
                         _duration(said_at - started), polls,
                         extra={"job_code": job_code, "status": status.status, "polls": polls})
            last_status = status.status
            meaning = meaning_of(status.status)
            if doubt is None:
                doubt = _doubt_of(status, meaning, polls)
                if doubt is not None:
                    on_doubt(doubt)
            if meaning != Meaning.DONE:
                complete_since, complete_answers = None, 0  # the grace counts only continuous time at done
                seen_without_file = False
            if meaning == Meaning.DONE:
                if status.file_url:
                    if status.errors:  # on_complete_with_errors = "load": loaded, and said (in the history too)
                        log.warning("%s: Uniware reported %s with errors, its file is loaded: %s", label, status.status,
                                    "; ".join(str(e) for e in status.errors))
                    elif says_cut_short(status.message):  # the same, said in its message
                        log.warning("%s: Uniware reported %s with its file, saying: %s; the file is loaded "
                                    "(on_complete_with_errors = \"load\")", label, status.status, status.message)
                    return PollResult(Outcome.COMPLETED, status.status, status.file_url, "", polls)
                now = clock.monotonic()
                seen_without_file = True
                complete_since = complete_since if complete_since is not None else now
                complete_answers += 1
                if now - complete_since >= policy.complete_grace_seconds and complete_answers >= GRACE_ANSWERS:
                    # no file because it failed, not "no rows" (its errors, here, the setting calls harmless)
                    if says_failed(status.message):
                        return PollResult(Outcome.FAILED, status.status, None,
                                          f"Uniware reported {status.status} without a file, saying: "
                                          f"{status.message}", polls)
                    if doubt is not None:
                        return PollResult(Outcome.FAILED, status.status, None,
                                          f"Uniware reported {status.status} without a file for "
                                          f"{_duration(now - complete_since)}, but earlier {doubt}: not taken as "
                                          "an export with no rows; the window is exported again", polls)
                    return PollResult(Outcome.EMPTY, status.status, None,
                                      f"{status.status} without a file for {_duration(now - complete_since)} "
                                      f"({complete_answers} answers in a row): taken as an export with no rows",
                                      polls)
            elif meaning == Meaning.FAILED:
                details = "; ".join([status.message] + [str(e) for e in status.errors]).strip("; ")
                return PollResult(Outcome.FAILED, status.status, None, f"Uniware reported {status.status}"
                                  + (f": {details}" if details else ""), polls)
            elif not is_known(status.status) and status.status not in warned_unknown:
                warned_unknown.add(status.status)
                log.warning("%s: unknown status %r, treated as still pending", label, status.status)
        elapsed = clock.monotonic() - started
        if elapsed >= policy.timeout_seconds:
            reason = (f"still {last_status or 'unanswered'} after {elapsed:.0f} s "
                      f"(job_timeout_seconds={policy.timeout_seconds:.0f})")
            if last_problem:
                reason += f"; last polling error: {last_problem}"
            return PollResult(Outcome.TIMED_OUT, last_status, None, reason, polls)
        if not clock.sleep(min(delay, max(0.0, policy.timeout_seconds - elapsed)), stop):
            return PollResult(Outcome.STOPPED, last_status, None, "the run was interrupted", polls)
        delay = min(delay * policy.multiplier, policy.max_seconds)


def _doubt_of(status: JobStatus, meaning: Meaning, polls: int) -> Optional[str]:
    """Why, by this answer, the job is not one without rows: a file link (with any status), or a done
    answer's words of a failure, a cut or a file still to come."""
    if status.file_url is not None:
        return f"poll {polls} answered {status.status} with a file link"
    if meaning == Meaning.DONE and (says_failed(status.message) or says_cut_short(status.message)
                                    or says_not_ready(status.message)):
        return f"poll {polls} answered {status.status} saying: {status.message}"
    return None


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"
