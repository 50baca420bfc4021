"""The dlt source `uniware_source`: its signature (one parameter per setting), its settings and runtime.

Configuration comes the dlt way: arguments, `.dlt/config.toml` / `.dlt/secrets.toml` under
``[sources.uniware]``, or environment variables ``SOURCES__UNIWARE__<SETTING>``. The resources it
returns are in resources.py.
"""

from __future__ import annotations

import inspect
from typing import Any, Optional

import dlt
from dlt.extract.resource import DltResource

from .redact import install_log_redaction
from .resources import export_resources
from .runtime import ALL, open_runtime
from .settings import SettingValues, refuse_unknown_keys, setting_fields, source_parameters


def _uniware_source(*args: Any, **kwargs: Any) -> list[DltResource]:
    """Uniware export jobs as dlt resources: one table per export plus `export_job_status`.

    `phase` is "submit" (plan windows, create jobs, commit their codes), "collect" (wait for the
    submitted jobs and load their rows), "all" (both in one extract) or "history" (only the LOADED
    history rows, which wait in state until the package with their rows has loaded). Run submit and collect as
    separate pipeline runs to survive interruptions without creating duplicate jobs; the pipeline
    script and `run_exports` (pipeline_run/resumable.py) do. Jobs that fail or time out are reported in
    `report` (a RunReport) and the history table, never raised, so the other exports still load.
    """
    arguments = _SIGNATURE.bind(*args, **kwargs)
    arguments.apply_defaults()
    given = arguments.arguments
    install_log_redaction()
    refuse_unknown_keys(_KNOWN_KEYS)
    runtime = open_runtime(SettingValues(**{f.name: given[f.name] for f in setting_fields()}),
                           phase=given["phase"], run_id=given["run_id"], clock=given["clock"], report=given["report"])
    return export_resources(runtime, dlt.current.source_schema().naming.normalize_identifier)


# one parameter per setting (declared once, in settings.SettingValues), then the run's own
_SIGNATURE = inspect.Signature([
    *source_parameters(),
    inspect.Parameter("phase", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=str, default=ALL),
    inspect.Parameter("run_id", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Optional[str], default=None),
    inspect.Parameter("clock", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Optional[Any], default=None),
    inspect.Parameter("report", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Optional[Any], default=None),
], return_annotation=list[DltResource])
_KNOWN_KEYS = frozenset(_SIGNATURE.parameters)
_uniware_source.__signature__ = _SIGNATURE  # type: ignore[attr-defined]
_uniware_source.__name__ = _uniware_source.__qualname__ = "uniware_source"
uniware_source = dlt.source(name="uniware", section="uniware", max_table_nesting=0)(_uniware_source)
