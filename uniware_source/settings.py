"""The source's settings, declared once (`SettingValues`: type, default, meaning), and their validation.

The signature of `uniware_source(...)` (so dlt's injection of `SOURCES__UNIWARE__<NAME>` and
`.dlt/*.toml`), the README's settings table (checked by tests/unit/test_settings.py) and every
ConfigError (named after the setting and its env var) derive from `SettingValues`. `build_settings`
validates them into the `Settings` the connector uses.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import json
import logging
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields, replace
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Optional, TypedDict, get_type_hints
from urllib.parse import urlsplit

import dlt
from dlt.common.normalizers.naming.snake_case import NamingConvention

from .catalog import (
    APPEND,
    CATALOG,
    COLUMN_TYPES,
    DATE,
    MERGE,
    REPLACE,
    TEXT,
    TIMESTAMP,
    WRITE_DISPOSITIONS,
    ExportSpec,
    codes_are_the_tenants,
    did_you_mean_report,
)
from .conversion.facility_guard import fold_name
from .errors import ConfigError
from .setting_places import ENV_PREFIX, misplaced_settings, secrets_file
from .type_labels import (
    as_labels,
    did_you_mean,
    fold_label,
    known_labels,
    matching_label,
    missing_labels,
    report_labels,
    resolve_types,
)
from .vocabulary import ASSUMED_IDS, FILTER_FIELDS, FILTER_IDS, LABELS
from .windows import parse_user_datetime, shown_time


class ExportEntry(TypedDict, total=False):
    """A table in `exports` (see the README's Exports table); validated by `resolve_export` alone."""

    name: str
    table_name: str
    columns: list[str]
    exclude_columns: list[str]
    filters: list[dict[str, Any]]
    date_filter: Optional[str]
    primary_key: list[str]
    write_disposition: str
    dedup_sort: Optional[str]
    column_types: dict[str, str]
    label_readings: dict[str, list[str]]
    facility_scoped: bool
    codes_per_facility: bool
    repeating_keys: bool
    lookback_days: float
    window_column: Optional[str]


EXPORT_KEYS = frozenset(ExportEntry.__annotations__)
BAD_ROW_POLICIES = ("fail", "skip")
HEADER_CHANGE_POLICIES = ("evolve", "fail")
WINDOW_VIOLATION_POLICIES = ("fail", "warn")  # see window_guard.py
COMPLETE_WITH_ERRORS_POLICIES = ("fail", "load")  # see client/job_status.py
_naming = NamingConvention()
DEFAULT_DOWNLOAD_MAX_BYTES = 20_000_000_000  # 20 GB: far above any export seen, far below a runaway body
DEFAULT_EXPORTS = ("Sale Orders",)  # `exports` when none are configured
LOOKBACK_DAYS_MAX = 36500  # a hundred years: more would reach before the calendar
COLUMN_IDS = frozenset(column for labels in LABELS.values() for column in labels)  # of every known report
# the values .dlt/secrets.toml.example holds: copied unchanged, they would go to the tenant as a password grant
PLACEHOLDER_SECRETS = {"username": "api.user@your-company.example", "password": "your Uniware password"}
log = logging.getLogger(__name__)


def setting(default: Any, doc: str, *, shown: Optional[str] = None, secret: bool = False) -> Any:
    """A field of `SettingValues`: its default and its meaning; `shown`: the default as the README says
    it, where the value itself does not say it (e.g. None)."""
    return field(default=default, metadata={"shown_default": shown or _shown(default), "doc": doc, "secret": secret})


def _shown(default: Any) -> str:
    """A number or a word as the README's settings table writes it: `2`, `1800`, `fail`."""
    if isinstance(default, float) and default.is_integer():
        default = int(default)
    return f"`{default}`"


@dataclass(frozen=True)
class SettingValues:
    """Every setting of the source as given (arguments, .dlt/*.toml, SOURCES__UNIWARE__<NAME>), declared once."""

    username: Optional[str] = setting(None, shown='required (secret)', secret=True, doc=
        'Uniware API user')
    password: Optional[str] = setting(None, shown='required (secret)', secret=True, doc=
        'its password; never logged')
    tenant: Optional[str] = setting(None, shown='-', doc=
        'gives `https://{tenant}.unicommerce.com`')
    base_url: Optional[str] = setting(None, shown='-', doc=
        'any Uniware-compatible server (wins over `tenant`), e.g. the simulator; scheme, host and path only (no '
        '`user:pass@`, query or fragment; a path of the API itself, `/services/...` or `/oauth/...`, copied with '
        'the address is a setting error naming the address to give)')
    facilities: Optional[Any] = setting(None, shown='every enabled facility', doc=
        'facility codes (list or comma-separated), each checked against `facility/search` before any job is '
        'created; `all`: every facility it lists ENABLED')
    exports: Optional[Any] = setting(None, shown=f'`{json.dumps(DEFAULT_EXPORTS)}`', doc=
        'report names and/or tables of settings (below)')
    job_codes: Optional[Any] = setting(None, shown='none', doc=
        '`{"Sale Orders": ["JOB1"]}`: load existing jobs, create none; `{"Invoice": {"BLR01": ["JOB1"]}}` says '
        'the facility a job ran under, which an export whose key takes the facility (`codes_per_facility`) needs '
        '(on the command line: one `--facility F` beside `--job-code`)')
    start_date: Optional[str] = setting(None, shown='`window_days` before the first run', doc=
        'where the first run starts (date or ISO datetime; India time unless it has an offset); not after now. '
        'Later runs go on from their cursor: moved earlier, it changes nothing, and each run says so with the '
        'backfill (`--export T --facility F --start ... --end ...`) that loads the days between')
    lookback_days: float = setting(2.0,
        'each incremental run re-exports this much before the cursor (late updates); not for an export '
        'without a natural key, which cannot merge what it reads again')
    window_days: float = setting(30.0,
        'longest date window per job (Uniware refuses more than 92)')
    min_window_minutes: float = setting(60.0,
        'no job is created for a window shorter than this: the rest of the time waits for a later run (the '
        "cursor stays before it); a backfill's short last piece joins the window before it")
    max_concurrent_jobs: int = setting(10,
        'jobs running at once across all exports; a run goes on in rounds until every planned window had its '
        'job (windows left without one, every slot held by a job that does not end, make a `--mode run` exit 1)')
    poll_initial_seconds: float = setting(2.0,
        'first wait between status polls (above zero: 0 would poll Uniware as fast as it answers)')
    poll_max_seconds: float = setting(30.0,
        'the backoff cap (x1.6 per poll)')
    job_timeout_seconds: float = setting(1800.0,
        'how long one run waits for a job; the job is kept and polled again next run')
    complete_without_file_grace_seconds: float = setting(60.0,
        'COMPLETE without `filePath` is polled this long (continuously), then taken as an empty export; raise it '
        'if your tenant links files late (see the fault table)')
    job_expiry_hours: float = setting(24.0,
        'a job still unfinished this long after creation is abandoned and its window re-exported')
    connect_timeout_seconds: float = setting(10.0,
        'HTTP connect timeout')
    read_timeout_seconds: float = setting(120.0,
        'HTTP read timeout; an API answer (token, create, status, facility search) must also arrive whole within '
        'it: one trickled in is cut and the call retried')
    request_max_attempts: int = setting(5,
        'attempts per API call on 429/5xx/reset/timeout')
    request_backoff_factor: float = setting(1.0,
        'exponential backoff multiplier between attempts')
    request_max_retry_delay_seconds: float = setting(60.0,
        'longest wait between attempts (also caps `Retry-After`)')
    download_max_attempts: int = setting(5,
        'attempts to fetch a file; a truncated body resumes with a Range request')
    download_max_bytes: int = setting(DEFAULT_DOWNLOAD_MAX_BYTES, shown='`20000000000` (20 GB)', doc=
        'largest file kept: a larger announced size is refused before any byte is read, and a body (also '
        'chunked, or gzip once decoded) that passes it is cut; the job ends DOWNLOAD_FAILED')
    download_timeout_seconds: float = setting(3600.0,
        'wall time for one file across all its attempts, checked between chunks (a host that trickles a byte '
        'every few seconds never trips a read timeout); no socket wait is longer than what is left')
    download_stall_timeout_seconds: float = setting(120.0,
        'no byte for this long ends the attempt (the next one resumes); caps `read_timeout_seconds` for downloads')
    download_dir: Optional[str] = setting(None, shown='system temp', doc=
        'where CSV and Parquet files wait (deleted once handed to dlt; made if missing), and where the key check '
        'keeps the key '
        'hashes beyond its 32 MB (deleted after the package)')
    on_bad_rows: str = setting("fail",
        '`fail`: a ragged row, non-UTF-8 bytes, a NUL byte or an untypable value fails the job, naming file, row and '
        'column (a number its type cannot hold, such as a fraction in an `integer` or 15 digits before the point in '
        'a `decimal`, also says which type holds it); `skip`: drop such rows, count them in `rows_skipped` and the '
        'log (a rounding of decimals is reported for the rows that load only). Never skipped: rows joined by a '
        'quote that is not escaped, whose rows cannot be told apart: a value whose lines are shaped like the '
        'file\'s rows (in a file of 5 columns or more; 8 for a value over two lines with no whole row between; in a '
        'key column, any width), or a ragged row with a quote left open or (from 5 columns) two lines that are '
        'whole rows')
    on_header_change: str = setting("evolve",
        "a file's columns differ from the last load: `evolve` warns and adds new columns; `fail` refuses the file")
    backfill_start: Optional[str] = setting(None, shown='none', doc=
        'start of a stateless backfill (what `--start` sets): windows of `window_days` that move no cursor')
    backfill_end: Optional[str] = setting(None, shown='none', doc=
        'its end (what `--end` sets; default: now); an end after now is a setting error (exit 2), as is a start '
        'not before now')
    on_window_violation: str = setting("fail",
        'a windowed file holds rows more than a day outside its window (an ignored filter id), or only rows '
        "before its window (another window's file): `fail` refuses "
        'the file (OUT_OF_WINDOW, the cursor stays); `warn` loads it with a warning in the log and the history')
    shared_facility_names: Optional[Any] = setting(None, shown='none', doc=
        'display names (the `Facility` column of reports without `Facility Code`) that more than one facility of '
        'the tenant carries, as a list (a name may hold commas): a facility\'s first file whose rows carry only '
        'names another facility\'s files did is otherwise refused as that facility\'s export (INVALID_FILE)')
    on_complete_with_errors: str = setting("fail",
        'a job answered done (`COMPLETE`) with its file and `successful: true` but with `errors[]`, or a `message` '
        'or warning that says the file holds only part of the export (truncated, partial, a row limit), or done '
        'without a file but with `errors[]`: `fail` does not load the file, '
        'polls on in case the errors go, then gives the job up naming them (the window is exported again by the '
        'next run); `load` loads it with the errors in the log and the history')


def setting_fields() -> list[Any]:
    return list(fields(SettingValues))


def source_parameters() -> list[inspect.Parameter]:
    """The parameters of `uniware_source(...)`, one per setting, typed for dlt's config injection
    (secrets default to `dlt.secrets.value`)."""
    hints = get_type_hints(SettingValues)
    return [inspect.Parameter(f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=hints[f.name],
                              default=dlt.secrets.value if f.metadata["secret"] else f.default)
            for f in setting_fields()]


def unknown_source_keys(known: frozenset[str]) -> list[tuple[str, str]]:
    """Values given to the source under names it does not take (a typo such as `facilites` was ignored,
    and the run went on with the default), each with where it is given: environment variables
    `SOURCES__UNIWARE__<KEY>` and the `[sources.uniware]` tables of dlt's TOML files (also under a
    pipeline's name, and `sources.uniware.uniware`, which dlt reads as well). Tables under those (dlt's
    own sections: `schema`, `extract`, `data_writer`...) and their env vars (`..._SCHEMA__NAMING`) are
    dlt's, not the source's, and pass."""
    found: list[tuple[str, str]] = []
    for name in os.environ:
        if not name.upper().startswith(ENV_PREFIX):
            continue
        parts = name[len(ENV_PREFIX):].lower().split("__")
        if parts[0] == "uniware" and len(parts) > 1:
            parts = parts[1:]
        if len(parts) == 1 and (parts[0] not in known or name != name.upper()):  # dlt reads upper case only
            found.append((parts[0], f"environment variable {name}"))
    for provider in dlt.config.config_providers:
        document = getattr(provider, "_config_doc", None)
        if not isinstance(document, Mapping):
            continue
        roots = [("", document), *((f"{k}.", v) for k, v in document.items()
                                    if k != "sources" and isinstance(v, Mapping))]
        for prefix, root in roots:
            sources = root.get("sources")
            table = sources.get("uniware") if isinstance(sources, Mapping) else None
            if not isinstance(table, Mapping):
                continue
            tables = [(f"{prefix}sources.uniware", table)]
            if isinstance(table.get("uniware"), Mapping):
                tables.append((f"{prefix}sources.uniware.uniware", table["uniware"]))
            for path, values in tables:
                found += [(key, f"{provider.name} [{path}]") for key, value in values.items()
                          if key not in known and not isinstance(value, Mapping)]
    return found


def refuse_unknown_keys(known: frozenset[str]) -> None:
    """ConfigError for the first value given under a name the source does not take, with the setting it
    likely means (`known`: the names it takes; the settings are `SettingValues`' fields), or where dlt
    does not read it (`misplaced_settings`)."""
    for key, where in misplaced_settings({f.name for f in setting_fields()}):
        raise ConfigError(key, "the source never sees it", given_as=where)
    settings = sorted(f.name for f in setting_fields())
    for key, where in unknown_source_keys(known):
        if key in known:
            raise ConfigError(key, f"dlt reads environment variables in upper case only, so it would ignore this "
                              f"one: name it {ENV_PREFIX}{key.upper()}", given_as=where)
        close = difflib.get_close_matches(key, settings, n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else f"; the settings are {', '.join(settings)}"
        raise ConfigError(key, f"is not a setting of the source, so dlt would ignore it{hint}",
                          given_as=where)


def readme_rows() -> list[str]:
    """The README's settings table rows, as the declaration says they are."""
    return [f"| `{f.name}` | `{ENV_PREFIX}{f.name.upper()}` | {f.metadata['shown_default']} | {f.metadata['doc']} |"
            for f in setting_fields()]


assert all(f.default is not MISSING for f in fields(SettingValues))


POLL_BACKOFF_MULTIPLIER = 1.6  # each wait between status polls is this much longer, up to poll_max_seconds


# What the settings become: built only by `build_settings`, so no default is written twice (every
# default is the one in SettingValues).
@dataclass(frozen=True)
class PollPolicy:
    initial_seconds: float
    max_seconds: float
    timeout_seconds: float
    complete_grace_seconds: float
    multiplier: float
    load_with_errors: bool  # on_complete_with_errors = "load"


@dataclass(frozen=True)
class HttpPolicy:
    connect_timeout_seconds: float
    read_timeout_seconds: float
    max_attempts: int
    backoff_factor: float
    max_retry_delay_seconds: float
    download_max_attempts: int
    download_max_bytes: int
    download_timeout_seconds: float
    download_stall_timeout_seconds: float

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.connect_timeout_seconds, self.read_timeout_seconds)


@dataclass(frozen=True)
class Settings:
    base_url: str
    username: str
    password: str = field(repr=False)
    exports: tuple[ExportSpec, ...]
    facilities: Optional[tuple[str, ...]]  # None: every enabled facility
    job_codes: Mapping[str, tuple[str, ...]]
    job_facilities: Mapping[str, Mapping[str, str]]  # export name -> job code -> the facility it ran under
    start_date: Optional[datetime]
    backfill: Optional[tuple[datetime, datetime]]
    lookback: timedelta
    window: timedelta
    min_window: timedelta
    max_concurrent_jobs: int
    job_expiry: timedelta
    poll: PollPolicy
    http: HttpPolicy
    download_dir: Optional[Path]
    on_bad_rows: str
    on_header_change: str
    on_window_violation: str
    shared_facility_names: frozenset[str]  # as facility_guard.fold_name compares them


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


_TRUE, _FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off")


def _true_or_false(value: Any, where: str) -> bool:
    """An export's yes-or-no setting: true or false, or a text that says one of them (from the environment,
    `"false"`; it was read as true, as any non-empty text is)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    said = str(value).strip().lower() if isinstance(value, str) else None
    if said in _TRUE or said in _FALSE:
        return said in _TRUE
    raise ConfigError("exports", f"{where} must be true or false, got {value!r}")


def _string_list(setting: str, value: Any, *, allow_empty: bool = False) -> tuple[str, ...]:
    value = _json_or_value(setting, value)
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(setting, f"expected a list of non-empty strings, got {value!r}")
    if not value and not allow_empty:
        raise ConfigError(setting, "must not be empty")
    return tuple(value)


def fits_the_facility_header(code: str) -> bool:
    """Whether a facility code can travel in the `Facility` HTTP header: printable Latin-1 text,
    without surrounding spaces."""
    return code.isprintable() and all(ord(ch) <= 255 for ch in code) and code == code.strip()


def _facility_codes(value: Any) -> Optional[tuple[str, ...]]:
    """Facility codes travel in the `Facility` HTTP header: printable Latin-1, no line breaks.
    None (every enabled facility) for "all"."""
    codes = _string_list("facilities", value)
    if any(code.strip().lower() == "all" for code in codes):
        if len(codes) > 1:
            raise ConfigError("facilities", f"'all' takes every enabled facility; it cannot be combined with "
                              f"codes, got {list(codes)}")
        return None
    for code in codes:
        if not fits_the_facility_header(code):
            raise ConfigError("facilities", f"{code!r} cannot be sent in the Facility header (only printable "
                              "Latin-1 text without surrounding spaces); use the facility code as facility/search "
                              "lists it, e.g. BLR01")
    return codes


def _positive(setting: str, value: Any, *, allow_zero: bool = False, where: str = "", most: float = 1e7) -> float:
    """A finite number above zero (or zero), at most `most` (beyond it a duration overflows the
    calendar); `where` names the part of `setting` it is (`exports[0] ('Sale Orders'): lookback_days`)."""
    prefix = f"{where}: " if where else ""
    if isinstance(value, bool):  # TOML's true is no number of days
        raise ConfigError(setting, f"{prefix}expected a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(setting, f"{prefix}expected a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ConfigError(setting, f"{prefix}expected a finite number, got {value!r}")
    if number < 0 or (number == 0 and not allow_zero):
        raise ConfigError(setting, f"{prefix}must be {'zero or more' if allow_zero else 'more than zero'}, "
                                   f"got {value!r}")
    if number > most:
        raise ConfigError(setting, f"{prefix}must be at most {most:g}, got {value!r}")
    return number


def _check_filter_id(filter_id: str, where: str) -> None:
    """An id that is one Uniware's reports take but for its case is a typo: Uniware matches ids exactly and
    has been seen ignoring an id it does not know, exporting the whole report."""
    if not filter_id.strip():
        raise ConfigError("exports", f"{where} is blank: name a filter id (a date_filter left out, or empty, makes "
                          "a snapshot)")
    if filter_id != filter_id.strip():
        raise ConfigError("exports", f"{where} {filter_id!r} has blanks around it; Uniware matches ids exactly (an "
                          "id it does not know has been seen ignored, the whole report exported): use "
                          f"{filter_id.strip()!r}")
    if filter_id in FILTER_IDS:
        return
    folded = "".join(filter_id.split()).casefold()
    same = [known for known in FILTER_IDS if known.casefold() == folded]
    if same:
        raise ConfigError("exports", f"{where} '{filter_id}' is Uniware's filter id '{same[0]}' with other capitals "
                          "or blanks; "
                          f"ids are matched exactly (an id Uniware does not know has been seen ignored, the whole "
                          f"report exported): did you mean '{same[0]}'?")


def _check_static_filter_id(filter_id: str, where: str, rows: str) -> None:
    """A static filter id no report is known to take: Uniware ignores an id it does not know, and the file holds
    `rows` (every row of the window) unfiltered. A column id (`channel`) or a near miss of a known id is a setting
    error naming the ids it may mean; any other id (a tenant's own filter, `dateUpdatedRange`, `vendor`: real
    tenants may have them) goes to Uniware, with a warning."""
    if filter_id in FILTER_IDS:
        return
    folded = filter_id.casefold()
    by_fold = {known.casefold(): known for known in FILTER_IDS}
    ignored = f"Uniware ignores a filter id it does not know, and the file would hold {rows}"
    meant = [known for fold, known in by_fold.items() if fold.startswith(folded)] or \
        [by_fold[fold] for fold in difflib.get_close_matches(folded, list(by_fold), n=2, cutoff=0.6)]
    if folded in {column.casefold() for column in COLUMN_IDS} and meant:  # `channel`: channelFilter meant
        raise ConfigError("exports", f"{where} '{filter_id}' is a column id, not a filter id ({ignored}); did you mean "
                          f"{' or '.join(repr(known) for known in meant)}?")
    close = difflib.get_close_matches(folded, list(by_fold), n=1, cutoff=0.9)  # a typo, not another word
    if close:
        raise ConfigError("exports", f"{where} '{filter_id}' is not a filter id Uniware is known to take ({ignored}); "
                          f"did you mean '{by_fold[close[0]]}'?")
    warn_once(f"setting 'exports' ({ENV_PREFIX}EXPORTS): {where} '{filter_id}' is not a filter id Uniware is known "
              f"to take; sent as given (a tenant's own filter), but if the tenant does not know it either, {ignored}, "
              "unfiltered")


@functools.cache
def warn_once(message: str) -> None:
    """Log a settings warning once per process: a run builds its settings for each of its phases."""
    log.warning("%s", message)


def _check_filter(static: Mapping[str, Any], where: str, rows: str) -> None:
    """A static filter's shape: known fields (uniware-reports.md 10), each of its kind, and some value."""
    _check_filter_id(static["id"], f"{where}: id")
    _check_static_filter_id(static["id"], f"{where}: id", rows)
    unknown = sorted(set(static) - set(FILTER_FIELDS))
    if unknown:
        raise ConfigError("exports", f"{where} has unknown field(s) {unknown}; a filter takes "
                          + ", ".join(f"{name} ({kind})" for name, kind in FILTER_FIELDS.items()))
    values = {name: value for name, value in static.items() if name != "id"}
    if not values:
        raise ConfigError("exports", f"{where} has no value: give one of " + ", ".join(
            f"{name} ({kind})" for name, kind in FILTER_FIELDS.items() if name != "id"))
    for name, value in values.items():
        if not _filter_value_fits(name, value):
            raise ConfigError("exports", f"{where}: {name} must be a {FILTER_FIELDS[name]}, got {value!r}"
                              + (f" (e.g. {name} = [{json.dumps(value)}])" if name == "selectedValues"
                                 and isinstance(value, str) else ""))


def _filter_value_fits(name: str, value: Any) -> bool:
    def number_or_text(item: Any) -> bool:
        return isinstance(item, str) or (isinstance(item, (int, float)) and not isinstance(item, bool)
                                         and math.isfinite(item))

    if name in ("text", "selectedValue"):
        return isinstance(value, str)
    if name == "selectedValues":  # texts, or numbers (ids: categoryIds)
        return isinstance(value, (list, tuple)) and all(number_or_text(item) for item in value)
    if name == "checked":
        return isinstance(value, bool)
    if name == "dateTime":
        return number_or_text(value)
    # dateRange: {start, end} (epoch ms or ISO text) or {textRange: "TODAY"...}
    return isinstance(value, Mapping) and bool(value) and set(value) <= {"start", "end", "textRange"} and all(
        isinstance(item, str) if key == "textRange" else number_or_text(item) for key, item in value.items())


def _codes_per_facility(name: str, base: ExportSpec, entry: Mapping[str, Any]) -> bool:
    """`codes_per_facility` when not configured: the catalog's, else false for a key with the tenant's order or
    item codes (a tenant's copy of Sale Orders), true for any other (its codes taken as each facility's)."""
    if name in CATALOG:
        return base.codes_per_facility
    key = _json_or_value("exports", entry.get("primary_key", ()))
    return not codes_are_the_tenants([str(label) for label in key] if isinstance(key, (list, tuple)) else [str(key)])


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
    excluded = _string_list("exports", entry.get("exclude_columns", []), allow_empty=True)
    if not columns or not set(columns) - set(excluded):
        raise ConfigError("exports", f"{where} needs 'columns': the column ids to export"
                          + ("" if name in CATALOG else " (the report is not in the built-in catalog, which "
                             "`uniware-pipeline exports` lists" + did_you_mean_report(name) + ")"))
    unknown_excluded = sorted(set(excluded) - set(columns))
    if unknown_excluded:
        raise ConfigError("exports", f"{where}: exclude_columns names {unknown_excluded}, which are not among its "
                          f"columns {list(columns)}")
    columns = tuple(c for c in columns if c not in excluded)
    _check_column_case(name, columns, where)
    date_filter = entry.get("date_filter", base.date_filter)
    if date_filter is not None and not isinstance(date_filter, str):
        raise ConfigError("exports", f"{where}: 'date_filter' must be a filter id or empty")
    if date_filter:
        _check_filter_id(date_filter, f"{where}: date_filter")
    filters = entry.get("filters", base.filters)
    if not isinstance(filters, (list, tuple)) or not all(
            isinstance(f, Mapping) and isinstance(f.get("id"), str) for f in filters):
        raise ConfigError("exports", f"{where}: 'filters' must be a list of tables with an 'id'")
    for index, static in enumerate(filters):
        _check_filter(static, f"{where}: filters[{index}] ('{static['id']}')",
                      "every row of the window" if date_filter else "the whole report")
    if date_filter and any(f["id"] == date_filter for f in filters):
        raise ConfigError("exports", f"{where}: filter '{date_filter}' is the date filter; the connector "
                          "sets its window, leave it out of 'filters'")
    disposition = entry.get("write_disposition", base.write_disposition)
    if disposition not in WRITE_DISPOSITIONS:
        raise ConfigError("exports", f"{where}: write_disposition must be one of {WRITE_DISPOSITIONS}")
    if disposition == REPLACE and date_filter:
        # each window's file would replace the facility's rows: every run would delete the earlier windows'
        raise ConfigError("exports", f"{where}: write_disposition 'replace' makes each job's file replace all the "
                          f"facility's rows, and with date_filter '{date_filter}' a job holds one window only; use "
                          "'merge' (with a primary_key), or leave date_filter empty for a snapshot")
    if disposition == APPEND and entry.get("primary_key"):
        if "write_disposition" in entry:
            raise ConfigError("exports", f"{where}: write_disposition 'append' ignores primary_key (rows merge on "
                              "the job code); set write_disposition = 'merge' to merge on the key")
        disposition = MERGE  # a report without a known key (Tally) given one: it merges on it
    if not date_filter and not filters and disposition != REPLACE and not entry.get("primary_key", base.primary_key):
        # every job exports the whole report: kept side by side by job code, each run would add a full copy
        # (static filters may pick another slice each run, `YESTERDAY`: those exports keep their rows by job)
        if "write_disposition" in entry:
            raise ConfigError("exports", f"{where}: without a date_filter each job exports the whole report, and "
                              f"with write_disposition '{disposition}' and no primary_key every run would add a "
                              "full copy of it; use 'replace' (each run's file replaces the facility's rows), or "
                              "set a primary_key to merge on, or a date_filter")
        disposition = REPLACE  # a snapshot: each job's file replaces the facility's rows
    configured_types = _json_or_value("exports", entry.get("column_types", {}))
    if not isinstance(configured_types, Mapping):
        raise ConfigError("exports", f"{where}: column_types must map header labels to types")
    for label, kind in configured_types.items():
        if kind not in COLUMN_TYPES:
            raise ConfigError("exports", f"{where}: column_types['{label}'] = {kind!r}; use one of {COLUMN_TYPES}")
    known = known_labels(name, columns)
    if known is not None:  # every label of the file is known: a label none matches is a typo, said now
        typed, wrong = resolve_types(configured_types, frozenset(configured_types), known, "of the report's file")
        if wrong:
            raise ConfigError("exports", f"{where}: column_types of export '{name}' {wrong[0]}")
        configured_types = typed
    set_apart = [*_string_list("exports", entry.get("primary_key", base.primary_key), allow_empty=True),
                 *(str(entry.get(key) or getattr(base, key) or "") for key in ("dedup_sort", "window_column")),
                 *configured_types]
    label_readings, configured_readings = _label_readings(entry, base, known, set_apart, where)
    window_column = _window_column(entry, base, date_filter or None, where)
    # a report the catalog appends never looks back (its rows cannot merge again); given a key, it can
    lookback = None if base.write_disposition == APPEND and disposition == MERGE else base.lookback
    if "lookback_days" in entry:
        lookback = timedelta(days=_positive("exports", entry["lookback_days"], allow_zero=True,
                                            where=f"{where}: lookback_days", most=LOOKBACK_DAYS_MAX))
    spec = replace(
        base,
        table_name=normalize_name(str(entry.get("table_name") or base.table_name)),
        columns=columns,
        date_filter=date_filter or None,
        filters=tuple(dict(f) for f in filters),
        primary_key=as_labels(_string_list("exports", entry.get("primary_key", base.primary_key), allow_empty=True),
                              name),
        write_disposition=disposition,
        dedup_sort=_one_label(entry.get("dedup_sort", base.dedup_sort), name, where, "dedup_sort"),
        column_types={**base.column_types, **configured_types},
        configured_types=frozenset(configured_types),
        label_readings=label_readings,
        configured_readings=configured_readings,
        facility_scoped=_true_or_false(entry.get("facility_scoped", base.facility_scoped), f"{where}: facility_scoped"),
        codes_per_facility=_true_or_false(entry.get("codes_per_facility", _codes_per_facility(name, base, entry)),
                                          f"{where}: codes_per_facility"),
        repeating_keys=_true_or_false(entry.get("repeating_keys", base.repeating_keys), f"{where}: repeating_keys"),
        lookback=lookback,
        window_column=window_column,
    )
    if "date_filter" not in entry and "window_column" not in entry and spec.date_filter:
        others = [f for f, label in base.window_columns_by_filter.items()
                  if f != spec.date_filter and not missing_labels(name, spec.columns, [label])]
        spec = replace(spec, date_filter_fallback=others[0] if len(others) == 1 else None)
    for setting, labels in (("primary_key", spec.primary_key), ("dedup_sort", [spec.dedup_sort]),
                            ("window_column", [spec.window_column])):
        for label in labels:
            _check_label(spec, setting, label, where)
    _check_window_column_type(spec, where)
    missing = [] if spec.merges_on_job_code else missing_labels(name, spec.columns, spec.primary_key)
    if missing:  # every job would fail on its file, after being made
        raise ConfigError("exports", f"{where}: its key needs {', '.join(missing)}, which its columns do not "
                          "export; add the column id to 'columns' (or set primary_key)")
    for need in spec.column_needs():  # a column the merge or a check relies on, which no job's file would carry
        unexported = missing_labels(name, spec.columns, [need.label]) if need.way_out else []
        if unexported:
            raise ConfigError("exports", f"{where}: {need.role.format(unexported[0])}, which its columns do not "
                              f"export; add the column id to 'columns', or set {need.way_out}")
    _check_dedup_sort_type(spec, where)
    if spec.merges_on_job_code and spec.incremental:
        # its rows cannot merge again: a window exported twice would land twice (submit.py refuses
        # windows over rows already loaded), so it never looks back, whatever lookback_days says
        if "lookback_days" in entry and spec.lookback is not None and spec.lookback > timedelta(0):
            raise ConfigError("exports", f"{where}: lookback_days would export again days already loaded, and an "
                              "export without a primary_key would load their rows twice; leave it out, or "
                              "configure a primary_key to merge on")
        spec = replace(spec, lookback=timedelta(0))
    return spec


def _check_column_case(report: str, columns: Sequence[str], where: str) -> None:
    """A column id the report knows in other capitals (`trackingNumber` for `TrackingNumber`): Uniware matches
    ids exactly (some are spelt oddly, and must be sent so) and refuses the job (100002)."""
    known = {} if report in ASSUMED_IDS else LABELS.get(report, {})  # assumed ids: the tenant's spelling may be right
    by_fold = {column.casefold(): column for column in known}
    for column in columns:
        meant = by_fold.get(column.casefold())
        if column not in known and meant:
            raise ConfigError("exports", f"{where}: columns has '{column}', which is the report's column id '{meant}' "
                              f"in other capitals; Uniware matches ids exactly (and refuses others, 100002): did you "
                              f"mean '{meant}'?")


def _label_kinds(spec: ExportSpec, label: str) -> set[str]:
    """The types `column_types` gives the column `label` names, under any of its readings (none: untyped)."""
    typed = list(spec.column_types)
    # the label, or the catalog's label it is another reading of (Reverse Pickup Updated / ... Last Updated)
    spellings = [label, *(main for main, others in spec.label_readings.items()
                          if any(matching_label(other, [label]) for other in others))]
    keys = {matching_label(spelling, typed) or next((k for k in typed if matching_label(k, [spelling])), None)
            for spelling in spellings}
    return {spec.column_types[key] for key in keys if key}


def _check_label(spec: ExportSpec, setting: str, label: Optional[str], where: str) -> None:
    """`primary_key`, `dedup_sort` and `window_column` take header labels: a column id (`soicode`) given for
    one, or a near miss of a label the export's file lacks, is said with the label meant."""
    labels = report_labels(spec.name)
    if not label or not labels or matching_label(label, labels) is not None:
        return
    ids = LABELS.get(spec.name, {})
    column = next((c for c in ids if c.casefold() == label.casefold()), None)
    takes = f"{setting} takes header labels (as the file's header has them), not column ids"
    if column is not None:
        which = "a column id" if column == label else f"the column id {column}"
        raise ConfigError("exports", f"{where}: {setting} '{label}' is {which}; {takes}: did you mean "
                          f"'{ids[column]}'?")
    hint = did_you_mean(label, labels)
    if hint and missing_labels(spec.name, spec.columns, [label]):
        raise ConfigError("exports", f"{where}: {setting} '{label}' is not a header label of the report{hint}")


def _check_window_column_type(spec: ExportSpec, where: str) -> None:
    """The window guard reads dates from `window_column`: a column known to hold none (typed other than a date,
    or a catalog report's column left text) would pass every file, an ignored date filter's whole history too."""
    label = spec.window_column
    if not label or not spec.date_filter:
        return
    kinds = _label_kinds(spec, label)
    if kinds & {TIMESTAMP, DATE}:
        return
    if kinds == {TEXT} and spec.name in CATALOG and _label_kinds(CATALOG[spec.name], label) & {TIMESTAMP, DATE}:
        return  # a date of the catalog's the settings keep as text: the guard reads its dates all the same
    if not kinds and (spec.name not in CATALOG or matching_label(label, report_labels(spec.name)) is None):
        return  # untyped and not known: read as dates by the guard
    dated = [known for known, kind in spec.column_types.items()
             if kind in (TIMESTAMP, DATE) and not missing_labels(spec.name, spec.columns, [known])]
    raise ConfigError("exports", f"{where}: window_column '{label}' is a {'/'.join(sorted(kinds or {TEXT}))} column, "
                      "not a date, so the window check would pass every file (a whole history too); name the date "
                      f"its date_filter '{spec.date_filter}' filters on"
                      + (f", one of {', '.join(repr(d) for d in dated)}" if dated else "")
                      + " (or type it timestamp in column_types, if it holds dates)")


def _check_dedup_sort_type(spec: ExportSpec, where: str) -> None:
    """A dedup_sort column must have a type that orders by time or number: as text, `30-03-2026 10:00`
    sorts after `01-04-2026 10:00` (and Uniware mixes two formats in one column), so the older row of a
    key would be kept and called the newest."""
    label = spec.dedup_sort
    if not label or not spec.primary_key or spec.merges_on_job_code:
        return
    if _label_kinds(spec, label) <= {TEXT}:
        raise ConfigError("exports", f"{where}: dedup_sort '{label}' tells the newest of a key's rows, but has no "
                          "type, so its values would be compared as text ('30-03-2026 10:00' after '01-04-2026 "
                          f"10:00'); give it one in column_types (\"{label}\" = \"timestamp\", or date, integer, "
                          "decimal), or set dedup_sort = ''")


def _label_readings(entry: Mapping[str, Any], base: ExportSpec, known: Optional[list[str]],
                    set_apart: Sequence[str], where: str) -> tuple[Mapping[str, tuple[str, ...]], frozenset[str]]:
    """The export's `label_readings` (the catalog's, and the configured ones: `{"Inventory" = ["Quantity"]}`, a
    tenant's file labels that column so) and the configured readings, folded. A label the report's known
    labels (`known`, when all are) lack is a setting error with a did-you-mean; so is a reading that is a label
    of another of the report's columns, or one another setting names (`set_apart`): a file with both would have
    two columns for one."""
    given = _json_or_value("exports", entry.get("label_readings", {}))
    if not isinstance(given, Mapping):
        raise ConfigError("exports", f"{where}: label_readings must map a header label to the other labels a "
                          "tenant's file gives it, e.g. {\"Inventory\" = [\"Quantity\"]}")
    readings = dict(base.label_readings)
    configured: set[str] = set()
    all_labels = report_labels(base.name)  # some ids' labels may be unknown
    report = {fold_label(other) for other in all_labels}
    taken = report | {fold_label(other) for other in set_apart if other}
    for label, others in given.items():
        label = str(label).strip()
        if isinstance(others, str):
            others = [others]
        if not label or not isinstance(others, (list, tuple)) or not others or \
                not all(isinstance(o, str) and o.strip() for o in others):
            raise ConfigError("exports", f"{where}: label_readings['{label}'] must be a list of non-empty header "
                              f"labels, got {others!r}")
        candidates = known if known is not None else all_labels
        named = matching_label(label, candidates) if candidates else None
        if named is None and known is not None:
            raise ConfigError("exports", f"{where}: label_readings names '{label}', which is no label of the "
                              f"report's file{did_you_mean(label, known)}")
        label = named or label
        label = next((main for main, theirs in base.label_readings.items()  # another reading: its label's column
                      if any(fold_label(o) == fold_label(label) for o in theirs)), label)
        if any(fold_label(o) == fold_label(label) for o in others):
            raise ConfigError("exports", f"{where}: label_readings['{label}'] gives the label itself (case and "
                              "spacing are matched anyway)")
        own = {fold_label(o) for o in readings.get(label, ())}
        clash = next((o for o in others if fold_label(o) in taken and fold_label(o) not in own), None)
        if clash is not None:
            whose = "a label of the report" if fold_label(clash) in report else "named by another setting"
            raise ConfigError("exports", f"{where}: label_readings['{label}'] gives '{clash}', which is {whose} with "
                              "a column of its own: a file with both would have two columns for one")
        readings[label] = tuple(dict.fromkeys([*readings.get(label, ()), *(o.strip() for o in others)]))
        configured |= {fold_label(o) for o in others}
    _one_label_per_reading(readings, configured, where)
    return MappingProxyType(readings), frozenset(configured)


def _one_label_per_reading(readings: Mapping[str, tuple[str, ...]], configured: set[str], where: str) -> None:
    """A configured reading given to two labels (in any case or spacing) is a setting error: a file's column of
    that label could land in one of them only."""
    owner: dict[str, str] = {}
    for label, others in readings.items():
        for other in others:
            first = owner.setdefault(fold_label(other), label)
            if first != label and fold_label(other) in configured:
                raise ConfigError("exports", f"{where}: label_readings gives '{other}' to both '{first}' and "
                                  f"'{label}': a file's '{other}' column can land in one column only")


def _one_label(value: Any, report: str, where: str, key: str) -> Optional[str]:
    """A setting naming one header label (a built-in report's also by its snake_case column name, as
    `primary_key`); None when empty."""
    if value is not None and not isinstance(value, str):
        raise ConfigError("exports", f"{where}: '{key}' must be a header label or empty")
    return as_labels([value.strip()], report)[0] if value and value.strip() else None


def _window_column(entry: Mapping[str, Any], base: ExportSpec, date_filter: Optional[str], where: str) -> Optional[str]:
    """The header label the window guard checks: configured, or the catalog's for the date filter in
    use (a filter id the catalog does not know keeps the report's default column, so an ignored
    filter id is still caught); empty turns the guard off for the export."""
    if "window_column" in entry:
        return _one_label(entry["window_column"], base.name, where, "window_column")
    if date_filter is None:
        return None
    return base.window_columns_by_filter.get(date_filter, base.window_column)


def _export_entries(value: Any) -> Any:
    """The `exports` setting as a list of entries where it can be one: JSON read, "Sale Orders, Invoice"
    (names separated by commas, like facilities) split, one table put in a list; else as it is."""
    value = _json_or_value("exports", value)
    if isinstance(value, str):
        return [name.strip() for name in value.split(",") if name.strip()]
    if isinstance(value, Mapping):
        return [value]
    return value


def resolve_exports(value: Any) -> tuple[ExportSpec, ...]:
    value = _export_entries(DEFAULT_EXPORTS if value is None else value)
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


def configured_exports() -> Any:
    """The `exports` setting as configured (.dlt/*.toml, SOURCES__UNIWARE__EXPORTS...), None when unset."""
    try:
        return dlt.config.get("sources.uniware.exports")
    except Exception:  # an unreadable config is reported by the run itself, with its setting named
        return None


def listed(values: Sequence[str]) -> list[str]:
    """A repeatable flag's values, each of which may list several separated by commas (`--facility
    BLR01,DEL02 --facility MUM03`)."""
    return [part.strip() for given in values for part in given.split(",") if part.strip()]


def facility_flags(values: Sequence[str]) -> list[str]:
    """The codes `--facility` gives (repeatable, each may list several); one given empty is a mistake, not
    "every facility" (`reset --facility ""` would clear them all)."""
    codes = listed(values)
    if not codes:
        raise ConfigError("facilities", f"--facility was given without a code ({list(values)!r}); give codes as "
                          "facility/search lists them, e.g. --facility BLR01,DEL02")
    return codes


def select_exports(configured: Any, names: Sequence[str]) -> list[Any]:
    """The exports `names` pick (the command line's `--export`), each as configured when the
    configuration has an entry of that report name or table name (its columns, date_filter...), else
    the plain name (the catalog's defaults). A name may list several, separated by commas."""
    configured = _export_entries(configured)
    entries = list(configured) if isinstance(configured, (list, tuple)) else []
    picked: list[Any] = []
    for name in listed(names):
        by_table = [entry for entry in entries if _table_of(entry).casefold() == name.casefold()]
        named = by_table or [entry for entry in entries if _names_export(entry, name)]
        if len(named) > 1:  # two exports of one report (another table each): which one is meant is not said
            raise ConfigError("exports", f"--export {name!r} names {len(named)} configured exports of that report, "
                              f"loaded into tables {', '.join(repr(_table_of(e)) for e in named)}: give the table "
                              f"name (--export {_table_of(named[0])!r}), or several")
        match = named[0] if named else None
        if match is None:  # a catalog report, by its name in any case or by its table name
            match = next((report for report, spec in CATALOG.items()
                          if name.casefold() in (report.casefold(), spec.table_name.casefold())), name)
            tables = [_table_of(entry) for entry in entries if _report_of(entry) == match]
            if tables:  # the catalog's table of a report configured into another: a second copy of it, from start_date
                raise ConfigError("exports", f"--export {name!r} is the catalog's table of '{match}', which this "
                                  f"configuration loads into table {', '.join(repr(t) for t in tables)}: give "
                                  f"--export {tables[0]!r} (or the report's name) to run it")
        if match not in picked:  # one export named twice (`--export "Sale Orders" --export sale_orders`) runs once
            picked.append(match)
    return picked


def export_names(configured: Any) -> list[str]:
    """The report names of the `exports` setting as given (the default's when unset); unreadable entries left out."""
    entries = _export_entries(configured) if configured else list(DEFAULT_EXPORTS)
    return [name for name in map(_report_of, entries if isinstance(entries, (list, tuple)) else []) if name]


def _report_of(entry: Any) -> Optional[str]:
    """A configured entry's report name (None: not an entry this can read)."""
    report = entry if isinstance(entry, str) else entry.get("name") if isinstance(entry, Mapping) else None
    return report.strip() if isinstance(report, str) else None


def _table_of(entry: Any) -> str:
    """A configured entry's table: the configured one, else the catalog's, else the name in snake_case."""
    report = _report_of(entry) or ""
    table = entry.get("table_name") if isinstance(entry, Mapping) else None
    if not isinstance(table, str) or not table.strip():
        table = CATALOG[report].table_name if report in CATALOG else normalize_name(report)
    return table.strip()


def _names_export(entry: Any, name: str) -> bool:
    """Whether a configured entry is the export `name` picks: by its report name or its table name."""
    report = _report_of(entry)
    return report is not None and name.casefold() in (report.casefold(), _table_of(entry).casefold())


def resolve_job_codes(value: Any, exports: Sequence[ExportSpec]
                      ) -> tuple[dict[str, tuple[str, ...]], dict[str, dict[str, str]]]:
    """`job_codes`: {export name: [codes]} or {export name: {facility: [codes]}}, or a plain list when one
    export is configured; and the facility each code's job ran under, where said (never guessed from
    `facilities`: a job of another facility would take its rows' facility from the setting)."""
    value = _json_or_value("job_codes", value)
    if not value:
        return {}, {}
    if isinstance(value, (list, tuple, str)):
        if len(exports) != 1:
            raise ConfigError("job_codes", "a plain list needs exactly one configured export; otherwise map "
                              "each export name to its job codes, e.g. {\"Sale Orders\": [\"JOB1\"]}")
        value = {exports[0].name: value}
    if not isinstance(value, Mapping):
        raise ConfigError("job_codes", f"expected {{export name: [job codes]}}, got {value!r}")
    names = {spec.name for spec in exports}
    codes: dict[str, tuple[str, ...]] = {}
    ran_under: dict[str, dict[str, str]] = {}
    for name, listed in value.items():
        if name not in names:
            raise ConfigError("job_codes", f"'{name}' is not a configured export; configured: {sorted(names)} (on "
                              f"the command line, add --export '{name}')")
        if isinstance(listed, Mapping):  # {facility: [codes]}
            for facility, of_facility in listed.items():
                facility_code = str(facility).strip()
                if not fits_the_facility_header(facility_code):
                    raise ConfigError("job_codes", f"'{name}': {facility!r} is not a facility code")
                for code in _string_list("job_codes", of_facility):
                    other = ran_under.setdefault(name, {}).setdefault(code, facility_code)
                    if other != facility_code:
                        raise ConfigError("job_codes", f"'{name}': job {code} is given under two facilities, "
                                          f"{other} and {facility_code}: a job ran under one")
            codes[name] = tuple(ran_under.get(name, {}))
        else:
            codes[name] = _string_list("job_codes", listed)
    for spec in exports:
        unplaced = [code for code in codes.get(spec.name, ()) if code not in ran_under.get(spec.name, {})]
        if not unplaced or not spec.facility_in_key:
            continue
        if spec.date_filter is None:
            raise ConfigError("job_codes", f"'{spec.name}' is a snapshot run per facility whose primary_key "
                              f"({', '.join(spec.primary_key)}) has no facility code (the display name `Facility` "
                              "may be two facilities'), so the code of the facility its job ran under is part of "
                              "the key: a job given by code has no known facility, so its rows could not replace "
                              "their facility's; run the export for its facility instead (--facility), or, where "
                              "the tenant's file has the `Facility Code` column, give primary_key that column")
        raise ConfigError("job_codes", f"'{spec.name}' keys its rows on the facility too (each facility numbers its "
                          f"codes: codes_per_facility), so a job given by code needs the facility it ran under "
                          f"(F below): {json.dumps({spec.name: {'F': list(unplaced)}})}, or on the command line "
                          f"one --facility F beside the --job-code")
    return codes, ran_under


def resolve_base_url(tenant: Optional[str], base_url: Optional[str]) -> str:
    if base_url:
        if not re.match(r"^https?://[^\s/]+", base_url):
            raise ConfigError("base_url", f"expected an http(s) URL, got {base_url!r}")
        if "@" in base_url.split("://", 1)[1].split("/", 1)[0]:  # requests would send it as HTTP basic auth
            raise ConfigError("base_url", "carries a user name or password before its host (user:...@host), "
                              "which would replace the bearer token on every call (each answered 401): give "
                              "the host alone, and the API user as 'username' and 'password'")
        if "?" in base_url or "#" in base_url:
            raise ConfigError("base_url", "has a query or fragment (?... or #...): give the scheme, host and "
                              "path alone; the API paths are appended to it")
        path = urlsplit(base_url).path
        api = re.search(r"(?i)/(?:services|oauth)(?:/|$)", path)
        if api:  # the API's own path copied with the address: every call would go to <path>/services/...
            raise ConfigError("base_url", f"ends in a path of the API ({path}): give the tenant's address without "
                              f"it, {base_url[:len(base_url) - len(path) + api.start()]} (the connector adds "
                              "/services/rest/v1/... and /oauth/token itself)")
        return base_url.rstrip("/")
    if tenant:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", tenant):
            raise ConfigError("tenant", f"expected the tenant's subdomain (as in <tenant>.unicommerce.com), "
                              f"got {tenant!r}")
        return f"https://{tenant}.unicommerce.com"
    raise ConfigError("tenant", "set 'tenant' (https://<tenant>.unicommerce.com) or 'base_url'")


def not_in_future(setting: str, moment: datetime, now: datetime, fix: str) -> datetime:
    """`moment` if it is not after `now` (the run's clock); else a ConfigError naming the setting, both
    times and what to do: no job is ever made for time that has not happened, nor a cursor put there."""
    if moment > now:
        raise ConfigError(setting, f"{shown_time(moment)} is in the future (now is {shown_time(now)}); {fix}")
    return moment


def resolve_backfill(start: Optional[str], end: Optional[str], now: datetime) -> Optional[tuple[datetime, datetime]]:
    """The backfill's [start, end): both in the past (an end after now would make jobs for windows
    that cannot hold a row yet, each "loaded" with 0 rows), the end after the start."""
    if not start and not end:
        return None
    if not start:
        raise ConfigError("backfill_start", "a backfill needs a start (its end defaults to now)")
    begin = parse_user_datetime("backfill_start", start)
    if begin >= now:
        raise ConfigError("backfill_start", f"{shown_time(begin)} is not in the past (now is {shown_time(now)}); "
                          "a backfill exports time that has happened")
    if not end:
        return begin, now
    finish = not_in_future("backfill_end", parse_user_datetime("backfill_end", end), now,
                           "leave it out to backfill up to now")
    if finish <= begin:
        raise ConfigError("backfill_end", f"must be after backfill_start ({shown_time(begin)})")
    return begin, finish


def required_secret(setting: str, value: Optional[str]) -> str:
    """A secret given, and not the example file's placeholder: sent, that would count towards the user's lockout."""
    if not value:
        raise ConfigError(setting, f"is required; put it in {secrets_file()} or the environment")
    if value.strip() == PLACEHOLDER_SECRETS.get(setting):
        raise ConfigError(setting, f"is still the placeholder of .dlt/secrets.toml.example (not sent: a wrong "
                          f"password counts towards the user's lockout); put the API user's own in {secrets_file()} "
                          "or the environment")
    return value


def build_settings(values: SettingValues, *, now: datetime) -> Settings:
    """Validate every setting; a ConfigError names the first one that is wrong."""
    specs = resolve_exports(values.exports)
    if values.on_bad_rows not in BAD_ROW_POLICIES:
        raise ConfigError("on_bad_rows", f"must be one of {BAD_ROW_POLICIES}, got {values.on_bad_rows!r}")
    if values.on_header_change not in HEADER_CHANGE_POLICIES:
        raise ConfigError("on_header_change",
                          f"must be one of {HEADER_CHANGE_POLICIES}, got {values.on_header_change!r}")
    if values.on_complete_with_errors not in COMPLETE_WITH_ERRORS_POLICIES:
        raise ConfigError("on_complete_with_errors", f"must be one of {COMPLETE_WITH_ERRORS_POLICIES}, got "
                          f"{values.on_complete_with_errors!r}")
    if values.on_window_violation not in WINDOW_VIOLATION_POLICIES:
        raise ConfigError("on_window_violation",
                          f"must be one of {WINDOW_VIOLATION_POLICIES}, got {values.on_window_violation!r}")
    window = _positive("window_days", values.window_days)
    if window > 92:
        raise ConfigError("window_days", "Uniware refuses date ranges longer than 92 days (30 is safe)")
    concurrent = int(_positive("max_concurrent_jobs", values.max_concurrent_jobs))
    facilities = _facility_codes(values.facilities) if values.facilities else None
    job_codes, job_facilities = resolve_job_codes(values.job_codes, specs)
    return Settings(
        base_url=resolve_base_url(values.tenant, values.base_url),
        username=required_secret("username", values.username),
        password=required_secret("password", values.password),
        exports=specs,
        facilities=facilities,
        job_codes=job_codes,
        job_facilities=job_facilities,
        start_date=not_in_future("start_date", parse_user_datetime("start_date", values.start_date), now,
                                 "give the date the first run should start from (or none: window_days "
                                 "before now)") if values.start_date else None,
        backfill=resolve_backfill(values.backfill_start, values.backfill_end, now),
        lookback=timedelta(days=_positive("lookback_days", values.lookback_days, allow_zero=True,
                                          most=LOOKBACK_DAYS_MAX)),
        window=timedelta(days=window),
        min_window=timedelta(minutes=_positive("min_window_minutes", values.min_window_minutes, allow_zero=True)),
        max_concurrent_jobs=concurrent,
        job_expiry=timedelta(hours=_positive("job_expiry_hours", values.job_expiry_hours)),
        poll=poll_policy(values),
        http=http_policy(values),
        download_dir=_download_dir(values.download_dir) if values.download_dir else None,
        on_bad_rows=values.on_bad_rows,
        on_header_change=values.on_header_change,
        on_window_violation=values.on_window_violation,
        shared_facility_names=_display_names("shared_facility_names", values.shared_facility_names),
    )


def _display_names(setting: str, value: Any) -> frozenset[str]:
    """Facility display names as the guard compares them (`facility_guard.fold_name`); a text is one name,
    as a display name may hold commas."""
    value = _json_or_value(setting, value)
    if value is None:
        return frozenset()
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) and n.strip() for n in names):
        raise ConfigError(setting, f"expected a list of display names (non-empty texts), got {value!r}")
    return frozenset(fold_name(name) for name in names)


