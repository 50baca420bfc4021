"""HTTP sessions: dlt's retrying requests client, configured per kind of call.

- API calls retry 429 (honouring Retry-After), 5xx, resets and timeouts.
- Token calls do not retry HTTP 500: Uniware has answered bad credentials with 500, and repeating
  a password grant with bad credentials locks the account (see auth.py).
- File downloads go to another host and never carry the Uniware bearer token; they are not
  retried by the session (the downloader resumes them itself, within its deadline).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from typing import Any, Optional
from urllib.parse import urlsplit

import requests
from dlt.sources.helpers.requests import Client
from dlt.sources.helpers.requests.retry import _make_retry
from dlt.sources.helpers.requests.session import Session
from tenacity import RetryCallState, retry_all, retry_base

from ..redact import redact
from ..settings import HttpPolicy
from .connection_errors import is_name_resolution_error, is_tls_mismatch
from .facility_search import FACILITY_PATH
from .interruptible import (
    API_ANSWER_MAX_BYTES,
    LIST_ANSWER_MAX_BYTES,
    InterruptibleAdapter,
    answer_within,
    capped_redirect_body,
    is_cut,
)

log = logging.getLogger(__name__)


def _not_worth_retrying(error: BaseException) -> bool:
    if not isinstance(error, requests.ConnectionError):
        return False
    return is_name_resolution_error(error) or "Connection refused" in str(error) or is_tls_mismatch(error)


_retried = threading.local()


def unanswered_attempts(path: str) -> int:
    """How many attempts of this thread's calls to `path` (a URL path ending so) so far were retried after
    an answer that may have come after the server acted on them (a 5xx, a reset, a timeout; not a 429,
    which refused it)."""
    counts: dict[str, int] = getattr(_retried, "counts", {})
    return sum(count for called, count in counts.items() if called.endswith(path))


def _count_unanswered(state: RetryCallState, request: Any) -> None:
    outcome = state.outcome
    if outcome is not None and not outcome.failed and getattr(outcome.result(), "status_code", None) == 429:
        return
    path = urlsplit(str(getattr(request, "url", "") or "")).path
    if not hasattr(_retried, "counts"):
        _retried.counts = {}
    _retried.counts[path] = _retried.counts.get(path, 0) + 1


def _announce(state: RetryCallState) -> None:
    """'retrying in 4 s, attempt 2/5' before each wait of the retrying session."""
    outcome = state.outcome
    wait = state.next_action.sleep if state.next_action is not None else 0.0
    reason = "?"
    request = next((a for a in state.args if getattr(a, "url", None)), None)  # (session, request) or (request,)
    _count_unanswered(state, request)
    where = ""
    if request is not None and getattr(request, "url", None):
        parts = urlsplit(request.url)
        where = f"{parts.netloc.rsplit('@', 1)[-1]}{parts.path} "
    if outcome is not None:
        if outcome.failed:
            error = outcome.exception()
            reason = f"{type(error).__name__}"
        else:
            reason = f"HTTP {getattr(outcome.result(), 'status_code', '?')}"
    attempts = getattr(state.retry_object.stop, "max_attempt_number", "?")
    log.warning("%s", redact(f"{where}{reason}: retrying in {wait:.0f} s, "
                             f"attempt {state.attempt_number + 1}/{attempts}"))


class AnnouncingClient(Client):
    """dlt's retrying client that says when it retries, and does not retry a host that cannot be
    reached (DNS failure, connection refused): those fail at once, naming the host. Its connections
    can be cut by a stop or a deadline (interruptible.py)."""

    def __init__(self, answer_seconds: Optional[float] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._adapter = InterruptibleAdapter(pool_maxsize=kwargs.get("max_connections", 50))
        self._answer_seconds = answer_seconds  # each attempt's whole answer, when bounded

    def _make_session(self) -> Session:
        session = Session(**self._session_kwargs)  # type: ignore[arg-type]
        for key, value in self._session_attrs.items():
            setattr(session, key, value)
        session.mount("http://", self._adapter)
        session.mount("https://", self._adapter)
        retrying: Any = _make_retry(**self._retry_kwargs)
        retrying = retrying.copy(retry=retry_all(retrying.retry, _RetryUnlessUnreachable()), before_sleep=_announce)
        send = session.send if self._answer_seconds is None else \
            answer_within(session.send, self._answer_seconds, answer_cap)
        if self._answer_seconds is not None:  # an API answer: its redirects' bodies are capped too
            session.hooks["response"].append(capped_redirect_body())
        session.send = retrying.wraps(send)  # type: ignore[method-assign]
        return session


def answer_cap(request: requests.PreparedRequest) -> int:
    """How much of an API answer is read: a list of facilities may be long, any other answer is small."""
    path = (request.path_url or "").split("?", 1)[0].rstrip("/")
    return LIST_ANSWER_MAX_BYTES if path.endswith(FACILITY_PATH) else API_ANSWER_MAX_BYTES


class _RetryUnlessUnreachable(retry_base):
    """False for an exception no retry helps; True otherwise (the other conditions decide)."""

    def __call__(self, retry_state: RetryCallState) -> bool:
        outcome = retry_state.outcome
        if outcome is None or not outcome.failed:
            return True
        error = outcome.exception()
        return error is None or not (_not_worth_retrying(error) or is_cut())

TOKEN_RETRY_STATUSES = (429, 502, 503, 504)
RETRY_STATUSES = (429, *range(500, 600))


def _client(policy: HttpPolicy, statuses: tuple[int, ...], whole_answer: bool = True) -> Client:
    """`whole_answer`: an API answer (small JSON) must arrive whole within the read timeout; a file's
    body has its own deadline (download.py)."""
    return AnnouncingClient(
        answer_seconds=policy.read_timeout_seconds if whole_answer else None,
        request_timeout=policy.timeout,
        raise_for_status=False,
        status_codes=statuses,
        request_max_attempts=policy.max_attempts,
        request_backoff_factor=policy.backoff_factor,
        request_max_retry_delay=policy.max_retry_delay_seconds,
        respect_retry_after_header=True,
    )


def api_client(policy: HttpPolicy) -> Client:
    return _client(policy, RETRY_STATUSES)


def token_client(policy: HttpPolicy) -> Client:
    return _client(policy, TOKEN_RETRY_STATUSES)


def file_client(policy: HttpPolicy) -> Client:
    """No retries of its own: the downloader retries (and resumes) itself, within one deadline per file."""
    return _client(replace(policy, max_attempts=1), (), whole_answer=False)
