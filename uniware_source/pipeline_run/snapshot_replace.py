"""A tenant snapshot replaces its table in one transaction, through dlt's staging dataset.

dlt's default replace (`truncate-and-insert`) empties the table when the package starts to load and
COPYs the file after: readers see an empty Item Master meanwhile, and a COPY that fails leaves it
empty until a later run. A run asks its SQL destination for `insert-from-staging` instead: the file
goes to the staging table, and only once it is all there does one transaction empty the table and
insert the staged rows (readers see the old snapshot or the new one; a failure leaves the old one).
A strategy the destination was given as an argument wins when it is atomic too (`staging-optimized`).

A snapshot without any row has no file for dlt to replace with (and a facility's replace merges on
the facility, which no row names): its rows made before its job are deleted right before the package
that holds the job's state loads (`delete_emptied_snapshots`), as a file's rows would load with it
(its history row comes with that package, or, LOADED, with the run's last one, like every LOADED row);
after a kill, the next run deletes again before it finishes that package (rows made by later jobs are
never touched, so doing it twice changes nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from dlt.destinations.exceptions import DatabaseTerminalException, DatabaseUndefinedRelation
from dlt.pipeline.pipeline import Pipeline

from ..conversion.csv_to_parquet import EXPORTED_AT, FACILITY
from ..ledger import Ledgers
from .destination_params import destination_params

log = logging.getLogger(__name__)

THROUGH_STAGING = "insert-from-staging"
ATOMIC = (THROUGH_STAGING, "staging-optimized")


def replaces_through_staging(pipeline: Pipeline) -> bool:
    """Whether `pipeline`'s `replace` tables load into staging first (the run's destination, see below)."""
    destination = pipeline.destination
    return destination is not None and destination.config_params.get("replace_strategy") in ATOMIC


@contextmanager
def snapshots_through_staging(pipeline: Pipeline) -> Iterator[None]:
    """While inside, `pipeline`'s destination replaces through its staging dataset where it can (a SQL
    destination that supports it); the destination as it was is given back after."""
    destination = pipeline.destination
    if destination is None or replaces_through_staging(pipeline) \
            or destination.destination_type.endswith("filesystem") \
            or THROUGH_STAGING not in (destination.capabilities().supported_replace_strategies or ()):
        yield
        return
    with destination_params(pipeline, replace_strategy=THROUGH_STAGING):
        yield


def delete_emptied_snapshots(pipeline: Pipeline) -> None:
    """The rows that the empty snapshots in `pipeline`'s state replace, deleted: a facility's rows (or
    the table's, for a snapshot of the tenant) made before that snapshot's job."""
    emptied = Ledgers.of_pipeline_state(pipeline.state).empty_snapshots()
    if not emptied or pipeline.destination is None or pipeline.destination.destination_type.endswith("filesystem"):
        return
    with pipeline.sql_client() as client:
        for table, facility, created in emptied:
            qualified = client.make_qualified_table_name(table)
            exported = client.escape_column_name(EXPORTED_AT)  # NULL: a job given by code, made at no known time
            where = f"({exported} < %s OR {exported} IS NULL)"
            values: list[object] = [datetime.fromisoformat(created)]
            if facility is not None:
                where += f" AND {client.escape_column_name(FACILITY)} = %s"
                values.append(facility)
            try:
                client.execute_sql(f"DELETE FROM {qualified} WHERE {where}", *values)
            except DatabaseUndefinedRelation:
                continue  # never loaded: nothing to replace
            except DatabaseTerminalException as error:  # a table of another shape: said, the load goes on
                # (an interrupt or a lost connection is transient: it ends the run, and the next run
                # deletes before it finishes the package)
                log.warning("%s: the rows an empty snapshot replaces could not be deleted: %s", table, error)
                continue
            log.info("%s: the rows an empty snapshot replaces (%s) are deleted", table,
                     f"facility {facility}" if facility else "every facility")
