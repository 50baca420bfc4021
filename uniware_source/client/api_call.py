"""The Uniware REST calls the connector makes, with Uniware's error envelope turned into exceptions.

Business failures arrive as HTTP 200 with ``successful: false``; a 401 renews the token once; a
403 on create means the Facility header is wrong. Transient failures (429, 5xx, resets, timeouts)
are retried by dlt's retrying session before anything here sees them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

import requests
from dlt.sources.helpers.requests import Client

from ..errors import ApiError, ApiErrorDetail, AuthError, FacilityAccessError
from ..redact import redact
from .auth import TokenProvider

log = logging.getLogger(__name__)

CREATE_PATH = "/services/rest/v1/export/job/create"
STATUS_PATH = "/services/rest/v1/export/job/status"
FACILITY_PATH = "/services/rest/v1/facility/search"
DUPLICATE_JOB = 100014
FACILITY_SEARCH_BODY = {"facilityStatus": "ALL", "fromDate": "2000-01-01T00:00:00.000Z",
                        "toDate": "2100-01-01T00:00:00.000Z", "dateType": "CREATED"}


@dataclass(frozen=True)
class CreatedJob:
    job_code: str
    export_job_id: Optional[str]
    adopted: bool = False  # Uniware said an identical job was already running: we took it over


@dataclass(frozen=True)
class JobStatus:
    status: str
    file_url: Optional[str]
    message: str
    errors: tuple[ApiErrorDetail, ...]


class UniwareClient:
    def __init__(self, base_url: str, tokens: TokenProvider, http: Client, timeout: tuple[float, float]) -> None:
        self.base_url = base_url
        self.tokens = tokens
        self._http = http
        self._timeout = timeout

    def _post(self, operation: str, path: str, body: Mapping[str, Any],
              facility: Optional[str] = None) -> dict[str, Any]:
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
        payload = _json(response)
        if response.status_code == 401:
            raise AuthError(f"{operation}: Uniware answered 401 even with a fresh token ({_text(payload, response)})")
        if response.status_code == 403:
            raise FacilityAccessError(operation, _text(payload, response), http_status=403)
        if response.status_code != 200:
            raise ApiError(operation, _text(payload, response), http_status=response.status_code,
                           errors=_errors(payload))
        if not isinstance(payload, dict):
            raise ApiError(operation, f"expected JSON, got {_snippet(response)}", http_status=200)
        return payload

    def facilities(self) -> list[str]:
        """Codes of the tenant's enabled facilities."""
        return [code for code, status in self.facility_statuses().items() if status == "ENABLED"]

    def facility_statuses(self) -> dict[str, str]:
        """Every facility code the tenant lists, with its status (ENABLED, DISABLED...).

        The docs make all four request fields mandatory; clients send ALL + CREATED over a wide range
        and keep the parties whose `facilityStatus` is ENABLED.
        """
        payload = self._post("facility search", FACILITY_PATH, FACILITY_SEARCH_BODY)
        _raise_unsuccessful("facility search", payload)
        parties = payload.get("parties") or []
        return {p["facilityCode"]: str(p.get("facilityStatus") or "").strip().upper() for p in parties
                if isinstance(p, dict) and isinstance(p.get("facilityCode"), str) and p["facilityCode"]}

    def create_export_job(self, body: Mapping[str, Any], facility: str, operation: str) -> CreatedJob:
        """Create a job, or take over the identical job Uniware says is already running.

        A create whose answer was lost (reset, timeout, 5xx) is retried with the same body; if the
        first attempt did create the job, Uniware answers 100014 and names it, so no duplicate is
        left behind.
        """
        payload = self._post(operation, CREATE_PATH, body, facility=facility)
        if payload.get("successful") is False:
            errors = _errors(payload)
            running = _running_job_code(errors)
            if running is not None:
                log.info("%s: Uniware says job %s is already running for this request; using it", operation, running)
                return CreatedJob(running, None, adopted=True)
            raise ApiError(operation, _message(payload) or "Uniware refused the export job", errors=errors)
        job_code = payload.get("jobCode")
        if not isinstance(job_code, str) or not job_code:
            raise ApiError(operation, f"the answer carries no jobCode: {redact(payload)}")
        export_job_id = payload.get("exportJobId")
        return CreatedJob(job_code, str(export_job_id) if export_job_id is not None else None)

    def job_status(self, job_code: str) -> JobStatus:
        operation = f"status of export job {job_code}"
        payload = self._post(operation, STATUS_PATH, {"jobCode": job_code})
        status = payload.get("status")
        if not isinstance(status, str) or not status:
            _raise_unsuccessful(operation, payload)
            raise ApiError(operation, f"the answer carries no status: {redact(payload)}")
        file_url = payload.get("filePath")
        return JobStatus(
            status=status.strip().upper(),
            file_url=file_url if isinstance(file_url, str) and file_url.strip() else None,
            message=str(payload.get("message") or ""),
            errors=tuple(_errors(payload)),
        )


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _snippet(response: requests.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    kind = response.headers.get("Content-Type", "unknown content type")
    return redact(f"{kind}: {text[:160]}")


def _text(payload: Any, response: requests.Response) -> str:
    if isinstance(payload, dict):
        parts = [str(payload[k]) for k in ("message", "error", "error_description") if payload.get(k)]
        if parts:
            return redact(": ".join(dict.fromkeys(parts)))
    return _snippet(response)


def _errors(payload: Any) -> list[ApiErrorDetail]:
    if not isinstance(payload, dict) or not isinstance(payload.get("errors"), list):
        return []
    return [ApiErrorDetail.from_json(e) for e in payload["errors"]]


def _message(payload: dict[str, Any]) -> str:
    return redact(payload.get("message") or "")


def _raise_unsuccessful(operation: str, payload: dict[str, Any]) -> None:
    if payload.get("successful") is False:
        raise ApiError(operation, _message(payload) or "Uniware answered successful=false", errors=_errors(payload))


def _running_job_code(errors: list[ApiErrorDetail]) -> Optional[str]:
    for error in errors:
        if error.code == DUPLICATE_JOB and error.params:
            code = error.params.get("jobCode")
            if isinstance(code, str) and code:
                return code
    return None
