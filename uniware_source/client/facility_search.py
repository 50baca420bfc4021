"""`facility/search`: the tenant's facilities and their status, asked before any job is created.

The docs make all four request fields mandatory; clients send ALL + CREATED over a wide range and
keep the parties whose `facilityStatus` is ENABLED.
"""

from __future__ import annotations

from typing import Any

from .api_call import UniwareClient, raise_unsuccessful

FACILITY_PATH = "/services/rest/v1/facility/search"
FACILITY_SEARCH_BODY = {"facilityStatus": "ALL", "fromDate": "2000-01-01T00:00:00.000Z",
                        "toDate": "2100-01-01T00:00:00.000Z", "dateType": "CREATED"}
OPERATION = "facility search"


def search_facilities(client: UniwareClient) -> dict[str, Any]:
    """The answer as Uniware sends it (the `facilities` command shows its `parties`)."""
    return client.post(OPERATION, FACILITY_PATH, FACILITY_SEARCH_BODY)


CODE_FIELDS = ("facilityCode", "code")  # the code's field: `facilityCode`; one client also reads `code`


def facility_statuses(client: UniwareClient) -> dict[str, str]:
    """Every facility code the tenant lists, with its status (ENABLED, DISABLED...)."""
    payload = search_facilities(client)
    raise_unsuccessful(OPERATION, payload)
    parties = payload.get("parties") or []
    statuses = {}
    for party in parties:
        if not isinstance(party, dict):
            continue
        code = next((party[f] for f in CODE_FIELDS if isinstance(party.get(f), str) and party[f]), None)
        if code is not None:
            statuses[code] = str(party.get("facilityStatus") or "").strip().upper()
    return statuses
