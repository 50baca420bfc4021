"""Many Uniware tenants in one configuration, each loaded by its own dlt pipeline.

Configuration, the dlt way (see README, "Many tenants"):

    # .dlt/config.toml
    [sources.uniware]                 # defaults shared by every tenant: any setting of the source
    exports = ["Sale Orders", "Return Invoices"]
    window_days = 30

    [tenants.acme]                    # one table per tenant: its own settings override the defaults
    tenant = "acme"                   # or base_url
    facilities = ["BLR01", "DEL02"]
    max_concurrent_jobs = 4           # the tenant's own export queue

    # .dlt/secrets.toml (or TENANTS__ACME__USERNAME / TENANTS__ACME__PASSWORD in the environment)
    [tenants.acme]
    username = "api.user@acme.example"
    password = "..."

The tenants' tables may also come as one value in the environment (``TENANTS='{"acme": {...}}'``,
JSON). A tenant table may name its own `destination` (default `UNIWARE_DESTINATION`, else
duckdb), `staging` (default `UNIWARE_STAGING`, e.g. filesystem: files go through a bucket),
`dataset_name` (default ``uniware_<name>``) and `pipeline_name` (default ``uniware_pipeline_<name>``,
unlike the dataset, or DuckDB finds the names ambiguous): every tenant has its own pipeline, state,
run lock and dataset (a schema per tenant on PostgreSQL, a file per tenant on DuckDB). Rows of two
tenants never share a table: the reports' natural keys (sale order item codes...) are unique within
a tenant only, so a shared table would merge one tenant's rows into another's.

Credentials are resolved per tenant, only when that tenant runs, and every error is raised as
`TenantFailed` naming the tenant, with the text redacted of every secret this process knows.
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import dlt
from dlt.common.configuration.utils import deserialize_value
from dlt.common.destination import Destination
from dlt.common.normalizers.naming.snake_case import NamingConvention
from dlt.pipeline.pipeline import Pipeline

from .errors import ConfigError, ExportsFailed, UniwareError
from .pipeline_run.lock import WaitForLock
from .pipeline_run.resumable import run_exports
from .problems import explain
from .queries import refresh_views
from .redact import SECRETS, redact
from .run_report import RunReport
from .source import uniware_source

SECTION = "tenants"
SECRET_KEYS = ("username", "password")
PIPELINE_KEYS = ("destination", "staging", "dataset_name", "pipeline_name")
RUN_ARGUMENTS = ("phase", "run_id", "clock", "report")  # given by the runner, never configured
SOURCE_KEYS = frozenset(inspect.signature(uniware_source).parameters) - set(RUN_ARGUMENTS)
NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


class TenantConfigError(UniwareError):
    """A tenant's table is wrong; names the tenant and the key."""


class TenantFailed(UniwareError):
    """A tenant's run failed; the message names the tenant and never carries a secret."""

    def __init__(self, tenant: str, error: BaseException) -> None:
        prefix = f"tenant '{tenant}': "
        text = str(error).removeprefix(prefix)  # a TenantConfigError names the tenant already
        if not isinstance(error, UniwareError):  # dlt's words: the script's line, naming the setting to check
            text = explain(error)[1].removeprefix("configuration error: ").removeprefix("error: ")
        if isinstance(error, ConfigError):  # the source's words name its own table; a tenant's is its own
            text += (f" (for this tenant alone: {error.setting} in [{SECTION}.{tenant}] of .dlt/config.toml, or in "
                     f"its table of the {SECTION.upper()} value; for every tenant: [sources.uniware])")
        super().__init__(redact(f"{prefix}{type(error).__name__}: {text}"))
        self.tenant = tenant
        self.error_type = type(error).__name__


@dataclass(frozen=True)
class Tenant:
    """One tenant: its name (a label of ours, also in env var names), settings overriding
    ``[sources.uniware]``, and where its rows go."""

    name: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    pipeline_name: str = ""
    dataset_name: str = ""
    destination: Optional[str] = None
    staging: Optional[str] = None  # e.g. "filesystem": files go to a bucket, the warehouse copies them in

    @property
    def env_prefix(self) -> str:
        return f"{SECTION.upper()}__{self.name.upper()}__"

    def secrets(self) -> dict[str, str]:
        """Username and password of this tenant only (``[tenants.<name>]`` in secrets.toml or
        ``TENANTS__<NAME>__PASSWORD``); a missing one is an error naming the tenant."""
        found: dict[str, str] = {}
        for key in SECRET_KEYS:
            value: Any = dlt.secrets.get(f"{SECTION}.{self.name}.{key}") or self.settings.get(key)
            if not value:
                raise TenantConfigError(f"tenant '{self.name}': '{key}' is missing; set {self.env_prefix}"
                                        f"{key.upper()} or [{SECTION}.{self.name}] {key} in .dlt/secrets.toml")
            found[key] = str(value)
        SECRETS.add_login(found["username"], found["password"])  # masked in every log and error from now on
        return found

    def source_settings(self) -> dict[str, Any]:
        return {k: v for k, v in self.settings.items() if k not in SECRET_KEYS}

    def pipeline(self, pipelines_dir: Optional[str] = None) -> Pipeline:
        options: dict[str, Any] = {
            "destination": self.destination or os.environ.get("UNIWARE_DESTINATION", "duckdb"),
            "staging": self.staging or os.environ.get("UNIWARE_STAGING") or None}
        if pipelines_dir is not None:
            options["pipelines_dir"] = pipelines_dir
        pipeline: Pipeline = dlt.pipeline(pipeline_name=self.pipeline_name, dataset_name=self.dataset_name,
                                          **options)
        return pipeline


