"""`facility/search`: the tenant's facilities and their status, asked before any job is created.

The docs make all four request fields mandatory; clients send ALL + CREATED over a wide range and
keep the parties whose `facilityStatus` is ENABLED.
"""

from __future__ import annotations

import logging
from typing import Any

from ..errors import ApiError
from ..redact import redact
from ..settings import fits_the_facility_header
from .api_call import UniwareClient, raise_unsuccessful

log = logging.getLogger(__name__)

FACILITY_PATH = "/services/rest/v1/facility/search"
FACILITY_SEARCH_BODY = {"facilityStatus": "ALL", "fromDate": "2000-01-01T00:00:00.000Z",
                        "toDate": "2100-01-01T00:00:00.000Z", "dateType": "CREATED"}
OPERATION = "facility search"


def search_facilities(client: UniwareClient) -> dict[str, Any]:
    """The answer as Uniware sends it (the `facilities` command shows its `parties`)."""
    return client.post(OPERATION, FACILITY_PATH, FACILITY_SEARCH_BODY)


ENABLED = "ENABLED"  # the status of a facility jobs can be made for
CODE_FIELDS = ("facilityCode", "code")  # the code's field: `facilityCode`; one client also reads `code`


def facility_statuses(client: UniwareClient) -> dict[str, str]:
    """Every facility code the tenant lists, with its status (ENABLED, DISABLED...). ApiError when the
    answer's `parties` are not a list. A code that cannot travel in the Facility header is left out, and
    a code listed twice with different statuses counts as ENABLED if either says so; both are warned."""
    payload = search_facilities(client)
    raise_unsuccessful(OPERATION, payload)
    parties = payload.get("parties")
    if parties is None:
        parties = []
    if not isinstance(parties, list):
        raise ApiError(OPERATION, f"the answer's parties are not a list: {redact(repr(parties))[:120]}")
    statuses: dict[str, str] = {}
    unusable: list[str] = []
    for party in parties:
        if not isinstance(party, dict):
            continue
        code = next((party[f] for f in CODE_FIELDS if isinstance(party.get(f), str) and party[f]), None)
        if code is None:
            continue
        if not fits_the_facility_header(code):
            unusable.append(code)
            continue
        status = str(party.get("facilityStatus") or "").strip().upper()
        earlier = statuses.get(code, status)
        if earlier != status:
            said = status
            status = ENABLED if ENABLED in (earlier, status) else status
            log.warning("facility/search lists facility %s twice, as %s and as %s: taken as %s", code, earlier,
                        said, status)
        statuses[code] = status
    if unusable:
        log.warning("facility/search lists facility code(s) %s, which cannot travel in the Facility header "
                    "(only printable Latin-1 text without surrounding spaces): left out",
                    ", ".join(repr(code) for code in unusable))
    return statuses
