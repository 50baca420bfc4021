"""The simulated Uniware REST API: token, export create/status and facility search.

Each handler takes the parsed request and returns (HTTP status, headers, JSON body). Validation
follows what is known of the real service (see ../shared/uniware-api.md): business failures are
HTTP 200 with ``successful: false`` and coded errors, unknown body keys are HTTP 400, a missing or
wrong ``Facility`` header on create is HTTP 403.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Optional

from .faults import FaultPlan
from .jobs import JobRegistry
from .reports import REPORTS, ExportQuery, Report
from .tenant import DAY, IST, IST_OFFSET_SECONDS, Tenant, to_epoch
from .tokens import TokenStore

TRUSTED_CLIENT_ID = "my-trusted-client"
CREATE_KEYS = frozenset({
    "exportJobTypeName", "exportColums", "exportFilters", "frequency", "cronExpression",
    "scheduleTime", "notificationEmail", "reportName",
})
FILTER_KEYS = frozenset({
    "id", "text", "selectedValues", "selectedValue", "dateTime", "dateRange", "checked",
})

# (code, code name) of the business errors the simulator answers with
MISSING_PARAMETERS = (1001, "MISSING_REQUIRED_PARAMETERS")
INVALID_REPORT = (100001, "INVALID_EXPORT_JOB_TYPE_NAME")
INVALID_COLUMN = (100002, "INVALID_EXPORT_JOB_COLUMN")
INVALID_FILTER = (100003, "INVALID_EXPORT_FILTER")
INVALID_FILTER_VALUE = (100004, "INVALID_FILTER_VALUE")
INVALID_SELECT_VALUE = (100005, "INVALID_FILTER_SELECT_VALUE")
INVALID_JOB_CODE = (100006, "INVALID_JOB_CODE")  # assumed: the real code is not documented
DUPLICATE_JOB = (100014, "EXPORT_JOB_ALREADY_RUNNING")
EXPORT_WARNING = 0  # the seed page shows a warning's code as a number; no real one is known
EXPORT_FAILED = (100015, "EXPORT_JOB_FAILED")  # assumed: sent with a contradictory COMPLETE (see faults.UNSUCCESSFUL)
INVALID_SCHEDULE = (120005, "INVALID_EXPORT_SCHEDULE_CONFIG")
# a bad `frequency` was seen answered with 200204 in the field where the docs list 120005 (uniware-api.md);
# the code name is assumed
FIELD_INVALID_SCHEDULE = (200204, "INVALID_FREQUENCY")
INVALID_FACILITY = (200001, "INVALID_FACILITY_CODE")  # the docs' code for an invalid facility code
FACILITY_STATUSES = ("ALL", "ENABLED", "DISABLED")
FACILITY_DATE_TYPES = ("CREATED", "UPDATED")

Response = tuple[int, dict[str, str], Any]


@dataclass(frozen=True)
class ApiOptions:
    username: str
    password: str
    bad_credentials_status: int = 400
    unknown_filter: str = "reject"  # or "ignore": an unknown filter id is dropped, the export unwindowed; "say": so,
    # and the create answer's errors[] says each was ignored
    # date filter ids of the reports this tenant does not take (a tenant whose Sale Orders takes addedOn only,
    # uniware-reports.md 10, VD), or `FACILITY:id` for one facility's jobs: treated as unknown ids
    refused_date_filters: tuple[str, ...] = ()
    reject_duplicate_jobs: bool = True
    max_window_days: int = 92
    error_text_field: str = "description"  # which of description/message carries the text
    unknown_job_error: tuple[int, str] = INVALID_JOB_CODE  # the docs give no code for a job it does not know
    facility_code_field: str = "facilityCode"  # facility/search's field for the code (one client reads `code`)
    schedule_error: tuple[int, str] = INVALID_SCHEDULE  # or FIELD_INVALID_SCHEDULE (200204, seen in the field)
    # a Facility header that names no facility of the tenant (not its display name, which is refused with 403
    # as in the field): "403" as without one, or "200001", the docs' invalid facility code
    unknown_facility: str = "403"
    # the facilities the API user may use (None: all): facility/search lists the tenant's, a create for another
    # gets the 403 a missing facility gets
    user_facilities: Optional[tuple[str, ...]] = None
    # (report, the tenant's column id, the catalog's id it stands for): a tenant whose build names a column so
    # (GRN's and Shipping Package's ids were never seen in the field); the catalog's id is then refused
    tenant_column_ids: tuple[tuple[str, str, str], ...] = ()


class Rejected(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response[0])
        self.response = response


class UniwareApi:
    def __init__(
        self, *, tenant: Tenant, jobs: JobRegistry, tokens: TokenStore, faults: FaultPlan,
        options: ApiOptions,
    ) -> None:
        self.tenant = tenant
        self.jobs = jobs
        self.tokens = tokens
        self.faults = faults
        self.options = options

    # -- envelopes ------------------------------------------------------------------------------

    def failure(self, error: tuple[int, str], text: str, field: Optional[str] = None,
                params: Optional[dict[str, Any]] = None) -> Response:
        code, name = error
        described = (text, name) if self.options.error_text_field == "description" else (name, text)
        body = {
            "successful": False,
            "message": text,
            "errors": [{
                "code": code, "fieldName": field, "description": described[0],
                "message": described[1], "errorParams": params or {},
            }],
            "warnings": None,
        }
        return 200, {}, body

    @staticmethod
    def bad_request(message: str) -> Response:
        return 400, {}, {
            "timestamp": int(time.time() * 1000), "status": 400, "error": "Bad Request",
            "message": message,
        }

    # -- authentication -------------------------------------------------------------------------

    def token(self, params: Mapping[str, str]) -> Response:
        grant = params.get("grant_type")
        if params.get("client_id") != TRUSTED_CLIENT_ID:
            return 401, {}, {"error": "invalid_client", "error_description": "Bad client credentials"}
        if grant == "password":
            if (params.get("username") != self.options.username
                    or params.get("password") != self.options.password):
                status = self.options.bad_credentials_status
                if status >= 500:
                    return status, {}, {"error": "server_error", "error_description": "Bad credentials"}
                return status, {}, {"error": "invalid_grant", "error_description": "Bad credentials"}
            issued = self.tokens.issue()
        elif grant == "refresh_token":
            refresh = params.get("refresh_token", "")
            if not self.tokens.refresh_valid(refresh):
                # Spring echoes the token back; a careful client never logs this body verbatim.
                return 400, {}, {"error": "invalid_grant",
                                 "error_description": f"Invalid refresh token: {refresh}"}
            issued = self.tokens.issue(refresh_token=refresh)
        else:
            return 400, {}, {"error": "unsupported_grant_type",
                             "error_description": f"Unsupported grant type: {grant}"}
        return 200, {}, {
            "access_token": issued.access_token,
            "token_type": "bearer",
            "refresh_token": issued.refresh_token,
            "expires_in": self.tokens.expires_in(),
            "scope": "read write trust",
        }

    def check_bearer(self, authorization: Optional[str]) -> Optional[Response]:
        """None when the bearer token is valid, else the 401 answer."""
        if not authorization:
            return 401, {}, {"error": "unauthorized",
                             "error_description": "Full authentication is required to access this resource"}
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not self.tokens.access_valid(token.strip()):
            return 401, {}, {"error": "invalid_token",
                             "error_description": f"Invalid access token: {token.strip()}"}
        return None

    # -- facilities -----------------------------------------------------------------------------

    def facility_search(self, body: Any) -> Response:
        """`{facilityStatus: ALL|ENABLED|DISABLED, fromDate, toDate, dateType: CREATED|UPDATED}`, all
        four mandatory (docs) -> `parties[]` of `facilityCode`, `facilityStatus`, `created`, `updated`
        (epoch ms). No display name: it cannot be mapped to a code from this call."""
        if not isinstance(body, dict):
            return self.bad_request("JSON parse error: expected an object")
        for key in ("facilityStatus", "fromDate", "toDate", "dateType"):
            if body.get(key) in (None, ""):
                return self.failure(MISSING_PARAMETERS, f"{key} is required", key)
        wanted, date_type = body["facilityStatus"], body["dateType"]
        if wanted not in FACILITY_STATUSES:
            return self.failure(INVALID_FILTER_VALUE, f"Invalid facilityStatus: {wanted}", "facilityStatus")
        if date_type not in FACILITY_DATE_TYPES:
            return self.failure(INVALID_FILTER_VALUE, f"Invalid dateType: {date_type}", "dateType")
        try:
            low, high = parse_instant(body["fromDate"]), parse_instant(body["toDate"], end=True)
        except ValueError as error:
            return self.failure(INVALID_FILTER_VALUE, f"Invalid fromDate/toDate: {error}", "fromDate")
        parties = []
        for facility in self.tenant.facilities:
            status = "ENABLED" if facility.enabled else "DISABLED"
            created, updated = self.tenant.facility_dates(facility.code)
            moment = created if date_type == "CREATED" else updated
            if wanted in ("ALL", status) and low <= moment <= high:
                parties.append({self.options.facility_code_field: facility.code, "facilityStatus": status,
                                "created": created * 1000, "updated": updated * 1000})
        return 200, {}, {"successful": True, "message": None, "errors": [], "warnings": None,
                         "parties": parties}

    # -- export jobs ----------------------------------------------------------------------------

    def create_job(self, facility_header: Optional[str], body: Any) -> Response:
        facility = self.tenant.facility(facility_header or "")
        if facility is None and facility_header and self.options.unknown_facility == "200001" \
                and facility_header not in {f.name for f in self.tenant.facilities}:
            return self.failure(INVALID_FACILITY, f"Invalid facility code: {facility_header}", "facility")
        allowed = self.options.user_facilities
        if facility is None or not facility.enabled or (allowed is not None and facility.code not in allowed):
            return 403, {}, {"successful": False, "message": "Illegal Access, facility is required",
                             "errors": [], "warnings": None}
        try:
            report, columns, query = self._validate_create(facility.code, body)
        except Rejected as rejected:
            return rejected.response
        request_key = json.dumps([facility.code, body], sort_keys=True)
        if self.options.reject_duplicate_jobs:
            running = self.jobs.find_running_duplicate(request_key)
            if running is not None:
                return self.failure(
                    DUPLICATE_JOB, f"An identical export job is already running: {running.code}",
                    params={"jobCode": running.code},
                )
        fate = self.faults.take_job_fate(report.name, facility.code)
        job = self.jobs.create(report, facility.code, query, columns, request_key, fate)
        said = [{"code": INVALID_FILTER[0], "fieldName": "exportFilters", "message": INVALID_FILTER[1],
                 "description": f"Filter {f} is not applicable and was ignored"} for f in query.ignored] \
            if self.options.unknown_filter == "say" else []
        return 200, {}, {"successful": True, "message": None, "errors": said, "warnings": None,
                         "jobCode": job.code, "exportJobId": job.export_job_id}

    def _validate_create(self, facility: str, body: Any) -> tuple[Report, tuple[str, ...], ExportQuery]:
        if not isinstance(body, dict):
            raise Rejected(self.bad_request("JSON parse error: expected an object"))
        unknown = sorted(set(body) - CREATE_KEYS)
        if unknown:
            raise Rejected(self.bad_request(
                f'JSON parse error: Unrecognized field "{unknown[0]}" (class '
                'com.unifier.core.api.export.CreateExportJobRequest), not marked as ignorable'))
        name = body.get("exportJobTypeName")
        if not name:
            raise Rejected(self.failure(MISSING_PARAMETERS, "exportJobTypeName is required",
                                        "exportJobTypeName"))
        columns = body.get("exportColums")
        if columns is None:
            raise Rejected(self.failure(MISSING_PARAMETERS, "exportColums is required", "exportColums"))
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            # the request does not deserialize (a string where the list goes: uniware-reports.md)
            raise Rejected(self.bad_request(
                f"JSON parse error: Cannot deserialize value of type `java.util.ArrayList<java.lang.String>` "
                f"from {type(columns).__name__} value; field exportColums (class "
                "com.unifier.core.api.export.CreateExportJobRequest)"))
        if not columns:
            raise Rejected(self.failure(INVALID_COLUMN, "exportColums can not be empty", "exportColums"))
        frequency = body.get("frequency")
        if not frequency:
            raise Rejected(self.failure(MISSING_PARAMETERS, "frequency is required", "frequency"))
        if frequency not in ("ONETIME", "RECURRENT") or (
                frequency == "RECURRENT" and not body.get("cronExpression")):
            raise Rejected(self.failure(self.options.schedule_error, f"Invalid schedule config: {frequency}",
                                        "frequency"))
        report = REPORTS.get(name)
        if report is None:
            raise Rejected(self.failure(INVALID_REPORT, f"Invalid export job type name: {name}",
                                        "exportJobTypeName"))
        own_ids: dict[str, str] = {own: catalogs for r, own, catalogs in self.options.tenant_column_ids
                                   if r == report.name}
        requested: list[str] = columns
        for column in requested:
            replaced = column in own_ids.values() and column not in own_ids  # this tenant's build names it otherwise
            if report.column(own_ids.get(column, column)) is None or replaced:
                raise Rejected(self.failure(INVALID_COLUMN, f"Invalid export column: {column}",
                                            "exportColums", {"column": column}))
        query = self._validate_filters(report, facility, body.get("exportFilters") or [])
        return report, tuple(own_ids.get(column, column) for column in requested), query

    def _validate_filters(self, report: Report, facility: str, filters: Any) -> ExportQuery:
        if not isinstance(filters, list):
            raise Rejected(self.bad_request("JSON parse error: exportFilters must be a list"))
        at = self.tenant.clock.now_epoch()
        date_filter: Optional[str] = None
        start = end = None
        selected: dict[str, tuple[str, ...]] = {}
        text: dict[str, str] = {}
        ignored: list[str] = []
        for index, item in enumerate(filters):
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                raise Rejected(self.failure(INVALID_FILTER, "Every filter needs an id", "exportFilters"))
            if not item["id"].strip():  # the field's words (uniware-reports.md 10), whatever unknown ids get
                raise Rejected(self.failure(INVALID_FILTER, f"exportFilters[{index}].id can not be empty",
                                            f"exportFilters[{index}].id"))
            unknown = sorted(set(item) - FILTER_KEYS)
            if unknown:
                raise Rejected(self.bad_request(f'JSON parse error: Unrecognized field "{unknown[0]}"'))
            filter_id = item["id"]
            if self._refused(filter_id, facility):  # refused, whatever unknown ids get on this tenant
                raise Rejected(self.failure(INVALID_FILTER, f"Invalid export filter: {filter_id}",
                                            "exportFilters", {"filter": filter_id}))
            if filter_id in report.date_filters:
                start, end = self._date_range(filter_id, item.get("dateRange"), at)
                date_filter = filter_id
            elif filter_id in report.select_filters:
                values = item.get("selectedValues")
                if not isinstance(values, list) or not values:
                    raise Rejected(self.failure(INVALID_FILTER_VALUE,
                                                f"Filter {filter_id} needs selectedValues", filter_id))
                allowed = report.select_filters[filter_id]
                bad = [v for v in values if v not in allowed]
                if bad:
                    raise Rejected(self.failure(INVALID_SELECT_VALUE,
                                                f"Invalid value {bad[0]} for filter {filter_id}",
                                                filter_id, {"value": bad[0]}))
                selected[filter_id] = tuple(values)
            elif filter_id in report.other_filters:
                if isinstance(item.get("text"), str):
                    text[filter_id] = item["text"]
            elif self.options.unknown_filter == "reject":
                raise Rejected(self.failure(INVALID_FILTER, f"Invalid export filter: {filter_id}",
                                            "exportFilters", {"filter": filter_id}))
            else:  # ignored, as some builds do (field): the export is then unwindowed, or unfiltered
                ignored.append(str(filter_id))
        if report.date_required and date_filter is None and not ignored:
            wanted = " or ".join(f for f in report.date_filters if not self._refused(f, facility))
            raise Rejected(self.failure(INVALID_FILTER, f"One of the filters {wanted} is required",
                                        "exportFilters", {"required": list(report.date_filters)}))
        return ExportQuery(
            at=at, facility=facility if report.facility_scoped else None,
            date_filter=date_filter, start=start, end=end, selected=selected, text=text, ignored=tuple(ignored),
        )

    def _refused(self, filter_id: str, facility: str) -> bool:
        refused = self.options.refused_date_filters
        return filter_id in refused or f"{facility}:{filter_id}" in refused

    def _date_range(self, filter_id: str, value: Any, at: int) -> tuple[int, int]:
        if not isinstance(value, dict):
            raise Rejected(self.failure(INVALID_FILTER_VALUE, "DateRange is mandatory for daterange value type",
                                        filter_id))
        if value.get("textRange"):
            return self._text_range(filter_id, value["textRange"], at)
        try:
            start = parse_instant(value.get("start"))
            end = parse_instant(value.get("end"), end=True)
        except ValueError as error:
            raise Rejected(self.failure(INVALID_FILTER_VALUE, f"Invalid date range for {filter_id}: {error}",
                                        filter_id)) from None
        if end < start:
            raise Rejected(self.failure(INVALID_FILTER_VALUE,
                                        f"Invalid date range for {filter_id}: end before start", filter_id))
        if end - start > self.options.max_window_days * DAY:
            raise Rejected(self.failure(
                INVALID_FILTER_VALUE,
                f"Date range for {filter_id} cannot exceed {self.options.max_window_days} days", filter_id))
        return start, end

    def _text_range(self, filter_id: str, text: str, at: int) -> tuple[int, int]:
        today = (at + IST_OFFSET_SECONDS) // DAY * DAY - IST_OFFSET_SECONDS
        ranges = {
            "TODAY": (today, at),
            "YESTERDAY": (today - DAY, today - 1),
            "LAST_7_DAYS": (today - 7 * DAY, at),
            "LAST_30_DAYS": (today - 30 * DAY, at),
            "LAST_60_DAYS": (today - 60 * DAY, at),
            "LAST_90_DAYS": (today - 90 * DAY, at),
        }
        if text == "THIS_MONTH":
            local = datetime.fromtimestamp(at, IST)
            ranges[text] = (to_epoch(local.replace(day=1, hour=0, minute=0, second=0)), at)
        if text == "LAST_MONTH":
            local = datetime.fromtimestamp(at, IST).replace(day=1, hour=0, minute=0, second=0)
            previous = (local - timedelta(days=1)).replace(day=1)
            ranges[text] = (to_epoch(previous), to_epoch(local) - 1)
        if text not in ranges:
            raise Rejected(self.failure(INVALID_FILTER_VALUE, f"Invalid text range {text} for {filter_id}",
                                        filter_id))
        return ranges[text]

    def job_status(self, body: Any) -> Response:
        code = body.get("jobCode") if isinstance(body, dict) else None
        if not code:
            return self.failure(MISSING_PARAMETERS, "jobCode is required", "jobCode")
        job = self.jobs.get(code)
        if job is None:
            return self.failure(self.options.unknown_job_error, f"Invalid job code: {code}", "jobCode")
        answer = self.jobs.poll(job)
        if answer.unknown:
            return self.failure(self.options.unknown_job_error, f"Invalid job code: {code}", "jobCode")
        result: dict[str, Any] = {"successful": True, "message": answer.message or None,
                                  "errors": [], "warnings": None, "status": answer.status}
        if answer.unsuccessful:  # a contradictory answer: done, with a file, and an error
            result.update(self.failure(EXPORT_FAILED, answer.message)[2])
            result["status"] = answer.status
        if answer.with_errors:  # done, successful, with its file, and an error in errors[]
            result["errors"] = self.failure(EXPORT_FAILED, answer.message)[2]["errors"]
        if answer.with_warnings:  # the seed page's shape of a warning
            message = job.fate.message if job.fate is not None else ""
            result["warnings"] = [{"code": EXPORT_WARNING, "message": message, "description": message}]
        if answer.job_code is not None:  # another job's answer
            result["jobCode"] = answer.job_code
        result.update(answer.fields)
        if answer.file_url_path is not None:
            result["filePath"] = answer.file_url_path  # the server turns it into an absolute URL
        elif answer.no_file_path != "absent":
            result["filePath"] = "" if answer.no_file_path == "empty" else None
        return 200, {}, result


def parse_instant(value: Any, end: bool = False) -> int:
    """Epoch seconds of a dateRange bound, in any form seen in the field: epoch milliseconds (number
    or digits), an ISO instant with `Z` or an offset such as `+05:30`, or a `YYYY-MM-DD` India date
    (its first second, or its last one for an `end` bound)."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"missing or invalid instant {value!r}")
    if isinstance(value, (int, float)):
        return int(value) // 1000
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text) // 1000
        try:
            if len(text) == 10:
                day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=IST)
                return to_epoch(day) + (DAY - 1 if end else 0)
            moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            pass
        else:
            if moment.tzinfo is not None:
                return to_epoch(moment)
    raise ValueError(f"unparseable instant {value!r}")
