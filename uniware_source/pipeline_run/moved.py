"""A pipeline moved to another destination, database or dataset takes the state it left there.

The local state holds the cursors of the place the pipeline loaded last. dlt's sync at the start of a
run keeps it whenever its version is newer than the state the other place holds, so a pipeline moved
back to a place it loaded before went on from the cursors of the place it came from: the days between
its two loads there never arrived (exit 0, without a word). Each run keeps the place it loads into in
the state's local section (never synced to a destination); a run that finds another one there takes
the place's own state: the one it holds for the pipeline (dlt's sync restores it), else a fresh start
from `start_date` (a dataset of other pipelines only, or none yet: the local state is dropped).
The place is the destination's type and name, its database (host, port, database and user, or the
file or bucket; never a password) and the dataset, kept as a hash.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any, Optional, cast

from dlt.common.destination.exceptions import DestinationUndefinedEntity
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.pipeline.pipeline import Pipeline

from ..errors import ConfigError

log = logging.getLogger(__name__)

PLACE = "uniware_place"  # in the state's `_local` section: the place the pipeline loaded into last
_WHERE = ("drivername", "host", "port", "database", "username", "bucket_url")


def follow_a_move(pipeline: Pipeline) -> None:
    """Before a run (under the pipeline's lock): when `pipeline` names another place than the one it
    loaded into last, it takes that place's state (see above); the place is kept for the next run. A
    move while an interrupted run's packages wait to load where it was is a ConfigError."""
    now = place_of(pipeline)
    if now is None:  # where it loads cannot be told (not configured yet): the run says why
        return
    was = _recorded(pipeline)
    if was is not None and was != now:
        if pipeline.has_pending_data:
            raise ConfigError("destination", f"pipeline '{pipeline.pipeline_name}' now names another destination, "
                              "database or dataset than it loaded into last, and its interrupted run left load "
                              "packages waiting to load there: run it once where it loaded to load them, then move it")
        take_the_places_state(pipeline)
    if _recorded(pipeline) != now:
        state = pipeline._get_state()
        local: dict[str, Any] = cast(dict[str, Any], state.setdefault("_local", {}))
        local[PLACE] = now
        pipeline._save_state(state)


def _recorded(pipeline: Pipeline) -> Optional[str]:
    """The place the pipeline's local state says it loaded into last (None: none said, an older version's)."""
    local: dict[str, Any] = cast(dict[str, Any], pipeline._get_state().get("_local") or {})
    value = local.get(PLACE)
    return str(value) if value else None


def place_of(pipeline: Pipeline) -> Optional[str]:
    """The destination (type, name and database: host, port, database and user, the DuckDB file, the
    bucket; never a password) and dataset `pipeline` loads into, as a hash; None when it cannot be told."""
    destination = pipeline.destination
    if destination is None:
        return None
    try:
        config: Any = pipeline.destination_client().config
    except Exception as error:  # not configured yet: the run says so itself
        log.debug("where %s loads cannot be told: %s", pipeline.pipeline_name, type(error).__name__)
        return None
    credentials = getattr(config, "credentials", None)
    parts = [destination.destination_type, destination.destination_name, str(pipeline.dataset_name)]
    parts += [str(getattr(credentials, name, None) or getattr(config, name, None) or "") for name in _WHERE]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


def take_the_places_state(pipeline: Pipeline) -> None:
    """`pipeline`, moved to where it now names, with the state that place holds for it (see above).
    The caller holds the pipeline's lock and has seen no load package waiting."""
    where = f"{pipeline.destination.destination_name if pipeline.destination else '?'} dataset " \
            f"'{pipeline.dataset_name}'"
    try:
        there = pipeline._restore_state_from_destination()
    except (DestinationUndefinedEntity, DatabaseUndefinedRelation):
        there = None
    if there is not None:
        log.info("pipeline %s moved to %s: it goes on from the state it left there", pipeline.pipeline_name, where)
        yield_to_loaded_state(pipeline)
    else:
        # dropped here, not by dlt's sync at the run's start (its wipe of a pipeline whose dataset is missing
        # took the place kept below with it: moved back, the run went on from this place's cursors)
        new = not dataset_exists(pipeline, unsure=None)
        log.info("pipeline %s moved to %s, %s: it starts there from start_date", pipeline.pipeline_name, where,
                 "new to it" if new else "which holds none of its state")
        pipeline.drop()


def yield_to_loaded_state(pipeline: Pipeline) -> None:
    """Make the state the loaded packages carried (the destination's) win the sync that follows: the
    local one, saved before any package (a first run stopped early), goes back to version 0, so dlt's
    `>=` comparison never keeps it over the loaded one."""
    state = pipeline._get_state()
    state["_state_version"] = 0
    pipeline._save_state(state)


def dataset_exists(pipeline: Pipeline, unsure: Optional[bool] = True) -> bool:
    """Whether the pipeline's dataset is at the destination. Where that cannot be asked: `unsure`, or, when it is
    None, the error (the local state is wiped only on a clear answer)."""
    try:
        with pipeline.destination_client() as client:
            return bool(client.is_storage_initialized())
    except Exception as error:  # no schema yet, a destination that cannot say: dlt's own sync decides
        if unsure is None:
            raise
        log.debug("could not ask whether the dataset exists: %s", error)
        return unsure