def parse_tenant(name: str, table: Any) -> Tenant:
    if not NAME.fullmatch(name):
        raise TenantConfigError(f"tenant name {name!r}: use lower-case letters, digits and _ (at most 40), "
                                "starting with a letter; the Uniware subdomain goes in 'tenant'")
    if not isinstance(table, Mapping):
        # the type alone: the value may hold the tenant's password (`[[tenants.acme]]`, a list of tables)
        raise TenantConfigError(f"tenant '{name}': expected a table of settings ([{SECTION}.{name}] in .dlt/*.toml, "
                                f"or an object in TENANTS), got {type(table).__name__}")
    unknown = sorted(set(table) - SOURCE_KEYS - set(PIPELINE_KEYS))
    if unknown:
        raise TenantConfigError(f"tenant '{name}': unknown setting(s) {unknown}; a tenant takes the settings of "
                                f"[sources.uniware] and {list(PIPELINE_KEYS)}")
    settings = {k: v for k, v in table.items() if k in SOURCE_KEYS}
    return Tenant(name=name, settings=settings,
                  pipeline_name=str(table.get("pipeline_name") or f"uniware_pipeline_{name}"),
                  dataset_name=str(table.get("dataset_name") or f"uniware_{name}"),
                  destination=table.get("destination"), staging=table.get("staging"))


def load_tenants(tables: Optional[Mapping[str, Any]] = None) -> list[Tenant]:
    """The configured tenants (``[tenants.<name>]`` tables, or the `TENANTS` value), sorted by name; two
    whose state or rows would meet are a TenantConfigError (see `check_apart`)."""
    if tables is None:
        tables = configured_tables()
    tenants = [parse_tenant(str(name), tables[name]) for name in sorted(tables)]
    check_apart(tenants)
    return tenants


def check_apart(tenants: Sequence[Tenant]) -> None:
    """Refuse two tenants with one pipeline name (one state, cursors and job codes), or, on one destination,
    datasets that are one once dlt normalizes them (`acme__eu` and `acme_eu`, `acme_` and `acmex`), or one's
    dataset that is the other's staging dataset (`<dataset>_staging`, where dlt's merges stage rows): each
    tenant's merges would replace the other's rows, and every run of both would say it succeeded."""
    naming = NamingConvention()
    pipelines: dict[str, str] = {}
    places: dict[tuple[str, str], tuple[str, str]] = {}  # (destination, schema) -> (tenant, what it is there)
    _one_duckdb_file(tenants)
    for tenant in tenants:
        other = pipelines.setdefault(tenant.pipeline_name, tenant.name)
        if other != tenant.name:
            raise TenantConfigError(f"tenants '{other}' and '{tenant.name}' have one pipeline_name "
                                    f"'{tenant.pipeline_name}', so one state: give each its own pipeline_name")
        destination = _destination_key(tenant.destination or os.environ.get("UNIWARE_DESTINATION", "duckdb"))
        for schema, what in ((tenant.dataset_name, f"dataset '{tenant.dataset_name}'"),
                             (f"{tenant.dataset_name}_staging", f"staging dataset (of '{tenant.dataset_name}')")):
            place = (destination, naming.normalize_identifier(schema))
            owner, theirs = places.setdefault(place, (tenant.name, what))
            if owner != tenant.name:
                raise TenantConfigError(
                    f"tenants '{owner}' and '{tenant.name}' would load into one schema '{place[1]}' of {destination} "
                    f"(the {theirs} of '{owner}', the {what} of '{tenant.name}'): one tenant's rows would replace "
                    f"the other's; set dataset_name in [{SECTION}.{tenant.name}] to a name of its own")


