"""The Uniware simulator: a tenant, its API server and its object-store file host, with knobs."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Optional

from .api import ApiOptions, UniwareApi
from .csv_render import CsvStyle, truth_rows
from .faults import HTTP_ERROR, Chaos, Fault, FaultPlan, JobFault
from .http import EXPORT_PREFIX, ApiHandler, FileHandler, _Server, start_server
from .jobs import JobRegistry, JobTiming
from .recorder import RequestLog
from .reports import REPORTS, ExportQuery
from .tenant import DEFAULT_FACILITIES, Facility, SimClock, Tenant, to_epoch
from .tokens import TokenStore


@dataclass(frozen=True)
class SimulatorConfig:
    """Every knob of the simulator. Defaults behave like a healthy tenant seen in the field."""

    seed: int = 42
    tenant: str = "acme"
    username: str = "api.user@acme.example"
    password: str = "s3cret-Pa55!"  # a simulator credential, not a real one
    start: Optional[datetime] = None  # the tenant's simulated 'now'; default: the real now
    live_clock: bool = False  # simulated time also runs with the real clock (else it stands still)
    history_days: int = 120
    orders_per_day: int = 240
    products: int = 240
    facilities: tuple[Facility, ...] = DEFAULT_FACILITIES
    token_ttl_seconds: float = 43199.0
    bad_credentials_status: int = 400  # the field has seen 500
    timing: JobTiming = field(default_factory=JobTiming)
    csv_style: CsvStyle = field(default_factory=CsvStyle)
    extra_columns: bool = True  # unrequested columns appear in the file
    empty_export_file: bool = False  # False: a zero-row export has no filePath at all (field)
    unknown_filter: str = "reject"  # "ignore": silently ignored, the export unwindowed (field; CLI default)
    refused_date_filters: tuple[str, ...] = ()  # date filter ids this tenant does not take (VD: updatedOn)
    reject_duplicate_jobs: bool = True
    unknown_job_error: tuple[int, str] = (100006, "INVALID_JOB_CODE")  # assumed: the docs give no code
    max_window_days: int = 92
    file_ttl_seconds: Optional[float] = None  # download links expire after this long
    file_url_query: str = ""  # appended to every filePath as ?<query> (a presigned link's signature)
    file_url_userinfo: str = ""  # "user:pass": put in every filePath; the file host then accepts its Basic auth
    file_link_in_message: bool = False  # a finished job's message quotes its link URL-encoded, and its query values
    file_gzip: bool = False  # the file host gzips bodies for clients whose Accept-Encoding allows it
    file_content_type: str = "text/csv"  # what the file host calls a CSV (a misconfigured bucket: text/html)
    relative_file_path: bool = False  # filePath is /export/<tenant>/<id>/<name>.csv on the API host (bearer needed)
    # the field a finished job's link comes under: "filePath" (the docs), or another shape a build might answer
    # ("fileUrl", or "data.filePath" nested); then no filePath at all
    file_path_field: str = "filePath"
    synchronous_exports: bool = False  # write the file while creating the job (deterministic tests)
    error_text_field: str = "description"  # or "message": which field carries the error text
    facility_code_field: str = "facilityCode"  # or "code": facility/search's field for a facility's code
    schedule_error: tuple[int, str] = (120005, "INVALID_EXPORT_SCHEDULE_CONFIG")  # (200204, ...): the field's
    unknown_facility: str = "403"  # "200001": a Facility header naming no facility of the tenant gets that error
    user_facilities: Optional[tuple[str, ...]] = None  # the facilities the API user may use (None: all)
    tenant_column_ids: tuple[tuple[str, str, str], ...] = ()  # (report, the tenant's id, the catalog's it replaces)
    host: str = "127.0.0.1"
    api_port: int = 0
    file_port: int = 0
    files_dir: Optional[Path] = None


class UniwareSimulator:
    """A faithful offline Uniware tenant over real HTTP on loopback.

    Use as a context manager::

        with UniwareSimulator() as sim:
            print(sim.base_url, sim.file_base_url)
    """

    def __init__(self, config: Optional[SimulatorConfig] = None, **overrides: Any) -> None:
        self.config = replace(config or SimulatorConfig(), **overrides)
        cfg = self.config
        start = cfg.start or datetime.now(UTC)
        self.clock = SimClock(start, live=cfg.live_clock)
        self.tenant = Tenant(seed=cfg.seed, clock=self.clock, facilities=cfg.facilities,
                             orders_per_day=cfg.orders_per_day, history_days=cfg.history_days,
                             products=cfg.products)
        self.faults = FaultPlan()
        self.requests = RequestLog()
        self._owns_files_dir = cfg.files_dir is None
        self.files_dir = Path(cfg.files_dir or tempfile.mkdtemp(prefix="uniware-sim-"))
        self.tokens = TokenStore(cfg.token_ttl_seconds)
        self.jobs = JobRegistry(
            tenant=self.tenant, tenant_name=cfg.tenant, files_dir=self.files_dir,
            timing=cfg.timing, style=cfg.csv_style, extra_columns=cfg.extra_columns,
            empty_export_file=cfg.empty_export_file, file_ttl_seconds=cfg.file_ttl_seconds,
            synchronous=cfg.synchronous_exports,
        )
        self.api = UniwareApi(
            tenant=self.tenant, jobs=self.jobs, tokens=self.tokens, faults=self.faults,
            options=ApiOptions(
                username=cfg.username, password=cfg.password,
                bad_credentials_status=cfg.bad_credentials_status,
                unknown_filter=cfg.unknown_filter, reject_duplicate_jobs=cfg.reject_duplicate_jobs,
                refused_date_filters=cfg.refused_date_filters,
                max_window_days=cfg.max_window_days, error_text_field=cfg.error_text_field,
                unknown_job_error=cfg.unknown_job_error, facility_code_field=cfg.facility_code_field,
                schedule_error=cfg.schedule_error, unknown_facility=cfg.unknown_facility,
                user_facilities=cfg.user_facilities,
                tenant_column_ids=cfg.tenant_column_ids,
            ),
        )
        self._api_server: Optional[_Server] = None
        self._file_server: Optional[_Server] = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> UniwareSimulator:
        if self._api_server is None:
            self._api_server = start_server(ApiHandler, self, self.config.host, self.config.api_port)
            self._file_server = start_server(FileHandler, self, self.config.host, self.config.file_port)
        return self

    def stop(self) -> None:
        for server in (self._api_server, self._file_server):
            if server is not None:
                server.shutdown()
                server.server_close()
        self._api_server = self._file_server = None
        self.jobs.shutdown()
        if self._owns_files_dir:
            shutil.rmtree(self.files_dir, ignore_errors=True)

    def __enter__(self) -> UniwareSimulator:
        return self.start()

    def __exit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """Where the Uniware API answers (what `base_url` of the connector points to)."""
        if self._api_server is None:
            raise RuntimeError("the simulator is not running")
        return _url(self._api_server)

    def file_url(self, url_path: str) -> str:
        """The filePath Uniware hands out for a file: the file host's URL, with the configured userinfo
        and query string; with `relative_file_path` a path on the API host (served there, behind a bearer)."""
        if self.config.relative_file_path:
            return EXPORT_PREFIX + url_path + (f"?{self.config.file_url_query}" if self.config.file_url_query else "")
        base = self.file_base_url
        if self.config.file_url_userinfo:
            base = base.replace("://", f"://{self.config.file_url_userinfo}@", 1)
        return base + url_path + (f"?{self.config.file_url_query}" if self.config.file_url_query else "")

    @property
    def file_base_url(self) -> str:
        """The object-store host that serves finished exports."""
        if self._file_server is None:
            raise RuntimeError("the simulator is not running")
        return _url(self._file_server)

    # -- knobs ----------------------------------------------------------------------------------

    def inject(self, endpoint: str, action: str = HTTP_ERROR, **params: Any) -> Fault:
        """Arm an HTTP fault, e.g. ``sim.inject("create", status=503, times=2)``."""
        return self.faults.add(Fault(endpoint=endpoint, action=action, **params))

    def inject_job_fate(self, fate: str, **params: Any) -> JobFault:
        """Decide the fate of the next jobs, e.g. ``sim.inject_job_fate("FAILED", times=1)``."""
        return self.faults.add_job_fault(JobFault(fate=fate, **params))

    def chaos(self, rate: float, seed: int = 1) -> Chaos:
        """Random transient faults on `rate` of all requests from now on (see faults.Chaos)."""
        self.faults.chaos = Chaos(rate=rate, seed=seed)
        return self.faults.chaos

    def expire_tokens(self, refresh_too: bool = False) -> None:
        """Make every access token (and optionally every refresh token) invalid now."""
        self.tokens.expire_access_tokens()
        if refresh_too:
            self.tokens.revoke_refresh_tokens()

    def set_queue_outage(self, down: bool) -> None:
        """While down, every unfinished job fails, as the field has seen for minutes at a time."""
        self.jobs.queue_outage = down

    def release_stuck_jobs(self) -> None:
        self.jobs.release_stuck()

    # -- truth, for tests and the demo ----------------------------------------------------------

    def truth(
        self,
        report_name: str,
        *,
        facility: Optional[str] = None,
        date_filter: Optional[str] = None,
        start: Optional[datetime] = None,
        end: Optional[datetime] = None,
        columns: Optional[Sequence[str]] = None,
        at: Optional[datetime] = None,
    ) -> list[dict[str, Any]]:
        """What an export would contain now (or as of `at`), keyed by header label with typed values.

        Without `facility`, facility-scoped reports are the union over enabled facilities.
        """
        report = REPORTS[report_name]
        chosen = report.file_columns(tuple(columns or [c.id for c in report.columns]), False)
        if columns is None:  # every column: the unrequested ones too
            chosen += tuple(c for c in report.extra_columns if c.label not in {k.label for k in chosen})
        moment = to_epoch(at) if at is not None else self.clock.now_epoch()
        facilities: Sequence[Optional[str]]
        if not report.facility_scoped:
            facilities = [None]
        else:
            facilities = [facility] if facility else list(self.tenant.enabled_facility_codes)
        rows: list[dict[str, Any]] = []
        for code in facilities:
            query = ExportQuery(
                at=moment, facility=code, date_filter=date_filter,
                start=to_epoch(start) if start else None, end=to_epoch(end) if end else None,
            )
            rows.extend(truth_rows(chosen, report.rows(self.tenant, query)))
        return rows


def _url(server: _Server) -> str:
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}"
