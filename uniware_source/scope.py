"""State follows configuration: ledger entries of facilities or exports that are not configured now
are set aside. They are never created, polled or counted as problems, and stay in dlt state, so
configuring the facility (or export) again resumes them; `uniware-pipeline reset` clears them on
purpose."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from .catalog import ExportSpec
from .ledger import ExportLedger
from .services import SourceRuntime


def active_facilities(spec: ExportSpec, ledger: ExportLedger, rt: SourceRuntime) -> Optional[frozenset[str]]:
    """The facilities whose entries this run works on (None: all, when loading `job_codes`); logs
    the entries set aside, once per run and export."""
    if rt.settings.job_codes:
        rt.report.scope[spec.table_name] = None
        return None
    active = frozenset(rt.facilities_for(spec))
    rt.report.scope[spec.table_name] = active
    aside = ledger.set_aside(active)
    if aside:
        facilities = sorted({e.facility or "-" for e in aside})
        jobs = sum(1 for e in aside if e.job_code)
        rt.report.once(
            f"set-aside|{spec.table_name}",
            "%s: %d window(s) (%d with a job) of facility %s, which is not configured now, set aside: not "
            "created, polled or retried; kept in state, so configuring the facility again resumes them "
            "(`uniware-pipeline reset --export \"%s\" --facility CODE` clears them)",
            spec.name, len(aside), jobs, ", ".join(facilities), spec.name)
    return active


def unconfigured_exports(resources: Mapping[str, Any], scope: Mapping[str, Any]) -> list[str]:
    """Tables with unfinished ledger entries in state whose export is not configured now."""
    return sorted(table for table, state in resources.items() if table not in scope
                  and any(not e.get("done") for e in (state or {}).get("entries", [])))


def waiting_windows(resources: Mapping[str, Any], scope: Mapping[str, Optional[frozenset[str]]],
                    run_id: str) -> int:
    """Planned windows of configured exports and facilities that still need a job in this run."""
    count = 0
    for table, state in resources.items():
        if table not in scope:
            continue
        active = scope[table]
        for entry in (state or {}).get("entries", []):
            if entry.get("job_code") or entry.get("done") or entry.get("failed_run") == run_id:
                continue
            if active is not None and entry.get("facility") is not None and entry["facility"] not in active:
                continue
            count += 1
    return count