def _one_duckdb_file(tenants: Sequence[Tenant]) -> None:
    """Refuse several DuckDB tenants given one database file (`DESTINATION__DUCKDB__CREDENTIALS`, or
    `[destination.duckdb] credentials`, for every tenant): DuckDB lets one process write a file, so tenants
    run at once failed with dlt's "check if you configured the credentials" and the lock error last. Each
    tenant's pipeline writes its own file (`<pipeline_name>.duckdb`) when the setting is not given."""
    on_duckdb = [t.name for t in tenants
                 if _destination_key(t.destination or os.environ.get("UNIWARE_DESTINATION", "duckdb")) == "duckdb"]
    if len(on_duckdb) < 2:
        return
    try:
        shared = os.environ.get("DESTINATION__DUCKDB__CREDENTIALS") or dlt.config.get("destination.duckdb.credentials")
    except Exception:  # unreadable: each tenant's run says why
        return
    if isinstance(shared, str) and shared.strip() and shared.strip() != ":pipeline:":
        raise TenantConfigError(
            f"tenants {', '.join(repr(n) for n in on_duckdb)} would all write one DuckDB file ({shared.strip()!r}, "
            "from DESTINATION__DUCKDB__CREDENTIALS or [destination.duckdb] credentials), which one process at a "
            "time can write: their runs would fail on its lock. Remove that setting (each tenant's pipeline then "
            "writes <pipeline_name>.duckdb), or load the tenants into a server database (destination = "
            "\"postgres\")")


def _destination_key(reference: str) -> str:
    """One spelling per destination (`postgres` and `dlt.destinations.postgres` are one): its type and
    name as dlt resolves them; the reference as given when dlt cannot (the run says why)."""
    try:
        destination = Destination.from_reference(reference)
    except Exception:  # an unknown destination: the tenant's run fails naming it
        return reference
    if destination is None:
        return reference
    kind = destination.destination_type.rsplit(".", 1)[-1]
    return kind if destination.destination_name == kind else f"{destination.destination_name} ({kind})"


def configured_tables() -> dict[str, Any]:
    """Every provider's ``[tenants]`` tables merged, key by key, the first provider in dlt's order winning
    (the environment's `TENANTS`, then secrets.toml, then config.toml): a tenant's settings in config.toml
    and its credentials in the same table of secrets.toml make one tenant. (dlt's own lookup of `tenants`
    takes the whole table from the first provider that has one: the settings in config.toml were dropped,
    and the trace kept the secrets.toml table, every tenant's password in it, as a resolved config value.)
    The providers are read directly, so no value is traced."""
    merged: dict[str, Any] = {}
    for provider in reversed(dlt.config.config_providers):  # the last in dlt's order first, overridden after
        if provider.is_empty:
            continue
        value, _ = provider.get_value(SECTION, Any, None)
        if value is None:
            continue
        try:
            tables = deserialize_value(SECTION, value, dict)
        except Exception as error:  # a TENANTS value that is not JSON
            raise TenantConfigError(f"'{SECTION}' in {provider.name} is not a table of tenants: "
                                    f"{type(error).__name__}") from None
        if not isinstance(tables, Mapping):
            raise TenantConfigError(f"'{SECTION}' in {provider.name} is not a table of tenants")
        for name, table in tables.items():
            earlier = merged.get(str(name))
            merged[str(name)] = ({**earlier, **table} if isinstance(earlier, Mapping) and isinstance(table, Mapping)
                                 else table)
    return merged


def run_tenant(tenant: Tenant, *, mode: str, run_id: Optional[str] = None, wait_for_lock: WaitForLock = True,
               report: Optional[RunReport] = None, pipelines_dir: Optional[str] = None,
               **extra: Any) -> RunReport:
    """`run_exports` for one tenant (its pipeline, its settings over the shared defaults, its
    secrets); any failure is raised as TenantFailed naming the tenant. Waits for the tenant's
    pipeline lock by default (another step of the same tenant on this machine goes first)."""
    report = report or RunReport()
    try:
        settings = {**tenant.source_settings(), **extra, **tenant.secrets()}
        pipeline = tenant.pipeline(pipelines_dir)

        def views(error: Optional[BaseException]) -> None:
            """After a load, under the pipeline's lock: the v_* views, as the pipeline script makes them."""
            if mode != "submit" and (error is None or isinstance(error, ExportsFailed)):
                refresh_views(pipeline)
        run_exports(pipeline, mode=mode, run_id=run_id, report=report, wait_for_lock=wait_for_lock,
                    on_finish=views, **settings)
    except TenantFailed:
        raise
    except Exception as error:  # not KeyboardInterrupt / Terminated: a stop stays a stop
        raise TenantFailed(tenant.name, error) from None
    return report
