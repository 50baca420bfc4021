"""Validated settings of one source run, built from the dlt configuration values."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Optional

from dlt.common.normalizers.naming.snake_case import NamingConvention

from .catalog import CATALOG, COLUMN_TYPES, WRITE_DISPOSITIONS, ExportSpec
from .errors import ConfigError
from .windows import parse_user_datetime

EXPORT_KEYS = frozenset({
    "name", "table_name", "columns", "filters", "date_filter", "primary_key", "write_disposition",
    "dedup_sort", "column_types", "facility_scoped", "repeating_keys", "lookback_days",
})
BAD_ROW_POLICIES = ("fail", "skip")
HEADER_CHANGE_POLICIES = ("evolve", "fail")
_naming = NamingConvention()
DEFAULT_DOWNLOAD_MAX_BYTES = 20_000_000_000  # 20 GB: far above any export seen, far below a runaway body


@dataclass(frozen=True)
class PollPolicy:
    initial_seconds: float = 2.0
    max_seconds: float = 30.0
    multiplier: float = 1.6
    timeout_seconds: float = 1800.0
    complete_grace_seconds: float = 60.0


@dataclass(frozen=True)
class HttpPolicy:
    connect_timeout_seconds: float = 10.0
    read_timeout_seconds: float = 120.0
    max_attempts: int = 5
    backoff_factor: float = 1.0
    max_retry_delay_seconds: float = 60.0
    download_max_attempts: int = 5
    download_max_bytes: int = DEFAULT_DOWNLOAD_MAX_BYTES
    download_timeout_seconds: float = 3600.0
    download_stall_timeout_seconds: float = 120.0

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.connect_timeout_seconds, self.read_timeout_seconds)


@dataclass(frozen=True)
class Settings:
    base_url: str
    username: str
    password: str = field(repr=False)
    exports: tuple[ExportSpec, ...]
    facilities: Optional[tuple[str, ...]] = None
    job_codes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    start_date: Optional[datetime] = None
    backfill: Optional[tuple[datetime, datetime]] = None
    lookback: timedelta = timedelta(days=2)
    window: timedelta = timedelta(days=30)
    min_window: timedelta = timedelta(minutes=60)
    max_concurrent_jobs: int = 10
    job_expiry: timedelta = timedelta(hours=24)
    poll: PollPolicy = field(default_factory=PollPolicy)
    http: HttpPolicy = field(default_factory=HttpPolicy)
    download_dir: Optional[Path] = None
    on_bad_rows: str = "fail"
    on_header_change: str = "evolve"


def normalize_name(label: str) -> str:
    """The column or table name dlt's default naming gives a header label or report name."""
    return str(_naming.normalize_identifier(label))


def _json_or_value(setting: str, value: Any) -> Any:
    if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError as error:
            raise ConfigError(setting, f"is not valid JSON: {error}") from None
    return value


def _string_list(setting: str, value: Any, *, allow_empty: bool = False) -> tuple[str, ...]:
    value = _json_or_value(setting, value)
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(setting, f"expected a list of non-empty strings, got {value!r}")
    if not value and not allow_empty:
        raise ConfigError(setting, "must not be empty")
    return tuple(value)


def _facility_codes(value: Any) -> tuple[str, ...]:
    """Facility codes travel in the `Facility` HTTP header: printable Latin-1, no line breaks."""
    codes = _string_list("facilities", value)
    for code in codes:
        if not code.isprintable() or any(ord(ch) > 255 for ch in code) or code != code.strip():
            raise ConfigError("facilities", f"{code!r} cannot be sent in the Facility header (only printable "
                              "Latin-1 text without surrounding spaces); use the facility code as facility/search "
                              "lists it, e.g. BLR01")
    return codes


def _positive(setting: str, value: Any, *, allow_zero: bool = False) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(setting, f"expected a number, got {value!r}") from None
    if number < 0 or (number == 0 and not allow_zero):
        raise ConfigError(setting, f"must be {'zero or more' if allow_zero else 'more than zero'}, got {value!r}")
    return number


