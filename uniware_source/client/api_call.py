"""One authenticated call to the Uniware API, with Uniware's error envelope turned into exceptions.

Every endpoint goes through `UniwareClient.post`: the bearer token, one renewal after a 401, a 403
(on create: the Facility header is wrong) as FacilityAccessError. Business failures arrive as HTTP 200
with ``successful: false``; the phase modules (create_job, job_status, facility_search) read them with
`raise_unsuccessful` / `error_details`. Transient failures (429, 5xx, resets, timeouts) are retried by
dlt's retrying session before anything here sees them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Optional

import requests
from dlt.sources.helpers.requests import Client

from ..errors import ApiError, ApiErrorDetail, AuthError, FacilityAccessError
from ..redact import excerpt, redact
from .bearer import BearerTokens

log = logging.getLogger(__name__)


class UniwareClient:
    """The tenant's API: its base URL, the token provider and the retrying session every call uses."""

    def __init__(self, base_url: str, tokens: BearerTokens, http: Client, timeout: tuple[float, float]) -> None:
        self.base_url = base_url
        self.tokens = tokens
        self._http = http
        self._timeout = timeout

    def post(self, operation: str, path: str, body: Mapping[str, Any],
             facility: Optional[str] = None) -> dict[str, Any]:
        """POST `body` as JSON; the answer's JSON object, or ApiError / AuthError / FacilityAccessError
        naming `operation`."""
        headers = {"Content-Type": "application/json"}
        if facility:
            headers["Facility"] = facility
        response: Optional[requests.Response] = None
        for attempt in (1, 2):
            token = self.tokens.bearer()
            failure: Optional[str] = None
            try:
                response = self._http.post(self.base_url + path, json=body, timeout=self._timeout,
                                           headers={**headers, "Authorization": f"bearer {token}"})
            except requests.RequestException as error:
                failure = f"{type(error).__name__}: {redact(error)}"
            if failure is not None or response is None:
                raise ApiError(operation, f"no answer from Uniware ({failure})")
            if response.status_code == 401 and attempt == 1:
                log.info("%s: Uniware answered 401, renewing the access token", operation)
                self.tokens.invalidate(token)
                continue
            break
        assert response is not None
        payload = json_of(response)
        if response.status_code == 401:
            raise AuthError(f"{operation}: Uniware answered 401 even with a fresh token ({_text(payload, response)})")
        if response.status_code == 403:
            raise FacilityAccessError(operation, _text(payload, response), http_status=403)
        if response.status_code != 200:
            raise ApiError(operation, _text(payload, response), http_status=response.status_code,
                           errors=error_details(payload))
        if not isinstance(payload, dict):
            raise ApiError(operation, f"expected JSON, got {_snippet(response)}", http_status=200)
        return payload


def json_of(response: requests.Response) -> Any:
    """The answer's JSON, None when it is none (not JSON, or nested deeper than Python parses: a hostile
    `[[[[...` under the size cap raised RecursionError, which no caller expects)."""
    try:
        return response.json()
    except (ValueError, RecursionError):
        return None


def _snippet(response: requests.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    kind = response.headers.get("Content-Type", "unknown content type")
    return redact(kind) + ": " + excerpt(text, 160)


def _text(payload: Any, response: requests.Response) -> str:
    if isinstance(payload, dict):
        parts = [str(payload[k]) for k in ("message", "error", "error_description") if payload.get(k)]
        if parts:
            return redact(": ".join(dict.fromkeys(parts)))
    return _snippet(response)


def error_details(payload: Any, field: str = "errors") -> list[ApiErrorDetail]:
    """The `errors` (or `warnings`) of an answer, whatever their shape: a list, one object, a text;
    empty when there are none (absent, null, empty)."""
    items = payload.get(field) if isinstance(payload, dict) else None
    entries = items if isinstance(items, list) else [items]
    return [ApiErrorDetail.from_json(e) for e in entries if not _says_nothing(e)]


def errors_of(payload: Any) -> list[ApiErrorDetail]:
    """The answer's errors, under `errors` or a build's singular `error`."""
    return [*error_details(payload), *error_details(payload, "error")]


def _says_nothing(value: Any) -> bool:
    """An entry that holds no error: null, blank, `"null"`, `"[]"`, `false`, `0`, or an object of such
    (`{"fieldErrors": []}`). `true` or a count above 0 says there are errors."""
    if isinstance(value, (bool, int, float)):
        return not value
    if isinstance(value, str):
        return "".join(value.split()).lower() in ("", "null", "none", "[]", "{}", "false", "0")
    if isinstance(value, dict):
        return all(_says_nothing(v) for v in value.values())
    if isinstance(value, list):
        return all(_says_nothing(v) for v in value)
    return value is None


TRUE_TEXTS = ("true", "1", "yes", "y", "t")
FALSE_TEXTS = ("false", "0", "no", "n", "f")


def successful_of(payload: dict[str, Any]) -> Optional[bool]:
    """`successful` as a boolean, also when a build spells it as text (`"false"`, `"0"`, `"no"`) or a
    number (0, 1.0); None when the answer does not say, or says something else (see `unreadable_success`)."""
    value = payload.get("successful")
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in TRUE_TEXTS + FALSE_TEXTS:
        return value.strip().lower() in TRUE_TEXTS
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    return None


def unreadable_success(payload: dict[str, Any]) -> bool:
    """Whether the answer has a `successful` that reads as neither true nor false (`"maybe"`, 2, [])."""
    value = payload.get("successful")
    blank = value is None or (isinstance(value, str) and not value.strip())
    return successful_of(payload) is None and not blank


def message_of(payload: dict[str, Any]) -> str:
    return redact(payload.get("message") or "")


def raise_unsuccessful(operation: str, payload: dict[str, Any]) -> None:
    """ApiError for an answer with ``successful: false`` (a business failure sent as HTTP 200)."""
    if successful_of(payload) is False:
        raise ApiError(operation, message_of(payload) or "Uniware answered successful=false",
                       errors=errors_of(payload), refused=True)

