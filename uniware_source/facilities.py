"""Which facilities a run exports for, checked against the tenant's own list (`facility/search`).

- `facilities` unset or "all": every facility the tenant lists as ENABLED.
- Configured codes: each must be listed and ENABLED, or the run stops before any job is created
  with a ConfigError naming the valid codes (a DISABLED facility or an unknown code would only be
  answered 403 by every create). facility/search returns no display names, so a display name given
  as a code gets the same error; the connector cannot map names to codes.
- facility/search itself fails (HTTP error, an older build without it): configured codes are used
  as they are, with a warning; nobody is blocked by an outage of that endpoint. With nothing
  configured there is nothing to fall back on and the run stops, saying what to set.

Every code a run knows of the tenant (listed by facility/search, or exported) is kept in the source's
state (`TENANT_FACILITIES`): when facility/search fails, or a build lacks it, the facility guard still
knows the tenant's other facilities, and refuses a file of one of them served for another's job.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import NamedTuple, Optional

import dlt

from .client.api_call import UniwareClient
from .client.facility_search import ENABLED, facility_statuses
from .errors import ApiError, ConfigError, UniwareError

log = logging.getLogger(__name__)


class Facilities(NamedTuple):
    """The facility codes a run exports for, and every code the tenant lists (any status; the run's
    codes alone when facility/search could not tell): a file of a job that carries only codes of other
    facilities of the tenant is another facility's export (conversion/facility_guard.py)."""

    run: tuple[str, ...]
    tenant: tuple[str, ...]
    listed: bool = True  # whether facility/search listed the run's codes (False: taken as configured)


TENANT_FACILITIES = "tenant_facilities"  # source state: every facility code earlier runs knew of the tenant


def known_facilities(configured: Optional[Sequence[str]], client: UniwareClient) -> Facilities:
    """`resolve_facilities`, with the codes earlier runs knew of the tenant when facility/search cannot
    tell, and every code known now kept for later runs (in the source's state, inside a dlt extract)."""
    try:
        state = dlt.current.source_state()
    except Exception:  # outside a dlt extract (plan, status): nothing kept
        return resolve_facilities(configured, client)
    remembered = [str(code) for code in state.get(TENANT_FACILITIES, []) if isinstance(code, str)]
    found = resolve_facilities(configured, client)
    if not found.listed:
        found = found._replace(tenant=tuple(dict.fromkeys([*found.tenant, *remembered])))
    known = sorted({*remembered, *found.tenant, *found.run})
    if known != remembered:
        state[TENANT_FACILITIES] = known
    return found


def resolve_facilities(configured: Optional[Sequence[str]], client: UniwareClient) -> Facilities:
    """The facility codes to export for; see the module's doc."""
    try:
        listed = facility_statuses(client)
    except ApiError as error:
        if not configured:
            raise UniwareError(f"{error}; without facility/search the facilities cannot be found: set "
                               "'facilities' (SOURCES__UNIWARE__FACILITIES, or the --facility flag) to the "
                               "facility codes") from None
        log.warning("facility/search failed (%s); using the configured facilities %s as they are",
                    error, ", ".join(configured))
        return Facilities(tuple(configured), tuple(configured), listed=False)
    enabled = tuple(code for code, status in listed.items() if status == ENABLED)
    if not configured:
        if not enabled:
            raise ConfigError("facilities", "Uniware lists no enabled facility; set the facility codes")
        return Facilities(enabled, tuple(listed))
    if not listed:
        log.warning("facility/search lists no facility at all; using the configured facilities %s as they are",
                    ", ".join(configured))
        return Facilities(tuple(configured), tuple(configured), listed=False)
    wrong = [code for code in configured if listed.get(code) != ENABLED]
    if wrong:
        raise ConfigError("facilities", _problem(wrong, listed, enabled))
    return Facilities(tuple(configured), tuple(dict.fromkeys([*configured, *listed])))


def check_job_facilities(given: Sequence[str], client: UniwareClient) -> None:
    """The facilities `job_codes` says its jobs ran under, each a code facility/search lists (enabled or not: an
    old job of a facility disabled since is still its): a code in another case or a made-up one would key the
    rows on it, beside the same rows of the real code (loaded twice). ConfigError naming them; a facility/search
    that cannot tell is said and the codes are taken as given."""
    try:
        listed = facility_statuses(client)
    except ApiError as error:
        log.warning("facility/search failed (%s); the facilities job_codes names (%s) are taken as given", error,
                    ", ".join(given))
        return
    wrong = [code for code in given if code not in listed]
    if listed and wrong:
        reasons = [f"{code} is not a facility code of this tenant{_in_other_case(code, listed)}" for code in wrong]
        raise ConfigError("job_codes", f"{'; '.join(reasons)}: the facility a job given by code ran under keys its "
                          f"rows; the tenant's facility codes are: {', '.join(listed)}")


def _problem(wrong: Sequence[str], listed: dict[str, str], enabled: Sequence[str]) -> str:
    reasons = []
    for code in wrong:
        if code in listed:
            reasons.append(f"{code} is {listed[code] or 'not enabled'}")
            continue
        reasons.append(f"{code} is not a facility code of this tenant{_in_other_case(code, listed)}")
    valid = ", ".join(enabled) if enabled else "none"
    return (f"{'; '.join(reasons)} (set by 'facilities' or the --facility flag); the tenant's enabled facility "
            f"codes are: {valid}. "
            "Give codes as facility/search lists them; a display name is not a code")


def same_code_other_case(code: str, codes: Iterable[str]) -> Optional[str]:
    """The code of `codes` that is `code` in another case (facility codes are case-sensitive), if any."""
    return next((c for c in sorted(codes) if c != code and c.lower() == code.lower()), None)


def _in_other_case(code: str, listed: Iterable[str]) -> str:
    same = same_code_other_case(code, listed)
    return f" (did you mean {same}?)" if same else ""