def resolve_export(entry: Any, position: int) -> ExportSpec:
    """An `exports` entry (a report name, or a table of settings) applied over its catalog entry."""
    where = f"exports[{position}]"
    if isinstance(entry, str):
        entry = {"name": entry}
    if not isinstance(entry, Mapping):
        raise ConfigError("exports", f"{where} must be a report name or a table of settings, got {entry!r}")
    unknown = sorted(set(entry) - EXPORT_KEYS)
    if unknown:
        raise ConfigError("exports", f"{where} has unknown key(s) {unknown}; known: {sorted(EXPORT_KEYS)}")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError("exports", f"{where} needs a 'name': the report's exportJobTypeName")
    base = CATALOG.get(name) or ExportSpec(name=name, table_name=normalize_name(name), columns=(), date_filter=None)
    where = f"exports[{position}] ('{name}')"

    columns = _string_list("exports", entry.get("columns", base.columns), allow_empty=True)
    if not columns:
        raise ConfigError("exports", f"{where} needs 'columns': the column ids to export"
                          + ("" if name in CATALOG else " (the report is not in the built-in catalog)"))
    date_filter = entry.get("date_filter", base.date_filter)
    if date_filter is not None and not isinstance(date_filter, str):
        raise ConfigError("exports", f"{where}: 'date_filter' must be a filter id or empty")
    filters = entry.get("filters", base.filters)
    if not isinstance(filters, (list, tuple)) or not all(
            isinstance(f, Mapping) and isinstance(f.get("id"), str) for f in filters):
        raise ConfigError("exports", f"{where}: 'filters' must be a list of tables with an 'id'")
    if date_filter and any(f["id"] == date_filter for f in filters):
        raise ConfigError("exports", f"{where}: filter '{date_filter}' is the date filter; the connector "
                          "sets its window, leave it out of 'filters'")
    disposition = entry.get("write_disposition", base.write_disposition)
    if disposition not in WRITE_DISPOSITIONS:
        raise ConfigError("exports", f"{where}: write_disposition must be one of {WRITE_DISPOSITIONS}")
    configured_types = _json_or_value("exports", entry.get("column_types", {}))
    if not isinstance(configured_types, Mapping):
        raise ConfigError("exports", f"{where}: column_types must map header labels to types")
    for label, kind in configured_types.items():
        if kind not in COLUMN_TYPES:
            raise ConfigError("exports", f"{where}: column_types['{label}'] = {kind!r}; use one of {COLUMN_TYPES}")
    lookback = base.lookback
    if "lookback_days" in entry:
        lookback = timedelta(days=_positive("exports", entry["lookback_days"], allow_zero=True))
    return replace(
        base,
        table_name=normalize_name(str(entry.get("table_name") or base.table_name)),
        columns=columns,
        date_filter=date_filter or None,
        filters=tuple(dict(f) for f in filters),
        primary_key=_string_list("exports", entry.get("primary_key", base.primary_key), allow_empty=True),
        write_disposition=disposition,
        dedup_sort=entry.get("dedup_sort", base.dedup_sort) or None,
        column_types={**base.column_types, **configured_types},
        facility_scoped=bool(entry.get("facility_scoped", base.facility_scoped)),
        repeating_keys=bool(entry.get("repeating_keys", base.repeating_keys)),
        lookback=lookback,
    )


def resolve_exports(value: Any) -> tuple[ExportSpec, ...]:
    value = _json_or_value("exports", value)
    if value is None:
        value = ["Sale Orders"]
    if isinstance(value, (str, Mapping)):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise ConfigError("exports", f"expected a list of report names or tables, got {value!r}")
    specs = tuple(resolve_export(entry, n) for n, entry in enumerate(value))
    seen: dict[str, str] = {}
    for spec in specs:
        if spec.table_name in seen:
            raise ConfigError("exports", f"'{spec.name}' and '{seen[spec.table_name]}' both load into table "
                              f"'{spec.table_name}'; give one a different table_name")
        seen[spec.table_name] = spec.name
    return specs


def resolve_job_codes(value: Any, exports: Sequence[ExportSpec]) -> dict[str, tuple[str, ...]]:
    """`job_codes`: {export name: [codes]}, or a plain list when one export is configured."""
    value = _json_or_value("job_codes", value)
    if not value:
        return {}
    if isinstance(value, (list, tuple, str)):
        if len(exports) != 1:
            raise ConfigError("job_codes", "a plain list needs exactly one configured export; otherwise map "
                              "each export name to its job codes, e.g. {\"Sale Orders\": [\"JOB1\"]}")
        return {exports[0].name: _string_list("job_codes", value)}
    if not isinstance(value, Mapping):
        raise ConfigError("job_codes", f"expected {{export name: [job codes]}}, got {value!r}")
    names = {spec.name for spec in exports}
    result = {}
    for name, codes in value.items():
        if name not in names:
            raise ConfigError("job_codes", f"'{name}' is not a configured export; configured: {sorted(names)}")
        result[name] = _string_list("job_codes", codes)
    return result


def resolve_base_url(tenant: Optional[str], base_url: Optional[str]) -> str:
    if base_url:
        if not re.match(r"^https?://[^\s/]+", base_url):
            raise ConfigError("base_url", f"expected an http(s) URL, got {base_url!r}")
        return base_url.rstrip("/")
    if tenant:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", tenant):
            raise ConfigError("tenant", f"expected the tenant's subdomain (as in <tenant>.unicommerce.com), "
                              f"got {tenant!r}")
        return f"https://{tenant}.unicommerce.com"
    raise ConfigError("tenant", "set 'tenant' (https://<tenant>.unicommerce.com) or 'base_url'")


