"""One DuckDB connection for each load of a run, from dlt's own connection pool.

dlt resolves a DuckDB destination's credentials again for every step, and each credentials object
has its own connection pool, which opens the database file when a job, a state sync or a package
step borrows a connection and closes it (a checkpoint) when the last one is returned. A run of one
export so opened the file 14 times (0.46 s of opening in a 2.5 s run of 100k rows; now 7, 0.16 s).

`credentials_pinned` resolves the credentials once for the run and hands them to dlt explicitly, so
every step shares one pool; `connection_held` borrows a connection from it for the length of a load,
so dlt's jobs get duplicates of an open connection: the file is opened once per load and
checkpointed when the load ends. Between loads it is closed, as before, for other readers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

from dlt.destinations.exceptions import DestinationConnectionError
from dlt.pipeline.pipeline import Pipeline

from ..errors import ConfigError
from .destination_params import destination_params


def is_duckdb(pipeline: Pipeline) -> bool:
    destination = pipeline.destination
    return destination is not None and destination.destination_type.endswith("duckdb")


def check_names(pipeline: Pipeline) -> None:
    """Refuse, before any job is made, a DuckDB file named like the dataset: DuckDB names the database
    (its catalog) after the file, and `name.name` is then ambiguous to its binder, so every load would
    fail after the jobs were created."""
    if not is_duckdb(pipeline) or not pipeline.dataset_name:
        return
    client = pipeline.destination_client()
    database = getattr(client.config.credentials, "database", None)
    if not isinstance(database, str) or database.startswith(":"):
        return
    # the schema as DuckDB gets it: dlt's naming convention rewrites the name (`my-data` -> `my_data`)
    schema = getattr(getattr(client, "sql_client", None), "dataset_name", None) or pipeline.dataset_name
    if Path(database).stem.lower() in (pipeline.dataset_name.lower(), str(schema).lower()):
        named = (f" (named after the pipeline, '{pipeline.pipeline_name}')"
                 if Path(database).stem == pipeline.pipeline_name else "")
        raise ConfigError("dataset", f"the DuckDB file {Path(database).name}{named} and the dataset "
                          f"'{pipeline.dataset_name}' have the same name, which DuckDB cannot tell apart; give the "
                          "dataset another name (--dataset)" + (", or keep it and give the pipeline another name "
                                                                "(--pipeline-name: a new pipeline, with its own state)"
                                                                if named else " or the file another name"),
                          given_as="--dataset, or dataset_name")


@contextmanager
def credentials_pinned(pipeline: Pipeline) -> Iterator[None]:
    """While inside, a DuckDB pipeline's destination carries its credentials resolved once (same
    database, settings and pool for every step); the destination as it was is given back after."""
    if not is_duckdb(pipeline):
        yield
        return
    with destination_params(pipeline, credentials=pipeline.destination_client().config.credentials):
        yield


def _pool(pipeline: Pipeline) -> Any:
    if not is_duckdb(pipeline):
        return None
    credentials = pipeline.destination.config_params.get("credentials")
    return getattr(credentials, "conn_pool", None)


@contextmanager
def connection_held(pipeline: Pipeline) -> Iterator[Optional[Any]]:
    """A connection of the pinned credentials' pool while inside (None when the destination is not
    DuckDB or its credentials are not pinned), opened through dlt's own SQL client so the database
    gets dlt's settings (its checkpoint threshold and time zone) as it would from the load's first
    job; closing it closes the file once dlt returned its own connections. When it cannot be
    opened (a file another process locks), None: dlt's load then reports the error as it always does."""
    if _pool(pipeline) is None:
        yield None
        return
    client = pipeline.sql_client()
    try:
        client.open_connection()
    except DestinationConnectionError:
        yield None
        return
    try:
        yield client.native_connection
    finally:
        client.close_connection()
