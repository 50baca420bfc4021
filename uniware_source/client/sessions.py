"""HTTP sessions: dlt's retrying requests client, configured per kind of call.

- API calls retry 429 (honouring Retry-After), 5xx, resets and timeouts.
- Token calls do not retry HTTP 500: Uniware has answered bad credentials with 500, and repeating
  a password grant with bad credentials locks the account (see auth.py).
- File downloads go to another host and never carry the Uniware bearer token; they are not
  retried by the session (the downloader resumes them itself, within its deadline).
"""

from __future__ import annotations

from dataclasses import replace

from dlt.sources.helpers.requests import Client

from ..settings import HttpPolicy

TOKEN_RETRY_STATUSES = (429, 502, 503, 504)
RETRY_STATUSES = (429, *range(500, 600))


def _client(policy: HttpPolicy, statuses: tuple[int, ...]) -> Client:
    return Client(
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
    return _client(replace(policy, max_attempts=1), ())