def _download_dir(value: str) -> Path:
    """The directory files wait in, made if it does not exist; a ConfigError when it cannot be made or
    written to (a full disk still says "no space left in <dir>" when it happens)."""
    path = Path(value).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError("download_dir", f"{str(path)!r} cannot be made: {error.strerror or error}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError("download_dir", f"{str(path)!r} is not a directory this user can write to")
    return path


def poll_policy(values: SettingValues) -> PollPolicy:
    """How a job is waited for, from the poll_* / job_timeout_seconds / complete_* settings."""
    initial = _positive("poll_initial_seconds", values.poll_initial_seconds)
    return PollPolicy(
        initial_seconds=initial,
        max_seconds=max(initial, _positive("poll_max_seconds", values.poll_max_seconds, allow_zero=True)),
        timeout_seconds=_positive("job_timeout_seconds", values.job_timeout_seconds),
        complete_grace_seconds=_positive("complete_without_file_grace_seconds",
                                         values.complete_without_file_grace_seconds, allow_zero=True),
        multiplier=POLL_BACKOFF_MULTIPLIER,
        load_with_errors=values.on_complete_with_errors == "load",
    )


def http_policy(values: SettingValues) -> HttpPolicy:
    """Timeouts and retries of API calls and downloads, from the *_timeout_seconds / request_* / download_* settings."""
    return HttpPolicy(
        connect_timeout_seconds=_positive("connect_timeout_seconds", values.connect_timeout_seconds),
        read_timeout_seconds=_positive("read_timeout_seconds", values.read_timeout_seconds),
        max_attempts=int(_positive("request_max_attempts", values.request_max_attempts)),
        backoff_factor=_positive("request_backoff_factor", values.request_backoff_factor, allow_zero=True),
        max_retry_delay_seconds=_positive("request_max_retry_delay_seconds", values.request_max_retry_delay_seconds,
                                          allow_zero=True),
        download_max_attempts=int(_positive("download_max_attempts", values.download_max_attempts)),
        download_max_bytes=int(_positive("download_max_bytes", values.download_max_bytes, most=1e15)),
        download_timeout_seconds=_positive("download_timeout_seconds", values.download_timeout_seconds),
        download_stall_timeout_seconds=_positive("download_stall_timeout_seconds",
                                                 values.download_stall_timeout_seconds),
    )
