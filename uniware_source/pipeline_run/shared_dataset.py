"""Other pipelines that load into this pipeline's dataset: said, since each knows only its own jobs.

Two pipeline names for one tenant loading the same tables (a renamed pipeline, two checkouts given other
names, Dagster definitions given another pipeline name) each check their own files against their own loads
only: one can load a job older than the rows the other loaded since, putting older versions back. Two
checkouts on two machines with the same pipeline name share one state at the destination and cannot be
told apart here.
"""

from __future__ import annotations

import logging

from dlt.pipeline.pipeline import Pipeline

from ..run_report import RunReport

log = logging.getLogger(__name__)

STATE_TABLE = "_dlt_pipeline_state"


def other_pipelines(pipeline: Pipeline) -> list[str]:
    """The names of the other pipelines whose state is in this pipeline's dataset (none when it cannot be read)."""
    if pipeline.destination is None or pipeline.destination.destination_type.endswith("filesystem"):
        return []
    try:
        with pipeline.sql_client() as client:
            table = client.make_qualified_table_name(STATE_TABLE)
            rows = client.execute_sql(f"SELECT DISTINCT pipeline_name FROM {table}") or []
    except Exception as error:  # no dataset yet, a destination that cannot say: nothing to tell
        log.debug("could not read %s: %s", STATE_TABLE, error)
        return []
    return sorted({str(name) for (name,) in rows if name and name != pipeline.pipeline_name})


def warn_other_pipelines(pipeline: Pipeline, report: RunReport) -> None:
    """A warning naming the other pipelines that load into the dataset."""
    others = other_pipelines(pipeline)
    if others:
        report.once("shared-dataset", "dataset %s also holds the state of pipeline(s) %s: if one of them loads "
                    "Uniware exports of this tenant too, each checks files against its own loads only and can put "
                    "rows older than the other's back; give each pipeline its own dataset (--dataset), or run this "
                    "tenant with one pipeline name", pipeline.dataset_name, ", ".join(others))
