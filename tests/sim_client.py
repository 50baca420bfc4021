"""A deliberately plain `requests` client for the simulator's own tests (no connector code)."""

from __future__ import annotations

from typing import Any, Optional

import requests

from uniware_simulator import UniwareSimulator

CREATE = "/services/rest/v1/export/job/create"
STATUS = "/services/rest/v1/export/job/status"
FACILITIES = "/services/rest/v1/facility/search"
# what clients send to facility/search (all four fields are mandatory)
FACILITY_SEARCH = {"facilityStatus": "ALL", "fromDate": "2000-01-01T00:00:00.000Z",
                   "toDate": "2100-01-01T00:00:00.000Z", "dateType": "CREATED"}
TIMEOUT = 10


class PlainClient:
    def __init__(self, sim: UniwareSimulator) -> None:
        self.sim = sim
        self.token: Optional[str] = None

    def password_grant(self, username: Optional[str] = None, password: Optional[str] = None,
                       client_id: str = "my-trusted-client", method: str = "GET") -> requests.Response:
        params = {
            "grant_type": "password", "client_id": client_id,
            "username": username or self.sim.config.username,
            "password": password or self.sim.config.password,
        }
        if method == "POST":
            return requests.post(self.sim.base_url + "/oauth/token", data=params, timeout=TIMEOUT)
        return requests.get(self.sim.base_url + "/oauth/token", params=params, timeout=TIMEOUT)

    def login(self) -> str:
        answer = self.password_grant()
        answer.raise_for_status()
        self.token = answer.json()["access_token"]
        return self.token

    def headers(self, facility: Optional[str] = None) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"bearer {self.token}"
        if facility:
            headers["Facility"] = facility
        return headers

    def post(self, path: str, body: Any, facility: Optional[str] = None,
             timeout: float = TIMEOUT) -> requests.Response:
        return requests.post(self.sim.base_url + path, json=body, headers=self.headers(facility),
                             timeout=timeout)

    def create(self, body: dict[str, Any], facility: Optional[str] = "BLR01") -> requests.Response:
        return self.post(CREATE, body, facility)

    def status(self, job_code: str) -> dict[str, Any]:
        answer = self.post(STATUS, {"jobCode": job_code})
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    def wait(self, job_code: str, max_polls: int = 50) -> dict[str, Any]:
        """Poll until a terminal status with a file (or a failure); the fast test timing needs
        only a handful of polls, so no sleeping is involved."""
        for _ in range(max_polls):
            status = self.status(job_code)
            if status["status"] in ("FAILED", "CANCELLED", "ERROR"):
                return status
            if status["status"] in ("COMPLETE", "SUCCESSFUL") and status.get("filePath"):
                return status
        return status


def sale_orders_body(start_ms: int, end_ms: int, columns: Optional[list[str]] = None,
                     filter_id: str = "updatedOn") -> dict[str, Any]:
    return {
        "exportJobTypeName": "Sale Orders",
        "exportColums": columns or ["soicode", "saleOrderCode", "channel", "status", "SoiStatus", "skuCode",
                                    "itemTypeName", "sellingPrice", "created", "updated", "facility",
                                    "facilityCode", "shippingAddressLine1", "shippingAddressName",
                                    "TrackingNumber", "cancellationReason", "displayOrderDateTime"],
        "exportFilters": [{"id": filter_id, "dateRange": {"start": start_ms, "end": end_ms}}],
        "frequency": "ONETIME",
    }