def resolve_backfill(start: Optional[str], end: Optional[str], now: datetime) -> Optional[tuple[datetime, datetime]]:
    if not start and not end:
        return None
    if not start:
        raise ConfigError("backfill_start", "a backfill needs a start (its end defaults to now)")
    begin = parse_user_datetime("backfill_start", start)
    finish = parse_user_datetime("backfill_end", end) if end else now
    if finish <= begin:
        raise ConfigError("backfill_end", f"must be after backfill_start ({begin.isoformat()})")
    return begin, finish


def required_secret(setting: str, value: Optional[str]) -> str:
    if not value:
        raise ConfigError(setting, "is required; put it in .dlt/secrets.toml or the environment")
    return value


def build_settings(
    *,
    now: datetime,
    username: Optional[str],
    password: Optional[str],
    tenant: Optional[str],
    base_url: Optional[str],
    facilities: Any,
    exports: Any,
    job_codes: Any,
    start_date: Optional[str],
    lookback_days: float,
    window_days: float,
    max_concurrent_jobs: int,
    min_window_minutes: float = 60.0,
    poll_initial_seconds: float,
    poll_max_seconds: float,
    job_timeout_seconds: float,
    complete_without_file_grace_seconds: float,
    job_expiry_hours: float,
    connect_timeout_seconds: float,
    read_timeout_seconds: float,
    request_max_attempts: int,
    request_backoff_factor: float,
    request_max_retry_delay_seconds: float,
    download_max_attempts: int,
    download_max_bytes: int,
    download_timeout_seconds: float,
    download_stall_timeout_seconds: float,
    download_dir: Optional[str],
    on_bad_rows: str,
    on_header_change: str,
    backfill_start: Optional[str],
    backfill_end: Optional[str],
) -> Settings:
    """Validate every setting; a ConfigError names the first one that is wrong."""
    specs = resolve_exports(exports)
    if on_bad_rows not in BAD_ROW_POLICIES:
        raise ConfigError("on_bad_rows", f"must be one of {BAD_ROW_POLICIES}, got {on_bad_rows!r}")
    if on_header_change not in HEADER_CHANGE_POLICIES:
        raise ConfigError("on_header_change", f"must be one of {HEADER_CHANGE_POLICIES}, got {on_header_change!r}")
    window = _positive("window_days", window_days)
    if window > 92:
        raise ConfigError("window_days", "Uniware refuses date ranges longer than 92 days (30 is safe)")
    concurrent = int(_positive("max_concurrent_jobs", max_concurrent_jobs))
    initial = _positive("poll_initial_seconds", poll_initial_seconds, allow_zero=True)
    return Settings(
        base_url=resolve_base_url(tenant, base_url),
        username=required_secret("username", username),
        password=required_secret("password", password),
        exports=specs,
        facilities=_facility_codes(facilities) if facilities else None,
        job_codes=resolve_job_codes(job_codes, specs),
        start_date=parse_user_datetime("start_date", start_date) if start_date else None,
        backfill=resolve_backfill(backfill_start, backfill_end, now),
        lookback=timedelta(days=_positive("lookback_days", lookback_days, allow_zero=True)),
        window=timedelta(days=window),
        min_window=timedelta(minutes=_positive("min_window_minutes", min_window_minutes, allow_zero=True)),
        max_concurrent_jobs=concurrent,
        job_expiry=timedelta(hours=_positive("job_expiry_hours", job_expiry_hours)),
        poll=PollPolicy(
            initial_seconds=initial,
            max_seconds=max(initial, _positive("poll_max_seconds", poll_max_seconds, allow_zero=True)),
            timeout_seconds=_positive("job_timeout_seconds", job_timeout_seconds),
            complete_grace_seconds=_positive("complete_without_file_grace_seconds",
                                             complete_without_file_grace_seconds, allow_zero=True),
        ),
        http=HttpPolicy(
            connect_timeout_seconds=_positive("connect_timeout_seconds", connect_timeout_seconds),
            read_timeout_seconds=_positive("read_timeout_seconds", read_timeout_seconds),
            max_attempts=int(_positive("request_max_attempts", request_max_attempts)),
            backoff_factor=_positive("request_backoff_factor", request_backoff_factor, allow_zero=True),
            max_retry_delay_seconds=_positive("request_max_retry_delay_seconds", request_max_retry_delay_seconds,
                                              allow_zero=True),
            download_max_attempts=int(_positive("download_max_attempts", download_max_attempts)),
            download_max_bytes=int(_positive("download_max_bytes", download_max_bytes)),
            download_timeout_seconds=_positive("download_timeout_seconds", download_timeout_seconds),
            download_stall_timeout_seconds=_positive("download_stall_timeout_seconds",
                                                     download_stall_timeout_seconds),
        ),
        download_dir=Path(download_dir) if download_dir else None,
        on_bad_rows=on_bad_rows,
        on_header_change=on_header_change,
    )
