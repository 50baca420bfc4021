"""The runtime one source instance's resources share: settings, clock, API client, facilities, the job
workers, the job budget and the run report."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Optional, Protocol, TypeVar

from .catalog import ExportSpec
from .client.api_call import UniwareClient
from .client.auth import TokenProvider
from .client.sessions import api_client, token_client
from .clock import Clock, SystemClock
from .conversion.load_files import destination_appends_only, destination_load_format
from .facilities import Facilities, check_job_facilities, known_facilities
from .ledger import ExportLedger, Ledgers
from .run_report import RunReport
from .settings import Settings, SettingValues, build_settings

SUBMIT = "submit"
COLLECT = "collect"
ALL = "all"
HISTORY = "history"  # only the history rows that waited for their data to load
PHASES = (SUBMIT, COLLECT, ALL, HISTORY)

class Closable(Protocol):
    def close(self) -> None: ...


Workers = TypeVar("Workers", bound=Closable)

# One token provider per (base_url, username) for the process: a pipeline script that runs the
# submit and collect steps back to back signs in once, not once per step.
_token_providers: dict[tuple[str, str], TokenProvider] = {}
_token_lock = threading.Lock()


def token_provider(settings: Settings, clock: Clock) -> TokenProvider:
    key = (settings.base_url, settings.username)
    with _token_lock:
        provider = _token_providers.get(key)
        if provider is None or provider.password_differs(settings.password):
            provider = TokenProvider(settings.base_url, settings.username, settings.password,
                                     token_client(settings.http), clock, settings.http.timeout)
            _token_providers[key] = provider
        return provider


def forget_tokens() -> None:
    """Drop every cached token: the next run signs in afresh (a new server at the same address)."""
    with _token_lock:
        _token_providers.clear()


@dataclass
class JobBudget:
    """How many more jobs may be running at once across every export of the source."""

    limit: int
    running: Optional[int] = None

    def take(self) -> bool:
        assert self.running is not None
        if self.running >= self.limit:
            return False
        self.running += 1
        return True

    def give_back(self) -> None:
        assert self.running is not None
        self.running = max(0, self.running - 1)


@dataclass
class SourceRuntime:
    settings: Settings
    clock: Clock
    phase: str
    run_id: str
    report: RunReport
    budget: JobBudget
    _client: Optional[UniwareClient] = None
    _facilities: Optional[Facilities] = None
    _tenant_facility: dict[str, tuple[str, ...]] = field(default_factory=dict)  # by table: see facilities_for
    _job_facilities_checked: bool = False
    _collector: Optional[Closable] = None
    _collector_users: int = 0
    load_format: Optional[str] = "parquet"  # of the files handed to dlt; None: Arrow batches (load_files)
    appends_only: bool = False  # the destination only adds files (a bucket): nothing loaded is deleted
    ledgers: Optional[Ledgers] = None  # every export's ledger in this extract's state (begin_extract)

    @property
    def client(self) -> UniwareClient:
        if self._client is None:
            tokens = token_provider(self.settings, self.clock)
            self._client = UniwareClient(self.settings.base_url, tokens, api_client(self.settings.http),
                                         self.settings.http.timeout)
        return self._client

    def begin_extract(self, ledgers: Ledgers, tables: list[str]) -> None:
        """Once per extract: jobs submitted by earlier runs, across all exports, count against the
        budget; the load files take the destination's format."""
        self.ledgers = ledgers
        if self.budget.running is not None:
            return
        active: Optional[set[str]] = None
        if self.settings.job_codes:
            pass
        elif self.settings.facilities:
            active = set(self.settings.facilities)
        elif self.phase in (SUBMIT, ALL):  # every enabled facility: not the jobs of one disabled since (set aside)
            active = set(self._found().run)
        self.budget.running = ledgers.jobs_running(tables, active)
        self.load_format = destination_load_format()
        self.appends_only = destination_appends_only()

    def facilities_for(self, spec: ExportSpec, ledger: Optional[ExportLedger] = None) -> tuple[str, ...]:
        """The configured facility codes (each listed ENABLED by the tenant), or every enabled one; for
        reports that ignore the facility one: that of a window of the export in `ledger` not yet done, where
        it is one of them (facility/search's order may change between runs: the job stays where it is),
        else the first. Asked once per run (the report keeps it)."""
        run = self._found().run
        if spec.facility_scoped:
            return run
        if spec.table_name not in self._tenant_facility:  # decided once a run: a step may clear a job meanwhile
            unfinished = {e.facility for e in ledger.entries() if not e.done} if ledger else set()
            self._tenant_facility[spec.table_name] = next(((code,) for code in run if code in unfinished), run[:1])
        return self._tenant_facility[spec.table_name]

    def check_job_facilities(self) -> None:
        """The facilities `job_codes` names are the tenant's (once a run; see facilities.check_job_facilities)."""
        given = sorted({f for by_code in self.settings.job_facilities.values() for f in by_code.values()})
        if given and not self._job_facilities_checked:
            check_job_facilities(given, self.client)
            self._job_facilities_checked = True

    def tenant_facilities(self) -> tuple[str, ...]:
        """Every facility code the tenant lists (the run's codes when facility/search could not tell)."""
        return self._found().tenant

    def facility_listed(self, code: str) -> bool:
        """Whether facility/search listed `code` as one of the tenant's enabled facilities this run."""
        found = self._found()
        return found.listed and code in found.run

    def _found(self) -> Facilities:
        if self._facilities is None:  # checked against facility/search before any job is created
            if self.report.facilities_found is not None:  # an earlier step of this run asked already
                self._facilities = self.report.facilities_found
            else:
                self._facilities = self.report.facilities_found = known_facilities(self.settings.facilities,
                                                                                   self.client)
        return self._facilities

    def collector(self, make: Callable[[UniwareClient, Settings, Clock], Workers]) -> Workers:
        """The job workers every resource of this source shares (made by `make` at the first call);
        each call is matched by a `release_collector`."""
        if self._collector is None:
            self._collector = make(self.client, self.settings, self.clock)
        self._collector_users += 1
        return self._collector  # type: ignore[return-value]  # made by the same `make` in every resource

    def release_collector(self) -> None:
        self._collector_users -= 1
        if self._collector_users <= 0 and self._collector is not None:
            self._collector.close()
            self._collector = None


def open_runtime(values: SettingValues, *, phase: str, run_id: Optional[str], clock: Optional[Clock],
                 report: Optional[RunReport]) -> SourceRuntime:
    """The runtime of one source instance: settings validated (ConfigError names the first wrong one)."""
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
    the_clock = clock or SystemClock()
    settings = build_settings(values, now=the_clock.now())
    runtime = SourceRuntime(
        settings=settings, clock=the_clock, phase=phase, run_id=run_id or uuid.uuid4().hex[:12],
        report=report if isinstance(report, RunReport) else RunReport(),
        budget=JobBudget(settings.max_concurrent_jobs),
    )
    runtime.report.runtime = runtime  # the discovery commands read the runtime a run would have
    return runtime


def active_facilities(spec: ExportSpec, ledger: ExportLedger, rt: SourceRuntime) -> Optional[frozenset[str]]:
    """The facilities whose entries this run works on (None: all, when loading `job_codes`). State
    follows configuration: entries of other facilities are set aside (see ledger.py); logged once
    per run and export."""
    if rt.settings.job_codes:
        rt.report.scope[spec.table_name] = None
        return None
    active = frozenset(rt.facilities_for(spec, ledger))
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
